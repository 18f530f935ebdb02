// The live picture as H.264, decoded with WebCodecs (VideoDecoder) where the browser has it: a secure context
// (https, or http on this machine) with an H.264 decoder. Bedside sends one shared low-latency stream; this
// tablet decodes every frame in order from a keyframe. Anything wrong (no decoder, a decode error) and the page
// asks for JPEG instead, by itself (video.js).

import { parseH264 } from './protocol.js';

const BEHIND_MAX = 3;
const BEHIND_WINDOW_MS = 10000;

/** Whether this browser can decode Bedside's H.264 here (1080p, low latency). */
export async function h264Supported() {
  try {
    if (typeof VideoDecoder === 'undefined' || typeof EncodedVideoChunk === 'undefined') return false;
    const r = await VideoDecoder.isConfigSupported({ codec: 'avc1.42c028', codedWidth: 1920, codedHeight: 1080, optimizeForLatency: true });
    return !!(r && r.supported);
  } catch (_) {
    return false;
  }
}

/**
 * A decoder fed Bedside's H.264 messages. `onFrame(videoFrame, seq, pts, received)` for each decoded picture
 * (the callee closes it; `received`: when its message arrived, the clock `push` was given); `onError(error)` when decoding fails. Frames before the first keyframe are skipped, and so are
 * deltas while this tablet's decoder is behind (it then waits for the next keyframe) — counted in `skipped`.
 */
export function createH264Decoder({ onFrame, onError }) {
  let decoder = null;
  let waitingKey = true;
  const meta = new Map();   // chunk timestamp (µs) -> {seq, pts}
  const d = { skipped: 0, decoded: 0, codec: '' };
  // A tablet whose decoder keeps falling behind (a slow CPU: it would show a picture per keyframe) is better
  // served by JPEG, where each picture stands alone and a slow tablet simply paints fewer: after BEHIND_MAX
  // falls within BEHIND_WINDOW_MS it says so (onError), and the page asks for JPEG.
  const behind = [];
  const fellBehind = (t) => {
    behind.push(t);
    while (behind.length && t - behind[0] > BEHIND_WINDOW_MS) behind.shift();
    if (behind.length >= BEHIND_MAX) onError(new Error(`the decoder fell behind ${behind.length} times in ${BEHIND_WINDOW_MS / 1000} s`));
  };

  d.configure = (m) => {
    d.close();
    d.codec = m.codec;
    waitingKey = true;
    decoder = new VideoDecoder({
      output: (vf) => {
        const info = meta.get(vf.timestamp);
        meta.delete(vf.timestamp);
        d.decoded++;
        onFrame(vf, info ? info.seq : null, info ? info.pts : null, info ? info.received : undefined);
      },
      error: (e) => onError(e),
    });
    decoder.configure({ codec: m.codec, codedWidth: m.width || undefined, codedHeight: m.height || undefined, optimizeForLatency: true });
  };

  /** One binary message (arrived at `received`); false when it was skipped. */
  d.push = (buf, received) => {
    const f = parseH264(buf);
    if (!f || !decoder || decoder.state !== 'configured') return false;
    if (!f.key && (waitingKey || decoder.decodeQueueSize > 8)) {
      if (!waitingKey) fellBehind(performance.now());
      waitingKey = true;
      d.skipped++;
      return false;
    }
    waitingKey = false;
    const timestamp = Math.round(f.pts / 1000);
    meta.set(timestamp, { seq: f.seq, pts: f.pts, received });
    if (meta.size > 64) meta.delete(meta.keys().next().value);
    decoder.decode(new EncodedVideoChunk({ type: f.key ? 'key' : 'delta', timestamp, data: f.data }));
    return true;
  };

  d.close = () => {
    if (decoder && decoder.state !== 'closed') { try { decoder.close(); } catch (_) { /* closed */ } }
    decoder = null;
    meta.clear();
  };
  return d;
}
