/* routes_instalments.c - handlers for instalment plans (积分分期): start one,
 * read it, pay it off, cancel it, a member's plans and the report. A
 * refusal's problem+json carries a "reason" read from the field the domain
 * named (insufficient_points, out_of_stock, delinquent, …). */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/instalments.h"

/* The Idempotency-Key's request hash covers the plan id too: the same key on
 * another plan is a different request, not a replay. */
static void idem_with_id(hd_req *r, hd_idem *im, int64_t id) {
    if (!im->key) return;
    hd_buf b = HD_BUF_INIT;
    hd_buf_printf(&b, "%lld\n", (long long)id);
    if (r->body.len) hd_buf_append(&b, r->body.data, r->body.len);
    hd_idem_hash(im, b.data ? b.data : "", b.len);
    hd_buf_free(&b);
}

static void h_create(hd_req *r, hd_resp *w) {
    hd_post_idem(r, w, hd_instalment_create, "/v1/instalments");
}

static void h_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "instalment plan", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_instalment_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_payoff(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "instalment plan", &id, w)) return;
    hd_idem im;
    char scope[300];
    if (!hd_req_idem(r, &im, scope, sizeof scope, w)) return;
    idem_with_id(r, &im, id);
    hd_err err;
    int status = 0;
    json_t *out = NULL;
    bool replayed = false;
    hd_rc rc = hd_instalment_payoff(r->d, &im, id, &status, &out, &replayed, &err);
    hd_resp_result(w, rc, &err, status, out, replayed);
}

static void h_cancel(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "instalment plan", &id, w)) return;
    json_t *in = NULL;
    if (r->body.len && !(in = hd_req_json(r, w))) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        idem_with_id(r, &im, id);
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = hd_instalment_cancel(r->d, &im, id, in, &status, &out, &replayed, &err);
        hd_resp_result(w, rc, &err, status, out, replayed);
    }
    json_decref(in);
}

static void h_customer(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor = 0;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_INSTALMENT_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_instalment_list_customer(r->d, id, cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_report(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_instalment_report(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* More specific paths come before {id} patterns. */
static const hd_route routes[] = {
    {"POST", "/v1/instalments", "points:write", h_create, false, NULL},
    {"GET", "/v1/instalments/{id}", "points:read", h_get, false, NULL},
    {"POST", "/v1/instalments/{id}/payoff", "points:write", h_payoff, false, NULL},
    {"POST", "/v1/instalments/{id}/cancel", "points:write", h_cancel, false, NULL},
    {"GET", "/v1/customers/{id}/instalments", "points:read", h_customer, false, NULL},
    {"GET", "/v1/reports/instalments", "analytics:read", h_report, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_instalments, routes);
