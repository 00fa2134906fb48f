/* routes_auth.c - console sign-in, users, API keys and the audit log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/apikeys.h"
#include "domain/users.h"

static json_t *me_json(const hd_user *u, const char *csrf) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", u->id);
    json_object_set_new(o, "email", json_string(u->email));
    json_object_set_new(o, "name", json_string(u->name));
    json_object_set_new(o, "role", json_string(u->role));
    json_object_set_new(o, "csrf_token", json_string(csrf));
    return o;
}

static void h_login(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    const char *email = json_string_value(json_object_get(in, "email"));
    const char *pw = json_string_value(json_object_get(in, "password"));
    hd_user u = {0};
    char *token = NULL, csrf[48];
    hd_err err;
    hd_rc rc = hd_session_login(r->d, email, pw, &u, &token, csrf, &err);
    json_decref(in);
    if (rc) {
        hd_resp_error(w, &err);
        return;
    }
    /* Secure when the request came over TLS (directly or via a proxy) */
    const char *proto = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    bool tls = proto && strcmp(proto, "https") == 0;
    snprintf(w->set_cookie, sizeof w->set_cookie,
             "hd_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%lld%s", token,
             (long long)(HD_SESSION_MAX_MS / 1000), tls ? "; Secure" : "");
    free(token);
    w->body = me_json(&u, csrf);
}

static void h_logout(hd_req *r, hd_resp *w) {
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "hd_session");
    hd_err err;
    if (cookie) hd_session_logout(r->d, cookie, &err);
    snprintf(w->set_cookie, sizeof w->set_cookie,
             "hd_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    w->status = 204;
}

static void h_me(hd_req *r, hd_resp *w) {
    if (!r->is_user) {
        hd_resp_problem(w, 401, HD_EAUTH, "Cookie", "not signed in to the console");
        return;
    }
    w->body = me_json(&r->user, r->csrf);
}

static void h_users_list(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_user_list(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_users_add(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    static const char *const fields[] = {"email", "name", "role", "password", NULL};
    hd_err err;
    hd_rc rc = hd_json_only(in, fields, "a user", &err);
    int64_t id = 0;
    if (!rc) {
        const char *pw = json_string_value(json_object_get(in, "password"));
        rc = hd_user_add(r->d, json_string_value(json_object_get(in, "email")),
                         json_string_value(json_object_get(in, "name")),
                         json_string_value(json_object_get(in, "role")), pw ? pw : "", &id, &err);
    }
    json_decref(in);
    if (rc) {
        hd_resp_error(w, &err);
        return;
    }
    json_t *list = NULL;
    if (hd_user_list(r->d, &list, &err)) {
        hd_resp_error(w, &err);
        return;
    }
    char ids[24];
    hd_id_format(id, ids);
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(list, "data"), i, u) {
        if (strcmp(json_string_value(json_object_get(u, "id")), ids) == 0) {
            w->status = 201;
            w->body = json_incref(u);
        }
    }
    json_decref(list);
}

static void h_users_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "user", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_user_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_keys_list(hd_req *r, hd_resp *w) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_apikey_list(r->d, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_keys_add(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    static const char *const fields[] = {"name", "scopes", NULL};
    hd_err err;
    hd_rc rc = hd_json_only(in, fields, "an API key", &err);
    const char *scopes[HD_SCOPES_MAX];
    int n = 0;
    json_t *arr = json_object_get(in, "scopes");
    if (!rc && arr && !json_is_array(arr))
        rc = hd_err_set(&err, HD_EINVAL, "scopes", "must be an array of scopes");
    size_t i;
    json_t *v;
    if (!rc) json_array_foreach(arr, i, v) {
            if (!json_is_string(v) || n == HD_SCOPES_MAX) {
                rc = hd_err_set(&err, HD_EINVAL, "scopes", "must be at most %d strings",
                                HD_SCOPES_MAX);
                break;
            }
            scopes[n++] = json_string_value(v);
        }
    int64_t id = 0;
    char *secret = NULL;
    if (!rc)
        rc = hd_apikey_create(r->d, json_string_value(json_object_get(in, "name")), scopes, n, &id,
                              &secret, &err);
    json_decref(in);
    if (rc) {
        hd_resp_error(w, &err);
        return;
    }
    w->status = 201;
    w->body = json_object();
    hd_json_set_id(w->body, "id", id);
    json_object_set_new(w->body, "secret", json_string(secret));
    free(secret);
}

static void h_keys_revoke(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "API key", &id, w)) return;
    hd_err err;
    hd_rc rc = hd_apikey_revoke(r->d, id, &err);
    hd_server_forget_keys(r->srv);
    if (rc)
        hd_resp_error(w, &err);
    else
        w->status = 204;
}

static void h_audit(hd_req *r, hd_resp *w) {
    int64_t limit, actor, cursor = 0, from = 0, to = 0;
    if (!hd_req_query_int(r, "limit", 50, 1, 200, &limit, w)) return;
    if (!hd_req_query_int(r, "actor_id", 0, 0, INT64_MAX, &actor, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    const char *f = hd_req_query(r, "from"), *t = hd_req_query(r, "to");
    const hd_clock *cal = r->d->clock;
    if ((f && !hd_time_parse_in(cal, f, &from)) || (t && !hd_time_parse_in(cal, t, &to))) {
        hd_resp_problem(w, 400, HD_EINVAL, f && !hd_time_parse_in(cal, f, &from) ? "from" : "to",
                        "must be a date or an RFC 3339 time");
        return;
    }
    hd_audit_query q = {hd_req_query(r, "actor_type"),
                        hd_req_query(r, "path_prefix"),
                        actor,
                        from,
                        to,
                        cursor,
                        (int)limit};
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_audit_list(r->d, &q, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"POST", "/v1/auth/login", NULL, h_login, false, NULL},
    {"POST", "/v1/auth/logout", "auth", h_logout, false, NULL},
    {"GET", "/v1/auth/me", "auth", h_me, false, NULL},
    {"GET", "/v1/users", "admin:read", h_users_list, false, NULL},
    {"POST", "/v1/users", "admin:write", h_users_add, false, NULL},
    {"PATCH", "/v1/users/{id}", "admin:write", h_users_patch, false, NULL},
    {"GET", "/v1/apikeys", "admin:read", h_keys_list, false, NULL},
    {"POST", "/v1/apikeys", "admin:write", h_keys_add, false, NULL},
    {"DELETE", "/v1/apikeys/{id}", "admin:write", h_keys_revoke, false, NULL},
    {"GET", "/v1/audit", "admin:read", h_audit, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_auth, routes);
