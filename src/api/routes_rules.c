/* routes_rules.c - handlers for earning rules and tiers. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/rules.h"
#include "domain/tiers.h"

static void hd_h_rule_create(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    int status = 0;
    json_t *out = NULL;
    hd_rc rc = hd_rule_create(r->d, in, &status, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, status, out, false);
}

static void hd_h_rule_list(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_rule_list(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_rule_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "rule", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_rule_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_rule_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "rule", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_rule_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_rule_simulate(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "rule", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_rule_simulate(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_tier_create(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    int status = 0;
    json_t *out = NULL;
    hd_rc rc = hd_tier_create(r->d, in, &status, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, status, out, false);
}

static void hd_h_tier_list(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_tier_list(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_tier_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "tier", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_tier_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void hd_h_customer_tier(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_tier_customer(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"POST", "/v1/rules", "points:write", hd_h_rule_create, false, NULL},
    {"GET", "/v1/rules", "points:read", hd_h_rule_list, false, NULL},
    {"GET", "/v1/rules/{id}", "points:read", hd_h_rule_get, false, NULL},
    {"PATCH", "/v1/rules/{id}", "points:write", hd_h_rule_patch, false, NULL},
    {"POST", "/v1/rules/{id}/simulate", "points:read", hd_h_rule_simulate, false, NULL},
    {"POST", "/v1/tiers", "points:write", hd_h_tier_create, false, NULL},
    {"GET", "/v1/tiers", "points:read", hd_h_tier_list, false, NULL},
    {"PATCH", "/v1/tiers/{id}", "points:write", hd_h_tier_patch, false, NULL},
    {"GET", "/v1/customers/{id}/tier", "points:read", hd_h_customer_tier, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_rules, routes);
