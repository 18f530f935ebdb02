// Region editor on the admin page: draw, move, resize and delete privacy masks and models' crops on the live
// picture, preview them, save them (Bedside applies them from the next frame and keeps them in
// <config>.regions.yaml). Coordinates are source pixels: the canvas has the source's size, CSS scales it.
(() => {
  'use strict';
  const admin = window.BedsideAdmin;
  const $ = (id) => document.getElementById(id);
  const canvas = $('regions-canvas');
  const ctx = canvas.getContext('2d');
  const HANDLE = 14;      // corner handle size, in CSS pixels
  const MIN_SIZE = 4;
  const SNAP = 8;         // CSS pixels from an edge that snap to it     // a drag shorter than this (source pixels) is a tap, not a rectangle

  const S = {
    loaded: false, size: '', width: 0, height: 0,
    masks: [], crops: {}, models: [],
    saved: null,          // what Bedside applies now, to tell edits from it
    target: 'masks',      // 'masks' or a model name (its crop)
    selected: -1,         // index into masks, or 0 for the crop
    drag: null,
    picture: null,
    pictureSize: '',
  };

  const copy = (o) => JSON.parse(JSON.stringify(o));
  const rectText = (r) => `${r.x},${r.y},${r.width},${r.height}`;

  function rects() {
    if (S.target === 'masks') return S.masks;
    const c = S.crops[S.target];
    return c ? [c] : [];
  }

  function dirty() {
    return S.saved && (JSON.stringify(S.masks) !== JSON.stringify(S.saved.masks) ||
      JSON.stringify(S.crops) !== JSON.stringify(S.saved.crops));
  }

  async function load() {
    const { status, body } = await admin.call('regions/get');
    if (status !== 200) { message(`Cannot read the regions: ${body.error || status}`); return; }
    apply(body);
  }

  function apply(body) {
    S.size = body.size; S.width = body.width; S.height = body.height;
    S.masks = (body.masks || []).map((r) => ({ x: r.x, y: r.y, width: r.width, height: r.height }));
    S.crops = {};
    S.models = body.models || [];
    for (const m of S.models) S.crops[m.name] = m.crop ? { x: m.crop.x, y: m.crop.y, width: m.crop.width, height: m.crop.height } : null;
    S.saved = { masks: copy(S.masks), crops: copy(S.crops) };
    S.selected = -1;
    S.loaded = true;
    if (canvas.width !== S.width || canvas.height !== S.height) { canvas.width = S.width || 640; canvas.height = S.height || 360; }
    const sel = $('regions-target');
    const options = [['masks', 'Privacy masks'], ...S.models.map((m) => [m.name, `Crop of model ${m.name}`])];
    if (sel.options.length !== options.length) {
      sel.replaceChildren(...options.map(([v, t]) => { const o = document.createElement('option'); o.value = v; o.textContent = t; return o; }));
    }
    sel.value = S.target;
    const warn = $('regions-warning');
    const noMask = S.masks.length === 0;
    warn.hidden = !noMask;
    warn.textContent = noMask
      ? (body.allow_unmasked
        ? `No privacy mask covers ${S.size}: recordings contain everything on the scanner's screen (privacy.allow_unmasked is set).`
        : `No privacy mask covers ${S.size}: recording waits until one does. Draw the patient banner's rectangle and save.`)
      : '';
    $('regions-file').textContent = body.regions_file
      ? (body.saved
        ? `Saved in ${body.regions_file}; delete that file to go back to the config's regions.`
        : `The config's regions apply; Save keeps your changes in Bedside's state folder (${body.regions_file}), not in the config.`)
      : 'Bedside runs without a config file: changes last until it stops.';
    list();
  }

  function message(t) { $('regions-msg').textContent = t; }

  function list() {
    const items = [];
    S.masks.forEach((r, i) => items.push([`Mask ${i + 1}`, r, S.target === 'masks' && S.selected === i]));
    for (const m of S.models) {
      const c = S.crops[m.name];
      items.push([`Crop of ${m.name}`, c, S.target === m.name && S.selected === 0]);
    }
    $('regions-list').replaceChildren(...items.map(([name, r, sel]) => {
      const li = document.createElement('li');
      li.textContent = r ? `${name}: x ${r.x}, y ${r.y}, ${r.width} × ${r.height}` : `${name}: whole frame`;
      if (sel) li.className = 'selected';
      return li;
    }));
    $('regions-save').disabled = !dirty();
    $('regions-undo').disabled = !dirty();
    $('regions-delete').disabled = S.selected < 0;
  }

  // --- the picture: the same live stream the tablets get (already masked at the capture edge) ---
  let sock = null;
  let decoding = false;
  function openStream() {
    if (sock) return;
    const u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    if (admin.token) u.searchParams.set('token', admin.token);
    u.searchParams.set('purpose', 'preview');   // the admin's picture, not a tablet: not counted as a viewer
    sock = new WebSocket(u.toString());
    sock.binaryType = 'arraybuffer';
    sock.onmessage = async (ev) => {
      if (typeof ev.data === 'string' || decoding) return;
      decoding = true;
      try {
        const bmp = await createImageBitmap(new Blob([ev.data.slice(16)], { type: 'image/jpeg' }));
        if (S.picture && S.picture.close) S.picture.close();
        S.picture = bmp;
        canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
      } catch (_) { /* a frame that did not decode: the next one will */ }
      decoding = false;
    };
    sock.onclose = () => { sock = null; setTimeout(openStream, 1500); };
  }

  // --- drawing ---
  function scale() { return canvas.width / canvas.getBoundingClientRect().width || 1; }

  function draw() {
    requestAnimationFrame(draw);
    if (!S.loaded) return;
    ctx.fillStyle = '#222';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (S.picture) ctx.drawImage(S.picture, 0, 0, canvas.width, canvas.height);
    const k = scale();
    ctx.lineWidth = 2 * k;
    // Masks preview as they will be: solid black.
    S.masks.forEach((r, i) => {
      ctx.fillStyle = '#000';
      ctx.fillRect(r.x, r.y, r.width, r.height);
      const sel = S.target === 'masks' && S.selected === i;
      ctx.setLineDash(sel ? [6 * k, 4 * k] : []);
      ctx.strokeStyle = sel ? '#ffcc00' : '#ff5050';
      ctx.strokeRect(r.x, r.y, r.width, r.height);
      label(`mask ${i + 1}`, r, ctx.strokeStyle, k);
    });
    for (const m of S.models) {
      const c = S.crops[m.name];
      if (!c) continue;
      const sel = S.target === m.name && S.selected === 0;
      ctx.setLineDash(sel ? [6 * k, 4 * k] : [12 * k, 6 * k]);
      ctx.strokeStyle = sel ? '#ffcc00' : '#4da3ff';
      ctx.strokeRect(c.x, c.y, c.width, c.height);
      label(`crop: ${m.name}`, c, ctx.strokeStyle, k);
    }
    ctx.setLineDash([]);
    const r = rects()[S.selected];
    if (r) {
      ctx.fillStyle = '#ffcc00';
      const h = HANDLE * k;
      for (const [x, y] of corners(r)) ctx.fillRect(x - h / 2, y - h / 2, h, h);
    }
  }

  function label(text, r, color, k) {
    ctx.font = `${Math.round(13 * k)}px sans-serif`;
    ctx.fillStyle = color;
    ctx.fillText(text, r.x + 4 * k, Math.max(14 * k, r.y + r.height - 5 * k));
  }

  function corners(r) {
    return [[r.x, r.y], [r.x + r.width, r.y], [r.x, r.y + r.height], [r.x + r.width, r.y + r.height]];
  }

  // --- pointer (mouse, pen and touch alike) ---
  function point(ev) {
    const b = canvas.getBoundingClientRect();
    let x = (ev.clientX - b.left) * canvas.width / b.width;
    let y = (ev.clientY - b.top) * canvas.height / b.height;
    // Banners run to the screen's edge: within a few pixels of an edge (a finger's width) snap to it.
    const snap = SNAP * canvas.width / b.width;
    if (x < snap) x = 0; else if (x > canvas.width - snap) x = canvas.width;
    if (y < snap) y = 0; else if (y > canvas.height - snap) y = canvas.height;
    return { x: Math.max(0, Math.min(canvas.width, Math.round(x))), y: Math.max(0, Math.min(canvas.height, Math.round(y))) };
  }

  function setRects(list) {
    if (S.target === 'masks') S.masks = list;
    else S.crops[S.target] = list[0] || null;
  }

  canvas.addEventListener('pointerdown', (ev) => {
    if (!S.loaded) return;
    ev.preventDefault();
    canvas.setPointerCapture(ev.pointerId);
    const p = point(ev);
    const list = rects();
    const h = HANDLE * scale();
    const sel = list[S.selected];
    if (sel) {
      const i = corners(sel).findIndex(([x, y]) => Math.abs(p.x - x) <= h && Math.abs(p.y - y) <= h);
      if (i >= 0) {
        // Resize from the opposite corner.
        const [ox, oy] = corners(sel)[3 - i];
        S.drag = { kind: 'resize', ox, oy };
        return;
      }
    }
    for (let i = list.length - 1; i >= 0; i--) {
      const r = list[i];
      if (p.x >= r.x && p.x <= r.x + r.width && p.y >= r.y && p.y <= r.y + r.height) {
        S.selected = i;
        S.drag = { kind: 'move', dx: p.x - r.x, dy: p.y - r.y };
        list_();
        return;
      }
    }
    // Empty space: a new mask, or (for a model) a new crop replacing the old one.
    const r = { x: p.x, y: p.y, width: 0, height: 0 };
    if (S.target === 'masks') { S.masks.push(r); S.selected = S.masks.length - 1; } else { S.crops[S.target] = r; S.selected = 0; }
    S.drag = { kind: 'new', ox: p.x, oy: p.y };
    list_();
  });

  canvas.addEventListener('pointermove', (ev) => {
    if (!S.drag) return;
    const p = point(ev);
    const r = rects()[S.selected];
    if (!r) return;
    if (S.drag.kind === 'move') {
      r.x = Math.max(0, Math.min(canvas.width - r.width, p.x - S.drag.dx));
      r.y = Math.max(0, Math.min(canvas.height - r.height, p.y - S.drag.dy));
    } else {
      r.x = Math.min(S.drag.ox, p.x); r.y = Math.min(S.drag.oy, p.y);
      r.width = Math.abs(p.x - S.drag.ox); r.height = Math.abs(p.y - S.drag.oy);
    }
    list_();
  });

  function endDrag() {
    if (!S.drag) return;
    const r = rects()[S.selected];
    if (r && (r.width < MIN_SIZE || r.height < MIN_SIZE)) {
      // A tap: drop the tiny rectangle it started (a tap on a rectangle only selects it).
      if (S.drag.kind === 'new' || S.drag.kind === 'resize') {
        const list = rects().filter((_, i) => i !== S.selected);
        setRects(list);
        S.selected = -1;
      }
    }
    S.drag = null;
    list_();
  }
  canvas.addEventListener('pointerup', endDrag);
  canvas.addEventListener('pointercancel', endDrag);

  function list_() { list(); }

  function deleteSelected() {
    if (S.selected < 0) return;
    setRects(rects().filter((_, i) => i !== S.selected));
    S.selected = -1;
    list();
  }
  $('regions-delete').onclick = deleteSelected;
  document.addEventListener('keydown', (ev) => {
    if ((ev.key === 'Delete' || ev.key === 'Backspace') && document.activeElement === canvas) { ev.preventDefault(); deleteSelected(); }
  });
  $('regions-target').onchange = () => { S.target = $('regions-target').value; S.selected = -1; list(); };
  $('regions-undo').onclick = () => {
    if (!S.saved) return;
    S.masks = copy(S.saved.masks); S.crops = copy(S.saved.crops); S.selected = -1; list(); message('');
  };
  $('regions-save').onclick = async () => {
    const q = { size: S.size, masks: S.masks.map(rectText).join(';') };
    for (const m of S.models) {
      if (JSON.stringify(S.crops[m.name]) !== JSON.stringify(S.saved.crops[m.name])) {
        q[`crop.${m.name}`] = S.crops[m.name] ? rectText(S.crops[m.name]) : 'none';
      }
    }
    const { status, body } = await admin.call('regions/save', q);
    if (status !== 200) { message(`Not saved: ${body.error || status}. ${body.fix || ''}`); return; }
    const target = S.target;
    apply(body);
    S.target = target;
    $('regions-target').value = target;
    message(body.warning ? `Applied. ${body.warning}` : `Saved and applied from the next frame (${S.masks.length} mask${S.masks.length === 1 ? '' : 's'} for ${S.size}).`);
  };

  document.addEventListener('bedside-admin-unlocked', () => {
    openStream();
    load();
    requestAnimationFrame(draw);
  }, { once: true });
  // The input size can change (a scanner preset): reload the regions for the new size unless editing.
  document.addEventListener('bedside-admin-status', (ev) => {
    const src = (ev.detail && ev.detail.source) || {};
    const size = `${src.width}x${src.height}`;
    if (S.loaded && src.width && size !== S.size && !dirty()) load();
  });
})();
