/* tiers.h - member tiers from growth earned over a rolling window (DESIGN
 * §4.4): thresholds, benefits (earn multiplier, credit limit, access to
 * specials, auctions, trials), immediate upgrades, downgrades after a grace
 * period, and each member's tier history.
 *
 * Tier JSON: {"id","code":"gold","name":{"zh":"金卡","en":"Gold"},
 *   "threshold":growth,"multiplier":1.5,"credit_limit":points|null,
 *   "grace_days":30,"access":{"specials":true,"auctions":false,"trials":true}} */
#ifndef HD_TIERS_H
#define HD_TIERS_H

#include "domain/domain.h"

typedef struct hd_tier_info {
    bool has; /* false: the member has no tier */
    int64_t id;
    char code[64];
    double multiplier; /* 1.0 without a tier */
    bool access_specials, access_auctions, access_trials;
} hd_tier_info;

hd_rc hd_tier_create(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err);
hd_rc hd_tier_list(hd_domain *d, json_t **out, hd_err *err);
hd_rc hd_tier_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);
/* GET /v1/customers/{id}/tier: current tier, window growth, history. */
hd_rc hd_tier_customer(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);

/* Inside a transaction: the member's tier (has=false when none). */
hd_rc hd_tier_of_in(hd_conn *c, int64_t customer_id, hd_tier_info *out, hd_err *err);
/* Growth earned in the programme's window up to now. */
hd_rc hd_tier_window_growth_in(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t *out,
                               hd_err *err);
/* Re-evaluates one member after growth changed: upgrades at once; a member
 * below their tier's threshold is downgraded once the grace period passed. */
hd_rc hd_tier_evaluate_in(hd_conn *c, hd_domain *d, int64_t customer_id, hd_err *err);
/* Scheduled: downgrades whose grace period ran out. */
hd_rc hd_tier_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

#endif
