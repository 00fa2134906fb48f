/* test_store.c - the store API on SQLite and (when HUDONG_TEST_PG names one)
 * PostgreSQL: migrations, reads and writes, group commit under threads,
 * rollback of a failing callback, an injected commit failure, writes that do
 * not wait. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

typedef struct {
    hd_store *st;
    char path[256];
} fixture;

static int open_sqlite(void **state) {
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "/tmp/hudong-test-store-%d.db", (int)getpid());
    unlink(f->path);
    hd_store_opts o = {.url = f->path, .migrate = true, .wal_frames = 16384};
    hd_err err;
    f->st = hd_store_open(&o, &err);
    if (!f->st) fprintf(stderr, "open: %s\n", err.msg);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int open_pg(void **state) {
    const char *url = getenv("HUDONG_TEST_PG");
    if (!url || !*url) {
        fprintf(stderr, "HUDONG_TEST_PG is not set: scripts/test.sh starts a PostgreSQL\n");
        return -1;
    }
    fixture *f = calloc(1, sizeof *f);
    hd_store_opts o = {.url = url, .migrate = true};
    hd_err err;
    f->st = hd_store_open(&o, &err);
    if (!f->st) fprintf(stderr, "open: %s\n", err.msg);
    assert_non_null(f->st);
    hd_err e2;
    /* clean slate for this test: the table is ours */
    *state = f;
    (void)e2;
    return 0;
}

static int close_store(void **state) {
    fixture *f = *state;
    if (!f) return 0;
    hd_store_close(f->st);
    if (f->path[0]) {
        unlink(f->path);
        char p[300];
        snprintf(p, sizeof p, "%s-wal", f->path);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", f->path);
        unlink(p);
    }
    free(f);
    return 0;
}

static hd_rc put_meta(hd_conn *c, void *ctx, hd_err *err) {
    const char **kv = ctx;
    hd_val p[2] = {hd_vtext(kv[0]), hd_vtext(kv[1])};
    return hd_exec(c, "INSERT INTO meta (k, v) VALUES (?, ?)", p, 2, NULL, err);
}

typedef struct {
    const char *k;
    char v[64];
    int found;
} get_ctx;

static hd_rc get_meta(hd_conn *c, void *ctx, hd_err *err) {
    get_ctx *g = ctx;
    hd_val p = hd_vtext(g->k);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT v FROM meta WHERE k = ?", &p, 1, &r, err);
    if (rc) return rc;
    g->found = 0;
    while (hd_rows_next(r, err) == 1) {
        snprintf(g->v, sizeof g->v, "%s", hd_rows_text(r, 0, NULL));
        g->found++;
    }
    hd_rows_free(r);
    return HD_OK;
}

static void test_migrated_and_roundtrip(void **state) {
    fixture *f = *state;
    hd_err err;
    char key[64];
    snprintf(key, sizeof key, "k-%d-rt", (int)getpid());
    const char *kv[2] = {key, "互动 value"};
    assert_int_equal(hd_store_write(f->st, put_meta, kv, &err), HD_OK);
    get_ctx g = {key, "", 0};
    assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
    assert_int_equal(g.found, 1);
    assert_string_equal(g.v, "互动 value");
    /* a duplicate key is a conflict and leaves the first value alone */
    const char *kv2[2] = {key, "other"};
    assert_int_equal(hd_store_write(f->st, put_meta, kv2, &err), HD_ECONFLICT);
    assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
    assert_string_equal(g.v, "互动 value");
    /* migrating again is a no-op */
    assert_int_equal(hd_store_migrate(f->st, &err), HD_OK);
}

static hd_rc put_then_fail(hd_conn *c, void *ctx, hd_err *err) {
    hd_rc rc = put_meta(c, ctx, err);
    if (rc) return rc;
    return hd_err_set(err, HD_EINVAL, "x", "refused after writing");
}

static void test_failing_callback_writes_nothing(void **state) {
    fixture *f = *state;
    hd_err err;
    char key[64];
    snprintf(key, sizeof key, "k-%d-fail", (int)getpid());
    const char *kv[2] = {key, "v"};
    assert_int_equal(hd_store_write(f->st, put_then_fail, kv, &err), HD_EINVAL);
    assert_string_equal(err.field, "x");
    get_ctx g = {key, "", 0};
    assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
    assert_int_equal(g.found, 0);
}

static void test_injected_commit_failure(void **state) {
    fixture *f = *state;
    hd_err err;
    char key[64];
    snprintf(key, sizeof key, "k-%d-inj", (int)getpid());
    const char *kv[2] = {key, "v"};
    hd_store_fail_commit_after(f->st, 1);
    assert_int_equal(hd_store_write(f->st, put_meta, kv, &err), HD_ESTORE);
    get_ctx g = {key, "", 0};
    assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
    assert_int_equal(g.found, 0);
    assert_int_equal(hd_store_write(f->st, put_meta, kv, &err), HD_OK);
}

#define THREADS    8
#define PER_THREAD 200

typedef struct {
    hd_store *st;
    int t;
    int ok;
} thr;

static hd_rc incr(hd_conn *c, void *ctx, hd_err *err) {
    thr *t = ctx;
    char k[64];
    snprintf(k, sizeof k, "ctr-%d", (int)getpid());
    hd_val p = hd_vtext(k);
    hd_rc rc = hd_exec(c, "UPDATE meta SET v = CAST(CAST(v AS BIGINT) + 1 AS TEXT) WHERE k = ?", &p,
                       1, NULL, err);
    (void)t;
    return rc;
}

static void *worker(void *arg) {
    thr *t = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        hd_err err;
        if (hd_store_write(t->st, incr, t, &err) == HD_OK) t->ok++;
    }
    return NULL;
}

static void test_concurrent_writers_lose_nothing(void **state) {
    fixture *f = *state;
    hd_err err;
    char key[64];
    snprintf(key, sizeof key, "ctr-%d", (int)getpid());
    const char *kv[2] = {key, "0"};
    assert_int_equal(hd_store_write(f->st, put_meta, kv, &err), HD_OK);
    pthread_t th[THREADS];
    thr ts[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ts[i] = (thr){f->st, i, 0};
        pthread_create(&th[i], NULL, worker, &ts[i]);
    }
    int ok = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ok += ts[i].ok;
    }
    assert_int_equal(ok, THREADS * PER_THREAD);
    get_ctx g = {key, "", 0};
    assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
    assert_int_equal(atoi(g.v), THREADS * PER_THREAD);
}

/* ---- writes that do not wait (hd_store_write_async) ---- */

#define ASYNC_N 200

typedef struct {
    int i;
    char key[48];
    hd_rc rc;      /* what done said */
    char field[8]; /* ... and the field its error named */
} async_job;

static atomic_int async_done;

static hd_rc async_put(hd_conn *c, void *ctx, hd_err *err) {
    async_job *j = ctx;
    hd_val p[2] = {hd_vtext(j->key), hd_vtext("async")};
    hd_rc rc = hd_exec(c, "INSERT INTO meta (k, v) VALUES (?, ?)", p, 2, NULL, err);
    if (rc) return rc;
    /* every 50th refuses after writing: its row must not be kept */
    if (j->i % 50 == 7) return hd_err_set(err, HD_EINVAL, "i", "job %d refuses", j->i);
    return HD_OK;
}

static void async_fin(void *arg, hd_rc rc, const hd_err *err) {
    async_job *j = arg;
    j->rc = rc;
    snprintf(j->field, sizeof j->field, "%s", rc ? err->field : "");
    atomic_fetch_add(&async_done, 1);
}

static void test_async_writes(void **state) {
    fixture *f = *state;
    /* the embedded store queues and answers later; PostgreSQL answers at once */
    assert_int_equal(hd_store_writes_async(f->st), f->path[0] != '\0');
    static async_job jobs[ASYNC_N];
    atomic_store(&async_done, 0);
    for (int i = 0; i < ASYNC_N; i++) {
        jobs[i] = (async_job){.i = i, .rc = HD_EINTERNAL};
        snprintf(jobs[i].key, sizeof jobs[i].key, "async-%d-%d", (int)getpid(), i);
        hd_store_write_async(f->st, async_put, &jobs[i], async_fin, &jobs[i]);
    }
    for (int t = 0; t < 1000 && atomic_load(&async_done) < ASYNC_N; t++) usleep(10 * 1000);
    assert_int_equal(atomic_load(&async_done), ASYNC_N); /* each done exactly once */
    hd_err err;
    for (int i = 0; i < ASYNC_N; i++) {
        bool refused = i % 50 == 7;
        assert_int_equal(jobs[i].rc, refused ? HD_EINVAL : HD_OK);
        assert_string_equal(jobs[i].field, refused ? "i" : "");
        get_ctx g = {jobs[i].key, "", 0};
        assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
        assert_int_equal(g.found, refused ? 0 : 1);
    }
}

/* ---- SQLite: the WAL does not grow without end under steady writes ---- */

static hd_rc rewrite_rows(hd_conn *c, void *ctx, hd_err *err) {
    const int *round = ctx;
    char v[1800];
    memset(v, 'a' + *round % 26, sizeof v - 1);
    v[sizeof v - 1] = '\0';
    for (int i = 0; i < 64; i++) {
        char k[32];
        snprintf(k, sizeof k, "wal-%d", (*round * 64 + i) % 1024);
        hd_val p[2] = {hd_vtext(k), hd_vtext(v)};
        hd_rc rc = hd_exec(c,
                           "INSERT INTO meta (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE "
                           "SET v = excluded.v",
                           p, 2, NULL, err);
        if (rc) return rc;
    }
    return HD_OK;
}

static void test_wal_stays_bounded(void **state) {
    fixture *f = *state;
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", f->path);
    /* 4,000 commits of 64 rewritten rows, back to back: some 500 MiB of WAL
     * frames. SQLite alone restarts the WAL only when a commit begins with
     * every frame copied back, which a steady stream never allows. */
    off_t most = 0;
    hd_err err;
    for (int round = 0; round < 4000; round++) {
        assert_int_equal(hd_store_write(f->st, rewrite_rows, &round, &err), HD_OK);
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > most) most = sb.st_size;
    }
    /* restarted at 4 x 16,384 frames (the fixture's wal_frames) at the
     * latest: some 130 MiB */
    assert_true(most < (off_t)200 << 20);
    get_ctx g = {"wal-5", "", 0};
    assert_int_equal(hd_store_read(f->st, get_meta, &g, &err), HD_OK);
    assert_int_equal(g.found, 1);
}

/* ---- SQLite: page splits and rollbacks with the store's page cache ---- */

typedef struct {
    int round;
    bool fail;
} split_ctx;

static hd_rc insert_many(hd_conn *c, void *ctx, hd_err *err) {
    split_ctx *x = ctx;
    char v[300];
    for (int i = 0; i < 40; i++) { /* random keys: pages split and get renumbered */
        unsigned h = (unsigned)(x->round * 40 + i) * 2654435761u;
        char k[32];
        snprintf(k, sizeof k, "split-%08x", h);
        memset(v, 'a' + (int)(h % 26), sizeof v - 1);
        v[sizeof v - 1] = '\0';
        hd_val p[2] = {hd_vtext(k), hd_vtext(v)};
        hd_rc rc = hd_exec(c, "INSERT INTO meta (k, v) VALUES (?, ?)", p, 2, NULL, err);
        if (rc) return rc;
    }
    return x->fail ? hd_err_set(err, HD_EINVAL, "", "rolled back on purpose") : HD_OK;
}

static hd_rc count_and_check(hd_conn *c, void *ctx, hd_err *err) {
    int64_t *out = ctx;
    hd_rc rc =
        hd_query_int(c, "SELECT count(*) FROM meta WHERE k LIKE 'split-%'", NULL, 0, &out[0], err);
    if (rc) return rc;
    hd_rows *r;
    if ((rc = hd_query(c, "PRAGMA integrity_check", NULL, 0, &r, err))) return rc;
    out[1] = hd_rows_next(r, err) == 1 && strcmp(hd_rows_text(r, 0, NULL), "ok") == 0;
    hd_rows_free(r);
    return HD_OK;
}

static void test_splits_and_rollbacks_stay_intact(void **state) {
    fixture *f = *state;
    hd_err err;
    int kept = 0;
    for (int round = 0; round < 600; round++) {
        split_ctx x = {round, round % 3 == 2};
        hd_rc rc = hd_store_write(f->st, insert_many, &x, &err);
        assert_int_equal(rc, x.fail ? HD_EINVAL : HD_OK);
        if (!x.fail) kept += 40;
    }
    int64_t out[2] = {0, 0};
    assert_int_equal(hd_store_read(f->st, count_and_check, out, &err), HD_OK);
    assert_int_equal(out[0], kept);
    assert_int_equal(out[1], 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrated_and_roundtrip),
        cmocka_unit_test(test_failing_callback_writes_nothing),
        cmocka_unit_test(test_injected_commit_failure),
        cmocka_unit_test(test_concurrent_writers_lose_nothing),
        cmocka_unit_test(test_async_writes),
    };
    const struct CMUnitTest sqlite_only[] = {
        cmocka_unit_test(test_wal_stays_bounded),
        cmocka_unit_test(test_splits_and_rollbacks_stay_intact),
    };
    int fails = cmocka_run_group_tests_name("store_sqlite", tests, open_sqlite, close_store);
    fails += cmocka_run_group_tests_name("store_sqlite_wal", sqlite_only, open_sqlite, close_store);
    fails += cmocka_run_group_tests_name("store_postgres", tests, open_pg, close_store);
    return fails;
}
