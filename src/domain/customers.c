/* customers.c - the customer database: validation, identities, merges,
 * search, hygiene and privacy. */
#include "domain/customers_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

static const char *const CONSENT_CHANNELS[] = {"sms", "email", "wechat", "phone", NULL};

/* ---- validation ---- */

static hd_rc ident_add(hd_ident *out, int *n, const char *type, const char *value,
                       const char *field, hd_err *err) {
    for (int i = 0; i < *n; i++) /* the same identity twice counts once */
        if (strcmp(out[i].type, type) == 0 && strcmp(out[i].value, value) == 0) return HD_OK;
    if (*n >= HD_IDENTS_MAX)
        return hd_err_set(err, HD_EINVAL, field, "more than %d identities", HD_IDENTS_MAX);
    snprintf(out[*n].type, sizeof out[*n].type, "%s", type);
    snprintf(out[*n].value, sizeof out[*n].value, "%s", value);
    (*n)++;
    return HD_OK;
}

static hd_rc plain_ident(const json_t *obj, const char *key, const char *prefix, hd_ident *out,
                         int *n, hd_err *err) {
    char field[64];
    snprintf(field, sizeof field, "%s%s", prefix, key);
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) return HD_OK;
    if (!json_is_string(v) || json_string_length(v) == 0)
        return hd_err_set(err, HD_EINVAL, field, "must be a non-empty string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (len > 200 || !hd_utf8_valid(s, len) || strlen(s) != len)
        return hd_err_set(err, HD_EINVAL, field, "must be valid UTF-8 of at most 200 bytes");
    if (strcmp(key, "phone") == 0) {
        char norm[20];
        if (hd_phone_normalize(s, norm, err)) {
            snprintf(err->field, sizeof err->field, "%s", field);
            return HD_EINVAL;
        }
        return ident_add(out, n, "phone", norm, field, err);
    }
    if (strcmp(key, "email") == 0) {
        char norm[255];
        if (hd_email_normalize(s, norm, err)) {
            snprintf(err->field, sizeof err->field, "%s", field);
            return HD_EINVAL;
        }
        return ident_add(out, n, "email", norm, field, err);
    }
    char folded[201];
    hd_text_fold_width(s, len, folded);
    return ident_add(out, n, key, folded, field, err);
}

hd_rc hd_idents_parse(const json_t *obj, const char *prefix, hd_ident *out, int *n, hd_err *err) {
    static const char *const plain[] = {"phone", "email", "wechat_openid", "wechat_unionid", NULL};
    *n = 0;
    for (const char *const *k = plain; *k; k++) {
        hd_rc rc = plain_ident(obj, *k, prefix, out, n, err);
        if (rc) return rc;
    }
    json_t *ext = json_object_get(obj, "external_ids");
    if (ext && !json_is_null(ext)) {
        char field[64];
        snprintf(field, sizeof field, "%sexternal_ids", prefix);
        if (!json_is_object(ext))
            return hd_err_set(err, HD_EINVAL, field, "must be an object of source: id");
        const char *src;
        json_t *v;
        json_object_foreach(ext, src, v) {
            if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200)
                return hd_err_set(err, HD_EINVAL, field, "'%s' must be a non-empty string", src);
            if (strlen(src) == 0 || strlen(src) > 40)
                return hd_err_set(err, HD_EINVAL, field, "source names have 1 to 40 characters");
            char type[48];
            snprintf(type, sizeof type, "ext:%s", src);
            hd_rc rc = ident_add(out, n, type, json_string_value(v), field, err);
            if (rc) return rc;
        }
    }
    return HD_OK;
}

static void name_norm(const char *name, char *out, size_t cap) {
    size_t n = strlen(name);
    char *tmp = malloc(n + 1);
    if (!tmp) {
        out[0] = '\0';
        return;
    }
    hd_text_fold_width(name, n, tmp);
    size_t a = 0, b = strlen(tmp), o = 0;
    while (a < b && isspace((unsigned char)tmp[a])) a++;
    while (b > a && isspace((unsigned char)tmp[b - 1])) b--;
    for (size_t i = a; i < b && o + 1 < cap; i++) out[o++] = (char)tolower((unsigned char)tmp[i]);
    out[o] = '\0';
    free(tmp);
}

static hd_rc check_tags(const json_t *tags, const char *field, hd_err *err) {
    if (!json_is_array(tags))
        return hd_err_set(err, HD_EINVAL, field, "must be an array of strings");
    if (json_array_size(tags) > HD_TAGS_MAX)
        return hd_err_set(err, HD_EINVAL, field, "at most %d tags", HD_TAGS_MAX);
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        if (!json_is_string(t) || json_string_length(t) == 0 ||
            hd_utf8_len(json_string_value(t), json_string_length(t)) > HD_TAG_MAX)
            return hd_err_set(err, HD_EINVAL, field, "item %zu must be a tag of 1 to %d characters",
                              i, HD_TAG_MAX);
    }
    return HD_OK;
}

static hd_rc check_consent(const json_t *c, const hd_clock *cal, hd_err *err) {
    if (!json_is_object(c))
        return hd_err_set(err, HD_EINVAL, "consent", "must be an object of channel: {granted}");
    const char *ch;
    json_t *v;
    json_object_foreach((json_t *)c, ch, v) {
        bool known = false;
        for (const char *const *k = CONSENT_CHANNELS; *k; k++)
            if (strcmp(*k, ch) == 0) known = true;
        char field[64];
        snprintf(field, sizeof field, "consent.%s", ch);
        if (!known)
            return hd_err_set(err, HD_EINVAL, field,
                              "unknown channel; use sms, email, wechat or phone");
        if (json_is_boolean(v)) continue;
        if (!json_is_object(v) || !json_is_boolean(json_object_get(v, "granted")))
            return hd_err_set(err, HD_EINVAL, field, "must be true/false or {\"granted\": bool}");
        json_t *src = json_object_get(v, "source");
        if (src && !json_is_string(src))
            return hd_err_set(err, HD_EINVAL, field, "source must be a string");
        json_t *at = json_object_get(v, "at");
        int64_t ms;
        if (at && (!json_is_string(at) || !hd_time_parse_in(cal, json_string_value(at), &ms)))
            return hd_err_set(err, HD_EINVAL, field, "at must be an RFC 3339 time");
    }
    return HD_OK;
}

static hd_rc check_object(const json_t *in, const char *field, hd_err *err) {
    json_t *v = json_object_get(in, field);
    if (!v || json_is_null(v)) return HD_OK;
    if (!json_is_object(v)) return hd_err_set(err, HD_EINVAL, field, "must be an object");
    char *s = json_dumps(v, JSON_COMPACT);
    size_t n = s ? strlen(s) : 0;
    free(s);
    if (n > HD_ATTRS_BYTES_MAX)
        return hd_err_set(err, HD_ETOOBIG, field, "must serialise to at most %d bytes",
                          HD_ATTRS_BYTES_MAX);
    if (strcmp(field, "specs") == 0) {
        const char *cat;
        json_t *sv;
        json_object_foreach(v, cat, sv) {
            if (!json_is_object(sv))
                return hd_err_set(err, HD_EINVAL, "specs", "'%s' must be an object of spec: value",
                                  cat);
        }
    }
    return HD_OK;
}

static const char *const CUSTOMER_FIELDS[] = {
    "name",         "city",       "phone", "email",   "wechat_openid", "wechat_unionid",
    "external_ids", "attributes", "tags",  "consent", "specs",         NULL};

/* Validates the non-identity fields of a create or patch body. */
static hd_rc check_fields(const json_t *in, const hd_clock *cal, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, CUSTOMER_FIELDS, "a customer", err);
    if (rc) return rc;
    const char *s;
    if ((rc = hd_json_str(in, "name", HD_CUSTOMER_NAME_MAX, &s, err))) return rc;
    if ((rc = hd_json_str(in, "city", 100, &s, err))) return rc;
    if ((rc = check_object(in, "attributes", err))) return rc;
    if ((rc = check_object(in, "specs", err))) return rc;
    json_t *tags = json_object_get(in, "tags");
    if (tags && !json_is_null(tags)) {
        if (json_is_object(tags)) {
            json_t *add = json_object_get(tags, "add"), *rem = json_object_get(tags, "remove");
            if (add && (rc = check_tags(add, "tags.add", err))) return rc;
            if (rem && (rc = check_tags(rem, "tags.remove", err))) return rc;
        } else if ((rc = check_tags(tags, "tags", err))) {
            return rc;
        }
    }
    json_t *consent = json_object_get(in, "consent");
    if (consent && !json_is_null(consent) && (rc = check_consent(consent, cal, err))) return rc;
    return HD_OK;
}

/* consent input → stored form {"granted":b,"at":"…","source":"…"} per channel */
static void consent_merge(json_t *stored, const json_t *in, const hd_clock *cal, int64_t now) {
    const char *ch;
    json_t *v;
    json_object_foreach((json_t *)in, ch, v) {
        json_t *e = json_object();
        bool granted =
            json_is_boolean(v) ? json_is_true(v) : json_is_true(json_object_get(v, "granted"));
        json_object_set_new(e, "granted", json_boolean(granted));
        json_t *at = json_is_object(v) ? json_object_get(v, "at") : NULL;
        int64_t ms = now;
        if (at) hd_time_parse_in(cal, json_string_value(at), &ms);
        hd_json_set_time(e, "at", ms, true);
        json_t *src = json_is_object(v) ? json_object_get(v, "source") : NULL;
        json_object_set_new(e, "source", json_string(src ? json_string_value(src) : "api"));
        json_object_set_new(stored, ch, e);
    }
}

/* obj-merge: keys of patch replace, null deletes */
static void object_patch(json_t *base, const json_t *patch) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (json_is_null(v))
            json_object_del(base, k);
        else
            json_object_set(base, k, v);
    }
}

/* ---- loading ---- */

hd_rc hd_customer_load(hd_conn *c, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT name, city, attributes, consent, specs, orders, revenue, events, "
                        "first_seen, last_seen, created_at, updated_at, erased_at FROM customers "
                        "WHERE id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        return got < 0 ? err->rc
                       : hd_err_set(err, HD_ENOTFOUND, "id", "no customer %lld", (long long)id);
    }
    json_t *o = json_object();
    hd_json_set_id(o, "id", id);
    json_object_set_new(o, "name", json_string(hd_rows_text(r, 0, NULL)));
    json_object_set_new(o, "city", json_string(hd_rows_text(r, 1, NULL)));
    size_t n;
    const char *t = hd_rows_text(r, 2, &n);
    json_object_set_new(o, "attributes", hd_json_load(t, n));
    t = hd_rows_text(r, 3, &n);
    json_object_set_new(o, "consent", hd_json_load(t, n));
    t = hd_rows_text(r, 4, &n);
    json_object_set_new(o, "specs", hd_json_load(t, n));
    json_t *stats = json_object();
    json_object_set_new(stats, "orders", json_integer(hd_rows_int(r, 5)));
    json_object_set_new(stats, "revenue", json_integer(hd_rows_int(r, 6)));
    json_object_set_new(stats, "events", json_integer(hd_rows_int(r, 7)));
    hd_json_set_time(stats, "first_seen", hd_rows_int(r, 8), !hd_rows_isnull(r, 8));
    hd_json_set_time(stats, "last_seen", hd_rows_int(r, 9), !hd_rows_isnull(r, 9));
    json_object_set_new(o, "stats", stats);
    hd_json_set_time(o, "created_at", hd_rows_int(r, 10), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 11), true);
    if (!hd_rows_isnull(r, 12)) hd_json_set_time(o, "erased_at", hd_rows_int(r, 12), true);
    hd_rows_free(r);

    json_t *ids = json_array();
    json_object_set_new(o, "phone", json_null());
    json_object_set_new(o, "email", json_null());
    rc = hd_query(c,
                  "SELECT kind, value FROM identities WHERE customer_id = ? ORDER BY created_at, "
                  "kind, value",
                  &p, 1, &r, err);
    if (rc) goto fail;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *kind = hd_rows_text(r, 0, NULL), *val = hd_rows_text(r, 1, NULL);
        json_t *e = json_object();
        json_object_set_new(e, "type", json_string(kind));
        json_object_set_new(e, "value", json_string(val));
        json_array_append_new(ids, e);
        if ((strcmp(kind, "phone") == 0 || strcmp(kind, "email") == 0) &&
            json_is_null(json_object_get(o, kind)))
            json_object_set_new(o, kind, json_string(val));
    }
    hd_rows_free(r);
    if (got < 0) goto fail;
    json_object_set_new(o, "identities", ids);
    ids = NULL;

    json_t *tags = json_array();
    json_object_set_new(o, "tags", tags);
    rc = hd_query(c, "SELECT tag FROM customer_tags WHERE customer_id = ? ORDER BY tag", &p, 1, &r,
                  err);
    if (rc) goto fail;
    while ((got = hd_rows_next(r, err)) == 1)
        json_array_append_new(tags, json_string(hd_rows_text(r, 0, NULL)));
    hd_rows_free(r);
    if (got < 0) goto fail;
    *out = o;
    return HD_OK;
fail:
    json_decref(ids);
    json_decref(o);
    return err->rc ? err->rc : HD_ESTORE;
}

hd_rc hd_customer_follow(hd_conn *c, int64_t id, int64_t *survivor, hd_err *err) {
    int64_t cur = id;
    for (int hops = 0; hops < 64; hops++) {
        hd_val p = hd_vint(cur);
        hd_rows *r;
        hd_rc rc = hd_query(c, "SELECT merged_into FROM customers WHERE id = ?", &p, 1, &r, err);
        if (rc) return rc;
        int got = hd_rows_next(r, err);
        if (got != 1) {
            hd_rows_free(r);
            if (got < 0) return err->rc;
            return hd_err_set(err, HD_ENOTFOUND, "id", "no customer %lld", (long long)id);
        }
        bool merged = !hd_rows_isnull(r, 0);
        int64_t next = hd_rows_int(r, 0);
        hd_rows_free(r);
        if (!merged) {
            *survivor = cur;
            return HD_OK;
        }
        cur = next;
    }
    return hd_err_set(err, HD_EINTERNAL, "id", "merge chain too long for %lld", (long long)id);
}

/* ---- writing ---- */

static hd_rc insert_tags(hd_conn *c, int64_t id, const json_t *tags, hd_err *err) {
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        hd_val p[2] = {hd_vint(id), hd_vtextn(json_string_value(t), json_string_length(t))};
        hd_rc rc = hd_exec(c,
                           "INSERT INTO customer_tags (customer_id, tag) VALUES (?, ?) ON CONFLICT "
                           "DO NOTHING",
                           p, 2, NULL, err);
        if (rc) return rc;
    }
    return HD_OK;
}

/* Who owns identity i? 0 when nobody. */
static hd_rc ident_owner(hd_conn *c, const hd_ident *i, int64_t *owner, hd_err *err) {
    hd_val p[2] = {hd_vtext(i->type), hd_vtext(i->value)};
    hd_rc rc = hd_query_int(c, "SELECT customer_id FROM identities WHERE kind = ? AND value = ?", p,
                            2, owner, err);
    if (rc == HD_ENOTFOUND) {
        *owner = 0;
        hd_err_clear(err);
        return HD_OK;
    }
    return rc;
}

hd_rc hd__ident_insert(hd_conn *c, int64_t cid, const hd_ident *i, int64_t now, hd_err *err) {
    hd_val p[4] = {hd_vtext(i->type), hd_vtext(i->value), hd_vint(cid), hd_vint(now)};
    return hd_exec(
        c, "INSERT INTO identities (kind, value, customer_id, created_at) VALUES (?, ?, ?, ?)", p,
        4, NULL, err);
}

/* Inserts a new customer row with fields from in (validated). */
hd_rc hd__customer_insert(hd_conn *c, hd_domain *d, int64_t id, const json_t *in, hd_err *err) {
    int64_t now = hd_now(d);
    const char *name = in ? json_string_value(json_object_get(in, "name")) : NULL;
    const char *city = in ? json_string_value(json_object_get(in, "city")) : NULL;
    char norm[512];
    name_norm(name ? name : "", norm, sizeof norm);
    json_t *attrs = in ? json_object_get(in, "attributes") : NULL;
    json_t *specs = in ? json_object_get(in, "specs") : NULL;
    json_t *consent_in = in ? json_object_get(in, "consent") : NULL;
    json_t *consent = json_object();
    if (consent_in && json_is_object(consent_in)) consent_merge(consent, consent_in, d->clock, now);
    char *a = json_is_object(attrs) ? hd_json_dump(attrs) : strdup("{}");
    char *s = json_is_object(specs) ? hd_json_dump(specs) : strdup("{}");
    char *cs = hd_json_dump(consent);
    json_decref(consent);
    hd_val p[9] = {hd_vint(id),    hd_vtext(name ? name : ""),
                   hd_vtext(norm), hd_vtext(city ? city : ""),
                   hd_vtext(a),    hd_vtext(cs),
                   hd_vtext(s),    hd_vint(now),
                   hd_vint(now)};
    hd_rc rc = hd_exec(c,
                       "INSERT INTO customers (id, name, name_norm, city, attributes, consent, "
                       "specs, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       p, 9, NULL, err);
    free(a);
    free(s);
    free(cs);
    if (rc) return rc;
    json_t *tags = in ? json_object_get(in, "tags") : NULL;
    if (tags && json_is_array(tags)) rc = insert_tags(c, id, tags, err);
    return rc;
}

typedef struct create_ctx {
    hd_domain *d;
    const json_t *in;
    hd_ident ids[HD_IDENTS_MAX];
    int nids;
    int64_t existing;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    create_ctx *cc = vctx;
    for (int i = 0; i < cc->nids; i++) {
        int64_t owner;
        hd_rc rc = ident_owner(c, &cc->ids[i], &owner, err);
        if (rc) return rc;
        if (owner) {
            cc->existing = owner;
            const char *f =
                strncmp(cc->ids[i].type, "ext:", 4) == 0 ? "external_ids" : cc->ids[i].type;
            return hd_err_set(err, HD_ECONFLICT, f, "%s %s already belongs to customer %lld",
                              cc->ids[i].type, cc->ids[i].value, (long long)owner);
        }
    }
    int64_t id = hd_id_next(cc->d->ids);
    hd_rc rc = hd__customer_insert(c, cc->d, id, cc->in, err);
    for (int i = 0; !rc && i < cc->nids; i++)
        rc = hd__ident_insert(c, id, &cc->ids[i], hd_now(cc->d), err);
    if (rc == HD_ECONFLICT) /* another node took the identity just now: retry, then 409 */
        return hd_err_set(err, HD_EBUSY, "", "identity raced");
    if (rc) return rc;
    *status = 201;
    return hd_customer_load(c, id, body, err);
}

hd_rc hd_customer_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                         json_t **out, bool *replayed, int64_t *existing_id, hd_err *err) {
    hd_rc rc = check_fields(in, d->clock, err);
    if (rc) return rc;
    create_ctx cc = {.d = d, .in = in};
    rc = hd_idents_parse(in, "", cc.ids, &cc.nids, err);
    if (rc) return rc;
    rc = hd_idem_write(d, im, create_cb, &cc, status, out, replayed, err);
    if (existing_id) *existing_id = cc.existing;
    return rc;
}

typedef struct get_ctx {
    int64_t id, moved_to;
    json_t *out;
} get_ctx;

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    get_ctx *g = vctx;
    int64_t s;
    hd_rc rc = hd_customer_follow(c, g->id, &s, err);
    if (rc) return rc;
    if (s != g->id) {
        g->moved_to = s;
        return hd_err_set(err, HD_EMOVED, "id", "customer %lld was merged into %lld",
                          (long long)g->id, (long long)s);
    }
    return hd_customer_load(c, g->id, &g->out, err);
}

hd_rc hd_customer_get(hd_domain *d, int64_t id, json_t **out, int64_t *moved_to, hd_err *err) {
    get_ctx g = {id, 0, NULL};
    hd_rc rc = hd_store_read(d->store, get_cb, &g, err);
    if (moved_to) *moved_to = g.moved_to;
    *out = g.out;
    return rc;
}

typedef struct patch_ctx {
    hd_domain *d;
    int64_t id, moved_to;
    const json_t *in;
    hd_ident ids[HD_IDENTS_MAX];
    int nids;
    json_t *out;
} patch_ctx;

static hd_rc load_json_col(hd_conn *c, const char *sql, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        size_t n;
        const char *t = hd_rows_text(r, 0, &n);
        *out = hd_json_load(t, n);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no customer %lld", (long long)id);
    return HD_OK;
}

static hd_rc patch_json_col(hd_conn *c, patch_ctx *pc, const char *field, int64_t now,
                            hd_err *err) {
    json_t *v = json_object_get(pc->in, field);
    if (!v || json_is_null(v)) return HD_OK;
    const char *sel, *upd;
    if (strcmp(field, "attributes") == 0) {
        sel = "SELECT attributes FROM customers WHERE id = ?";
        upd = "UPDATE customers SET attributes = ?, updated_at = ? WHERE id = ?";
    } else if (strcmp(field, "specs") == 0) {
        sel = "SELECT specs FROM customers WHERE id = ?";
        upd = "UPDATE customers SET specs = ?, updated_at = ? WHERE id = ?";
    } else {
        sel = "SELECT consent FROM customers WHERE id = ?";
        upd = "UPDATE customers SET consent = ?, updated_at = ? WHERE id = ?";
    }
    json_t *cur = NULL;
    hd_rc rc = load_json_col(c, sel, pc->id, &cur, err);
    if (rc) return rc;
    if (strcmp(field, "consent") == 0) {
        consent_merge(cur, v, pc->d->clock, now);
    } else if (strcmp(field, "specs") == 0) {
        /* per category, specs merge key by key */
        const char *cat;
        json_t *sv;
        json_object_foreach(v, cat, sv) {
            json_t *have = json_object_get(cur, cat);
            if (json_is_object(have))
                object_patch(have, sv);
            else
                json_object_set(cur, cat, sv);
        }
    } else {
        object_patch(cur, v);
    }
    char *s = hd_json_dump(cur);
    json_decref(cur);
    if (strlen(s) > HD_ATTRS_BYTES_MAX) {
        free(s);
        return hd_err_set(err, HD_ETOOBIG, field, "would grow past %d bytes", HD_ATTRS_BYTES_MAX);
    }
    hd_val p[3] = {hd_vtext(s), hd_vint(now), hd_vint(pc->id)};
    rc = hd_exec(c, upd, p, 3, NULL, err);
    free(s);
    return rc;
}

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    patch_ctx *pc = vctx;
    int64_t s;
    hd_rc rc = hd_customer_follow(c, pc->id, &s, err);
    if (rc) return rc;
    if (s != pc->id) {
        pc->moved_to = s;
        return hd_err_set(err, HD_EMOVED, "id", "customer %lld was merged into %lld",
                          (long long)pc->id, (long long)s);
    }
    int64_t now = hd_now(pc->d);
    const char *name = json_string_value(json_object_get(pc->in, "name"));
    if (name) {
        char norm[512];
        name_norm(name, norm, sizeof norm);
        hd_val p[4] = {hd_vtext(name), hd_vtext(norm), hd_vint(now), hd_vint(pc->id)};
        rc = hd_exec(c, "UPDATE customers SET name = ?, name_norm = ?, updated_at = ? WHERE id = ?",
                     p, 4, NULL, err);
        if (rc) return rc;
    }
    const char *city = json_string_value(json_object_get(pc->in, "city"));
    if (city) {
        hd_val p[3] = {hd_vtext(city), hd_vint(now), hd_vint(pc->id)};
        rc = hd_exec(c, "UPDATE customers SET city = ?, updated_at = ? WHERE id = ?", p, 3, NULL,
                     err);
        if (rc) return rc;
    }
    if ((rc = patch_json_col(c, pc, "attributes", now, err))) return rc;
    if ((rc = patch_json_col(c, pc, "specs", now, err))) return rc;
    if ((rc = patch_json_col(c, pc, "consent", now, err))) return rc;
    json_t *tags = json_object_get(pc->in, "tags");
    if (tags && json_is_array(tags)) {
        hd_val p = hd_vint(pc->id);
        if ((rc = hd_exec(c, "DELETE FROM customer_tags WHERE customer_id = ?", &p, 1, NULL, err)))
            return rc;
        if ((rc = insert_tags(c, pc->id, tags, err))) return rc;
    } else if (tags && json_is_object(tags)) {
        json_t *add = json_object_get(tags, "add"), *rem = json_object_get(tags, "remove");
        if (add && (rc = insert_tags(c, pc->id, add, err))) return rc;
        size_t i;
        json_t *t;
        if (rem) json_array_foreach(rem, i, t) {
                hd_val p[2] = {hd_vint(pc->id), hd_vtext(json_string_value(t))};
                rc = hd_exec(c, "DELETE FROM customer_tags WHERE customer_id = ? AND tag = ?", p, 2,
                             NULL, err);
                if (rc) return rc;
            }
    }
    for (int i = 0; i < pc->nids; i++) {
        int64_t owner;
        if ((rc = ident_owner(c, &pc->ids[i], &owner, err))) return rc;
        if (owner == pc->id) continue;
        if (owner) {
            const char *f =
                strncmp(pc->ids[i].type, "ext:", 4) == 0 ? "external_ids" : pc->ids[i].type;
            return hd_err_set(err, HD_ECONFLICT, f, "%s %s already belongs to customer %lld",
                              pc->ids[i].type, pc->ids[i].value, (long long)owner);
        }
        rc = hd__ident_insert(c, pc->id, &pc->ids[i], now, err);
        if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "identity raced");
        if (rc) return rc;
    }
    hd_val p[2] = {hd_vint(now), hd_vint(pc->id)};
    if ((rc = hd_exec(c, "UPDATE customers SET updated_at = ? WHERE id = ?", p, 2, NULL, err)))
        return rc;
    return hd_customer_load(c, pc->id, &pc->out, err);
}

hd_rc hd_customer_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, int64_t *moved_to,
                        hd_err *err) {
    hd_rc rc = check_fields(in, d->clock, err);
    if (rc) return rc;
    patch_ctx pc = {.d = d, .id = id, .in = in};
    if ((rc = hd_idents_parse(in, "", pc.ids, &pc.nids, err))) return rc;
    rc = hd_store_write(d->store, patch_cb, &pc, err);
    if (moved_to) *moved_to = pc.moved_to;
    if (rc) {
        json_decref(pc.out);
        return rc;
    }
    *out = pc.out;
    return HD_OK;
}
