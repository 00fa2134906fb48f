/* store.c - the store API: dispatch to SQLite or PostgreSQL, statements and
 * rows, migrations. The concurrency machinery lives in the back ends. */
#include <stdlib.h>
#include <string.h>

#include "store/store_int.h"

hd_val hd_vtext(const char *s) {
    if (!s) return hd_vnull();
    return (hd_val){HD_V_TEXT, 0, 0, s, strlen(s)};
}

hd_val hd_vtextn(const char *s, size_t n) {
    if (!s) return hd_vnull();
    return (hd_val){HD_V_TEXT, 0, 0, s, n};
}

hd_store *hd_store_open(const hd_store_opts *o, hd_err *err) {
    const char *url = o->url && *o->url ? o->url : "hudong.db";
    hd_store *st;
    if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0) {
        st = hd__pg_open(o, err);
    } else {
        const char *path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
        st = hd__sqlite_open(o, path, err);
    }
    if (!st) return NULL;
    if (o->migrate && hd_store_migrate(st, err) != HD_OK) {
        hd_store_close(st);
        return NULL;
    }
    return st;
}

hd_store_kind hd_store_kind_of(const hd_store *st) { return st->kind; }
hd_store_kind hd_conn_kind(const hd_conn *c) { return c->kind; }

void hd_store_fail_commit_after(hd_store *st, int n) {
    pthread_mutex_lock(&st->mu);
    st->fail_commit_after = n;
    pthread_mutex_unlock(&st->mu);
}

/* ---- migrations ---- */

char *hd__migration_for(const char *sql, hd_store_kind kind) {
    size_t n = strlen(sql);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    bool on = true;
    const char *p = sql;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p + 1) : strlen(p);
        if (strncmp(p, "-- sqlite", 9) == 0 && (p[9] == '\n' || p[9] == '\r' || !p[9]))
            on = kind == HD_STORE_SQLITE;
        else if (strncmp(p, "-- postgres", 11) == 0 && (p[11] == '\n' || p[11] == '\r' || !p[11]))
            on = kind == HD_STORE_POSTGRES;
        else if (strncmp(p, "-- both", 7) == 0 && (p[7] == '\n' || p[7] == '\r' || !p[7]))
            on = true;
        else if (on) {
            memcpy(out + o, p, len);
            o += len;
        }
        p += len;
    }
    out[o] = '\0';
    if (kind == HD_STORE_SQLITE) {
        /* In SQLite only INTEGER PRIMARY KEY is the rowid itself (64-bit, like
         * BIGINT); any other spelling adds a second B-tree to every insert. */
        static const char from[] = "BIGINT PRIMARY KEY", to[] = "INTEGER PRIMARY KEY";
        char *at = out;
        while ((at = strstr(at, from))) {
            /* to is one byte longer than from: rebuild the string */
            size_t head = (size_t)(at - out), tail = strlen(at + sizeof from - 1);
            char *grown = malloc(head + sizeof to - 1 + tail + 1);
            if (!grown) break;
            memcpy(grown, out, head);
            memcpy(grown + head, to, sizeof to - 1);
            memcpy(grown + head + sizeof to - 1, at + sizeof from - 1, tail + 1);
            free(out);
            out = grown;
            at = out + head + sizeof to - 1;
        }
    }
    return out;
}

typedef struct migrate_ctx {
    int version;
    const hd_migration *m;
    bool applied;
} migrate_ctx;

static hd_rc migrate_one(hd_conn *c, void *vctx, hd_err *err) {
    migrate_ctx *mc = vctx;
    hd_rc rc;
    if (c->kind == HD_STORE_POSTGRES) {
        /* two servers starting at once must not both migrate */
        rc = hd_exec(c, "SELECT pg_advisory_xact_lock(4242)", NULL, 0, NULL, err);
        if (rc) return rc;
    }
    rc = hd__exec_script(c,
                         "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY "
                         "KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
                         err);
    if (rc) return rc;
    int64_t have = 0;
    hd_val p = hd_vint(mc->m->version);
    rc = hd_query_int(c, "SELECT count(*) FROM schema_migrations WHERE version = ?", &p, 1, &have,
                      err);
    if (rc) return rc;
    if (have) return HD_OK;
    char *sql = hd__migration_for(mc->m->sql, c->kind);
    if (!sql) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    rc = hd__exec_script(c, sql, err);
    free(sql);
    if (rc)
        return hd_err_set(err, rc, "", "migration %d (%s): %s", mc->m->version, mc->m->name,
                          err ? err->msg : "");
    hd_val ps[3] = {hd_vint(mc->m->version), hd_vtext(mc->m->name), hd_vint(0)};
    rc = hd_exec(c, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                 ps, 3, NULL, err);
    if (rc == HD_OK) mc->applied = true;
    return rc;
}

hd_rc hd_store_migrate(hd_store *st, hd_err *err) {
    for (int i = 0; i < hd_migrations_count; i++) {
        migrate_ctx mc = {hd_migrations[i].version, &hd_migrations[i], false};
        hd_rc rc = hd_store_write(st, migrate_one, &mc, err);
        if (rc) return rc;
    }
    return HD_OK;
}

hd_rc hd_query_int(hd_conn *c, const char *sql, const hd_val *params, int nparams, int64_t *out,
                   hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, params, nparams, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        *out = hd_rows_isnull(r, 0) ? 0 : hd_rows_int(r, 0);
        rc = HD_OK;
    } else if (got == 0) {
        rc = hd_err_set(err, HD_ENOTFOUND, "", "no row");
    } else {
        rc = err ? err->rc : HD_ESTORE;
    }
    hd_rows_free(r);
    return rc;
}

char *hd__pg_placeholders(const char *sql, int *count) {
    size_t n = strlen(sql);
    char *out = malloc(n * 4 + 16);
    if (!out) return NULL;
    size_t o = 0;
    int k = 0;
    char q = 0;
    for (const char *p = sql; *p; p++) {
        if (q) {
            if (*p == q) q = 0;
            out[o++] = *p;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
            out[o++] = *p;
        } else if (*p == '?' && p[1] >= '1' && p[1] <= '9') {
            /* numbered ?N is the same parameter $N in both dialects */
            out[o++] = '$';
            int num = 0;
            while (p[1] >= '0' && p[1] <= '9') {
                num = num * 10 + (p[1] - '0');
                out[o++] = *++p;
            }
            if (num > k) k = num;
        } else if (*p == '?') {
            o += (size_t)snprintf(out + o, 12, "$%d", ++k);
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
    if (count) *count = k;
    return out;
}

/* ---- dispatch ---- */

hd_rc hd_store_write(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err) {
    return st->kind == HD_STORE_SQLITE ? hd__sq_write(st, fn, ctx, err)
                                       : hd__pg_write(st, fn, ctx, err);
}

void hd_store_write_async(hd_store *st, hd_store_fn fn, void *ctx, hd_store_done_fn done,
                          void *arg) {
    if (st->kind == HD_STORE_SQLITE) {
        hd__sq_write_async(st, fn, ctx, done, arg);
        return;
    }
    hd_err err;
    hd_err_clear(&err);
    hd_rc rc = hd__pg_write(st, fn, ctx, &err);
    done(arg, rc, &err);
}

bool hd_store_writes_async(const hd_store *st) { return st->kind == HD_STORE_SQLITE; }

hd_rc hd_store_read(hd_store *st, hd_store_fn fn, void *ctx, hd_err *err) {
    return st->kind == HD_STORE_SQLITE ? hd__sq_read(st, fn, ctx, err)
                                       : hd__pg_read(st, fn, ctx, err);
}

void hd_store_close(hd_store *st) {
    if (!st) return;
    if (st->kind == HD_STORE_SQLITE)
        hd__sq_close(st);
    else
        hd__pg_close(st);
}

hd_rc hd_exec(hd_conn *c, const char *sql, const hd_val *params, int nparams, int64_t *changes,
              hd_err *err) {
    return c->kind == HD_STORE_SQLITE ? hd__sq_query(c, sql, params, nparams, NULL, changes, err)
                                      : hd__pg_query(c, sql, params, nparams, NULL, changes, err);
}

hd_rc hd_exec_deferred(hd_conn *c, const char *sql, const hd_val *params, int nparams,
                       hd_err *err) {
    return c->kind == HD_STORE_SQLITE ? hd__sq_query(c, sql, params, nparams, NULL, NULL, err)
                                      : hd__pg_defer(c, sql, params, nparams, err);
}

hd_rc hd_query(hd_conn *c, const char *sql, const hd_val *params, int nparams, hd_rows **out,
               hd_err *err) {
    return c->kind == HD_STORE_SQLITE ? hd__sq_query(c, sql, params, nparams, out, NULL, err)
                                      : hd__pg_query(c, sql, params, nparams, out, NULL, err);
}

int hd_rows_next(hd_rows *r, hd_err *err) {
    if (r->c->kind == HD_STORE_SQLITE) return hd__sq_next(r, err);
    if (r->row + 1 >= r->nrows) {
        r->row = r->nrows;
        return 0;
    }
    r->row++;
    return 1;
}

bool hd_rows_isnull(hd_rows *r, int col) {
    if (r->c->kind == HD_STORE_SQLITE) return sqlite3_column_type(r->stmt, col) == SQLITE_NULL;
    return PQgetisnull(r->res, r->row, col);
}

int64_t hd_rows_int(hd_rows *r, int col) {
    if (r->c->kind == HD_STORE_SQLITE) return sqlite3_column_int64(r->stmt, col);
    const char *v = PQgetvalue(r->res, r->row, col);
    if (v[0] == 't' && v[1] == '\0') return 1; /* PostgreSQL booleans */
    if (v[0] == 'f' && v[1] == '\0') return 0;
    return strtoll(v, NULL, 10);
}

double hd_rows_real(hd_rows *r, int col) {
    if (r->c->kind == HD_STORE_SQLITE) return sqlite3_column_double(r->stmt, col);
    return strtod(PQgetvalue(r->res, r->row, col), NULL);
}

const char *hd_rows_text(hd_rows *r, int col, size_t *len) {
    if (r->c->kind == HD_STORE_SQLITE) {
        const char *t = (const char *)sqlite3_column_text(r->stmt, col);
        if (len) *len = t ? (size_t)sqlite3_column_bytes(r->stmt, col) : 0;
        return t ? t : "";
    }
    if (len) *len = (size_t)PQgetlength(r->res, r->row, col);
    return PQgetvalue(r->res, r->row, col);
}

void hd_rows_free(hd_rows *r) {
    if (!r) return;
    if (r->c->kind == HD_STORE_SQLITE)
        hd__sq_free(r);
    else
        PQclear(r->res);
    free(r);
}
