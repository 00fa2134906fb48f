/* catalog_report.c - the points economy over a period (积分生产力): points
 * issued, redeemed by module, expired, the outstanding liability, breakage,
 * and points productivity = members who redeemed ÷ members who followed the
 * programme × 100%. */
#include <stdio.h>
#include <string.h>

#include "domain/catalog_int.h"

typedef struct report_ctx {
    hd_domain *d;
    int64_t from, to;
    json_t *out;
} report_ctx;

static hd_rc sum_system(hd_conn *c, const char *side, const char *account, int64_t from, int64_t to,
                        int64_t *out, hd_err *err) {
    char sql[320];
    snprintf(sql, sizeof sql,
             "SELECT COALESCE(sum(t.amount), 0) FROM transfers t WHERE t.%s = (SELECT id FROM "
             "accounts WHERE name = ?) AND t.status = 'posted' AND t.created_at >= ? AND "
             "t.created_at < ?",
             side);
    hd_val p[3] = {hd_vtext(account), hd_vint(from), hd_vint(to)};
    return hd_query_int(c, sql, p, 3, out, err);
}

static hd_rc report_cb(hd_conn *c, void *vctx, hd_err *err) {
    report_ctx *rx = vctx;
    int64_t issued = 0, reversed = 0, expired = 0, to_redemption = 0, refunded = 0;
    hd_rc rc;
    if ((rc = sum_system(c, "debit_id", "system:issuance", rx->from, rx->to, &issued, err)) ||
        (rc = sum_system(c, "credit_id", "system:issuance", rx->from, rx->to, &reversed, err)) ||
        (rc = sum_system(c, "credit_id", "system:expiry", rx->from, rx->to, &expired, err)) ||
        (rc = sum_system(c, "credit_id", "system:redemption", rx->from, rx->to, &to_redemption,
                         err)) ||
        (rc = sum_system(c, "debit_id", "system:redemption", rx->from, rx->to, &refunded, err)))
        return rc;
    /* redeemed, by the module that created the order */
    hd_val p[2] = {hd_vint(rx->from), hd_vint(rx->to)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT source, COALESCE(sum(points), 0), count(*) FROM reward_orders "
                       "WHERE created_at >= ? AND created_at < ? AND status <> 'cancelled' GROUP "
                       "BY source ORDER BY source",
                       p, 2, &r, err)))
        return rc;
    json_t *by = json_object();
    int64_t redeemed = 0, orders = 0;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_object_set_new(by, hd_rows_text(r, 0, NULL),
                            json_pack("{s:I,s:I}", "points", (json_int_t)hd_rows_int(r, 1),
                                      "orders", (json_int_t)hd_rows_int(r, 2)));
        redeemed += hd_rows_int(r, 1);
        orders += hd_rows_int(r, 2);
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(by);
        return err->rc;
    }
    int64_t liability = 0, debt = 0, members = 0;
    if ((rc = hd_query(c,
                       "SELECT COALESCE(sum(CASE WHEN credits_posted > debits_posted THEN "
                       "credits_posted - debits_posted ELSE 0 END), 0), COALESCE(sum(CASE WHEN "
                       "credits_posted < debits_posted THEN debits_posted - credits_posted ELSE 0 "
                       "END), 0), count(*) FROM accounts WHERE kind = 'member' AND currency = "
                       "'points'",
                       NULL, 0, &r, err))) {
        json_decref(by);
        return rc;
    }
    if ((got = hd_rows_next(r, err)) == 1) {
        liability = hd_rows_int(r, 0);
        debt = hd_rows_int(r, 1);
        members = hd_rows_int(r, 2);
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(by);
        return err->rc;
    }
    int64_t redeemers = 0, followers = 0;
    hd_val q[2] = {hd_vint(rx->from), hd_vint(rx->to)};
    if ((rc = hd_query_int(c,
                           "SELECT count(DISTINCT customer_id) FROM reward_orders WHERE "
                           "created_at >= ?1 AND created_at < ?2 AND status <> 'cancelled'",
                           q, 2, &redeemers, err)) ||
        (rc = hd_query_int(
             c,
             "SELECT count(*) FROM (SELECT a.customer_id FROM transfers t JOIN accounts a ON "
             "a.id = t.debit_id WHERE a.kind = 'member' AND a.currency = 'points' AND t.code <> "
             "'expire' AND t.created_at >= ?1 AND t.created_at < ?2 UNION SELECT a.customer_id "
             "FROM transfers t JOIN accounts a ON a.id = t.credit_id WHERE a.kind = 'member' AND "
             "a.currency = 'points' AND t.created_at >= ?1 AND t.created_at < ?2 UNION SELECT "
             "customer_id FROM events WHERE type IN ('points.view', 'message.open') AND "
             "occurred_at >= ?1 AND occurred_at < ?2 UNION SELECT customer_id FROM reward_orders "
             "WHERE created_at >= ?1 AND created_at < ?2 AND status <> 'cancelled') f",
             q, 2, &followers, err))) {
        json_decref(by);
        return rc;
    }
    json_t *o = json_object();
    hd_json_set_time(o, "from", rx->from, true);
    hd_json_set_time(o, "to", rx->to, true);
    json_object_set_new(o, "issued", json_integer(issued));
    json_object_set_new(o, "reversed", json_integer(reversed));
    json_object_set_new(o, "redeemed",
                        json_pack("{s:I,s:I,s:o,s:I,s:I}", "points", (json_int_t)redeemed, "orders",
                                  (json_int_t)orders, "by_module", by, "ledger_charged",
                                  (json_int_t)to_redemption, "ledger_refunded",
                                  (json_int_t)refunded));
    json_object_set_new(o, "expired", json_integer(expired));
    json_t *liab = json_object();
    json_object_set_new(liab, "points", json_integer(liability));
    json_object_set_new(liab, "debt", json_integer(debt));
    json_object_set_new(liab, "members", json_integer(members));
    hd_json_set_time(liab, "as_of", hd_now(rx->d), true);
    json_object_set_new(o, "outstanding_liability", liab);
    json_object_set_new(o, "breakage_rate",
                        issued ? json_real((double)expired / (double)issued) : json_null());
    json_t *prod = json_object();
    json_object_set_new(prod, "redeemers", json_integer(redeemers));
    json_object_set_new(prod, "followers", json_integer(followers));
    json_object_set_new(prod, "percent",
                        followers ? json_real(100.0 * (double)redeemers / (double)followers)
                                  : json_null());
    json_object_set_new(o, "productivity", prod);
    rx->out = o;
    return HD_OK;
}

hd_rc hd_points_report(hd_domain *d, int64_t from_ms, int64_t to_ms, json_t **out, hd_err *err) {
    if (to_ms <= from_ms) return hd_err_set(err, HD_EINVAL, "to", "must be after from");
    report_ctx rx = {d, from_ms, to_ms, NULL};
    hd_rc rc = hd_store_read(d->store, report_cb, &rx, err);
    if (rc) {
        json_decref(rx.out);
        return rc;
    }
    *out = rx.out;
    return HD_OK;
}
