// The viewer protocol (docs/protocol.md "Viewer protocol"): what the server sends the page, and the
// one message the page sends back. Pure: no DOM, importable by node (Tests/page/ decodes the examples
// in Tests/ProtocolExamples/viewer/ with these functions).
//
// The page is lenient: a message it does not understand is ignored, a field of the wrong type is
// treated as absent, and the rest of the message still counts. Nothing here throws.

/** A finite number, else null. */
export const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** A finite number above 0, else null. */
export const positive = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : null);

/** An object that is not null (arrays count), else null. */
export const obj = (v) => (v && typeof v === 'object' ? v : null);

/** `{x, y, width, height}` with finite numbers and a positive size, else null. */
export function validRect(r) {
  if (!r || typeof r !== 'object') return null;
  const x = num(r.x), y = num(r.y), w = num(r.width), h = num(r.height);
  return x !== null && y !== null && w > 0 && h > 0 ? { x, y, width: w, height: h } : null;
}

/** The text messages the page acts on; any other `type` is ignored. */
export const SERVER_TYPES = ['hello', 'prediction', 'status', 'video'];

/**
 * One text message from the server: the parsed object (with its `type` one of SERVER_TYPES),
 * or null for what the page ignores (not JSON, not an object, another type).
 */
export function parseServerText(text) {
  let m;
  try { m = JSON.parse(text); } catch (_) { return null; }
  if (!m || typeof m !== 'object' || Array.isArray(m)) return null;
  return SERVER_TYPES.includes(m.type) ? m : null;
}

/** The 16-byte header of a binary frame message: `u64 seq`, `u64 pts_ns` (little endian), then the JPEG. */
export const FRAME_HEADER_BYTES = 16;

/** A binary message: `{seq, pts, jpeg}` (jpeg a Uint8Array view), or null when it is too short to hold a JPEG. */
export function parseFrame(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength <= FRAME_HEADER_BYTES) return null;
  const view = new DataView(buf);
  return {
    seq: Number(view.getBigUint64(0, true)),
    pts: Number(view.getBigUint64(8, true)),
    jpeg: new Uint8Array(buf, FRAME_HEADER_BYTES),
  };
}

/** The 17-byte header of an H.264 frame message: `u64 seq`, `u64 pts_ns` (little endian), `u8 flags` (bit 0: keyframe). */
export const H264_HEADER_BYTES = 17;

/** An H.264 binary message: `{seq, pts, key, data}` (data: the Annex B access unit), or null when too short. */
export function parseH264(buf) {
  if (!(buf instanceof ArrayBuffer) || buf.byteLength <= H264_HEADER_BYTES) return null;
  const view = new DataView(buf);
  return {
    seq: Number(view.getBigUint64(0, true)),
    pts: Number(view.getBigUint64(8, true)),
    key: (view.getUint8(16) & 1) === 1,
    data: new Uint8Array(buf, H264_HEADER_BYTES),
  };
}

/** A `video` message's codec: 'h264' (a WebCodecs avc1 string), 'jpeg', or null for anything else. */
export function videoKind(m) {
  if (!m || typeof m.codec !== 'string') return null;
  if (m.codec === 'jpeg') return 'jpeg';
  return /^avc1\.[0-9a-f]{6}$/i.test(m.codec) ? 'h264' : null;
}

/** The parts of a prediction's `result` (docs/protocol.md "Result object") the page shows; absent ones null. */
export function resultParts(m) {
  const result = m && m.result && typeof m.result === 'object' ? m.result : {};
  const plane = typeof result.plane === 'object' && result.plane ? result.plane : null;
  const concepts = Array.isArray(result.concepts) ? result.concepts.filter((c) => c && typeof c === 'object') : [];
  const segmentation = obj(result.segmentation);
  const guidance = obj(result.guidance);
  return { result, plane, concepts, segmentation, guidance };
}

/** A prediction's crop (the region the model saw, source pixels), or null. */
export const predictionCrop = (m) => validRect(m && m.crop);

/** A prediction's phantom truth (`{plane, status}`), or null. */
export const predictionTruth = (m) => (m && m.truth && typeof m.truth === 'object' ? m.truth : null);

/**
 * A segmentation label map (`{width, height, encoding: "rle", classes, data: [value, run, ...]}`, runs
 * row-major) decoded to `{width, height, labels: Uint16Array, seen: Set, classes, maxLabel}`, or null when it
 * is missing or unusable (no size, over 16 M pixels, another encoding, no data).
 */
export function decodeSegmentation(seg) {
  if (!seg || typeof seg !== 'object') return null;
  const w = num(seg.width), h = num(seg.height);
  const data = seg.data;
  if (!w || !h || w < 1 || h < 1 || w * h > 16e6 || !Array.isArray(data)) return null;
  if (seg.encoding && seg.encoding !== 'rle') return null;

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
  const classes = Array.isArray(seg.classes) ? seg.classes.map(String) : null;
  return { width: w, height: h, labels, seen, classes, maxLabel: seen.size ? Math.max(...seen) : 0 };
}

/** Most frames in one `drawn` report, and the least time between two reports. */
export const REPORT_MAX = 16;
export const REPORT_MS = 100;

/**
 * The page -> server report: `{"type":"drawn","frames":[{"seq":N,"ago_ms":D}, ...]}` for frames painted at
 * `at` (page clock, ms), `ago_ms` rounded to 0.1 ms and never negative. A frame whose stages are known also
 * says how long ago its bytes arrived and its picture was decoded (`received_ago_ms`, `decoded_ago_ms`), so
 * Bedside can split capture -> drawn into the network, the decoder and the paint.
 */
export function drawnMessage(painted, now) {
  const ago = (t) => Math.max(0, Math.round((now - t) * 10) / 10);
  const frames = painted.map((p) => {
    const f = { seq: p.seq, ago_ms: ago(p.at) };
    if (p.received !== undefined && p.decoded !== undefined) {
      f.received_ago_ms = ago(p.received);
      f.decoded_ago_ms = ago(p.decoded);
    }
    return f;
  });
  return JSON.stringify({ type: 'drawn', frames });
}
