// console_i18n.test.mjs - every string the console shows goes through the one
// zh/en dictionary (web/console/i18n.js): each key the code asks for exists in
// both languages, keys built from server codes cover every code the server
// sends, and no Chinese text hides in the screens' code. No browser needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { root } from './lib.mjs';

const dir = path.join(root, 'web/console');
globalThis.localStorage ??= { getItem: () => null, setItem: () => {} };
globalThis.document ??= { documentElement: {} };
// imported as text, so node does not ask web/package.json what kind of module it is
const { dict } = await import('data:text/javascript,' + encodeURIComponent(readFileSync(path.join(dir, 'i18n.js'), 'utf8')));
const files = readdirSync(dir).filter((f) => f.endsWith('.js'));
const source = Object.fromEntries(files.map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]));

test('every entry has both languages, and placeholders match', () => {
  for (const [k, v] of Object.entries(dict)) {
    assert.ok(v.zh && v.en, `${k} has zh and en`);
    const ph = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort().join();
    assert.equal(ph(v.zh), ph(v.en), `${k}: the same placeholders`);
  }
});

test('every key the screens ask for exists', () => {
  const missing = [];
  for (const [f, s] of Object.entries(source)) {
    for (const m of s.matchAll(/(?<![\w.])t\('([^']+)'\)/g)) if (!dict[m[1]]) missing.push(`${f}: ${m[1]}`);
  }
  assert.deepEqual(missing, []);
});

test('every placeholder the screens fill is in the entry', () => {
  const wrong = [];
  let checked = 0;
  for (const [f, s] of Object.entries(source)) {
    for (const m of s.matchAll(/(?<![\w.])t\('([^']+)'\)((?:\.replace\('\{\w+\}'[^)]*\))+)/g)) {
      for (const [, ph] of m[2].matchAll(/\.replace\('\{(\w+)\}'/g)) {
        checked++;
        if (dict[m[1]] && !dict[m[1]].zh.includes(`{${ph}}`)) wrong.push(`${f}: ${m[1]} has no {${ph}}`);
      }
    }
  }
  assert.deepEqual(wrong, []);
  assert.ok(checked > 20, `checked ${checked} placeholders`);
});

test('keys made from server codes cover the codes', () => {
  const families = {
    role: ['owner', 'admin', 'marketer', 'agent', 'analyst'],
    status: ['scheduled', 'open', 'closing', 'closed', 'running', 'ended', 'sold_out', 'inactive', 'drawing',
      'completed', 'expired', 'applied', 'won', 'lost', 'reviewed', 'forfeited', 'leading', 'outbid', 'replaced',
      'active', 'paid_off', 'delinquent', 'cancelled', 'paid', 'due', 'overdue'],
    'points.tab': ['rules', 'tiers', 'catalog', 'specials', 'auctions', 'groupbuys', 'trials', 'instalments', 'credit', 'coupons', 'report', 'program'],
    inst: ['month', 'week'],
    analytics: ['rfm', 'pareto', 'clv', 'baskets', 'ladder', 'segments'],
    settings: ['users', 'keys', 'touchpoints', 'audit', 'marketing', 'service'],
    channel: ['web', 'app', 'wechat', 'weibo', 'store', 'call_centre', 'roadshow', 'email', 'sms', 'other'],
    catalog: ['physical', 'digital', 'coupon', 'service'],
    'catalog.period': ['day', 'month', 'year', 'ever'],
    trials: ['lottery', 'engagement', 'first_come'],
    rules: ['points', 'growth'],
    program: ['none', 'days', 'end_of_month'],
    coupons: ['issued', 'claimed', 'bought', 'redeemed'],
    order: ['placed', 'shipped', 'delivered', 'cancelled'],
    source: ['redemption', 'special', 'auction', 'groupbuy', 'trial', 'instalment'],
    audit: ['user', 'key'],
    event: ['order.paid', 'order.refunded', 'page.view', 'share', 'review', 'follow', 'checkin'],
  };
  const missing = [];
  for (const [prefix, codes] of Object.entries(families)) for (const c of codes) if (!dict[`${prefix}.${c}`]) missing.push(`${prefix}.${c}`);
  assert.deepEqual(missing, []);
});

test('no Chinese text outside the dictionary (but in comments and expression examples)', () => {
  const cjk = /[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]/;
  const stray = [];
  for (const [f, s] of Object.entries(source)) {
    if (f === 'i18n.js') continue;
    s.split('\n').forEach((line, i) => {
      if (!cjk.test(line)) return;
      const code = line.replace(/\/\/.*$/, '');
      if (!cjk.test(code)) return; // a comment
      if (/customer\.|"category"|\[,，\]/.test(code)) return; // rules-language and data examples
      stray.push(`${f}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(stray, []);
});
