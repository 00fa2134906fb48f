/* auctions.h - points auctions (竞拍, DESIGN §4.5): a reward goes to the
 * highest bid in points between a start and an end.
 *
 * A bid must reach the starting bid (the first) or beat the leader by the
 * increment; it holds its points (a pending ledger transfer customer →
 * system:redemption). Being outbid voids the previous leader's hold; raising
 * your own bid voids your old hold and holds the new amount, in that order
 * and in one transaction, so the old hold never counts twice. Bids
 * serialise on the auction row: one conditional UPDATE claims the lead only
 * if the amount still beats the leader it sees, so racing bidders can never
 * both win. A bid in the last anti_sniping.window_s seconds extends the end
 * by window_s, up to max_extension_s past the end as scheduled.
 *
 * At close (the "auctions" job: server scheduler, POST /v1/test/clock,
 * `hudong tick`) the winner's hold posts, one unit of stock is taken and an
 * order (source "auction") is created. Below the reserve, with no bids, or
 * with no stock left, every hold is voided.
 *
 * Auction JSON: {"id","reward_id","option","title":{"zh","en"},"starts_at",
 *   "ends_at","scheduled_end","starting_bid","increment","reserve"|null,
 *   "anti_sniping":{"window_s","max_extension_s"},"tier_required",
 *   "status":"scheduled|open|closing|closed","outcome":null|"sold"|
 *   "reserve_not_met"|"no_bids"|"out_of_stock","current_bid"|null,
 *   "leader":"张**"|null,"min_next_bid"|null,"reserve_met","bids",
 *   "winner_customer_id"|null,"order_id"|null,"closed_at","created_at",
 *   "updated_at"}
 * Bid JSON (public history): {"id","seq","bidder":"张**","amount",
 *   "status":"leading|outbid|replaced|won|lost","created_at"}; seq numbers
 * the bids of an auction 1, 2, … in the order they took the lead (ids are
 * drawn before waiting for the row, so only seq orders racing bids). The
 * answer to a bid adds "customer_id", "transfer_id" and the auction. */
#ifndef HD_AUCTIONS_H
#define HD_AUCTIONS_H

#include "domain/domain.h"

#define HD_AUCTION_PAGE_MAX     200
#define HD_AUCTION_TITLE_MAX    100                /* characters per language */
#define HD_AUCTION_DURATION_MAX (366LL * 86400000) /* ms from start to scheduled end */
#define HD_AUCTION_WINDOW_MAX_S 86400              /* anti-sniping window */
#define HD_AUCTION_EXTEND_MAX_S (7 * 86400)        /* total anti-sniping extension */
#define HD_OPTION_CODE_MAX      64                 /* reward option codes (catalog) */

/* POST /v1/auctions: 201 with the auction. */
hd_rc hd_auction_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                        json_t **out, bool *replayed, hd_err *err);
/* GET /v1/auctions?status=scheduled|open|closing|closed, newest first:
 * {"data":[…],"next_cursor"}; cursor 0 = from the newest. */
hd_rc hd_auction_list(hd_domain *d, const char *status, int64_t cursor, int limit, json_t **out,
                      hd_err *err);
hd_rc hd_auction_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* PATCH before the start only (HD_ESTATE afterwards); the same fields as create. */
hd_rc hd_auction_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);
/* POST /v1/auctions/{id}/bids {customer_id, amount}: 201 with the bid.
 * HD_ESTATE (409) "bid too low" naming amount, "insufficient points" naming
 * amount, auction not open naming status; HD_EFORBIDDEN (403) when the
 * auction requires a tier with access to auctions. */
hd_rc hd_auction_bid(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                     json_t **out, bool *replayed, hd_err *err);
/* GET /v1/auctions/{id}/bids: public history, newest first, names masked. */
hd_rc hd_auction_bids(hd_domain *d, int64_t id, int64_t cursor, int limit, json_t **out,
                      hd_err *err);

/* Scheduled: closes every auction whose end has passed. */
hd_rc hd_auction_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

/* ---- masked names, shared by auctions, group buys and trials ----
 * The first character of the name and "**" (张伟 → 张**); without a name the
 * phone as 138****8000 (country code +86 dropped); "***" when neither. */
void hd_mask_display(const char *name, const char *phone, char *out, size_t cap);
/* The masked display name of a customer, read inside a transaction. */
hd_rc hd_mask_customer_in(hd_conn *c, int64_t customer_id, char *out, size_t cap, hd_err *err);

/* ---- input and output helpers shared by the spending modules ---- */
/* Reads the optional member "title" {"zh","en"} (each up to
 * HD_AUCTION_TITLE_MAX characters); null clears both. */
hd_rc hd_spend_title(const json_t *in, char *zh, size_t zcap, char *en, size_t ecap, hd_err *err);
/* Sets o.title when either language is set. */
void hd_spend_title_json(json_t *o, const char *zh, const char *en);
/* Reads the optional member "option" (a reward option code); null clears. */
hd_rc hd_spend_option(const json_t *in, bool *has, char *out, size_t cap, hd_err *err);
/* Reads a required "customer_id" from in (outside a transaction). */
hd_rc hd_spend_customer_field(const json_t *in, int64_t *id, hd_err *err);
/* Follows merges to the live customer; unknown is HD_EINVAL naming customer_id. */
hd_rc hd_spend_customer_in(hd_conn *c, int64_t id, int64_t *live, hd_err *err);

#endif
