/* customers_query.c - reading customers: search, duplicates, timeline, the
 * privacy export; and erasure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers_int.h"
#include "text/text.h"

/* ---- search ---- */

typedef struct search_ctx {
    const hd_customer_query *q;
    char phone[20], email[255], prefix[512];
    json_t *data;
    int64_t last;
} search_ctx;

static hd_rc collect_ids(hd_conn *c, search_ctx *sc, const char *sql, hd_val *p, int np,
                         hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, p, np, &r, err);
    if (rc) return rc;
    int64_t ids[HD_PAGE_MAX + 1];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < HD_PAGE_MAX + 1) ids[n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    int limit = sc->q->limit;
    for (int i = 0; i < n && i < limit; i++) {
        json_t *o;
        if ((rc = hd_customer_load(c, ids[i], &o, err))) return rc;
        json_array_append_new(sc->data, o);
        sc->last = ids[i];
    }
    if (n <= limit) sc->last = 0; /* no more pages */
    return HD_OK;
}

static hd_rc search_cb(hd_conn *c, void *vctx, hd_err *err) {
    search_ctx *sc = vctx;
    const hd_customer_query *q = sc->q;
    int64_t cur = q->cursor ? q->cursor : INT64_MAX;
    hd_val lim = hd_vint(q->limit + 1);
    if (q->phone || q->email) {
        hd_val p[4] = {hd_vtext(q->phone ? "phone" : "email"),
                       hd_vtext(q->phone ? sc->phone : sc->email), hd_vint(cur), lim};
        return collect_ids(c, sc,
                           "SELECT c.id FROM identities i JOIN customers c ON c.id = i.customer_id "
                           "WHERE i.kind = ? AND i.value = ? AND c.id < ? ORDER BY c.id DESC "
                           "LIMIT ?",
                           p, 4, err);
    }
    if (q->tag) {
        hd_val p[3] = {hd_vtext(q->tag), hd_vint(cur), lim};
        return collect_ids(
            c, sc,
            "SELECT customer_id FROM customer_tags WHERE tag = ? AND customer_id < ? "
            "ORDER BY customer_id DESC LIMIT ?",
            p, 3, err);
    }
    if (q->q) {
        /* a name prefix, an exact identity value, or a tag */
        size_t n = strlen(sc->prefix);
        char hi[520];
        snprintf(hi, sizeof hi, "%s\xf4\x8f\xbf\xbf", sc->prefix);
        (void)n;
        hd_val p[8] = {hd_vtext(sc->prefix),
                       hd_vtext(hi),
                       hd_vtext(q->q),
                       hd_vtext(sc->phone[0] ? sc->phone : q->q),
                       hd_vtext(sc->email[0] ? sc->email : q->q),
                       hd_vtext(q->q),
                       hd_vint(cur),
                       lim};
        return collect_ids(c, sc,
                           "SELECT id FROM customers WHERE merged_into IS NULL AND ("
                           "(name_norm >= ? AND name_norm < ?) "
                           "OR id IN (SELECT customer_id FROM identities WHERE value IN (?, ?, ?)) "
                           "OR id IN (SELECT customer_id FROM customer_tags WHERE tag = ?)) "
                           "AND id < ? ORDER BY id DESC LIMIT ?",
                           p, 8, err);
    }
    hd_val p[2] = {hd_vint(cur), lim};
    return collect_ids(c, sc,
                       "SELECT id FROM customers WHERE merged_into IS NULL AND erased_at IS NULL "
                       "AND id < ? ORDER BY id DESC LIMIT ?",
                       p, 2, err);
}

hd_rc hd_customer_search(hd_domain *d, const hd_customer_query *q, json_t **out, hd_err *err) {
    hd_customer_query qq = *q;
    if (qq.limit <= 0) qq.limit = 50;
    if (qq.limit > HD_PAGE_MAX)
        return hd_err_set(err, HD_EINVAL, "limit", "must be 1 to %d", HD_PAGE_MAX);
    search_ctx sc = {.q = &qq};
    hd_err ignore;
    if (qq.phone && hd_phone_normalize(qq.phone, sc.phone, err)) return HD_EINVAL;
    if (qq.email && hd_email_normalize(qq.email, sc.email, err)) return HD_EINVAL;
    if (qq.q) {
        if (strlen(qq.q) > 200) return hd_err_set(err, HD_EINVAL, "q", "is longer than 200 bytes");
        /* q may itself be a phone or an e-mail */
        if (hd_phone_normalize(qq.q, sc.phone, &ignore)) sc.phone[0] = '\0';
        if (hd_email_normalize(qq.q, sc.email, &ignore)) sc.email[0] = '\0';
        char folded[512];
        size_t n = hd_text_fold_width(qq.q, strlen(qq.q), folded);
        size_t o = 0;
        for (size_t i = 0; i < n && o + 1 < sizeof sc.prefix; i++)
            sc.prefix[o++] =
                (char)((folded[i] >= 'A' && folded[i] <= 'Z') ? folded[i] + 32 : folded[i]);
        sc.prefix[o] = '\0';
    }
    sc.data = json_array();
    hd_rc rc = hd_store_read(d->store, search_cb, &sc, err);
    if (rc) {
        json_decref(sc.data);
        return rc;
    }
    json_t *o = json_object();
    json_object_set_new(o, "data", sc.data);
    if (sc.last)
        hd_json_set_id(o, "next_cursor", sc.last);
    else
        json_object_set_new(o, "next_cursor", json_null());
    *out = o;
    return HD_OK;
}

/* ---- duplicates ---- */

typedef struct dup_ctx {
    int limit;
    json_t *data;
} dup_ctx;

static void dup_add(json_t *data, json_t *ids, const char *reason) {
    json_t *e = json_object();
    json_object_set_new(e, "customers", ids);
    json_object_set_new(e, "reason", json_string(reason));
    json_array_append_new(data, e);
}

/* Groups consecutive rows of (key, id) with the same key. */
static hd_rc dup_groups(hd_conn *c, dup_ctx *dc, const char *sql, const char *why, hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, NULL, 0, &r, err);
    if (rc) return rc;
    char key[600] = "";
    json_t *ids = NULL;
    char reason[700];
    int got;
    while ((got = hd_rows_next(r, err)) == 1 && (int)json_array_size(dc->data) < dc->limit) {
        const char *k = hd_rows_text(r, 0, NULL);
        int64_t id = hd_rows_int(r, 1);
        if (!ids || strcmp(k, key) != 0) {
            if (ids && json_array_size(ids) > 1)
                dup_add(dc->data, ids, reason);
            else
                json_decref(ids);
            ids = json_array();
            snprintf(key, sizeof key, "%s", k);
            snprintf(reason, sizeof reason, "%s: %s", why, k);
        }
        char s[24];
        hd_id_format(id, s);
        json_array_append_new(ids, json_string(s));
    }
    if (ids && json_array_size(ids) > 1 && (int)json_array_size(dc->data) < dc->limit)
        dup_add(dc->data, ids, reason);
    else
        json_decref(ids);
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

typedef struct match_key {
    char key[256];
    int64_t id;
    bool phone;
} match_key;

static int cmp_key(const void *a, const void *b) {
    const match_key *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return (x->id > y->id) - (x->id < y->id);
}

/* A phone's match key is its last 8 digits (a typo'd prefix or a different
 * country code); an e-mail's drops dots and any +tag from the local part. */
static void email_key(const char *v, char *out, size_t cap) {
    const char *at = strchr(v, '@');
    size_t o = 0;
    for (const char *p = v; *p && p != at && *p != '+' && o + 1 < cap; p++)
        if (*p != '.') out[o++] = *p;
    for (const char *p = at ? at : ""; *p && o + 1 < cap; p++) out[o++] = *p;
    out[o] = '\0';
}

#define DUP_SCAN_MAX 2000000 /* identities scanned for the hygiene report */

static hd_rc ident_groups(hd_conn *c, dup_ctx *dc, hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT kind, value, customer_id FROM identities WHERE kind IN ('phone', "
                        "'email')",
                        NULL, 0, &r, err);
    if (rc) return rc;
    size_t n = 0, cap = 1024;
    match_key *keys = malloc(cap * sizeof *keys);
    int got;
    while (keys && (got = hd_rows_next(r, err)) == 1 && n < DUP_SCAN_MAX) {
        if (n == cap) {
            match_key *nk = realloc(keys, 2 * cap * sizeof *keys);
            if (!nk) break;
            keys = nk;
            cap *= 2;
        }
        const char *kind = hd_rows_text(r, 0, NULL), *v = hd_rows_text(r, 1, NULL);
        match_key *k = &keys[n++];
        k->phone = kind[0] == 'p';
        k->id = hd_rows_int(r, 2);
        if (k->phone) {
            size_t L = strlen(v);
            snprintf(k->key, sizeof k->key, "p:%s", L > 8 ? v + L - 8 : v);
        } else {
            char e[250];
            email_key(v, e, sizeof e);
            snprintf(k->key, sizeof k->key, "e:%s", e);
        }
    }
    hd_rows_free(r);
    if (!keys) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    qsort(keys, n, sizeof *keys, cmp_key);
    for (size_t i = 0; i < n && (int)json_array_size(dc->data) < dc->limit;) {
        size_t j = i + 1;
        while (j < n && strcmp(keys[j].key, keys[i].key) == 0) j++;
        json_t *ids = json_array();
        int64_t prev = 0;
        for (size_t k = i; k < j; k++) {
            if (keys[k].id == prev) continue;
            prev = keys[k].id;
            char s[24];
            hd_id_format(keys[k].id, s);
            json_array_append_new(ids, json_string(s));
        }
        if (json_array_size(ids) > 1) {
            char reason[300];
            snprintf(reason, sizeof reason, "%s: %s",
                     keys[i].phone ? "phones ending in the same 8 digits"
                                   : "e-mails equal but for dots or a +tag",
                     keys[i].key + 2);
            dup_add(dc->data, ids, reason);
        } else {
            json_decref(ids);
        }
        i = j;
    }
    free(keys);
    return HD_OK;
}

static hd_rc dup_cb(hd_conn *c, void *vctx, hd_err *err) {
    dup_ctx *dc = vctx;
    hd_rc rc = dup_groups(c, dc,
                          "SELECT name_norm || ' / ' || city, id FROM customers WHERE merged_into "
                          "IS NULL AND erased_at IS NULL AND name_norm <> '' AND city <> '' AND "
                          "(name_norm, city) IN (SELECT name_norm, city FROM customers WHERE "
                          "merged_into IS NULL AND erased_at IS NULL AND name_norm <> '' GROUP BY "
                          "name_norm, city HAVING count(*) > 1) ORDER BY 1, 2",
                          "same name and city", err);
    if (rc) return rc;
    return ident_groups(c, dc, err);
}

hd_rc hd_customer_duplicates(hd_domain *d, int limit, json_t **out, hd_err *err) {
    dup_ctx dc = {limit > 0 && limit <= HD_PAGE_MAX ? limit : 100, json_array()};
    hd_rc rc = hd_store_read(d->store, dup_cb, &dc, err);
    if (rc) {
        json_decref(dc.data);
        return rc;
    }
    *out = json_object();
    json_object_set_new(*out, "data", dc.data);
    return HD_OK;
}

/* ---- timeline and export ---- */

static json_t *event_row(hd_rows *r) {
    /* columns: id, type, touchpoint, occurred_at, properties, ev_key */
    json_t *e = json_object();
    hd_json_set_id(e, "id", hd_rows_int(r, 0));
    json_object_set_new(e, "type", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(e, "touchpoint", json_string(hd_rows_text(r, 2, NULL)));
    hd_json_set_time(e, "occurred_at", hd_rows_int(r, 3), true);
    size_t n;
    const char *t = hd_rows_text(r, 4, &n);
    json_object_set_new(e, "properties", hd_json_load(t, n));
    if (!hd_rows_isnull(r, 5)) json_object_set_new(e, "key", json_string(hd_rows_text(r, 5, NULL)));
    return e;
}

typedef struct tl_ctx {
    int64_t id, cursor_at, cursor_id;
    int limit;
    json_t *data;
    int64_t next_at, next_id;
    bool export_all;
    json_t *export;
} tl_ctx;

static hd_rc timeline_cb(hd_conn *c, void *vctx, hd_err *err) {
    tl_ctx *t = vctx;
    int64_t s;
    hd_rc rc = hd_customer_follow(c, t->id, &s, err);
    if (rc) return rc;
    t->id = s;
    /* keyset paging on (occurred_at, id), newest first */
    hd_val p[5] = {hd_vint(s), hd_vint(t->cursor_at), hd_vint(t->cursor_at), hd_vint(t->cursor_id),
                   hd_vint(t->limit + 1)};
    hd_rows *r;
    rc = hd_query(c,
                  "SELECT id, type, touchpoint, occurred_at, properties, ev_key FROM events WHERE "
                  "customer_id = ? AND (occurred_at < ? OR (occurred_at = ? AND id < ?)) ORDER BY "
                  "occurred_at DESC, id DESC LIMIT ?",
                  p, 5, &r, err);
    if (rc) return rc;
    int n = 0, got;
    t->next_at = t->next_id = 0;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (n == t->limit) {
            t->next_at = hd_rows_int(r, 3);
            t->next_id = hd_rows_int(r, 0) + 1; /* exclusive bound: include this row next */
            break;
        }
        json_array_append_new(t->data, event_row(r));
        n++;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_customer_timeline(hd_domain *d, int64_t id, const char *cursor, int limit, json_t **out,
                           hd_err *err) {
    if (limit <= 0) limit = 50;
    if (limit > HD_PAGE_MAX)
        return hd_err_set(err, HD_EINVAL, "limit", "must be 1 to %d", HD_PAGE_MAX);
    tl_ctx t = {.id = id, .limit = limit, .data = json_array()};
    t.cursor_at = INT64_MAX;
    t.cursor_id = INT64_MAX;
    if (cursor && *cursor) {
        /* an opaque "occurred_at.id" pair from the previous page */
        long long at, cid;
        char extra;
        if (sscanf(cursor, "%lld.%lld%c", &at, &cid, &extra) != 2) {
            json_decref(t.data);
            return hd_err_set(err, HD_EINVAL, "cursor", "is not a cursor this API returned");
        }
        t.cursor_at = at;
        t.cursor_id = cid;
    }
    hd_rc rc = hd_store_read(d->store, timeline_cb, &t, err);
    if (rc) {
        json_decref(t.data);
        return rc;
    }
    json_t *o = json_object();
    json_object_set_new(o, "data", t.data);
    json_object_set_new(o, "next_cursor", json_null());
    if (t.next_at) {
        char s[64];
        snprintf(s, sizeof s, "%lld.%lld", (long long)t.next_at, (long long)t.next_id);
        json_object_set_new(o, "next_cursor", json_string(s));
    }
    *out = o;
    return HD_OK;
}

static hd_rc export_cb(hd_conn *c, void *vctx, hd_err *err) {
    tl_ctx *t = vctx;
    int64_t s;
    hd_rc rc = hd_customer_follow(c, t->id, &s, err);
    if (rc) return rc;
    json_t *cust;
    if ((rc = hd_customer_load(c, s, &cust, err))) return rc;
    json_object_set_new(t->export, "customer", cust);
    hd_val p = hd_vint(s);
    hd_rows *r;
    int got;
    json_t *events = json_array();
    json_object_set_new(t->export, "events", events);
    rc = hd_query(c,
                  "SELECT id, type, touchpoint, occurred_at, properties, ev_key FROM events WHERE "
                  "customer_id = ? ORDER BY occurred_at, id",
                  &p, 1, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(events, event_row(r));
    hd_rows_free(r);
    if (got < 0) return err->rc;
    json_t *orders = json_array();
    json_object_set_new(t->export, "orders", orders);
    rc = hd_query(c,
                  "SELECT order_id, amount, touchpoint, occurred_at, refunded_at FROM orders WHERE "
                  "customer_id = ? ORDER BY occurred_at",
                  &p, 1, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *o = json_object();
        json_object_set_new(o, "order_id", json_string(hd_rows_text(r, 0, NULL)));
        json_object_set_new(o, "amount", json_integer(hd_rows_int(r, 1)));
        json_object_set_new(o, "touchpoint", json_string(hd_rows_text(r, 2, NULL)));
        hd_json_set_time(o, "occurred_at", hd_rows_int(r, 3), true);
        hd_json_set_time(o, "refunded_at", hd_rows_int(r, 4), !hd_rows_isnull(r, 4));
        json_array_append_new(orders, o);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    json_t *merges = json_array();
    json_object_set_new(t->export, "merges", merges);
    rc = hd_query(c, "SELECT merged_id, reason, at FROM merges WHERE survivor_id = ? ORDER BY at",
                  &p, 1, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *o = json_object();
        hd_json_set_id(o, "merged_id", hd_rows_int(r, 0));
        json_object_set_new(o, "reason", json_string(hd_rows_text(r, 1, NULL)));
        hd_json_set_time(o, "at", hd_rows_int(r, 2), true);
        json_array_append_new(merges, o);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_customer_export(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    tl_ctx t = {.id = id, .export = json_object()};
    hd_rc rc = hd_store_read(d->store, export_cb, &t, err);
    if (rc) {
        json_decref(t.export);
        return rc;
    }
    json_object_set_new(t.export, "format", json_string("hudong.customer-export.v1"));
    *out = t.export;
    return HD_OK;
}

typedef struct erase_ctx {
    hd_domain *d;
    int64_t id;
} erase_ctx;

static hd_rc erase_cb(hd_conn *c, void *vctx, hd_err *err) {
    erase_ctx *ec = vctx;
    int64_t s;
    hd_rc rc = hd_customer_follow(c, ec->id, &s, err);
    if (rc) return rc;
    /* personal data goes; amounts, counts and times stay so totals stay true.
     * Event properties may hold anything personal, so they are emptied, except
     * what an order needs to stay an order (its id and amount). */
    static const char *const sqls[] = {
        "DELETE FROM identities WHERE customer_id = ?",
        "DELETE FROM customer_tags WHERE customer_id = ?",
        "UPDATE events SET properties = '{}' WHERE customer_id = ? AND type NOT IN ('order.paid', "
        "'order.refunded')",
        "UPDATE merges SET snapshot = '{}' WHERE survivor_id = ?", NULL};
    hd_val p = hd_vint(s);
    for (const char *const *q = sqls; *q; q++)
        if ((rc = hd_exec(c, *q, &p, 1, NULL, err))) return rc;
    hd_val pu[3] = {hd_vint(hd_now(ec->d)), hd_vint(hd_now(ec->d)), hd_vint(s)};
    return hd_exec(c,
                   "UPDATE customers SET name = '', name_norm = '', city = '', attributes = '{}', "
                   "consent = '{}', specs = '{}', erased_at = ?, updated_at = ? WHERE id = ?",
                   pu, 3, NULL, err);
}

hd_rc hd_customer_erase(hd_domain *d, int64_t id, hd_err *err) {
    erase_ctx ec = {d, id};
    return hd_store_write(d->store, erase_cb, &ec, err);
}
