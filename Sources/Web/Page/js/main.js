// Bedside tablet page: live frames + the newest model result, over one WebSocket. This module wires the
// others together: the connection's events to the state (state.js) and to the modules that draw.
// Plain modern JS (ES modules), no framework, no build step, no network access other than the Bedside server.

import { el, setText } from './dom.js';
import { S, modelParam, now, saveVideoFallback, serverURL, videoPreference } from './store.js';
import { parseServerText, num, resultParts, videoKind } from './protocol.js';
import { h264Supported } from './h264.js';
import { answerDue, followFirstModel, linkDead, studyShow, takeHello, takePrediction, takeStatus } from './state.js';
import { Connection } from './connection.js';
import { drawOverlay, renderLegend, setOverlay, setSegmentation } from './overlay.js';
import { applyView, blankVideo, h264Skipped, onBinary, onPainted, paint, renderViewToggle, reportDue, sendDrawn, setReportSocket, setVideo } from './video.js';
import { renderSource, renderSourceFoot, renderVideoMessage } from './notices.js';
import { bannerResized, fitBanner, renderBanner, renderBannerSub, updateStale } from './banner.js';
import { fitGuidance, renderConcepts, renderGuidance } from './panels.js';
import { renderFps, renderStatusLine } from './status-line.js';
import './pairing.js';

// ------------------------------------------------------------------ connection

// An answer for a frame the tablet has not painted yet waits for it (answerDue): the overlay is never drawn
// over an older picture than the one it explains. The newest waiting answer replaces an older one.
let held = null;

function setConn(state, detail) {
  S.conn = state;
  S.connDetail = detail;
  S.retrying = conn.retrying;
  el.connection.dataset.state = state;
  el.app.dataset.conn = state;
  el.connectionText.textContent = detail;
  renderSource();
  renderBanner();
  renderStatusLine();
  updateStale();
}

const conn = new Connection({
  probeURL: () => serverURL('api/status'),
  // H.264 where this tablet can decode it (decided once, before the first connection), else JPEG.
  socketURL: () => serverURL('ws', { socket: true, video: S.askH264 ? 'h264' : null }),
  hooks: {
    state: (state, detail, why) => {
      if (state === 'open') S.reconnectWhy = '';  // what was wrong is over
      else if (why) S.reconnectWhy = why;
      setConn(state, detail);
    },
    status: (m) => onStatus(m),
    open: () => {
      S.lastMessageWall = now();
      S.openedAt = now();
      S.firstPaintMs = null;   // how long this connection took to its first picture (a tablet that joins)
      S.acceptAnySeq = true;
      paint.done.length = 0;  // frames of an earlier connection (perhaps an earlier server) are not reported
    },
    message: (data) => {
      S.lastMessageWall = now();
      if (typeof data === 'string') onText(data);
      else onBinary(data);
    },
    unauthorized: () => {
      blankVideo();
      el.unpaired.hidden = false;
    },
  },
});
setReportSocket(() => conn.socket);

// Reconnect at once when the tablet wakes up or the Wi-Fi comes back.
window.addEventListener('online', () => conn.reconnectNow());
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible') return;
  if (linkDead(S, now())) conn.scheduleReconnect('Connection lost');
  else conn.reconnectNow();
});

// ------------------------------------------------------------------ messages

function onText(text) {
  const m = parseServerText(text);
  if (!m) return;
  switch (m.type) {
    case 'hello': onHello(m); break;
    case 'prediction': onPrediction(m); break;
    case 'status': onStatus(m); break;
    case 'video': onVideo(m); break;
    default: break;
  }
}

// How this tablet's frames come: H.264 (decoded here) or JPEG. A decoder that fails falls back to JPEG for good
// (this tab), with a reconnect: the picture is back within a second, never stuck on a broken decoder.
function onVideo(m) {
  const kind = videoKind(m);
  if (!kind) return;
  setVideo(kind, m, (e) => {
    if (!S.askH264) return;
    S.askH264 = false;
    saveVideoFallback();
    console.warn(`H.264 decoding failed (${e && e.message ? e.message : e}): JPEG from now on`);
    setVideo('jpeg', null, () => {});
    conn.connect();   // a new connection that asks for JPEG (the open one carries H.264)
  });
}

function onHello(m) {
  takeHello(S, m, modelParam);
  applyView();
  updateStale();
  renderStatusLine();
}

// Study arm: what of the model's output this tablet shows. The server sends only that part (nothing in a
// control arm); the page hides the panels the arm does not show and clears what it showed before.
function applyStudy(st) {
  const { key, arm } = studyShow(st);
  if (S.showKey === key && S.arm === arm) return;
  const first = S.showKey === undefined;
  S.showKey = key;
  S.arm = arm;
  el.app.dataset.show = key;
  el.app.dataset.arm = arm;
  if (first) return;
  held = null;
  S.pred = null;
  S.seg = null;
  drawOverlay();
  renderLegend();
  renderConcepts({});
  renderGuidance(null);
  renderBanner();
}

function onStatus(m) {
  if (!takeStatus(S, m)) return;
  applyStudy(m.study);
  followFirstModel(S);
  applyView();            // the source size or the model's crop may have changed
  renderSource();
  renderStatusLine();
  renderBanner();
  updateStale();
}

function onPrediction(m) {
  const seq = num(m.seq);
  if (!answerDue({ seq, since: now() }, S.frame.seq, S.frame.wall, now())) {
    held = { m, seq, since: held ? held.since : now() };
    return;
  }
  // Answers come in frame order; one for an earlier frame than the waiting one does not drop it.
  if (!(held && seq !== null && held.seq > seq)) held = null;
  showPrediction(m);
}
function releaseHeld() {
  if (held && answerDue(held, S.frame.seq, S.frame.wall, now())) {
    const m = held.m;
    held = null;
    showPrediction(m);
  }
}
onPainted(releaseHeld);

function showPrediction(m) {
  if (!takePrediction(S, m, now())) return;
  const { result, segmentation, guidance } = resultParts(m);
  const seq = num(m.seq);
  el.predictionSeq.textContent = seq === null ? '?' : String(seq);
  setSegmentation(segmentation, m.crop);
  applyView();            // the crop may be new; redraws the overlay when the view changes
  drawOverlay();
  renderLegend();
  renderConcepts(result);
  renderGuidance(guidance);
  renderBanner();
  updateStale(true);
  renderStatusLine();
}

// ------------------------------------------------------------------ periodic work (4 Hz)

function tick() {
  const t = now();
  releaseHeld();
  if (reportDue(t)) sendDrawn();
  renderFps();
  if (linkDead(S, t)) {
    conn.scheduleReconnect('No data from Bedside');
  } else if (S.conn === 'closed' && conn.retrying) {
    setText(el.connectionText, conn.reconnectText());
    S.connDetail = el.connectionText.textContent;
  }
  renderVideoMessage();
  renderSourceFoot();
  updateStale();
  renderBannerSub();
  renderStatusLine();
}

window.addEventListener('resize', () => { bannerResized(); fitGuidance(); });

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
h264Supported().then((ok) => {
  S.askH264 = ok && videoPreference() === 'h264';
  conn.connect();
});

// For debugging from the console (never needed by the page itself).
window.bedside = { state: S, reconnect: () => conn.connect() };
// For tests: feed a message as if it came from the server (the next real one replaces it).
window.__bedside = { onStatus: (m) => onStatus(m), onPrediction: (m) => onPrediction(m), state: S, paint, h264Skipped,
  held: () => (held ? held.seq : null) };
