/* credit.h - overdraft (透支, DESIGN §4.5): where a member's credit limit
 * comes from, and what happens to debt that stays unpaid.
 *
 * A member may spend down to -credit_limit (the ledger enforces it; new
 * earnings repay debt first). The limit comes from the member's tier (tiers
 * set it on a tier change), by hand (PUT /v1/customers/{id}/credit, which
 * pins it: the formula leaves a pinned member alone until the pin is
 * removed with "limit": null), or from the programme setting credit_formula,
 * an expression in the rules language over customer.orders, .revenue,
 * .events, .tier, .city, customer.attributes.*, clv (or customer.clv: the
 * last CLV run, fen, null before one) and tier.credit_limit. The formula is
 * parsed once per run and applied by the "credit" job once a day (of the
 * store's clock) and on demand (POST /v1/credit/recompute); a bad formula is
 * refused with its line and column. A null result leaves the limit as it is;
 * a negative one counts as 0.
 *
 * Overdue debt: the job (at most once a minute of the clock) notes when each
 * member's balance was first seen below zero. A member negative for more
 * than overdue_days (programme setting, default 30) has the limit lowered to
 * zero (hd_ledger_set_limit_in records the excess, so hudong check stays
 * green) - the member can spend nothing more on credit - until the debt is
 * repaid; then the previous limit is restored. A limit set meanwhile by
 * hand, by a tier change or by the formula is kept aside and applies once
 * the debt is repaid. Every change this module makes is in the credit log.
 *
 * Credit JSON (GET /v1/customers/{id}/credit): {"customer_id","credit_limit",
 *   "balance","pending","available","debt","negative_since","days_negative",
 *   "overdue","frozen","frozen_at","saved_limit","pinned","manual_limit",
 *   "manual_reason","instalments_outstanding","overdue_days","history":[{
 *   "source":"manual|formula|overdue|repaid","old_limit","new_limit","reason",
 *   "at"}]} */
#ifndef HD_CREDIT_H
#define HD_CREDIT_H

#include "domain/domain.h"

#define HD_CREDIT_OVERDUE_DAYS_DEFAULT 30
#define HD_CREDIT_OVERDUE_DAYS_MAX     3650
#define HD_CREDIT_SCAN_INTERVAL_MS     60000LL    /* the debt scan, of the store's clock */
#define HD_CREDIT_RECOMPUTE_MS         86400000LL /* the formula, once a day */
#define HD_CREDIT_PAGE_MAX             200
#define HD_CREDIT_REASON_MAX           200 /* characters */
#define HD_CREDIT_HISTORY              20  /* log entries in a member's credit view */

/* GET /v1/credit/settings: {"credit_formula":"…"|null,"overdue_days":N}. */
hd_rc hd_credit_settings_get(hd_domain *d, json_t **out, hd_err *err);
/* PATCH /v1/credit/settings {credit_formula?: "…"|null, overdue_days?}. A
 * formula that does not parse, reads unknown fields or cannot be a number
 * is HD_EINVAL naming credit_formula, with "line L, column C: " in the
 * message (hd_expr_error_pos). */
hd_rc hd_credit_settings_patch(hd_domain *d, const json_t *in, json_t **out, hd_err *err);
/* Checks a credit formula as PATCH does. */
hd_rc hd_credit_check_formula(const char *src, hd_err *err);

/* GET /v1/customers/{id}/credit */
hd_rc hd_credit_get(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* PUT /v1/customers/{id}/credit {limit: N|null, reason}: sets and pins the
 * limit (kept aside while the member is frozen for overdue debt); null
 * removes the pin and applies the formula, if any. 200 with the credit view. */
hd_rc hd_credit_set(hd_domain *d, int64_t customer_id, const json_t *in, json_t **out, hd_err *err);
/* POST /v1/credit/recompute {customer_id?}: applies the formula now (to one
 * member or all) and runs the debt scan: {"formula","examined","changed",
 * "unchanged","pinned","deferred","skipped","errors":[…],"debt":{…}}. */
hd_rc hd_credit_recompute(hd_domain *d, const json_t *in, json_t **out, hd_err *err);
/* GET /v1/reports/credit: members in debt, the outstanding debt, overdue
 * (members, points), frozen members, and the members in debt by customer id
 * (paged: cursor 0 = from the start). */
hd_rc hd_credit_report(hd_domain *d, int64_t cursor, int limit, json_t **out, hd_err *err);

/* Scheduled: the debt scan (once a minute) and the formula (once a day). */
hd_rc hd_credit_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);
/* Merge hook: the loser's debt moved to the survivor's account (ledger), so
 * its tracking row goes; its log follows the survivor. */
hd_rc hd_credit_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                         hd_err *err);

#endif
