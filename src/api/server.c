/* server.c - the HTTP server on libmicrohttpd: body collection with a size
 * limit, routing, API-key authentication with a short cache, the access log,
 * and a graceful stop. On the embedded store, polling threads that never
 * wait, workers for what may, and prepared writes answered by the store's
 * writer ("answering away from the polling threads"); on PostgreSQL a
 * thread per connection.
 *
 * libmicrohttpd calls the access handler several times per request: once with
 * the headers, then once per chunk of body, then once with no data. We answer
 * only on that last call, which keeps keep-alive and pipelining working. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/api_int.h"
#include "domain/events.h"
#include "domain/members.h"
#include "domain/users.h"
#include "expr/expr.h"
#include "text/text.h"

#define KEY_CACHE        64
#define KEY_CACHE_TTL_MS 5000

typedef struct key_cache_entry {
    char key[64];
    hd_apikey k;
    int64_t at_ms;
} key_cache_entry;

struct hd_server {
    hd_domain *d;
    struct MHD_Daemon *mhd;
    hd_server_opts o;
    FILE *log;
    int port;
    _Atomic int inflight;
    _Atomic bool stopping; /* hd_server_stop has begun */
    pthread_mutex_t mu;
    key_cache_entry cache[KEY_CACHE];
    bool async_writes; /* the store commits without a waiting thread */
    /* workers: requests whose handlers may wait (reads, most writes) */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    hd_req *qhead, *qtail;
    bool qstop;
    pthread_t *workers;
    int nworkers;
};

/* ---- responses ---- */

void hd_resp_error(hd_resp *w, const hd_err *err) {
    int status = hd_rc_http_status(err->rc);
    if (status == 500 && err->rc == HD_ESTORE) status = 500;
    json_decref(w->body);
    w->status = status;
    w->body = hd_problem_json(err, status);
}

/* hd_resp_error, and a refusal's "reason". */
static void resp_refusal(hd_resp *w, const hd_err *err) {
    hd_resp_error(w, err);
    if (err->rc != HD_ESTATE && err->rc != HD_EFORBIDDEN) return;
    static const struct {
        const char *field, *reason;
    } map[] = {{"points", "insufficient_points"}, {"stock", "out_of_stock"},
               {"window", "window_closed"},       {"active", "not_active"},
               {"limit", "limit_reached"},        {"quantity", "sold_out"},
               {"tier", "not_eligible"},          {"eligibility", "not_eligible"},
               {"status", "wrong_state"},         {"delinquent", "delinquent"},
               {"order_ref", "wrong_order"}};
    const char *why = NULL;
    for (size_t i = 0; !why && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(err->field, map[i].field) == 0) why = map[i].reason;
    /* a coupon given to customers some of whom may not have it */
    if (!why && err->rc == HD_EFORBIDDEN && strncmp(err->field, "customer_ids", 12) == 0)
        why = "not_eligible";
    if (why) json_object_set_new(w->body, "reason", json_string(why));
}

void hd_resp_result(hd_resp *w, hd_rc rc, const hd_err *err, int status, json_t *body,
                    bool replayed) {
    if (!rc) {
        w->status = status;
        w->body = body;
        w->replayed = replayed;
        return;
    }
    resp_refusal(w, err);
    hd_expr_pos pos;
    if (hd_expr_error_pos(err, &pos)) {
        json_object_set_new(w->body, "line", json_integer(pos.line));
        json_object_set_new(w->body, "column", json_integer(pos.column));
    }
}

void hd_resp_problem(hd_resp *w, int status, hd_rc rc, const char *field, const char *fmt, ...) {
    hd_err e;
    va_list ap;
    va_start(ap, fmt);
    hd_err_setv(&e, rc, field, fmt, ap);
    va_end(ap);
    json_decref(w->body);
    w->status = status;
    w->body = hd_problem_json(&e, status);
}

json_t *hd_req_json(hd_req *r, hd_resp *w) {
    const char *ct = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Type");
    if (r->body.len == 0) {
        hd_resp_problem(w, 400, HD_ESYNTAX, "", "the request needs a JSON body");
        return NULL;
    }
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        hd_resp_problem(w, 415, HD_EINVAL, "Content-Type",
                        "send the body as application/json, not %s", ct);
        return NULL;
    }
    json_error_t je;
    json_t *v = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!v) {
        hd_resp_problem(w, 400, HD_ESYNTAX, "", "malformed JSON at line %d, column %d: %s", je.line,
                        je.column, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        hd_resp_problem(w, 422, HD_EINVAL, "", "the body must be a JSON object");
        return NULL;
    }
    return v;
}

const char *hd_req_query(hd_req *r, const char *name) {
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool hd_req_id(hd_req *r, int i, const char *what, int64_t *out, hd_resp *w) {
    if (i >= r->nparams || !hd_id_parse(r->params[i], out)) {
        hd_resp_problem(w, 404, HD_ENOTFOUND, "id", "no %s '%s'", what,
                        i < r->nparams ? r->params[i] : "");
        return false;
    }
    return true;
}

bool hd_req_query_int(hd_req *r, const char *name, int64_t def, int64_t min, int64_t max,
                      int64_t *out, hd_resp *w) {
    const char *s = hd_req_query(r, name);
    *out = def;
    if (!s) return true;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < min || v > max) {
        hd_resp_problem(w, 400, HD_EINVAL, name, "must be an integer from %lld to %lld",
                        (long long)min, (long long)max);
        return false;
    }
    *out = v;
    return true;
}

/* Loopback and private addresses: where a reverse proxy in front of us sits. */
static bool proxy_range(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        uint32_t a = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
        return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == 0xAC1 || (a >> 16) == 0xC0A8;
    }
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (a->s6_addr[0] & 0xFE) == 0xFC;
    }
    return false;
}

bool hd_req_client(hd_req *r, char *out, size_t cap) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (!sa) return false;
    if (proxy_range(sa)) {
        /* the last hop of X-Forwarded-For is the one our proxy added */
        const char *xff = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-Forwarded-For");
        if (!xff) return false;
        const char *last = strrchr(xff, ',');
        last = last ? last + 1 : xff;
        while (*last == ' ') last++;
        size_t n = strcspn(last, " ");
        char ip[INET6_ADDRSTRLEN];
        unsigned char bin[sizeof(struct in6_addr)];
        if (n == 0 || n >= sizeof ip) return false;
        memcpy(ip, last, n);
        ip[n] = '\0';
        if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1) return false;
        snprintf(out, cap, "%s", ip);
        return true;
    }
    const void *addr = sa->sa_family == AF_INET
                           ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                           : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) return false;
    return inet_ntop(sa->sa_family, addr, out, (socklen_t)cap) != NULL;
}

bool hd_req_cursor(hd_req *r, int64_t *out, hd_resp *w) {
    const char *s = hd_req_query(r, "cursor");
    *out = 0;
    if (s && !hd_id_parse(s, out)) {
        hd_resp_problem(w, 400, HD_EINVAL, "cursor", "is not a cursor this API returned");
        return false;
    }
    return true;
}

bool hd_req_idem(hd_req *r, hd_idem *im, char *scope_buf, size_t cap, hd_resp *w) {
    memset(im, 0, sizeof *im);
    im->audit_id = r->audit_id;
    r->audit_in_txn = r->audit_id != 0;
    const char *k = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Idempotency-Key");
    if (!k) return true;
    size_t n = strlen(k);
    if (n == 0 || n > 200) {
        hd_resp_problem(w, 400, HD_EINVAL, "Idempotency-Key", "must be 1 to 200 characters");
        return false;
    }
    /* the key is the caller's own, and for this very resource: the same key
     * sent to /v1/coupons/1/claim and /v1/coupons/2/claim is two requests */
    size_t plen = strcspn(r->url, "?");
    const char *who = r->member_id ? "member" : r->is_user ? "user" : "key";
    int64_t id = r->member_id ? r->member_id : r->is_user ? r->user.id : r->key.id;
    snprintf(scope_buf, cap, "%s:%lld %s %.*s", who, (long long)id, r->method, (int)plen, r->url);
    im->scope = scope_buf;
    im->key = k;
    hd_idem_hash(im, r->body.data ? r->body.data : "", r->body.len);
    return true;
}

/* hd_post_idem and hd_post_idem_id: one of fn and fn_id is set. */
static void post_idem(hd_req *r, hd_resp *w, hd_idem_fn fn, hd_idem_id_fn fn_id, int64_t id,
                      const char *location) {
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_idem im;
    char scope[300];
    if (hd_req_idem(r, &im, scope, sizeof scope, w)) {
        hd_err err;
        int status = 0;
        json_t *out = NULL;
        bool replayed = false;
        hd_rc rc = fn ? fn(r->d, &im, in, &status, &out, &replayed, &err)
                      : fn_id(r->d, &im, id, in, &status, &out, &replayed, &err);
        hd_resp_result(w, rc, &err, status, out, replayed);
        const char *oid = rc ? NULL : json_string_value(json_object_get(out, "id"));
        if (location && oid) snprintf(w->location, sizeof w->location, "%s/%s", location, oid);
    }
    json_decref(in);
}

void hd_post_idem(hd_req *r, hd_resp *w, hd_idem_fn fn, const char *location) {
    post_idem(r, w, fn, NULL, 0, location);
}

void hd_post_idem_id(hd_req *r, hd_resp *w, const char *what, hd_idem_id_fn fn) {
    int64_t id;
    if (hd_req_id(r, 0, what, &id, w)) post_idem(r, w, NULL, fn, id, NULL);
}

/* ---- routing ---- */

/* Matches url's path against pattern; fills r->params. */
static bool match(const char *pattern, const char *path, hd_req *r) {
    r->nparams = 0;
    const char *p = pattern, *u = path;
    while (*p && *u) {
        if (*p == '{') {
            const char *pe = strchr(p, '}');
            const char *ue = strchr(u, '/');
            size_t n = ue ? (size_t)(ue - u) : strlen(u);
            if (n == 0 || n >= sizeof r->param_buf[0] || r->nparams >= HD_PATH_PARAMS_MAX)
                return false;
            memcpy(r->param_buf[r->nparams], u, n);
            r->param_buf[r->nparams][n] = '\0';
            r->params[r->nparams] = r->param_buf[r->nparams];
            r->nparams++;
            p = pe + 1;
            u += n;
            continue;
        }
        if (*p != *u) return false;
        p++;
        u++;
    }
    return *p == '\0' && *u == '\0';
}

static const hd_route *route_find(hd_server *s, hd_req *r, bool *path_known) {
    *path_known = false;
    size_t plen = strcspn(r->url, "?");
    char path[512];
    if (plen >= sizeof path) return NULL;
    memcpy(path, r->url, plen);
    path[plen] = '\0';
    while (plen > 1 && path[plen - 1] == '/') path[--plen] = '\0';
    for (int t = 0; t < hd_route_tables_count; t++) {
        for (int i = 0; i < hd_route_tables[t]->n; i++) {
            const hd_route *rt = &hd_route_tables[t]->routes[i];
            if (rt->test_only && !s->o.test_clock) continue;
            if (!match(rt->path, path, r)) continue;
            *path_known = true;
            if (strcmp(rt->method, r->method) == 0) return rt;
        }
    }
    return NULL;
}

/* ---- authentication ---- */

/* A console session: the cookie names it, and anything but a read must
 * carry the session's CSRF token in X-CSRF-Token (SameSite=Strict already
 * keeps other sites' forms out; the token keeps out everything else). */
static bool authenticate_session(hd_server *s, hd_req *r, const char *cookie, hd_resp *w) {
    hd_err err;
    hd_rc rc = hd_session_check(s->d, cookie, &r->user, r->csrf, &err);
    if (rc) {
        if (rc == HD_EAUTH)
            hd_resp_problem(w, 401, HD_EAUTH, "Cookie", "%s", err.msg);
        else
            hd_resp_error(w, &err);
        return false;
    }
    r->is_user = true;
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        const char *t = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!t || strlen(t) != strlen(r->csrf) || sodium_memcmp(t, r->csrf, strlen(t)) != 0) {
            hd_resp_problem(w, 403, HD_EFORBIDDEN, "X-CSRF-Token",
                            "missing or wrong CSRF token: send the one /v1/auth/me returns");
            return false;
        }
    }
    return true;
}

/* A member session (the member pages): routes with scope "member" accept
 * the hd_member cookie and nothing else, and no other route accepts it. */
static bool authenticate_member(hd_server *s, hd_req *r, hd_resp *w) {
    const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "hd_member");
    hd_err err;
    hd_rc rc = hd_member_session_check(s->d, cookie, &r->member_id, r->csrf, &err);
    if (rc) {
        if (rc == HD_EAUTH)
            hd_resp_problem(w, 401, HD_EAUTH, "Cookie", "%s", err.msg);
        else
            hd_resp_error(w, &err);
        return false;
    }
    if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
        const char *t = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "X-CSRF-Token");
        if (!t || strlen(t) != strlen(r->csrf) || sodium_memcmp(t, r->csrf, strlen(t)) != 0) {
            hd_resp_problem(w, 403, HD_EFORBIDDEN, "X-CSRF-Token",
                            "missing or wrong CSRF token: send the one /v1/member/me returns");
            return false;
        }
    }
    return true;
}

static unsigned key_slot(const char *key, size_t klen) {
    unsigned slot = 0;
    for (size_t i = 0; i < klen; i++) slot = slot * 31 + (unsigned char)key[i];
    return slot % KEY_CACHE;
}

/* The API key an Authorization header carries, or NULL. */
static const char *bearer_key(hd_req *r) {
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    return h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
}

/* key from the cache (verified within KEY_CACHE_TTL_MS): true with r->key
 * set, false when it is not cached. */
static bool key_cached(hd_server *s, hd_req *r, const char *key) {
    size_t klen = strlen(key);
    pthread_mutex_lock(&s->mu);
    key_cache_entry *e = &s->cache[key_slot(key, klen)];
    bool hit = klen < sizeof e->key && strcmp(e->key, key) == 0 &&
               hd_mono_ms() - e->at_ms < KEY_CACHE_TTL_MS;
    if (hit) r->key = e->k;
    pthread_mutex_unlock(&s->mu);
    return hit;
}

static bool authenticate(hd_server *s, hd_req *r, hd_resp *w) {
    const char *h = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!h) {
        const char *cookie = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "hd_session");
        if (cookie) return authenticate_session(s, r, cookie, w);
    }
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) {
        hd_resp_problem(w, 401, HD_EAUTH, "Authorization",
                        "send an API key as 'Authorization: Bearer <key>' (hudong apikey create), "
                        "or sign in to the console");
        return false;
    }
    const char *key = h + 7;
    if (key_cached(s, r, key)) return true;
    int64_t now = hd_mono_ms();
    size_t klen = strlen(key);
    key_cache_entry *e = &s->cache[key_slot(key, klen)];
    hd_err err;
    hd_rc rc = hd_apikey_verify(s->d, key, &r->key, &err);
    if (rc) {
        if (rc == HD_EAUTH)
            hd_resp_problem(w, 401, HD_EAUTH, "Authorization", "%s", err.msg);
        else
            hd_resp_error(w, &err);
        return false;
    }
    if (klen < sizeof e->key) {
        pthread_mutex_lock(&s->mu);
        snprintf(e->key, sizeof e->key, "%s", key);
        e->k = r->key;
        e->at_ms = now;
        pthread_mutex_unlock(&s->mu);
    }
    return true;
}

void hd_server_forget_keys(hd_server *s) {
    pthread_mutex_lock(&s->mu);
    memset(s->cache, 0, sizeof s->cache);
    pthread_mutex_unlock(&s->mu);
}

/* ---- audit ---- */

/* Every change made with a key or from the console is audited, except the
 * data plane - events and transfers - whose rows are already an append-only
 * record of who sent what and when (with their keys). */
static bool audited(const hd_req *r, const hd_route *rt) {
    if (!r->authed || strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0) return false;
    static const char *const skip[] = {"/v1/events",          "/v1/events/batch", "/v1/transfers",
                                       "/v1/transfers/batch", "/v1/auth/logout",  NULL};
    for (const char *const *k = skip; *k; k++)
        if (strcmp(rt->path, *k) == 0) return false;
    return true;
}

void hd_req_actor(const hd_req *r, const char **type, int64_t *id, const char **name) {
    *type = r->is_user ? "user" : "key";
    *id = r->is_user ? r->user.id : r->key.id;
    *name = r->is_user ? r->user.email : r->key.name;
}

/* What the resource looked like before a PATCH or DELETE: its GET, if the
 * same path has one (NULL otherwise; caller frees). */
static char *snapshot(hd_server *s, hd_req *r) {
    if (strcmp(r->method, "PATCH") != 0 && strcmp(r->method, "DELETE") != 0) return NULL;
    hd_req g = *r;
    g.method = "GET";
    g.body = (hd_buf)HD_BUF_INIT;
    bool known;
    const hd_route *rt = route_find(s, &g, &known);
    if (!rt) return NULL;
    hd_resp w = {0};
    w.status = 200;
    rt->fn(&g, &w);
    char *text = w.status == 200 && w.body ? json_dumps(w.body, JSON_COMPACT) : NULL;
    json_decref(w.body);
    free(w.raw);
    return text;
}

#ifdef HD_FAULTS
/* Crash tests (the ASan build): HUDONG_FAULT names a point to fail at. */
static bool fault(const char *point) {
    const char *f = getenv("HUDONG_FAULT");
    return f && strcmp(f, point) == 0;
}
#else
#define fault(point) false
#endif

static void url_path(const hd_req *r, char *path, size_t cap) {
    size_t plen = strcspn(r->url, "?");
    snprintf(path, cap, "%.*s", (int)(plen < cap ? plen : cap - 1), r->url);
}

/* The first half of auditing a change, before it is made: false (w filled)
 * when the line cannot be written - then the change is not made either. */
static bool audit_begin(hd_server *s, hd_req *r, int64_t *id, hd_resp *w) {
    const char *type, *name;
    int64_t actor;
    hd_req_actor(r, &type, &actor, &name);
    char path[512];
    url_path(r, path, sizeof path);
    char *before = snapshot(s, r);
    hd_err err;
    hd_rc rc = fault("audit-begin")
                   ? hd_err_set(&err, HD_ESTORE, "", "injected fault")
                   : hd_audit_begin(s->d, type, actor, name, r->method, path, before, id, &err);
    free(before);
    if (rc) {
        hd_resp_problem(w, 503, HD_ESTORE, "",
                        "nothing was changed: the audit log cannot be written (%s)", err.msg);
        return false;
    }
    return true;
}

/* The second half: the outcome, or no line at all for a refused request
 * (which changes nothing). A write through hd_idem_write has recorded its
 * outcome itself, in the transaction that made the change. */
static void audit_end(hd_server *s, hd_req *r, const hd_resp *w, int64_t id) {
    hd_err err;
    hd_rc rc;
    if (r->audit_in_txn && w->status < 400) {
        if (fault("crash-before-audit-outcome")) _exit(70);
        return;
    }
    if (w->status >= 400 && w->status < 500) {
        rc = hd_audit_drop(s->d, id, &err);
    } else {
        if (fault("crash-before-audit-outcome")) _exit(70);
        char *after = w->body ? json_dumps(w->body, JSON_COMPACT) : NULL;
        /* a login echoes no secrets, but a key's creation does: keep it out */
        if (after && strstr(r->url, "/v1/apikeys") && strcmp(r->method, "POST") == 0) {
            free(after);
            after = strdup("{\"secret\":\"(not kept)\"}");
        }
        rc = hd_audit_end(s->d, id, w->status, after, &err);
        free(after);
    }
    if (rc) fprintf(s->log, "audit %lld: %s\n", (long long)id, err.msg);
}

/* ---- phones for agents ---- */

bool hd_req_masks_phones(const hd_req *r) {
    return r->is_user && strcmp(r->user.role, "agent") == 0;
}

static void mask_one(json_t *c) {
    if (!json_is_object(c)) return;
    json_t *p = json_object_get(c, "phone");
    if (json_is_string(p)) {
        char m[32];
        hd_mask_phone(json_string_value(p), m);
        json_object_set_new(c, "phone", json_string(m));
    }
    size_t i;
    json_t *id;
    json_array_foreach(json_object_get(c, "identities"), i, id) {
        const char *type = json_string_value(json_object_get(id, "type"));
        const char *value = json_string_value(json_object_get(id, "value"));
        if (!type || !value || strcmp(type, "phone") != 0) continue;
        char m[32];
        hd_mask_phone(value, m);
        json_object_set_new(id, "value", json_string(m));
    }
}

void hd_mask_phones(json_t *v) {
    json_t *data = json_object_get(v, "data");
    if (json_is_array(data)) {
        size_t i;
        json_t *c;
        json_array_foreach(data, i, c) mask_one(c);
    } else {
        mask_one(v);
    }
}

/* ---- static files: the console (/) and the member pages (/m/) ---- */

static const char *mime_of(const char *path) {
    const char *dot = strrchr(path, '.');
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"},
                 {".css", "text/css; charset=utf-8"},
                 {".json", "application/json"},
                 {".svg", "image/svg+xml"},
                 {".png", "image/png"},
                 {".ico", "image/x-icon"},
                 {".woff2", "font/woff2"}};
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

#define STATIC_MAX (8 * 1024 * 1024)

/* Serves web_root + path; "/" and directories serve index.html. Paths with
 * "..", backslashes or control characters are refused. */
static bool serve_static(hd_server *s, hd_req *r, hd_resp *w) {
    if (!s->o.web_root || !*s->o.web_root) return false;
    size_t plen = strcspn(r->url, "?");
    char path[512];
    if (plen == 0 || plen >= 400) return false;
    memcpy(path, r->url, plen);
    path[plen] = '\0';
    if (strstr(path, "..") || strchr(path, '\\')) return false;
    for (const char *p = path; *p; p++)
        if ((unsigned char)*p < 0x20) return false;
    char file[1024];
    bool dir = path[plen - 1] == '/';
    snprintf(file, sizeof file, "%s%s%s", s->o.web_root, path, dir ? "index.html" : "");
    struct stat fst;
    FILE *f = stat(file, &fst) == 0 && S_ISREG(fst.st_mode) ? fopen(file, "rb") : NULL;
    if (!f && !dir && !strchr(strrchr(path, '/'), '.')) {
        /* /m or /customers/123 in a single-page app: its index */
        snprintf(file, sizeof file, "%s%s/index.html", s->o.web_root, path);
        f = fopen(file, "rb");
    }
    if (!f && strncmp(path, "/m/", 3) == 0 && !strchr(strrchr(path, '/'), '.')) {
        /* the member pages are one page: /m/g/<code> and the like load its index */
        snprintf(file, sizeof file, "%s/m/index.html", s->o.web_root);
        f = fopen(file, "rb");
    }
    if (!f) return false;
    char *data = malloc(STATIC_MAX);
    size_t n = data ? fread(data, 1, STATIC_MAX, f) : 0;
    fclose(f);
    if (!data) return false;
    w->status = 200;
    w->raw = data;
    w->raw_len = n;
    w->content_type = mime_of(file);
    return true;
}

/* ---- the MHD callbacks ---- */

static enum MHD_Result send_resp(hd_server *s, hd_req *r, hd_resp *w) {
    char *text = NULL;
    size_t len = 0;
    const char *ct = "application/json";
    if (w->raw) {
        text = w->raw;
        len = w->raw_len;
        ct = w->content_type ? w->content_type : "application/octet-stream";
        w->raw = NULL;
    } else if (w->body) {
        text = json_dumps(w->body, JSON_COMPACT | JSON_REAL_PRECISION(15));
        len = text ? strlen(text) : 0;
        if (w->status >= 400) ct = "application/problem+json";
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, text ? text : (char *)"", text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (len || w->body || w->raw_len) MHD_add_response_header(resp, "Content-Type", ct);
    if (w->location[0]) MHD_add_response_header(resp, "Location", w->location);
    if (w->set_cookie[0]) MHD_add_response_header(resp, "Set-Cookie", w->set_cookie);
    if (w->replayed) MHD_add_response_header(resp, "Idempotent-Replayed", "true");
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)w->status, resp);
    MHD_destroy_response(resp);
    if (s->o.log_level >= HD_LOG_INFO) {
        double ms = (double)(hd_mono_ns() - r->t0_ns) / 1e6;
        fprintf(s->log, "%s %s %d %.2fms\n", r->method, r->url, w->status, ms);
    }
    json_decref(w->body);
    w->body = NULL;
    return ret;
}

/* Who may call rt: false with w filled when the caller may not. */
static bool check_scope(hd_req *r, const hd_route *rt, hd_resp *w);

static bool check_access(hd_server *s, hd_req *r, const hd_route *rt, hd_resp *w) {
    if (rt->scope && strcmp(rt->scope, "member") == 0) return authenticate_member(s, r, w);
    if (!rt->scope) return true;
    if (!authenticate(s, r, w)) return false;
    r->authed = true;
    return check_scope(r, rt, w);
}

/* Whether the caller - a key or a console user - holds rt's scope. */
static bool check_scope(hd_req *r, const hd_route *rt, hd_resp *w) {
    bool auth_only = strcmp(rt->scope, "auth") == 0;
    if (!auth_only && r->is_user && !hd_role_allows(r->user.role, rt->scope)) {
        hd_resp_problem(w, 403, HD_EFORBIDDEN, "role", "the role %s may not do this (%s)",
                        r->user.role, rt->scope);
        return false;
    }
    if (!auth_only && !r->is_user && !hd_apikey_allows(&r->key, rt->scope)) {
        hd_resp_problem(w, 403, HD_EFORBIDDEN, "Authorization", "this API key lacks the scope %s",
                        rt->scope);
        return false;
    }
    return true;
}

/* A prepared write's request: the body, the key; false with w filled when
 * either is wrong or the domain refuses the request. */
static bool prepare_write(hd_req *r, const hd_route *rt, hd_write **out, hd_resp *w) {
    if (!(r->in = hd_req_json(r, w))) return false;
    if (!hd_req_idem(r, &r->im, r->scope, sizeof r->scope, w)) return false;
    hd_err err;
    hd_rc rc = rt->prep(r->d, &r->im, r->in, out, &err);
    if (rc) hd_resp_result(w, rc, &err, 0, NULL, false);
    return rc == HD_OK;
}

static void call_route(hd_req *r, const hd_route *rt, hd_resp *w) {
    if (!rt->prep) {
        rt->fn(r, w);
        return;
    }
    hd_write *wr;
    if (!prepare_write(r, rt, &wr, w)) return;
    hd_err err;
    int status = 0;
    json_t *out = NULL;
    bool replayed = false;
    hd_rc rc = hd_write_wait(wr, &status, &out, &replayed, &err);
    hd_resp_result(w, rc, &err, status, out, replayed);
}

/* The whole of a request (its route in r->rt), on a worker or a thread of
 * its connection's own: it may wait for the store. */
static void handle(hd_server *s, hd_req *r, hd_resp *w) {
    if (strcmp(r->method, "GET") == 0 && strncmp(r->url, "/v1/", 4) != 0 && serve_static(s, r, w))
        return;
    const hd_route *rt = r->rt;
    if (!rt) {
        if (r->path_known)
            hd_resp_problem(w, 405, HD_EINVAL, "", "%s is not allowed on %s", r->method, r->url);
        else
            hd_resp_problem(w, 404, HD_ENOTFOUND, "", "no such endpoint: %s %s", r->method, r->url);
        return;
    }
    r->route_path = rt->path;
    if (!check_access(s, r, rt, w)) return;
    if (!audited(r, rt)) {
        call_route(r, rt, w);
        return;
    }
    if (audit_begin(s, r, &r->audit_id, w)) {
        call_route(r, rt, w);
        audit_end(s, r, w, r->audit_id);
    }
}

/* ---- answering away from the polling threads ----
 * The polling threads (one a core, each with its own connections) read
 * requests and write answers, and never wait: a request is suspended while
 * a worker handles it or - for a prepared write on SQLite - while its write
 * waits for the group commit, and resumed with its answer in r->w. The data
 * plane thus costs no thread a request: a thousand clients sending events
 * keep the polling threads and the writer busy and nothing else.
 *
 * The polling threads run as SCHED_BATCH (set in hd_server_start): the same
 * share of the CPU as any thread, but waking one does not preempt the thread
 * running. Otherwise the writer, which is the one serial stage, was
 * preempted at every answer it handed back - the polling thread it woke took
 * its core, wrote the answer, woke the client, and the writer got the core
 * back several switches later, with the next batch waiting behind it (the
 * writer runnable but not running 10-27 % of the time by perf sched and
 * /proc schedstat, a few microseconds of work between switches). With it,
 * single events +4 to +11 % at 16 connections and +2 to +8 % at 64, in
 * alternating rounds (docs/benchmarks.md). */

/* Switches the calling thread between SCHED_OTHER and SCHED_BATCH, for the
 * threads it starts meanwhile to inherit; true when it switched. A thread
 * under any other policy (someone ran us with chrt) is left alone. */
static bool as_batch(bool on) {
    struct sched_param sp = {0};
    int policy;
    if (pthread_getschedparam(pthread_self(), &policy, &sp) != 0) return false;
    if (policy != (on ? SCHED_OTHER : SCHED_BATCH)) return false;
    sp.sched_priority = 0;
    return pthread_setschedparam(pthread_self(), on ? SCHED_BATCH : SCHED_OTHER, &sp) == 0;
}

static void answer(hd_req *r) {
    atomic_store_explicit(&r->answered, true, memory_order_release);
    MHD_resume_connection(r->conn);
}

static void on_write_answer(void *arg, hd_rc rc, const hd_err *err, int status, json_t *body,
                            bool replayed) {
    hd_req *r = arg;
    r->w.status = 200;
    hd_resp_result(&r->w, rc, err, status, body, replayed);
    answer(r);
}

static void *worker_main(void *arg) {
    hd_server *s = arg;
    pthread_setname_np(pthread_self(), "hd-worker");
    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (!s->qhead && !s->qstop) pthread_cond_wait(&s->qcv, &s->qmu);
        hd_req *r = s->qhead;
        if (!r) {
            pthread_mutex_unlock(&s->qmu);
            return NULL;
        }
        s->qhead = r->next;
        if (!s->qhead) s->qtail = NULL;
        pthread_mutex_unlock(&s->qmu);
        r->w.status = 200;
        handle(s, r, &r->w);
        answer(r);
    }
}

static void to_worker(hd_server *s, hd_req *r) {
    MHD_suspend_connection(r->conn);
    r->next = NULL;
    pthread_mutex_lock(&s->qmu);
    if (s->qtail)
        s->qtail->next = r;
    else
        s->qhead = r;
    s->qtail = r;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls) {
    hd_server *s = cls;
    hd_req *r = *con_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->srv = s;
        r->d = s->d;
        r->conn = conn;
        r->method = method;
        r->url = url;
        r->t0_ns = hd_mono_ns();
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoll(cl, NULL, 10) > HD_BODY_MAX) r->too_big = true;
        atomic_fetch_add(&s->inflight, 1);
        *con_cls = r;
        return MHD_YES;
    }
    if (atomic_load_explicit(&r->answered, memory_order_acquire)) return send_resp(s, r, &r->w);
    if (*upload_size) {
        if (!r->too_big && r->body.len + *upload_size > HD_BODY_MAX) r->too_big = true;
        if (!r->too_big) hd_buf_append(&r->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    hd_resp w = {0};
    w.status = 200;
    if (r->too_big) {
        hd_resp_problem(&w, 413, HD_ETOOBIG, "", "the body is larger than %d bytes", HD_BODY_MAX);
        return send_resp(s, r, &w);
    }
    if (r->body.oom) {
        hd_resp_problem(&w, 503, HD_ENOMEM, "", "out of memory");
        return send_resp(s, r, &w);
    }
    if (s->async_writes && atomic_load(&s->stopping)) {
        /* a request that began after the stop did (on a connection kept
         * alive): it must not be suspended - libmicrohttpd cannot stop with
         * a suspended connection - so it is refused, and written nowhere */
        hd_resp_problem(&w, 503, HD_EBUSY, "", "the server is stopping: send this again");
        return send_resp(s, r, &w);
    }
    const hd_route *rt = r->rt = route_find(s, r, &r->path_known);
    if (!s->async_writes) { /* a thread of this connection's own */
        handle(s, r, &w);
        return send_resp(s, r, &w);
    }
    const char *key;
    if (rt && rt->prep && rt->scope && strcmp(rt->scope, "member") != 0 && (key = bearer_key(r)) &&
        key_cached(s, r, key)) {
        /* here, on the polling thread, nothing that reads the store: a key
         * from the cache (anything else goes to a worker), the body checked
         * against the rules, and the write queued */
        r->route_path = rt->path;
        r->authed = true;
        if (!check_scope(r, rt, &w)) return send_resp(s, r, &w);
        if (!audited(r, rt)) {
            hd_write *wr;
            if (!prepare_write(r, rt, &wr, &w)) return send_resp(s, r, &w);
            MHD_suspend_connection(conn);
            hd_write_submit(wr, on_write_answer, r);
            return MHD_YES;
        }
    }
    to_worker(s, r);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    hd_server *s = cls;
    hd_req *r = *con_cls;
    if (!r) return;
    hd_buf_free(&r->body);
    json_decref(r->in);
    json_decref(r->w.body);
    free(r->w.raw);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&s->inflight, 1);
}

static void stop_workers(hd_server *s) {
    if (!s->workers) return;
    pthread_mutex_lock(&s->qmu);
    s->qstop = true;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (int i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);
    free(s->workers);
    s->workers = NULL;
    pthread_mutex_destroy(&s->qmu);
    pthread_cond_destroy(&s->qcv);
}

hd_server *hd_server_start(hd_domain *d, const hd_server_opts *o, hd_err *err) {
    hd_server *s = calloc(1, sizeof *s);
    if (!s) {
        hd_err_set(err, HD_ENOMEM, "", "out of memory");
        return NULL;
    }
    s->d = d;
    s->o = *o;
    s->log = o->log ? o->log : stderr;
    pthread_mutex_init(&s->mu, NULL);
    const char *listen = o->listen && *o->listen ? o->listen : "127.0.0.1:8080";
    char host[64];
    const char *colon = strrchr(listen, ':');
    char *pend = NULL;
    long port = colon ? strtol(colon + 1, &pend, 10) : -1;
    if (colon && (pend == colon + 1 || *pend)) port = -1;
    size_t hl = colon ? (size_t)(colon - listen) : 0;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    if (!colon || hl >= sizeof host || port < 0 || port > 65535) {
        hd_err_set(err, HD_EINVAL, "listen", "'%s' is not HOST:PORT", listen);
        goto fail;
    }
    memcpy(host, listen, hl);
    host[hl] = '\0';
    if (hl == 0) snprintf(host, sizeof host, "0.0.0.0");
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        hd_err_set(err, HD_EINVAL, "listen", "'%s' is not an IPv4 address", host);
        goto fail;
    }
    sa.sin_port = htons((uint16_t)port);
    s->async_writes = hd_store_writes_async(d->store);
    unsigned conns = o->max_connections > 0 ? (unsigned)o->max_connections : 1024;
    if (!s->async_writes) {
        /* PostgreSQL: every write waits on its pooled connection, so a
         * request is a thread's work from start to end - a thread per
         * connection, answering inline. Handing each request to a worker
         * cost single transfers 10-15 % (3.6-3.8k against 4.2k/s in
         * bench/ledger.sh, three runs) */
        s->mhd = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
            (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa,
            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_LISTEN_BACKLOG_SIZE,
            (unsigned)1024, MHD_OPTION_END);
    } else {
        pthread_mutex_init(&s->qmu, NULL);
        pthread_cond_init(&s->qcv, NULL);
        s->nworkers = o->workers > 0 ? o->workers : 32;
        s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
        if (!s->workers) {
            hd_err_set(err, HD_ENOMEM, "", "out of memory");
            goto fail;
        }
        for (int i = 0; i < s->nworkers; i++) {
            if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0) {
                s->nworkers = i;
                hd_err_set(err, HD_EIO, "", "cannot start worker threads");
                goto fail;
            }
        }
        /* a polling thread per core: they never wait (see "answering away
         * from the polling threads"). poll(2), not epoll: libmicrohttpd
         * takes a suspended connection out of its epoll set and puts it
         * back on resume, two epoll_ctl calls for every request that waits
         * for the writer; poll just leaves it out of the next call's list.
         * Single events +5 % at 16 connections, +7 % at 64, +6 to +10 % at
         * 256 and 1,000 (alternating rounds; the hello-world is faster with
         * epoll and keeps it). poll's cost grows with the connections a
         * thread holds, so past 2,048 allowed connections, epoll. */
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        unsigned pollers = ncpu < 1 ? 1 : ncpu > 64 ? 64 : (unsigned)ncpu;
        unsigned poll_kind = conns > 2048 ? MHD_USE_EPOLL : MHD_USE_POLL;
        bool batch = as_batch(true); /* the polling threads inherit it */
        s->mhd = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | poll_kind | MHD_ALLOW_SUSPEND_RESUME, (uint16_t)port,
            NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
            pollers, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
            (unsigned)60, MHD_OPTION_CONNECTION_LIMIT, conns, MHD_OPTION_LISTEN_BACKLOG_SIZE,
            (unsigned)1024, MHD_OPTION_END);
        if (batch) as_batch(false);
    }
    if (!s->mhd) {
        hd_err_set(err, HD_EIO, "listen", "cannot listen on %s (in use, or not allowed)", listen);
        goto fail;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : (int)port;
    return s;
fail:
    stop_workers(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
    return NULL;
}

int hd_server_port(const hd_server *s) { return s->port; }

void hd_server_stop(hd_server *s) {
    if (!s) return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    /* Requests in flight finish before the daemon stops. A request counts
     * itself in flight before it looks at stopping: once the count is seen
     * at 0 here, every later one sees stopping and is refused without being
     * suspended. A thread per connection (PostgreSQL) may be cut off after
     * 30 s; a suspended request may not (libmicrohttpd aborts), so on the
     * embedded store the wait has no end - its writes finish in milliseconds,
     * a worker's read when its query does. */
    atomic_store(&s->stopping, true);
    for (int i = 0; atomic_load(&s->inflight) > 0; i++) {
        if (!s->async_writes && i >= 3000) break;
        if (i > 0 && i % 1000 == 0)
            fprintf(s->log, "hudong: waiting for %d requests in flight\n",
                    atomic_load(&s->inflight));
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    stop_workers(s);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
