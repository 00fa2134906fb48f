/* store.h - one SQL API over SQLite (embedded, default) and PostgreSQL.
 *
 * Domain code never sees which store it runs on. It writes SQL with `?`
 * placeholders in the common dialect of both (the store rewrites them to $n for
 * PostgreSQL) and runs it inside a callback:
 *
 *   hd_store_write(st, fn, ctx, err)  runs fn in a write transaction. On SQLite
 *       one writer thread takes queued callbacks and commits many of them in one
 *       transaction (group commit); each runs inside its own SAVEPOINT, so a
 *       callback that fails rolls back only its own work. On PostgreSQL each
 *       call takes a pooled connection, BEGIN ... COMMIT, and retries the whole
 *       callback on serialization failure or deadlock. Either way fn may run
 *       more than once; it must not keep side effects outside the store until
 *       hd_store_write returns HD_OK.
 *   hd_store_read(st, fn, ctx, err)   runs fn on a reader connection with a
 *       consistent snapshot.
 *
 * hd_store_write returns HD_OK only once the transaction holding fn's work is
 * durable. If fn returns an error, nothing it did is kept and that error is
 * returned as is. */
#ifndef HD_STORE_H
#define HD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct hd_store hd_store;
typedef struct hd_conn hd_conn; /* one connection, valid only inside a callback */
typedef struct hd_rows hd_rows; /* a result being read */

typedef enum { HD_STORE_SQLITE, HD_STORE_POSTGRES } hd_store_kind;

typedef enum { HD_V_NULL, HD_V_INT, HD_V_REAL, HD_V_TEXT } hd_vtype;

/* A bound parameter. Text is borrowed for the duration of the call. */
typedef struct hd_val {
    hd_vtype type;
    int64_t i;
    double r;
    const char *s;
    size_t n;
} hd_val;

static inline hd_val hd_vnull(void) { return (hd_val){HD_V_NULL, 0, 0, NULL, 0}; }
static inline hd_val hd_vint(int64_t i) { return (hd_val){HD_V_INT, i, 0, NULL, 0}; }
static inline hd_val hd_vreal(double r) { return (hd_val){HD_V_REAL, 0, r, NULL, 0}; }
hd_val hd_vtext(const char *s);            /* NULL s binds NULL */
hd_val hd_vtextn(const char *s, size_t n); /* explicit length */
static inline hd_val hd_vbool(bool b) { return hd_vint(b ? 1 : 0); }

typedef struct hd_store_opts {
    const char *url; /* "path/to/file.db", "sqlite:path", ":memory:" or "postgres://..." */
    int readers;     /* reader connections (SQLite) / pool size (PostgreSQL); 0 = default */
    int batch_max;   /* SQLite group commit: callbacks per transaction; 0 = default 256 */
    int wal_frames;  /* SQLite: the WAL starts again from the top past this many frames
                        (pages), at 4x at the latest; 0 = default 65536 (128 MiB) */
    bool migrate;    /* apply pending migrations at open (default for the server) */
} hd_store_opts;

/* Opens a store. Returns NULL with err filled on failure. */
hd_store *hd_store_open(const hd_store_opts *o, hd_err *err);
/* Flushes the write queue, waits for callbacks in flight, closes. NULL is fine. */
void hd_store_close(hd_store *st);
hd_store_kind hd_store_kind_of(const hd_store *st);

typedef hd_rc (*hd_store_fn)(hd_conn *c, void *ctx, hd_err *err);
hd_rc hd_store_write(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err);
hd_rc hd_store_read(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err);

/* hd_store_write without the wait: done(arg, rc, err) is called exactly once,
 * when the transaction holding fn's work is durable or has failed (rc and
 * err as hd_store_write would return them). On SQLite the call queues fn and
 * returns, and done runs later on the writer thread - keep it short, it holds
 * up the next batch; on PostgreSQL (and when the store is shutting down or
 * out of memory) done runs before the call returns. ctx and arg must live
 * until done. hd_store_writes_async says which of the two a store does. */
typedef void (*hd_store_done_fn)(void *arg, hd_rc rc, const hd_err *err);
void hd_store_write_async(hd_store *st, hd_store_fn fn, void *ctx, hd_store_done_fn done,
                          void *arg);
bool hd_store_writes_async(const hd_store *st);

/* Runs a statement that returns no rows; *changes (may be NULL) gets the
 * number of rows changed. */
hd_rc hd_exec(hd_conn *c, const char *sql, const hd_val *params, int nparams, int64_t *changes,
              hd_err *err);
/* Runs a statement whose outcome nothing after it in the transaction needs,
 * and whose failure fails the whole transaction (an insert of a fresh row,
 * say). SQLite runs it at once. PostgreSQL sends it with the next statement
 * or with the COMMIT, in one round trip: its error, if any, is returned by
 * that next call, or by hd_store_write. */
hd_rc hd_exec_deferred(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_err *err);
/* Runs a statement that returns rows; read them with hd_rows_next and free
 * with hd_rows_free (before the callback returns). */
hd_rc hd_query(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_rows **out,
               hd_err *err);
/* Returns 1 while there is a row, 0 at the end, -1 on error (err filled). */
int hd_rows_next(hd_rows *r, hd_err *err);
bool hd_rows_isnull(hd_rows *r, int col);
int64_t hd_rows_int(hd_rows *r, int col);
double hd_rows_real(hd_rows *r, int col);
/* Borrowed until the next hd_rows_next/hd_rows_free; "" for NULL. */
const char *hd_rows_text(hd_rows *r, int col, size_t *len);
void hd_rows_free(hd_rows *r);

/* Convenience: one row, first column as int64. HD_ENOTFOUND when no row. */
hd_rc hd_query_int(hd_conn *c, const char *sql, const hd_val *params, int nparams, int64_t *out,
                   hd_err *err);

hd_store_kind hd_conn_kind(const hd_conn *c);

/* Numbered schema migrations, embedded at build time from sql/. */
typedef struct hd_migration {
    int version;
    const char *name;
    const char *sql; /* may hold "-- sqlite" / "-- postgres" / "-- both" sections */
} hd_migration;
extern const hd_migration hd_migrations[];
extern const int hd_migrations_count;

/* Applies pending migrations; records each in schema_migrations. */
hd_rc hd_store_migrate(hd_store *st, hd_err *err);

/* Fault injection for tests (compiled in when HD_FAULTS is defined): the next
 * n-th commit fails as if the disk said no. 0 disables. */
void hd_store_fail_commit_after(hd_store *st, int n);

#endif
