// api.js - calls to /v1 with the session cookie and the CSRF token; a refusal
// becomes an Error carrying the server's problem+json (detail, field).
let csrf = '';

export function setCsrf(token) { csrf = token || ''; }

export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') headers['X-CSRF-Token'] = csrf;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (!res.ok) {
    const err = new Error((data && data.detail) || res.statusText);
    err.status = res.status;
    err.problem = data;
    throw err;
  }
  return data;
}
