// console_roles.test.mjs - what each role sees: an analyst reads everything
// and works on analytics (segments, recomputing) but finds no buttons that
// change customers or the programme, and the API refuses when asked anyway; an agent sees phone numbers masked until opening one on purpose,
// which the audit log records; only owners and admins see users, keys, the
// brand's calendar and the audit log, and an admin changes the calendar.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, shot, shotView, signIn, apiClient, pageFetch, seedProgramme } from './lib.mjs';

let srv, browser, client, seeded;

before(async () => {
  srv = await startServer({ demo: true });
  srv.addUser('analyst@brand.cn', 'analyst');
  srv.addUser('agent@brand.cn', 'agent');
  srv.addUser('admin@brand.cn', 'admin');
  client = apiClient(srv.url, srv.apiKey());
  seeded = await seedProgramme(client, { orders: 5, redemptions: 1 });
  await client.post('/v1/tiers', { code: 'gold', name: { zh: '金卡', en: 'Gold' }, threshold: 1000, multiplier: 1.5 });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('an analyst reads every screen but cannot change anything, and the API refuses', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'analyst@brand.cn');
  await page.waitForSelector('[data-kpi="members"]');
  assert.match(await page.textContent('header .who'), /分析师/);
  // points: lists without "new", "edit" or "simulate"
  for (const tab of ['rules', 'tiers', 'catalog', 'specials', 'auctions', 'coupons']) {
    await page.goto(srv.url + `/#/points/${tab}`);
    await page.waitForSelector(`nav.tabs a.active[data-tab="${tab}"]`);
    await page.waitForSelector('.paged .pager');
    assert.equal(await page.$$eval('main button.new, main button.edit', (bs) => bs.length), 0, `${tab}: no write buttons`);
  }
  await page.goto(srv.url + '/#/points/rules');
  await page.waitForSelector('.paged tbody tr[data-id]');
  assert.ok(await page.$('button.simulate'), 'simulating writes nothing, so an analyst may');
  await shot(page, 'console-analyst-rules');
  // the programme form is read-only
  await page.goto(srv.url + '/#/points/program');
  await page.waitForSelector('form.form');
  assert.ok(await page.$eval('form.form select[name="expiry.policy"]', (s) => s.disabled));
  assert.ok(await page.$eval('form.form button[type=submit]', (b) => b.hidden));
  // a customer: no edit, erase or merge
  await page.goto(srv.url + `/#/customers/${seeded.customers[0].id}`);
  await page.waitForSelector('h1.customer-name');
  assert.equal(await page.$$eval('button.edit, button.erase', (bs) => bs.length), 0);
  assert.ok(await page.$('button.export'), 'reading and exporting stay');
  await page.goto(srv.url + '/#/customers');
  await page.waitForSelector('.paged tbody tr');
  assert.equal(await page.$('button.new-customer'), null);
  // analytics is the analyst's own: segments can be saved, results recomputed
  await page.goto(srv.url + '/#/analytics/segments');
  await page.waitForSelector('textarea[name="expression"]');
  assert.ok(await page.$('button.save-segment'));
  const perms = (await pageFetch(page, 'GET', '/v1/console/permissions')).data;
  assert.equal(perms.role, 'analyst');
  assert.equal(perms.allows['points:write'], false);
  assert.equal(perms.allows['analytics:write'], true);
  // settings: touchpoints only, read-only
  await page.goto(srv.url + '/#/settings');
  await page.waitForSelector('nav.tabs a.active[data-tab="touchpoints"]');
  assert.deepEqual(await page.$$eval('nav.tabs a', (as) => as.map((a) => a.dataset.tab)), ['touchpoints']);
  assert.equal(await page.$$eval('main button.new, main button.edit, main button.danger', (bs) => bs.length), 0);

  // and the server agrees: every write is refused with 403, nothing changes
  const ruleId = seeded.rule.id;
  const attempts = [
    ['POST', '/v1/rules', { name: 'x', event_type: 'order.paid', formula: '1' }],
    ['PATCH', `/v1/rules/${ruleId}`, { active: false }],
    ['POST', '/v1/specials', { reward_id: seeded.reward.id, points: 1 }],
    ['PATCH', `/v1/customers/${seeded.customers[0].id}`, { name: 'x' }],
    ['DELETE', `/v1/customers/${seeded.customers[0].id}`],
    ['POST', '/v1/customers/merge', { survivor: seeded.customers[0].id, merged: seeded.customers[1].id }],
    ['POST', '/v1/touchpoints', { code: 'x', name: 'x', channel: 'web', purpose: 'marketing' }],
    ['POST', '/v1/apikeys', { name: 'x' }],
    ['GET', '/v1/audit'],
  ];
  for (const [m, p, b] of attempts) {
    const r = await pageFetch(page, m, p, b);
    assert.equal(r.status, 403, `${m} ${p}`);
    assert.equal(r.data.field, 'role');
  }
  assert.equal((await client.get(`/v1/rules/${ruleId}`)).data.active, true);
  // reading is fine
  assert.equal((await pageFetch(page, 'GET', '/v1/rules')).status, 200);
  await page.close();
});

test('an agent sees masked phones; showing one is audited', async () => {
  const c = (await client.get(`/v1/customers/${seeded.customers[0].id}`)).data;
  const local = c.phone.replace(/^\+86/, '');
  const masked = `${local.slice(0, 3)}****${local.slice(-4)}`; // 138****8000
  const page = await openPage(browser);
  await signIn(page, srv.url, 'agent@brand.cn');
  await page.waitForSelector('header .who');
  // agents read every area; settings keeps only touchpoints for them
  assert.deepEqual(await page.$$eval('nav.side a', (as) => as.map((a) => a.dataset.nav)), ['overview', 'customers', 'points', 'analytics', 'settings']);
  await page.goto(srv.url + '/#/customers');
  await page.waitForSelector('.paged tbody tr');
  const phones = await page.$$eval('.paged tbody .phone', (ps) => ps.map((p) => p.textContent).filter((x) => x !== '—'));
  assert.ok(phones.length > 5);
  for (const p of phones) assert.match(p, /^\d{3}\*{4}\d{4}$/, `masked: ${p}`);
  // searching by the full number still finds them, masked
  await page.fill('form.search input[name="phone"]', c.phone);
  await page.click('form.search button[type=submit]');
  await page.waitForSelector(`tr[data-id="${c.id}"]`);
  assert.equal(await page.textContent(`tr[data-id="${c.id}"] .phone`), masked);
  await page.click(`tr[data-id="${c.id}"] a`);
  await page.waitForSelector('h1.customer-name');
  assert.match(await page.textContent('ul.identities'), /\*{4}/);
  assert.doesNotMatch(await page.textContent('main'), new RegExp(c.phone.slice(-8)));
  assert.ok(await page.$('.notice'));
  await shot(page, 'console-agent-masked');
  await shotView(page, 'doc-agent-masked');
  // on purpose: the full number, and an audit entry
  await page.click('button.reveal');
  await page.waitForFunction((p) => document.querySelector('ul.identities')?.textContent.includes(p), c.phone);
  const audit = (await client.get('/v1/audit?actor_type=user')).data.data;
  const reveal = audit.find((a) => a.action === 'REVEAL');
  assert.ok(reveal, 'the reveal is in the audit log');
  assert.equal(reveal.path, `/v1/customers/${c.id}`);
  assert.equal(reveal.actor.name, 'agent@brand.cn');
  // an agent may edit customers but not the programme
  assert.ok(await page.$('button.edit'));
  assert.equal((await pageFetch(page, 'POST', '/v1/rules', { name: 'x', event_type: 'order.paid', formula: '1' })).status, 403);
  // no admin screens
  await page.goto(srv.url + '/#/settings/users');
  await page.waitForSelector('nav.tabs a.active');
  assert.equal(await page.$('nav.tabs a[data-tab="users"]'), null);
  await page.close();
});

test('an admin sets the brand\'s calendar, after saying yes to what it moves', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'admin@brand.cn');
  await page.waitForSelector('header .who');
  await page.goto(srv.url + '/#/settings/brand');
  await page.waitForSelector('nav.tabs a.active[data-tab="brand"]');
  assert.equal(await page.inputValue('input[name="utc_offset"]'), '+08:00');
  // malformed: the form says so and nothing is sent
  await page.fill('input[name="utc_offset"]', '8');
  await page.click('form button[type=submit]');
  await page.waitForSelector('.field-error[data-for="utc_offset"]:not(:empty)');
  assert.equal((await client.get('/v1/brand')).data.utc_offset, '+08:00');
  // a change asks first; cancelling keeps it
  await page.fill('input[name="utc_offset"]', '+09:00');
  await page.click('form button[type=submit]');
  await page.waitForSelector('dialog button.cancel');
  assert.match(await page.textContent('dialog .confirm-body'), /UTC\+09:00/);
  await page.click('dialog button.cancel');
  assert.equal((await client.get('/v1/brand')).data.utc_offset, '+08:00');
  await page.click('form button[type=submit]');
  await page.click('dialog button.confirm');
  for (let i = 0; i < 50 && (await client.get('/v1/brand')).data.utc_offset !== '+09:00'; i++) await page.waitForTimeout(100);
  assert.equal((await client.get('/v1/brand')).data.utc_offset, '+09:00');
  const line = (await client.get('/v1/audit?actor_type=user')).data.data.find((a) => a.path === '/v1/brand');
  assert.ok(line && line.action === 'PATCH', 'the change is in the audit log');
  await shot(page, 'console-brand');
  await client.patch('/v1/brand', { utc_offset: '+08:00' });
  await page.close();
});
