/* rules.c - earning rules: storage, the compiled cache, evaluation against
 * an event, awards through the ledger, and reversal on refunds. */
#include "domain/rules.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"
#include "expr/expr.h"

/* ---- what a slot reads ---- */

typedef enum {
    V_AMOUNT,
    V_TYPE,
    V_TOUCHPOINT,
    V_PROP,  /* properties.<path> */
    V_LINES, /* lines[*].<field> */
    V_CUST_TIER,
    V_CUST_CITY,
    V_CUST_ORDERS,
    V_CUST_REVENUE,
    V_CUST_EVENTS,
    V_CUST_ATTR, /* customer.attributes.<path> */
    V_TIER_MULT,
    V_COUNT,      /* count(<event type>, window) */
    V_SUM_AMOUNT, /* sum(amount, window) */
} vkind;

typedef struct slot {
    vkind kind;
    char arg[HD_EXPR_NAME_MAX]; /* path, line field or event type */
    int64_t window_ms;
} slot;

/* Maps a slot of a parsed expression to what it reads; HD_EINVAL naming
 * the field when it is not one rules can read. */
static hd_rc classify(const hd_expr_var *v, slot *s, const char *field, hd_err *err) {
    memset(s, 0, sizeof *s);
    const char *p = v->path;
    if (v->agg) {
        s->window_ms = v->window_s * 1000;
        if (strcmp(v->agg, "count") == 0) {
            s->kind = V_COUNT;
            snprintf(s->arg, sizeof s->arg, "%s", p);
            return HD_OK;
        }
        if (strcmp(v->agg, "sum") == 0 && strcmp(p, "amount") == 0) {
            s->kind = V_SUM_AMOUNT;
            return HD_OK;
        }
        return hd_err_set(err, HD_EINVAL, field,
                          "%s: rules can use count(<event type>, window) and sum(amount, window)",
                          v->name);
    }
    static const struct {
        const char *name;
        vkind kind;
    } plain[] = {{"amount", V_AMOUNT},
                 {"type", V_TYPE},
                 {"touchpoint", V_TOUCHPOINT},
                 {"customer.tier", V_CUST_TIER},
                 {"customer.city", V_CUST_CITY},
                 {"customer.orders", V_CUST_ORDERS},
                 {"customer.revenue", V_CUST_REVENUE},
                 {"customer.events", V_CUST_EVENTS},
                 {"tier.multiplier", V_TIER_MULT}};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (strcmp(p, plain[i].name) == 0) {
            s->kind = plain[i].kind;
            return HD_OK;
        }
    if (strncmp(p, "properties.", 11) == 0 && p[11]) {
        s->kind = V_PROP;
        snprintf(s->arg, sizeof s->arg, "%s", p + 11);
        return HD_OK;
    }
    if (strncmp(p, "customer.attributes.", 20) == 0 && p[20]) {
        s->kind = V_CUST_ATTR;
        snprintf(s->arg, sizeof s->arg, "%s", p + 20);
        return HD_OK;
    }
    if (strncmp(p, "lines[*].", 9) == 0) {
        const char *f = p + 9;
        if (strcmp(f, "sku") && strcmp(f, "category") && strcmp(f, "qty") && strcmp(f, "amount"))
            return hd_err_set(err, HD_EINVAL, field,
                              "%s: order lines have sku, category, qty, amount", p);
        s->kind = V_LINES;
        snprintf(s->arg, sizeof s->arg, "%s", f);
        return HD_OK;
    }
    return hd_err_set(err, HD_EINVAL, field,
                      "unknown field '%s'; rules read amount, type, touchpoint, properties.*, "
                      "lines[*].*, customer.tier|city|orders|revenue|events, "
                      "customer.attributes.*, tier.multiplier",
                      p);
}

hd_rc hd_rule_check_expr(const char *src, bool formula, const char *field, hd_err *err) {
    hd_expr *e = hd_expr_parse(src, strlen(src), err);
    if (!e) {
        /* a rule that does not parse is an invalid field of the request: 422 */
        snprintf(err->field, sizeof err->field, "%s", field);
        err->rc = HD_EINVAL;
        return HD_EINVAL;
    }
    hd_rc rc = HD_OK;
    for (int i = 0; i < hd_expr_nvars(e) && !rc; i++) {
        slot s;
        rc = classify(hd_expr_var_info(e, i), &s, field, err);
    }
    unsigned types = hd_expr_result_types(e);
    if (!rc && formula && !(types & ((1u << HD_EXPR_INT) | (1u << HD_EXPR_REAL))))
        rc = hd_err_set(err, HD_EINVAL, field, "line 1, column 1: a formula must compute a number");
    if (!rc && !formula && !(types & ((1u << HD_EXPR_BOOL) | (1u << HD_EXPR_NULL))))
        rc = hd_err_set(err, HD_EINVAL, field,
                        "line 1, column 1: a condition must be true or false");
    hd_expr_free(e);
    return rc;
}

/* ---- the compiled cache ---- */

typedef struct crule {
    int64_t id;
    char event_type[64];
    hd_expr *cond; /* NULL: always */
    hd_expr *formula;
    slot *cslots, *fslots;
    bool growth;
    bool has_day, has_month, has_budget;
    int64_t cap_day, cap_month, budget;
    int64_t starts_at, ends_at; /* 0 = open */
    int priority;
    bool stackable;
} crule;

typedef struct snapshot {
    int refs;
    int64_t version;
    crule *rules;
    int n;
} snapshot;

typedef struct cache {
    pthread_mutex_t mu;
    snapshot *snap;
} cache;

static void snap_release(cache *c, snapshot *s) {
    if (!s) return;
    pthread_mutex_lock(&c->mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (!last) return;
    for (int i = 0; i < s->n; i++) {
        hd_expr_free(s->rules[i].cond);
        hd_expr_free(s->rules[i].formula);
        free(s->rules[i].cslots);
        free(s->rules[i].fslots);
    }
    free(s->rules);
    free(s);
}

hd_rc hd_rules_init(hd_domain *d, hd_err *err) {
    cache *c = calloc(1, sizeof *c);
    if (!c) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    d->rules = c;
    return HD_OK;
}

void hd_rules_free(hd_domain *d) {
    cache *c = d->rules;
    if (!c) return;
    snap_release(c, c->snap);
    pthread_mutex_destroy(&c->mu);
    free(c);
    d->rules = NULL;
}

static slot *compile_slots(const hd_expr *e) {
    int n = hd_expr_nvars(e);
    slot *s = calloc((size_t)(n ? n : 1), sizeof *s);
    for (int i = 0; s && i < n; i++) {
        hd_err ignore;
        classify(hd_expr_var_info(e, i), &s[i], "", &ignore); /* checked at save time */
    }
    return s;
}

static hd_rc version_of(hd_conn *c, int64_t *v, hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT v FROM meta WHERE k = 'rules_version'", NULL, 0, &r, err);
    if (rc) return rc;
    *v = 0;
    int got = hd_rows_next(r, err);
    if (got == 1) *v = strtoll(hd_rows_text(r, 0, NULL), NULL, 10);
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc bump_version(hd_conn *c, hd_err *err) {
    /* text in both stores: increment via integer cast */
    return hd_exec(c,
                   "UPDATE meta SET v = CAST(CAST(v AS BIGINT) + 1 AS TEXT) WHERE k = "
                   "'rules_version'",
                   NULL, 0, NULL, err);
}

/* Returns the current snapshot (a reference the caller releases), loading
 * active rules when the stored version moved. */
static hd_rc snapshot_get(hd_conn *c, hd_domain *d, snapshot **out, hd_err *err) {
    cache *ca = d->rules;
    int64_t v;
    hd_rc rc = version_of(c, &v, err);
    if (rc) return rc;
    pthread_mutex_lock(&ca->mu);
    if (ca->snap && ca->snap->version == v) {
        ca->snap->refs++;
        *out = ca->snap;
        pthread_mutex_unlock(&ca->mu);
        return HD_OK;
    }
    pthread_mutex_unlock(&ca->mu);
    hd_rows *r;
    rc = hd_query(c,
                  "SELECT id, event_type, condition, formula, currency, cap_day, cap_month, "
                  "budget, starts_at, ends_at, priority, stackable FROM rules WHERE active = 1 "
                  "ORDER BY priority DESC, id LIMIT 500",
                  NULL, 0, &r, err);
    if (rc) return rc;
    snapshot *s = calloc(1, sizeof *s);
    s->rules = calloc(HD_RULES_ACTIVE_MAX, sizeof *s->rules);
    s->version = v;
    s->refs = 1;
    int got;
    while ((got = hd_rows_next(r, err)) == 1 && s->n < HD_RULES_ACTIVE_MAX) {
        crule *cr = &s->rules[s->n];
        hd_err perr;
        cr->id = hd_rows_int(r, 0);
        snprintf(cr->event_type, sizeof cr->event_type, "%s", hd_rows_text(r, 1, NULL));
        size_t n;
        const char *cond = hd_rows_text(r, 2, &n);
        cr->cond = n ? hd_expr_parse(cond, n, &perr) : NULL;
        const char *f = hd_rows_text(r, 3, &n);
        cr->formula = hd_expr_parse(f, n, &perr);
        if (!cr->formula || (n && cond[0] && !cr->cond)) {
            hd_expr_free(cr->cond);
            hd_expr_free(cr->formula);
            memset(cr, 0, sizeof *cr);
            continue; /* unreadable rows are skipped; saving checked them */
        }
        cr->cslots = cr->cond ? compile_slots(cr->cond) : NULL;
        cr->fslots = compile_slots(cr->formula);
        cr->growth = strcmp(hd_rows_text(r, 4, NULL), "growth") == 0;
        cr->has_day = !hd_rows_isnull(r, 5);
        cr->cap_day = hd_rows_int(r, 5);
        cr->has_month = !hd_rows_isnull(r, 6);
        cr->cap_month = hd_rows_int(r, 6);
        cr->has_budget = !hd_rows_isnull(r, 7);
        cr->budget = hd_rows_int(r, 7);
        cr->starts_at = hd_rows_isnull(r, 8) ? 0 : hd_rows_int(r, 8);
        cr->ends_at = hd_rows_isnull(r, 9) ? 0 : hd_rows_int(r, 9);
        cr->priority = (int)hd_rows_int(r, 10);
        cr->stackable = hd_rows_int(r, 11);
        s->n++;
    }
    hd_rows_free(r);
    if (got < 0) {
        snap_release(ca, s);
        return err->rc;
    }
    pthread_mutex_lock(&ca->mu);
    snapshot *old = ca->snap;
    ca->snap = s;
    s->refs++; /* the cache's own reference */
    pthread_mutex_unlock(&ca->mu);
    snap_release(ca, old);
    *out = s;
    return HD_OK;
}

/* ---- evaluation environment ---- */

typedef struct env {
    hd_conn *c; /* NULL when simulating without a store read */
    const hd_event *ev;
    int64_t customer_id;
    /* customer, loaded on first need */
    bool cust_loaded;
    json_t *cust;
    hd_tier_info tier;
    /* order lines as arrays */
    hd_expr_val *line_vals;
    size_t nlines;
} env;

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

static hd_rc load_customer(env *en, hd_err *err) {
    if (en->cust_loaded) return HD_OK;
    en->cust_loaded = true;
    en->tier.multiplier = 1.0; /* no tier: earn at par */
    if (!en->c || !en->customer_id) return HD_OK;
    hd_rc rc = hd_customer_load(en->c, en->customer_id, &en->cust, err);
    if (rc) return rc;
    return hd_tier_of_in(en->c, en->customer_id, &en->tier, err);
}

static hd_rc aggregate(env *en, const slot *s, hd_expr_val *out, hd_err *err) {
    *out = hd_expr_int(0);
    if (!en->c || !en->customer_id) return HD_OK;
    int64_t since = s->window_ms ? en->ev->occurred_at_ms - s->window_ms : INT64_MIN;
    int64_t v;
    hd_rc rc;
    if (s->kind == V_COUNT) {
        hd_val p[4] = {hd_vint(en->customer_id), hd_vtext(s->arg), hd_vint(since),
                       hd_vint(en->ev->occurred_at_ms)};
        rc = hd_query_int(en->c,
                          "SELECT count(*) FROM events WHERE customer_id = ? AND type = ? AND "
                          "occurred_at > ? AND occurred_at <= ?",
                          p, 4, &v, err);
    } else {
        hd_val p[3] = {hd_vint(en->customer_id), hd_vint(since), hd_vint(en->ev->occurred_at_ms)};
        rc = hd_query_int(en->c,
                          "SELECT COALESCE(sum(amount), 0) FROM orders WHERE customer_id = ? AND "
                          "refunded_at IS NULL AND occurred_at > ? AND occurred_at <= ?",
                          p, 3, &v, err);
    }
    if (!rc) *out = hd_expr_int(v);
    return rc;
}

/* Fills vals for the slots of one expression. Line arrays live in en. */
static hd_rc fill(env *en, const slot *slots, int n, hd_expr_val *vals, hd_err *err) {
    const hd_event *ev = en->ev;
    hd_rc rc;
    for (int i = 0; i < n; i++) {
        const slot *s = &slots[i];
        switch (s->kind) {
        case V_AMOUNT: {
            const json_t *a = json_object_get(ev->properties, "amount");
            vals[i] = a ? from_json(a) : hd_expr_null();
            break;
        }
        case V_TYPE: vals[i] = hd_expr_str(ev->type, strlen(ev->type)); break;
        case V_TOUCHPOINT: vals[i] = hd_expr_str(ev->touchpoint, strlen(ev->touchpoint)); break;
        case V_PROP: vals[i] = from_json(walk(ev->properties, s->arg)); break;
        case V_LINES: {
            const json_t *lines = json_object_get(ev->properties, "lines");
            size_t nl = json_array_size(lines);
            if (!nl) {
                vals[i] = hd_expr_null();
                break;
            }
            /* one array per line field per expression slot: carve from en->line_vals */
            hd_expr_val *arr = en->line_vals + en->nlines;
            en->nlines += nl;
            for (size_t k = 0; k < nl; k++)
                arr[k] = from_json(json_object_get(json_array_get(lines, k), s->arg));
            vals[i] = hd_expr_array(arr, nl);
            break;
        }
        case V_CUST_TIER:
        case V_TIER_MULT:
        case V_CUST_CITY:
        case V_CUST_ORDERS:
        case V_CUST_REVENUE:
        case V_CUST_EVENTS:
        case V_CUST_ATTR:
            if ((rc = load_customer(en, err))) return rc;
            if (s->kind == V_CUST_TIER)
                vals[i] = en->tier.has ? hd_expr_str(en->tier.code, strlen(en->tier.code))
                                       : hd_expr_null();
            else if (s->kind == V_TIER_MULT)
                vals[i] = hd_expr_real(en->tier.multiplier);
            else if (!en->cust)
                vals[i] = hd_expr_null();
            else if (s->kind == V_CUST_CITY)
                vals[i] = from_json(json_object_get(en->cust, "city"));
            else if (s->kind == V_CUST_ATTR)
                vals[i] = from_json(walk(json_object_get(en->cust, "attributes"), s->arg));
            else
                vals[i] = from_json(json_object_get(json_object_get(en->cust, "stats"),
                                                    s->kind == V_CUST_ORDERS    ? "orders"
                                                    : s->kind == V_CUST_REVENUE ? "revenue"
                                                                                : "events"));
            break;
        case V_COUNT:
        case V_SUM_AMOUNT:
            if ((rc = aggregate(en, s, &vals[i], err))) return rc;
            break;
        }
    }
    return HD_OK;
}

/* Evaluates one rule: *match and *points (before caps). */
static hd_rc eval_rule(env *en, const crule *r, bool *match, int64_t *points, hd_err *err) {
    hd_expr_val vals[HD_EXPR_VARS_MAX];
    *match = false;
    *points = 0;
    en->nlines = 0;
    hd_rc rc;
    if (r->cond) {
        if ((rc = fill(en, r->cslots, hd_expr_nvars(r->cond), vals, err))) return rc;
        if ((rc = hd_expr_eval_bool(r->cond, vals, match, err))) return rc;
        if (!*match) return HD_OK;
    }
    *match = true;
    en->nlines = 0;
    if ((rc = fill(en, r->fslots, hd_expr_nvars(r->formula), vals, err))) return rc;
    return hd_expr_eval_int(r->formula, vals, points, err);
}

/* ---- awarding ---- */

/* Caps count what the rule gave within the brand's day or month holding the
 * event (an event sent late counts against its own day, not today's). */
static hd_rc capped(hd_conn *c, hd_domain *d, const crule *r, int64_t cid, int64_t at,
                    int64_t *points, hd_err *err) {
    int off = hd_clock_utc_offset(d->clock);
    int64_t day = hd_cal_day(off, at), month = hd_month_first(day, 0),
            next = hd_month_first(day, 1);
    hd_rc rc;
    for (int k = 0; k < 2; k++) {
        bool has = k == 0 ? r->has_day : r->has_month;
        if (!has || *points <= 0) continue;
        int64_t cap = k == 0 ? r->cap_day : r->cap_month;
        int64_t from = hd_cal_day_ms(off, k == 0 ? day : month),
                to = hd_cal_day_ms(off, k == 0 ? day + 1 : next);
        int64_t got;
        hd_val p[4] = {hd_vint(cid), hd_vint(r->id), hd_vint(from), hd_vint(to)};
        if ((rc = hd_query_int(c,
                               "SELECT COALESCE(sum(amount), 0) FROM rule_awards WHERE customer_id "
                               "= ? AND rule_id = ? AND at >= ? AND at < ?",
                               p, 4, &got, err)))
            return rc;
        if (*points > cap - got) *points = cap - got > 0 ? cap - got : 0;
    }
    if (r->has_budget && *points > 0) {
        /* the UPDATE locks the rule's row, so racing events share the budget */
        hd_val p[3] = {hd_vint(*points), hd_vint(r->id), hd_vint(r->budget)};
        int64_t n;
        if ((rc = hd_exec(
                 c, "UPDATE rules SET awarded = awarded + ? WHERE id = ? AND awarded + ? <= ?",
                 (hd_val[]){p[0], p[1], p[0], p[2]}, 4, &n, err)))
            return rc;
        if (n == 0) {
            int64_t awarded;
            hd_val q = hd_vint(r->id);
            if ((rc = hd_query_int(c, "SELECT awarded FROM rules WHERE id = ?", &q, 1, &awarded,
                                   err)))
                return rc;
            int64_t left = r->budget - awarded;
            *points = left > 0 ? left : 0;
            if (*points > 0) {
                hd_val u[2] = {hd_vint(*points), hd_vint(r->id)};
                if ((rc = hd_exec(c, "UPDATE rules SET awarded = awarded + ? WHERE id = ?", u, 2,
                                  NULL, err)))
                    return rc;
            }
        }
    } else if (*points > 0) {
        hd_val u[2] = {hd_vint(*points), hd_vint(r->id)};
        if ((rc = hd_exec(c, "UPDATE rules SET awarded = awarded + ? WHERE id = ?", u, 2, NULL,
                          err)))
            return rc;
    }
    return HD_OK;
}

static hd_rc award(hd_conn *c, hd_domain *d, const crule *r, const hd_event *ev, int64_t points,
                   hd_err *err) {
    char key[96], acct[64], ref[48];
    snprintf(key, sizeof key, "rule:%lld:event:%lld", (long long)r->id, (long long)ev->id);
    snprintf(acct, sizeof acct, r->growth ? "customer:%lld:growth" : "customer:%lld",
             (long long)ev->customer_id);
    snprintf(ref, sizeof ref, "event:%lld", (long long)ev->id);
    hd_transfer_req t = {key,    r->growth ? "system:growth" : "system:issuance",
                         acct,   points,
                         "earn", ref,
                         false,  0,
                         false,  false};
    hd_transfer_res res;
    hd_rc rc = hd_ledger_transfer_in(c, d, &t, &res, err);
    if (rc || res.replayed) return rc;
    hd_val p[5] = {hd_vint(ev->customer_id), hd_vint(r->id), hd_vint(ev->id), hd_vint(points),
                   hd_vint(ev->occurred_at_ms)};
    return hd_exec(
        c,
        "INSERT INTO rule_awards (customer_id, rule_id, event_id, amount, at) VALUES (?, ?, "
        "?, ?, ?)",
        p, 5, NULL, err);
}

/* order.refunded: reverse everything the order's event earned, even if spent */
static hd_rc reverse_order(hd_conn *c, hd_domain *d, const hd_event *ev, bool *growth_changed,
                           hd_err *err) {
    hd_val p = hd_vtext(ev->order_id);
    int64_t order_event;
    hd_rc rc =
        hd_query_int(c, "SELECT event_id FROM orders WHERE order_id = ?", &p, 1, &order_event, err);
    if (rc == HD_ENOTFOUND) {
        hd_err_clear(err);
        return HD_OK;
    }
    if (rc) return rc;
    char ref[48];
    snprintf(ref, sizeof ref, "event:%lld", (long long)order_event);
    hd_val q = hd_vtext(ref);
    hd_rows *r;
    if ((rc = hd_query(
             c,
             "SELECT t.id, t.amount, a.name, a.currency FROM transfers t JOIN accounts a "
             "ON a.id = t.credit_id WHERE t.reference = ? AND t.code = 'earn' AND t.status "
             "= 'posted' ORDER BY t.id",
             &q, 1, &r, err)))
        return rc;
    int64_t ids[64], amts[64];
    char names[64][64];
    bool growth[64];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < 64) {
        ids[n] = hd_rows_int(r, 0);
        amts[n] = hd_rows_int(r, 1);
        snprintf(names[n], sizeof names[n], "%s", hd_rows_text(r, 2, NULL));
        growth[n] = strcmp(hd_rows_text(r, 3, NULL), "growth") == 0;
        n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++) {
        char key[64], rref[48];
        snprintf(key, sizeof key, "reverse:%lld", (long long)ids[i]);
        snprintf(rref, sizeof rref, "event:%lld", (long long)ev->id);
        hd_transfer_req t = {key,     names[i],  growth[i] ? "system:growth" : "system:issuance",
                             amts[i], "reverse", rref,
                             false,   0,         true,
                             false};
        hd_transfer_res res;
        if ((rc = hd_ledger_transfer_in(c, d, &t, &res, err))) return rc;
        if (growth[i]) *growth_changed = true;
    }
    return HD_OK;
}

hd_rc hd_rules_on_event(hd_conn *c, hd_domain *d, const hd_event *ev, void *arg, hd_err *err) {
    (void)arg;
    bool growth_changed = false;
    hd_rc rc = HD_OK;
    if (ev->order_id && strcmp(ev->type, "order.refunded") == 0 &&
        (rc = reverse_order(c, d, ev, &growth_changed, err)))
        return rc;
    snapshot *s = NULL;
    if ((rc = snapshot_get(c, d, &s, err))) return rc;
    env en = {c, ev, ev->customer_id, false, NULL, {0}, NULL, 0};
    size_t nl = json_array_size(json_object_get(ev->properties, "lines"));
    if (nl) en.line_vals = malloc(sizeof(hd_expr_val) * nl * HD_EXPR_VARS_MAX);
    bool awarded_any = false;
    for (int i = 0; i < s->n && !rc; i++) {
        const crule *r = &s->rules[i];
        if (strcmp(r->event_type, ev->type) != 0 && strcmp(r->event_type, "*") != 0) continue;
        if (r->starts_at && ev->occurred_at_ms < r->starts_at) continue;
        if (r->ends_at && ev->occurred_at_ms >= r->ends_at) continue;
        if (!r->stackable && awarded_any) continue;
        bool match;
        int64_t points;
        hd_err eerr;
        hd_err_clear(&eerr);
        hd_rc erc = eval_rule(&en, r, &match, &points, &eerr);
        if (erc == HD_ESTORE || erc == HD_EBUSY || erc == HD_ENOMEM) {
            *err = eerr;
            rc = erc;
            break;
        }
        /* a rule that cannot evaluate on this event (a type error) awards nothing */
        if (erc || !match || points <= 0) continue;
        if ((rc = capped(c, d, r, ev->customer_id, ev->occurred_at_ms, &points, err))) break;
        if (points <= 0) continue;
        if ((rc = award(c, d, r, ev, points, err))) break;
        awarded_any = true;
        if (r->growth) growth_changed = true;
        if (!r->stackable) break; /* exclusive: nothing after it */
    }
    free(en.line_vals);
    json_decref(en.cust);
    snap_release(d->rules, s);
    if (!rc && growth_changed) rc = hd_tier_evaluate_in(c, d, ev->customer_id, err);
    return rc;
}

/* ---- storage and the API ---- */

static const char *const FIELDS[] = {"name",     "event_type", "condition", "formula",
                                     "currency", "caps",       "starts_at", "ends_at",
                                     "priority", "stackable",  "active",    NULL};

static hd_rc check(const json_t *in, const hd_clock *cal, bool create, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, FIELDS, "a rule", err);
    if (rc) return rc;
    const char *name, *type, *cond, *formula, *cur;
    if ((rc = hd_json_str(in, "name", 100, &name, err))) return rc;
    if ((rc = hd_json_str(in, "event_type", 64, &type, err))) return rc;
    if ((rc = hd_json_str(in, "condition", HD_EXPR_SRC_MAX, &cond, err))) return rc;
    if ((rc = hd_json_str(in, "formula", HD_EXPR_SRC_MAX, &formula, err))) return rc;
    if ((rc = hd_json_str(in, "currency", 16, &cur, err))) return rc;
    if (create && (!name || !*name)) return hd_err_set(err, HD_EINVAL, "name", "is required");
    if (create && (!type || !*type))
        return hd_err_set(err, HD_EINVAL, "event_type",
                          "is required, e.g. \"order.paid\" (or \"*\")");
    if (create && (!formula || !*formula))
        return hd_err_set(err, HD_EINVAL, "formula", "is required, e.g. \"floor(amount / 100)\"");
    if (cur && strcmp(cur, "points") && strcmp(cur, "growth"))
        return hd_err_set(err, HD_EINVAL, "currency", "must be points or growth");
    if (cond && *cond && (rc = hd_rule_check_expr(cond, false, "condition", err))) return rc;
    if (formula && (rc = hd_rule_check_expr(formula, true, "formula", err))) return rc;
    json_t *caps = json_object_get(in, "caps");
    if (caps) {
        if (!json_is_object(caps)) return hd_err_set(err, HD_EINVAL, "caps", "must be an object");
        const char *k;
        json_t *v;
        json_object_foreach(caps, k, v) {
            char f[64];
            snprintf(f, sizeof f, "caps.%s", k);
            if (strcmp(k, "per_day") && strcmp(k, "per_month") && strcmp(k, "budget"))
                return hd_err_set(err, HD_EINVAL, f, "caps are per_day, per_month and budget");
            if (!json_is_null(v) && (!json_is_integer(v) || json_integer_value(v) < 0))
                return hd_err_set(err, HD_EINVAL, f, "must be an integer >= 0 or null");
        }
    }
    bool present;
    int64_t s = 0, e = 0;
    if ((rc = hd_json_time(in, "starts_at", cal, &present, &s, err))) return rc;
    if ((rc = hd_json_time(in, "ends_at", cal, &present, &e, err))) return rc;
    if (s && e && e <= s) return hd_err_set(err, HD_EINVAL, "ends_at", "must be after starts_at");
    json_t *v = json_object_get(in, "priority");
    if (v && (!json_is_integer(v) || json_integer_value(v) < -1000 || json_integer_value(v) > 1000))
        return hd_err_set(err, HD_EINVAL, "priority", "must be an integer from -1000 to 1000");
    if ((v = json_object_get(in, "stackable")) && !json_is_boolean(v))
        return hd_err_set(err, HD_EINVAL, "stackable", "must be true or false");
    if ((v = json_object_get(in, "active")) && !json_is_boolean(v))
        return hd_err_set(err, HD_EINVAL, "active", "must be true or false");
    return HD_OK;
}

#define RULE_COLS                                                                                  \
    "SELECT id, name, event_type, condition, formula, currency, cap_day, cap_month, budget, "      \
    "awarded, starts_at, ends_at, priority, stackable, active, created_at, updated_at FROM rules "

static json_t *opt_int(hd_rows *r, int col) {
    return hd_rows_isnull(r, col) ? json_null() : json_integer(hd_rows_int(r, col));
}

static json_t *rule_json(hd_rows *r) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    json_object_set_new(o, "name", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(o, "event_type", json_string(hd_rows_text(r, 2, NULL)));
    json_object_set_new(o, "condition", json_string(hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "formula", json_string(hd_rows_text(r, 4, NULL)));
    json_object_set_new(o, "currency", json_string(hd_rows_text(r, 5, NULL)));
    json_t *caps = json_object();
    json_object_set_new(caps, "per_day", opt_int(r, 6));
    json_object_set_new(caps, "per_month", opt_int(r, 7));
    json_object_set_new(caps, "budget", opt_int(r, 8));
    json_object_set_new(o, "caps", caps);
    json_object_set_new(o, "awarded", json_integer(hd_rows_int(r, 9)));
    hd_json_set_time(o, "starts_at", hd_rows_int(r, 10), !hd_rows_isnull(r, 10));
    hd_json_set_time(o, "ends_at", hd_rows_int(r, 11), !hd_rows_isnull(r, 11));
    json_object_set_new(o, "priority", json_integer(hd_rows_int(r, 12)));
    json_object_set_new(o, "stackable", json_boolean(hd_rows_int(r, 13)));
    json_object_set_new(o, "active", json_boolean(hd_rows_int(r, 14)));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 15), true);
    hd_json_set_time(o, "updated_at", hd_rows_int(r, 16), true);
    return o;
}

static hd_rc load(hd_conn *c, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, RULE_COLS "WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) *out = rule_json(r);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no rule %lld", (long long)id);
    return HD_OK;
}

typedef struct rule_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id;
    json_t *out;
} rule_ctx;

/* Writes the merged rule (cur updated by in) to row id (insert or update). */
static hd_rc save(hd_conn *c, hd_domain *d, int64_t id, const json_t *r, bool insert, hd_err *err) {
    json_t *caps = json_object_get(r, "caps");
    json_t *cd = json_object_get(caps, "per_day"), *cm = json_object_get(caps, "per_month"),
           *cb = json_object_get(caps, "budget");
    int64_t s = 0, e = 0;
    const char *ss = json_string_value(json_object_get(r, "starts_at"));
    const char *es = json_string_value(json_object_get(r, "ends_at"));
    if (ss) hd_time_parse_in(d->clock, ss, &s);
    if (es) hd_time_parse_in(d->clock, es, &e);
    json_t *pr = json_object_get(r, "priority"), *st = json_object_get(r, "stackable"),
           *ac = json_object_get(r, "active");
    const char *cur = json_string_value(json_object_get(r, "currency"));
    const char *cond = json_string_value(json_object_get(r, "condition"));
    int64_t now = hd_now(d);
    hd_val p[16] = {hd_vtext(json_string_value(json_object_get(r, "name"))),
                    hd_vtext(json_string_value(json_object_get(r, "event_type"))),
                    hd_vtext(cond ? cond : ""),
                    hd_vtext(json_string_value(json_object_get(r, "formula"))),
                    hd_vtext(cur ? cur : "points"),
                    json_is_integer(cd) ? hd_vint(json_integer_value(cd)) : hd_vnull(),
                    json_is_integer(cm) ? hd_vint(json_integer_value(cm)) : hd_vnull(),
                    json_is_integer(cb) ? hd_vint(json_integer_value(cb)) : hd_vnull(),
                    ss ? hd_vint(s) : hd_vnull(),
                    es ? hd_vint(e) : hd_vnull(),
                    hd_vint(pr ? json_integer_value(pr) : 0),
                    hd_vbool(st ? json_is_true(st) : true),
                    hd_vbool(ac ? json_is_true(ac) : true),
                    hd_vint(now),
                    hd_vint(now),
                    hd_vint(id)};
    hd_rc rc =
        insert
            ? hd_exec(c,
                      "INSERT INTO rules (name, event_type, condition, formula, currency, "
                      "cap_day, cap_month, budget, starts_at, ends_at, priority, stackable, "
                      "active, created_at, updated_at, id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                      "?, ?, ?, ?, ?, ?)",
                      p, 16, NULL, err)
            : hd_exec(c,
                      "UPDATE rules SET name = ?, event_type = ?, condition = ?, formula = ?, "
                      "currency = ?, cap_day = ?, cap_month = ?, budget = ?, starts_at = ?, "
                      "ends_at = ?, priority = ?, stackable = ?, active = ?, updated_at = ? "
                      "WHERE id = ?",
                      (hd_val[]){p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10],
                                 p[11], p[12], p[14], p[15]},
                      15, NULL, err);
    if (rc) return rc;
    if (insert) {
        int64_t active;
        hd_val q = hd_vint(0);
        if ((rc = hd_query_int(c, "SELECT count(*) FROM rules WHERE active = 1 AND id > ?", &q, 1,
                               &active, err)))
            return rc;
        if (active > HD_RULES_ACTIVE_MAX)
            return hd_err_set(err, HD_ETOOBIG, "active", "at most %d active rules",
                              HD_RULES_ACTIVE_MAX);
    }
    return bump_version(c, err);
}

static hd_rc create_cb(hd_conn *c, void *vctx, hd_err *err) {
    rule_ctx *rc_ = vctx;
    json_decref(rc_->out);
    rc_->out = NULL;
    int64_t id = hd_id_next(rc_->d->ids);
    hd_rc rc = save(c, rc_->d, id, rc_->in, true, err);
    if (rc) return rc;
    return load(c, id, &rc_->out, err);
}

hd_rc hd_rule_create(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err) {
    hd_rc rc = check(in, d->clock, true, err);
    if (rc) return rc;
    rule_ctx r = {d, in, 0, NULL};
    rc = hd_store_write(d->store, create_cb, &r, err);
    if (rc) {
        json_decref(r.out);
        return rc;
    }
    *status = 201;
    *out = r.out;
    return HD_OK;
}

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    rule_ctx *r = vctx;
    json_decref(r->out);
    r->out = NULL;
    json_t *cur;
    hd_rc rc = load(c, r->id, &cur, err);
    if (rc) return rc;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)r->in, k, v) {
        if (strcmp(k, "caps") == 0)
            json_object_update(json_object_get(cur, "caps"), v);
        else
            json_object_set(cur, k, v);
    }
    rc = save(c, r->d, r->id, cur, false, err);
    json_decref(cur);
    if (rc) return rc;
    return load(c, r->id, &r->out, err);
}

hd_rc hd_rule_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    hd_rc rc = check(in, d->clock, false, err);
    if (rc) return rc;
    rule_ctx r = {d, in, id, NULL};
    rc = hd_store_write(d->store, patch_cb, &r, err);
    if (rc) {
        json_decref(r.out);
        return rc;
    }
    *out = r.out;
    return HD_OK;
}

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    rule_ctx *r = vctx;
    return load(c, r->id, &r->out, err);
}

hd_rc hd_rule_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    rule_ctx r = {d, NULL, id, NULL};
    hd_rc rc = hd_store_read(d->store, get_cb, &r, err);
    *out = r.out;
    return rc;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    rule_ctx *r = vctx;
    hd_rows *rows;
    hd_rc rc = hd_query(c, RULE_COLS "ORDER BY active DESC, priority DESC, id LIMIT 1000", NULL, 0,
                        &rows, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(rows, err)) == 1) json_array_append_new(r->out, rule_json(rows));
    hd_rows_free(rows);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_rule_list(hd_domain *d, json_t **out, hd_err *err) {
    rule_ctx r = {d, NULL, 0, json_array()};
    hd_rc rc = hd_store_read(d->store, list_cb, &r, err);
    if (rc) {
        json_decref(r.out);
        return rc;
    }
    *out = json_pack("{s:o}", "data", r.out);
    return HD_OK;
}

/* ---- simulation ---- */

typedef struct sim_ctx {
    hd_domain *d;
    int64_t id;
    const json_t *in;
    json_t *out;
} sim_ctx;

static hd_rc sim_cb(hd_conn *c, void *vctx, hd_err *err) {
    sim_ctx *sc = vctx;
    json_t *rule;
    hd_rc rc = load(c, sc->id, &rule, err);
    if (rc) return rc;
    const json_t *ev = json_object_get(sc->in, "event");
    const char *type = json_string_value(json_object_get(ev, "type"));
    const char *tp = json_string_value(json_object_get(ev, "touchpoint"));
    json_t *props = json_object_get(ev, "properties");
    int64_t cid = 0;
    bool present;
    if ((rc = hd_json_int(sc->in, "customer_id", &present, &cid, err))) goto done;
    if (present && (rc = hd_customer_follow(c, cid, &cid, err))) goto done;
    crule cr = {0};
    cr.id = sc->id;
    const char *cond = json_string_value(json_object_get(rule, "condition"));
    const char *f = json_string_value(json_object_get(rule, "formula"));
    cr.cond = cond && *cond ? hd_expr_parse(cond, strlen(cond), err) : NULL;
    cr.formula = hd_expr_parse(f, strlen(f), err);
    if (!cr.formula || (cond && *cond && !cr.cond)) {
        rc = err->rc;
        hd_expr_free(cr.cond);
        hd_expr_free(cr.formula);
        goto done;
    }
    cr.cslots = cr.cond ? compile_slots(cr.cond) : NULL;
    cr.fslots = compile_slots(cr.formula);
    hd_event e = {0, cid, type ? type : "", tp ? tp : "", hd_now(sc->d), props, NULL, 0};
    bool has_at;
    int64_t at;
    if (hd_json_time(ev, "occurred_at", sc->d->clock, &has_at, &at, NULL) == HD_OK && has_at)
        e.occurred_at_ms = at;
    env en = {c, &e, cid, false, NULL, {0}, NULL, 0};
    size_t nl = json_array_size(json_object_get(props, "lines"));
    if (nl) en.line_vals = malloc(sizeof(hd_expr_val) * nl * HD_EXPR_VARS_MAX);
    bool match = false;
    int64_t points = 0;
    hd_err eerr;
    hd_err_clear(&eerr);
    bool type_ok =
        strcmp(json_string_value(json_object_get(rule, "event_type")), "*") == 0 ||
        (type && strcmp(type, json_string_value(json_object_get(rule, "event_type"))) == 0);
    hd_rc erc = type_ok ? eval_rule(&en, &cr, &match, &points, &eerr) : HD_OK;
    sc->out = json_object();
    json_object_set_new(sc->out, "matched", json_boolean(type_ok && !erc && match && points > 0));
    json_object_set_new(sc->out, "points", json_integer(!erc && match && points > 0 ? points : 0));
    json_object_set_new(sc->out, "currency", json_incref(json_object_get(rule, "currency")));
    const char *why = !type_ok      ? "the event type does not match"
                      : erc         ? eerr.msg
                      : !match      ? "the condition is false"
                      : points <= 0 ? "the formula gives no points"
                                    : "awarded (before caps and budget)";
    json_object_set_new(sc->out, "reason", json_string(why));
    free(en.line_vals);
    json_decref(en.cust);
    hd_expr_free(cr.cond);
    hd_expr_free(cr.formula);
    free(cr.cslots);
    free(cr.fslots);
done:
    json_decref(rule);
    return rc;
}

hd_rc hd_rule_simulate(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    if (!json_is_object(in) || !json_is_object(json_object_get(in, "event")))
        return hd_err_set(err, HD_EINVAL, "event", "is required: a sample event object");
    json_t *props = json_object_get(json_object_get(in, "event"), "properties");
    if (props && !json_is_object(props))
        return hd_err_set(err, HD_EINVAL, "event.properties", "must be an object");
    sim_ctx sc = {d, id, in, NULL};
    hd_rc rc = hd_store_read(d->store, sim_cb, &sc, err);
    if (rc) {
        json_decref(sc.out);
        return rc;
    }
    *out = sc.out;
    return HD_OK;
}
