// The hotreload dashboard: plain JavaScript, no build step, no network
// beyond the daemon's admin API.
const $ = (sel) => document.querySelector(sel);
const short = (s, n = 12) => (s ? String(s).slice(0, n) : '');
const when = (t) => (t ? new Date(t).toLocaleTimeString() : '');

// el builds an element: el('td', {class: 'mono'}, 'text', child...).
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...children.filter((c) => c !== undefined && c !== null).map((c) => (c instanceof Node ? c : String(c))));
  return e;
}
const row = (...cells) => el('tr', null, ...cells.map((c) => (c instanceof Node && c.localName === 'td' ? c : el('td', null, c))));
const stateClass = (s) => ({ passing: 'ok', committed: 'ok', applied: 'ok', active: 'ok', loaded: 'ok',
  failing: 'bad', rejected: 'bad', rolled_back: 'warn', failed: 'bad', fell_back: 'warn', firing: 'bad' })[s] || '';

// ---- API -----------------------------------------------------------------
async function api(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { raw: text }; }
  if (!res.ok && !(data && data.result)) {
    const err = new Error((data && data.error && data.error.message) || `${method} ${path}: ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return data;
}

function notice(text, bad) {
  const n = $('#notice');
  n.textContent = text;
  n.className = bad ? 'bad' : '';
  n.hidden = !text;
}

// ---- rendering -------------------------------------------------------------
let active = 0;

function renderStatus(st) {
  active = st.active || 0;
  $('#active-version').textContent = active ? 'v' + active : '–';
  // The live version: the committed one, or a pending one in its health window.
  const pendingLive = st.state === 'pending';
  $('#live-version').hidden = !pendingLive;
  $('#live-version').textContent = pendingLive ? `v${st.live} live, pending its health window` : '';
  $('#mode').textContent = st.mode || 'unknown';
  $('#frozen').hidden = !st.frozen;
  if (st.frozen) $('#frozen').title = st.frozen_reason || '';
  const last = st.last;
  $('#last').replaceChildren(...(last ? [
    'Last transaction: ',
    el('span', { class: stateClass(last.result), id: 'last-result' }, last.result),
    ` v${last.version}${last.source ? ' from ' + last.source : ''} in ${(last.duration_ns / 1e6).toFixed(1)} ms`,
    last.reason ? el('span', { class: 'muted' }, ' — ' + last.reason) : '',
  ] : ['No transaction yet.']));
  $('#targets tbody').replaceChildren(...(st.targets || []).map((t) => row(
    t.name, t.kind || '', 'v' + t.version, el('td', { class: stateClass(t.state) }, t.state || ''),
    el('td', { class: 'mono', title: t.sha256 || '' }, short(t.sha256)),
  )));
  if (st.health) renderHealth(st.health);
  renderAlerts(st.alerts);
}

function renderHealth(h) {
  const checks = (h && h.checks) || [];
  $('#health tbody').replaceChildren(...(checks.length ? checks.map((c) => row(
    c.name + (c.critical ? ' (critical)' : ''),
    el('td', { class: stateClass(c.state) }, c.state + (c.stale ? ' (stale)' : '')),
    el('td', { class: 'muted' }, c.last_error || ''),
  )) : [row(el('td', { class: 'muted', colspan: 3 }, 'no checks'))]));
}

function renderAlerts(alerts) {
  const list = Array.isArray(alerts) ? alerts : (alerts && alerts.alerts) || [];
  $('#alerts').replaceChildren(...(list.length ? list.map((a) => el('li', { class: a.severity === 'critical' ? 'bad' : 'warn' },
    `${a.name || 'alert'}${a.severity ? ' (' + a.severity + ')' : ''}: ${a.summary || ''}${a.since ? ' since ' + when(a.since) : ''}`))
    : [el('li', { class: 'muted' }, 'none')]));
}

function renderPlugins(data) {
  const list = Array.isArray(data) ? data : (data && data.plugins) || [];
  $('#plugins tbody').replaceChildren(...(list.length ? list.map((p) => row(
    p.name, el('td', { class: stateClass(p.state || p.status) }, p.state || p.status || ''),
    el('td', { class: 'mono', title: p.last_error || p.sha256 || '' }, p.version || short(p.sha256)),
  )) : [row(el('td', { class: 'muted', colspan: 3 }, data ? 'none' : 'no plugin host'))]));
}

// versionOfDigest maps a UI target's digest to the latest committed
// version in which the target had it, from the history last loaded.
let versionOfDigest = new Map();
const uiVersion = (digest) => (versionOfDigest.has(digest) ? `v${versionOfDigest.get(digest)} ` : '') + short(digest);

function renderClients(data) {
  data = data || {};
  const current = data.version || '';
  $('#ui-version').textContent = current ? 'UI ' + uiVersion(current) : '';
  const list = data.clients || [];
  $('#clients tbody').replaceChildren(...(list.length ? list.map((c) => {
    const a = c.last_ack;
    return el('tr', { 'data-client': c.id },
      el('td', { class: 'mono', title: `${c.protocol} from ${c.remote}\n${c.user_agent || ''}` }, c.id),
      el('td', { class: 'muted' }, c.page || ''),
      el('td', { class: 'mono ' + (c.version && c.version === current ? 'ok' : 'warn'), title: c.version || '' },
        c.version ? uiVersion(c.version) + (c.version === current ? ' ✓' : ' (behind)') : '?'),
      el('td', { class: a ? stateClass(a.status) : 'muted', title: a && a.error ? a.error : '' },
        a ? `${a.status} #${a.seq} ${when(a.time)}` : '—'));
  }) : [row(el('td', { class: 'muted', colspan: 4 }, 'no browser connected'))]));
}

function renderHistory(h) {
  h = h || {};
  versionOfDigest = new Map();
  for (const r of h.versions || []) {
    if (r.result !== 'committed') continue;
    for (const t of r.targets || []) if (t.kind === 'ui') versionOfDigest.set(t.sha256, r.version);
  }
  const versions = [...((h && h.versions) || [])].reverse();
  $('#history tbody').replaceChildren(...versions.map((r) => el('tr', { 'data-version': r.version, class: r.version === h.active ? 'active' : null },
    el('td', null, 'v' + r.version, r.restored_from ? el('span', { class: 'muted' }, ` (restores v${r.restored_from})`) : null),
    el('td', { class: 'muted' }, new Date(r.time).toLocaleString()),
    el('td', null, r.source || ''),
    el('td', null, r.author || ''),
    el('td', { class: stateClass(r.result) }, r.result),
    el('td', { class: 'muted' }, [r.reason || '', ...(r.errors || []).map(fieldError)].filter(Boolean).join('\n')),
    el('td', null,
      r.version > 1 ? el('button', { class: 'diff', onclick: () => showDiff(r.version - 1, r.version) }, 'diff') : null,
      r.result === 'committed' && r.version !== h.active
        ? el('button', { class: 'rollback', 'data-version': r.version, onclick: () => rollback(r.version) }, 'roll back here') : null),
  )));
}

function fieldError(e) {
  let where = e.file || '';
  if (where && e.line) where += ':' + e.line + (e.column ? ':' + e.column : '');
  return (where ? where + ': ' : '') + (e.path ? e.path + ': ' : '') + e.message;
}

async function showDiff(a, b) {
  $('#diff-a').value = a;
  $('#diff-b').value = b;
  const pre = $('#diff');
  pre.hidden = false;
  try {
    const d = await api('GET', `/api/v1/history/${a}/diff/${b}`);
    const lines = [];
    for (const t of d.targets || []) {
      lines.push(`# ${t.target} (${t.kind || '?'}) ${short(t.old_sha256)} → ${short(t.new_sha256)}`);
      if (t.reason) lines.push('  ' + t.reason);
      for (const c of t.changes || []) {
        if (c.old !== undefined) lines.push(`- ${c.path}: ${JSON.stringify(c.old)}`);
        if (c.new !== undefined) lines.push(`+ ${c.path}: ${JSON.stringify(c.new)}`);
      }
    }
    pre.textContent = `v${d.from} → v${d.to}\n` + (lines.length ? lines.join('\n') : '(no difference)');
  } catch (e) {
    pre.textContent = e.message;
  }
}

function addEvent(type, data) {
  const list = $('#events');
  let text = '';
  if (data) {
    const parts = [data.target, data.result, data.version !== undefined ? 'v' + data.version : '', data.reason || '',
      data.check ? `${data.check}: ${data.from} → ${data.to}` : '', data.alert ? `${data.alert.name}: ${data.alert.summary || ''}` : ''];
    text = parts.filter(Boolean).join(' ');
  }
  list.prepend(el('li', { class: stateClass(data && data.result) }, `${when(data && data.time) || when(Date.now())} ${type} ${text}`));
  while (list.children.length > 200) list.lastChild.remove();
}

// ---- actions ---------------------------------------------------------------
async function act(what, method, path, body) {
  try {
    const o = await api(method, path, body);
    notice(`${what}: ${o.result}${o.version ? ' v' + o.version : ''}${o.reason ? ' — ' + o.reason : ''}`, o.result === 'rejected' || o.result === 'rolled_back');
  } catch (e) {
    notice(`${what}: ${e.message}`, true);
  }
  refresh();
}
const rollback = (version) => act(`Rollback to v${version}`, 'POST', '/api/v1/rollback', { version });

// ---- refreshing ----------------------------------------------------------------
// load renders an API answer; a part this daemon does not serve (404)
// renders as empty.
async function load(path, render) {
  try {
    render(await api('GET', path));
    return true;
  } catch (e) {
    if (e.status === 401 || e.status === 403) notice('Sign in with a token to see this daemon.', true);
    if (e.status === 404) render(null);
    return false;
  }
}

let pending = null;
function refresh() {
  clearTimeout(pending);
  pending = setTimeout(() => {
    load('/api/v1/status', renderStatus);
    load('/api/v1/history', renderHistory);
    load('/api/v1/plugins', renderPlugins);
    load('/api/v1/health', renderHealth);
  }, 30);
}

const eventTypes = ['reload', 'reload_start', 'reload_pending', 'config_reload', 'code_reload', 'health_check', 'alert_fired', 'alert_resolved', 'resync', 'message'];
let stream = null;
function connectEvents() {
  if (stream) stream.close();
  stream = new EventSource('/api/v1/events');
  const badge = $('#stream');
  stream.onopen = () => { badge.textContent = 'live'; badge.className = 'pill ok'; };
  stream.onerror = () => { badge.textContent = 'reconnecting'; badge.className = 'pill bad'; };
  for (const type of eventTypes) {
    stream.addEventListener(type, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { /* keep null */ }
      if (type !== 'resync') addEvent(type, data);
      if (type !== 'reload_start') refresh();
    });
  }
}

$('#reload').addEventListener('click', () => act('Reload', 'POST', '/api/v1/reload'));
$('#rollback-lkg').addEventListener('click', () => act('Rollback', 'POST', '/api/v1/rollback'));
$('#diff-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  showDiff(Number($('#diff-a').value), Number($('#diff-b').value));
});
$('#signin').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    const id = await api('POST', '/api/v1/session', { token: $('#token').value });
    $('#token').value = '';
    $('#who').textContent = `${id.name || 'signed in'} (${id.role || ''})`;
    notice('');
    connectEvents();
    refresh();
  } catch (e) {
    notice('Sign in: ' + e.message, true);
  }
});
$('#signout').addEventListener('click', async () => {
  await api('DELETE', '/api/v1/session').catch(() => {});
  $('#who').textContent = '';
  refresh();
});

load('/api/v1/whoami', (id) => { $('#who').textContent = `${id.name || ''} (${id.role || ''})`; });
connectEvents();
refresh();
setInterval(() => load('/api/v1/ui/clients', renderClients), 1000);
setInterval(refresh, 10000);
load('/api/v1/ui/clients', renderClients);
