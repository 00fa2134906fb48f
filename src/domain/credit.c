/* credit.c - credit limits by hand and by formula, the debt scan that
 * lowers an overdue member's limit to zero and restores it once the debt is
 * repaid, the member's credit view and the credit report.
 *
 * Limits change only through hd_ledger_set_limit_in, inside the caller's
 * transaction, after the member's credit_members row was claimed by a
 * conditional UPDATE, so the job on two nodes, a recompute and a PUT racing
 * on one member serialise. */
#include "domain/credit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers.h"
#include "domain/instalments.h"
#include "domain/ledger.h"
#include "expr/expr.h"

#define DAY_MS       86400000LL
#define DEBT_BATCH   200
#define MEMBER_BATCH 500
#define ERRORS_MAX   10

/* ---- settings (the programme table) ---- */

typedef struct settings {
    char *formula; /* malloc'd, NULL when none */
    int overdue_days;
} settings;

static void settings_free(settings *s) {
    free(s->formula);
    s->formula = NULL;
}

static hd_rc settings_in(hd_conn *c, settings *s, hd_err *err) {
    s->formula = NULL;
    s->overdue_days = HD_CREDIT_OVERDUE_DAYS_DEFAULT;
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT k, v FROM program WHERE k IN ('credit_formula', 'overdue_days')",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *k = hd_rows_text(r, 0, NULL), *v = hd_rows_text(r, 1, NULL);
        if (strcmp(k, "credit_formula") == 0 && *v) {
            free(s->formula);
            s->formula = strdup(v);
        } else if (strcmp(k, "overdue_days") == 0) {
            long n = strtol(v, NULL, 10);
            if (n >= 1 && n <= HD_CREDIT_OVERDUE_DAYS_MAX) s->overdue_days = (int)n;
        }
    }
    hd_rows_free(r);
    if (got < 0) {
        settings_free(s);
        return err->rc;
    }
    return HD_OK;
}

/* ---- the formula ---- */

typedef enum { F_ORDERS, F_REVENUE, F_EVENTS, F_TIER, F_CITY, F_ATTR, F_CLV, F_TIER_LIMIT } fkind;

typedef struct fslot {
    fkind kind;
    char arg[HD_EXPR_NAME_MAX];
} fslot;

typedef struct formula {
    hd_expr *e;
    int n;
    fslot slots[HD_EXPR_VARS_MAX];
} formula;

static void formula_free(formula *f) {
    if (!f) return;
    hd_expr_free(f->e);
    free(f);
}

/* Line and column (characters) of the first occurrence of needle in src. */
static void pos_of(const char *src, const char *needle, int *line, int *col) {
    const char *at = needle && *needle ? strstr(src, needle) : NULL;
    *line = 1;
    *col = 1;
    for (const char *p = src; at && p < at; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static hd_rc classify(const hd_expr_var *v, const char *src, fslot *s, hd_err *err) {
    memset(s, 0, sizeof *s);
    static const struct {
        const char *name;
        fkind kind;
    } plain[] = {{"customer.orders", F_ORDERS}, {"customer.revenue", F_REVENUE},
                 {"customer.events", F_EVENTS}, {"customer.tier", F_TIER},
                 {"customer.city", F_CITY},     {"clv", F_CLV},
                 {"customer.clv", F_CLV},       {"tier.credit_limit", F_TIER_LIMIT}};
    if (!v->agg) {
        for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
            if (strcmp(v->path, plain[i].name) == 0) {
                s->kind = plain[i].kind;
                return HD_OK;
            }
        if (strncmp(v->path, "customer.attributes.", 20) == 0 && v->path[20]) {
            s->kind = F_ATTR;
            snprintf(s->arg, sizeof s->arg, "%s", v->path + 20);
            return HD_OK;
        }
    }
    int line, col;
    pos_of(src, v->agg ? v->agg : v->path, &line, &col);
    return hd_err_set(err, HD_EINVAL, "credit_formula",
                      "line %d, column %d: %s '%s'; a credit formula reads customer.orders, "
                      "customer.revenue, customer.events, customer.tier, customer.city, "
                      "customer.attributes.*, clv and tier.credit_limit",
                      line, col, v->agg ? "no aggregates here:" : "unknown field", v->name);
}

/* Parses and checks src; *out (caller frees with formula_free) on success. */
static hd_rc formula_compile(const char *src, formula **out, hd_err *err) {
    *out = NULL;
    if (strlen(src) > HD_EXPR_SRC_MAX)
        return hd_err_set(err, HD_EINVAL, "credit_formula",
                          "line 1, column 1: longer than %d bytes", HD_EXPR_SRC_MAX);
    formula *f = calloc(1, sizeof *f);
    if (!f) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    f->e = hd_expr_parse(src, strlen(src), err);
    if (!f->e) {
        free(f);
        /* a formula that does not parse is an invalid field of the request */
        snprintf(err->field, sizeof err->field, "credit_formula");
        err->rc = HD_EINVAL;
        return HD_EINVAL;
    }
    f->n = hd_expr_nvars(f->e);
    for (int i = 0; i < f->n; i++) {
        hd_rc rc = classify(hd_expr_var_info(f->e, i), src, &f->slots[i], err);
        if (rc) {
            formula_free(f);
            return rc;
        }
    }
    unsigned types = hd_expr_result_types(f->e);
    if (!(types & ((1u << HD_EXPR_INT) | (1u << HD_EXPR_REAL)))) {
        formula_free(f);
        return hd_err_set(err, HD_EINVAL, "credit_formula",
                          "line 1, column 1: a credit formula must compute a number of points");
    }
    *out = f;
    return HD_OK;
}

hd_rc hd_credit_check_formula(const char *src, hd_err *err) {
    formula *f;
    hd_rc rc = formula_compile(src, &f, err);
    formula_free(f);
    return rc;
}

/* One member as the formula sees it, and where their limit stands. */
typedef struct member {
    int64_t id, orders, revenue, events;
    char city[256];
    json_t *attrs; /* owned */
    bool has_tier, has_tier_limit, has_clv, has_account, pinned, frozen;
    char tier[64];
    int64_t tier_limit, limit;
    double clv;
} member;

#define MEMBER_SQL                                                                                 \
    "SELECT c.id, c.orders, c.revenue, c.events, c.city, c.attributes, t.code, t.credit_limit, "   \
    "s.clv, a.credit_limit, m.manual_limit, m.frozen FROM customers c LEFT JOIN customer_tiers "   \
    "ct ON ct.customer_id = c.id LEFT JOIN tiers t ON t.id = ct.tier_id LEFT JOIN "                \
    "customer_scores s ON s.customer_id = c.id LEFT JOIN accounts a ON a.customer_id = c.id AND "  \
    "a.currency = 'points' AND a.kind = 'member' LEFT JOIN credit_members m ON m.customer_id = "   \
    "c.id WHERE c.merged_into IS NULL AND c.erased_at IS NULL "

static void member_row(hd_rows *r, member *m) {
    memset(m, 0, sizeof *m);
    m->id = hd_rows_int(r, 0);
    m->orders = hd_rows_int(r, 1);
    m->revenue = hd_rows_int(r, 2);
    m->events = hd_rows_int(r, 3);
    snprintf(m->city, sizeof m->city, "%s", hd_rows_text(r, 4, NULL));
    size_t alen = 0;
    const char *at = hd_rows_text(r, 5, &alen);
    m->attrs = json_loadb(at, alen, 0, NULL);
    m->has_tier = !hd_rows_isnull(r, 6);
    snprintf(m->tier, sizeof m->tier, "%s", hd_rows_text(r, 6, NULL));
    m->has_tier_limit = !hd_rows_isnull(r, 7);
    m->tier_limit = hd_rows_int(r, 7);
    m->has_clv = !hd_rows_isnull(r, 8);
    m->clv = hd_rows_real(r, 8);
    m->has_account = !hd_rows_isnull(r, 9);
    m->limit = hd_rows_int(r, 9);
    m->pinned = !hd_rows_isnull(r, 10);
    m->frozen = !hd_rows_isnull(r, 11) && hd_rows_int(r, 11) != 0;
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

/* The formula's limit for m: HD_EINVAL when it gives null or fails. */
static hd_rc formula_eval(const formula *f, const member *m, int64_t *limit, hd_err *err) {
    hd_expr_val vals[HD_EXPR_VARS_MAX];
    for (int i = 0; i < f->n; i++) {
        const fslot *s = &f->slots[i];
        switch (s->kind) {
        case F_ORDERS: vals[i] = hd_expr_int(m->orders); break;
        case F_REVENUE: vals[i] = hd_expr_int(m->revenue); break;
        case F_EVENTS: vals[i] = hd_expr_int(m->events); break;
        case F_TIER:
            vals[i] = m->has_tier ? hd_expr_str(m->tier, strlen(m->tier)) : hd_expr_null();
            break;
        case F_CITY:
            vals[i] = m->city[0] ? hd_expr_str(m->city, strlen(m->city)) : hd_expr_null();
            break;
        case F_ATTR: vals[i] = from_json(walk(m->attrs, s->arg)); break;
        case F_CLV: vals[i] = m->has_clv ? hd_expr_real(m->clv) : hd_expr_null(); break;
        case F_TIER_LIMIT:
            vals[i] = m->has_tier_limit ? hd_expr_int(m->tier_limit) : hd_expr_null();
            break;
        }
    }
    int64_t v;
    hd_rc rc = hd_expr_eval_int(f->e, f->n ? vals : NULL, &v, err);
    if (rc) return rc;
    if (v < 0) v = 0;
    if (v > HD_AMOUNT_MAX) v = HD_AMOUNT_MAX;
    *limit = v;
    return HD_OK;
}

/* ---- changing a limit ---- */

static hd_rc log_change(hd_conn *c, hd_domain *d, int64_t cid, const char *source,
                        int64_t old_limit, int64_t new_limit, const char *reason, hd_err *err) {
    hd_val v[7] = {hd_vint(hd_id_next(d->ids)), hd_vint(cid),       hd_vtext(source),
                   hd_vint(old_limit),          hd_vint(new_limit), hd_vtext(reason ? reason : ""),
                   hd_vint(hd_now(d))};
    return hd_exec(c,
                   "INSERT INTO credit_log (id, customer_id, source, old_limit, new_limit, reason, "
                   "at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                   v, 7, NULL, err);
}

/* The member's points account: its limit and balance; *has false when none. */
static hd_rc account_in(hd_conn *c, int64_t cid, bool *has, int64_t *limit, int64_t *balance,
                        int64_t *pending, hd_err *err) {
    hd_val v = hd_vint(cid);
    hd_rows *r;
    hd_rc rc =
        hd_query(c,
                 "SELECT credit_limit, credits_posted - debits_posted, debits_pending FROM "
                 "accounts WHERE customer_id = ? AND currency = 'points' AND kind = 'member'",
                 &v, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    *has = got == 1;
    *limit = got == 1 ? hd_rows_int(r, 0) : 0;
    if (balance) *balance = got == 1 ? hd_rows_int(r, 1) : 0;
    if (pending) *pending = got == 1 ? hd_rows_int(r, 2) : 0;
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

/* Makes sure the member has a credit_members row and claims it (the row
 * lock every limit change of this module takes first). *frozen is read under
 * the claim. */
static hd_rc claim_member(hd_conn *c, hd_domain *d, int64_t cid, bool *frozen, hd_err *err) {
    int64_t now = hd_now(d), n = 0;
    hd_val v[2] = {hd_vint(now), hd_vint(cid)};
    hd_rc rc =
        hd_exec(c, "UPDATE credit_members SET updated_at = ? WHERE customer_id = ?", v, 2, &n, err);
    if (rc) return rc;
    if (n == 0) {
        hd_val w[2] = {hd_vint(cid), hd_vint(now)};
        rc = hd_exec(c,
                     "INSERT INTO credit_members (customer_id, frozen, updated_at) VALUES (?, 0, "
                     "?) ON CONFLICT (customer_id) DO NOTHING",
                     w, 2, &n, err);
        if (rc) return rc;
        /* another transaction inserted it first: run again and claim it */
        if (n == 0) return hd_err_set(err, HD_EBUSY, "", "credit row raced");
    }
    hd_val q = hd_vint(cid);
    int64_t f = 0;
    if ((rc = hd_query_int(c, "SELECT frozen FROM credit_members WHERE customer_id = ?", &q, 1, &f,
                           err)))
        return rc;
    *frozen = f != 0;
    return HD_OK;
}

typedef struct apply_res {
    int changed, unchanged, deferred;
} apply_res;

/* Sets a member's limit from the formula or by hand (source), or keeps it
 * aside when the member is frozen for overdue debt. */
static hd_rc apply_limit(hd_conn *c, hd_domain *d, int64_t cid, int64_t limit, const char *source,
                         const char *reason, apply_res *ar, hd_err *err) {
    bool frozen;
    hd_rc rc = claim_member(c, d, cid, &frozen, err);
    if (rc) return rc;
    if (frozen) {
        hd_val v[2] = {hd_vint(limit), hd_vint(cid)};
        ar->deferred++;
        return hd_exec(c, "UPDATE credit_members SET saved_limit = ? WHERE customer_id = ?", v, 2,
                       NULL, err);
    }
    bool has;
    int64_t cur;
    if ((rc = account_in(c, cid, &has, &cur, NULL, NULL, err))) return rc;
    if (has && cur == limit) {
        ar->unchanged++;
        return HD_OK;
    }
    if ((rc = hd_ledger_set_limit_in(c, d, cid, limit, err))) return rc;
    ar->changed++;
    return log_change(c, d, cid, source, cur, limit, reason, err);
}

/* ---- the debt scan ---- */

typedef struct debt_stats {
    int64_t new_in_debt, frozen, restored, refrozen, cleared, pinned;
} debt_stats;

/* Acts on one tracked member: repaid (restore), overdue (freeze), or a limit
 * raised while frozen (keep it aside, back to zero). */
static hd_rc debt_member_in(hd_conn *c, hd_domain *d, int64_t cid, int64_t cutoff, debt_stats *st,
                            hd_err *err) {
    int64_t now = hd_now(d), n = 0;
    hd_val v[2] = {hd_vint(now), hd_vint(cid)};
    hd_rc rc = hd_exec(c,
                       "UPDATE credit_members SET updated_at = ? WHERE customer_id = ? AND "
                       "negative_since IS NOT NULL",
                       v, 2, &n, err);
    if (rc || n == 0) return rc;
    hd_val q = hd_vint(cid);
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT negative_since, frozen, saved_limit FROM credit_members WHERE "
                       "customer_id = ?",
                       &q, 1, &r, err)))
        return rc;
    int got = hd_rows_next(r, err);
    int64_t since = got == 1 ? hd_rows_int(r, 0) : 0;
    bool frozen = got == 1 && hd_rows_int(r, 1) != 0;
    bool has_saved = got == 1 && !hd_rows_isnull(r, 2);
    int64_t saved = got == 1 ? hd_rows_int(r, 2) : 0;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    bool has;
    int64_t limit, balance;
    if ((rc = account_in(c, cid, &has, &limit, &balance, NULL, err))) return rc;
    char why[160];
    if (!has || balance >= 0) {
        /* repaid: the member is out of debt; a frozen limit comes back */
        if ((rc = hd_exec(c,
                          "UPDATE credit_members SET negative_since = NULL, frozen = 0, frozen_at "
                          "= NULL, saved_limit = NULL WHERE customer_id = ?",
                          &q, 1, NULL, err)))
            return rc;
        st->cleared++;
        if (!frozen || !has) return HD_OK;
        int64_t back = has_saved ? saved : limit;
        if ((rc = hd_ledger_set_limit_in(c, d, cid, back, err))) return rc;
        st->restored++;
        return log_change(c, d, cid, "repaid", limit, back, "debt repaid: the limit is restored",
                          err);
    }
    if (!frozen && since < cutoff) {
        hd_val u[3] = {hd_vint(now), hd_vint(limit), hd_vint(cid)};
        if ((rc = hd_exec(c,
                          "UPDATE credit_members SET frozen = 1, frozen_at = ?, saved_limit = ? "
                          "WHERE customer_id = ?",
                          u, 3, NULL, err)))
            return rc;
        if ((rc = hd_ledger_set_limit_in(c, d, cid, 0, err))) return rc;
        st->frozen++;
        char t[32];
        hd_time_format(since, t);
        snprintf(why, sizeof why, "overdue debt of %lld points, negative since %s",
                 (long long)-balance, t);
        return log_change(c, d, cid, "overdue", limit, 0, why, err);
    }
    if (frozen && limit > 0) {
        /* a tier change (or anything else) raised it meanwhile: keep it for later */
        hd_val u[2] = {hd_vint(limit), hd_vint(cid)};
        if ((rc = hd_exec(c, "UPDATE credit_members SET saved_limit = ? WHERE customer_id = ?", u,
                          2, NULL, err)))
            return rc;
        if ((rc = hd_ledger_set_limit_in(c, d, cid, 0, err))) return rc;
        st->refrozen++;
        snprintf(why, sizeof why, "still overdue: the new limit %lld applies once repaid",
                 (long long)limit);
        return log_change(c, d, cid, "overdue", limit, 0, why, err);
    }
    return HD_OK;
}

/* A limit set by hand wins over a tier change: pinned members whose limit
 * was changed elsewhere get theirs back (frozen ones keep zero). */
static hd_rc pins_in(hd_conn *c, hd_domain *d, debt_stats *st, hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT m.customer_id, m.manual_limit, a.credit_limit FROM credit_members "
                        "m JOIN accounts a ON a.customer_id = m.customer_id AND a.currency = "
                        "'points' AND a.kind = 'member' WHERE m.manual_limit IS NOT NULL AND "
                        "m.frozen = 0 AND a.credit_limit <> m.manual_limit ORDER BY m.customer_id "
                        "LIMIT 200",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int64_t ids[DEBT_BATCH], want[DEBT_BATCH], had[DEBT_BATCH];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < DEBT_BATCH) {
        ids[n] = hd_rows_int(r, 0);
        want[n] = hd_rows_int(r, 1);
        had[n] = hd_rows_int(r, 2);
        n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++) {
        bool frozen;
        if ((rc = claim_member(c, d, ids[i], &frozen, err))) return rc;
        if (frozen) continue;
        if ((rc = hd_ledger_set_limit_in(c, d, ids[i], want[i], err))) return rc;
        if ((rc = log_change(c, d, ids[i], "manual", had[i], want[i],
                             "the limit set by hand applies again after a change elsewhere", err)))
            return rc;
        st->pinned++;
    }
    return HD_OK;
}

typedef struct debt_ctx {
    hd_domain *d;
    int64_t now;
    bool claim;   /* the job: claim this minute's scan first */
    bool claimed; /* out: the claim was ours (or none was needed) */
    bool first;   /* the first batch also notes members newly in debt */
    int64_t cursor, next_cursor;
    int rows;
    debt_stats st; /* this run's counts (the callback may run more than once) */
} debt_ctx;

static hd_rc debt_cb(hd_conn *c, void *vctx, hd_err *err) {
    debt_ctx *dc = vctx;
    dc->st = (debt_stats){0};
    dc->rows = 0;
    dc->claimed = true;
    hd_rc rc;
    if (dc->claim) {
        /* The claim and the first batch commit together: a job that loses
         * the claim returns only after the winner's work is visible. */
        int64_t n = 0;
        hd_val v[2] = {hd_vint(dc->now), hd_vint(dc->now - HD_CREDIT_SCAN_INTERVAL_MS)};
        if ((rc = hd_exec(c,
                          "UPDATE credit_jobs SET v = ?1 WHERE k = 'scan' AND (v <= ?2 OR v > ?1)",
                          v, 2, &n, err)))
            return rc;
        if (n == 0) {
            dc->claimed = false;
            return HD_OK;
        }
    }
    if (dc->first) {
        hd_val v = hd_vint(dc->now);
        if ((rc = hd_exec(c,
                          "INSERT INTO credit_members (customer_id, negative_since, frozen, "
                          "updated_at) SELECT a.customer_id, CAST(?1 AS BIGINT), 0, CAST(?1 AS "
                          "BIGINT) FROM accounts a WHERE a.kind = 'member' AND a.currency = "
                          "'points' AND a.credits_posted < a.debits_posted AND a.customer_id IS "
                          "NOT NULL ON CONFLICT (customer_id) DO UPDATE SET negative_since = "
                          "excluded.negative_since, updated_at = excluded.updated_at WHERE "
                          "credit_members.negative_since IS NULL",
                          &v, 1, &dc->st.new_in_debt, err)))
            return rc;
    }
    if (dc->first && (rc = pins_in(c, dc->d, &dc->st, err))) return rc;
    settings s;
    if ((rc = settings_in(c, &s, err))) return rc;
    int64_t cutoff = dc->now - (int64_t)s.overdue_days * DAY_MS;
    settings_free(&s);
    hd_val v[3] = {hd_vint(cutoff), hd_vint(dc->cursor), hd_vint(DEBT_BATCH)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT m.customer_id FROM credit_members m LEFT JOIN accounts a ON "
                       "a.customer_id = m.customer_id AND a.currency = 'points' AND a.kind = "
                       "'member' WHERE m.negative_since IS NOT NULL AND m.customer_id > ?2 AND "
                       "(a.id IS NULL OR a.credits_posted >= a.debits_posted OR (m.frozen = 0 AND "
                       "m.negative_since < ?1) OR (m.frozen = 1 AND a.credit_limit > 0)) ORDER BY "
                       "m.customer_id LIMIT ?3",
                       v, 3, &r, err)))
        return rc;
    int64_t ids[DEBT_BATCH];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < DEBT_BATCH) ids[n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++)
        if ((rc = debt_member_in(c, dc->d, ids[i], cutoff, &dc->st, err))) return rc;
    dc->rows = n;
    dc->next_cursor = n ? ids[n - 1] : dc->cursor;
    return HD_OK;
}

/* Runs the debt scan in batches; claim: only if this minute's is not done. */
static hd_rc debt_pass(hd_domain *d, int64_t now, bool claim, debt_stats *total, hd_err *err) {
    *total = (debt_stats){0};
    int64_t cursor = 0;
    for (int round = 0; round < 10000; round++) {
        debt_ctx dc = {.d = d,
                       .now = now,
                       .claim = claim && round == 0,
                       .first = round == 0,
                       .cursor = cursor};
        hd_rc rc = hd_store_write(d->store, debt_cb, &dc, err);
        if (rc) return rc;
        if (!dc.claimed) return HD_OK;
        total->new_in_debt += dc.st.new_in_debt;
        total->frozen += dc.st.frozen;
        total->restored += dc.st.restored;
        total->refrozen += dc.st.refrozen;
        total->cleared += dc.st.cleared;
        total->pinned += dc.st.pinned;
        if (dc.rows < DEBT_BATCH) break;
        cursor = dc.next_cursor;
    }
    return HD_OK;
}

static json_t *debt_json(const debt_stats *st) {
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "new_in_debt", (json_int_t)st->new_in_debt,
                     "frozen", (json_int_t)st->frozen, "restored", (json_int_t)st->restored,
                     "refrozen", (json_int_t)st->refrozen, "repaid", (json_int_t)st->cleared,
                     "pins_reapplied", (json_int_t)st->pinned);
}

/* ---- applying the formula ---- */

typedef struct recompute_stats {
    int64_t examined, changed, unchanged, pinned, deferred, skipped;
} recompute_stats;

typedef struct rec_ctx {
    hd_domain *d;
    const formula *f;
    int64_t now;
    int64_t only; /* one customer, or 0 */
    bool claim, claimed;
    int64_t cursor, next_cursor;
    int rows;
    recompute_stats st;
    json_t *errors; /* this run's, at most ERRORS_MAX */
} rec_ctx;

static hd_rc rec_cb(hd_conn *c, void *vctx, hd_err *err) {
    rec_ctx *rx = vctx;
    rx->st = (recompute_stats){0};
    rx->rows = 0;
    rx->claimed = true;
    json_decref(rx->errors);
    rx->errors = json_array();
    hd_rc rc;
    if (rx->claim) {
        int64_t n = 0;
        hd_val v[2] = {hd_vint(rx->now), hd_vint(rx->now - HD_CREDIT_RECOMPUTE_MS)};
        if ((rc = hd_exec(c,
                          "UPDATE credit_jobs SET v = ?1 WHERE k = 'recompute' AND (v <= ?2 OR v > "
                          "?1)",
                          v, 2, &n, err)))
            return rc;
        if (n == 0) {
            rx->claimed = false;
            return HD_OK;
        }
    }
    hd_val v[4] = {hd_vint(rx->cursor), hd_vint(rx->only), hd_vint(rx->only ? 1 : 0),
                   hd_vint(MEMBER_BATCH)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       MEMBER_SQL "AND c.id > ?1 AND (?3 = 0 OR c.id = ?2) ORDER BY c.id LIMIT ?4",
                       v, 4, &r, err)))
        return rc;
    member *ms = calloc(MEMBER_BATCH, sizeof *ms);
    if (!ms) {
        hd_rows_free(r);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < MEMBER_BATCH) member_row(r, &ms[n++]);
    hd_rows_free(r);
    rc = got < 0 ? err->rc : HD_OK;
    for (int i = 0; i < n && !rc; i++) {
        member *m = &ms[i];
        rx->st.examined++;
        if (m->pinned) {
            rx->st.pinned++;
            continue;
        }
        int64_t limit;
        hd_err ee;
        hd_err_clear(&ee);
        if (formula_eval(rx->f, m, &limit, &ee)) {
            rx->st.skipped++;
            if (json_array_size(rx->errors) < ERRORS_MAX) {
                json_t *e = json_object();
                hd_json_set_id(e, "customer_id", m->id);
                json_object_set_new(e, "detail", json_string(ee.msg));
                json_array_append_new(rx->errors, e);
            }
            continue;
        }
        if (!m->frozen && m->has_account && m->limit == limit) {
            rx->st.unchanged++;
            continue;
        }
        if (!m->frozen && !m->has_account && limit == 0) {
            rx->st.unchanged++;
            continue;
        }
        apply_res ar = {0};
        rc = apply_limit(c, rx->d, m->id, limit, "formula", "credit_formula", &ar, err);
        rx->st.changed += ar.changed;
        rx->st.unchanged += ar.unchanged;
        rx->st.deferred += ar.deferred;
    }
    for (int i = 0; i < n; i++) json_decref(ms[i].attrs);
    rx->rows = n;
    rx->next_cursor = n ? ms[n - 1].id : rx->cursor;
    free(ms);
    return rc;
}

/* Applies f to every member (or only one) in batches. */
static hd_rc recompute_all(hd_domain *d, const formula *f, int64_t only, bool claim,
                           recompute_stats *total, json_t *errors, hd_err *err) {
    *total = (recompute_stats){0};
    int64_t cursor = 0;
    for (int round = 0; round < 100000; round++) {
        rec_ctx rx = {.d = d,
                      .f = f,
                      .now = hd_now(d),
                      .only = only,
                      .claim = claim && round == 0,
                      .cursor = cursor};
        hd_rc rc = hd_store_write(d->store, rec_cb, &rx, err);
        if (rc) {
            json_decref(rx.errors);
            return rc;
        }
        size_t i;
        json_t *e;
        json_array_foreach(rx.errors, i, e) {
            if (errors && json_array_size(errors) < ERRORS_MAX) json_array_append(errors, e);
        }
        json_decref(rx.errors);
        if (!rx.claimed) return HD_OK;
        total->examined += rx.st.examined;
        total->changed += rx.st.changed;
        total->unchanged += rx.st.unchanged;
        total->pinned += rx.st.pinned;
        total->deferred += rx.st.deferred;
        total->skipped += rx.st.skipped;
        if (rx.rows < MEMBER_BATCH) break;
        cursor = rx.next_cursor;
    }
    return HD_OK;
}

/* ---- the job ---- */

typedef struct job_state {
    int64_t scan, recompute;
    bool has_formula;
} job_state;

static hd_rc job_state_cb(hd_conn *c, void *vctx, hd_err *err) {
    job_state *js = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT k, v FROM credit_jobs", NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (strcmp(hd_rows_text(r, 0, NULL), "scan") == 0) js->scan = hd_rows_int(r, 1);
        if (strcmp(hd_rows_text(r, 0, NULL), "recompute") == 0) js->recompute = hd_rows_int(r, 1);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    int64_t n = 0;
    rc = hd_query_int(c, "SELECT count(*) FROM program WHERE k = 'credit_formula' AND v <> ''",
                      NULL, 0, &n, err);
    js->has_formula = n > 0;
    return rc;
}

typedef struct formula_ctx {
    char *src;
} formula_ctx;

static hd_rc formula_src_cb(hd_conn *c, void *vctx, hd_err *err) {
    formula_ctx *fc = vctx;
    settings s;
    hd_rc rc = settings_in(c, &s, err);
    if (rc) return rc;
    free(fc->src);
    fc->src = s.formula; /* taken over */
    return HD_OK;
}

/* The stored formula compiled, or NULL (*out) when none is set. */
static hd_rc stored_formula(hd_domain *d, formula **out, char **src, hd_err *err) {
    *out = NULL;
    formula_ctx fc = {NULL};
    hd_rc rc = hd_store_read(d->store, formula_src_cb, &fc, err);
    if (!rc && fc.src) rc = formula_compile(fc.src, out, err);
    if (src)
        *src = fc.src;
    else
        free(fc.src);
    return rc;
}

hd_rc hd_credit_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)arg;
    job_state js = {0};
    hd_rc rc = hd_store_read(d->store, job_state_cb, &js, err);
    if (rc) return rc;
    /* due after the interval, or at once when the clock was set back */
    if (now_ms - js.scan >= HD_CREDIT_SCAN_INTERVAL_MS || now_ms < js.scan) {
        debt_stats st;
        if ((rc = debt_pass(d, now_ms, true, &st, err))) return rc;
    }
    if (js.has_formula &&
        (now_ms - js.recompute >= HD_CREDIT_RECOMPUTE_MS || now_ms < js.recompute)) {
        formula *f = NULL;
        rc = stored_formula(d, &f, NULL, err);
        if (rc == HD_EINVAL) {
            /* checked when saved; a formula this build cannot read changes nothing */
            hd_err_clear(err);
            return HD_OK;
        }
        if (rc) return rc;
        recompute_stats st;
        if (f) rc = recompute_all(d, f, 0, true, &st, NULL, err);
        formula_free(f);
    }
    return rc;
}

/* ---- the API ---- */

static hd_rc settings_json_in(hd_conn *c, json_t **out, hd_err *err) {
    settings s;
    hd_rc rc = settings_in(c, &s, err);
    if (rc) return rc;
    json_t *o = json_object();
    json_object_set_new(o, "credit_formula", s.formula ? json_string(s.formula) : json_null());
    json_object_set_new(o, "overdue_days", json_integer(s.overdue_days));
    json_object_set_new(o, "recompute", json_string("daily, and on POST /v1/credit/recompute"));
    settings_free(&s);
    *out = o;
    return HD_OK;
}

typedef struct api_ctx {
    hd_domain *d;
    const json_t *in;
    int64_t id, cursor;
    int limit;
    json_t *out;
    /* PUT */
    bool has_limit;
    int64_t limit_v;
    const char *reason;
} api_ctx;

static hd_rc settings_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    api_ctx *ac = vctx;
    json_decref(ac->out);
    ac->out = NULL;
    return settings_json_in(c, &ac->out, err);
}

static hd_rc run(hd_domain *d, bool write, hd_store_fn fn, api_ctx *ac, json_t **out, hd_err *err) {
    hd_rc rc = write ? hd_store_write(d->store, fn, ac, err) : hd_store_read(d->store, fn, ac, err);
    if (rc) {
        json_decref(ac->out);
        return rc;
    }
    *out = ac->out;
    return HD_OK;
}

hd_rc hd_credit_settings_get(hd_domain *d, json_t **out, hd_err *err) {
    api_ctx ac = {.d = d};
    return run(d, false, settings_get_cb, &ac, out, err);
}

static hd_rc set_kv(hd_conn *c, const char *k, const char *v, hd_err *err) {
    hd_val q = hd_vtext(k);
    hd_rc rc = hd_exec(c, "DELETE FROM program WHERE k = ?", &q, 1, NULL, err);
    if (rc || !v) return rc;
    hd_val p[2] = {hd_vtext(k), hd_vtext(v)};
    return hd_exec(c, "INSERT INTO program (k, v) VALUES (?, ?)", p, 2, NULL, err);
}

static hd_rc settings_patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    api_ctx *ac = vctx;
    json_decref(ac->out);
    ac->out = NULL;
    hd_rc rc;
    json_t *f = json_object_get(ac->in, "credit_formula");
    if (f &&
        (rc = set_kv(c, "credit_formula", json_is_string(f) ? json_string_value(f) : NULL, err)))
        return rc;
    if (json_is_string(f)) {
        /* a new formula applies on POST /v1/credit/recompute, or with the
         * daily run a day from now - never half-way through a PATCH */
        hd_val v = hd_vint(hd_now(ac->d));
        if ((rc = hd_exec(c, "UPDATE credit_jobs SET v = ? WHERE k = 'recompute'", &v, 1, NULL,
                          err)))
            return rc;
    }
    json_t *od = json_object_get(ac->in, "overdue_days");
    if (od) {
        char s[32];
        snprintf(s, sizeof s, "%lld", (long long)json_integer_value(od));
        if ((rc = set_kv(c, "overdue_days", s, err))) return rc;
    }
    return settings_json_in(c, &ac->out, err);
}

hd_rc hd_credit_settings_patch(hd_domain *d, const json_t *in, json_t **out, hd_err *err) {
    static const char *const fields[] = {"credit_formula", "overdue_days", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, fields, "the credit settings", err);
    if (rc) return rc;
    json_t *f = json_object_get(in, "credit_formula");
    if (f && !json_is_null(f)) {
        const char *src;
        if ((rc = hd_json_str(in, "credit_formula", HD_EXPR_SRC_MAX, &src, err))) return rc;
        if (!src || !*src)
            return hd_err_set(err, HD_EINVAL, "credit_formula",
                              "must be a formula, or null to remove it");
        if ((rc = hd_credit_check_formula(src, err))) return rc;
    }
    json_t *od = json_object_get(in, "overdue_days");
    if (od && (!json_is_integer(od) || json_integer_value(od) < 1 ||
               json_integer_value(od) > HD_CREDIT_OVERDUE_DAYS_MAX))
        return hd_err_set(err, HD_EINVAL, "overdue_days", "must be a whole number of days, 1 to %d",
                          HD_CREDIT_OVERDUE_DAYS_MAX);
    api_ctx ac = {.d = d, .in = in};
    return run(d, true, settings_patch_cb, &ac, out, err);
}

/* The member's credit view, read inside a transaction. */
static hd_rc view_in(hd_conn *c, hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    settings s;
    hd_rc rc = settings_in(c, &s, err);
    if (rc) return rc;
    settings_free(&s);
    int64_t now = hd_now(d);
    bool has;
    int64_t limit, balance, pending;
    if ((rc = account_in(c, cid, &has, &limit, &balance, &pending, err))) return rc;
    if (!has) {
        hd_program prog;
        if ((rc = hd_program_load_in(c, &prog, err))) return rc;
        limit = prog.default_credit_limit;
    }
    json_t *o = json_object();
    hd_json_set_id(o, "customer_id", cid);
    json_object_set_new(o, "credit_limit", json_integer(limit));
    json_object_set_new(o, "balance", json_integer(balance));
    json_object_set_new(o, "pending", json_integer(pending));
    json_object_set_new(o, "available", json_integer(balance - pending + limit));
    json_object_set_new(o, "debt", json_integer(balance < 0 ? -balance : 0));
    hd_val q = hd_vint(cid);
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT negative_since, frozen, frozen_at, saved_limit, manual_limit, "
                       "manual_reason FROM credit_members WHERE customer_id = ?",
                       &q, 1, &r, err))) {
        json_decref(o);
        return rc;
    }
    int got = hd_rows_next(r, err);
    bool neg = got == 1 && !hd_rows_isnull(r, 0);
    int64_t since = neg ? hd_rows_int(r, 0) : 0;
    hd_json_set_time(o, "negative_since", since, neg);
    json_object_set_new(o, "days_negative", json_integer(neg ? (now - since) / DAY_MS : 0));
    json_object_set_new(o, "overdue",
                        json_boolean(neg && since < now - (int64_t)s.overdue_days * DAY_MS));
    json_object_set_new(o, "frozen", json_boolean(got == 1 && hd_rows_int(r, 1) != 0));
    hd_json_set_time(o, "frozen_at", got == 1 ? hd_rows_int(r, 2) : 0,
                     got == 1 && !hd_rows_isnull(r, 2));
    json_object_set_new(o, "saved_limit",
                        got == 1 && !hd_rows_isnull(r, 3) ? json_integer(hd_rows_int(r, 3))
                                                          : json_null());
    bool pinned = got == 1 && !hd_rows_isnull(r, 4);
    json_object_set_new(o, "pinned", json_boolean(pinned));
    json_object_set_new(o, "manual_limit", pinned ? json_integer(hd_rows_int(r, 4)) : json_null());
    json_object_set_new(o, "manual_reason",
                        pinned ? json_string(hd_rows_text(r, 5, NULL)) : json_null());
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    int64_t inst = 0;
    if ((rc = hd_instalment_outstanding_in(c, cid, &inst, err))) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "instalments_outstanding", json_integer(inst));
    json_object_set_new(o, "overdue_days", json_integer(s.overdue_days));
    json_t *hist = json_array();
    json_object_set_new(o, "history", hist);
    hd_val hv[2] = {hd_vint(cid), hd_vint(HD_CREDIT_HISTORY)};
    if ((rc = hd_query(c,
                       "SELECT source, old_limit, new_limit, reason, at FROM credit_log WHERE "
                       "customer_id = ? ORDER BY id DESC LIMIT ?",
                       hv, 2, &r, err))) {
        json_decref(o);
        return rc;
    }
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *e = json_object();
        json_object_set_new(e, "source", json_string(hd_rows_text(r, 0, NULL)));
        json_object_set_new(e, "old_limit", json_integer(hd_rows_int(r, 1)));
        json_object_set_new(e, "new_limit", json_integer(hd_rows_int(r, 2)));
        json_object_set_new(e, "reason", json_string(hd_rows_text(r, 3, NULL)));
        hd_json_set_time(e, "at", hd_rows_int(r, 4), true);
        json_array_append_new(hist, e);
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    *out = o;
    return HD_OK;
}

static hd_rc follow(hd_conn *c, int64_t id, int64_t *live, hd_err *err) {
    hd_rc rc = hd_customer_follow(c, id, live, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_ENOTFOUND, "id", "no customer %lld", (long long)id);
    return rc;
}

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    api_ctx *ac = vctx;
    json_decref(ac->out);
    ac->out = NULL;
    int64_t cid;
    hd_rc rc = follow(c, ac->id, &cid, err);
    if (rc) return rc;
    return view_in(c, ac->d, cid, &ac->out, err);
}

hd_rc hd_credit_get(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err) {
    api_ctx ac = {.d = d, .id = customer_id};
    return run(d, false, get_cb, &ac, out, err);
}

static hd_rc set_cb(hd_conn *c, void *vctx, hd_err *err) {
    api_ctx *ac = vctx;
    hd_domain *d = ac->d;
    json_decref(ac->out);
    ac->out = NULL;
    int64_t cid;
    hd_rc rc = follow(c, ac->id, &cid, err);
    if (rc) return rc;
    bool frozen;
    if ((rc = claim_member(c, d, cid, &frozen, err))) return rc;
    hd_val v[3] = {ac->has_limit ? hd_vint(ac->limit_v) : hd_vnull(),
                   hd_vtext(ac->has_limit ? ac->reason : NULL), hd_vint(cid)};
    if ((rc = hd_exec(c,
                      "UPDATE credit_members SET manual_limit = ?, manual_reason = ? WHERE "
                      "customer_id = ?",
                      v, 3, NULL, err)))
        return rc;
    bool has;
    int64_t cur;
    if ((rc = account_in(c, cid, &has, &cur, NULL, NULL, err))) return rc;
    if (ac->has_limit) {
        apply_res ar = {0};
        if ((rc = apply_limit(c, d, cid, ac->limit_v, "manual", ac->reason, &ar, err))) return rc;
        if (ar.unchanged && (rc = log_change(c, d, cid, "manual", cur, cur, ac->reason, err)))
            return rc;
        if (ar.deferred) {
            char why[HD_CREDIT_REASON_MAX * 4 + 96];
            snprintf(why, sizeof why, "%s (overdue debt: %lld applies once repaid)", ac->reason,
                     (long long)ac->limit_v);
            if ((rc = log_change(c, d, cid, "manual", cur, cur, why, err))) return rc;
        }
    } else {
        if ((rc = log_change(c, d, cid, "manual", cur, cur, ac->reason, err))) return rc;
        /* unpinned: the formula, when there is one, decides again now */
        settings s;
        if ((rc = settings_in(c, &s, err))) return rc;
        formula *f = NULL;
        if (s.formula && formula_compile(s.formula, &f, err) != HD_OK) {
            hd_err_clear(err);
            f = NULL;
        }
        settings_free(&s);
        if (f) {
            hd_val mv = hd_vint(cid);
            hd_rows *r;
            rc = hd_query(c, MEMBER_SQL "AND c.id = ?", &mv, 1, &r, err);
            int got = rc ? -1 : hd_rows_next(r, err);
            member m = {0};
            if (got == 1) member_row(r, &m);
            if (!rc) hd_rows_free(r);
            if (!rc && got < 0) rc = err->rc;
            int64_t limit;
            hd_err ee;
            if (!rc && got == 1 && formula_eval(f, &m, &limit, &ee) == HD_OK) {
                apply_res ar = {0};
                rc = apply_limit(c, d, cid, limit, "formula", "credit_formula (pin removed)", &ar,
                                 err);
            }
            json_decref(m.attrs);
            formula_free(f);
            if (rc) return rc;
        }
    }
    return view_in(c, d, cid, &ac->out, err);
}

hd_rc hd_credit_set(hd_domain *d, int64_t customer_id, const json_t *in, json_t **out,
                    hd_err *err) {
    static const char *const fields[] = {"limit", "reason", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, fields, "a credit limit", err);
    if (rc) return rc;
    api_ctx ac = {.d = d, .id = customer_id};
    json_t *l = json_object_get(in, "limit");
    if (!l)
        return hd_err_set(err, HD_EINVAL, "limit",
                          "is required: the limit in points, or null to remove the pin");
    if (!json_is_null(l)) {
        if (!json_is_integer(l) || json_integer_value(l) < 0 ||
            json_integer_value(l) > HD_AMOUNT_MAX)
            return hd_err_set(err, HD_EINVAL, "limit",
                              "must be a whole number of points, 0 to %lld",
                              (long long)HD_AMOUNT_MAX);
        ac.has_limit = true;
        ac.limit_v = json_integer_value(l);
    }
    if ((rc = hd_json_str(in, "reason", HD_CREDIT_REASON_MAX, &ac.reason, err))) return rc;
    if (!ac.reason || !*ac.reason)
        return hd_err_set(err, HD_EINVAL, "reason", "is required: why the limit changes");
    return run(d, true, set_cb, &ac, out, err);
}

hd_rc hd_credit_recompute(hd_domain *d, const json_t *in, json_t **out, hd_err *err) {
    int64_t only = 0;
    if (in) {
        static const char *const fields[] = {"customer_id", NULL};
        if (!json_is_object(in))
            return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
        hd_rc rc = hd_json_only(in, fields, "a recompute", err);
        if (rc) return rc;
        bool present;
        if ((rc = hd_json_int(in, "customer_id", &present, &only, err))) return rc;
        if (present && only <= 0)
            return hd_err_set(err, HD_EINVAL, "customer_id", "must be a customer id");
    }
    formula *f = NULL;
    char *src = NULL;
    hd_rc rc = stored_formula(d, &f, &src, err);
    if (rc) {
        free(src);
        return rc;
    }
    json_t *o = json_object(), *errors = json_array();
    json_object_set_new(o, "formula", src ? json_string(src) : json_null());
    free(src);
    recompute_stats st = {0};
    if (f) rc = recompute_all(d, f, only, false, &st, errors, err);
    formula_free(f);
    debt_stats ds = {0};
    if (!rc) rc = debt_pass(d, hd_now(d), false, &ds, err);
    if (rc) {
        json_decref(o);
        json_decref(errors);
        return rc;
    }
    json_object_set_new(o, "examined", json_integer(st.examined));
    json_object_set_new(o, "changed", json_integer(st.changed));
    json_object_set_new(o, "unchanged", json_integer(st.unchanged));
    json_object_set_new(o, "pinned", json_integer(st.pinned));
    json_object_set_new(o, "deferred", json_integer(st.deferred));
    json_object_set_new(o, "skipped", json_integer(st.skipped));
    json_object_set_new(o, "errors", errors);
    json_object_set_new(o, "debt", debt_json(&ds));
    *out = o;
    return HD_OK;
}

/* ---- the report ---- */

typedef struct debtor_ctx {
    int64_t now, cutoff;
} debtor_ctx;

/* A member in debt, in the credit report. */
static json_t *debtor_row(hd_rows *r, void *arg) {
    const debtor_ctx *dc = arg;
    json_t *e = json_object();
    hd_json_set_id(e, "customer_id", hd_rows_int(r, 0));
    json_object_set_new(e, "debt", json_integer(hd_rows_int(r, 1)));
    json_object_set_new(e, "credit_limit", json_integer(hd_rows_int(r, 2)));
    bool neg = !hd_rows_isnull(r, 3);
    int64_t since = hd_rows_int(r, 3);
    hd_json_set_time(e, "negative_since", since, neg);
    json_object_set_new(e, "days_negative", json_integer(neg ? (dc->now - since) / DAY_MS : 0));
    json_object_set_new(e, "overdue", json_boolean(neg && since < dc->cutoff));
    json_object_set_new(e, "frozen", json_boolean(!hd_rows_isnull(r, 4) && hd_rows_int(r, 4)));
    json_object_set_new(e, "saved_limit",
                        hd_rows_isnull(r, 5) ? json_null() : json_integer(hd_rows_int(r, 5)));
    return e;
}

static hd_rc report_cb(hd_conn *c, void *vctx, hd_err *err) {
    api_ctx *ac = vctx;
    json_decref(ac->out);
    ac->out = NULL;
    settings s;
    hd_rc rc = settings_in(c, &s, err);
    if (rc) return rc;
    settings_free(&s);
    int64_t now = hd_now(ac->d), cutoff = now - (int64_t)s.overdue_days * DAY_MS;
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT count(*), COALESCE(sum(debits_posted - credits_posted), 0) FROM "
                       "accounts WHERE kind = 'member' AND currency = 'points' AND credits_posted "
                       "< debits_posted",
                       NULL, 0, &r, err)))
        return rc;
    int got = hd_rows_next(r, err);
    int64_t members = got == 1 ? hd_rows_int(r, 0) : 0, debt = got == 1 ? hd_rows_int(r, 1) : 0;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    hd_val cv = hd_vint(cutoff);
    if ((rc = hd_query(c,
                       "SELECT count(*), COALESCE(sum(a.debits_posted - a.credits_posted), 0) FROM "
                       "credit_members m JOIN accounts a ON a.customer_id = m.customer_id AND "
                       "a.currency = 'points' AND a.kind = 'member' WHERE m.negative_since IS NOT "
                       "NULL AND m.negative_since < ? AND a.credits_posted < a.debits_posted",
                       &cv, 1, &r, err)))
        return rc;
    got = hd_rows_next(r, err);
    int64_t over_n = got == 1 ? hd_rows_int(r, 0) : 0, over_pts = got == 1 ? hd_rows_int(r, 1) : 0;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    int64_t frozen = 0, extended = 0;
    if ((rc = hd_query_int(c, "SELECT count(*) FROM credit_members WHERE frozen = 1", NULL, 0,
                           &frozen, err)) ||
        (rc = hd_query_int(c,
                           "SELECT COALESCE(sum(credit_limit), 0) FROM accounts WHERE kind = "
                           "'member' AND currency = 'points'",
                           NULL, 0, &extended, err)))
        return rc;
    json_t *o = json_object();
    json_object_set_new(o, "members_in_debt", json_integer(members));
    json_object_set_new(o, "outstanding", json_integer(debt));
    json_object_set_new(
        o, "overdue",
        json_pack("{s:I,s:I}", "members", (json_int_t)over_n, "points", (json_int_t)over_pts));
    json_object_set_new(o, "frozen", json_integer(frozen));
    json_object_set_new(o, "credit_extended", json_integer(extended));
    json_object_set_new(o, "overdue_days", json_integer(s.overdue_days));
    char t[32];
    hd_time_format(now, t);
    json_object_set_new(o, "at", json_string(t));
    hd_val v[2] = {hd_vint(ac->cursor), hd_vint(ac->limit + 1)};
    if ((rc = hd_query(c,
                       "SELECT a.customer_id, a.debits_posted - a.credits_posted, a.credit_limit, "
                       "m.negative_since, m.frozen, m.saved_limit FROM accounts a LEFT JOIN "
                       "credit_members m ON m.customer_id = a.customer_id WHERE a.kind = 'member' "
                       "AND a.currency = 'points' AND a.credits_posted < a.debits_posted AND "
                       "a.customer_id > ? ORDER BY a.customer_id LIMIT ?",
                       v, 2, &r, err))) {
        json_decref(o);
        return rc;
    }
    debtor_ctx dc = {now, cutoff};
    json_t *page = NULL;
    if ((rc = hd_page_json(r, ac->limit, 0, debtor_row, &dc, &page, err))) {
        json_decref(o);
        return rc;
    }
    json_object_update(o, page);
    json_decref(page);
    ac->out = o;
    return HD_OK;
}

hd_rc hd_credit_report(hd_domain *d, int64_t cursor, int limit, json_t **out, hd_err *err) {
    if (limit < 1 || limit > HD_CREDIT_PAGE_MAX) limit = 50;
    api_ctx ac = {.d = d, .cursor = cursor, .limit = limit};
    return run(d, false, report_cb, &ac, out, err);
}

/* ---- merges ---- */

hd_rc hd_credit_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                         hd_err *err) {
    (void)d;
    (void)arg;
    hd_val l = hd_vint(loser);
    hd_val v[2] = {hd_vint(survivor), hd_vint(loser)};
    hd_rc rc = hd_exec(c, "DELETE FROM credit_members WHERE customer_id = ?", &l, 1, NULL, err);
    if (!rc)
        rc = hd_exec(c, "UPDATE credit_log SET customer_id = ? WHERE customer_id = ?", v, 2, NULL,
                     err);
    return rc;
}
