/* catalog.h - rewards and the orders that deliver them (DESIGN §4.5 换购).
 *
 * CONTRACT FOR OTHER MODULES (auctions, group buys, trials, instalments,
 * specials): they charge points through the ledger themselves and then call
 * the *_in functions below inside the same write transaction, so stock,
 * points and the order commit or roll back together.
 *
 * Reward JSON: {"id","type":"physical|digital|coupon|service","name":{"zh","en"},
 *   "description":{"zh","en"},"price":{"points":N,"cash":fen},"stock":N|null
 *   (null = unlimited),"options":[{"code":"M-red","name":{…},"stock":N|null,
 *   "attrs":{"size":"M","colour":"red"}}],"limit":{"per_customer":N,"period":
 *   "day|month|year|ever"},"tiers":["gold",…]|null,"starts_at","ends_at","active"}
 * Order JSON: {"id","customer_id","reward_id","option","quantity","points",
 *   "cash","source":"redemption|special|auction|groupbuy|trial|instalment",
 *   "source_ref","status":"placed|shipped|delivered|cancelled","carrier",
 *   "tracking_number","created_at","updated_at"} */
#ifndef HD_CATALOG_H
#define HD_CATALOG_H

#include "domain/domain.h"

typedef struct hd_reward_info {
    int64_t id;
    char type[16];
    char name_zh[128], name_en[128];
    int64_t price_points, price_cash;
    bool active; /* active flag and within its window at now */
    bool unlimited;
    int64_t stock;
} hd_reward_info;

/* Reads a reward (option NULL: the reward itself). HD_ENOTFOUND when unknown. */
hd_rc hd_reward_get_in(hd_conn *c, hd_domain *d, int64_t reward_id, hd_reward_info *out,
                       hd_err *err);

/* Takes qty units of stock from the reward (and its option, when given) with
 * a conditional UPDATE: HD_ESTATE "out of stock" (field "stock") when there
 * are not enough, so racing buyers can never oversell. */
hd_rc hd_reward_take_stock_in(hd_conn *c, int64_t reward_id, const char *option, int qty,
                              hd_err *err);
/* Gives stock back (cancellations). */
hd_rc hd_reward_return_stock_in(hd_conn *c, int64_t reward_id, const char *option, int qty,
                                hd_err *err);

typedef struct hd_order_req {
    int64_t customer_id;
    int64_t reward_id;
    const char *option; /* may be NULL */
    int quantity;
    int64_t points;      /* points charged in all (already moved by the caller) */
    int64_t cash;        /* fen to be paid on top, 0 if none */
    int64_t transfer_id; /* the ledger transfer that charged the points, 0 if none */
    const char *source;  /* redemption, special, auction, groupbuy, trial, instalment */
    const char *source_ref;
    int64_t special_id;       /* the special that gave the price (hd_reward_take_in), or 0 */
    const char *usage_period; /* where the per-customer limit counted it, or NULL */
} hd_order_req;

/* What hd_reward_take_in took for a member's order, to record on it. */
typedef struct hd_reward_taken {
    char option[257];      /* named, or pre-selected from the member's specs; "" for none */
    int64_t unit_points;   /* the best price now: a special's, or the reward's own */
    int64_t unit_cash;     /* fen on top, per unit */
    int64_t special_id;    /* the special that gave unit_points, or 0 */
    char usage_period[24]; /* where the per-customer limit counted it, or "" */
} hd_reward_taken;

/* Everything a member's order of qty units of a reward must pass, each taken
 * as it is checked: on offer now, the member's tier, the option, the
 * per-customer limit (counted), the best special the member may have
 * (claimed; special_id != 0 asks for that one), the stock (taken). A refusal
 * is an error naming its reason; the caller's transaction undoes what was
 * taken. Redemptions and instalment plans both buy through it. */
hd_rc hd_reward_take_in(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t reward_id,
                        const char *option, int qty, int64_t special_id, hd_reward_taken *out,
                        hd_err *err);
/* Gives back what an order took when it is cancelled: the stock, the
 * special's units, the customer's allowance (special_id 0 and period NULL
 * when none was taken). */
hd_rc hd_reward_untake_in(hd_conn *c, int64_t customer_id, int64_t reward_id, const char *option,
                          int qty, int64_t special_id, const char *usage_period, hd_err *err);

/* Records an order in state "placed" (stock must already be taken). */
hd_rc hd_order_create_in(hd_conn *c, hd_domain *d, const hd_order_req *req, int64_t *order_id,
                         hd_err *err);

/* ==== added: the rest of the module's contract ====
 *
 * More reward fields: "spec_category":"jeans" (which of the customer's
 * remembered specs pre-select an option), "coupon_template_id" (type coupon:
 * redeeming issues coupons of that template), "sold", "available" (on offer
 * now with stock left), and, when read for a customer, "selected_option".
 * More order fields: "special_id", "unit_points", "transfer_id",
 * "refund_transfer_id", "shipped_at", "delivered_at", "cancelled_at",
 * "cancel_reason", "reward":{"type","name"}, "coupons":[codes].
 *
 * Refusals name their reason in err->field: "points" (not enough points),
 * "stock" (out of stock), "window"/"active" (not on offer), "limit"
 * (per-customer limit reached), "quantity" (a special's or a coupon
 * template's quantity is gone), "tier"/"eligibility" (HD_EFORBIDDEN: this
 * customer may not), "status" (wrong state transition). All but the
 * HD_EFORBIDDEN ones are HD_ESTATE. */

#define HD_REWARD_OPTIONS_MAX 50
#define HD_ORDER_QTY_MAX      100
#define HD_CATALOG_PAGE_MAX   200

/* Source of an order; NULL when s is not one of the six. */
const char *hd_order_source_check(const char *s);

/* ---- rewards (POST/GET /v1/rewards, GET/PATCH /v1/rewards/{id}) ---- */
hd_rc hd_reward_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status, json_t **out,
                       bool *replayed, hd_err *err);
typedef struct hd_reward_query {
    const char *type;    /* NULL: any */
    int available;       /* -1 any, 1 on offer now, 0 not */
    int64_t customer_id; /* 0: none; else pre-select options from the customer's specs */
    int64_t cursor;      /* 0: from the newest */
    int limit;
} hd_reward_query;
hd_rc hd_reward_list(hd_domain *d, const hd_reward_query *q, json_t **out, hd_err *err);
/* customer_id 0: plain; else "selected_option" is the option matching the
 * customer's remembered specs in the reward's spec_category (or null). */
hd_rc hd_reward_get(hd_domain *d, int64_t id, int64_t customer_id, json_t **out, hd_err *err);
hd_rc hd_reward_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);

/* ---- redemption and orders ---- */
/* POST /v1/redemptions {customer_id, reward_id, option?, quantity?,
 * special_id?}: one transaction checks window, tier, option, per-customer
 * limit, applies the best running special (or the named one, strictly),
 * takes stock, charges points (customer -> system:redemption) and records the
 * order. 201 with the order. */
hd_rc hd_redemption_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err);
hd_rc hd_order_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* GET /v1/customers/{id}/orders, newest first: {"data":[…],"next_cursor"}. */
hd_rc hd_order_list_customer(hd_domain *d, int64_t customer_id, const char *cursor, int limit,
                             json_t **out, hd_err *err);
/* action: "ship" {carrier, tracking_number}, "deliver", "cancel" {reason?}
 * (in may be NULL for the last two). HD_ESTATE "status" when the order is not
 * in a state the action leaves from. */
hd_rc hd_order_transition(hd_domain *d, int64_t id, const char *action, const json_t *in,
                          json_t **out, hd_err *err);
/* Inside a transaction: cancels a placed or shipped order, refunding its
 * points (system:redemption -> customer, code refund), returning stock and
 * the customer's limit and special allowances. */
hd_rc hd_order_cancel_in(hd_conn *c, hd_domain *d, int64_t order_id, const char *reason,
                         hd_err *err);

/* ---- monthly specials (月度特惠) ----
 * Special JSON: {"id","reward_id","title":{"zh","en"},"points","regular_points",
 *   "starts_at","ends_at","quantity":N|null,"sold","remaining","per_customer":
 *   N|null,"eligibility":"customer.tier == \"gold\"","tier_access":bool,
 *   "active","status":"scheduled|running|ended|sold_out|inactive"} */
hd_rc hd_special_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                        json_t **out, bool *replayed, hd_err *err);
typedef struct hd_special_query {
    int64_t reward_id;   /* 0: any */
    bool running;        /* only those running now */
    int64_t customer_id; /* 0: none; else only those this customer can take now */
    int limit;
} hd_special_query;
hd_rc hd_special_list(hd_domain *d, const hd_special_query *q, json_t **out, hd_err *err);
hd_rc hd_special_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
hd_rc hd_special_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);
/* month "2026-03": {"month","days":[{"date":"2026-03-01","specials":[…]}…]} */
hd_rc hd_special_calendar(hd_domain *d, const char *month, json_t **out, hd_err *err);

/* ---- eligibility expressions (specials, coupon segments; usable by trials) ----
 * A condition in the rules language over customer.tier|city|orders|revenue|
 * events|points|tags, customer.attributes.<path>, customer.specs.<cat>.<key>,
 * tier.multiplier, and count(<event type>, window) / sum(amount, window) up
 * to now. */
hd_rc hd_catalog_check_expr(const char *src, const char *field, hd_err *err);
/* *ok is false when the condition is false, null, or fails to evaluate. */
hd_rc hd_catalog_eligible_in(hd_conn *c, hd_domain *d, int64_t customer_id, const char *src,
                             bool *ok, hd_err *err);

/* ---- coupons (优惠券) ----
 * Template JSON: {"id","name":{"zh","en"},"discount":{"type":"amount|percent",
 *   "amount":fen,"percent":N,"max":fen|null},"min_spend":fen,"validity":{"from",
 *   "to"}|{"days":N},"claim":{"starts_at","ends_at"},"per_customer":N|null,
 *   "quantity":N|null,"given","remaining","segment":"…","active"}
 * Coupon JSON: {"code","template_id","customer_id"|null,"origin":"issue|claim|
 *   reward","status":"available|redeemed|expired","valid_from","valid_to",
 *   "order_ref","discount","redeemed_at","created_at"} */
#define HD_COUPON_CODE_LEN  18 /* base-31 characters: 31^18 > 2^89 */
#define HD_COUPON_ISSUE_MAX 10000

hd_rc hd_coupon_template_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                                json_t **out, bool *replayed, hd_err *err);
hd_rc hd_coupon_template_list(hd_domain *d, json_t **out, hd_err *err);
hd_rc hd_coupon_template_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
hd_rc hd_coupon_template_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out,
                               hd_err *err);
/* {count, customer_ids?}: count bearer codes, or count to each customer; all
 * or nothing. 201 {"issued":N,"coupons":[…]} */
hd_rc hd_coupon_issue(hd_domain *d, const hd_idem *im, int64_t template_id, const json_t *in,
                      int *status, json_t **out, bool *replayed, hd_err *err);
/* {customer_id}: 201 with the coupon. */
hd_rc hd_coupon_claim(hd_domain *d, const hd_idem *im, int64_t template_id, const json_t *in,
                      int *status, json_t **out, bool *replayed, hd_err *err);
/* {code, customer_id, order_ref, amount}: 200 {"code","discount","amount",
 * "payable"}; the same order_ref again replays the answer. */
hd_rc hd_coupon_redeem(hd_domain *d, const json_t *in, json_t **out, hd_err *err);
/* {order_ref?}: a redeemed coupon becomes available again. */
hd_rc hd_coupon_restore(hd_domain *d, const char *code, const json_t *in, json_t **out,
                        hd_err *err);
hd_rc hd_coupon_get(hd_domain *d, const char *code, json_t **out, hd_err *err);
hd_rc hd_coupon_list_customer(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* Issued, claimed, redeemed by day (UTC) in [from, to); template_id 0: all. */
hd_rc hd_coupon_report(hd_domain *d, int64_t template_id, int64_t from_ms, int64_t to_ms,
                       json_t **out, hd_err *err);
/* Inside a transaction: gives one coupon of a template to a customer (limits
 * and quantity enforced; eligibility when check_segment). code gets the code. */
hd_rc hd_coupon_give_in(hd_conn *c, hd_domain *d, int64_t template_id, int64_t customer_id,
                        const char *origin, const char *origin_ref, bool check_segment,
                        char code[HD_COUPON_CODE_LEN + 1], hd_err *err);

/* ---- points productivity (积分生产力), GET /v1/reports/points ---- */
hd_rc hd_points_report(hd_domain *d, int64_t from_ms, int64_t to_ms, json_t **out, hd_err *err);

/* Merge hook: orders, usage counters and coupons follow the survivor. */
hd_rc hd_catalog_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                          hd_err *err);

#endif
