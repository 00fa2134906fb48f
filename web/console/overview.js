// overview.js - the dashboard: members, activity, revenue, the points economy
// and its productivity, the engagement ladder, and a revenue and points trend.
// Counts and trends come from GET /v1/console/overview, the points economy
// from GET /v1/reports/points, the ladder from GET /v1/analytics/ladder (a
// clear "not computed yet" when that is missing or still running).
import { api, qs } from './api.js';
import { t, fmtNum, fmtMoney, fmtPct } from './i18n.js';
import { el, clear, card, kpi, chart, stateBox, errorBox, palette, pick } from './ui.js';
import { analyticsGet, jobProgress } from './analytics.js';

const RANGES = [30, 90, 180, 365];

export async function render(main, ctx) {
  const days = RANGES.includes(Number(ctx.query.get('days'))) ? Number(ctx.query.get('days')) : 90;
  const [ov, rep] = await Promise.all([
    api('GET', `/v1/console/overview${qs({ days })}`),
    ctx.can('analytics:read') ? api('GET', '/v1/reports/points').catch((e) => ({ error: e })) : { error: new Error(t('error.forbidden')) },
  ]);
  const range = el('div', { class: 'range' }, t('overview.range'), ' ',
    RANGES.map((d) => el('a', { href: `#/overview?days=${d}`, class: d === days ? 'active' : '', 'data-days': String(d) }, t('overview.days').replace('{n}', String(d)))));
  const pts = rep.error ? null : rep;
  const prodPct = pts && pts.productivity.percent !== null ? pts.productivity.percent : null;
  const tiles = el('div', { class: 'kpis four' },
    kpi('members', t('overview.members'), ov.members, fmtNum(ov.members), t('overview.new30').replace('{n}', fmtNum(ov.new_30d))),
    kpi('active_30d', t('overview.active30'), ov.active_30d, fmtNum(ov.active_30d),
      ov.members ? fmtPct(ov.active_30d / ov.members) : ''),
    kpi('revenue', t('overview.revenue'), ov.revenue, fmtMoney(ov.revenue), t('overview.orders').replace('{n}', fmtNum(ov.orders))),
    kpi('revenue_30d', t('overview.revenue30'), ov.revenue_30d, fmtMoney(ov.revenue_30d), t('overview.orders').replace('{n}', fmtNum(ov.orders_30d))),
    pts ? kpi('points_issued', t('overview.issued30'), pts.issued, fmtNum(pts.issued)) : null,
    pts ? kpi('points_redeemed', t('overview.redeemed30'), pts.redeemed.points, fmtNum(pts.redeemed.points),
      t('overview.redemptions').replace('{n}', fmtNum(pts.redeemed.orders))) : null,
    pts ? kpi('points_outstanding', t('overview.outstanding'), pts.outstanding_liability.points, fmtNum(pts.outstanding_liability.points),
      t('overview.holders').replace('{n}', fmtNum(pts.outstanding_liability.members))) : null,
    pts ? kpi('productivity', t('overview.productivity'), prodPct === null ? '' : prodPct,
      prodPct === null ? '—' : fmtPct(prodPct / 100),
      t('overview.productivityHint').replace('{a}', fmtNum(pts.productivity.redeemers)).replace('{b}', fmtNum(pts.productivity.followers))) : null);

  const dates = ov.trend.map((d) => d.date.slice(5));
  const revenueChart = chart({
    color: palette,
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0, data: [t('overview.revenueYuan'), t('overview.ordersCount')] },
    grid: { left: 60, right: 50, top: 35, bottom: 55 },
    xAxis: { type: 'category', data: dates },
    yAxis: [{ type: 'value', name: t('overview.yuan') }, { type: 'value', name: t('overview.ordersAxis'), splitLine: { show: false } }],
    series: [
      { name: t('overview.revenueYuan'), type: 'bar', data: ov.trend.map((d) => d.revenue / 100) },
      { name: t('overview.ordersCount'), type: 'line', yAxisIndex: 1, showSymbol: false, data: ov.trend.map((d) => d.orders) },
    ],
  }, { name: 'revenue' });
  const pointsChart = chart({
    color: [palette[1], palette[0], palette[6], palette[2]],
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0, data: [t('overview.pIssued'), t('overview.pRedeemed'), t('overview.pExpired'), t('overview.newMembers')] },
    grid: { left: 60, right: 50, top: 35, bottom: 55 },
    xAxis: { type: 'category', data: dates },
    yAxis: [{ type: 'value', name: t('overview.pointsAxis') }, { type: 'value', name: t('overview.membersAxis'), splitLine: { show: false } }],
    series: [
      { name: t('overview.pIssued'), type: 'line', showSymbol: false, areaStyle: { opacity: 0.15 }, data: ov.trend.map((d) => d.points_issued) },
      { name: t('overview.pRedeemed'), type: 'line', showSymbol: false, areaStyle: { opacity: 0.15 }, data: ov.trend.map((d) => d.points_redeemed) },
      { name: t('overview.pExpired'), type: 'line', showSymbol: false, data: ov.trend.map((d) => d.points_expired) },
      { name: t('overview.newMembers'), type: 'bar', yAxisIndex: 1, barMaxWidth: 8, data: ov.trend.map((d) => d.new_members) },
    ],
  }, { name: 'points' });

  const ladderBox = el('div', { class: 'ladder-box' }, el('div', { class: 'loading' }, t('common.loading')));
  const pointsCard = pts
    ? card(t('overview.pointsEconomy'), el('dl', { class: 'facts' },
      el('dt', {}, t('report.issued')), el('dd', {}, fmtNum(pts.issued)),
      el('dt', {}, t('report.redeemed')), el('dd', {}, fmtNum(pts.redeemed.points)),
      el('dt', {}, t('report.expired')), el('dd', {}, fmtNum(pts.expired)),
      el('dt', {}, t('report.breakage')), el('dd', {}, pts.breakage_rate === null ? '—' : fmtPct(pts.breakage_rate)),
      el('dt', {}, t('report.debt')), el('dd', {}, fmtNum(pts.outstanding_liability.debt))),
    el('p', { class: 'muted' }, t('overview.periodNote')))
    : card(t('overview.pointsEconomy'), stateBox('empty', rep.error ? rep.error.message : t('common.empty')));

  clear(main,
    el('div', { class: 'page-head' }, el('h1', {}, t('nav.overview')), range),
    tiles,
    el('div', { class: 'grid2' },
      card(t('overview.revenueTrend'), revenueChart),
      card(t('overview.pointsTrend'), pointsChart)),
    el('div', { class: 'grid2' },
      card(t('overview.ladder'), ladderBox),
      pointsCard));
  if (ctx.can('analytics:read')) drawLadder(ladderBox);
  else clear(ladderBox, stateBox('empty', t('error.forbidden')));
}

// The ladder distribution, or why there is none yet.
async function drawLadder(box) {
  try {
    const r = await analyticsGet('/v1/analytics/ladder');
    if (r.state === 'missing') { clear(box, stateBox('pending', t('analytics.notComputed'))); return; }
    if (r.state === 'pending') {
      const p = jobProgress(r.job, () => drawLadder(box));
      clear(box, stateBox('pending', t('analytics.computing'), p.el));
      return;
    }
    const stages = r.data.stages || [];
    if (!stages.length) { clear(box, stateBox('empty', t('analytics.notComputed'))); return; }
    clear(box,
      chart({
        color: palette,
        tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
        grid: { left: 90, right: 40, top: 10, bottom: 30 },
        xAxis: { type: 'value' },
        yAxis: { type: 'category', inverse: true, data: stages.map((s) => pick(s.name)) },
        series: [{ type: 'bar', data: stages.map((s, i) => ({ value: s.customers, itemStyle: { color: palette[i % palette.length] } })),
          label: { show: true, position: 'right' } }],
      }, { name: 'ladder', height: 260 }),
      el('p', { class: 'muted' }, t('overview.ladderNote').replace('{n}', fmtNum(r.data.customers))));
  } catch (e) {
    clear(box, errorBox(e));
  }
}
