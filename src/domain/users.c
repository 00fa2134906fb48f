/* users.c - console users, sessions and the audit log. */
#include "domain/users.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

static const char *const ROLES[] = {"owner", "admin", "marketer", "agent", "analyst", NULL};

bool hd_role_valid(const char *role) {
    for (const char *const *r = ROLES; *r; r++)
        if (role && strcmp(*r, role) == 0) return true;
    return false;
}

/* What each role may do, as the scopes API keys use. */
bool hd_role_allows(const char *role, const char *scope) {
    if (strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0) return true;
    const char *colon = strchr(scope, ':');
    bool write = colon && strcmp(colon + 1, "write") == 0;
    size_t alen = colon ? (size_t)(colon - scope) : strlen(scope);
    bool admin_area = alen == 5 && strncmp(scope, "admin", 5) == 0;
    if (admin_area) return false; /* users, keys, audit: owner and admin only */
    /* analysts read everything and may build segments and recompute analytics */
    if (strcmp(role, "analyst") == 0)
        return !write || (alen == 9 && strncmp(scope, "analytics", 9) == 0);
    if (strcmp(role, "marketer") == 0) return true;
    if (strcmp(role, "agent") == 0) {
        /* service: customers and events, reads points; no programme changes */
        if (!write) return true;
        return (alen == 9 && strncmp(scope, "customers", 9) == 0) ||
               (alen == 6 && strncmp(scope, "events", 6) == 0);
    }
    return false;
}

static void sha256_hex(const char *s, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)s, strlen(s));
    sodium_bin2hex(out, 65, h, sizeof h);
}

typedef struct user_ctx {
    hd_domain *d;
    const char *email, *name, *role, *hash;
    int64_t id;
    const json_t *in;
    json_t *out;
} user_ctx;

static hd_rc add_cb(hd_conn *c, void *vctx, hd_err *err) {
    user_ctx *u = vctx;
    hd_val p[6] = {hd_vint(u->id),    hd_vtext(u->email), hd_vtext(u->name),
                   hd_vtext(u->role), hd_vtext(u->hash),  hd_vint(hd_now(u->d))};
    hd_rc rc =
        hd_exec(c,
                "INSERT INTO users (id, email, name, role, password_hash, created_at) VALUES "
                "(?, ?, ?, ?, ?, ?)",
                p, 6, NULL, err);
    if (rc == HD_ECONFLICT)
        return hd_err_set(err, HD_ECONFLICT, "email", "a user with this e-mail exists");
    return rc;
}

static hd_rc check_password(const char *pw, hd_err *err) {
    size_t n = pw ? strlen(pw) : 0;
    if (n < 10) return hd_err_set(err, HD_EINVAL, "password", "must have at least 10 characters");
    if (n > 200) return hd_err_set(err, HD_EINVAL, "password", "must have at most 200 characters");
    return HD_OK;
}

static hd_rc hash_password(const char *pw, char out[crypto_pwhash_STRBYTES], hd_err *err) {
    if (crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return hd_err_set(err, HD_ENOMEM, "password", "not enough memory to hash the password");
    return HD_OK;
}

hd_rc hd_user_add(hd_domain *d, const char *email, const char *name, const char *role,
                  const char *password, int64_t *id, hd_err *err) {
    char norm[255];
    if (hd_email_normalize(email, norm, err)) return HD_EINVAL;
    if (!hd_role_valid(role))
        return hd_err_set(err, HD_EINVAL, "role",
                          "must be owner, admin, marketer, agent or analyst");
    if (name && strlen(name) > 100)
        return hd_err_set(err, HD_EINVAL, "name", "is longer than 100 bytes");
    hd_rc rc = check_password(password, err);
    if (rc) return rc;
    char hash[crypto_pwhash_STRBYTES];
    if ((rc = hash_password(password, hash, err))) return rc;
    user_ctx u = {d, norm, name ? name : "", role, hash, hd_id_next(d->ids), NULL, NULL};
    rc = hd_store_write(d->store, add_cb, &u, err);
    if (!rc && id) *id = u.id;
    return rc;
}

static json_t *user_json(hd_rows *r) {
    /* id, email, name, role, disabled, locked_until, created_at */
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    json_object_set_new(o, "email", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(o, "name", json_string(hd_rows_text(r, 2, NULL)));
    json_object_set_new(o, "role", json_string(hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "disabled", json_boolean(hd_rows_int(r, 4)));
    hd_json_set_time(o, "locked_until", hd_rows_int(r, 5), hd_rows_int(r, 5) != 0);
    hd_json_set_time(o, "created_at", hd_rows_int(r, 6), true);
    return o;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    user_ctx *u = vctx;
    hd_rows *r;
    hd_rc rc =
        hd_query(c,
                 "SELECT id, email, name, role, disabled, locked_until, created_at FROM users "
                 "ORDER BY email",
                 NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(u->out, user_json(r));
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_user_list(hd_domain *d, json_t **out, hd_err *err) {
    user_ctx u = {.d = d, .out = json_array()};
    hd_rc rc = hd_store_read(d->store, list_cb, &u, err);
    if (rc) {
        json_decref(u.out);
        return rc;
    }
    *out = json_pack("{s:o}", "data", u.out);
    return HD_OK;
}

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    user_ctx *u = vctx;
    json_decref(u->out);
    u->out = NULL;
    const json_t *in = u->in;
    hd_rc rc;
    int64_t n = 0;
    hd_val idv = hd_vint(u->id);
    if ((rc = hd_query_int(c, "SELECT count(*) FROM users WHERE id = ?", &idv, 1, &n, err)))
        return rc;
    if (!n) return hd_err_set(err, HD_ENOTFOUND, "id", "no user %lld", (long long)u->id);
    const char *role = json_string_value(json_object_get(in, "role"));
    if (role) {
        hd_val p[2] = {hd_vtext(role), idv};
        if ((rc = hd_exec(c, "UPDATE users SET role = ? WHERE id = ?", p, 2, NULL, err))) return rc;
    }
    const char *name = json_string_value(json_object_get(in, "name"));
    if (name) {
        hd_val p[2] = {hd_vtext(name), idv};
        if ((rc = hd_exec(c, "UPDATE users SET name = ? WHERE id = ?", p, 2, NULL, err))) return rc;
    }
    json_t *dis = json_object_get(in, "disabled");
    if (dis) {
        hd_val p[2] = {hd_vbool(json_is_true(dis)), idv};
        if ((rc = hd_exec(c, "UPDATE users SET disabled = ? WHERE id = ?", p, 2, NULL, err)))
            return rc;
        if (json_is_true(dis) &&
            (rc = hd_exec(c, "DELETE FROM sessions WHERE user_id = ?", &idv, 1, NULL, err)))
            return rc;
    }
    if (u->hash) {
        hd_val p[2] = {hd_vtext(u->hash), idv};
        if ((rc = hd_exec(c,
                          "UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = 0 "
                          "WHERE id = ?",
                          p, 2, NULL, err)))
            return rc;
        /* a new password ends every session */
        if ((rc = hd_exec(c, "DELETE FROM sessions WHERE user_id = ?", &idv, 1, NULL, err)))
            return rc;
    }
    hd_rows *r;
    if ((rc =
             hd_query(c,
                      "SELECT id, email, name, role, disabled, locked_until, created_at FROM users "
                      "WHERE id = ?",
                      &idv, 1, &r, err)))
        return rc;
    if (hd_rows_next(r, err) == 1) u->out = user_json(r);
    hd_rows_free(r);
    return HD_OK;
}

hd_rc hd_user_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    static const char *const fields[] = {"role", "name", "disabled", "password", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, fields, "a user", err);
    if (rc) return rc;
    const char *role, *name, *pw;
    if ((rc = hd_json_str(in, "role", 16, &role, err))) return rc;
    if (role && !hd_role_valid(role))
        return hd_err_set(err, HD_EINVAL, "role",
                          "must be owner, admin, marketer, agent or analyst");
    if ((rc = hd_json_str(in, "name", 100, &name, err))) return rc;
    json_t *dis = json_object_get(in, "disabled");
    if (dis && !json_is_boolean(dis))
        return hd_err_set(err, HD_EINVAL, "disabled", "must be true or false");
    if ((rc = hd_json_str(in, "password", 200, &pw, err))) return rc;
    char hash[crypto_pwhash_STRBYTES];
    if (pw && ((rc = check_password(pw, err)) || (rc = hash_password(pw, hash, err)))) return rc;
    user_ctx u = {d, NULL, NULL, NULL, pw ? hash : NULL, id, in, NULL};
    rc = hd_store_write(d->store, patch_cb, &u, err);
    if (rc) {
        json_decref(u.out);
        return rc;
    }
    *out = u.out;
    return HD_OK;
}

/* ---- sessions ---- */

typedef struct login_ctx {
    hd_domain *d;
    const char *email, *password;
    hd_user *user;
    char token_hash[65], csrf[48];
    bool ok;
    int64_t locked_until;
    hd_rc result;
} login_ctx;

static hd_rc login_cb(hd_conn *c, void *vctx, hd_err *err) {
    login_ctx *l = vctx;
    l->ok = false;
    hd_val p = hd_vtext(l->email);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id, email, name, role, password_hash, failed_logins, locked_until, "
                        "disabled FROM users WHERE email = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        if (got < 0) return err->rc;
        l->result = hd_err_set(err, HD_EAUTH, "email", "wrong e-mail or password");
        return HD_OK; /* nothing to record: commit the (empty) transaction */
    }
    int64_t id = hd_rows_int(r, 0), fails = hd_rows_int(r, 5), locked = hd_rows_int(r, 6);
    bool disabled = hd_rows_int(r, 7);
    char hash[crypto_pwhash_STRBYTES];
    snprintf(hash, sizeof hash, "%s", hd_rows_text(r, 4, NULL));
    l->user->id = id;
    snprintf(l->user->email, sizeof l->user->email, "%s", hd_rows_text(r, 1, NULL));
    snprintf(l->user->name, sizeof l->user->name, "%s", hd_rows_text(r, 2, NULL));
    snprintf(l->user->role, sizeof l->user->role, "%s", hd_rows_text(r, 3, NULL));
    hd_rows_free(r);
    int64_t now = hd_now(l->d);
    hd_val idv = hd_vint(id);
    if (disabled) {
        l->result = hd_err_set(err, HD_EFORBIDDEN, "email", "this account is disabled");
        return HD_OK;
    }
    if (locked > now) {
        l->locked_until = locked;
        char t[32];
        hd_time_format(locked, t);
        l->result = hd_err_set(err, HD_ESTATE, "email",
                               "too many failed logins: the account is locked until %s", t);
        return HD_OK;
    }
    if (crypto_pwhash_str_verify(hash, l->password, strlen(l->password)) != 0) {
        /* the failure is recorded even though the request fails */
        fails++;
        hd_val u[3] = {hd_vint(fails >= HD_LOGIN_FAILS_MAX ? 0 : fails),
                       hd_vint(fails >= HD_LOGIN_FAILS_MAX ? now + HD_LOCKOUT_MS : 0), idv};
        if ((rc = hd_exec(c, "UPDATE users SET failed_logins = ?, locked_until = ? WHERE id = ?", u,
                          3, NULL, err)))
            return rc;
        if (fails >= HD_LOGIN_FAILS_MAX)
            l->result = hd_err_set(err, HD_ESTATE, "password",
                                   "wrong password; the account is now locked for 15 minutes");
        else
            l->result = hd_err_set(err, HD_EAUTH, "email", "wrong e-mail or password");
        return HD_OK;
    }
    hd_val u[2] = {hd_vint(0), idv};
    if ((rc = hd_exec(c, "UPDATE users SET failed_logins = ?, locked_until = 0 WHERE id = ?", u, 2,
                      NULL, err)))
        return rc;
    hd_val s[6] = {
        hd_vtext(l->token_hash),         idv, hd_vtext(l->csrf), hd_vint(now), hd_vint(now),
        hd_vint(now + HD_SESSION_MAX_MS)};
    if ((rc = hd_exec(c,
                      "INSERT INTO sessions (token_hash, user_id, csrf, created_at, last_seen, "
                      "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                      s, 6, NULL, err)))
        return rc;
    l->ok = true;
    l->result = HD_OK;
    return HD_OK;
}

static void random_token(char *out, size_t bytes) {
    unsigned char b[32];
    randombytes_buf(b, bytes);
    sodium_bin2base64(out,
                      sodium_base64_ENCODED_LEN(bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING), b,
                      bytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

hd_rc hd_session_login(hd_domain *d, const char *email, const char *password, hd_user *user,
                       char **token, char csrf[48], hd_err *err) {
    char norm[255];
    hd_err ignore;
    if (!email || !password || hd_email_normalize(email, norm, &ignore))
        return hd_err_set(err, HD_EAUTH, "email", "wrong e-mail or password");
    char *tok = malloc(64);
    if (!tok) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    random_token(tok, 32);
    login_ctx l = {.d = d, .email = norm, .password = password, .user = user};
    sha256_hex(tok, l.token_hash);
    random_token(l.csrf, 32);
    hd_rc rc = hd_store_write(d->store, login_cb, &l, err);
    if (!rc) rc = l.result;
    if (rc || !l.ok) {
        free(tok);
        return rc ? rc : hd_err_set(err, HD_EAUTH, "email", "wrong e-mail or password");
    }
    *token = tok;
    memcpy(csrf, l.csrf, 48);
    return HD_OK;
}

typedef struct check_ctx {
    hd_domain *d;
    char hash[65];
    hd_user *user;
    char *csrf;
    bool found, expired;
    int64_t last_seen;
} check_ctx;

static hd_rc check_cb(hd_conn *c, void *vctx, hd_err *err) {
    check_ctx *k = vctx;
    hd_val p = hd_vtext(k->hash);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT s.user_id, s.csrf, s.last_seen, s.expires_at, u.email, u.name, "
                        "u.role, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE "
                        "s.token_hash = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        int64_t now = hd_now(k->d);
        k->found = true;
        k->user->id = hd_rows_int(r, 0);
        snprintf(k->csrf, 48, "%s", hd_rows_text(r, 1, NULL));
        k->last_seen = hd_rows_int(r, 2);
        k->expired = hd_rows_int(r, 3) <= now || now - k->last_seen > HD_SESSION_IDLE_MS ||
                     hd_rows_int(r, 7);
        snprintf(k->user->email, sizeof k->user->email, "%s", hd_rows_text(r, 4, NULL));
        snprintf(k->user->name, sizeof k->user->name, "%s", hd_rows_text(r, 5, NULL));
        snprintf(k->user->role, sizeof k->user->role, "%s", hd_rows_text(r, 6, NULL));
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc touch_cb(hd_conn *c, void *vctx, hd_err *err) {
    check_ctx *k = vctx;
    hd_val p[2] = {hd_vint(hd_now(k->d)), hd_vtext(k->hash)};
    return hd_exec(c, "UPDATE sessions SET last_seen = ? WHERE token_hash = ?", p, 2, NULL, err);
}

hd_rc hd_session_check(hd_domain *d, const char *token, hd_user *user, char csrf[48], hd_err *err) {
    if (!token || !*token || strlen(token) > 100)
        return hd_err_set(err, HD_EAUTH, "Cookie", "not signed in");
    check_ctx k = {.d = d, .user = user, .csrf = csrf};
    sha256_hex(token, k.hash);
    hd_rc rc = hd_store_read(d->store, check_cb, &k, err);
    if (rc) return rc;
    if (!k.found) return hd_err_set(err, HD_EAUTH, "Cookie", "not signed in");
    if (k.expired)
        return hd_err_set(err, HD_EAUTH, "Cookie", "the session has expired; sign in again");
    if (hd_now(d) - k.last_seen > 60000) hd_store_write(d->store, touch_cb, &k, NULL);
    return HD_OK;
}

static hd_rc logout_cb(hd_conn *c, void *vctx, hd_err *err) {
    check_ctx *k = vctx;
    hd_val p = hd_vtext(k->hash);
    return hd_exec(c, "DELETE FROM sessions WHERE token_hash = ?", &p, 1, NULL, err);
}

hd_rc hd_session_logout(hd_domain *d, const char *token, hd_err *err) {
    check_ctx k = {.d = d};
    sha256_hex(token ? token : "", k.hash);
    return hd_store_write(d->store, logout_cb, &k, err);
}

/* ---- audit ---- */

typedef struct audit_ctx {
    hd_domain *d;
    const char *type, *name, *action, *path, *before, *after;
    int64_t actor;
    int status;
    const hd_audit_query *q;
    json_t *out;
    int64_t id;
} audit_ctx;

static hd_rc audit_cb(hd_conn *c, void *vctx, hd_err *err) {
    audit_ctx *a = vctx;
    hd_val p[10] = {hd_vint(a->id),    hd_vint(hd_now(a->d)), hd_vtext(a->type),
                    hd_vint(a->actor), hd_vtext(a->name),     hd_vtext(a->action),
                    hd_vtext(a->path), hd_vint(a->status),    hd_vtext(a->before),
                    hd_vtext(a->after)};
    return hd_exec(c,
                   "INSERT INTO audit_log (id, at, actor_type, actor_id, actor_name, action, path, "
                   "status, before_json, after_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   p, 10, NULL, err);
}

hd_rc hd_audit_add(hd_domain *d, const char *actor_type, int64_t actor_id, const char *actor_name,
                   const char *action, const char *path, int status, const char *before,
                   const char *after, hd_err *err) {
    audit_ctx a = {d,     actor_type, actor_name, action, path, before,
                   after, actor_id,   status,     NULL,   NULL, hd_id_next(d->ids)};
    return hd_store_write(d->store, audit_cb, &a, err);
}

hd_rc hd_audit_begin(hd_domain *d, const char *actor_type, int64_t actor_id, const char *actor_name,
                     const char *action, const char *path, const char *before, int64_t *id,
                     hd_err *err) {
    *id = hd_id_next(d->ids);
    audit_ctx a = {d,    actor_type, actor_name, action, path, before,
                   NULL, actor_id,   0,          NULL,   NULL, *id};
    return hd_store_write(d->store, audit_cb, &a, err);
}

static hd_rc audit_end_cb(hd_conn *c, void *vctx, hd_err *err) {
    audit_ctx *a = vctx;
    if (a->status == 0) {
        hd_val p = hd_vint(a->id);
        return hd_exec(c, "DELETE FROM audit_log WHERE id = ? AND status = 0", &p, 1, NULL, err);
    }
    hd_val p[3] = {hd_vint(a->status), hd_vtext(a->after), hd_vint(a->id)};
    return hd_exec(c, "UPDATE audit_log SET status = ?, after_json = ? WHERE id = ?", p, 3, NULL,
                   err);
}

hd_rc hd_audit_end(hd_domain *d, int64_t id, int status, const char *after, hd_err *err) {
    if (status <= 0) return hd_err_set(err, HD_EINVAL, "status", "must be an HTTP status");
    audit_ctx a = {.d = d, .after = after, .status = status, .id = id};
    return hd_store_write(d->store, audit_end_cb, &a, err);
}

hd_rc hd_audit_drop(hd_domain *d, int64_t id, hd_err *err) {
    audit_ctx a = {.d = d, .status = 0, .id = id};
    return hd_store_write(d->store, audit_end_cb, &a, err);
}

static hd_rc audit_list_cb(hd_conn *c, void *vctx, hd_err *err) {
    audit_ctx *a = vctx;
    const hd_audit_query *q = a->q;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s%%", q->path_prefix ? q->path_prefix : "");
    hd_val p[8] = {hd_vtext(q->actor_type ? q->actor_type : ""),
                   hd_vtext(q->actor_type ? q->actor_type : ""),
                   hd_vint(q->actor_id),
                   hd_vint(q->actor_id),
                   hd_vtext(prefix),
                   hd_vint(q->from_ms),
                   hd_vint(q->to_ms ? q->to_ms : INT64_MAX),
                   hd_vint(q->cursor ? q->cursor : INT64_MAX)};
    hd_val lim = hd_vint(q->limit + 1);
    hd_val all[9] = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], lim};
    hd_rows *r;
    hd_rc rc =
        hd_query(c,
                 "SELECT id, at, actor_type, actor_id, actor_name, action, path, status, "
                 "before_json, after_json FROM audit_log WHERE (? = '' OR actor_type = ?) AND "
                 "(? = 0 OR actor_id = ?) AND path LIKE ? AND at >= ? AND at < ? AND id < ? "
                 "ORDER BY id DESC LIMIT ?",
                 all, 9, &r, err);
    if (rc) return rc;
    json_t *data = json_array();
    json_object_set_new(a->out, "data", data);
    json_object_set_new(a->out, "next_cursor", json_null());
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (n == q->limit) {
            hd_json_set_id(a->out, "next_cursor", hd_rows_int(r, 0) + 1);
            break;
        }
        json_t *o = json_object();
        hd_json_set_id(o, "id", hd_rows_int(r, 0));
        hd_json_set_time(o, "at", hd_rows_int(r, 1), true);
        json_object_set_new(o, "actor",
                            json_pack("{s:s,s:s,s:s}", "type", hd_rows_text(r, 2, NULL), "id", "",
                                      "name", hd_rows_text(r, 4, NULL)));
        hd_json_set_id(json_object_get(o, "actor"), "id", hd_rows_int(r, 3));
        json_object_set_new(o, "action", json_string(hd_rows_text(r, 5, NULL)));
        json_object_set_new(o, "path", json_string(hd_rows_text(r, 6, NULL)));
        json_object_set_new(o, "status", json_integer(hd_rows_int(r, 7)));
        size_t len;
        const char *b = hd_rows_text(r, 8, &len);
        json_object_set_new(o, "before",
                            hd_rows_isnull(r, 8) ? json_null() : json_loadb(b, len, 0, NULL));
        const char *af = hd_rows_text(r, 9, &len);
        json_object_set_new(o, "after",
                            hd_rows_isnull(r, 9) ? json_null() : json_loadb(af, len, 0, NULL));
        if (!json_object_get(o, "before")) json_object_set_new(o, "before", json_null());
        if (!json_object_get(o, "after")) json_object_set_new(o, "after", json_null());
        json_array_append_new(data, o);
        n++;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_audit_list(hd_domain *d, const hd_audit_query *q, json_t **out, hd_err *err) {
    audit_ctx a = {.d = d, .q = q, .out = json_object()};
    hd_rc rc = hd_store_read(d->store, audit_list_cb, &a, err);
    if (rc) {
        json_decref(a.out);
        return rc;
    }
    *out = a.out;
    return HD_OK;
}
