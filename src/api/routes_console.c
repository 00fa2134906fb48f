/* routes_console.c - the console's own endpoints: the overview's counts and
 * trends, merging two customers from the duplicates list, and a segment
 * condition's count before it is saved. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/console.h"

static void h_overview(hd_req *r, hd_resp *w) {
    int64_t days;
    if (!hd_req_query_int(r, "days", 90, HD_CONSOLE_DAYS_MIN, HD_CONSOLE_DAYS_MAX, &days, w))
        return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_console_overview(r->d, (int)days, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_merge(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    const char *type, *name;
    int64_t actor;
    hd_req_actor(r, &type, &actor, &name);
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_console_merge(r->d, in, name, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_segment_preview(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_console_segment_preview(r->d, hd_req_query(r, "expression"), &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false); /* line, column: where the caret goes */
}

/* What the caller may do, area by area, by the same rules the router applies,
 * so the console hides exactly the buttons the server would refuse. */
static void h_permissions(hd_req *r, hd_resp *w) {
    static const char *const areas[] = {"customers", "events",    "touchpoints",
                                        "points",    "analytics", "admin"};
    json_t *allows = json_object();
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++) {
        for (int wr = 0; wr < 2; wr++) {
            char scope[32];
            snprintf(scope, sizeof scope, "%s:%s", areas[i], wr ? "write" : "read");
            bool ok =
                r->is_user ? hd_role_allows(r->user.role, scope) : hd_apikey_allows(&r->key, scope);
            json_object_set_new(allows, scope, json_boolean(ok));
        }
    }
    w->body = json_object();
    json_object_set_new(w->body, "role", r->is_user ? json_string(r->user.role) : json_null());
    json_object_set_new(w->body, "allows", allows);
}

static const hd_route routes[] = {
    {"GET", "/v1/console/permissions", "auth", h_permissions, false, NULL},
    {"GET", "/v1/console/overview", "analytics:read", h_overview, false, NULL},
    {"GET", "/v1/console/segments/preview", "analytics:read", h_segment_preview, false, NULL},
    {"POST", "/v1/customers/merge", "customers:write", h_merge, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_console, routes);
