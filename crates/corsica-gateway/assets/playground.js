// Corsica playground: posts the case to /_corsica/playground at each change and shows the
// browser model's answer. The case lives in the URL. Every value is set as text.
'use strict';
(function () {
  const FIELDS = ['origin', 'url', 'method', 'headers', 'credentials', 'browser', 'answers', 'preflight', 'response', 'config'];
  const DEFAULTS = { origin: 'https://app.example.com', url: 'https://api.example.com/orders', method: 'GET', credentials: 'same-origin', browser: 'chromium', answers: 'typed' };
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  };
  const form = $('case');
  const result = $('result');
  let timer = null;
  let sent = 0;

  function caseOf() {
    const c = {};
    for (const f of FIELDS) c[f] = $(f).value;
    return c;
  }

  // The link holds the case, without secrets (an admin_token line of a pasted
  // configuration) and within what the listener reads of a request head (8 KiB).
  function keepInUrl(c) {
    const q = new URLSearchParams();
    for (const f of FIELDS) {
      let v = c[f];
      if (f === 'config' && v) v = v.split('\n').filter((l) => !/^\s*admin_token\s*=/.test(l)).join('\n');
      if (v && v !== (DEFAULTS[f] || '')) q.set(f, v);
    }
    const url = '/_corsica/playground' + (q.toString() ? '?' + q : '');
    const note = $('copy');
    if (url.length > 6000) {
      note.textContent = 'Case too large for a link';
      return;
    }
    note.textContent = 'Copy link';
    history.replaceState(null, '', url);
  }

  function showAnswerFields() {
    const mode = $('answers').value;
    for (const f of ['preflight', 'response']) $(f).closest('.field').hidden = mode !== 'typed';
    $('config').closest('.field').hidden = mode !== 'config';
  }

  function clearErrors() {
    for (const f of FIELDS) {
      $(f + '-error').textContent = '';
      $(f).removeAttribute('aria-invalid');
    }
  }

  function headerList(headers, culprit) {
    const ul = el('ul', undefined, 'headers');
    for (const [n, v] of headers || []) {
      const li = el('li', n + ': ' + v);
      if (culprit && n.toLowerCase() === culprit.toLowerCase()) li.className = 'culprit';
      ul.append(li);
    }
    return ul;
  }

  function render(v) {
    const parts = [el('h2', 'What the browser does')];
    parts[0].id = 'result-h';
    const verdict = el('p', '', 'verdict ' + v.verdict);
    verdict.id = 'verdict';
    verdict.textContent = v.verdict === 'allowed' ? 'Allowed: ' + v.message
      : v.verdict === 'blocked' ? 'Blocked by CORS' : 'Failed';
    parts.push(verdict);
    parts.push(el('pre', v.fetch));
    const why = el('p');
    why.id = 'preflight-why';
    why.textContent = v.preflight
      ? 'A preflight is sent because ' + (v.preflight_why.length ? v.preflight_why.join('; ') : 'the browser needs one') + '.'
      : 'No preflight: a simple request (safelisted method and headers).';
    parts.push(why);
    const steps = el('ol', undefined, 'timeline');
    steps.setAttribute('aria-label', 'Requests the browser makes');
    v.steps.forEach((s, i) => {
      const li = el('li');
      const isCulprit = v.culprit && v.culprit.step === i;
      if (s.error || isCulprit) li.className = 'failed';
      const title = s.kind === 'preflight' ? 'Preflight' : (i > 0 && v.steps[i - 1].redirected ? 'Redirected request' : 'Request');
      li.append(el('h3', (i + 1) + '. ' + title + ': ' + s.method + ' ' + s.url));
      li.append(el('p', 'Sent:'), headerList(s.request_headers));
      const status = el('p', s.status === null ? 'No response' : 'Answered ' + s.status + (s.redirected ? ' (redirect)' : '') + ':');
      if (isCulprit && v.culprit.header === 'status') status.className = 'culprit';
      li.append(status);
      if (s.response_headers) li.append(headerList(s.response_headers, isCulprit ? v.culprit.header : null));
      if (isCulprit && v.culprit.header && v.culprit.header !== 'status' &&
          !(s.response_headers || []).some(([n]) => n.toLowerCase() === v.culprit.header.toLowerCase())) {
        li.append(el('p', 'Missing: ' + v.culprit.header, 'culprit'));
      }
      if (s.error) li.append(el('p', 'Error: ' + s.error, 'error'));
      steps.append(li);
    });
    parts.push(el('h3', 'Timeline'), steps);
    if (v.verdict !== 'allowed') {
      parts.push(el('h3', 'Console'));
      const msg = el('pre', v.message, 'console');
      msg.id = 'console-message';
      parts.push(msg);
    }
    if (v.hint) {
      const hint = el('p', v.hint);
      hint.id = 'hint';
      parts.push(el('h3', 'The fix'), hint);
    }
    if (v.fixes) {
      if (v.fixes.note) parts.push(el('p', v.fixes.note));
      for (const [key, label] of [['corsica', 'corsica'], ['nginx', 'nginx'], ['express', 'Express cors'], ['tower-http', 'tower-http']]) {
        if (!v.fixes[key]) continue;
        parts.push(el('h4', label));
        const pre = el('pre', v.fixes[key]);
        pre.id = 'fix-' + key;
        parts.push(pre);
      }
    }
    for (const w of v.warnings || []) parts.push(el('p', 'Note: ' + w.message));
    result.replaceChildren(...parts);
  }

  async function check() {
    const c = caseOf();
    keepInUrl(c);
    const mine = ++sent;
    let answer;
    try {
      const r = await fetch('/_corsica/playground', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(c) });
      answer = { ok: r.ok, body: await r.json() };
    } catch (e) {
      answer = { ok: false, body: { error: 'The gateway did not answer: ' + e, field: 'case' } };
    }
    if (mine !== sent) return;
    clearErrors();
    if (answer.ok) {
      render(answer.body);
    } else {
      const f = FIELDS.includes(answer.body.field) ? answer.body.field : null;
      if (f) {
        $(f + '-error').textContent = answer.body.error;
        $(f).setAttribute('aria-invalid', 'true');
      }
      result.replaceChildren(el('h2', 'What the browser does'), el('p', 'Fix the case: ' + answer.body.error, 'error'));
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  }

  form.addEventListener('input', () => { showAnswerFields(); soon(); });
  form.addEventListener('change', () => { showAnswerFields(); soon(); });
  form.addEventListener('submit', (e) => { e.preventDefault(); check(); });
  $('copy').addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(location.href); $('copy').textContent = 'Link copied'; } catch (_) { $('copy').textContent = 'Copy the address bar'; }
  });
  showAnswerFields();
  check();
})();
