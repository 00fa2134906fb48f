// settings.js - console users and roles, API keys (the secret is shown once,
// when created), touchpoints with their value report, the brand's calendar
// (its UTC offset), and the audit log with filters. Users, keys, the calendar
// and the audit log are for owners and admins only.
import { api, qs, newKey } from './api.js';
import { t, fmtNum, fmtMoney, fmtDec } from './i18n.js';
import { el, clear, card, badge, table, pagedTable, pageArray, form, modal, toast, confirmDialog,
  tabs, when } from './ui.js';

const ROLES = ['owner', 'admin', 'marketer', 'agent', 'analyst'];
const AREAS = ['customers', 'events', 'touchpoints', 'points', 'analytics', 'admin'];
const CHANNELS = ['web', 'app', 'wechat', 'weibo', 'store', 'call_centre', 'roadshow', 'email', 'sms', 'other'];

export async function render(main, ctx) {
  const admin = ctx.can('admin:read');
  const available = admin ? ['users', 'keys', 'touchpoints', 'brand', 'audit'] : ['touchpoints'];
  const tab = available.includes(ctx.params.tab) ? ctx.params.tab : available[0];
  const body = el('div', { class: 'tab-body' });
  clear(main,
    el('div', { class: 'page-head' }, el('h1', {}, t('nav.settings'))),
    tabs(available.map((k) => [k, t(`settings.${k}`), `#/settings/${k}`]), tab),
    body);
  return { users, keys, touchpoints, brand, audit }[tab](body, ctx);
}

// ---- users ----

async function users(body, ctx) {
  const canWrite = ctx.can('admin:write');
  const list = pagedTable([
    { label: t('login.email'), value: (u) => u.email },
    { label: t('settings.name'), value: (u) => u.name || '—' },
    { label: t('settings.role'), value: (u) => (canWrite && u.id !== ctx.me.id
      ? el('select', { class: 'role-select', 'data-user': u.id, onchange: async (ev) => {
        try { await api('PATCH', `/v1/users/${u.id}`, { role: ev.target.value }); toast(t('common.saved')); } catch (e) { toast(e.message, 'bad'); ev.target.value = u.role; }
      } }, ROLES.map((r) => el('option', { value: r, selected: r === u.role }, t(`role.${r}`))))
      : t(`role.${u.role}`)) },
    { label: t('common.status'), value: (u) => [u.disabled ? badge(t('settings.disabled'), 'bad') : badge(t('settings.enabled'), 'ok'),
      u.locked_until ? [' ', badge(t('settings.locked').replace('{at}', when(u.locked_until)), 'bad')] : null] },
    { label: t('settings.created'), value: (u) => when(u.created_at) },
    { label: '', value: (u) => (canWrite && u.id !== ctx.me.id ? el('button', { type: 'button', class: 'small toggle-user', onclick: async () => {
      const ok = await confirmDialog({ title: u.disabled ? t('settings.enable') : t('settings.disable'), message: u.email, danger: !u.disabled });
      if (!ok) return;
      try { await api('PATCH', `/v1/users/${u.id}`, { disabled: !u.disabled }); list.reload(); } catch (e) { toast(e.message, 'bad'); }
    } }, u.disabled ? t('settings.enable') : t('settings.disable')) : null) },
  ], async (cursor) => pageArray((await api('GET', '/v1/users')).data || [])(cursor));
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('settings.users')),
      canWrite ? el('button', { type: 'button', class: 'primary new', onclick: () => addUser(list) }, t('settings.addUser')) : null),
    card(null, el('p', { class: 'muted' }, t('settings.rolesHelp')), list));
}

function addUser(list) {
  const f = form([
    { name: 'email', label: t('login.email'), type: 'email', required: true },
    { name: 'name', label: t('settings.name'), maxLength: 100 },
    { name: 'role', label: t('settings.role'), type: 'select', required: true, options: ROLES.map((r) => [r, t(`role.${r}`)]), default: 'marketer' },
    { name: 'password', label: t('login.password'), type: 'password', required: true, minLength: 10, help: t('settings.passwordHelp') },
  ], { submitLabel: t('common.create'), onSubmit: async (b) => {
    await api('POST', '/v1/users', b);
    m.close();
    toast(t('common.saved'));
    list.reload();
  } });
  const m = modal(t('settings.addUser'), f);
}

// ---- API keys ----

async function keys(body, ctx) {
  const canWrite = ctx.can('admin:write');
  const list = pagedTable([
    { label: t('settings.keyName'), value: (k) => k.name },
    { label: t('settings.prefix'), value: (k) => el('code', {}, k.prefix || '') },
    { label: t('settings.scopes'), value: (k) => String(k.scopes || '').split(' ').filter(Boolean).map((s) => badge(s === '*' ? t('settings.allScopes') : s)) },
    { label: t('settings.created'), value: (k) => when(k.created_at) },
    { label: t('common.status'), value: (k) => (k.revoked_at ? badge(t('settings.revoked'), 'bad') : badge(t('settings.live'), 'ok')) },
    { label: '', value: (k) => (canWrite && !k.revoked_at ? el('button', { type: 'button', class: 'small danger revoke', onclick: async () => {
      const ok = await confirmDialog({ title: t('settings.revoke'), message: t('settings.revokeConfirm').replace('{name}', k.name), danger: true, confirmLabel: t('settings.revoke') });
      if (!ok) return;
      try { await api('DELETE', `/v1/apikeys/${k.id}`); list.reload(); } catch (e) { toast(e.message, 'bad'); }
    } }, t('settings.revoke')) : null) },
  ], async (cursor) => pageArray((await api('GET', '/v1/apikeys')).data || [])(cursor));
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('settings.keys')),
      canWrite ? el('button', { type: 'button', class: 'primary new', onclick: () => createKey(list) }, t('settings.newKey')) : null),
    card(null, list));
}

function createKey(list) {
  const scopeOptions = [['*', t('settings.allScopes')], ...AREAS.flatMap((a) => [[`${a}:read`, `${a}:read`], [`${a}:write`, `${a}:write`]])];
  const key = newKey();
  const f = form([
    { name: 'name', label: t('settings.keyName'), required: true, maxLength: 100, placeholder: t('settings.keyNameHint') },
    { name: 'scopes', label: t('settings.scopes'), type: 'checkboxes', options: scopeOptions, value: ['events:write'],
      validate: (v) => (!v || !v.length ? t('settings.pickScope') : '') },
  ], { submitLabel: t('common.create'), onSubmit: async (b) => {
    if (b.scopes.includes('*')) b.scopes = [];
    const r = await api('POST', '/v1/apikeys', b, { key });
    list.reload();
    // the secret exists only in this answer: show it once, with a copy button
    const secret = el('input', { class: 'secret mono', readonly: true, value: r.secret });
    clear(m.dialog.querySelector('.modal-body'),
      el('div', { class: 'secret-once' },
        el('p', { class: 'notice' }, t('settings.secretOnce')),
        secret,
        el('div', { class: 'actions' },
          el('button', { type: 'button', class: 'copy', onclick: async () => {
            secret.select();
            try { await navigator.clipboard.writeText(r.secret); toast(t('settings.copied')); } catch { document.execCommand('copy'); }
          } }, t('settings.copy')),
          el('button', { type: 'button', class: 'primary done', onclick: () => m.close() }, t('settings.stored')))));
  } });
  const m = modal(t('settings.newKey'), f);
}

// ---- touchpoints ----

async function touchpoints(body, ctx) {
  const canWrite = ctx.can('touchpoints:write');
  const [tps, rep] = await Promise.all([api('GET', '/v1/touchpoints'), api('GET', '/v1/touchpoints/report').catch(() => null)]);
  const fields = () => [
    { name: 'code', label: t('settings.code'), required: true, pattern: '^[a-z0-9_-]{1,32}$', patternHint: t('tiers.codeHint') },
    { name: 'name', label: t('settings.name'), required: true, maxLength: 100 },
    { name: 'channel', label: t('settings.channel'), type: 'select', required: true, options: CHANNELS.map((c) => [c, t(`channel.${c}`)]) },
    { name: 'purpose', label: t('settings.purpose'), type: 'select', required: true, options: [['marketing', t('settings.marketing')], ['service', t('settings.service')]] },
    { name: 'cost_month', label: t('settings.costMonth'), type: 'money' },
  ];
  const open = (row) => {
    const f = form(fields(), { values: row || {}, submitLabel: row ? t('common.save') : t('common.create'), onSubmit: async (b) => {
      if (row) await api('PATCH', `/v1/touchpoints/${row.id}`, b);
      else await api('POST', '/v1/touchpoints', b, { key: newKey() });
      m.close();
      toast(t('common.saved'));
      touchpoints(body, ctx);
    } });
    const m = modal(row ? t('common.edit') : t('settings.newTouchpoint'), f);
  };
  const list = pagedTable([
    { label: t('settings.code'), value: (x) => el('code', {}, x.code) },
    { label: t('settings.name'), value: (x) => x.name },
    { label: t('settings.channel'), value: (x) => t(`channel.${x.channel}`) },
    { label: t('settings.purpose'), value: (x) => t(`settings.${x.purpose}`) },
    { label: t('settings.costMonth'), value: (x) => fmtMoney(x.cost_month), cls: 'num' },
    { label: '', value: (x) => (canWrite ? [
      el('button', { type: 'button', class: 'small edit', onclick: () => open(x) }, t('common.edit')), ' ',
      el('button', { type: 'button', class: 'small danger', onclick: async () => {
        const ok = await confirmDialog({ title: t('common.delete'), message: x.name, danger: true, confirmLabel: t('common.delete') });
        if (!ok) return;
        try { await api('DELETE', `/v1/touchpoints/${x.id}`); touchpoints(body, ctx); } catch (e) { toast(e.message, 'bad'); }
      } }, t('common.delete'))] : null) },
  ], pageArray(tps.data || []));
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('settings.touchpoints')),
      canWrite ? el('button', { type: 'button', class: 'primary new', onclick: () => open(null) }, t('settings.newTouchpoint')) : null),
    card(null, list),
    rep ? card(t('settings.tpReport'), el('p', { class: 'muted' }, `${when(rep.from)} → ${when(rep.to)} · ${t('settings.attribution')}`), table([
      { label: t('settings.name'), value: (x) => x.name },
      { label: t('settings.events'), value: (x) => fmtNum(x.events), cls: 'num' },
      { label: t('settings.customers'), value: (x) => fmtNum(x.customers), cls: 'num' },
      { label: t('report.orders'), value: (x) => fmtNum(x.orders), cls: 'num' },
      { label: t('overview.revenue'), value: (x) => fmtMoney(x.revenue), cls: 'num' },
      { label: t('settings.cost'), value: (x) => fmtMoney(x.cost), cls: 'num' },
      { label: t('settings.perCost'), value: (x) => (x.revenue_per_cost === null || x.revenue_per_cost === undefined ? '—' : fmtDec(x.revenue_per_cost, 2)), cls: 'num' },
    ], rep.data || [])) : null);
}

// ---- the brand's calendar ----

async function brand(body, ctx) {
  const canWrite = ctx.can('admin:write');
  const b = await api('GET', '/v1/brand');
  const f = form([
    { name: 'utc_offset', label: t('brand.utcOffset'), required: true, pattern: '^[+-](0\\d|1[0-4]):[0-5]\\d$', patternHint: t('brand.offsetHint') },
  ], { values: b, readonly: !canWrite, submitLabel: t('common.save'), onSubmit: async (v) => {
    if (v.utc_offset === b.utc_offset) return;
    const ok = await confirmDialog({ title: t('brand.change'), message: t('brand.changeWarn').replace('{from}', b.utc_offset).replace('{to}', v.utc_offset), confirmLabel: t('common.save') });
    if (!ok) return;
    await api('PATCH', '/v1/brand', { utc_offset: v.utc_offset });
    toast(t('common.saved'));
    brand(body, ctx);
  } });
  clear(body,
    el('div', { class: 'section-head' }, el('h2', {}, t('settings.brand'))),
    card(null, el('p', { class: 'muted' }, t('brand.help')), f,
      b.updated_at ? el('p', { class: 'muted' }, `${t('brand.updated')} ${when(b.updated_at)}`) : null));
}

// ---- audit log ----

async function audit(body, ctx) {
  const q = ctx.query;
  const filters = form([
    { name: 'actor_type', label: t('audit.actorType'), type: 'select', options: [['', t('common.all')], ['user', t('audit.user')], ['key', t('audit.key')]], value: q.get('actor_type') || '' },
    { name: 'actor_id', label: t('audit.actorId'), pattern: '^[0-9]+$', patternHint: t('audit.idHint'), value: q.get('actor_id') || '' },
    { name: 'path_prefix', label: t('audit.path'), placeholder: '/v1/rules', value: q.get('path_prefix') || '' },
    { name: 'from', label: t('report.from'), type: 'date', value: q.get('from') || '' },
    { name: 'to', label: t('report.to'), type: 'date', value: q.get('to') || '' },
  ], { submitLabel: t('audit.filter'), cls: 'inline', onSubmit: async (b) => {
    const p = { ...b, from: b.from ? b.from.slice(0, 10) : undefined, to: b.to ? b.to.slice(0, 10) : undefined };
    ctx.go(`#/settings/audit${qs(p)}`);
  } });
  const params = { actor_type: q.get('actor_type'), actor_id: q.get('actor_id'), path_prefix: q.get('path_prefix'), from: q.get('from'), to: q.get('to') };
  const json = (v) => (v === null || v === undefined ? '—' : el('pre', { class: 'json' }, JSON.stringify(v, null, 1)));
  const list = pagedTable([
    { label: t('audit.at'), value: (a) => when(a.at) },
    { label: t('audit.actor'), value: (a) => [badge(t(`audit.${a.actor.type}`)), ' ', a.actor.name, el('br'), el('small', { class: 'muted' }, a.actor.id)] },
    { label: t('audit.action'), value: (a) => el('code', { class: 'nowrap' }, a.action) },
    { label: t('audit.path'), value: (a) => el('code', {}, a.path) },
    { label: t('audit.status'), value: (a) => a.status === 0 ? el('span', { class: 'muted', title: t('audit.unknownHelp') }, t('audit.unknown')) : fmtNum(a.status), cls: 'num' },
    { label: t('audit.change'), value: (a) => el('details', {}, el('summary', {}, t('audit.beforeAfter')),
      el('div', { class: 'diff' }, el('div', {}, el('h4', {}, t('audit.before')), json(a.before)), el('div', {}, el('h4', {}, t('audit.after')), json(a.after)))) },
  ], (cursor) => api('GET', `/v1/audit${qs({ ...params, cursor, limit: 30 })}`), { empty: t('audit.none') });
  clear(body, el('div', { class: 'section-head' }, el('h2', {}, t('settings.audit'))), card(null, filters), card(null, list));
}

