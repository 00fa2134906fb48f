/* customers_merge.c - resolving identities to one customer, and merging two
 * customers when an event or import shows they are the same person. The
 * older customer survives; everything of the newer one is re-pointed; the
 * newer one's non-empty attributes win; tags are unioned; the merge is
 * recorded with a snapshot of the merged customer so it can be undone by hand. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers_int.h"

/* The live customer an identity belongs to, 0 for none. A merge re-points
 * the loser's identities, so the row's customer is nearly always live: one
 * statement reads both, and only a merged one is followed. */
static hd_rc owner_of(hd_conn *c, const hd_ident *i, int64_t *owner, hd_err *err) {
    hd_val p[2] = {hd_vtext(i->type), hd_vtext(i->value)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT i.customer_id, c.merged_into FROM identities i "
                        "LEFT JOIN customers c ON c.id = i.customer_id "
                        "WHERE i.kind = ? AND i.value = ?",
                        p, 2, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        *owner = 0;
        return got < 0 ? err->rc : HD_OK;
    }
    *owner = hd_rows_int(r, 0);
    bool merged = !hd_rows_isnull(r, 1);
    hd_rows_free(r);
    return merged ? hd_customer_follow(c, *owner, owner, err) : HD_OK;
}

static hd_rc merge_json(json_t *into, const json_t *from, bool nested) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)from, k, v) {
        if (json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0)) continue;
        json_t *have = json_object_get(into, k);
        if (nested && json_is_object(have) && json_is_object(v))
            merge_json(have, v, false);
        else
            json_object_set(into, k, v);
    }
    return HD_OK;
}

hd_rc hd_customer_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser,
                        const char *reason, hd_err *err) {
    if (survivor == loser) return HD_OK;
    json_t *s = NULL, *l = NULL;
    char *snap = NULL, *attrs = NULL, *consent = NULL, *specs = NULL;
    hd_rc rc = hd_customer_load(c, survivor, &s, err);
    if (!rc) rc = hd_customer_load(c, loser, &l, err);
    if (rc) goto done;
    snap = hd_json_dump(l);
    merge_json(json_object_get(s, "attributes"), json_object_get(l, "attributes"), false);
    merge_json(json_object_get(s, "consent"), json_object_get(l, "consent"), false);
    merge_json(json_object_get(s, "specs"), json_object_get(l, "specs"), true);
    attrs = hd_json_dump(json_object_get(s, "attributes"));
    consent = hd_json_dump(json_object_get(s, "consent"));
    specs = hd_json_dump(json_object_get(s, "specs"));
    int64_t now = hd_now(d);
    rc = hd_exec(c,
                 "UPDATE customers SET attributes = ?, consent = ?, specs = ?, updated_at = ? "
                 "WHERE id = ?",
                 (hd_val[]){hd_vtext(attrs), hd_vtext(consent), hd_vtext(specs), hd_vint(now),
                            hd_vint(survivor)},
                 5, NULL, err);
    if (rc) goto done;
    /* Read the loser's row once and apply in C: simplest portable form. */
    {
        hd_val p = hd_vint(loser);
        hd_rows *r;
        rc = hd_query(c,
                      "SELECT name, name_norm, city, orders, revenue, events, first_seen, "
                      "last_seen FROM customers WHERE id = ?",
                      &p, 1, &r, err);
        if (rc) goto done;
        if (hd_rows_next(r, err) != 1) {
            hd_rows_free(r);
            rc = hd_err_set(err, HD_ENOTFOUND, "id", "no customer %lld", (long long)loser);
            goto done;
        }
        char *name = strdup(hd_rows_text(r, 0, NULL));
        char *norm = strdup(hd_rows_text(r, 1, NULL));
        char *city = strdup(hd_rows_text(r, 2, NULL));
        int64_t orders = hd_rows_int(r, 3), revenue = hd_rows_int(r, 4), events = hd_rows_int(r, 5);
        bool has_first = !hd_rows_isnull(r, 6), has_last = !hd_rows_isnull(r, 7);
        int64_t first = hd_rows_int(r, 6), last = hd_rows_int(r, 7);
        hd_rows_free(r);
        rc = HD_OK;
        if (name[0]) {
            hd_val q[3] = {hd_vtext(name), hd_vtext(norm), hd_vint(survivor)};
            rc = hd_exec(c, "UPDATE customers SET name = ?, name_norm = ? WHERE id = ?", q, 3, NULL,
                         err);
        }
        if (!rc && city[0]) {
            hd_val q[2] = {hd_vtext(city), hd_vint(survivor)};
            rc = hd_exec(c, "UPDATE customers SET city = ? WHERE id = ?", q, 2, NULL, err);
        }
        free(name);
        free(norm);
        free(city);
        if (rc) goto done;
        hd_val q[8] = {hd_vint(orders),
                       hd_vint(revenue),
                       hd_vint(events),
                       has_first ? hd_vint(first) : hd_vnull(),
                       has_first ? hd_vint(first) : hd_vnull(),
                       has_last ? hd_vint(last) : hd_vnull(),
                       has_last ? hd_vint(last) : hd_vnull(),
                       hd_vint(survivor)};
        rc = hd_exec(c,
                     "UPDATE customers SET orders = orders + ?, revenue = revenue + ?, "
                     "events = events + ?, "
                     "first_seen = CASE WHEN first_seen IS NULL OR ? < first_seen THEN "
                     "COALESCE(?, first_seen) ELSE first_seen END, "
                     "last_seen = CASE WHEN last_seen IS NULL OR ? > last_seen THEN "
                     "COALESCE(?, last_seen) ELSE last_seen END "
                     "WHERE id = ?",
                     q, 8, NULL, err);
        if (rc) goto done;
    }
    static const char *const repoint[] = {
        "UPDATE identities SET customer_id = ? WHERE customer_id = ?",
        "UPDATE events SET customer_id = ? WHERE customer_id = ?",
        "UPDATE orders SET customer_id = ? WHERE customer_id = ?",
        "UPDATE order_lines SET customer_id = ? WHERE customer_id = ?",
        "INSERT INTO customer_tags (customer_id, tag) SELECT ?, tag FROM customer_tags WHERE "
        "customer_id = ? ON CONFLICT DO NOTHING",
        NULL};
    for (const char *const *sql = repoint; *sql; sql++) {
        hd_val q[2] = {hd_vint(survivor), hd_vint(loser)};
        if ((rc = hd_exec(c, *sql, q, 2, NULL, err))) goto done;
    }
    {
        hd_val q[3] = {hd_vint(survivor), hd_vint(now), hd_vint(loser)};
        rc = hd_exec(c, "DELETE FROM customer_tags WHERE customer_id = ?", q + 2, 1, NULL, err);
        if (!rc)
            rc = hd_exec(c,
                         "UPDATE customers SET merged_into = ?, updated_at = ?, orders = 0, "
                         "revenue = 0, events = 0 WHERE id = ?",
                         q, 3, NULL, err);
        if (rc) goto done;
    }
    for (int i = 0; i < d->nmerge_hooks; i++)
        if ((rc = d->merge_hooks[i].fn(c, d, survivor, loser, d->merge_hooks[i].arg, err)))
            goto done;
    {
        hd_val q[6] = {hd_vint(hd_id_next(d->ids)),
                       hd_vint(survivor),
                       hd_vint(loser),
                       hd_vtext(reason),
                       hd_vtext(snap),
                       hd_vint(now)};
        rc = hd_exec(c,
                     "INSERT INTO merges (id, survivor_id, merged_id, reason, snapshot, at) VALUES "
                     "(?, ?, ?, ?, ?, ?)",
                     q, 6, NULL, err);
    }
done:
    json_decref(s);
    json_decref(l);
    free(snap);
    free(attrs);
    free(consent);
    free(specs);
    return rc;
}

hd_rc hd_customer_resolve(hd_conn *c, hd_domain *d, const hd_ident *ids, int n,
                          const json_t *fields, int64_t *customer_id, bool *created, hd_err *err) {
    int64_t owners[HD_IDENTS_MAX];
    int64_t survivor = 0;
    *created = false;
    for (int i = 0; i < n; i++) {
        hd_rc rc = owner_of(c, &ids[i], &owners[i], err);
        if (rc) return rc;
        if (owners[i] && (!survivor || owners[i] < survivor)) survivor = owners[i];
    }
    int64_t now = hd_now(d);
    hd_rc rc;
    if (!survivor) {
        survivor = hd_id_next(d->ids);
        if ((rc = hd__customer_insert(c, d, survivor, fields, err))) return rc;
        *created = true;
    }
    for (int i = 0; i < n; i++) {
        if (owners[i] && owners[i] != survivor) {
            /* two customers named by one event: they are the same person */
            char reason[600];
            snprintf(reason, sizeof reason, "%s %s belonged to customer %lld", ids[i].type,
                     ids[i].value, (long long)owners[i]);
            int64_t loser = owners[i];
            if ((rc = hd_customer_merge(c, d, survivor, loser, reason, err))) return rc;
            for (int j = i; j < n; j++)
                if (owners[j] == loser) owners[j] = survivor;
        } else if (!owners[i]) {
            rc = hd__ident_insert(c, survivor, &ids[i], now, err);
            /* identities are distinct within a request, so a conflict means
             * another node took this one since we looked: retry the whole
             * transaction, which will then see the owner and merge */
            if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "identity raced");
            if (rc) return rc;
            owners[i] = survivor;
        }
    }
    *customer_id = survivor;
    return HD_OK;
}

hd_rc hd_customer_attach(hd_conn *c, hd_domain *d, int64_t id, const hd_ident *ids, int n,
                         int64_t *survivor, hd_err *err) {
    int64_t live = id;
    int64_t now = hd_now(d);
    for (int i = 0; i < n; i++) {
        int64_t owner;
        hd_rc rc = owner_of(c, &ids[i], &owner, err);
        if (rc) return rc;
        if (owner == live) continue;
        if (!owner) {
            rc = hd__ident_insert(c, live, &ids[i], now, err);
            if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "identity raced");
            if (rc) return rc;
            continue;
        }
        char reason[600];
        snprintf(reason, sizeof reason, "%s %s belonged to customer %lld, named with customer %lld",
                 ids[i].type, ids[i].value, (long long)owner, (long long)live);
        int64_t s = owner < live ? owner : live, l = owner < live ? live : owner;
        if ((rc = hd_customer_merge(c, d, s, l, reason, err))) return rc;
        live = s;
    }
    *survivor = live;
    return HD_OK;
}
