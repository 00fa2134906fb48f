/* routes_credit.c - handlers for overdraft (透支): the credit settings
 * (credit_formula, overdue_days), a member's credit limit by hand and their
 * credit view, recomputing limits on demand, and the credit report. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/credit.h"

static void h_settings_get(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_credit_settings_get(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_settings_patch(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_credit_settings_patch(r->d, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_recompute(hd_req *r, hd_resp *w) {
    json_t *in = NULL;
    if (r->body.len && !(in = hd_req_json(r, w))) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_credit_recompute(r->d, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_credit_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_put(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_credit_set(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_report(hd_req *r, hd_resp *w) {
    int64_t limit, cursor = 0;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_CREDIT_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_credit_report(r->d, cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"GET", "/v1/credit/settings", "points:read", h_settings_get, false, NULL},
    {"PATCH", "/v1/credit/settings", "points:write", h_settings_patch, false, NULL},
    {"POST", "/v1/credit/recompute", "points:write", h_recompute, false, NULL},
    {"GET", "/v1/customers/{id}/credit", "points:read", h_get, false, NULL},
    {"PUT", "/v1/customers/{id}/credit", "points:write", h_put, false, NULL},
    {"GET", "/v1/reports/credit", "analytics:read", h_report, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_credit, routes);
