/* routes_groupbuys.c - handlers for group-buy deals, groups and joins. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/groupbuys.h"

static void h_create(hd_req *r, hd_resp *w) {
    hd_post_idem(r, w, hd_groupbuy_create, "/v1/groupbuys");
}

static void h_list(hd_req *r, hd_resp *w) {
    int64_t limit, cursor;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_GROUPBUY_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_groupbuy_list(r->d, cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "group-buy deal", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_groupbuy_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "group-buy deal", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_groupbuy_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_start(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "group-buy deal", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = hd_groupbuy_start(r->d, &im, id, in, &status, &out, &replayed, &err);
        hd_resp_result(w, rc, &err, status, out, replayed);
        if (!rc)
            snprintf(w->location, sizeof w->location, "/v1/groupbuys/groups/%s",
                     json_string_value(json_object_get(out, "code")));
    }
    json_decref(in);
}

static void h_groups(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor;
    if (!hd_req_id(r, 0, "group-buy deal", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_GROUPBUY_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc =
        hd_groupbuy_groups(r->d, id, hd_req_query(r, "status"), cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_join(hd_req *r, hd_resp *w) { hd_post_idem(r, w, hd_groupbuy_join, NULL); }

static void h_group(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_groupbuy_group(r->d, r->nparams ? r->params[0] : "", &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* More specific paths come before {id} patterns. */
static const hd_route routes[] = {
    {"POST", "/v1/groupbuys", "points:write", h_create, false, NULL},
    {"GET", "/v1/groupbuys", "points:read", h_list, false, NULL},
    {"POST", "/v1/groupbuys/join", "points:write", h_join, false, NULL},
    {"GET", "/v1/groupbuys/groups/{code}", "points:read", h_group, false, NULL},
    {"GET", "/v1/groupbuys/{id}", "points:read", h_get, false, NULL},
    {"PATCH", "/v1/groupbuys/{id}", "points:write", h_patch, false, NULL},
    {"POST", "/v1/groupbuys/{id}/groups", "points:write", h_start, false, NULL},
    {"GET", "/v1/groupbuys/{id}/groups", "points:read", h_groups, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_groupbuys, routes);
