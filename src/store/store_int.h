/* store_int.h - shared between store.c and the two back ends. */
#ifndef HD_STORE_INT_H
#define HD_STORE_INT_H

#include <libpq-fe.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>

#include "store/store.h"

#define STMT_CACHE 256

typedef struct stmt_slot {
    const char *sql; /* the caller's literal: compared by pointer, then by text */
    char *sql_copy;
    sqlite3_stmt *stmt; /* SQLite */
    char name[16];      /* PostgreSQL prepared statement name */
    int nparams;
    bool busy;
} stmt_slot;

/* PostgreSQL: a statement held back to go in one pipeline with the next */
typedef struct pg_deferred {
    const char *name; /* the prepared statement's */
    int n;
    char *vals[64]; /* copies, NULL for SQL NULL */
    int lens[64], fmts[64];
} pg_deferred;

#define PG_DEFERRED_MAX 8

struct hd_conn {
    hd_store_kind kind;
    hd_store *st;
    sqlite3 *db;
    PGconn *pg;
    stmt_slot cache[STMT_CACHE];
    int nprepared;
    bool in_use;
    /* PostgreSQL: the transaction's BEGIN, not sent yet - it goes in one
     * pipeline with the first statement, saving a round trip */
    const char *begin_pending;
    pg_deferred *deferred[PG_DEFERRED_MAX];
    int ndeferred;
};

struct hd_rows {
    hd_conn *c;
    /* SQLite */
    sqlite3_stmt *stmt;
    stmt_slot *slot; /* NULL when the statement is private to this result */
    /* PostgreSQL */
    PGresult *res;
    int row, nrows;
};

typedef struct write_job {
    hd_store_fn fn;
    void *ctx;
    hd_err *err;
    hd_rc rc;
    sem_t done; /* posted when done: only this job's caller wakes, and it
                   takes no shared lock to do so */
    /* hd_store_write_async: called instead of posting done; the job is the
     * writer's (malloc'd, err points at own_err) and freed after */
    hd_store_done_fn on_done;
    void *arg;
    hd_err own_err;
    struct write_job *next;
} write_job;

struct hd_store {
    hd_store_kind kind;
    char *url;
    pthread_mutex_t mu;
    pthread_cond_t cv_conn; /* a pooled connection became free */
    hd_conn **conns;        /* readers (SQLite) or the whole pool (PostgreSQL) */
    int nconns;
    /* SQLite group commit */
    hd_conn *writer;
    pthread_t writer_thread;
    bool writer_running;
    /* SQLite: checkpoints run beside the writer, not inside its commits */
    pthread_t checkpoint_thread;
    bool checkpoint_running;
    hd_conn *checkpointer;
    bool wal_tail; /* the WAL is long and nearly all copied back: the writer
                      copies the rest between two batches so the WAL restarts */
    bool stopping;
    pthread_cond_t cv_work; /* jobs were queued */
    write_job *head, *tail;
    int batch_max;
    int wal_long; /* frames: see checkpoint_main */
    /* fault injection */
    int fail_commit_after;
    /* stats */
    int64_t batches, jobs;
};

/* back ends */
hd_store *hd__sqlite_open(const hd_store_opts *o, const char *path, hd_err *err);
hd_store *hd__pg_open(const hd_store_opts *o, hd_err *err);

hd_rc hd__sq_query(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_rows **out,
                   int64_t *changes, hd_err *err);
hd_rc hd__pg_query(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_rows **out,
                   int64_t *changes, hd_err *err);
hd_rc hd__pg_defer(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_err *err);
int hd__sq_next(hd_rows *r, hd_err *err);
void hd__sq_free(hd_rows *r);
void hd__sq_close(hd_store *st);
void hd__pg_close(hd_store *st);
hd_rc hd__sq_write(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err);
void hd__sq_write_async(hd_store *st, hd_store_fn fn, void *ctx, hd_store_done_fn done, void *arg);
hd_rc hd__sq_read(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err);
hd_rc hd__pg_write(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err);
hd_rc hd__pg_read(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err);

/* store_vfs.c: the default VFS with each commit's WAL frames written in one call */
#define HD_SQLITE_VFS "hudong"
int hd__vfs_register(void);
/* store_pcache.c: the default page cache without a scan of it at every commit */
int hd__pcache_register(void);

/* shared helpers */
hd_rc hd__exec_script(hd_conn *c, const char *sql, hd_err *err);
/* Picks the part of a migration that applies to this store kind into out (malloc'd). */
char *hd__migration_for(const char *sql, hd_store_kind kind);
/* Rewrites ? placeholders to $1..$n outside quotes (malloc'd) and counts them. */
char *hd__pg_placeholders(const char *sql, int *count);
void hd__conn_clear_cache(hd_conn *c);
hd_rc hd__pg_error(hd_err *err, PGresult *res, PGconn *pg, const char *what);

#endif
