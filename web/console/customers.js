// customers.js - search (name, phone, e-mail, tag), the 360° view of one
// customer (identities, attributes, consent, specs, tier, points with lots and
// expiry, RFM / CLV / P(alive) / ladder stage, timeline, orders,
// recommendations), merging the duplicates list, export and erase.
// Agents get phone numbers masked; "show number" asks again with ?reveal=1,
// which the server records in the audit log.
import { api, qs, newKey } from './api.js';
import { t, fmtNum, fmtMoney, fmtPct, fmtDec } from './i18n.js';
import { el, clear, card, badge, table, pagedTable, stateBox, errorBox, form, modal, confirmDialog, toast,
  when, link, download, pick, tabs, progressBar } from './ui.js';
import { analyticsGet } from './analytics.js';

// ---- search ----

export async function list(main, ctx) {
  const q = ctx.query;
  const search = form([
    { name: 'q', label: t('customers.q'), placeholder: t('customers.qHint'), value: q.get('q') || '' },
    { name: 'phone', label: t('customers.phone'), value: q.get('phone') || '', pattern: '^[+0-9 ()-]{3,20}$', patternHint: t('customers.phoneHint') },
    { name: 'email', label: t('customers.email'), value: q.get('email') || '' },
    { name: 'tag', label: t('customers.tag'), value: q.get('tag') || '' },
  ], { submitLabel: t('customers.search'), cls: 'inline search', onSubmit: async (b) => { ctx.go(`#/customers${qs(b)}`); } });
  const params = { q: q.get('q'), phone: q.get('phone'), email: q.get('email'), tag: q.get('tag') };
  const results = pagedTable([
    { label: t('customers.name'), value: (c) => link(`#/customers/${c.id}`, c.name || t('customers.noName')) },
    { label: t('customers.phone'), value: (c) => el('span', { class: 'phone' }, c.phone || '—') },
    { label: t('customers.email'), value: (c) => c.email || '—' },
    { label: t('customers.city'), value: (c) => c.city || '—' },
    { label: t('customers.tags'), value: (c) => (c.tags || []).map((x) => badge(x)) },
    { label: t('customers.orders'), value: (c) => fmtNum(c.stats.orders), cls: 'num' },
    { label: t('customers.revenue'), value: (c) => fmtMoney(c.stats.revenue), cls: 'num' },
    { label: t('customers.lastSeen'), value: (c) => when(c.stats.last_seen) },
  ], (cursor) => api('GET', `/v1/customers${qs({ ...params, cursor, limit: 20 })}`),
  { rowAttrs: (c) => ({ 'data-id': c.id }), empty: t('customers.none') });
  const head = el('div', { class: 'page-head' }, el('h1', {}, t('nav.customers')),
    el('div', { class: 'head-actions' },
      link('#/customers/duplicates', t('customers.duplicates')),
      ctx.can('customers:write') ? el('button', { type: 'button', class: 'new-customer', onclick: () => createCustomer(ctx) }, t('customers.new')) : null));
  clear(main, head, card(null, search), card(null, results));
}

function createCustomer(ctx) {
  const key = newKey();
  const f = form([
    { name: 'name', label: t('customers.name'), maxLength: 100 },
    { name: 'phone', label: t('customers.phone'), pattern: '^[+0-9 ()-]{3,20}$', patternHint: t('customers.phoneHint') },
    { name: 'email', label: t('customers.email'), type: 'email' },
    { name: 'city', label: t('customers.city') },
    { name: 'tags', label: t('customers.tags'), type: 'list', help: t('form.listHelp') },
  ], { submitLabel: t('common.create'), onSubmit: async (b) => {
    if (!b.phone && !b.email) { f.setError('phone', t('customers.needIdentity')); return; }
    const c = await api('POST', '/v1/customers', b, { key });
    m.close();
    ctx.go(`#/customers/${c.id}`);
  } });
  const m = modal(t('customers.new'), f);
}

// ---- the 360° view ----

export async function view(main, ctx) {
  const id = ctx.params.id;
  const reveal = ctx.query.get('reveal') === '1';
  const r = await api('GET', `/v1/customers/${id}${reveal ? '?reveal=1' : ''}`, undefined, { status: true });
  const c = r.data;
  if (c.id !== id) {
    // merged: the server answered 301 and the browser followed it
    history.replaceState(null, '', `#/customers/${c.id}`);
  }
  const masked = ctx.me.role === 'agent' && !reveal;
  const [pts, tier, recs, cred] = await Promise.all([
    ctx.can('points:read') ? api('GET', `/v1/customers/${c.id}/points`).catch((e) => ({ error: e })) : null,
    ctx.can('points:read') ? api('GET', `/v1/customers/${c.id}/tier`).catch((e) => ({ error: e })) : null,
    ctx.can('analytics:read') ? analyticsGet(`/v1/customers/${c.id}/recommendations`).catch((e) => ({ state: 'error', error: e })) : null,
    ctx.can('points:read') ? api('GET', `/v1/customers/${c.id}/credit`).catch(() => null) : null,
  ]);

  const actions = el('div', { class: 'head-actions' },
    masked ? el('button', { type: 'button', class: 'reveal', onclick: () => ctx.go(`#/customers/${c.id}?reveal=1`) }, t('customers.reveal')) : null,
    ctx.can('customers:write') ? el('button', { type: 'button', class: 'edit', onclick: () => editCustomer(c, ctx) }, t('common.edit')) : null,
    el('button', { type: 'button', class: 'export', onclick: () => exportCustomer(c) }, t('customers.export')),
    ctx.can('customers:write') ? el('button', { type: 'button', class: 'erase danger', onclick: () => eraseCustomer(c, ctx) }, t('customers.erase')) : null);

  const head = el('div', { class: 'page-head' },
    el('div', {},
      el('h1', { class: 'customer-name' }, c.name || t('customers.noName')),
      el('p', { class: 'muted' }, `ID ${c.id}`, c.city ? ` · ${c.city}` : '',
        c.erased_at ? badge(t('customers.erased'), 'bad') : null)),
    actions);

  const ids = el('ul', { class: 'identities' }, (c.identities || []).map((i) =>
    el('li', { 'data-type': i.type }, el('span', { class: 'muted' }, t(`ident.${i.type}`) === `ident.${i.type}` ? i.type : t(`ident.${i.type}`)), ' ',
      el('span', { class: i.type === 'phone' ? 'phone' : '' }, i.value))));
  const attrs = Object.entries(c.attributes || {});
  const consent = Object.entries(c.consent || {});
  const specs = Object.entries(c.specs || {});
  const profile = card(t('customers.profile'),
    el('h3', {}, t('customers.identities')), (c.identities || []).length ? ids : el('p', { class: 'muted' }, '—'),
    el('h3', {}, t('customers.tags')), el('p', {}, (c.tags || []).length ? c.tags.map((x) => badge(x)) : '—'),
    el('h3', {}, t('customers.attributes')),
    attrs.length ? el('dl', { class: 'facts' }, attrs.map(([k, v]) => [el('dt', {}, k), el('dd', {}, typeof v === 'object' ? JSON.stringify(v) : String(v))])) : el('p', { class: 'muted' }, '—'),
    el('h3', {}, t('customers.consent')),
    consent.length ? table([
      { label: t('customers.channel'), value: ([k]) => label('channel', k) },
      { label: t('customers.granted'), value: ([, v]) => badge(v.granted ? t('common.yes') : t('common.no'), v.granted ? 'ok' : 'bad') },
      { label: t('customers.at'), value: ([, v]) => when(v.at) },
      { label: t('customers.source'), value: ([, v]) => v.source || '—' },
    ], consent) : el('p', { class: 'muted' }, '—'),
    el('h3', {}, t('customers.specs')),
    specs.length ? el('dl', { class: 'facts' }, specs.map(([k, v]) => [el('dt', {}, k), el('dd', {}, Object.entries(v).map(([a, b]) => `${a}: ${b}`).join(' · '))])) : el('p', { class: 'muted' }, '—'));

  const s = c.stats || {};
  const activity = card(t('customers.activity'), el('dl', { class: 'facts' },
    el('dt', {}, t('customers.orders')), el('dd', { 'data-stat': 'orders' }, fmtNum(s.orders)),
    el('dt', {}, t('customers.revenue')), el('dd', { 'data-stat': 'revenue' }, fmtMoney(s.revenue)),
    el('dt', {}, t('customers.events')), el('dd', {}, fmtNum(s.events)),
    el('dt', {}, t('customers.firstSeen')), el('dd', {}, when(s.first_seen)),
    el('dt', {}, t('customers.lastSeen')), el('dd', {}, when(s.last_seen)),
    el('dt', {}, t('customers.created')), el('dd', {}, when(c.created_at))));

  const na = el('span', { class: 'muted', 'data-na': '' }, t('analytics.notComputed'));
  const scores = card(t('customers.scores'), el('dl', { class: 'facts scores' },
    el('dt', {}, 'RFM'), el('dd', { 'data-score': 'rfm' }, c.rfm ? [badge(pick(c.rfm.name), 'accent'), ` R${c.rfm.r} F${c.rfm.f} M${c.rfm.m}`] : na.cloneNode(true)),
    el('dt', {}, 'CLV'), el('dd', { 'data-score': 'clv' }, c.clv !== undefined && c.clv !== null ? fmtMoney(Math.round(c.clv)) : na.cloneNode(true)),
    el('dt', {}, t('analytics.pAlive')), el('dd', { 'data-score': 'p_alive' }, c.p_alive !== undefined && c.p_alive !== null ? fmtPct(c.p_alive) : na.cloneNode(true)),
    el('dt', {}, t('analytics.expected')), el('dd', {}, c.expected_purchases !== undefined && c.expected_purchases !== null ? fmtDec(c.expected_purchases, 1) : '—'),
    el('dt', {}, t('customers.ladder')), el('dd', { 'data-score': 'ladder' }, c.ladder ? badge(pick(c.ladder.name)) : na.cloneNode(true))));

  let tierCard = null;
  if (tier) {
    tierCard = tier.error ? card(t('customers.tier'), errorBox(tier.error)) : card(t('customers.tier'),
      el('p', { class: 'tier-now', 'data-tier': tier.tier ? tier.tier.code || '' : '' },
        tier.tier ? badge(pick(tier.tier.name) || tier.tier.code, 'accent') : el('span', { class: 'muted' }, t('customers.noTier')),
        ' ', t('customers.growth').replace('{n}', fmtNum(tier.window_growth))),
      (tier.history || []).length ? table([
        { label: t('customers.at'), value: (h) => when(h.at || h.changed_at) },
        { label: t('customers.from'), value: (h) => h.from || '—' },
        { label: t('customers.to'), value: (h) => h.to || '—' },
        { label: t('customers.reason'), value: (h) => h.reason || '' },
      ], tier.history) : null);
  }
  let pointsCard = null;
  if (pts) {
    pointsCard = pts.error ? card(t('customers.points'), errorBox(pts.error)) : card(t('customers.points'),
      el('div', { class: 'kpis small' },
        el('div', { class: 'kpi', 'data-kpi': 'balance', 'data-value': String(pts.balance) }, el('span', { class: 'kpi-label' }, t('customers.balance')), el('strong', { class: 'kpi-value' }, fmtNum(pts.balance))),
        el('div', { class: 'kpi' }, el('span', { class: 'kpi-label' }, t('customers.available')), el('strong', { class: 'kpi-value' }, fmtNum(pts.available))),
        el('div', { class: 'kpi' }, el('span', { class: 'kpi-label' }, t('customers.pending')), el('strong', { class: 'kpi-value' }, fmtNum(pts.pending))),
        el('div', { class: 'kpi' }, el('span', { class: 'kpi-label' }, t('customers.expiring')), el('strong', { class: 'kpi-value' }, fmtNum(pts.expiring_30d)))),
      pts.debt ? el('p', { class: 'error' }, t('customers.debt').replace('{n}', fmtNum(pts.debt))) : null,
      table([
        { label: t('customers.lotEarned'), value: (l) => when(l.earned_at) },
        { label: t('customers.lotAmount'), value: (l) => fmtNum(l.amount), cls: 'num' },
        { label: t('customers.lotRemaining'), value: (l) => fmtNum(l.remaining), cls: 'num' },
        { label: t('customers.lotExpires'), value: (l) => (l.expires_at && !l.expires_at.startsWith('9999') && !l.expires_at.startsWith('+') ? when(l.expires_at) : t('customers.never')) },
      ], pts.lots || [], { empty: t('customers.noLots') }));
  }

  let creditCard = null;
  if (cred) {
    creditCard = card(t('credit.title'), el('dl', { class: 'facts' },
      el('dt', {}, t('credit.limit')), el('dd', { 'data-credit': 'limit' }, fmtNum(cred.credit_limit), cred.pinned ? [' ', badge(t('credit.pinned'))] : null),
      el('dt', {}, t('credit.debt')), el('dd', {}, fmtNum(cred.debt), cred.overdue ? [' ', badge(t('credit.overdue'), 'bad')] : null, cred.frozen ? [' ', badge(t('credit.frozen'), 'bad')] : null),
      el('dt', {}, t('inst.outstanding')), el('dd', {}, fmtNum(cred.instalments_outstanding))),
    ctx.can('points:write') ? el('div', { class: 'actions' }, el('button', { type: 'button', class: 'small set-limit', onclick: () => setLimit(c, cred, ctx) }, t('credit.setLimit'))) : null);
  }

  // the lower half: timeline, point movements, orders, instalments, recommendations
  const tab = ['timeline', 'history', 'orders', 'instalments', 'recs'].includes(ctx.query.get('tab')) ? ctx.query.get('tab') : 'timeline';
  const base = `#/customers/${c.id}?${reveal ? 'reveal=1&' : ''}tab=`;
  const lower = el('div', {});
  const tabItems = [['timeline', t('customers.timeline'), base + 'timeline']];
  if (ctx.can('points:read')) {
    tabItems.push(['history', t('customers.pointsHistory'), base + 'history'], ['orders', t('customers.rewardOrders'), base + 'orders'],
      ['instalments', t('points.tab.instalments'), base + 'instalments']);
  }
  const again = () => ctx.go(`${base}${tab}&t=${Date.now()}`);
  if (recs) tabItems.push(['recs', t('customers.recommendations'), base + 'recs']);
  if (tab === 'timeline') {
    lower.append(pagedTable([
      { label: t('customers.at'), value: (e) => when(e.occurred_at) },
      { label: t('customers.eventType'), value: (e) => el('span', { title: e.type }, label('event', e.type)) },
      { label: t('customers.touchpoint'), value: (e) => e.touchpoint || '—' },
      { label: t('customers.details'), value: (e) => describeEvent(e) },
    ], (cursor) => api('GET', `/v1/customers/${c.id}/timeline${qs({ cursor, limit: 20 })}`)));
  } else if (tab === 'history') {
    lower.append(pagedTable([
      { label: t('customers.at'), value: (x) => when(x.created_at) },
      { label: t('customers.code'), value: (x) => el('code', {}, x.code) },
      { label: t('customers.change'), value: (x) => el('span', { class: x.change < 0 ? 'neg' : 'pos' }, (x.change > 0 ? '+' : '') + fmtNum(x.change)), cls: 'num' },
      { label: t('customers.status'), value: (x) => x.status },
      { label: t('customers.reference'), value: (x) => x.reference || '' },
    ], (cursor) => api('GET', `/v1/customers/${c.id}/points/history${qs({ cursor, limit: 20 })}`)));
  } else if (tab === 'orders') {
    lower.append(pagedTable([
      { label: t('customers.at'), value: (o) => when(o.created_at) },
      { label: t('points.reward'), value: (o) => pick(o.reward && o.reward.name) || o.reward_id },
      { label: t('customers.source'), value: (o) => t(`source.${o.source}`) === `source.${o.source}` ? o.source : t(`source.${o.source}`) },
      { label: t('customers.quantity'), value: (o) => fmtNum(o.quantity), cls: 'num' },
      { label: t('points.points'), value: (o) => fmtNum(o.points), cls: 'num' },
      { label: t('customers.status'), value: (o) => badge(t(`order.${o.status}`) === `order.${o.status}` ? o.status : t(`order.${o.status}`)) },
      { label: '', cls: 'row-actions', value: (o) => (ctx.can('points:write') ? orderActions(o, again) : null) },
    ], (cursor) => api('GET', `/v1/customers/${c.id}/orders${qs({ cursor, limit: 20 })}`)));
  } else if (tab === 'instalments') {
    lower.append(pagedTable([
      { label: t('customers.at'), value: (x) => when(x.created_at) },
      { label: t('inst.schedule'), value: (x) => el('details', {}, el('summary', {}, `${x.plan} × ${t(`inst.${x.interval}`)}`),
        table([
          { label: t('inst.n'), value: (s) => fmtNum(s.n), cls: 'num' },
          { label: t('points.points'), value: (s) => fmtNum(s.amount), cls: 'num' },
          { label: t('inst.due'), value: (s) => when(s.due_at) },
          { label: t('customers.status'), value: (s) => badge(t(`status.${s.status}`)) },
        ], x.schedule || [])) },
      { label: t('inst.total'), value: (x) => fmtNum(x.total), cls: 'num' },
      { label: t('inst.paid'), value: (x) => fmtNum(x.paid), cls: 'num' },
      { label: t('inst.outstanding'), value: (x) => fmtNum(x.remaining), cls: 'num' },
      { label: t('inst.due'), value: (x) => (x.next_due ? `${fmtNum(x.next_due.amount)} · ${when(x.next_due.due_at)}` : '—') },
      { label: t('customers.status'), value: (x) => badge(t(`status.${x.status}`), x.status === 'delinquent' ? 'bad' : '') },
      { label: '', cls: 'row-actions', value: (x) => (ctx.can('points:write') && (x.status === 'active' || x.status === 'delinquent') ? [
        el('button', { type: 'button', class: 'small payoff', onclick: async () => {
          if (!(await confirmDialog({ title: t('inst.payoff'), message: t('inst.payoffConfirm').replace('{n}', fmtNum(x.remaining)) }))) return;
          try { await api('POST', `/v1/instalments/${x.id}/payoff`, {}); again(); } catch (e) { toast(e.message, 'bad'); }
        } }, t('inst.payoff')), ' ',
        el('button', { type: 'button', class: 'small danger', onclick: async () => {
          if (!(await confirmDialog({ title: t('inst.cancel'), message: t('inst.cancelConfirm'), danger: true }))) return;
          try { await api('POST', `/v1/instalments/${x.id}/cancel`, {}); again(); } catch (e) { toast(e.message, 'bad'); }
        } }, t('inst.cancel'))] : null) },
    ], (cursor) => api('GET', `/v1/customers/${c.id}/instalments${qs({ cursor, limit: 20 })}`), { empty: t('inst.none') }));
  } else if (tab === 'recs') {
    if (recs.state === 'ok') {
      const rs = recs.data.recommendations || [];
      lower.append(el('p', { class: 'muted' }, t('customers.bought'), ' ', (recs.data.bought || []).join(t('common.sep')) || '—'),
        table([
          { label: t('customers.item'), value: (x) => x.item || x.rhs || JSON.stringify(x) },
          { label: t('analytics.confidence'), value: (x) => (x.confidence !== undefined ? fmtPct(x.confidence) : ''), cls: 'num' },
          { label: t('analytics.lift'), value: (x) => (x.lift !== undefined ? fmtDec(x.lift, 2) : ''), cls: 'num' },
          { label: t('customers.because'), value: (x) => (x.because || x.lhs || []).join(' + ') },
        ], rs, { empty: t('customers.noRecs') }));
    } else if (recs.state === 'pending') {
      lower.append(stateBox('pending', t('analytics.computing')));
    } else {
      lower.append(stateBox('pending', t('analytics.notComputed')));
    }
  }

  clear(main, head,
    masked ? el('p', { class: 'notice' }, t('customers.maskedNote')) : null,
    reveal && ctx.me.role === 'agent' ? el('p', { class: 'notice' }, t('customers.revealedNote')) : null,
    el('div', { class: 'grid-360' },
      el('div', { class: 'col' }, profile),
      el('div', { class: 'col' }, scores, activity),
      el('div', { class: 'col' }, pointsCard, tierCard, creditCard)),
    card(null, tabs(tabItems, tab), lower));
}

// A translated name when the dictionary has one, else the code itself.
function label(prefix, code) {
  const k = `${prefix}.${code}`;
  return t(k) === k ? code : t(k);
}

// Moves a reward order on: ship (carrier, tracking), deliver, cancel.
function orderActions(o, again) {
  const physical = !o.reward || !o.reward.type || o.reward.type === 'physical';
  const act = async (path, body) => {
    try { await api('POST', `/v1/orders/${o.id}/${path}`, body); again(); } catch (e) { toast(e.message, 'bad'); }
  };
  const out = [];
  if (o.status === 'placed' && physical) {
    out.push(el('button', { type: 'button', class: 'small ship', onclick: () => {
      const f = form([
        { name: 'carrier', label: t('orders.carrier'), required: true, maxLength: 64 },
        { name: 'tracking_number', label: t('orders.tracking'), required: true, maxLength: 64 },
      ], { submitLabel: t('orders.ship'), onSubmit: async (b) => { await api('POST', `/v1/orders/${o.id}/ship`, b); m.close(); again(); } });
      const m = modal(t('orders.ship'), f);
    } }, t('orders.ship')));
  }
  if (o.status === 'shipped' || (o.status === 'placed' && !physical)) {
    out.push(el('button', { type: 'button', class: 'small deliver', onclick: () => act('deliver', {}) }, t('orders.deliver')));
  }
  if (o.status === 'placed' || o.status === 'shipped') {
    out.push(el('button', { type: 'button', class: 'small danger cancel-order', onclick: async () => {
      if (await confirmDialog({ title: t('orders.cancel'), message: t('orders.cancelConfirm'), danger: true })) act('cancel', {});
    } }, t('orders.cancel')));
  }
  return out.flatMap((b, i) => (i ? [' ', b] : [b]));
}

// Sets a member's credit limit by hand (pinned), or removes the pin.
function setLimit(c, cred, ctx) {
  const f = form([
    { name: 'limit', label: t('credit.limit'), type: 'number', min: 0, nullable: true, help: t('credit.limitHelp') },
    { name: 'reason', label: t('customers.reason'), required: true, maxLength: 200 },
  ], { values: { limit: cred.manual_limit }, onSubmit: async (b) => {
    if (!('limit' in b)) b.limit = null;
    await api('PUT', `/v1/customers/${c.id}/credit`, b);
    m.close();
    toast(t('common.saved'));
    ctx.go(`#/customers/${c.id}?t=${Date.now()}`);
  } });
  const m = modal(t('credit.setLimit'), f);
}

function describeEvent(e) {
  const p = e.properties || {};
  if (e.type === 'order.paid') {
    return [fmtMoney(p.amount || 0), ' ', el('span', { class: 'muted' }, p.order_id || ''),
      Array.isArray(p.lines) ? ` · ${p.lines.map((l) => l.title || l.sku).join(t('common.sep'))}` : ''];
  }
  if (e.type === 'order.refunded') return [t('customers.refund'), ' ', el('span', { class: 'muted' }, p.order_id || ''), p.reason ? ` · ${p.reason}` : ''];
  const text = p.title || p.text || p.page || p.content || '';
  if (text) return String(text);
  const s = JSON.stringify(p);
  return s === '{}' ? '' : el('code', { class: 'small' }, s.length > 120 ? s.slice(0, 117) + '…' : s);
}

function editCustomer(c, ctx) {
  const f = form([
    { name: 'name', label: t('customers.name'), maxLength: 100, emptyString: true },
    { name: 'city', label: t('customers.city'), emptyString: true },
    { name: 'email', label: t('customers.email'), type: 'email', help: t('customers.emailAdd') },
    { name: 'tags', label: t('customers.tags'), type: 'list', help: t('form.listHelp'), value: c.tags },
  ], { values: { name: c.name, city: c.city }, submitLabel: t('common.save'), onSubmit: async (b) => {
    // tags: send what to add and what to remove, so concurrent edits merge
    const now = b.tags || [];
    delete b.tags;
    b.tags = { add: now.filter((x) => !(c.tags || []).includes(x)), remove: (c.tags || []).filter((x) => !now.includes(x)) };
    await api('PATCH', `/v1/customers/${c.id}`, b);
    m.close();
    toast(t('common.saved'));
    ctx.go(`#/customers/${c.id}?t=${Date.now()}`);
  } });
  const m = modal(t('common.edit'), f);
}

async function exportCustomer(c) {
  const ok = await confirmDialog({ title: t('customers.export'), message: t('customers.exportConfirm'), confirmLabel: t('customers.export') });
  if (!ok) return;
  try {
    const data = await api('GET', `/v1/customers/${c.id}/export`);
    download(`customer-${c.id}.json`, JSON.stringify(data, null, 2));
    toast(t('customers.exported'));
  } catch (e) { toast(e.message, 'bad'); }
}

async function eraseCustomer(c, ctx) {
  const typed = c.name || c.id;
  const ok = await confirmDialog({ title: t('customers.erase'), message: t('customers.eraseConfirm'), confirmLabel: t('customers.erase'), danger: true, typed });
  if (!ok) return;
  try {
    await api('DELETE', `/v1/customers/${c.id}`);
    toast(t('customers.erasedDone'));
    ctx.go(`#/customers/${c.id}?t=${Date.now()}`);
  } catch (e) { toast(e.message, 'bad'); }
}

// ---- duplicates and merging ----

// The server says why in English ("same name and city: 张伟 / 杭州"); the
// part before the colon is a fixed phrase, translated here.
const REASONS = {
  'same name and city': 'customers.sameNameCity',
  'phones ending in the same 8 digits': 'customers.samePhone',
  'e-mails equal but for dots or a +tag': 'customers.sameEmail',
};
function reasonText(r) {
  const i = r.indexOf(': ');
  const key = i > 0 && REASONS[r.slice(0, i)];
  return key ? `${t(key)}: ${r.slice(i + 2)}` : r;
}

export async function duplicates(main, ctx) {
  const d = await api('GET', '/v1/customers/duplicates?limit=50');
  // one card per set of customers, with every reason the server gave for it
  const bySet = new Map();
  for (const g of d.data || []) {
    const k = [...g.customers].sort().join(',');
    if (bySet.has(k)) bySet.get(k).reasons.push(g.reason);
    else bySet.set(k, { customers: g.customers, reasons: [g.reason] });
  }
  const groups = [...bySet.values()];
  const ids = [...new Set(groups.flatMap((g) => g.customers))];
  const people = new Map();
  await Promise.all(ids.map((id) => api('GET', `/v1/customers/${id}`).then((c) => people.set(id, c)).catch(() => {})));
  const canMerge = ctx.can('customers:write');
  const cards = groups.map((g, gi) => {
    const name = `survivor-${gi}`;
    const rows = g.customers.map((id, i) => {
      const c = people.get(id) || { id, stats: {} };
      return el('tr', { 'data-id': id },
        el('td', {}, el('input', { type: 'radio', name, value: id, checked: i === 0, disabled: !canMerge })),
        el('td', {}, link(`#/customers/${id}`, c.name || id)),
        el('td', { class: 'phone' }, c.phone || '—'),
        el('td', {}, c.email || '—'),
        el('td', {}, c.city || '—'),
        el('td', { class: 'num' }, fmtNum((c.stats || {}).orders || 0)),
        el('td', {}, when(c.created_at)));
    });
    const status = el('div', { class: 'merge-status' });
    const btn = canMerge ? el('button', { type: 'button', class: 'merge primary', onclick: async () => {
      const survivor = main.querySelector(`input[name="${name}"]:checked`).value;
      const others = g.customers.filter((x) => x !== survivor);
      const ok = await confirmDialog({ title: t('customers.merge'),
        message: t('customers.mergeConfirm').replace('{n}', String(others.length)).replace('{name}', (people.get(survivor) || {}).name || survivor),
        confirmLabel: t('customers.merge') });
      if (!ok) return;
      btn.disabled = true;
      const p = progressBar(t('customers.merging'));
      status.replaceChildren(p.el);
      try {
        for (let i = 0; i < others.length; i++) {
          p.set(i / others.length);
          await api('POST', '/v1/customers/merge', { survivor, merged: others[i], reason: g.reasons.join('; ').slice(0, 200) });
        }
        p.done(t('customers.merged'));
        toast(t('customers.merged'));
        setTimeout(() => ctx.go(`#/customers/duplicates?t=${Date.now()}`), 600);
      } catch (e) {
        p.done(e.message);
        btn.disabled = false;
      }
    } }, t('customers.merge')) : null;
    return card(null, el('p', { class: 'reason' }, badge(t('customers.why')), ' ', g.reasons.map(reasonText).join(' · ')),
      el('div', { class: 'table-wrap' }, el('table', { class: 'data' },
        el('thead', {}, el('tr', {}, ['', t('customers.name'), t('customers.phone'), t('customers.email'), t('customers.city'), t('customers.orders'), t('customers.created')].map((h) => el('th', {}, h)))),
        el('tbody', {}, rows))),
      el('div', { class: 'actions' }, canMerge ? el('span', { class: 'muted' }, t('customers.pickSurvivor')) : null, btn), status);
  });
  clear(main,
    el('div', { class: 'page-head' }, el('h1', {}, t('customers.duplicates')), link('#/customers', t('customers.backToSearch'))),
    groups.length ? cards : stateBox('empty', t('customers.noDuplicates')));
}
