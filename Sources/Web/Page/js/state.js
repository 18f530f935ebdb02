// The tablet page's state and the decisions made from it: what the banner, the status line, the video
// message and the panels say, whether a result is stale, which prediction to keep, how long to wait before
// reconnecting. Pure: no DOM, no timers, no globals (the clock comes in as `now`, page milliseconds), so
// node can import it (Tests/page/). The DOM modules render what these functions return.

import { num, positive, validRect } from './protocol.js';
import { humanise, upper, formatAge, lower, capitalise } from './format.js';

// ------------------------------------------------------------------ settings

export const DEFAULT_STALE_MS = 1000;  // age after which a result is shown as stale (hello's stale_ms, ?stale_ms= win)
export const WATCHDOG_MS = 5000;       // no message at all for this long: the link is dead, reconnect
export const NO_VIDEO_MS = 2500;       // no frame for this long while connected: say so on the video
export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 3000;    // a restarted Bedside is found again within ~3 s, however long it was away
export const LEGEND_MAX = 6;           // more classes than this: the legend lists only those in the map

// ------------------------------------------------------------------ texts

/**
 * The model states the server sends (`status.models[].state`: the ModelState enum, Sources/ModelBridge/ModelState.swift;
 * with replicas the best of them): `running` shows results, every other one
 * the banner text below.
 */
export const MODEL_STATES = ['idle', 'starting', 'loading', 'running', 'restarting', 'failing', 'stopped'];
export const MODEL_STATE_TEXT = {
  idle: 'MODEL NOT STARTED',
  starting: 'MODEL STARTING…',
  loading: 'MODEL LOADING…',
  restarting: 'MODEL RESTARTING…',
  failing: 'MODEL FAILING',          // crash loop: Bedside retries slowly; the second line has the error
  stopped: 'MODEL STOPPED',
};

/** The banner text for a model state other than `running` (a state this page does not know is named as sent). */
export function modelStateText(state) {
  return MODEL_STATE_TEXT[state] || `MODEL ${String(state).toUpperCase()}`;
}

// status.source.state other than "ok": the notice over the video. `short` is for the banner's
// second line and the status line; `fallback` is shown when the server gives no detail.
export const SOURCE_TEXT = {
  'no signal': { title: 'NO SIGNAL FROM THE SCANNER', short: 'No signal from the scanner',
    fallback: 'The capture box gets no picture from the scanner.' },
  disconnected: { title: 'CAPTURE BOX DISCONNECTED', short: 'Capture box disconnected',
    fallback: 'Bedside cannot reach the video capture box.' },
  'in use': { title: 'CAPTURE BOX IN USE', short: 'Capture box used by another program',
    fallback: 'Another program (or another Bedside) is capturing from the box: close it.' },
  connecting: { title: 'CONNECTING TO THE CAPTURE BOX…', short: 'Connecting to the capture box',
    fallback: 'Waiting for video from the capture box.' },
  ended: { title: 'VIDEO ENDED', short: 'Video ended', fallback: 'The video source has no more frames.' },
  failed: { title: 'VIDEO CAPTURE FAILED', short: 'Video capture failed', fallback: '' },
};

export const ARROWS = new Set(['left', 'right', 'up', 'down', 'rotate-cw', 'rotate-ccw']);

/** The parts of the model's output a study arm may show (status.study.show). */
export const ALL_PARTS = ['banner', 'concepts', 'overlay', 'guidance'];

// ------------------------------------------------------------------ the state

/** The page's state before the first message. `model`: the model this tablet follows (?model=), else null. */
export function createState({ model = null, overlayOn = true, viewPref = 'full' } = {}) {
  return {
    conn: 'closed',            // open | closed | unauthorized  (data-state of the connection element)
    connDetail: 'Connecting…',
    reconnectWhy: '',          // why the last reconnect was scheduled ("Connection lost")
    retrying: false,           // a reconnect is scheduled
    hello: null,
    status: null,
    model,
    frame: { count: 0, seq: null, pts: null, wall: 0, width: 0, height: 0 },
    dropped: 0,
    decodeErrors: 0,
    fpsTimes: [],              // wall times of the last frames drawn (1 s window)
    pred: null,                // newest prediction message of the followed model
    predWall: 0,
    acceptAnySeq: true,        // after (re)connecting, the server may have restarted and reset seq
    seg: null,                 // { canvas, classes, seen:Set, rect, maxLabel }
    overlayOn,
    viewPref: viewPref === 'crop' ? 'crop' : 'full',  // what the user chose: full | crop
    view: null,                // what is drawn: { mode: full|crop, x, y, w, h (JPEG pixels), cw, ch (canvas), kx, ky }
    bitmap: null,              // the newest decoded frame, kept to redraw it when the view changes
    video: 'jpeg',             // what the binary frames are: 'jpeg' or 'h264' (the server's `video` message)
    askH264: false,            // this tablet asks for H.264 (it can decode it)
    openedAt: 0,               // when the socket opened (page clock, ms)
    bytesIn: 0,                // binary (video) bytes received
    firstPaintMs: null,        // from then to the first picture painted
    stale: false,
    lastMessageWall: 0,
    showKey: undefined,        // study arm: the parts shown, space separated (undefined before the first status)
    arm: '',
  };
}

/** hello's stale_ms (web.stale_ms), else DEFAULT_STALE_MS: the least age at which an answer is stale. */
export const staleFloorMs = (S) => positive(S.hello && S.hello.stale_ms) || DEFAULT_STALE_MS;

/**
 * How old an answer of this model may be and still be on time, ms (0: not known yet). The answered frame is
 * `latency_ms` old when its answer comes and is shown until the next one, `interval_ms` later: a model that
 * takes 1.2 s per frame is always showing a frame 1.2-2.5 s old, and that is as fresh as it gets. Half as much
 * again, and half a second for the video's own way to the tablet, before it is called stale. The usual
 * interval does not decay while the model is silent, so a hung model's answer does turn stale.
 */
export function cadenceMs(m) {
  if (!m) return 0;
  const interval = num(m.interval_ms);
  if (interval === null || interval <= 0) return 0;
  const latency = Math.max(0, num(m.latency_ms) || 0);
  return Math.round(1.5 * (latency + interval) + 500);
}

/**
 * The stale threshold: ?stale_ms= exactly when given (tests, a site's choice); else the larger of web.stale_ms
 * and the followed model's cadence (`cadenceMs`).
 */
export const staleMs = (S, staleParam) => staleParam || Math.max(staleFloorMs(S), cadenceMs(followedModel(S)));

/** A model slower than web.stale_ms: the banner says how old the answered frame is even while it is fresh. */
export const slowModel = (S, staleParam) => !staleParam && cadenceMs(followedModel(S)) > staleFloorMs(S);

// ------------------------------------------------------------------ messages in

/** hello: a new connection (perhaps a restarted server): any seq is accepted again; the server names the model. */
export function takeHello(S, m, modelParam) {
  S.hello = m;
  S.acceptAnySeq = true;
  if (!modelParam && typeof m.model === 'string' && m.model) S.model = m.model;
}

/** status: kept whole (false when it is not an object: ignored). */
export function takeStatus(S, m) {
  if (!m || typeof m !== 'object') return false;
  S.status = m;
  return true;
}

/** Without ?model= or hello's model: follow the first model of the status. */
export function followFirstModel(S) {
  const m = S.status;
  if (!S.model && m && Array.isArray(m.models) && m.models.length && m.models[0].name) S.model = m.models[0].name;
}

/**
 * prediction: kept when it is the followed model's (the first model named is followed when none is yet) and
 * not older than the one shown (seq; any seq right after (re)connecting). Returns whether it was kept.
 */
export function takePrediction(S, m, now) {
  if (typeof m.model === 'string') {
    if (!S.model) S.model = m.model;
    if (m.model !== S.model) return false;
  }
  const seq = num(m.seq);
  if (!S.acceptAnySeq && S.pred && seq !== null && num(S.pred.seq) !== null && seq < S.pred.seq) return false;
  S.acceptAnySeq = false;
  S.pred = m;
  S.predWall = now;
  return true;
}

/**
 * Whether an answer may be drawn now, over the frame on screen (issue 18 #7). An answer is for frame `seq`;
 * drawn over an older frame it would run ahead of the video (the tablet paints fewer frames than it gets when
 * its decoding falls behind). So it waits until that frame, or a later one, is painted, unless no frame has
 * been painted for `maxHoldMs` (the video stopped: the answer is not kept from the screen for ever), or the
 * page paints no video to wait for. `held` is {seq, since} (since: when it was first held, ms).
 */
export function answerDue(held, paintedSeq, lastPaintMs, nowMs, maxHoldMs = 1500) {
  if (!held || held.seq === null || held.seq === undefined) return true;
  if (paintedSeq === null || paintedSeq === undefined) return true;   // no video yet: nothing to run ahead of
  if (held.seq <= paintedSeq) return true;
  if (held.seq - paintedSeq > 100000) return true;                    // another server's numbering
  return nowMs - Math.max(lastPaintMs, held.since) >= maxHoldMs;
}

/** Whether this tablet's study arm shows `part` (everything before the first status and without a study). */
export const armShows = (S, part) => S.showKey === undefined || S.showKey.split(' ').includes(part);

/** A study arm's parts: `{key, arm}`; `key` lists the parts shown (all of them without a study). */
export function studyShow(st) {
  const show = st && Array.isArray(st.show) ? st.show.filter((x) => ALL_PARTS.includes(x)) : ALL_PARTS;
  return { key: show.join(' '), arm: st && typeof st.arm === 'string' ? st.arm : '' };
}

// ------------------------------------------------------------------ model and source

export function followedModel(S) {
  const models = S.status && Array.isArray(S.status.models) ? S.status.models : [];
  return models.find((x) => x && x.name === S.model) || models[0] || null;
}

/**
 * The model runs but its answers fail (an exception, or a result Bedside refuses): from the first failure when
 * it never answered well, else from the second in a row (one failed frame among good ones is not a state).
 */
export function answersFailing(S) {
  const m = followedModel(S);
  if (!m || m.state !== 'running') return false;
  const n = num(m.failing_answers) || 0;
  return n >= 2 || (n >= 1 && !(num(m.predictions) > 0));
}

export function modelState(S) {
  const m = followedModel(S);
  return m && typeof m.state === 'string' ? m.state : null;
}

/** status.source and its state ("ok" when not said). */
export function sourceInfo(S) {
  const src = S.status && S.status.source && typeof S.status.source === 'object' ? S.status.source : null;
  const state = src && typeof src.state === 'string' && src.state ? src.state : 'ok';
  return { src, state };
}

export const sourceBad = (S) => sourceInfo(S).state !== 'ok';

// A capture problem is shown only while the link to Bedside is up: otherwise the status is old
// and the connection message on the video says what is wrong.
export const sourceNoticeShown = (S) => S.conn === 'open' && sourceBad(S);

/** The capture notice's texts for a source state other than ok. */
export function sourceNotice(S) {
  const { src, state } = sourceInfo(S);
  const t = SOURCE_TEXT[state] || { title: `VIDEO SOURCE: ${state.toUpperCase()}`, short: `Video source: ${state}`, fallback: '' };
  const detail = (src && (src.detail || src.error)) || t.fallback || '';
  return { title: t.title, detail: capitalise(String(detail).trim()), hasDetail: !!detail };
}

/** Under the capture notice: how long the picture has been frozen. */
export function sourceFootText(S, now) {
  if (!S.frame.count) return 'No image yet';
  const s = Math.round((now - S.frame.wall) / 1000);
  return s < 2 ? 'The image below is the last one received' : `The image below is frozen: last one received ${s} s ago`;
}

/**
 * Bedside itself does not answer: the link is down and the last probe of its status failed (the connection
 * says 'Bedside unreachable'). A link that is down while the probe answers is a reconnect, not this.
 */
export const bedsideUnreachable = (S) => S.conn !== 'open' && S.conn !== 'unauthorized' && S.reconnectWhy === 'Bedside unreachable';

/** The message over the video ('' for none). */
export function videoMessage(S, now) {
  if (S.conn === 'unauthorized') return 'Not paired';
  if (S.conn !== 'open') return S.reconnectWhy && S.retrying ? `${S.reconnectWhy}: ${lower(S.connDetail)}` : S.connDetail;
  if (sourceNoticeShown(S)) return '';   // the capture notice says it, larger
  if (!S.frame.count) return 'Waiting for video…';
  if (now - S.frame.wall > NO_VIDEO_MS) return `No video for ${Math.round((now - S.frame.wall) / 1000)} s`;
  return '';
}

// ------------------------------------------------------------------ staleness

/** How old the shown result is: by the frames' clock when both have pts, else the server's age_ms plus time since. */
export function resultAgeMs(S, now) {
  if (!S.pred) return null;
  const p = num(S.pred.pts_ns);
  if (p !== null && S.frame.pts !== null) return Math.max(0, (S.frame.pts - p) / 1e6);
  const a = num(S.pred.age_ms);
  return a !== null ? a + (now - S.predWall) : null;
}

/**
 * Whether the shown result is stale: the link is down, the capture is not ok (no new frames), the model is
 * not running, or the result is older than `stale` ms. Without a result nothing is stale.
 */
export function computeStale(S, now, stale) {
  if (!S.pred) return false;
  if (S.conn !== 'open') return true;
  if (sourceBad(S)) return true;       // no new frames: the last result describes an old picture
  const ms = modelState(S);
  if (ms && ms !== 'running') return true;
  if (answersFailing(S)) return true;  // the last answer shown is older than the failing ones
  const age = resultAgeMs(S, now);
  return age !== null && age > stale;
}

/** The link is up but nothing came for WATCHDOG_MS: it is dead, reconnect. */
export const linkDead = (S, now) => S.conn === 'open' && now - S.lastMessageWall > WATCHDOG_MS;

// ------------------------------------------------------------------ reconnecting

/** Wait before reconnect attempt `attempt` (0 first): 500 ms doubling to 3 s, ±20 % (`random` in [0, 1)). */
export function backoffDelay(attempt, random) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** attempt);
  return Math.round(base * (0.8 + 0.4 * random));
}

export function reconnectText(retryAt, now) {
  const left = Math.max(0, Math.ceil((retryAt - now) / 1000));
  return left > 0 ? `Reconnecting in ${left} s` : 'Reconnecting…';
}

// ------------------------------------------------------------------ banner

/**
 * The banner: `{mode, text, sub, fixed, status, plane, modelState}`. `mode`: offline | model | waiting |
 * standard | close | unknown; `fixed`: the second line keeps `sub` even when stale; `status`/`plane`:
 * the prediction's (undefined without one).
 */
/** The banner's words for a model's `plane` object (STANDARD PLANE: HEAD, CLOSE TO STANDARD, NO STANDARD PLANE). */
export function planeText(plane) {
  const status = plane && ['standard', 'close', 'unknown'].includes(plane.status) ? plane.status : 'unknown';
  const name = plane && plane.name && !['none', 'unknown', 'null'].includes(String(plane.name).toLowerCase())
    ? upper(plane.name) : '';
  if (status === 'standard') return `STANDARD PLANE${name ? `: ${name}` : ''}`;
  if (status === 'close') return `CLOSE TO STANDARD${name ? `: ${name}` : ''}`;
  return 'NO STANDARD PLANE';
}

export function bannerView(S) {
  const pred = S.pred;
  const plane = pred && pred.result && typeof pred.result.plane === 'object' && pred.result.plane ? pred.result.plane : null;
  const ms = modelState(S);
  let status, planeName;
  if (pred) {
    status = plane && ['standard', 'close', 'unknown'].includes(plane.status) ? plane.status : 'unknown';
    planeName = plane && plane.name != null ? String(plane.name) : '';
  }
  let mode, text, sub = '';
  if (S.conn === 'unauthorized') {
    // The pairing dialog is open over the page: the banner says the same thing, not another way to pair.
    mode = 'offline';
    text = 'PAIR THIS TABLET';
    sub = 'Enter the code Bedside shows';
  } else if (bedsideUnreachable(S)) {
    // Bedside itself is gone (it was reachable: a status came). What the last status said about the model is
    // old news: not "MODEL STOPPED" with an old error (issue 18 #6).
    mode = 'offline';
    text = 'BEDSIDE UNREACHABLE';
    sub = `Trying again by itself${S.connDetail ? ` · ${lower(S.connDetail)}` : ''}`;
  } else if (!armShows(S, 'banner')) {
    // A study arm without the banner (the control arm): a plain label, not an empty coloured bar that looks
    // broken, and nothing about the model (issue 18 #11).
    mode = 'video';
    text = 'LIVE VIDEO';
  } else if (ms && ms !== 'running') {
    mode = 'model';
    text = modelStateText(ms);
    const m = followedModel(S);
    sub = m && m.last_error ? `No current result · ${m.last_error}` : 'No current result';
  } else if (answersFailing(S)) {
    mode = 'model';
    text = 'MODEL ANSWERS NOT USABLE';
    const m = followedModel(S);
    sub = `No current result · ${m.last_error || 'the model answers with errors'}`;
  } else if (!pred) {
    mode = 'waiting';
    text = S.conn === 'open' ? 'WAITING FOR THE MODEL…' : 'CONNECTING…';
  } else {
    mode = status;
    text = planeText(plane);
    const sc = plane ? num(plane.score) : null;
    // A confidence belongs to a plane that was found; under NO STANDARD PLANE it would read as certainty.
    if (sc !== null && mode !== 'unknown') sub = sc <= 1 ? `Confidence ${Math.round(sc * 100)}%` : `Score ${sc.toFixed(1)}`;
  }
  return { mode, text, sub, fixed: mode === 'model' || mode === 'offline' || mode === 'video', status, plane: planeName, modelState: ms };
}

/**
 * The banner's second line: `base`, or (not `fixed`, stale result) why the result is not current; for a
 * model slower than web.stale_ms (`slow`), how old the answered frame is, fresh or not.
 */
export function bannerSubText(S, base, fixed, now, slow = false) {
  let text = base;
  if (!fixed && !S.stale && S.pred && slow) {
    const age = resultAgeMs(S, now);
    if (age !== null) text = base ? `${base} · image ${formatAge(age)} ago` : `Answer for the image ${formatAge(age)} ago`;
  }
  if (!fixed && S.stale && S.pred) {
    const age = resultAgeMs(S, now);
    const t = SOURCE_TEXT[sourceInfo(S).state];
    text = S.conn !== 'open' ? 'Last result before the connection was lost: not current'
      : sourceBad(S) ? `${t ? t.short : 'No video'}: result not current`
      : `Result is ${age !== null ? formatAge(age) : 'too'} old: not current`;
  }
  return text || '\u00a0';
}

// ------------------------------------------------------------------ guidance

/** `{arrow, empty, text}`: the arrow one of ARROWS or "none"; the text capitalised, else the arrow in words. */
export function guidanceView(g) {
  let text = g && typeof g === 'object' && g.text != null ? String(g.text).trim() : '';
  if (text) text = text[0].toUpperCase() + text.slice(1);
  const arrow = g && typeof g === 'object' && ARROWS.has(g.arrow) ? g.arrow : 'none';
  const empty = !text && arrow === 'none';
  const shown = empty ? 'No guidance' : text || humanise(arrow.replace('ccw', 'anticlockwise').replace('cw', 'clockwise'));
  return { arrow, empty, text: shown };
}

// ------------------------------------------------------------------ concepts

/** "true" | "false" | "unknown": `present` when given, else score >= 5. */
export function presenceOf(c) {
  if (typeof c.present === 'boolean') return c.present ? 'true' : 'false';
  const s = num(c.score);
  if (s !== null) return s >= 5 ? 'true' : 'false';
  return 'unknown';
}

/** The concepts grouped by plane, in the model's order: Map(plane or "" -> [{c, i}]). */
export function groupConcepts(concepts) {
  const groups = new Map();
  concepts.forEach((c, i) => {
    const key = c.plane == null ? '' : String(c.plane);
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push({ c, i });
  });
  return groups;
}

/** The group shown first and expanded: the predicted plane's, else the current one, else the first; null for none. */
export function chooseGroup(groups, planeName, currentGroup) {
  let want = planeName !== null && groups.has(planeName) ? planeName : null;
  if (want === null) want = currentGroup !== null && groups.has(currentGroup) ? currentGroup : null;
  if (want === null && groups.size) want = groups.keys().next().value;
  return want;
}

/** One concept row: name (its key), presence, score, label, tooltip, bar width (%), score text. */
export function conceptRow(c, i) {
  const name = c.name != null ? String(c.name) : `concept ${i + 1}`;
  const pres = presenceOf(c);
  const s = num(c.score);
  const label = c.label != null ? String(c.label) : humanise(name);
  const clamped = s === null ? 0 : Math.max(0, Math.min(10, s));
  return {
    name, pres, score: s, label,
    title: `${label}: ${pres === 'true' ? 'present' : pres === 'false' ? 'MISSING' : 'unknown'}`,
    width: clamped * 10,
    scoreText: s === null ? '–' : s.toFixed(1),
  };
}

// ------------------------------------------------------------------ legend

/**
 * The legend's rows for a decoded segmentation (`{classes, seen, maxLabel}` or null): `{key, items, empty}`;
 * `items` `{i, name, seen}`, only the classes in the map when there are more than LEGEND_MAX; `empty` the
 * text shown without rows.
 */
export function legendItems(seg) {
  let items = [];
  if (seg) {
    const count = seg.classes ? seg.classes.length : seg.maxLabel + 1;
    for (let i = 1; i < count; i++) {
      items.push({ i, name: seg.classes ? humanise(seg.classes[i]) : `class ${i}`, seen: seg.seen.has(i) });
    }
    // A long class list would not fit: then list the classes in this map only.
    if (items.length > LEGEND_MAX) items = items.filter((x) => x.seen);
  }
  const key = seg ? items.map((x) => `${x.i}:${x.name}:${x.seen}`).join('|') : 'none';
  return { key, items, empty: seg ? 'No structures outlined' : 'No segmentation' };
}

// ------------------------------------------------------------------ view (full screen or the model's crop)

/** Capture size (`crop` is in these pixels; JPEG frames may be scaled down): from the status, else hello. */
export function sourceSize(S) {
  for (const src of [S.status && S.status.source, S.hello]) {
    const w = src ? num(src.width) : null, h = src ? num(src.height) : null;
    if (w > 0 && h > 0) return { w, h };
  }
  return null;
}

/**
 * The model's crop, in source pixels, clipped to the source: from the newest prediction (it matches the
 * segmentation drawn), else from the followed model's status. null when none is known.
 */
export function currentCrop(S) {
  const m = followedModel(S);
  const c = validRect(S.pred && S.pred.crop) || validRect(m && m.crop);
  if (!c) return null;
  const src = sourceSize(S);
  if (!src) return c;
  const x = Math.max(0, c.x), y = Math.max(0, c.y);
  const w = Math.min(src.w, c.x + c.width) - x, h = Math.min(src.h, c.y + c.height) - y;
  return w >= 1 && h >= 1 ? { x, y, width: w, height: h } : null;
}

/** JPEG size and JPEG pixels per source pixel; before the first frame the source size, else the canvas's. */
export function jpegScale(S, canvasW, canvasH) {
  const src = sourceSize(S);
  const jw = S.frame.width || (src ? src.w : canvasW);
  const jh = S.frame.height || (src ? src.h : canvasH);
  return { jw, jh, kx: src ? jw / src.w : 1, ky: src ? jh / src.h : 1 };
}

/**
 * What the canvases show: `{view, crop}`; view `{mode, x, y, w, h}` in JPEG pixels, `cw`/`ch` the canvas
 * size, `kx`/`ky` the JPEG scale. The crop view only when a crop is known and the user chose it.
 */
export function computeView(S, canvasW, canvasH) {
  const crop = currentCrop(S);
  const { jw, jh, kx, ky } = jpegScale(S, canvasW, canvasH);
  let v = { mode: 'full', x: 0, y: 0, w: jw, h: jh };
  if (crop && S.viewPref === 'crop') {
    v = { mode: 'crop', x: crop.x * kx, y: crop.y * ky, w: crop.width * kx, h: crop.height * ky };
  }
  v.cw = Math.max(1, Math.round(v.w));
  v.ch = Math.max(1, Math.round(v.h));
  v.kx = kx;               // a new source size moves the overlay even when the view rectangle stays
  v.ky = ky;
  return { view: v, crop };
}

export const sameView = (a, b) => !!a && !!b && ['mode', 'x', 'y', 'w', 'h', 'kx', 'ky'].every((k) => a[k] === b[k]);

/**
 * Where the label map goes on the overlay canvas (W x H showing `view`): the map covers `rect` (the crop, source
 * pixels) or, without one, the whole JPEG.
 */
export function overlayRect(rect, view, scale, W, H) {
  const { jw, jh, kx, ky } = scale;
  const v = view || { x: 0, y: 0, w: jw, h: jh };
  const j = rect
    ? { x: rect.x * kx, y: rect.y * ky, width: rect.width * kx, height: rect.height * ky }
    : { x: 0, y: 0, width: jw, height: jh };
  const sx = W / v.w, sy = H / v.h;
  return { x: (j.x - v.x) * sx, y: (j.y - v.y) * sy, width: j.width * sx, height: j.height * sy };
}

// ------------------------------------------------------------------ frame rate

/** Frames per second over the last second (drops older times from `S.fpsTimes`); 0 after a second without one. */
export function frameRate(S, now) {
  while (S.fpsTimes.length && now - S.fpsTimes[0] > 1000) S.fpsTimes.shift();
  const n = S.fpsTimes.length;
  let fps = 0;
  if (n >= 2) fps = ((n - 1) * 1000) / Math.max(1, S.fpsTimes[n - 1] - S.fpsTimes[0]);
  if (now - S.frame.wall > 1000) fps = 0;
  return fps;
}

/** The fps badge: its text and whether it is low (under 60 % of the source's rate). */
export function fpsBadge(S, fps) {
  const srcFps = S.hello && num(S.hello.fps) ? S.hello.fps : (S.status && S.status.source && num(S.status.source.fps));
  return {
    text: S.frame.count ? fps.toFixed(fps < 10 ? 1 : 0) : '–',
    low: !!(S.frame.count && srcFps && fps < srcFps * 0.6),
  };
}

// ------------------------------------------------------------------ status line

/** Every text of the status line (and the recording controls) for the state at `now`. */
export function statusLineView(S, now) {
  const live = !bedsideUnreachable(S);  // Bedside gone: the last status's numbers are not the present's
  const m = followedModel(S);
  const name = (m && m.name) || S.model || 'model';
  const state = !live && S.status ? 'unknown' : m && m.state ? m.state : (S.pred ? 'running' : '–');
  const model = {
    text: `${name}: ${state}`, state,
    bad: !live && !!S.status ? true : !!(m && m.state && m.state !== 'running'),
    title: live && m && m.last_error && m.state !== 'running' ? m.last_error : null,
  };

  const rate = m && live ? num(m.rate_hz) : null;
  const lat = S.pred && num(S.pred.latency_ms) !== null ? num(S.pred.latency_ms) : (m ? num(m.latency_ms) : null);
  const age = resultAgeMs(S, now);
  // A model the server still calls running whose answer is older than its cadence explains (S.stale) is not
  // answering: the status's rate is an average over the last minute and would say "24.7 pred/s" for the whole
  // hang (issue 18 #8).
  const silent = live && S.stale && S.conn === 'open' && m && m.state === 'running' && age !== null;
  if (silent) {
    model.text = `${name}: no answer for ${formatAge(age)}`;
    model.bad = true;
  }

  const rec = S.status && S.status.recording && typeof S.status.recording === 'object' ? S.status.recording : null;
  const rs = rec && rec.state ? String(rec.state) : 'unknown';
  let recText = rs === 'recording' ? 'REC' : rs === 'unknown' ? 'rec –' : `rec ${rs}`;
  if (rec && num(rec.frames_dropped)) recText += ` (${rec.frames_dropped} dropped)`;
  const alert = rec ? (rec.alert || (rs === 'failed' && rec.error ? `Recording failed: ${rec.error}` : '')) : '';

  const truth = S.pred && S.pred.truth && typeof S.pred.truth === 'object' ? S.pred.truth : null;
  const v = S.status ? num(S.status.viewers) : null;

  // Capture mode (e.g. "YUYV 1920x1080@60"), small; the capture state instead while it is not ok.
  const { src, state: srcState } = sourceInfo(S);
  const mode = src && src.mode ? String(src.mode) : '';
  const srcText = srcState !== 'ok' ? `capture: ${srcState}` : mode;

  return {
    model,
    snapshot: { disabled: !live, title: live ? null : 'Bedside is unreachable: no snapshot until it is back' },
    rate: rate === null || silent ? '– pred/s' : `${rate.toFixed(1)} pred/s`,
    latency: lat === null ? 'latency –' : `latency ${formatAge(lat)}`,
    age: age === null ? 'result age –' : `result age ${formatAge(age)}`,
    rec: { state: rs, text: recText, title: rec && rec.file ? rec.file : null },
    alert: alert || '',
    truth: truth ? { text: `phantom truth: ${truth.plane || '–'} ${truth.status || ''}`.trim() } : null,
    viewers: v === null ? '– viewers' : `${v} viewer${v === 1 ? '' : 's'}`,
    source: {
      hidden: !srcText, state: srcState, text: srcText,
      title: [src && src.description, mode].filter(Boolean).join(' · ') || null,
    },
  };
}

// ------------------------------------------------------------------ drawn reports (capture -> screen latency)

/** The frames painted and not yet reported (`done`: `{seq, at}`), the last report's time, frames painted in all. */
export const createPaintLog = () => ({ seq: null, stages: null, rafPending: false, done: [], lastSent: 0, count: 0 });

/**
 * A frame reached the screen at `at`: keeps the newest REPORT_MAX; returns whether a report is due. `stages`
 * ({received, decoded}: when its bytes arrived and when its picture was decoded, same clock) is optional.
 */
export function notePaintDone(paint, seq, at, reportMax, reportMs, stages = null) {
  paint.count++;
  const d = { seq, at };
  if (stages && Number.isFinite(stages.received) && Number.isFinite(stages.decoded)
      && stages.received <= stages.decoded && stages.decoded <= at) {
    d.received = stages.received;
    d.decoded = stages.decoded;
  }
  paint.done.push(d);
  if (paint.done.length > reportMax) paint.done.splice(0, paint.done.length - reportMax);
  return at - paint.lastSent >= reportMs;
}

/**
 * The crop/full toggle: its label says what a tap does (issue 18 #17: it used to name the current view, so
 * "Full view" on the full image read as a button that did nothing). `pressed`: the crop is shown.
 */
export function viewToggleView(pref) {
  const crop = pref === 'crop';
  return {
    pressed: crop,
    text: crop ? 'Show full image' : 'Zoom to model area',
    title: crop ? 'Showing the model’s area: tap for the full screen' : 'Showing the full screen: tap to zoom to the model’s area',
  };
}
