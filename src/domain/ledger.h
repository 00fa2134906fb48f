/* ledger.h - points as money (DESIGN §4.3): double-entry accounts and
 * transfers, holds that post or void or time out, lots that expire, debt
 * repaid first, the programme settings, and the invariant check.
 *
 * Accounts are named "customer:{id}" (points), "customer:{id}:growth", and
 * "system:issuance|redemption|expiry|adjustment|growth". A member account's
 * debits + pending debits never exceed its credits + credit limit (checked
 * by a conditional UPDATE in the same transaction as the write, so it holds
 * under any concurrency, on either store, with any number of nodes).
 *
 * Transfer JSON: {"id","key","debit","credit","amount","code","reference",
 *   "status":"posted|pending|voided","timeout_at","created_at","resolved_at"} */
#ifndef HD_LEDGER_H
#define HD_LEDGER_H

#include "domain/domain.h"

#define HD_TRANSFER_KEY_MAX   200
#define HD_TRANSFER_BATCH_MAX 1000
#define HD_AMOUNT_MAX         1000000000000LL /* one transfer: 10^12 points */

typedef struct hd_transfer_req {
    const char *key;   /* the client's idempotency id; required */
    const char *debit; /* account names */
    const char *credit;
    int64_t amount;        /* > 0 */
    const char *code;      /* earn, redeem, expire, refund, adjust, hold, … */
    const char *reference; /* what caused it: "event:123", "order:A-1", … */
    bool pending;
    int64_t timeout_s; /* pending only; 0 = never times out */
    bool force;        /* internal: may take a member below its limit (reversals) */
    bool lots_taken;   /* internal: the caller already took the debit out of lots (expiry) */
} hd_transfer_req;

typedef struct hd_transfer_res {
    int64_t id;
    bool replayed; /* the key was seen with the same request (the fields below are unset) */
    int64_t created_at, timeout_at; /* timeout_at 0: none */
    char debit[64], credit[64];     /* canonical account names */
} hd_transfer_res;

/* ---- inside a write transaction (for other modules) ---- */

/* Applies one transfer. HD_ESTATE "insufficient" when the debit account
 * would pass its limit; HD_ECONFLICT when the key was used for another
 * request; HD_EINVAL for bad accounts/amounts (field named). */
hd_rc hd_ledger_transfer_in(hd_conn *c, hd_domain *d, const hd_transfer_req *t,
                            hd_transfer_res *res, hd_err *err);
/* Posts (post=true) or voids a pending transfer. HD_ESTATE when it is no
 * longer pending. */
hd_rc hd_ledger_resolve_in(hd_conn *c, hd_domain *d, int64_t id, bool post, hd_err *err);
/* The account id for a customer's points or growth, created on first use. */
hd_rc hd_ledger_account_in(hd_conn *c, hd_domain *d, int64_t customer_id, const char *currency,
                           int64_t *account_id, hd_err *err);
/* Balance (credits - debits, posted) and available (balance - pending
 * debits + limit) of an account. */
hd_rc hd_ledger_balance_in(hd_conn *c, int64_t account_id, int64_t *balance, int64_t *available,
                           hd_err *err);
/* Sets a member's credit limit (overdraft). */
hd_rc hd_ledger_set_limit_in(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t limit,
                             hd_err *err);

/* ---- the API ---- */
hd_rc hd_ledger_transfer(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err);
/* {"transfers":[…], "linked":bool}: 200 {"results":[…]}; linked: all or none. */
hd_rc hd_ledger_transfer_batch(hd_domain *d, const json_t *in, int *status, json_t **out,
                               hd_err *err);
hd_rc hd_ledger_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
hd_rc hd_ledger_resolve(hd_domain *d, int64_t id, bool post, json_t **out, hd_err *err);
/* GET /v1/customers/{id}/points */
hd_rc hd_ledger_points(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* GET /v1/customers/{id}/points/history, newest first */
hd_rc hd_ledger_history(hd_domain *d, int64_t customer_id, const char *cursor, int limit,
                        json_t **out, hd_err *err);
hd_rc hd_program_get(hd_domain *d, json_t **out, hd_err *err);
hd_rc hd_program_patch(hd_domain *d, const json_t *in, json_t **out, hd_err *err);

/* Verifies every invariant over the whole store; *report lists what was
 * checked and every violation. HD_ESTATE when anything is wrong. */
hd_rc hd_ledger_check(hd_domain *d, json_t **report, hd_err *err);

/* Expires one member's lots that are due by now, as the scheduled job does
 * for everyone (the demo replays its history member by member). */
hd_rc hd_ledger_expire_due_in(hd_conn *c, hd_domain *d, int64_t customer_id, hd_err *err);
/* Scheduled: voids pending transfers past their timeout, expires lots. */
hd_rc hd_ledger_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);
/* Merge hook: a merged customer's points follow the survivor. */
hd_rc hd_ledger_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                         hd_err *err);

/* Programme settings read inside a transaction. */
typedef struct hd_program {
    char expiry_policy[16]; /* none, days, end_of_month */
    int expiry_days;
    int expiry_months;
    int tier_window_months;
    int64_t default_credit_limit;
} hd_program;
hd_rc hd_program_load_in(hd_conn *c, hd_program *p, hd_err *err);
/* The same through this node's cache (at most a second old; changes made
 * here drop it at once with hd_program_forget). */
hd_rc hd_program_cached_in(hd_conn *c, hd_domain *d, hd_program *p, hd_err *err);
void hd_program_forget(hd_domain *d);
/* Module state hung on the domain. */
hd_rc hd_ledger_init(hd_domain *d, hd_err *err);
void hd_ledger_free(hd_domain *d);
/* A lot that never expires stores this expiry, so lots sort by expiry in an index. */
#define HD_NEVER INT64_MAX
/* When a lot earned at `at` expires under p - "end_of_month" is the end of
 * the brand's month, on the calendar cal carries; HD_NEVER when it does not. */
int64_t hd_program_expiry(const hd_program *p, const hd_clock *cal, int64_t at_ms);

#endif
