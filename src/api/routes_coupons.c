/* routes_coupons.c - handlers for coupon templates, bulk issue, claim by
 * click, redeem and restore, a customer's coupons and the daily report. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/catalog.h"

static void h_tmpl_create(hd_req *r, hd_resp *w) {
    hd_post_idem(r, w, hd_coupon_template_create, NULL);
}

static void h_tmpl_list(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_template_list(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_tmpl_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "coupon template", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_template_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_tmpl_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "coupon template", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_template_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_issue(hd_req *r, hd_resp *w) {
    hd_post_idem_id(r, w, "coupon template", hd_coupon_issue);
}
static void h_claim(hd_req *r, hd_resp *w) {
    hd_post_idem_id(r, w, "coupon template", hd_coupon_claim);
}

static void h_redeem(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_redeem(r->d, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
    if (!rc) w->replayed = json_is_true(json_object_get(out, "replayed"));
}

static void h_restore(hd_req *r, hd_resp *w) {
    json_t *in = NULL;
    if (r->body.len && !(in = hd_req_json(r, w))) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_restore(r->d, r->nparams ? r->params[0] : "", in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_coupon_get(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_get(r->d, r->nparams ? r->params[0] : "", &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_customer_coupons(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_list_customer(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_report(hd_req *r, hd_resp *w) {
    int64_t now = hd_now(r->d), from = 0, to = now, tid = 0;
    const char *f = hd_req_query(r, "from"), *t = hd_req_query(r, "to");
    const char *ts = hd_req_query(r, "template_id");
    if (t && !hd_time_parse_in(r->d->clock, t, &to)) {
        hd_resp_problem(w, 400, HD_EINVAL, "to", "must be a date (2026-01-31) or an RFC 3339 time");
        return;
    }
    from = to - 30LL * 86400000;
    if (f && !hd_time_parse_in(r->d->clock, f, &from)) {
        hd_resp_problem(w, 400, HD_EINVAL, "from",
                        "must be a date (2026-01-31) or an RFC 3339 time");
        return;
    }
    if (ts && !hd_id_parse(ts, &tid)) {
        hd_resp_problem(w, 400, HD_EINVAL, "template_id", "must be an id");
        return;
    }
    if (to - from > 366LL * 86400000) {
        hd_resp_problem(w, 400, HD_EINVAL, "from", "a report covers at most 366 days");
        return;
    }
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_coupon_report(r->d, tid, from, to, &out, &err);
    if (rc == HD_EINVAL) {
        hd_resp_problem(w, 400, HD_EINVAL, err.field, "%s", err.msg);
        return;
    }
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* Literal paths before {code}. */
static const hd_route routes[] = {
    {"POST", "/v1/coupons/templates", "points:write", h_tmpl_create, false, NULL},
    {"GET", "/v1/coupons/templates", "points:read", h_tmpl_list, false, NULL},
    {"GET", "/v1/coupons/templates/{id}", "points:read", h_tmpl_get, false, NULL},
    {"PATCH", "/v1/coupons/templates/{id}", "points:write", h_tmpl_patch, false, NULL},
    {"POST", "/v1/coupons/templates/{id}/issue", "points:write", h_issue, false, NULL},
    {"POST", "/v1/coupons/redeem", "points:write", h_redeem, false, NULL},
    {"GET", "/v1/coupons/report", "points:read", h_report, false, NULL},
    {"POST", "/v1/coupons/{id}/claim", "points:write", h_claim, false, NULL},
    {"GET", "/v1/coupons/{code}", "points:read", h_coupon_get, false, NULL},
    {"POST", "/v1/coupons/{code}/restore", "points:write", h_restore, false, NULL},
    {"GET", "/v1/customers/{id}/coupons", "points:read", h_customer_coupons, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_coupons, routes);
