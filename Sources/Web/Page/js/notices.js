// What is said over the video: the capture notice (status.source.state other than ok) with how long the
// picture has been frozen, and the message line (connecting, not paired, waiting for video, no video for N s).

import { el, setText } from './dom.js';
import { S, now } from './store.js';
import { sourceFootText, sourceInfo, sourceNotice, sourceNoticeShown, videoMessage } from './state.js';

export function renderSource() {
  const { state } = sourceInfo(S);
  const n = el.sourceNotice;
  n.dataset.state = S.status && S.status.source ? state : 'unknown';
  el.app.dataset.source = sourceNoticeShown(S) ? 'bad' : 'ok';
  n.hidden = !sourceNoticeShown(S);
  if (state !== 'ok') {
    const t = sourceNotice(S);
    setText(el.sourceTitle, t.title);
    setText(el.sourceDetail, t.detail);
    el.sourceDetail.hidden = !t.hasDetail;
  }
  renderSourceFoot();
  renderVideoMessage();
}

// How long the picture has been frozen: the last frame stays on screen, dimmed, under the notice.
export function renderSourceFoot() {
  if (el.sourceNotice.hidden) return;
  setText(el.sourceFoot, sourceFootText(S, now()));
}

export function renderVideoMessage() {
  const text = videoMessage(S, now());
  el.videoMsg.dataset.shown = text ? 'true' : 'false';
  if (text && el.videoMsgText.textContent !== text) el.videoMsgText.textContent = text;
}
