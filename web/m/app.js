// app.js - the member pages (/m/): sign-in by phone code, then home (balance,
// points expiring soon), history, rewards, specials, auctions, group buys
// (share links /m/g/<code>), trials, instalments, referral and orders.
// One page with a path router (the server answers every /m/... path with
// this page). Times count down against the server's clock ("now" in the
// answers), so a test clock or a phone with the wrong time still agree.
import { api, setCsrf, onUnauthorized, explain, newKey } from './api.js';
import { t, getLang, setLang, named } from './i18n.js';

const app = document.getElementById('app');
let me = null; // GET /v1/member/me
let clockOffset = 0; // server time - this device's time, in ms
let timers = []; // cleared when the page changes
let renderSeq = 0; // a newer render makes an older one's late answers moot

// ---- small DOM helpers ----

// el('div', {class: 'x', onclick: fn}, 'text', child, [more]) - text is
// always a text node, so names from customers can never become markup.
function el(tag, attrs, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') n.addEventListener(k.slice(2), v);
    else if (k === 'class') n.className = v;
    else if (k === 'value') n.value = v;
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  return put(n, ...children);
}

// Replaces n's children (replaceChildren is too new for older WeChat builds).
function swap(n, ...children) {
  while (n.firstChild) n.removeChild(n.firstChild);
  return put(n, ...children);
}

// Appends children to n, skipping null/false and flattening arrays.
function put(n, ...children) {
  const add = (c) => {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(add); return; }
    n.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  };
  children.forEach(add);
  return n;
}

function toast(msg) {
  const box = document.getElementById('toast');
  box.textContent = msg;
  box.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove('show'), 3000);
}

function go(path) {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  route();
}

function every(ms, fn) { timers.push(setInterval(fn, ms)); }

function leave() {
  timers.forEach(clearInterval);
  timers = [];
}

// ---- time ----

function syncClock(nowIso) {
  const ms = Date.parse(nowIso || '');
  if (!Number.isNaN(ms)) clockOffset = ms - Date.now();
}
function serverNow() { return Date.now() + clockOffset; }

function duration(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  const parts = [];
  if (d) parts.push(t('time.d', { n: d }));
  if (d || h) parts.push(t('time.h', { n: h }));
  if (!d) parts.push(t('time.m', { n: String(m).padStart(h ? 2 : 1, '0') }));
  if (!d && !h) parts.push(t('time.s', { n: String(s).padStart(2, '0') }));
  return parts.join('').trim();
}

function fmtDate(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const p = (x) => String(x).padStart(2, '0');
  const sameYear = d.getFullYear() === new Date(serverNow()).getFullYear();
  return `${sameYear ? '' : d.getFullYear() + '-'}${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

// A span that counts down to iso ("剩余 1小时02分" / "3 分 05 秒 后开始").
function countdown(iso, key) {
  const span = el('span', { class: 'countdown', 'data-until': iso, 'data-key': key || 'common.endsIn' });
  tickOne(span);
  return span;
}
function tickOne(span) {
  const left = Date.parse(span.dataset.until) - serverNow();
  span.textContent = left > 0 ? t(span.dataset.key, { t: duration(left) }) : t('common.ended');
}
setInterval(() => document.querySelectorAll('.countdown[data-until]').forEach(tickOne), 1000);

// ---- the frame: top bar, content, tab bar ----

const TABS = [
  ['home', '/m/', 'nav.home', '家'],
  ['rewards', '/m/rewards', 'nav.rewards', '兑'],
  ['specials', '/m/specials', 'nav.specials', '惠'],
  ['auctions', '/m/auctions', 'nav.auctions', '拍'],
];

function link(href, attrs, ...children) {
  return el('a', Object.assign({ href, onclick: (ev) => { ev.preventDefault(); go(href); } }, attrs || {}), ...children);
}

function frame(title, tab, back) {
  const main = el('main', { 'data-page': tab || '' });
  const bar = el('header', { class: 'bar' },
    el('div', { class: 'side' }, back ? el('button', { type: 'button', class: 'back', onclick: () => {
      if (history.length > 1) history.back(); else go('/m/');
    } }, '‹ ' + t('nav.back')) : null),
    el('h1', {}, title),
    el('div', { class: 'side end' }, el('button', { type: 'button', class: 'lang', onclick: () => {
      setLang(getLang() === 'zh' ? 'en' : 'zh');
      route();
    } }, t('nav.lang'))));
  const tabs = el('nav', { class: 'tabs' }, TABS.map(([key, href, label, icon]) =>
    link(href, { class: key === tab ? 'active' : '', 'data-tab': key }, el('span', { class: 'icon', 'aria-hidden': 'true' }, icon), t(label))));
  document.title = title + ' · ' + t('app.title');
  swap(app, bar, main, tabs);
  main.appendChild(el('p', { class: 'loading' }, t('common.loading')));
  return main;
}

function fill(main, ...children) {
  swap(main, children);
}

function empty() { return el('p', { class: 'empty' }, t('common.empty')); }

// A button that asks once more before spending: the first tap arms it
// ("确认兑换"), the second does it; it disarms by itself after 4 seconds.
function confirmButton(label, what, action, attrs) {
  const b = el('button', Object.assign({ type: 'button', class: 'primary' }, attrs || {}), label);
  let armed = false;
  let timer = null;
  const reset = () => { armed = false; b.textContent = label; b.classList.remove('confirm'); };
  b.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      b.textContent = t('common.confirm', { what });
      b.classList.add('confirm');
      timer = setTimeout(reset, 4000);
      return;
    }
    clearTimeout(timer);
    b.disabled = true;
    try {
      await action();
    } catch (e) {
      toast(explain(e));
    } finally {
      b.disabled = false;
      reset();
    }
  });
  return b;
}

function pts(n) { return t('common.points', { n: Number(n || 0).toLocaleString('en-US') }); }

function rewardName(r, fallbackTitle) {
  return named(fallbackTitle) || (r && named(r.name)) || '';
}

// An option picker for a reward with options, pre-selected from the
// member's remembered specs (selected_option), or null.
function optionPicker(reward) {
  const opts = (reward && reward.options) || [];
  if (!opts.length) return null;
  const sel = el('select', { name: 'option' }, opts.map((o) =>
    el('option', { value: o.code, disabled: o.stock === 0 ? true : null }, named(o.name) || o.code)));
  const pre = reward.selected_option || (opts.find((o) => o.stock !== 0) || opts[0]).code;
  sel.value = pre;
  return el('label', {}, t('rewards.option'), sel);
}
function pickedOption(card) {
  const s = card.querySelector('select[name=option]');
  return s ? s.value : undefined;
}

// ---- sign-in ----

function renderLogin(message) {
  me = null;
  leave();
  document.title = t('login.title');
  const phone = el('input', { type: 'tel', name: 'phone', inputmode: 'tel', autocomplete: 'tel', placeholder: '138 0013 8000', maxlength: 20 });
  const code = el('input', { type: 'text', name: 'code', inputmode: 'numeric', autocomplete: 'one-time-code', pattern: '[0-9]*', maxlength: 6, placeholder: '123456' });
  const error = el('p', { class: 'error', role: 'alert' }, message || '');
  const note = el('p', { class: 'note' });
  const send = el('button', { type: 'button', class: 'send' }, t('login.send'));
  let wait = 0;
  const tick = () => {
    send.disabled = wait > 0;
    send.textContent = wait > 0 ? t('login.resend', { n: wait }) : t('login.send');
  };
  send.addEventListener('click', async () => {
    error.textContent = '';
    if (!phone.value.trim()) { error.textContent = t('login.needPhone'); return; }
    send.disabled = true;
    try {
      const r = await api('POST', '/v1/member/otp', { phone: phone.value.trim() });
      note.textContent = t('login.sent');
      wait = r.resend_in_s || 60;
      code.focus();
    } catch (e) {
      error.textContent = explain(e);
      wait = (e.problem && e.problem.retry_after_s) || 0;
    }
    tick();
    const iv = setInterval(() => { wait -= 1; tick(); if (wait <= 0) clearInterval(iv); }, 1000);
    timers.push(iv);
  });
  const form = el('form', { class: 'login', onsubmit: async (ev) => {
    ev.preventDefault();
    error.textContent = '';
    if (!phone.value.trim()) { error.textContent = t('login.needPhone'); return; }
    if (!/^[0-9]{6}$/.test(code.value.trim())) { error.textContent = t('login.needCode'); return; }
    try {
      me = await api('POST', '/v1/member/login', { phone: phone.value.trim(), code: code.value.trim() });
      setCsrf(me.csrf_token);
      syncClock(me.now);
      route();
    } catch (e) {
      error.textContent = explain(e);
    }
  } },
    el('h1', {}, t('login.title')),
    el('p', { class: 'sub' }, t('login.hint')),
    el('label', {}, t('login.phone'), phone),
    el('div', { class: 'inline' }, el('label', {}, t('login.code'), code), send),
    el('button', { type: 'submit', class: 'primary block' }, t('login.submit')),
    note, error,
    el('button', { type: 'button', class: 'lang', onclick: () => { setLang(getLang() === 'zh' ? 'en' : 'zh'); renderLogin(); } }, t('nav.lang')));
  swap(app, form);
}

// ---- home ----

const TILES = [
  ['/m/history', 'tile.history', '明'], ['/m/rewards', 'tile.rewards', '兑'], ['/m/specials', 'tile.specials', '惠'],
  ['/m/auctions', 'tile.auctions', '拍'], ['/m/groupbuys', 'tile.groupbuys', '团'], ['/m/trials', 'tile.trials', '试'],
  ['/m/instalments', 'tile.instalments', '分'], ['/m/orders', 'tile.orders', '单'], ['/m/referral', 'tile.referral', '荐'],
];

async function home(main) {
  me = Object.assign(me || {}, await api('GET', '/v1/member/me'));
  setCsrf(me.csrf_token);
  syncClock(me.now);
  const p = me.points;
  const tier = me.tier ? named(me.tier.name) || me.tier.code : t('home.noTier');
  const expiring = p.expiring_30d > 0
    ? [el('p', { class: 'expiring' }, t('home.expiringTotal', { n: p.expiring_30d })),
      el('ul', { class: 'list' }, p.expiring.map((l) => el('li', {}, el('span', {}, t('home.expiresOn', { n: l.points, date: fmtDate(l.expires_at) })))))]
    : el('p', { class: 'expiring sub' }, t('home.expiringNone'));
  fill(main,
    el('section', { class: 'card hero' },
      el('div', { class: 'row' }, el('span', { class: 'hello' }, t('home.hello', { name: me.name || me.phone || t('home.member') })), el('span', { class: 'badge tier' }, tier)),
      el('p', { class: 'sub' }, t('home.balance')),
      el('p', { class: 'balance' }, Number(p.balance).toLocaleString('en-US')),
      el('div', { class: 'stats' },
        el('span', {}, t('home.available') + ' ', el('b', { class: 'available' }, p.available)),
        el('span', {}, t('home.pending') + ' ', el('b', { class: 'pending' }, p.pending)),
        p.debt > 0 ? el('span', {}, t('home.debt') + ' ', el('b', {}, p.debt)) : null)),
    el('section', { class: 'card' }, el('h2', {}, t('home.expiring')), expiring),
    el('section', { class: 'card' }, el('h2', {}, t('home.more')),
      el('div', { class: 'tiles' }, TILES.map(([href, key, icon]) => link(href, { 'data-tile': href.slice(3) }, el('span', { class: 'icon', 'aria-hidden': 'true' }, icon), t(key))))),
    el('button', { type: 'button', class: 'block logout', onclick: async () => {
      try { await api('POST', '/v1/member/logout'); } catch (e) { /* gone either way */ }
      renderLogin();
    } }, t('nav.logout')));
}

// ---- history ----

function codeLabel(tr) {
  const key = 'code.' + (tr.code || 'other');
  const s = t(key);
  return s === key ? t('code.other') : s;
}

async function historyPage(main) {
  const ul = el('ul', { class: 'list history' });
  const more = el('button', { type: 'button', class: 'block' }, t('common.more'));
  let cursor = null;
  const load = async () => {
    const page = await api('GET', '/v1/member/points/history?limit=30' + (cursor ? '&cursor=' + encodeURIComponent(cursor) : ''));
    for (const tr of page.data) {
      const change = tr.change || 0;
      const state = tr.status === 'pending' ? t('status.pending') : tr.status === 'voided' ? t('status.voided') : '';
      ul.appendChild(el('li', {},
        el('div', {}, el('div', {}, codeLabel(tr), state ? el('span', { class: 'badge muted' }, state) : null),
          el('div', { class: 'sub' }, fmtDate(tr.created_at))),
        el('span', { class: change >= 0 ? 'plus' : 'minus' }, (change >= 0 ? '+' : '') + change)));
    }
    cursor = page.next_cursor;
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => load().catch((e) => toast(explain(e))));
  await load();
  fill(main, el('section', { class: 'card' }, ul.children.length ? ul : empty()), more);
}

// ---- rewards and specials ----

async function redeem(body) {
  const order = await api('POST', '/v1/member/redemptions', body, newKey());
  toast(t('rewards.done', { id: order.id }));
  return order;
}

async function rewards(main) {
  const page = await api('GET', '/v1/member/rewards?limit=100');
  syncClock(page.now);
  const cards = page.data.map((r) => {
    const card = el('section', { class: 'card reward', 'data-id': r.id });
    const special = r.special;
    put(card, 
      el('div', { class: 'row' }, el('h2', {}, named(r.name)), special ? el('span', { class: 'badge' }, t('rewards.special')) : null),
      r.description && named(r.description) ? el('p', { class: 'sub' }, named(r.description)) : null,
      el('div', { class: 'row' },
        el('span', {}, el('span', { class: 'price' }, pts(r.best_points)),
          r.best_points < r.price.points ? el('span', { class: 'was' }, pts(r.price.points)) : null),
        r.stock !== null && r.stock !== undefined ? el('span', { class: 'sub' }, t('rewards.stock', { n: r.stock })) : null),
      optionPicker(r),
      el('div', { class: 'actions' }, r.eligible
        ? confirmButton(t('rewards.redeem'), t('rewards.redeem'), async () => {
          const body = { reward_id: r.id };
          const opt = pickedOption(card);
          if (opt) body.option = opt;
          await redeem(body);
          route();
        })
        : el('button', { type: 'button', disabled: true }, t('rewards.tierOnly'))));
    return card;
  });
  fill(main, cards.length ? cards : empty());
}

async function specials(main) {
  const page = await api('GET', '/v1/member/specials');
  syncClock(page.now);
  const cards = page.data.map((s) => {
    const card = el('section', { class: 'card special', 'data-id': s.id });
    put(card, 
      el('div', { class: 'row' }, el('h2', {}, rewardName(s.reward, s.title)), el('span', { class: 'badge' }, t('rewards.special'))),
      s.title && s.reward ? el('p', { class: 'sub' }, named(s.reward.name)) : null,
      el('div', { class: 'row' },
        el('span', {}, el('span', { class: 'price' }, pts(s.points)), el('span', { class: 'was' }, t('specials.was', { n: s.regular_points }))),
        countdown(s.ends_at)),
      el('p', { class: 'sub' }, [
        s.remaining !== null && s.remaining !== undefined ? t('specials.remaining', { n: s.remaining }) : '',
        s.per_customer ? t('specials.perCustomer', { n: s.per_customer }) : ''].filter(Boolean).join(' · ')),
      optionPicker(s.reward),
      el('div', { class: 'actions' }, confirmButton(t('specials.take'), t('rewards.redeem'), async () => {
        const body = { reward_id: s.reward_id, special_id: s.id };
        const opt = pickedOption(card);
        if (opt) body.option = opt;
        await redeem(body);
        route();
      })));
    return card;
  });
  fill(main, cards.length ? cards : empty());
}

// ---- auctions ----

function auctionCard(a) {
  const card = el('section', { class: 'card auction', 'data-id': a.id, 'data-status': a.status });
  const current = a.current_bid !== null && a.current_bid !== undefined;
  let mine = null;
  if (a.me) {
    const key = { leading: 'auctions.leading', outbid: 'auctions.outbid', won: 'auctions.won', lost: 'auctions.lost' }[a.me.status];
    if (key) mine = el('p', { class: 'me ' + a.me.status }, t(key, { n: a.me.bid }));
  }
  put(card, 
    el('div', { class: 'row' }, el('h2', {}, rewardName(a.reward, a.title)), el('span', { class: 'badge state' }, t('state.' + a.status))),
    el('div', { class: 'row' },
      el('span', {}, el('span', { class: 'sub' }, (current ? t('auctions.current') : t('auctions.start')) + ' '),
        el('span', { class: 'price current' }, pts(current ? a.current_bid : a.starting_bid))),
      el('span', { class: 'sub' }, current ? t('auctions.bids', { n: a.bids }) + (a.leader ? ' · ' + a.leader : '') : t('auctions.noBids'))),
    a.status === 'open' ? el('p', { class: 'sub' }, countdown(a.ends_at)) : null,
    a.status === 'scheduled' ? el('p', { class: 'sub' }, countdown(a.starts_at, 'common.startsIn')) : null,
    mine);
  if (a.status === 'open') {
    const min = a.min_next_bid || a.starting_bid;
    const amount = el('input', { type: 'number', name: 'amount', inputmode: 'numeric', min, step: a.increment || 1, value: min });
    put(card, el('div', { class: 'inline' },
      el('label', {}, t('auctions.amount') + ' · ' + t('auctions.minNext', { n: min }), amount),
      confirmButton(t('auctions.bid'), t('auctions.bid'), async () => {
        await api('POST', `/v1/member/auctions/${a.id}/bids`, { amount: Number(amount.value) }, newKey());
        toast(t('auctions.done'));
        route();
      }, { class: 'primary bid' })));
  }
  return card;
}

async function auctions(main) {
  const seq = renderSeq;
  const draw = async () => {
    const page = await api('GET', '/v1/member/auctions');
    if (seq !== renderSeq) return;
    syncClock(page.now);
    fill(main, page.data.length ? page.data.map(auctionCard) : empty());
  };
  await draw();
  // bids come in from others: look again every few seconds (not while typing)
  every(4000, () => {
    if (document.hidden || (document.activeElement && main.contains(document.activeElement) && document.activeElement.tagName === 'INPUT')) return;
    if (main.querySelector('button.confirm')) return;
    draw().catch(() => {});
  });
}

// ---- group buys ----

function groupCard(g, full) {
  const card = el('section', { class: 'card group', 'data-code': g.code, 'data-status': g.status });
  const pct = Math.min(100, Math.round((100 * g.joined) / g.group_size));
  put(card, 
    el('div', { class: 'row' }, el('h2', {}, rewardName(g.reward, g.title) || t('group.title')), el('span', { class: 'badge state' }, t('state.' + g.status))),
    el('p', {}, el('span', { class: 'price' }, t('groupbuys.perMember', { n: g.price })), el('span', { class: 'sub' }, '  ' + t('groupbuys.size', { n: g.group_size }))),
    el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': g.group_size, 'aria-valuenow': g.joined }, el('span', { style: `width:${pct}%` })),
    el('div', { class: 'row' },
      el('span', { class: 'joined' }, t('group.progress', { joined: g.joined, size: g.group_size })),
      g.status === 'open' ? el('span', { class: 'remaining' }, t('group.remaining', { n: g.remaining })) : null),
    g.status === 'open' ? el('p', { class: 'sub' }, countdown(g.expires_at)) : null);
  if (!full) {
    put(card, el('div', { class: 'actions' }, link(g.share_path || '/m/g/' + g.code, { class: 'btn' }, t('group.share'))));
    return card;
  }
  put(card, el('div', { class: 'members' }, (g.members || []).map((m) =>
    el('span', {}, m.name, m.initiator ? ' · ' + t('group.initiator') : ''))));
  const joined = g.me && g.me.joined;
  if (g.status === 'completed') put(card, el('p', { class: 'me joined' }, t('group.completed')));
  else if (g.status === 'expired') put(card, el('p', { class: 'me expired' }, t('group.expired')));
  else if (joined) put(card, el('p', { class: 'me joined' }, t('group.joined')));
  if (g.status === 'open' && !joined) {
    put(card, el('div', { class: 'actions' }, confirmButton(t('group.join'), t('group.join') + ' ' + pts(g.price), async () => {
      await api('POST', '/v1/member/groupbuys/join', { code: g.code }, newKey());
      toast(t('group.done'));
      route();
    }, { class: 'primary join' })));
  }
  if (g.status === 'open' && joined) {
    const url = location.origin + (g.share_path || '/m/g/' + g.code);
    const text = el('p', { class: 'share' }, url);
    put(card, el('h2', {}, t('group.share')), text, el('div', { class: 'actions' }, el('button', { type: 'button', onclick: async () => {
      try {
        await navigator.clipboard.writeText(url);
        toast(t('common.copied'));
      } catch (e) {
        toast(t('common.copyManual'));
      }
    } }, t('common.copy'))));
  }
  return card;
}

async function group(main, code) {
  const seq = renderSeq;
  const draw = async () => {
    const g = await api('GET', '/v1/member/groupbuys/groups/' + encodeURIComponent(code));
    if (seq !== renderSeq) return;
    syncClock(g.now);
    fill(main, groupCard(g, true));
  };
  await draw();
  every(4000, () => {
    if (document.hidden || main.querySelector('button.confirm')) return;
    draw().catch(() => {});
  });
}

async function groupbuys(main) {
  const page = await api('GET', '/v1/member/groupbuys');
  syncClock(page.now);
  const deals = page.data.map((d) => el('section', { class: 'card deal', 'data-id': d.id },
    el('h2', {}, rewardName(d.reward, d.title)),
    el('p', {}, el('span', { class: 'price' }, t('groupbuys.perMember', { n: d.price })), el('span', { class: 'sub' }, '  ' + t('groupbuys.size', { n: d.group_size }))),
    el('div', { class: 'actions' }, confirmButton(t('groupbuys.start'), t('groupbuys.start'), async () => {
      const g = await api('POST', `/v1/member/groupbuys/${d.id}/groups`, undefined, newKey());
      go(g.share_path || '/m/g/' + g.code);
    }))));
  fill(main,
    el('h2', {}, t('groupbuys.deals')), deals.length ? deals : empty(),
    page.mine.length ? el('h2', {}, t('groupbuys.mine')) : null,
    page.mine.map((g) => groupCard(g, false)));
}

// ---- trials ----

function trialCard(tr) {
  const card = el('section', { class: 'card trial', 'data-id': tr.id, 'data-status': tr.status });
  put(card, 
    el('div', { class: 'row' }, el('h2', {}, rewardName(tr.reward, tr.title)), el('span', { class: 'badge state' }, t('state.' + tr.status))),
    el('p', { class: 'sub' }, [t('trials.units', { n: tr.units }), tr.price ? t('trials.price', { n: tr.price }) : t('trials.free'),
      tr.bonus ? t('trials.bonus', { n: tr.bonus }) : '', t('trials.applicants', { n: tr.applicants })].filter(Boolean).join(' · ')),
    tr.status === 'open' ? el('p', { class: 'sub' }, countdown(tr.apply_ends_at)) : null,
    tr.status === 'scheduled' ? el('p', { class: 'sub' }, countdown(tr.apply_starts_at, 'common.startsIn')) : null);
  const a = tr.me;
  if (a) {
    const key = { applied: 'trials.applied', won: 'trials.won', lost: 'trials.lost', reviewed: 'trials.reviewed', forfeited: 'trials.forfeited' }[a.status];
    if (key) put(card, el('p', { class: 'me ' + a.status }, t(key, { date: a.review_due_at ? fmtDate(a.review_due_at) : '' })));
    if (a.status === 'won') {
      const text = el('textarea', { name: 'text', placeholder: t('trials.reviewText'), maxlength: 5000 });
      const rating = el('select', { name: 'rating' }, [5, 4, 3, 2, 1].map((n) => el('option', { value: n }, '★'.repeat(n))));
      put(card, el('label', {}, t('trials.reviewText'), text), el('label', {}, t('trials.rating'), rating),
        el('div', { class: 'actions' }, confirmButton(t('trials.review'), t('trials.review'), async () => {
          await api('POST', `/v1/member/trials/${tr.id}/reviews`, { text: text.value, rating: Number(rating.value) }, newKey());
          toast(t('trials.reviewDone'));
          route();
        })));
    }
  } else if (tr.status === 'open') {
    put(card, el('div', { class: 'actions' }, confirmButton(t('trials.apply'), t('trials.apply'), async () => {
      await api('POST', `/v1/member/trials/${tr.id}/applications`, undefined, newKey());
      toast(t('trials.done'));
      route();
    })));
  }
  return card;
}

async function trials(main) {
  const page = await api('GET', '/v1/member/trials');
  syncClock(page.now);
  fill(main, page.data.length ? page.data.map(trialCard) : empty());
}

// ---- instalments, referral, orders ----

async function instalments(main) {
  const r = await api('GET', '/v1/member/instalments');
  // plans as the instalments module describes them (instalments.h), once the
  // member API lists them; until then the server says they are not available
  const plans = r.data.map((p) => el('section', { class: 'card plan', 'data-id': p.id },
    el('div', { class: 'row' }, el('h2', {}, t('instalments.plan', { n: p.plan })), el('span', { class: 'badge' }, t('instalments.' + p.status))),
    el('p', {}, t('instalments.progress', { paid: p.paid_count, n: p.plan, left: p.remaining })),
    p.next_due ? el('p', { class: 'sub' }, t('instalments.next', { date: fmtDate(p.next_due.due_at), n: p.next_due.amount })) : null));
  fill(main, r.available === false ? el('section', { class: 'card instalments' }, el('p', { class: 'empty' }, named(r.message))) : null,
    plans.length ? plans : (r.available === false ? null : empty()));
}

async function referral(main) {
  const r = await api('GET', '/v1/member/referral');
  const url = location.origin + r.path;
  fill(main, el('section', { class: 'card referral' },
    el('h2', {}, t('referral.code')),
    el('p', { class: 'price code' }, r.code),
    el('p', { class: 'share' }, url),
    el('div', { class: 'actions' }, el('button', { type: 'button', onclick: async () => {
      try {
        await navigator.clipboard.writeText(url);
        toast(t('common.copied'));
      } catch (e) {
        toast(t('common.copyManual'));
      }
    } }, t('common.copy'))),
    r.available ? null : el('p', { class: 'sub' }, named(r.message))));
}

async function orders(main) {
  const page = await api('GET', '/v1/member/orders?limit=50');
  const items = page.data.map((o) => el('li', { 'data-id': o.id },
    el('div', {}, el('div', {}, (o.reward && named(o.reward.name)) || o.reward_id),
      el('div', { class: 'sub' }, fmtDate(o.created_at) + (o.tracking_number ? ' · ' + t('orders.tracking', { carrier: o.carrier || '', no: o.tracking_number }) : ''))),
    el('div', {}, el('div', { class: 'minus' }, '-' + (o.points || 0)), el('span', { class: 'badge muted' }, t('orders.' + o.status)))));
  fill(main, el('section', { class: 'card' }, items.length ? el('ul', { class: 'list orders' }, items) : empty()));
}

// ---- routing ----

// [pattern, title key, tab, page]; a page gets (main, ...captures).
const ROUTES = [
  [/^\/m\/?$/, 'app.title', 'home', home],
  [/^\/m\/history\/?$/, 'history.title', null, historyPage],
  [/^\/m\/rewards\/?$/, 'rewards.title', 'rewards', rewards],
  [/^\/m\/specials\/?$/, 'specials.title', 'specials', specials],
  [/^\/m\/auctions\/?$/, 'auctions.title', 'auctions', auctions],
  [/^\/m\/groupbuys\/?$/, 'groupbuys.title', null, groupbuys],
  [/^\/m\/g\/([A-Za-z0-9]{1,32})\/?$/, 'group.title', null, group],
  [/^\/m\/trials\/?$/, 'trials.title', null, trials],
  [/^\/m\/instalments\/?$/, 'instalments.title', null, instalments],
  [/^\/m\/referral\/?$/, 'referral.title', null, referral],
  [/^\/m\/orders\/?$/, 'orders.title', null, orders],
];

async function route() {
  leave();
  renderSeq += 1;
  if (!me) { renderLogin(); return; }
  const path = location.pathname;
  for (const [re, title, tab, page] of ROUTES) {
    const m = re.exec(path);
    if (!m) continue;
    const main = frame(t(title), tab, tab === null);
    try {
      await page(main, ...m.slice(1));
    } catch (e) {
      if (e.status !== 401) fill(main, el('p', { class: 'empty error' }, explain(e)));
    }
    return;
  }
  fill(frame(t('common.notFound'), null, true), el('p', { class: 'empty' }, t('common.notFound')));
}

window.addEventListener('popstate', route);
document.addEventListener('visibilitychange', () => { if (!document.hidden && me) route(); });

async function start() {
  setLang(getLang());
  const ref = new URLSearchParams(location.search).get('ref');
  if (ref) { try { localStorage.setItem('hudong.m.ref', ref); } catch (e) { /* private mode */ } }
  onUnauthorized(() => { if (me) renderLogin(t('login.expired')); else renderLogin(); });
  try {
    me = await api('GET', '/v1/member/me');
    setCsrf(me.csrf_token);
    syncClock(me.now);
  } catch (e) {
    me = null;
  }
  route();
}

start();
