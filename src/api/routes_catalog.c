/* routes_catalog.c - handlers for rewards, redemptions, orders, monthly
 * specials and the points report. A refusal's problem+json carries a
 * "reason" (insufficient_points, out_of_stock, window_closed, …) read from
 * the field the domain named, so clients need not parse sentences. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/catalog.h"

/* The body of an action that may come without one. */
static bool optional_body(hd_req *r, hd_resp *w, json_t **in) {
    *in = NULL;
    if (r->body.len == 0) return true;
    *in = hd_req_json(r, w);
    return *in != NULL;
}

static bool query_id(hd_req *r, const char *name, int64_t *out, hd_resp *w) {
    const char *s = hd_req_query(r, name);
    *out = 0;
    if (s && !hd_id_parse(s, out)) {
        hd_resp_problem(w, 400, HD_EINVAL, name, "must be an id");
        return false;
    }
    return true;
}

/* ---- rewards ---- */

static void h_reward_create(hd_req *r, hd_resp *w) { hd_post_idem(r, w, hd_reward_create, NULL); }

static void h_reward_list(hd_req *r, hd_resp *w) {
    int64_t limit, cid, cursor = 0;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_CATALOG_PAGE_MAX, &limit, w)) return;
    if (!query_id(r, "customer_id", &cid, w)) return;
    const char *av = hd_req_query(r, "available");
    if (!hd_req_cursor(r, &cursor, w)) return;
    if (av && strcmp(av, "true") && strcmp(av, "false")) {
        hd_resp_problem(w, 400, HD_EINVAL, "available", "must be true or false");
        return;
    }
    hd_reward_query q = {hd_req_query(r, "type"), av ? strcmp(av, "true") == 0 : -1, cid, cursor,
                         (int)limit};
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_reward_list(r->d, &q, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_reward_get(hd_req *r, hd_resp *w) {
    int64_t id, cid;
    if (!hd_req_id(r, 0, "reward", &id, w)) return;
    if (!query_id(r, "customer_id", &cid, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_reward_get(r->d, id, cid, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_reward_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "reward", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_reward_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* ---- redemptions and orders ---- */

static void h_redeem(hd_req *r, hd_resp *w) {
    hd_post_idem(r, w, hd_redemption_create, NULL);
    if (w->status == 201) {
        snprintf(w->location, sizeof w->location, "/v1/orders/%s",
                 json_string_value(json_object_get(w->body, "id")));
    }
}

static void h_order_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "order", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_order_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void transition(hd_req *r, hd_resp *w, const char *action) {
    int64_t id;
    if (!hd_req_id(r, 0, "order", &id, w)) return;
    json_t *in;
    if (!optional_body(r, w, &in)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_order_transition(r->d, id, action, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_order_ship(hd_req *r, hd_resp *w) { transition(r, w, "ship"); }
static void h_order_deliver(hd_req *r, hd_resp *w) { transition(r, w, "deliver"); }
static void h_order_cancel(hd_req *r, hd_resp *w) { transition(r, w, "cancel"); }

static void h_customer_orders(hd_req *r, hd_resp *w) {
    int64_t id, limit;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_CATALOG_PAGE_MAX, &limit, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_order_list_customer(r->d, id, hd_req_query(r, "cursor"), (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* ---- specials ---- */

static void h_special_create(hd_req *r, hd_resp *w) { hd_post_idem(r, w, hd_special_create, NULL); }

static void h_special_list(hd_req *r, hd_resp *w) {
    int64_t limit, rid, cid;
    if (!hd_req_query_int(r, "limit", 100, 1, HD_CATALOG_PAGE_MAX, &limit, w)) return;
    if (!query_id(r, "reward_id", &rid, w) || !query_id(r, "customer_id", &cid, w)) return;
    const char *run = hd_req_query(r, "running");
    if (run && strcmp(run, "true") && strcmp(run, "false")) {
        hd_resp_problem(w, 400, HD_EINVAL, "running", "must be true or false");
        return;
    }
    hd_special_query q = {rid, run && strcmp(run, "true") == 0, cid, (int)limit};
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_special_list(r->d, &q, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_special_calendar(hd_req *r, hd_resp *w) {
    const char *month = hd_req_query(r, "month");
    char def[8];
    if (!month) {
        char now[32];
        hd_time_format(hd_now(r->d), now);
        snprintf(def, sizeof def, "%.7s", now);
        month = def;
    }
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_special_calendar(r->d, month, &out, &err);
    if (rc == HD_EINVAL) {
        hd_resp_problem(w, 400, HD_EINVAL, "month", "%s", err.msg);
        return;
    }
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_special_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "special", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_special_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_special_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "special", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_special_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* ---- the points report ---- */

static bool query_time(hd_req *r, const char *name, int64_t def, int64_t *out, hd_resp *w) {
    const char *s = hd_req_query(r, name);
    *out = def;
    if (s && !hd_time_parse_in(r->d->clock, s, out)) {
        hd_resp_problem(w, 400, HD_EINVAL, name, "must be a date (2026-01-31) or an RFC 3339 time");
        return false;
    }
    return true;
}

static void h_points_report(hd_req *r, hd_resp *w) {
    int64_t now = hd_now(r->d), from, to;
    if (!query_time(r, "to", now, &to, w)) return;
    if (!query_time(r, "from", to - 30LL * 86400000, &from, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_points_report(r->d, from, to, &out, &err);
    if (rc == HD_EINVAL) {
        hd_resp_problem(w, 400, HD_EINVAL, err.field, "%s", err.msg);
        return;
    }
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"POST", "/v1/rewards", "points:write", h_reward_create, false, NULL},
    {"GET", "/v1/rewards", "points:read", h_reward_list, false, NULL},
    {"GET", "/v1/rewards/{id}", "points:read", h_reward_get, false, NULL},
    {"PATCH", "/v1/rewards/{id}", "points:write", h_reward_patch, false, NULL},
    {"POST", "/v1/redemptions", "points:write", h_redeem, false, NULL},
    {"GET", "/v1/orders/{id}", "points:read", h_order_get, false, NULL},
    {"POST", "/v1/orders/{id}/ship", "points:write", h_order_ship, false, NULL},
    {"POST", "/v1/orders/{id}/deliver", "points:write", h_order_deliver, false, NULL},
    {"POST", "/v1/orders/{id}/cancel", "points:write", h_order_cancel, false, NULL},
    {"GET", "/v1/customers/{id}/orders", "points:read", h_customer_orders, false, NULL},
    {"POST", "/v1/specials", "points:write", h_special_create, false, NULL},
    {"GET", "/v1/specials", "points:read", h_special_list, false, NULL},
    {"GET", "/v1/specials/calendar", "points:read", h_special_calendar, false, NULL},
    {"GET", "/v1/specials/{id}", "points:read", h_special_get, false, NULL},
    {"PATCH", "/v1/specials/{id}", "points:write", h_special_patch, false, NULL},
    {"GET", "/v1/reports/points", "analytics:read", h_points_report, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_catalog, routes);
