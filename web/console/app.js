// app.js - the console shell: sign-in, the signed-in frame with its navigation,
// the language switch, and the hash router (#/customers/123) that draws each
// screen into <main>. Screens live in their own modules; every one gets the
// signed-in user and can(scope), the same rule the server applies per route.
import { api, setCsrf, onUnauthorized } from './api.js';
import { t, getLang, setLang } from './i18n.js';
import { el, clear, leave, errorBox } from './ui.js';
import * as overview from './overview.js';
import * as customers from './customers.js';
import * as points from './points.js';
import * as analytics from './analytics.js';
import * as settings from './settings.js';

const app = document.getElementById('app');
let me = null;

let allows = {};

// Whether the signed-in user's role may use routes that need scope
// ("points:write"). The server says (GET /v1/console/permissions, the rule
// its router applies), so the console hides exactly what it would refuse;
// the server still decides every request.
export function can(scope) { return allows[scope] === true; }

async function loadPermissions() {
  try {
    allows = (await api('GET', '/v1/console/permissions')).allows || {};
  } catch {
    allows = {}; // an older server: show only what needs no permission
  }
}

// [path pattern, module render function, nav key]
const routes = [
  ['overview', overview.render, 'overview'],
  ['customers/duplicates', customers.duplicates, 'customers'],
  ['customers/:id', customers.view, 'customers'],
  ['customers', customers.list, 'customers'],
  ['points/:tab/:id', points.render, 'points'],
  ['points/:tab', points.render, 'points'],
  ['points', points.render, 'points'],
  ['analytics/:tab', analytics.render, 'analytics'],
  ['analytics', analytics.render, 'analytics'],
  ['settings/:tab', settings.render, 'settings'],
  ['settings', settings.render, 'settings'],
];

function match(pattern, path) {
  const p = pattern.split('/');
  const u = path.split('/');
  if (p.length !== u.length) return null;
  const params = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i].startsWith(':')) params[p[i].slice(1)] = decodeURIComponent(u[i]);
    else if (p[i] !== u[i]) return null;
  }
  return params;
}

function currentPath() {
  const h = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = h.split('?');
  return { path: path || 'overview', query: new URLSearchParams(query) };
}

function renderLogin(message) {
  me = null;
  leave();
  document.title = t('app.title');
  const email = el('input', { type: 'email', name: 'email', required: '', autocomplete: 'username' });
  const password = el('input', { type: 'password', name: 'password', required: '', autocomplete: 'current-password' });
  const error = el('p', { class: 'error', role: 'alert' }, message || '');
  const form = el('form', { class: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    if (!email.value.trim() || !password.value) { error.textContent = t('login.missing'); return; }
    try {
      const who = await api('POST', '/v1/auth/login', { email: email.value.trim(), password: password.value });
      setCsrf(who.csrf_token);
      await loadPermissions();
      renderShell(who);
    } catch (e) {
      error.textContent = e.message;
    }
  } },
    el('h1', {}, t('app.title')),
    el('p', { class: 'muted' }, t('login.title')),
    el('label', {}, t('login.email'), email),
    el('label', {}, t('login.password'), password),
    el('button', { type: 'submit' }, t('login.submit')),
    error,
    el('button', { type: 'button', class: 'lang link', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); renderLogin(); } }, t('nav.lang')));
  app.replaceChildren(form);
}

const NAV = [
  ['overview', 'nav.overview', '#/overview', null],
  ['customers', 'nav.customers', '#/customers', 'customers:read'],
  ['points', 'nav.points', '#/points/rules', 'points:read'],
  ['analytics', 'nav.analytics', '#/analytics/rfm', 'analytics:read'],
  ['settings', 'nav.settings', '#/settings', null],
];

function renderShell(who) {
  me = who;
  document.title = t('app.title');
  const nav = el('nav', { class: 'side', 'aria-label': t('nav.main') },
    NAV.filter(([, , , scope]) => !scope || can(scope)).map(([key, label, href]) =>
      el('a', { href, 'data-nav': key }, t(label))));
  const header = el('header', {},
    el('strong', {}, t('app.title')),
    el('span', { class: 'who' }, `${t('home.welcome')}, ${me.name || me.email} (${t('role.' + me.role)})`),
    el('button', { class: 'lang', type: 'button', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); renderShell(me); } }, t('nav.lang')),
    el('button', { class: 'logout', type: 'button', onclick: async () => {
      try { await api('POST', '/v1/auth/logout'); } catch { /* the session is gone either way */ }
      renderLogin();
    } }, t('nav.logout')));
  const main = el('main', { id: 'main' });
  app.replaceChildren(header, el('div', { class: 'frame' }, nav, main));
  route();
}

async function route() {
  if (!me) return;
  const main = document.getElementById('main');
  if (!main) return;
  leave();
  const { path, query } = currentPath();
  let found = null;
  for (const [pattern, fn, key] of routes) {
    const params = match(pattern, path);
    if (params) { found = { fn, key, params }; break; }
  }
  document.querySelectorAll('nav.side a').forEach((a) => a.classList.toggle('active', found && a.dataset.nav === found.key));
  if (!found) { clear(main, el('h1', {}, t('error.notFound'))); return; }
  const ctx = { me, can, params: found.params, query, go: (h) => { location.hash = h; } };
  // Each visit draws into its own element: a screen still loading when the
  // user moves on finishes into a detached element instead of over the next.
  const view = el('div', { class: 'view', 'data-screen': path.split('/')[0] }, el('div', { class: 'loading' }, t('common.loading')));
  clear(main, view);
  try {
    await found.fn(view, ctx);
  } catch (e) {
    clear(view, errorBox(e));
  }
}

window.addEventListener('hashchange', route);

async function start() {
  setLang(getLang());
  onUnauthorized(() => renderLogin(t('login.expired')));
  try {
    const who = await api('GET', '/v1/auth/me');
    setCsrf(who.csrf_token);
    await loadPermissions();
    renderShell(who);
  } catch {
    renderLogin();
  }
}

start();
