// Review page: a study session's snapshots with the explanation shown at that moment; mark the best per plane.
(() => {
  'use strict';
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || sessionStorage.getItem('bedside.token') || '';
  const PIN_KEY = 'bedside.adminPin';
  let pin = sessionStorage.getItem(PIN_KEY) || '';
  let current = null;
  const $ = (id) => document.getElementById(id);

  function url(path, query) {
    const u = new URL(`api/${path}`, location.href);
    u.search = '';
    if (token) u.searchParams.set('token', token);
    for (const [k, v] of Object.entries(query || {})) u.searchParams.set(k, v);
    return u.toString();
  }
  async function call(path, query) {
    const r = await fetch(url(path, query), { method: 'POST', headers: { 'X-Admin-PIN': pin }, cache: 'no-store' });
    let body = {};
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    return { status: r.status, body };
  }
  const el = (tag, props, ...kids) => { const e = document.createElement(tag); Object.assign(e, props || {}); e.append(...kids); return e; };

  async function loadSessions() {
    const { status, body } = await call('review/sessions');
    if (status === 403) { pin = ''; sessionStorage.removeItem(PIN_KEY); $('pin-msg').textContent = 'Wrong admin PIN'; return; }
    if (status !== 200) { $('conn').textContent = `error ${status}`; return; }
    $('pin-box').hidden = true;
    $('main').hidden = false;
    const sel = $('session');
    sel.replaceChildren(...body.sessions.map((s) => el('option', { value: s.name, textContent: `${s.name} · ${s.participant} · ${s.arm} · ${s.snapshots} snapshots` })));
    const want = params.get('session');
    if (want) sel.value = want;
    if (sel.value) loadSession(sel.value);
  }

  async function loadSession(name) {
    const { status, body } = await call('review/session', { name });
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
  }

  // As the tablet says them (js/state.js): "skull_visible" is "Skull visible", a plane status is the banner's words.
  const label = (c) => (c.label ? String(c.label) : String(c.name || '').replace(/[_-]+/g, ' ').trim())
    .replace(/^./, (x) => x.toUpperCase());
  function planeText(plane) {
    const name = plane.name && !['none', 'unknown', 'null'].includes(String(plane.name).toLowerCase())
      ? String(plane.name).replace(/[_-]+/g, ' ').toUpperCase() : '';
    if (plane.status === 'standard') return `STANDARD PLANE${name ? `: ${name}` : ''}`;
    if (plane.status === 'close' || plane.status === 'non-standard') return `CLOSE TO STANDARD${name ? `: ${name}` : ''}`;
    return 'NO STANDARD PLANE';
  }
  function scoreText(c) {
    if (typeof c.score !== 'number') return '';
    return ` ${c.score.toFixed(1)}${c.score <= 10 ? ' / 10' : ''}`;
  }

  function card(s, body) {
    const preds = s.predictions || {};
    const first = Object.values(preds)[0] || {};
    const result = first.result || {};
    const plane = result.plane || {};
    const div = el('article', { className: 'card snap' });
    div.dataset.png = s.png;
    div.dataset.selected = String((s.selected_for || []).length > 0);
    div.setAttribute('data-testid', 'review-snapshot');
    const src = url('review/image', { name: body.name, file: s.png, pin });
    const img = el('img', { alt: `snapshot of frame ${s.seq}`, src });
    const full = el('a', { href: src, target: '_blank', rel: 'noopener', title: 'Open the image full size' }, img);
    full.setAttribute('data-testid', 'review-full-size');
    const shown = result.plane ? planeText(plane) : 'no model output shown';
    const head = el('div', {}, el('span', { className: 'plane', textContent: `${shown}${s.arm ? ` · arm ${s.arm}` : ''}` }));
    head.firstChild.dataset.status = plane.status || '';
    const concepts = el('ul', { className: 'concepts' }, ...(result.concepts || []).map((c) =>
      el('li', { className: c.present ? '' : 'no', textContent: `${c.present ? '✓' : '✗'} ${label(c)}${scoreText(c)}` })));
    const guidance = result.guidance && result.guidance.text ? el('p', { textContent: `Guidance: ${result.guidance.text}` }) : '';
    const answered = typeof first.seq === 'number' && first.seq !== s.seq ? ` · the explanation shown was for frame ${first.seq}` : '';
    const when = el('p', { className: 'msg', textContent: `frame ${s.seq}${typeof s.pts_s === 'number' ? ` at ${s.pts_s.toFixed(2)} s` : ''} · ${s.wall_time || ''}${answered}` });
    const buttons = el('div', {}, ...(body.targets || []).map((t) => {
      const b = el('button', { type: 'button', textContent: (s.selected_for || []).includes(t) ? `Best ${t} ✓` : `Best ${t}` });
      b.setAttribute('data-testid', `review-best-${t}`);
      b.onclick = async () => { await call('review/select', { name: body.name, plane: t, file: s.png }); loadSession(body.name); };
      return b;
    }));
    div.append(full, head, when, concepts, guidance, buttons);
    return div;
  }

  $('pin-form').addEventListener('submit', (ev) => { ev.preventDefault(); pin = $('pin').value.trim(); sessionStorage.setItem(PIN_KEY, pin); loadSessions(); });
  $('session').onchange = () => loadSession($('session').value);
  $('export').onclick = async () => {
    if (!current) return;
    const { status, body } = await call('review/export', { name: current.name });
    $('export-msg').textContent = status === 200 ? `Exported to ${body.folder}` : `Export failed: ${body.error}`;
  };
  if (pin) loadSessions();
})();
