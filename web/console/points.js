// points.js - the points programme: earning rules (the expression error shown
// where it is; simulate), tiers, the reward catalog, the specials calendar,
// auctions with live bids, group buys, trials (applicants, draw, reviews),
// coupons, the points report and the programme settings. Writes need
// points:write; everyone who may read sees the same screens without the
// buttons.
import { api, qs, newKey } from './api.js';
import { t, fmtNum, fmtMoney, fmtPct } from './i18n.js';
import { el, clear, card, kpi, badge, table, pagedTable, pageArray, stateBox, form, modal, toast,
  tabs, chart, palette, pick, when, link, poll, progressBar } from './ui.js';

const TABS = ['rules', 'tiers', 'catalog', 'specials', 'auctions', 'groupbuys', 'trials', 'instalments', 'credit', 'coupons', 'report', 'program'];

export async function render(main, ctx) {
  const tab = TABS.includes(ctx.params.tab) ? ctx.params.tab : 'rules';
  const body = el('div', { class: 'tab-body', 'data-tab-body': tab });
  clear(main,
    el('div', { class: 'page-head' }, el('h1', {}, t('nav.points'))),
    tabs(TABS.map((k) => [k, t(`points.tab.${k}`), `#/points/${k}`]), tab),
    body);
  const screens = { rules, tiers, catalog, specials, auctions, groupbuys, trials, instalments, credit, coupons, report, program };
  const details = { auctions: auctionDetail, groupbuys: groupbuyDetail, trials: trialDetail, coupons: couponDetail };
  if (ctx.params.id && details[tab]) return details[tab](body, ctx, ctx.params.id);
  return screens[tab](body, ctx);
}

// ---- shared pieces ----

// A {zh, en} text as two fields; both required when the server needs both.
const i18nPair = (name, label, required = false, both = false) => [
  { name: `${name}.zh`, label: `${label} · ${t('common.inZh')}`, required, maxLength: 100 },
  { name: `${name}.en`, label: `${label} · ${t('common.inEn')}`, required: both, maxLength: 100 },
];

function yesNo(v) { return badge(v ? t('common.yes') : t('common.no'), v ? 'ok' : ''); }

function statusBadge(s) {
  const key = `status.${s}`;
  const label = t(key) === key ? s : t(key);
  const kind = { open: 'ok', running: 'ok', completed: 'ok', won: 'ok', leading: 'ok', closed: '', scheduled: 'accent', expired: 'bad', lost: '', outbid: 'bad', cancelled: 'bad', forfeited: 'bad' }[s] || '';
  return badge(label, kind);
}

// A list with "new" and per-row "edit" opening a form in a dialog.
function resource(body, ctx, { title, columns, load, fields, create, update, canWrite, newLabel, rowActions, before, onSaved }) {
  const cols = [...columns];
  if ((canWrite && update) || rowActions) {
    cols.push({ label: '', cls: 'row-actions', value: (row) => [
      canWrite && update ? el('button', { type: 'button', class: 'edit small', onclick: () => openForm(row) }, t('common.edit')) : null,
      rowActions ? rowActions(row) : null] });
  }
  const list = pagedTable(cols, load, { rowAttrs: (r) => ({ 'data-id': r.id }) });
  function openForm(row) {
    const key = newKey();
    const f = form(fields(row), {
      values: row || {},
      submitLabel: row ? t('common.save') : t('common.create'),
      onSubmit: async (b) => {
        if (row) await update(row, b); else await create(b, key);
        m.close();
        toast(t('common.saved'));
        if (onSaved) onSaved(); else list.reload();
      },
    });
    const m = modal(row ? `${t('common.edit')} · ${title}` : newLabel, f, { wide: true });
  }
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, title),
      canWrite && create ? el('button', { type: 'button', class: 'primary new', onclick: () => openForm(null) }, newLabel) : null),
    before || null,
    card(null, list));
  return list;
}

// A loader for lists the server returns whole: fetched again on every page
// turn and after every save, paged here.
function whole(path) {
  return async (cursor) => pageArray((await api('GET', path)).data || [])(cursor);
}

let rewardCache = null;
async function rewardOptions() {
  if (!rewardCache) {
    const r = await api('GET', '/v1/rewards?limit=200');
    rewardCache = r.data || [];
    setTimeout(() => { rewardCache = null; }, 30000);
  }
  return rewardCache.map((x) => [x.id, `${pick(x.name)} · ${fmtNum(x.price.points)} ${t('points.pts')}`]);
}

// ---- earning rules ----

const EVENT_TYPES = ['order.paid', 'order.refunded', 'page.view', 'review', 'share', 'checkin', 'follow'];

function ruleFields() {
  return [
    { name: 'name', label: t('rules.name'), required: true, maxLength: 100 },
    { name: 'event_type', label: t('rules.eventType'), required: true, pattern: '^[a-z0-9._-]{1,64}$', patternHint: t('rules.eventTypeHint'), suggest: EVENT_TYPES },
    { name: 'condition', label: t('rules.condition'), type: 'expr', emptyString: true, placeholder: 'amount >= 10000 and touchpoint == "wechat"', help: t('rules.conditionHelp') },
    { name: 'formula', label: t('rules.formula'), type: 'expr', required: true, rows: 2, placeholder: 'floor(amount / 100) * tier.multiplier', help: t('rules.formulaHelp') },
    { name: 'currency', label: t('rules.currency'), type: 'select', options: [['points', t('rules.points')], ['growth', t('rules.growth')]] },
    { name: 'priority', label: t('rules.priority'), type: 'number', default: 0 },
    { name: 'caps.per_day', label: t('rules.perDay'), type: 'number', min: 1, nullable: true },
    { name: 'caps.per_month', label: t('rules.perMonth'), type: 'number', min: 1, nullable: true },
    { name: 'caps.budget', label: t('rules.budget'), type: 'number', min: 1, nullable: true },
    { name: 'starts_at', label: t('common.startsAt'), type: 'datetime', nullable: true },
    { name: 'ends_at', label: t('common.endsAt'), type: 'datetime', nullable: true,
      validate: (v, b) => (v && b.starts_at && v <= b.starts_at ? t('form.endAfterStart') : '') },
    { name: 'stackable', label: t('rules.stackable'), type: 'checkbox', default: true },
    { name: 'active', label: t('common.active'), type: 'checkbox', default: true },
  ];
}

async function rules(body, ctx) {
  const canWrite = ctx.can('points:write');
  resource(body, ctx, {
    title: t('points.tab.rules'),
    newLabel: t('rules.new'),
    canWrite,
    load: whole('/v1/rules'),
    columns: [
      { label: t('rules.name'), value: (r) => r.name },
      { label: t('rules.eventType'), value: (r) => el('code', {}, r.event_type) },
      { label: t('rules.condition'), value: (r) => el('code', {}, r.condition || t('rules.always')) },
      { label: t('rules.formula'), value: (r) => el('code', {}, r.formula) },
      { label: t('rules.currency'), value: (r) => t(`rules.${r.currency}`) },
      { label: t('rules.awarded'), value: (r) => fmtNum(r.awarded), cls: 'num' },
      { label: t('rules.priority'), value: (r) => fmtNum(r.priority), cls: 'num' },
      { label: t('common.active'), value: (r) => yesNo(r.active) },
    ],
    fields: ruleFields,
    create: (b, key) => api('POST', '/v1/rules', b, { key }),
    update: (r, b) => api('PATCH', `/v1/rules/${r.id}`, b),
    rowActions: (r) => el('button', { type: 'button', class: 'simulate small', onclick: () => simulate(r) }, t('rules.simulate')),
  });
}

// Runs a rule against a sample event without writing anything.
function simulate(rule) {
  const out = el('div', { class: 'sim-result' });
  const f = form([
    { name: 'customer', label: t('rules.simCustomer'), required: true, help: t('rules.simCustomerHelp') },
    { name: 'type', label: t('rules.eventType'), required: true, value: rule.event_type },
    { name: 'amount', label: t('rules.simAmount'), type: 'money' },
    { name: 'touchpoint', label: t('customers.touchpoint') },
    { name: 'properties', label: t('rules.simProps'), type: 'json', placeholder: '{"lines":[{"sku":"A1","category":"服装","qty":1,"amount":9900}]}' },
  ], { submitLabel: t('rules.simulate'), onSubmit: async (b) => {
    let customerId = b.customer;
    if (!/^\d{15,}$/.test(customerId)) { // ids are long; anything else is a phone
      const found = await api('GET', `/v1/customers${qs({ phone: customerId })}`);
      if (!found.data.length) { f.setError('customer', t('rules.simNoCustomer')); return; }
      customerId = found.data[0].id;
    }
    const props = { ...(b.properties || {}) };
    if (b.amount !== undefined) { props.amount = b.amount; props.order_id = props.order_id || `sim-${Date.now()}`; }
    const ev = { type: b.type, customer: customerId, properties: props };
    if (b.touchpoint) ev.touchpoint = b.touchpoint;
    const r = await api('POST', `/v1/rules/${rule.id}/simulate`, { event: ev, customer_id: customerId });
    clear(out, el('p', { class: r.matched ? 'ok' : 'muted', 'data-matched': String(r.matched) },
      r.matched ? t('rules.simAward').replace('{n}', fmtNum(r.points)).replace('{c}', t(`rules.${r.currency}`)) : t('rules.simNoMatch'),
      ' · ', r.reason || ''));
  } });
  modal(`${t('rules.simulate')} · ${rule.name}`, el('div', {}, f, out), { wide: true });
}

// ---- tiers ----

async function tiers(body, ctx) {
  resource(body, ctx, {
    title: t('points.tab.tiers'), newLabel: t('tiers.new'), canWrite: ctx.can('points:write'),
    load: whole('/v1/tiers'),
    columns: [
      { label: t('tiers.code'), value: (x) => el('code', {}, x.code) },
      { label: t('tiers.name'), value: (x) => pick(x.name) },
      { label: t('tiers.threshold'), value: (x) => fmtNum(x.threshold), cls: 'num' },
      { label: t('tiers.multiplier'), value: (x) => `×${x.multiplier}`, cls: 'num' },
      { label: t('tiers.creditLimit'), value: (x) => (x.credit_limit === null ? '—' : fmtNum(x.credit_limit)), cls: 'num' },
      { label: t('tiers.grace'), value: (x) => fmtNum(x.grace_days), cls: 'num' },
      { label: t('tiers.access'), value: (x) => ['specials', 'auctions', 'trials'].filter((k) => x.access[k]).map((k) => badge(t(`points.tab.${k}`))) },
    ],
    fields: () => [
      { name: 'code', label: t('tiers.code'), required: true, pattern: '^[a-z0-9_-]{1,32}$', patternHint: t('tiers.codeHint') },
      ...i18nPair('name', t('tiers.name'), true, true),
      { name: 'threshold', label: t('tiers.threshold'), type: 'number', min: 0, required: true, help: t('tiers.thresholdHelp') },
      { name: 'multiplier', label: t('tiers.multiplier'), type: 'decimal', min: 0, default: 1 },
      { name: 'credit_limit', label: t('tiers.creditLimit'), type: 'number', min: 0, nullable: true },
      { name: 'grace_days', label: t('tiers.grace'), type: 'number', min: 0 },
      { name: 'access.specials', label: t('tiers.accessSpecials'), type: 'checkbox' },
      { name: 'access.auctions', label: t('tiers.accessAuctions'), type: 'checkbox' },
      { name: 'access.trials', label: t('tiers.accessTrials'), type: 'checkbox' },
    ],
    create: (b, key) => api('POST', '/v1/tiers', b, { key }),
    update: (x, b) => api('PATCH', `/v1/tiers/${x.id}`, b),
  });
}

// ---- catalog ----

function rewardFields() {
  return [
    { name: 'type', label: t('catalog.type'), type: 'select', required: true, options: ['physical', 'digital', 'coupon', 'service'].map((k) => [k, t(`catalog.${k}`)]) },
    ...i18nPair('name', t('catalog.name'), true),
    ...i18nPair('description', t('catalog.description')),
    { name: 'price.points', label: t('catalog.points'), type: 'number', min: 0, required: true },
    { name: 'price.cash', label: t('catalog.cash'), type: 'money' },
    { name: 'stock', label: t('catalog.stock'), type: 'number', min: 0, nullable: true, help: t('catalog.stockHelp') },
    { name: 'limit.per_customer', label: t('catalog.perCustomer'), type: 'number', min: 1 },
    { name: 'limit.period', label: t('catalog.period'), type: 'select', options: [['', '—'], ...['day', 'month', 'year', 'ever'].map((k) => [k, t(`catalog.period.${k}`)])],
      validate: (v, b) => ((b.limit && b.limit.per_customer && !v) ? t('catalog.periodNeeded') : '') },
    { name: 'tiers', label: t('catalog.tiers'), type: 'list', help: t('catalog.tiersHelp') },
    { name: 'starts_at', label: t('common.startsAt'), type: 'datetime', nullable: true },
    { name: 'ends_at', label: t('common.endsAt'), type: 'datetime', nullable: true, validate: (v, b) => (v && b.starts_at && v <= b.starts_at ? t('form.endAfterStart') : '') },
    { name: 'options', label: t('catalog.options'), type: 'json', help: t('catalog.optionsHelp') },
    { name: 'active', label: t('common.active'), type: 'checkbox', default: true },
  ];
}

async function catalog(body, ctx) {
  const type = ctx.query.get('type') || '';
  const filter = el('div', { class: 'filters' }, t('catalog.type'), ' ',
    [['', t('common.all')], ...['physical', 'digital', 'coupon', 'service'].map((k) => [k, t(`catalog.${k}`)])].map(([k, l]) =>
      el('a', { href: `#/points/catalog${k ? '?type=' + k : ''}`, class: k === type ? 'active' : '' }, l)));
  resource(body, ctx, {
    title: t('points.tab.catalog'), newLabel: t('catalog.new'), canWrite: ctx.can('points:write'), before: filter,
    load: (cursor) => api('GET', `/v1/rewards${qs({ type, cursor, limit: 20 })}`),
    columns: [
      { label: t('catalog.name'), value: (x) => [pick(x.name), el('br'), el('small', { class: 'muted' }, pick(x.description))] },
      { label: t('catalog.type'), value: (x) => t(`catalog.${x.type}`) },
      { label: t('catalog.points'), value: (x) => fmtNum(x.price.points) + (x.price.cash ? ` + ${fmtMoney(x.price.cash)}` : ''), cls: 'num' },
      { label: t('catalog.stock'), value: (x) => (x.stock === null ? '∞' : fmtNum(x.stock)), cls: 'num' },
      { label: t('catalog.sold'), value: (x) => fmtNum(x.sold), cls: 'num' },
      { label: t('catalog.window'), value: (x) => (x.starts_at || x.ends_at ? `${when(x.starts_at)} → ${when(x.ends_at)}` : t('catalog.always')) },
      { label: t('catalog.available'), value: (x) => yesNo(x.available) },
    ],
    fields: rewardFields,
    create: (b, key) => { rewardCache = null; return api('POST', '/v1/rewards', b, { key }); },
    update: (x, b) => { rewardCache = null; return api('PATCH', `/v1/rewards/${x.id}`, b); },
  });
}

// ---- specials: a month calendar and the list ----

async function specialFields(row) {
  const rewards = await rewardOptions();
  return () => [
    { name: 'reward_id', label: t('points.reward'), type: 'select', required: true, readonly: !!row, send: !row, options: [['', '—'], ...rewards] },
    ...i18nPair('title', t('specials.title')),
    { name: 'points', label: t('specials.points'), type: 'number', min: 0, required: true, help: t('specials.pointsHelp') },
    { name: 'starts_at', label: t('common.startsAt'), type: 'datetime', required: true },
    { name: 'ends_at', label: t('common.endsAt'), type: 'datetime', required: true, validate: (v, b) => (v && b.starts_at && v <= b.starts_at ? t('form.endAfterStart') : '') },
    { name: 'quantity', label: t('specials.quantity'), type: 'number', min: 1, nullable: true },
    { name: 'per_customer', label: t('specials.perCustomer'), type: 'number', min: 1, nullable: true },
    { name: 'eligibility', label: t('specials.eligibility'), type: 'expr', emptyString: true, placeholder: 'customer.orders >= 1', help: t('specials.eligibilityHelp') },
    { name: 'tier_access', label: t('specials.tierAccess'), type: 'checkbox' },
    { name: 'active', label: t('common.active'), type: 'checkbox', default: true },
  ];
}

function monthOf(d) { return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`; }
function shiftMonth(m, k) {
  const [y, mo] = m.split('-').map(Number);
  return monthOf(new Date(Date.UTC(y, mo - 1 + k, 1)));
}

async function specials(body, ctx) {
  // this month is the brand's: at 00:30 on 1 April in Beijing it is April, whatever the browser says
  const brand = await api('GET', '/v1/brand');
  const off = /^([+-])(\d{2}):?(\d{2})$/.exec(brand.utc_offset || '') || ['', '+', '08', '00'];
  const offMs = (off[1] === '-' ? -1 : 1) * (Number(off[2]) * 60 + Number(off[3])) * 60000;
  const month = /^\d{4}-\d{2}$/.test(ctx.query.get('month') || '') ? ctx.query.get('month') : monthOf(new Date(Date.now() + offMs));
  const [cal, all] = await Promise.all([
    api('GET', `/v1/specials/calendar${qs({ month })}`),
    api('GET', '/v1/specials?limit=200'),
  ]);
  const [y, mo] = month.split('-').map(Number);
  const first = new Date(Date.UTC(y, mo - 1, 1));
  const lead = (first.getUTCDay() + 6) % 7; // weeks start on Monday
  const byDate = Object.fromEntries((cal.days || []).map((d) => [d.date, d.specials]));
  const daysIn = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  const cells = [];
  for (let i = 0; i < lead; i++) cells.push(el('div', { class: 'day blank' }));
  for (let d = 1; d <= daysIn; d++) {
    const date = `${month}-${String(d).padStart(2, '0')}`;
    cells.push(el('div', { class: 'day', 'data-date': date }, el('span', { class: 'dnum' }, String(d)),
      (byDate[date] || []).map((s) => el('a', { class: `chip special ${s.status}`, href: '#/points/specials', title: `${pick(s.reward_name)} · ${fmtNum(s.points)} / ${fmtNum(s.regular_points)}`, 'data-special': s.id },
        `${pick(s.title) || pick(s.reward_name)} ${fmtNum(s.points)}`))));
  }
  const weekdays = t('specials.weekdays').split(',');
  const calendar = card(null,
    el('div', { class: 'cal-head' },
      el('a', { href: `#/points/specials?month=${shiftMonth(month, -1)}`, class: 'prev-month' }, '‹'),
      el('strong', { class: 'cal-month' }, month),
      el('a', { href: `#/points/specials?month=${shiftMonth(month, 1)}`, class: 'next-month' }, '›'),
      el('span', { class: 'muted brand-days' }, t('specials.brandDays').replace('{n}', brand.utc_offset || ''))),
    el('div', { class: 'calendar' }, weekdays.map((w) => el('div', { class: 'wd' }, w)), cells));
  const fields = await specialFields(null);
  const fieldsEdit = await specialFields({});
  resource(body, ctx, {
    title: t('points.tab.specials'), newLabel: t('specials.new'), canWrite: ctx.can('points:write'), before: calendar,
    load: pageArray(all.data || []),
    onSaved: () => specials(body, ctx),
    columns: [
      { label: t('specials.title'), value: (s) => pick(s.title) || pick(s.reward_name) },
      { label: t('points.reward'), value: (s) => pick(s.reward_name) },
      { label: t('specials.points'), value: (s) => [fmtNum(s.points), ' ', el('s', { class: 'muted' }, fmtNum(s.regular_points))], cls: 'num' },
      { label: t('common.window'), value: (s) => `${when(s.starts_at)} → ${when(s.ends_at)}` },
      { label: t('specials.remaining'), value: (s) => (s.quantity === null ? '∞' : `${fmtNum(s.remaining)} / ${fmtNum(s.quantity)}`), cls: 'num' },
      { label: t('common.status'), value: (s) => statusBadge(s.status) },
    ],
    fields: (row) => (row ? fieldsEdit() : fields()),
    create: (b, key) => api('POST', '/v1/specials', b, { key }),
    update: (s, b) => api('PATCH', `/v1/specials/${s.id}`, b),
  });
}

// ---- auctions ----

async function auctions(body, ctx) {
  const status = ctx.query.get('status') || '';
  const rewards = ctx.can('points:write') ? await rewardOptions() : [];
  const filter = el('div', { class: 'filters' }, t('common.status'), ' ',
    [['', t('common.all')], ...['scheduled', 'open', 'closing', 'closed'].map((k) => [k, t(`status.${k}`)])].map(([k, l]) =>
      el('a', { href: `#/points/auctions${k ? '?status=' + k : ''}`, class: k === status ? 'active' : '' }, l)));
  resource(body, ctx, {
    title: t('points.tab.auctions'), newLabel: t('auctions.new'), canWrite: ctx.can('points:write'), before: filter,
    load: (cursor) => api('GET', `/v1/auctions${qs({ status, cursor, limit: 20 })}`),
    columns: [
      { label: t('auctions.title'), value: (a) => link(`#/points/auctions/${a.id}`, pick(a.title) || a.id) },
      { label: t('common.window'), value: (a) => `${when(a.starts_at)} → ${when(a.ends_at)}` },
      { label: t('auctions.current'), value: (a) => (a.current_bid === null ? '—' : fmtNum(a.current_bid)), cls: 'num' },
      { label: t('auctions.leader'), value: (a) => a.leader || '—' },
      { label: t('auctions.bids'), value: (a) => fmtNum(a.bids), cls: 'num' },
      { label: t('common.status'), value: (a) => statusBadge(a.status) },
    ],
    fields: (row) => [
      { name: 'reward_id', label: t('points.reward'), type: 'select', required: true, options: [['', '—'], ...rewards] },
      ...i18nPair('title', t('auctions.title')),
      { name: 'starts_at', label: t('common.startsAt'), type: 'datetime', required: true },
      { name: 'ends_at', label: t('common.endsAt'), type: 'datetime', required: true, validate: (v, b) => (v && b.starts_at && v <= b.starts_at ? t('form.endAfterStart') : '') },
      { name: 'starting_bid', label: t('auctions.startingBid'), type: 'number', min: 1, required: true },
      { name: 'increment', label: t('auctions.increment'), type: 'number', min: 1, default: 1 },
      { name: 'reserve', label: t('auctions.reserve'), type: 'number', min: 1, nullable: true },
      { name: 'anti_sniping.window_s', label: t('auctions.antiSniping'), type: 'number', min: 0, max: 86400, help: t('auctions.antiSnipingHelp') },
      { name: 'anti_sniping.max_extension_s', label: t('auctions.maxExtension'), type: 'number', min: 0, max: 604800 },
      { name: 'tier_required', label: t('auctions.tierRequired'), type: 'checkbox' },
    ],
    create: (b, key) => api('POST', '/v1/auctions', b, { key }),
    update: (a, b) => api('PATCH', `/v1/auctions/${a.id}`, b),
  });
}

// One auction with its bids, refreshed every few seconds while open.
async function auctionDetail(body, ctx, id) {
  const head = el('div', {});
  const bids = el('div', {});
  const live = el('span', { class: 'live', 'data-live': 'on' }, t('auctions.live'));
  async function refresh() {
    const [a, b] = await Promise.all([api('GET', `/v1/auctions/${id}`), api('GET', `/v1/auctions/${id}/bids?limit=50`)]);
    const left = Math.max(0, Date.parse(a.ends_at) - Date.now());
    clear(head, el('div', { class: 'kpis' },
      kpi('current_bid', t('auctions.current'), a.current_bid, a.current_bid === null ? '—' : fmtNum(a.current_bid)),
      kpi('min_next', t('auctions.minNext'), a.min_next_bid, fmtNum(a.min_next_bid)),
      kpi('bids', t('auctions.bids'), a.bids, fmtNum(a.bids)),
      kpi('leader', t('auctions.leader'), a.leader || '', a.leader || '—'),
      kpi('ends', t('auctions.endsIn'), left, a.status === 'open' ? duration(left) : statusBadge(a.status))),
    el('p', { class: 'muted' }, `${when(a.starts_at)} → ${when(a.ends_at)}`,
      a.ends_at !== a.scheduled_end ? ` (${t('auctions.extended')})` : '',
      a.reserve ? ` · ${t('auctions.reserve')} ${fmtNum(a.reserve)} ${a.reserve_met ? '✓' : '✗'}` : '',
      a.outcome ? ` · ${a.outcome}` : ''));
    clear(bids, table([
      { label: '#', value: (x) => fmtNum(x.seq), cls: 'num' },
      { label: t('auctions.bidder'), value: (x) => x.bidder },
      { label: t('auctions.amount'), value: (x) => fmtNum(x.amount), cls: 'num' },
      { label: t('common.status'), value: (x) => statusBadge(x.status) },
      { label: t('customers.at'), value: (x) => when(x.created_at) },
    ], b.data || [], { empty: t('auctions.noBids') }));
    if (a.status === 'closed') { live.dataset.live = 'off'; live.textContent = t('status.closed'); return false; }
    return true;
  }
  const a0 = await api('GET', `/v1/auctions/${id}`);
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, pick(a0.title) || id), live, link('#/points/auctions', t('common.back'))),
    card(null, head), card(t('auctions.bidHistory'), bids));
  if (await refresh()) poll(refresh, 3000);
}

function duration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d}${t('time.d')} ${h}${t('time.h')}` : `${h}${t('time.h')} ${m}${t('time.m')}`;
}

// ---- group buys ----

async function groupbuys(body, ctx) {
  const rewards = ctx.can('points:write') ? await rewardOptions() : [];
  resource(body, ctx, {
    title: t('points.tab.groupbuys'), newLabel: t('groupbuys.new'), canWrite: ctx.can('points:write'),
    load: (cursor) => api('GET', `/v1/groupbuys${qs({ cursor, limit: 20 })}`),
    columns: [
      { label: t('groupbuys.title'), value: (g) => link(`#/points/groupbuys/${g.id}`, pick(g.title) || g.id) },
      { label: t('groupbuys.size'), value: (g) => fmtNum(g.group_size), cls: 'num' },
      { label: t('groupbuys.price'), value: (g) => fmtNum(g.price), cls: 'num' },
      { label: t('groupbuys.stock'), value: (g) => `${fmtNum(g.sold)} / ${fmtNum(g.stock)}`, cls: 'num' },
      { label: t('groupbuys.groups'), value: (g) => `${fmtNum(g.groups.open)} · ${fmtNum(g.groups.completed)} · ${fmtNum(g.groups.expired)}` },
      { label: t('common.active'), value: (g) => yesNo(g.active) },
    ],
    fields: (row) => (row ? [
      ...i18nPair('title', t('groupbuys.title')),
      { name: 'stock', label: t('groupbuys.stock'), type: 'number', min: 1 },
      { name: 'ends_at', label: t('common.endsAt'), type: 'datetime', nullable: true },
      { name: 'active', label: t('common.active'), type: 'checkbox' },
    ] : [
      { name: 'reward_id', label: t('points.reward'), type: 'select', required: true, options: [['', '—'], ...rewards] },
      ...i18nPair('title', t('groupbuys.title')),
      { name: 'group_size', label: t('groupbuys.size'), type: 'number', min: 2, max: 100, required: true },
      { name: 'price', label: t('groupbuys.price'), type: 'number', min: 1, required: true },
      { name: 'stock', label: t('groupbuys.stock'), type: 'number', min: 1, required: true },
      { name: 'fill_s', label: t('groupbuys.fill'), type: 'number', min: 60, max: 2592000, help: t('groupbuys.fillHelp') },
      { name: 'starts_at', label: t('common.startsAt'), type: 'datetime', nullable: true },
      { name: 'ends_at', label: t('common.endsAt'), type: 'datetime', nullable: true },
      { name: 'active', label: t('common.active'), type: 'checkbox', default: true },
    ]),
    create: (b, key) => api('POST', '/v1/groupbuys', b, { key }),
    update: (g, b) => api('PATCH', `/v1/groupbuys/${g.id}`, b),
  });
}

async function groupbuyDetail(body, ctx, id) {
  const g = await api('GET', `/v1/groupbuys/${id}`);
  const status = ctx.query.get('status') || '';
  const filter = el('div', { class: 'filters' }, [['', t('common.all')], ...['open', 'completed', 'expired'].map((k) => [k, t(`status.${k}`)])].map(([k, l]) =>
    el('a', { href: `#/points/groupbuys/${id}${k ? '?status=' + k : ''}`, class: k === status ? 'active' : '' }, l)));
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, pick(g.title) || id), link('#/points/groupbuys', t('common.back'))),
    el('div', { class: 'kpis' },
      kpi('size', t('groupbuys.size'), g.group_size, fmtNum(g.group_size)),
      kpi('price', t('groupbuys.price'), g.price, fmtNum(g.price)),
      kpi('sold', t('groupbuys.sold'), g.sold, `${fmtNum(g.sold)} / ${fmtNum(g.stock)}`),
      kpi('open', t('status.open'), g.groups.open, fmtNum(g.groups.open)),
      kpi('completed', t('status.completed'), g.groups.completed, fmtNum(g.groups.completed))),
    card(t('groupbuys.groups'), filter, pagedTable([
      { label: t('groupbuys.code'), value: (x) => el('code', {}, x.code) },
      { label: t('groupbuys.initiator'), value: (x) => x.initiator || '—' },
      { label: t('groupbuys.progress'), value: (x) => el('span', {}, el('progress', { max: String(x.group_size), value: String(x.joined) }), ` ${x.joined}/${x.group_size}`) },
      { label: t('groupbuys.expires'), value: (x) => when(x.expires_at) },
      { label: t('common.status'), value: (x) => statusBadge(x.status) },
    ], (cursor) => api('GET', `/v1/groupbuys/${id}/groups${qs({ status, cursor, limit: 20 })}`))));
}

// ---- trials ----

async function trials(body, ctx) {
  const rewards = ctx.can('points:write') ? await rewardOptions() : [];
  resource(body, ctx, {
    title: t('points.tab.trials'), newLabel: t('trials.new'), canWrite: ctx.can('points:write'),
    load: (cursor) => api('GET', `/v1/trials${qs({ cursor, limit: 20 })}`),
    columns: [
      { label: t('trials.title'), value: (x) => link(`#/points/trials/${x.id}`, pick(x.title) || x.id) },
      { label: t('trials.units'), value: (x) => fmtNum(x.units), cls: 'num' },
      { label: t('trials.window'), value: (x) => `${when(x.apply_starts_at)} → ${when(x.apply_ends_at)}` },
      { label: t('trials.selection'), value: (x) => t(`trials.${x.selection}`) },
      { label: t('trials.applicants'), value: (x) => fmtNum(x.applicants), cls: 'num' },
      { label: t('trials.winners'), value: (x) => fmtNum(x.winners), cls: 'num' },
      { label: t('common.status'), value: (x) => statusBadge(x.status) },
    ],
    fields: () => [
      { name: 'reward_id', label: t('points.reward'), type: 'select', required: true, options: [['', '—'], ...rewards] },
      ...i18nPair('title', t('trials.title')),
      { name: 'units', label: t('trials.units'), type: 'number', min: 1, max: 100000, required: true },
      { name: 'price', label: t('trials.price'), type: 'number', min: 0, help: t('trials.priceHelp') },
      { name: 'bonus', label: t('trials.bonus'), type: 'number', min: 0, help: t('trials.bonusHelp') },
      { name: 'apply_starts_at', label: t('trials.applyStarts'), type: 'datetime', required: true },
      { name: 'apply_ends_at', label: t('trials.applyEnds'), type: 'datetime', required: true, validate: (v, b) => (v && b.apply_starts_at && v <= b.apply_starts_at ? t('form.endAfterStart') : '') },
      { name: 'selection', label: t('trials.selection'), type: 'select', required: true, options: ['lottery', 'engagement', 'first_come'].map((k) => [k, t(`trials.${k}`)]) },
      { name: 'review_days', label: t('trials.reviewDays'), type: 'number', min: 1, max: 365, required: true, default: 14 },
      { name: 'eligibility', label: t('specials.eligibility'), type: 'expr', placeholder: 'customer.orders >= 1 and count(page.view, 30d) > 0' },
      { name: 'tier_required', label: t('trials.tierRequired'), type: 'checkbox' },
    ],
    create: (b, key) => api('POST', '/v1/trials', b, { key }),
  });
}

async function trialDetail(body, ctx, id) {
  const x = await api('GET', `/v1/trials/${id}`);
  const status = ctx.query.get('status') || '';
  const drawBox = el('div', {});
  const filter = el('div', { class: 'filters' }, [['', t('common.all')], ...['applied', 'won', 'lost', 'reviewed', 'forfeited'].map((k) => [k, t(`status.${k}`)])].map(([k, l]) =>
    el('a', { href: `#/points/trials/${id}${k ? '?status=' + k : ''}`, class: k === status ? 'active' : '' }, l)));
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, pick(x.title) || id), statusBadge(x.status), link('#/points/trials', t('common.back'))),
    el('div', { class: 'kpis' },
      kpi('units', t('trials.units'), x.units, fmtNum(x.units)),
      kpi('applicants', t('trials.applicants'), x.applicants, fmtNum(x.applicants)),
      kpi('winners', t('trials.winners'), x.winners, fmtNum(x.winners)),
      kpi('selection', t('trials.selection'), x.selection, t(`trials.${x.selection}`))),
    el('p', { class: 'muted' }, `${t('trials.window')}: ${when(x.apply_starts_at)} → ${when(x.apply_ends_at)}`, x.eligibility ? [' · ', el('code', {}, x.eligibility)] : ''),
    card(t('trials.draw'), drawBox),
    el('div', { class: 'grid2' },
      card(t('trials.applications'), filter, pagedTable([
        { label: t('analytics.customer'), value: (a) => link(`#/customers/${a.customer_id}`, a.customer_id) },
        { label: t('trials.appliedAt'), value: (a) => when(a.applied_at) },
        { label: t('trials.score'), value: (a) => (a.score === null || a.score === undefined ? '—' : fmtNum(a.score)), cls: 'num' },
        { label: t('trials.rank'), value: (a) => (a.rank === null || a.rank === undefined ? '—' : fmtNum(a.rank)), cls: 'num' },
        { label: t('common.status'), value: (a) => statusBadge(a.status) },
        { label: t('trials.reviewDue'), value: (a) => when(a.review_due_at) },
      ], (cursor) => api('GET', `/v1/trials/${id}/applications${qs({ status, cursor, limit: 20 })}`))),
      card(t('trials.reviews'), pagedTable([
        { label: t('trials.reviewer'), value: (r) => r.reviewer },
        { label: t('trials.rating'), value: (r) => '★'.repeat(r.rating) + '☆'.repeat(5 - r.rating) },
        { label: t('trials.text'), value: (r) => r.text },
        { label: t('customers.at'), value: (r) => when(r.created_at) },
      ], (cursor) => api('GET', `/v1/trials/${id}/reviews${qs({ cursor, limit: 20 })}`)))));
  try {
    const d = await api('GET', `/v1/trials/${id}/draw`);
    clear(drawBox, el('dl', { class: 'facts' },
      el('dt', {}, t('trials.seed')), el('dd', {}, el('code', {}, String(d.seed))),
      el('dt', {}, t('trials.algorithm')), el('dd', {}, d.algorithm),
      el('dt', {}, t('trials.closedAt')), el('dd', {}, when(d.closed_at)),
      el('dt', {}, t('trials.applicants')), el('dd', {}, fmtNum((d.applicants || []).length)),
      el('dt', {}, t('trials.winners')), el('dd', {}, (d.winners || []).map((w) => link(`#/customers/${w.customer_id || w}`, String(w.customer_id || w))).flatMap((a, i) => (i ? [' ', a] : [a])))));
  } catch (e) {
    clear(drawBox, stateBox('pending', e.status === 409 ? t('trials.notDrawn').replace('{at}', when(x.apply_ends_at)) : e.message));
  }
}

// ---- instalments (积分分期) ----
// Plans are started by members (or the API); here the programme's exposure:
// what is outstanding, overdue and delinquent. Each member's plans, with
// payoff and cancel, are on their 360° view.

async function instalments(body, ctx) {
  const r = await api('GET', '/v1/reports/instalments');
  const st = Object.entries(r.by_status || {});
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('points.tab.instalments')), el('span', { class: 'muted' }, when(r.at))),
    el('div', { class: 'kpis' },
      kpi('inst_outstanding', t('inst.outstanding'), r.outstanding, fmtNum(r.outstanding), t('inst.plans').replace('{n}', fmtNum(r.outstanding_plans))),
      kpi('inst_held', t('inst.held'), r.held, fmtNum(r.held), t('inst.unheld').replace('{n}', fmtNum(r.unheld))),
      kpi('inst_overdue', t('inst.overdue'), r.overdue.points, fmtNum(r.overdue.points), t('inst.plans').replace('{n}', fmtNum(r.overdue.plans))),
      kpi('inst_delinquent', t('inst.delinquentMembers'), r.delinquent_members, fmtNum(r.delinquent_members)),
      kpi('inst_refunded', t('inst.refunded'), r.refunded, fmtNum(r.refunded))),
    el('div', { class: 'grid2' },
      card(t('inst.byStatus'), table([
        { label: t('common.status'), value: ([k]) => statusBadge(k) },
        { label: t('inst.planCount'), value: ([, v]) => fmtNum(v.plans), cls: 'num' },
        { label: t('inst.total'), value: ([, v]) => fmtNum(v.total), cls: 'num' },
        { label: t('inst.paid'), value: ([, v]) => fmtNum(v.paid), cls: 'num' },
        { label: t('inst.outstanding'), value: ([, v]) => fmtNum(v.outstanding), cls: 'num' },
      ], st)),
      card(t('inst.delinquent'), table([
        { label: t('analytics.customer'), value: (x) => link(`#/customers/${x.customer_id}?tab=instalments`, x.customer_id) },
        { label: t('inst.outstanding'), value: (x) => fmtNum(x.outstanding), cls: 'num' },
        { label: t('inst.since'), value: (x) => when(x.delinquent_at) },
        { label: t('customers.reason'), value: (x) => x.reason || '' },
      ], r.delinquent || [], { empty: t('inst.noneDelinquent') }))));
}

// ---- credit and overdraft ----

async function credit(body, ctx) {
  const [s, rep] = await Promise.all([api('GET', '/v1/credit/settings'), api('GET', '/v1/reports/credit?limit=1')]);
  const canWrite = ctx.can('points:write');
  const out = el('div', {});
  const settings = form([
    { name: 'credit_formula', label: t('credit.formula'), type: 'expr', nullable: true, rows: 2,
      placeholder: 'min(customer.revenue / 100, 2000)', help: t('credit.formulaHelp') },
    { name: 'overdue_days', label: t('credit.overdueDays'), type: 'number', min: 1, max: 3650, required: true },
  ], { values: s, readonly: !canWrite, onSubmit: async (b) => { await api('PATCH', '/v1/credit/settings', b); toast(t('common.saved')); } });
  const recompute = canWrite ? el('button', { type: 'button', class: 'recompute', onclick: async () => {
    recompute.disabled = true;
    const p = progressBar(t('credit.recomputing'));
    p.set(null);
    clear(out, p.el);
    try {
      const r = await api('POST', '/v1/credit/recompute', {});
      p.done(t('credit.recomputed').replace('{a}', fmtNum(r.examined)).replace('{b}', fmtNum(r.changed)));
      if ((r.errors || []).length) out.append(el('p', { class: 'error' }, r.errors.map((e) => `${e.customer_id}: ${e.detail}`).join('; ')));
      list.reload();
    } catch (e) { p.done(e.message); } finally { recompute.disabled = false; }
  } }, t('credit.recompute')) : null;
  const list = pagedTable([
    { label: t('analytics.customer'), value: (x) => link(`#/customers/${x.customer_id}`, x.customer_id) },
    { label: t('credit.debt'), value: (x) => fmtNum(x.debt), cls: 'num' },
    { label: t('credit.limit'), value: (x) => fmtNum(x.credit_limit), cls: 'num' },
    { label: t('credit.daysNegative'), value: (x) => fmtNum(x.days_negative), cls: 'num' },
    { label: t('common.status'), value: (x) => [x.overdue ? badge(t('credit.overdue'), 'bad') : null, x.frozen ? badge(t('credit.frozen'), 'bad') : null] },
  ], (cursor) => api('GET', `/v1/reports/credit${qs({ cursor, limit: 20 })}`), { empty: t('credit.noDebt') });
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('points.tab.credit')), el('span', { class: 'muted' }, when(rep.at))),
    el('div', { class: 'kpis' },
      kpi('credit_members', t('credit.membersInDebt'), rep.members_in_debt, fmtNum(rep.members_in_debt)),
      kpi('credit_outstanding', t('credit.outstanding'), rep.outstanding, fmtNum(rep.outstanding)),
      kpi('credit_overdue', t('credit.overdue'), rep.overdue.points, fmtNum(rep.overdue.points), t('credit.members').replace('{n}', fmtNum(rep.overdue.members))),
      kpi('credit_frozen', t('credit.frozen'), rep.frozen, fmtNum(rep.frozen)),
      kpi('credit_extended', t('credit.extended'), rep.credit_extended, fmtNum(rep.credit_extended))),
    el('div', { class: 'grid2' },
      card(t('credit.settings'), settings, el('p', { class: 'muted' }, t('credit.recomputeNote')), recompute, out),
      card(t('credit.inDebt'), list)));
}

// ---- coupons ----

async function coupons(body, ctx) {
  const rep = await api('GET', '/v1/coupons/report').catch(() => null);
  const reportBox = rep ? card(t('coupons.report'),
    el('div', { class: 'kpis small' },
      ['issued', 'claimed', 'bought', 'redeemed'].map((k) => kpi(`coupons_${k}`, t(`coupons.${k}`), rep.totals[k], fmtNum(rep.totals[k]))),
      kpi('coupons_discount', t('coupons.discountGiven'), rep.totals.discount, fmtMoney(rep.totals.discount))),
    (rep.days || []).length ? chart({
      color: palette, tooltip: { trigger: 'axis' },
      legend: { data: ['issued', 'claimed', 'redeemed'].map((k) => t(`coupons.${k}`)) },
      grid: { left: 50, right: 20, top: 30, bottom: 30 },
      xAxis: { type: 'category', data: rep.days.map((d) => d.date) }, yAxis: { type: 'value' },
      series: ['issued', 'claimed', 'redeemed'].map((k) => ({ name: t(`coupons.${k}`), type: 'bar', data: rep.days.map((d) => d[k] || 0) })),
    }, { name: 'coupons', height: 220 }) : null) : null;
  resource(body, ctx, {
    title: t('points.tab.coupons'), newLabel: t('coupons.new'), canWrite: ctx.can('points:write'), before: reportBox,
    load: whole('/v1/coupons/templates'),
    columns: [
      { label: t('coupons.name'), value: (c) => link(`#/points/coupons/${c.id}`, pick(c.name)) },
      { label: t('coupons.discount'), value: (c) => discountText(c.discount) },
      { label: t('coupons.minSpend'), value: (c) => fmtMoney(c.min_spend), cls: 'num' },
      { label: t('coupons.validity'), value: (c) => (c.validity.days ? t('coupons.days').replace('{n}', c.validity.days) : `${when(c.validity.from)} → ${when(c.validity.to)}`) },
      { label: t('coupons.given'), value: (c) => `${fmtNum(c.given)} / ${c.quantity === null ? '∞' : fmtNum(c.quantity)}`, cls: 'num' },
      { label: t('coupons.redeemed'), value: (c) => fmtNum(c.redeemed), cls: 'num' },
      { label: t('common.active'), value: (c) => yesNo(c.active) },
    ],
    fields: () => [
      ...i18nPair('name', t('coupons.name'), true),
      { name: 'discount.type', label: t('coupons.discountType'), type: 'select', options: [['amount', t('coupons.amountOff')], ['percent', t('coupons.percentOff')]] },
      { name: 'discount.amount', label: t('coupons.amount'), type: 'money', validate: (v, b) => (b.discount && b.discount.type === 'amount' && !v ? t('form.required') : '') },
      { name: 'discount.percent', label: t('coupons.percent'), type: 'number', min: 1, max: 100, validate: (v, b) => (b.discount && b.discount.type === 'percent' && !v ? t('form.required') : '') },
      { name: 'discount.max', label: t('coupons.max'), type: 'money', nullable: true },
      { name: 'min_spend', label: t('coupons.minSpend'), type: 'money' },
      { name: 'validity.days', label: t('coupons.validDays'), type: 'number', min: 1, max: 3650, help: t('coupons.validHelp') },
      { name: 'validity.from', label: t('coupons.validFrom'), type: 'datetime' },
      { name: 'validity.to', label: t('coupons.validTo'), type: 'datetime' },
      { name: 'quantity', label: t('coupons.quantity'), type: 'number', min: 1, nullable: true },
      { name: 'per_customer', label: t('coupons.perCustomer'), type: 'number', min: 1, nullable: true },
      { name: 'segment', label: t('coupons.segment'), type: 'expr', emptyString: true, placeholder: 'customer.orders >= 1' },
      { name: 'active', label: t('common.active'), type: 'checkbox', default: true },
    ],
    create: (b, key) => api('POST', '/v1/coupons/templates', cleanDiscount(b), { key }),
    update: (c, b) => api('PATCH', `/v1/coupons/templates/${c.id}`, cleanDiscount(b)),
  });
}

function cleanDiscount(b) {
  if (b.discount) {
    if (b.discount.type === 'amount') { delete b.discount.percent; delete b.discount.max; } else delete b.discount.amount;
  }
  if (b.validity && !b.validity.days && !b.validity.from && !b.validity.to) delete b.validity;
  return b;
}

function discountText(d) {
  if (!d) return '';
  if (d.type === 'amount') return t('coupons.off').replace('{x}', fmtMoney(d.amount));
  return t('coupons.pctOff').replace('{x}', String(d.percent)) + (d.max ? ` (≤ ${fmtMoney(d.max)})` : '');
}

async function couponDetail(body, ctx, id) {
  const c = await api('GET', `/v1/coupons/templates/${id}`);
  const out = el('div', {});
  const issue = ctx.can('points:write') ? form([
    { name: 'count', label: t('coupons.issueCount'), type: 'number', min: 1, max: 10000, help: t('coupons.issueHelp') },
    { name: 'customer_ids', label: t('coupons.issueTo'), type: 'list', help: t('coupons.issueToHelp') },
  ], { submitLabel: t('coupons.issue'), onSubmit: async (b) => {
    if (!b.count && !(b.customer_ids || []).length) { issue.setError('count', t('coupons.issueNeed')); return; }
    const p = progressBar(t('coupons.issuing'));
    p.set(null);
    clear(out, p.el);
    const r = await api('POST', `/v1/coupons/templates/${id}/issue`, b, { key: newKey() }).catch((e) => { clear(out); throw e; });
    p.done(t('coupons.issuedN').replace('{n}', fmtNum(r.issued)));
    out.append(el('textarea', { class: 'mono codes', rows: 6, readonly: true }, (r.coupons || []).map((x) => x.code).join('\n')));
  } }) : null;
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, pick(c.name)), link('#/points/coupons', t('common.back'))),
    el('div', { class: 'kpis' },
      kpi('given', t('coupons.given'), c.given, fmtNum(c.given)),
      kpi('remaining', t('coupons.remaining'), c.remaining, c.remaining === null ? '∞' : fmtNum(c.remaining)),
      kpi('redeemed', t('coupons.redeemed'), c.redeemed, fmtNum(c.redeemed)),
      kpi('discount', t('coupons.discount'), '', discountText(c.discount))),
    issue ? card(t('coupons.issue'), issue, out) : null);
}

// ---- the points report ----

async function report(body, ctx) {
  const from = ctx.query.get('from') || '';
  const to = ctx.query.get('to') || '';
  const r = await api('GET', `/v1/reports/points${qs({ from, to })}`);
  const f = form([
    { name: 'from', label: t('report.from'), type: 'date', value: r.from },
    { name: 'to', label: t('report.to'), type: 'date', value: r.to, validate: (v, b) => (v && b.from && v <= b.from ? t('form.endAfterStart') : '') },
  ], { submitLabel: t('analytics.apply'), cls: 'inline', onSubmit: async (b) => { ctx.go(`#/points/report${qs({ from: (b.from || '').slice(0, 10), to: (b.to || '').slice(0, 10) })}`); } });
  const mods = Object.entries(r.redeemed.by_module || {});
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('points.tab.report')), el('span', { class: 'muted' }, `${when(r.from)} → ${when(r.to)}`)),
    card(null, f),
    el('div', { class: 'kpis' },
      kpi('issued', t('report.issued'), r.issued, fmtNum(r.issued)),
      kpi('reversed', t('report.reversed'), r.reversed, fmtNum(r.reversed)),
      kpi('redeemed', t('report.redeemed'), r.redeemed.points, fmtNum(r.redeemed.points)),
      kpi('expired', t('report.expired'), r.expired, fmtNum(r.expired)),
      kpi('liability', t('overview.outstanding'), r.outstanding_liability.points, fmtNum(r.outstanding_liability.points)),
      kpi('breakage', t('report.breakage'), r.breakage_rate ?? '', r.breakage_rate === null ? '—' : fmtPct(r.breakage_rate)),
      kpi('productivity', t('overview.productivity'), r.productivity.percent ?? '', r.productivity.percent === null ? '—' : fmtPct(r.productivity.percent / 100),
        t('overview.productivityHint').replace('{a}', fmtNum(r.productivity.redeemers)).replace('{b}', fmtNum(r.productivity.followers)))),
    el('div', { class: 'grid2' },
      card(t('report.byModule'), table([
        { label: t('report.module'), value: ([k]) => (t(`source.${k}`) === `source.${k}` ? k : t(`source.${k}`)) },
        { label: t('points.points'), value: ([, v]) => fmtNum(v.points), cls: 'num' },
        { label: t('report.orders'), value: ([, v]) => fmtNum(v.orders), cls: 'num' },
      ], mods)),
      card(t('report.flow'), chart({
        color: palette,
        tooltip: { trigger: 'item' },
        series: [{ type: 'pie', radius: ['40%', '70%'], label: { formatter: '{b}: {c}' },
          data: [
            { name: t('report.redeemed'), value: r.redeemed.points },
            { name: t('report.expired'), value: r.expired },
            { name: t('report.reversed'), value: r.reversed },
            { name: t('overview.outstanding'), value: r.outstanding_liability.points },
          ] }],
      }, { name: 'report', height: 260 }))));
}

// ---- programme settings ----

async function program(body, ctx) {
  const p = await api('GET', '/v1/program');
  const canWrite = ctx.can('points:write');
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('points.tab.program'))),
    card(null, form([
      { name: 'expiry.policy', label: t('program.policy'), type: 'select', options: ['none', 'days', 'end_of_month'].map((k) => [k, t(`program.${k}`)]) },
      { name: 'expiry.days', label: t('program.days'), type: 'number', min: 1 },
      { name: 'expiry.months', label: t('program.months'), type: 'number', min: 1 },
      { name: 'tier_window_months', label: t('program.tierWindow'), type: 'number', min: 1 },
      { name: 'default_credit_limit', label: t('program.credit'), type: 'number', min: 0 },
      { name: 'currency.zh', label: `${t('program.currency')} · ${t('common.inZh')}` },
      { name: 'currency.en', label: `${t('program.currency')} · ${t('common.inEn')}` },
    ], { values: p, readonly: !canWrite, onSubmit: async (b) => { await api('PATCH', '/v1/program', b); toast(t('common.saved')); } })));
}

