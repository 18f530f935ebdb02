// The page's decisions, without a browser: model state texts, stale or fresh, which prediction is kept,
// reconnect backoff, the view and overlay geometry, and the texts of the banner, video and status line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import * as st from '../../Sources/Web/Page/js/state.js';
import { humanise, formatAge } from '../../Sources/Web/Page/js/format.js';

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

const status = (models, extra = {}) => ({ type: 'status', models, ...extra });
const pred = (fields = {}) => ({ type: 'prediction', model: 'm', seq: 1, result: { plane: { name: 'head', status: 'standard', score: 0.9 } }, ...fields });
function live(fields = {}) {
  const S = st.createState({ model: 'm' });
  S.conn = 'open';
  st.takeStatus(S, status([{ name: 'm', state: 'running' }]));
  Object.assign(S, fields);
  return S;
}

// ------------------------------------------------------------------ model states

test('the model states are the ones the server sends (the ModelState enum, Sources/ModelBridge/ModelState.swift)', () => {
  const source = readFileSync(path.join(repo, 'Sources/ModelBridge/ModelState.swift'), 'utf8');
  const body = source.slice(source.indexOf('enum ModelState'), source.indexOf('public var isRunning'));
  const sent = [...body.matchAll(/^\s*case ([a-z]+)\s*$/gm)].map((m) => m[1]);
  assert.ok(sent.length >= 5, 'ModelState.swift: the cases');
  assert.deepEqual([...sent].sort(), [...st.MODEL_STATES].sort());
});

test('every state but running has its own banner text; no key the server never sends', () => {
  const keys = Object.keys(st.MODEL_STATE_TEXT).sort();
  assert.deepEqual(keys, st.MODEL_STATES.filter((s) => s !== 'running').sort());
  assert.equal('failed' in st.MODEL_STATE_TEXT, false);
  for (const s of keys) {
    const S = live();
    st.takeStatus(S, status([{ name: 'm', state: s }]));
    const b = st.bannerView(S);
    assert.equal(b.mode, 'model', s);
    assert.equal(b.text, st.MODEL_STATE_TEXT[s], s);
    assert.equal(b.fixed, true);
    assert.equal(b.sub, 'No current result');
  }
  assert.equal(st.modelStateText('failing'), 'MODEL FAILING');
  assert.equal(st.modelStateText('loading'), 'MODEL LOADING…');
  assert.equal(st.modelStateText('exploded'), 'MODEL EXPLODED');   // a future state is still named
});

test('a failing model: the banner names the error; the result is stale', () => {
  const S = live();
  S.pred = pred();
  st.takeStatus(S, status([{ name: 'm', state: 'failing', last_error: 'ImportError: torch' }]));
  const b = st.bannerView(S);
  assert.equal(b.text, 'MODEL FAILING');
  assert.equal(b.sub, 'No current result · ImportError: torch');
  assert.equal(st.computeStale(S, 0, 1000), true);
  assert.equal(st.statusLineView(S, 0).model.title, 'ImportError: torch');
});

// ------------------------------------------------------------------ stale or fresh

test('stale: nothing without a result; the link, the source, the model, the age', () => {
  const S = live();
  assert.equal(st.computeStale(S, 0, 1000), false);
  S.pred = pred({ age_ms: 100 });
  S.predWall = 0;
  assert.equal(st.computeStale(S, 500, 1000), false);     // 100 + 500 ms
  assert.equal(st.computeStale(S, 950, 1000), true);      // 100 + 950 ms > 1000
  assert.equal(st.computeStale(S, 950, 2000), false);     // a longer stale_ms
  const T = live({ pred: pred({ age_ms: 0 }), predWall: 0 });
  T.conn = 'closed';
  assert.equal(st.computeStale(T, 0, 1000), true);
  const U = live({ pred: pred({ age_ms: 0 }), predWall: 0 });
  st.takeStatus(U, status([{ name: 'm', state: 'running' }], { source: { state: 'no signal' } }));
  assert.equal(st.computeStale(U, 0, 1000), true);
  assert.equal(st.sourceNoticeShown(U), true);
});

test('result age: by the frames clock when both have pts, else age_ms plus the time since', () => {
  const S = live({ pred: pred({ pts_ns: 1e9, age_ms: 5 }), predWall: 100 });
  assert.equal(st.resultAgeMs(S, 300), 205);
  S.frame.pts = 1.25e9;
  assert.equal(st.resultAgeMs(S, 300), 250);
  S.frame.pts = 0.5e9;                                    // a frame older than the result: age 0
  assert.equal(st.resultAgeMs(S, 300), 0);
  assert.equal(st.resultAgeMs(live(), 0), null);
  assert.equal(st.resultAgeMs(live({ pred: pred() }), 0), null);
});

test('stale threshold: ?stale_ms=, else hello, else 1000', () => {
  const S = st.createState();
  assert.equal(st.staleMs(S, null), st.DEFAULT_STALE_MS);
  st.takeHello(S, { type: 'hello', stale_ms: 2500 }, null);
  assert.equal(st.staleMs(S, null), 2500);
  assert.equal(st.staleMs(S, 400), 400);
  st.takeHello(S, { type: 'hello', stale_ms: -1 }, null);
  assert.equal(st.staleMs(S, null), 1000);
});

test('banner second line when stale says why', () => {
  const S = live({ pred: pred({ age_ms: 1500 }), predWall: 0, stale: true });
  assert.equal(st.bannerSubText(S, 'Confidence 90%', false, 0), 'Result is 1.5 s old: not current');
  assert.equal(st.bannerSubText(S, 'No current result', true, 0), 'No current result');
  S.conn = 'closed';
  assert.equal(st.bannerSubText(S, '', false, 0), 'Last result before the connection was lost: not current');
  S.conn = 'open';
  st.takeStatus(S, status([{ name: 'm', state: 'running' }], { source: { state: 'disconnected' } }));
  assert.equal(st.bannerSubText(S, '', false, 0), 'Capture box disconnected: result not current');
  S.stale = false;
  assert.equal(st.bannerSubText(S, '', false, 0), '\u00a0');
});

test('freshness by cadence: a 1.2 s model with a 1.75 s interval is fresh at 2.5 s old, stale once hung', () => {
  // PCBM on the clinic's CPU: model_ms ~1,249, 0.57 answers/s (issue 17: 0 of 107 samples were fresh at 1 s).
  const S = live();
  st.takeHello(S, { type: 'hello', stale_ms: 1000 }, null);
  st.takeStatus(S, status([{ name: 'm', state: 'running', latency_ms: 1250, interval_ms: 1750, predictions: 40 }]));
  const threshold = st.staleMs(S, null);
  assert.equal(threshold, 5000);                          // 1.5 x (1250 + 1750) + 500
  S.pred = pred({ age_ms: 0 });
  S.predWall = 0;
  assert.equal(st.computeStale(S, 2500, threshold), false);  // the worst age of a model on time: 1.25 + 1.75 s
  assert.equal(st.computeStale(S, 5200, threshold), true);   // hung: no answer for 3 intervals
  assert.equal(st.slowModel(S, null), true);
  assert.equal(st.bannerSubText(S, 'Confidence 80%', false, 2400, true), 'Confidence 80% · image 2.4 s ago');
  assert.equal(st.bannerSubText(S, '', false, 2400, true), 'Answer for the image 2.4 s ago');
  // The demo (4 ms, 30 answers/s) keeps web.stale_ms, and says nothing about the age while fresh.
  st.takeStatus(S, status([{ name: 'm', state: 'running', latency_ms: 9, interval_ms: 33, predictions: 400 }]));
  assert.equal(st.staleMs(S, null), 1000);
  assert.equal(st.slowModel(S, null), false);
  assert.equal(st.bannerSubText(S, 'Confidence 80%', false, 300, false), 'Confidence 80%');
  // Before two answers there is no cadence: web.stale_ms; ?stale_ms= is taken as given.
  st.takeStatus(S, status([{ name: 'm', state: 'running', latency_ms: 1250, interval_ms: 0 }]));
  assert.equal(st.staleMs(S, null), 1000);
  st.takeStatus(S, status([{ name: 'm', state: 'running', latency_ms: 1250, interval_ms: 1750 }]));
  assert.equal(st.staleMs(S, 400), 400);
  // A stopped model is stale at once, whatever its cadence.
  st.takeStatus(S, status([{ name: 'm', state: 'restarting', latency_ms: 1250, interval_ms: 1750 }]));
  assert.equal(st.computeStale(S, 0, st.staleMs(S, null)), true);
});

test('answers refused: the banner says so from the first failure of a model that never answered well', () => {
  const S = live();
  st.takeStatus(S, status([{ name: 'm', state: 'running', predictions: 0, errors: 1, failing_answers: 1,
    last_error: "frame 3: ResultError: result['concepts'] should be a list of dicts (result)" }]));
  const v = st.bannerView(S);
  assert.equal(v.mode, 'model');
  assert.equal(v.text, 'MODEL ANSWERS NOT USABLE');
  assert.match(v.sub, /should be a list of dicts/);
  assert.equal(v.fixed, true);
  // One failed frame among good answers is not a state; two in a row are.
  st.takeStatus(S, status([{ name: 'm', state: 'running', predictions: 50, failing_answers: 1 }]));
  assert.equal(st.answersFailing(S), false);
  st.takeStatus(S, status([{ name: 'm', state: 'running', predictions: 50, failing_answers: 2 }]));
  assert.equal(st.answersFailing(S), true);
  S.pred = pred({ age_ms: 0 });
  S.predWall = 0;
  assert.equal(st.computeStale(S, 0, 1000), true);      // what is shown is older than the failing answers
  st.takeStatus(S, status([{ name: 'm', state: 'running', predictions: 51, failing_answers: 0 }]));
  assert.equal(st.answersFailing(S), false);
  assert.equal(st.bannerView(S).mode, 'standard');
});

test('the link is dead after 5 s without a message', () => {
  const S = live({ lastMessageWall: 1000 });
  assert.equal(st.linkDead(S, 1000 + st.WATCHDOG_MS), false);
  assert.equal(st.linkDead(S, 1001 + st.WATCHDOG_MS), true);
  S.conn = 'closed';
  assert.equal(st.linkDead(S, 1e9), false);
});

// ------------------------------------------------------------------ predictions kept

test('predictions: the followed model only, never an older seq, any seq after (re)connecting', () => {
  const S = st.createState();
  assert.equal(st.takePrediction(S, pred({ model: 'a', seq: 10 }), 1), true);
  assert.equal(S.model, 'a');                             // the first model named is followed
  assert.equal(st.takePrediction(S, pred({ model: 'b', seq: 11 }), 2), false);
  assert.equal(st.takePrediction(S, pred({ model: 'a', seq: 9 }), 3), false);
  assert.equal(S.pred.seq, 10);
  assert.equal(st.takePrediction(S, pred({ model: 'a', seq: 12 }), 4), true);
  assert.equal(S.predWall, 4);
  st.takeHello(S, { type: 'hello', model: 'a' }, null);  // a restarted server counts from 0 again
  assert.equal(st.takePrediction(S, pred({ model: 'a', seq: 1 }), 5), true);
});

test('the followed model: ?model=, else hello, else the first of the status', () => {
  const S = st.createState();
  st.takeStatus(S, status([{ name: 'x', state: 'running' }, { name: 'y', state: 'stopped' }]));
  st.followFirstModel(S);
  assert.equal(S.model, 'x');
  const T = st.createState({ model: 'y' });
  st.takeStatus(T, status([{ name: 'x', state: 'running' }, { name: 'y', state: 'stopped' }]));
  st.followFirstModel(T);
  assert.equal(st.followedModel(T).name, 'y');
  assert.equal(st.modelState(T), 'stopped');
  assert.equal(st.takeStatus(T, null), false);
  assert.equal(st.takeStatus(T, 'x'), false);
});

test('study arms: the parts shown', () => {
  assert.deepEqual(st.studyShow(undefined), { key: 'banner concepts overlay guidance', arm: '' });
  assert.deepEqual(st.studyShow({ arm: 'control', show: [] }), { key: '', arm: 'control' });
  assert.deepEqual(st.studyShow({ arm: 'b', show: ['banner', 'nonsense'] }), { key: 'banner', arm: 'b' });
});

// ------------------------------------------------------------------ reconnecting

test('reconnect backoff: 500 ms doubling to 3 s, within ±20 %', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 20].map((a) => st.backoffDelay(a, 0.5)), [500, 1000, 2000, 3000, 3000, 3000]);
  assert.equal(st.backoffDelay(0, 0), 400);
  assert.equal(st.backoffDelay(10, 0.999999), 3600);
  for (let a = 0; a < 8; a++) {
    const d = st.backoffDelay(a, Math.random());
    assert.ok(d >= 0.8 * st.BACKOFF_MIN_MS && d <= 1.2 * st.BACKOFF_MAX_MS, String(d));
  }
  assert.equal(st.reconnectText(2500, 1000), 'Reconnecting in 2 s');
  assert.equal(st.reconnectText(1000, 1000), 'Reconnecting…');
});

// ------------------------------------------------------------------ video message and capture notice

test('the message over the video', () => {
  const S = st.createState();
  assert.equal(st.videoMessage(S, 0), 'Connecting…');
  S.reconnectWhy = 'Connection lost';
  S.connDetail = 'Reconnecting in 2 s';
  assert.equal(st.videoMessage(S, 0), 'Reconnecting in 2 s');          // no reconnect scheduled: the detail alone
  S.retrying = true;
  assert.equal(st.videoMessage(S, 0), 'Connection lost: reconnecting in 2 s');
  S.conn = 'unauthorized';
  assert.equal(st.videoMessage(S, 0), 'Not paired');
  const T = live();
  assert.equal(st.videoMessage(T, 0), 'Waiting for video…');
  T.frame.count = 1;
  T.frame.wall = 1000;
  assert.equal(st.videoMessage(T, 1000 + st.NO_VIDEO_MS), '');
  assert.equal(st.videoMessage(T, 4100), 'No video for 3 s');
  st.takeStatus(T, status([], { source: { state: 'no signal' } }));
  assert.equal(st.videoMessage(T, 4100), '');                          // the capture notice says it
  assert.equal(st.sourceFootText(T, 2000), 'The image below is the last one received');
  assert.equal(st.sourceFootText(T, 6000), 'The image below is frozen: last one received 5 s ago');
});

test('capture notice texts: known states, the detail, an unknown state', () => {
  const S = live();
  st.takeStatus(S, status([], { source: { state: 'no signal', detail: 'no signal on the HDMI input' } }));
  assert.deepEqual(st.sourceNotice(S), { title: 'NO SIGNAL FROM THE SCANNER', detail: 'No signal on the HDMI input', hasDetail: true });
  st.takeStatus(S, status([], { source: { state: 'in use' } }));
  assert.match(st.sourceNotice(S).detail, /Another program/);
  st.takeStatus(S, status([], { source: { state: 'melted' } }));
  assert.deepEqual(st.sourceNotice(S), { title: 'VIDEO SOURCE: MELTED', detail: '', hasDetail: false });
  st.takeStatus(S, status([], {}));
  assert.equal(st.sourceInfo(S).state, 'ok');
});

// ------------------------------------------------------------------ banner

test('banner: waiting, connecting, not paired, planes', () => {
  const S = st.createState();
  assert.equal(st.bannerView(S).text, 'CONNECTING…');
  S.conn = 'open';
  assert.deepEqual([st.bannerView(S).mode, st.bannerView(S).text], ['waiting', 'WAITING FOR THE MODEL…']);
  S.pred = pred({ result: { plane: { name: 'femur_view', status: 'close', score: 7.25 } } });
  let b = st.bannerView(S);
  assert.deepEqual([b.mode, b.text, b.sub, b.status, b.plane], ['close', 'CLOSE TO STANDARD: FEMUR VIEW', 'Score 7.3', 'close', 'femur_view']);
  S.pred = pred({ result: { plane: { name: 'none', status: 'weird' } } });
  b = st.bannerView(S);
  assert.deepEqual([b.mode, b.text, b.sub], ['unknown', 'NO STANDARD PLANE', '']);
  S.pred = pred({ result: {} });
  assert.equal(st.bannerView(S).plane, '');
  S.conn = 'unauthorized';
  assert.deepEqual([st.bannerView(S).mode, st.bannerView(S).text], ['offline', 'PAIR THIS TABLET']);
  assert.match(st.bannerView(S).sub, /Enter the code/, 'the banner says what the pairing dialog asks, not another way (issue 18 #16)');
});

test('Bedside gone: the banner says so, not the last status\'s model state; the status line stops claiming a rate (issue 18 #6)', () => {
  const S = st.createState();
  st.takeStatus(S, status([{ name: 'm', state: 'restarting', rate_hz: 30.1, last_error: 'timeout after 10 s' }]));
  S.conn = 'open';
  assert.equal(st.bannerView(S).text, 'MODEL RESTARTING…');
  S.conn = 'closed';
  S.connDetail = 'Reconnecting in 2 s';
  assert.equal(st.bannerView(S).text, 'MODEL RESTARTING…', 'the socket is down but Bedside answered its probe');
  S.reconnectWhy = 'Bedside unreachable';
  const b = st.bannerView(S);
  assert.deepEqual([b.mode, b.text, b.sub], ['offline', 'BEDSIDE UNREACHABLE', 'Trying again by itself · reconnecting in 2 s']);
  assert.equal(b.sub.includes('timeout'), false, 'no old model error');
  const v = st.statusLineView(S, 0);
  assert.deepEqual([v.model.text, v.model.bad, v.rate], ['m: unknown', true, '– pred/s']);
  assert.equal(v.snapshot.disabled, true);
  S.conn = 'open';
  S.reconnectWhy = '';
  assert.equal(st.statusLineView(S, 0).snapshot.disabled, false);
  assert.equal(st.statusLineView(S, 0).rate, '30.1 pred/s');
  // Before the first status (first connection): still CONNECTING…, not unreachable.
  const T = st.createState();
  assert.equal(st.bannerView(T).text, 'CONNECTING…');
});

// ------------------------------------------------------------------ guidance, concepts, legend

test('guidance: text, arrow in words, none', () => {
  assert.deepEqual(st.guidanceView(null), { arrow: 'none', empty: true, text: 'No guidance' });
  assert.deepEqual(st.guidanceView({ text: ' tilt down ' }), { arrow: 'none', empty: false, text: 'Tilt down' });
  assert.deepEqual(st.guidanceView({ arrow: 'rotate-ccw' }), { arrow: 'rotate-ccw', empty: false, text: 'Rotate anticlockwise' });
  assert.deepEqual(st.guidanceView({ arrow: 'rotate-cw' }).text, 'Rotate clockwise');
  assert.equal(st.guidanceView({ arrow: 'sideways' }).arrow, 'none');
});

test('concepts: presence, rows, groups by plane, the current group', () => {
  assert.equal(st.presenceOf({ present: false, score: 9 }), 'false');
  assert.equal(st.presenceOf({ score: 5 }), 'true');
  assert.equal(st.presenceOf({ score: 4.9 }), 'false');
  assert.equal(st.presenceOf({}), 'unknown');
  const row = st.conceptRow({ name: 'skull_complete', score: 12, present: true }, 0);
  assert.deepEqual(row, { name: 'skull_complete', pres: 'true', score: 12, label: 'Skull complete',
    title: 'Skull complete: present', width: 100, scoreText: '12.0' });
  assert.equal(st.conceptRow({}, 2).name, 'concept 3');
  assert.equal(st.conceptRow({ score: -1 }, 0).width, 0);
  const groups = st.groupConcepts([{ plane: 'head' }, { plane: 'abdomen' }, {}, { plane: 'head' }]);
  assert.deepEqual([...groups.keys()], ['head', 'abdomen', '']);
  assert.deepEqual(groups.get('head').map((x) => x.i), [0, 3]);
  assert.equal(st.chooseGroup(groups, 'abdomen', null), 'abdomen');
  assert.equal(st.chooseGroup(groups, 'femur', ''), '');
  assert.equal(st.chooseGroup(groups, null, null), 'head');
  assert.equal(st.chooseGroup(new Map(), 'head', 'head'), null);
});

test('legend: every class, or only those in the map when there are many', () => {
  assert.deepEqual(st.legendItems(null), { key: 'none', items: [], empty: 'No segmentation' });
  const few = st.legendItems({ classes: ['background', 'skull', 'brain'], seen: new Set([2]), maxLabel: 2 });
  assert.deepEqual(few.items, [{ i: 1, name: 'Skull', seen: false }, { i: 2, name: 'Brain', seen: true }]);
  const many = st.legendItems({ classes: null, seen: new Set([3, 9]), maxLabel: 9 });
  assert.deepEqual(many.items.map((x) => x.name), ['class 3', 'class 9']);
  assert.equal(st.legendItems({ classes: ['background'], seen: new Set(), maxLabel: 0 }).empty, 'No structures outlined');
});

// ------------------------------------------------------------------ view and overlay geometry

test('crop view: the crop clipped to the source, scaled to the JPEG', () => {
  const S = live();
  S.hello = { width: 1280, height: 720 };
  S.pred = pred({ crop: { x: -10, y: 600, width: 500, height: 500 } });
  assert.deepEqual(st.currentCrop(S), { x: 0, y: 600, width: 490, height: 120 });
  S.pred = pred({ crop: { x: 248, y: 72, width: 784, height: 610 } });
  S.frame.width = 640;                                    // JPEGs at half size
  S.frame.height = 360;
  let { view, crop } = st.computeView(S, 1280, 720);
  assert.ok(crop);
  assert.equal(view.mode, 'full');
  assert.deepEqual([view.cw, view.ch, view.kx, view.ky], [640, 360, 0.5, 0.5]);
  S.viewPref = 'crop';
  ({ view } = st.computeView(S, 640, 360));
  assert.deepEqual(view, { mode: 'crop', x: 124, y: 36, w: 392, h: 305, cw: 392, ch: 305, kx: 0.5, ky: 0.5 });
  assert.equal(st.sameView(view, { ...view }), true);
  assert.equal(st.sameView(view, { ...view, kx: 1 }), false);
  assert.equal(st.sameView(null, view), false);
  // The label map over the crop fills the crop view exactly.
  const r = st.overlayRect({ x: 248, y: 72, width: 784, height: 610 }, view, st.jpegScale(S, 392, 305), 392, 305);
  assert.deepEqual(r, { x: 0, y: 0, width: 392, height: 305 });
  // Without a crop the map covers the whole JPEG.
  assert.deepEqual(st.overlayRect(null, null, { jw: 640, jh: 360, kx: 1, ky: 1 }, 1280, 720), { x: 0, y: 0, width: 1280, height: 720 });
  // No crop known: no crop view, even when chosen.
  const T = live({ viewPref: 'crop' });
  assert.equal(st.computeView(T, 1280, 720).view.mode, 'full');
  assert.equal(st.computeView(T, 1280, 720).crop, null);
});

// ------------------------------------------------------------------ status line, fps

test('status line texts', () => {
  const S = st.createState();
  let v = st.statusLineView(S, 0);
  assert.deepEqual([v.model.text, v.rate, v.latency, v.age, v.rec.text, v.viewers], ['model: –', '– pred/s', 'latency –', 'result age –', 'rec –', '– viewers']);
  assert.equal('recButton' in v, false, 'no recording action on the tablet (issue 18 #12)');
  st.takeStatus(S, status([{ name: 'm', state: 'running', rate_hz: 9.94, latency_ms: 1234 }], {
    viewers: 1, recording: { state: 'paused', alert: 'Disk almost full', frames_dropped: 3 },
    source: { state: 'ok', mode: 'YUYV 1920x1080@60', description: 'capture box' },
  }));
  v = st.statusLineView(S, 0);
  assert.deepEqual([v.model.text, v.rate, v.latency, v.viewers], ['m: running', '9.9 pred/s', 'latency 1.2 s', '1 viewer']);
  assert.deepEqual(v.rec, { state: 'paused', text: 'rec paused (3 dropped)', title: null });
  assert.equal(v.alert, 'Disk almost full');
  assert.deepEqual(v.source, { hidden: false, state: 'ok', text: 'YUYV 1920x1080@60', title: 'capture box · YUYV 1920x1080@60' });
  st.takeStatus(S, status([], { viewers: 0, recording: { state: 'failed', error: 'disk gone' }, source: { state: 'ended' } }));
  v = st.statusLineView(S, 0);
  assert.equal(v.alert, 'Recording failed: disk gone');
  assert.equal(v.viewers, '0 viewers');
  assert.equal(v.source.text, 'capture: ended');
});

test('frame rate over the last second; the badge is low under 60 % of the source rate', () => {
  const S = live();
  S.hello = { fps: 30 };
  S.fpsTimes = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];
  S.frame.count = 11;
  S.frame.wall = 1000;
  const fps = st.frameRate(S, 1000);
  assert.equal(fps, 10);
  assert.deepEqual(st.fpsBadge(S, fps), { text: '10', low: true });
  assert.deepEqual(st.fpsBadge(S, 29.5), { text: '30', low: false });
  assert.equal(st.frameRate(S, 2500), 0);               // a second without a frame
  assert.deepEqual(S.fpsTimes, []);
  assert.equal(st.fpsBadge(st.createState(), 0).text, '–');
});

test('drawn reports: the newest 16, due every 100 ms', () => {
  const p = st.createPaintLog();
  assert.equal(st.notePaintDone(p, 1, 50, 16, 100), false);
  for (let i = 2; i <= 20; i++) st.notePaintDone(p, i, 60, 16, 100);
  assert.equal(p.done.length, 16);
  assert.equal(p.done[0].seq, 5);
  assert.equal(p.count, 20);
  assert.equal(st.notePaintDone(p, 21, 100, 16, 100), true);
});

test('drawn reports carry a frame\'s stages only when they are in order', () => {
  const p = st.createPaintLog();
  st.notePaintDone(p, 1, 50, 16, 100, { received: 20, decoded: 40 });
  st.notePaintDone(p, 2, 60, 16, 100, { received: 45, decoded: 30 });      // decoded before it arrived
  st.notePaintDone(p, 3, 70, 16, 100, { received: 20, decoded: 80 });      // decoded after it was painted
  st.notePaintDone(p, 4, 80, 16, 100, { received: undefined, decoded: 75 });
  st.notePaintDone(p, 5, 90, 16, 100);
  assert.deepEqual(p.done, [{ seq: 1, at: 50, received: 20, decoded: 40 }, { seq: 2, at: 60 }, { seq: 3, at: 70 },
    { seq: 4, at: 80 }, { seq: 5, at: 90 }]);
});

test('format helpers', () => {
  assert.equal(humanise('skull__complete-view'), 'Skull complete view');
  assert.equal(humanise(null), '');
  assert.equal(formatAge(999.4), '999 ms');
  assert.equal(formatAge(1250), '1.3 s');
});

test('the view toggle says what a tap does, not what is shown (issue 18 #17)', () => {
  assert.deepEqual([st.viewToggleView('full').text, st.viewToggleView('full').pressed], ['Zoom to model area', false]);
  assert.deepEqual([st.viewToggleView('crop').text, st.viewToggleView('crop').pressed], ['Show full image', true]);
});

test('a confidence shows under a plane that was found, never under NO STANDARD PLANE (issue 18 #2)', () => {
  const S = st.createState();
  const answer = (seq, plane) => ({ type: 'prediction', model: 'm', seq, pts_ns: seq, result: { plane } });
  st.takePrediction(S, answer(1, { name: 'none', status: 'unknown', score: 1.0 }), 0);
  let b = st.bannerView(S);
  assert.equal(b.text, 'NO STANDARD PLANE');
  assert.equal(b.sub, '');
  st.takePrediction(S, answer(2, { name: 'head', status: 'close', score: 0.62 }), 0);
  b = st.bannerView(S);
  assert.deepEqual([b.text, b.sub], ['CLOSE TO STANDARD: HEAD', 'Confidence 62%']);
});

test('an arm without the banner says LIVE VIDEO, and nothing about the model (issue 18 #11)', () => {
  const S = st.createState();
  S.conn = 'open';
  st.takeStatus(S, status([{ name: 'm', state: 'failing', last_error: 'boom' }]));
  S.showKey = '';
  assert.deepEqual([st.bannerView(S).mode, st.bannerView(S).text, st.bannerView(S).sub], ['video', 'LIVE VIDEO', '']);
  S.showKey = 'banner';
  assert.equal(st.bannerView(S).mode, 'model', 'the status arm shows the model state');
  S.showKey = '';
  S.conn = 'unauthorized';
  assert.equal(st.bannerView(S).text, 'PAIR THIS TABLET', 'pairing is about the tablet, in every arm');
});

test('a running model that stopped answering: no rate from the last minute, how long it has been silent (issue 18 #8)', () => {
  const S = st.createState();
  S.conn = 'open';
  st.takeStatus(S, status([{ name: 'm', state: 'running', rate_hz: 24.7 }]));
  S.pred = { type: 'prediction', model: 'm', seq: 5, age_ms: 0, result: {} };
  S.predWall = 0;
  assert.equal(st.statusLineView(S, 100).rate, '24.7 pred/s');
  S.stale = true;
  const v = st.statusLineView(S, 3200);
  assert.deepEqual([v.model.text, v.model.bad, v.rate], ['m: no answer for 3.2 s', true, '– pred/s']);
});

test('an answer waits for the frame it explains (issue 18 #7: the overlay ran ahead of the video)', () => {
  // Painted 7502, the answer is for 7505: held, not drawn over 7502.
  assert.equal(st.answerDue({ seq: 7505, since: 1000 }, 7502, 990, 1000), false);
  // 7505 (or later) painted: drawn.
  assert.equal(st.answerDue({ seq: 7505, since: 1000 }, 7505, 1040, 1040), true);
  assert.equal(st.answerDue({ seq: 7505, since: 1000 }, 7507, 1070, 1070), true);
  // An answer for an earlier frame is drawn at once (the usual case: answers come after their frame).
  assert.equal(st.answerDue({ seq: 7400, since: 1000 }, 7502, 990, 1000), true);
  // No picture yet, or no sequence numbers: nothing to run ahead of.
  assert.equal(st.answerDue({ seq: 5, since: 0 }, null, 0, 0), true);
  assert.equal(st.answerDue({ seq: null, since: 0 }, 3, 0, 0), true);
  // The video stopped (nothing painted for 1.5 s): the answer is shown rather than kept back for ever.
  assert.equal(st.answerDue({ seq: 7505, since: 1000 }, 7502, 1000, 2400), false);
  assert.equal(st.answerDue({ seq: 7505, since: 1000 }, 7502, 1000, 2500), true);
  // A restarted server numbers from 0 again: its answers are not held behind the old numbers.
  assert.equal(st.answerDue({ seq: 10, since: 0 }, 900000, 0, 0), true);
  assert.equal(st.answerDue({ seq: 900000, since: 0 }, 10, 0, 0), true);
});
