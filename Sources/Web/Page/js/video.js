// The live picture: binary frames decoded newest-first (a frame that comes while one decodes replaces the
// waiting one: dropped, never queued), painted full screen or as the model's crop; and the `drawn` reports
// that tell Bedside which frames reached the screen (capture -> drawn latency, docs/protocol.md).

import { el, videoCtx } from './dom.js';
import { S, now, saveViewPref } from './store.js';
import { parseFrame, REPORT_MAX, REPORT_MS, drawnMessage } from './protocol.js';
import { createH264Decoder } from './h264.js';
import { computeView, createPaintLog, notePaintDone, sameView, viewToggleView } from './state.js';
import { drawOverlay } from './overlay.js';
import { renderVideoMessage } from './notices.js';
import { updateStale } from './banner.js';

// ------------------------------------------------------------------ frames

let pending = null;     // newest undecoded frame and when it arrived ({buf, at}); a newer one replaces it (dropped, never queued)
let decoding = false;

// What the binary messages are: JPEG (the default, and what an older Bedside sends) or H.264 (a `video`
// message said so, for a tablet that asked for it).
let h264 = null;
export function setVideo(kind, m, onFail) {
  if (h264) { h264.close(); h264 = null; }
  S.video = kind;
  el.app.dataset.video = kind;
  if (kind !== 'h264') return;
  h264 = createH264Decoder({
    onFrame: (vf, seq, pts, received) => {
      if (S.conn === 'unauthorized') { vf.close(); return; }
      showImage({ image: vf, width: vf.displayWidth, height: vf.displayHeight, close: () => vf.close() }, seq, pts,
        { received, decoded: now() });
    },
    onError: (e) => { S.decodeErrors++; onFail(e); },
  });
  try { h264.configure(m); } catch (e) { onFail(e); }
}
export const h264Skipped = () => (h264 ? h264.skipped : 0);

export function onBinary(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength <= 16) return;
  S.bytesIn += buf.byteLength;   // what this tablet received (the Wi-Fi bench reads it)
  if (S.conn === 'unauthorized') return;
  if (S.video === 'h264') {
    // Every frame is decoded (each needs the ones before it); a hidden tab still decodes, and paints nothing new.
    if (h264) h264.push(buf, now());
    return;
  }
  if (document.visibilityState === 'hidden') { S.dropped++; return; }
  if (pending) S.dropped++;
  pending = { buf, at: now() };
  if (!decoding) decodeNext();
}

async function decodeNext() {
  while (pending) {
    const frame = parseFrame(pending.buf);
    const received = pending.at;
    pending = null;
    decoding = true;
    let bitmap = null;
    try {
      bitmap = await createImageBitmap(new Blob([frame.jpeg], { type: 'image/jpeg' }));
    } catch (_) {
      S.decodeErrors++;
    }
    if (bitmap) {
      if (S.conn !== 'unauthorized') {
        showImage({ image: bitmap, width: bitmap.width, height: bitmap.height, close: () => bitmap.close() }, frame.seq,
          frame.pts, { received, decoded: now() });
      }
      else bitmap.close();
    }
  }
  decoding = false;
}

// The picture on screen: a decoded JPEG or H.264 frame as {image, width, height, close}; the one before is
// released (a VideoFrame holds decoder memory until closed).
function showImage(img, seq, pts, stages) {
  if (S.bitmap) S.bitmap.close();
  S.bitmap = img;
  drawFrame(img, seq, pts, stages);
}

// Called after each painted frame (main.js: an answer waiting for this frame is drawn now).
let painted = () => {};
export function onPainted(fn) { painted = fn; }

function drawFrame(bitmap, seq, pts, stages) {
  const f = S.frame;
  f.width = bitmap.width;
  f.height = bitmap.height;
  applyView();
  paintVideo();
  f.count++;
  if (S.firstPaintMs === null && S.openedAt) S.firstPaintMs = now() - S.openedAt;
  f.seq = seq;
  f.pts = pts;
  notePainted(seq, stages);
  const t = now();
  f.wall = t;
  S.fpsTimes.push(t);
  el.frameCount.textContent = String(f.count);
  if (el.videoMsg.dataset.shown === 'true') renderVideoMessage();
  updateStale();
  painted();
}

/** The token was refused: nothing more is decoded or shown, the picture goes black. */
export function blankVideo() {
  pending = null;
  if (h264) { h264.close(); h264 = null; }
  if (S.bitmap) { S.bitmap.close(); S.bitmap = null; }
  videoCtx.fillStyle = '#000';
  videoCtx.fillRect(0, 0, el.video.width, el.video.height);
}

// ------------------------------------------------------------------ drawn reports (capture -> screen latency)

// The page tells Bedside which frames reached the screen, and how long ago, so the server can measure
// capture -> drawn with its own clock: {"type":"drawn","frames":[{"seq":N,"ago_ms":D}, ...]}. A frame counts
// as painted after the animation frame that shows it (requestAnimationFrame, then a task after that frame's
// paint); a frame drawn over before that was never on screen and is not reported. At most one message per
// REPORT_MS, with up to REPORT_MAX frames; nothing is sent (or kept) while the socket is not open.
export const paint = createPaintLog();
let reportSocket = () => null;
/** Where the reports go: a function giving the current socket (or null). */
export function setReportSocket(fn) { reportSocket = fn; }

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

function notePainted(seq, stages) {
  try {
    if (!Number.isSafeInteger(seq)) return;
    paint.seq = seq;
    paint.stages = stages || null;
    if (paint.rafPending) return;
    paint.rafPending = true;
    requestAnimationFrame(() => {
      paint.rafPending = false;
      const s = paint.seq;
      const stages = paint.stages;
      paint.seq = null;
      paint.stages = null;
      if (s === null) return;
      afterPaint(() => framePainted(s, now(), stages));
    });
  } catch (_) { /* reporting must never break the video */ }
}

function framePainted(seq, at, stages) {
  try {
    if (notePaintDone(paint, seq, at, REPORT_MAX, REPORT_MS, stages)) sendDrawn();
  } catch (_) { /* ignore */ }
}

export function sendDrawn() {
  try {
    if (!paint.done.length) return;
    const sock = reportSocket();
    if (!sock || sock.readyState !== 1 || S.conn !== 'open' || sock.bufferedAmount > 65536) {
      paint.done.length = 0;
      return;
    }
    const t = now();
    const text = drawnMessage(paint.done, t);
    paint.done.length = 0;
    paint.lastSent = t;
    sock.send(text);
  } catch (_) { /* a closed socket: the reports are simply lost */ }
}

/** A report is due (tick): painted frames wait and the last report is REPORT_MS old. */
export const reportDue = (t) => paint.done.length > 0 && t - paint.lastSent >= REPORT_MS;

// ------------------------------------------------------------------ full screen / crop view

// Works out what the canvases show and resizes them; redraws when that changed.
export function applyView() {
  const { view: v, crop } = computeView(S, el.video.width, el.video.height);
  el.viewToggle.hidden = !crop;
  const old = S.view;
  S.view = v;
  el.viewToggle.dataset.view = v.mode;
  el.app.dataset.view = v.mode;
  if (sameView(old, v)) return;
  if (el.video.width !== v.cw || el.video.height !== v.ch) {
    el.video.width = v.cw;
    el.video.height = v.ch;
    el.overlay.width = v.cw;
    el.overlay.height = v.ch;
  }
  el.app.style.setProperty('--aspect', `${v.cw} / ${v.ch}`);
  paintVideo();
  drawOverlay();
}

function paintVideo() {
  const v = S.view;
  if (!v || !S.bitmap) return;
  if (v.mode === 'full' && v.cw === S.bitmap.width && v.ch === S.bitmap.height) {
    videoCtx.drawImage(S.bitmap.image, 0, 0);
  } else {
    videoCtx.drawImage(S.bitmap.image, v.x, v.y, v.w, v.h, 0, 0, v.cw, v.ch);
  }
}

function setViewPref(mode) {
  S.viewPref = mode === 'crop' ? 'crop' : 'full';
  saveViewPref(S.viewPref);
  renderViewToggle();
  applyView();
}

export function renderViewToggle() {
  const crop = S.viewPref === 'crop';
  const v = viewToggleView(S.viewPref);
  el.viewToggle.setAttribute('aria-pressed', String(v.pressed));
  el.viewToggleText.textContent = v.text;
  el.viewToggle.title = v.title;
}

el.viewToggle.addEventListener('click', () => setViewPref(S.viewPref === 'crop' ? 'full' : 'crop'));
