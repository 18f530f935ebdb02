// The link to Bedside: an HTTP probe of /api/status, then the WebSocket /ws; reconnects with backoff
// (state.js backoffDelay) and stops for good on a refused token. No DOM: the browser's WebSocket, fetch and
// timers are the defaults of `env`, which a test may replace.
//
// hooks (all optional):
//   state(state, detail, why)  the link is now open | closed | unauthorized; `detail` says it in words,
//                              `why` is given when a reconnect was just scheduled ("Connection lost")
//   status(m)                  the probe's /api/status answer (parsed JSON)
//   open()                     the socket opened (before state('open'))
//   message(data)              a message: a string (JSON text) or an ArrayBuffer (a frame)
//   unauthorized()             the token was refused (before state('unauthorized'))

import { backoffDelay, reconnectText } from './state.js';

const PROBE_TIMEOUT_MS = 4000;
// Application close codes a server may use for a bad or revoked token.
const UNAUTHORIZED_CODES = [4401, 4403, 1008];

const browserEnv = () => ({
  WebSocket: globalThis.WebSocket,
  fetch: (...a) => globalThis.fetch(...a),
  setTimeout: (...a) => globalThis.setTimeout(...a),
  clearTimeout: (...a) => globalThis.clearTimeout(...a),
  now: () => performance.now(),
  random: () => Math.random(),
});

function timeoutSignal(ms, env) {
  if (typeof AbortSignal !== 'undefined' && AbortSignal.timeout) return AbortSignal.timeout(ms);
  if (typeof AbortController === 'undefined') return undefined;
  const c = new AbortController();
  env.setTimeout(() => c.abort(), ms);
  return c.signal;
}

export class Connection {
  /** `probeURL()`, `socketURL()`: where to probe and connect (they carry the token). */
  constructor({ probeURL, socketURL, hooks = {}, env = {} }) {
    this.probeURL = probeURL;
    this.socketURL = socketURL;
    this.hooks = hooks;
    this.env = { ...browserEnv(), ...env };
    this.state = 'closed';
    this.gen = 0;            // bumps on every attempt; events from older sockets are ignored
    this.ws = null;
    this.attempt = 0;
    this.retryAt = 0;
    this.retryTimer = null;
  }

  /** The open socket (null while there is none). */
  get socket() { return this.ws; }

  /** A reconnect is scheduled. */
  get retrying() { return !!this.retryTimer; }

  /** "Reconnecting in 2 s" while one is scheduled. */
  reconnectText() { return reconnectText(this.retryAt, this.env.now()); }

  setState(state, detail, why) {
    this.state = state;
    if (this.hooks.state) this.hooks.state(state, detail, why);
  }

  async connect() {
    this.env.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = 0;
    const my = ++this.gen;
    if (this.ws) { dropSocket(this.ws); this.ws = null; }
    this.setState('closed', this.attempt ? 'Reconnecting…' : 'Connecting…');

    // Ask over HTTP first: a WebSocket refused with 401 looks like any network error to the page,
    // while fetch tells "bad token" apart from "server unreachable".
    let probe;
    try {
      probe = await this.env.fetch(this.probeURL(), { cache: 'no-store', signal: timeoutSignal(PROBE_TIMEOUT_MS, this.env) });
    } catch (_) {
      if (my !== this.gen) return;
      return this.scheduleReconnect('Bedside unreachable');
    }
    if (my !== this.gen) return;
    if (probe.status === 401 || probe.status === 403) return this.unauthorized();
    if (probe.ok) {
      try {
        const m = await probe.json();
        if (this.hooks.status) this.hooks.status(m);
      } catch (_) { /* not JSON: ignore */ }
      if (my !== this.gen) return;
    }
    this.openSocket(my);
  }

  openSocket(my) {
    let sock;
    try {
      sock = new this.env.WebSocket(this.socketURL());
    } catch (_) {
      return this.scheduleReconnect('Could not open the connection');
    }
    this.ws = sock;
    sock.binaryType = 'arraybuffer';
    let opened = false;
    sock.onopen = () => {
      if (my !== this.gen) return;
      opened = true;
      this.attempt = 0;
      if (this.hooks.open) this.hooks.open();
      this.setState('open', 'Live');
    };
    sock.onmessage = (ev) => {
      if (my !== this.gen) return;
      if (this.hooks.message) this.hooks.message(ev.data);
    };
    sock.onerror = () => { /* a close event follows */ };
    sock.onclose = (ev) => {
      if (my !== this.gen) return;
      this.ws = null;
      if (UNAUTHORIZED_CODES.includes(ev.code)) return this.unauthorized();
      this.scheduleReconnect(opened ? 'Connection lost' : 'Could not connect');
    };
  }

  scheduleReconnect(why) {
    this.gen++;
    if (this.ws) { dropSocket(this.ws); this.ws = null; }
    const delay = backoffDelay(this.attempt, this.env.random());
    this.attempt++;
    this.retryAt = this.env.now() + delay;
    this.env.clearTimeout(this.retryTimer);
    this.retryTimer = this.env.setTimeout(() => this.connect(), delay);
    this.setState('closed', this.reconnectText(), why);
  }

  unauthorized() {
    this.gen++;
    this.env.clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = 0;
    if (this.ws) { dropSocket(this.ws); this.ws = null; }
    if (this.hooks.unauthorized) this.hooks.unauthorized();
    this.setState('unauthorized', 'Not paired');
  }

  /** Reconnect at once (the tablet woke up, the Wi-Fi came back) when a reconnect is waiting. */
  reconnectNow() {
    if (this.state === 'unauthorized') return;
    if (this.retryTimer) { this.attempt = Math.max(0, this.attempt - 1); this.connect(); }
  }
}

function dropSocket(sock) {
  sock.onopen = sock.onmessage = sock.onerror = sock.onclose = null;
  try { sock.close(); } catch (_) { /* already closed */ }
}
