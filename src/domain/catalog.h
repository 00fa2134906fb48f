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
} hd_order_req;

/* Records an order in state "placed" (stock must already be taken). */
hd_rc hd_order_create_in(hd_conn *c, hd_domain *d, const hd_order_req *req, int64_t *order_id,
                         hd_err *err);

#endif
