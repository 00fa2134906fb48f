// app.js - the console shell: sign-in, the signed-in frame, language switch.
import { api, setCsrf } from './api.js';
import { t, getLang, setLang } from './i18n.js';

const app = document.getElementById('app');

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

function renderLogin(message) {
  document.title = t('app.title');
  const email = el('input', { type: 'email', name: 'email', required: '', autocomplete: 'username' });
  const password = el('input', { type: 'password', name: 'password', required: '', autocomplete: 'current-password' });
  const error = el('p', { class: 'error', role: 'alert' }, message || '');
  const form = el('form', { class: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const me = await api('POST', '/v1/auth/login', { email: email.value, password: password.value });
      setCsrf(me.csrf_token);
      renderHome(me);
    } catch (e) {
      error.textContent = e.message;
    }
  } },
    el('h1', {}, t('app.title')),
    el('label', {}, t('login.email'), email),
    el('label', {}, t('login.password'), password),
    el('button', { type: 'submit' }, t('login.submit')),
    error);
  app.replaceChildren(form);
}

function renderHome(me) {
  const header = el('header', {},
    el('strong', {}, t('app.title')),
    el('span', { class: 'who' }, `${t('home.welcome')}, ${me.name || me.email} (${me.role})`),
    el('button', { class: 'lang', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); renderHome(me); } }, t('nav.lang')),
    el('button', { class: 'logout', onclick: async () => { await api('POST', '/v1/auth/logout'); renderLogin(); } }, t('nav.logout')));
  app.replaceChildren(header, el('main', { id: 'main' }));
}

async function start() {
  setLang(getLang());
  try {
    const me = await api('GET', '/v1/auth/me');
    setCsrf(me.csrf_token);
    renderHome(me);
  } catch {
    renderLogin();
  }
}

start();
