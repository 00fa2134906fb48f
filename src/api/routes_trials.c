/* routes_trials.c - handlers for trials, applications, the draw and reviews. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/trials.h"

static void h_create(hd_req *r, hd_resp *w) { hd_post_idem(r, w, hd_trial_create, "/v1/trials"); }
static void h_apply(hd_req *r, hd_resp *w) { hd_post_idem_id(r, w, "trial", hd_trial_apply); }
static void h_review(hd_req *r, hd_resp *w) { hd_post_idem_id(r, w, "trial", hd_trial_review); }

static void h_list(hd_req *r, hd_resp *w) {
    int64_t limit, cursor;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_TRIAL_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_trial_list(r->d, hd_req_query(r, "status"), cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "trial", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_trial_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_applications(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor, customer = 0;
    if (!hd_req_id(r, 0, "trial", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_TRIAL_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    const char *cs = hd_req_query(r, "customer_id");
    if (cs && !hd_id_parse(cs, &customer)) {
        hd_resp_problem(w, 400, HD_EINVAL, "customer_id", "must be a customer id");
        return;
    }
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_trial_applications(r->d, id, hd_req_query(r, "status"), customer, cursor,
                                     (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_draw(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "trial", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_trial_draw(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_reviews(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor;
    if (!hd_req_id(r, 0, "trial", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_TRIAL_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_trial_reviews(r->d, id, cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"POST", "/v1/trials", "points:write", h_create, false, NULL},
    {"GET", "/v1/trials", "points:read", h_list, false, NULL},
    {"GET", "/v1/trials/{id}", "points:read", h_get, false, NULL},
    {"POST", "/v1/trials/{id}/applications", "points:write", h_apply, false, NULL},
    {"GET", "/v1/trials/{id}/applications", "points:read", h_applications, false, NULL},
    {"GET", "/v1/trials/{id}/draw", "points:read", h_draw, false, NULL},
    {"POST", "/v1/trials/{id}/reviews", "points:write", h_review, false, NULL},
    {"GET", "/v1/trials/{id}/reviews", "points:read", h_reviews, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_trials, routes);
