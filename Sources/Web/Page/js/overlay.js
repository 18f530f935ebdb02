// The segmentation overlay: the label map painted into a canvas of its own size (class colours, brighter
// edges), drawn over the video where the model's crop is; the legend under it; the overlay on/off toggle.

import { el, overlayCtx } from './dom.js';
import { S, saveOverlayPref } from './store.js';
import { decodeSegmentation, validRect } from './protocol.js';
import { jpegScale, legendItems, overlayRect } from './state.js';

const OVERLAY_ALPHA = 105;       // fill alpha (0..255) of segmentation classes
const EDGE_ALPHA = 235;          // alpha of class boundaries

// Okabe-Ito, then Paul Tol's muted scheme: distinct and colour-blind friendly. Class i uses PALETTE[i-1].
export const PALETTE = [
  '#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7',
  '#88CCEE', '#44AA99', '#117733', '#DDCC77', '#CC6677', '#AA4499', '#882255', '#999933', '#332288',
];
const PALETTE_RGB = PALETTE.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
const classColour = (i) => PALETTE[(i - 1) % PALETTE.length];
const classRGB = (i) => PALETTE_RGB[(i - 1) % PALETTE.length];

/** A prediction's segmentation into S.seg (null when it has none or it is unusable). */
export function setSegmentation(seg, crop) {
  S.seg = null;
  const map = decodeSegmentation(seg);
  if (!map) return;
  const { width: w, height: h, labels } = map;
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
  S.seg = { canvas, classes: map.classes, seen: map.seen, rect: validRect(crop), maxLabel: map.maxLabel };
}

export function drawOverlay() {
  const W = el.overlay.width, H = el.overlay.height;
  overlayCtx.clearRect(0, 0, W, H);
  const seg = S.seg;
  if (!seg) return;
  // The label map covers the crop (or the whole frame); map it to JPEG pixels, then to the canvas,
  // which shows the view rectangle of the JPEG (all of it, or the crop).
  const r = overlayRect(seg.rect, S.view, jpegScale(S, el.video.width, el.video.height), W, H);
  overlayCtx.imageSmoothingEnabled = true;
  overlayCtx.imageSmoothingQuality = 'high';
  overlayCtx.drawImage(seg.canvas, r.x, r.y, r.width, r.height);
}

let legendKey = '';
export function renderLegend() {
  const { key, items, empty } = legendItems(S.seg);
  if (key === legendKey) return;
  legendKey = key;
  el.legend.textContent = '';
  if (!items.length) {
    const li = document.createElement('li');
    li.className = 'none';
    li.textContent = empty;
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

export function setOverlay(on) {
  S.overlayOn = on;
  el.app.dataset.overlay = on ? 'on' : 'off';
  el.overlayToggle.setAttribute('aria-pressed', String(on));
  el.overlayToggleText.textContent = on ? 'Overlay on' : 'Overlay off';
  saveOverlayPref(on);
}

el.overlayToggle.addEventListener('click', () => setOverlay(!S.overlayOn));
