// Review page: a study session's recording played with the model's answers drawn over it in sync, a timeline
// strip under it (each model's plane status over time; snapshots, notes and arm changes as marks; click or
// drag to seek), and the snapshots with the explanation shown at that moment, full size with the overlay on
// or off; the expert marks the best image per plane. Everything is labelled as on the tablet.
//
// Images and video load by a review ticket (an HttpOnly cookie the page gets once with the admin PIN), never
// with the PIN in their address. The decisions are pure functions in js/review-model.js.

import { decodeSegmentation } from './js/protocol.js';
import { labelCanvas } from './js/segmentation.js';
import { conceptRow, planeText, presenceOf } from './js/state.js';
import * as R from './js/review-model.js';
import { adminCaller, apiURL } from './js/admin-api.js';

const params = new URLSearchParams(location.search);
const token = params.get('token') || sessionStorage.getItem('bedside.token') || '';
const PIN_KEY = 'bedside.adminPin';
let pin = sessionStorage.getItem(PIN_KEY) || '';
let current = null;      // the session (review/session)
let timeline = null;     // its recording (review/timeline)
const $ = (id) => document.getElementById(id);

const url = (path, query) => apiURL(location.href, token, path, query);
const call = adminCaller({ base: location.href, token, pin: () => pin });
const el = (tag, props, ...kids) => { const e = document.createElement(tag); Object.assign(e, props || {}); e.append(...kids); return e; };
const testid = (node, id) => { node.setAttribute('data-testid', id); return node; };

// ------------------------------------------------------------------ sessions

async function unlock() {
  const t = await call('review/ticket');
  if (t.status === 403 || t.status === 429) {
    pin = '';
    sessionStorage.removeItem(PIN_KEY);
    $('pin-msg').textContent = t.status === 429 ? (t.body.error || 'Too many wrong PINs: wait') : 'Wrong admin PIN';
    return;
  }
  if (t.status === 401) { $('pin-msg').textContent = 'This device is not paired: open the review link Bedside printed (with ?token=)'; return; }
  await loadSessions();
}

async function loadSessions() {
  const { status, body } = await call('review/sessions');
  if (status !== 200) { $('conn').textContent = `error ${status}`; return; }
  $('pin-box').hidden = true;
  $('main').hidden = false;
  const sel = $('session');
  sel.replaceChildren(...body.sessions.map((s) => el('option', { value: s.name, textContent: `${s.name} · ${s.participant} · ${s.arm} · ${s.snapshots} snapshots` })));
  $('no-sessions').hidden = body.sessions.length > 0;
  const want = params.get('session');
  if (want) sel.value = want;
  if (sel.value) loadSession(sel.value);
}

async function loadSession(name) {
  const [{ status, body }, tl] = await Promise.all([call('review/session', { name }), call('review/timeline', { name })]);
  if (status !== 200) return;
  current = body;
  const ttp = body.time_to_plane || {};
  $('summary').replaceChildren(
    el('p', { textContent: `Participant ${body.participant}, ${(body.arms || []).length > 1 ? `arms ${body.arms.join(' → ')}` : `arm ${body.arm}`}` }),
    el('table', { className: 'ttp' }, el('tr', {}, el('th', { textContent: 'Plane' }), el('th', { textContent: 'Time to plane' }), el('th', { textContent: 'Snapshots' }), el('th', { textContent: 'Best image' })),
      ...(body.targets || []).map((t) => el('tr', { }, el('td', { textContent: t }),
        el('td', { textContent: ttp[t] && ttp[t].seconds !== null && ttp[t].seconds !== undefined ? `${ttp[t].seconds.toFixed(1)} s` : 'not reached' }),
        el('td', { textContent: ttp[t] ? String(ttp[t].snapshots) : '–' }),
        el('td', { textContent: (body.selection || {})[t] || '–' })))),
    ...(body.notes || []).map((n) => el('p', { textContent: `Note: ${n}` })));
  $('snaps').replaceChildren(...body.snapshots.map((s) => card(s, body)));
  if (tl.status === 200 && (!timeline || timeline.name !== tl.body.name)) openPlayer(tl.body);
}

// ------------------------------------------------------------------ snapshots

// As the tablet says them: a plane status in the banner's words, "skull_visible" as "Skull visible 8.5 / 10".
function scoreText(c) {
  const s = conceptRow(c, 0).score;
  return s === null ? '' : ` ${s.toFixed(1)}${s <= 10 ? ' / 10' : ''}`;
}
const mark = (c) => ({ true: '✓', false: '✗' }[presenceOf(c)] || '?');

function card(s, body) {
  const preds = s.predictions || {};
  const first = Object.values(preds)[0] || {};
  const result = first.result || {};
  const div = el('article', { className: 'card snap' });
  div.dataset.png = s.png;
  div.dataset.selected = String((s.selected_for || []).length > 0);
  testid(div, 'review-snapshot');
  const src = url('review/image', { name: body.name, file: s.png });
  const img = el('img', { alt: `snapshot of frame ${s.seq}`, src });
  const full = testid(el('a', { href: src, title: 'Open full size, with the overlay on or off' }, img), 'review-full-size');
  full.onclick = (ev) => { ev.preventDefault(); openSnapshot(s, body); };
  const shown = result.plane ? planeText(result.plane) : 'no model output shown';
  const head = el('div', {}, el('span', { className: 'plane', textContent: `${shown}${s.arm ? ` · arm ${s.arm}` : ''}` }));
  head.firstChild.dataset.status = (result.plane && result.plane.status) || '';
  const concepts = el('ul', { className: 'concepts' }, ...(result.concepts || []).map((c, i) =>
    el('li', { className: presenceOf(c) === 'false' ? 'no' : '', textContent: `${mark(c)} ${conceptRow(c, i).label}${scoreText(c)}` })));
  const guidance = result.guidance && result.guidance.text ? el('p', { textContent: `Guidance: ${result.guidance.text}` }) : '';
  const answered = typeof first.seq === 'number' && first.seq !== s.seq ? ` · the explanation shown was for frame ${first.seq}` : '';
  const when = el('p', { className: 'msg', textContent: `frame ${s.seq}${typeof s.pts_s === 'number' ? ` at ${R.clock(s.pts_s)}` : ''} · ${s.wall_time || ''}${answered}` });
  const seekBtn = testid(el('button', { type: 'button', textContent: 'Show in the video' }), 'review-snapshot-seek');
  seekBtn.disabled = typeof s.pts_s !== 'number';
  seekBtn.onclick = () => { seek(s.pts_s); $('player').scrollIntoView({ block: 'nearest' }); };
  const buttons = el('div', {}, seekBtn, ...(body.targets || []).map((t) => {
    const b = testid(el('button', { type: 'button', textContent: (s.selected_for || []).includes(t) ? `Best ${t} ✓` : `Best ${t}` }), `review-best-${t}`);
    b.onclick = async () => { await call('review/select', { name: body.name, plane: t, file: s.png }); loadSession(body.name); };
    return b;
  }));
  div.append(full, head, when, concepts, guidance, buttons);
  return div;
}

// Full size, with the explanation shown then drawn over it (the label map at its crop) or not.
function openSnapshot(s, body) {
  const dlg = $('snap-dialog');
  const img = $('snap-full');
  const canvas = $('snap-overlay');
  const first = Object.values(s.predictions || {})[0] || {};
  const map = first.result ? decodeSegmentation(first.result.segmentation) : null;
  $('snap-title').textContent = `${first.result && first.result.plane ? planeText(first.result.plane) : 'No model output shown'} · frame ${s.seq}${s.arm ? ` · arm ${s.arm}` : ''}`;
  $('snap-open').href = url('review/image', { name: body.name, file: s.png });
  const toggle = $('snap-overlay-toggle');
  toggle.disabled = !map;
  toggle.textContent = map ? 'Overlay on' : 'No overlay in this snapshot';
  toggle.setAttribute('aria-pressed', String(!!map));
  canvas.hidden = !map;
  const draw = () => {
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const ctx = canvas.getContext('2d');
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (!map) return;
    const r = R.answerRect(first.crop, img.naturalWidth, img.naturalHeight);
    ctx.drawImage(labelCanvas(map), r.x, r.y, r.width, r.height);
    canvas.dataset.drawn = 'true';
  };
  delete canvas.dataset.drawn;
  img.onload = draw;
  img.src = url('review/image', { name: body.name, file: s.png });
  if (img.complete && img.naturalWidth) draw();
  toggle.onclick = () => {
    const on = toggle.getAttribute('aria-pressed') !== 'true';
    toggle.setAttribute('aria-pressed', String(on));
    toggle.textContent = on ? 'Overlay on' : 'Overlay off';
    canvas.hidden = !on;
  };
  dlg.showModal();
}
$('snap-close').onclick = () => $('snap-dialog').close();

// ------------------------------------------------------------------ the player

const video = $('player-video');
const overlay = $('player-overlay');
const P = {
  seg: -1,               // the file loaded
  t: 0,                  // the time on screen (recording seconds)
  model: '',             // whose answers are drawn
  answers: [],           // fetched, in time order
  windows: new Set(),    // fetched 20 s windows
  pending: null,         // a seek asked for while another was under way
  overlayOn: true,
  dragging: false,
};

function openPlayer(tl) {
  timeline = tl;
  Object.assign(P, { seg: -1, t: 0, answers: [], windows: new Set(), pending: null });
  drawnKey = '';
  const box = $('player');
  box.hidden = false;
  // The shown model first (a silent one, show: false, is never what the participant saw).
  const models = tl.models.filter((m) => m.answers > 0).sort((a, b) => Number(!!a.silent) - Number(!!b.silent));
  P.model = (models[0] || tl.models[0] || { name: '' }).name;
  const sel = $('player-model');
  sel.replaceChildren(...tl.models.map((m) => el('option', { value: m.name, textContent: `${m.name}${m.silent ? ' (silent)' : ''} (${m.answers} answers)` })));
  sel.value = P.model;
  sel.hidden = tl.models.length < 2;
  if (!tl.segments.length) {
    say(`This session has no recording to play${tl.models.length ? '' : ' and no answers'}: recording was off or failed (see session.json).`);
    video.removeAttribute('src');
  } else {
    say('');
    loadSegment(0).then(() => seek(0));
  }
  buildStrip();
}

function say(text) { $('player-msg').textContent = text; $('player-msg').hidden = !text; }

function loadSegment(i) {
  return new Promise((resolve) => {
    if (i === P.seg) { resolve(); return; }
    P.seg = i;
    const s = timeline.segments[i];
    const done = () => { video.removeEventListener('loadedmetadata', done); video.removeEventListener('error', fail); resolve(); };
    const fail = () => {
      video.removeEventListener('loadedmetadata', done);
      video.removeEventListener('error', fail);
      say(`${s.file} cannot be played in this browser (${timeline.codec || 'unknown codec'}${video.error ? `, error ${video.error.code}` : ''}): ` +
        'open it with VLC or ffplay from the session folder. The timeline and the snapshots still work.');
      resolve();
    };
    video.addEventListener('loadedmetadata', done);
    video.addEventListener('error', fail);
    video.src = url('review/video', { name: timeline.name, file: s.file });
    $('player').dataset.file = s.file;
  });
}

/** Shows the frame at recording time `t` (seconds): the file that holds it, then the frame. */
async function seek(t) {
  if (!timeline || !timeline.segments.length) return;
  const target = Math.max(0, Math.min(t, timeline.duration_s));
  if (video.seeking) { P.pending = target; return; }
  const s = R.segmentAt(timeline.segments, target);
  const playing = !video.paused;
  if (s.index !== P.seg) await loadSegment(s.index);
  $('player').dataset.seekTo = String(target);
  // A frame shows from its own time to the next frame's: its time (plus a millisecond against rounding) is it.
  video.currentTime = s.local + 0.001;
  if (playing) video.play().catch(() => {});
}
video.addEventListener('seeked', () => {
  if (P.pending !== null) { const t = P.pending; P.pending = null; seek(t); return; }
  shown(video.currentTime);   // the frame callback then gives the frame's own time
});
video.addEventListener('ended', async () => {
  if (timeline && P.seg + 1 < timeline.segments.length) {
    await loadSegment(P.seg + 1);
    video.currentTime = 0;
    video.play().catch(() => {});
  }
  renderPlay();
});
video.addEventListener('play', renderPlay);
video.addEventListener('pause', renderPlay);
function renderPlay() {
  const b = $('player-play');
  b.textContent = video.paused ? '▶ Play' : '❚❚ Pause';
  b.setAttribute('aria-label', video.paused ? 'Play' : 'Pause');
}
$('player-play').onclick = () => { if (video.paused) video.play().catch(() => {}); else video.pause(); };
$('player-model').onchange = () => { P.model = $('player-model').value; shown(P.local ?? 0); };
$('player-overlay-toggle').onclick = () => {
  P.overlayOn = !P.overlayOn;
  $('player-overlay-toggle').setAttribute('aria-pressed', String(P.overlayOn));
  $('player-overlay-toggle').textContent = P.overlayOn ? 'Overlay on' : 'Overlay off';
  overlay.hidden = !P.overlayOn;
};
// One frame back or on (the arrow keys do the same while the player has the focus).
function step(n) {
  if (!timeline) return;
  video.pause();
  seek(P.t + n / (timeline.fps || 30));
}
$('player-back').onclick = () => step(-1);
$('player-next').onclick = () => step(1);
$('player').addEventListener('keydown', (ev) => {
  if (ev.target.tagName === 'SELECT') return;
  if (ev.key === 'ArrowLeft') { step(-1); ev.preventDefault(); }
  if (ev.key === 'ArrowRight') { step(1); ev.preventDefault(); }
  if (ev.key === ' ') { $('player-play').click(); ev.preventDefault(); }
});

// Each frame the video presents: its time, the answer for it drawn over it, the playhead.
if ('requestVideoFrameCallback' in HTMLVideoElement.prototype) {
  const onFrame = (_now, meta) => { shown(meta.mediaTime); video.requestVideoFrameCallback(onFrame); };
  video.requestVideoFrameCallback(onFrame);
} else {
  video.addEventListener('timeupdate', () => shown(video.currentTime));
}

function shown(local) {
  if (!timeline || P.seg < 0) return;
  P.local = local;
  const seg = timeline.segments[P.seg];
  const t = seg.start_s + local;
  P.t = t;
  const fps = timeline.fps || 30;
  const box = $('player');
  box.dataset.time = t.toFixed(4);
  box.dataset.frame = String(R.frameAt(t, fps));
  const frames = timeline.segments.reduce((n, x) => n + (x.frames || 0), 0);
  $('player-time').textContent = `${R.clock(t)} / ${R.clock(timeline.duration_s)} · frame ${R.frameAt(t, fps) + 1}${frames ? ` of ${frames}` : ''}`;
  for (const ph of document.querySelectorAll('.playhead')) ph.style.left = `${R.percentOf(t, timeline.duration_s)}%`;
  drawAnswer(t);
  fetchAnswers(t);
}

async function fetchAnswers(t) {
  const want = R.windowsFor(t, 20).filter((w) => !P.windows.has(w));
  if (!want.length) return;
  for (const w of want) P.windows.add(w);
  const name = timeline.name;
  const got = await Promise.all(want.map((w) => call('review/answers', { name, from: w * 20, to: w * 20 + 20 })));
  if (!timeline || timeline.name !== name) return;
  for (const g of got) if (g.status === 200) P.answers = R.mergeAnswers(P.answers, g.body.answers || []);
  got.forEach((g, i) => { if (g.status !== 200) P.windows.delete(want[i]); });  // try again later
  drawAnswer(P.t);
}

let drawnKey = '';
function drawAnswer(t) {
  const hit = R.answerAt(P.answers, P.model, t, 3);
  const box = $('player');
  const a = hit && hit.answer;
  box.dataset.answerSeq = a ? String(a.seq) : '';
  box.dataset.answerPts = a ? String(a.pts_s) : '';
  placeOverlay();
  const otherSeqs = timeline.models.filter((m) => m.name !== P.model)
    .map((m) => { const o = R.answerAt(P.answers, m.name, t, 3); return o ? o.answer.seq : '-'; }).join(',');
  const key = (a ? `${a.model}|${a.seq}|${overlay.width}x${overlay.height}` : `none|${overlay.width}x${overlay.height}`) + `|${otherSeqs}`;
  if (key === drawnKey) return;
  drawnKey = key;
  const ctx = overlay.getContext('2d');
  ctx.clearRect(0, 0, overlay.width, overlay.height);
  const result = a && a.result && typeof a.result === 'object' ? a.result : null;
  const map = result ? decodeSegmentation(result.segmentation) : null;
  const drawable = !!(map && video.videoWidth);
  if (drawable) {
    const r = R.answerRect(a.crop, video.videoWidth, video.videoHeight);
    ctx.drawImage(labelCanvas(map), r.x, r.y, r.width, r.height);
  } else if (map) {
    drawnKey = '';   // the picture's size is not known yet: drawn when it is
  }
  overlay.dataset.drawn = drawable ? 'true' : 'false';
  const info = $('player-answer');
  if (!a) {
    info.replaceChildren(el('p', { className: 'plane', textContent: P.answers.length || timeline.models.some((m) => m.answers) ? 'No answer for this frame' : 'No answers recorded' }));
    return;
  }
  const plane = result && result.plane;
  const head = el('p', { className: 'plane', textContent: result ? (plane ? planeText(plane) : 'No plane in this answer') : 'Answer not usable' });
  head.dataset.status = (plane && plane.status) || '';
  // Frames are named by their capture number (#seq, as in predictions.jsonl and the snapshots' names).
  const which = hit.ageS > 0.5 / (timeline.fps || 30)
    ? `answer for an earlier frame (#${a.seq}, ${hit.ageS.toFixed(2)} s before: the model answers some frames only)`
    : `answer for this frame (#${a.seq})`;
  const sub = el('p', { className: 'msg', textContent: `${a.model}: ${which}${typeof a.model_ms === 'number' ? ` · took ${Math.round(a.model_ms)} ms` : ''}` });
  const concepts = el('ul', { className: 'concepts' }, ...((result && result.concepts) || []).map((c, i) =>
    el('li', { className: presenceOf(c) === 'false' ? 'no' : '', textContent: `${mark(c)} ${conceptRow(c, i).label}${scoreText(c)}` })));
  const g = result && result.guidance && result.guidance.text ? el('p', { textContent: `Guidance: ${result.guidance.text}` }) : '';
  // The other models' answers for the same frame, beside it (a silent version against the one in use).
  const others = timeline.models.filter((m) => m.name !== P.model && m.answers > 0).map((m) => {
    const o = R.answerAt(P.answers, m.name, t, 3);
    const r = o && o.answer && o.answer.result;
    const text = !o ? 'no answer for this frame' : r && r.plane ? planeText(r.plane) : 'no plane in this answer';
    const li = el('li', { textContent: `${m.name}${m.silent ? ' (silent)' : ''}: ${text}` });
    li.dataset.model = m.name;
    li.dataset.status = (r && r.plane && r.plane.status) || '';
    return li;
  });
  const beside = others.length ? el('ul', { className: 'others', title: 'the other models, same frame' }, ...others) : '';
  if (beside) beside.dataset.testid = 'review-other-models';
  info.replaceChildren(head, sub, concepts, g, beside);
}

// The overlay canvas covers exactly the picture inside the <video> box (letterboxed), in video pixels.
function placeOverlay() {
  if (!video.videoWidth) return;
  const r = R.contentRect(video.clientWidth, video.clientHeight, video.videoWidth, video.videoHeight);
  Object.assign(overlay.style, { left: `${video.offsetLeft + r.x}px`, top: `${video.offsetTop + r.y}px`, width: `${r.width}px`, height: `${r.height}px` });
  if (overlay.width !== video.videoWidth || overlay.height !== video.videoHeight) {
    overlay.width = video.videoWidth;
    overlay.height = video.videoHeight;
  }
}
// A new size clears the canvas: the answer is drawn again.
new ResizeObserver(() => { if (timeline && P.seg >= 0) { drawnKey = ''; drawAnswer(P.t); } }).observe(video);
video.addEventListener('loadedmetadata', () => { drawnKey = ''; if (timeline && P.seg >= 0) drawAnswer(P.t); });

// ------------------------------------------------------------------ the timeline strip

const STATUS_TEXT = { standard: 'standard plane', close: 'close to standard', unknown: 'no standard plane', none: 'no plane in the answer', invalid: 'answer not usable' };

function buildStrip() {
  const strip = $('strip');
  const d = timeline.duration_s;
  const rows = [];
  const track = (cls) => {
    const t = el('div', { className: `track ${cls}` }, el('div', { className: 'playhead' }));
    t.addEventListener('pointerdown', (ev) => {
      if (ev.target.closest('.mark')) return;
      P.dragging = true;
      t.setPointerCapture(ev.pointerId);
      seekAtPointer(t, ev);
    });
    t.addEventListener('pointermove', (ev) => { if (P.dragging) seekAtPointer(t, ev); });
    const stop = () => { P.dragging = false; };
    t.addEventListener('pointerup', stop);
    t.addEventListener('pointercancel', stop);
    return t;
  };
  // Time axis.
  const axis = track('axis');
  for (const tt of R.ticks(d, 10)) axis.append(el('span', { className: 'tick', textContent: R.clock(tt) }, ));
  axis.querySelectorAll('.tick').forEach((n, i) => { n.style.left = `${R.percentOf(R.ticks(d, 10)[i], d)}%`; });
  rows.push(el('span', { className: 'row-label', textContent: 'Time' }), axis);
  // One row per model: its plane status over time.
  for (const m of timeline.models) {
    const t = track('spans');
    t.dataset.model = m.name;
    for (const s of m.spans) {
      const span = el('span', { className: 'span', title: `${R.clock(s.from_s)}–${R.clock(s.to_s)}: ${STATUS_TEXT[s.status] || s.status}${s.plane ? ` (${s.plane})` : ''}` });
      span.dataset.status = s.status;
      span.style.left = `${R.percentOf(s.from_s, d)}%`;
      span.style.width = `${Math.max(0.15, R.percentOf(s.to_s, d) - R.percentOf(s.from_s, d))}%`;
      t.append(span);
    }
    rows.push(el('span', { className: 'row-label', textContent: m.silent ? `${m.name} (silent)` : m.name,
      title: `${m.name}: plane status of each answer${m.silent ? '; silent: recorded, never shown to the participant' : ''}` }), t);
  }
  // Snapshots, notes, arm changes and model events, a row each; marks close together take lanes of their own.
  const MARK_PX = 26;
  const widthPx = Math.max(100, strip.clientWidth - 140);
  const minGap = (MARK_PX / widthPx) * d;
  const ROWS = [['snapshot', 'Snapshots', '◆'], ['note', 'Notes', '✎'], ['arm', 'Arms', '▮'], ['model_state', 'Model', '!']];
  for (const [kind, label, glyph] of ROWS) {
    const mine = timeline.marks.filter((m) => m.kind === kind);
    if (!mine.length && kind !== 'snapshot') continue;
    const lane = R.lanes(mine.map((m) => m.t_s), minGap);
    const marks = track(`marks marks-${kind}`);
    marks.style.height = `${28 * (Math.max(0, ...lane) + 1)}px`;
    mine.forEach((mk, i) => {
      const b = testid(el('button', { type: 'button', className: 'mark', title: `${R.clock(mk.t_s)}: ${mk.text}`, textContent: glyph }),
        `timeline-mark-${kind}`);
      b.setAttribute('aria-label', `${mk.text} at ${R.clock(mk.t_s)}`);
      b.dataset.kind = kind;
      b.dataset.t = String(mk.t_s);
      if (mk.png) b.dataset.png = mk.png;
      b.style.left = `${R.percentOf(mk.t_s, d)}%`;
      b.style.top = `${1 + 28 * lane[i]}px`;
      b.onclick = () => { video.pause(); seek(mk.t_s); };
      marks.append(b);
    });
    rows.push(el('span', { className: 'row-label', textContent: label }), marks);
  }
  strip.replaceChildren(...rows);
  stripWidth = strip.clientWidth;
  for (const ph of strip.querySelectorAll('.playhead')) ph.style.left = `${R.percentOf(P.t, d)}%`;
  const counts = timeline.marks.reduce((o, m) => ({ ...o, [m.kind]: (o[m.kind] || 0) + 1 }), {});
  $('strip-legend').textContent = `${timeline.segments.length} file${timeline.segments.length === 1 ? '' : 's'}, ${R.clock(d)}; ` +
    `◆ ${counts.snapshot || 0} snapshots · ✎ ${counts.note || 0} notes · ▮ ${counts.arm || 0} arm changes · ! ${counts.model_state || 0} model events`;
}

// The strip is laid out for its width (marks' lanes): again when that changes.
let stripWidth = 0;
new ResizeObserver(() => {
  const w = $('strip').clientWidth;
  if (timeline && Math.abs(w - stripWidth) > 40) { stripWidth = w; buildStrip(); }
}).observe($('strip'));

function seekAtPointer(trackEl, ev) {
  const r = trackEl.getBoundingClientRect();
  video.pause();
  seek(R.timeAtX(ev.clientX, r.left, r.width, timeline.duration_s));
}

// ------------------------------------------------------------------ start

$('pin-form').addEventListener('submit', (ev) => { ev.preventDefault(); pin = $('pin').value.trim(); sessionStorage.setItem(PIN_KEY, pin); unlock(); });
$('session').onchange = () => loadSession($('session').value);
$('export').onclick = async () => {
  if (!current) return;
  const { status, body } = await call('review/export', { name: current.name });
  const msg = $('export-msg');
  msg.textContent = status === 200 ? `Exported to ${body.folder}` : `Export failed: ${body.error}`;
  msg.dataset.kind = status === 200 ? 'ok' : 'bad';
};
renderPlay();
if (pin) unlock();
// For tests: the player's state.
window.__review = { P, seek, get timeline() { return timeline; } };
