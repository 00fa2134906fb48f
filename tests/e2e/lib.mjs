// lib.mjs - browser tests drive the real server binary and Debian's chromium
// (playwright-core with executablePath; no browser is ever downloaded).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from '../../web/node_modules/playwright-core/index.mjs';

export const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
export const bin = process.env.HUDONG_BIN || path.join(root, 'build/asan/hudong');
export const shots = path.join(root, 'build/screenshots');
mkdirSync(shots, { recursive: true });

export const PASSWORD = 'correct horse battery';

// Starts `hudong serve` on a fresh SQLite store with the test clock, the web
// directory, and (optionally) demo data. Returns { url, db, cli(args), stop() }.
export async function startServer({ demo = false } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'hudong-e2e-'));
  const db = path.join(dir, 'e2e.db');
  const cli = (args, input) => execFileSync(bin, [...args, '--db', db], { input, encoding: 'utf8' });
  if (demo) cli(['demo', '--customers', '300']);
  const args = ['serve', '--db', db, '--listen', '127.0.0.1:0', '--test-clock', '--web', path.join(root, 'web'), '--log-level', 'warn'];
  const proc = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not start: ' + log)), 30000);
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => reject(new Error(`server exited ${code}: ${log}`)));
  });
  return {
    url, db, cli,
    addUser(email, role) { cli(['user', 'add', '--email', email, '--role', role], PASSWORD + '\n'); },
    apiKey() { return cli(['apikey', 'create', '--name', 'e2e']).trim().split('\n').pop(); },
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.on('exit', r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no browser at ${executablePath}: apt-get install chromium`);
  return chromium.launch({
    executablePath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

export async function signIn(page, url, email) {
  await page.goto(url + '/');
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
}

// ---- member pages (/m/) ----

// WeChat's in-app browser on an iPhone 14 (390x844): the member pages are
// judged there first.
export const WECHAT_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 '
  + '(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN';

// A page in its own context (own cookies) at a phone's viewport; closing
// the page closes its context.
export async function phonePage(browser) {
  const ctx = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    userAgent: WECHAT_UA, locale: 'zh-CN',
  });
  const page = await ctx.newPage();
  page.on('close', () => { ctx.close().catch(() => {}); });
  return page;
}

// A JSON call to the server with an API key; throws with the server's answer
// unless the status is 2xx.
export async function apiCall(url, key, method, p, body) {
  const res = await fetch(url + p, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

// Signs a member in on the member pages with the code the server's log
// sender delivered (GET /v1/test/otp, which exists only with --test-clock).
export async function memberSignIn(page, url, key, phone) {
  await page.goto(url + '/m/');
  await page.fill('input[name=phone]', phone);
  await page.click('button.send');
  await page.waitForSelector('.note:not(:empty)');
  const { code } = await apiCall(url, key, 'GET', '/v1/test/otp?phone=' + encodeURIComponent(phone));
  await page.fill('input[name=code]', code);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('main[data-page] .balance, main[data-page]:not([data-page=home])');
}

// ---- helpers for the console tests (additive) ----

// A small client for the API with a key (from srv.apiKey()): returns
// { status, data } and never throws on 4xx, so tests can assert refusals.
export function apiClient(url, key) {
  const call = async (method, path, body, headers = {}) => {
    const res = await fetch(url + path, {
      method,
      redirect: 'manual',
      headers: { Authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    return { status: res.status, data, headers: res.headers };
  };
  return {
    get: (p) => call('GET', p),
    post: (p, b, h) => call('POST', p, b === undefined ? {} : b, h),
    patch: (p, b) => call('PATCH', p, b),
    del: (p) => call('DELETE', p),
  };
}

// The same request the signed-in console would make (session cookie and
// CSRF token), from inside the page: { status, data }.
export async function pageFetch(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const me = await (await fetch('/v1/auth/me')).json();
    const res = await fetch(p, {
      method: m,
      headers: { 'X-CSRF-Token': me.csrf_token, ...(b === null ? {} : { 'Content-Type': 'application/json' }) },
      body: b === null ? undefined : JSON.stringify(b),
    });
    const text = await res.text();
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { data = text; }
    return { status: res.status, data };
  }, [method, path, body === undefined ? null : body]);
}

// A viewport-sized screenshot (not the full page), for documentation; a
// passing notification (#toast) is hidden first.
export async function shotView(page, name) {
  await page.evaluate(() => document.getElementById('toast')?.setAttribute('hidden', ''));
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });
}

// 2026-12-01T08:30 in this machine's time zone, for <input type=datetime-local>.
export function localInput(date) {
  const p = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}`;
}

// Gives a demo store a points programme with some history: an earning rule
// (a point per yuan), paid orders for the newest customers, a reward and a
// few redemptions; then moves the test clock a minute so reports that end
// "now" include them. Returns { rule, reward, customers }.
export async function seedProgramme(client, { orders = 20, redemptions = 5 } = {}) {
  const must = (r, what) => {
    if (r.status >= 300) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.data)}`);
    return r.data;
  };
  const rule = must(await client.post('/v1/rules', { name: '消费送积分', event_type: 'order.paid', formula: 'floor(amount / 100)' }), 'rule');
  const customers = must(await client.get(`/v1/customers?limit=${orders}`), 'customers').data;
  const events = customers.map((c, i) => ({
    type: 'order.paid', customer: c.id, touchpoint: 'wechat', key: `seed-order-${i}`,
    properties: { order_id: `seed-${i}`, amount: 20000 + 3700 * i, lines: [{ sku: 'FZ001', category: '服装', qty: 1, amount: 20000 + 3700 * i }] },
  }));
  must(await client.post('/v1/events/batch', { events }), 'orders');
  const reward = must(await client.post('/v1/rewards', { type: 'physical', name: { zh: '保温杯', en: 'Vacuum flask' }, price: { points: 150 }, stock: 100 }), 'reward');
  for (const c of customers.slice(0, redemptions)) must(await client.post('/v1/redemptions', { customer_id: c.id, reward_id: reward.id }), 'redemption');
  must(await client.post('/v1/test/clock', { advance_s: 60 }), 'clock');
  return { rule, reward, customers };
}

// A 1280x800 page that gives up waiting after 20 s (a failing step fails
// fast instead of eating the suite's time).
export async function openPage(browser) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(20000);
  return page;
}
