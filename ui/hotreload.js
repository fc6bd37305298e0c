// hotreload.js: the browser client of the hotreload UI channel (protocol
// hotreload/1). Plain JavaScript, no build step. Load it with
//   <script src="/hotreload.js" data-token="..."></script>
// and use window.hotreload (see docs/ui.md):
//   hotreload.define(name, Class)  define a custom element whose
//                                  implementation can be replaced live
//   hotreload.accept(url, fn)      re-import the module at url on change and
//                                  call fn(newModule); without it, a change
//                                  to a plain module reloads the page
//   hotreload.dispose(url, fn)     run fn before the module is replaced
//   hotreload.adopt(path, sheet)   keep a constructable stylesheet in sync
//                                  with the CSS file at path
//   hotreload.on(type, fn)         listen to "welcome", "update", "message",
//                                  "error", "clear"
//   hotreload.status()             {id, seq, version, connected}
(() => {
  'use strict';
  if (window.hotreload) return;

  const PROTOCOL = 'hotreload/1';
  const script = document.currentScript;
  const base = new URL(script ? script.src : location.href, location.href);
  const socketURL = new URL((script && script.dataset.endpoint) || '/ws', base);
  socketURL.protocol = socketURL.protocol === 'https:' ? 'wss:' : 'ws:';
  // The token travels as a second subprotocol (a browser's WebSocket can set
  // no other header), never in a URL: URLs reach access logs. The hub
  // selects only 'hotreload.v1'.
  const protocols = ['hotreload.v1'];
  const token = script && script.dataset.token;
  if (token) {
    const bytes = new TextEncoder().encode(token);
    const b64 = btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    protocols.push('hotreload.token.' + b64);
  }

  // Per-tab state survives full reloads through sessionStorage.
  const store = {
    get(k) { try { return sessionStorage.getItem('hotreload.' + k); } catch { return null; } },
    set(k, v) { try { sessionStorage.setItem('hotreload.' + k, v); } catch { /* private mode */ } },
    take(k) { const v = store.get(k); try { sessionStorage.removeItem('hotreload.' + k); } catch { /* */ } return v; },
  };
  const state = {
    id: store.get('id') || '',
    epoch: store.get('epoch') || '',
    seq: Number(store.get('seq') || 0),
    version: store.get('version') || '',
    baseline: null, // key -> hash of what this page runs, from the first welcome
    connected: false,
  };
  const listeners = new Map();
  function emit(type, detail) {
    for (const fn of listeners.get(type) || []) {
      try { fn(detail); } catch (e) { console.error('[hotreload]', e); }
    }
    window.dispatchEvent(new CustomEvent('hotreload:' + type, { detail }));
  }

  const pathOf = (url) => new URL(url, location.href).pathname;
  const withHash = (path, hash) => {
    const u = new URL(path, location.href);
    u.searchParams.set('v', hash || String(Date.now()));
    return u.href;
  };

  // ---- styles -------------------------------------------------------------
  const adopted = new Map(); // path -> [CSSStyleSheet]

  function swapLink(link, href) {
    return new Promise((resolve, reject) => {
      const next = link.cloneNode();
      next.href = href;
      const done = (ok) => () => {
        if (ok) link.remove(); else next.remove();
        (ok ? resolve : reject)(new Error('loading ' + href + ' failed'));
      };
      next.addEventListener('load', done(true), { once: true });
      next.addEventListener('error', done(false), { once: true });
      link.after(next); // the old sheet stays until the new one is loaded: no flash
    });
  }

  async function reloadStyles(u) {
    const links = [...document.querySelectorAll('link[rel~="stylesheet"][href]')]
      .filter((l) => pathOf(l.href) === u.path);
    const href = withHash(u.path, u.hash);
    const sheets = adopted.get(u.path) || [];
    const work = links.map((l) => swapLink(l, href));
    if (sheets.length) {
      const res = await fetch(href);
      if (!res.ok) throw new Error('fetching ' + u.path + ': ' + res.status);
      const text = await res.text();
      work.push(...sheets.map((s) => s.replace(text)));
    }
    await Promise.all(work);
  }

  // ---- theme --------------------------------------------------------------
  let themeSheet = null;
  function applyTheme(props) {
    if (!themeSheet) {
      themeSheet = new CSSStyleSheet();
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, themeSheet];
    }
    const decls = Object.entries(props || {}).map(([k, v]) => `${k}: ${v};`).join(' ');
    themeSheet.replaceSync(`:root { ${decls} }`); // one sheet, one recalc: atomic
  }

  // ---- components ---------------------------------------------------------
  const components = new Map(); // name -> the class registered with customElements
  const skip = new Set(['constructor', 'length', 'name', 'prototype', 'observedAttributes']);

  function copyMembers(target, source) {
    const keys = Reflect.ownKeys(source).filter((k) => !skip.has(k));
    for (const k of Reflect.ownKeys(target)) {
      if (!skip.has(k) && !keys.includes(k)) delete target[k];
    }
    for (const k of keys) Object.defineProperty(target, k, Object.getOwnPropertyDescriptor(source, k));
  }

  function instancesOf(name, root = document, out = []) {
    for (const el of root.querySelectorAll('*')) {
      if (el.localName === name) out.push(el);
      if (el.shadowRoot) instancesOf(name, el.shadowRoot, out);
    }
    return out;
  }

  // define registers a custom element the first time, and on later calls
  // (a re-imported module) moves the new implementation onto the registered
  // class: existing instances keep their fields and get the new methods,
  // then hotReplaced() (or render()) runs on each. Private #fields and the
  // constructor of the first definition cannot be replaced.
  function define(name, cls, options) {
    const registered = components.get(name);
    if (!registered) {
      if (!customElements.get(name)) customElements.define(name, cls, options);
      components.set(name, customElements.get(name));
      return;
    }
    if (registered === cls) return;
    copyMembers(registered.prototype, cls.prototype);
    copyMembers(registered, cls);
    for (const el of instancesOf(name)) {
      if (typeof el.hotReplaced === 'function') el.hotReplaced();
      else if (typeof el.render === 'function') el.render();
    }
  }

  // ---- modules ------------------------------------------------------------
  const acceptors = new Map(); // path -> [fn(newModule)]
  const disposers = new Map(); // path -> [fn()]
  const add = (map, url, fn) => {
    const p = pathOf(url);
    map.set(p, [...(map.get(p) || []), fn]);
  };

  async function reimport(u) {
    for (const fn of disposers.get(u.path) || []) fn();
    disposers.delete(u.path);
    const fns = acceptors.get(u.path) || [];
    acceptors.delete(u.path); // the new module registers its own
    const mod = await import(withHash(u.path, u.hash));
    for (const fn of fns) fn(mod);
  }

  // ---- full reload keeping scroll and form values -------------------------
  const fields = () => [...document.querySelectorAll('input, textarea, select')]
    .filter((el) => el.type !== 'password' && el.type !== 'file');
  const fieldKey = (el, i) => el.id ? '#' + el.id : `${el.localName}[name="${el.name}"]@${i}`;

  function fullReload() {
    const saved = {
      url: location.href, x: scrollX, y: scrollY,
      fields: fields().map((el, i) => ({ key: fieldKey(el, i), value: el.value, checked: el.checked })),
    };
    store.set('restore', JSON.stringify(saved));
    location.reload();
  }

  function restore() {
    const raw = store.take('restore');
    if (!raw) return;
    let saved;
    try { saved = JSON.parse(raw); } catch { return; }
    if (saved.url !== location.href) return;
    const byKey = new Map(saved.fields.map((f) => [f.key, f]));
    fields().forEach((el, i) => {
      const f = byKey.get(fieldKey(el, i));
      if (!f) return;
      if (el.type === 'checkbox' || el.type === 'radio') el.checked = f.checked;
      else el.value = f.value;
    });
    const scroll = () => scrollTo(saved.x, saved.y);
    scroll();
    if (document.readyState !== 'complete') addEventListener('load', scroll, { once: true });
  }

  // ---- error overlay ------------------------------------------------------
  let overlay = null;
  function showErrors(errors) {
    if (!overlay) {
      overlay = document.createElement('hotreload-overlay');
      overlay.attachShadow({ mode: 'open' }).innerHTML = `<style>
        :host { position: fixed; inset: 0; z-index: 2147483647; background: rgba(20,20,24,.88);
          color: #f4f4f5; font: 14px/1.5 ui-monospace, monospace; overflow: auto; }
        h2 { margin: 0 0 12px; color: #fca5a5; font-size: 16px; }
        div { max-width: 960px; margin: 48px auto; padding: 24px; background: #18181b;
          border-top: 4px solid #ef4444; }
        li { white-space: pre-wrap; margin: 4px 0; } .where { color: #93c5fd; }
        button { float: right; }
      </style><div role="alert"><button title="Hide">&times;</button>
        <h2>Reload failed</h2><ol></ol></div>`;
      overlay.shadowRoot.querySelector('button').onclick = () => overlay.remove();
    }
    const list = overlay.shadowRoot.querySelector('ol');
    list.replaceChildren(...errors.map((e) => {
      const li = document.createElement('li');
      const where = document.createElement('span');
      where.className = 'where';
      let w = e.file || '';
      if (w && e.line) w += ':' + e.line + (e.column ? ':' + e.column : '');
      where.textContent = (w ? w + ': ' : '') + (e.path ? e.path + ': ' : '');
      li.append(where, e.message);
      return li;
    }));
    if (!overlay.isConnected) document.documentElement.append(overlay);
  }
  function clearErrors() { if (overlay) overlay.remove(); }

  // ---- applying updates ---------------------------------------------------
  let socket = null;
  function send(msg) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(msg));
  }
  function ack(u, status, error) {
    if (status !== 'failed' && u.version) {
      state.version = u.version;
      store.set('version', u.version);
    }
    send({ type: 'ack', seq: u.seq, key: u.key, version: u.version, status, error: error ? String(error.message || error) : undefined });
  }

  // apply patches one update in place; it returns false when only a full
  // reload can apply it.
  async function apply(u) {
    switch (u.kind) {
      case 'styles': await reloadStyles(u); return true;
      case 'theme': applyTheme(u.theme); return true;
      case 'component':
        if (!components.has(u.name)) return true; // not used on this page
        await import(withHash(u.path, u.hash)); return true;
      case 'module':
        if (!acceptors.has(u.path)) return false;
        await reimport(u); return true;
      case 'message': emit('message', u.data); return true;
      default: return false;
    }
  }

  let chain = Promise.resolve();
  function enqueue(u) {
    chain = chain.then(async () => {
      try {
        if (await apply(u)) {
          if (u.hash && state.baseline) state.baseline[u.key] = u.hash;
          ack(u, 'applied');
          emit('update', u);
          return;
        }
      } catch (e) {
        console.error('[hotreload] applying', u.key, e);
        if (u.kind === 'styles' || u.kind === 'theme') { ack(u, 'failed', e); return; }
      }
      ack(u, 'fell_back');
      fullReload();
    });
  }

  // resync compares a snapshot of current versions with what this page runs
  // and applies what differs.
  function resync(entries) {
    const base = state.baseline || {};
    for (const e of entries || []) {
      if (base[e.key] === e.hash && e.kind !== 'theme') continue;
      if (e.kind === 'page') { enqueue({ ...e, kind: 'page' }); return; }
      enqueue(e);
    }
  }

  function onMessage(m) {
    if (m.seq > state.seq) { state.seq = m.seq; store.set('seq', String(m.seq)); }
    switch (m.type) {
      case 'welcome':
        state.id = m.id; store.set('id', m.id);
        state.epoch = m.epoch; store.set('epoch', m.epoch);
        if (!state.baseline) {
          state.baseline = Object.fromEntries((m.entries || []).map((e) => [e.key, e.hash]));
          if (!state.version && m.current) { state.version = m.current; store.set('version', m.current); }
        }
        for (const e of m.entries || []) if (e.kind === 'theme') applyTheme(e.theme);
        if (m.errors && m.errors.length) showErrors(m.errors); else clearErrors();
        attempt = 0;
        emit('welcome', { id: m.id, seq: m.seq });
        break;
      case 'update': enqueue(m); break;
      case 'snapshot': resync(m.entries); if (m.errors) showErrors(m.errors); else clearErrors(); break;
      case 'error': showErrors(m.errors || []); emit('error', m.errors); break;
      case 'clear': clearErrors(); emit('clear'); break;
    }
  }

  // ---- connection with jittered backoff -----------------------------------
  let attempt = 0;
  function connect() {
    const ws = new WebSocket(socketURL, protocols);
    socket = ws;
    ws.onopen = () => {
      state.connected = true;
      ws.send(JSON.stringify({
        type: 'hello', protocol: PROTOCOL, id: state.id, epoch: state.epoch,
        seq: state.seq, version: state.version, page: location.href,
      }));
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      onMessage(m);
    };
    ws.onclose = (ev) => {
      state.connected = false;
      if (socket !== ws) return;
      if (ev.code === 4001) { console.error('[hotreload] refused:', ev.reason); return; }
      const ceiling = Math.min(10000, 250 * 2 ** attempt++);
      setTimeout(connect, ceiling / 2 + Math.random() * ceiling / 2);
    };
  }

  window.hotreload = {
    define,
    accept(url, fn) { add(acceptors, url, fn); },
    dispose(url, fn) { add(disposers, url, fn); },
    adopt(path, sheet) { add(adopted, path, sheet); },
    on(type, fn) { listeners.set(type, [...(listeners.get(type) || []), fn]); },
    status: () => ({ id: state.id, seq: state.seq, version: state.version, connected: state.connected }),
  };
  if (document.readyState === 'loading') addEventListener('DOMContentLoaded', restore, { once: true });
  else restore();
  connect();
})();
