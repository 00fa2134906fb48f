/* instalments.h - points instalments (积分分期, DESIGN §4.5): take a reward
 * now and pay its points in 3, 6 or 12 instalments, monthly or weekly.
 *
 * One transaction takes a unit of stock, charges the first instalment
 * (posted, customer → system:redemption), holds the unpaid rest (a pending
 * transfer with no timeout, so it counts against the member's available
 * points and credit limit: the same limit cannot be used twice) and creates
 * the order (source "instalment") at once. The first instalments carry the
 * remainder when the price does not divide evenly.
 *
 * At each due date the "instalments" job (server scheduler, POST
 * /v1/test/clock, `hudong tick`) voids the hold and, in the same
 * transaction, posts the instalment and holds the smaller rest. The hold
 * guaranteed the instalment, so it posts even when that takes the balance
 * below zero (overdraft) or the limit was cut meanwhile; when the new hold
 * no longer fits the member's limit the plan becomes delinquent: no hold,
 * later instalments are tried when due (and the hold re-placed when it fits
 * again, making the plan active), and the member may start no new plan.
 * Transfer keys come from the plan id: "inst:<plan>:<n>:post",
 * "inst:<plan>:<n>:hold", "inst:<plan>:payoff", "inst:<plan>:refund";
 * every transfer has reference "instalment:<plan>".
 *
 * Plan JSON: {"id","customer_id","reward_id","option","order_id","plan":3|6|12,
 *   "interval":"month|week","total","paid","remaining","held","overdue",
 *   "paid_count","status":"active|paid_off|delinquent|cancelled",
 *   "payoff":"schedule|early"|null,"next_due":{"n","amount","due_at"}|null,
 *   "schedule":[{"n","amount","due_at","status":"paid|scheduled|overdue|
 *   cancelled","paid_at"}],"hold_transfer_id","refunded","delinquent_at",
 *   "delinquent_reason","paid_off_at","cancelled_at","cancel_reason",
 *   "created_at","updated_at"}
 *
 * Refusals name their reason in err->field: "points" (not enough available
 * for the first instalment or for the held rest), "stock", "active" (reward
 * not on offer), "tier" (HD_EFORBIDDEN), "delinquent" (the member has a
 * delinquent plan), "status" (wrong state); bad input names its field
 * ("plan", "interval", "reward_id", "customer_id", "option"). */
#ifndef HD_INSTALMENTS_H
#define HD_INSTALMENTS_H

#include "domain/domain.h"

#define HD_INSTALMENT_PAGE_MAX    200
#define HD_INSTALMENT_REASON_MAX  200 /* characters in a cancel reason */
#define HD_INSTALMENT_REPORT_LIST 100 /* delinquent plans listed in the report */

/* POST /v1/instalments {customer_id, reward_id, option?, plan, interval?}:
 * 201 with the plan (its order already placed). */
hd_rc hd_instalment_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err);
hd_rc hd_instalment_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* GET /v1/customers/{id}/instalments, newest first: {"data":[…],
 * "next_cursor"}; cursor 0 = from the newest. */
hd_rc hd_instalment_list_customer(hd_domain *d, int64_t customer_id, int64_t cursor, int limit,
                                  json_t **out, hd_err *err);
/* POST /v1/instalments/{id}/payoff: an active plan's hold posts; a
 * delinquent plan's rest is charged now (HD_ESTATE "points" when it does not
 * fit). 200 with the plan, status paid_off. */
hd_rc hd_instalment_payoff(hd_domain *d, const hd_idem *im, int64_t id, int *status, json_t **out,
                           bool *replayed, hd_err *err);
/* POST /v1/instalments/{id}/cancel {reason?}: while the order is still
 * placed (nothing shipped): the hold is voided, what was paid refunded
 * (system:redemption → customer, code refund), the stock returned, the order
 * and the plan cancelled. */
hd_rc hd_instalment_cancel(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in,
                           int *status, json_t **out, bool *replayed, hd_err *err);
/* GET /v1/reports/instalments: outstanding points in all and by status,
 * overdue instalments, the delinquent plans (oldest first, up to
 * HD_INSTALMENT_REPORT_LIST). */
hd_rc hd_instalment_report(hd_domain *d, json_t **out, hd_err *err);

/* Inside a transaction: the points a member still owes on plans that are
 * active or delinquent. */
hd_rc hd_instalment_outstanding_in(hd_conn *c, int64_t customer_id, int64_t *out, hd_err *err);

/* Scheduled: collects every instalment that fell due. */
hd_rc hd_instalment_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);
/* Merge hook: a merged member's plans follow the survivor. */
hd_rc hd_instalment_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                             hd_err *err);

#endif
