/* ledger.c - transfers, holds and lots inside the caller's transaction.
 *
 * Every rule is enforced by the statement that changes the row: the debit
 * side is an UPDATE ... WHERE available >= amount, so two racing spends can
 * never both pass, on SQLite (one writer) or PostgreSQL (row lock, the WHERE
 * re-checked on the locked row). Accounts are touched in id order so two
 * transfers between the same pair in opposite directions cannot deadlock. */
#include "domain/ledger.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers.h"

typedef struct account {
    int64_t id;
    char name[64]; /* canonical: the survivor's for a merged customer */
    char currency[16];
    bool member;
    int64_t customer_id;
} account;

/* ---- programme ---- */

hd_rc hd_program_load_in(hd_conn *c, hd_program *p, hd_err *err) {
    *p = (hd_program){"end_of_month", 0, 12, 12, 0};
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT k, v FROM program", NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *k = hd_rows_text(r, 0, NULL), *v = hd_rows_text(r, 1, NULL);
        long long n = strtoll(v, NULL, 10);
        if (strcmp(k, "expiry_policy") == 0)
            snprintf(p->expiry_policy, sizeof p->expiry_policy, "%s", v);
        else if (strcmp(k, "expiry_days") == 0)
            p->expiry_days = (int)n;
        else if (strcmp(k, "expiry_months") == 0)
            p->expiry_months = (int)n;
        else if (strcmp(k, "tier_window_months") == 0)
            p->tier_window_months = (int)n;
        else if (strcmp(k, "default_credit_limit") == 0)
            p->default_credit_limit = n;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

int64_t hd_program_expiry(const hd_program *p, const hd_clock *cal, int64_t at_ms) {
    if (strcmp(p->expiry_policy, "days") == 0) return at_ms + (int64_t)p->expiry_days * 86400000LL;
    if (strcmp(p->expiry_policy, "end_of_month") == 0) {
        /* the last millisecond of the brand's month `months` after the earning month */
        int off = hd_clock_utc_offset(cal);
        int64_t after = hd_month_first(hd_cal_day(off, at_ms), p->expiry_months + 1);
        return hd_cal_day_ms(off, after) - 1;
    }
    return HD_NEVER;
}

/* ---- module state: a programme cache ----
 * Every credit to a member needs the expiry policy; on PostgreSQL reading it
 * is a round trip. A node caches it for up to a second; a change made
 * through this node is seen at once (hd_program_patch drops the cache), one
 * made through another node within a second. */
#define ACCOUNT_CACHE 4096 /* names -> accounts; a slot per hash, last writer wins */

typedef struct ledger_state {
    pthread_mutex_t mu;
    bool valid;
    int64_t loaded_ms;
    hd_program prog;
    /* Account ids never change, so a node remembers them; the one thing that
     * changes is a member's account being closed by a merge, which the move
     * statement checks (kind <> 'merged') before it trusts a cached id. */
    struct {
        char name[64];
        account a;
    } accounts[ACCOUNT_CACHE];
} ledger_state;

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % ACCOUNT_CACHE;
}

static bool cache_get(hd_domain *d, const char *name, account *a) {
    ledger_state *ls = d->ledger;
    if (!ls || strlen(name) >= sizeof ls->accounts[0].name) return false;
    uint32_t h = name_hash(name);
    pthread_mutex_lock(&ls->mu);
    bool hit = strcmp(ls->accounts[h].name, name) == 0;
    if (hit) *a = ls->accounts[h].a;
    pthread_mutex_unlock(&ls->mu);
    return hit;
}

static void cache_put(hd_domain *d, const char *name, const account *a) {
    ledger_state *ls = d->ledger;
    if (!ls || strlen(name) >= sizeof ls->accounts[0].name) return;
    uint32_t h = name_hash(name);
    pthread_mutex_lock(&ls->mu);
    snprintf(ls->accounts[h].name, sizeof ls->accounts[h].name, "%s", name);
    ls->accounts[h].a = *a;
    pthread_mutex_unlock(&ls->mu);
}

static void cache_drop(hd_domain *d, const char *name) {
    ledger_state *ls = d->ledger;
    if (!ls) return;
    uint32_t h = name_hash(name);
    pthread_mutex_lock(&ls->mu);
    if (strcmp(ls->accounts[h].name, name) == 0) ls->accounts[h].name[0] = '\0';
    pthread_mutex_unlock(&ls->mu);
}

hd_rc hd_ledger_init(hd_domain *d, hd_err *err) {
    ledger_state *ls = calloc(1, sizeof *ls);
    if (!ls) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    pthread_mutex_init(&ls->mu, NULL);
    d->ledger = ls;
    return HD_OK;
}

void hd_ledger_free(hd_domain *d) {
    ledger_state *ls = d->ledger;
    if (!ls) return;
    pthread_mutex_destroy(&ls->mu);
    free(ls);
    d->ledger = NULL;
}

void hd_program_forget(hd_domain *d) {
    ledger_state *ls = d->ledger;
    if (!ls) return;
    pthread_mutex_lock(&ls->mu);
    ls->valid = false;
    pthread_mutex_unlock(&ls->mu);
}

hd_rc hd_program_cached_in(hd_conn *c, hd_domain *d, hd_program *p, hd_err *err) {
    ledger_state *ls = d->ledger;
    if (!ls) return hd_program_load_in(c, p, err);
    int64_t now = hd_mono_ms();
    pthread_mutex_lock(&ls->mu);
    bool fresh = ls->valid && now - ls->loaded_ms < 1000;
    if (fresh) *p = ls->prog;
    pthread_mutex_unlock(&ls->mu);
    if (fresh) return HD_OK;
    hd_rc rc = hd_program_load_in(c, p, err);
    if (rc) return rc;
    pthread_mutex_lock(&ls->mu);
    ls->prog = *p;
    ls->valid = true;
    ls->loaded_ms = now;
    pthread_mutex_unlock(&ls->mu);
    return HD_OK;
}

/* ---- accounts ---- */

static hd_rc account_lookup(hd_conn *c, hd_domain *d, const char *name, const char *field,
                            account *a, hd_err *err) {
    if (!name || !*name) return hd_err_set(err, HD_EINVAL, field, "is required: an account name");
    if (strncmp(name, "customer:", 9) == 0) {
        char idbuf[24];
        const char *rest = name + 9;
        const char *colon = strchr(rest, ':');
        size_t n = colon ? (size_t)(colon - rest) : strlen(rest);
        const char *currency = "points";
        if (colon) {
            if (strcmp(colon + 1, "growth") != 0)
                return hd_err_set(err, HD_EINVAL, field,
                                  "'%s': use customer:ID or customer:ID:growth", name);
            currency = "growth";
        }
        int64_t cid;
        if (n == 0 || n >= sizeof idbuf)
            return hd_err_set(err, HD_EINVAL, field, "'%s' names no customer", name);
        memcpy(idbuf, rest, n);
        idbuf[n] = '\0';
        if (!hd_id_parse(idbuf, &cid))
            return hd_err_set(err, HD_EINVAL, field, "'%s' names no customer", name);
        /* the common case in one lookup: the member's live account exists (a
         * merged customer's accounts are marked 'merged' and resolve below) */
        hd_val p = hd_vtext(name);
        hd_rows *r;
        hd_rc rc = hd_query(c, "SELECT id FROM accounts WHERE name = ? AND kind = 'member'", &p, 1,
                            &r, err);
        if (rc) return rc;
        int got = hd_rows_next(r, err);
        if (got == 1) a->id = hd_rows_int(r, 0);
        hd_rows_free(r);
        if (got < 0) return err->rc;
        if (got == 1) {
            snprintf(a->name, sizeof a->name, "%s", name);
            snprintf(a->currency, sizeof a->currency, "%s", currency);
            a->member = true;
            return HD_OK;
        }
        rc = hd_ledger_account_in(c, d, cid, currency, &a->id, err);
        if (rc == HD_ENOTFOUND) return hd_err_set(err, HD_EINVAL, field, "no customer %s", idbuf);
        if (rc) return rc;
        hd_val q = hd_vint(a->id);
        hd_rows *nr;
        if ((rc = hd_query(c, "SELECT name FROM accounts WHERE id = ?", &q, 1, &nr, err)))
            return rc;
        if (hd_rows_next(nr, err) == 1)
            snprintf(a->name, sizeof a->name, "%s", hd_rows_text(nr, 0, NULL));
        hd_rows_free(nr);
        snprintf(a->currency, sizeof a->currency, "%s", currency);
        a->member = true;
        return HD_OK;
    }
    hd_val p = hd_vtext(name);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT id, currency, kind, customer_id FROM accounts WHERE name = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        a->id = hd_rows_int(r, 0);
        snprintf(a->name, sizeof a->name, "%s", name);
        snprintf(a->currency, sizeof a->currency, "%s", hd_rows_text(r, 1, NULL));
        a->member = strcmp(hd_rows_text(r, 2, NULL), "member") == 0;
        a->customer_id = hd_rows_int(r, 3);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return hd_err_set(err, HD_EINVAL, field,
                          "no account '%s'; use customer:ID, customer:ID:growth or "
                          "system:issuance|redemption|expiry|adjustment|growth",
                          name);
    return HD_OK;
}

/* Resolves an account name, through this node's cache unless fresh. */
static hd_rc account_by_name(hd_conn *c, hd_domain *d, const char *name, const char *field,
                             account *a, bool fresh, hd_err *err) {
    if (!fresh && name && cache_get(d, name, a)) return HD_OK;
    hd_rc rc = account_lookup(c, d, name, field, a, err);
    /* a merged customer's name resolves to the survivor: never cache that */
    if (!rc && strcmp(a->name, name) == 0) cache_put(d, name, a);
    return rc;
}

hd_rc hd_ledger_account_in(hd_conn *c, hd_domain *d, int64_t customer_id, const char *currency,
                           int64_t *account_id, hd_err *err) {
    int64_t live;
    hd_rc rc = hd_customer_follow(c, customer_id, &live, err);
    if (rc) return rc;
    char name[64];
    snprintf(name, sizeof name,
             strcmp(currency, "growth") == 0 ? "customer:%lld:growth" : "customer:%lld",
             (long long)live);
    hd_val p = hd_vtext(name);
    rc = hd_query_int(c, "SELECT id FROM accounts WHERE name = ?", &p, 1, account_id, err);
    if (rc != HD_ENOTFOUND) return rc;
    hd_err_clear(err);
    hd_program prog;
    if ((rc = hd_program_load_in(c, &prog, err))) return rc;
    int64_t id = hd_id_next(d->ids);
    hd_val q[6] = {hd_vint(id),
                   hd_vtext(name),
                   hd_vint(live),
                   hd_vtext(currency),
                   hd_vint(strcmp(currency, "points") == 0 ? prog.default_credit_limit : 0),
                   hd_vint(hd_now(d))};
    rc = hd_exec(c,
                 "INSERT INTO accounts (id, name, customer_id, currency, kind, credit_limit, "
                 "created_at) VALUES (?, ?, ?, ?, 'member', ?, ?)",
                 q, 6, NULL, err);
    /* two nodes opened the same account at once: retry and find it */
    if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "account raced");
    if (rc) return rc;
    *account_id = id;
    return HD_OK;
}

hd_rc hd_ledger_balance_in(hd_conn *c, int64_t account_id, int64_t *balance, int64_t *available,
                           hd_err *err) {
    hd_val p = hd_vint(account_id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT credits_posted - debits_posted, credits_posted - debits_posted - "
                        "debits_pending + credit_limit FROM accounts WHERE id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        if (balance) *balance = hd_rows_int(r, 0);
        if (available) *available = hd_rows_int(r, 1);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return hd_err_set(err, HD_ENOTFOUND, "account", "no account %lld", (long long)account_id);
    return HD_OK;
}

/* What the lots of a points account must cover after an increase of its
 * credits - debits - pending debits by `added`: the growth of the positive
 * part. Read after the account row was updated (and so locked), so a
 * concurrent transaction cannot slip in between on PostgreSQL. */
static hd_rc lots_growth(hd_conn *c, int64_t account_id, int64_t added, int64_t *out, hd_err *err) {
    hd_val p = hd_vint(account_id);
    int64_t raw;
    hd_rc rc = hd_query_int(c,
                            "SELECT credits_posted - debits_posted - debits_pending FROM accounts "
                            "WHERE id = ?",
                            &p, 1, &raw, err);
    if (rc) return rc;
    int64_t before = raw - added;
    *out = (raw > 0 ? raw : 0) - (before > 0 ? before : 0);
    return HD_OK;
}

/* ---- lots ---- */

static hd_rc lot_add(hd_conn *c, hd_domain *d, int64_t account_id, int64_t transfer_id,
                     int64_t amount, hd_err *err) {
    if (amount <= 0) return HD_OK;
    hd_program prog;
    hd_rc rc = hd_program_cached_in(c, d, &prog, err);
    if (rc) return rc;
    int64_t now = hd_now(d), exp = hd_program_expiry(&prog, d->clock, now);
    hd_val p[7] = {hd_vint(hd_id_next(d->ids)),
                   hd_vint(account_id),
                   hd_vint(transfer_id),
                   hd_vint(amount),
                   hd_vint(amount),
                   exp ? hd_vint(exp) : hd_vnull(),
                   hd_vint(now)};
    return hd_exec_deferred(c,
                            "INSERT INTO lots (id, account_id, transfer_id, amount, remaining, "
                            "expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            p, 7, err);
}

/* The common case in one statement: the first open lot covers the whole
 * amount. */
static const char SQL_TAKE_FIRST[] =
    "UPDATE lots SET remaining = remaining - ?1 WHERE id = (SELECT id FROM lots WHERE "
    "account_id = ?2 AND remaining > 0 ORDER BY expires_at, id LIMIT 1) AND remaining >= ?1 "
    "RETURNING id";

/* Consumes up to amount from the account's lots, soonest expiry first. */
static hd_rc lots_consume(hd_conn *c, int64_t account_id, int64_t transfer_id, int64_t amount,
                          bool remember, hd_err *err) {
    enum { BATCH = 64 };
    {
        hd_val f[2] = {hd_vint(amount), hd_vint(account_id)};
        hd_rows *fr;
        hd_rc frc = hd_query(c, SQL_TAKE_FIRST, f, 2, &fr, err);
        if (frc) return frc;
        int fgot = hd_rows_next(fr, err);
        int64_t lot = fgot == 1 ? hd_rows_int(fr, 0) : 0;
        hd_rows_free(fr);
        if (fgot < 0) return err->rc;
        if (lot) {
            if (!remember) return HD_OK;
            hd_val q[3] = {hd_vint(transfer_id), hd_vint(lot), hd_vint(amount)};
            return hd_exec_deferred(
                c, "INSERT INTO lot_uses (transfer_id, lot_id, amount) VALUES (?, ?, ?)", q, 3,
                err);
        }
    }
    while (amount > 0) {
        hd_val p = hd_vint(account_id);
        hd_rows *r;
        hd_rc rc = hd_query(c,
                            "SELECT id, remaining FROM lots WHERE account_id = ? AND remaining > 0 "
                            "ORDER BY expires_at, id LIMIT 64",
                            &p, 1, &r, err);
        if (rc) return rc;
        int64_t ids[BATCH], rem[BATCH];
        int n = 0, got;
        while ((got = hd_rows_next(r, err)) == 1 && n < BATCH) {
            ids[n] = hd_rows_int(r, 0);
            rem[n] = hd_rows_int(r, 1);
            n++;
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
        if (n == 0) return HD_OK; /* the rest goes into debt */
        for (int i = 0; i < n && amount > 0; i++) {
            int64_t take = rem[i] < amount ? rem[i] : amount;
            hd_val u[2] = {hd_vint(take), hd_vint(ids[i])};
            if ((rc = hd_exec(c, "UPDATE lots SET remaining = remaining - ? WHERE id = ?", u, 2,
                              NULL, err)))
                return rc;
            if (remember) { /* a hold may be voided: remember which lots it used */
                hd_val q[3] = {hd_vint(transfer_id), hd_vint(ids[i]), hd_vint(take)};
                if ((rc = hd_exec(
                         c, "INSERT INTO lot_uses (transfer_id, lot_id, amount) VALUES (?, ?, ?)",
                         q, 3, NULL, err)))
                    return rc;
            }
            amount -= take;
        }
    }
    return HD_OK;
}

/* Gives back up to amount of what a voided debit consumed; any rest forms a new lot. */
static hd_rc lots_restore(hd_conn *c, hd_domain *d, int64_t account_id, int64_t transfer_id,
                          int64_t amount, hd_err *err) {
    hd_val p = hd_vint(transfer_id);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT lot_id, amount FROM lot_uses WHERE transfer_id = ? ORDER BY lot_id", &p,
                 1, &r, err);
    if (rc) return rc;
    int64_t ids[256], amts[256];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < 256) {
        ids[n] = hd_rows_int(r, 0);
        amts[n] = hd_rows_int(r, 1);
        n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n && amount > 0; i++) {
        int64_t give = amts[i] < amount ? amts[i] : amount;
        hd_val u[2] = {hd_vint(give), hd_vint(ids[i])};
        if ((rc = hd_exec(c, "UPDATE lots SET remaining = remaining + ? WHERE id = ?", u, 2, NULL,
                          err)))
            return rc;
        amount -= give;
    }
    if ((rc = hd_exec(c, "DELETE FROM lot_uses WHERE transfer_id = ?", &p, 1, NULL, err)))
        return rc;
    return lot_add(c, d, account_id, transfer_id, amount, err);
}

/* ---- transfers ---- */

static void request_hash(const hd_transfer_req *t, const char *debit, const char *credit,
                         char out[65]) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s\n%s\n%lld\n%s\n%s\n%d\n%lld", debit, credit,
                     (long long)t->amount, t->code ? t->code : "", t->reference ? t->reference : "",
                     t->pending ? 1 : 0, (long long)t->timeout_s);
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)buf, (unsigned long long)(n < 0 ? 0 : n));
    sodium_bin2hex(out, 65, h, sizeof h);
}

static bool code_ok(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 32) return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || *p == '_' || (*p >= '0' && *p <= '9'))) return false;
    return true;
}

/* Both sides of a transfer in one statement: the debit row only when it can
 * pay (members: available >= amount; system accounts and forced reversals
 * always), the credit row always. RETURNING says which rows changed and the
 * credit side's new credits - debits - pending, which the lots need. */
static const char SQL_MOVE[] =
    "UPDATE accounts SET "
    "debits_posted = debits_posted + CASE WHEN id = ?1 AND ?4 = 0 THEN CAST(?3 AS BIGINT) ELSE 0 "
    "END, "
    "debits_pending = debits_pending + CASE WHEN id = ?1 AND ?4 = 1 THEN CAST(?3 AS BIGINT) ELSE 0 "
    "END, "
    "credits_posted = credits_posted + CASE WHEN id = ?2 AND ?4 = 0 THEN CAST(?3 AS BIGINT) ELSE 0 "
    "END, "
    "credits_pending = credits_pending + CASE WHEN id = ?2 AND ?4 = 1 THEN CAST(?3 AS BIGINT) ELSE "
    "0 END "
    "WHERE kind <> 'merged' AND ((id = ?1 AND (?5 = 1 OR kind <> 'member' OR "
    "credits_posted + credit_limit - debits_posted - debits_pending >= ?3)) OR id = ?2) "
    "RETURNING id, credits_posted - debits_posted - debits_pending";

/* Exact undo of the credit side when the debit side could not pay. */
static const char SQL_UNCREDIT[] = "UPDATE accounts SET credits_posted = credits_posted - CASE "
                                   "WHEN ?3 = 0 THEN CAST(?2 AS BIGINT) ELSE 0 END, "
                                   "credits_pending = credits_pending - CASE WHEN ?3 = 1 THEN "
                                   "CAST(?2 AS BIGINT) ELSE 0 END WHERE id = ?1";

/* PostgreSQL: the key claim, the move and - when ?14 says the debit spends a
 * member's lots - SQL_TAKE_FIRST in one statement, one round trip. The move
 * happens only when the key was new (t returned a row), the lot only when
 * the debit moved. Columns: whether the key was new; SQL_MOVE's two (one row
 * each, NULL when nothing moved); the lot taken, NULL when none was (then
 * lots_consume does it the long way). */
static const char SQL_CLAIM_MOVE_PG[] =
    "WITH t AS (INSERT INTO transfers (id, tkey, request_hash, debit_id, credit_id, amount, code, "
    "reference, status, timeout_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
    "?11) ON CONFLICT (tkey) DO NOTHING RETURNING id), "
    "m AS (UPDATE accounts SET "
    "debits_posted = debits_posted + CASE WHEN id = ?4 AND ?12 = 0 THEN CAST(?6 AS BIGINT) ELSE 0 "
    "END, "
    "debits_pending = debits_pending + CASE WHEN id = ?4 AND ?12 = 1 THEN CAST(?6 AS BIGINT) ELSE "
    "0 END, "
    "credits_posted = credits_posted + CASE WHEN id = ?5 AND ?12 = 0 THEN CAST(?6 AS BIGINT) ELSE "
    "0 END, "
    "credits_pending = credits_pending + CASE WHEN id = ?5 AND ?12 = 1 THEN CAST(?6 AS BIGINT) "
    "ELSE 0 END "
    "WHERE EXISTS (SELECT 1 FROM t) AND kind <> 'merged' AND ((id = ?4 AND (?13 = 1 OR "
    "kind <> 'member' OR credits_posted + credit_limit - debits_posted - debits_pending >= ?6)) "
    "OR id = ?5) RETURNING id, credits_posted - debits_posted - debits_pending AS raw), "
    "l AS (UPDATE lots SET remaining = remaining - CAST(?6 AS BIGINT) WHERE ?14 = 1 AND id = "
    "(SELECT id FROM lots WHERE account_id = ?4 AND remaining > 0 ORDER BY expires_at, id "
    "LIMIT 1) AND remaining >= CAST(?6 AS BIGINT) AND EXISTS (SELECT 1 FROM m WHERE m.id = ?4) "
    "RETURNING id) "
    "SELECT (SELECT count(*) FROM t), m.id, m.raw, (SELECT id FROM l) FROM (SELECT 1) AS one "
    "LEFT JOIN m ON true";

/* One row of SQL_MOVE's RETURNING, at column col: which side moved, and the
 * credit side's new credits - debits - pending. */
static void move_row(hd_rows *r, int col, int64_t debit_id, bool *debited, bool *credited,
                     int64_t *credit_raw) {
    if (hd_rows_int(r, col) == debit_id) {
        *debited = true;
    } else {
        *credited = true;
        *credit_raw = hd_rows_int(r, col + 1);
    }
}

hd_rc hd_ledger_transfer_in(hd_conn *c, hd_domain *d, const hd_transfer_req *t,
                            hd_transfer_res *res, hd_err *err) {
    res->id = 0;
    res->replayed = false;
    if (!t->key || !*t->key || strlen(t->key) > HD_TRANSFER_KEY_MAX)
        return hd_err_set(err, HD_EINVAL, "key",
                          "is required: 1 to %d characters unique to this transfer",
                          HD_TRANSFER_KEY_MAX);
    if (t->amount <= 0 || t->amount > HD_AMOUNT_MAX)
        return hd_err_set(err, HD_EINVAL, "amount",
                          "must be a whole number from 1 to %lld, got %lld",
                          (long long)HD_AMOUNT_MAX, (long long)t->amount);
    if (!code_ok(t->code))
        return hd_err_set(err, HD_EINVAL, "code",
                          "is required: a-z, 0-9 and _, up to 32 (earn, redeem, …)");
    if (t->reference && strlen(t->reference) > 200)
        return hd_err_set(err, HD_EINVAL, "reference", "is longer than 200 bytes");
    if (t->timeout_s < 0 || (!t->pending && t->timeout_s))
        return hd_err_set(err, HD_EINVAL, "timeout_s", "is for pending transfers and must be >= 0");
    bool fresh = false;
again:;
    account da = {0}, ca = {0};
    hd_rc rc = account_by_name(c, d, t->debit, "debit", &da, fresh, err);
    if (!rc) rc = account_by_name(c, d, t->credit, "credit", &ca, fresh, err);
    if (rc) return rc;
    if (da.id == ca.id) return hd_err_set(err, HD_EINVAL, "credit", "must differ from debit");
    if (strcmp(da.currency, ca.currency) != 0)
        return hd_err_set(err, HD_EINVAL, "credit", "is in %s but debit is in %s", ca.currency,
                          da.currency);
    char hash[65];
    char dn[32], cn[32];
    snprintf(dn, sizeof dn, "%lld", (long long)da.id);
    snprintf(cn, sizeof cn, "%lld", (long long)ca.id);
    request_hash(t, dn, cn, hash);

    /* 1. claim the key: a replay or a reuse is found before anything moves */
    int64_t id = hd_id_next(d->ids), now = hd_now(d), n = 0;
    int64_t timeout_at = t->pending && t->timeout_s ? now + t->timeout_s * 1000 : 0;
    bool credit_lots = ca.member && strcmp(ca.currency, "points") == 0;
    bool debit_lots = da.member && strcmp(da.currency, "points") == 0 && !t->lots_taken;
    hd_val p[14] = {hd_vint(id),
                    hd_vtext(t->key),
                    hd_vtext(hash),
                    hd_vint(da.id),
                    hd_vint(ca.id),
                    hd_vint(t->amount),
                    hd_vtext(t->code),
                    hd_vtext(t->reference ? t->reference : ""),
                    hd_vtext(t->pending ? "pending" : "posted"),
                    timeout_at ? hd_vint(timeout_at) : hd_vnull(),
                    hd_vint(now),
                    hd_vbool(t->pending),
                    hd_vbool(t->force || t->lots_taken),
                    hd_vbool(debit_lots && !t->pending)};
    bool debited = false, credited = false;
    int64_t credit_raw = 0, lot_taken = 0;
    int got;
    hd_rows *r;
    if (hd_conn_kind(c) == HD_STORE_POSTGRES) {
        if ((rc = hd_query(c, SQL_CLAIM_MOVE_PG, p, 14, &r, err))) return rc;
        while ((got = hd_rows_next(r, err)) == 1) {
            n = hd_rows_int(r, 0);
            if (!hd_rows_isnull(r, 3)) lot_taken = hd_rows_int(r, 3);
            if (!hd_rows_isnull(r, 1)) move_row(r, 1, da.id, &debited, &credited, &credit_raw);
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
    } else {
        rc =
            hd_exec(c,
                    "INSERT INTO transfers (id, tkey, request_hash, debit_id, credit_id, amount, "
                    "code, reference, status, timeout_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                    "?, ?, ?, ?) ON CONFLICT (tkey) DO NOTHING",
                    p, 11, &n, err);
        if (rc) return rc;
    }
    if (n == 0) {
        hd_val k = hd_vtext(t->key);
        if ((rc = hd_query(c, "SELECT id, request_hash FROM transfers WHERE tkey = ?", &k, 1, &r,
                           err)))
            return rc;
        got = hd_rows_next(r, err);
        bool same = got == 1 && strcmp(hd_rows_text(r, 1, NULL), hash) == 0;
        if (got == 1) res->id = hd_rows_int(r, 0);
        hd_rows_free(r);
        if (got < 0) return err->rc;
        if (got == 0) return hd_err_set(err, HD_EBUSY, "key", "transfer key raced");
        if (!same)
            return hd_err_set(err, HD_ECONFLICT, "key",
                              "transfer key %s was used for a different transfer", t->key);
        res->replayed = true;
        return HD_OK;
    }

    /* 2. move: both accounts in one statement (on PostgreSQL done above) */
    if (hd_conn_kind(c) != HD_STORE_POSTGRES) {
        hd_val m[5] = {hd_vint(da.id), hd_vint(ca.id), hd_vint(t->amount), hd_vbool(t->pending),
                       hd_vbool(t->force || t->lots_taken)};
        if ((rc = hd_query(c, SQL_MOVE, m, 5, &r, err))) return rc;
        while ((got = hd_rows_next(r, err)) == 1)
            move_row(r, 0, da.id, &debited, &credited, &credit_raw);
        hd_rows_free(r);
        if (got < 0) return err->rc;
    }
    if (!debited) {
        /* could not pay: undo the credit and the claimed key, exactly */
        if (credited) {
            hd_val u[3] = {hd_vint(ca.id), hd_vint(t->amount), hd_vbool(t->pending)};
            if ((rc = hd_exec(c, SQL_UNCREDIT, u, 3, NULL, err))) return rc;
        }
        hd_val del = hd_vint(id);
        if ((rc = hd_exec(c, "DELETE FROM transfers WHERE id = ?", &del, 1, NULL, err))) return rc;
        if (!fresh) {
            /* a cached account may have gone since it was cached: look again */
            /* a cached id is stale when its account was closed by a merge, or
             * when the transaction that created it rolled back */
            hd_val q = hd_vint(da.id);
            int64_t live = 0;
            if ((rc = hd_query_int(
                     c, "SELECT count(*) FROM accounts WHERE id = ? AND kind <> 'merged'", &q, 1,
                     &live, err)))
                return rc;
            if (!live) {
                cache_drop(d, t->debit);
                cache_drop(d, t->credit);
                fresh = true;
                goto again;
            }
        }
        int64_t avail = 0;
        hd_ledger_balance_in(c, da.id, NULL, &avail, NULL);
        return hd_err_set(err, HD_ESTATE, "amount",
                          "insufficient points: %lld available, %lld needed", (long long)avail,
                          (long long)t->amount);
    }
    if (!credited) {
        /* the cached credit account is gone (closed by a merge, or its
         * creating transaction rolled back): undo the debit, look again */
        hd_val u[3] = {hd_vint(da.id), hd_vint(t->amount), hd_vbool(t->pending)};
        if ((rc = hd_exec(c,
                          "UPDATE accounts SET debits_posted = debits_posted - CASE WHEN ?3 = 0 "
                          "THEN CAST(?2 AS BIGINT) ELSE 0 END, debits_pending = debits_pending - "
                          "CASE WHEN ?3 = 1 "
                          "THEN CAST(?2 AS BIGINT) ELSE 0 END WHERE id = ?1",
                          u, 3, NULL, err)))
            return rc;
        if (lot_taken) { /* and the lot the debit spent */
            hd_val l[2] = {hd_vint(t->amount), hd_vint(lot_taken)};
            if ((rc = hd_exec(c, "UPDATE lots SET remaining = remaining + ? WHERE id = ?", l, 2,
                              NULL, err)))
                return rc;
        }
        hd_val del = hd_vint(id);
        if ((rc = hd_exec(c, "DELETE FROM transfers WHERE id = ?", &del, 1, NULL, err))) return rc;
        if (fresh) return hd_err_set(err, HD_EINTERNAL, "credit", "the credit account is closed");
        cache_drop(d, t->debit);
        cache_drop(d, t->credit);
        fresh = true;
        goto again;
    }

    /* 3. lots: spending consumes them; a posted credit to a member forms one
     * from what is left after repaying any debt */
    if (debit_lots && !lot_taken && (rc = lots_consume(c, da.id, id, t->amount, t->pending, err)))
        return rc;
    if (credit_lots && !t->pending) {
        int64_t before = credit_raw - t->amount;
        int64_t grow = (credit_raw > 0 ? credit_raw : 0) - (before > 0 ? before : 0);
        if ((rc = lot_add(c, d, ca.id, id, grow, err))) return rc;
    }
    res->id = id;
    res->created_at = now;
    res->timeout_at = timeout_at;
    snprintf(res->debit, sizeof res->debit, "%s", da.name);
    snprintf(res->credit, sizeof res->credit, "%s", ca.name);
    return HD_OK;
}

hd_rc hd_ledger_resolve_in(hd_conn *c, hd_domain *d, int64_t id, bool post, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT t.debit_id, t.credit_id, t.amount, t.status, da.kind, da.currency, "
                        "ca.kind FROM transfers t JOIN accounts da ON da.id = t.debit_id JOIN "
                        "accounts ca ON ca.id = t.credit_id WHERE t.id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        return got < 0 ? err->rc
                       : hd_err_set(err, HD_ENOTFOUND, "id", "no transfer %lld", (long long)id);
    }
    int64_t debit = hd_rows_int(r, 0), credit = hd_rows_int(r, 1), amount = hd_rows_int(r, 2);
    bool debit_member = strcmp(hd_rows_text(r, 4, NULL), "member") == 0;
    bool points = strcmp(hd_rows_text(r, 5, NULL), "points") == 0;
    bool credit_member = strcmp(hd_rows_text(r, 6, NULL), "member") == 0;
    char status[16];
    snprintf(status, sizeof status, "%s", hd_rows_text(r, 3, NULL));
    hd_rows_free(r);
    /* the state change is the guard: only one resolve of a pending transfer wins */
    int64_t n = 0;
    hd_val u[3] = {hd_vtext(post ? "posted" : "voided"), hd_vint(hd_now(d)), hd_vint(id)};
    if ((rc = hd_exec(c,
                      "UPDATE transfers SET status = ?, resolved_at = ? WHERE id = ? AND status = "
                      "'pending'",
                      u, 3, &n, err)))
        return rc;
    if (n == 0)
        return hd_err_set(err, HD_ESTATE, "status", "transfer %lld is %s, not pending",
                          (long long)id, status);
    hd_val a[2] = {hd_vint(amount), hd_vint(debit)};
    hd_val b[2] = {hd_vint(amount), hd_vint(credit)};
    const char *dsql = post
                           ? "UPDATE accounts SET debits_pending = debits_pending - ?, "
                             "debits_posted = debits_posted + ? WHERE id = ?"
                           : "UPDATE accounts SET debits_pending = debits_pending - ? WHERE id = ?";
    const char *csql =
        post ? "UPDATE accounts SET credits_pending = credits_pending - ?, "
               "credits_posted = credits_posted + ? WHERE id = ?"
             : "UPDATE accounts SET credits_pending = credits_pending - ? WHERE id = ?";
    hd_val a3[3] = {hd_vint(amount), hd_vint(amount), hd_vint(debit)};
    hd_val b3[3] = {hd_vint(amount), hd_vint(amount), hd_vint(credit)};
    if (debit < credit) {
        if ((rc = hd_exec(c, dsql, post ? a3 : a, post ? 3 : 2, NULL, err))) return rc;
        if ((rc = hd_exec(c, csql, post ? b3 : b, post ? 3 : 2, NULL, err))) return rc;
    } else {
        if ((rc = hd_exec(c, csql, post ? b3 : b, post ? 3 : 2, NULL, err))) return rc;
        if ((rc = hd_exec(c, dsql, post ? a3 : a, post ? 3 : 2, NULL, err))) return rc;
    }
    if (points && debit_member && !post) {
        int64_t grow;
        if ((rc = lots_growth(c, debit, amount, &grow, err))) return rc;
        if ((rc = lots_restore(c, d, debit, id, grow, err))) return rc;
    }
    if (post && (rc = hd_exec(c, "DELETE FROM lot_uses WHERE transfer_id = ?", &p, 1, NULL, err)))
        return rc;
    if (points && credit_member && post) {
        int64_t grow;
        if ((rc = lots_growth(c, credit, amount, &grow, err))) return rc;
        if ((rc = lot_add(c, d, credit, id, grow, err))) return rc;
    }
    return HD_OK;
}

hd_rc hd_ledger_set_limit_in(hd_conn *c, hd_domain *d, int64_t customer_id, int64_t limit,
                             hd_err *err) {
    if (limit < 0 || limit > HD_AMOUNT_MAX)
        return hd_err_set(err, HD_EINVAL, "credit_limit", "must be from 0 to %lld",
                          (long long)HD_AMOUNT_MAX);
    int64_t acc;
    hd_rc rc = hd_ledger_account_in(c, d, customer_id, "points", &acc, err);
    if (rc) return rc;
    /* Lowering a limit below what is already used is allowed (overdue debt
     * cuts the limit to zero); the excess at that moment is recorded so
     * hudong check can tell it from a transfer that broke the limit. */
    hd_val p[4] = {hd_vint(limit), hd_vint(limit), hd_vint(limit), hd_vint(acc)};
    return hd_exec(c,
                   "UPDATE accounts SET limit_excess = CASE WHEN debits_posted + debits_pending - "
                   "credits_posted - ? > limit_excess THEN debits_posted + debits_pending - "
                   "credits_posted - ? ELSE limit_excess END, credit_limit = ? WHERE id = ?",
                   p, 4, NULL, err);
}
