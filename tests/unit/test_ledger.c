/* test_ledger.c - the ledger against a simple in-memory model: random
 * sequences of transfers, holds, posts, voids, limits and timeouts (same seed,
 * same run; the seed is printed on failure), on SQLite and on PostgreSQL when
 * HUDONG_TEST_PG is set. After every step the store must agree with the
 * model, and hd_ledger_check must pass. Plus: lots and expiry, debt repaid
 * first, refund reversals, and a failed commit that leaves nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "domain/customers.h"
#include "domain/ledger.h"

typedef struct fx {
    hd_store *st;
    hd_clock *clock;
    hd_idgen *ids;
    hd_domain d;
    char path[128];
    int64_t cust[8];
    int ncust;
} fx;

static hd_rc mk_customer(hd_conn *c, void *ctx, hd_err *err) {
    fx *f = ctx;
    hd_ident id;
    snprintf(id.type, sizeof id.type, "email");
    snprintf(id.value, sizeof id.value, "m%d-%lld@example.com", f->ncust,
             (long long)hd_id_next(f->ids));
    bool created;
    return hd_customer_resolve(c, &f->d, &id, 1, NULL, &f->cust[f->ncust], &created, err);
}

static int open_fx(void **state, const char *url) {
    fx *f = calloc(1, sizeof *f);
    hd_err err;
    if (!url) {
        snprintf(f->path, sizeof f->path, "/tmp/hudong-test-ledger-%d.db", (int)getpid());
        unlink(f->path);
        url = f->path;
    }
    hd_store_opts o = {.url = url, .migrate = true};
    f->st = hd_store_open(&o, &err);
    if (!f->st) fail_msg("open: %s", err.msg);
    f->clock = hd_clock_new(true, 1767225600000LL); /* 2026-01-01 */
    f->ids = hd_idgen_new(1);
    assert_int_equal(hd_domain_init(&f->d, f->st, f->clock, f->ids, &err), HD_OK);
    for (f->ncust = 0; f->ncust < 8;) {
        assert_int_equal(hd_store_write(f->st, mk_customer, f, &err), HD_OK);
        f->ncust++;
    }
    *state = f;
    return 0;
}

static hd_rc wipe(hd_conn *c, void *ctx, hd_err *err) {
    (void)ctx;
    /* PostgreSQL runs share one database: start from zero */
    static const char *const sql[] = {"DELETE FROM lot_uses",
                                      "DELETE FROM lots",
                                      "DELETE FROM transfers",
                                      "DELETE FROM accounts WHERE kind = 'member'",
                                      "UPDATE accounts SET debits_posted = 0, credits_posted = 0, "
                                      "debits_pending = 0, credits_pending = 0",
                                      "DELETE FROM program",
                                      NULL};
    for (const char *const *s = sql; *s; s++) {
        hd_rc rc = hd_exec(c, *s, NULL, 0, NULL, err);
        if (rc) return rc;
    }
    return HD_OK;
}

static int open_sqlite(void **state) { return open_fx(state, NULL); }
static int open_pg(void **state) {
    const char *url = getenv("HUDONG_TEST_PG");
    if (!url || !*url) {
        fprintf(stderr, "HUDONG_TEST_PG is not set: scripts/test.sh starts a PostgreSQL\n");
        return -1;
    }
    int rc = open_fx(state, url);
    fx *f = *state;
    hd_err err;
    assert_int_equal(hd_store_write(f->st, wipe, NULL, &err), HD_OK);
    return rc;
}

static int close_fx(void **state) {
    fx *f = *state;
    if (!f) return 0;
    hd_domain_close(&f->d);
    hd_store_close(f->st);
    hd_clock_free(f->clock);
    hd_idgen_free(f->ids);
    if (f->path[0]) {
        char p[160];
        unlink(f->path);
        snprintf(p, sizeof p, "%s-wal", f->path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", f->path);
        unlink(p);
    }
    free(f);
    return 0;
}

/* ---- helpers running one ledger call in its own transaction ---- */

typedef struct call {
    fx *f;
    hd_transfer_req t;
    hd_transfer_res res;
    int64_t id;
    bool post;
    int64_t customer, limit;
} call;

static hd_rc do_transfer(hd_conn *c, void *ctx, hd_err *err) {
    call *k = ctx;
    return hd_ledger_transfer_in(c, &k->f->d, &k->t, &k->res, err);
}
static hd_rc do_resolve(hd_conn *c, void *ctx, hd_err *err) {
    call *k = ctx;
    return hd_ledger_resolve_in(c, &k->f->d, k->id, k->post, err);
}
static hd_rc do_limit(hd_conn *c, void *ctx, hd_err *err) {
    call *k = ctx;
    return hd_ledger_set_limit_in(c, &k->f->d, k->customer, k->limit, err);
}

static hd_rc transfer(fx *f, const char *key, const char *debit, const char *credit, int64_t amount,
                      const char *code, bool pending, int64_t timeout_s, int64_t *id, hd_err *err) {
    call k = {.f = f, .t = {key, debit, credit, amount, code, "test", pending, timeout_s, false}};
    hd_rc rc = hd_store_write(f->st, do_transfer, &k, err);
    if (id) *id = k.res.id;
    return rc;
}

static hd_rc resolve(fx *f, int64_t id, bool post, hd_err *err) {
    call k = {.f = f, .id = id, .post = post};
    return hd_store_write(f->st, do_resolve, &k, err);
}

static void ledger_ok(fx *f, unsigned seed) {
    hd_err err;
    json_t *rep = NULL;
    hd_rc rc = hd_ledger_check(&f->d, &rep, &err);
    if (rc) {
        char *s = json_dumps(rep, 0);
        fail_msg("seed %u: check failed: %s", seed, s);
    }
    json_decref(rep);
}

typedef struct bal_ctx {
    int64_t acc, balance, available;
} bal_ctx;
static hd_rc do_bal(hd_conn *c, void *ctx, hd_err *err) {
    bal_ctx *b = ctx;
    return hd_ledger_balance_in(c, b->acc, &b->balance, &b->available, err);
}
typedef struct acc_ctx {
    fx *f;
    int64_t customer, acc;
} acc_ctx;
static hd_rc do_acc(hd_conn *c, void *ctx, hd_err *err) {
    acc_ctx *a = ctx;
    return hd_ledger_account_in(c, &a->f->d, a->customer, "points", &a->acc, err);
}

static void balance_of(fx *f, int64_t customer, int64_t *bal, int64_t *avail) {
    hd_err err;
    acc_ctx a = {f, customer, 0};
    assert_int_equal(hd_store_write(f->st, do_acc, &a, &err), HD_OK);
    bal_ctx b = {a.acc, 0, 0};
    assert_int_equal(hd_store_read(f->st, do_bal, &b, &err), HD_OK);
    *bal = b.balance;
    *avail = b.available;
}

/* ---- the model ---- */

#define NACC 6 /* 0: issuance, 1: redemption, 2..5: members */
typedef struct model {
    int64_t cred[NACC], deb[NACC], pdeb[NACC], pcred[NACC], limit[NACC];
} model;

typedef struct mpending {
    int64_t id;
    int from, to;
    int64_t amount, timeout_at;
    bool open;
} mpending;

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void acc_name(fx *f, int i, char *out, size_t cap) {
    if (i == 0)
        snprintf(out, cap, "system:issuance");
    else if (i == 1)
        snprintf(out, cap, "system:redemption");
    else
        snprintf(out, cap, "customer:%lld", (long long)f->cust[i - 2]);
}

static bool member(int i) { return i >= 2; }

static void run_random(fx *f, unsigned seed, int steps) {
    uint64_t s = seed * 2654435761u + 1;
    /* fresh members for each seed, so the model starts where the store does */
    hd_err cerr;
    for (f->ncust = 0; f->ncust < 4;) {
        assert_int_equal(hd_store_write(f->st, mk_customer, f, &cerr), HD_OK);
        f->ncust++;
    }
    model m = {0};
    mpending pend[512];
    int npend = 0;
    hd_err err;
    for (int step = 0; step < steps; step++) {
        int op = (int)(rng(&s) % 100);
        if (op < 45 || npend == 0) {
            int from = (int)(rng(&s) % NACC), to = (int)(rng(&s) % NACC);
            if (from == to) to = (to + 1) % NACC;
            int64_t amount = 1 + (int64_t)(rng(&s) % 500);
            bool pending = rng(&s) % 3 == 0 && npend < 500;
            int64_t timeout = pending && rng(&s) % 2 ? 1 + (int64_t)(rng(&s) % 100) : 0;
            char key[64], dn[64], cn[64];
            snprintf(key, sizeof key, "r%u-%d", seed, step);
            acc_name(f, from, dn, sizeof dn);
            acc_name(f, to, cn, sizeof cn);
            bool ok = !member(from) ||
                      m.cred[from] + m.limit[from] - m.deb[from] - m.pdeb[from] >= amount;
            int64_t id = 0;
            hd_rc rc = transfer(f, key, dn, cn, amount, "adjust", pending, timeout, &id, &err);
            if (ok != (rc == HD_OK))
                fail_msg(
                    "seed %u step %d: transfer %s->%s %lld: model says %s, ledger said %d (%s)",
                    seed, step, dn, cn, (long long)amount, ok ? "ok" : "insufficient", rc, err.msg);
            if (!ok) {
                assert_int_equal(rc, HD_ESTATE);
                continue;
            }
            if (pending) {
                m.pdeb[from] += amount;
                m.pcred[to] += amount;
                pend[npend++] = (mpending){
                    id,  from, to, amount, timeout ? hd_clock_now_ms(f->clock) + timeout * 1000 : 0,
                    true};
            } else {
                m.deb[from] += amount;
                m.cred[to] += amount;
            }
            /* the same key again replays and changes nothing */
            if (rng(&s) % 10 == 0) {
                int64_t id2;
                assert_int_equal(
                    transfer(f, key, dn, cn, amount, "adjust", pending, timeout, &id2, &err),
                    HD_OK);
                assert_int_equal(id2, id);
                assert_int_equal(
                    transfer(f, key, dn, cn, amount + 1, "adjust", pending, timeout, &id2, &err),
                    HD_ECONFLICT);
            }
        } else if (op < 75) {
            mpending *p = &pend[rng(&s) % (uint64_t)npend];
            bool post = rng(&s) % 2;
            hd_rc rc = resolve(f, p->id, post, &err);
            if (p->open != (rc == HD_OK))
                fail_msg("seed %u step %d: resolve of %s pending: got %d (%s)", seed, step,
                         p->open ? "an open" : "a closed", rc, err.msg);
            if (!p->open) {
                assert_int_equal(rc, HD_ESTATE);
                continue;
            }
            p->open = false;
            m.pdeb[p->from] -= p->amount;
            m.pcred[p->to] -= p->amount;
            if (post) {
                m.deb[p->from] += p->amount;
                m.cred[p->to] += p->amount;
            }
        } else if (op < 85) {
            int i = 2 + (int)(rng(&s) % 4);
            int64_t lim = (int64_t)(rng(&s) % 300);
            call k = {.f = f, .customer = f->cust[i - 2], .limit = lim};
            assert_int_equal(hd_store_write(f->st, do_limit, &k, &err), HD_OK);
            m.limit[i] = lim;
        } else {
            /* time passes: pending transfers past their timeout void */
            int64_t adv = (int64_t)(rng(&s) % 60) * 1000;
            hd_clock_advance_ms(f->clock, adv);
            assert_int_equal(hd_ledger_job(&f->d, hd_clock_now_ms(f->clock), NULL, &err), HD_OK);
            for (int i = 0; i < npend; i++) {
                mpending *p = &pend[i];
                if (p->open && p->timeout_at && p->timeout_at <= hd_clock_now_ms(f->clock)) {
                    p->open = false;
                    m.pdeb[p->from] -= p->amount;
                    m.pcred[p->to] -= p->amount;
                }
            }
        }
        if (step % 25 == 0 || step == steps - 1) {
            for (int i = 2; i < NACC; i++) {
                int64_t bal, avail;
                balance_of(f, f->cust[i - 2], &bal, &avail);
                int64_t mb = m.cred[i] - m.deb[i],
                        ma = m.cred[i] - m.deb[i] - m.pdeb[i] + m.limit[i];
                if (bal != mb || avail != ma)
                    fail_msg("seed %u step %d: member %d balance %lld/%lld, model %lld/%lld", seed,
                             step, i, (long long)bal, (long long)avail, (long long)mb,
                             (long long)ma);
            }
            ledger_ok(f, seed);
        }
    }
}

static void test_random_against_model(void **state) {
    fx *f = *state;
    hd_err err;
    json_t *out;
    json_t *prog = json_pack("{s:{s:s}}", "expiry", "policy", "none");
    assert_int_equal(hd_program_patch(&f->d, prog, &out, &err), HD_OK);
    json_decref(prog);
    json_decref(out);
    unsigned base = getenv("HUDONG_SEED") ? (unsigned)strtoul(getenv("HUDONG_SEED"), NULL, 10) : 1;
    for (unsigned seed = base; seed < base + 6; seed++) run_random(f, seed, 600);
    f->ncust = 8;
}

static void test_lots_expiry_and_debt(void **state) {
    fx *f = *state;
    hd_err err;
    json_t *out;
    json_t *prog = json_pack("{s:{s:s,s:i}}", "expiry", "policy", "days", "days", 30);
    assert_int_equal(hd_program_patch(&f->d, prog, &out, &err), HD_OK);
    json_decref(prog);
    json_decref(out);
    char me[64];
    snprintf(me, sizeof me, "customer:%lld", (long long)f->cust[7]);
    int64_t bal, avail;
    /* 100 now, 50 ten days later */
    assert_int_equal(transfer(f, "e1", "system:issuance", me, 100, "earn", false, 0, NULL, &err),
                     HD_OK);
    hd_clock_advance_ms(f->clock, 10LL * 86400000);
    assert_int_equal(transfer(f, "e2", "system:issuance", me, 50, "earn", false, 0, NULL, &err),
                     HD_OK);
    /* spend 30: from the first lot */
    assert_int_equal(transfer(f, "s1", me, "system:redemption", 30, "redeem", false, 0, NULL, &err),
                     HD_OK);
    /* 21 days on: the first lot (70 left) expires, the second stays */
    hd_clock_advance_ms(f->clock, 21LL * 86400000);
    assert_int_equal(hd_ledger_job(&f->d, hd_clock_now_ms(f->clock), NULL, &err), HD_OK);
    balance_of(f, f->cust[7], &bal, &avail);
    assert_int_equal(bal, 50);
    ledger_ok(f, 0);
    /* running the job again expires nothing more */
    assert_int_equal(hd_ledger_job(&f->d, hd_clock_now_ms(f->clock), NULL, &err), HD_OK);
    balance_of(f, f->cust[7], &bal, &avail);
    assert_int_equal(bal, 50);
    /* overdraft: a limit of 100 lets the member go to -80 */
    call k = {.f = f, .customer = f->cust[7], .limit = 100};
    assert_int_equal(hd_store_write(f->st, do_limit, &k, &err), HD_OK);
    assert_int_equal(
        transfer(f, "s2", me, "system:redemption", 130, "redeem", false, 0, NULL, &err), HD_OK);
    assert_int_equal(transfer(f, "s3", me, "system:redemption", 21, "redeem", false, 0, NULL, &err),
                     HD_ESTATE);
    balance_of(f, f->cust[7], &bal, &avail);
    assert_int_equal(bal, -80);
    assert_int_equal(avail, 20);
    ledger_ok(f, 0);
    /* new earnings repay the debt first: 100 earned leaves a lot of 20 */
    assert_int_equal(transfer(f, "e3", "system:issuance", me, 100, "earn", false, 0, NULL, &err),
                     HD_OK);
    balance_of(f, f->cust[7], &bal, &avail);
    assert_int_equal(bal, 20);
    ledger_ok(f, 0); /* lots hold exactly 20 */
    /* a hold consumes lots; voiding gives them back */
    int64_t hid;
    assert_int_equal(transfer(f, "h1", me, "system:redemption", 15, "hold", true, 0, &hid, &err),
                     HD_OK);
    ledger_ok(f, 0);
    assert_int_equal(resolve(f, hid, false, &err), HD_OK);
    assert_int_equal(resolve(f, hid, true, &err), HD_ESTATE);
    ledger_ok(f, 0);
    /* 31 days later the 20 expire */
    hd_clock_advance_ms(f->clock, 31LL * 86400000);
    assert_int_equal(hd_ledger_job(&f->d, hd_clock_now_ms(f->clock), NULL, &err), HD_OK);
    balance_of(f, f->cust[7], &bal, &avail);
    assert_int_equal(bal, 0);
    ledger_ok(f, 0);
}

static void test_errors_change_nothing(void **state) {
    fx *f = *state;
    hd_err err;
    char me[64];
    snprintf(me, sizeof me, "customer:%lld", (long long)f->cust[6]);
    assert_int_equal(transfer(f, "x1", "system:issuance", me, 0, "earn", false, 0, NULL, &err),
                     HD_EINVAL);
    assert_string_equal(err.field, "amount");
    assert_int_equal(
        transfer(f, "x2", "system:issuance", "customer:1", 5, "earn", false, 0, NULL, &err),
        HD_EINVAL);
    assert_string_equal(err.field, "credit");
    assert_int_equal(transfer(f, "x3", "system:nothing", me, 5, "earn", false, 0, NULL, &err),
                     HD_EINVAL);
    assert_string_equal(err.field, "debit");
    assert_int_equal(transfer(f, "x4", "system:growth", me, 5, "earn", false, 0, NULL, &err),
                     HD_EINVAL);
    assert_int_equal(transfer(f, "x5", me, me, 5, "earn", false, 0, NULL, &err), HD_EINVAL);
    assert_int_equal(transfer(f, "x6", "system:issuance", me, 5, "Earn!", false, 0, NULL, &err),
                     HD_EINVAL);
    assert_string_equal(err.field, "code");
    /* a commit that fails leaves nothing half-written */
    hd_store_fail_commit_after(f->st, 1);
    assert_int_equal(transfer(f, "x7", "system:issuance", me, 5, "earn", false, 0, NULL, &err),
                     HD_ESTORE);
    int64_t bal, avail;
    balance_of(f, f->cust[6], &bal, &avail);
    assert_int_equal(bal, 0);
    ledger_ok(f, 0);
    /* and the key was not burnt: the retry goes through once */
    assert_int_equal(transfer(f, "x7", "system:issuance", me, 5, "earn", false, 0, NULL, &err),
                     HD_OK);
    balance_of(f, f->cust[6], &bal, &avail);
    assert_int_equal(bal, 5);
    ledger_ok(f, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_lots_expiry_and_debt),
        cmocka_unit_test(test_errors_change_nothing),
    };
    int fails = cmocka_run_group_tests_name("ledger_sqlite", tests, open_sqlite, close_fx);
    fails += cmocka_run_group_tests_name("ledger_postgres", tests, open_pg, close_fx);
    return fails;
}
