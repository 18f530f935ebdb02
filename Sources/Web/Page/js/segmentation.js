// A decoded label map (protocol.js decodeSegmentation) as a picture: class colours, brighter edges. Shared by
// the tablet's overlay and the review page, so both draw an answer the same way.

const OVERLAY_ALPHA = 105;       // fill alpha (0..255) of segmentation classes
const EDGE_ALPHA = 235;          // alpha of class boundaries

// Okabe-Ito, then Paul Tol's muted scheme: distinct and colour-blind friendly. Class i uses PALETTE[i-1].
export const PALETTE = [
  '#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7',
  '#88CCEE', '#44AA99', '#117733', '#DDCC77', '#CC6677', '#AA4499', '#882255', '#999933', '#332288',
];
const PALETTE_RGB = PALETTE.map((hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)));
export const classColour = (i) => PALETTE[(i - 1) % PALETTE.length];
const classRGB = (i) => PALETTE_RGB[(i - 1) % PALETTE.length];

/** RGBA pixels (Uint8ClampedArray, w*h*4) of a decoded label map: 0 transparent, edges brighter. Pure. */
export function labelPixels(map) {
  const { width: w, height: h, labels } = map;
  const px = new Uint8ClampedArray(w * h * 4);
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
  return px;
}

/** The label map painted into a canvas of its own size. */
export function labelCanvas(map) {
  const canvas = document.createElement('canvas');
  canvas.width = map.width;
  canvas.height = map.height;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(map.width, map.height);
  img.data.set(labelPixels(map));
  ctx.putImageData(img, 0, 0);
  return canvas;
}
