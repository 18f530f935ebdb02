// The segmentation overlay: the label map painted into a canvas of its own size (class colours, brighter
// edges), drawn over the video where the model's crop is; the legend under it; the overlay on/off toggle.

import { el, overlayCtx } from './dom.js';
import { S, saveOverlayPref } from './store.js';
import { decodeSegmentation, validRect } from './protocol.js';
import { jpegScale, legendItems, overlayRect } from './state.js';
import { classColour, labelCanvas } from './segmentation.js';

/** A prediction's segmentation into S.seg (null when it has none or it is unusable). */
export function setSegmentation(seg, crop) {
  S.seg = null;
  const map = decodeSegmentation(seg);
  if (!map) return;
  const canvas = labelCanvas(map);
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
