/* store_pg.c - the PostgreSQL store: a pool of libpq connections, each with
 * its own prepared statements. A write callback runs between BEGIN and COMMIT
 * on one connection and is retried whole on serialization failure or
 * deadlock, so domain code keeps its rules with row locks or conditional
 * updates and stays correct when several hudong processes share the database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store_int.h"

#define PG_RETRIES 30

hd_rc hd__pg_error(hd_err *err, PGresult *res, PGconn *pg, const char *what) {
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(pg);
    hd_rc rc = HD_ESTORE;
    if (state && strcmp(state, "23505") == 0)
        rc = HD_ECONFLICT;
    else if (state && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0))
        rc = HD_EBUSY;
    else if (!state && PQstatus(pg) != CONNECTION_OK)
        rc = HD_EBUSY;
    char m[200];
    snprintf(m, sizeof m, "%s", msg ? msg : "?");
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) m[--n] = '\0';
    return hd_err_set(err, rc, "", "%s: %s", what, m);
}

static hd_conn *pg_conn_open(hd_store *st, hd_err *err) {
    hd_conn *c = calloc(1, sizeof *c);
    if (!c) {
        hd_err_set(err, HD_ENOMEM, "", "out of memory");
        return NULL;
    }
    c->kind = HD_STORE_POSTGRES;
    c->st = st;
    c->pg = PQconnectdb(st->url);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char m[200];
        snprintf(m, sizeof m, "%s", PQerrorMessage(c->pg));
        size_t n = strlen(m);
        while (n && m[n - 1] == '\n') m[--n] = '\0';
        hd_err_set(err, HD_ESTORE, "db", "cannot connect to PostgreSQL: %s", m);
        PQfinish(c->pg);
        free(c);
        return NULL;
    }
    PGresult *r = PQexec(c->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
    PQclear(r);
    return c;
}

static void pg_conn_close(hd_conn *c) {
    if (!c) return;
    for (int i = 0; i < STMT_CACHE; i++) free(c->cache[i].sql_copy);
    PQfinish(c->pg);
    free(c);
}

hd_store *hd__pg_open(const hd_store_opts *o, hd_err *err) {
    hd_store *st = calloc(1, sizeof *st);
    if (!st) {
        hd_err_set(err, HD_ENOMEM, "", "out of memory");
        return NULL;
    }
    st->kind = HD_STORE_POSTGRES;
    st->url = strdup(o->url);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv_conn, NULL);
    st->nconns = o->readers > 0 ? o->readers : 8;
    st->conns = calloc((size_t)st->nconns, sizeof *st->conns);
    for (int i = 0; i < st->nconns; i++) {
        st->conns[i] = pg_conn_open(st, err);
        if (!st->conns[i]) {
            hd__pg_close(st);
            return NULL;
        }
    }
    return st;
}

void hd__pg_close(hd_store *st) {
    for (int i = 0; i < st->nconns; i++) pg_conn_close(st->conns[i]);
    free(st->conns);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv_conn);
    free(st->url);
    free(st);
}

static hd_conn *pool_take(hd_store *st, hd_err *err) {
    pthread_mutex_lock(&st->mu);
    int idx = -1;
    for (;;) {
        for (int i = 0; i < st->nconns; i++)
            if (!st->conns[i]->in_use) {
                idx = i;
                break;
            }
        if (idx >= 0) break;
        pthread_cond_wait(&st->cv_conn, &st->mu);
    }
    hd_conn *c = st->conns[idx];
    c->in_use = true;
    pthread_mutex_unlock(&st->mu);
    if (PQstatus(c->pg) != CONNECTION_OK) {
        /* the server went away: try to reconnect this slot in place */
        PQreset(c->pg);
        if (PQstatus(c->pg) != CONNECTION_OK) {
            hd_err_set(err, HD_EBUSY, "", "PostgreSQL connection lost: %s", PQerrorMessage(c->pg));
            pthread_mutex_lock(&st->mu);
            c->in_use = false;
            pthread_cond_signal(&st->cv_conn);
            pthread_mutex_unlock(&st->mu);
            return NULL;
        }
        for (int i = 0; i < STMT_CACHE; i++) {
            free(c->cache[i].sql_copy);
            c->cache[i].sql_copy = NULL;
        }
        PQclear(PQexec(c->pg, "SET client_min_messages = warning; SET TIME ZONE 'UTC'"));
    }
    return c;
}

static void pool_give(hd_store *st, hd_conn *c) {
    pthread_mutex_lock(&st->mu);
    c->in_use = false;
    pthread_cond_signal(&st->cv_conn);
    pthread_mutex_unlock(&st->mu);
}

static void deferred_drop(hd_conn *c) {
    for (int i = 0; i < c->ndeferred; i++) {
        pg_deferred *d = c->deferred[i];
        for (int k = 0; k < d->n; k++) free(d->vals[k]);
        free(d);
    }
    c->ndeferred = 0;
}

/* Sends what waits - the transaction's BEGIN, deferred statements - and then
 * one statement (prepared `name`, or plain `sql` such as COMMIT) in one
 * pipeline (libpq 14+): one round trip. Returns that statement's result, or
 * the first failure's (the pipeline skips what follows a failure). */
static PGresult *pipeline(hd_conn *c, const char *name, const char *sql, int n,
                          const char *const *vals, const int *lens, const int *fmts) {
    const char *begin = c->begin_pending;
    c->begin_pending = NULL;
    if (!PQenterPipelineMode(c->pg)) { /* not possible now: one at a time */
        PGresult *r = NULL;
        if (begin) r = PQexec(c->pg, begin);
        for (int i = 0; i < c->ndeferred && (!r || PQresultStatus(r) == PGRES_COMMAND_OK); i++) {
            pg_deferred *d = c->deferred[i];
            PQclear(r);
            r = PQexecPrepared(c->pg, d->name, d->n, (const char *const *)d->vals, d->lens, d->fmts,
                               0);
        }
        deferred_drop(c);
        if (r && PQresultStatus(r) != PGRES_COMMAND_OK) return r;
        PQclear(r);
        return name ? PQexecPrepared(c->pg, name, n, vals, lens, fmts, 0) : PQexec(c->pg, sql);
    }
    int sent = 0;
    if (begin) sent += PQsendQueryParams(c->pg, begin, 0, NULL, NULL, NULL, NULL, 0);
    for (int i = 0; i < c->ndeferred; i++) {
        pg_deferred *d = c->deferred[i];
        sent += PQsendQueryPrepared(c->pg, d->name, d->n, (const char *const *)d->vals, d->lens,
                                    d->fmts, 0);
    }
    sent += name ? PQsendQueryPrepared(c->pg, name, n, vals, lens, fmts, 0)
                 : PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 0);
    PQpipelineSync(c->pg);
    deferred_drop(c);
    PGresult *failed = NULL, *last = NULL, *x;
    for (int i = 0; i < sent; i++) {
        PGresult *r = PQgetResult(c->pg);
        while ((x = PQgetResult(c->pg)) != NULL) PQclear(x); /* the end of this one's results */
        ExecStatusType st = PQresultStatus(r);
        bool bad = st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK;
        if (i == sent - 1 && !failed) {
            last = r;
        } else if (bad && !failed && st != PGRES_PIPELINE_ABORTED) {
            failed = r;
        } else {
            PQclear(r);
        }
    }
    while ((x = PQgetResult(c->pg)) != NULL) { /* the sync */
        ExecStatusType st = PQresultStatus(x);
        PQclear(x);
        if (st == PGRES_PIPELINE_SYNC) break;
    }
    PQexitPipelineMode(c->pg);
    return failed ? failed : last;
}

static hd_rc simple(hd_conn *c, const char *sql, hd_err *err) {
    PGresult *r = PQexec(c->pg, sql);
    hd_rc rc = HD_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) rc = hd__pg_error(err, r, c->pg, sql);
    PQclear(r);
    return rc;
}

static void backoff(int attempt) {
    struct timespec ts = {0, (long)(1 + (rand() % (1 << (attempt < 8 ? attempt : 8)))) * 200000L};
    nanosleep(&ts, NULL);
}

hd_rc hd__pg_write(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err) {
    hd_rc rc = HD_OK;
    for (int attempt = 0; attempt < PG_RETRIES; attempt++) {
        hd_conn *c = pool_take(st, err);
        if (!c) return err ? err->rc : HD_ESTORE;
        hd_err_clear(err);
        bool fail_commit = false;
        pthread_mutex_lock(&st->mu);
        if (st->fail_commit_after > 0 && --st->fail_commit_after == 0) fail_commit = true;
        pthread_mutex_unlock(&st->mu);
        c->begin_pending = "BEGIN";
        rc = fn(c, ctx, err);
        if (rc == HD_OK && !fail_commit && c->ndeferred) {
            /* the deferred statements, the COMMIT and any BEGIN: one round trip */
            PGresult *r = pipeline(c, NULL, "COMMIT", 0, NULL, NULL, NULL);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                rc = hd__pg_error(err, r, c->pg, "statement");
                if (PQtransactionStatus(c->pg) != PQTRANS_IDLE) /* left failed: end it */
                    simple(c, "ROLLBACK", NULL);
            }
            PQclear(r);
            pool_give(st, c);
            if (rc != HD_EBUSY) return rc;
            backoff(attempt);
            continue;
        }
        deferred_drop(c);
        bool began = c->begin_pending == NULL;
        c->begin_pending = NULL;
        if (rc == HD_OK && fail_commit) {
            if (began) simple(c, "ROLLBACK", NULL);
            rc = hd_err_set(err, HD_ESTORE, "", "commit failed (injected fault)");
        } else if (rc == HD_OK) {
            if (began) rc = simple(c, "COMMIT", err);
        } else if (began) {
            simple(c, "ROLLBACK", NULL);
        }
        pool_give(st, c);
        if (rc != HD_EBUSY) return rc;
        backoff(attempt);
    }
    return rc;
}

hd_rc hd__pg_read(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err) {
    hd_rc rc = HD_OK;
    for (int attempt = 0; attempt < 3; attempt++) {
        hd_conn *c = pool_take(st, err);
        if (!c) return err ? err->rc : HD_ESTORE;
        c->begin_pending = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
        rc = fn(c, ctx, err);
        if (c->ndeferred) { /* a write has no place in a read */
            deferred_drop(c);
            if (rc == HD_OK) rc = hd_err_set(err, HD_EINTERNAL, "", "a deferred write in a read");
        }
        if (c->begin_pending == NULL) simple(c, "COMMIT", NULL);
        c->begin_pending = NULL;
        pool_give(st, c);
        if (rc != HD_EBUSY) return rc;
    }
    return rc;
}

static uint32_t hash_str(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* Finds or prepares a named statement for sql on this connection. */
static hd_rc prepare(hd_conn *c, const char *sql, stmt_slot **out, hd_err *err) {
    uint32_t h = hash_str(sql) % STMT_CACHE;
    for (int probe = 0; probe < STMT_CACHE; probe++) {
        stmt_slot *s = &c->cache[(h + (uint32_t)probe) % STMT_CACHE];
        if (s->sql_copy && strcmp(s->sql_copy, sql) == 0) {
            *out = s;
            return HD_OK;
        }
        if (!s->sql_copy) {
            int n = 0;
            char *q = hd__pg_placeholders(sql, &n);
            if (!q) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
            snprintf(s->name, sizeof s->name, "s%d", c->nprepared++);
            PGresult *r = PQprepare(c->pg, s->name, q, 0, NULL);
            free(q);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                hd_rc rc = hd__pg_error(err, r, c->pg, "prepare");
                PQclear(r);
                return rc;
            }
            PQclear(r);
            s->sql_copy = strdup(sql);
            s->nparams = n;
            *out = s;
            return HD_OK;
        }
    }
    return hd_err_set(err, HD_ESTORE, "", "statement cache full");
}

#define PG_PARAMS_MAX 64

hd_rc hd__pg_query(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_rows **out,
                   int64_t *changes, hd_err *err) {
    if (nparams > PG_PARAMS_MAX) return hd_err_set(err, HD_EINTERNAL, "", "too many parameters");
    stmt_slot *s = NULL;
    hd_rc rc = prepare(c, sql, &s, err);
    if (rc) return rc;
    const char *vals[PG_PARAMS_MAX];
    int lens[PG_PARAMS_MAX], fmts[PG_PARAMS_MAX];
    char nums[PG_PARAMS_MAX][32];
    for (int i = 0; i < nparams; i++) {
        const hd_val *v = &params[i];
        fmts[i] = 0;
        lens[i] = 0;
        switch (v->type) {
        case HD_V_NULL: vals[i] = NULL; break;
        case HD_V_INT:
            snprintf(nums[i], sizeof nums[i], "%lld", (long long)v->i);
            vals[i] = nums[i];
            break;
        case HD_V_REAL:
            snprintf(nums[i], sizeof nums[i], "%.17g", v->r);
            vals[i] = nums[i];
            break;
        default:
            /* binary format sends exactly n bytes: no NUL needed; the server
             * takes binary text as-is for text/varchar parameters */
            vals[i] = v->s;
            lens[i] = (int)v->n;
            fmts[i] = 1;
            break;
        }
    }
    PGresult *res = c->begin_pending || c->ndeferred
                        ? pipeline(c, s->name, NULL, nparams, vals, lens, fmts)
                        : PQexecPrepared(c->pg, s->name, nparams, vals, lens, fmts, 0);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        rc = hd__pg_error(err, res, c->pg, "statement");
        PQclear(res);
        return rc;
    }
    if (out) {
        hd_rows *r = calloc(1, sizeof *r);
        if (!r) {
            PQclear(res);
            return hd_err_set(err, HD_ENOMEM, "", "out of memory");
        }
        r->c = c;
        r->res = res;
        r->row = -1;
        r->nrows = PQntuples(res);
        *out = r;
        return HD_OK;
    }
    if (changes) {
        const char *t = PQcmdTuples(res);
        *changes = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(res);
    return HD_OK;
}

hd_rc hd__pg_defer(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_err *err) {
    if (nparams > PG_PARAMS_MAX) return hd_err_set(err, HD_EINTERNAL, "", "too many parameters");
    if (c->ndeferred == PG_DEFERRED_MAX) /* enough waiting: this one goes with them now */
        return hd__pg_query(c, sql, params, nparams, NULL, NULL, err);
    stmt_slot *s = NULL;
    hd_rc rc = prepare(c, sql, &s, err);
    if (rc) return rc;
    pg_deferred *d = calloc(1, sizeof *d);
    if (!d) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    d->name = s->name;
    d->n = nparams;
    bool oom = false;
    for (int i = 0; i < nparams; i++) {
        const hd_val *v = &params[i];
        char num[32];
        switch (v->type) {
        case HD_V_NULL: break;
        case HD_V_INT:
            snprintf(num, sizeof num, "%lld", (long long)v->i);
            oom |= !(d->vals[i] = strdup(num));
            break;
        case HD_V_REAL:
            snprintf(num, sizeof num, "%.17g", v->r);
            oom |= !(d->vals[i] = strdup(num));
            break;
        default: /* binary, as in hd__pg_query */
            d->vals[i] = malloc(v->n ? v->n : 1);
            if (d->vals[i]) memcpy(d->vals[i], v->s, v->n);
            oom |= !d->vals[i];
            d->lens[i] = (int)v->n;
            d->fmts[i] = 1;
            break;
        }
    }
    c->deferred[c->ndeferred++] = d; /* dropped with the others even when oom */
    if (oom) {
        deferred_drop(c);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    return HD_OK;
}
