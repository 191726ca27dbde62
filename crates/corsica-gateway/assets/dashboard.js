// Corsica dashboard: keeps the server-rendered tables live over server-sent events and
// draws the chart. Every value is set as text (never as HTML).
'use strict';
(function () {
  const OUTCOMES = ['preflight_allowed', 'actual_allowed', 'preflight_denied', 'actual_denied', 'guard_refused', 'not_cors', 'no_route'];
  const $ = (id) => document.getElementById(id);
  const cell = (tag, text, attrs) => {
    const e = document.createElement(tag);
    e.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  };
  const time = (ms) => new Date(ms).toLocaleTimeString();
  let seen = new Set();
  let first = true;

  function localTimes() {
    for (const t of document.querySelectorAll('time[data-ms]')) t.textContent = time(Number(t.dataset.ms));
  }

  function config(c) {
    $('config-version').textContent = String(c.version);
    const applied = $('config-applied');
    applied.dataset.ms = String(c.applied_at);
    applied.textContent = time(c.applied_at);
    const r = c.last_reload;
    $('config-reload').textContent = !r ? 'none since start'
      : r.result === 'ok' ? 'applied at ' + time(r.at)
      : 'refused at ' + time(r.at) + ': the configuration above keeps running';
    const list = $('config-errors');
    list.replaceChildren(...((r && r.errors) || []).map((e) => cell('li', e)));
  }

  function active(list) {
    $('active').tBodies[0].replaceChildren(...list.map((r) => {
      const tr = document.createElement('tr');
      const name = cell('th', r.name, { scope: 'row' });
      if (r.shadow) name.append(' ', cell('span', '(with a shadow candidate)', { class: 'status' }));
      const code = (text) => { const td = document.createElement('td'); td.append(cell('code', text)); return td; };
      const origins = r.origins.join(', ') + (r.more_origins ? ' and ' + r.more_origins + ' more' : '');
      tr.append(name, code((r.host || 'any host') + ' ' + (r.path || '/')), code(r.upstream), code(origins), cell('td', r.credentials ? 'yes' : 'no'));
      return tr;
    }));
  }

  function routes(rows) {
    const body = $('routes').tBodies[0];
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement('tr');
      tr.append(cell('th', r.route || '(no route)', { scope: 'row' }));
      for (const o of OUTCOMES) tr.append(cell('td', String(r.outcomes[o] || 0)));
      return tr;
    }));
  }

  function denials(list) {
    const body = $('denials').tBodies[0];
    if (!list.length) return;
    const next = new Set();
    body.replaceChildren(...list.map((d) => {
      const key = d.at + ' ' + d.route + ' ' + d.method + ' ' + d.path + ' ' + d.origin;
      next.add(key);
      const tr = document.createElement('tr');
      if (!first && !seen.has(key)) tr.className = 'fresh';
      const when = cell('time', time(d.at), { 'data-ms': String(d.at) });
      const td = document.createElement('td');
      td.append(when);
      const req = document.createElement('td');
      req.append(cell('code', d.method + ' ' + d.path));
      const origin = document.createElement('td');
      origin.append(cell('code', d.origin));
      const rule = document.createElement('td');
      rule.append(cell('code', d.reason));
      tr.append(td, cell('td', d.route), req, origin, rule, cell('td', d.message));
      return tr;
    }));
    seen = next;
  }

  function chart(points) {
    const svg = $('chart');
    const W = 600, H = 160, PAD = 22;
    const max = Math.max(1, ...points.map((p) => Math.max(p.allowed, p.denied)));
    const x = (i) => PAD + (i * (W - 2 * PAD)) / Math.max(1, 299);
    const y = (v) => H - PAD - (v * (H - 2 * PAD)) / max;
    const start = 300 - points.length;
    const line = (key) => points.map((p, i) => x(start + i).toFixed(1) + ',' + y(p[key]).toFixed(1)).join(' ');
    const NS = 'http://www.w3.org/2000/svg';
    const el = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text !== undefined) e.textContent = text;
      return e;
    };
    const last = points[points.length - 1] || { allowed: 0, denied: 0 };
    svg.replaceChildren(
      el('line', { x1: PAD, y1: H - PAD, x2: W - PAD, y2: H - PAD, stroke: 'currentColor', 'stroke-opacity': '0.3', 'vector-effect': 'non-scaling-stroke' }),
      el('polyline', { class: 'allowed', points: line('allowed'), 'vector-effect': 'non-scaling-stroke' }),
      el('polyline', { class: 'denied', points: line('denied'), 'vector-effect': 'non-scaling-stroke' }),
    );
    $('chart-legend').textContent = 'Scale: ' + max + ' requests/s at the top. Last second: ' + last.allowed + ' allowed, ' + last.denied + ' denied.';
  }

  function shadow(sh) {
    const routesTable = $('shadow-routes');
    if (!routesTable) return;
    routesTable.tBodies[0].replaceChildren(...sh.routes.map((r) => {
      const tr = document.createElement('tr');
      tr.append(cell('th', r.route, { scope: 'row' }));
      for (const c of ['would_deny', 'would_allow', 'would_change']) tr.append(cell('td', String(r[c]), { id: 'shadow-' + r.route + '-' + c }));
      return tr;
    }));
    if (!sh.samples.length) return;
    $('shadow-samples').tBodies[0].replaceChildren(...sh.samples.slice().reverse().map((x) => {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.append(cell('time', time(x.unix_ms), { 'data-ms': String(x.unix_ms) }));
      tr.append(td, cell('td', x.route), cell('td', x.message));
      return tr;
    }));
  }

  function apply(s) {
    config(s.config);
    active(s.active);
    routes(s.routes);
    denials(s.denials);
    chart(s.series);
    shadow(s.shadow);
    $('live').textContent = 'Live · updated ' + time(s.now);
    first = false;
  }

  localTimes();
  const events = new EventSource('/_corsica/events');
  events.onmessage = (e) => apply(JSON.parse(e.data));
  events.onerror = () => { $('live').textContent = 'Disconnected; retrying…'; };
})();
