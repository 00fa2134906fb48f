// analytics.js - RFM grid, Pareto curve, CLV (distribution and lists), basket
// rules (table and graph), the engagement ladder, and segments (build an
// expression with help, preview the count, save, export CSV). Results that are
// still being computed show the job's progress; a server without an analytics
// endpoint gets a clear "not computed yet" instead of an error.
import { api, qs, newKey } from './api.js';
import { t, fmtNum, fmtMoney, fmtPct, fmtDec } from './i18n.js';
import { el, clear, card, kpi, chart, table, pagedTable, stateBox, tabs, form, palette, pick, when,
  progressBar, poll, link, toast, download } from './ui.js';

// GET an analytics result: { state: 'ok', data } | { state: 'pending', job } |
// { state: 'missing' } (no such endpoint yet) | { state: 'unsupported', message }.
export async function analyticsGet(path) {
  try {
    const r = await api('GET', path, undefined, { status: true });
    if (r.status === 202) return { state: 'pending', job: r.data };
    return { state: 'ok', data: r.data };
  } catch (e) {
    if (e.status === 404) return { state: 'missing' };
    if (e.status === 409) return { state: 'unsupported', message: e.message };
    throw e;
  }
}

// Follows a job with a progress bar; calls onDone when it finished.
export function jobProgress(job, onDone) {
  const p = progressBar(t('analytics.job').replace('{kind}', job.kind || ''));
  p.set(job.progress || 0);
  poll(async () => {
    const j = await api('GET', `/v1/jobs/${job.id}`);
    p.set(j.progress || 0);
    if (j.status === 'done') { p.done(); onDone(j); return false; }
    if (j.status === 'failed') { p.done(`${t('analytics.failed')}: ${j.error || ''}`); return false; }
    return true;
  }, 700);
  return p;
}

const TABS = ['rfm', 'pareto', 'clv', 'baskets', 'ladder', 'segments'];

export async function render(main, ctx) {
  const tab = TABS.includes(ctx.params.tab) ? ctx.params.tab : 'rfm';
  const body = el('div', { class: 'tab-body' });
  clear(main,
    el('div', { class: 'page-head' }, el('h1', {}, t('nav.analytics'))),
    tabs(TABS.map((k) => [k, t(`analytics.${k}`), `#/analytics/${k}`]), tab),
    body);
  if (tab === 'segments') return segments(body, ctx);
  const paths = {
    rfm: '/v1/analytics/rfm',
    pareto: '/v1/analytics/pareto',
    clv: `/v1/analytics/clv${qs({ horizon: ctx.query.get('horizon'), discount: ctx.query.get('discount') })}`,
    baskets: `/v1/analytics/baskets${qs({ item: ctx.query.get('item'), min_support: ctx.query.get('min_support'), min_confidence: ctx.query.get('min_confidence') })}`,
    ladder: '/v1/analytics/ladder',
  };
  const draw = { rfm, pareto, clv, baskets, ladder }[tab];
  const load = async () => {
    clear(body, el('div', { class: 'loading' }, t('common.loading')));
    const r = await analyticsGet(paths[tab]);
    if (r.state === 'missing') { clear(body, stateBox('pending', t('analytics.notComputed'))); return; }
    if (r.state === 'unsupported') { clear(body, stateBox('empty', r.message)); return; }
    if (r.state === 'pending') { clear(body, stateBox('pending', t('analytics.computing'), jobProgress(r.job, load).el)); return; }
    clear(body, refreshBar(tab, r.data, ctx, load), draw(r.data, ctx));
  };
  await load();
}

// "computed at …" and, for those allowed, a recompute that shows progress.
function refreshBar(kind, data, ctx, reload) {
  const box = el('div', { class: 'refresh' }, el('span', { class: 'muted' },
    t('analytics.computedAt').replace('{at}', when(data.computed_at || data.as_of)),
    data.duration_ms !== undefined ? ` · ${fmtNum(data.duration_ms)} ms` : ''));
  if (ctx.can('analytics:write')) {
    const btn = el('button', { type: 'button', class: 'refresh-btn', onclick: async () => {
      btn.disabled = true;
      try {
        const job = await api('POST', `/v1/analytics/${kind}/refresh`, {});
        box.append(jobProgress(job, () => { toast(t('analytics.recomputed')); reload(); }).el);
      } catch (e) { toast(e.message, 'bad'); btn.disabled = false; }
    } }, t('analytics.refresh'));
    box.append(btn);
  }
  return box;
}

function customerLink(id, text) { return link(`#/customers/${id}`, text || id); }

// Customer links that show ids at first and names once loaded (a few at a time).
function namedLink(id) {
  const a = link(`#/customers/${id}`, id);
  a.dataset.cid = id;
  queueMicrotask(() => fillNames());
  return a;
}
let filling = false;
async function fillNames() {
  if (filling) return;
  filling = true;
  try {
    for (;;) {
      const todo = [...document.querySelectorAll('a[data-cid]:not([data-named])')].slice(0, 6);
      if (!todo.length) break;
      await Promise.all(todo.map(async (a) => {
        a.dataset.named = '1';
        try {
          const c = await api('GET', `/v1/customers/${a.dataset.cid}`);
          if (c.name) a.textContent = `${c.name}${c.city ? ' · ' + c.city : ''}`;
        } catch { /* keep the id */ }
      }));
    }
  } finally { filling = false; }
}

// ---- RFM ----

function rfm(d) {
  const grid = d.grid || [];
  const data = [];
  const rs = grid.map((row) => row.r);
  grid.forEach((row, y) => row.cells.forEach((c) => data.push([c.fm - 1, y, c.customers, c.segment])));
  const names = Object.fromEntries((d.segments || []).map((s) => [s.key, pick(s.name)]));
  const max = Math.max(1, ...data.map((x) => x[2]));
  return el('div', {},
    el('div', { class: 'kpis' },
      kpi('rfm_customers', t('analytics.buyers'), d.customers, fmtNum(d.customers)),
      kpi('rfm_revenue', t('overview.revenue'), d.revenue, fmtMoney(d.revenue))),
    card(t('analytics.rfmGrid'), chart({
      tooltip: { formatter: (p) => `R ${rs[p.value[1]]} · FM ${p.value[0] + 1}<br>${names[p.value[3]] || p.value[3]}: ${fmtNum(p.value[2])}` },
      grid: { left: 50, right: 30, top: 10, bottom: 80 },
      xAxis: { type: 'category', name: 'FM', data: ['1', '2', '3', '4', '5'], splitArea: { show: true } },
      yAxis: { type: 'category', name: 'R', inverse: true, data: rs.map(String), splitArea: { show: true } },
      visualMap: { min: 0, max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 200, inRange: { color: ['#fff5f5', '#c62828'] } },
      series: [{ type: 'heatmap', data, label: { show: true, formatter: (p) => `${fmtNum(p.value[2])}\n${names[p.value[3]] || ''}`, fontSize: 11, lineHeight: 16 } }],
    }, { name: 'rfm', height: 420 })),
    card(t('analytics.segmentsTable'), table([
      { label: t('analytics.segment'), value: (s) => pick(s.name) },
      { label: t('analytics.customers'), value: (s) => fmtNum(s.customers), cls: 'num' },
      { label: t('analytics.share'), value: (s) => fmtPct(s.share), cls: 'num' },
      { label: t('overview.revenue'), value: (s) => fmtMoney(s.revenue), cls: 'num' },
      { label: t('analytics.recency'), value: (s) => fmtDec(s.avg_recency_days, 0), cls: 'num' },
      { label: t('analytics.frequency'), value: (s) => fmtDec(s.avg_frequency, 1), cls: 'num' },
      { label: t('analytics.monetary'), value: (s) => fmtMoney(s.avg_monetary), cls: 'num' },
    ], d.segments || [])));
}

// ---- Pareto ----

function pareto(d) {
  const curve = [[0, 0], ...(d.curve || []).map((p) => [p.customer_share * 100, p.revenue_share * 100])];
  return el('div', {},
    el('div', { class: 'kpis' },
      kpi('top20', t('analytics.top20'), d.top20_share, fmtPct(d.top20_share)),
      kpi('share80', t('analytics.share80'), d.customer_share_80, fmtPct(d.customer_share_80)),
      kpi('gini', t('analytics.gini'), d.gini, fmtDec(d.gini, 3)),
      kpi('pareto_customers', t('analytics.buyers'), d.customers, fmtNum(d.customers))),
    card(t('analytics.paretoCurve'), chart({
      color: palette,
      tooltip: { trigger: 'axis', valueFormatter: (v) => `${fmtDec(v, 1)}%` },
      grid: { left: 60, right: 30, top: 30, bottom: 50 },
      xAxis: { type: 'value', name: t('analytics.customerShare'), nameLocation: 'middle', nameGap: 30, min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      yAxis: { type: 'value', name: t('analytics.revenueShare'), min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
      series: [
        { name: t('analytics.paretoCurve'), type: 'line', smooth: true, areaStyle: { opacity: 0.12 }, data: curve,
          markLine: { symbol: 'none', lineStyle: { type: 'dashed' }, data: [{ xAxis: 20 }] } },
        { name: t('analytics.equality'), type: 'line', symbol: 'none', lineStyle: { type: 'dotted', color: '#999' }, data: [[0, 0], [100, 100]] },
      ],
    }, { name: 'pareto', height: 360 })));
}

// ---- CLV ----

function clv(d, ctx) {
  const pa = (d.distribution && d.distribution.p_alive) || [];
  const pct = (d.distribution && d.distribution.clv) || {};
  const list = (rows) => table([
    { label: t('analytics.customer'), value: (c) => namedLink(c.customer_id) },
    { label: t('analytics.repeat'), value: (c) => fmtNum(c.repeat_purchases), cls: 'num' },
    { label: t('analytics.pAlive'), value: (c) => fmtPct(c.p_alive), cls: 'num' },
    { label: t('analytics.expected'), value: (c) => fmtDec(c.expected_purchases, 2), cls: 'num' },
    { label: 'CLV', value: (c) => fmtMoney(Math.round(c.clv)), cls: 'num' },
  ], rows || []);
  const params = form([
    { name: 'horizon', label: t('analytics.horizon'), type: 'number', min: 1, max: 520, value: Number(d.horizon) },
    { name: 'discount', label: t('analytics.discount'), type: 'decimal', min: 0, max: 1, value: d.discount_annual },
  ], { submitLabel: t('analytics.apply'), cls: 'inline', onSubmit: async (b) => { ctx.go(`#/analytics/clv${qs(b)}`); } });
  return el('div', {},
    params,
    el('div', { class: 'kpis' },
      kpi('clv_total', t('analytics.clvTotal'), d.clv_total, fmtMoney(Math.round(d.clv_total))),
      kpi('clv_mean', t('analytics.clvMean'), d.clv_mean, fmtMoney(Math.round(d.clv_mean))),
      kpi('expected', t('analytics.expectedTotal'), d.expected_purchases, fmtDec(d.expected_purchases, 0)),
      kpi('repeaters', t('analytics.repeaters'), d.repeat_customers, `${fmtNum(d.repeat_customers)} / ${fmtNum(d.customers)}`)),
    el('div', { class: 'grid2' },
      card(t('analytics.pAliveDist'), chart({
        color: [palette[1]],
        tooltip: { trigger: 'axis' },
        grid: { left: 50, right: 20, top: 20, bottom: 30 },
        xAxis: { type: 'category', data: pa.map((b) => `${fmtDec(b.from, 1)}–${fmtDec(b.to, 1)}`) },
        yAxis: { type: 'value' },
        series: [{ type: 'bar', data: pa.map((b) => b.customers) }],
      }, { name: 'palive', height: 260 })),
      card(t('analytics.clvPercentiles'), el('dl', { class: 'facts' },
        Object.entries(pct).map(([k, v]) => [el('dt', {}, k.toUpperCase()), el('dd', {}, fmtMoney(Math.round(v)))])),
        el('p', { class: 'muted' }, `BG/NBD r=${fmtDec(d.bgnbd.r, 3)} α=${fmtDec(d.bgnbd.alpha, 3)} a=${fmtDec(d.bgnbd.a, 3)} b=${fmtDec(d.bgnbd.b, 3)} · Gamma-Gamma p=${fmtDec(d.gamma_gamma.p, 3)} q=${fmtDec(d.gamma_gamma.q, 3)}`))),
    el('div', { class: 'grid2' },
      card(t('analytics.topRepurchasers'), list(d.top_repurchasers)),
      card(t('analytics.atRisk'), list(d.at_risk))));
}

// ---- baskets ----

function baskets(d, ctx) {
  const rules = d.rules || [];
  const items = new Map();
  const links = [];
  for (const r of rules.slice(0, 60)) {
    for (const x of [...r.lhs, r.rhs]) items.set(x, (items.get(x) || 0) + r.count);
    for (const x of r.lhs) links.push({ source: x, target: r.rhs, value: r.lift, lineStyle: { width: Math.max(1, Math.min(6, r.lift * 2)) } });
  }
  const max = Math.max(1, ...items.values());
  const params = form([
    { name: 'item', label: t('analytics.item'), type: 'select', options: [['category', t('analytics.category')], ['sku', 'SKU']], value: d.item },
    { name: 'min_support', label: t('analytics.minSupport'), type: 'decimal', min: 0.0001, max: 1, value: d.min_support },
    { name: 'min_confidence', label: t('analytics.minConfidence'), type: 'decimal', min: 0, max: 1, value: d.min_confidence },
  ], { submitLabel: t('analytics.apply'), cls: 'inline', onSubmit: async (b) => { ctx.go(`#/analytics/baskets${qs(b)}`); } });
  return el('div', {},
    params,
    el('p', { class: 'muted' }, t('analytics.basketsNote').replace('{b}', fmtNum(d.baskets)).replace('{i}', fmtNum(d.items)).replace('{r}', fmtNum(d.rules_total))),
    el('div', { class: 'grid2' },
      card(t('analytics.rulesTable'), table([
        { label: t('analytics.if'), value: (r) => r.lhs.join(' + ') },
        { label: t('analytics.then'), value: (r) => r.rhs },
        { label: t('analytics.support'), value: (r) => fmtPct(r.support), cls: 'num' },
        { label: t('analytics.confidence'), value: (r) => fmtPct(r.confidence), cls: 'num' },
        { label: t('analytics.lift'), value: (r) => fmtDec(r.lift, 2), cls: 'num' },
        { label: t('analytics.count'), value: (r) => fmtNum(r.count), cls: 'num' },
      ], rules, { empty: t('analytics.noRules') })),
      card(t('analytics.rulesGraph'), items.size ? chart({
        tooltip: {},
        series: [{ type: 'graph', layout: 'circular', roam: true, label: { show: true },
          edgeSymbol: ['none', 'arrow'], edgeSymbolSize: 8,
          data: [...items].map(([name, n], i) => ({ name, symbolSize: 20 + 30 * n / max, itemStyle: { color: palette[i % palette.length] } })),
          links, lineStyle: { opacity: 0.6, curveness: 0.2 } }],
      }, { name: 'baskets', height: 380 }) : stateBox('empty', t('analytics.noRules')))));
}

// ---- ladder ----

function ladder(d) {
  const stages = d.stages || [];
  const m = d.moves || { stages: [], matrix: [] };
  const stageName = (key) => pick((stages.find((s) => s.key === key) || {}).name) || key;
  return el('div', {},
    el('div', { class: 'grid2' },
      card(t('analytics.ladderDist'), chart({
        color: palette,
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        legend: { data: [t('analytics.atStart'), t('analytics.now')] },
        grid: { left: 90, right: 30, top: 30, bottom: 30 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', inverse: true, data: stages.map((s) => pick(s.name)) },
        series: [
          { name: t('analytics.atStart'), type: 'bar', data: stages.map((s) => s.at_start) },
          { name: t('analytics.now'), type: 'bar', data: stages.map((s) => s.customers) },
        ],
      }, { name: 'ladder', height: 300 })),
      card(t('analytics.thresholds'), el('dl', { class: 'facts' },
        Object.entries(d.thresholds || {}).map(([k, v]) => [el('dt', {}, k), el('dd', {}, fmtNum(v))])))),
    card(t('analytics.moves'), table(
      [{ label: t('analytics.fromTo'), value: (row) => stageName(row.from) },
        ...m.stages.map((s, j) => ({ label: stageName(s), value: (row) => fmtNum(row.counts[j]), cls: 'num' }))],
      m.matrix.map((counts, i) => ({ from: m.stages[i], counts })))));
}

// ---- segments ----

const SEGMENT_HELP = [
  ['customer.city == "杭州"', 'analytics.helpCity'],
  ['customer.orders >= 2', 'analytics.helpOrders'],
  ['customer.revenue > 100000', 'analytics.helpRevenue'],
  ['customer.days_since_last_seen <= 30', 'analytics.helpRecent'],
  ['"学生" in customer.tags', 'analytics.helpTag'],
  ['customer.tier == "gold"', 'analytics.helpTier'],
  ['rfm.segment in ["champions", "loyal"]', 'analytics.helpRfm'],
  ['p_alive > 0.5', 'analytics.helpAlive'],
  ['ladder.level >= 3', 'analytics.helpLadder'],
  ['count(order.paid, 90d) >= 2', 'analytics.helpCount'],
  ['sum(amount, 365d) > 50000', 'analytics.helpSum'],
];

async function segments(body, ctx) {
  const result = el('div', { class: 'preview', 'data-preview': '' }, stateBox('empty', t('analytics.previewHint')));
  const canSave = ctx.can('analytics:write');
  const f = form([
    { name: 'name', label: t('analytics.segmentName'), maxLength: 100, send: canSave },
    { name: 'expression', label: t('analytics.expression'), type: 'expr', required: true, rows: 4,
      placeholder: 'customer.city == "杭州" and count(order.paid, 90d) >= 2', help: t('analytics.exprHelp') },
    { name: 'description', label: t('analytics.description'), maxLength: 1000 },
  ], {
    submitLabel: t('analytics.preview'),
    extraButtons: canSave ? [el('button', { type: 'button', class: 'save-segment', onclick: () => save() }, t('analytics.saveSegment'))] : [],
    onSubmit: async (b) => {
      const p = progressBar(t('analytics.counting'));
      p.set(null);
      clear(result, p.el);
      const r = await api('GET', `/v1/console/segments/preview${qs({ expression: b.expression })}`).catch((e) => { clear(result); throw e; });
      clear(result,
        el('p', { class: 'count', 'data-count': String(r.count) }, t('analytics.previewCount').replace('{n}', fmtNum(r.count))),
        r.sample.length ? el('p', { class: 'sample' }, t('analytics.sample'), ' ',
          r.sample.map((c, i) => [i ? t('common.sep') : '', customerLink(c.id, c.name || c.id)])) : null);
    },
  });
  async function save() {
    const b = f.values();
    if (!b) return;
    if (!b.name) { f.setError('name', t('form.required')); return; }
    try {
      const s = await api('POST', '/v1/segments', b, { key: newKey() });
      toast(t('analytics.savedN').replace('{n}', fmtNum(s.member_count ?? 0)));
      list.reload();
    } catch (e) {
      const p = e.problem || {};
      f.setError(p.field || 'expression', p.detail || e.message, p);
    }
  }
  const helpers = el('div', { class: 'chips' }, SEGMENT_HELP.map(([code, key]) =>
    el('button', { type: 'button', class: 'chip', title: t(key), onclick: () => {
      const ta = f.elements.namedItem('expression');
      ta.value = ta.value.trim() ? `${ta.value.trim()} and ${code}` : code;
      ta.focus();
    } }, code)));
  const list = pagedTable([
    { label: t('analytics.segmentName'), value: (s) => s.name },
    { label: t('analytics.expression'), value: (s) => el('code', {}, s.expression) },
    { label: t('analytics.members'), value: (s) => (s.member_count === null ? '—' : fmtNum(s.member_count)), cls: 'num' },
    { label: t('analytics.countedAt'), value: (s) => when(s.counted_at) },
    { label: '', value: (s) => el('button', { type: 'button', class: 'export-csv', onclick: (ev) => exportCsv(s, ev.target) }, t('analytics.exportCsv')) },
  ], (cursor) => api('GET', `/v1/segments${qs({ cursor, limit: 20 })}`));
  clear(body,
    el('div', { class: 'grid2' },
      card(t('analytics.builder'), f, el('p', { class: 'muted' }, t('analytics.helpers')), helpers),
      card(t('analytics.previewTitle'), result)),
    card(t('analytics.saved'), list));
}

// CSV of every member; a big segment takes a while, so show progress.
async function exportCsv(s, btn) {
  btn.disabled = true;
  const p = progressBar(t('analytics.exporting'));
  p.set(null);
  btn.after(p.el);
  try {
    const csv = await api('GET', `/v1/segments/${s.id}/members?format=csv`, undefined, { raw: true });
    download(`segment-${s.id}.csv`, csv, 'text/csv');
    p.done(t('analytics.exported').replace('{n}', fmtNum(Math.max(0, csv.split('\n').filter(Boolean).length - 1))));
  } catch (e) {
    p.done(e.message);
  } finally {
    btn.disabled = false;
  }
}
