/* routes_trials.c - handlers for trials, applications, the draw and reviews. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/trials.h"

/* A POST with an Idempotency-Key: create, apply, review. */
typedef hd_rc (*idem_fn)(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                         json_t **out, bool *replayed, hd_err *err);

static hd_rc create_fn(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                       json_t **out, bool *replayed, hd_err *err) {
    (void)id;
    return hd_trial_create(d, im, in, status, out, replayed, err);
}

static void idem_post(hd_req *r, hd_resp *w, bool with_id, idem_fn fn) {
    int64_t id = 0;
    if (with_id && !hd_req_id(r, 0, "trial", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = fn(r->d, &im, id, in, &status, &out, &replayed, &err);
        hd_resp_result(w, rc, &err, status, out, replayed);
        if (!rc && !with_id)
            snprintf(w->location, sizeof w->location, "/v1/trials/%s",
                     json_string_value(json_object_get(out, "id")));
    }
    json_decref(in);
}

static void h_create(hd_req *r, hd_resp *w) { idem_post(r, w, false, create_fn); }
static void h_apply(hd_req *r, hd_resp *w) { idem_post(r, w, true, hd_trial_apply); }
static void h_review(hd_req *r, hd_resp *w) { idem_post(r, w, true, hd_trial_review); }

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
    {"POST", "/v1/trials", "points:write", h_create, false},
    {"GET", "/v1/trials", "points:read", h_list, false},
    {"GET", "/v1/trials/{id}", "points:read", h_get, false},
    {"POST", "/v1/trials/{id}/applications", "points:write", h_apply, false},
    {"GET", "/v1/trials/{id}/applications", "points:read", h_applications, false},
    {"GET", "/v1/trials/{id}/draw", "points:read", h_draw, false},
    {"POST", "/v1/trials/{id}/reviews", "points:write", h_review, false},
    {"GET", "/v1/trials/{id}/reviews", "points:read", h_reviews, false},
};
HD_ROUTE_TABLE(hd_routes_trials, routes);
