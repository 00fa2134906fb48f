/* touchpoints.h - the touchpoint inventory (DESIGN §4.2): where the brand
 * meets customers, what each costs, and what each brings back.
 *
 * Touchpoint JSON: {"id","code":"wechat","name":"微信服务号","channel":"wechat",
 *   "purpose":"service"|"marketing","cost_month":fen,"created_at","updated_at"} */
#ifndef HD_TOUCHPOINTS_H
#define HD_TOUCHPOINTS_H

#include "domain/domain.h"

/* Last-touch attribution window for the report. */
#define HD_ATTRIBUTION_WINDOW_MS (7LL * 24 * 3600 * 1000)

hd_rc hd_touchpoint_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err);
hd_rc hd_touchpoint_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
hd_rc hd_touchpoint_list(hd_domain *d, json_t **out, hd_err *err);
hd_rc hd_touchpoint_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);
hd_rc hd_touchpoint_delete(hd_domain *d, int64_t id, hd_err *err);
/* Per touchpoint over [from, to): events, distinct customers, orders and
 * revenue attributed by last touch within 7 days, and revenue per fen of cost
 * (cost prorated over the period). Sorted by revenue per cost, best first. */
hd_rc hd_touchpoint_report(hd_domain *d, int64_t from_ms, int64_t to_ms, json_t **out, hd_err *err);

#endif
