// console_overview.test.mjs - the overview dashboard on demo data: the charts
// draw (ECharts canvases), the headline numbers are the API's, and the
// language switch changes every label and is remembered.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, openPage, shot, shotView, signIn, apiClient, pageFetch, seedProgramme } from './lib.mjs';

let srv, browser, client;

before(async () => {
  srv = await startServer({ demo: true });
  srv.addUser('owner@brand.cn', 'owner');
  client = apiClient(srv.url, srv.apiKey());
  await seedProgramme(client);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

async function kpi(page, key) {
  return page.$eval(`[data-kpi="${key}"]`, (e) => ({ value: e.dataset.value, text: e.querySelector('.kpi-value').textContent }));
}

test('the overview draws its charts and shows the numbers the API gives', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'owner@brand.cn');
  await page.waitForSelector('[data-kpi="members"]');
  // three charts: revenue, points, ladder - each an ECharts canvas with pixels
  await page.waitForSelector('.chart[data-name="revenue"][data-chart="ready"] canvas');
  await page.waitForSelector('.chart[data-name="points"][data-chart="ready"] canvas');
  await page.waitForSelector('.chart[data-name="ladder"][data-chart="ready"] canvas');
  const painted = await page.$$eval('.chart canvas', (cs) => cs.map((c) => c.width > 100 && c.height > 100));
  assert.ok(painted.length >= 3 && painted.every(Boolean), 'every chart has a sized canvas');

  const ov = (await pageFetch(page, 'GET', '/v1/console/overview?days=90')).data;
  const rep = (await pageFetch(page, 'GET', '/v1/reports/points')).data;
  assert.ok(ov.members >= 300, 'demo members');
  assert.ok(rep.issued > 0 && rep.redeemed.points > 0, 'the seeded programme shows in the report');
  const fmt = (n) => new Intl.NumberFormat('zh-CN').format(n);
  const money = (fen) => '¥' + new Intl.NumberFormat('zh-CN', { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(fen / 100);
  const expect = {
    members: [ov.members, fmt(ov.members)],
    active_30d: [ov.active_30d, fmt(ov.active_30d)],
    revenue: [ov.revenue, money(ov.revenue)],
    revenue_30d: [ov.revenue_30d, money(ov.revenue_30d)],
    points_issued: [rep.issued, fmt(rep.issued)],
    points_redeemed: [rep.redeemed.points, fmt(rep.redeemed.points)],
    points_outstanding: [rep.outstanding_liability.points, fmt(rep.outstanding_liability.points)],
  };
  for (const [key, [value, text]] of Object.entries(expect)) {
    const k = await kpi(page, key);
    assert.equal(k.value, String(value), `${key} value`);
    assert.equal(k.text, text, `${key} as shown`);
  }
  const prod = await kpi(page, 'productivity');
  assert.equal(Number(prod.value), rep.productivity.percent);
  // the trend's last day has the seeded orders' points
  const today = ov.trend[ov.trend.length - 1];
  assert.ok(today.points_issued > 0 && today.revenue > 0);
  // the revenue chart holds the API's series
  const series = await page.$eval('.chart[data-name="revenue"]', (e) => e.chart.getOption().series[0].data);
  assert.deepEqual(series, ov.trend.map((d) => d.revenue / 100));
  await shot(page, 'console-overview');
  await shotView(page, 'doc-overview');

  // another range redraws from the API
  await page.click('.range a[data-days="30"]');
  await page.waitForFunction(() => document.querySelector('.range a.active')?.dataset.days === '30');
  await page.waitForSelector('.chart[data-name="revenue"][data-chart="ready"]');
  const n = await page.$eval('.chart[data-name="revenue"]', (e) => e.chart.getOption().xAxis[0].data.length);
  assert.equal(n, 30);
  await page.close();
});

test('zh/en: the switch relabels the console and is remembered', async () => {
  const page = await openPage(browser);
  await signIn(page, srv.url, 'owner@brand.cn');
  await page.waitForSelector('[data-kpi="members"]');
  assert.equal(await page.textContent('nav.side a[data-nav="overview"]'), '概览');
  assert.equal(await page.textContent('[data-kpi="members"] .kpi-label'), '会员数');
  await page.click('header .lang');
  await page.waitForSelector('[data-kpi="members"]');
  assert.equal(await page.textContent('nav.side a[data-nav="overview"]'), 'Overview');
  assert.equal(await page.textContent('[data-kpi="members"] .kpi-label'), 'Members');
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  await page.waitForSelector('.chart[data-name="revenue"][data-chart="ready"]');
  const legend = await page.$eval('.chart[data-name="revenue"]', (e) => e.chart.getOption().legend[0].data);
  assert.deepEqual(legend, ['Revenue (yuan)', 'Orders']);
  // remembered across a reload and on other screens
  await page.reload();
  await page.waitForSelector('[data-kpi="members"]');
  assert.equal(await page.textContent('[data-kpi="members"] .kpi-label'), 'Members');
  await page.goto(srv.url + '/#/points/rules');
  await page.waitForSelector('nav.tabs a[data-tab="rules"]');
  assert.equal(await page.textContent('nav.tabs a[data-tab="rules"]'), 'Earning rules');
  await page.goto(srv.url + '/#/overview');
  await page.waitForSelector('.chart[data-name="points"][data-chart="ready"] canvas');
  await shot(page, 'console-overview-en');
  await shotView(page, 'doc-overview-en');
  // and back
  await page.click('header .lang');
  await page.waitForSelector('[data-kpi="members"]');
  assert.equal(await page.textContent('[data-kpi="members"] .kpi-label'), '会员数');
  await page.close();
});
