// The review player's decisions (Sources/Web/Page/js/review-model.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as R from '../../Sources/Web/Page/js/review-model.js';
import { labelPixels } from '../../Sources/Web/Page/js/segmentation.js';
import { planeText } from '../../Sources/Web/Page/js/state.js';

const segments = [
  { file: 'video-000.mp4', start_s: 0, duration_s: 300, frames: 9000 },
  { file: 'video-001.mp4', start_s: 300, duration_s: 120.5, frames: 3615 },
];

test('the file that holds a time, and the time inside it', () => {
  assert.deepEqual(R.segmentAt(segments, 0), { index: 0, local: 0 });
  assert.deepEqual(R.segmentAt(segments, 299.9), { index: 0, local: 299.9 });
  assert.deepEqual(R.segmentAt(segments, 300), { index: 1, local: 0 });
  assert.equal(R.segmentAt(segments, 350.25).local, 50.25);
  assert.deepEqual(R.segmentAt(segments, 9999), { index: 1, local: 120.5 });  // past the end: the last frame
  assert.deepEqual(R.segmentAt(segments, -3), { index: 0, local: 0 });
  assert.equal(R.segmentAt([], 3), null);
});

const answers = [
  { model: 'a', seq: 10, pts_s: 0.333 },
  { model: 'b', seq: 10, pts_s: 0.333 },
  { model: 'a', seq: 40, pts_s: 1.333 },
  { model: 'a', seq: 41, pts_s: 1.366 },
  { model: 'a', seq: 400, pts_s: 13.333 },
];

test('the answer drawn is the one for the frame on screen, or the latest before it', () => {
  assert.equal(R.answerAt(answers, 'a', 1.333).answer.seq, 40);          // that frame's own answer
  assert.equal(R.answerAt(answers, 'a', 1.333).ageS, 0);
  assert.equal(R.answerAt(answers, 'a', 1.35).answer.seq, 40);           // a frame the model did not answer
  assert.equal(R.answerAt(answers, 'a', 1.3659).answer.seq, 41);         // rounding: within 2 ms is that frame
  assert.equal(R.answerAt(answers, 'b', 1.35).answer.seq, 10);           // each model its own answers
  assert.equal(R.answerAt(answers, 'a', 0.2), null);                     // not answered yet
  assert.equal(R.answerAt(answers, 'a', 8), null);                       // silent for > 3 s: nothing, not an old answer
  assert.equal(R.answerAt(answers, 'a', 13.4).answer.seq, 400);
  assert.equal(R.answerAt([], 'a', 1), null);
});

test('answers are fetched in 20 s windows: the one holding the time and the one before', () => {
  assert.deepEqual(R.windowsFor(0), [0]);
  assert.deepEqual(R.windowsFor(19.9), [0]);
  assert.deepEqual(R.windowsFor(20), [0, 1]);
  assert.deepEqual(R.windowsFor(65), [2, 3]);
  const merged = R.mergeAnswers([answers[2]], [answers[0], answers[2], answers[4]]);
  assert.deepEqual(merged.map((a) => a.seq), [10, 40, 400]);
});

test('times on the strip and back', () => {
  assert.equal(R.percentOf(30, 120), 25);
  assert.equal(R.percentOf(500, 120), 100);
  assert.equal(R.timeAtX(100 + 250, 100, 1000, 120), 30);
  assert.equal(R.timeAtX(0, 100, 1000, 120), 0);
  assert.equal(R.timeAtX(5000, 100, 1000, 120), 120);
  assert.equal(R.frameAt(1.3333, 30), 40);
  assert.deepEqual(R.ticks(12, 10), [0, 2, 4, 6, 8, 10, 12]);
  assert.equal(R.ticks(3600, 10).length <= 11, true);
  assert.equal(R.clock(5.04), '5.0 s');
  assert.equal(R.clock(62.5), '1:02.5');
  assert.equal(R.clock(3723), '1:02:03.0');
});

test('the overlay covers the letterboxed picture, the label map its crop', () => {
  const r = R.contentRect(1000, 1000, 1920, 1080);
  assert.deepEqual([r.x, r.y, r.width, r.height].map((v) => Math.round(v * 100) / 100 + 0), [0, 218.75, 1000, 562.5]);
  assert.equal(R.contentRect(0, 10, 10, 10).width, 0);
  assert.deepEqual(R.answerRect({ x: 10, y: 20, width: 300, height: 200 }, 640, 480), { x: 10, y: 20, width: 300, height: 200 });
  assert.deepEqual(R.answerRect(null, 640, 480), { x: 0, y: 0, width: 640, height: 480 });
  assert.deepEqual(R.answerRect({ x: 0, y: 0, width: 0, height: 5 }, 640, 480), { x: 0, y: 0, width: 640, height: 480 });
});

test('the review draws a label map and words a plane as the tablet does', () => {
  const px = labelPixels({ width: 3, height: 1, labels: Uint16Array.from([0, 1, 1]) });
  assert.equal(px[3], 0);              // class 0: transparent
  assert.ok(px[7] > 0 && px[11] > 0);  // class 1: coloured
  assert.equal(planeText({ status: 'standard', name: 'head' }), 'STANDARD PLANE: HEAD');
  assert.equal(planeText({ status: 'close', name: 'abdomen' }), 'CLOSE TO STANDARD: ABDOMEN');
  assert.equal(planeText({ status: 'unknown', name: 'none' }), 'NO STANDARD PLANE');
  assert.equal(planeText(null), 'NO STANDARD PLANE');
});

test('marks close together go to separate lanes, so each can be clicked', () => {
  assert.deepEqual(R.lanes([1, 5, 9], 1), [0, 0, 0]);
  assert.deepEqual(R.lanes([5.0, 5.04, 5.3, 9], 0.5), [0, 1, 2, 0]);
  assert.deepEqual(R.lanes([5.04, 5.0], 0.5), [1, 0]);     // in time order, whatever the order given
  assert.deepEqual(R.lanes([], 1), []);
});

test('the admin API: the token in the query, the PIN only in a header, {} for a body that is not JSON', async () => {
  const { apiURL, adminCaller } = await import('../../Sources/Web/Page/js/admin-api.js');
  assert.equal(apiURL('http://box:8080/admin?token=abc&x=1', 'abc', 'study/arm', { arm: 'full' }),
    'http://box:8080/api/study/arm?token=abc&arm=full');
  assert.equal(apiURL('https://box/review', '', 'review/sessions'), 'https://box/api/review/sessions');
  let pin = '1234';
  const seen = [];
  const call = adminCaller({
    base: 'http://box:8080/admin', token: 't', pin: () => pin,
    fetchFn: async (u, init) => { seen.push([u, init]); return { status: 403, json: async () => { throw new Error('html'); } }; },
  });
  pin = '5678';
  assert.deepEqual(await call('admin/overview'), { status: 403, body: {} });
  assert.equal(seen[0][0], 'http://box:8080/api/admin/overview?token=t');
  assert.equal(seen[0][1].method, 'POST');
  assert.equal(seen[0][1].headers['X-Admin-PIN'], '5678', 'the PIN at the time of the call');
  assert.ok(!seen[0][0].includes('5678'), 'never in the address');
});
