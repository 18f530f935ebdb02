// The review player's decisions, pure (node tests: Tests/page/review.test.mjs): which video file holds a time
// of the recording, which answer belongs to the frame on screen, which spans of answers to fetch, where a time
// is on the timeline strip and back.
//
// Times are seconds of the recording (pts_s: 0 = the session's first frame). File i holds
// [start_s, start_s + duration_s); its own time 0 is start_s.

/** The file that holds time `t`: {index, local} (local: the time inside that file), or null without files. */
export function segmentAt(segments, t) {
  if (!Array.isArray(segments) || !segments.length) return null;
  let index = 0;
  for (let i = 0; i < segments.length; i++) if (t >= segments[i].start_s - 1e-6) index = i;
  const s = segments[index];
  const local = Math.max(0, Math.min(t - s.start_s, Math.max(0, s.duration_s)));
  return { index, local };
}

/**
 * The answer of `model` for the frame at time `t`: the one for that frame, or the model's latest before it
 * (a model slower than the video answers some frames only). `answers` in time order. Returns
 * {answer, ageS} (ageS: how far before `t` its frame was) or null when the model had not answered yet or
 * its latest answer is more than `maxAgeS` old (it was silent: nothing drawn, rather than an old answer).
 */
export function answerAt(answers, model, t, maxAgeS = 3, epsS = 0.002) {
  let lo = 0, hi = answers.length - 1, best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (answers[mid].pts_s <= t + epsS) { best = mid; lo = mid + 1; } else hi = mid - 1;
  }
  for (let i = best; i >= 0; i--) {
    const a = answers[i];
    if (t - a.pts_s > maxAgeS) return null;
    if (!model || a.model === model) return { answer: a, ageS: Math.max(0, t - a.pts_s) };
  }
  return null;
}

/** The fixed windows (of `windowS`) the player needs around `t`: the one holding t and the one before. */
export function windowsFor(t, windowS = 20) {
  const w = Math.max(0, Math.floor(t / windowS));
  return w > 0 ? [w - 1, w] : [w];
}

/** Merge fetched answers (any order, maybe overlapping) into one list in time order, without duplicates. */
export function mergeAnswers(have, more) {
  const key = (a) => `${a.model}|${a.seq}|${a.pts_s}`;
  const seen = new Set(have.map(key));
  const out = have.slice();
  for (const a of more) if (typeof a.pts_s === 'number' && !seen.has(key(a))) { seen.add(key(a)); out.push(a); }
  out.sort((a, b) => a.pts_s - b.pts_s);
  return out;
}

/** The frame number of time `t` at `fps` (frame 0 at t = 0). */
export const frameAt = (t, fps) => Math.round(t * (fps > 0 ? fps : 30));

/** Left edge (percent of the strip) of time `t` in a recording of `duration` s. */
export const percentOf = (t, duration) => (duration > 0 ? Math.max(0, Math.min(100, (t / duration) * 100)) : 0);

/** The time under the pointer at `x` (px) on a strip at `left` (px) and `width` (px). */
export function timeAtX(x, left, width, duration) {
  if (!(width > 0) || !(duration > 0)) return 0;
  return Math.max(0, Math.min(duration, ((x - left) / width) * duration));
}

/** `12.3 s`, `1:02.5`, `1:02:03.0`: a time of the recording, to a tenth. */
export function clock(t) {
  if (!Number.isFinite(t)) return '–';
  const tenth = Math.round(Math.max(0, t) * 10);
  const s = (tenth % 600) / 10, m = Math.floor(tenth / 600) % 60, h = Math.floor(tenth / 36000);
  if (!m && !h) return `${s.toFixed(1)} s`;
  const ss = s.toFixed(1).padStart(4, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Tick times for an axis of `duration` s: a round step giving at most `max` ticks. */
export function ticks(duration, max = 10) {
  if (!(duration > 0)) return [0];
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  const step = steps.find((s) => duration / s <= max) || 3600;
  const out = [];
  for (let t = 0; t <= duration + 1e-9; t += step) out.push(t);
  return out;
}

/**
 * The rectangle (px, in the video element's box) where the recorded frame is shown: a <video> letterboxes
 * its picture (object-fit: contain).
 */
export function contentRect(boxW, boxH, videoW, videoH) {
  if (!(boxW > 0 && boxH > 0 && videoW > 0 && videoH > 0)) return { x: 0, y: 0, width: 0, height: 0, scale: 0 };
  const scale = Math.min(boxW / videoW, boxH / videoH);
  const width = videoW * scale, height = videoH * scale;
  return { x: (boxW - width) / 2, y: (boxH - height) / 2, width, height, scale };
}

/** Where an answer's label map goes on a frame of `videoW` x `videoH`: its crop, or the whole frame. */
export function answerRect(crop, videoW, videoH) {
  const ok = crop && [crop.x, crop.y, crop.width, crop.height].every(Number.isFinite) && crop.width > 0 && crop.height > 0;
  return ok ? { x: crop.x, y: crop.y, width: crop.width, height: crop.height } : { x: 0, y: 0, width: videoW, height: videoH };
}

/**
 * Lanes for marks at `times` (seconds, any order) so that no two in one lane are closer than `minGapS`
 * (a mark's width on the strip): every mark stays clickable when two come close together. Returns each
 * mark's lane (0 = the first), in the order given.
 */
export function lanes(times, minGapS) {
  const order = times.map((t, i) => [t, i]).sort((a, b) => a[0] - b[0]);
  const lastInLane = [];
  const out = new Array(times.length).fill(0);
  for (const [t, i] of order) {
    let lane = lastInLane.findIndex((last) => t - last >= minGapS);
    if (lane < 0) { lane = lastInLane.length; lastInLane.push(t); } else lastInLane[lane] = t;
    out[i] = lane;
  }
  return out;
}
