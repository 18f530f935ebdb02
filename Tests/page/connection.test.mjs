// The connection's life cycle with a fake WebSocket, fetch and clock: probe, open, lost, backoff, refused token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Connection } from '../../Sources/Web/Page/js/connection.js';

function harness(probe) {
  const sockets = [];
  const timers = [];
  const events = [];
  class FakeSocket {
    constructor(url) { this.url = url; this.closed = false; sockets.push(this); }
    close() { this.closed = true; }
  }
  const env = {
    WebSocket: FakeSocket,
    fetch: async () => probe(),
    setTimeout: (fn, ms) => { const t = { fn, ms }; timers.push(t); return t; },
    clearTimeout: (t) => { if (t) t.cleared = true; },
    now: () => 0,
    random: () => 0.5,
  };
  const conn = new Connection({
    probeURL: () => 'http://x/api/status?token=t',
    socketURL: () => 'ws://x/ws?token=t',
    hooks: {
      state: (s, d, why) => events.push(why ? `${s}: ${d} (${why})` : `${s}: ${d}`),
      status: (m) => events.push(`status ${m.type}`),
      open: () => events.push('open'),
      message: (data) => events.push(`message ${data}`),
      unauthorized: () => events.push('unauthorized'),
    },
    env,
  });
  return { conn, sockets, timers, events };
}
const ok = () => ({ ok: true, status: 200, json: async () => ({ type: 'status' }) });
const flush = () => new Promise((r) => setImmediate(r));

test('probe, socket, messages; a lost link reconnects with growing backoff', async () => {
  const h = harness(ok);
  await h.conn.connect();
  assert.equal(h.sockets.length, 1);
  assert.equal(h.sockets[0].binaryType, 'arraybuffer');
  h.sockets[0].onopen();
  h.sockets[0].onmessage({ data: '{"type":"hello"}' });
  assert.deepEqual(h.events, ['closed: Connecting…', 'status status', 'open', 'open: Live', 'message {"type":"hello"}']);
  assert.equal(h.conn.state, 'open');
  assert.equal(h.conn.socket, h.sockets[0]);

  h.sockets[0].onclose({ code: 1006 });
  assert.equal(h.events.at(-1), 'closed: Reconnecting in 1 s (Connection lost)');
  assert.equal(h.conn.retrying, true);
  assert.equal(h.timers.at(-1).ms, 500);
  // The next attempts fail before the socket opens: 1 s, 2 s, then 3 s at most.
  for (const want of [1000, 2000, 3000, 3000]) {
    h.timers.at(-1).fn();
    await flush();
    h.sockets.at(-1).onclose({ code: 1006 });
    assert.equal(h.timers.at(-1).ms, want);
    assert.match(h.events.at(-1), /\(Could not connect\)$/);
  }
  // Opening resets the backoff.
  h.timers.at(-1).fn();
  await flush();
  h.sockets.at(-1).onopen();
  h.sockets.at(-1).onclose({ code: 1006 });
  assert.equal(h.timers.at(-1).ms, 500);
});

test('events of an older socket are ignored', async () => {
  const h = harness(ok);
  await h.conn.connect();
  const old = h.sockets[0];
  const oldOpen = old.onopen;
  await h.conn.connect();                   // a second attempt drops the first socket
  assert.equal(old.closed, true);
  assert.equal(old.onopen, null);
  const before = h.events.length;
  oldOpen();
  assert.equal(h.events.length, before);
});

test('a refused token stops for good: from the probe or the close code', async () => {
  for (const how of ['probe', 4401, 4403, 1008]) {
    const h = harness(how === 'probe' ? () => ({ ok: false, status: 401 }) : ok);
    await h.conn.connect();
    if (how !== 'probe') { h.sockets[0].onopen(); h.sockets[0].onclose({ code: how }); }
    assert.deepEqual(h.events.slice(-2), ['unauthorized', 'unauthorized: Not paired'], String(how));
    assert.equal(h.conn.retrying, false);
    const n = h.timers.length;
    h.conn.reconnectNow();
    assert.equal(h.timers.length, n);
    assert.equal(h.conn.state, 'unauthorized');
  }
});

test('an unreachable server: reconnect scheduled; reconnectNow tries at once', async () => {
  const h = harness(() => { throw new TypeError('fetch failed'); });
  await h.conn.connect();
  assert.equal(h.events.at(-1), 'closed: Reconnecting in 1 s (Bedside unreachable)');
  assert.equal(h.sockets.length, 0);
  h.conn.reconnectNow();
  await flush();
  assert.equal(h.events.filter((e) => e === 'closed: Connecting…').length, 2);
  // Back to the first delay: reconnectNow does not count as a failed attempt.
  assert.equal(h.timers.at(-1).ms, 500);
});
