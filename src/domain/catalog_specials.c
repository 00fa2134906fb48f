/* catalog_specials.c - monthly specials (月度特惠): a discounted points price
 * for a reward within a window, with its own quantity (separate from the
 * reward's stock), a per-customer limit and an eligibility condition. At
 * ordering the lowest price that applies wins; the special's quantity and
 * the customer's allowance are taken by conditional UPDATEs in the order's
 * transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog_int.h"
#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"
#include "expr/expr.h"

#define SPECIAL_COLS                                                                               \
    "SELECT s.id, s.reward_id, s.title_zh, s.title_en, s.points, s.starts_at, s.ends_at, "         \
    "s.quantity, s.sold, s.per_customer, s.eligibility, s.tier_access, s.active, s.created_at, "   \
    "s.updated_at, r.price_points, r.name_zh, r.name_en FROM specials s JOIN rewards r ON r.id = " \
    "s.reward_id "

typedef struct special {
    int64_t id, reward_id, points, starts_at, ends_at;
    bool has_quantity, has_per_customer, tier_access, active;
    int64_t quantity, sold, per_customer;
    char *eligibility; /* owned: free with special_free */
} special;

static void special_free(special *s) {
    free(s->eligibility);
    s->eligibility = NULL;
}

static void special_read(hd_rows *r, special *s) {
    s->id = hd_rows_int(r, 0);
    s->reward_id = hd_rows_int(r, 1);
    s->points = hd_rows_int(r, 4);
    s->starts_at = hd_rows_int(r, 5);
    s->ends_at = hd_rows_int(r, 6);
    s->has_quantity = !hd_rows_isnull(r, 7);
    s->quantity = hd_rows_int(r, 7);
    s->sold = hd_rows_int(r, 8);
    s->has_per_customer = !hd_rows_isnull(r, 9);
    s->per_customer = hd_rows_int(r, 9);
    s->eligibility = strdup(hd_rows_text(r, 10, NULL));
    s->tier_access = hd_rows_int(r, 11) != 0;
    s->active = hd_rows_int(r, 12) != 0;
}

static const char *special_status(const special *s, int64_t now) {
    if (!s->active) return "inactive";
    if (now < s->starts_at) return "scheduled";
    if (now >= s->ends_at) return "ended";
    if (s->has_quantity && s->sold >= s->quantity) return "sold_out";
    return "running";
}

static json_t *special_json(hd_rows *r, int64_t now) {
    special s;
    special_read(r, &s);
    special_free(&s);
    json_t *o = json_object();
    hd_json_set_id(o, "id", s.id);
    hd_json_set_id(o, "reward_id", s.reward_id);
    json_object_set_new(o, "title", cat_names(hd_rows_text(r, 2, NULL), hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "reward_name",
                        cat_names(hd_rows_text(r, 16, NULL), hd_rows_text(r, 17, NULL)));
    json_object_set_new(o, "points", json_integer(s.points));
    json_object_set_new(o, "regular_points", json_integer(hd_rows_int(r, 15)));
    hd_json_set_time(o, "starts_at", s.starts_at, true);
    hd_json_set_time(o, "ends_at", s.ends_at, true);
    json_object_set_new(o, "quantity", cat_opt_int(r, 7));
    json_object_set_new(o, "sold", json_integer(s.sold));
    json_object_set_new(o, "remaining",
                        s.has_quantity ? json_integer(s.quantity > s.sold ? s.quantity - s.sold : 0)
                                       : json_null());
    json_object_set_new(o, "per_customer", cat_opt_int(r, 9));
    json_object_set_new(o, "eligibility", json_string(hd_rows_text(r, 10, NULL)));
    json_object_set_new(o, "tier_access", json_boolean(s.tier_access));
    json_object_set_new(o, "active", json_boolean(s.active));
    json_object_set_new(o, "status", json_string(special_status(&s, now)));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 13), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 14), true);
    return o;
}

static hd_rc special_load(hd_conn *c, int64_t id, int64_t now, json_t **out, special *raw,
                          hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, SPECIAL_COLS "WHERE s.id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        if (out) *out = special_json(r, now);
        if (raw) special_read(r, raw);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no special %lld", (long long)id);
    return HD_OK;
}

/* ---- applying at ordering ---- */

/* Tries one special for qty units: *applied, or (strict) the reason it
 * cannot apply as an error. Leaves nothing taken when it does not apply. */
static hd_rc try_special(hd_conn *c, hd_domain *d, const special *s, int64_t cid, int qty,
                         bool strict, bool *applied, hd_err *err) {
    *applied = false;
    int64_t now = hd_now(d);
    hd_rc rc;
    if (!s->active || now < s->starts_at || now >= s->ends_at) {
        if (!strict) return HD_OK;
        char t[32];
        hd_time_format(now < s->starts_at ? s->starts_at : s->ends_at, t);
        if (!s->active)
            return hd_err_set(err, HD_ESTATE, "active", "special %lld is not active",
                              (long long)s->id);
        return hd_err_set(err, HD_ESTATE, "window", "special %lld %s %s", (long long)s->id,
                          now < s->starts_at ? "starts at" : "ended at", t);
    }
    if (s->has_quantity && s->sold + qty > s->quantity) {
        if (!strict) return HD_OK;
        return hd_err_set(err, HD_ESTATE, "quantity",
                          "special %lld is sold out: %lld left, %d wanted", (long long)s->id,
                          (long long)(s->quantity > s->sold ? s->quantity - s->sold : 0), qty);
    }
    if (s->tier_access) {
        hd_tier_info ti;
        if ((rc = hd_tier_of_in(c, cid, &ti, err))) return rc;
        if (!ti.has || !ti.access_specials) {
            if (!strict) return HD_OK;
            return hd_err_set(err, HD_EFORBIDDEN, "tier",
                              "not eligible: special %lld is for tiers with access to specials",
                              (long long)s->id);
        }
    }
    bool ok = false;
    if ((rc = hd_catalog_eligible_in(c, d, cid, s->eligibility, &ok, err))) return rc;
    if (!ok) {
        if (!strict) return HD_OK;
        return hd_err_set(err, HD_EFORBIDDEN, "eligibility",
                          "not eligible: the customer does not meet special %lld's condition %s",
                          (long long)s->id, s->eligibility);
    }
    if ((rc = cat_usage_take(c, cid, "special", s->id, "ever", qty,
                             s->has_per_customer ? s->per_customer : -1, &ok, err)))
        return rc;
    if (!ok) {
        if (!strict) return HD_OK;
        return hd_err_set(err, HD_ESTATE, "limit",
                          "limit reached: special %lld allows %lld per customer", (long long)s->id,
                          (long long)s->per_customer);
    }
    int64_t n = 0;
    hd_val p[3] = {hd_vint(qty), hd_vint(s->id), hd_vint(qty)};
    if ((rc = hd_exec(c,
                      "UPDATE specials SET sold = sold + ? WHERE id = ? AND (quantity IS NULL OR "
                      "sold + ? <= quantity)",
                      p, 3, &n, err)))
        return rc;
    if (n == 0) {
        /* sold out since we looked: give the allowance back */
        if ((rc = cat_usage_release(c, cid, "special", s->id, "ever", qty, err))) return rc;
        if (!strict) return HD_OK;
        return hd_err_set(err, HD_ESTATE, "quantity", "special %lld is sold out", (long long)s->id);
    }
    *applied = true;
    return HD_OK;
}

hd_rc cat_special_apply(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t reward_id,
                        int64_t regular_points, int qty, int64_t forced_id, int64_t *special_id,
                        int64_t *unit_points, hd_err *err) {
    *special_id = 0;
    *unit_points = regular_points;
    special s;
    hd_rc rc;
    bool applied;
    if (forced_id) {
        rc = special_load(c, forced_id, 0, NULL, &s, err);
        if (rc == HD_ENOTFOUND)
            return hd_err_set(err, HD_EINVAL, "special_id", "no special %lld",
                              (long long)forced_id);
        if (rc) return rc;
        if (s.reward_id != reward_id)
            rc = hd_err_set(err, HD_EINVAL, "special_id", "special %lld is for reward %lld",
                            (long long)forced_id, (long long)s.reward_id);
        else
            rc = try_special(c, d, &s, customer_id, qty, true, &applied, err);
        special_free(&s);
        if (rc) return rc;
        *special_id = s.id;
        *unit_points = s.points;
        return HD_OK;
    }
    int64_t now = hd_now(d);
    hd_val p[3] = {hd_vint(reward_id), hd_vint(now), hd_vint(regular_points)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       SPECIAL_COLS "WHERE s.reward_id = ?1 AND s.active = 1 AND s.starts_at <= "
                                    "?2 AND s.ends_at > ?2 AND s.points < ?3 ORDER BY s.points, "
                                    "s.id LIMIT 20",
                       p, 3, &r, err)))
        return rc;
    special cand[20];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < 20) special_read(r, &cand[n++]);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    rc = HD_OK;
    for (int i = 0; i < n && !rc; i++) {
        rc = try_special(c, d, &cand[i], customer_id, qty, false, &applied, err);
        if (!rc && applied) {
            *special_id = cand[i].id;
            *unit_points = cand[i].points;
            break;
        }
    }
    for (int i = 0; i < n; i++) special_free(&cand[i]);
    return rc;
}

hd_rc cat_special_release(hd_conn *c, int64_t special_id, int64_t customer_id, int qty,
                          hd_err *err) {
    hd_val p[2] = {hd_vint(qty), hd_vint(special_id)};
    hd_rc rc = hd_exec(c,
                       "UPDATE specials SET sold = CASE WHEN sold > ?1 THEN sold - ?1 ELSE 0 END "
                       "WHERE id = ?2",
                       p, 2, NULL, err);
    if (rc) return rc;
    return cat_usage_release(c, customer_id, "special", special_id, "ever", qty, err);
}

/* ---- the API ---- */

static const char *const SPECIAL_FIELDS[] = {
    "reward_id",    "title",       "points",      "starts_at", "ends_at", "quantity",
    "per_customer", "eligibility", "tier_access", "active",    NULL};

static hd_rc check_special(const json_t *in, const hd_clock *cal, bool create, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, SPECIAL_FIELDS, "a special", err);
    if (rc) return rc;
    bool present, is_null;
    int64_t v;
    if ((rc = hd_json_int(in, "reward_id", &present, &v, err))) return rc;
    if (create && !present) return hd_err_set(err, HD_EINVAL, "reward_id", "is required");
    if (!create && present)
        return hd_err_set(err, HD_EINVAL, "reward_id", "cannot change; create another special");
    const char *zh, *en, *el;
    if ((rc = cat_parse_names(in, "title", false, CAT_NAME_MAX, &zh, &en, err))) return rc;
    json_t *pts = json_object_get(in, "points");
    if ((pts || create) && (!json_is_integer(pts) || json_integer_value(pts) < 0 ||
                            json_integer_value(pts) > HD_AMOUNT_MAX))
        return hd_err_set(err, HD_EINVAL, "points", "is required: the special's price in points");
    int64_t s = 0, e = 0;
    bool has_s, has_e;
    if ((rc = hd_json_time(in, "starts_at", cal, &has_s, &s, err))) return rc;
    if ((rc = hd_json_time(in, "ends_at", cal, &has_e, &e, err))) return rc;
    if (create && !has_s) return hd_err_set(err, HD_EINVAL, "starts_at", "is required");
    if (create && !has_e) return hd_err_set(err, HD_EINVAL, "ends_at", "is required");
    if ((json_object_get(in, "starts_at") && !has_s) || (json_object_get(in, "ends_at") && !has_e))
        return hd_err_set(err, HD_EINVAL, has_s ? "ends_at" : "starts_at",
                          "a special's window cannot be open-ended");
    if ((rc = cat_json_nint(in, "quantity", 1, HD_AMOUNT_MAX, &present, &is_null, &v, err)))
        return rc;
    if ((rc = cat_json_nint(in, "per_customer", 1, 1000000, &present, &is_null, &v, err)))
        return rc;
    if ((rc = hd_json_str(in, "eligibility", HD_EXPR_SRC_MAX, &el, err))) return rc;
    if (el && (rc = hd_catalog_check_expr(el, "eligibility", err))) return rc;
    json_t *b = json_object_get(in, "tier_access");
    if (b && !json_is_boolean(b))
        return hd_err_set(err, HD_EINVAL, "tier_access", "must be true or false");
    if ((b = json_object_get(in, "active")) && !json_is_boolean(b))
        return hd_err_set(err, HD_EINVAL, "active", "must be true or false");
    return HD_OK;
}

/* Writes the merged special (input shape) to row id. */
static hd_rc special_save(hd_conn *c, hd_domain *d, int64_t id, const json_t *sp, bool insert,
                          hd_err *err) {
    int64_t rid = 0, s = 0, e = 0;
    bool present;
    hd_json_int(sp, "reward_id", &present, &rid, NULL);
    hd_json_time(sp, "starts_at", d->clock, &present, &s, NULL);
    hd_json_time(sp, "ends_at", d->clock, &present, &e, NULL);
    if (e <= s) return hd_err_set(err, HD_EINVAL, "ends_at", "must be after starts_at");
    cat_reward r;
    hd_rc rc = cat_reward_load(c, rid, "reward_id", &r, err);
    if (rc) return rc;
    int64_t regular = r.price_points;
    cat_reward_free(&r);
    int64_t pts = json_integer_value(json_object_get(sp, "points"));
    if (pts >= regular)
        return hd_err_set(err, HD_EINVAL, "points",
                          "must be below the reward's regular price of %lld points",
                          (long long)regular);
    json_t *title = json_object_get(sp, "title"), *q = json_object_get(sp, "quantity"),
           *pc = json_object_get(sp, "per_customer"), *ta = json_object_get(sp, "tier_access"),
           *ac = json_object_get(sp, "active");
    const char *zh = json_string_value(json_object_get(title, "zh"));
    const char *en = json_string_value(json_object_get(title, "en"));
    const char *el = json_string_value(json_object_get(sp, "eligibility"));
    int64_t now = hd_now(d);
    hd_val p[14] = {hd_vint(rid),
                    hd_vtext(zh ? zh : ""),
                    hd_vtext(en ? en : ""),
                    hd_vint(pts),
                    hd_vint(s),
                    hd_vint(e),
                    json_is_integer(q) ? hd_vint(json_integer_value(q)) : hd_vnull(),
                    json_is_integer(pc) ? hd_vint(json_integer_value(pc)) : hd_vnull(),
                    hd_vtext(el ? el : ""),
                    hd_vbool(json_is_true(ta)),
                    hd_vbool(ac ? json_is_true(ac) : true),
                    hd_vint(now),
                    hd_vint(id),
                    hd_vint(now)};
    if (insert)
        return hd_exec(c,
                       "INSERT INTO specials (reward_id, title_zh, title_en, points, starts_at, "
                       "ends_at, quantity, per_customer, eligibility, tier_access, active, "
                       "updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                       "?, ?)",
                       p, 14, NULL, err);
    return hd_exec(c,
                   "UPDATE specials SET title_zh = ?2, title_en = ?3, points = ?4, starts_at = "
                   "?5, ends_at = ?6, quantity = ?7, per_customer = ?8, eligibility = ?9, "
                   "tier_access = ?10, active = ?11, updated_at = ?12 WHERE id = ?13 AND "
                   "reward_id = ?1",
                   p, 13, NULL, err);
}

typedef struct sp_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id;
    const hd_special_query *q;
    const char *month;
    json_t *out;
} sp_ctx;

static hd_rc sp_create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    sp_ctx *sx = vctx;
    int64_t id = hd_id_next(sx->d->ids);
    hd_rc rc = special_save(c, sx->d, id, sx->in, true, err);
    if (rc) return rc;
    *status = 201;
    return special_load(c, id, hd_now(sx->d), body, NULL, err);
}

hd_rc hd_special_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                        json_t **out, bool *replayed, hd_err *err) {
    hd_rc rc = check_special(in, d->clock, true, err);
    if (rc) return rc;
    sp_ctx sx = {d, in, 0, NULL, NULL, NULL};
    return hd_idem_write(d, im, sp_create_cb, &sx, status, out, replayed, err);
}

static hd_rc sp_patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    sp_ctx *sx = vctx;
    json_decref(sx->out);
    sx->out = NULL;
    json_t *cur = NULL;
    hd_rc rc = special_load(c, sx->id, hd_now(sx->d), &cur, NULL, err);
    if (rc) return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sx->in, k, v) {
        if (strcmp(k, "title") == 0 && json_is_object(json_object_get(cur, "title")))
            json_object_update(json_object_get(cur, "title"), v);
        else
            json_object_set(cur, k, v);
    }
    rc = special_save(c, sx->d, sx->id, cur, false, err);
    json_decref(cur);
    if (rc) return rc;
    return special_load(c, sx->id, hd_now(sx->d), &sx->out, NULL, err);
}

hd_rc hd_special_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    hd_rc rc = check_special(in, d->clock, false, err);
    if (rc) return rc;
    sp_ctx sx = {d, in, id, NULL, NULL, NULL};
    rc = hd_store_write(d->store, sp_patch_cb, &sx, err);
    if (rc) {
        json_decref(sx.out);
        return rc;
    }
    *out = sx.out;
    return HD_OK;
}

static hd_rc sp_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    sp_ctx *sx = vctx;
    return special_load(c, sx->id, hd_now(sx->d), &sx->out, NULL, err);
}

hd_rc hd_special_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    sp_ctx sx = {d, NULL, id, NULL, NULL, NULL};
    hd_rc rc = hd_store_read(d->store, sp_get_cb, &sx, err);
    if (rc) {
        json_decref(sx.out);
        return rc;
    }
    *out = sx.out;
    return HD_OK;
}

/* Could the customer take one unit of this special now (without taking it)? */
static hd_rc could_take(hd_conn *c, hd_domain *d, const special *s, int64_t cid, bool *ok,
                        hd_err *err) {
    *ok = false;
    hd_rc rc;
    if (s->tier_access) {
        hd_tier_info ti;
        if ((rc = hd_tier_of_in(c, cid, &ti, err))) return rc;
        if (!ti.has || !ti.access_specials) return HD_OK;
    }
    if (s->has_per_customer) {
        int64_t used;
        if ((rc = cat_usage_get(c, cid, "special", s->id, "ever", &used, err))) return rc;
        if (used >= s->per_customer) return HD_OK;
    }
    return hd_catalog_eligible_in(c, d, cid, s->eligibility, ok, err);
}

static hd_rc sp_list_cb(hd_conn *c, void *vctx, hd_err *err) {
    sp_ctx *sx = vctx;
    const hd_special_query *q = sx->q;
    int64_t now = hd_now(sx->d), cid = 0;
    hd_rc rc;
    if (q->customer_id) {
        rc = hd_customer_follow(c, q->customer_id, &cid, err);
        if (rc == HD_ENOTFOUND)
            return hd_err_set(err, HD_EINVAL, "customer_id", "no customer %lld",
                              (long long)q->customer_id);
        if (rc) return rc;
    }
    bool running = q->running || cid;
    hd_val p[4] = {hd_vint(q->reward_id), hd_vint(running ? 1 : 0), hd_vint(now),
                   hd_vint(q->limit)};
    hd_rows *r;
    if ((rc = hd_query(
             c,
             SPECIAL_COLS
             "WHERE (CAST(?1 AS BIGINT) = 0 OR s.reward_id = ?1) AND (?2 = 0 OR (s.active = 1 AND "
             "s.starts_at <= ?3 AND s.ends_at > ?3 AND (s.quantity IS NULL OR s.sold < "
             "s.quantity))) ORDER BY s.starts_at DESC, s.id DESC LIMIT ?4",
             p, 4, &r, err)))
        return rc;
    json_t *data = json_array();
    special raw[HD_CATALOG_PAGE_MAX];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < HD_CATALOG_PAGE_MAX) {
        special_read(r, &raw[n++]);
        json_array_append_new(data, special_json(r, now));
    }
    hd_rows_free(r);
    rc = got < 0 ? err->rc : HD_OK;
    if (!rc && cid) {
        json_t *kept = json_array();
        for (int i = 0; i < n && !rc; i++) {
            bool ok = false;
            rc = could_take(c, sx->d, &raw[i], cid, &ok, err);
            if (ok) json_array_append(kept, json_array_get(data, (size_t)i));
        }
        json_decref(data);
        data = kept;
    }
    for (int i = 0; i < n; i++) special_free(&raw[i]);
    if (rc) {
        json_decref(data);
        return rc;
    }
    sx->out = json_pack("{s:o}", "data", data);
    return HD_OK;
}

hd_rc hd_special_list(hd_domain *d, const hd_special_query *q, json_t **out, hd_err *err) {
    sp_ctx sx = {d, NULL, 0, q, NULL, NULL};
    hd_rc rc = hd_store_read(d->store, sp_list_cb, &sx, err);
    if (rc) {
        json_decref(sx.out);
        return rc;
    }
    *out = sx.out;
    return HD_OK;
}

/* ---- calendar ---- */

static bool parse_month(const char *s, int *y, int *m) {
    if (!s || strlen(s) != 7 || s[4] != '-') return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9')) return false;
    *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    *m = (s[5] - '0') * 10 + (s[6] - '0');
    return *y >= 1970 && *y <= 9999 && *m >= 1 && *m <= 12;
}

static hd_rc sp_calendar_cb(hd_conn *c, void *vctx, hd_err *err) {
    sp_ctx *sx = vctx;
    int y, m;
    parse_month(sx->month, &y, &m);
    int64_t first = hd_days_from_civil(y, m, 1);
    int64_t next = hd_month_first(first, 1);
    /* the brand's month and days */
    int off = hd_clock_utc_offset(sx->d->clock);
    int64_t from = hd_cal_day_ms(off, first), to = hd_cal_day_ms(off, next), now = hd_now(sx->d);
    hd_val p[2] = {hd_vint(to), hd_vint(from)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        SPECIAL_COLS "WHERE s.starts_at < ? AND s.ends_at > ? ORDER BY "
                                     "s.starts_at, s.id LIMIT 1000",
                        p, 2, &r, err);
    if (rc) return rc;
    json_t *all = json_array();
    int got;
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(all, special_json(r, now));
    hd_rows_free(r);
    if (got < 0) {
        json_decref(all);
        return err->rc;
    }
    json_t *days = json_array();
    for (int64_t day = first; day < next; day++) {
        int64_t ds = hd_cal_day_ms(off, day), de = hd_cal_day_ms(off, day + 1);
        int yy, mm, dd;
        hd_civil_from_days(day, &yy, &mm, &dd);
        char date[16];
        snprintf(date, sizeof date, "%04d-%02d-%02d", yy, mm, dd);
        json_t *list = json_array();
        size_t i;
        json_t *o;
        json_array_foreach(all, i, o) {
            int64_t s = 0, e = 0;
            hd_time_parse(json_string_value(json_object_get(o, "starts_at")), &s);
            hd_time_parse(json_string_value(json_object_get(o, "ends_at")), &e);
            if (s < de && e > ds) {
                json_t *brief = json_object();
                static const char *const KEEP[] = {
                    "id",     "reward_id",   "title", "points", "regular_points",
                    "status", "reward_name", NULL};
                for (const char *const *k = KEEP; *k; k++)
                    json_object_set(brief, *k, json_object_get(o, *k));
                json_array_append_new(list, brief);
            }
        }
        json_array_append_new(days, json_pack("{s:s,s:o}", "date", date, "specials", list));
    }
    sx->out = json_pack("{s:s,s:o,s:o}", "month", sx->month, "days", days, "specials", all);
    return HD_OK;
}

hd_rc hd_special_calendar(hd_domain *d, const char *month, json_t **out, hd_err *err) {
    int y, m;
    if (!parse_month(month, &y, &m))
        return hd_err_set(err, HD_EINVAL, "month", "must be a month such as 2026-03");
    sp_ctx sx = {d, NULL, 0, NULL, month, NULL};
    hd_rc rc = hd_store_read(d->store, sp_calendar_cb, &sx, err);
    if (rc) {
        json_decref(sx.out);
        return rc;
    }
    *out = sx.out;
    return HD_OK;
}
