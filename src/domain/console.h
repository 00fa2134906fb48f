/* console.h - what the console needs that no other module owns (DESIGN §4.11,
 * issue 6): the overview's headline counts and day-by-day trends, an operator's
 * merge of two customers the duplicates list names, and a segment condition's
 * member count before it is saved. Read models only, except the merge, which
 * goes through hd_customer_merge in one write transaction. */
#ifndef HD_CONSOLE_H
#define HD_CONSOLE_H

#include "domain/domain.h"

#define HD_CONSOLE_DAYS_MIN   7
#define HD_CONSOLE_DAYS_MAX   366
#define HD_CONSOLE_SAMPLE_MAX 20 /* customer ids a segment preview returns */
#define HD_CONSOLE_REASON_MAX 200
#define HD_CONSOLE_EXPR_MAX   4096 /* bytes, as for a saved segment */

/* GET /v1/console/overview?days=N: as of now,
 *   {"as_of","from","to","days","members","active_30d","new_30d","orders","revenue",
 *    "orders_30d","revenue_30d",
 *    "trend":[{"date":"YYYY-MM-DD","revenue","orders","new_members","points_issued",
 *              "points_redeemed","points_expired"}…]}
 * Members are customers neither merged nor erased; orders and revenue (fen) count
 * paid orders not refunded; points are posted ledger transfers from
 * system:issuance, to system:redemption and to system:expiry. The trend has one
 * entry per UTC day, the last being today, days in all (HD_CONSOLE_DAYS_MIN to
 * HD_CONSOLE_DAYS_MAX, else HD_EINVAL naming "days"). Caller frees *out. */
hd_rc hd_console_overview(hd_domain *d, int days, json_t **out, hd_err *err);

/* POST /v1/customers/merge {"survivor":id,"merged":id,"reason"?}: merges the second
 * into the first (identities, events, orders, points, tags move; the merged id then
 * answers 301 to the survivor). HD_EINVAL for a missing or equal pair,
 * HD_ENOTFOUND for an unknown id, HD_ECONFLICT when the two are already one
 * customer, HD_ESTATE when either was erased. actor names who asked, for the
 * merge record. *out is {"survivor":<customer>,"merged_id":"…"}; caller frees. */
hd_rc hd_console_merge(hd_domain *d, const json_t *in, const char *actor, json_t **out,
                       hd_err *err);

/* GET /v1/console/segments/preview?expression=…: how many customers the
 * condition selects now, without saving a segment:
 * {"expression","count","sample":[{id,name,city}…]} (the first members by id). A condition that
 * does not compile is HD_EINVAL / HD_ESYNTAX naming "expression" ("line L, column C: …"). */
hd_rc hd_console_segment_preview(hd_domain *d, const char *expression, json_t **out, hd_err *err);

#endif
