// The admin API as the admin and review pages call it: POST to api/<path> on this page's own origin, the viewer
// token in the query (the pairing cookie works without one), the admin PIN in a header (never in a URL), and the
// answer as {status, body} (body {} when it is not JSON). `pin()` gives the PIN at the time of the call.

/** The address of an API call: `api/<path>` beside this page, only the token and `query` in it. */
export function apiURL(base, token, path, query) {
  const u = new URL(`api/${path}`, base);
  u.search = '';
  if (token) u.searchParams.set('token', token);
  for (const [k, v] of Object.entries(query || {})) u.searchParams.set(k, v);
  return u.toString();
}

/** `call(path, query)` for a page opened at `base` with `token`; `fetchFn` is the browser's fetch. */
export function adminCaller({ base, token, pin, fetchFn = (...a) => fetch(...a) }) {
  return async function call(path, query) {
    const r = await fetchFn(apiURL(base, token, path, query), { method: 'POST', headers: { 'X-Admin-PIN': pin() }, cache: 'no-store' });
    let body = {};
    try { body = await r.json(); } catch (_) { /* not JSON */ }
    return { status: r.status, body };
  };
}
