// api.js - calls to /v1/member with the member cookie (sent by the browser,
// Path=/v1/member) and the CSRF token on writes. A refusal becomes an Error
// carrying the server's problem+json; 401 calls the onUnauthorized handler.
import { t } from './i18n.js';

let csrf = '';
let unauthorized = null;

export function setCsrf(token) { csrf = token || ''; }
export function onUnauthorized(fn) { unauthorized = fn; }

// An Idempotency-Key per user action, so a retried tap never spends twice.
export function newKey() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function api(method, path, body, idemKey) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (idemKey) headers['Idempotency-Key'] = idemKey;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!res.ok) {
    const err = new Error((data && data.detail) || res.statusText || String(res.status));
    err.status = res.status;
    err.problem = data || {};
    if (res.status === 401 && unauthorized && path !== '/v1/member/login') unauthorized();
    throw err;
  }
  return data;
}

// What to tell the member about a refusal: the reason in their language
// when the server gave one, else the server's sentence.
export function explain(e) {
  const p = (e && e.problem) || {};
  if (p.reason) {
    const key = 'reason.' + p.reason;
    const s = t(key, { n: p.retry_after_s });
    if (s !== key) return s;
  }
  return t('common.error', { msg: (e && e.message) || '?' });
}
