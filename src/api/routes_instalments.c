/* routes_instalments.c - handlers for instalment plans (积分分期): start one,
 * read it, pay it off, cancel it, a member's plans and the report. A
 * refusal's problem+json carries a "reason" read from the field the domain
 * named (insufficient_points, out_of_stock, delinquent, …). */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/instalments.h"

static void reply(hd_resp *w, hd_rc rc, const hd_err *err, int status, json_t *out, bool replayed) {
    if (rc) {
        hd_resp_refusal(w, err);
        return;
    }
    w->status = status;
    w->body = out;
    w->replayed = replayed;
}

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
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = hd_instalment_create(r->d, &im, in, &status, &out, &replayed, &err);
        reply(w, rc, &err, status, out, replayed);
        if (!rc)
            snprintf(w->location, sizeof w->location, "/v1/instalments/%s",
                     json_string_value(json_object_get(out, "id")));
    }
    json_decref(in);
}

static void h_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "instalment plan", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_instalment_get(r->d, id, &out, &err);
    reply(w, rc, &err, 200, out, false);
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
    reply(w, rc, &err, status, out, replayed);
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
        reply(w, rc, &err, status, out, replayed);
    }
    json_decref(in);
}

static void h_customer(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor = 0;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_INSTALMENT_PAGE_MAX, &limit, w)) return;
    const char *cur = hd_req_query(r, "cursor");
    if (cur && !hd_id_parse(cur, &cursor)) {
        hd_resp_problem(w, 400, HD_EINVAL, "cursor", "is not a cursor this API returned");
        return;
    }
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_instalment_list_customer(r->d, id, cursor, (int)limit, &out, &err);
    reply(w, rc, &err, 200, out, false);
}

static void h_report(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_instalment_report(r->d, &out, &err);
    reply(w, rc, &err, 200, out, false);
}

/* More specific paths come before {id} patterns. */
static const hd_route routes[] = {
    {"POST", "/v1/instalments", "points:write", h_create, false},
    {"GET", "/v1/instalments/{id}", "points:read", h_get, false},
    {"POST", "/v1/instalments/{id}/payoff", "points:write", h_payoff, false},
    {"POST", "/v1/instalments/{id}/cancel", "points:write", h_cancel, false},
    {"GET", "/v1/customers/{id}/instalments", "points:read", h_customer, false},
    {"GET", "/v1/reports/instalments", "analytics:read", h_report, false},
};
HD_ROUTE_TABLE(hd_routes_instalments, routes);
