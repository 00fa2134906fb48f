// ui.js - the console's building blocks: elements, cards, tables with paging,
// forms that validate before sending and show the server's refusal at the
// field it names, dialogs, progress, and ECharts charts (loaded on first use).
import { t, fmtNum, fmtDateTime, getLang } from './i18n.js';

// el('button', { class: 'primary', onclick }, 'text', child, [more], null)
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else if (k === 'checked' || k === 'disabled' || k === 'hidden' || k === 'selected') e[k] = !!v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  append(e, children);
  return e;
}

function append(e, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(e, c);
    else e.append(c instanceof Node ? c : String(c));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function card(title, ...body) {
  return el('section', { class: 'card' }, title ? el('h2', {}, title) : null, ...body);
}

// A headline number; data-kpi and data-value let tests compare with the API.
export function kpi(key, label, value, shown, hint) {
  return el('div', { class: 'kpi', 'data-kpi': key, 'data-value': value === null || value === undefined ? '' : String(value) },
    el('span', { class: 'kpi-label' }, label),
    el('strong', { class: 'kpi-value' }, shown),
    hint ? el('span', { class: 'kpi-hint' }, hint) : null);
}

export function badge(text, kind = '') {
  return el('span', { class: `badge ${kind}` }, text);
}

// A placeholder for "nothing here", "not computed yet" or a failure.
export function stateBox(kind, text, ...extra) {
  return el('div', { class: `state state-${kind}`, 'data-state': kind }, el('p', {}, text), ...extra);
}

export function errorBox(err) {
  return stateBox('error', `${t('error.load')}: ${err.message}`);
}

let toastTimer = null;
export function toast(text, kind = 'ok') {
  let box = document.getElementById('toast');
  if (!box) {
    box = el('div', { id: 'toast', role: 'status' });
    document.body.append(box);
  }
  box.className = `toast ${kind}`;
  box.textContent = text;
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

// ---- dialogs ----

// Opens a modal with content; returns { dialog, close }.
export function modal(title, content, { wide = false, onclose } = {}) {
  const dlg = el('dialog', { class: wide ? 'modal wide' : 'modal' });
  const close = () => { dlg.close(); };
  dlg.addEventListener('close', () => { dlg.remove(); if (onclose) onclose(); });
  dlg.append(
    el('header', {}, el('h2', {}, title), el('button', { type: 'button', class: 'close', 'aria-label': t('common.close'), onclick: close }, '×')),
    el('div', { class: 'modal-body' }, content));
  document.body.append(dlg);
  dlg.showModal();
  return { dialog: dlg, close };
}

// Asks before something that cannot be undone. With `typed`, the user must
// type that text to enable the button. Resolves true when confirmed.
export function confirmDialog({ title, message, confirmLabel, danger = false, typed = '' }) {
  return new Promise((resolve) => {
    let answered = false;
    const input = typed ? el('input', { name: 'confirm-text', autocomplete: 'off', placeholder: typed }) : null;
    const ok = el('button', { type: 'button', class: danger ? 'danger confirm' : 'primary confirm', disabled: !!typed }, confirmLabel || t('common.confirm'));
    if (input) input.addEventListener('input', () => { ok.disabled = input.value.trim() !== typed; });
    const body = el('div', { class: 'confirm-body' },
      el('p', {}, message),
      typed ? el('label', {}, t('common.typeToConfirm').replace('{text}', typed), input) : null,
      el('div', { class: 'actions' },
        el('button', { type: 'button', class: 'cancel', onclick: () => m.close() }, t('common.cancel')),
        ok));
    const m = modal(title, body, { onclose: () => { if (!answered) resolve(false); } });
    ok.addEventListener('click', () => { answered = true; resolve(true); m.close(); });
  });
}

// ---- progress for long operations ----

export function progressBar(label) {
  const bar = el('progress', { max: '1' });
  const text = el('span', { class: 'progress-text' }, label);
  const box = el('div', { class: 'progress', 'data-progress': 'running' }, bar, text);
  return {
    el: box,
    set(fraction, note) {
      if (fraction === null || fraction === undefined) bar.removeAttribute('value');
      else bar.value = Math.max(0, Math.min(1, fraction));
      text.textContent = note || `${label} ${fraction === null || fraction === undefined ? '' : Math.round(fraction * 100) + '%'}`;
    },
    done(note) {
      bar.value = 1;
      box.dataset.progress = 'done';
      text.textContent = note || t('common.done');
    },
  };
}

// ---- tables and paging ----

// columns: [{ label, value: (row) => node|string, cls }]
export function table(columns, rows, { empty, rowAttrs } = {}) {
  const thead = el('thead', {}, el('tr', {}, columns.map((c) => el('th', { class: c.cls || '' }, c.label))));
  const tbody = el('tbody', {});
  for (const r of rows) {
    tbody.append(el('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => el('td', { class: c.cls || '' }, c.value(r)))));
  }
  const tb = el('table', { class: 'data' }, thead, tbody);
  if (!rows.length) return el('div', { class: 'table-wrap' }, tb, stateBox('empty', empty || t('common.empty')));
  return el('div', { class: 'table-wrap' }, tb);
}

// A table over a cursor-paged list. load(cursor) -> { data, next_cursor }.
// Keeps the cursors of the pages seen, so "previous" works too.
export function pagedTable(columns, load, opts = {}) {
  const box = el('div', { class: 'paged' });
  const stack = [null];
  let at = 0;
  const info = el('span', { class: 'page-info' });
  const prev = el('button', { type: 'button', class: 'prev', onclick: () => { if (at > 0) { at--; show(); } } }, t('common.prev'));
  const next = el('button', { type: 'button', class: 'next', onclick: () => { if (stack[at + 1] !== undefined) { at++; show(); } } }, t('common.next'));
  const holder = el('div', {});
  box.append(holder, el('div', { class: 'pager' }, prev, info, next));
  async function show() {
    holder.replaceChildren(el('div', { class: 'loading' }, t('common.loading')));
    prev.disabled = next.disabled = true;
    try {
      const page = await load(stack[at]);
      const rows = page.data || [];
      holder.replaceChildren(table(columns, rows, opts));
      if (page.next_cursor) stack[at + 1] = page.next_cursor; else stack.length = at + 1;
      prev.disabled = at === 0;
      next.disabled = !page.next_cursor;
      info.textContent = t('common.page').replace('{n}', String(at + 1));
      if (opts.onPage) opts.onPage(rows);
    } catch (e) {
      holder.replaceChildren(errorBox(e));
    }
  }
  box.reload = () => { stack.length = 1; at = 0; return show(); };
  show();
  return box;
}

// Pages a list the server returns whole, 50 rows a page, with the same pager.
export function pageArray(rows, size = 50) {
  return (cursor) => {
    const from = cursor ? Number(cursor) : 0;
    const to = from + size;
    return Promise.resolve({ data: rows.slice(from, to), next_cursor: to < rows.length ? String(to) : null });
  };
}

// ---- forms ----
//
// fields: [{ name: 'caps.per_day', label, type, required, min, max, step,
//   options: [[value, label]…], nullable, help, placeholder, validate(v, values) }]
// type: text | textarea | expr | number | decimal | money (yuan in, fen out) |
//   select | checkbox | datetime | date | month | email | password | list (comma
//   separated -> array) | json | hidden | checkboxes (options -> array)
// The body sent has the dotted names expanded into nested objects.

function setPath(obj, path, value) {
  const parts = path.split('.');
  let o = obj;
  for (let i = 0; i < parts.length - 1; i++) {
    if (typeof o[parts[i]] !== 'object' || o[parts[i]] === null) o[parts[i]] = {};
    o = o[parts[i]];
  }
  o[parts[parts.length - 1]] = value;
}

export function getPath(obj, path) {
  return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

function toLocalInput(iso, type) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (n) => String(n).padStart(2, '0');
  const date = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
  return type === 'date' ? date : `${date}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fieldInput(f, value) {
  const common = { name: f.name, id: `f-${f.name.replace(/\W/g, '-')}`, placeholder: f.placeholder || null };
  switch (f.type) {
    case 'textarea':
    case 'expr':
    case 'json':
      return el('textarea', { ...common, rows: f.rows || (f.type === 'expr' ? 3 : 4), class: f.type === 'text' ? '' : 'mono', spellcheck: 'false',
        value: f.type === 'json' ? (value === undefined || value === null ? '' : JSON.stringify(value, null, 1)) : (value ?? '') });
    case 'select':
      return el('select', common, (f.options || []).map(([v, l]) => el('option', { value: v, selected: String(value ?? f.default ?? '') === String(v) }, l)));
    case 'checkbox':
      return el('input', { ...common, type: 'checkbox', checked: value === undefined ? !!f.default : !!value });
    case 'checkboxes':
      return el('div', { class: 'checks', id: common.id }, (f.options || []).map(([v, l]) =>
        el('label', { class: 'check' }, el('input', { type: 'checkbox', name: f.name, value: v, checked: Array.isArray(value) && value.includes(v) }), l)));
    case 'number':
    case 'decimal':
      return el('input', { ...common, type: 'number', step: f.step || (f.type === 'decimal' ? 'any' : '1'), min: f.min ?? null, max: f.max ?? null, value: value ?? f.default ?? '' });
    case 'money':
      return el('input', { ...common, type: 'number', step: '0.01', min: f.min ?? 0, value: value === undefined || value === null ? '' : (value / 100).toFixed(2) });
    case 'datetime':
      return el('input', { ...common, type: 'datetime-local', value: toLocalInput(value, 'datetime') });
    case 'date':
      return el('input', { ...common, type: 'date', value: typeof value === 'string' && value.length === 10 ? value : toLocalInput(value, 'date') });
    case 'list':
      return el('input', { ...common, value: Array.isArray(value) ? value.join(', ') : (value ?? '') });
    default: {
      const input = el('input', { ...common, type: f.type || 'text', value: value ?? f.default ?? '', autocomplete: f.autocomplete || 'off' });
      if (!f.suggest) return input;
      // suggestions the user may pick or ignore
      const id = `${common.id}-list`;
      input.setAttribute('list', id);
      return el('span', { class: 'suggest' }, input, el('datalist', { id }, f.suggest.map((s) => el('option', { value: s }))));
    }
  }
}

// Reads one field: { ok, value, skip, error }.
function readField(form, f) {
  const input = form.elements.namedItem(f.name);
  if (f.type === 'checkboxes') {
    return { value: Array.from(form.querySelectorAll(`input[name="${f.name}"]:checked`), (c) => c.value) };
  }
  if (!input) return { skip: true };
  if (f.type === 'checkbox') return { value: input.checked };
  const raw = input.value.trim();
  if (raw === '') {
    if (f.required) return { error: t('form.required') };
    if (f.nullable) return { value: null };
    if (f.emptyString) return { value: '' };
    return { skip: true };
  }
  switch (f.type) {
    case 'number': {
      if (!/^-?\d+$/.test(raw)) return { error: t('form.integer') };
      const n = Number(raw);
      if (f.min !== undefined && n < f.min) return { error: t('form.min').replace('{n}', fmtNum(f.min)) };
      if (f.max !== undefined && n > f.max) return { error: t('form.max').replace('{n}', fmtNum(f.max)) };
      return { value: n };
    }
    case 'decimal': {
      const n = Number(raw);
      if (!Number.isFinite(n)) return { error: t('form.number') };
      if (f.min !== undefined && n < f.min) return { error: t('form.min').replace('{n}', fmtNum(f.min)) };
      if (f.max !== undefined && n > f.max) return { error: t('form.max').replace('{n}', fmtNum(f.max)) };
      return { value: n };
    }
    case 'money': {
      if (!/^\d+(\.\d{1,2})?$/.test(raw)) return { error: t('form.money') };
      return { value: Math.round(Number(raw) * 100) };
    }
    case 'date': {
      // sent as written: the server reads a bare date as the brand's day, not the browser's
      const d = new Date(raw + 'T00:00:00Z');
      if (!/^\d{4}-\d{2}-\d{2}$/.test(raw) || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== raw) return { error: t('form.date') };
      return { value: raw };
    }
    case 'datetime': {
      const d = new Date(raw);
      if (Number.isNaN(d.getTime())) return { error: t('form.date') };
      return { value: d.toISOString() };
    }
    case 'list':
      return { value: raw.split(/[,，]/).map((s) => s.trim()).filter(Boolean) };
    case 'json':
      try { return { value: JSON.parse(raw) }; } catch (e) { return { error: `${t('form.json')}: ${e.message}` }; }
    case 'email':
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(raw)) return { error: t('form.email') };
      return { value: raw };
    default:
      if (f.pattern && !new RegExp(f.pattern).test(raw)) return { error: f.patternHint || t('form.pattern') };
      if (f.minLength && raw.length < f.minLength) return { error: t('form.minLength').replace('{n}', String(f.minLength)) };
      if (f.maxLength && [...raw].length > f.maxLength) return { error: t('form.maxLength').replace('{n}', String(f.maxLength)) };
      return { value: raw };
  }
}

// Renders where an expression error is: the line, and a caret under the column.
function caretView(source, line, column) {
  const lines = String(source).split('\n');
  const text = lines[line - 1] ?? '';
  const pad = [...text].slice(0, Math.max(0, column - 1)).map((ch) => (ch === '\t' ? '\t' : (ch.charCodeAt(0) > 0x2e80 ? '\u3000' : ' '))).join('');
  return el('pre', { class: 'caret', 'data-line': String(line), 'data-column': String(column) }, `${text}\n${pad}^`);
}

// Builds a form. onSubmit(body) may throw an api() error; its problem is shown
// at the field it names (with line and column for expressions) or above the
// buttons. Returns the <form> with .values(), .setError(field, msg), .reset().
export function form(fields, { values = {}, submitLabel, onSubmit, readonly = false, cls = '', extraButtons = [] } = {}) {
  const f = el('form', { class: `form ${cls}`, novalidate: true });
  const rows = [];
  for (const fd of fields) {
    if (fd.type === 'section') {
      rows.push(el('h3', { class: 'form-section' }, fd.label));
      continue;
    }
    const v = fd.value !== undefined ? fd.value : getPath(values, fd.name);
    const input = fieldInput(fd, v);
    if (readonly || fd.readonly) input.disabled = true;
    const err = el('div', { class: 'field-error', 'data-for': fd.name, role: 'alert' });
    if (fd.type === 'hidden') { rows.push(input); continue; }
    const label = fd.type === 'checkbox'
      ? el('label', { class: 'field check', 'data-field': fd.name }, input, el('span', {}, fd.label), err)
      : el('label', { class: `field ${fd.wide || fd.type === 'expr' || fd.type === 'textarea' || fd.type === 'json' ? 'wide' : ''}`, 'data-field': fd.name },
        el('span', { class: 'field-label' }, fd.label, fd.required ? el('em', { class: 'req' }, ' *') : null),
        input, fd.help ? el('small', { class: 'help' }, fd.help) : null, err);
    rows.push(label);
  }
  const formError = el('div', { class: 'form-error error', role: 'alert' });
  const submit = el('button', { type: 'submit', class: 'primary', hidden: readonly }, submitLabel || t('common.save'));
  f.append(el('div', { class: 'fields' }, rows), formError, el('div', { class: 'actions' }, ...extraButtons, submit));

  function clearErrors() {
    f.querySelectorAll('.field-error').forEach((e) => e.replaceChildren());
    f.querySelectorAll('.invalid').forEach((e) => e.classList.remove('invalid'));
    formError.textContent = '';
  }
  function setError(name, msg, problem) {
    // the server names "title.zh", "lines[2].sku" or "condition": find the
    // field itself, else the closest one whose name starts the path
    let fd = fields.find((x) => x.name === name);
    if (!fd && name) fd = fields.find((x) => name.startsWith(x.name + '.') || name.startsWith(x.name + '[') || x.name.startsWith(name + '.'));
    const box = fd && f.querySelector(`.field-error[data-for="${CSS.escape(fd.name)}"]`);
    if (!box) { formError.textContent = msg; return; }
    box.replaceChildren();
    const line = problem && problem.line;
    const column = problem && problem.column;
    if (line && column) {
      // the position is shown (translated) once: drop the server's English prefix
      const text = String(msg).replace(/^line \d+, column \d+:\s*/, '');
      box.append(el('span', { class: 'at' }, t('form.position').replace('{line}', line).replace('{column}', column)), ' ', text);
      const input = f.elements.namedItem(fd.name);
      if (input && input.value !== undefined) {
        box.append(caretView(input.value, line, column));
        // put the cursor where the error is
        const lines = input.value.split('\n');
        let off = 0;
        for (let i = 0; i < line - 1 && i < lines.length; i++) off += lines[i].length + 1;
        off += [...(lines[line - 1] || '')].slice(0, column - 1).join('').length;
        try { input.setSelectionRange(off, off); } catch { /* not a text input */ }
      }
    } else {
      box.append(msg);
    }
    const lab = f.querySelector(`[data-field="${CSS.escape(fd.name)}"]`);
    if (lab) lab.classList.add('invalid');
  }
  function collect() {
    clearErrors();
    const body = {};
    let ok = true;
    for (const fd of fields) {
      if (fd.type === 'section' || fd.send === false) continue;
      const r = readField(f, fd);
      if (r.error) { setError(fd.name, r.error); ok = false; continue; }
      if (r.skip) continue;
      setPath(body, fd.name, r.value);
    }
    for (const fd of fields) {
      if (!fd.validate || fd.type === 'section') continue;
      const msg = fd.validate(getPath(body, fd.name), body);
      if (msg) { setError(fd.name, msg); ok = false; }
    }
    return ok ? body : null;
  }
  f.values = collect;
  f.setError = setError;
  f.clearErrors = clearErrors;
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (!onSubmit || readonly) return;
    const body = collect();
    if (!body) { f.dataset.state = 'invalid'; return; }
    submit.disabled = true;
    f.dataset.state = 'sending';
    try {
      await onSubmit(body);
      f.dataset.state = 'sent';
    } catch (e) {
      f.dataset.state = 'refused';
      showProblem(f, e);
    } finally {
      submit.disabled = false;
    }
  });
  return f;
}

// Shows an api() error on a form: at the named field when there is one.
export function showProblem(f, e) {
  const p = e.problem || {};
  const msg = p.detail || e.message;
  if (p.field && f.setError) f.setError(p.field, msg, p);
  else f.querySelector('.form-error').textContent = msg;
}

// ---- tabs ----

// items: [[key, label, href]]; the active one is marked.
export function tabs(items, active) {
  return el('nav', { class: 'tabs' }, items.map(([key, label, href]) =>
    el('a', { href, class: key === active ? 'active' : '', 'data-tab': key }, label)));
}

// ---- charts ----

let echartsLoading = null;
// Loads ECharts once, from the copy npm installed (the server serves
// /node_modules/); no CDN.
export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  if (!echartsLoading) {
    echartsLoading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/node_modules/echarts/dist/echarts.min.js';
      s.onload = () => resolve(window.echarts);
      s.onerror = () => { echartsLoading = null; reject(new Error('ECharts did not load')); };
      document.head.append(s);
    });
  }
  return echartsLoading;
}

const charts = new Set();
window.addEventListener('resize', () => { for (const c of charts) c.resize(); });

// A chart in a box; data-chart says "ready" once drawn (tests wait for it).
export function chart(option, { height = 300, name = '' } = {}) {
  const box = el('div', { class: 'chart', 'data-chart': 'loading', 'data-name': name, style: `height:${height}px` });
  loadECharts().then((echarts) => {
    requestAnimationFrame(() => {
      if (!box.isConnected) return;
      const c = echarts.init(box, null, { renderer: 'canvas' });
      c.setOption({ animation: false, textStyle: { fontFamily: getComputedStyle(document.body).fontFamily }, ...option });
      charts.add(c);
      box.chart = c;
      box.dataset.chart = 'ready';
    });
  }).catch((e) => { box.dataset.chart = 'failed'; box.append(stateBox('error', e.message)); });
  return box;
}

export const palette = ['#c62828', '#1565c0', '#2e7d32', '#ef6c00', '#6a1b9a', '#00838f', '#8d6e63', '#546e7a'];

// ---- leaving a screen ----
// Screens register what must stop when the user goes elsewhere (polling
// timers); the router calls leave() before drawing the next screen.
const leaving = [];
export function onLeave(fn) { leaving.push(fn); }
export function leave() {
  while (leaving.length) {
    try { leaving.pop()(); } catch { /* keep going */ }
  }
  for (const c of charts) c.dispose();
  charts.clear();
}

// Polls fn every ms until the screen is left; fn returning false stops it.
export function poll(fn, ms) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    let again = true;
    try { again = (await fn()) !== false; } catch { /* try again next time */ }
    if (!stopped && again) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  const stop = () => { stopped = true; clearTimeout(timer); };
  onLeave(stop);
  return stop;
}

// ---- misc ----

export function when(iso) { return iso ? fmtDateTime(iso) : '—'; }

export function link(href, text) { return el('a', { href }, text); }

// Downloads text as a file.
export function download(name, text, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// Localised name from a {zh, en} object (falls back to the other language).
export function pick(obj) {
  if (obj === null || obj === undefined) return '';
  if (typeof obj === 'string') return obj;
  const l = getLang();
  return obj[l] || obj.zh || obj.en || '';
}
