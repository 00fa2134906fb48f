/* groupbuys.h - points group buys (团购, DESIGN §4.5): a reward at a group
 * price once N members join before a deadline.
 *
 * A deal names the reward, the group size N, the price per member, the time
 * a group has to fill and the deal's own stock in units. A member starts a
 * group (it reserves N units of the deal's stock: when the rest cannot cover
 * another group, no more groups start) and gets a share code; the starter
 * and everyone who joins by the code hold the price (a pending ledger
 * transfer). The N-th join posts every hold, takes N units of the reward's
 * stock and creates N orders (source "groupbuy") in its own transaction;
 * when the time runs out (the "groupbuys" job) every hold is voided and the
 * reservation returns to the deal. One member, one place per group. Joins
 * serialise on the group row (a conditional UPDATE of the member count), so
 * however many race, exactly N get in.
 *
 * A join through a share code by someone other than the starter is recorded
 * as an event of type "share.converted" for the starter (properties: module,
 * deal_id, group_id, code, converted_customer_id), which the engagement
 * ladder and referrals read as spreading.
 *
 * Deal JSON: {"id","reward_id","option","title":{"zh","en"},"group_size",
 *   "price","fill_s","stock","reserved","sold","available_groups",
 *   "starts_at","ends_at","active","groups":{"open","completed","expired"},
 *   "created_at","updated_at"}
 * Group JSON: {"id","code","deal_id","reward_id","initiator":"张**",
 *   "group_size","joined","remaining","price","status":"open|completed|
 *   expired","expires_at","completed_at","members":[{"name","joined_at",
 *   "initiator"}],"created_at"} */
#ifndef HD_GROUPBUYS_H
#define HD_GROUPBUYS_H

#include "domain/domain.h"

#define HD_GROUP_SIZE_MIN    2
#define HD_GROUP_SIZE_MAX    100
#define HD_GROUP_FILL_MIN_S  60
#define HD_GROUP_FILL_MAX_S  (30 * 86400)
#define HD_GROUP_CODE_LEN    10 /* from 31 unambiguous characters: ~49 bits */
#define HD_GROUPBUY_PAGE_MAX 200

hd_rc hd_groupbuy_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                         json_t **out, bool *replayed, hd_err *err);
hd_rc hd_groupbuy_list(hd_domain *d, int64_t cursor, int limit, json_t **out, hd_err *err);
hd_rc hd_groupbuy_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* PATCH: active, ends_at, stock (not below what groups already reserved), title. */
hd_rc hd_groupbuy_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);
/* POST /v1/groupbuys/{deal}/groups {customer_id}: 201 with the group and its
 * code; the starter holds the price. */
hd_rc hd_groupbuy_start(hd_domain *d, const hd_idem *im, int64_t deal_id, const json_t *in,
                        int *status, json_t **out, bool *replayed, hd_err *err);
/* POST /v1/groupbuys/join {code, customer_id}: 201 {"group", "member",
 * "completed", "orders"}. HD_ESTATE (409) naming code when the group is
 * full, completed or expired; HD_ECONFLICT (409) naming customer_id when
 * the member already has a place; "insufficient points" naming amount. */
hd_rc hd_groupbuy_join(hd_domain *d, const hd_idem *im, const json_t *in, int *status, json_t **out,
                       bool *replayed, hd_err *err);
/* GET /v1/groupbuys/groups/{code}: progress and deadline. */
hd_rc hd_groupbuy_group(hd_domain *d, const char *code, json_t **out, hd_err *err);
/* GET /v1/groupbuys/{id}/groups?status=: the deal's groups, newest first. */
hd_rc hd_groupbuy_groups(hd_domain *d, int64_t deal_id, const char *status, int64_t cursor,
                         int limit, json_t **out, hd_err *err);

/* Scheduled: expires groups whose time ran out. */
hd_rc hd_groupbuy_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

#endif
