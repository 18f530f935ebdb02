// The "not paired" card: the pairing code (and an optional tablet name) go to POST /api/pair, which sets
// this tablet's cookie; the page then reloads without the old link token.

import { el } from './dom.js';
import { forgetToken } from './store.js';

if (el.pairForm) {
  el.pairForm.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = el.pairMsg;
    const code = el.pairCode.value.replace(/\D/g, '');
    const name = el.pairName.value.trim();
    msg.textContent = 'Pairing…';
    try {
      const r = await fetch(new URL('api/pair', location.href).toString(), {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, cache: 'no-store',
        credentials: 'same-origin', body: JSON.stringify({ code, name }),
      });
      let body = {};
      try { body = await r.json(); } catch (_) { /* not JSON */ }
      if (r.ok) {
        // The cookie now identifies this tablet; a stale link token must not shadow it.
        forgetToken();
        msg.textContent = `Paired as ${body.name || 'this tablet'}`;
        location.replace(location.pathname);
        return;
      }
      msg.textContent = body.error ? `${body.error}: ${body.fix || ''}` : `Pairing failed (${r.status})`;
    } catch (_) {
      msg.textContent = 'Bedside unreachable';
    }
  });
}
