// api.js - calls to /v1 with the session cookie and the CSRF token; a refusal
// becomes an Error carrying the server's problem+json (detail, field, line,
// column). A 401 (the session ended) is also reported to onUnauthorized, so the
// shell can go back to the sign-in form.
let csrf = '';
let unauthorized = null;

export function setCsrf(token) { csrf = token || ''; }
export function onUnauthorized(fn) { unauthorized = fn; }

// A client-generated Idempotency-Key for writes that create or move value:
// the same key is sent again when the user retries the same form.
export function newKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// ?a=1&b=2 from an object; empty, null and undefined values are left out.
export function qs(params = {}) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    u.set(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

// api('GET', '/v1/customers') -> parsed JSON (null for 204).
// opts.key sends an Idempotency-Key; opts.raw returns the body as text;
// opts.status returns { status, data } so a caller can tell 200 from 202.
export async function api(method, path, body, opts = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.ok && opts.raw) return text;
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = { detail: text.slice(0, 200) }; }
  }
  if (!res.ok) {
    const err = new Error((data && data.detail) || res.statusText || String(res.status));
    err.status = res.status;
    err.problem = data || {};
    if (res.status === 401 && unauthorized && path !== '/v1/auth/login' && path !== '/v1/auth/me') unauthorized(err);
    throw err;
  }
  if (opts.status) return { status: res.status, data, redirected: res.redirected, url: res.url };
  return data;
}
