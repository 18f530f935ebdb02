// The page's one state object and what comes from the address: the token (kept in sessionStorage for
// reloads), ?model= and ?stale_ms=. Every drawing module reads the same `S`; the decisions about it are
// the pure functions of state.js.

import { createState, slowModel as slowModelOf, staleMs as staleMsOf } from './state.js';

export const params = new URLSearchParams(location.search);
export const TOKEN_KEY = 'bedside.token';
const OVERLAY_KEY = 'bedside.overlay';
const VIEW_KEY = 'bedside.view';

let token = params.get('token') || '';
try {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else token = sessionStorage.getItem(TOKEN_KEY) || '';
} catch (_) { /* storage disabled: the query string is all we have */ }

export const getToken = () => token;
/** After pairing, the cookie identifies this tablet: a stale link token must not shadow it. */
export function forgetToken() {
  token = '';
  try { sessionStorage.removeItem(TOKEN_KEY); } catch (_) { /* ignore */ }
}

const numberParam = (name) => {
  const v = Number(params.get(name));
  return params.has(name) && Number.isFinite(v) && v > 0 ? v : null;
};
const staleParam = numberParam('stale_ms');
export const modelParam = params.get('model') || null;

function readOverlayPref() {
  try { return localStorage.getItem(OVERLAY_KEY) !== 'off'; } catch (_) { return true; }
}
function readViewPref() {
  try { return localStorage.getItem(VIEW_KEY) === 'crop' ? 'crop' : 'full'; } catch (_) { return 'full'; }
}
export function saveOverlayPref(on) {
  try { localStorage.setItem(OVERLAY_KEY, on ? 'on' : 'off'); } catch (_) { /* ignore */ }
}
export function saveViewPref(mode) {
  try { localStorage.setItem(VIEW_KEY, mode); } catch (_) { /* ignore */ }
}

export const S = createState({ model: modelParam, overlayOn: readOverlayPref(), viewPref: readViewPref() });

export const staleMs = () => staleMsOf(S, staleParam);
export const slowModel = () => slowModelOf(S, staleParam);
export const now = () => performance.now();

/** An address of this server (api/status, ws, api/snapshot ...) with the token and nothing else in its query. */
export function serverURL(path, { socket = false, video = null } = {}) {
  const u = new URL(path, location.href);
  if (socket) u.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  u.search = '';
  if (token) u.searchParams.set('token', token);
  if (video) u.searchParams.set('video', video);
  return u.toString();
}

// H.264 (WebCodecs) unless ?video=jpeg, or this tablet's decoder failed before (then JPEG until the tab closes).
const VIDEO_KEY = 'bedside.video';
export function videoPreference() {
  if (params.get('video') === 'jpeg') return 'jpeg';
  try { if (sessionStorage.getItem(VIDEO_KEY) === 'jpeg') return 'jpeg'; } catch (_) { /* ignore */ }
  return 'h264';
}
export function saveVideoFallback() {
  try { sessionStorage.setItem(VIDEO_KEY, 'jpeg'); } catch (_) { /* ignore */ }
}
