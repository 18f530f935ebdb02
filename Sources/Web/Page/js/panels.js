// The landmark panel (concepts grouped by plane, the predicted plane's group first and open) and the
// guidance hint under the video. DOM nodes are kept and updated in place, so a tap on a group survives
// the next prediction.

import { el } from './dom.js';
import { humanise } from './format.js';
import { chooseGroup, conceptRow, groupConcepts, guidanceView } from './state.js';

// ------------------------------------------------------------------ concepts

const groupNodes = new Map();   // group key -> { root, head, okChip, badChip, title, list, rows: Map, summaryKey }
let currentGroup = null;        // plane whose group is first and expanded
const userExpanded = new Map(); // group key -> expanded, set by a tap; cleared when the plane changes

const SVG_NS = 'http://www.w3.org/2000/svg';
function svgIcon(cls, d) {
  const s = document.createElementNS(SVG_NS, 'svg');
  s.setAttribute('viewBox', '0 0 24 24');
  s.setAttribute('class', cls);
  s.setAttribute('aria-hidden', 'true');
  const p = document.createElementNS(SVG_NS, 'path');
  p.setAttribute('d', d);
  s.append(p);
  return s;
}

function makeGroup(key) {
  const root = document.createElement('section');
  root.className = 'group';
  root.dataset.group = key;
  const head = document.createElement('button');
  head.type = 'button';
  head.className = 'group-head';
  const chev = document.createElement('span');
  chev.className = 'chev';
  const name = document.createElement('span');
  name.className = 'group-name';
  name.textContent = key === '' ? 'Other' : humanise(key);
  const tag = document.createElement('span');
  tag.className = 'group-tag';
  tag.textContent = 'CURRENT';
  const summary = document.createElement('span');
  summary.className = 'group-summary';
  const okChip = document.createElement('span');
  okChip.className = 'chip chip-ok';
  okChip.title = 'present';
  const badChip = document.createElement('span');
  badChip.className = 'chip chip-bad';
  badChip.title = 'missing';
  summary.append(okChip, badChip);
  head.append(chev, name, tag, summary);
  const list = document.createElement('ul');
  list.className = 'concept-list';
  root.append(head, list);
  head.addEventListener('click', () => {
    const g = groupNodes.get(key);
    const open = root.dataset.expanded !== 'true';
    userExpanded.set(key, open);
    root.dataset.expanded = String(open);
    head.setAttribute('aria-expanded', String(open));
    if (g) g.expanded = open;
  });
  return { root, head, okChip, badChip, title: name.textContent, list, rows: new Map(), summaryKey: '' };
}

function makeRow(name) {
  const li = document.createElement('li');
  li.className = 'concept';
  li.dataset.concept = name;
  const mark = document.createElement('span');
  mark.className = 'mark';
  mark.append(
    svgIcon('m-ok', 'M5 12.5l4.5 4.5L19 7.5'),
    svgIcon('m-bad', 'M6.5 6.5l11 11M17.5 6.5l-11 11'),
    svgIcon('m-unk', 'M7 12h10'),
  );
  const cname = document.createElement('span');
  cname.className = 'cname';
  const text = document.createElement('span');
  text.className = 'cname-text';
  cname.append(text);
  const bar = document.createElement('span');
  bar.className = 'bar';
  const fill = document.createElement('span');
  fill.className = 'bar-fill';
  bar.append(fill);
  const score = document.createElement('span');
  score.className = 'score';
  li.append(mark, cname, bar, score);
  return { li, text, fill, score, last: '' };
}

/** `result`: a prediction's result object (`{}` clears the panel). */
export function renderConcepts(result) {
  const concepts = Array.isArray(result.concepts) ? result.concepts.filter((c) => c && typeof c === 'object') : [];
  const groups = groupConcepts(concepts);

  el.conceptsEmpty.hidden = groups.size > 0;
  if (!groups.size) el.conceptsEmpty.textContent = 'This model gives no landmark explanation.';

  const planeName = result.plane && result.plane.name != null ? String(result.plane.name) : null;
  const want = chooseGroup(groups, planeName, currentGroup);
  if (want !== currentGroup) userExpanded.clear();
  currentGroup = want;

  const order = [...groups.keys()];
  if (currentGroup !== null) order.sort((a, b) => (b === currentGroup) - (a === currentGroup));

  for (const [key, g] of groupNodes) {
    if (!groups.has(key)) { g.root.remove(); groupNodes.delete(key); }
  }

  let prev = null;
  for (const key of order) {
    let g = groupNodes.get(key);
    if (!g) { g = makeGroup(key); groupNodes.set(key, g); }
    // keep DOM order = wanted order, moving nodes only when needed
    const at = prev ? prev.nextSibling : el.groups.firstChild;
    if (at !== g.root) el.groups.insertBefore(g.root, at);
    prev = g.root;

    const isCurrent = key === currentGroup;
    const expanded = userExpanded.has(key) ? userExpanded.get(key) : isCurrent;
    g.root.dataset.current = String(isCurrent);
    g.root.dataset.expanded = String(expanded);
    g.head.setAttribute('aria-expanded', String(expanded));

    const items = groups.get(key);
    let present = 0, missing = 0;
    const names = new Set();
    let rowPrev = null;
    for (const { c, i } of items) {
      const row = conceptRow(c, i);
      names.add(row.name);
      let r = g.rows.get(row.name);
      if (!r) { r = makeRow(row.name); g.rows.set(row.name, r); }
      const wantRow = rowPrev ? rowPrev.nextSibling : g.list.firstChild;
      if (wantRow !== r.li) g.list.insertBefore(r.li, wantRow);
      rowPrev = r.li;

      if (row.pres === 'true') present++; else if (row.pres === 'false') missing++;
      const key2 = `${row.pres}|${row.score}|${row.label}`;
      if (key2 === r.last) continue;
      r.last = key2;
      r.li.dataset.present = row.pres;
      r.li.dataset.score = row.score === null ? '' : String(row.score);
      r.text.textContent = row.label;
      r.li.title = row.title;
      r.fill.style.width = `${row.width}%`;
      r.score.textContent = row.scoreText;
    }
    for (const [n, r] of g.rows) {
      if (!names.has(n)) { r.li.remove(); g.rows.delete(n); }
    }
    const sk = `${present}|${missing}|${items.length}|${isCurrent}`;
    if (sk !== g.summaryKey) {
      g.summaryKey = sk;
      g.okChip.textContent = `✓ ${present}`;
      g.okChip.dataset.zero = String(present === 0);
      g.badChip.textContent = `✗ ${missing}`;
      g.badChip.dataset.zero = String(missing === 0);
      g.head.setAttribute('aria-label', isCurrent
        ? `${g.title}: ${present} of ${items.length} present, ${missing} missing`
        : `${g.title} (not the plane in view): ${present} of ${items.length} seen`);
    }
  }
}

// ------------------------------------------------------------------ guidance

export function renderGuidance(g) {
  const v = guidanceView(g);
  el.guidance.dataset.arrow = v.arrow;
  el.guidance.dataset.empty = String(v.empty);
  el.guidanceText.title = v.text;
  if (el.guidanceText.textContent !== v.text) {
    el.guidanceText.textContent = v.text;
    fitGuidance();
  }
}

// The whole hint must be readable: shrink the type (not the message) until it fits its box.
export function fitGuidance() {
  const t = el.guidanceText;
  t.style.fontSize = '';
  let size = parseFloat(getComputedStyle(t).fontSize) || 26;
  while (size > 14 && (t.scrollHeight > t.clientHeight + 1 || t.scrollWidth > t.clientWidth + 1)) {
    size -= 1;
    t.style.fontSize = `${size}px`;
  }
}
