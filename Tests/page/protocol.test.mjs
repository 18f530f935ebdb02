// The page's own parser against the viewer protocol examples (Tests/ProtocolExamples/viewer/), which the
// Swift tests decode too: what the server sends, the page understands; what the page sends, the server reads.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import {
  parseServerText, parseFrame, resultParts, predictionCrop, predictionTruth, decodeSegmentation,
  drawnMessage, REPORT_MAX, validRect, SERVER_TYPES,
} from '../../Sources/Web/Page/js/protocol.js';
import { createState, takeHello, takeStatus, takePrediction, followedModel, sourceInfo, statusLineView, bannerView }
  from '../../Sources/Web/Page/js/state.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const examples = path.join(here, '..', 'ProtocolExamples', 'viewer');
const text = (name) => readFileSync(path.join(examples, name), 'utf8');
const serverFiles = readdirSync(examples).filter((f) => f.startsWith('server-') && f.endsWith('.json')).sort();

test('there is an example of every server message type', () => {
  const types = new Set(serverFiles.map((f) => JSON.parse(text(f)).type));
  assert.deepEqual([...types].sort(), [...SERVER_TYPES].sort());
  assert.ok(serverFiles.includes('server-prediction-minimal.json'));
});

for (const file of serverFiles) {
  test(`${file} decodes with the page's parser`, () => {
    const m = parseServerText(text(file));
    assert.ok(m, `${file} was ignored`);
    const expected = file.replace(/^server-/, '').replace(/(-minimal)?\.json$/, '');
    assert.equal(m.type, expected);
    // And the state takes it without throwing.
    const S = createState();
    if (m.type === 'hello') takeHello(S, m, null);
    if (m.type === 'status') assert.equal(takeStatus(S, m), true);
    if (m.type === 'prediction') assert.equal(takePrediction(S, m, 0), true);
    bannerView(S);
    statusLineView(S, 0);
  });
}

test('hello: the followed model, capture size, stale_ms', () => {
  const m = parseServerText(text('server-hello.json'));
  const S = createState();
  takeHello(S, m, null);
  assert.equal(S.model, 'pcbm-demo');
  assert.equal(m.width, 1280);
  assert.equal(m.height, 720);
  assert.equal(m.stale_ms, 1000);
  assert.equal(S.acceptAnySeq, true);
  // ?model= wins over hello's model.
  const T = createState({ model: 'other' });
  takeHello(T, m, 'other');
  assert.equal(T.model, 'other');
});

test('status: source, models, recording, viewers_latency as the page reads them', () => {
  const m = parseServerText(text('server-status.json'));
  const S = createState({ model: 'pcbm-demo' });
  takeStatus(S, m);
  assert.equal(sourceInfo(S).state, 'ok');
  assert.equal(followedModel(S).name, 'pcbm-demo');
  assert.deepEqual(validRect(followedModel(S).crop), { x: 248, y: 72, width: 784, height: 610 });
  const v = statusLineView(S, 0);
  assert.equal(v.model.text, 'pcbm-demo: running');
  assert.equal(v.model.bad, false);
  assert.equal(v.rate, '29.8 pred/s');
  assert.equal(v.latency, 'latency 36 ms');
  assert.equal(v.rec.state, 'recording');
  assert.equal(v.rec.text, 'REC');
  assert.equal(v.alert, '');
  assert.equal(v.source.text, 'YUYV 1920x1080@60');
  assert.equal(typeof m.viewers_latency.capture_to_drawn_ms.p50, 'number');
  // Following the other model: its failing state and error.
  const T = createState({ model: 'detector' });
  takeStatus(T, m);
  const w = statusLineView(T, 0);
  assert.equal(w.model.text, 'detector: failing');
  assert.equal(w.model.bad, true);
  assert.match(w.model.title, /ModuleNotFoundError/);
  assert.equal(bannerView(T).text, 'MODEL FAILING');
});

test('prediction: crop, truth and the result object', () => {
  const m = parseServerText(text('server-prediction.json'));
  assert.deepEqual(predictionCrop(m), { x: 248, y: 72, width: 784, height: 610 });
  assert.deepEqual(predictionTruth(m), { plane: 'head', status: 'standard' });
  const { plane, concepts, segmentation, guidance } = resultParts(m);
  assert.deepEqual(plane, { name: 'head', status: 'standard', score: 0.93 });
  assert.equal(concepts.length, 3);
  assert.deepEqual(guidance, { text: 'move the probe left', arrow: 'left' });
  const seg = decodeSegmentation(segmentation);
  assert.equal(seg.width, 4);
  assert.equal(seg.height, 3);
  assert.deepEqual([...seg.labels], [0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 0, 0]);
  assert.deepEqual([...seg.seen].sort(), [1, 2]);
  assert.equal(seg.maxLabel, 2);
  assert.deepEqual(seg.classes, ['background', 'skull', 'brain']);

  const S = createState();
  takePrediction(S, m, 0);
  const b = bannerView(S);
  assert.equal(b.mode, 'standard');
  assert.equal(b.text, 'STANDARD PLANE: HEAD');
  assert.equal(b.sub, 'Confidence 93%');
  assert.equal(statusLineView(S, 0).truth.text, 'phantom truth: head standard');
});

test('prediction without crop or truth', () => {
  const m = parseServerText(text('server-prediction-minimal.json'));
  assert.equal(predictionCrop(m), null);
  assert.equal(predictionTruth(m), null);
  const { plane, concepts, segmentation, guidance } = resultParts(m);
  assert.equal(plane.status, 'close');
  assert.deepEqual(concepts, []);
  assert.equal(segmentation, null);
  assert.equal(guidance, null);
  assert.equal(decodeSegmentation(segmentation), null);
  const S = createState();
  takePrediction(S, m, 0);
  assert.equal(bannerView(S).text, 'CLOSE TO STANDARD: ABDOMEN');
  assert.equal(statusLineView(S, 0).truth, null);
});

test('page-drawn.json is what the page sends', () => {
  const example = JSON.parse(text('page-drawn.json'));
  const sent = drawnMessage([{ seq: 122, at: 87.5 }, { seq: 123, at: 99.6, received: 80.1, decoded: 91.35 }], 100);
  assert.deepEqual(JSON.parse(sent), example);
  assert.ok(REPORT_MAX <= 32, 'the server ignores reports of more than 32 frames');
  // ago_ms is never negative (a frame painted "after" now by clock jitter).
  assert.equal(JSON.parse(drawnMessage([{ seq: 1, at: 101 }], 100)).frames[0].ago_ms, 0);
});

test('what the page ignores', () => {
  for (const t of ['', 'not json', '[]', 'null', '42', '"hello"', '{"type":"frame"}', '{}', text('page-drawn.json')]) {
    assert.equal(parseServerText(t), null, t);
  }
});

test('binary frames: 16-byte header, then the JPEG', () => {
  const buf = new ArrayBuffer(16 + 3);
  const v = new DataView(buf);
  v.setBigUint64(0, 123n, true);
  v.setBigUint64(8, 4133333333n, true);
  new Uint8Array(buf, 16).set([0xff, 0xd8, 0xff]);
  const f = parseFrame(buf);
  assert.equal(f.seq, 123);
  assert.equal(f.pts, 4133333333);
  assert.deepEqual([...f.jpeg], [0xff, 0xd8, 0xff]);
  assert.equal(parseFrame(new ArrayBuffer(16)), null);
  assert.equal(parseFrame('text'), null);
});

test('segmentation: unusable maps are dropped, runs are clipped', () => {
  assert.equal(decodeSegmentation(null), null);
  assert.equal(decodeSegmentation({ width: 0, height: 2, data: [] }), null);
  assert.equal(decodeSegmentation({ width: 2, height: 2, encoding: 'png', data: [] }), null);
  assert.equal(decodeSegmentation({ width: 5000, height: 5000, data: [] }), null);
  assert.equal(decodeSegmentation({ width: 2, height: 2 }), null);
  const s = decodeSegmentation({ width: 2, height: 2, data: [3, 10, 1, 5] });
  assert.deepEqual([...s.labels], [3, 3, 3, 3]);
  assert.deepEqual([...s.seen], [3]);
  assert.equal(s.classes, null);
});
