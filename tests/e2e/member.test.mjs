// member.test.mjs - the member pages on a phone: sign-in by one-time code
// (the code read from the test-only GET /v1/test/otp), the balance with
// points expiring soon, a special created through the API shown with its
// price and redeemed, the history, and the language switch.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, shot, phonePage, apiCall, memberSignIn } from './lib.mjs';

let srv, browser, key, call, rewardId, page;
const PHONE = '13800138000';

before(async () => {
  srv = await startServer();
  key = srv.apiKey();
  call = (method, p, body) => apiCall(srv.url, key, method, p, body);
  browser = await launch();
  const { time } = await call('GET', '/v1/health');
  const now = Date.parse(time);
  const iso = (ms) => new Date(ms).toISOString();
  // points expire 20 days after they are earned, so all of them are "soon"
  await call('PATCH', '/v1/program', { expiry: { policy: 'days', days: 20 } });
  const c = await call('POST', '/v1/customers', { phone: PHONE, name: '张伟' });
  await call('POST', '/v1/transfers', { key: 'e2e-earn-1', debit: 'system:issuance', credit: `customer:${c.id}`, amount: 1200, code: 'earn' });
  const r = await call('POST', '/v1/rewards', { type: 'physical', name: { zh: '保温杯', en: 'Flask' }, price: { points: 300 }, stock: 20 });
  rewardId = r.id;
  await call('POST', '/v1/rewards', { type: 'digital', name: { zh: '视频会员月卡', en: 'Video pass' }, price: { points: 800 } });
  await call('POST', '/v1/specials', {
    reward_id: rewardId, points: 250, title: { zh: '本月特惠 保温杯', en: 'Flask of the month' },
    starts_at: iso(now - 86400000), ends_at: iso(now + 10 * 86400000), quantity: 50, per_customer: 2,
  });
  page = await phonePage(browser);
});

after(async () => {
  await page?.close();
  await browser?.close();
  await srv?.stop();
});

test('a member signs in with the code sent to their phone and sees the balance', async () => {
  await page.goto(srv.url + '/m/');
  await page.waitForSelector('form.login');
  assert.equal(await page.textContent('form.login h1'), '手机号登录');
  // a wrong code is refused in Chinese and counts as a try
  await page.fill('input[name=phone]', PHONE);
  await page.click('button.send');
  await page.waitForSelector('.note:not(:empty)');
  assert.match(await page.textContent('button.send'), /秒后重发/);
  await shot(page, 'member-login');
  const { code } = await call('GET', '/v1/test/otp?phone=' + PHONE);
  assert.match(code, /^[0-9]{6}$/);
  await page.fill('input[name=code]', code === '000000' ? '111111' : '000000');
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('.error:not(:empty)');
  assert.equal(await page.textContent('.error'), '验证码错误或已失效');
  // the right code signs in: home shows the balance and what expires soon
  await page.fill('input[name=code]', code);
  await page.click('form.login button[type=submit]');
  await page.waitForSelector('.balance');
  assert.equal(await page.textContent('.balance'), '1,200');
  assert.match(await page.textContent('.hello'), /张伟/);
  assert.match(await page.textContent('.expiring'), /30 天内将有 1200 积分过期/);
  await shot(page, 'member-home');
  // the session is a cookie: a reload stays signed in
  await page.reload();
  await page.waitForSelector('.balance');
});

test('a special created through the API shows with its price, and redeeming takes it', async () => {
  await page.click('nav.tabs a[data-tab=specials]');
  await page.waitForSelector('.card.special');
  const card = page.locator('.card.special').first();
  assert.equal(await card.locator('h2').textContent(), '本月特惠 保温杯');
  assert.equal(await card.locator('.price').textContent(), '250 积分');
  assert.equal(await card.locator('.was').textContent(), '原价 300');
  assert.match(await card.textContent(), /限量剩余 50/);
  await shot(page, 'member-specials');
  // the catalog shows the best price for this member, the special's
  await page.click('nav.tabs a[data-tab=rewards]');
  await page.waitForSelector(`.card.reward[data-id="${rewardId}"]`);
  const reward = page.locator(`.card.reward[data-id="${rewardId}"]`);
  assert.equal(await reward.locator('.price').textContent(), '250 积分');
  assert.equal(await reward.locator('.was').textContent(), '300 积分');
  await shot(page, 'member-rewards');
  // two taps: the first arms the button, the second redeems
  await reward.locator('button.primary').click();
  assert.match(await reward.locator('button.primary').textContent(), /确认/);
  await reward.locator('button.primary').click();
  await page.waitForSelector('#toast.show');
  assert.match(await page.textContent('#toast'), /兑换成功/);
  await page.click('nav.tabs a[data-tab=home]');
  await page.waitForSelector('.balance');
  assert.equal(await page.textContent('.balance'), '950');
  // the order and the history show it
  await page.click('a[data-tile="orders"]');
  await page.waitForSelector('ul.orders li');
  assert.match(await page.textContent('ul.orders'), /保温杯/);
  assert.match(await page.textContent('ul.orders'), /待发货/);
  await page.goBack();
  await page.click('a[data-tile="history"]');
  await page.waitForSelector('ul.history li');
  const rows = await page.locator('ul.history li').allTextContents();
  assert.match(rows[0], /积分兑换/);
  assert.match(rows[0], /-250/);
  assert.match(rows[1], /获得积分/);
  await shot(page, 'member-history');
});

test('the member pages switch to English, and the other pages render', async () => {
  await page.goto(srv.url + '/m/');
  await page.waitForSelector('.balance');
  await page.click('header .lang');
  await page.waitForSelector('nav.tabs a[data-tab=home]');
  assert.equal((await page.textContent('nav.tabs a[data-tab=home]')).trim().slice(-4), 'Home');
  assert.match(await page.textContent('.expiring'), /950 points expire within 30 days/);
  await page.click('header .lang');
  await page.waitForSelector('.balance');
  await page.click('a[data-tile="instalments"]');
  await page.waitForSelector('.card.instalments');
  assert.match(await page.textContent('.card.instalments'), /暂未开放/);
  await shot(page, 'member-instalments');
  await page.goto(srv.url + '/m/referral');
  await page.waitForSelector('.card.referral .code');
  const refCode = await page.textContent('.card.referral .code');
  assert.match(refCode, /^[2-9A-HJKMNP-Z]{8}$/);
  assert.match(await page.textContent('.card.referral .share'), new RegExp('/m/\\?ref=' + refCode));
  await shot(page, 'member-referral');
});
