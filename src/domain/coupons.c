/* coupons.c - coupon templates, unguessable codes issued in bulk, claim by
 * click for live launches (exactly the quantity however many race: a
 * conditional UPDATE on the template's counter and one on the customer's
 * holding), redeem once per order reference, restore on refund, and the
 * daily report. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog_int.h"
#include "domain/customers.h"
#include "expr/expr.h"

/* 31 characters: no 0/O, 1/I/L, so a code read aloud or typed is unambiguous. */
static const char ALPHABET[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
#define ALPHABET_N 31

/* randombytes_uniform: unbiased, from the OS CSPRNG. sodium_init (idempotent,
 * thread-safe, a lock and a flag once done) makes the generator safe to use
 * from many threads; nothing else in the tree calls it yet. */
static bool code_new(char out[HD_COUPON_CODE_LEN + 1]) {
    if (sodium_init() < 0) return false;
    for (int i = 0; i < HD_COUPON_CODE_LEN; i++) out[i] = ALPHABET[randombytes_uniform(ALPHABET_N)];
    out[HD_COUPON_CODE_LEN] = '\0';
    return true;
}

/* Upper-cases and drops spaces and dashes; false when what is left is not a
 * code this module could have made. */
static bool code_norm(const char *in, char out[HD_COUPON_CODE_LEN + 1]) {
    size_t n = 0;
    for (const char *p = in; p && *p; p++) {
        char ch = *p;
        if (ch == ' ' || ch == '-') continue;
        if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
        if (!strchr(ALPHABET, ch) || n >= HD_COUPON_CODE_LEN) return false;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n == HD_COUPON_CODE_LEN;
}

/* ---- templates ---- */

typedef struct tmpl {
    int64_t id;
    char kind[8];
    int64_t amount_off, percent_off, max_discount, min_spend;
    bool has_max, has_from, has_to, has_days, has_cs, has_ce, has_per, has_qty, active;
    int64_t valid_from, valid_to, valid_days, claim_starts, claim_ends, per_customer, quantity,
        given;
    char *segment; /* owned */
} tmpl;

/* The last column, coupons redeemed, counts rows: only what is shown needs
 * it; claims and redemptions load the template without it (TMPL_RAW_COLS),
 * or each would scan every coupon the template ever gave. */
#define TMPL_COLS_(redeemed)                                                                       \
    "SELECT id, name_zh, name_en, kind, amount_off, percent_off, max_discount, min_spend, "        \
    "valid_from, valid_to, valid_days, claim_starts_at, claim_ends_at, per_customer, quantity, "   \
    "given, segment, active, created_at, updated_at, " redeemed " FROM coupon_templates "
#define TMPL_COLS                                                                                  \
    TMPL_COLS_("(SELECT count(*) FROM coupons c WHERE c.template_id = coupon_templates.id AND "    \
               "c.status = 'redeemed')")
#define TMPL_RAW_COLS TMPL_COLS_("0")

static void tmpl_read(hd_rows *r, tmpl *t) {
    t->id = hd_rows_int(r, 0);
    snprintf(t->kind, sizeof t->kind, "%s", hd_rows_text(r, 3, NULL));
    t->amount_off = hd_rows_int(r, 4);
    t->percent_off = hd_rows_int(r, 5);
    t->has_max = !hd_rows_isnull(r, 6);
    t->max_discount = hd_rows_int(r, 6);
    t->min_spend = hd_rows_int(r, 7);
    t->has_from = !hd_rows_isnull(r, 8);
    t->valid_from = hd_rows_int(r, 8);
    t->has_to = !hd_rows_isnull(r, 9);
    t->valid_to = hd_rows_int(r, 9);
    t->has_days = !hd_rows_isnull(r, 10);
    t->valid_days = hd_rows_int(r, 10);
    t->has_cs = !hd_rows_isnull(r, 11);
    t->claim_starts = hd_rows_int(r, 11);
    t->has_ce = !hd_rows_isnull(r, 12);
    t->claim_ends = hd_rows_int(r, 12);
    t->has_per = !hd_rows_isnull(r, 13);
    t->per_customer = hd_rows_int(r, 13);
    t->has_qty = !hd_rows_isnull(r, 14);
    t->quantity = hd_rows_int(r, 14);
    t->given = hd_rows_int(r, 15);
    t->segment = strdup(hd_rows_text(r, 16, NULL));
    t->active = hd_rows_int(r, 17) != 0;
}

static void tmpl_free(tmpl *t) {
    free(t->segment);
    t->segment = NULL;
}

static json_t *tmpl_json(hd_rows *r) {
    tmpl t;
    tmpl_read(r, &t);
    json_t *o = json_object();
    hd_json_set_id(o, "id", t.id);
    json_object_set_new(o, "name", cat_names(hd_rows_text(r, 1, NULL), hd_rows_text(r, 2, NULL)));
    json_t *disc = json_object();
    json_object_set_new(disc, "type", json_string(t.kind));
    if (strcmp(t.kind, "amount") == 0) {
        json_object_set_new(disc, "amount", json_integer(t.amount_off));
    } else {
        json_object_set_new(disc, "percent", json_integer(t.percent_off));
        json_object_set_new(disc, "max", t.has_max ? json_integer(t.max_discount) : json_null());
    }
    json_object_set_new(o, "discount", disc);
    json_object_set_new(o, "min_spend", json_integer(t.min_spend));
    json_t *val = json_object();
    if (t.has_days) {
        json_object_set_new(val, "days", json_integer(t.valid_days));
    } else {
        hd_json_set_time(val, "from", t.valid_from, t.has_from);
        hd_json_set_time(val, "to", t.valid_to, t.has_to);
    }
    json_object_set_new(o, "validity", val);
    json_t *cl = json_object();
    hd_json_set_time(cl, "starts_at", t.claim_starts, t.has_cs);
    hd_json_set_time(cl, "ends_at", t.claim_ends, t.has_ce);
    json_object_set_new(o, "claim", cl);
    json_object_set_new(o, "per_customer", cat_opt_int(r, 13));
    json_object_set_new(o, "quantity", cat_opt_int(r, 14));
    json_object_set_new(o, "given", json_integer(t.given));
    json_object_set_new(o, "remaining",
                        t.has_qty ? json_integer(t.quantity > t.given ? t.quantity - t.given : 0)
                                  : json_null());
    json_object_set_new(o, "redeemed", json_integer(hd_rows_int(r, 20)));
    json_object_set_new(o, "segment", json_string(t.segment ? t.segment : ""));
    json_object_set_new(o, "active", json_boolean(t.active));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 18), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 19), true);
    tmpl_free(&t);
    return o;
}

static hd_rc tmpl_load(hd_conn *c, int64_t id, const char *field, json_t **out, tmpl *raw,
                       hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, out ? TMPL_COLS "WHERE id = ?" : TMPL_RAW_COLS "WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        if (out) *out = tmpl_json(r);
        if (raw) tmpl_read(r, raw);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return hd_err_set(err, strcmp(field, "id") ? HD_EINVAL : HD_ENOTFOUND, field,
                          "no coupon template %lld", (long long)id);
    return HD_OK;
}

static const char *const TMPL_FIELDS[] = {
    "name",         "discount", "min_spend", "validity", "claim",
    "per_customer", "quantity", "segment",   "active",   NULL};

static hd_rc check_tmpl(const json_t *in, const hd_clock *cal, bool create, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, TMPL_FIELDS, "a coupon template", err);
    if (rc) return rc;
    const char *zh, *en, *seg;
    if ((rc = cat_parse_names(in, "name", create, CAT_NAME_MAX, &zh, &en, err))) return rc;
    json_t *disc = json_object_get(in, "discount");
    if (create && !disc)
        return hd_err_set(err, HD_EINVAL, "discount",
                          "is required: {\"type\": \"amount\", \"amount\": fen} or {\"type\": "
                          "\"percent\", \"percent\": 15, \"max\": fen}");
    if (disc) {
        static const char *const F[] = {"type", "amount", "percent", "max", NULL};
        if (!json_is_object(disc))
            return hd_err_set(err, HD_EINVAL, "discount", "must be an object");
        if ((rc = hd_json_only(disc, F, "discount", err))) {
            hd_err_prefix(err, "discount", ".");
            return rc;
        }
        const char *type = json_string_value(json_object_get(disc, "type"));
        json_t *amt = json_object_get(disc, "amount"), *pct = json_object_get(disc, "percent"),
               *max = json_object_get(disc, "max");
        if (!type || (strcmp(type, "amount") && strcmp(type, "percent")))
            return hd_err_set(err, HD_EINVAL, "discount.type", "must be amount or percent");
        if (strcmp(type, "amount") == 0) {
            if (!json_is_integer(amt) || json_integer_value(amt) < 1 ||
                json_integer_value(amt) > 10000000000LL)
                return hd_err_set(err, HD_EINVAL, "discount.amount",
                                  "is required: fen off, from 1 to 10000000000");
            if (pct || max)
                return hd_err_set(err, HD_EINVAL, pct ? "discount.percent" : "discount.max",
                                  "is for percent discounts");
        } else {
            if (!json_is_integer(pct) || json_integer_value(pct) < 1 ||
                json_integer_value(pct) > 100)
                return hd_err_set(err, HD_EINVAL, "discount.percent",
                                  "is required: percent off, from 1 to 100");
            if (max && !json_is_null(max) && (!json_is_integer(max) || json_integer_value(max) < 1))
                return hd_err_set(err, HD_EINVAL, "discount.max",
                                  "must be a cap in fen >= 1, or null");
            if (amt)
                return hd_err_set(err, HD_EINVAL, "discount.amount", "is for amount discounts");
        }
    }
    bool present, is_null;
    int64_t v;
    if ((rc = cat_json_nint(in, "min_spend", 0, 10000000000LL, &present, &is_null, &v, err)))
        return rc;
    json_t *val = json_object_get(in, "validity");
    if (create && !val)
        return hd_err_set(err, HD_EINVAL, "validity",
                          "is required: {\"from\": time, \"to\": time} or {\"days\": N}");
    if (val) {
        static const char *const F[] = {"from", "to", "days", NULL};
        if (!json_is_object(val))
            return hd_err_set(err, HD_EINVAL, "validity", "must be an object");
        if ((rc = hd_json_only(val, F, "validity", err))) {
            hd_err_prefix(err, "validity", ".");
            return rc;
        }
        int64_t f = 0, t = 0;
        bool hf, ht;
        if ((rc = hd_json_time(val, "from", cal, &hf, &f, err)) ||
            (rc = hd_json_time(val, "to", cal, &ht, &t, err))) {
            hd_err_prefix(err, "validity", ".");
            return rc;
        }
        json_t *days = json_object_get(val, "days");
        if (days && (hf || ht))
            return hd_err_set(err, HD_EINVAL, "validity.days",
                              "give either days from claim or fixed from/to dates, not both");
        if (days && (!json_is_integer(days) || json_integer_value(days) < 1 ||
                     json_integer_value(days) > 3650))
            return hd_err_set(err, HD_EINVAL, "validity.days", "must be from 1 to 3650");
        if (!days && !ht)
            return hd_err_set(err, HD_EINVAL, "validity.to",
                              "is required (or give validity.days instead)");
        if (hf && ht && t <= f)
            return hd_err_set(err, HD_EINVAL, "validity.to", "must be after from");
    }
    json_t *cl = json_object_get(in, "claim");
    if (cl && !json_is_null(cl)) {
        static const char *const F[] = {"starts_at", "ends_at", NULL};
        if (!json_is_object(cl)) return hd_err_set(err, HD_EINVAL, "claim", "must be an object");
        int64_t s = 0, e = 0;
        bool hs, he;
        if ((rc = hd_json_only(cl, F, "claim", err)) ||
            (rc = hd_json_time(cl, "starts_at", cal, &hs, &s, err)) ||
            (rc = hd_json_time(cl, "ends_at", cal, &he, &e, err))) {
            hd_err_prefix(err, "claim", ".");
            return rc;
        }
        if (hs && he && e <= s)
            return hd_err_set(err, HD_EINVAL, "claim.ends_at", "must be after starts_at");
    }
    if ((rc = cat_json_nint(in, "per_customer", 1, 1000000, &present, &is_null, &v, err)))
        return rc;
    if ((rc = cat_json_nint(in, "quantity", 1, 1000000000, &present, &is_null, &v, err))) return rc;
    if ((rc = hd_json_str(in, "segment", HD_EXPR_SRC_MAX, &seg, err))) return rc;
    if (seg && (rc = hd_catalog_check_expr(seg, "segment", err))) return rc;
    json_t *a = json_object_get(in, "active");
    if (a && !json_is_boolean(a))
        return hd_err_set(err, HD_EINVAL, "active", "must be true or false");
    return HD_OK;
}

static hd_rc tmpl_save(hd_conn *c, hd_domain *d, int64_t id, const json_t *t, bool insert,
                       hd_err *err) {
    json_t *name = json_object_get(t, "name"), *disc = json_object_get(t, "discount"),
           *val = json_object_get(t, "validity"), *cl = json_object_get(t, "claim");
    const char *kind = json_string_value(json_object_get(disc, "type"));
    bool amount = strcmp(kind, "amount") == 0;
    json_t *max = json_object_get(disc, "max"), *days = json_object_get(val, "days");
    json_t *ms = json_object_get(t, "min_spend"), *per = json_object_get(t, "per_customer"),
           *qty = json_object_get(t, "quantity"), *act = json_object_get(t, "active");
    int64_t vf = 0, vt = 0, cs = 0, ce = 0;
    bool hvf = false, hvt = false, hcs = false, hce = false;
    if (!days) {
        hd_json_time(val, "from", d->clock, &hvf, &vf, NULL);
        hd_json_time(val, "to", d->clock, &hvt, &vt, NULL);
    }
    hd_json_time(cl, "starts_at", d->clock, &hcs, &cs, NULL);
    hd_json_time(cl, "ends_at", d->clock, &hce, &ce, NULL);
    const char *zh = json_string_value(json_object_get(name, "zh"));
    const char *en = json_string_value(json_object_get(name, "en"));
    const char *seg = json_string_value(json_object_get(t, "segment"));
    if (!insert && json_is_integer(qty)) {
        hd_val p = hd_vint(id);
        int64_t given;
        hd_rc rc =
            hd_query_int(c, "SELECT given FROM coupon_templates WHERE id = ?", &p, 1, &given, err);
        if (rc) return rc;
        if (json_integer_value(qty) < given)
            return hd_err_set(err, HD_EINVAL, "quantity",
                              "must be at least the %lld coupons already given", (long long)given);
    }
    int64_t now = hd_now(d);
    hd_val p[20] = {hd_vtext(zh ? zh : ""),
                    hd_vtext(en ? en : ""),
                    hd_vtext(kind),
                    hd_vint(amount ? json_integer_value(json_object_get(disc, "amount")) : 0),
                    hd_vint(amount ? 0 : json_integer_value(json_object_get(disc, "percent"))),
                    !amount && json_is_integer(max) ? hd_vint(json_integer_value(max)) : hd_vnull(),
                    hd_vint(json_is_integer(ms) ? json_integer_value(ms) : 0),
                    hvf ? hd_vint(vf) : hd_vnull(),
                    hvt ? hd_vint(vt) : hd_vnull(),
                    json_is_integer(days) ? hd_vint(json_integer_value(days)) : hd_vnull(),
                    hcs ? hd_vint(cs) : hd_vnull(),
                    hce ? hd_vint(ce) : hd_vnull(),
                    json_is_integer(per) ? hd_vint(json_integer_value(per)) : hd_vnull(),
                    json_is_integer(qty) ? hd_vint(json_integer_value(qty)) : hd_vnull(),
                    hd_vtext(seg ? seg : ""),
                    hd_vbool(act ? json_is_true(act) : true),
                    hd_vint(now),
                    hd_vint(id),
                    hd_vint(now)};
    if (insert)
        return hd_exec(c,
                       "INSERT INTO coupon_templates (name_zh, name_en, kind, amount_off, "
                       "percent_off, max_discount, min_spend, valid_from, valid_to, valid_days, "
                       "claim_starts_at, claim_ends_at, per_customer, quantity, segment, active, "
                       "updated_at, id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                       "?, ?, ?, ?, ?, ?, ?)",
                       p, 19, NULL, err);
    return hd_exec(c,
                   "UPDATE coupon_templates SET name_zh = ?1, name_en = ?2, kind = ?3, amount_off "
                   "= ?4, percent_off = ?5, max_discount = ?6, min_spend = ?7, valid_from = ?8, "
                   "valid_to = ?9, valid_days = ?10, claim_starts_at = ?11, claim_ends_at = ?12, "
                   "per_customer = ?13, quantity = ?14, segment = ?15, active = ?16, updated_at "
                   "= ?17 WHERE id = ?18",
                   p, 18, NULL, err);
}

typedef struct cp_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id;
    const char *code;
    json_t *out;
    /* report */
    int64_t from, to;
} cp_ctx;

static hd_rc tmpl_create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    cp_ctx *cx = vctx;
    int64_t id = hd_id_next(cx->d->ids);
    hd_rc rc = tmpl_save(c, cx->d, id, cx->in, true, err);
    if (rc) return rc;
    *status = 201;
    return tmpl_load(c, id, "id", body, NULL, err);
}

hd_rc hd_coupon_template_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                                json_t **out, bool *replayed, hd_err *err) {
    hd_rc rc = check_tmpl(in, d->clock, true, err);
    if (rc) return rc;
    cp_ctx cx = {d, in, 0, NULL, NULL, 0, 0};
    return hd_idem_write(d, im, tmpl_create_cb, &cx, status, out, replayed, err);
}

static hd_rc tmpl_patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    cp_ctx *cx = vctx;
    json_decref(cx->out);
    cx->out = NULL;
    json_t *cur = NULL;
    hd_rc rc = tmpl_load(c, cx->id, "id", &cur, NULL, err);
    if (rc) return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)cx->in, k, v) {
        if (strcmp(k, "name") == 0 && json_is_object(json_object_get(cur, "name")))
            json_object_update(json_object_get(cur, "name"), v);
        else
            json_object_set(cur, k, v);
    }
    rc = tmpl_save(c, cx->d, cx->id, cur, false, err);
    json_decref(cur);
    if (rc) return rc;
    return tmpl_load(c, cx->id, "id", &cx->out, NULL, err);
}

hd_rc hd_coupon_template_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out,
                               hd_err *err) {
    hd_rc rc = check_tmpl(in, d->clock, false, err);
    if (rc) return rc;
    cp_ctx cx = {d, in, id, NULL, NULL, 0, 0};
    rc = hd_store_write(d->store, tmpl_patch_cb, &cx, err);
    if (rc) {
        json_decref(cx.out);
        return rc;
    }
    *out = cx.out;
    return HD_OK;
}

static hd_rc tmpl_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    cp_ctx *cx = vctx;
    return tmpl_load(c, cx->id, "id", &cx->out, NULL, err);
}

hd_rc hd_coupon_template_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    cp_ctx cx = {d, NULL, id, NULL, NULL, 0, 0};
    hd_rc rc = hd_store_read(d->store, tmpl_get_cb, &cx, err);
    if (rc) {
        json_decref(cx.out);
        return rc;
    }
    *out = cx.out;
    return HD_OK;
}

static hd_rc tmpl_list_cb(hd_conn *c, void *vctx, hd_err *err) {
    cp_ctx *cx = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c, TMPL_COLS "ORDER BY id DESC LIMIT 1000", NULL, 0, &r, err);
    if (rc) return rc;
    json_t *data = json_array();
    int got;
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(data, tmpl_json(r));
    hd_rows_free(r);
    if (got < 0) {
        json_decref(data);
        return err->rc;
    }
    cx->out = json_pack("{s:o}", "data", data);
    return HD_OK;
}

hd_rc hd_coupon_template_list(hd_domain *d, json_t **out, hd_err *err) {
    cp_ctx cx = {d, NULL, 0, NULL, NULL, 0, 0};
    hd_rc rc = hd_store_read(d->store, tmpl_list_cb, &cx, err);
    if (rc) {
        json_decref(cx.out);
        return rc;
    }
    *out = cx.out;
    return HD_OK;
}

/* ---- coupons ---- */

#define COUPON_COLS                                                                                \
    "SELECT code, template_id, customer_id, origin, status, valid_from, valid_to, order_ref, "     \
    "discount, redeemed_at, created_at, redeemed_by, redeemed_amount, restored_at FROM coupons "

static json_t *coupon_json(hd_rows *r, int64_t now) {
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(hd_rows_text(r, 0, NULL)));
    hd_json_set_id(o, "template_id", hd_rows_int(r, 1));
    if (hd_rows_isnull(r, 2))
        json_object_set_new(o, "customer_id", json_null());
    else
        hd_json_set_id(o, "customer_id", hd_rows_int(r, 2));
    json_object_set_new(o, "origin", json_string(hd_rows_text(r, 3, NULL)));
    const char *st = hd_rows_text(r, 4, NULL);
    bool expired =
        strcmp(st, "available") == 0 && !hd_rows_isnull(r, 6) && now >= hd_rows_int(r, 6);
    json_object_set_new(o, "status", json_string(expired ? "expired" : st));
    hd_json_set_time(o, "valid_from", hd_rows_int(r, 5), !hd_rows_isnull(r, 5));
    hd_json_set_time(o, "valid_to", hd_rows_int(r, 6), !hd_rows_isnull(r, 6));
    json_object_set_new(o, "order_ref",
                        hd_rows_isnull(r, 7) ? json_null() : json_string(hd_rows_text(r, 7, NULL)));
    json_object_set_new(o, "discount", cat_opt_int(r, 8));
    hd_json_set_time(o, "redeemed_at", hd_rows_int(r, 9), !hd_rows_isnull(r, 9));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 10), true);
    if (hd_rows_isnull(r, 11))
        json_object_set_new(o, "redeemed_by", json_null());
    else
        hd_json_set_id(o, "redeemed_by", hd_rows_int(r, 11));
    json_object_set_new(o, "redeemed_amount", cat_opt_int(r, 12));
    hd_json_set_time(o, "restored_at", hd_rows_int(r, 13), !hd_rows_isnull(r, 13));
    return o;
}

static hd_rc coupon_load(hd_conn *c, const char *code, int64_t now, json_t **out, hd_err *err) {
    hd_val p = hd_vtext(code);
    hd_rows *r;
    hd_rc rc = hd_query(c, COUPON_COLS "WHERE code = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) *out = coupon_json(r, now);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "code", "no coupon %s", code);
    return HD_OK;
}

/* Gives n coupons of t to customer_id (0: bearer codes), appending each to
 * coupons (may be NULL) and the first code to first. The customer's holding
 * goes up first, then the template's counter: every path takes those two
 * rows in that order, so they cannot deadlock. */
static hd_rc give(hd_conn *c, hd_domain *d, const tmpl *t, int64_t customer_id, int64_t n,
                  const char *origin, const char *origin_ref, json_t *coupons,
                  char first[HD_COUPON_CODE_LEN + 1], hd_err *err) {
    int64_t now = hd_now(d), changed = 0;
    hd_rc rc;
    if (!t->active)
        return hd_err_set(err, HD_ESTATE, "active", "coupon template %lld is not active",
                          (long long)t->id);
    if (t->has_to && now >= t->valid_to) {
        char ts[32];
        hd_time_format(t->valid_to, ts);
        return hd_err_set(err, HD_ESTATE, "window", "coupon template %lld was valid until %s",
                          (long long)t->id, ts);
    }
    /* a cheap early no for the thousands who click after the last one went;
     * the conditional UPDATE at the end is what really guards the quantity */
    if (t->has_qty && t->given + n > t->quantity)
        return hd_err_set(
            err, HD_ESTATE, "quantity", "coupon template %lld has %lld coupons left, %lld wanted",
            (long long)t->id, (long long)(t->quantity > t->given ? t->quantity - t->given : 0),
            (long long)n);
    if (customer_id) {
        bool ok = false;
        for (int attempt = 0; attempt < 2 && !ok; attempt++) {
            hd_val p[4] = {hd_vint(n), hd_vint(customer_id), hd_vint(t->id),
                           hd_vint(t->has_per ? t->per_customer - n : INT64_MAX)};
            if ((rc = hd_exec(c,
                              "UPDATE coupon_holders SET n = n + ? WHERE customer_id = ? AND "
                              "template_id = ? AND n <= ?",
                              p, 4, &changed, err)))
                return rc;
            if (changed) {
                ok = true;
                break;
            }
            if (t->has_per && n > t->per_customer) break;
            hd_val q[3] = {hd_vint(customer_id), hd_vint(t->id), hd_vint(n)};
            if ((rc = hd_exec(c,
                              "INSERT INTO coupon_holders (customer_id, template_id, n) VALUES "
                              "(?, ?, ?) ON CONFLICT DO NOTHING",
                              q, 3, &changed, err)))
                return rc;
            if (changed) ok = true;
        }
        if (!ok)
            return hd_err_set(err, HD_ESTATE, "limit",
                              "limit reached: coupon template %lld allows %lld per customer",
                              (long long)t->id, (long long)t->per_customer);
    }
    int64_t vf = t->has_from ? t->valid_from : now;
    int64_t vt = t->has_days ? now + t->valid_days * 86400000LL : t->valid_to;
    bool has_vt = t->has_days || t->has_to;
    for (int64_t i = 0; i < n; i++) {
        char code[HD_COUPON_CODE_LEN + 1];
        changed = 0;
        for (int attempt = 0; attempt < 4 && !changed; attempt++) {
            if (!code_new(code))
                return hd_err_set(err, HD_EINTERNAL, "code", "libsodium could not initialise");
            hd_val p[8] = {hd_vtext(code),
                           hd_vint(t->id),
                           customer_id ? hd_vint(customer_id) : hd_vnull(),
                           hd_vtext(origin),
                           hd_vtext(origin_ref),
                           hd_vint(vf),
                           has_vt ? hd_vint(vt) : hd_vnull(),
                           hd_vint(now)};
            if ((rc = hd_exec(c,
                              "INSERT INTO coupons (code, template_id, customer_id, origin, "
                              "origin_ref, status, valid_from, valid_to, created_at) VALUES (?, ?, "
                              "?, ?, ?, 'available', ?, ?, ?) ON CONFLICT DO NOTHING",
                              p, 8, &changed, err)))
                return rc;
        }
        if (!changed) return hd_err_set(err, HD_EINTERNAL, "code", "no free coupon code");
        if (i == 0 && first) snprintf(first, HD_COUPON_CODE_LEN + 1, "%s", code);
        if (coupons) {
            json_t *o = json_object();
            json_object_set_new(o, "code", json_string(code));
            if (customer_id)
                hd_json_set_id(o, "customer_id", customer_id);
            else
                json_object_set_new(o, "customer_id", json_null());
            hd_json_set_time(o, "valid_from", vf, true);
            hd_json_set_time(o, "valid_to", vt, has_vt);
            json_array_append_new(coupons, o);
        }
    }
    /* last, so the hot row of a live launch is held for the shortest time */
    hd_val p[3] = {hd_vint(n), hd_vint(t->id), hd_vint(n)};
    if ((rc = hd_exec(c,
                      "UPDATE coupon_templates SET given = given + ? WHERE id = ? AND (quantity "
                      "IS NULL OR given + ? <= quantity)",
                      p, 3, &changed, err)))
        return rc;
    if (!changed) {
        hd_val q = hd_vint(t->id);
        int64_t left = 0;
        hd_query_int(c,
                     "SELECT CASE WHEN quantity > given THEN quantity - given ELSE 0 END FROM "
                     "coupon_templates WHERE id = ?",
                     &q, 1, &left, NULL);
        return hd_err_set(err, HD_ESTATE, "quantity",
                          "coupon template %lld has %lld coupons left, %lld wanted",
                          (long long)t->id, (long long)left, (long long)n);
    }
    return HD_OK;
}

static hd_rc segment_ok(hd_conn *c, hd_domain *d, const tmpl *t, int64_t cid, const char *field,
                        hd_err *err) {
    bool ok = false;
    hd_rc rc = hd_catalog_eligible_in(c, d, cid, t->segment, &ok, err);
    if (rc) return rc;
    if (!ok)
        return hd_err_set(err, HD_EFORBIDDEN, field,
                          "not eligible: customer %lld is outside coupon template %lld's segment "
                          "%s",
                          (long long)cid, (long long)t->id, t->segment);
    return HD_OK;
}

hd_rc hd_coupon_give_in(hd_conn *c, hd_domain *d, int64_t template_id, int64_t customer_id,
                        const char *origin, const char *origin_ref, bool check_segment,
                        char code[HD_COUPON_CODE_LEN + 1], hd_err *err) {
    tmpl t;
    hd_rc rc = tmpl_load(c, template_id, "coupon_template_id", NULL, &t, err);
    if (rc) return rc;
    if (check_segment && customer_id) rc = segment_ok(c, d, &t, customer_id, "eligibility", err);
    if (!rc) rc = give(c, d, &t, customer_id, 1, origin, origin_ref, NULL, code, err);
    tmpl_free(&t);
    return rc;
}

/* ---- bulk issue ---- */

typedef struct issue_ctx {
    hd_domain *d;
    int64_t template_id;
    int64_t count;
    int64_t *customers;
    int64_t *live; /* after merges */
    size_t ncustomers;
} issue_ctx;

static hd_rc issue_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    issue_ctx *ix = vctx;
    tmpl t;
    hd_rc rc = tmpl_load(c, ix->template_id, "id", NULL, &t, err);
    if (rc) return rc;
    json_t *coupons = json_array();
    char ref[48];
    snprintf(ref, sizeof ref, "issue:%lld", (long long)hd_id_next(ix->d->ids));
    if (ix->ncustomers == 0) {
        rc = give(c, ix->d, &t, 0, ix->count, "issue", ref, coupons, NULL, err);
    }
    /* every customer is known and eligible before anything is given */
    for (size_t i = 0; i < ix->ncustomers && !rc; i++) {
        char f[40];
        snprintf(f, sizeof f, "customer_ids[%zu]", i);
        rc = hd_customer_follow(c, ix->customers[i], &ix->live[i], err);
        if (rc == HD_ENOTFOUND)
            rc = hd_err_set(err, HD_EINVAL, f, "no customer %lld", (long long)ix->customers[i]);
        if (!rc) rc = segment_ok(c, ix->d, &t, ix->live[i], f, err);
    }
    for (size_t i = 0; i < ix->ncustomers && !rc; i++) {
        rc = give(c, ix->d, &t, ix->live[i], ix->count, "issue", ref, coupons, NULL, err);
        if (rc == HD_ESTATE && strcmp(err->field, "limit") == 0) {
            char msg[HD_ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err->msg);
            hd_err_set(err, HD_ESTATE, "limit", "customer_ids[%zu]: %s", i, msg);
        }
    }
    tmpl_free(&t);
    if (rc) {
        json_decref(coupons);
        return rc;
    }
    *status = 201;
    *body = json_object();
    json_object_set_new(*body, "issued", json_integer((json_int_t)json_array_size(coupons)));
    hd_json_set_id(*body, "template_id", ix->template_id);
    json_object_set_new(*body, "batch", json_string(ref));
    json_object_set_new(*body, "coupons", coupons);
    return HD_OK;
}

hd_rc hd_coupon_issue(hd_domain *d, const hd_idem *im, int64_t template_id, const json_t *in,
                      int *status, json_t **out, bool *replayed, hd_err *err) {
    static const char *const F[] = {"count", "customer_ids", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, F, "an issue", err);
    if (rc) return rc;
    issue_ctx ix = {d, template_id, 1, NULL, NULL, 0};
    json_t *cnt = json_object_get(in, "count"), *ids = json_object_get(in, "customer_ids");
    if (ids && !json_is_null(ids)) {
        if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 1000)
            return hd_err_set(err, HD_EINVAL, "customer_ids",
                              "must be a list of 1 to 1000 customer ids");
        ix.ncustomers = json_array_size(ids);
    }
    if (!cnt && !ix.ncustomers)
        return hd_err_set(err, HD_EINVAL, "count", "is required: how many codes to issue");
    if (cnt) {
        int64_t max =
            ix.ncustomers ? HD_COUPON_ISSUE_MAX / (int64_t)ix.ncustomers : HD_COUPON_ISSUE_MAX;
        if (!json_is_integer(cnt) || json_integer_value(cnt) < 1 || json_integer_value(cnt) > max)
            return hd_err_set(err, HD_EINVAL, "count",
                              "must be from 1 to %lld (at most %d coupons per request)",
                              (long long)max, HD_COUPON_ISSUE_MAX);
        ix.count = json_integer_value(cnt);
    }
    if (ix.ncustomers) {
        ix.customers = calloc(ix.ncustomers * 2, sizeof *ix.customers);
        if (!ix.customers) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
        ix.live = ix.customers + ix.ncustomers;
        for (size_t i = 0; i < ix.ncustomers; i++) {
            json_t *v = json_array_get(ids, i);
            bool ok = (json_is_string(v) && hd_id_parse(json_string_value(v), &ix.customers[i])) ||
                      (json_is_integer(v) && (ix.customers[i] = json_integer_value(v)) > 0);
            for (size_t j = 0; ok && j < i; j++)
                if (ix.customers[j] == ix.customers[i]) ok = false;
            if (!ok) {
                free(ix.customers);
                return hd_err_set(err, HD_EINVAL, "customer_ids",
                                  "customer_ids[%zu] must be a customer id, listed once", i);
            }
        }
    }
    rc = hd_idem_write(d, im, issue_cb, &ix, status, out, replayed, err);
    free(ix.customers);
    return rc;
}

/* ---- claim ---- */

typedef struct claim_ctx {
    hd_domain *d;
    int64_t template_id;
    const json_t *in;
} claim_ctx;

static hd_rc claim_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    claim_ctx *cx = vctx;
    int64_t cid, now = hd_now(cx->d);
    hd_rc rc = cat_customer_in(c, cx->in, "customer_id", &cid, err);
    if (rc) return rc;
    tmpl t;
    if ((rc = tmpl_load(c, cx->template_id, "id", NULL, &t, err))) return rc;
    char code[HD_COUPON_CODE_LEN + 1], ts[32];
    if (t.has_cs && now < t.claim_starts) {
        hd_time_format(t.claim_starts, ts);
        rc = hd_err_set(err, HD_ESTATE, "window", "claiming opens at %s", ts);
    } else if (t.has_ce && now >= t.claim_ends) {
        hd_time_format(t.claim_ends, ts);
        rc = hd_err_set(err, HD_ESTATE, "window", "claiming closed at %s", ts);
    }
    if (!rc) rc = segment_ok(c, cx->d, &t, cid, "eligibility", err);
    if (!rc) rc = give(c, cx->d, &t, cid, 1, "claim", NULL, NULL, code, err);
    tmpl_free(&t);
    if (rc) return rc;
    *status = 201;
    return coupon_load(c, code, now, body, err);
}

hd_rc hd_coupon_claim(hd_domain *d, const hd_idem *im, int64_t template_id, const json_t *in,
                      int *status, json_t **out, bool *replayed, hd_err *err) {
    static const char *const F[] = {"customer_id", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, F, "a claim", err);
    if (rc) return rc;
    if (!json_object_get(in, "customer_id"))
        return hd_err_set(err, HD_EINVAL, "customer_id", "is required: who claims");
    claim_ctx cx = {d, template_id, in};
    return hd_idem_write(d, im, claim_cb, &cx, status, out, replayed, err);
}

/* ---- redeem and restore ---- */

typedef struct redeem_in {
    hd_domain *d;
    const json_t *in;
    char code[HD_COUPON_CODE_LEN + 1];
    const char *order_ref;
    int64_t amount;
    json_t *out;
} redeem_in;

static json_t *redeem_answer(const char *code, int64_t cid, const char *order_ref, int64_t amount,
                             int64_t discount, int64_t at) {
    json_t *o = json_object();
    json_object_set_new(o, "code", json_string(code));
    hd_json_set_id(o, "customer_id", cid);
    json_object_set_new(o, "order_ref", json_string(order_ref));
    json_object_set_new(o, "amount", json_integer(amount));
    json_object_set_new(o, "discount", json_integer(discount));
    json_object_set_new(o, "payable", json_integer(amount - discount));
    hd_json_set_time(o, "redeemed_at", at, true);
    return o;
}

/* If the coupon is already redeemed: the same order replays its answer,
 * another is refused. */
static hd_rc redeemed_already(hd_conn *c, redeem_in *rx, int64_t cid, hd_err *err) {
    hd_val p = hd_vtext(rx->code);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT order_ref, redeemed_by, redeemed_amount, discount, redeemed_at "
                        "FROM coupons WHERE code = ? AND status = 'redeemed'",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        const char *ref = hd_rows_text(r, 0, NULL);
        if (strcmp(ref, rx->order_ref) == 0 && hd_rows_int(r, 1) == cid) {
            rx->out = redeem_answer(rx->code, cid, ref, hd_rows_int(r, 2), hd_rows_int(r, 3),
                                    hd_rows_int(r, 4));
            json_object_set_new(rx->out, "replayed", json_true());
            rc = HD_OK;
        } else {
            rc = hd_err_set(err, HD_ESTATE, "status", "coupon %s was already redeemed for order %s",
                            rx->code, ref);
        }
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    return got == 1 ? rc : HD_ENOTFOUND;
}

static hd_rc redeem_cb(hd_conn *c, void *vctx, hd_err *err) {
    redeem_in *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    int64_t cid, now = hd_now(rx->d);
    hd_rc rc = cat_customer_in(c, rx->in, "customer_id", &cid, err);
    if (rc) return rc;
    rc = redeemed_already(c, rx, cid, err);
    if (rc != HD_ENOTFOUND) return rc;
    hd_val p = hd_vtext(rx->code);
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT c.customer_id, c.valid_from, c.valid_to, c.template_id FROM "
                       "coupons c WHERE c.code = ?",
                       &p, 1, &r, err)))
        return rc;
    int got = hd_rows_next(r, err);
    bool bearer = got == 1 && hd_rows_isnull(r, 0);
    int64_t owner = got == 1 ? hd_rows_int(r, 0) : 0;
    int64_t vf = got == 1 && !hd_rows_isnull(r, 1) ? hd_rows_int(r, 1) : 0;
    int64_t vt = got == 1 && !hd_rows_isnull(r, 2) ? hd_rows_int(r, 2) : 0;
    int64_t tid = got == 1 ? hd_rows_int(r, 3) : 0;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "code", "no coupon %s", rx->code);
    if (!bearer && owner != cid) {
        int64_t live = owner;
        hd_customer_follow(c, owner, &live, NULL);
        if (live != cid)
            return hd_err_set(err, HD_EFORBIDDEN, "customer_id",
                              "coupon %s belongs to another customer", rx->code);
    }
    char ts[32];
    if (vf && now < vf) {
        hd_time_format(vf, ts);
        return hd_err_set(err, HD_ESTATE, "window", "coupon %s is valid from %s", rx->code, ts);
    }
    if (vt && now >= vt) {
        hd_time_format(vt, ts);
        return hd_err_set(err, HD_ESTATE, "window", "coupon %s expired at %s", rx->code, ts);
    }
    tmpl t;
    if ((rc = tmpl_load(c, tid, "code", NULL, &t, err))) return rc;
    if (bearer) rc = segment_ok(c, rx->d, &t, cid, "eligibility", err);
    if (!rc && rx->amount < t.min_spend)
        rc = hd_err_set(err, HD_EINVAL, "amount",
                        "the order of %lld fen is below coupon %s's minimum spend of %lld fen",
                        (long long)rx->amount, rx->code, (long long)t.min_spend);
    int64_t discount = 0;
    if (!rc && strcmp(t.kind, "amount") == 0) {
        discount = t.amount_off < rx->amount ? t.amount_off : rx->amount;
    } else if (!rc) {
        /* exact in integers: amounts are at most 10^12 fen */
        discount = rx->amount * t.percent_off / 100;
        if (t.has_max && discount > t.max_discount) discount = t.max_discount;
    }
    tmpl_free(&t);
    if (rc) return rc;
    int64_t changed = 0;
    hd_val u[6] = {hd_vtext(rx->order_ref), hd_vint(cid), hd_vint(rx->amount),
                   hd_vint(discount),       hd_vint(now), hd_vtext(rx->code)};
    if ((rc = hd_exec(c,
                      "UPDATE coupons SET status = 'redeemed', order_ref = ?, redeemed_by = ?, "
                      "redeemed_amount = ?, discount = ?, redeemed_at = ? WHERE code = ? AND "
                      "status = 'available'",
                      u, 6, &changed, err)))
        return rc;
    if (!changed) {
        /* redeemed by a racing request since we looked */
        rc = redeemed_already(c, rx, cid, err);
        return rc == HD_ENOTFOUND ? hd_err_set(err, HD_EBUSY, "code", "coupon raced") : rc;
    }
    rx->out = redeem_answer(rx->code, cid, rx->order_ref, rx->amount, discount, now);
    json_object_set_new(rx->out, "replayed", json_false());
    return HD_OK;
}

hd_rc hd_coupon_redeem(hd_domain *d, const json_t *in, json_t **out, hd_err *err) {
    static const char *const F[] = {"code", "customer_id", "order_ref", "amount", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, F, "a redemption", err);
    if (rc) return rc;
    redeem_in rx = {d, in, "", NULL, 0, NULL};
    const char *code;
    if ((rc = hd_json_str(in, "code", 64, &code, err))) return rc;
    if (!code) return hd_err_set(err, HD_EINVAL, "code", "is required");
    if (!json_object_get(in, "customer_id"))
        return hd_err_set(err, HD_EINVAL, "customer_id", "is required: who redeems");
    if ((rc = hd_json_str(in, "order_ref", 200, &rx.order_ref, err))) return rc;
    if (!rx.order_ref || !*rx.order_ref)
        return hd_err_set(err, HD_EINVAL, "order_ref",
                          "is required: the order the coupon is used on (redeeming is "
                          "idempotent on it)");
    json_t *amt = json_object_get(in, "amount");
    if (!json_is_integer(amt) || json_integer_value(amt) < 0 ||
        json_integer_value(amt) > 1000000000000LL)
        return hd_err_set(err, HD_EINVAL, "amount", "is required: the order amount in fen, >= 0");
    rx.amount = json_integer_value(amt);
    if (!code_norm(code, rx.code))
        return hd_err_set(err, HD_ENOTFOUND, "code", "no coupon %s", code);
    rc = hd_store_write(d->store, redeem_cb, &rx, err);
    if (rc) {
        json_decref(rx.out);
        return rc;
    }
    *out = rx.out;
    return HD_OK;
}

typedef struct restore_ctx {
    hd_domain *d;
    char code[HD_COUPON_CODE_LEN + 1];
    const char *order_ref;
    json_t *out;
} restore_ctx;

static hd_rc restore_cb(hd_conn *c, void *vctx, hd_err *err) {
    restore_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    int64_t now = hd_now(rx->d);
    json_t *cur = NULL;
    hd_rc rc = coupon_load(c, rx->code, now, &cur, err);
    if (rc) return rc;
    const char *st = json_string_value(json_object_get(cur, "status"));
    const char *ref = json_string_value(json_object_get(cur, "order_ref"));
    if (strcmp(st, "redeemed") != 0)
        rc = hd_err_set(err, HD_ESTATE, "status", "coupon %s is %s, not redeemed", rx->code, st);
    else if (rx->order_ref && ref && strcmp(ref, rx->order_ref) != 0)
        rc = hd_err_set(err, HD_ESTATE, "order_ref", "coupon %s was redeemed for order %s",
                        rx->code, ref);
    json_decref(cur);
    if (rc) return rc;
    int64_t changed = 0;
    hd_val p[2] = {hd_vint(now), hd_vtext(rx->code)};
    if ((rc = hd_exec(c,
                      "UPDATE coupons SET status = 'available', order_ref = NULL, redeemed_by = "
                      "NULL, redeemed_amount = NULL, discount = NULL, redeemed_at = NULL, "
                      "restored_at = ? WHERE code = ? AND status = 'redeemed'",
                      p, 2, &changed, err)))
        return rc;
    if (!changed)
        return hd_err_set(err, HD_ESTATE, "status", "coupon %s is not redeemed", rx->code);
    return coupon_load(c, rx->code, now, &rx->out, err);
}

hd_rc hd_coupon_restore(hd_domain *d, const char *code, const json_t *in, json_t **out,
                        hd_err *err) {
    static const char *const F[] = {"order_ref", NULL};
    restore_ctx rx = {d, "", NULL, NULL};
    if (!code_norm(code, rx.code))
        return hd_err_set(err, HD_ENOTFOUND, "code", "no coupon %s", code);
    hd_rc rc;
    if (in && !json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    if (in && ((rc = hd_json_only(in, F, "a restore", err)) ||
               (rc = hd_json_str(in, "order_ref", 200, &rx.order_ref, err))))
        return rc;
    rc = hd_store_write(d->store, restore_cb, &rx, err);
    if (rc) {
        json_decref(rx.out);
        return rc;
    }
    *out = rx.out;
    return HD_OK;
}

static hd_rc coupon_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    cp_ctx *cx = vctx;
    return coupon_load(c, cx->code, hd_now(cx->d), &cx->out, err);
}

hd_rc hd_coupon_get(hd_domain *d, const char *code, json_t **out, hd_err *err) {
    char norm[HD_COUPON_CODE_LEN + 1];
    if (!code_norm(code, norm)) return hd_err_set(err, HD_ENOTFOUND, "code", "no coupon %s", code);
    cp_ctx cx = {d, NULL, 0, norm, NULL, 0, 0};
    hd_rc rc = hd_store_read(d->store, coupon_get_cb, &cx, err);
    if (rc) {
        json_decref(cx.out);
        return rc;
    }
    *out = cx.out;
    return HD_OK;
}

static hd_rc coupon_list_cb(hd_conn *c, void *vctx, hd_err *err) {
    cp_ctx *cx = vctx;
    int64_t cid;
    hd_rc rc = hd_customer_follow(c, cx->id, &cid, err);
    if (rc) return rc;
    hd_val p = hd_vint(cid);
    hd_rows *r;
    if ((rc = hd_query(c,
                       COUPON_COLS "WHERE customer_id = ? ORDER BY created_at DESC, code LIMIT 500",
                       &p, 1, &r, err)))
        return rc;
    json_t *data = json_array();
    int got;
    int64_t now = hd_now(cx->d);
    while ((got = hd_rows_next(r, err)) == 1) json_array_append_new(data, coupon_json(r, now));
    hd_rows_free(r);
    if (got < 0) {
        json_decref(data);
        return err->rc;
    }
    cx->out = json_pack("{s:o}", "data", data);
    return HD_OK;
}

hd_rc hd_coupon_list_customer(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err) {
    cp_ctx cx = {d, NULL, customer_id, NULL, NULL, 0, 0};
    hd_rc rc = hd_store_read(d->store, coupon_list_cb, &cx, err);
    if (rc) {
        json_decref(cx.out);
        return rc;
    }
    *out = cx.out;
    return HD_OK;
}

/* ---- report ---- */

static json_t *day_entry(json_t *days, int64_t day) {
    int y, m, dd;
    hd_civil_from_days(day, &y, &m, &dd);
    char date[16];
    snprintf(date, sizeof date, "%04d-%02d-%02d", y, m, dd);
    size_t i;
    json_t *o;
    json_array_foreach(days, i, o) {
        if (strcmp(json_string_value(json_object_get(o, "date")), date) == 0) return o;
    }
    o = json_pack("{s:s,s:i,s:i,s:i,s:i,s:i}", "date", date, "issued", 0, "claimed", 0, "bought", 0,
                  "redeemed", 0, "discount", 0);
    json_array_append_new(days, o);
    return o;
}

static void add_to(json_t *o, const char *k, int64_t n) {
    json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + n));
}

static int by_date(const void *a, const void *b) {
    return strcmp(json_string_value(json_object_get(*(json_t *const *)a, "date")),
                  json_string_value(json_object_get(*(json_t *const *)b, "date")));
}

static hd_rc report_cb(hd_conn *c, void *vctx, hd_err *err) {
    cp_ctx *cx = vctx;
    /* days are the brand's: ?4 moves an instant onto its calendar */
    hd_val p[4] = {hd_vint(cx->from), hd_vint(cx->to), hd_vint(cx->id),
                   hd_vint((int64_t)hd_clock_utc_offset(cx->d->clock) * 60000)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT (created_at + CAST(?4 AS BIGINT)) / 86400000, origin, count(*) "
                        "FROM coupons WHERE created_at >= ?1 AND created_at < ?2 AND "
                        "(CAST(?3 AS BIGINT) = 0 OR template_id = ?3) GROUP BY "
                        "(created_at + CAST(?4 AS BIGINT)) / 86400000, origin",
                        p, 4, &r, err);
    if (rc) return rc;
    json_t *days = json_array(), *tot = json_pack("{s:i,s:i,s:i,s:i,s:i}", "issued", 0, "claimed",
                                                  0, "bought", 0, "redeemed", 0, "discount", 0);
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *origin = hd_rows_text(r, 1, NULL);
        const char *k = strcmp(origin, "issue") == 0   ? "issued"
                        : strcmp(origin, "claim") == 0 ? "claimed"
                                                       : "bought";
        add_to(day_entry(days, hd_rows_int(r, 0)), k, hd_rows_int(r, 2));
        add_to(tot, k, hd_rows_int(r, 2));
    }
    hd_rows_free(r);
    if (got >= 0 &&
        !(rc = hd_query(c,
                        "SELECT (redeemed_at + CAST(?4 AS BIGINT)) / 86400000, count(*), "
                        "COALESCE(sum(discount), 0) FROM coupons WHERE status = 'redeemed' AND "
                        "redeemed_at >= ?1 AND redeemed_at < ?2 AND (CAST(?3 AS BIGINT) = 0 OR "
                        "template_id = ?3) GROUP BY (redeemed_at + CAST(?4 AS BIGINT)) / 86400000",
                        p, 4, &r, err))) {
        while ((got = hd_rows_next(r, err)) == 1) {
            json_t *o = day_entry(days, hd_rows_int(r, 0));
            add_to(o, "redeemed", hd_rows_int(r, 1));
            add_to(o, "discount", hd_rows_int(r, 2));
            add_to(tot, "redeemed", hd_rows_int(r, 1));
            add_to(tot, "discount", hd_rows_int(r, 2));
        }
        hd_rows_free(r);
    }
    if (rc || got < 0) {
        json_decref(days);
        json_decref(tot);
        return rc ? rc : err->rc;
    }
    size_t n = json_array_size(days);
    json_t **arr = calloc(n ? n : 1, sizeof *arr);
    for (size_t i = 0; arr && i < n; i++) arr[i] = json_incref(json_array_get(days, i));
    if (arr) qsort(arr, n, sizeof *arr, by_date);
    json_t *sorted = json_array();
    for (size_t i = 0; arr && i < n; i++) json_array_append_new(sorted, arr[i]);
    free(arr);
    json_decref(days);
    cx->out = json_object();
    hd_json_set_time(cx->out, "from", cx->from, true);
    hd_json_set_time(cx->out, "to", cx->to, true);
    if (cx->id)
        hd_json_set_id(cx->out, "template_id", cx->id);
    else
        json_object_set_new(cx->out, "template_id", json_null());
    json_object_set_new(cx->out, "totals", tot);
    json_object_set_new(cx->out, "days", sorted);
    return HD_OK;
}

hd_rc hd_coupon_report(hd_domain *d, int64_t template_id, int64_t from_ms, int64_t to_ms,
                       json_t **out, hd_err *err) {
    if (to_ms <= from_ms) return hd_err_set(err, HD_EINVAL, "to", "must be after from");
    cp_ctx cx = {d, NULL, template_id, NULL, NULL, from_ms, to_ms};
    hd_rc rc = hd_store_read(d->store, report_cb, &cx, err);
    if (rc) {
        json_decref(cx.out);
        return rc;
    }
    *out = cx.out;
    return HD_OK;
}
