/* catalog_int.h - shared by catalog.c, catalog_orders.c, catalog_specials.c,
 * coupons.c and catalog_report.c; not for other modules (they use
 * catalog.h). */
#ifndef HD_CATALOG_INT_H
#define HD_CATALOG_INT_H

#include "domain/catalog.h"

#define CAT_NAME_MAX  100  /* characters in a name */
#define CAT_DESC_MAX  2000 /* characters in a description */
#define CAT_CODE_MAX  64   /* characters in an option code */
#define CAT_TIERS_MAX 32

/* A reward row, everything redemption needs. */
typedef struct cat_reward {
    int64_t id;
    char type[16];
    char name_zh[128], name_en[128];
    int64_t price_points, price_cash;
    bool unlimited;
    int64_t stock;
    bool has_limit;
    int64_t limit_n;
    char limit_period[8];
    json_t *tiers; /* owned array of codes, or NULL: everyone */
    char spec_category[64];
    int64_t coupon_template_id;
    int64_t starts_at, ends_at; /* 0 = open */
    bool active;
    int noptions;
} cat_reward;

/* Loads a reward; HD_ENOTFOUND (field given) when unknown. Free with
 * cat_reward_free. */
hd_rc cat_reward_load(hd_conn *c, int64_t id, const char *field, cat_reward *out, hd_err *err);
void cat_reward_free(cat_reward *r);

/* The option code matching the customer's remembered specs in the reward's
 * spec_category: every attribute both name agrees, at least one does, the
 * most agreeing wins and an option in stock beats one that is not. *code is
 * "" when none matches. */
hd_rc cat_spec_match(hd_conn *c, int64_t customer_id, int64_t reward_id, const char *category,
                     char code[CAT_CODE_MAX * 4 + 1], hd_err *err);

/* "day:2026-03-05", "month:2026-03", "year:2026" or "ever" for now_ms, on
 * the brand's calendar (cal). */
void cat_period_key(const char *period, const hd_clock *cal, int64_t now_ms, char out[24]);

/* Adds n to a customer's usage of (kind, ref, period) unless that passes
 * limit (limit < 0: no limit, only counted). *ok false when refused; race
 * safe: a conditional UPDATE, or an insert that loses a race retries. */
hd_rc cat_usage_take(hd_conn *c, int64_t customer_id, const char *kind, int64_t ref,
                     const char *period, int64_t n, int64_t limit, bool *ok, hd_err *err);
hd_rc cat_usage_release(hd_conn *c, int64_t customer_id, const char *kind, int64_t ref,
                        const char *period, int64_t n, hd_err *err);
hd_rc cat_usage_get(hd_conn *c, int64_t customer_id, const char *kind, int64_t ref,
                    const char *period, int64_t *n, hd_err *err);

/* Best special for an order at now: the lowest points price below
 * regular_points among running specials the customer is eligible for, with
 * quantity and per-customer allowance left, claimed on the spot (sold and
 * usage go up). forced_id != 0 names one special: any reason it cannot
 * apply is an error naming it. *special_id 0 when none applies. */
hd_rc cat_special_apply(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t reward_id,
                        int64_t regular_points, int qty, int64_t forced_id, int64_t *special_id,
                        int64_t *unit_points, hd_err *err);
/* Gives a cancelled order's units back to the special and the customer. */
hd_rc cat_special_release(hd_conn *c, int64_t special_id, int64_t customer_id, int qty,
                          hd_err *err);

/* Reads an order as JSON inside a transaction. */
hd_rc cat_order_load(hd_conn *c, int64_t id, json_t **out, hd_err *err);

/* {"zh":…,"en":…} */
json_t *cat_names(const char *zh, const char *en);
/* Reads obj[field] = {"zh","en"}: zh required when required; each at most
 * max characters. Outputs may be NULL when absent. */
hd_rc cat_parse_names(const json_t *obj, const char *field, bool required, size_t max,
                      const char **zh, const char **en, hd_err *err);
/* A nullable integer column as JSON. */
json_t *cat_opt_int(hd_rows *r, int col);
/* Reads an optional integer member that may be null: *present false when
 * absent, *is_null when null; checks min..max. */
hd_rc cat_json_nint(const json_t *obj, const char *field, int64_t min, int64_t max, bool *present,
                    bool *is_null, int64_t *out, hd_err *err);
/* A customer id from the body (required), followed to the survivor of merges;
 * HD_EINVAL naming field when missing or unknown. */
hd_rc cat_customer_in(hd_conn *c, const json_t *in, const char *field, int64_t *id, hd_err *err);

#endif
