// Bedside tablet page: live frames + the newest model result, over one WebSocket.
// Plain modern JS, no framework, no network access other than the Bedside server itself.
'use strict';

(() => {
  // ------------------------------------------------------------------ configuration

  const params = new URLSearchParams(location.search);
  const TOKEN_KEY = 'bedside.token';
  const OVERLAY_KEY = 'bedside.overlay';
  const VIEW_KEY = 'bedside.view';

  let token = params.get('token') || '';
  try {
    if (token) sessionStorage.setItem(TOKEN_KEY, token);
    else token = sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (_) { /* storage disabled: the query string is all we have */ }

  const numberParam = (name) => {
    const v = Number(params.get(name));
    return params.has(name) && Number.isFinite(v) && v > 0 ? v : null;
  };
  const staleParam = numberParam('stale_ms');
  const DEFAULT_STALE_MS = 1000;
  const WATCHDOG_MS = 5000;        // no message at all for this long: the link is dead, reconnect
  const NO_VIDEO_MS = 2500;        // no frame for this long while connected: say so on the video
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 3000;   // a restarted Bedside is found again within ~3 s, however long it was away
  const LEGEND_MAX = 6;             // more classes than this: the legend lists only those in the map
  const OVERLAY_ALPHA = 105;       // fill alpha (0..255) of segmentation classes
  const EDGE_ALPHA = 235;          // alpha of class boundaries

  // Okabe-Ito, then Paul Tol's muted scheme: distinct and colour-blind friendly. Class i uses PALETTE[i-1].
  const PALETTE = [
    '#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7',
    '#88CCEE', '#44AA99', '#117733', '#DDCC77', '#CC6677', '#AA4499', '#882255', '#999933', '#332288',
  ];
  const PALETTE_RGB = PALETTE.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
  const classColour = (i) => PALETTE[(i - 1) % PALETTE.length];
  const classRGB = (i) => PALETTE_RGB[(i - 1) % PALETTE.length];

  const ARROWS = new Set(['left', 'right', 'up', 'down', 'rotate-cw', 'rotate-ccw']);
  const MODEL_STATE_TEXT = {
    starting: 'MODEL STARTING…',
    restarting: 'MODEL RESTARTING…',
    failed: 'MODEL FAILED',
    stopped: 'MODEL STOPPED',
  };
  // status.source.state other than "ok": the notice over the video. `short` is for the banner's
  // second line and the status line; `fallback` is shown when the server gives no detail.
  const SOURCE_TEXT = {
    'no signal': { title: 'NO SIGNAL FROM THE SCANNER', short: 'No signal from the scanner',
      fallback: 'The capture box gets no picture from the scanner.' },
    disconnected: { title: 'CAPTURE BOX DISCONNECTED', short: 'Capture box disconnected',
      fallback: 'Bedside cannot reach the video capture box.' },
    'in use': { title: 'CAPTURE BOX IN USE', short: 'Capture box used by another program',
      fallback: 'Another program (or another Bedside) is capturing from the box: close it.' },
    connecting: { title: 'CONNECTING TO THE CAPTURE BOX…', short: 'Connecting to the capture box',
      fallback: 'Waiting for video from the capture box.' },
    ended: { title: 'VIDEO ENDED', short: 'Video ended', fallback: 'The video source has no more frames.' },
    failed: { title: 'VIDEO CAPTURE FAILED', short: 'Video capture failed', fallback: '' },
  };

  // ------------------------------------------------------------------ elements

  const $ = (id) => document.getElementById(id);
  const el = {
    app: $('app'),
    banner: $('banner'), bannerText: $('banner-text'), bannerSub: $('banner-sub'),
    bannerStale: $('banner-stale'),
    videoBox: $('video-box'), video: $('video'), overlay: $('overlay'),
    fps: $('fps'), fpsBadge: $('fps-badge'), videoMsg: $('video-msg'), videoMsgText: $('video-msg-text'),
    guidance: $('guidance'), guidanceText: $('guidance-text'),
    overlayToggle: $('overlay-toggle'), overlayToggleText: $('overlay-toggle-text'), legend: $('legend'),
    viewToggle: $('view-toggle'), viewToggleText: $('view-toggle-text'),
    sourceNotice: $('source-notice'), sourceTitle: $('source-title'), sourceDetail: $('source-detail'),
    sourceFoot: $('source-foot'), stSource: $('st-source'),
    groups: $('groups'), conceptsEmpty: $('concepts-empty'), conceptsStale: $('concepts-stale'),
    connection: $('connection'), connectionText: $('connection-text'),
    snapshotBtn: $('snapshot-btn'), recBtn: $('rec-btn'), stAction: $('st-action'), recAlert: $('rec-alert'),
    stModel: $('st-model'), stRate: $('st-rate'), stLatency: $('st-latency'), stAge: $('st-age'),
    stRec: $('st-rec'), stRecText: $('st-rec-text'), stViewers: $('st-viewers'),
    stTruth: $('st-truth'), frameCount: $('frame-count'), predictionSeq: $('prediction-seq'),
    unpaired: $('unpaired'),
  };
  const videoCtx = el.video.getContext('2d', { alpha: false });
  const overlayCtx = el.overlay.getContext('2d');

  // ------------------------------------------------------------------ state

  const S = {
    conn: 'closed',            // open | closed | unauthorized  (data-state of the connection element)
    connDetail: 'Connecting…',
    hello: null,
    status: null,
    model: params.get('model') || null,   // the model this tablet follows
    frame: { count: 0, seq: null, pts: null, wall: 0, width: 0, height: 0 },
    dropped: 0,
    fpsTimes: [],              // wall times of the last frames drawn (1 s window)
    pred: null,                // newest prediction message of the followed model
    predWall: 0,
    acceptAnySeq: true,        // after (re)connecting, the server may have restarted and reset seq
    seg: null,                 // { key, canvas, classes, seen:Set, crop }
    overlayOn: readOverlayPref(),
    viewPref: readViewPref(),  // what the user chose: full | crop
    view: null,                // what is drawn: { mode: full|crop, x, y, w, h (JPEG pixels), cw, ch (canvas) }
    bitmap: null,              // the newest decoded frame, kept to redraw it when the view changes
    stale: false,
    lastMessageWall: 0,
  };

  function readOverlayPref() {
    try { return localStorage.getItem(OVERLAY_KEY) !== 'off'; } catch (_) { return true; }
  }
  function readViewPref() {
    try { return localStorage.getItem(VIEW_KEY) === 'crop' ? 'crop' : 'full'; } catch (_) { return 'full'; }
  }

  const staleMs = () => staleParam || positive(S.hello && S.hello.stale_ms) || DEFAULT_STALE_MS;
  const positive = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

  // ------------------------------------------------------------------ connection

  let gen = 0;                 // bumps on every attempt; events from older sockets are ignored
  let ws = null;
  let attempt = 0;
  let retryAt = 0;
  let retryTimer = null;

  const apiURL = () => {
    const u = new URL('api/status', location.href);
    u.search = '';
    if (token) u.searchParams.set('token', token);
    return u.toString();
  };
  const wsURL = () => {
    const u = new URL('ws', location.href);
    u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    u.search = '';
    if (token) u.searchParams.set('token', token);
    return u.toString();
  };

  function setConn(state, detail) {
    S.conn = state;
    S.connDetail = detail;
    el.connection.dataset.state = state;
    el.app.dataset.conn = state;
    el.connectionText.textContent = detail;
    renderSource();
    renderBanner();
    updateStale();
  }

  async function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    retryAt = 0;
    const my = ++gen;
    if (ws) { dropSocket(ws); ws = null; }
    setConn('closed', attempt ? 'Reconnecting…' : 'Connecting…');

    // Ask over HTTP first: a WebSocket refused with 401 looks like any network error to the page,
    // while fetch tells "bad token" apart from "server unreachable".
    let probe;
    try {
      probe = await fetch(apiURL(), { cache: 'no-store', signal: timeoutSignal(4000) });
    } catch (_) {
      if (my !== gen) return;
      return scheduleReconnect('Bedside unreachable');
    }
    if (my !== gen) return;
    if (probe.status === 401 || probe.status === 403) return unauthorized();
    if (probe.ok) {
      try { onStatus(await probe.json()); } catch (_) { /* not JSON: ignore */ }
      if (my !== gen) return;
    }
    openSocket(my);
  }

  function timeoutSignal(ms) {
    if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) return AbortSignal.timeout(ms);
    const c = new AbortController();
    setTimeout(() => c.abort(), ms);
    return c.signal;
  }

  function openSocket(my) {
    let sock;
    try {
      sock = new WebSocket(wsURL());
    } catch (_) {
      return scheduleReconnect('Could not open the connection');
    }
    ws = sock;
    sock.binaryType = 'arraybuffer';
    let opened = false;
    sock.onopen = () => {
      if (my !== gen) return;
      opened = true;
      attempt = 0;
      S.lastMessageWall = performance.now();
      S.acceptAnySeq = true;
      paint.done.length = 0;  // frames of an earlier connection (perhaps an earlier server) are not reported
      setConn('open', 'Live');
    };
    sock.onmessage = (ev) => {
      if (my !== gen) return;
      S.lastMessageWall = performance.now();
      if (typeof ev.data === 'string') onText(ev.data);
      else onBinary(ev.data);
    };
    sock.onerror = () => { /* a close event follows */ };
    sock.onclose = (ev) => {
      if (my !== gen) return;
      ws = null;
      // Application close codes a server may use for a bad or revoked token.
      if (ev.code === 4401 || ev.code === 4403 || ev.code === 1008) return unauthorized();
      scheduleReconnect(opened ? 'Connection lost' : 'Could not connect');
    };
  }

  function dropSocket(sock) {
    sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
    try { sock.close(); } catch (_) { /* already closed */ }
  }

  function scheduleReconnect(why) {
    gen++;
    if (ws) { dropSocket(ws); ws = null; }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
    const delay = Math.round(base * (0.8 + 0.4 * Math.random()));
    attempt++;
    retryAt = performance.now() + delay;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
    S.reconnectWhy = why;
    setConn('closed', reconnectText());
  }

  function reconnectText() {
    const left = Math.max(0, Math.ceil((retryAt - performance.now()) / 1000));
    return left > 0 ? `Reconnecting in ${left} s` : 'Reconnecting…';
  }

  function unauthorized() {
    gen++;
    clearTimeout(retryTimer);
    retryTimer = null;
    retryAt = 0;
    if (ws) { dropSocket(ws); ws = null; }
    pending = null;
    if (S.bitmap) { S.bitmap.close(); S.bitmap = null; }
    videoCtx.fillStyle = '#000';
    videoCtx.fillRect(0, 0, el.video.width, el.video.height);
    el.unpaired.hidden = false;
    setConn('unauthorized', 'Not paired');
  }

  // Reconnect at once when the tablet wakes up or the Wi-Fi comes back.
  const reconnectNow = () => {
    if (S.conn === 'unauthorized') return;
    if (retryTimer) { attempt = Math.max(0, attempt - 1); connect(); }
  };
  window.addEventListener('online', reconnectNow);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    if (S.conn === 'open' && performance.now() - S.lastMessageWall > WATCHDOG_MS) scheduleReconnect('Connection lost');
    else reconnectNow();
  });

  // ------------------------------------------------------------------ messages

  function onText(text) {
    let m;
    try { m = JSON.parse(text); } catch (_) { return; }
    if (!m || typeof m !== 'object') return;
    switch (m.type) {
      case 'hello': onHello(m); break;
      case 'prediction': onPrediction(m); break;
      case 'status': onStatus(m); break;
      default: break;
    }
  }

  function onHello(m) {
    S.hello = m;
    S.acceptAnySeq = true;
    if (!params.get('model') && typeof m.model === 'string' && m.model) S.model = m.model;
    applyView();
    updateStale();
    renderStatusLine();
  }

  // Study arm: what of the model's output this tablet shows. The server sends only that part (nothing in a
  // control arm); the page hides the panels the arm does not show and clears what it showed before.
  const ALL_PARTS = ['banner', 'concepts', 'overlay', 'guidance'];
  function applyStudy(st) {
    const show = st && Array.isArray(st.show) ? st.show.filter((x) => ALL_PARTS.includes(x)) : ALL_PARTS;
    const key = show.join(' ');
    const arm = st && typeof st.arm === 'string' ? st.arm : '';
    if (S.showKey === key && S.arm === arm) return;
    const first = S.showKey === undefined;
    S.showKey = key;
    S.arm = arm;
    el.app.dataset.show = key;
    el.app.dataset.arm = arm;
    if (first) return;
    S.pred = null;
    S.seg = null;
    drawOverlay();
    renderLegend();
    renderConcepts({});
    renderGuidance(null);
    renderBanner();
  }

  function onStatus(m) {
    if (!m || typeof m !== 'object') return;
    S.status = m;
    applyStudy(m.study);
    if (!S.model && Array.isArray(m.models) && m.models.length && m.models[0].name) S.model = m.models[0].name;
    applyView();            // the source size or the model's crop may have changed
    renderSource();
    renderStatusLine();
    renderBanner();
    updateStale();
  }

  function followedModel() {
    const models = S.status && Array.isArray(S.status.models) ? S.status.models : [];
    return models.find((x) => x && x.name === S.model) || models[0] || null;
  }

  function modelState() {
    const m = followedModel();
    return m && typeof m.state === 'string' ? m.state : null;
  }

  // ------------------------------------------------------------------ video

  let pending = null;     // newest undecoded frame; a newer one replaces it (dropped, never queued)
  let decoding = false;

  function onBinary(buf) {
    if (!(buf instanceof ArrayBuffer) || buf.byteLength <= 16) return;
    if (S.conn === 'unauthorized') return;
    if (document.visibilityState === 'hidden') { S.dropped++; return; }
    if (pending) S.dropped++;
    pending = buf;
    if (!decoding) decodeNext();
  }

  async function decodeNext() {
    while (pending) {
      const buf = pending;
      pending = null;
      decoding = true;
      const view = new DataView(buf);
      const seq = Number(view.getBigUint64(0, true));
      const pts = Number(view.getBigUint64(8, true));
      let bitmap = null;
      try {
        bitmap = await createImageBitmap(new Blob([new Uint8Array(buf, 16)], { type: 'image/jpeg' }));
      } catch (_) {
        S.decodeErrors = (S.decodeErrors || 0) + 1;
      }
      if (bitmap) {
        if (S.conn !== 'unauthorized') {
          if (S.bitmap) S.bitmap.close();
          S.bitmap = bitmap;
          drawFrame(bitmap, seq, pts);
        } else {
          bitmap.close();
        }
      }
    }
    decoding = false;
  }

  function drawFrame(bitmap, seq, pts) {
    const f = S.frame;
    f.width = bitmap.width;
    f.height = bitmap.height;
    applyView();
    paintVideo();
    f.count++;
    f.seq = seq;
    f.pts = pts;
    notePainted(seq);
    const now = performance.now();
    f.wall = now;
    S.fpsTimes.push(now);
    el.frameCount.textContent = String(f.count);
    if (el.videoMsg.dataset.shown === 'true') renderVideoMessage();
    updateStale();
  }

  // ------------------------------------------------------------------ drawn reports (capture -> screen latency)

  // The page tells Bedside which frames reached the screen, and how long ago, so the server can measure
  // capture -> drawn with its own clock: {"type":"drawn","frames":[{"seq":N,"ago_ms":D}, ...]}. A frame counts
  // as painted after the animation frame that shows it (requestAnimationFrame, then a task after that frame's
  // paint); a frame drawn over before that was never on screen and is not reported. At most one message per
  // REPORT_MS, with up to REPORT_MAX frames; nothing is sent (or kept) while the socket is not open.
  const REPORT_MS = 100;
  const REPORT_MAX = 16;
  const paint = { seq: null, rafPending: false, done: [], lastSent: 0, count: 0 };
  const afterPaint = (() => {
    try {
      const ch = new MessageChannel();
      let queue = [];
      ch.port1.onmessage = () => { const q = queue; queue = []; for (const fn of q) fn(); };
      return (fn) => { queue.push(fn); if (queue.length === 1) ch.port2.postMessage(0); };
    } catch (_) {
      return (fn) => setTimeout(fn, 0);
    }
  })();

  function notePainted(seq) {
    try {
      if (!Number.isSafeInteger(seq)) return;
      paint.seq = seq;
      if (paint.rafPending) return;
      paint.rafPending = true;
      requestAnimationFrame(() => {
        paint.rafPending = false;
        const s = paint.seq;
        paint.seq = null;
        if (s === null) return;
        afterPaint(() => framePainted(s, performance.now()));
      });
    } catch (_) { /* reporting must never break the video */ }
  }

  function framePainted(seq, at) {
    try {
      paint.count++;
      paint.done.push({ seq, at });
      if (paint.done.length > REPORT_MAX) paint.done.splice(0, paint.done.length - REPORT_MAX);
      if (at - paint.lastSent >= REPORT_MS) sendDrawn();
    } catch (_) { /* ignore */ }
  }

  function sendDrawn() {
    try {
      if (!paint.done.length) return;
      const sock = ws;
      if (!sock || sock.readyState !== 1 || S.conn !== 'open' || sock.bufferedAmount > 65536) {
        paint.done.length = 0;
        return;
      }
      const now = performance.now();
      const frames = paint.done.map((p) => ({ seq: p.seq, ago_ms: Math.max(0, Math.round((now - p.at) * 10) / 10) }));
      paint.done.length = 0;
      paint.lastSent = now;
      sock.send(JSON.stringify({ type: 'drawn', frames }));
    } catch (_) { /* a closed socket: the reports are simply lost */ }
  }

  function setAspect(w, h) {
    el.app.style.setProperty('--aspect', `${w} / ${h}`);
  }

  // ------------------------------------------------------------------ full screen / crop view

  // The model's crop, in source pixels, clipped to the source: from the newest prediction (it matches
  // the segmentation drawn), else from the followed model's status. null when none is known.
  function currentCrop() {
    const fromPred = S.pred && S.pred.crop;
    const m = followedModel();
    const c = validRect(fromPred) || validRect(m && m.crop);
    if (!c) return null;
    const src = sourceSize();
    if (!src) return c;
    const x = Math.max(0, c.x), y = Math.max(0, c.y);
    const w = Math.min(src.w, c.x + c.width) - x, h = Math.min(src.h, c.y + c.height) - y;
    return w >= 1 && h >= 1 ? { x, y, width: w, height: h } : null;
  }

  function validRect(r) {
    if (!r || typeof r !== 'object') return null;
    const x = num(r.x), y = num(r.y), w = num(r.width), h = num(r.height);
    return x !== null && y !== null && w > 0 && h > 0 ? { x, y, width: w, height: h } : null;
  }

  // JPEG pixels per source pixel (the frames sent to tablets may be scaled down).
  function jpegScale() {
    const src = sourceSize();
    const jw = S.frame.width || (src ? src.w : el.video.width);
    const jh = S.frame.height || (src ? src.h : el.video.height);
    return { jw, jh, kx: src ? jw / src.w : 1, ky: src ? jh / src.h : 1 };
  }

  // Works out what the canvases show and resizes them; redraws when that changed.
  function applyView() {
    const crop = currentCrop();
    el.viewToggle.hidden = !crop;
    const { jw, jh, kx, ky } = jpegScale();
    let v = { mode: 'full', x: 0, y: 0, w: jw, h: jh };
    if (crop && S.viewPref === 'crop') {
      v = { mode: 'crop', x: crop.x * kx, y: crop.y * ky, w: crop.width * kx, h: crop.height * ky };
    }
    v.cw = Math.max(1, Math.round(v.w));
    v.ch = Math.max(1, Math.round(v.h));
    v.kx = kx;               // a new source size moves the overlay even when the view rectangle stays
    v.ky = ky;
    const old = S.view;
    S.view = v;
    el.viewToggle.dataset.view = v.mode;
    el.app.dataset.view = v.mode;
    const same = old && ['mode', 'x', 'y', 'w', 'h', 'kx', 'ky'].every((k) => old[k] === v[k]);
    if (same) return;
    if (el.video.width !== v.cw || el.video.height !== v.ch) {
      el.video.width = v.cw;
      el.video.height = v.ch;
      el.overlay.width = v.cw;
      el.overlay.height = v.ch;
    }
    setAspect(v.cw, v.ch);
    paintVideo();
    drawOverlay();
  }

  function paintVideo() {
    const v = S.view;
    if (!v || !S.bitmap) return;
    if (v.mode === 'full' && v.cw === S.bitmap.width && v.ch === S.bitmap.height) {
      videoCtx.drawImage(S.bitmap, 0, 0);
    } else {
      videoCtx.drawImage(S.bitmap, v.x, v.y, v.w, v.h, 0, 0, v.cw, v.ch);
    }
  }

  function setViewPref(mode) {
    S.viewPref = mode === 'crop' ? 'crop' : 'full';
    try { localStorage.setItem(VIEW_KEY, S.viewPref); } catch (_) { /* ignore */ }
    renderViewToggle();
    applyView();
  }
  function renderViewToggle() {
    const crop = S.viewPref === 'crop';
    el.viewToggle.setAttribute('aria-pressed', String(crop));
    el.viewToggleText.textContent = crop ? 'Crop view' : 'Full view';
    el.viewToggle.title = crop ? 'Showing the model’s crop: tap for the full screen'
      : 'Showing the full screen: tap for the model’s crop';
  }
  el.viewToggle.addEventListener('click', () => setViewPref(S.viewPref === 'crop' ? 'full' : 'crop'));

  // ------------------------------------------------------------------ capture state

  function sourceInfo() {
    const src = S.status && S.status.source && typeof S.status.source === 'object' ? S.status.source : null;
    const state = src && typeof src.state === 'string' && src.state ? src.state : 'ok';
    return { src, state };
  }

  // A capture problem is shown only while the link to Bedside is up: otherwise the status is old
  // and the connection message on the video says what is wrong.
  const sourceBad = () => sourceInfo().state !== 'ok';
  const sourceNoticeShown = () => S.conn === 'open' && sourceBad();

  function renderSource() {
    const { src, state } = sourceInfo();
    const n = el.sourceNotice;
    n.dataset.state = S.status && S.status.source ? state : 'unknown';
    el.app.dataset.source = sourceNoticeShown() ? 'bad' : 'ok';
    n.hidden = !sourceNoticeShown();
    if (state !== 'ok') {
      const t = SOURCE_TEXT[state] || { title: `VIDEO SOURCE: ${state.toUpperCase()}`, short: `Video source: ${state}`, fallback: '' };
      setText(el.sourceTitle, t.title);
      const detail = (src && (src.detail || src.error)) || t.fallback || '';
      const d = String(detail).trim();
      setText(el.sourceDetail, d ? d[0].toUpperCase() + d.slice(1) : '');
      el.sourceDetail.hidden = !detail;
    }
    renderSourceFoot();
    renderVideoMessage();
  }

  // How long the picture has been frozen: the last frame stays on screen, dimmed, under the notice.
  function renderSourceFoot() {
    if (el.sourceNotice.hidden) return;
    let text = 'No image yet';
    if (S.frame.count) {
      const s = Math.round((performance.now() - S.frame.wall) / 1000);
      text = s < 2 ? 'The image below is the last one received' : `The image below is frozen: last one received ${s} s ago`;
    }
    setText(el.sourceFoot, text);
  }

  function renderVideoMessage() {
    let text = '';
    const now = performance.now();
    if (S.conn === 'unauthorized') text = 'Not paired';
    else if (S.conn !== 'open') text = S.reconnectWhy && retryTimer ? `${S.reconnectWhy}: ${lower(S.connDetail)}` : S.connDetail;
    else if (sourceNoticeShown()) text = '';   // the capture notice says it, larger
    else if (!S.frame.count) text = 'Waiting for video…';
    else if (now - S.frame.wall > NO_VIDEO_MS) text = `No video for ${Math.round((now - S.frame.wall) / 1000)} s`;
    el.videoMsg.dataset.shown = text ? 'true' : 'false';
    if (text && el.videoMsgText.textContent !== text) el.videoMsgText.textContent = text;
  }
  const lower = (t) => t.charAt(0).toLowerCase() + t.slice(1);

  // ------------------------------------------------------------------ predictions

  function onPrediction(m) {
    if (typeof m.model === 'string') {
      if (!S.model) S.model = m.model;
      if (m.model !== S.model) return;
    }
    const seq = num(m.seq);
    if (!S.acceptAnySeq && S.pred && seq !== null && num(S.pred.seq) !== null && seq < S.pred.seq) return;
    S.acceptAnySeq = false;
    S.pred = m;
    S.predWall = performance.now();
    const result = m.result && typeof m.result === 'object' ? m.result : {};

    el.predictionSeq.textContent = seq === null ? '?' : String(seq);
    decodeSegmentation(result.segmentation, m.crop);
    applyView();            // the crop may be new; redraws the overlay when the view changes
    drawOverlay();
    renderLegend();
    renderConcepts(result);
    renderGuidance(result.guidance);
    renderBanner();
    updateStale(true);
    renderStatusLine();
  }

  // ------------------------------------------------------------------ segmentation overlay

  function decodeSegmentation(seg, crop) {
    S.seg = null;
    if (!seg || typeof seg !== 'object') return;
    const w = num(seg.width), h = num(seg.height);
    const data = seg.data;
    if (!w || !h || w < 1 || h < 1 || w * h > 16e6 || !Array.isArray(data)) return;
    if (seg.encoding && seg.encoding !== 'rle') return;

    const n = w * h;
    const labels = new Uint16Array(n);
    let p = 0;
    const seen = new Set();
    for (let i = 0; i + 1 < data.length && p < n; i += 2) {
      const v = data[i] | 0, len = Math.min(data[i + 1] | 0, n - p);
      if (len <= 0) continue;
      if (v > 0) { labels.fill(v, p, p + len); seen.add(v); }
      p += len;
    }

    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext('2d');
    const img = ctx.createImageData(w, h);
    const px = img.data;
    for (let y = 0; y < h; y++) {
      const row = y * w;
      for (let x = 0; x < w; x++) {
        const i = row + x;
        const v = labels[i];
        if (!v) continue;
        const edge =
          (x > 0 && labels[i - 1] !== v) || (x < w - 1 && labels[i + 1] !== v) ||
          (y > 0 && labels[i - w] !== v) || (y < h - 1 && labels[i + w] !== v);
        const c = classRGB(v);
        const o = i * 4;
        px[o] = c[0];
        px[o + 1] = c[1];
        px[o + 2] = c[2];
        px[o + 3] = edge ? EDGE_ALPHA : OVERLAY_ALPHA;
      }
    }
    ctx.putImageData(img, 0, 0);

    let rect = null;
    if (crop && typeof crop === 'object') {
      const cx = num(crop.x), cy = num(crop.y), cw = num(crop.width), ch = num(crop.height);
      if (cx !== null && cy !== null && cw > 0 && ch > 0) rect = { x: cx, y: cy, width: cw, height: ch };
    }
    const classes = Array.isArray(seg.classes) ? seg.classes.map(String) : null;
    S.seg = { canvas, classes, seen, rect, maxLabel: seen.size ? Math.max(...seen) : 0 };
  }

  // Capture size: `crop` is in these pixels, while the JPEG frames may be scaled down for the tablets.
  // From the status (current), else from hello.
  function sourceSize() {
    for (const src of [S.status && S.status.source, S.hello]) {
      const w = src ? num(src.width) : null, h = src ? num(src.height) : null;
      if (w > 0 && h > 0) return { w, h };
    }
    return null;
  }

  function drawOverlay() {
    const W = el.overlay.width, H = el.overlay.height;
    overlayCtx.clearRect(0, 0, W, H);
    const seg = S.seg;
    if (!seg) return;
    // The label map covers the crop (or the whole frame); map it to JPEG pixels, then to the canvas,
    // which shows the view rectangle of the JPEG (all of it, or the crop).
    const { jw, jh, kx, ky } = jpegScale();
    const v = S.view || { x: 0, y: 0, w: jw, h: jh };
    const j = seg.rect
      ? { x: seg.rect.x * kx, y: seg.rect.y * ky, width: seg.rect.width * kx, height: seg.rect.height * ky }
      : { x: 0, y: 0, width: jw, height: jh };
    const sx = W / v.w, sy = H / v.h;
    const r = { x: (j.x - v.x) * sx, y: (j.y - v.y) * sy, width: j.width * sx, height: j.height * sy };
    overlayCtx.imageSmoothingEnabled = true;
    overlayCtx.imageSmoothingQuality = 'high';
    overlayCtx.drawImage(seg.canvas, r.x, r.y, r.width, r.height);
  }

  let legendKey = '';
  function renderLegend() {
    const seg = S.seg;
    let items = [];
    if (seg) {
      const count = seg.classes ? seg.classes.length : seg.maxLabel + 1;
      for (let i = 1; i < count; i++) {
        items.push({ i, name: seg.classes ? humanise(seg.classes[i]) : `class ${i}`, seen: seg.seen.has(i) });
      }
      // A long class list would not fit: then list the classes in this map only.
      if (items.length > LEGEND_MAX) items = items.filter((x) => x.seen);
    }
    const key = seg ? items.map((x) => `${x.i}:${x.name}:${x.seen}`).join('|') : 'none';
    if (key === legendKey) return;
    legendKey = key;
    el.legend.textContent = '';
    if (!seg || !items.length) {
      const li = document.createElement('li');
      li.className = 'none';
      li.textContent = seg ? 'No structures outlined' : 'No segmentation';
      el.legend.append(li);
      return;
    }
    for (const it of items) {
      const li = document.createElement('li');
      li.dataset.seen = String(it.seen);
      const sw = document.createElement('span');
      sw.className = 'swatch';
      sw.style.background = classColour(it.i);
      li.append(sw, document.createTextNode(it.name));
      el.legend.append(li);
    }
  }

  function setOverlay(on) {
    S.overlayOn = on;
    el.app.dataset.overlay = on ? 'on' : 'off';
    el.overlayToggle.setAttribute('aria-pressed', String(on));
    el.overlayToggleText.textContent = on ? 'Overlay on' : 'Overlay off';
    try { localStorage.setItem(OVERLAY_KEY, on ? 'on' : 'off'); } catch (_) { /* ignore */ }
  }
  el.overlayToggle.addEventListener('click', () => setOverlay(!S.overlayOn));

  // ------------------------------------------------------------------ banner

  const upper = (s) => humanise(s).toUpperCase();

  function humanise(s) {
    const t = String(s == null ? '' : s).replace(/[_-]+/g, ' ').replace(/\s+/g, ' ').trim();
    return t ? t[0].toUpperCase() + t.slice(1) : '';
  }

  function renderBanner() {
    const b = el.banner;
    const pred = S.pred;
    const plane = pred && pred.result && typeof pred.result.plane === 'object' && pred.result.plane ? pred.result.plane : null;
    const ms = modelState();
    let mode, text, sub = '';

    if (pred) {
      const status = plane && ['standard', 'close', 'unknown'].includes(plane.status) ? plane.status : 'unknown';
      b.dataset.status = status;
      b.dataset.plane = plane && plane.name != null ? String(plane.name) : '';
    } else {
      delete b.dataset.status;
      delete b.dataset.plane;
    }

    if (S.conn === 'unauthorized') {
      mode = 'offline';
      text = 'NOT PAIRED';
      sub = 'Open the link with the pairing token shown by Bedside';
    } else if (ms && ms !== 'running') {
      mode = 'model';
      text = MODEL_STATE_TEXT[ms] || `MODEL ${ms.toUpperCase()}`;
      const m = followedModel();
      sub = m && m.last_error ? `No current result · ${m.last_error}` : 'No current result';
    } else if (!pred) {
      mode = 'waiting';
      text = S.conn === 'open' ? 'WAITING FOR THE MODEL…' : 'CONNECTING…';
    } else {
      mode = b.dataset.status;
      const name = plane && plane.name && !['none', 'unknown', 'null'].includes(String(plane.name).toLowerCase())
        ? upper(plane.name) : '';
      if (mode === 'standard') text = `STANDARD PLANE${name ? `: ${name}` : ''}`;
      else if (mode === 'close') text = `CLOSE TO STANDARD${name ? `: ${name}` : ''}`;
      else text = 'NO STANDARD PLANE';
      const sc = plane ? num(plane.score) : null;
      if (sc !== null) sub = sc <= 1 ? `Confidence ${Math.round(sc * 100)}%` : `Score ${sc.toFixed(1)}`;
    }

    b.dataset.mode = mode;
    if (ms) b.dataset.modelState = ms; else delete b.dataset.modelState;
    if (el.bannerText.textContent !== text) {
      el.bannerText.textContent = text;
      fitBanner();
    }
    renderBannerSub(sub, mode === 'model' || mode === 'offline');
  }

  // The second banner line: the model problem, or how old a stale result is.
  let bannerSubBase = '';
  let bannerSubFixed = false;   // a model or pairing problem: keep that text even when stale
  function renderBannerSub(sub, fixed) {
    if (sub !== undefined) { bannerSubBase = sub; bannerSubFixed = !!fixed; }
    let text = bannerSubBase;
    if (!bannerSubFixed && S.stale && S.pred) {
      const age = resultAgeMs();
      const t = SOURCE_TEXT[sourceInfo().state];
      text = S.conn !== 'open' ? 'Last result before the connection was lost: not current'
        : sourceBad() ? `${t ? t.short : 'No video'}: result not current`
        : `Result is ${age !== null ? formatAge(age) : 'too'} old: not current`;
    }
    text = text || '\u00a0';
    if (el.bannerSub.textContent !== text) el.bannerSub.textContent = text;
  }

  // Largest font size (up to the CSS one) at which the banner text fits on one line.
  let bannerMaxPx = 0;
  function fitBanner() {
    const t = el.bannerText;
    t.style.fontSize = '';
    if (!bannerMaxPx || fitBanner.resized) {
      bannerMaxPx = parseFloat(getComputedStyle(t).fontSize) || 54;
      fitBanner.resized = false;
    }
    let size = bannerMaxPx;
    t.style.fontSize = `${size}px`;
    const range = document.createRange();
    range.selectNodeContents(t);
    const room = t.clientWidth;
    while (size > 22 && range.getBoundingClientRect().width > room - 1) {
      size -= 2;
      t.style.fontSize = `${size}px`;
    }
  }
  window.addEventListener('resize', () => { fitBanner.resized = true; fitBanner(); fitGuidance(); });

  // ------------------------------------------------------------------ staleness

  function resultAgeMs() {
    if (!S.pred) return null;
    const p = num(S.pred.pts_ns);
    if (p !== null && S.frame.pts !== null) return Math.max(0, (S.frame.pts - p) / 1e6);
    const a = num(S.pred.age_ms);
    return a !== null ? a + (performance.now() - S.predWall) : null;
  }

  function computeStale() {
    if (!S.pred) return false;
    if (S.conn !== 'open') return true;
    if (sourceBad()) return true;       // no new frames: the last result describes an old picture
    const ms = modelState();
    if (ms && ms !== 'running') return true;
    const age = resultAgeMs();
    return age !== null && age > staleMs();
  }

  function updateStale(force) {
    const stale = computeStale();
    if (stale === S.stale && !force) return;
    const changed = stale !== S.stale;
    S.stale = stale;
    const v = stale ? 'true' : 'false';
    el.app.dataset.stale = v;
    el.banner.dataset.stale = v;
    el.groups.dataset.stale = v;
    el.overlay.dataset.stale = v;
    el.guidance.dataset.stale = v;
    if (changed || force) renderBannerSub();
  }

  // ------------------------------------------------------------------ concepts

  const groupNodes = new Map();   // group key -> { root, head, name, summary, list, rows: Map }
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

  function presenceOf(c) {
    if (typeof c.present === 'boolean') return c.present ? 'true' : 'false';
    const s = num(c.score);
    if (s !== null) return s >= 5 ? 'true' : 'false';
    return 'unknown';
  }

  function renderConcepts(result) {
    const concepts = Array.isArray(result.concepts) ? result.concepts.filter((c) => c && typeof c === 'object') : [];
    // Group by plane, in the model's order.
    const groups = new Map();
    concepts.forEach((c, i) => {
      const key = c.plane == null ? '' : String(c.plane);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push({ c, i });
    });

    el.conceptsEmpty.hidden = groups.size > 0;
    if (!groups.size) el.conceptsEmpty.textContent = 'This model gives no landmark explanation.';

    const planeName = result.plane && result.plane.name != null ? String(result.plane.name) : null;
    let want = planeName !== null && groups.has(planeName) ? planeName : null;
    if (want === null) want = currentGroup !== null && groups.has(currentGroup) ? currentGroup : null;
    if (want === null && groups.size) want = groups.keys().next().value;
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
      const want = prev ? prev.nextSibling : el.groups.firstChild;
      if (want !== g.root) el.groups.insertBefore(g.root, want);
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
        const cname = c.name != null ? String(c.name) : `concept ${i + 1}`;
        names.add(cname);
        let r = g.rows.get(cname);
        if (!r) { r = makeRow(cname); g.rows.set(cname, r); }
        const wantRow = rowPrev ? rowPrev.nextSibling : g.list.firstChild;
        if (wantRow !== r.li) g.list.insertBefore(r.li, wantRow);
        rowPrev = r.li;

        const pres = presenceOf(c);
        if (pres === 'true') present++; else if (pres === 'false') missing++;
        const s = num(c.score);
        const label = c.label != null ? String(c.label) : humanise(cname);
        const key2 = `${pres}|${s}|${label}`;
        if (key2 === r.last) continue;
        r.last = key2;
        r.li.dataset.present = pres;
        r.li.dataset.score = s === null ? '' : String(s);
        r.text.textContent = label;
        r.li.title = `${label}: ${pres === 'true' ? 'present' : pres === 'false' ? 'MISSING' : 'unknown'}`;
        const clamped = s === null ? 0 : Math.max(0, Math.min(10, s));
        r.fill.style.width = `${clamped * 10}%`;
        r.score.textContent = s === null ? '–' : s.toFixed(1);
      }
      for (const [n, r] of g.rows) {
        if (!names.has(n)) { r.li.remove(); g.rows.delete(n); }
      }
      const sk = `${present}|${missing}|${items.length}`;
      if (sk !== g.summaryKey) {
        g.summaryKey = sk;
        g.okChip.textContent = `✓ ${present}`;
        g.okChip.dataset.zero = String(present === 0);
        g.badChip.textContent = `✗ ${missing}`;
        g.badChip.dataset.zero = String(missing === 0);
        g.head.setAttribute('aria-label',
          `${g.title}: ${present} of ${items.length} present, ${missing} missing`);
      }
    }
  }

  // ------------------------------------------------------------------ guidance

  function renderGuidance(g) {
    let text = g && typeof g === 'object' && g.text != null ? String(g.text).trim() : '';
    if (text) text = text[0].toUpperCase() + text.slice(1);
    const arrow = g && typeof g === 'object' && ARROWS.has(g.arrow) ? g.arrow : 'none';
    const empty = !text && arrow === 'none';
    el.guidance.dataset.arrow = arrow;
    el.guidance.dataset.empty = String(empty);
    const shown = empty ? 'No guidance' : text || humanise(arrow.replace('ccw', 'anticlockwise').replace('cw', 'clockwise'));
    el.guidanceText.title = shown;
    if (el.guidanceText.textContent !== shown) {
      el.guidanceText.textContent = shown;
      fitGuidance();
    }
  }

  // The whole hint must be readable: shrink the type (not the message) until it fits its box.
  function fitGuidance() {
    const t = el.guidanceText;
    t.style.fontSize = '';
    let size = parseFloat(getComputedStyle(t).fontSize) || 26;
    while (size > 14 && t.scrollHeight > t.clientHeight + 1) {
      size -= 1;
      t.style.fontSize = `${size}px`;
    }
  }

  // ------------------------------------------------------------------ status line

  function formatAge(ms) {
    return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function renderStatusLine() {
    const m = followedModel();
    const name = (m && m.name) || S.model || 'model';
    const state = m && m.state ? m.state : (S.pred ? 'running' : '–');
    setText(el.stModel, `${name}: ${state}`);
    el.stModel.dataset.state = state;
    el.stModel.dataset.bad = String(!!(m && m.state && m.state !== 'running'));
    if (m && m.last_error && m.state !== 'running') el.stModel.title = m.last_error;
    else el.stModel.removeAttribute('title');

    const rate = m ? num(m.rate_hz) : null;
    setText(el.stRate, rate === null ? '– pred/s' : `${rate.toFixed(1)} pred/s`);
    const lat = S.pred && num(S.pred.latency_ms) !== null ? num(S.pred.latency_ms) : (m ? num(m.latency_ms) : null);
    setText(el.stLatency, lat === null ? 'latency –' : `latency ${formatAge(lat)}`);
    const age = resultAgeMs();
    setText(el.stAge, age === null ? 'result age –' : `result age ${formatAge(age)}`);

    const rec = S.status && S.status.recording && typeof S.status.recording === 'object' ? S.status.recording : null;
    const rs = rec && rec.state ? String(rec.state) : 'unknown';
    el.stRec.dataset.rec = rs;
    let recText = rs === 'recording' ? 'REC' : rs === 'unknown' ? 'rec –' : `rec ${rs}`;
    if (rec && num(rec.frames_dropped)) recText += ` (${rec.frames_dropped} dropped)`;
    setText(el.stRecText, recText);
    if (rec && rec.file) el.stRec.title = rec.file;
    // Recording controls: start/stop (admin PIN) where the recorder exists; the alert while paused or failed.
    el.recBtn.hidden = !rec;
    if (rec) setText(el.recBtn, rs === 'idle' || rs === 'failed' ? 'Start recording' : 'Stop recording');
    el.recBtn.dataset.action = rs === 'idle' || rs === 'failed' ? 'start' : 'stop';
    const alertText = rec ? (rec.alert || (rs === 'failed' && rec.error ? `Recording failed: ${rec.error}` : '')) : '';
    el.recAlert.hidden = !alertText;
    setText(el.recAlert, alertText || '');

    const truth = S.pred && S.pred.truth && typeof S.pred.truth === 'object' ? S.pred.truth : null;
    el.stTruth.hidden = !truth;
    if (truth) setText(el.stTruth, `phantom truth: ${truth.plane || '–'} ${truth.status || ''}`.trim());

    const v = S.status ? num(S.status.viewers) : null;
    setText(el.stViewers, v === null ? '– viewers' : `${v} viewer${v === 1 ? '' : 's'}`);

    // Capture mode (e.g. "YUYV 1920x1080@60"), small; the capture state instead while it is not ok.
    const { src, state: srcState } = sourceInfo();
    const mode = src && src.mode ? String(src.mode) : '';
    const srcText = srcState !== 'ok' ? `capture: ${srcState}` : mode;
    el.stSource.hidden = !srcText;
    el.stSource.dataset.state = srcState;
    setText(el.stSource, srcText);
    const tip = [src && src.description, mode].filter(Boolean).join(' · ');
    if (tip) el.stSource.title = tip; else el.stSource.removeAttribute('title');
  }

  // ------------------------------------------------------------------ pairing

  const pairForm = document.getElementById('pair-form');
  if (pairForm) {
    pairForm.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const msg = document.getElementById('pair-msg');
      const code = document.getElementById('pair-code').value.replace(/\D/g, '');
      const name = document.getElementById('pair-name').value.trim();
      msg.textContent = 'Pairing…';
      try {
        const r = await fetch(new URL('api/pair', location.href).toString(), {
          method: 'POST', headers: { 'Content-Type': 'application/json' }, cache: 'no-store',
          credentials: 'same-origin', body: JSON.stringify({ code, name }),
        });
        let body = {};
        try { body = await r.json(); } catch (_) { /* not JSON */ }
        if (r.ok) {
          // The cookie now identifies this tablet; a stale link token must not shadow it.
          token = '';
          sessionStorage.removeItem(TOKEN_KEY);
          msg.textContent = `Paired as ${body.name || 'this tablet'}`;
          location.replace(location.pathname);
          return;
        }
        msg.textContent = body.error ? `${body.error}: ${body.fix || ''}` : `Pairing failed (${r.status})`;
      } catch (_) {
        msg.textContent = 'Bedside unreachable';
      }
    });
  }

  // ------------------------------------------------------------------ actions (snapshot, recording)

  const PIN_KEY = 'bedside.adminPin';

  async function postAction(path, pin) {
    const u = new URL(`api/${path}`, location.href);
    u.search = '';
    if (token) u.searchParams.set('token', token);
    const headers = pin ? { 'X-Admin-PIN': pin } : {};
    const r = await fetch(u.toString(), { method: 'POST', headers, cache: 'no-store' });
    let body = {};
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    return { status: r.status, body };
  }

  function showAction(text, bad) {
    setText(el.stAction, text);
    el.stAction.dataset.bad = String(!!bad);
    clearTimeout(showAction.timer);
    showAction.timer = setTimeout(() => setText(el.stAction, ''), 6000);
  }

  el.snapshotBtn.addEventListener('click', async () => {
    el.snapshotBtn.disabled = true;
    try {
      const { status, body } = await postAction('snapshot');
      if (status === 200) showAction(`Snapshot saved (frame ${body.seq})`);
      else showAction(`Snapshot failed: ${body.error || status}`, true);
    } catch (e) {
      showAction('Snapshot failed: Bedside unreachable', true);
    } finally {
      el.snapshotBtn.disabled = false;
    }
  });

  el.recBtn.addEventListener('click', async () => {
    const action = el.recBtn.dataset.action === 'stop' ? 'stop' : 'start';
    let pin = sessionStorage.getItem(PIN_KEY) || '';
    if (!pin) pin = (window.prompt('Admin PIN (printed by Bedside at start-up)') || '').trim();
    if (!pin) return;
    try {
      const { status, body } = await postAction(`recording/${action}`, pin);
      if (status === 403) {
        sessionStorage.removeItem(PIN_KEY);
        showAction('Wrong admin PIN', true);
        return;
      }
      if (status !== 200) { showAction(`Recording ${action} failed: ${body.error || status}`, true); return; }
      sessionStorage.setItem(PIN_KEY, pin);
      showAction(action === 'start' ? 'Recording started' : 'Recording stopped');
    } catch (e) {
      showAction(`Recording ${action} failed: Bedside unreachable`, true);
    }
  });

  // ------------------------------------------------------------------ periodic work (4 Hz)

  function tick() {
    const now = performance.now();
    if (paint.done.length && now - paint.lastSent >= REPORT_MS) sendDrawn();
    while (S.fpsTimes.length && now - S.fpsTimes[0] > 1000) S.fpsTimes.shift();
    const n = S.fpsTimes.length;
    let fps = 0;
    if (n >= 2) fps = ((n - 1) * 1000) / Math.max(1, S.fpsTimes[n - 1] - S.fpsTimes[0]);
    if (now - S.frame.wall > 1000) fps = 0;
    setText(el.fps, S.frame.count ? fps.toFixed(fps < 10 ? 1 : 0) : '–');
    const srcFps = S.hello && num(S.hello.fps) ? S.hello.fps : (S.status && S.status.source && num(S.status.source.fps));
    el.fpsBadge.dataset.low = String(!!(S.frame.count && srcFps && fps < srcFps * 0.6));
    el.fpsBadge.title = `${S.dropped} frames skipped on this tablet`;

    if (S.conn === 'open' && now - S.lastMessageWall > WATCHDOG_MS) {
      scheduleReconnect('No data from Bedside');
    } else if (S.conn === 'closed' && retryTimer) {
      setText(el.connectionText, reconnectText());
      S.connDetail = el.connectionText.textContent;
    }
    renderVideoMessage();
    renderSourceFoot();
    updateStale();
    renderBannerSub();
    renderStatusLine();
  }

  // ------------------------------------------------------------------ keep the screen on

  // Tablets dim and lock while the operator scans. The Wake Lock API needs a secure context (https or
  // localhost); on plain http it is absent and the tablet's own screen timeout applies.
  let wakeLock = null;
  async function keepAwake() {
    if (!navigator.wakeLock || wakeLock || document.visibilityState !== 'visible') return;
    try {
      wakeLock = await navigator.wakeLock.request('screen');
      wakeLock.addEventListener('release', () => { wakeLock = null; });
    } catch (_) { wakeLock = null; }
  }
  document.addEventListener('visibilitychange', keepAwake);
  document.addEventListener('pointerdown', keepAwake, { passive: true });

  // ------------------------------------------------------------------ start

  setOverlay(S.overlayOn);
  renderViewToggle();
  applyView();
  renderSource();
  renderLegend();
  renderGuidance(null);
  renderBanner();
  renderStatusLine();
  updateStale(true);
  fitBanner();
  setInterval(tick, 250);
  keepAwake();
  connect();

  // For debugging from the console (never needed by the page itself).
  window.bedside = { state: S, reconnect: () => connect() };
  // For tests: feed a message as if it came from the server (the next real one replaces it).
  window.__bedside = { onStatus: (m) => onStatus(m), onPrediction: (m) => onPrediction(m), state: S, paint };
})();
