// console_analytics.test.mjs - analytics and settings: the RFM grid, Pareto
// curve, CLV and basket charts hold the API's numbers; a recomputation shows
// its progress; a segment condition with an error shows where, then previews
// the count, saves and exports as CSV; an API key's secret is shown once and
// works with its scopes; users, touchpoints and the filterable audit log.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startServer, launch, openPage, shot, shotView, signIn, apiClient, pageFetch } from './lib.mjs';

let srv, browser, client;

before(async () => {
  srv = await startServer({ demo: true });
  srv.addUser('owner@brand.cn', 'owner');
  srv.addUser('analyst@brand.cn', 'analyst');
  client = apiClient(srv.url, srv.apiKey());
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('RFM, Pareto, CLV, baskets and the ladder draw the API\'s results', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'analyst@brand.cn');
  await page.waitForSelector('nav.side a[data-nav="analytics"]');
  await page.click('nav.side a[data-nav="analytics"]');
  await page.waitForSelector('.chart[data-name="rfm"][data-chart="ready"] canvas');
  const rfm = (await client.get('/v1/analytics/rfm')).data;
  const cells = await page.$eval('.chart[data-name="rfm"]', (e) => e.chart.getOption().series[0].data.reduce((n, d) => n + d[2], 0));
  assert.equal(cells, rfm.customers, 'the grid holds every scored customer');
  assert.equal(await page.$$eval('table.data tbody tr', (rs) => rs.length), rfm.segments.length);
  await shot(page, 'console-analytics-rfm');
  await shotView(page, 'doc-analytics-rfm');

  // a recomputation runs as a job with a progress bar
  await page.click('button.refresh-btn');
  await page.waitForSelector('.refresh .progress');
  await page.waitForSelector('.toast:not([hidden]):has-text("已重新计算")');
  await page.waitForSelector('.chart[data-name="rfm"][data-chart="ready"] canvas');

  await page.click('nav.tabs a[data-tab="pareto"]');
  await page.waitForSelector('.chart[data-name="pareto"][data-chart="ready"] canvas');
  const pareto = (await client.get('/v1/analytics/pareto')).data;
  assert.equal(Number(await page.getAttribute('[data-kpi="top20"]', 'data-value')), pareto.top20_share);

  await page.click('nav.tabs a[data-tab="clv"]');
  await page.waitForSelector('.chart[data-name="palive"][data-chart="ready"] canvas');
  const clv = (await client.get('/v1/analytics/clv')).data;
  assert.equal(Number(await page.getAttribute('[data-kpi="clv_total"]', 'data-value')), clv.clv_total);
  assert.equal(await page.$$eval('.grid2:last-child .card:first-child tbody tr', (rs) => rs.length), clv.top_repurchasers.length);
  await shot(page, 'console-analytics-clv');

  await page.click('nav.tabs a[data-tab="baskets"]');
  await page.waitForSelector('form.inline input[name="min_confidence"]');
  await page.fill('form.inline input[name="min_confidence"]', '0.1');
  await page.click('form.inline button[type=submit]');
  await page.waitForSelector('.chart[data-name="baskets"][data-chart="ready"] canvas');
  const baskets = (await client.get('/v1/analytics/baskets?min_confidence=0.1')).data;
  assert.ok(baskets.rules.length > 0);
  assert.equal(await page.$$eval('table.data tbody tr', (rs) => rs.length), baskets.rules.length);
  await shot(page, 'console-analytics-baskets');

  await page.click('nav.tabs a[data-tab="ladder"]');
  await page.waitForSelector('.chart[data-name="ladder"][data-chart="ready"] canvas');
  await page.close();
});

test('a segment: the error shown where it is, the count previewed, saved and exported', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'analyst@brand.cn');
  await page.waitForSelector('header .who');
  await page.goto(srv.url + '/#/analytics/segments');
  await page.waitForSelector('textarea[name="expression"]');
  await page.fill('textarea[name="expression"]', 'customer.city == "杭州" and');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.field-error[data-for="expression"] pre.caret');
  assert.match(await page.textContent('.field-error[data-for="expression"] .at'), /第 1 行，第 \d+ 列/);
  // help: clicking a chip adds a condition
  await page.fill('textarea[name="expression"]', 'customer.city == "杭州"');
  await page.click('.chips .chip:has-text("customer.orders >= 2")');
  assert.equal(await page.inputValue('textarea[name="expression"]'), 'customer.city == "杭州" and customer.orders >= 2');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.preview [data-count]');
  const expr = 'customer.city == "杭州" and customer.orders >= 2';
  const want = (await client.get(`/v1/console/segments/preview?expression=${encodeURIComponent(expr)}`)).data;
  assert.equal(await page.getAttribute('.preview [data-count]', 'data-count'), String(want.count));
  assert.ok(want.count > 0);
  await page.fill('input[name="name"]', '杭州复购客户');
  await page.click('button.save-segment');
  await page.waitForSelector('.paged tbody tr button.export-csv');
  const seg = (await client.get('/v1/segments')).data.data.find((s) => s.name === '杭州复购客户');
  assert.equal(seg.member_count, want.count);
  await shot(page, 'console-segments');
  await shotView(page, 'doc-segments');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('.paged tbody tr button.export-csv')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split('\n');
  assert.equal(csv.length, want.count + 1, 'a header and a row per member');
  await page.waitForSelector('.progress[data-progress="done"]');
  await page.close();
});

test('settings: an API key shown once, users and roles, touchpoints, the audit log', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'owner@brand.cn');
  await page.waitForSelector('nav.side a[data-nav="settings"]');
  await page.click('nav.side a[data-nav="settings"]');
  await page.waitForSelector('nav.tabs a.active[data-tab="users"]');

  // a user, then a role change
  await page.click('.section-head button.new');
  await page.fill('dialog input[name="email"]', 'ops@brand.cn');
  await page.fill('dialog input[name="password"]', 'short');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog .field-error[data-for="password"]:not(:empty)');
  await page.fill('dialog input[name="password"]', 'a long enough password');
  await page.selectOption('dialog select[name="role"]', 'marketer');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog', { state: 'detached' });
  const users = (await client.get('/v1/users')).data.data;
  const ops = users.find((u) => u.email === 'ops@brand.cn');
  assert.equal(ops.role, 'marketer');
  await Promise.all([
    page.waitForResponse((r) => r.url().endsWith(`/v1/users/${ops.id}`) && r.request().method() === 'PATCH' && r.ok()),
    page.selectOption(`select.role-select[data-user="${ops.id}"]`, 'agent'),
  ]);
  assert.equal((await client.get('/v1/users')).data.data.find((u) => u.id === ops.id).role, 'agent');

  // an API key: the secret once, working with exactly its scopes
  await page.click('nav.tabs a[data-tab="keys"]');
  await page.waitForSelector('.section-head button.new');
  await page.click('.section-head button.new');
  await page.fill('dialog input[name="name"]', '商城订单同步');
  await page.uncheck('dialog input[name="scopes"][value="events:write"]');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog .field-error[data-for="scopes"]:not(:empty)');
  await page.check('dialog input[name="scopes"][value="customers:read"]');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog input.secret');
  const secret = await page.inputValue('dialog input.secret');
  assert.match(secret, /^hd_/);
  await shot(page, 'console-apikey-once');
  const keyed = apiClient(srv.url, secret);
  assert.equal((await keyed.get('/v1/customers?limit=1')).status, 200);
  assert.equal((await keyed.post('/v1/rules', { name: 'x', event_type: 'a', formula: '1' })).status, 403);
  await page.click('dialog button.done');
  await page.waitForSelector('dialog', { state: 'detached' });
  assert.doesNotMatch(await page.textContent('main'), new RegExp(secret.slice(-12)));
  const keys = (await pageFetch(page, 'GET', '/v1/apikeys')).data.data;
  assert.ok(keys.some((k) => k.name === '商城订单同步' && /customers:read/.test(k.scopes)));

  // touchpoints with their value report
  await page.click('nav.tabs a[data-tab="touchpoints"]');
  const tps = (await client.get('/v1/touchpoints')).data.data;
  // the keys tab's rows are also .paged: wait for the touchpoints' own table
  await page
    .waitForFunction((n) => document.querySelectorAll('.paged tbody tr').length === n, tps.length, { timeout: 5000 })
    .catch(() => {});
  assert.equal(await page.$$eval('.paged tbody tr', (rs) => rs.length), tps.length);

  // the audit log, filtered by path; before/after of each change
  await page.click('nav.tabs a[data-tab="audit"]');
  await page.waitForSelector('form.inline input[name="path_prefix"]');
  await page.fill('form.inline input[name="path_prefix"]', '/v1/users');
  await page.click('form.inline button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('path_prefix'));
  await page.waitForSelector('.paged tbody tr');
  const rows = await page.$$eval('.paged tbody tr', (rs) => rs.map((r) => r.textContent));
  assert.equal(rows.length, 2, 'the user added and the role changed');
  assert.ok(rows.every((r) => r.includes('/v1/users') && r.includes('owner@brand.cn')));
  await page.click('.paged tbody tr:first-child details summary');
  assert.match(await page.textContent('.paged tbody tr:first-child .diff'), /"role": "agent"/);
  await shot(page, 'console-audit');
  await shotView(page, 'doc-audit');
  await page.close();
});
