/* routes.c - the route table and the handlers for the foundation: health,
 * OpenAPI, customers, events, touchpoints, and the test clock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/analytics_api.h"
#include "domain/brand.h"
#include "domain/customers.h"
#include "domain/events.h"
#include "domain/touchpoints.h"
#include "domain/users.h"

extern unsigned char openapi_json[];
extern unsigned int openapi_json_len;

const char *hd_api_openapi(size_t *len) {
    *len = openapi_json_len;
    return (const char *)openapi_json;
}

static void h_health(hd_req *r, hd_resp *w) {
    w->body = json_object();
    json_object_set_new(w->body, "status", json_string("ok"));
    char now[32];
    hd_time_format(hd_now(r->d), now);
    json_object_set_new(w->body, "time", json_string(now));
    json_object_set_new(
        w->body, "store",
        json_string(hd_store_kind_of(r->d->store) == HD_STORE_SQLITE ? "sqlite" : "postgres"));
    json_object_set_new(w->body, "version", json_string("0.1.0"));
}

static void h_openapi(hd_req *r, hd_resp *w) {
    size_t n;
    const char *doc = hd_api_openapi(&n);
    w->raw = malloc(n);
    if (!w->raw) {
        hd_resp_problem(w, 503, HD_ENOMEM, "", "out of memory");
        return;
    }
    memcpy(w->raw, doc, n);
    w->raw_len = n;
    w->content_type = "application/json";
}

static void moved(hd_req *r, hd_resp *w, const char *base, int64_t from, int64_t to) {
    w->status = 301;
    snprintf(w->location, sizeof w->location, "%s/%lld", base, (long long)to);
    w->body = json_object();
    hd_json_set_id(w->body, "id", from);
    hd_json_set_id(w->body, "merged_into", to);
    (void)r;
}

/* ---- customers ---- */

static void h_customer_create(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        int64_t existing = 0;
        hd_rc rc = hd_customer_create(r->d, &im, in, &status, &out, &replayed, &existing, &err);
        hd_resp_result(w, rc, &err, status, out, replayed);
        if (rc == HD_ECONFLICT && existing) hd_json_set_id(w->body, "existing_id", existing);
        if (!rc) {
            snprintf(w->location, sizeof w->location, "/v1/customers/%s",
                     json_string_value(json_object_get(out, "id")));
        }
    }
    json_decref(in);
}

static void h_customer_get(hd_req *r, hd_resp *w) {
    int64_t id, to = 0;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_customer_get(r->d, id, &out, &to, &err);
    json_t *scores = NULL; /* rfm, clv, p_alive, ladder stage */
    if (!rc && hd_analytics_customer(r->d, id, &scores, &err) == HD_OK)
        json_object_update(out, scores);
    json_decref(scores);
    if (rc == HD_EMOVED)
        moved(r, w, "/v1/customers", id, to);
    else if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
    if (!rc && hd_req_masks_phones(r)) {
        /* an agent sees 138****8000 unless they open the number on purpose,
         * which is recorded */
        const char *reveal = hd_req_query(r, "reveal");
        if (reveal && strcmp(reveal, "1") == 0) {
            const char *type, *name;
            int64_t actor;
            hd_req_actor(r, &type, &actor, &name);
            hd_err aerr;
            size_t plen = strcspn(r->url, "?");
            char path[256];
            snprintf(path, sizeof path, "%.*s", (int)(plen < 255 ? plen : 255), r->url);
            /* no line in the audit log, no number */
            if (hd_audit_add(r->d, type, actor, name, "REVEAL", path, 200, NULL, NULL, &aerr))
                hd_resp_problem(w, 503, HD_ESTORE, "reveal",
                                "the number stays masked: the audit log cannot be written (%s)",
                                aerr.msg);
        } else {
            hd_mask_phones(out);
        }
    }
}

static void h_customer_patch(hd_req *r, hd_resp *w) {
    int64_t id, to = 0;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_customer_patch(r->d, id, in, &out, &to, &err);
    json_decref(in);
    if (rc == HD_EMOVED)
        moved(r, w, "/v1/customers", id, to);
    else if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

static void h_customer_delete(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    hd_rc rc = hd_customer_erase(r->d, id, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->status = 204;
}

static void h_customer_export(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_customer_export(r->d, id, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

static void h_customer_timeline(hd_req *r, hd_resp *w) {
    int64_t id, limit;
    if (!hd_req_id(r, 0, "customer", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_PAGE_MAX, &limit, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_customer_timeline(r->d, id, hd_req_query(r, "cursor"), (int)limit, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

static void h_customer_search(hd_req *r, hd_resp *w) {
    int64_t limit, cursor = 0;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_customer_query q = {hd_req_query(r, "phone"),
                           hd_req_query(r, "email"),
                           hd_req_query(r, "q"),
                           hd_req_query(r, "tag"),
                           cursor,
                           (int)limit};
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_customer_search(r->d, &q, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
    if (!rc && hd_req_masks_phones(r)) hd_mask_phones(out);
}

static void h_customer_duplicates(hd_req *r, hd_resp *w) {
    int64_t limit;
    if (!hd_req_query_int(r, "limit", 100, 1, HD_PAGE_MAX, &limit, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_customer_duplicates(r->d, (int)limit, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

/* ---- events ---- */

/* ---- touchpoints ---- */

static void h_tp_create(hd_req *r, hd_resp *w) { hd_post_idem(r, w, hd_touchpoint_create, NULL); }

static void h_tp_list(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_touchpoint_list(r->d, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

static void h_tp_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "touchpoint", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_touchpoint_get(r->d, id, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

static void h_tp_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "touchpoint", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_touchpoint_patch(r->d, id, in, &out, &err);
    json_decref(in);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

static void h_tp_delete(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "touchpoint", &id, w)) return;
    hd_err err;
    hd_rc rc = hd_touchpoint_delete(r->d, id, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->status = 204;
}

static bool query_time(hd_req *r, const char *name, int64_t def, int64_t *out, hd_resp *w) {
    const char *s = hd_req_query(r, name);
    *out = def;
    if (s && !hd_time_parse_in(r->d->clock, s, out)) {
        hd_resp_problem(w, 400, HD_EINVAL, name, "must be a date (2026-01-31) or an RFC 3339 time");
        return false;
    }
    return true;
}

static void h_tp_report(hd_req *r, hd_resp *w) {
    int64_t now = hd_now(r->d), from, to;
    if (!query_time(r, "to", now, &to, w)) return;
    if (!query_time(r, "from", to - 30LL * 86400000, &from, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_touchpoint_report(r->d, from, to, &out, &err);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->body = out;
}

/* ---- test clock ---- */

static void h_test_clock(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    json_t *now = json_object_get(in, "now"), *adv = json_object_get(in, "advance_s");
    int64_t ms;
    if (now &&
        (!json_is_string(now) || !hd_time_parse_in(r->d->clock, json_string_value(now), &ms))) {
        hd_resp_problem(w, 422, HD_EINVAL, "now", "must be an RFC 3339 time");
    } else if (adv && (!json_is_integer(adv) || json_integer_value(adv) < 0)) {
        hd_resp_problem(w, 422, HD_EINVAL, "advance_s", "must be an integer >= 0 (seconds)");
    } else if (!now && !adv) {
        hd_resp_problem(w, 422, HD_EINVAL, "now", "send now or advance_s");
    } else {
        if (now) hd_clock_set_ms(r->d->clock, ms);
        if (adv) hd_clock_advance_ms(r->d->clock, json_integer_value(adv) * 1000);
        hd_err err;
        hd_rc rc = hd_domain_run_jobs(r->d, &err);
        if (rc) {
            hd_resp_error(w, &err);
        } else {
            char t[32];
            hd_time_format(hd_now(r->d), t);
            w->body = json_object();
            json_object_set_new(w->body, "now", json_string(t));
        }
    }
    json_decref(in);
}

/* ---- the brand's settings ---- */

static void h_brand_get(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_brand_get(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_brand_patch(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_brand_patch(r->d, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

/* More specific paths come before {id} patterns. */
static const hd_route routes[] = {
    {"GET", "/v1/health", NULL, h_health, false, NULL},
    {"GET", "/v1/openapi.json", NULL, h_openapi, false, NULL},
    {"GET", "/v1/brand", "auth", h_brand_get, false, NULL},
    {"PATCH", "/v1/brand", "admin:write", h_brand_patch, false, NULL},
    {"POST", "/v1/customers", "customers:write", h_customer_create, false, NULL},
    {"GET", "/v1/customers", "customers:read", h_customer_search, false, NULL},
    {"GET", "/v1/customers/duplicates", "customers:read", h_customer_duplicates, false, NULL},
    {"GET", "/v1/customers/{id}", "customers:read", h_customer_get, false, NULL},
    {"PATCH", "/v1/customers/{id}", "customers:write", h_customer_patch, false, NULL},
    {"DELETE", "/v1/customers/{id}", "customers:write", h_customer_delete, false, NULL},
    {"GET", "/v1/customers/{id}/export", "customers:read", h_customer_export, false, NULL},
    {"GET", "/v1/customers/{id}/timeline", "customers:read", h_customer_timeline, false, NULL},
    {"POST", "/v1/events", "events:write", NULL, false, hd_event_prepare},
    {"POST", "/v1/events/batch", "events:write", NULL, false, hd_event_batch_prepare},
    {"POST", "/v1/touchpoints", "touchpoints:write", h_tp_create, false, NULL},
    {"GET", "/v1/touchpoints", "touchpoints:read", h_tp_list, false, NULL},
    {"GET", "/v1/touchpoints/report", "touchpoints:read", h_tp_report, false, NULL},
    {"GET", "/v1/touchpoints/{id}", "touchpoints:read", h_tp_get, false, NULL},
    {"PATCH", "/v1/touchpoints/{id}", "touchpoints:write", h_tp_patch, false, NULL},
    {"DELETE", "/v1/touchpoints/{id}", "touchpoints:write", h_tp_delete, false, NULL},
    {"POST", "/v1/test/clock", "admin:write", h_test_clock, true, NULL},
};
HD_ROUTE_TABLE(hd_routes_core, routes);

const hd_route_table *const hd_route_tables[] = {
    &hd_routes_auth,        &hd_routes_core,      &hd_routes_ledger,   &hd_routes_rules,
    &hd_routes_catalog,     &hd_routes_coupons,   &hd_routes_auctions, &hd_routes_groupbuys,
    &hd_routes_trials,      &hd_routes_analytics, &hd_routes_console,  &hd_routes_member,
    &hd_routes_instalments, &hd_routes_credit};
const int hd_route_tables_count = (int)(sizeof hd_route_tables / sizeof hd_route_tables[0]);

int hd_api_route_count(void) {
    int n = 0;
    for (int t = 0; t < hd_route_tables_count; t++) n += hd_route_tables[t]->n;
    return n;
}

static const hd_route *route_at(int i) {
    for (int t = 0; t < hd_route_tables_count; t++) {
        if (i < hd_route_tables[t]->n) return &hd_route_tables[t]->routes[i];
        i -= hd_route_tables[t]->n;
    }
    return NULL;
}

const char *hd_api_route_method(int i) { return route_at(i)->method; }
const char *hd_api_route_path(int i) { return route_at(i)->path; }
