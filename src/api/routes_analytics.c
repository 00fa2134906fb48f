/* routes_analytics.c - handlers for analytics (RFM, Pareto, CLV, baskets, ladder),
 * their jobs, cross-sell recommendations and segments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/analytics_api.h"
#include "domain/segments.h"

/* hd_resp_result, and a 202 (a job started) says where to follow it. */
static void reply(hd_resp *w, hd_rc rc, const hd_err *err, int status, json_t *out) {
    if (rc) json_decref(out);
    hd_resp_result(w, rc, err, status, rc ? NULL : out, false);
    if (!rc && status == 202) {
        const char *id = json_string_value(json_object_get(out, "id"));
        if (id) snprintf(w->location, sizeof w->location, "/v1/jobs/%s", id);
    }
}

static bool query(hd_req *r, hd_resp *w, hd_analytics_query *q) {
    int64_t limit;
    if (!hd_req_query_int(r, "limit", 100, 1, HD_ANALYTICS_RULES_KEPT, &limit, w)) return false;
    *q = (hd_analytics_query){hd_req_query(r, "item"),
                              hd_req_query(r, "min_support"),
                              hd_req_query(r, "min_confidence"),
                              hd_req_query(r, "from"),
                              hd_req_query(r, "to"),
                              hd_req_query(r, "horizon"),
                              hd_req_query(r, "discount"),
                              (int)limit};
    return true;
}

static void get_kind(hd_req *r, hd_resp *w, const char *kind) {
    hd_analytics_query q;
    if (!query(r, w, &q)) return;
    hd_err err;
    int status = 200;
    json_t *out = NULL;
    hd_rc rc = hd_analytics_get(r->d, kind, &q, &status, &out, &err);
    reply(w, rc, &err, status, out);
}

static void h_rfm(hd_req *r, hd_resp *w) { get_kind(r, w, "rfm"); }
static void h_pareto(hd_req *r, hd_resp *w) { get_kind(r, w, "pareto"); }
static void h_clv(hd_req *r, hd_resp *w) { get_kind(r, w, "clv"); }
static void h_baskets(hd_req *r, hd_resp *w) { get_kind(r, w, "baskets"); }
static void h_ladder(hd_req *r, hd_resp *w) { get_kind(r, w, "ladder"); }

static void h_refresh(hd_req *r, hd_resp *w) {
    hd_analytics_query q;
    if (!query(r, w, &q)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_analytics_refresh(r->d, r->params[0], &q, &out, &err);
    reply(w, rc, &err, 202, out);
}

static void h_job(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "job", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_analytics_job_get(r->d, id, &out, &err);
    reply(w, rc, &err, 200, out);
}

static void h_thresholds_get(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_analytics_ladder_thresholds_get(r->d, &out, &err);
    reply(w, rc, &err, 200, out);
}

static void h_thresholds_put(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_analytics_ladder_thresholds_put(r->d, in, &out, &err);
    json_decref(in);
    reply(w, rc, &err, 200, out);
}

static void h_recommendations(hd_req *r, hd_resp *w) {
    int64_t id, limit;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 10, 1, HD_ANALYTICS_RECS_MAX, &limit, w)) return;
    hd_analytics_query q = {.item = hd_req_query(r, "item"),
                            .min_support = hd_req_query(r, "min_support"),
                            .min_confidence = hd_req_query(r, "min_confidence")};
    hd_err err;
    int status = 200;
    json_t *out = NULL;
    hd_rc rc = hd_analytics_recommendations(r->d, id, &q, (int)limit, &status, &out, &err);
    reply(w, rc, &err, status, out);
}

/* ---- segments ---- */

static void h_segment_create(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = hd_segments_create(r->d, &im, in, &status, &out, &replayed, &err);
        reply(w, rc, &err, status, out);
        if (!rc) {
            w->replayed = replayed;
            snprintf(w->location, sizeof w->location, "/v1/segments/%s",
                     json_string_value(json_object_get(out, "id")));
        }
    }
    json_decref(in);
}

static void h_segment_list(hd_req *r, hd_resp *w) {
    int64_t limit, cursor = 0;
    if (!hd_req_query_int(r, "limit", 50, 1, 200, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_segments_list(r->d, cursor, (int)limit, &out, &err);
    reply(w, rc, &err, 200, out);
}

static void h_segment_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "segment", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_segments_get(r->d, id, &out, &err);
    reply(w, rc, &err, 200, out);
}

static void h_segment_members(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor = 0;
    if (!hd_req_id(r, 0, "segment", &id, w)) return;
    const char *format = hd_req_query(r, "format");
    if (format && strcmp(format, "csv") && strcmp(format, "json")) {
        hd_resp_problem(w, 400, HD_EINVAL, "format", "must be json or csv");
        return;
    }
    hd_err err;
    if (format && strcmp(format, "csv") == 0) {
        char *csv = NULL;
        size_t len = 0;
        hd_rc rc = hd_segments_export_csv(r->d, id, &csv, &len, &err);
        if (rc) {
            hd_resp_result(w, rc, &err, 0, NULL, false);
            return;
        }
        w->raw = csv;
        w->raw_len = len;
        w->content_type = "text/csv; charset=utf-8";
        return;
    }
    if (!hd_req_query_int(r, "limit", 100, 1, HD_SEGMENT_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    json_t *out = NULL;
    hd_rc rc = hd_segments_members(r->d, id, cursor, (int)limit, &out, &err);
    reply(w, rc, &err, 200, out);
}

/* More specific paths come before {id} patterns. */
static const hd_route routes[] = {
    {"GET", "/v1/analytics/rfm", "analytics:read", h_rfm, false, NULL},
    {"GET", "/v1/analytics/pareto", "analytics:read", h_pareto, false, NULL},
    {"GET", "/v1/analytics/clv", "analytics:read", h_clv, false, NULL},
    {"GET", "/v1/analytics/baskets", "analytics:read", h_baskets, false, NULL},
    {"GET", "/v1/analytics/ladder", "analytics:read", h_ladder, false, NULL},
    {"GET", "/v1/analytics/ladder/thresholds", "analytics:read", h_thresholds_get, false, NULL},
    {"PUT", "/v1/analytics/ladder/thresholds", "analytics:write", h_thresholds_put, false, NULL},
    {"POST", "/v1/analytics/{kind}/refresh", "analytics:write", h_refresh, false, NULL},
    {"GET", "/v1/jobs/{id}", "analytics:read", h_job, false, NULL},
    {"GET", "/v1/customers/{id}/recommendations", "analytics:read", h_recommendations, false, NULL},
    {"POST", "/v1/segments", "analytics:write", h_segment_create, false, NULL},
    {"GET", "/v1/segments", "analytics:read", h_segment_list, false, NULL},
    {"GET", "/v1/segments/{id}", "analytics:read", h_segment_get, false, NULL},
    {"GET", "/v1/segments/{id}/members", "analytics:read", h_segment_members, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_analytics, routes);
