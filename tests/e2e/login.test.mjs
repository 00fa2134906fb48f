// login.test.mjs - the console's sign-in in a real browser.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, shot, signIn, PASSWORD } from './lib.mjs';

let srv, browser;

before(async () => {
  srv = await startServer();
  srv.addUser('owner@brand.cn', 'owner');
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await srv?.stop();
});

test('a wrong password shows the server\'s reason, the right one signs in', async () => {
  const page = await browser.newPage();
  await page.goto(srv.url + '/');
  assert.equal(await page.textContent('h1'), '互动 · 营销中心');
  await shot(page, 'login');
  await page.fill('input[name=email]', 'owner@brand.cn');
  await page.fill('input[name=password]', 'not the password');
  await page.click('button[type=submit]');
  await page.waitForSelector('.error:not(:empty)');
  assert.match(await page.textContent('.error'), /wrong e-mail or password/);
  await page.fill('input[name=password]', PASSWORD);
  await page.click('button[type=submit]');
  await page.waitForSelector('header .who');
  assert.match(await page.textContent('header .who'), /owner@brand\.cn/);
  // the session survives a reload (cookie), and the language switch is remembered
  await page.click('header .lang');
  assert.match(await page.textContent('header strong'), /Marketing console/);
  await page.reload();
  await page.waitForSelector('header .who');
  assert.match(await page.textContent('header strong'), /Marketing console/);
  await page.close();
});

test('signing out returns to the sign-in form', async () => {
  const page = await browser.newPage();
  await signIn(page, srv.url, 'owner@brand.cn');
  await page.waitForSelector('header .logout');
  await page.click('header .logout');
  await page.waitForSelector('form.login');
  await page.close();
});
