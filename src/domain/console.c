/* console.c - the console's read models (overview counts and trends, a segment
 * preview) and the operator's merge of two customers. The trends bucket by UTC
 * day inside SQL, so a year of orders costs a few grouped scans, not rows in C. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/console.h"
#include "domain/customers.h"
#include "domain/segments.h"

#define DAY_MS (24LL * 3600 * 1000)

/* One trend series: column of each day's entry and where its numbers land. */
enum { S_REVENUE, S_ORDERS, S_NEW, S_ISSUED, S_REDEEMED, S_EXPIRED, S_COUNT };
static const char *const SERIES_NAME[S_COUNT] = {
    "revenue", "orders", "new_members", "points_issued", "points_redeemed", "points_expired"};

typedef struct overview_ctx {
    hd_domain *d;
    int days;
    int64_t now, from, to; /* trend covers [from, to): whole UTC days */
    int64_t members, active_30d, new_30d, orders, revenue, orders_30d, revenue_30d;
    int64_t *series; /* S_COUNT * days */
} overview_ctx;

/* Runs a query answering (day index, value[, value2]) rows and adds the values
 * to series a (and b when b >= 0). The first two parameters are from and to. */
static hd_rc bucket(hd_conn *c, overview_ctx *o, const char *sql, int a, int b, hd_err *err) {
    hd_val p[2] = {hd_vint(o->from), hd_vint(o->to)};
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, p, 2, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t day = hd_rows_int(r, 0);
        if (day < 0 || day >= o->days) continue;
        o->series[a * o->days + day] += hd_rows_int(r, 1);
        if (b >= 0) o->series[b * o->days + day] += hd_rows_int(r, 2);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc overview_cb(hd_conn *c, void *vctx, hd_err *err) {
    overview_ctx *o = vctx;
    int64_t month_ago = o->now - 30 * DAY_MS;
    hd_val m = hd_vint(month_ago);
    hd_rc rc;
    memset(o->series, 0, sizeof *o->series * (size_t)(S_COUNT * o->days));
    if ((rc = hd_query_int(c,
                           "SELECT count(*) FROM customers WHERE merged_into IS NULL AND "
                           "erased_at IS NULL",
                           NULL, 0, &o->members, err)) ||
        (rc = hd_query_int(c,
                           "SELECT count(*) FROM customers WHERE merged_into IS NULL AND "
                           "erased_at IS NULL AND last_seen >= ?",
                           &m, 1, &o->active_30d, err)) ||
        (rc = hd_query_int(c,
                           "SELECT count(*) FROM customers WHERE merged_into IS NULL AND "
                           "erased_at IS NULL AND first_seen >= ?",
                           &m, 1, &o->new_30d, err)) ||
        (rc = hd_query_int(c, "SELECT count(*) FROM orders WHERE refunded_at IS NULL", NULL, 0,
                           &o->orders, err)) ||
        (rc = hd_query_int(c,
                           "SELECT COALESCE(sum(amount), 0) FROM orders WHERE refunded_at IS NULL",
                           NULL, 0, &o->revenue, err)) ||
        (rc = hd_query_int(c,
                           "SELECT count(*) FROM orders WHERE refunded_at IS NULL AND "
                           "occurred_at >= ?",
                           &m, 1, &o->orders_30d, err)) ||
        (rc = hd_query_int(c,
                           "SELECT COALESCE(sum(amount), 0) FROM orders WHERE refunded_at IS NULL "
                           "AND occurred_at >= ?",
                           &m, 1, &o->revenue_30d, err)))
        return rc;
    if ((rc = bucket(c, o,
                     "SELECT (occurred_at - ?1) / 86400000, COALESCE(sum(amount), 0), count(*) "
                     "FROM orders WHERE refunded_at IS NULL AND occurred_at >= ?1 AND "
                     "occurred_at < ?2 GROUP BY (occurred_at - ?1) / 86400000",
                     S_REVENUE, S_ORDERS, err)) ||
        (rc = bucket(c, o,
                     "SELECT (first_seen - ?1) / 86400000, count(*) FROM customers WHERE "
                     "merged_into IS NULL AND erased_at IS NULL AND first_seen >= ?1 AND "
                     "first_seen < ?2 GROUP BY (first_seen - ?1) / 86400000",
                     S_NEW, -1, err)) ||
        (rc = bucket(c, o,
                     "SELECT (created_at - ?1) / 86400000, COALESCE(sum(amount), 0) FROM "
                     "transfers WHERE debit_id = (SELECT id FROM accounts WHERE name = "
                     "'system:issuance') AND status = 'posted' AND created_at >= ?1 AND "
                     "created_at < ?2 GROUP BY (created_at - ?1) / 86400000",
                     S_ISSUED, -1, err)) ||
        (rc = bucket(c, o,
                     "SELECT (created_at - ?1) / 86400000, COALESCE(sum(amount), 0) FROM "
                     "transfers WHERE credit_id = (SELECT id FROM accounts WHERE name = "
                     "'system:redemption') AND status = 'posted' AND created_at >= ?1 AND "
                     "created_at < ?2 GROUP BY (created_at - ?1) / 86400000",
                     S_REDEEMED, -1, err)) ||
        (rc = bucket(c, o,
                     "SELECT (created_at - ?1) / 86400000, COALESCE(sum(amount), 0) FROM "
                     "transfers WHERE credit_id = (SELECT id FROM accounts WHERE name = "
                     "'system:expiry') AND status = 'posted' AND created_at >= ?1 AND "
                     "created_at < ?2 GROUP BY (created_at - ?1) / 86400000",
                     S_EXPIRED, -1, err)))
        return rc;
    return HD_OK;
}

hd_rc hd_console_overview(hd_domain *d, int days, json_t **out, hd_err *err) {
    *out = NULL;
    if (days < HD_CONSOLE_DAYS_MIN || days > HD_CONSOLE_DAYS_MAX)
        return hd_err_set(err, HD_EINVAL, "days", "must be %d to %d, got %d", HD_CONSOLE_DAYS_MIN,
                          HD_CONSOLE_DAYS_MAX, days);
    overview_ctx o = {.d = d, .days = days, .now = hd_now(d)};
    int off = hd_clock_utc_offset(d->clock); /* the brand's days */
    int64_t today = hd_cal_day(off, o.now);
    o.to = hd_cal_day_ms(off, today + 1);
    o.from = o.to - (int64_t)days * DAY_MS;
    o.series = calloc((size_t)(S_COUNT * days), sizeof *o.series);
    if (!o.series) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_rc rc = hd_store_read(d->store, overview_cb, &o, err);
    if (rc) {
        free(o.series);
        return rc;
    }
    json_t *v = json_object();
    hd_json_set_time(v, "as_of", o.now, true);
    hd_json_set_time(v, "from", o.from, true);
    hd_json_set_time(v, "to", o.to, true);
    json_object_set_new(v, "days", json_integer(days));
    json_object_set_new(v, "members", json_integer(o.members));
    json_object_set_new(v, "active_30d", json_integer(o.active_30d));
    json_object_set_new(v, "new_30d", json_integer(o.new_30d));
    json_object_set_new(v, "orders", json_integer(o.orders));
    json_object_set_new(v, "revenue", json_integer(o.revenue));
    json_object_set_new(v, "orders_30d", json_integer(o.orders_30d));
    json_object_set_new(v, "revenue_30d", json_integer(o.revenue_30d));
    json_t *trend = json_array();
    for (int i = 0; i < days; i++) {
        json_t *e = json_object();
        char t[16];
        int y, m, dd;
        hd_civil_from_days(today - days + 1 + i, &y, &m, &dd);
        snprintf(t, sizeof t, "%04d-%02d-%02d", y, m, dd);
        json_object_set_new(e, "date", json_string(t));
        for (int s = 0; s < S_COUNT; s++)
            json_object_set_new(e, SERIES_NAME[s], json_integer(o.series[s * days + i]));
        json_array_append_new(trend, e);
    }
    json_object_set_new(v, "trend", trend);
    free(o.series);
    *out = v;
    return HD_OK;
}

/* ---- merge ---- */

typedef struct merge_ctx {
    hd_domain *d;
    int64_t survivor, merged;
    char reason[HD_CONSOLE_REASON_MAX + 300];
} merge_ctx;

static hd_rc live_customer(hd_conn *c, int64_t id, const char *field, int64_t *live, hd_err *err) {
    hd_rc rc = hd_customer_follow(c, id, live, err);
    if (rc == HD_ENOTFOUND) return hd_err_set(err, rc, field, "no customer %lld", (long long)id);
    if (rc) return rc;
    hd_val p = hd_vint(*live);
    int64_t erased = 0;
    rc = hd_query_int(c, "SELECT count(*) FROM customers WHERE id = ? AND erased_at IS NOT NULL",
                      &p, 1, &erased, err);
    if (rc) return rc;
    if (erased)
        return hd_err_set(err, HD_ESTATE, field, "customer %lld was erased and cannot be merged",
                          (long long)*live);
    return HD_OK;
}

static hd_rc merge_cb(hd_conn *c, void *vctx, hd_err *err) {
    merge_ctx *m = vctx;
    int64_t s, l;
    hd_rc rc = live_customer(c, m->survivor, "survivor", &s, err);
    if (!rc) rc = live_customer(c, m->merged, "merged", &l, err);
    if (rc) return rc;
    if (s == l)
        return hd_err_set(err, HD_ECONFLICT, "merged", "customers %lld and %lld are already one",
                          (long long)m->survivor, (long long)m->merged);
    /* Lock both rows, lower id first, and make sure neither was merged since we
     * looked: two operators merging A into B and B into A at once must not
     * leave a cycle. A row that changed makes the store retry the whole
     * transaction, which then follows the new merge. */
    int64_t order[2] = {s < l ? s : l, s < l ? l : s};
    for (int i = 0; i < 2; i++) {
        int64_t changed = 0;
        hd_val p = hd_vint(order[i]);
        if ((rc = hd_exec(c,
                          "UPDATE customers SET updated_at = updated_at WHERE id = ? AND "
                          "merged_into IS NULL",
                          &p, 1, &changed, err)))
            return rc;
        if (changed != 1)
            return hd_err_set(err, HD_EBUSY, "", "customer %lld changed", (long long)order[i]);
    }
    m->survivor = s;
    m->merged = l;
    return hd_customer_merge(c, m->d, s, l, m->reason, err);
}

hd_rc hd_console_merge(hd_domain *d, const json_t *in, const char *actor, json_t **out,
                       hd_err *err) {
    *out = NULL;
    static const char *const allowed[] = {"survivor", "merged", "reason", NULL};
    merge_ctx m = {.d = d};
    bool has_s = false, has_m = false;
    const char *why = NULL;
    hd_rc rc = hd_json_only(in, allowed, "a merge", err);
    if (!rc) rc = hd_json_int(in, "survivor", &has_s, &m.survivor, err);
    if (!rc) rc = hd_json_int(in, "merged", &has_m, &m.merged, err);
    if (!rc) rc = hd_json_str(in, "reason", HD_CONSOLE_REASON_MAX, &why, err);
    if (rc) return rc;
    if (!has_s) return hd_err_set(err, HD_EINVAL, "survivor", "is required: the id that stays");
    if (!has_m) return hd_err_set(err, HD_EINVAL, "merged", "is required: the id merged into it");
    if (m.survivor == m.merged)
        return hd_err_set(err, HD_EINVAL, "merged", "must differ from survivor");
    snprintf(m.reason, sizeof m.reason, "merged by %s%s%s", actor && *actor ? actor : "an operator",
             why && *why ? ": " : "", why && *why ? why : "");
    if ((rc = hd_store_write(d->store, merge_cb, &m, err))) return rc;
    json_t *cust = NULL;
    int64_t moved = 0;
    if ((rc = hd_customer_get(d, m.survivor, &cust, &moved, err))) return rc;
    *out = json_object();
    json_object_set_new(*out, "survivor", cust);
    hd_json_set_id(*out, "merged_id", m.merged);
    return HD_OK;
}

/* ---- segment preview ---- */

typedef struct sample_ctx {
    const int64_t *ids;
    size_t n; /* at most HD_CONSOLE_SAMPLE_MAX */
    json_t *out;
} sample_ctx;

/* The first members' names and cities, in id order, so the preview shows who. */
static hd_rc sample_cb(hd_conn *c, void *vctx, hd_err *err) {
    sample_ctx *sc = vctx;
    json_array_clear(sc->out); /* a retried read starts over */
    char sql[256 + 4 * HD_CONSOLE_SAMPLE_MAX] =
        "SELECT id, name, city FROM customers WHERE id IN (";
    hd_val p[HD_CONSOLE_SAMPLE_MAX];
    size_t len = strlen(sql);
    for (size_t i = 0; i < sc->n; i++) {
        p[i] = hd_vint(sc->ids[i]);
        len += (size_t)snprintf(sql + len, sizeof sql - len, i ? ", ?" : "?");
    }
    snprintf(sql + len, sizeof sql - len, ") ORDER BY id");
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, p, (int)sc->n, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *e = json_object();
        hd_json_set_id(e, "id", hd_rows_int(r, 0));
        json_object_set_new(e, "name", json_string(hd_rows_text(r, 1, NULL)));
        json_object_set_new(e, "city", json_string(hd_rows_text(r, 2, NULL)));
        json_array_append_new(sc->out, e);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_console_segment_preview(hd_domain *d, const char *expr, json_t **out, hd_err *err) {
    *out = NULL;
    if (!expr || !*expr)
        return hd_err_set(err, HD_EINVAL, "expression",
                          "is required: a condition such as customer.city == \"杭州\"");
    if (strlen(expr) > HD_CONSOLE_EXPR_MAX)
        return hd_err_set(err, HD_EINVAL, "expression", "is longer than %d bytes",
                          HD_CONSOLE_EXPR_MAX);
    hd_rc rc;
    int64_t *ids = NULL;
    size_t n = 0;
    if ((rc = hd_segments_match(d, expr, &ids, &n, err))) {
        if (!err->field[0]) snprintf(err->field, sizeof err->field, "expression");
        return rc;
    }
    sample_ctx sc = {ids, n < HD_CONSOLE_SAMPLE_MAX ? n : HD_CONSOLE_SAMPLE_MAX, json_array()};
    if (sc.n && (rc = hd_store_read(d->store, sample_cb, &sc, err))) {
        json_decref(sc.out);
        free(ids);
        return rc;
    }
    json_t *v = json_object();
    json_object_set_new(v, "expression", json_string(expr));
    json_object_set_new(v, "count", json_integer((json_int_t)n));
    json_object_set_new(v, "sample", sc.out);
    free(ids);
    *out = v;
    return HD_OK;
}
