/* catalog.c - rewards and their options: validation, storage, stock taken
 * and returned by conditional UPDATEs, the option that matches a customer's
 * remembered specs, per-customer usage counters, and the eligibility
 * expressions specials and coupon templates share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "domain/catalog_int.h"
#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"
#include "expr/expr.h"
#include "text/text.h"

/* ---- small shared helpers ---- */

json_t *cat_names(const char *zh, const char *en) {
    return json_pack("{s:s,s:s}", "zh", zh ? zh : "", "en", en ? en : "");
}

hd_rc cat_parse_names(const json_t *obj, const char *field, bool required, size_t max,
                      const char **zh, const char **en, hd_err *err) {
    *zh = *en = NULL;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v)) {
        if (required)
            return hd_err_set(err, HD_EINVAL, field, "is required: {\"zh\": \"…\", \"en\": \"…\"}");
        return HD_OK;
    }
    if (!json_is_object(v))
        return hd_err_set(err, HD_EINVAL, field,
                          "must be an object {\"zh\": \"…\", \"en\": \"…\"}");
    static const char *const LANGS[] = {"zh", "en", NULL};
    hd_rc rc = hd_json_only(v, LANGS, field, err);
    if (!rc) rc = hd_json_str(v, "zh", max, zh, err);
    if (!rc) rc = hd_json_str(v, "en", max, en, err);
    if (rc) {
        hd_err_prefix(err, field, ".");
        return rc;
    }
    if (required && (!*zh || !**zh)) {
        char f[80];
        snprintf(f, sizeof f, "%s.zh", field);
        return hd_err_set(err, HD_EINVAL, f, "is required: the Chinese name");
    }
    return HD_OK;
}

json_t *cat_opt_int(hd_rows *r, int col) {
    return hd_rows_isnull(r, col) ? json_null() : json_integer(hd_rows_int(r, col));
}

hd_rc cat_json_nint(const json_t *obj, const char *field, int64_t min, int64_t max, bool *present,
                    bool *is_null, int64_t *out, hd_err *err) {
    json_t *v = json_object_get(obj, field);
    *present = v != NULL;
    *is_null = v && json_is_null(v);
    *out = 0;
    if (!v || json_is_null(v)) return HD_OK;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return hd_err_set(err, HD_EINVAL, field, "must be an integer from %lld to %lld%s",
                          (long long)min, (long long)max, " or null");
    *out = json_integer_value(v);
    return HD_OK;
}

hd_rc cat_customer_in(hd_conn *c, const json_t *in, const char *field, int64_t *id, hd_err *err) {
    bool present;
    int64_t raw = 0;
    hd_rc rc = hd_json_int(in, field, &present, &raw, err);
    if (rc) return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, field, "is required: a customer id");
    rc = hd_customer_follow(c, raw, id, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_EINVAL, field, "no customer %lld", (long long)raw);
    return rc;
}

void cat_period_key(const char *period, const hd_clock *cal, int64_t now_ms, char out[24]) {
    int y, m, dd;
    hd_civil_from_days(hd_cal_day(hd_clock_utc_offset(cal), now_ms), &y, &m, &dd);
    if (strcmp(period, "day") == 0)
        snprintf(out, 24, "day:%04d-%02d-%02d", y, m, dd);
    else if (strcmp(period, "month") == 0)
        snprintf(out, 24, "month:%04d-%02d", y, m);
    else if (strcmp(period, "year") == 0)
        snprintf(out, 24, "year:%04d", y);
    else
        snprintf(out, 24, "ever");
}

/* ---- usage counters ---- */

hd_rc cat_usage_take(hd_conn *c, int64_t customer_id, const char *kind, int64_t ref,
                     const char *period, int64_t n, int64_t limit, bool *ok, hd_err *err) {
    *ok = false;
    if (limit >= 0 && n > limit) return HD_OK;
    for (int attempt = 0; attempt < 2; attempt++) {
        int64_t changed = 0;
        hd_rc rc;
        if (limit >= 0) {
            hd_val p[6] = {hd_vint(n),   hd_vint(customer_id), hd_vtext(kind),
                           hd_vint(ref), hd_vtext(period),     hd_vint(limit - n)};
            rc = hd_exec(c,
                         "UPDATE catalog_usage SET n = n + ? WHERE customer_id = ? AND kind = ? "
                         "AND ref_id = ? AND period = ? AND n <= ?",
                         p, 6, &changed, err);
        } else {
            hd_val p[5] = {hd_vint(n), hd_vint(customer_id), hd_vtext(kind), hd_vint(ref),
                           hd_vtext(period)};
            rc = hd_exec(c,
                         "UPDATE catalog_usage SET n = n + ? WHERE customer_id = ? AND kind = ? "
                         "AND ref_id = ? AND period = ?",
                         p, 5, &changed, err);
        }
        if (rc) return rc;
        if (changed) {
            *ok = true;
            return HD_OK;
        }
        /* no row yet, or at the limit: an insert tells which. When another
         * transaction inserted first, PostgreSQL waits for it and does
         * nothing; the UPDATE then sees its row. */
        hd_val q[5] = {hd_vint(customer_id), hd_vtext(kind), hd_vint(ref), hd_vtext(period),
                       hd_vint(n)};
        if ((rc = hd_exec(c,
                          "INSERT INTO catalog_usage (customer_id, kind, ref_id, period, n) VALUES "
                          "(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                          q, 5, &changed, err)))
            return rc;
        if (changed) {
            *ok = true;
            return HD_OK;
        }
    }
    return HD_OK; /* the row exists and is at its limit */
}

hd_rc cat_usage_release(hd_conn *c, int64_t customer_id, const char *kind, int64_t ref,
                        const char *period, int64_t n, hd_err *err) {
    hd_val p[5] = {hd_vint(n), hd_vint(customer_id), hd_vtext(kind), hd_vint(ref),
                   hd_vtext(period)};
    return hd_exec(c,
                   "UPDATE catalog_usage SET n = CASE WHEN n > ?1 THEN n - ?1 ELSE 0 END "
                   "WHERE customer_id = ?2 AND kind = ?3 AND ref_id = ?4 AND period = ?5",
                   p, 5, NULL, err);
}

hd_rc cat_usage_get(hd_conn *c, int64_t customer_id, const char *kind, int64_t ref,
                    const char *period, int64_t *n, hd_err *err) {
    hd_val p[4] = {hd_vint(customer_id), hd_vtext(kind), hd_vint(ref), hd_vtext(period)};
    hd_rc rc = hd_query_int(c,
                            "SELECT n FROM catalog_usage WHERE customer_id = ? AND kind = ? AND "
                            "ref_id = ? AND period = ?",
                            p, 4, n, err);
    if (rc == HD_ENOTFOUND) {
        hd_err_clear(err);
        *n = 0;
        return HD_OK;
    }
    return rc;
}

/* ---- validation ---- */

static const char *const REWARD_FIELDS[] = {
    "type",  "name",          "description",        "price",     "stock",   "options", "limit",
    "tiers", "spec_category", "coupon_template_id", "starts_at", "ends_at", "active",  NULL};

static bool type_ok(const char *t) {
    return t && (strcmp(t, "physical") == 0 || strcmp(t, "digital") == 0 ||
                 strcmp(t, "coupon") == 0 || strcmp(t, "service") == 0);
}

static hd_rc check_options(const json_t *opts, hd_err *err) {
    if (json_is_null(opts)) return HD_OK;
    if (!json_is_array(opts))
        return hd_err_set(err, HD_EINVAL, "options", "must be a list of options");
    if (json_array_size(opts) > HD_REWARD_OPTIONS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "options", "at most %d options", HD_REWARD_OPTIONS_MAX);
    static const char *const OPT_FIELDS[] = {"code", "name", "stock", "attrs", NULL};
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o) {
        char f[32];
        snprintf(f, sizeof f, "options[%zu]", i);
        if (!json_is_object(o)) return hd_err_set(err, HD_EINVAL, f, "must be an object");
        hd_rc rc = hd_json_only(o, OPT_FIELDS, "an option", err);
        const char *code = NULL, *zh, *en;
        if (!rc) rc = hd_json_str(o, "code", CAT_CODE_MAX, &code, err);
        if (!rc && (!code || !*code))
            rc = hd_err_set(err, HD_EINVAL, "code", "is required, e.g. \"M-red\"");
        if (!rc) rc = cat_parse_names(o, "name", false, CAT_NAME_MAX, &zh, &en, err);
        bool present, is_null;
        int64_t stock;
        if (!rc) rc = cat_json_nint(o, "stock", 0, HD_AMOUNT_MAX, &present, &is_null, &stock, err);
        json_t *attrs = json_object_get(o, "attrs");
        if (!rc && attrs && !json_is_null(attrs)) {
            if (!json_is_object(attrs))
                rc = hd_err_set(err, HD_EINVAL, "attrs", "must be an object");
            const char *k;
            json_t *v;
            json_object_foreach(attrs, k, v) {
                if (rc) break;
                if (!json_is_string(v) && !json_is_integer(v) && !json_is_real(v) &&
                    !json_is_boolean(v))
                    rc = hd_err_set(err, HD_EINVAL, "attrs",
                                    "'%s' must be a string, number or boolean", k);
            }
        }
        for (size_t j = 0; !rc && j < i; j++)
            if (strcmp(json_string_value(json_object_get(json_array_get(opts, j), "code")), code) ==
                0)
                rc = hd_err_set(err, HD_EINVAL, "code", "'%s' appears twice", code);
        if (rc) {
            hd_err_prefix(err, f, ".");
            return rc;
        }
    }
    return HD_OK;
}

/* Checks the members present in in; create also requires the essentials. */
static hd_rc check_reward(const json_t *in, const hd_clock *cal, bool create, hd_err *err) {
    hd_rc rc = hd_json_only(in, REWARD_FIELDS, "a reward", err);
    if (rc) return rc;
    const char *type, *zh, *en, *cat;
    if ((rc = hd_json_str(in, "type", 16, &type, err))) return rc;
    if ((type || create) && !type_ok(type))
        return hd_err_set(err, HD_EINVAL, "type", "must be physical, digital, coupon or service");
    if ((rc = cat_parse_names(in, "name", create, CAT_NAME_MAX, &zh, &en, err))) return rc;
    if ((rc = cat_parse_names(in, "description", false, CAT_DESC_MAX, &zh, &en, err))) return rc;
    json_t *price = json_object_get(in, "price");
    if (create && !price)
        return hd_err_set(err, HD_EINVAL, "price", "is required: {\"points\": N, \"cash\": fen}");
    if (price) {
        static const char *const PRICE[] = {"points", "cash", NULL};
        if (!json_is_object(price))
            return hd_err_set(err, HD_EINVAL, "price", "must be {\"points\": N, \"cash\": fen}");
        if ((rc = hd_json_only(price, PRICE, "price", err))) {
            hd_err_prefix(err, "price", ".");
            return rc;
        }
        json_t *pts = json_object_get(price, "points"), *cash = json_object_get(price, "cash");
        if ((pts || create) && (!json_is_integer(pts) || json_integer_value(pts) < 0 ||
                                json_integer_value(pts) > HD_AMOUNT_MAX))
            return hd_err_set(err, HD_EINVAL, "price.points",
                              "is required: whole points from 0 to %lld", (long long)HD_AMOUNT_MAX);
        if (cash && !json_is_null(cash) &&
            (!json_is_integer(cash) || json_integer_value(cash) < 0 ||
             json_integer_value(cash) > HD_AMOUNT_MAX))
            return hd_err_set(err, HD_EINVAL, "price.cash", "must be fen from 0 to %lld",
                              (long long)HD_AMOUNT_MAX);
    }
    bool present, is_null;
    int64_t n;
    if ((rc = cat_json_nint(in, "stock", 0, HD_AMOUNT_MAX, &present, &is_null, &n, err))) return rc;
    json_t *opts = json_object_get(in, "options");
    if (opts && (rc = check_options(opts, err))) return rc;
    json_t *lim = json_object_get(in, "limit");
    if (lim && !json_is_null(lim)) {
        static const char *const LIM[] = {"per_customer", "period", NULL};
        if (!json_is_object(lim))
            return hd_err_set(err, HD_EINVAL, "limit",
                              "must be {\"per_customer\": N, \"period\": \"month\"} or null");
        if ((rc = hd_json_only(lim, LIM, "limit", err))) {
            hd_err_prefix(err, "limit", ".");
            return rc;
        }
        json_t *pc = json_object_get(lim, "per_customer");
        if (!json_is_integer(pc) || json_integer_value(pc) < 1 || json_integer_value(pc) > 1000000)
            return hd_err_set(err, HD_EINVAL, "limit.per_customer",
                              "is required: an integer from 1 to 1000000");
        const char *period;
        if ((rc = hd_json_str(lim, "period", 8, &period, err))) {
            hd_err_prefix(err, "limit", ".");
            return rc;
        }
        if (period && strcmp(period, "day") && strcmp(period, "month") && strcmp(period, "year") &&
            strcmp(period, "ever"))
            return hd_err_set(err, HD_EINVAL, "limit.period", "must be day, month, year or ever");
    }
    json_t *tiers = json_object_get(in, "tiers");
    if (tiers && !json_is_null(tiers)) {
        if (!json_is_array(tiers) || json_array_size(tiers) == 0 ||
            json_array_size(tiers) > CAT_TIERS_MAX)
            return hd_err_set(err, HD_EINVAL, "tiers",
                              "must be a list of 1 to %d tier codes, or null for everyone",
                              CAT_TIERS_MAX);
        size_t i;
        json_t *t;
        json_array_foreach(tiers, i, t) {
            if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > 63)
                return hd_err_set(err, HD_EINVAL, "tiers", "tiers[%zu] must be a tier code", i);
        }
    }
    if ((rc = hd_json_str(in, "spec_category", 63, &cat, err))) return rc;
    if ((rc = hd_json_int(in, "coupon_template_id", &present, &n, err))) return rc;
    int64_t s = 0, e = 0;
    if ((rc = hd_json_time(in, "starts_at", cal, &present, &s, err))) return rc;
    if ((rc = hd_json_time(in, "ends_at", cal, &present, &e, err))) return rc;
    if (s && e && e <= s) return hd_err_set(err, HD_EINVAL, "ends_at", "must be after starts_at");
    json_t *a = json_object_get(in, "active");
    if (a && !json_is_boolean(a))
        return hd_err_set(err, HD_EINVAL, "active", "must be true or false");
    return HD_OK;
}

/* ---- storage ---- */

#define REWARD_COLS                                                                                \
    "SELECT id, type, name_zh, name_en, desc_zh, desc_en, price_points, price_cash, stock, sold, " \
    "limit_n, limit_period, tiers, spec_category, coupon_template_id, starts_at, ends_at, "        \
    "active, created_at, updated_at FROM rewards "

static bool on_offer(bool active, int64_t starts, int64_t ends, int64_t now) {
    return active && (!starts || starts <= now) && (!ends || now < ends);
}

static json_t *option_json(hd_rows *r) {
    /* columns: code, name_zh, name_en, attrs, stock, sold */
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(hd_rows_text(r, 0, NULL)));
    json_object_set_new(o, "name", cat_names(hd_rows_text(r, 1, NULL), hd_rows_text(r, 2, NULL)));
    size_t n;
    const char *a = hd_rows_text(r, 3, &n);
    json_object_set_new(o, "attrs", hd_json_load(a, n));
    json_object_set_new(o, "stock", cat_opt_int(r, 4));
    json_object_set_new(o, "sold", json_integer(hd_rows_int(r, 5)));
    return o;
}

static hd_rc options_load(hd_conn *c, int64_t reward_id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(reward_id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT code, name_zh, name_en, attrs, stock, sold FROM reward_options "
                        "WHERE reward_id = ? ORDER BY pos, code",
                        &p, 1, &r, err);
    if (rc) return rc;
    json_t *a = json_array();
    int got;
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(a, option_json(r));
    hd_rows_free(r);
    if (got < 0) {
        json_decref(a);
        return err->rc;
    }
    *out = a;
    return HD_OK;
}

static json_t *reward_row_json(hd_rows *r, int64_t now) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    json_object_set_new(o, "type", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(o, "name", cat_names(hd_rows_text(r, 2, NULL), hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "description",
                        cat_names(hd_rows_text(r, 4, NULL), hd_rows_text(r, 5, NULL)));
    json_object_set_new(o, "price",
                        json_pack("{s:I,s:I}", "points", (json_int_t)hd_rows_int(r, 6), "cash",
                                  (json_int_t)hd_rows_int(r, 7)));
    json_object_set_new(o, "stock", cat_opt_int(r, 8));
    json_object_set_new(o, "sold", json_integer(hd_rows_int(r, 9)));
    if (hd_rows_isnull(r, 10))
        json_object_set_new(o, "limit", json_null());
    else
        json_object_set_new(o, "limit",
                            json_pack("{s:I,s:s}", "per_customer", (json_int_t)hd_rows_int(r, 10),
                                      "period", hd_rows_text(r, 11, NULL)));
    size_t n;
    const char *t = hd_rows_text(r, 12, &n);
    json_t *tiers = hd_rows_isnull(r, 12) ? NULL : json_loadb(t, n, 0, NULL);
    json_object_set_new(o, "tiers", json_is_array(tiers) ? tiers : json_null());
    if (tiers && !json_is_array(tiers)) json_decref(tiers);
    json_object_set_new(o, "spec_category", json_string(hd_rows_text(r, 13, NULL)));
    if (hd_rows_isnull(r, 14))
        json_object_set_new(o, "coupon_template_id", json_null());
    else
        hd_json_set_id(o, "coupon_template_id", hd_rows_int(r, 14));
    int64_t s = hd_rows_isnull(r, 15) ? 0 : hd_rows_int(r, 15);
    int64_t e = hd_rows_isnull(r, 16) ? 0 : hd_rows_int(r, 16);
    hd_json_set_time(o, "starts_at", s, !hd_rows_isnull(r, 15));
    hd_json_set_time(o, "ends_at", e, !hd_rows_isnull(r, 16));
    bool active = hd_rows_int(r, 17) != 0;
    json_object_set_new(o, "active", json_boolean(active));
    bool stock_left = hd_rows_isnull(r, 8) || hd_rows_int(r, 8) > 0;
    json_object_set_new(o, "available", json_boolean(on_offer(active, s, e, now) && stock_left));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 18), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 19), true);
    return o;
}

/* The reward as JSON; customer_id != 0 adds "selected_option". */
static hd_rc reward_load_json(hd_conn *c, int64_t id, int64_t now, int64_t customer_id,
                              json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, REWARD_COLS "WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    json_t *o = got == 1 ? reward_row_json(r, now) : NULL;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no reward %lld", (long long)id);
    json_t *opts = NULL;
    if ((rc = options_load(c, id, &opts, err))) goto fail;
    json_object_set_new(o, "options", opts);
    if (customer_id) {
        int64_t cid;
        if ((rc = hd_customer_follow(c, customer_id, &cid, err))) {
            if (rc == HD_ENOTFOUND)
                rc = hd_err_set(err, HD_EINVAL, "customer_id", "no customer %lld",
                                (long long)customer_id);
            goto fail;
        }
        char code[CAT_CODE_MAX * 4 + 1] = "";
        const char *cat = json_string_value(json_object_get(o, "spec_category"));
        if (json_array_size(opts) && cat && *cat &&
            (rc = cat_spec_match(c, cid, id, cat, code, err)))
            goto fail;
        json_object_set_new(o, "selected_option", code[0] ? json_string(code) : json_null());
        size_t i;
        json_t *op;
        json_array_foreach(opts, i, op) {
            json_object_set_new(
                op, "selected",
                json_boolean(code[0] &&
                             strcmp(json_string_value(json_object_get(op, "code")), code) == 0));
        }
    }
    *out = o;
    return HD_OK;
fail:
    json_decref(o);
    return rc;
}

static hd_rc options_sync(hd_conn *c, int64_t reward_id, const json_t *opts, hd_err *err) {
    hd_rc rc;
    size_t i;
    json_t *o;
    json_array_foreach(opts, i, o) {
        const char *code = json_string_value(json_object_get(o, "code"));
        json_t *nm = json_object_get(o, "name");
        const char *zh = json_string_value(json_object_get(nm, "zh"));
        const char *en = json_string_value(json_object_get(nm, "en"));
        json_t *attrs = json_object_get(o, "attrs");
        char *at = json_is_object(attrs) ? hd_json_dump(attrs) : strdup("{}");
        if (!at) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
        json_t *st = json_object_get(o, "stock");
        hd_val p[7] = {hd_vint((int64_t)i),
                       hd_vtext(zh ? zh : ""),
                       hd_vtext(en ? en : ""),
                       hd_vtext(at),
                       json_is_integer(st) ? hd_vint(json_integer_value(st)) : hd_vnull(),
                       hd_vint(reward_id),
                       hd_vtext(code)};
        int64_t changed = 0;
        rc = hd_exec(c,
                     "UPDATE reward_options SET pos = ?, name_zh = ?, name_en = ?, attrs = ?, "
                     "stock = ? WHERE reward_id = ? AND code = ?",
                     p, 7, &changed, err);
        if (!rc && !changed)
            rc = hd_exec(c,
                         "INSERT INTO reward_options (pos, name_zh, name_en, attrs, stock, "
                         "reward_id, code) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         p, 7, NULL, err);
        free(at);
        if (rc) return rc;
    }
    /* options no longer listed go; their orders keep the code */
    hd_val p = hd_vint(reward_id);
    hd_rows *r;
    if ((rc = hd_query(c, "SELECT code FROM reward_options WHERE reward_id = ?", &p, 1, &r, err)))
        return rc;
    char gone[HD_REWARD_OPTIONS_MAX * 2][CAT_CODE_MAX * 4 + 1];
    int ngone = 0, got;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *code = hd_rows_text(r, 0, NULL);
        bool listed = false;
        json_array_foreach(opts, i, o) {
            if (strcmp(json_string_value(json_object_get(o, "code")), code) == 0) listed = true;
        }
        if (!listed && ngone < HD_REWARD_OPTIONS_MAX * 2)
            snprintf(gone[ngone++], sizeof gone[0], "%s", code);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int k = 0; k < ngone; k++) {
        hd_val q[2] = {hd_vint(reward_id), hd_vtext(gone[k])};
        if ((rc = hd_exec(c, "DELETE FROM reward_options WHERE reward_id = ? AND code = ?", q, 2,
                          NULL, err)))
            return rc;
    }
    return HD_OK;
}

/* Writes the whole reward r (input shape) to row id; options when opts. */
static hd_rc reward_save(hd_conn *c, hd_domain *d, int64_t id, const json_t *r, bool insert,
                         const json_t *opts, hd_err *err) {
    const char *type = json_string_value(json_object_get(r, "type"));
    int64_t tmpl = 0;
    bool has_tmpl = false;
    hd_rc rc = hd_json_int(r, "coupon_template_id", &has_tmpl, &tmpl, err);
    if (rc) return rc;
    if (strcmp(type, "coupon") == 0) {
        if (!has_tmpl)
            return hd_err_set(err, HD_EINVAL, "coupon_template_id",
                              "is required for a coupon reward: the template it issues");
        hd_val q = hd_vint(tmpl);
        int64_t one;
        rc = hd_query_int(c, "SELECT 1 FROM coupon_templates WHERE id = ?", &q, 1, &one, err);
        if (rc == HD_ENOTFOUND)
            return hd_err_set(err, HD_EINVAL, "coupon_template_id", "no coupon template %lld",
                              (long long)tmpl);
        if (rc) return rc;
    } else if (has_tmpl) {
        return hd_err_set(err, HD_EINVAL, "coupon_template_id", "is only for coupon rewards");
    }
    json_t *name = json_object_get(r, "name"), *desc = json_object_get(r, "description");
    json_t *price = json_object_get(r, "price"), *lim = json_object_get(r, "limit");
    json_t *stock = json_object_get(r, "stock"), *tiers = json_object_get(r, "tiers");
    json_t *cash = json_object_get(price, "cash");
    const char *period = json_string_value(json_object_get(lim, "period"));
    const char *cat = json_string_value(json_object_get(r, "spec_category"));
    const char *zh = json_string_value(json_object_get(name, "zh"));
    const char *en = json_string_value(json_object_get(name, "en"));
    const char *dzh = json_string_value(json_object_get(desc, "zh"));
    const char *den = json_string_value(json_object_get(desc, "en"));
    int64_t s = 0, e = 0;
    bool has_s = false, has_e = false;
    hd_json_time(r, "starts_at", d->clock, &has_s, &s, NULL);
    hd_json_time(r, "ends_at", d->clock, &has_e, &e, NULL);
    json_t *act = json_object_get(r, "active");
    char *tiers_text = json_is_array(tiers) ? hd_json_dump(tiers) : NULL;
    int64_t now = hd_now(d);
    hd_val p[20] = {
        hd_vtext(type),
        hd_vtext(zh ? zh : ""),
        hd_vtext(en ? en : ""),
        hd_vtext(dzh ? dzh : ""),
        hd_vtext(den ? den : ""),
        hd_vint(json_integer_value(json_object_get(price, "points"))),
        hd_vint(json_is_integer(cash) ? json_integer_value(cash) : 0),
        json_is_integer(stock) ? hd_vint(json_integer_value(stock)) : hd_vnull(),
        json_is_object(lim) ? hd_vint(json_integer_value(json_object_get(lim, "per_customer")))
                            : hd_vnull(),
        hd_vtext(period ? period : "ever"),
        hd_vtext(tiers_text),
        hd_vtext(cat ? cat : ""),
        has_tmpl ? hd_vint(tmpl) : hd_vnull(),
        has_s ? hd_vint(s) : hd_vnull(),
        has_e ? hd_vint(e) : hd_vnull(),
        hd_vbool(act ? json_is_true(act) : true),
        hd_vint(now),
        hd_vint(id),
        hd_vint(now),
    };
    if (insert)
        rc = hd_exec(c,
                     "INSERT INTO rewards (type, name_zh, name_en, desc_zh, desc_en, "
                     "price_points, price_cash, stock, limit_n, limit_period, tiers, "
                     "spec_category, coupon_template_id, starts_at, ends_at, active, "
                     "updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                     "?, ?, ?, ?, ?, ?)",
                     p, 19, NULL, err);
    else
        rc = hd_exec(c,
                     "UPDATE rewards SET type = ?1, name_zh = ?2, name_en = ?3, desc_zh = ?4, "
                     "desc_en = ?5, price_points = ?6, price_cash = ?7, stock = ?8, limit_n = ?9, "
                     "limit_period = ?10, tiers = ?11, spec_category = ?12, coupon_template_id = "
                     "?13, starts_at = ?14, ends_at = ?15, active = ?16, updated_at = ?17 WHERE "
                     "id = ?18",
                     p, 18, NULL, err);
    free(tiers_text);
    if (rc) return rc;
    if (opts && json_is_array(opts))
        rc = options_sync(c, id, opts, err);
    else if (opts && json_is_null(opts)) {
        hd_val q = hd_vint(id);
        rc = hd_exec(c, "DELETE FROM reward_options WHERE reward_id = ?", &q, 1, NULL, err);
    }
    return rc;
}

typedef struct reward_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id, customer_id;
    json_t *out;
    const hd_reward_query *q;
} reward_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    reward_ctx *rc_ = vctx;
    int64_t id = hd_id_next(rc_->d->ids);
    hd_rc rc = reward_save(c, rc_->d, id, rc_->in, true, json_object_get(rc_->in, "options"), err);
    if (rc) return rc;
    *status = 201;
    return reward_load_json(c, id, hd_now(rc_->d), 0, body, err);
}

hd_rc hd_reward_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status, json_t **out,
                       bool *replayed, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = check_reward(in, d->clock, true, err);
    if (rc) return rc;
    reward_ctx rx = {d, in, 0, 0, NULL, NULL};
    return hd_idem_write(d, im, create_cb, &rx, status, out, replayed, err);
}

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    reward_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    json_t *cur = NULL;
    hd_rc rc = reward_load_json(c, rx->id, hd_now(rx->d), 0, &cur, err);
    if (rc) return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rx->in, k, v) {
        json_t *sub = json_object_get(cur, k);
        if ((strcmp(k, "name") == 0 || strcmp(k, "description") == 0 || strcmp(k, "price") == 0) &&
            json_is_object(sub))
            json_object_update(sub, v);
        else if (strcmp(k, "options") != 0)
            json_object_set(cur, k, v);
    }
    rc = reward_save(c, rx->d, rx->id, cur, false, json_object_get(rx->in, "options"), err);
    json_decref(cur);
    if (rc) return rc;
    return reward_load_json(c, rx->id, hd_now(rx->d), 0, &rx->out, err);
}

hd_rc hd_reward_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = check_reward(in, d->clock, false, err);
    if (rc) return rc;
    json_t *name = json_object_get(in, "name");
    if (name && json_is_object(name) && json_object_get(name, "zh") &&
        !*json_string_value(json_object_get(name, "zh")))
        return hd_err_set(err, HD_EINVAL, "name.zh", "must not be empty");
    reward_ctx rx = {d, in, id, 0, NULL, NULL};
    rc = hd_store_write(d->store, patch_cb, &rx, err);
    if (rc) {
        json_decref(rx.out);
        return rc;
    }
    *out = rx.out;
    return HD_OK;
}

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    reward_ctx *rx = vctx;
    return reward_load_json(c, rx->id, hd_now(rx->d), rx->customer_id, &rx->out, err);
}

hd_rc hd_reward_get(hd_domain *d, int64_t id, int64_t customer_id, json_t **out, hd_err *err) {
    reward_ctx rx = {d, NULL, id, customer_id, NULL, NULL};
    hd_rc rc = hd_store_read(d->store, get_cb, &rx, err);
    if (rc) {
        json_decref(rx.out);
        return rc;
    }
    *out = rx.out;
    return HD_OK;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    reward_ctx *rx = vctx;
    const hd_reward_query *q = rx->q;
    int64_t now = hd_now(rx->d);
    hd_val p[5] = {hd_vint(q->cursor ? q->cursor : INT64_MAX), hd_vtext(q->type ? q->type : ""),
                   hd_vint(q->available), hd_vint(now), hd_vint(q->limit + 1)};
    hd_rows *r;
    hd_rc rc =
        hd_query(c,
                 REWARD_COLS
                 "WHERE id < ?1 AND (?2 = '' OR type = ?2) AND (CAST(?3 AS BIGINT) < 0 OR ?3 = "
                 "(CASE WHEN active = 1 AND "
                 "(starts_at IS NULL OR starts_at <= ?4) AND (ends_at IS NULL OR ends_at > ?4) AND "
                 "(stock IS NULL OR stock > 0) THEN 1 ELSE 0 END)) ORDER BY id DESC LIMIT ?5",
                 p, 5, &r, err);
    if (rc) return rc;
    int64_t ids[HD_CATALOG_PAGE_MAX];
    int n = 0, got;
    bool more = false;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (n == q->limit || n == HD_CATALOG_PAGE_MAX) {
            more = true;
            break;
        }
        ids[n++] = hd_rows_int(r, 0);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) {
        json_t *full = NULL;
        if ((rc = reward_load_json(c, ids[i], now, q->customer_id, &full, err))) {
            json_decref(data);
            return rc;
        }
        json_array_append_new(data, full);
    }
    int64_t last = n ? ids[n - 1] : 0;
    rx->out = json_object();
    json_object_set_new(rx->out, "data", data);
    if (more)
        hd_json_set_id(rx->out, "next_cursor", last);
    else
        json_object_set_new(rx->out, "next_cursor", json_null());
    return HD_OK;
}

hd_rc hd_reward_list(hd_domain *d, const hd_reward_query *q, json_t **out, hd_err *err) {
    reward_ctx rx = {d, NULL, 0, 0, NULL, q};
    hd_rc rc = hd_store_read(d->store, list_cb, &rx, err);
    if (rc) {
        json_decref(rx.out);
        return rc;
    }
    *out = rx.out;
    return HD_OK;
}

/* ---- inside a transaction ---- */

hd_rc cat_reward_load(hd_conn *c, int64_t id, const char *field, cat_reward *out, hd_err *err) {
    memset(out, 0, sizeof *out);
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT type, name_zh, name_en, price_points, price_cash, stock, limit_n, "
                        "limit_period, tiers, spec_category, coupon_template_id, starts_at, "
                        "ends_at, active, (SELECT count(*) FROM reward_options o WHERE "
                        "o.reward_id = rewards.id) FROM rewards WHERE id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        out->id = id;
        snprintf(out->type, sizeof out->type, "%s", hd_rows_text(r, 0, NULL));
        snprintf(out->name_zh, sizeof out->name_zh, "%s", hd_rows_text(r, 1, NULL));
        snprintf(out->name_en, sizeof out->name_en, "%s", hd_rows_text(r, 2, NULL));
        out->price_points = hd_rows_int(r, 3);
        out->price_cash = hd_rows_int(r, 4);
        out->unlimited = hd_rows_isnull(r, 5);
        out->stock = hd_rows_int(r, 5);
        out->has_limit = !hd_rows_isnull(r, 6);
        out->limit_n = hd_rows_int(r, 6);
        snprintf(out->limit_period, sizeof out->limit_period, "%s", hd_rows_text(r, 7, NULL));
        if (!hd_rows_isnull(r, 8)) {
            size_t n;
            const char *t = hd_rows_text(r, 8, &n);
            out->tiers = json_loadb(t, n, 0, NULL);
            if (!json_is_array(out->tiers)) {
                json_decref(out->tiers);
                out->tiers = NULL;
            }
        }
        snprintf(out->spec_category, sizeof out->spec_category, "%s", hd_rows_text(r, 9, NULL));
        out->coupon_template_id = hd_rows_int(r, 10);
        out->starts_at = hd_rows_isnull(r, 11) ? 0 : hd_rows_int(r, 11);
        out->ends_at = hd_rows_isnull(r, 12) ? 0 : hd_rows_int(r, 12);
        out->active = hd_rows_int(r, 13) != 0;
        out->noptions = (int)hd_rows_int(r, 14);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return hd_err_set(err, field && strcmp(field, "id") ? HD_EINVAL : HD_ENOTFOUND,
                          field ? field : "id", "no reward %lld", (long long)id);
    return HD_OK;
}

void cat_reward_free(cat_reward *r) {
    json_decref(r->tiers);
    r->tiers = NULL;
}

/* A spec value as comparable text: "32", "m", "true". */
static void spec_text(const json_t *v, char *out, size_t cap) {
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%g", json_real_value(v));
    else if (json_is_boolean(v))
        snprintf(out, cap, "%s", json_is_true(v) ? "true" : "false");
    else
        out[0] = '\0';
}

static bool spec_equal(const json_t *a, const json_t *b) {
    char x[128], y[128];
    spec_text(a, x, sizeof x);
    spec_text(b, y, sizeof y);
    return x[0] && strcasecmp(x, y) == 0;
}

hd_rc cat_spec_match(hd_conn *c, int64_t customer_id, int64_t reward_id, const char *category,
                     char code[CAT_CODE_MAX * 4 + 1], hd_err *err) {
    code[0] = '\0';
    if (!category || !*category) return HD_OK;
    hd_val p = hd_vint(customer_id);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT specs FROM customers WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    json_t *specs = NULL;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        size_t n;
        const char *t = hd_rows_text(r, 0, &n);
        specs = hd_json_load(t, n);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    json_t *want = json_object_get(specs, category);
    if (!json_is_object(want) || json_object_size(want) == 0) {
        json_decref(specs);
        return HD_OK;
    }
    hd_val q = hd_vint(reward_id);
    if ((rc = hd_query(c,
                       "SELECT code, attrs, stock FROM reward_options WHERE reward_id = ? ORDER "
                       "BY pos, code",
                       &q, 1, &r, err))) {
        json_decref(specs);
        return rc;
    }
    int best_score = 0;
    bool best_stock = false;
    while ((got = hd_rows_next(r, err)) == 1) {
        size_t n;
        const char *t = hd_rows_text(r, 1, &n);
        json_t *attrs = hd_json_load(t, n);
        int score = 0;
        bool conflict = false;
        const char *k;
        json_t *v;
        json_object_foreach(want, k, v) {
            json_t *a = json_object_get(attrs, k);
            if (!a) continue;
            if (spec_equal(a, v))
                score++;
            else
                conflict = true;
        }
        json_decref(attrs);
        bool in_stock = hd_rows_isnull(r, 2) || hd_rows_int(r, 2) > 0;
        if (conflict || score == 0) continue;
        if (!code[0] || (in_stock && !best_stock) ||
            (in_stock == best_stock && score > best_score)) {
            snprintf(code, CAT_CODE_MAX * 4 + 1, "%s", hd_rows_text(r, 0, NULL));
            best_score = score;
            best_stock = in_stock;
        }
    }
    hd_rows_free(r);
    json_decref(specs);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_reward_get_in(hd_conn *c, hd_domain *d, int64_t reward_id, hd_reward_info *out,
                       hd_err *err) {
    cat_reward cr;
    hd_rc rc = cat_reward_load(c, reward_id, NULL, &cr, err);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->id = cr.id;
    snprintf(out->type, sizeof out->type, "%s", cr.type);
    snprintf(out->name_zh, sizeof out->name_zh, "%s", cr.name_zh);
    snprintf(out->name_en, sizeof out->name_en, "%s", cr.name_en);
    out->price_points = cr.price_points;
    out->price_cash = cr.price_cash;
    out->active = on_offer(cr.active, cr.starts_at, cr.ends_at, hd_now(d));
    out->unlimited = cr.unlimited;
    out->stock = cr.stock;
    cat_reward_free(&cr);
    return HD_OK;
}

hd_rc hd_reward_take_stock_in(hd_conn *c, int64_t reward_id, const char *option, int qty,
                              hd_err *err) {
    if (qty < 1 || qty > HD_ORDER_QTY_MAX)
        return hd_err_set(err, HD_EINVAL, "quantity", "must be from 1 to %d", HD_ORDER_QTY_MAX);
    int64_t n = 0;
    hd_val p[4] = {hd_vint(qty), hd_vint(qty), hd_vint(reward_id), hd_vint(qty)};
    hd_rc rc = hd_exec(c,
                       "UPDATE rewards SET stock = stock - ?, sold = sold + ? WHERE id = ? AND "
                       "(stock IS NULL OR stock >= ?)",
                       p, 4, &n, err);
    if (rc) return rc;
    if (n == 0) {
        hd_val q = hd_vint(reward_id);
        int64_t left;
        rc = hd_query_int(c, "SELECT stock FROM rewards WHERE id = ?", &q, 1, &left, err);
        if (rc == HD_ENOTFOUND)
            return hd_err_set(err, HD_ENOTFOUND, "reward_id", "no reward %lld",
                              (long long)reward_id);
        if (rc) return rc;
        return hd_err_set(err, HD_ESTATE, "stock", "out of stock: %lld left, %d wanted",
                          (long long)left, qty);
    }
    if (!option || !*option) return HD_OK;
    hd_val o[5] = {hd_vint(qty), hd_vint(qty), hd_vint(reward_id), hd_vtext(option), hd_vint(qty)};
    if ((rc = hd_exec(c,
                      "UPDATE reward_options SET stock = stock - ?, sold = sold + ? WHERE "
                      "reward_id = ? AND code = ? AND (stock IS NULL OR stock >= ?)",
                      o, 5, &n, err)))
        return rc;
    if (n == 0) {
        hd_val q[2] = {hd_vint(reward_id), hd_vtext(option)};
        int64_t left;
        rc = hd_query_int(c, "SELECT stock FROM reward_options WHERE reward_id = ? AND code = ?", q,
                          2, &left, err);
        if (rc == HD_ENOTFOUND)
            return hd_err_set(err, HD_EINVAL, "option", "the reward has no option '%s'", option);
        if (rc) return rc;
        return hd_err_set(err, HD_ESTATE, "stock",
                          "option %s is out of stock: %lld left, %d wanted", option,
                          (long long)left, qty);
    }
    return HD_OK;
}

hd_rc hd_reward_return_stock_in(hd_conn *c, int64_t reward_id, const char *option, int qty,
                                hd_err *err) {
    if (qty < 1) return HD_OK;
    hd_val p[3] = {hd_vint(qty), hd_vint(qty), hd_vint(reward_id)};
    hd_rc rc =
        hd_exec(c,
                "UPDATE rewards SET stock = stock + ?1, sold = CASE WHEN sold > ?2 THEN sold "
                "- ?2 ELSE 0 END WHERE id = ?3",
                p, 3, NULL, err);
    if (rc || !option || !*option) return rc;
    /* an option removed since keeps no stock to return */
    hd_val o[4] = {hd_vint(qty), hd_vint(qty), hd_vint(reward_id), hd_vtext(option)};
    return hd_exec(c,
                   "UPDATE reward_options SET stock = stock + ?1, sold = CASE WHEN sold > ?2 THEN "
                   "sold - ?2 ELSE 0 END WHERE reward_id = ?3 AND code = ?4",
                   o, 4, NULL, err);
}

/* ---- eligibility expressions ---- */

typedef enum {
    E_TIER,
    E_CITY,
    E_ORDERS,
    E_REVENUE,
    E_EVENTS,
    E_POINTS,
    E_TAGS,
    E_ATTR,  /* customer.attributes.<path> */
    E_SPEC,  /* customer.specs.<category>.<key> */
    E_MULT,  /* tier.multiplier */
    E_COUNT, /* count(<event type>, window) */
    E_SUM,   /* sum(amount, window) */
} ekind;

typedef struct eslot {
    ekind kind;
    char arg[HD_EXPR_NAME_MAX];
    int64_t window_ms;
} eslot;

static hd_rc eclassify(const hd_expr_var *v, eslot *s, const char *field, hd_err *err) {
    memset(s, 0, sizeof *s);
    const char *p = v->path;
    if (v->agg) {
        s->window_ms = v->window_s * 1000;
        if (strcmp(v->agg, "count") == 0) {
            s->kind = E_COUNT;
            snprintf(s->arg, sizeof s->arg, "%s", p);
            return HD_OK;
        }
        if (strcmp(v->agg, "sum") == 0 && strcmp(p, "amount") == 0) {
            s->kind = E_SUM;
            return HD_OK;
        }
        return hd_err_set(err, HD_EINVAL, field,
                          "%s: eligibility can use count(<event type>, window) and sum(amount, "
                          "window)",
                          v->name);
    }
    static const struct {
        const char *name;
        ekind kind;
    } plain[] = {{"customer.tier", E_TIER},     {"customer.city", E_CITY},
                 {"customer.orders", E_ORDERS}, {"customer.revenue", E_REVENUE},
                 {"customer.events", E_EVENTS}, {"customer.points", E_POINTS},
                 {"customer.tags", E_TAGS},     {"tier.multiplier", E_MULT}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(p, plain[i].name) == 0) {
            s->kind = plain[i].kind;
            return HD_OK;
        }
    if (strncmp(p, "customer.attributes.", 20) == 0 && p[20]) {
        s->kind = E_ATTR;
        snprintf(s->arg, sizeof s->arg, "%s", p + 20);
        return HD_OK;
    }
    if (strncmp(p, "customer.specs.", 15) == 0 && p[15]) {
        s->kind = E_SPEC;
        snprintf(s->arg, sizeof s->arg, "%s", p + 15);
        return HD_OK;
    }
    return hd_err_set(err, HD_EINVAL, field,
                      "unknown field '%s'; eligibility reads customer.tier|city|orders|revenue|"
                      "events|points|tags, customer.attributes.*, customer.specs.*, "
                      "tier.multiplier, count(<event type>, window), sum(amount, window)",
                      p);
}

hd_rc hd_catalog_check_expr(const char *src, const char *field, hd_err *err) {
    if (!src || !*src) return HD_OK;
    hd_expr *e = hd_expr_parse(src, strlen(src), err);
    if (!e) {
        snprintf(err->field, sizeof err->field, "%s", field);
        err->rc = HD_EINVAL;
        return HD_EINVAL;
    }
    hd_rc rc = HD_OK;
    for (int i = 0; i < hd_expr_nvars(e) && !rc; i++) {
        eslot s;
        rc = eclassify(hd_expr_var_info(e, i), &s, field, err);
    }
    unsigned types = hd_expr_result_types(e);
    if (!rc && !(types & ((1u << HD_EXPR_BOOL) | (1u << HD_EXPR_NULL))))
        rc = hd_err_set(err, HD_EINVAL, field,
                        "line 1, column 1: a condition must be true or false");
    hd_expr_free(e);
    return rc;
}

static hd_expr_val from_json(const json_t *v) {
    if (json_is_integer(v)) return hd_expr_int(json_integer_value(v));
    if (json_is_real(v)) return hd_expr_real(json_real_value(v));
    if (json_is_string(v)) return hd_expr_str(json_string_value(v), json_string_length(v));
    if (json_is_boolean(v)) return hd_expr_bool(json_is_true(v));
    return hd_expr_null();
}

static const json_t *walk(const json_t *o, const char *path) {
    char buf[HD_EXPR_NAME_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    char *save = NULL;
    for (char *part = strtok_r(buf, ".", &save); part && o; part = strtok_r(NULL, ".", &save))
        o = json_object_get(o, part);
    return o;
}

hd_rc hd_catalog_eligible_in(hd_conn *c, hd_domain *d, int64_t customer_id, const char *src,
                             bool *ok, hd_err *err) {
    *ok = true;
    if (!src || !*src) return HD_OK;
    *ok = false;
    hd_err perr;
    hd_expr *e = hd_expr_parse(src, strlen(src), &perr);
    if (!e) return HD_OK; /* checked when saved; an unreadable one admits nobody */
    int n = hd_expr_nvars(e);
    hd_expr_val vals[HD_EXPR_VARS_MAX];
    hd_expr_val tagv[HD_TAGS_MAX];
    json_t *cust = NULL;
    hd_tier_info tier = {0};
    tier.multiplier = 1.0;
    bool loaded = false;
    hd_rc rc = HD_OK;
    int64_t now = hd_now(d);
    for (int i = 0; i < n && !rc; i++) {
        eslot s;
        if (eclassify(hd_expr_var_info(e, i), &s, "", &perr)) {
            vals[i] = hd_expr_null();
            continue;
        }
        if (s.kind != E_COUNT && s.kind != E_SUM && s.kind != E_POINTS && !loaded) {
            loaded = true;
            if ((rc = hd_customer_load(c, customer_id, &cust, err))) break;
            if ((rc = hd_tier_of_in(c, customer_id, &tier, err))) break;
        }
        json_t *stats = json_object_get(cust, "stats");
        switch (s.kind) {
        case E_TIER:
            vals[i] = tier.has ? hd_expr_str(tier.code, strlen(tier.code)) : hd_expr_null();
            break;
        case E_MULT: vals[i] = hd_expr_real(tier.multiplier); break;
        case E_CITY: vals[i] = from_json(json_object_get(cust, "city")); break;
        case E_ORDERS: vals[i] = from_json(json_object_get(stats, "orders")); break;
        case E_REVENUE: vals[i] = from_json(json_object_get(stats, "revenue")); break;
        case E_EVENTS: vals[i] = from_json(json_object_get(stats, "events")); break;
        case E_ATTR: vals[i] = from_json(walk(json_object_get(cust, "attributes"), s.arg)); break;
        case E_SPEC: vals[i] = from_json(walk(json_object_get(cust, "specs"), s.arg)); break;
        case E_TAGS: {
            json_t *tags = json_object_get(cust, "tags");
            size_t k, nt = 0;
            json_t *t;
            json_array_foreach(tags, k, t) {
                if (nt < HD_TAGS_MAX) tagv[nt++] = from_json(t);
            }
            vals[i] = hd_expr_array(tagv, nt);
            break;
        }
        case E_POINTS: {
            char name[48];
            snprintf(name, sizeof name, "customer:%lld", (long long)customer_id);
            hd_val p = hd_vtext(name);
            int64_t bal = 0;
            rc = hd_query_int(c,
                              "SELECT credits_posted - debits_posted FROM accounts WHERE name = ?",
                              &p, 1, &bal, err);
            if (rc == HD_ENOTFOUND) {
                hd_err_clear(err);
                rc = HD_OK;
            }
            vals[i] = hd_expr_int(bal);
            break;
        }
        case E_COUNT:
        case E_SUM: {
            int64_t since = s.window_ms ? now - s.window_ms : INT64_MIN, v = 0;
            if (s.kind == E_COUNT) {
                hd_val p[4] = {hd_vint(customer_id), hd_vtext(s.arg), hd_vint(since), hd_vint(now)};
                rc = hd_query_int(c,
                                  "SELECT count(*) FROM events WHERE customer_id = ? AND type = ? "
                                  "AND occurred_at > ? AND occurred_at <= ?",
                                  p, 4, &v, err);
            } else {
                hd_val p[3] = {hd_vint(customer_id), hd_vint(since), hd_vint(now)};
                rc = hd_query_int(c,
                                  "SELECT COALESCE(sum(amount), 0) FROM orders WHERE customer_id "
                                  "= ? AND refunded_at IS NULL AND occurred_at > ? AND "
                                  "occurred_at <= ?",
                                  p, 3, &v, err);
            }
            vals[i] = hd_expr_int(v);
            break;
        }
        }
    }
    if (!rc) {
        bool b = false;
        if (hd_expr_eval_bool(e, n ? vals : NULL, &b, &perr) == HD_OK) *ok = b;
    }
    json_decref(cust);
    hd_expr_free(e);
    return rc;
}
