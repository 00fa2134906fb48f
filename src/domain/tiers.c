/* tiers.c - tier definitions and each member's tier. */
#include "domain/tiers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers.h"
#include "domain/ledger.h"

static const char *const FIELDS[] = {"code",         "name",       "threshold", "multiplier",
                                     "credit_limit", "grace_days", "access",    NULL};

static hd_rc check(const json_t *in, bool create, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, FIELDS, "a tier", err);
    if (rc) return rc;
    const char *code;
    if ((rc = hd_json_str(in, "code", 40, &code, err))) return rc;
    if (create && (!code || !*code))
        return hd_err_set(err, HD_EINVAL, "code", "is required, e.g. \"gold\"");
    json_t *name = json_object_get(in, "name");
    if (create && !name)
        return hd_err_set(err, HD_EINVAL, "name", "is required: {\"zh\": …, \"en\": …}");
    if (name) {
        const char *zh, *en;
        if (!json_is_object(name))
            return hd_err_set(err, HD_EINVAL, "name", "must be {\"zh\", \"en\"}");
        if ((rc = hd_json_str(name, "zh", 40, &zh, err)) ||
            (rc = hd_json_str(name, "en", 40, &en, err))) {
            hd_err_prefix(err, "name", ".");
            return rc;
        }
        if (!zh || !en || !*zh || !*en)
            return hd_err_set(err, HD_EINVAL, "name", "needs both zh and en");
    }
    json_t *t = json_object_get(in, "threshold");
    if ((create || t) && (!json_is_integer(t) || json_integer_value(t) < 0))
        return hd_err_set(err, HD_EINVAL, "threshold",
                          "is required: growth needed, an integer >= 0");
    json_t *m = json_object_get(in, "multiplier");
    if (m && (!json_is_number(m) || json_number_value(m) <= 0 || json_number_value(m) > 100))
        return hd_err_set(err, HD_EINVAL, "multiplier", "must be a number above 0 and at most 100");
    json_t *cl = json_object_get(in, "credit_limit");
    if (cl && !json_is_null(cl) && (!json_is_integer(cl) || json_integer_value(cl) < 0))
        return hd_err_set(err, HD_EINVAL, "credit_limit", "must be an integer >= 0 or null");
    json_t *g = json_object_get(in, "grace_days");
    if (g && (!json_is_integer(g) || json_integer_value(g) < 0 || json_integer_value(g) > 3650))
        return hd_err_set(err, HD_EINVAL, "grace_days", "must be 0 to 3650");
    json_t *acc = json_object_get(in, "access");
    if (acc) {
        if (!json_is_object(acc)) return hd_err_set(err, HD_EINVAL, "access", "must be an object");
        const char *k;
        json_t *v;
        json_object_foreach(acc, k, v) {
            if (strcmp(k, "specials") && strcmp(k, "auctions") && strcmp(k, "trials"))
                return hd_err_set(err, HD_EINVAL, "access",
                                  "'%s' is not specials, auctions or trials", k);
            if (!json_is_boolean(v))
                return hd_err_set(err, HD_EINVAL, "access", "'%s' must be true or false", k);
        }
    }
    return HD_OK;
}

static json_t *tier_json(hd_rows *r) {
    /* id, code, name_zh, name_en, threshold, multiplier_milli, credit_limit,
     * grace_days, access_specials, access_auctions, access_trials */
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    json_object_set_new(o, "code", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(
        o, "name",
        json_pack("{s:s,s:s}", "zh", hd_rows_text(r, 2, NULL), "en", hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "threshold", json_integer(hd_rows_int(r, 4)));
    json_object_set_new(o, "multiplier", json_real((double)hd_rows_int(r, 5) / 1000.0));
    json_object_set_new(o, "credit_limit",
                        hd_rows_isnull(r, 6) ? json_null() : json_integer(hd_rows_int(r, 6)));
    json_object_set_new(o, "grace_days", json_integer(hd_rows_int(r, 7)));
    json_object_set_new(o, "access",
                        json_pack("{s:b,s:b,s:b}", "specials", (int)hd_rows_int(r, 8), "auctions",
                                  (int)hd_rows_int(r, 9), "trials", (int)hd_rows_int(r, 10)));
    return o;
}

#define TIER_COLS                                                                                  \
    "SELECT id, code, name_zh, name_en, threshold, multiplier_milli, credit_limit, grace_days, "   \
    "access_specials, access_auctions, access_trials FROM tiers "

typedef struct tier_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id;
    json_t *out;
} tier_ctx;

static hd_rc load(hd_conn *c, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, TIER_COLS "WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) *out = tier_json(r);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no tier %lld", (long long)id);
    return HD_OK;
}

static int64_t milli(const json_t *m) {
    return m ? (int64_t)llround(json_number_value(m) * 1000.0) : 1000;
}

static hd_rc create_cb(hd_conn *c, void *vctx, hd_err *err) {
    tier_ctx *t = vctx;
    json_decref(t->out);
    t->out = NULL;
    const json_t *in = t->in;
    json_t *name = json_object_get(in, "name"), *acc = json_object_get(in, "access");
    json_t *cl = json_object_get(in, "credit_limit"), *g = json_object_get(in, "grace_days");
    int64_t id = hd_id_next(t->d->ids);
    hd_val p[12] = {hd_vint(id),
                    hd_vtext(json_string_value(json_object_get(in, "code"))),
                    hd_vtext(json_string_value(json_object_get(name, "zh"))),
                    hd_vtext(json_string_value(json_object_get(name, "en"))),
                    hd_vint(json_integer_value(json_object_get(in, "threshold"))),
                    hd_vint(milli(json_object_get(in, "multiplier"))),
                    cl && !json_is_null(cl) ? hd_vint(json_integer_value(cl)) : hd_vnull(),
                    hd_vint(g ? json_integer_value(g) : 30),
                    hd_vbool(json_is_true(json_object_get(acc, "specials"))),
                    hd_vbool(json_is_true(json_object_get(acc, "auctions"))),
                    hd_vbool(json_is_true(json_object_get(acc, "trials"))),
                    hd_vint(hd_now(t->d))};
    hd_rc rc =
        hd_exec(c,
                "INSERT INTO tiers (id, code, name_zh, name_en, threshold, multiplier_milli, "
                "credit_limit, grace_days, access_specials, access_auctions, access_trials, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                p, 12, NULL, err);
    if (rc == HD_ECONFLICT)
        return hd_err_set(err, HD_ECONFLICT, "code", "a tier with this code exists");
    if (rc) return rc;
    return load(c, id, &t->out, err);
}

hd_rc hd_tier_create(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err) {
    hd_rc rc = check(in, true, err);
    if (rc) return rc;
    tier_ctx t = {d, in, 0, NULL};
    rc = hd_store_write(d->store, create_cb, &t, err);
    if (rc) {
        json_decref(t.out);
        return rc;
    }
    *status = 201;
    *out = t.out;
    return HD_OK;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    tier_ctx *t = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c, TIER_COLS "ORDER BY threshold", NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(t->out, tier_json(r));
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_tier_list(hd_domain *d, json_t **out, hd_err *err) {
    tier_ctx t = {d, NULL, 0, json_array()};
    hd_rc rc = hd_store_read(d->store, list_cb, &t, err);
    if (rc) {
        json_decref(t.out);
        return rc;
    }
    *out = json_pack("{s:o}", "data", t.out);
    return HD_OK;
}

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    tier_ctx *t = vctx;
    json_decref(t->out);
    t->out = NULL;
    json_t *cur;
    hd_rc rc = load(c, t->id, &cur, err);
    if (rc) return rc;
    const json_t *in = t->in;
    json_t *v;
    if ((v = json_object_get(in, "name"))) json_object_set(cur, "name", v);
    if ((v = json_object_get(in, "code"))) json_object_set(cur, "code", v);
    if ((v = json_object_get(in, "threshold"))) json_object_set(cur, "threshold", v);
    if ((v = json_object_get(in, "multiplier"))) json_object_set(cur, "multiplier", v);
    if ((v = json_object_get(in, "credit_limit"))) json_object_set(cur, "credit_limit", v);
    if ((v = json_object_get(in, "grace_days"))) json_object_set(cur, "grace_days", v);
    if ((v = json_object_get(in, "access"))) json_object_update(json_object_get(cur, "access"), v);
    json_t *name = json_object_get(cur, "name"), *acc = json_object_get(cur, "access");
    json_t *cl = json_object_get(cur, "credit_limit");
    hd_val p[11] = {hd_vtext(json_string_value(json_object_get(cur, "code"))),
                    hd_vtext(json_string_value(json_object_get(name, "zh"))),
                    hd_vtext(json_string_value(json_object_get(name, "en"))),
                    hd_vint(json_integer_value(json_object_get(cur, "threshold"))),
                    hd_vint(milli(json_object_get(cur, "multiplier"))),
                    json_is_null(cl) ? hd_vnull() : hd_vint(json_integer_value(cl)),
                    hd_vint(json_integer_value(json_object_get(cur, "grace_days"))),
                    hd_vbool(json_is_true(json_object_get(acc, "specials"))),
                    hd_vbool(json_is_true(json_object_get(acc, "auctions"))),
                    hd_vbool(json_is_true(json_object_get(acc, "trials"))),
                    hd_vint(t->id)};
    rc = hd_exec(c,
                 "UPDATE tiers SET code = ?, name_zh = ?, name_en = ?, threshold = ?, "
                 "multiplier_milli = ?, credit_limit = ?, grace_days = ?, access_specials = ?, "
                 "access_auctions = ?, access_trials = ? WHERE id = ?",
                 p, 11, NULL, err);
    json_decref(cur);
    if (rc == HD_ECONFLICT)
        return hd_err_set(err, HD_ECONFLICT, "code", "a tier with this code exists");
    if (rc) return rc;
    return load(c, t->id, &t->out, err);
}

hd_rc hd_tier_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    hd_rc rc = check(in, false, err);
    if (rc) return rc;
    tier_ctx t = {d, in, id, NULL};
    rc = hd_store_write(d->store, patch_cb, &t, err);
    if (rc) {
        json_decref(t.out);
        return rc;
    }
    *out = t.out;
    return HD_OK;
}

/* ---- members ---- */

hd_rc hd_tier_of_in(hd_conn *c, int64_t customer_id, hd_tier_info *out, hd_err *err) {
    memset(out, 0, sizeof *out);
    out->multiplier = 1.0;
    hd_val p = hd_vint(customer_id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT t.id, t.code, t.multiplier_milli, t.access_specials, "
                        "t.access_auctions, t.access_trials FROM customer_tiers ct JOIN tiers t ON "
                        "t.id = ct.tier_id WHERE ct.customer_id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        out->has = true;
        out->id = hd_rows_int(r, 0);
        snprintf(out->code, sizeof out->code, "%s", hd_rows_text(r, 1, NULL));
        out->multiplier = (double)hd_rows_int(r, 2) / 1000.0;
        out->access_specials = hd_rows_int(r, 3);
        out->access_auctions = hd_rows_int(r, 4);
        out->access_trials = hd_rows_int(r, 5);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_tier_window_growth_in(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t *out,
                               hd_err *err) {
    *out = 0;
    char name[64];
    snprintf(name, sizeof name, "customer:%lld:growth", (long long)customer_id);
    hd_val n = hd_vtext(name);
    int64_t acc;
    hd_rc rc = hd_query_int(c, "SELECT id FROM accounts WHERE name = ?", &n, 1, &acc, err);
    if (rc == HD_ENOTFOUND) {
        hd_err_clear(err);
        return HD_OK;
    }
    if (rc) return rc;
    hd_program prog;
    if ((rc = hd_program_load_in(c, &prog, err))) return rc;
    int64_t since = hd_now(d) - (int64_t)prog.tier_window_months * 30 * 86400000LL;
    hd_val p[5] = {hd_vint(acc), hd_vint(acc), hd_vint(acc), hd_vint(since), hd_vint(hd_now(d))};
    return hd_query_int(
        c,
        "SELECT COALESCE(sum(CASE WHEN credit_id = ? THEN amount ELSE -amount END), 0) "
        "FROM transfers WHERE (credit_id = ? OR debit_id = ?) AND status = 'posted' "
        "AND created_at > ? AND created_at <= ?",
        p, 5, out, err);
}

typedef struct tier_row {
    int64_t id, threshold, grace_days;
    bool has_limit;
    int64_t credit_limit;
    char code[64];
} tier_row;

static hd_rc best_tier(hd_conn *c, int64_t growth, tier_row *t, bool *found, hd_err *err) {
    hd_val p = hd_vint(growth);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id, threshold, grace_days, credit_limit, code FROM tiers WHERE "
                        "threshold <= ? ORDER BY threshold DESC LIMIT 1",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    *found = got == 1;
    if (got == 1) {
        t->id = hd_rows_int(r, 0);
        t->threshold = hd_rows_int(r, 1);
        t->grace_days = hd_rows_int(r, 2);
        t->has_limit = !hd_rows_isnull(r, 3);
        t->credit_limit = hd_rows_int(r, 3);
        snprintf(t->code, sizeof t->code, "%s", hd_rows_text(r, 4, NULL));
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc tier_by_id(hd_conn *c, int64_t id, tier_row *t, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT id, threshold, grace_days, credit_limit, code FROM tiers WHERE id = ?",
                 &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        t->id = hd_rows_int(r, 0);
        t->threshold = hd_rows_int(r, 1);
        t->grace_days = hd_rows_int(r, 2);
        t->has_limit = !hd_rows_isnull(r, 3);
        t->credit_limit = hd_rows_int(r, 3);
        snprintf(t->code, sizeof t->code, "%s", hd_rows_text(r, 4, NULL));
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "tier", "no tier %lld", (long long)id);
    return HD_OK;
}

static hd_rc move_to(hd_conn *c, hd_domain *d, int64_t cid, const tier_row *from,
                     const tier_row *to, const char *reason, hd_err *err) {
    int64_t now = hd_now(d);
    hd_val del = hd_vint(cid);
    hd_rc rc = hd_exec(c, "DELETE FROM customer_tiers WHERE customer_id = ?", &del, 1, NULL, err);
    if (rc) return rc;
    if (to) {
        hd_val p[3] = {hd_vint(cid), hd_vint(to->id), hd_vint(now)};
        if ((rc = hd_exec(
                 c, "INSERT INTO customer_tiers (customer_id, tier_id, since) VALUES (?, ?, ?)", p,
                 3, NULL, err)))
            return rc;
        if (to->has_limit && (rc = hd_ledger_set_limit_in(c, d, cid, to->credit_limit, err)))
            return rc;
    }
    hd_val h[6] = {hd_vint(cid),
                   hd_vint(hd_id_next(d->ids)),
                   from ? hd_vtext(from->code) : hd_vnull(),
                   to ? hd_vtext(to->code) : hd_vnull(),
                   hd_vtext(reason),
                   hd_vint(now)};
    return hd_exec(
        c,
        "INSERT INTO tier_history (customer_id, id, from_tier, to_tier, reason, at) VALUES "
        "(?, ?, ?, ?, ?, ?)",
        h, 6, NULL, err);
}

hd_rc hd_tier_evaluate_in(hd_conn *c, hd_domain *d, int64_t customer_id, hd_err *err) {
    int64_t growth;
    hd_rc rc = hd_tier_window_growth_in(c, d, customer_id, &growth, err);
    if (rc) return rc;
    tier_row target = {0}, cur = {0};
    bool has_target;
    if ((rc = best_tier(c, growth, &target, &has_target, err))) return rc;
    hd_val p = hd_vint(customer_id);
    hd_rows *r;
    if ((rc = hd_query(c, "SELECT tier_id, below_since FROM customer_tiers WHERE customer_id = ?",
                       &p, 1, &r, err)))
        return rc;
    int got = hd_rows_next(r, err);
    int64_t cur_id = 0, below_since = 0;
    bool below = false;
    if (got == 1) {
        cur_id = hd_rows_int(r, 0);
        below = !hd_rows_isnull(r, 1);
        below_since = hd_rows_int(r, 1);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (!cur_id)
        return has_target ? move_to(c, d, customer_id, NULL, &target, "upgrade", err) : HD_OK;
    if ((rc = tier_by_id(c, cur_id, &cur, err))) return rc;
    int64_t now = hd_now(d);
    if (has_target && target.threshold > cur.threshold)
        return move_to(c, d, customer_id, &cur, &target, "upgrade", err);
    if (has_target && target.id == cur.id) {
        if (!below) return HD_OK;
        return hd_exec(c, "UPDATE customer_tiers SET below_since = NULL WHERE customer_id = ?", &p,
                       1, NULL, err);
    }
    /* below the current tier: a grace period before the downgrade */
    if (!below) {
        hd_val q[2] = {hd_vint(now), hd_vint(customer_id)};
        return hd_exec(c, "UPDATE customer_tiers SET below_since = ? WHERE customer_id = ?", q, 2,
                       NULL, err);
    }
    if (now - below_since < cur.grace_days * 86400000LL) return HD_OK;
    return move_to(c, d, customer_id, &cur, has_target ? &target : NULL, "downgrade after grace",
                   err);
}

typedef struct job_ctx {
    hd_domain *d;
    int64_t after;
    int n;
} job_ctx;

static hd_rc job_cb(hd_conn *c, void *vctx, hd_err *err) {
    job_ctx *j = vctx;
    hd_val p = hd_vint(j->after);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id FROM customer_tiers WHERE customer_id > ? ORDER BY "
                        "customer_id LIMIT 500",
                        &p, 1, &r, err);
    if (rc) return rc;
    int64_t ids[500];
    int got;
    j->n = 0;
    while ((got = hd_rows_next(r, err)) == 1 && j->n < 500) ids[j->n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < j->n; i++)
        if ((rc = hd_tier_evaluate_in(c, j->d, ids[i], err))) return rc;
    if (j->n) j->after = ids[j->n - 1];
    return HD_OK;
}

hd_rc hd_tier_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)now_ms;
    (void)arg;
    job_ctx j = {d, 0, 0};
    do {
        hd_rc rc = hd_store_write(d->store, job_cb, &j, err);
        if (rc) return rc;
    } while (j.n == 500);
    return HD_OK;
}

typedef struct cust_ctx {
    hd_domain *d;
    int64_t id;
    json_t *out;
} cust_ctx;

static hd_rc cust_cb(hd_conn *c, void *vctx, hd_err *err) {
    cust_ctx *cc = vctx;
    int64_t live;
    hd_rc rc = hd_customer_follow(c, cc->id, &live, err);
    if (rc) return rc;
    int64_t growth;
    if ((rc = hd_tier_window_growth_in(c, cc->d, live, &growth, err))) return rc;
    json_t *o = json_object();
    cc->out = o;
    hd_json_set_id(o, "customer_id", live);
    json_object_set_new(o, "window_growth", json_integer(growth));
    hd_val p = hd_vint(live);
    hd_rows *r;
    if ((rc =
             hd_query(c,
                      "SELECT t.id, t.code, t.name_zh, t.name_en, t.threshold, t.multiplier_milli, "
                      "t.credit_limit, t.grace_days, t.access_specials, t.access_auctions, "
                      "t.access_trials, ct.since, ct.below_since FROM customer_tiers ct JOIN tiers "
                      "t ON t.id = ct.tier_id WHERE ct.customer_id = ?",
                      &p, 1, &r, err)))
        return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        json_t *t = tier_json(r);
        hd_json_set_time(t, "since", hd_rows_int(r, 11), true);
        hd_json_set_time(t, "below_threshold_since", hd_rows_int(r, 12), !hd_rows_isnull(r, 12));
        json_object_set_new(o, "tier", t);
    } else {
        json_object_set_new(o, "tier", json_null());
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    json_t *hist = json_array();
    json_object_set_new(o, "history", hist);
    if ((rc =
             hd_query(c,
                      "SELECT from_tier, to_tier, reason, at FROM tier_history WHERE customer_id = "
                      "? ORDER BY at DESC, id DESC LIMIT 50",
                      &p, 1, &r, err)))
        return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *h = json_object();
        json_object_set_new(
            h, "from", hd_rows_isnull(r, 0) ? json_null() : json_string(hd_rows_text(r, 0, NULL)));
        json_object_set_new(
            h, "to", hd_rows_isnull(r, 1) ? json_null() : json_string(hd_rows_text(r, 1, NULL)));
        json_object_set_new(h, "reason", json_string(hd_rows_text(r, 2, NULL)));
        hd_json_set_time(h, "at", hd_rows_int(r, 3), true);
        json_array_append_new(hist, h);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_tier_customer(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err) {
    cust_ctx cc = {d, customer_id, NULL};
    hd_rc rc = hd_store_read(d->store, cust_cb, &cc, err);
    if (rc) {
        json_decref(cc.out);
        return rc;
    }
    *out = cc.out;
    return HD_OK;
}
