/* apikeys.c - creating and checking API keys. */
#include "domain/apikeys.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const AREAS[] = {"customers", "events", "touchpoints", "points",
                                    "analytics", "admin",  NULL};

bool hd_scope_valid(const char *s) {
    if (strcmp(s, "*") == 0) return true;
    const char *colon = strchr(s, ':');
    if (!colon || (strcmp(colon + 1, "read") != 0 && strcmp(colon + 1, "write") != 0)) return false;
    for (const char *const *a = AREAS; *a; a++)
        if (strlen(*a) == (size_t)(colon - s) && strncmp(*a, s, (size_t)(colon - s)) == 0)
            return true;
    return false;
}

static void hash_key(const char *key, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)key, strlen(key));
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* base32 without ambiguous characters would be nicer for humans; keys are
 * machine-handled, so lower-case hex is fine and copy-paste safe. */
typedef struct create_ctx {
    hd_domain *d;
    int64_t id;
    const char *name, *prefix, *hash, *scopes;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, hd_err *err) {
    create_ctx *cc = vctx;
    hd_val p[5] = {hd_vint(cc->id), hd_vtext(cc->name), hd_vtext(cc->prefix), hd_vtext(cc->hash),
                   hd_vtext(cc->scopes)};
    hd_val now = hd_vint(hd_now(cc->d));
    hd_val all[6] = {p[0], p[1], p[2], p[3], p[4], now};
    return hd_exec(c,
                   "INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   all, 6, NULL, err);
}

hd_rc hd_apikey_create(hd_domain *d, const char *name, const char *const *scopes, int nscopes,
                       int64_t *id, char **secret, hd_err *err) {
    if (!name || !*name || strlen(name) > 100)
        return hd_err_set(err, HD_EINVAL, "name", "is required (1 to 100 bytes)");
    char sc[512] = "";
    size_t o = 0;
    if (nscopes == 0) snprintf(sc, sizeof sc, "*");
    for (int i = 0; i < nscopes; i++) {
        if (!hd_scope_valid(scopes[i]))
            return hd_err_set(err, HD_EINVAL, "scope",
                              "'%s' is not a scope; use AREA:read or AREA:write with AREA one of "
                              "customers, events, touchpoints, points, analytics, admin, or *",
                              scopes[i]);
        int w = snprintf(sc + o, sizeof sc - o, "%s%s", i ? " " : "", scopes[i]);
        if (w < 0 || (size_t)w >= sizeof sc - o)
            return hd_err_set(err, HD_EINVAL, "scope", "too many scopes");
        o += (size_t)w;
    }
    unsigned char rp[5], rs[20];
    randombytes_buf(rp, sizeof rp);
    randombytes_buf(rs, sizeof rs);
    char prefix[11], sec[41];
    sodium_bin2hex(prefix, sizeof prefix, rp, sizeof rp);
    sodium_bin2hex(sec, sizeof sec, rs, sizeof rs);
    char *key = malloc(64);
    if (!key) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    snprintf(key, 64, "hd_%s_%s", prefix, sec);
    char hash[65];
    hash_key(key, hash);
    create_ctx cc = {d, hd_id_next(d->ids), name, prefix, hash, sc};
    hd_rc rc = hd_store_write(d->store, create_cb, &cc, err);
    if (rc) {
        free(key);
        return rc;
    }
    *id = cc.id;
    *secret = key;
    return HD_OK;
}

typedef struct verify_ctx {
    const char *prefix;
    char hash[65];
    hd_apikey *out;
    bool found;
} verify_ctx;

static hd_rc verify_cb(hd_conn *c, void *vctx, hd_err *err) {
    verify_ctx *vc = vctx;
    hd_val p = hd_vtext(vc->prefix);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id, name, secret_hash, scopes FROM api_keys WHERE prefix = ? AND "
                        "revoked_at IS NULL",
                        &p, 1, &r, err);
    if (rc) return rc;
    if (hd_rows_next(r, err) == 1) {
        const char *h = hd_rows_text(r, 2, NULL);
        if (strlen(h) == 64 && sodium_memcmp(h, vc->hash, 64) == 0) {
            vc->found = true;
            vc->out->id = hd_rows_int(r, 0);
            snprintf(vc->out->name, sizeof vc->out->name, "%s", hd_rows_text(r, 1, NULL));
            snprintf(vc->out->scopes, sizeof vc->out->scopes, "%s", hd_rows_text(r, 3, NULL));
        }
    }
    hd_rows_free(r);
    return HD_OK;
}

hd_rc hd_apikey_verify(hd_domain *d, const char *key, hd_apikey *out, hd_err *err) {
    /* hd_ + 10 hex + _ + 40 hex */
    if (!key || strlen(key) != 54 || strncmp(key, "hd_", 3) != 0 || key[13] != '_')
        return hd_err_set(err, HD_EAUTH, "Authorization", "the API key is malformed");
    char prefix[11];
    memcpy(prefix, key + 3, 10);
    prefix[10] = '\0';
    verify_ctx vc = {prefix, "", out, false};
    hash_key(key, vc.hash);
    hd_rc rc = hd_store_read(d->store, verify_cb, &vc, err);
    if (rc) return rc;
    if (!vc.found) return hd_err_set(err, HD_EAUTH, "Authorization", "unknown or revoked API key");
    return HD_OK;
}

bool hd_apikey_allows(const hd_apikey *k, const char *scope) {
    const char *colon = strchr(scope, ':');
    size_t alen = colon ? (size_t)(colon - scope) : strlen(scope);
    bool want_read = colon && strcmp(colon + 1, "read") == 0;
    const char *p = k->scopes;
    while (*p) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 1 && p[0] == '*') return true;
        if (n == strlen(scope) && strncmp(p, scope, n) == 0) return true;
        /* area:write implies area:read */
        if (want_read && n == alen + 6 && strncmp(p, scope, alen) == 0 &&
            strncmp(p + alen, ":write", 6) == 0)
            return true;
        p += n;
        while (*p == ' ') p++;
    }
    return false;
}

typedef struct list_ctx {
    json_t *out;
    int64_t id;
} list_ctx;

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    list_ctx *l = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id, name, prefix, scopes, created_at, revoked_at FROM api_keys "
                        "ORDER BY created_at DESC",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *o = json_object();
        hd_json_set_id(o, "id", hd_rows_int(r, 0));
        json_object_set_new(o, "name", json_string(hd_rows_text(r, 1, NULL)));
        json_object_set_new(o, "prefix", json_string(hd_rows_text(r, 2, NULL)));
        json_object_set_new(o, "scopes", json_string(hd_rows_text(r, 3, NULL)));
        hd_json_set_time(o, "created_at", hd_rows_int(r, 4), true);
        hd_json_set_time(o, "revoked_at", hd_rows_int(r, 5), !hd_rows_isnull(r, 5));
        json_array_append_new(l->out, o);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_apikey_list(hd_domain *d, json_t **out, hd_err *err) {
    list_ctx l = {json_array(), 0};
    hd_rc rc = hd_store_read(d->store, list_cb, &l, err);
    if (rc) {
        json_decref(l.out);
        return rc;
    }
    *out = json_pack("{s:o}", "data", l.out);
    return HD_OK;
}

typedef struct revoke_ctx {
    hd_domain *d;
    int64_t id;
} revoke_ctx;

static hd_rc revoke_cb(hd_conn *c, void *vctx, hd_err *err) {
    revoke_ctx *k = vctx;
    hd_val p[2] = {hd_vint(hd_now(k->d)), hd_vint(k->id)};
    int64_t n = 0;
    hd_rc rc = hd_exec(c, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                       p, 2, &n, err);
    if (rc) return rc;
    if (n == 0)
        return hd_err_set(err, HD_ENOTFOUND, "id", "no active API key %lld", (long long)k->id);
    return HD_OK;
}

hd_rc hd_apikey_revoke(hd_domain *d, int64_t id, hd_err *err) {
    revoke_ctx k = {d, id};
    return hd_store_write(d->store, revoke_cb, &k, err);
}
