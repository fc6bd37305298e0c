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
let live = 0;

function renderStatus(st) {
  active = st.active || 0;
  live = st.live || active;
  $('#active-version').textContent = active ? 'v' + active : '–';
  // The live version: the committed one, or a pending one in its health window.
  const pendingLive = st.state === 'pending';
  $('#live-version').hidden = !pendingLive;
  $('#live-version').textContent = pendingLive ? `v${st.live} live, pending its health window` : '';
  $('#mode').textContent = st.mode || 'unknown';
  $('#frozen').hidden = !st.frozen;
  if (st.frozen) $('#frozen').title = st.frozen_reason || '';
  $('#frozen-box').hidden = !st.frozen;
  $('#frozen-reason').textContent = st.frozen_reason || '';
  $('#stuck').hidden = !(st.stuck && st.stuck.length);
  $('#stuck').textContent = st.stuck && st.stuck.length ? 'Stuck: ' + st.stuck.join(', ') : '';
  renderWindow(pendingLive ? st.window : null);
  renderRules(st.rules);
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

// window is the health window in progress (GET /api/v1/status "window"),
// whose progress bar advances between refreshes.
let window_ = null;
function renderWindow(w) {
  window_ = w && w.length_ns ? w : null;
  $('#pending').hidden = !window_;
  if (!window_) return;
  $('#window-checks').replaceChildren(...(w.checks || []).map((c) => el('li', { 'data-check': c.name, class: stateClass(c.state) },
    `${c.name}${c.critical ? ' (critical)' : ''}: ${c.state}`)));
  tickWindow();
}

function tickWindow() {
  const w = window_;
  if (!w) return;
  const length = w.length_ns / 1e6;
  const elapsed = Math.min(Math.max(Date.now() - new Date(w.started).getTime(), 0), length);
  $('#window-progress').value = elapsed / length;
  $('#pending-text').textContent = `v${w.version} in its health window: ${(elapsed / 1000).toFixed(1)} s of ${(length / 1000).toFixed(1)} s, ` +
    `${w.round} of ${w.rounds} rounds of checks passed; waiting on ${(w.checks || []).length} checks`;
}

// The rules' values are in their unit: a fraction, seconds or a count.
const ruleUnit = { HotreloadReloadFailureRateHigh: (v) => (100 * v).toFixed(1) + ' %', HotreloadReloadSlow: (v) => v.toFixed(1) + ' s' };
const fmtRule = (name, v) => (ruleUnit[name] || ((x) => String(x)))(v);
const span = (ns) => (ns % 36e11 === 0 ? ns / 36e11 + 'h' : ns / 6e10 + 'm');

function renderRules(rules) {
  $('#rules tbody').replaceChildren(...(rules || []).map((r) => {
    const fill = r.threshold > 0 ? Math.min(r.value / r.threshold, 1) : (r.value > 0 ? 1 : 0);
    const bar = el('span');
    bar.style.width = (100 * fill).toFixed(0) + '%';
    return el('tr', { 'data-rule': r.name, 'data-value': r.value, 'data-threshold': r.threshold, class: r.firing ? 'bad' : null },
      el('td', { title: `${r.name} (${r.severity})` }, r.name.replace(/^Hotreload/, '')),
      el('td', { class: 'value' }, fmtRule(r.name, r.value)),
      el('td', { class: 'threshold' }, `> ${fmtRule(r.name, r.threshold)} in ${span(r.window_ns)}`),
      el('td', null, el('div', { class: 'gauge' + (r.firing ? ' over' : ''), title: r.firing ? 'firing' : 'ok' }, bar)));
  }));
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
  // An unchanged attempt carries the version it left alone: it folds into
  // that version's row as a count and the time of the last one.
  const rows = [];
  const byVersion = new Map();
  for (const r of (h && h.versions) || []) {
    if (r.result === 'unchanged' && byVersion.has(r.version)) {
      const row = byVersion.get(r.version);
      row.unchanged = (row.unchanged || 0) + 1;
      row.lastUnchanged = r.time;
      continue;
    }
    const row = { ...r };
    byVersion.set(r.version, row);
    rows.push(row);
  }
  rows.reverse();
  patchRows($('#history tbody'), rows.map((r) => el('tr', { 'data-version': r.version, 'data-result': r.result, class: r.version === h.active ? 'active' : null },
    el('td', null, 'v' + r.version, r.restored_from ? el('span', { class: 'muted' }, ` (restores v${r.restored_from})`) : null),
    el('td', { class: 'muted' }, new Date(r.time).toLocaleString()),
    el('td', null, r.source || ''),
    el('td', null, r.author || ''),
    el('td', { class: stateClass(r.result) }, r.result,
      r.unchanged ? el('div', { class: 'muted unchanged' }, `+ ${r.unchanged} unchanged, last ${when(r.lastUnchanged)}`) : null),
    el('td', { class: 'muted' }, r.reason || '',
      r.errors && r.errors.length ? el('ul', { class: 'errors mono' }, ...r.errors.map((e) => el('li', null, fieldError(e)))) : null),
    el('td', null,
      r.version > 1 ? el('button', { class: 'diff', onclick: () => showDiff(r.version - 1, r.version) }, 'diff') : null,
      r.result === 'rejected' && live && live !== r.version
        ? el('button', { class: 'diff-live', title: `diff against the live v${live}`, onclick: () => showDiff(live, r.version) }, 'diff vs live') : null,
      r.result === 'committed' && r.version !== h.active
        ? el('button', { class: 'rollback', 'data-version': r.version, onclick: () => rollback(r.version) }, 'roll back here') : null),
  )));
}

// patchRows sets a table body's rows but keeps, in place, each old row that
// would look the same: every event refreshes the history, and a row replaced
// between a press and a release would swallow the click on its button.
function patchRows(tbody, rows) {
  const old = new Map([...tbody.children].map((r) => [r.outerHTML, r]));
  rows.forEach((r, i) => {
    const same = old.get(r.outerHTML);
    old.delete(r.outerHTML);
    if (same) r = same;
    if (tbody.children[i] !== r) tbody.insertBefore(r, tbody.children[i] || null);
  });
  while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
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

// steps are the long steps (a plugin compiling, a build of the dev loop),
// by name, from the progress events: running, with the time so far, or done,
// with the time it took. A step done, or not heard of (its process may be
// gone), for a minute is dropped.
const steps = new Map();
function renderStep(data) {
  if (data && data.step) steps.set(data.step, { elapsed: data.elapsed_ns, done: !!data.done, at: Date.now() });
  for (const [name, st] of steps) if (Date.now() - st.at > 60000) steps.delete(name);
  const secs = ns => (ns / 1e9).toFixed(1);
  $('#steps').replaceChildren(...[...steps].map(([name, st]) => st.done
    ? el('li', { 'data-step': name, 'data-done': '' }, `${name}: done in ${secs(st.elapsed)} s`)
    : el('li', { 'data-step': name, class: 'warn' }, `${name}: running, ${secs(st.elapsed + (Date.now() - st.at) * 1e6)} s so far`)));
}

// ---- trends ------------------------------------------------------------------
const SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
  e.append(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
  return e;
}
const W = 600, H = 140, PAD = 28;
const results = ['committed', 'unchanged', 'rejected', 'rolled_back', 'superseded'];
const seconds = (v) => (v >= 1 ? v.toFixed(2) + ' s' : (v * 1000).toFixed(v >= 0.01 ? 0 : 1) + ' ms');
const clock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

// axis draws the time labels under a chart of n steps.
function axis(t) {
  return [svg('line', { class: 'axis', x1: PAD, y1: H - 14, x2: W, y2: H - 14 }),
    svg('text', { x: PAD, y: H - 2 }, clock(t.from)),
    svg('text', { x: W, y: H - 2, 'text-anchor': 'end' }, 'now')];
}

function durationChart(t) {
  const n = t.results.length;
  const x = (i) => PAD + ((W - PAD) * (i + 0.5)) / n;
  let top = 0.01;
  for (const tt of t.targets) for (const p of tt.points) if (p.count) top = Math.max(top, p.p99);
  const lo = Math.log10(0.001), hi = Math.log10(top * 1.5);
  const y = (v) => H - 14 - ((H - 24) * (Math.log10(Math.max(v, 0.001)) - lo)) / (hi - lo);
  const parts = [svg('text', { x: 0, y: 10 }, seconds(top * 1.5)), svg('text', { x: 0, y: H - 16 }, '1 ms'), ...axis(t)];
  t.targets.forEach((tt, k) => {
    const pts = tt.points.map((p, i) => ({ p, i })).filter(({ p }) => p.count);
    for (const q of ['p99', 'p50']) {
      parts.push(svg('polyline', { class: `s${k % 4} ${q}`, points: pts.map(({ p, i }) => `${x(i).toFixed(1)},${y(p[q]).toFixed(1)}`).join(' ') }));
    }
    for (const { p, i } of pts) {
      parts.push(svg('circle', { class: `pt s${k % 4}`, cx: x(i).toFixed(1), cy: y(p.p99).toFixed(1), r: 2.5,
        'data-target': tt.target, 'data-i': i, 'data-count': p.count, 'data-p50': p.p50, 'data-p99': p.p99 },
      svg('title', null, `${tt.target || '(none)'} ${clock(p.time)}: ${p.count} reloads, p50 ${seconds(p.p50)}, p99 ${seconds(p.p99)}`)));
    }
  });
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'reload duration' }, ...parts);
}

function resultsChart(t) {
  const n = t.results.length;
  const bw = (W - PAD) / n;
  let top = 1;
  for (const p of t.results) top = Math.max(top, results.reduce((a, r) => a + (p.results[r] || 0), 0));
  const parts = [svg('text', { x: 0, y: 10 }, String(top)), svg('text', { x: 0, y: H - 16 }, '0'), ...axis(t)];
  t.results.forEach((p, i) => {
    let base = H - 14;
    for (const r of results) {
      const c = p.results[r] || 0;
      if (!c) continue;
      const h = ((H - 24) * c) / top;
      base -= h;
      parts.push(svg('rect', { class: `bar r-${r}`, x: (PAD + i * bw + bw * 0.1).toFixed(1), y: base.toFixed(1), width: Math.max(bw * 0.8, 1).toFixed(1), height: h.toFixed(1),
        'data-i': i, 'data-result': r, 'data-count': c }, svg('title', null, `${clock(p.time)}: ${c} ${r}`)));
    }
  });
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'results over time' }, ...parts);
}

let trendWindow = '1h';
function renderTrends(t) {
  if (!t) { $('#trends').hidden = true; return; }
  $('#trends').dataset.window = t.window;
  $('#chart-duration').replaceChildren(durationChart(t));
  $('#chart-results').replaceChildren(resultsChart(t));
  $('#trend-targets tbody').replaceChildren(...(t.targets.length ? t.targets.map((tt, k) => el('tr', { 'data-target': tt.target },
    el('td', { class: `s${k % 4} target` }, tt.target || '(none)'), el('td', null, tt.count), el('td', null, seconds(tt.p50)), el('td', null, seconds(tt.p99))))
    : [row(el('td', { class: 'muted', colspan: 4 }, 'no reload in this window'))]));
  const totals = {};
  for (const p of t.results) for (const [r, c] of Object.entries(p.results)) totals[r] = (totals[r] || 0) + c;
  $('#trend-totals').replaceChildren(...results.filter((r) => totals[r] || r !== 'superseded').map((r) => el('li', { 'data-result': r, 'data-count': totals[r] || 0 },
    el('span', { class: `swatch r-${r}` }), `${r.replace('_', ' ')}: ${totals[r] || 0}`)));
  $('#trend-rollbacks').replaceChildren(...(t.rollbacks.length ? t.rollbacks.map((r) => el('li', { 'data-version': r.version, class: 'warn' },
    `${when(r.time)} v${r.version} ${(r.targets || []).join(', ')} (${r.cause}): `, el('span', { class: 'muted reason' }, r.reason || '')))
    : [el('li', { class: 'muted' }, 'no rollback in this window')]));
}
const loadTrends = () => load('/api/v1/trends?window=' + trendWindow, renderTrends);

// ---- fleet -------------------------------------------------------------------
const ago = (t) => { const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000)); return s < 120 ? s + ' s ago' : Math.round(s / 60) + ' min ago'; };

function renderFleet(f) {
  $('#fleet-card').hidden = !f;
  if (!f) return false;
  $('#fleet-prefix').textContent = f.prefix || '';
  $('#fleet tbody').replaceChildren(...(f.instances || []).map((i) => el('tr', { 'data-instance': i.id },
    el('td', { class: 'mono' }, i.id, i.coordinator ? el('span', { class: 'muted' }, ' (coordinator)') : null),
    el('td', { class: 'mono' }, i.addr || ''),
    el('td', { class: 'version' }, 'v' + i.version),
    el('td', { class: i.state === 'serving' ? 'ok' : 'bad' }, i.state, i.last && i.last.reason ? el('div', { class: 'muted' }, i.last.reason) : null),
    el('td', { class: stateClass(i.health) }, i.health || ''),
    el('td', { class: 'muted', title: i.updated }, ago(i.updated)))));
  const r = f.rollout;
  $('#rollout').replaceChildren(...(r ? [
    el('p', { id: 'rollout-state', 'data-state': r.state, 'data-wave': r.wave, class: r.state === 'halted' ? 'bad' : r.state === 'completed' ? 'ok' : 'warn' },
      `Rollout ${r.id}: ${r.state}`, r.state === 'running' ? `, wave ${r.wave} of ${r.waves.length} ${r.phase || ''}` : '',
      r.reason ? el('span', { class: 'reason' }, ' — ' + r.reason) : ''),
    el('ol', { class: 'plain', id: 'waves' }, ...r.waves.map((ids, k) => el('li', {
      'data-wave': k + 1, 'data-instances': ids.join(' '), class: r.state === 'completed' || k + 1 < r.wave ? 'ok' : k + 1 === r.wave ? (r.state === 'halted' ? 'bad' : 'warn') : 'muted' },
    `${k === 0 ? 'canary' : 'wave ' + (k + 1)}: ${ids.join(', ')}`))),
  ] : [el('p', { class: 'muted' }, 'no rollout yet')]));
  return true;
}

// The fleet is polled every second while this daemon is a fleet member;
// a 404 (not a member) hides the panel and stops the polling.
let fleetTimer = null;
async function pollFleet() {
  try {
    renderFleet(await api('GET', '/api/v1/fleet'));
  } catch (e) {
    if (e.status === 404) { renderFleet(null); clearInterval(fleetTimer); }
  }
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
    loadTrends();
  }, 30);
}

const eventTypes = ['reload', 'reload_start', 'reload_pending', 'config_reload', 'code_reload', 'health_check', 'alert_fired', 'alert_resolved', 'progress', 'resync', 'message'];
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
      if (type === 'progress') { renderStep(data); return; }
      if (type !== 'resync') addEvent(type, data);
      if (type !== 'reload_start') refresh();
    });
  }
}

$('#unfreeze').addEventListener('click', async () => {
  try {
    await api('POST', '/api/v1/unfreeze');
    notice('Unfreeze: automatic reloads run again');
  } catch (e) {
    notice('Unfreeze: ' + e.message, true);
  }
  refresh();
});
for (const b of document.querySelectorAll('button.window')) {
  b.addEventListener('click', () => {
    trendWindow = b.dataset.window;
    for (const o of document.querySelectorAll('button.window')) o.setAttribute('aria-pressed', String(o === b));
    loadTrends();
  });
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
setInterval(tickWindow, 250);
setInterval(renderStep, 1000);
fleetTimer = setInterval(pollFleet, 1000);
pollFleet();
load('/api/v1/ui/clients', renderClients);
