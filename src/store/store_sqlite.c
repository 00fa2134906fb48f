/* store_sqlite.c - the embedded store: SQLite in WAL mode, one writer thread
 * with group commit, a pool of reader connections.
 *
 * Group commit: hd_store_write queues a job and waits. The writer thread takes
 * every queued job (up to batch_max), opens one transaction, runs each job in
 * its own SAVEPOINT (a failing job rolls back only itself), commits once and
 * wakes the callers. One fsync then covers many requests. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "store/store_int.h"

static hd_rc sq_err(hd_err *err, sqlite3 *db, int code, const char *what) {
    int ext = db ? sqlite3_extended_errcode(db) : code;
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(code);
    hd_rc rc = HD_ESTORE;
    if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY)
        rc = HD_ECONFLICT;
    else if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
        rc = HD_EBUSY;
    return hd_err_set(err, rc, "", "%s: %s", what, msg);
}

static hd_conn *conn_open(hd_store *st, const char *path, bool writer, hd_err *err) {
    hd_conn *c = calloc(1, sizeof *c);
    if (!c) {
        hd_err_set(err, HD_ENOMEM, "", "out of memory");
        return NULL;
    }
    c->kind = HD_STORE_SQLITE;
    c->st = st;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
    int rc = sqlite3_open_v2(path, &c->db, flags, HD_SQLITE_VFS);
    if (rc != SQLITE_OK) {
        hd_err_set(err, HD_ESTORE, "db", "cannot open SQLite database '%s': %s", path,
                   c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, 10000);
    /* 2 KiB pages for a new database (an existing one keeps its own): a
     * commit writes every page it touched to the WAL whole, and one event
     * lands at a random place in half a dozen B-trees, so smaller pages
     * write less - in alternating runs single-event requests went 16.2-16.7k/s
     * against 13.2-14.5k/s with 4 KiB, batch loads about the same. */
    const char *pragmas = writer ? "PRAGMA page_size=2048; "
                                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                                   "PRAGMA wal_autocheckpoint=0; "
                                   "PRAGMA journal_size_limit=268435456; "
                                   "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;"
                                   ""
                                 : "PRAGMA foreign_keys=ON; PRAGMA cache_size=-32768; "
                                   "";
    char *msg = NULL;
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, &msg) != SQLITE_OK) {
        hd_err_set(err, HD_ESTORE, "db", "cannot set up SQLite database '%s': %s", path,
                   msg ? msg : "?");
        sqlite3_free(msg);
        sqlite3_close(c->db);
        free(c);
        return NULL;
    }
    return c;
}

static void conn_close(hd_conn *c) {
    if (!c) return;
    hd__conn_clear_cache(c);
    sqlite3_close(c->db);
    free(c);
}

void hd__conn_clear_cache(hd_conn *c) {
    for (int i = 0; i < STMT_CACHE; i++) {
        if (c->cache[i].stmt) sqlite3_finalize(c->cache[i].stmt);
        free(c->cache[i].sql_copy);
        memset(&c->cache[i], 0, sizeof c->cache[i]);
    }
}

static void *writer_main(void *arg);

/* WAL sizes, in frames (a frame is one page: 2 KiB in a store made now);
 * past st->wal_long (hd_store_opts.wal_frames) the WAL should start again */
#define WAL_TAIL        1024 /* few enough left to copy that the writer may pause */
#define CATCH_UP_PASSES 8
#define CATCH_UP_NS     (2 * 1000 * 1000) /* a pass this short left little behind it */

/* Copies the WAL back into the database on its own connection (PASSIVE:
 * never blocks the writer or readers), every 200 ms, or every 20 ms while
 * the WAL is long. The writer's commits stay short; with autocheckpoint they
 * would each now and then pay for a checkpoint and its fsync.
 *
 * SQLite starts the WAL again from the top only when a write transaction
 * begins with every frame copied back, which never happens while commits
 * keep coming: under steady writes the WAL would grow without end (a GiB
 * in a few minutes, and every commit appending to new file blocks). So when
 * the WAL is long and this thread has copied nearly all of it (or the WAL
 * is four times too long), it asks the writer to copy what is left between
 * two batches (wal_tail); the writer's next transaction restarts the WAL,
 * and journal_size_limit cuts the file back to 256 MiB.
 *
 * The writer's copy ends in an fsync of the database (nothing may overwrite
 * the WAL's frames before their pages are safe in the database), some 8-16 ms
 * on our machines during which no commit is made: the longer the WAL, the
 * rarer that pause. At 32 MiB it came four times a second under single
 * events and took 6 % of the writer's time; at 128 MiB single events went
 * 5-6 % faster in four alternating pairs (docs/benchmarks.md). */
static void *checkpoint_main(void *arg) {
    hd_store *st = arg;
    pthread_setname_np(pthread_self(), "hd-checkpoint");
    for (;;) {
        pthread_mutex_lock(&st->mu);
        bool stop = st->stopping;
        pthread_mutex_unlock(&st->mu);
        if (stop) break;
        int log = 0, done = 0;
        sqlite3_wal_checkpoint_v2(st->checkpointer->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                  &done);
        bool long_wal = log > st->wal_long;
        /* What the writer copies is what came in while this pass ran (its
         * copy and two fsyncs): catch up pass after pass, each shorter than
         * the last, so the writer's share - and its own two fsyncs, which
         * requests wait behind - is a millisecond or two of commits, not
         * the 10-20 ms a single pass lets in. */
        for (int k = 0; long_wal && log - done <= WAL_TAIL && k < CATCH_UP_PASSES; k++) {
            int64_t t0 = hd_mono_ns();
            sqlite3_wal_checkpoint_v2(st->checkpointer->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log,
                                      &done);
            if (hd_mono_ns() - t0 < CATCH_UP_NS) break;
        }
        /* the last pass's view: the writer may have restarted the WAL meanwhile */
        long_wal = log > st->wal_long;
        if (long_wal && (log - done <= WAL_TAIL || log > 4 * st->wal_long)) {
            pthread_mutex_lock(&st->mu);
            st->wal_tail = true;
            pthread_mutex_unlock(&st->mu);
        }
        struct timespec ts = {0, (long_wal ? 20 : 200) * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* Once per process, before SQLite initialises: no allocation counts (SQLite
 * keeps them under one global mutex the writer and the readers would all
 * queue on, and we never ask for them), our page cache (store_pcache.c) and
 * our VFS (store_vfs.c). */
static int vfs_rc = SQLITE_OK;
static void sqlite_setup(void) {
    /* both refused (SQLITE_MISUSE) if something in the process started
     * SQLite first: then it runs without these two, only slower */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    hd__pcache_register();
    vfs_rc = hd__vfs_register();
}

hd_store *hd__sqlite_open(const hd_store_opts *o, const char *path, hd_err *err) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    if (vfs_rc != SQLITE_OK) {
        hd_err_set(err, HD_ESTORE, "db", "cannot set up SQLite: %s", sqlite3_errstr(vfs_rc));
        return NULL;
    }
    hd_store *st = calloc(1, sizeof *st);
    if (!st) {
        hd_err_set(err, HD_ENOMEM, "", "out of memory");
        return NULL;
    }
    st->kind = HD_STORE_SQLITE;
    st->url = strdup(path);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv_conn, NULL);
    pthread_cond_init(&st->cv_work, NULL);
    st->batch_max = o->batch_max > 0 ? o->batch_max : 256;
    st->wal_long = o->wal_frames > 0 ? o->wal_frames : 65536; /* 128 MiB */
    bool mem = strcmp(path, ":memory:") == 0;
    /* an in-memory database is private to its connection: use one shared cache */
    const char *p = mem ? "file:hudong_mem?mode=memory&cache=shared" : path;
    st->writer = conn_open(st, p, true, err);
    if (!st->writer) goto fail;
    st->nconns = o->readers > 0 ? o->readers : 4;
    st->conns = calloc((size_t)st->nconns, sizeof *st->conns);
    for (int i = 0; i < st->nconns; i++) {
        st->conns[i] = conn_open(st, p, false, err);
        if (!st->conns[i]) goto fail;
    }
    if (pthread_create(&st->writer_thread, NULL, writer_main, st) != 0) {
        hd_err_set(err, HD_ESTORE, "", "cannot start the writer thread");
        goto fail;
    }
    st->writer_running = true;
    if (!mem) {
        st->checkpointer = conn_open(st, p, false, err);
        if (!st->checkpointer) goto fail;
        if (pthread_create(&st->checkpoint_thread, NULL, checkpoint_main, st) != 0) {
            hd_err_set(err, HD_ESTORE, "", "cannot start the checkpoint thread");
            goto fail;
        }
        st->checkpoint_running = true;
    }
    return st;
fail:
    hd__sq_close(st);
    return NULL;
}

void hd__sq_close(hd_store *st) {
    if (st->writer_running) {
        pthread_mutex_lock(&st->mu);
        st->stopping = true;
        pthread_cond_broadcast(&st->cv_work);
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->writer_thread, NULL);
    }
    if (st->checkpoint_running) {
        pthread_mutex_lock(&st->mu);
        st->stopping = true;
        pthread_mutex_unlock(&st->mu);
        pthread_join(st->checkpoint_thread, NULL);
    }
    if (st->checkpointer) {
        /* a last full checkpoint leaves a tidy database file behind */
        sqlite3_wal_checkpoint_v2(st->checkpointer->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL,
                                  NULL);
        conn_close(st->checkpointer);
    }
    for (int i = 0; i < st->nconns; i++) conn_close(st->conns[i]);
    free(st->conns);
    conn_close(st->writer);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv_conn);
    pthread_cond_destroy(&st->cv_work);
    free(st->url);
    free(st);
}

static hd_rc prepare(hd_conn *c, const char *sql, sqlite3_stmt **out, stmt_slot **slot,
                     hd_err *err);

/* A statement without parameters or rows (BEGIN, COMMIT, SAVEPOINT), from the
 * connection's statement cache: sqlite3_exec would parse it again on every
 * call - twice a transaction on the writer, and on every read. */
static int exec_simple(hd_conn *c, const char *sql) {
    sqlite3_stmt *stmt;
    stmt_slot *slot;
    hd_err err;
    if (prepare(c, sql, &stmt, &slot, &err) != HD_OK)
        return sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (!slot) sqlite3_finalize(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* One pass over a batch. Fast: no savepoints (they cost SQLite a
 * sub-journal write of every page a job touches); any failing job aborts
 * the pass. Careful: each job in its own savepoint, a job answering
 * HD_EBUSY ("run me again") is re-run, a failing job rolls back alone. */
static int run_pass(hd_store *st, write_job *batch, bool careful, bool *job_failed) {
    hd_conn *w = st->writer;
    int rc = exec_simple(w, "BEGIN IMMEDIATE");
    *job_failed = false;
    for (write_job *j = batch; j && rc == SQLITE_OK; j = j->next) {
        if (!careful) {
            hd_err_clear(j->err);
            j->rc = j->fn(st->writer, j->ctx, j->err);
            if (j->rc != HD_OK) {
                *job_failed = true;
                exec_simple(w, "ROLLBACK");
                return SQLITE_OK;
            }
            continue;
        }
        for (int attempt = 0; attempt < 5; attempt++) {
            if ((rc = exec_simple(w, "SAVEPOINT job")) != SQLITE_OK) break;
            hd_err_clear(j->err);
            j->rc = j->fn(st->writer, j->ctx, j->err);
            if (j->rc != HD_OK) exec_simple(w, "ROLLBACK TO job");
            exec_simple(w, "RELEASE job");
            if (j->rc != HD_EBUSY) break;
        }
    }
    return rc;
}

/* Runs a batch in one transaction: a fast pass, and when a job failed, a
 * careful pass from the start (callbacks may run more than once). */
static int run_batch(hd_store *st, write_job *batch, bool fail_commit, hd_err *berr) {
    hd_conn *w = st->writer;
    sqlite3 *db = w->db;
    bool failed;
    int rc = run_pass(st, batch, false, &failed);
    if (rc == SQLITE_OK && failed) rc = run_pass(st, batch, true, &failed);
    if (rc != SQLITE_OK) {
        sq_err(berr, db, rc, "begin");
        exec_simple(w, "ROLLBACK");
        return rc;
    }
    if (fail_commit) {
        exec_simple(w, "ROLLBACK");
        hd_err_set(berr, HD_ESTORE, "", "commit failed (injected fault)");
        return SQLITE_IOERR;
    }
    if ((rc = exec_simple(w, "COMMIT")) != SQLITE_OK) {
        sq_err(berr, db, rc, "commit");
        exec_simple(w, "ROLLBACK");
    }
    return rc;
}

static void *writer_main(void *arg) {
    hd_store *st = arg;
    pthread_setname_np(pthread_self(), "hd-writer");
    for (;;) {
        pthread_mutex_lock(&st->mu);
        while (!st->head && !st->stopping) pthread_cond_wait(&st->cv_work, &st->mu);
        if (!st->head && st->stopping) {
            pthread_mutex_unlock(&st->mu);
            break;
        }
        /* take up to batch_max jobs */
        write_job *batch = st->head, *last = st->head;
        int n = 1;
        while (last->next && n < st->batch_max) {
            last = last->next;
            n++;
        }
        st->head = last->next;
        if (!st->head) st->tail = NULL;
        last->next = NULL;
        bool fail_commit = false;
        if (st->fail_commit_after > 0 && --st->fail_commit_after == 0) fail_commit = true;
        st->batches++;
        st->jobs += n;
        pthread_mutex_unlock(&st->mu);

        hd_err berr;
        hd_err_clear(&berr);
        int rc = run_batch(st, batch, fail_commit, &berr);
        for (write_job *j = batch, *next; j; j = next) {
            next = j->next; /* j belongs to its caller once posted */
            if (rc != SQLITE_OK && j->rc == HD_OK) {
                j->rc = berr.rc;
                if (j->err) *j->err = berr;
            }
            if (j->on_done) {
                j->on_done(j->arg, j->rc, j->err);
                free(j);
            } else {
                sem_post(&j->done);
            }
        }

        pthread_mutex_lock(&st->mu);
        bool tail = st->wal_tail;
        st->wal_tail = false;
        pthread_mutex_unlock(&st->mu);
        if (tail) /* see checkpoint_main */
            sqlite3_wal_checkpoint_v2(st->writer->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    }
    return NULL;
}

/* Queues j for the writer; false (nothing queued) when the store is
 * shutting down. */
static bool enqueue(hd_store *st, write_job *j) {
    pthread_mutex_lock(&st->mu);
    bool open = !st->stopping;
    if (open) {
        if (st->tail)
            st->tail->next = j;
        else
            st->head = j;
        st->tail = j;
        pthread_cond_signal(&st->cv_work);
    }
    pthread_mutex_unlock(&st->mu);
    return open;
}

hd_rc hd__sq_write(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err) {
    hd_err local;
    write_job j = {.fn = fn, .ctx = ctx, .err = err ? err : &local, .rc = HD_OK};
    if (sem_init(&j.done, 0, 0) != 0)
        return hd_err_set(err, HD_ESTORE, "", "cannot wait for the writer");
    /* The job lives on this stack frame: safe, because we wait below until
     * the writer has posted it and no longer touches it. */
    if (!enqueue(st, &j)) { // cppcheck-suppress autoVariables
        sem_destroy(&j.done);
        return hd_err_set(err, HD_EBUSY, "", "the store is shutting down");
    }
    while (sem_wait(&j.done) != 0) {} /* EINTR: wait on */
    sem_destroy(&j.done);
    return j.rc;
}

void hd__sq_write_async(hd_store *st, hd_store_fn fn, void *ctx, hd_store_done_fn done, void *arg) {
    write_job *j = calloc(1, sizeof *j);
    hd_err err;
    if (!j) {
        done(arg, hd_err_set(&err, HD_ENOMEM, "", "out of memory"), &err);
        return;
    }
    j->fn = fn;
    j->ctx = ctx;
    j->err = &j->own_err;
    j->on_done = done;
    j->arg = arg;
    if (!enqueue(st, j)) {
        free(j);
        done(arg, hd_err_set(&err, HD_EBUSY, "", "the store is shutting down"), &err);
    }
}

hd_rc hd__sq_read(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err) {
    pthread_mutex_lock(&st->mu);
    hd_conn *c = NULL;
    for (;;) {
        for (int i = 0; i < st->nconns; i++)
            if (!st->conns[i]->in_use) {
                c = st->conns[i];
                break;
            }
        if (c) break;
        pthread_cond_wait(&st->cv_conn, &st->mu);
    }
    c->in_use = true;
    pthread_mutex_unlock(&st->mu);
    hd_rc rc;
    if (exec_simple(c, "BEGIN") != SQLITE_OK) {
        rc = sq_err(err, c->db, SQLITE_ERROR, "begin read");
    } else {
        rc = fn(c, ctx, err);
        exec_simple(c, "COMMIT");
    }
    pthread_mutex_lock(&st->mu);
    c->in_use = false;
    pthread_cond_signal(&st->cv_conn);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

static uint32_t hash_ptr(const char *p) {
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9E3779B97F4A7C15ull;
    return (uint32_t)(v >> 32);
}

/* Finds or prepares the statement for sql. Cached by the literal's address
 * (domain code passes string literals); a busy slot (a result still open on the
 * same statement) gets a private statement instead. */
static hd_rc prepare(hd_conn *c, const char *sql, sqlite3_stmt **out, stmt_slot **slot,
                     hd_err *err) {
    uint32_t h = hash_ptr(sql) % STMT_CACHE;
    for (int probe = 0; probe < 8; probe++) {
        stmt_slot *s = &c->cache[(h + (uint32_t)probe) % STMT_CACHE];
        if (s->sql == sql && strcmp(s->sql_copy, sql) == 0) {
            if (s->busy) break;
            *out = s->stmt;
            *slot = s;
            return HD_OK;
        }
        if (!s->sql) {
            int rc = sqlite3_prepare_v2(c->db, sql, -1, &s->stmt, NULL);
            if (rc != SQLITE_OK) return sq_err(err, c->db, rc, "prepare");
            s->sql = sql;
            s->sql_copy = strdup(sql);
            *out = s->stmt;
            *slot = s;
            return HD_OK;
        }
    }
    int rc = sqlite3_prepare_v2(c->db, sql, -1, out, NULL);
    if (rc != SQLITE_OK) return sq_err(err, c->db, rc, "prepare");
    *slot = NULL;
    return HD_OK;
}

hd_rc hd__sq_query(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_rows **out,
                   int64_t *changes, hd_err *err) {
    sqlite3_stmt *stmt = NULL;
    stmt_slot *slot = NULL;
    hd_rc rc = prepare(c, sql, &stmt, &slot, err);
    if (rc) return rc;
    for (int i = 0; i < nparams; i++) {
        const hd_val *v = &params[i];
        int brc;
        switch (v->type) {
        case HD_V_NULL: brc = sqlite3_bind_null(stmt, i + 1); break;
        case HD_V_INT: brc = sqlite3_bind_int64(stmt, i + 1, v->i); break;
        case HD_V_REAL: brc = sqlite3_bind_double(stmt, i + 1, v->r); break;
        default: brc = sqlite3_bind_text(stmt, i + 1, v->s, (int)v->n, SQLITE_STATIC); break;
        }
        if (brc != SQLITE_OK) {
            rc = sq_err(err, c->db, brc, "bind");
            goto fail;
        }
    }
    if (out) {
        hd_rows *r = calloc(1, sizeof *r);
        if (!r) {
            rc = hd_err_set(err, HD_ENOMEM, "", "out of memory");
            goto fail;
        }
        r->c = c;
        r->stmt = stmt;
        r->slot = slot;
        if (slot) slot->busy = true;
        *out = r;
        return HD_OK;
    }
    int s;
    while ((s = sqlite3_step(stmt)) == SQLITE_ROW) {}
    if (s != SQLITE_DONE) {
        rc = sq_err(err, c->db, s, "statement");
        goto fail;
    }
    if (changes) *changes = sqlite3_changes64(c->db);
    rc = HD_OK;
fail:
    if (slot) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    } else {
        sqlite3_finalize(stmt);
    }
    return rc;
}

int hd__sq_next(hd_rows *r, hd_err *err) {
    int s = sqlite3_step(r->stmt);
    if (s == SQLITE_ROW) return 1;
    if (s == SQLITE_DONE) return 0;
    sq_err(err, r->c->db, s, "query");
    return -1;
}

void hd__sq_free(hd_rows *r) {
    if (r->slot) {
        sqlite3_reset(r->stmt);
        sqlite3_clear_bindings(r->stmt);
        r->slot->busy = false;
    } else {
        sqlite3_finalize(r->stmt);
    }
}

hd_rc hd__exec_script(hd_conn *c, const char *sql, hd_err *err) {
    if (c->kind == HD_STORE_SQLITE) {
        char *msg = NULL;
        if (sqlite3_exec(c->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            hd_err_set(err, HD_ESTORE, "", "%s", msg ? msg : "error");
            sqlite3_free(msg);
            return HD_ESTORE;
        }
        return HD_OK;
    }
    if (c->ndeferred)
        return hd_err_set(err, HD_EINTERNAL, "", "a script after a deferred statement");
    if (c->begin_pending) { /* a script runs inside the transaction: begin it first */
        PGresult *b = PQexec(c->pg, c->begin_pending);
        c->begin_pending = NULL;
        if (PQresultStatus(b) != PGRES_COMMAND_OK) {
            hd_rc rc = hd__pg_error(err, b, c->pg, "begin");
            PQclear(b);
            return rc;
        }
        PQclear(b);
    }
    PGresult *res = PQexec(c->pg, sql);
    ExecStatusType s = PQresultStatus(res);
    /* empty: a migration with nothing for this store (comments only) */
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        hd_rc rc = hd__pg_error(err, res, c->pg, "script");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    return HD_OK;
}
