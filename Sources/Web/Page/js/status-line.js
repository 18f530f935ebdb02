// The status line at the bottom (model, rates, result age, recording, viewers, capture mode, phantom truth,
// frame counters) and its one action, Snapshot (any viewer). Recording is started and stopped on the admin page:
// an admin action has no place on the clinical screen (issue 18 #12).

import { el, setText } from './dom.js';
import { S, now, serverURL } from './store.js';
import { fpsBadge, frameRate, statusLineView } from './state.js';

export function renderStatusLine() {
  const v = statusLineView(S, now());
  setText(el.stModel, v.model.text);
  el.stModel.dataset.state = v.model.state;
  el.stModel.dataset.bad = String(v.model.bad);
  if (v.model.title) el.stModel.title = v.model.title;
  else el.stModel.removeAttribute('title');

  setText(el.stRate, v.rate);
  if (!snapshotBusy) el.snapshotBtn.disabled = v.snapshot.disabled;
  if (v.snapshot.title) el.snapshotBtn.dataset.why = v.snapshot.title;
  else delete el.snapshotBtn.dataset.why;
  setText(el.stLatency, v.latency);
  setText(el.stAge, v.age);

  el.stRec.dataset.rec = v.rec.state;
  setText(el.stRecText, v.rec.text);
  if (v.rec.title) el.stRec.title = v.rec.title;
  // Recording controls: start/stop (admin PIN) where the recorder exists; the alert while paused or failed.
  el.recAlert.hidden = !v.alert;
  setText(el.recAlert, v.alert);

  el.stTruth.hidden = !v.truth;
  if (v.truth) setText(el.stTruth, v.truth.text);

  setText(el.stViewers, v.viewers);

  el.stSource.hidden = v.source.hidden;
  el.stSource.dataset.state = v.source.state;
  setText(el.stSource, v.source.text);
  if (v.source.title) el.stSource.title = v.source.title; else el.stSource.removeAttribute('title');
}

/** The fps badge on the video (4 Hz). */
export function renderFps() {
  const fps = frameRate(S, now());
  const b = fpsBadge(S, fps);
  setText(el.fps, b.text);
  el.fpsBadge.dataset.low = String(b.low);
  el.fpsBadge.title = `${S.dropped} frames skipped on this tablet`;
}

// ------------------------------------------------------------------ actions (snapshot)

async function postAction(path) {
  const r = await fetch(serverURL(`api/${path}`), { method: 'POST', cache: 'no-store' });
  let body = {};
  try { body = await r.json(); } catch (_) { /* not JSON */ }
  return { status: r.status, body };
}

let actionTimer = null;
function showAction(text, bad) {
  setText(el.stAction, text);
  el.stAction.dataset.bad = String(!!bad);
  clearTimeout(actionTimer);
  actionTimer = setTimeout(() => setText(el.stAction, ''), 6000);
}

let snapshotBusy = false;
el.snapshotBtn.addEventListener('click', async () => {
  snapshotBusy = true;
  el.snapshotBtn.disabled = true;
  try {
    const { status, body } = await postAction('snapshot');
    if (status === 200) showAction(`Snapshot saved (frame ${body.seq})`);
    else showAction(`Snapshot failed: ${body.error || status}`, true);
  } catch (e) {
    showAction('Snapshot failed: Bedside unreachable', true);
  } finally {
    snapshotBusy = false;
    el.snapshotBtn.disabled = S.conn !== 'open';
  }
});

