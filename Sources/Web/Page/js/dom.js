// The tablet page's elements (index.html), looked up once. Imported only by the modules that draw.

const $ = (id) => document.getElementById(id);

export const el = {
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
  snapshotBtn: $('snapshot-btn'), stAction: $('st-action'), recAlert: $('rec-alert'),
  stModel: $('st-model'), stRate: $('st-rate'), stLatency: $('st-latency'), stAge: $('st-age'),
  stRec: $('st-rec'), stRecText: $('st-rec-text'), stViewers: $('st-viewers'),
  stTruth: $('st-truth'), frameCount: $('frame-count'), predictionSeq: $('prediction-seq'),
  unpaired: $('unpaired'),
  pairForm: $('pair-form'), pairMsg: $('pair-msg'), pairCode: $('pair-code'), pairName: $('pair-name'),
};

export const videoCtx = el.video.getContext('2d', { alpha: false });
export const overlayCtx = el.overlay.getContext('2d');

/** Sets a node's text only when it changed (no needless layout). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
