/* routes_ledger.c - handlers for transfers, points and the programme. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/ledger.h"

static void hd_h_transfer(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    int status = 0;
    json_t *out = NULL;
    hd_rc rc = hd_ledger_transfer(r->d, in, &status, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, status, out, false);
    if (!rc) w->replayed = status == 200;
}

static void hd_h_transfer_batch(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    int status = 0;
    json_t *out = NULL;
    hd_rc rc = hd_ledger_transfer_batch(r->d, in, &status, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, status, out, false);
}

static void hd_h_transfer_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "transfer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_ledger_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void resolve(hd_req *r, hd_resp *w, bool post) {
    int64_t id;
    if (!hd_req_id(r, 0, "transfer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_ledger_resolve(r->d, id, post, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_transfer_post(hd_req *r, hd_resp *w) { resolve(r, w, true); }
static void hd_h_transfer_void(hd_req *r, hd_resp *w) { resolve(r, w, false); }

static void hd_h_points(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_ledger_points(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_points_history(hd_req *r, hd_resp *w) {
    int64_t id, limit;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, 200, &limit, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_ledger_history(r->d, id, hd_req_query(r, "cursor"), (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_program_get(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_program_get(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_program_patch(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_program_patch(r->d, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"GET", "/v1/customers/{id}/points", "points:read", hd_h_points, false, NULL},
    {"GET", "/v1/customers/{id}/points/history", "points:read", hd_h_points_history, false, NULL},
    {"POST", "/v1/transfers", "points:write", hd_h_transfer, false, NULL},
    {"POST", "/v1/transfers/batch", "points:write", hd_h_transfer_batch, false, NULL},
    {"GET", "/v1/transfers/{id}", "points:read", hd_h_transfer_get, false, NULL},
    {"POST", "/v1/transfers/{id}/post", "points:write", hd_h_transfer_post, false, NULL},
    {"POST", "/v1/transfers/{id}/void", "points:write", hd_h_transfer_void, false, NULL},
    {"GET", "/v1/program", "points:read", hd_h_program_get, false, NULL},
    {"PATCH", "/v1/program", "points:write", hd_h_program_patch, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_ledger, routes);
