// member_spend.test.mjs - spending on the member pages on a phone: a member
// bids in an auction and sees being outbid when another member (through the
// API) bids higher; a member opens a group-buy share link, joins and sees
// the progress and the countdown; a member applies for a trial.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, shot, phonePage, apiCall, memberSignIn } from './lib.mjs';

let srv, browser, key, call, page, now, rewardId, other;
const PHONE = '13911112222';
const iso = (ms) => new Date(ms).toISOString();

async function customer(phone, name, points) {
  const c = await call('POST', '/v1/customers', { phone, name });
  await call('POST', '/v1/transfers', { key: `e2e-give-${c.id}`, debit: 'system:issuance', credit: `customer:${c.id}`, amount: points, code: 'earn' });
  return c.id;
}

before(async () => {
  srv = await startServer();
  key = srv.apiKey();
  call = (method, p, body) => apiCall(srv.url, key, method, p, body);
  browser = await launch();
  now = Date.parse((await call('GET', '/v1/health')).time);
  await customer(PHONE, '王芳', 2000);
  other = await customer('13722223333', '李娜', 2000);
  const r = await call('POST', '/v1/rewards', { type: 'physical', name: { zh: '蓝牙耳机', en: 'Earbuds' }, price: { points: 900 }, stock: 10 });
  rewardId = r.id;
  page = await phonePage(browser);
  await memberSignIn(page, srv.url, key, PHONE);
});

after(async () => {
  await page?.close();
  await browser?.close();
  await srv?.stop();
});

test('a member bids in an auction and sees being outbid', async () => {
  const a = await call('POST', '/v1/auctions', {
    reward_id: rewardId, title: { zh: '耳机竞拍', en: 'Earbuds auction' },
    starts_at: iso(now), ends_at: iso(now + 2 * 3600 * 1000), starting_bid: 100, increment: 10,
  });
  await page.click('nav.tabs a[data-tab=auctions]');
  const card = page.locator(`.card.auction[data-id="${a.id}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /暂无出价/);
  assert.equal(await card.locator('input[name=amount]').inputValue(), '100');
  await card.locator('input[name=amount]').fill('120');
  await card.locator('button.bid').click();
  await card.locator('button.bid.confirm').click();
  await page.waitForSelector(`.card.auction[data-id="${a.id}"] .me.leading`);
  assert.match(await page.textContent(`.card.auction[data-id="${a.id}"] .me`), /你目前领先（出价 120）/);
  assert.equal(await page.textContent(`.card.auction[data-id="${a.id}"] .price.current`), '120 积分');
  await shot(page, 'member-auction-leading');
  // another member outbids through the API; the page notices on its own
  await call('POST', `/v1/auctions/${a.id}/bids`, { customer_id: other, amount: 200 });
  await page.waitForSelector(`.card.auction[data-id="${a.id}"] .me.outbid`, { timeout: 10000 });
  const text = await page.textContent(`.card.auction[data-id="${a.id}"]`);
  assert.match(text, /你的出价 120 已被超越/);
  assert.match(text, /200 积分/);
  assert.match(text, /李\*\*/);
  assert.equal(await page.locator(`.card.auction[data-id="${a.id}"] input[name=amount]`).inputValue(), '210');
  await shot(page, 'member-auction-outbid');
  // the outbid hold was released: the whole balance is available again
  await page.click('nav.tabs a[data-tab=home]');
  await page.waitForSelector('.balance');
  assert.equal(await page.textContent('.available'), '2000');
});

test('a member joins a group buy from a share link and sees the progress', async () => {
  const deal = await call('POST', '/v1/groupbuys', {
    reward_id: rewardId, title: { zh: '耳机三人团', en: 'Earbuds for three' }, group_size: 3, price: 300, fill_s: 7200, stock: 6,
  });
  const g = await call('POST', `/v1/groupbuys/${deal.id}/groups`, { customer_id: other });
  // the link a friend shared in WeChat
  await page.goto(`${srv.url}/m/g/${g.code}`);
  await page.waitForSelector('.card.group');
  assert.equal(await page.textContent('.card.group h2'), '耳机三人团');
  assert.equal(await page.textContent('.card.group .joined'), '已有 1/3 人参团');
  assert.equal(await page.textContent('.card.group .remaining'), '还差 2 人');
  assert.match(await page.textContent('.card.group .countdown'), /^剩余 (1小时59分|2小时00分)$/);
  assert.match(await page.textContent('.card.group .members'), /李\*\* · 团长/);
  await shot(page, 'member-groupbuy-link');
  await page.click('.card.group button.join');
  await page.click('.card.group button.join.confirm');
  await page.waitForSelector('.card.group .me.joined');
  assert.equal(await page.textContent('.card.group .joined'), '已有 2/3 人参团');
  assert.equal(await page.textContent('.card.group .remaining'), '还差 1 人');
  assert.match(await page.textContent('.card.group .me'), /你已参团/);
  assert.match(await page.textContent('.card.group .share'), new RegExp(`/m/g/${g.code}$`));
  assert.equal(await page.getAttribute('.card.group .progress', 'aria-valuenow'), '2');
  await shot(page, 'member-groupbuy-joined');
  // the group shows under "my groups"
  await page.goto(`${srv.url}/m/groupbuys`);
  await page.waitForSelector(`.card.group[data-code="${g.code}"]`);
});

test('a member applies for a trial', async () => {
  const tr = await call('POST', '/v1/trials', {
    reward_id: rewardId, title: { zh: '耳机免费试用', en: 'Try the earbuds' }, units: 2, price: 50, bonus: 20,
    apply_starts_at: iso(now - 60000), apply_ends_at: iso(now + 86400000), selection: 'first_come', review_days: 7,
  });
  await page.goto(`${srv.url}/m/trials`);
  const card = page.locator(`.card.trial[data-id="${tr.id}"]`);
  await card.waitFor();
  assert.match(await card.textContent(), /申请冻结 50 积分/);
  await card.locator('button.primary').click();
  await card.locator('button.primary.confirm').click();
  await page.waitForSelector(`.card.trial[data-id="${tr.id}"] .me.applied`);
  await shot(page, 'member-trials');
});
