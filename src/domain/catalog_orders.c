/* catalog_orders.c - redemption (积分换购) and the orders every spending
 * module creates: one transaction checks the offer, the customer's tier and
 * limit, applies the best special, takes stock, charges points and records
 * the order; then placed -> shipped -> delivered, or cancelled with the
 * points refunded and the stock returned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog_int.h"
#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"

static const char *const SOURCES[] = {"redemption", "special",    "auction", "groupbuy",
                                      "trial",      "instalment", NULL};

const char *hd_order_source_check(const char *s) {
    for (const char *const *p = SOURCES; s && *p; p++)
        if (strcmp(*p, s) == 0) return *p;
    return NULL;
}

/* ---- reading ---- */

#define ORDER_COLS                                                                                 \
    "SELECT o.id, o.customer_id, o.reward_id, o.option_code, o.quantity, o.points, o.cash, "       \
    "o.source, o.source_ref, o.special_id, o.transfer_id, o.refund_transfer_id, o.status, "        \
    "o.carrier, o.tracking_number, o.cancel_reason, o.shipped_at, o.delivered_at, "                \
    "o.cancelled_at, o.created_at, o.updated_at, r.type, r.name_zh, r.name_en FROM "               \
    "reward_orders o LEFT JOIN rewards r ON r.id = o.reward_id "

static void set_opt_id(json_t *o, const char *key, hd_rows *r, int col) {
    if (hd_rows_isnull(r, col) || hd_rows_int(r, col) == 0)
        json_object_set_new(o, key, json_null());
    else
        hd_json_set_id(o, key, hd_rows_int(r, col));
}

static void set_opt_text(json_t *o, const char *key, hd_rows *r, int col) {
    if (hd_rows_isnull(r, col))
        json_object_set_new(o, key, json_null());
    else
        json_object_set_new(o, key, json_string(hd_rows_text(r, col, NULL)));
}

static json_t *order_json(hd_rows *r) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    hd_json_set_id(o, "customer_id", hd_rows_int(r, 1));
    hd_json_set_id(o, "reward_id", hd_rows_int(r, 2));
    set_opt_text(o, "option", r, 3);
    int64_t qty = hd_rows_int(r, 4), pts = hd_rows_int(r, 5);
    json_object_set_new(o, "quantity", json_integer(qty));
    json_object_set_new(o, "points", json_integer(pts));
    json_object_set_new(o, "unit_points", json_integer(qty ? pts / qty : pts));
    json_object_set_new(o, "cash", json_integer(hd_rows_int(r, 6)));
    json_object_set_new(o, "source", json_string(hd_rows_text(r, 7, NULL)));
    set_opt_text(o, "source_ref", r, 8);
    set_opt_id(o, "special_id", r, 9);
    set_opt_id(o, "transfer_id", r, 10);
    set_opt_id(o, "refund_transfer_id", r, 11);
    json_object_set_new(o, "status", json_string(hd_rows_text(r, 12, NULL)));
    set_opt_text(o, "carrier", r, 13);
    set_opt_text(o, "tracking_number", r, 14);
    set_opt_text(o, "cancel_reason", r, 15);
    hd_json_set_time(o, "shipped_at", hd_rows_int(r, 16), !hd_rows_isnull(r, 16));
    hd_json_set_time(o, "delivered_at", hd_rows_int(r, 17), !hd_rows_isnull(r, 17));
    hd_json_set_time(o, "cancelled_at", hd_rows_int(r, 18), !hd_rows_isnull(r, 18));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 19), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 20), true);
    json_object_set_new(o, "reward",
                        json_pack("{s:s,s:o}", "type", hd_rows_text(r, 21, NULL), "name",
                                  cat_names(hd_rows_text(r, 22, NULL), hd_rows_text(r, 23, NULL))));
    return o;
}

static hd_rc order_coupons(hd_conn *c, int64_t id, json_t *o, hd_err *err) {
    if (strcmp(json_string_value(json_object_get(json_object_get(o, "reward"), "type")),
               "coupon") != 0)
        return HD_OK;
    char ref[40];
    snprintf(ref, sizeof ref, "order:%lld", (long long)id);
    hd_val p = hd_vtext(ref);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT code FROM coupons WHERE origin = 'reward' AND origin_ref = ? ORDER "
                        "BY code",
                        &p, 1, &r, err);
    if (rc) return rc;
    json_t *a = json_array();
    int got;
    while ((got = hd_rows_next(r, err)) == 1)
        json_array_append_new(a, json_string(hd_rows_text(r, 0, NULL)));
    hd_rows_free(r);
    json_object_set_new(o, "coupons", a);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc cat_order_load(hd_conn *c, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, ORDER_COLS "WHERE o.id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    json_t *o = got == 1 ? order_json(r) : NULL;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no order %lld", (long long)id);
    if ((rc = order_coupons(c, id, o, err))) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return HD_OK;
}

/* ---- creating ---- */

typedef struct order_row {
    int64_t id;
    const hd_order_req *req;
    int64_t special_id;
    const char *usage_period;
    const char *status;
} order_row;

static hd_rc order_insert(hd_conn *c, hd_domain *d, const order_row *o, hd_err *err) {
    const hd_order_req *q = o->req;
    int64_t now = hd_now(d);
    bool delivered = strcmp(o->status, "delivered") == 0;
    hd_val p[16] = {hd_vint(o->id),
                    hd_vint(q->customer_id),
                    hd_vint(q->reward_id),
                    hd_vtext(q->option && *q->option ? q->option : NULL),
                    hd_vint(q->quantity),
                    hd_vint(q->points),
                    hd_vint(q->cash),
                    hd_vtext(q->source),
                    hd_vtext(q->source_ref),
                    o->special_id ? hd_vint(o->special_id) : hd_vnull(),
                    q->transfer_id ? hd_vint(q->transfer_id) : hd_vnull(),
                    hd_vtext(o->usage_period),
                    hd_vtext(o->status),
                    delivered ? hd_vint(now) : hd_vnull(),
                    hd_vint(now),
                    hd_vint(now)};
    return hd_exec(c,
                   "INSERT INTO reward_orders (id, customer_id, reward_id, option_code, quantity, "
                   "points, cash, source, source_ref, special_id, transfer_id, usage_period, "
                   "status, delivered_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                   "?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 16, NULL, err);
}

hd_rc hd_order_create_in(hd_conn *c, hd_domain *d, const hd_order_req *req, int64_t *order_id,
                         hd_err *err) {
    if (!hd_order_source_check(req->source))
        return hd_err_set(err, HD_EINVAL, "source",
                          "must be redemption, special, auction, groupbuy, trial or instalment");
    if (req->quantity < 1 || req->quantity > HD_ORDER_QTY_MAX)
        return hd_err_set(err, HD_EINVAL, "quantity", "must be from 1 to %d", HD_ORDER_QTY_MAX);
    if (req->points < 0 || req->cash < 0)
        return hd_err_set(err, HD_EINVAL, "points", "points and cash must be >= 0");
    if (req->source_ref && strlen(req->source_ref) > 200)
        return hd_err_set(err, HD_EINVAL, "source_ref", "is longer than 200 bytes");
    hd_order_req q = *req;
    hd_rc rc = hd_customer_follow(c, req->customer_id, &q.customer_id, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_EINVAL, "customer_id", "no customer %lld",
                          (long long)req->customer_id);
    if (rc) return rc;
    cat_reward cr;
    if ((rc = cat_reward_load(c, req->reward_id, "reward_id", &cr, err))) return rc;
    cat_reward_free(&cr);
    order_row o = {hd_id_next(d->ids), &q, q.special_id, q.usage_period, "placed"};
    if ((rc = order_insert(c, d, &o, err))) return rc;
    *order_id = o.id;
    return HD_OK;
}

/* ---- redemption ---- */

typedef struct redeem_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t reward_id, special_id;
    const char *option;
    int qty;
} redeem_ctx;

static hd_rc check_offer(const cat_reward *r, int64_t now, hd_err *err) {
    char t[32];
    if (!r->active)
        return hd_err_set(err, HD_ESTATE, "active", "reward %lld is not on offer (inactive)",
                          (long long)r->id);
    if (r->starts_at && now < r->starts_at) {
        hd_time_format(r->starts_at, t);
        return hd_err_set(err, HD_ESTATE, "window", "reward %lld is not on offer until %s",
                          (long long)r->id, t);
    }
    if (r->ends_at && now >= r->ends_at) {
        hd_time_format(r->ends_at, t);
        return hd_err_set(err, HD_ESTATE, "window", "reward %lld was on offer until %s",
                          (long long)r->id, t);
    }
    return HD_OK;
}

static hd_rc check_tier(hd_conn *c, const cat_reward *r, int64_t cid, hd_err *err) {
    if (!r->tiers) return HD_OK;
    hd_tier_info ti;
    hd_rc rc = hd_tier_of_in(c, cid, &ti, err);
    if (rc) return rc;
    char list[256] = "";
    size_t i, len = 0;
    json_t *t;
    json_array_foreach(r->tiers, i, t) {
        if (ti.has && strcmp(json_string_value(t), ti.code) == 0) return HD_OK;
        if (len < sizeof list)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
                                    json_string_value(t));
    }
    return hd_err_set(err, HD_EFORBIDDEN, "tier",
                      "not eligible: this reward is for tiers %s; the customer is %s%s", list,
                      ti.has ? "" : "in no tier", ti.has ? ti.code : "");
}

/* Picks the option: the one named, or the one the customer's specs match. */
static hd_rc resolve_option(hd_conn *c, const cat_reward *r, int64_t cid, const char *given,
                            char out[CAT_CODE_MAX * 4 + 1], hd_err *err) {
    out[0] = '\0';
    if (given && *given) {
        if (r->noptions == 0)
            return hd_err_set(err, HD_EINVAL, "option", "reward %lld has no options",
                              (long long)r->id);
        hd_val p[2] = {hd_vint(r->id), hd_vtext(given)};
        int64_t one;
        hd_rc rc = hd_query_int(c, "SELECT 1 FROM reward_options WHERE reward_id = ? AND code = ?",
                                p, 2, &one, err);
        if (rc == HD_ENOTFOUND)
            return hd_err_set(err, HD_EINVAL, "option", "reward %lld has no option '%s'",
                              (long long)r->id, given);
        if (rc) return rc;
        snprintf(out, CAT_CODE_MAX * 4 + 1, "%s", given);
        return HD_OK;
    }
    if (r->noptions == 0) return HD_OK;
    hd_rc rc = cat_spec_match(c, cid, r->id, r->spec_category, out, err);
    if (rc) return rc;
    if (!out[0])
        return hd_err_set(err, HD_EINVAL, "option",
                          "is required: reward %lld comes in options and the customer's "
                          "remembered specs match none",
                          (long long)r->id);
    return HD_OK;
}

/* hd_reward_take_in, keeping the reward for the caller (free it either way). */
static hd_rc take(hd_conn *c, hd_domain *d, int64_t cid, int64_t reward_id, const char *option,
                  int qty, int64_t special_id, cat_reward *r, hd_reward_taken *t, hd_err *err) {
    int64_t now = hd_now(d);
    memset(t, 0, sizeof *t);
    hd_rc rc = cat_reward_load(c, reward_id, "reward_id", r, err); /* clears r first */
    if (rc) return rc;
    t->unit_points = r->price_points;
    t->unit_cash = r->price_cash;
    if ((rc = check_offer(r, now, err))) return rc;
    if ((rc = check_tier(c, r, cid, err))) return rc;
    if ((rc = resolve_option(c, r, cid, option, t->option, err))) return rc;
    if (r->has_limit) {
        cat_period_key(r->limit_period, d->clock, now, t->usage_period);
        bool ok;
        if ((rc = cat_usage_take(c, cid, "reward", r->id, t->usage_period, qty, r->limit_n, &ok,
                                 err)))
            return rc;
        if (!ok) {
            int64_t used = 0;
            cat_usage_get(c, cid, "reward", r->id, t->usage_period, &used, NULL);
            bool ever = strcmp(r->limit_period, "ever") == 0;
            return hd_err_set(err, HD_ESTATE, "limit",
                              "limit reached: at most %lld per customer %s%s, %lld taken, %d "
                              "wanted",
                              (long long)r->limit_n, ever ? "" : "per ", r->limit_period,
                              (long long)used, qty);
        }
    }
    if ((rc = cat_special_apply(c, d, cid, r->id, r->price_points, qty, special_id, &t->special_id,
                                &t->unit_points, err)))
        return rc;
    return hd_reward_take_stock_in(c, r->id, t->option, qty, err);
}

hd_rc hd_reward_take_in(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t reward_id,
                        const char *option, int qty, int64_t special_id, hd_reward_taken *out,
                        hd_err *err) {
    cat_reward r;
    hd_rc rc = take(c, d, customer_id, reward_id, option, qty, special_id, &r, out, err);
    cat_reward_free(&r);
    return rc;
}

hd_rc hd_reward_untake_in(hd_conn *c, int64_t customer_id, int64_t reward_id, const char *option,
                          int qty, int64_t special_id, const char *usage_period, hd_err *err) {
    hd_rc rc;
    if (usage_period && *usage_period &&
        (rc = cat_usage_release(c, customer_id, "reward", reward_id, usage_period, qty, err)))
        return rc;
    if (special_id && (rc = cat_special_release(c, special_id, customer_id, qty, err))) return rc;
    return hd_reward_return_stock_in(c, reward_id, option && *option ? option : NULL, qty, err);
}

static hd_rc redeem_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    redeem_ctx *rx = vctx;
    hd_domain *d = rx->d;
    int64_t cid;
    hd_rc rc = cat_customer_in(c, rx->in, "customer_id", &cid, err);
    if (rc) return rc;
    cat_reward r;
    hd_reward_taken t;
    int64_t oid = hd_id_next(d->ids);
    if ((rc = take(c, d, cid, rx->reward_id, rx->option, rx->qty, rx->special_id, &r, &t, err)))
        goto done;
    int64_t total = t.unit_points * rx->qty, transfer_id = 0;
    char key[64], ref[40], acct[48], sref[40];
    snprintf(ref, sizeof ref, "order:%lld", (long long)oid);
    if (total > 0) {
        snprintf(key, sizeof key, "order:%lld:charge", (long long)oid);
        snprintf(acct, sizeof acct, "customer:%lld", (long long)cid);
        hd_transfer_req tr = {key,   acct, "system:redemption", total, "redeem", ref, false, 0,
                              false, false};
        hd_transfer_res res;
        if ((rc = hd_ledger_transfer_in(c, d, &tr, &res, err))) {
            if (rc == HD_ESTATE)
                snprintf(err->field, sizeof err->field, "points"); /* not enough points */
            goto done;
        }
        transfer_id = res.id;
    }
    if (t.special_id) snprintf(sref, sizeof sref, "special:%lld", (long long)t.special_id);
    hd_order_req q = {.customer_id = cid,
                      .reward_id = r.id,
                      .option = t.option,
                      .quantity = rx->qty,
                      .points = total,
                      .cash = t.unit_cash * rx->qty,
                      .transfer_id = transfer_id,
                      .source = t.special_id ? "special" : "redemption",
                      .source_ref = t.special_id ? sref : NULL};
    bool coupon = strcmp(r.type, "coupon") == 0;
    order_row o = {oid, &q, t.special_id, t.usage_period[0] ? t.usage_period : NULL,
                   coupon ? "delivered" : "placed"};
    if ((rc = order_insert(c, d, &o, err))) goto done;
    for (int i = 0; coupon && i < rx->qty; i++) {
        char code[HD_COUPON_CODE_LEN + 1];
        if ((rc = hd_coupon_give_in(c, d, r.coupon_template_id, cid, "reward", ref, true, code,
                                    err)))
            goto done;
    }
    *status = 201;
    rc = cat_order_load(c, oid, body, err);
done:
    cat_reward_free(&r);
    return rc;
}

static const char *const REDEEM_FIELDS[] = {"customer_id", "reward_id",  "option",
                                            "quantity",    "special_id", NULL};

hd_rc hd_redemption_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, REDEEM_FIELDS, "a redemption", err);
    if (rc) return rc;
    redeem_ctx rx = {d, in, 0, 0, NULL, 1};
    bool present;
    int64_t q;
    if (!json_object_get(in, "customer_id"))
        return hd_err_set(err, HD_EINVAL, "customer_id", "is required: a customer id");
    if ((rc = hd_json_int(in, "reward_id", &present, &rx.reward_id, err))) return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, "reward_id", "is required: a reward id");
    if ((rc = hd_json_int(in, "special_id", &present, &rx.special_id, err))) return rc;
    if ((rc = hd_json_str(in, "option", CAT_CODE_MAX, &rx.option, err))) return rc;
    json_t *qv = json_object_get(in, "quantity");
    if (qv && !json_is_null(qv)) {
        if (!json_is_integer(qv) || (q = json_integer_value(qv)) < 1 || q > HD_ORDER_QTY_MAX)
            return hd_err_set(err, HD_EINVAL, "quantity", "must be an integer from 1 to %d",
                              HD_ORDER_QTY_MAX);
        rx.qty = (int)q;
    }
    return hd_idem_write(d, im, redeem_cb, &rx, status, out, replayed, err);
}

/* ---- fulfilment ---- */

hd_rc hd_order_cancel_in(hd_conn *c, hd_domain *d, int64_t order_id, const char *reason,
                         hd_err *err) {
    hd_val p = hd_vint(order_id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id, reward_id, option_code, quantity, points, "
                        "special_id, usage_period, status FROM reward_orders WHERE id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        return got < 0 ? err->rc
                       : hd_err_set(err, HD_ENOTFOUND, "id", "no order %lld", (long long)order_id);
    }
    int64_t cid = hd_rows_int(r, 0), rid = hd_rows_int(r, 1), pts = hd_rows_int(r, 4);
    int qty = (int)hd_rows_int(r, 3);
    int64_t sid = hd_rows_isnull(r, 5) ? 0 : hd_rows_int(r, 5);
    char option[CAT_CODE_MAX * 4 + 1], period[24], st[16];
    bool has_option = !hd_rows_isnull(r, 2), has_period = !hd_rows_isnull(r, 6);
    snprintf(option, sizeof option, "%s", hd_rows_text(r, 2, NULL));
    snprintf(period, sizeof period, "%s", hd_rows_text(r, 6, NULL));
    snprintf(st, sizeof st, "%s", hd_rows_text(r, 7, NULL));
    hd_rows_free(r);
    /* the state change is the guard: one cancel wins */
    int64_t now = hd_now(d), n = 0;
    hd_val u[4] = {hd_vtext(reason), hd_vint(now), hd_vint(now), hd_vint(order_id)};
    if ((rc = hd_exec(c,
                      "UPDATE reward_orders SET status = 'cancelled', cancel_reason = ?, "
                      "cancelled_at = ?, updated_at = ? WHERE id = ? AND status IN ('placed', "
                      "'shipped')",
                      u, 4, &n, err)))
        return rc;
    if (n == 0)
        return hd_err_set(err, HD_ESTATE, "status",
                          "order %lld is %s; only a placed or shipped order can be cancelled",
                          (long long)order_id, st);
    if ((rc = hd_reward_untake_in(c, cid, rid, has_option ? option : NULL, qty, sid,
                                  has_period ? period : NULL, err)))
        return rc;
    if (pts > 0) {
        char key[64], ref[40], acct[48];
        snprintf(key, sizeof key, "order:%lld:refund", (long long)order_id);
        snprintf(ref, sizeof ref, "order:%lld", (long long)order_id);
        snprintf(acct, sizeof acct, "customer:%lld", (long long)cid);
        hd_transfer_req t = {key,  "system:redemption", acct, pts, "refund", ref, false, 0, false,
                             false};
        hd_transfer_res res;
        if ((rc = hd_ledger_transfer_in(c, d, &t, &res, err))) return rc;
        hd_val q[2] = {hd_vint(res.id), hd_vint(order_id)};
        if ((rc = hd_exec(c, "UPDATE reward_orders SET refund_transfer_id = ? WHERE id = ?", q, 2,
                          NULL, err)))
            return rc;
    }
    return HD_OK;
}

typedef struct trans_ctx {
    hd_domain *d;
    int64_t id;
    const char *action;
    const char *carrier, *tracking, *reason;
    json_t *out;
    /* listing */
    int64_t cursor;
    int limit;
} trans_ctx;

static hd_rc transition_cb(hd_conn *c, void *vctx, hd_err *err) {
    trans_ctx *tx = vctx;
    json_decref(tx->out);
    tx->out = NULL;
    json_t *cur = NULL;
    hd_rc rc = cat_order_load(c, tx->id, &cur, err);
    if (rc) return rc;
    char status[16], type[16];
    snprintf(status, sizeof status, "%s", json_string_value(json_object_get(cur, "status")));
    snprintf(type, sizeof type, "%s",
             json_string_value(json_object_get(json_object_get(cur, "reward"), "type")));
    bool physical = strcmp(type, "physical") == 0;
    const char *source = json_string_value(json_object_get(cur, "source"));
    if (strcmp(tx->action, "cancel") == 0 && source && strcmp(source, "instalment") == 0) {
        json_decref(cur);
        return hd_err_set(err, HD_ESTATE, "source",
                          "order %lld belongs to an instalment plan: cancel the plan (POST "
                          "/v1/instalments/{id}/cancel), which also releases its held points",
                          (long long)tx->id);
    }
    json_decref(cur);
    int64_t now = hd_now(tx->d), n = 0;
    if (strcmp(tx->action, "cancel") == 0) {
        rc = hd_order_cancel_in(c, tx->d, tx->id, tx->reason, err);
    } else if (strcmp(tx->action, "ship") == 0) {
        if (!physical)
            return hd_err_set(err, HD_ESTATE, "status",
                              "a %s reward is not shipped: deliver the order instead", type);
        hd_val p[5] = {hd_vtext(tx->carrier), hd_vtext(tx->tracking), hd_vint(now), hd_vint(now),
                       hd_vint(tx->id)};
        rc = hd_exec(c,
                     "UPDATE reward_orders SET status = 'shipped', carrier = ?, tracking_number = "
                     "?, shipped_at = ?, updated_at = ? WHERE id = ? AND status = 'placed'",
                     p, 5, &n, err);
        if (!rc && n == 0)
            rc = hd_err_set(err, HD_ESTATE, "status",
                            "order %lld is %s; only a placed order can be shipped",
                            (long long)tx->id, status);
    } else {
        hd_val p[3] = {hd_vint(now), hd_vint(now), hd_vint(tx->id)};
        rc = hd_exec(c,
                     physical ? "UPDATE reward_orders SET status = 'delivered', delivered_at = ?, "
                                "updated_at = ? WHERE id = ? AND status = 'shipped'"
                              : "UPDATE reward_orders SET status = 'delivered', delivered_at = ?, "
                                "updated_at = ? WHERE id = ? AND status = 'placed'",
                     p, 3, &n, err);
        if (!rc && n == 0)
            rc = hd_err_set(err, HD_ESTATE, "status",
                            "order %lld is %s; only a %s order can be "
                            "delivered",
                            (long long)tx->id, status, physical ? "shipped" : "placed");
    }
    if (rc) return rc;
    return cat_order_load(c, tx->id, &tx->out, err);
}

hd_rc hd_order_transition(hd_domain *d, int64_t id, const char *action, const json_t *in,
                          json_t **out, hd_err *err) {
    trans_ctx tx = {d, id, action, NULL, NULL, NULL, NULL, 0, 0};
    hd_rc rc;
    if (in && !json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    if (strcmp(action, "ship") == 0) {
        static const char *const F[] = {"carrier", "tracking_number", NULL};
        if (!in)
            return hd_err_set(err, HD_EINVAL, "carrier",
                              "is required: {\"carrier\": \"顺丰\", \"tracking_number\": \"…\"}");
        if ((rc = hd_json_only(in, F, "a shipment", err))) return rc;
        if ((rc = hd_json_str(in, "carrier", 64, &tx.carrier, err))) return rc;
        if ((rc = hd_json_str(in, "tracking_number", 64, &tx.tracking, err))) return rc;
        if (!tx.carrier || !*tx.carrier)
            return hd_err_set(err, HD_EINVAL, "carrier", "is required, e.g. \"SF Express\"");
        if (!tx.tracking || !*tx.tracking)
            return hd_err_set(err, HD_EINVAL, "tracking_number", "is required");
    } else if (strcmp(action, "cancel") == 0) {
        static const char *const F[] = {"reason", NULL};
        if (in && (rc = hd_json_only(in, F, "a cancellation", err))) return rc;
        if (in && (rc = hd_json_str(in, "reason", 200, &tx.reason, err))) return rc;
    } else if (strcmp(action, "deliver") == 0) {
        static const char *const F[] = {NULL};
        if (in && (rc = hd_json_only(in, F, "a delivery", err))) return rc;
    } else {
        return hd_err_set(err, HD_EINVAL, "action", "must be ship, deliver or cancel");
    }
    rc = hd_store_write(d->store, transition_cb, &tx, err);
    if (rc) {
        json_decref(tx.out);
        return rc;
    }
    *out = tx.out;
    return HD_OK;
}

static hd_rc order_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    trans_ctx *tx = vctx;
    return cat_order_load(c, tx->id, &tx->out, err);
}

hd_rc hd_order_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    trans_ctx tx = {d, id, NULL, NULL, NULL, NULL, NULL, 0, 0};
    hd_rc rc = hd_store_read(d->store, order_get_cb, &tx, err);
    if (rc) {
        json_decref(tx.out);
        return rc;
    }
    *out = tx.out;
    return HD_OK;
}

static hd_rc order_list_cb(hd_conn *c, void *vctx, hd_err *err) {
    trans_ctx *tx = vctx;
    int64_t cid;
    hd_rc rc = hd_customer_follow(c, tx->id, &cid, err);
    if (rc) return rc;
    hd_val p[3] = {hd_vint(cid), hd_vint(tx->cursor ? tx->cursor : INT64_MAX),
                   hd_vint(tx->limit + 1)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       ORDER_COLS "WHERE o.customer_id = ? AND o.id < ? ORDER BY o.id DESC LIMIT ?",
                       p, 3, &r, err)))
        return rc;
    json_t *data = json_array();
    int got;
    bool more = false;
    while ((got = hd_rows_next(r, err)) == 1) {
        if ((int)json_array_size(data) == tx->limit) {
            more = true;
            break;
        }
        json_array_append_new(data, order_json(r));
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(data);
        return err->rc;
    }
    size_t i;
    json_t *o;
    json_array_foreach(data, i, o) {
        int64_t id = 0;
        hd_id_parse(json_string_value(json_object_get(o, "id")), &id);
        if ((rc = order_coupons(c, id, o, err))) {
            json_decref(data);
            return rc;
        }
    }
    tx->out = json_object();
    json_object_set_new(tx->out, "data", data);
    json_t *last = json_array_get(data, json_array_size(data) - 1);
    if (more && last)
        json_object_set_new(tx->out, "next_cursor", json_incref(json_object_get(last, "id")));
    else
        json_object_set_new(tx->out, "next_cursor", json_null());
    return HD_OK;
}

hd_rc hd_order_list_customer(hd_domain *d, int64_t customer_id, const char *cursor, int limit,
                             json_t **out, hd_err *err) {
    trans_ctx tx = {d, customer_id, NULL, NULL, NULL, NULL, NULL, 0, limit};
    if (cursor && !hd_id_parse(cursor, &tx.cursor))
        return hd_err_set(err, HD_EINVAL, "cursor", "is not a cursor this API returned");
    if (tx.limit < 1 || tx.limit > HD_CATALOG_PAGE_MAX) tx.limit = 50;
    hd_rc rc = hd_store_read(d->store, order_list_cb, &tx, err);
    if (rc) {
        json_decref(tx.out);
        return rc;
    }
    *out = tx.out;
    return HD_OK;
}

/* ---- merges ---- */

hd_rc hd_catalog_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                          hd_err *err) {
    (void)d;
    (void)arg;
    hd_val p[2] = {hd_vint(survivor), hd_vint(loser)};
    hd_rc rc = hd_exec(c, "UPDATE reward_orders SET customer_id = ? WHERE customer_id = ?", p, 2,
                       NULL, err);
    if (!rc)
        rc =
            hd_exec(c, "UPDATE coupons SET customer_id = ? WHERE customer_id = ?", p, 2, NULL, err);
    if (rc) return rc;
    /* usage and holdings add up: the survivor's limits count both */
    const char *moves[][3] = {
        {"UPDATE catalog_usage SET n = n + COALESCE((SELECT l.n FROM catalog_usage l WHERE "
         "l.customer_id = ?2 AND l.kind = catalog_usage.kind AND l.ref_id = catalog_usage.ref_id "
         "AND l.period = catalog_usage.period), 0) WHERE customer_id = ?1",
         "UPDATE catalog_usage SET customer_id = ?1 WHERE customer_id = ?2 AND NOT EXISTS (SELECT "
         "1 FROM catalog_usage s WHERE s.customer_id = ?1 AND s.kind = catalog_usage.kind AND "
         "s.ref_id = catalog_usage.ref_id AND s.period = catalog_usage.period)",
         "DELETE FROM catalog_usage WHERE customer_id = ?"},
        {"UPDATE coupon_holders SET n = n + COALESCE((SELECT l.n FROM coupon_holders l WHERE "
         "l.customer_id = ?2 AND l.template_id = coupon_holders.template_id), 0) WHERE "
         "customer_id = ?1",
         "UPDATE coupon_holders SET customer_id = ?1 WHERE customer_id = ?2 AND NOT EXISTS "
         "(SELECT 1 FROM coupon_holders s WHERE s.customer_id = ?1 AND s.template_id = "
         "coupon_holders.template_id)",
         "DELETE FROM coupon_holders WHERE customer_id = ?"}};
    for (size_t i = 0; i < 2 && !rc; i++)
        for (int k = 0; k < 3 && !rc; k++) /* the delete names only the loser */
            rc = hd_exec(c, moves[i][k], k == 2 ? &p[1] : p, k == 2 ? 1 : 2, NULL, err);
    return rc;
}
