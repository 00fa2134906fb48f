// console_points.test.mjs - the points screens: an earning rule refused with
// the error's line and column shown at the field, then fixed and simulated; a
// reward and a monthly special created in the console and checked through the
// API (and on the calendar); an auction whose bids arrive while it is open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, shot, shotView, signIn, apiClient, localInput } from './lib.mjs';

let srv, browser, client;

before(async () => {
  srv = await startServer({ demo: true });
  srv.addUser('marketer@brand.cn', 'marketer');
  client = apiClient(srv.url, srv.apiKey());
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

async function openPoints(page, tab) {
  await page.goto(srv.url + `/#/points/${tab}`);
  await page.waitForSelector(`nav.tabs a.active[data-tab="${tab}"]`);
  await page.waitForSelector('.paged .pager');
}

test('an earning rule with an error shows where it is; fixed, it saves and simulates', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'marketer@brand.cn');
  await page.waitForSelector('header .who');
  await openPoints(page, 'rules');
  await page.click('.section-head button.new');
  await page.waitForSelector('dialog form');
  // checked before sending: the name and the formula are required
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog .field-error[data-for="name"]:not(:empty)');
  assert.equal(await page.textContent('dialog .field-error[data-for="formula"]'), '必填');
  await page.fill('dialog input[name="name"]', '满百送积分');
  await page.fill('dialog input[name="event_type"]', 'order.paid');
  await page.fill('dialog textarea[name="condition"]', 'amount >= 10000 and\ntouchpoint ==');
  await page.fill('dialog textarea[name="formula"]', 'floor(amount / 100)');
  await page.click('dialog button[type=submit]');
  // the server's 422 names the field, line and column: shown at the field with a caret
  const err = 'dialog .field-error[data-for="condition"]';
  await page.waitForSelector(`${err} pre.caret`);
  assert.match(await page.textContent(`${err} .at`), /第 2 行，第 \d+ 列/);
  const caret = await page.$eval(`${err} pre.caret`, (p) => ({ line: p.dataset.line, column: p.dataset.column, text: p.textContent }));
  assert.equal(caret.line, '2');
  assert.match(caret.text, /touchpoint ==\n\s+\^$/);
  assert.ok(await page.$('dialog label.invalid[data-field="condition"]'));
  await shot(page, 'console-rule-error');
  await shotView(page, 'doc-rule-error');
  const named = async () => (await client.get('/v1/rules')).data.data.filter((r) => r.name === '满百送积分');
  assert.equal((await named()).length, 0, 'nothing was saved');
  // fixed
  await page.fill('dialog textarea[name="condition"]', 'amount >= 10000 and\ntouchpoint == "wechat"');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog', { state: 'detached' });
  await page.waitForSelector('.paged tbody tr[data-id]');
  const rules = await named();
  assert.equal(rules.length, 1);
  assert.equal(rules[0].condition, 'amount >= 10000 and\ntouchpoint == "wechat"');
  assert.match(await page.textContent('.paged tbody'), /满百送积分/);

  // simulate against a demo customer found by phone: 250 yuan on WeChat earns 250
  const someone = (await client.get('/v1/customers?limit=1')).data.data[0];
  await page.click(`tr[data-id="${rules[0].id}"] button.simulate`);
  await page.waitForSelector('dialog form');
  await page.fill('dialog input[name="customer"]', someone.phone.replace(/^\+86/, ''));
  await page.fill('dialog input[name="amount"]', '250');
  await page.fill('dialog input[name="touchpoint"]', 'wechat');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog .sim-result [data-matched]');
  assert.equal(await page.getAttribute('dialog .sim-result [data-matched]', 'data-matched'), 'true');
  assert.match(await page.textContent('dialog .sim-result'), /250/);
  await page.click('dialog button.close');
  await page.close();
});

test('a reward and a special made in the console are in the API and on the calendar', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'marketer@brand.cn');
  await page.waitForSelector('header .who');
  await openPoints(page, 'catalog');
  await page.click('.section-head button.new');
  await page.waitForSelector('dialog form');
  await page.selectOption('dialog select[name="type"]', 'physical');
  await page.fill('dialog input[name="name.zh"]', '保温杯');
  await page.fill('dialog input[name="name.en"]', 'Vacuum flask');
  await page.fill('dialog input[name="price.points"]', '800');
  await page.fill('dialog input[name="stock"]', '100');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog', { state: 'detached' });
  const reward = (await client.get('/v1/rewards')).data.data.find((r) => r.name.zh === '保温杯');
  assert.ok(reward && reward.price.points === 800 && reward.stock === 100);

  await openPoints(page, 'specials');
  await page.click('.section-head button.new');
  await page.waitForSelector('dialog form');
  const start = new Date(Date.now() - 3600e3);
  const end = new Date(Date.now() + 7 * 86400e3);
  await page.selectOption('dialog select[name="reward_id"]', reward.id);
  await page.fill('dialog input[name="title.zh"]', '会员日特惠');
  await page.fill('dialog input[name="title.en"]', 'Members’ day');
  await page.fill('dialog input[name="points"]', '900'); // above the regular price: the server refuses
  await page.fill('dialog input[name="starts_at"]', localInput(start));
  await page.fill('dialog input[name="ends_at"]', localInput(end));
  await page.fill('dialog input[name="quantity"]', '50');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog .field-error[data-for="points"]:not(:empty)');
  assert.match(await page.textContent('dialog .field-error[data-for="points"]'), /800/);
  await page.fill('dialog input[name="points"]', '500');
  await page.click('dialog button[type=submit]');
  await page.waitForSelector('dialog', { state: 'detached' });

  const specials = (await client.get('/v1/specials?limit=200')).data.data.filter((x) => x.title.zh === '会员日特惠');
  assert.equal(specials.length, 1);
  const s = specials[0];
  assert.equal(s.reward_id, reward.id);
  assert.equal(s.points, 500);
  assert.equal(s.quantity, 50);
  assert.equal(s.title.zh, '会员日特惠');
  assert.equal(s.status, 'running');
  assert.ok(Math.abs(Date.parse(s.starts_at) - Math.floor(start.getTime() / 60000) * 60000) < 1000);
  // members can take it now: the running list for a customer has it
  const someone = (await client.get('/v1/customers?limit=1')).data.data[0];
  const open = (await client.get(`/v1/specials?running=true&customer_id=${someone.id}`)).data.data;
  assert.ok(open.some((x) => x.id === s.id));
  // today's calendar cell shows it
  await page.waitForSelector(`.calendar [data-special="${s.id}"]`);
  // the calendar says whose days these are
  assert.match(await page.textContent('.brand-days'), /UTC\+08:00/);
  await shot(page, 'console-specials');
  await shotView(page, 'doc-specials');
  await page.close();
});

test('an open auction shows bids as they arrive', async () => {
  const reward = (await client.post('/v1/rewards', { type: 'physical', name: { zh: '蓝牙耳机', en: 'Earbuds' }, price: { points: 3000 }, stock: 5 })).data;
  const now = Date.now();
  const a = (await client.post('/v1/auctions', {
    reward_id: reward.id, title: { zh: '耳机竞拍', en: 'Earbuds auction' },
    starts_at: new Date(now - 3600e3).toISOString(), ends_at: new Date(now + 86400e3).toISOString(), starting_bid: 100, increment: 10,
  })).data;
  assert.equal(a.status, 'open');
  const bidders = (await client.get('/v1/customers?limit=2')).data.data;
  for (const [i, c] of bidders.entries()) {
    const r = await client.post('/v1/transfers', { key: `grant-${i}`, debit: 'system:adjustment', credit: `customer:${c.id}`, amount: 1000, code: 'grant' });
    assert.equal(r.status, 201, JSON.stringify(r.data));
  }
  assert.equal((await client.post(`/v1/auctions/${a.id}/bids`, { customer_id: bidders[0].id, amount: 100 })).status, 201);

  const page = await openPage(browser);
  await signIn(page, srv.url, 'marketer@brand.cn');
  await page.waitForSelector('header .who');
  await openPoints(page, 'auctions');
  await page.click(`tr[data-id="${a.id}"] a`);
  await page.waitForSelector('[data-kpi="current_bid"][data-value="100"]');
  assert.equal(await page.getAttribute('.live', 'data-live'), 'on');
  // a higher bid arrives: the page polls and shows it without a reload
  assert.equal((await client.post(`/v1/auctions/${a.id}/bids`, { customer_id: bidders[1].id, amount: 150 })).status, 201);
  await page.waitForSelector('[data-kpi="current_bid"][data-value="150"]', { timeout: 10000 });
  assert.equal(await page.getAttribute('[data-kpi="min_next"]', 'data-value'), '160');
  assert.equal(await page.$$eval('table.data tbody tr', (rs) => rs.length), 2);
  assert.match(await page.textContent('table.data tbody'), /被超越|outbid/);
  await shot(page, 'console-auction');
  await page.close();
});

test('the points report and the other programme screens render', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'marketer@brand.cn');
  await page.waitForSelector('header .who');
  await page.goto(srv.url + '/#/points/report');
  await page.waitForSelector('.chart[data-name="report"][data-chart="ready"] canvas');
  const rep = (await client.get('/v1/reports/points')).data;
  assert.equal(await page.getAttribute('[data-kpi="issued"]', 'data-value'), String(rep.issued));
  await shot(page, 'console-points-report');
  {
    // a date picked in a Beijing browser goes to the server as picked (the brand's day)
    const bj = await browser.newPage({ viewport: { width: 1280, height: 800 }, timezoneId: 'Asia/Shanghai' });
    bj.setDefaultTimeout(20000);
    await signIn(bj, srv.url, 'marketer@brand.cn');
    await bj.waitForSelector('header .who');
    await bj.goto(srv.url + '/#/points/report');
    await bj.waitForSelector('.chart[data-name="report"][data-chart="ready"] canvas');
    await bj.fill('form input[name="from"]', '2026-03-05');
    await bj.fill('form input[name="to"]', '2026-03-10');
    await bj.click('form button[type=submit]');
    await bj.waitForFunction(() => location.hash.includes('from='));
    const hash = await bj.evaluate(() => location.hash);
    assert.match(hash, /from=2026-03-05/);
    assert.match(hash, /to=2026-03-10/);
    await bj.close();
  }
  const ready = { program: 'form.form', instalments: '[data-kpi="inst_outstanding"]', credit: 'textarea[name="credit_formula"]' };
  for (const tab of ['tiers', 'groupbuys', 'trials', 'instalments', 'credit', 'coupons', 'program']) {
    await page.goto(srv.url + `/#/points/${tab}`);
    await page.waitForSelector(`nav.tabs a.active[data-tab="${tab}"]`);
    await page.waitForSelector(ready[tab] || '.paged .pager');
    assert.equal(await page.$('.state-error'), null, `${tab} loads`);
  }
  await page.close();
});
