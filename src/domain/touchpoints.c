/* touchpoints.c - touchpoint CRUD and the value report. */
#include "domain/touchpoints.h"

#include <stdlib.h>
#include <string.h>

static const char *const CHANNELS[] = {"web",   "app",         "wechat",   "weibo",
                                       "store", "call_centre", "roadshow", "email",
                                       "sms",   "other",       NULL};
static const char *const FIELDS[] = {"code", "name", "channel", "purpose", "cost_month", NULL};

static bool in_list(const char *s, const char *const *list) {
    for (; *list; list++)
        if (strcmp(s, *list) == 0) return true;
    return false;
}

static hd_rc check(const json_t *in, bool create, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, FIELDS, "a touchpoint", err);
    if (rc) return rc;
    const char *code, *name, *channel, *purpose;
    if ((rc = hd_json_str(in, "code", 64, &code, err))) return rc;
    if ((rc = hd_json_str(in, "name", 100, &name, err))) return rc;
    if ((rc = hd_json_str(in, "channel", 32, &channel, err))) return rc;
    if ((rc = hd_json_str(in, "purpose", 32, &purpose, err))) return rc;
    if (create && (!code || !*code))
        return hd_err_set(err, HD_EINVAL, "code",
                          "is required: the value events send as touchpoint");
    if (code && !*code) return hd_err_set(err, HD_EINVAL, "code", "must not be empty");
    if (create && (!name || !*name)) return hd_err_set(err, HD_EINVAL, "name", "is required");
    if (create && !channel) return hd_err_set(err, HD_EINVAL, "channel", "is required");
    if (channel && !in_list(channel, CHANNELS))
        return hd_err_set(err, HD_EINVAL, "channel",
                          "must be one of web, app, wechat, weibo, store, call_centre, roadshow, "
                          "email, sms, other");
    if (create && !purpose)
        return hd_err_set(err, HD_EINVAL, "purpose", "is required: service or marketing");
    if (purpose && strcmp(purpose, "service") != 0 && strcmp(purpose, "marketing") != 0)
        return hd_err_set(err, HD_EINVAL, "purpose", "must be service or marketing");
    json_t *cost = json_object_get(in, "cost_month");
    if (cost && (!json_is_integer(cost) || json_integer_value(cost) < 0))
        return hd_err_set(err, HD_EINVAL, "cost_month", "must be an integer >= 0 (fen per month)");
    return HD_OK;
}

static hd_rc load(hd_conn *c, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT code, name, channel, purpose, cost_month_fen, created_at, "
                        "updated_at FROM touchpoints WHERE id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        return got < 0 ? err->rc
                       : hd_err_set(err, HD_ENOTFOUND, "id", "no touchpoint %lld", (long long)id);
    }
    json_t *o = json_object();
    hd_json_set_id(o, "id", id);
    json_object_set_new(o, "code", json_string(hd_rows_text(r, 0, NULL)));
    json_object_set_new(o, "name", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(o, "channel", json_string(hd_rows_text(r, 2, NULL)));
    json_object_set_new(o, "purpose", json_string(hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "cost_month", json_integer(hd_rows_int(r, 4)));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 5), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 6), true);
    hd_rows_free(r);
    *out = o;
    return HD_OK;
}

typedef struct tp_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id;
    json_t *out;
    int64_t from, to;
} tp_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    tp_ctx *t = vctx;
    int64_t id = hd_id_next(t->d->ids), now = hd_now(t->d);
    json_t *cost = json_object_get(t->in, "cost_month");
    hd_val p[8] = {hd_vint(id),
                   hd_vtext(json_string_value(json_object_get(t->in, "code"))),
                   hd_vtext(json_string_value(json_object_get(t->in, "name"))),
                   hd_vtext(json_string_value(json_object_get(t->in, "channel"))),
                   hd_vtext(json_string_value(json_object_get(t->in, "purpose"))),
                   hd_vint(cost ? json_integer_value(cost) : 0),
                   hd_vint(now),
                   hd_vint(now)};
    hd_rc rc = hd_exec(c,
                       "INSERT INTO touchpoints (id, code, name, channel, purpose, cost_month_fen, "
                       "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 8, NULL, err);
    if (rc == HD_ECONFLICT)
        return hd_err_set(err, HD_ECONFLICT, "code", "a touchpoint with code %s exists",
                          json_string_value(json_object_get(t->in, "code")));
    if (rc) return rc;
    *status = 201;
    return load(c, id, body, err);
}

hd_rc hd_touchpoint_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err) {
    hd_rc rc = check(in, true, err);
    if (rc) return rc;
    tp_ctx t = {.d = d, .in = in};
    return hd_idem_write(d, im, create_cb, &t, status, out, replayed, err);
}

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    tp_ctx *t = vctx;
    return load(c, t->id, &t->out, err);
}

hd_rc hd_touchpoint_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    tp_ctx t = {.d = d, .id = id};
    hd_rc rc = hd_store_read(d->store, get_cb, &t, err);
    *out = t.out;
    return rc;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    tp_ctx *t = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT id FROM touchpoints ORDER BY code", NULL, 0, &r, err);
    if (rc) return rc;
    int64_t ids[1000];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < 1000) ids[n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++) {
        json_t *o;
        if ((rc = load(c, ids[i], &o, err))) return rc;
        json_array_append_new(t->out, o);
    }
    return HD_OK;
}

hd_rc hd_touchpoint_list(hd_domain *d, json_t **out, hd_err *err) {
    tp_ctx t = {.d = d, .out = json_array()};
    hd_rc rc = hd_store_read(d->store, list_cb, &t, err);
    if (rc) {
        json_decref(t.out);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "data", t.out);
    return HD_OK;
}

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    tp_ctx *t = vctx;
    json_t *cur = NULL;
    hd_rc rc = load(c, t->id, &cur, err);
    if (rc) return rc;
    json_object_update(cur, (json_t *)t->in);
    json_t *cost = json_object_get(cur, "cost_month");
    hd_val p[7] = {hd_vtext(json_string_value(json_object_get(cur, "code"))),
                   hd_vtext(json_string_value(json_object_get(cur, "name"))),
                   hd_vtext(json_string_value(json_object_get(cur, "channel"))),
                   hd_vtext(json_string_value(json_object_get(cur, "purpose"))),
                   hd_vint(json_integer_value(cost)),
                   hd_vint(hd_now(t->d)),
                   hd_vint(t->id)};
    rc = hd_exec(c,
                 "UPDATE touchpoints SET code = ?, name = ?, channel = ?, purpose = ?, "
                 "cost_month_fen = ?, updated_at = ? WHERE id = ?",
                 p, 7, NULL, err);
    json_decref(cur);
    if (rc == HD_ECONFLICT)
        return hd_err_set(err, HD_ECONFLICT, "code", "another touchpoint has this code");
    if (rc) return rc;
    return load(c, t->id, &t->out, err);
}

hd_rc hd_touchpoint_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    hd_rc rc = check(in, false, err);
    if (rc) return rc;
    tp_ctx t = {.d = d, .id = id, .in = in};
    rc = hd_store_write(d->store, patch_cb, &t, err);
    if (rc) {
        json_decref(t.out);
        return rc;
    }
    *out = t.out;
    return HD_OK;
}

static hd_rc delete_cb(hd_conn *c, void *vctx, hd_err *err) {
    tp_ctx *t = vctx;
    hd_val p = hd_vint(t->id);
    int64_t n = 0;
    hd_rc rc = hd_exec(c, "DELETE FROM touchpoints WHERE id = ?", &p, 1, &n, err);
    if (rc) return rc;
    if (n == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no touchpoint %lld", (long long)t->id);
    return HD_OK;
}

hd_rc hd_touchpoint_delete(hd_domain *d, int64_t id, hd_err *err) {
    tp_ctx t = {.d = d, .id = id};
    return hd_store_write(d->store, delete_cb, &t, err);
}

static hd_rc report_cb(hd_conn *c, void *vctx, hd_err *err) {
    tp_ctx *t = vctx;
    /* Attribution: an order's touchpoint is its own when it has one, else the
     * touchpoint of the customer's latest event with one in the 7 days before. */
    hd_val p[3] = {hd_vint(t->from), hd_vint(t->to), hd_vint(HD_ATTRIBUTION_WINDOW_MS)};
    hd_rows *r;
    hd_rc rc = hd_query(
        c,
        "SELECT tp.id, tp.code, tp.name, tp.channel, tp.purpose, tp.cost_month_fen, "
        "  (SELECT count(*) FROM events e WHERE e.touchpoint = tp.code AND e.occurred_at >= ?1 AND "
        "   e.occurred_at < ?2), "
        "  (SELECT count(DISTINCT e.customer_id) FROM events e WHERE e.touchpoint = tp.code AND "
        "   e.occurred_at >= ?1 AND e.occurred_at < ?2), "
        "  COALESCE(a.orders, 0), COALESCE(a.revenue, 0) "
        "FROM touchpoints tp LEFT JOIN ("
        "  SELECT touch, count(*) AS orders, sum(amount) AS revenue FROM ("
        "    SELECT o.amount, CASE WHEN o.touchpoint <> '' THEN o.touchpoint ELSE ("
        "      SELECT e.touchpoint FROM events e WHERE e.customer_id = o.customer_id AND "
        "      e.touchpoint <> '' AND e.occurred_at <= o.occurred_at AND e.occurred_at >= "
        "      o.occurred_at - ?3 ORDER BY e.occurred_at DESC, e.id DESC LIMIT 1) END AS touch "
        "    FROM orders o WHERE o.refunded_at IS NULL AND o.occurred_at >= ?1 AND "
        "    o.occurred_at < ?2) x GROUP BY touch) a ON a.touch = tp.code "
        "ORDER BY tp.code",
        p, 3, &r, err);
    if (rc) return rc;
    double months = (double)(t->to - t->from) / (30.0 * 86400000.0);
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *o = json_object();
        hd_json_set_id(o, "id", hd_rows_int(r, 0));
        json_object_set_new(o, "code", json_string(hd_rows_text(r, 1, NULL)));
        json_object_set_new(o, "name", json_string(hd_rows_text(r, 2, NULL)));
        json_object_set_new(o, "channel", json_string(hd_rows_text(r, 3, NULL)));
        json_object_set_new(o, "purpose", json_string(hd_rows_text(r, 4, NULL)));
        int64_t cost_month = hd_rows_int(r, 5);
        int64_t cost = (int64_t)((double)cost_month * months + 0.5);
        int64_t revenue = hd_rows_int(r, 9);
        json_object_set_new(o, "cost_month", json_integer(cost_month));
        json_object_set_new(o, "cost", json_integer(cost));
        json_object_set_new(o, "events", json_integer(hd_rows_int(r, 6)));
        json_object_set_new(o, "customers", json_integer(hd_rows_int(r, 7)));
        json_object_set_new(o, "orders", json_integer(hd_rows_int(r, 8)));
        json_object_set_new(o, "revenue", json_integer(revenue));
        json_object_set_new(o, "revenue_per_cost",
                            cost > 0 ? json_real((double)revenue / (double)cost) : json_null());
        json_array_append_new(t->out, o);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    return HD_OK;
}

/* best revenue per fen of cost first; touchpoints without a cost after, by revenue */
static int by_value(const void *a, const void *b) {
    json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    json_t *vx = json_object_get(x, "revenue_per_cost"),
           *vy = json_object_get(y, "revenue_per_cost");
    double dx = json_is_real(vx) ? json_real_value(vx) : -1;
    double dy = json_is_real(vy) ? json_real_value(vy) : -1;
    if (dx != dy) return dx < dy ? 1 : -1;
    json_int_t rx = json_integer_value(json_object_get(x, "revenue"));
    json_int_t ry = json_integer_value(json_object_get(y, "revenue"));
    return (rx < ry) - (rx > ry);
}

hd_rc hd_touchpoint_report(hd_domain *d, int64_t from_ms, int64_t to_ms, json_t **out,
                           hd_err *err) {
    if (to_ms <= from_ms) return hd_err_set(err, HD_EINVAL, "to", "must be after from");
    tp_ctx t = {.d = d, .out = json_array(), .from = from_ms, .to = to_ms};
    hd_rc rc = hd_store_read(d->store, report_cb, &t, err);
    if (rc) {
        json_decref(t.out);
        return rc;
    }
    size_t n = json_array_size(t.out);
    json_t **items = malloc(sizeof(json_t *) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) items[i] = json_incref(json_array_get(t.out, i));
    qsort(items, n, sizeof *items, by_value);
    json_array_clear(t.out);
    for (size_t i = 0; i < n; i++) json_array_append_new(t.out, items[i]);
    free(items);
    *out = json_object();
    hd_json_set_time(*out, "from", from_ms, true);
    hd_json_set_time(*out, "to", to_ms, true);
    json_object_set_new(*out, "attribution", json_string("last touch within 7 days"));
    json_object_set_new(*out, "data", t.out);
    return HD_OK;
}
