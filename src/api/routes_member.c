/* routes_member.c - the member API behind the member pages (/m/): sign-in by
 * phone with a one-time code, then everything for the signed-in customer.
 *
 * Routes with scope "member" accept only a member session (the hd_member
 * cookie, and its CSRF token on writes; server.c checks both and puts the
 * customer in r->member_id). A member never names a customer: a body with
 * customer_id is refused, and the calls into the spending modules get
 * customer_id from the session. Refusals carry a "reason" the pages
 * translate (insufficient_points, bid_too_low, …). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/auctions.h"
#include "domain/catalog.h"
#include "domain/groupbuys.h"
#include "domain/ledger.h"
#include "domain/members.h"
#include "domain/trials.h"
#include "text/text.h"

#define MEMBER_PAGE_MAX 100

static const char *reason_of(const hd_err *err) {
    const char *f = err->field;
    if (err->rc == HD_EAUTH && strcmp(f, "code") == 0) return "wrong_code";
    if (err->rc == HD_EFORBIDDEN) return "not_eligible";
    if (err->rc == HD_ECONFLICT && strcmp(f, "customer_id") == 0) return "already_joined";
    if (err->rc != HD_ESTATE) return NULL;
    if (strstr(err->msg, "insufficient") || strcmp(f, "points") == 0) return "insufficient_points";
    static const struct {
        const char *field, *reason;
    } map[] = {{"amount", "bid_too_low"}, {"stock", "out_of_stock"}, {"limit", "limit_reached"},
               {"quantity", "sold_out"},  {"window", "not_open"},    {"active", "not_open"},
               {"status", "not_open"},    {"code", "group_closed"},  {"units", "sold_out"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(f, map[i].field) == 0) return map[i].reason;
    return NULL;
}

static void reply(hd_resp *w, hd_rc rc, const hd_err *err, int status, json_t *out, bool replayed) {
    if (rc) {
        hd_resp_error(w, err);
        const char *why = reason_of(err);
        if (why) json_object_set_new(w->body, "reason", json_string(why));
        return;
    }
    w->status = status;
    w->body = out;
    w->replayed = replayed;
}

/* Secure when the request came over TLS (directly or via a proxy). */
static bool over_tls(hd_req *r) {
    const char *proto = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-Proto");
    return proto && strcmp(proto, "https") == 0;
}

/* The cookie is sent only to the member API (Path=/v1/member). SameSite=Lax
 * rather than Strict: WeChat opens shared links as cross-site navigations. */
static void set_cookie(hd_req *r, hd_resp *w, const char *token) {
    snprintf(w->set_cookie, sizeof w->set_cookie,
             "hd_member=%s; Path=/v1/member; HttpOnly; SameSite=Lax; Max-Age=%lld%s", token,
             token[0] ? (long long)(HD_MEMBER_SESSION_MAX_MS / 1000) : 0LL,
             over_tls(r) ? "; Secure" : "");
}

/* The member's body (which may be empty when optional) with only the allowed
 * fields, plus customer_id from the session. NULL with w filled on refusal. */
static json_t *member_body(hd_req *r, hd_resp *w, const char *const *allowed, bool optional,
                           const char *what) {
    json_t *in = r->body.len == 0 && optional ? json_object() : hd_req_json(r, w);
    if (!in) return NULL;
    hd_err err;
    if (json_object_get(in, "customer_id")) {
        hd_resp_problem(w, 422, HD_EINVAL, "customer_id",
                        "is the signed-in member: leave it out of the body");
        json_decref(in);
        return NULL;
    }
    if (hd_json_only(in, allowed, what, &err)) {
        hd_resp_error(w, &err);
        json_decref(in);
        return NULL;
    }
    hd_json_set_id(in, "customer_id", r->member_id);
    return in;
}

typedef hd_rc (*write_fn)(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                          json_t **out, bool *replayed, hd_err *err);
typedef hd_rc (*write_id_fn)(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in,
                             int *status, json_t **out, bool *replayed, hd_err *err);

/* A write through a spending module on behalf of the member. what_id names
 * the path's {id} for write_id_fn. */
static void member_write(hd_req *r, hd_resp *w, const char *const *allowed, bool optional,
                         const char *what, write_fn fn, write_id_fn fn_id) {
    int64_t id = 0;
    if (fn_id && !hd_req_id(r, 0, what, &id, w)) return;
    json_t *in = member_body(r, w, allowed, optional, what);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = fn_id ? fn_id(r->d, &im, id, in, &status, &out, &replayed, &err)
                         : fn(r->d, &im, in, &status, &out, &replayed, &err);
        reply(w, rc, &err, status, out, replayed);
    }
    json_decref(in);
}

/* ---- sign-in ---- */

static void h_otp(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    static const char *const fields[] = {"phone", NULL};
    hd_err err;
    const char *phone = NULL;
    hd_rc rc = hd_json_only(in, fields, "a code request", &err);
    if (!rc) rc = hd_json_str(in, "phone", 40, &phone, &err);
    if (!rc && !phone) rc = hd_err_set(&err, HD_EINVAL, "phone", "is required");
    char e164[20];
    int64_t retry_ms = 0;
    char client[64];
    bool counted = hd_req_client(r, client, sizeof client);
    if (!rc) rc = hd_member_otp_send(r->d, phone, counted ? client : NULL, e164, &retry_ms, &err);
    json_decref(in);
    if (rc && retry_ms > 0) {
        hd_resp_problem(w, 429, HD_ESTATE, err.field, "%s", err.msg);
        json_object_set_new(w->body, "reason", json_string("rate_limited"));
        json_object_set_new(w->body, "retry_after_s", json_integer((retry_ms + 999) / 1000));
        return;
    }
    if (rc) {
        reply(w, rc, &err, 0, NULL, false);
        return;
    }
    w->body = json_pack("{s:s,s:I,s:I}", "phone", e164, "expires_in_s",
                        (json_int_t)(HD_OTP_TTL_MS / 1000), "resend_in_s",
                        (json_int_t)(HD_OTP_RESEND_MS / 1000));
}

/* GET /v1/test/otp?phone= (only with --test-clock): the last code the log
 * sender delivered. */
static void h_test_otp(hd_req *r, hd_resp *w) {
    const char *phone = hd_req_query(r, "phone");
    char code[HD_OTP_DIGITS + 1];
    hd_err err;
    hd_rc rc = phone ? hd_member_otp_peek(r->d, phone, code, &err)
                     : hd_err_set(&err, HD_EINVAL, "phone", "is required");
    if (rc) {
        hd_resp_error(w, &err);
        return;
    }
    char e164[20];
    hd_phone_normalize(phone, e164, &err);
    w->body = json_pack("{s:s,s:s}", "phone", e164, "code", code);
}

static json_t *me_or_problem(hd_req *r, hd_resp *w, int64_t cid, const char *csrf) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_member_me(r->d, cid, &out, &err);
    if (rc) {
        hd_resp_error(w, &err);
        return NULL;
    }
    json_object_set_new(out, "csrf_token", json_string(csrf));
    return out;
}

static void h_login(hd_req *r, hd_resp *w) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    static const char *const fields[] = {"phone", "code", NULL};
    hd_err err;
    const char *phone = NULL, *code = NULL;
    hd_rc rc = hd_json_only(in, fields, "a sign-in", &err);
    if (!rc) rc = hd_json_str(in, "phone", 40, &phone, &err);
    if (!rc) rc = hd_json_str(in, "code", 16, &code, &err);
    int64_t cid = 0;
    bool created = false;
    char *token = NULL, csrf[48];
    if (!rc) rc = hd_member_login(r->d, phone, code, &cid, &created, &token, csrf, &err);
    json_decref(in);
    if (rc) {
        reply(w, rc, &err, 0, NULL, false);
        return;
    }
    set_cookie(r, w, token);
    free(token);
    json_t *out = me_or_problem(r, w, cid, csrf);
    if (!out) return;
    json_object_set_new(out, "created", json_boolean(created));
    w->body = out;
}

static void h_logout(hd_req *r, hd_resp *w) {
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "hd_member");
    hd_err err;
    if (cookie) hd_member_logout(r->d, cookie, &err);
    set_cookie(r, w, "");
    w->status = 204;
}

static void h_me(hd_req *r, hd_resp *w) {
    json_t *out = me_or_problem(r, w, r->member_id, r->csrf);
    if (out) w->body = out;
}

/* ---- points, rewards, orders ---- */

static void h_history(hd_req *r, hd_resp *w) {
    int64_t limit;
    if (!hd_req_query_int(r, "limit", 30, 1, MEMBER_PAGE_MAX, &limit, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc =
        hd_ledger_history(r->d, r->member_id, hd_req_query(r, "cursor"), (int)limit, &out, &err);
    reply(w, rc, &err, 200, out, false);
}

static void h_rewards(hd_req *r, hd_resp *w) {
    int64_t limit, cursor = 0;
    if (!hd_req_query_int(r, "limit", 50, 1, MEMBER_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_member_rewards(r->d, r->member_id, hd_req_query(r, "type"), cursor, (int)limit,
                                 &out, &err);
    reply(w, rc, &err, 200, out, false);
}

static void h_redeem(hd_req *r, hd_resp *w) {
    static const char *const fields[] = {"reward_id", "option", "quantity", "special_id", NULL};
    member_write(r, w, fields, false, "a redemption", hd_redemption_create, NULL);
}

static void h_orders(hd_req *r, hd_resp *w) {
    int64_t limit;
    if (!hd_req_query_int(r, "limit", 30, 1, MEMBER_PAGE_MAX, &limit, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_order_list_customer(r->d, r->member_id, hd_req_query(r, "cursor"), (int)limit,
                                      &out, &err);
    reply(w, rc, &err, 200, out, false);
}

typedef hd_rc (*view_fn)(hd_domain *d, int64_t cid, json_t **out, hd_err *err);

static void view(hd_req *r, hd_resp *w, view_fn fn) {
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = fn(r->d, r->member_id, &out, &err);
    reply(w, rc, &err, 200, out, false);
}

static void h_specials(hd_req *r, hd_resp *w) { view(r, w, hd_member_specials); }
static void h_auctions(hd_req *r, hd_resp *w) { view(r, w, hd_member_auctions); }
static void h_groupbuys(hd_req *r, hd_resp *w) { view(r, w, hd_member_groupbuys); }
static void h_trials(hd_req *r, hd_resp *w) { view(r, w, hd_member_trials); }
static void h_instalments(hd_req *r, hd_resp *w) { view(r, w, hd_member_instalments); }
static void h_referral(hd_req *r, hd_resp *w) { view(r, w, hd_member_referral); }

/* ---- auctions, group buys, trials ---- */

static void h_bid(hd_req *r, hd_resp *w) {
    static const char *const fields[] = {"amount", NULL};
    member_write(r, w, fields, false, "auction", NULL, hd_auction_bid);
}

static void h_group(hd_req *r, hd_resp *w) {
    const char *code = r->nparams > 0 ? r->params[0] : "";
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_member_group(r->d, r->member_id, code, &out, &err);
    reply(w, rc, &err, 200, out, false);
}

static void h_join(hd_req *r, hd_resp *w) {
    static const char *const fields[] = {"code", NULL};
    member_write(r, w, fields, false, "a join", hd_groupbuy_join, NULL);
}

static void h_start(hd_req *r, hd_resp *w) {
    static const char *const fields[] = {NULL};
    member_write(r, w, fields, true, "group-buy deal", NULL, hd_groupbuy_start);
    const char *code = json_string_value(json_object_get(w->body, "code"));
    if (w->status == 201 && code) {
        char path[64];
        snprintf(path, sizeof path, "/m/g/%s", code);
        json_object_set_new(w->body, "share_path", json_string(path));
    }
}

static void h_apply(hd_req *r, hd_resp *w) {
    static const char *const fields[] = {NULL};
    member_write(r, w, fields, true, "trial", NULL, hd_trial_apply);
}

static void h_review(hd_req *r, hd_resp *w) {
    static const char *const fields[] = {"text", "rating", NULL};
    member_write(r, w, fields, false, "trial", NULL, hd_trial_review);
}

static const hd_route routes[] = {
    {"POST", "/v1/member/otp", NULL, h_otp, false, NULL},
    {"POST", "/v1/member/login", NULL, h_login, false, NULL},
    {"POST", "/v1/member/logout", "member", h_logout, false, NULL},
    {"GET", "/v1/member/me", "member", h_me, false, NULL},
    {"GET", "/v1/member/points/history", "member", h_history, false, NULL},
    {"GET", "/v1/member/rewards", "member", h_rewards, false, NULL},
    {"POST", "/v1/member/redemptions", "member", h_redeem, false, NULL},
    {"GET", "/v1/member/orders", "member", h_orders, false, NULL},
    {"GET", "/v1/member/specials", "member", h_specials, false, NULL},
    {"GET", "/v1/member/auctions", "member", h_auctions, false, NULL},
    {"POST", "/v1/member/auctions/{id}/bids", "member", h_bid, false, NULL},
    {"GET", "/v1/member/groupbuys", "member", h_groupbuys, false, NULL},
    {"POST", "/v1/member/groupbuys/join", "member", h_join, false, NULL},
    {"GET", "/v1/member/groupbuys/groups/{code}", "member", h_group, false, NULL},
    {"POST", "/v1/member/groupbuys/{id}/groups", "member", h_start, false, NULL},
    {"GET", "/v1/member/trials", "member", h_trials, false, NULL},
    {"POST", "/v1/member/trials/{id}/applications", "member", h_apply, false, NULL},
    {"POST", "/v1/member/trials/{id}/reviews", "member", h_review, false, NULL},
    {"GET", "/v1/member/instalments", "member", h_instalments, false, NULL},
    {"GET", "/v1/member/referral", "member", h_referral, false, NULL},
    {"GET", "/v1/test/otp", "admin:read", h_test_otp, true, NULL},
};
HD_ROUTE_TABLE(hd_routes_member, routes);
