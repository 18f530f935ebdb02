// Bedside admin page: status and settings behind the admin PIN (and the viewer token or pairing cookie).
import { adminCaller } from './js/admin-api.js';

(() => {
  'use strict';
  const params = new URLSearchParams(location.search);
  const token = params.get('token') || sessionStorage.getItem('bedside.token') || '';
  const PIN_KEY = 'bedside.adminPin';
  let pin = sessionStorage.getItem(PIN_KEY) || '';
  const $ = (id) => document.getElementById(id);

  const call = adminCaller({ base: location.href, token, pin: () => pin });

  // The region editor (regions.js) uses the same token, PIN and calls.
  window.BedsideAdmin = { token, call };

  function text(node, value) { if (node.textContent !== value) node.textContent = value; }

  // How the tablets reach this page: the one-time certificate step (with the fingerprint to compare), or a warning
  // when the network carries it unencrypted.
  function renderTransport(t) {
    const note = $('tls-note');
    if (!t || t.encryption === 'loopback') { note.hidden = true; return; }
    note.hidden = false;
    note.dataset.encryption = t.encryption;
    if (t.encryption === 'bedside-ca') {
      // The address a tablet opens: the one this page came over when a tablet could use it too, else the
      // server's first (this page may be open on the box itself, at 127.0.0.1).
      const hosts = t.hosts || [];
      const here = location.hostname.replace(/^\[(.*)\]$/, '$1');
      const host = hosts.includes(here) ? here : (hosts[0] || here);
      const port = location.port ? `:${location.port}` : '';
      const at = (h) => `http://${h.includes(':') ? `[${h}]` : h}${port}/`;   // an IPv6 address in brackets
      const others = hosts.filter((h) => h !== host).map(at);
      note.textContent = `First time on a tablet: open ${at(host)} on it and install Bedside's certificate as that page says ` +
        `(SHA-256 ${t.ca_fingerprint || '?'}). The tablet then opens the encrypted page by itself.` +
        (others.length ? ` On another network of this box: ${others.join(', ')}.` : '');
    } else if (t.encryption === 'off') {
      note.textContent = 'Unencrypted: web.tls is off, so the video and the pairing cookie cross the network readable by anyone on it.';
    } else {
      note.textContent = 'Served over HTTPS with your own certificate (web.tls).';
    }
  }
  /** An action's outcome: green when it worked, red when it did not (amber is for warnings only). */
  function say(node, value, ok) { text(node, value); node.dataset.kind = ok ? 'ok' : 'bad'; }
  function when(epoch) { return epoch ? new Date(epoch * 1000).toLocaleString() : '–'; }
  function dl(node, rows) {
    node.replaceChildren(...rows.flatMap(([k, v, cls]) => {
      const dt = document.createElement('dt'); dt.textContent = k;
      const dd = document.createElement('dd'); dd.textContent = v === null || v === undefined || v === '' ? '–' : String(v);
      if (cls) dd.className = cls;
      return [dt, dd];
    }));
  }

  // A model that tries the network on the clinic box is flagged: it will fail or phone home.
  function networkText(m) {
    const list = m.network_attempts || [];
    if (!list.length) return `${m.network || 'deny'}, no attempts`;
    const first = list[0];
    const target = first.url || `${first.host}${first.port ? ':' + first.port : ''}`;
    return `${list.length} attempt(s) (${m.network}): ${target}${list.length > 1 ? ' …' : ''} from ${first.where || '?'}` +
      (first.denied ? ' — denied; run `bedside prepare` where there is internet' : ' — allowed');
  }

  function render(o) {
    text($('code'), o.pairing_code || '––––––');
    renderTransport(o.transport);
    const tbody = $('tablets').querySelector('tbody');
    const tablets = o.tablets || [];
    $('no-tablets').hidden = tablets.length > 0;
    tbody.replaceChildren(...tablets.map((t) => {
      const tr = document.createElement('tr');
      tr.dataset.tablet = t.id;
      tr.dataset.online = String((t.online || 0) > 0);
      const now = t.revoked ? 'revoked' : (t.online || 0) > 0 ? (t.online > 1 ? `online (${t.online} pages)` : 'online') : 'offline';
      for (const [v, cls] of [[t.name, 'name'], [now, 'now'], [when(t.paired_at), ''], [t.revoked ? '–' : when(t.last_seen), '']]) {
        const td = document.createElement('td'); td.textContent = v; if (cls) td.className = cls; tr.append(td);
      }
      const td = document.createElement('td');
      td.className = 'action';
      if (!t.revoked) {
        const b = document.createElement('button');
        b.textContent = 'Revoke';
        b.dataset.testid = 'admin-revoke';
        b.setAttribute('data-testid', 'admin-revoke');
        b.onclick = async () => { await call('admin/revoke', { id: t.id }); refresh(); };
        td.append(b);
      }
      tr.append(td);
      return tr;
    }));
    const s = o.status || {};
    const src = s.source || {};
    dl($('source'), [['State', src.state], ['Detail', src.detail], ['Mode', src.mode], ['Description', src.description],
      ['Frames', src.frames_captured], ['fps', src.fps], ['Renegotiations', src.renegotiations],
      ['Privacy masks', src.privacy_warning || `${src.privacy_masks ?? '–'} for ${src.width}x${src.height}`, src.privacy_warning ? 'alert' : '']]);
    const models = $('models');
    models.replaceChildren(...(s.models || []).map((m) => {
      const div = document.createElement('div');
      div.className = 'model';
      div.dataset.model = m.name;
      const refused = m.state === 'running' && m.failing_answers > 0;  // running, but no answer is usable
      div.dataset.bad = String(m.state !== 'running' || refused);
      const h = document.createElement('div');
      h.innerHTML = '<strong></strong> <span class="state"></span>';
      h.querySelector('strong').textContent = m.name;
      div.dataset.silent = String(!!m.silent);
      if (m.silent) {
        // show: false: recorded, compared later, never on a tablet.
        const tag = document.createElement('span');
        tag.className = 'silent-tag';
        tag.dataset.testid = 'admin-model-silent';
        tag.textContent = 'silent: not shown on tablets';
        h.append(' ', tag);
      }
      h.querySelector('.state').textContent = refused
        ? `running · last ${m.failing_answers === 1 ? 'answer' : `${m.failing_answers} answers`} failed` : m.state;
      const d = document.createElement('dl');
      dl(d, [['Rate', `${(m.rate_hz || 0).toFixed(1)} pred/s`], ['Latency', `${(m.latency_ms || 0).toFixed(0)} ms`],
        ['Model time', `${(m.model_ms || 0).toFixed(0)} ms`], ['Predictions', m.predictions], ['Errors', m.errors],
        ['Restarts', m.restarts], ['Memory', m.memory_mb ? `${m.memory_mb} MB` : ''],
        ['Version', m.info && m.info.version], ['Last error', m.last_error], ['Fix', m.last_error_fix],
        ['Network', networkText(m), (m.network_attempts || []).length ? 'alert' : '']]);
      div.append(h, d);
      if (m.stderr_tail && m.stderr_tail.length) {
        const pre = document.createElement('pre');
        pre.textContent = m.stderr_tail.join('\n');
        div.append(pre);
      }
      return div;
    }));
    const r = s.recording || {};
    dl($('recording'), [['State', r.state, r.alert ? 'alert' : ''], ['Alert', r.alert, 'alert'], ['Mode', r.mode],
      ['Session', r.session], ['Files', r.segments], ['Frames', r.frames_written], ['Dropped', r.frames_dropped],
      ['Free space', r.free_mb !== undefined && r.free_mb !== null ? `${r.free_mb} MB` : '']]);
    const recording = r.state === 'recording' || r.state === 'paused';
    $('rec-toggle').hidden = !r.state || r.state === 'off';
    text($('rec-toggle'), recording ? 'Stop recording' : 'Start recording');
    $('rec-toggle').dataset.action = recording ? 'stop' : 'start';
    // Who is watching: each paired tablet online by name, and pages opened with the console link.
    const online = tablets.filter((t) => !t.revoked && (t.online || 0) > 0);
    const parts = online.map((t) => t.name);
    if (o.console_pages) parts.push(`${o.console_pages} with the console link`);
    const n = s.viewers ?? 0;
    text($('viewers'), n ? `${n} tablet page${n === 1 ? '' : 's'} open${parts.length ? `: ${parts.join(', ')}` : ''}` : 'No tablet page open');
    const st = s.study || {};
    const ttp = st.time_to_plane || {};
    const ttpText = Object.entries(ttp).map(([p, v]) => `${p}: ${v.seconds === null || v.seconds === undefined ? '–' : v.seconds.toFixed(1) + ' s'}`).join(', ');
    text($('study-state'), st.active
      ? `Running: participant ${st.participant}, arm ${st.arm}, ${Math.round(st.elapsed_s || 0)} s, ${st.snapshots || 0} snapshots${ttpText ? '; time to plane ' + ttpText : ''}`
      : `No session. Arm now: ${st.arm || '–'}`);
    $('study-form').hidden = !!st.active;
    $('study-end').hidden = !st.active;
    $('note-form').hidden = !st.active;
    const arms = $('arms');
    if (arms.dataset.key !== `${(st.arms || []).join(',')}|${st.arm}`) {
      arms.dataset.key = `${(st.arms || []).join(',')}|${st.arm}`;
      arms.replaceChildren(...(st.arms || []).map((a) => {
        const b = document.createElement('button');
        b.type = 'button';
        b.textContent = a === st.arm ? `${a} ✓` : a;
        b.setAttribute('data-testid', `admin-arm-${a}`);
        b.onclick = async () => { await call('study/arm', { arm: a }); refresh(); };
        return b;
      }));
    }
  }

  async function refresh() {
    if (!pin) return;
    try {
      const { status, body } = await call('admin/overview');
      if (status === 403) { pin = ''; sessionStorage.removeItem(PIN_KEY); lock('Wrong admin PIN'); return; }
      if (status === 401) { lock('This device is not paired: open the admin link Bedside printed (with ?token=)'); return; }
      if (status !== 200) { text($('conn'), `error ${status}`); return; }
      $('pin-box').hidden = true;
      $('main').hidden = false;
      document.dispatchEvent(new CustomEvent('bedside-admin-unlocked'));
      document.dispatchEvent(new CustomEvent('bedside-admin-status', { detail: body.status || {} }));
      text($('conn'), `updated ${new Date().toLocaleTimeString()}`);
      render(body);
    } catch (_) {
      text($('conn'), 'Bedside unreachable, retrying…');
    }
  }

  function lock(message) {
    $('main').hidden = true;
    $('pin-box').hidden = false;
    text($('pin-msg'), message);
  }

  $('pin-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    pin = $('pin').value.trim();
    sessionStorage.setItem(PIN_KEY, pin);
    refresh();
  });
  $('new-code').onclick = async () => { await call('admin/pairing-code'); refresh(); };
  $('rec-toggle').onclick = async () => { await call(`recording/${$('rec-toggle').dataset.action}`); refresh(); };

  $('study-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const q = { participant: $('participant').value.trim() };
    if ($('targets').value.trim()) q.targets = $('targets').value;
    if ($('notes').value.trim()) q.notes = $('notes').value;
    const button = ev.submitter || $('study-form').querySelector('button[type=submit]');
    if (button) button.disabled = true;  // one start per click: the form hides once the session runs
    try {
      const { status, body } = await call('study/start', q);
      say($('study-msg'), status === 200 ? `Session started in ${body.folder}` : `Not started: ${body.error}`, status === 200);
    } finally {
      if (button) button.disabled = false;
    }
    refresh();
  });
  $('study-end').onclick = async () => {
    const { status, body } = await call('study/end');
    if (status === 200) {
      const t = Object.entries(body.time_to_plane || {}).map(([p, v]) => `${p} ${v.seconds === null ? 'not reached' : v.seconds.toFixed(1) + ' s'}`).join(', ');
      say($('study-msg'), `Session ended (${body.duration_s} s). Time to plane: ${t}. Snapshots: ${body.snapshots}.`, true);
      $('review-link').href = `review?session=${encodeURIComponent(body.folder.split('/').pop())}${token ? '&token=' + encodeURIComponent(token) : ''}`;
    } else {
      say($('study-msg'), body.error || `error ${status}`, false);
    }
    refresh();
  };
  $('note-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const note = $('note').value.trim();
    if (!note) return;
    const { status, body } = await call('study/note', { text: note });
    if (status === 200) {
      say($('study-msg'), `Note added at ${new Date().toLocaleTimeString()}: “${note}”`, true);
      $('note').value = '';
    } else {
      say($('study-msg'), `Note not added: ${body.error || status}`, false);  // the text stays to try again
    }
  });
  $('review-link').href = `review${token ? '?token=' + encodeURIComponent(token) : ''}`;

  refresh();
  setInterval(refresh, 2000);
})();

