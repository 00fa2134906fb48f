/* import.c - `hudong import customers|orders FILE.csv`: bulk loading from CSV
 * through the same domain calls the API uses, so identities, merges, orders
 * and counters come out exactly as if the rows had arrived one by one.
 *
 * Rows are read and checked on the main thread; good rows go in batches of
 * about IMPORT_BATCH_ROWS rows to writer threads that hand them to the store
 * (one hd_store_write each), so reading overlaps writing. Each batch is all
 * or nothing; on SQLite the store's group commit puts the batches waiting
 * together into one transaction (see pipeline). A row the domain refuses
 * fails alone (see row_end). Identities (customers) and event
 * keys "import:order:<order_id>" (orders) make a re-run of the same file a
 * no-op. Exit codes: 0 every row imported or already there, 1 some rows bad
 * (the good ones are committed), 2 bad usage or a file that cannot be read
 * as a whole (no header, a required column missing, GBK) - nothing imported. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "domain/customers.h"
#include "domain/events.h"
#include "text/text.h"

#define IMPORT_BATCH_ROWS    1000 /* rows per hd_store_write call */
#define IMPORT_REPORT_MAX    1000 /* bad rows described on stderr; the rest are only counted */
#define IMPORT_ATTR_COLS_MAX 64   /* attribute columns in a customers file */
#define IMPORT_ORDER_ID_MAX  100  /* characters, as events.c allows */
#define IMPORT_SKU_MAX       100
#define IMPORT_QTY_MAX       1000000
#define IMPORT_AMOUNT_MAX    HD_ORDER_AMOUNT_MAX /* fen, per line and per order */
#define IMPORT_WRITERS_MAX   48                  /* batches in the store at once (orders) */
#define IMPORT_WRITERS_PG    4                   /* PostgreSQL: real concurrent transactions */
#define IMPORT_QUEUE_MAX     IMPORT_WRITERS_MAX  /* batches read ahead of the store */

typedef enum { ROW_PENDING, ROW_CREATED, ROW_UPDATED, ROW_SAME, ROW_DUP, ROW_BAD } row_status;

/* One import run: the file, the store, the counters. */
typedef struct imp {
    const char *cmd; /* "customers" or "orders" */
    const char *path;
    FILE *f;
    hd_csv *csv;
    hd_app app;
    bool app_open;
    int64_t size; /* bytes, 0 when unknown (a pipe) */
    bool tty;
    int64_t t0_ms;
    int ncols;
    char **cols;        /* header names, normalised */
    pthread_mutex_t mu; /* counters and stderr, shared with the writer threads */
    /* counters, in rows (rows is the main thread's alone) */
    int64_t rows, imported, dups, bad, reported;
    int64_t created, updated, merged, orders, order_dups;
    bool progress_shown;
    int careful; /* batches still to start with savepoints (under mu) */
} imp;

/* ---- reporting ---- */

static void progress_clear(imp *im) {
    if (im->progress_shown) {
        fputs("\r\033[K", stderr);
        im->progress_shown = false;
    }
}

/* Reports one bad row (or range) and counts n rows as bad. */
static void bad_rows(imp *im, int64_t line, int64_t n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void bad_rows(imp *im, int64_t line, int64_t n, const char *fmt, ...) {
    pthread_mutex_lock(&im->mu);
    im->bad += n;
    if (im->reported++ >= IMPORT_REPORT_MAX) {
        if (im->reported == IMPORT_REPORT_MAX + 1) {
            progress_clear(im);
            fprintf(stderr, "hudong import: more bad rows; only the first %d are described\n",
                    IMPORT_REPORT_MAX);
        }
        pthread_mutex_unlock(&im->mu);
        return;
    }
    progress_clear(im);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "hudong import: line %lld: ", (long long)line);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    pthread_mutex_unlock(&im->mu);
}

/* Reports a failure of the store itself (the batch is not imported). */
static void store_failed(imp *im, int64_t line, const hd_err *err) {
    pthread_mutex_lock(&im->mu);
    progress_clear(im);
    fprintf(stderr,
            "hudong import: the store failed on the rows from line %lld: %s; earlier rows may be "
            "imported, re-run the same file to finish\n",
            (long long)line, err->msg);
    pthread_mutex_unlock(&im->mu);
}

/* Main thread only (it owns the reader). */
static void progress(imp *im) {
    if (!im->tty) return;
    pthread_mutex_lock(&im->mu);
    double secs = (double)(hd_mono_ms() - im->t0_ms) / 1000.0;
    double rate = secs > 0 ? (double)im->rows / secs : 0;
    if (im->size > 0) {
        int pct = (int)(hd_csv_offset(im->csv) * 100 / im->size);
        if (pct > 100) pct = 100;
        char bar[31];
        int filled = pct * 30 / 100;
        for (int i = 0; i < 30; i++) bar[i] = i < filled ? '#' : ' ';
        bar[30] = '\0';
        fprintf(stderr, "\r[%s] %3d%%  %lld rows  %.0f rows/s  %lld bad", bar, pct,
                (long long)im->rows, rate, (long long)im->bad);
    } else {
        fprintf(stderr, "\r%lld rows  %.0f rows/s  %lld bad", (long long)im->rows, rate,
                (long long)im->bad);
    }
    fflush(stderr);
    im->progress_shown = true;
    pthread_mutex_unlock(&im->mu);
}

/* ---- the write pipeline: the main thread reads and checks rows into
 * batches; writer threads take them in turn and write them. With one writer
 * the batches reach the store in file order; with several, SQLite's group
 * commit puts several batches in one transaction, which is what makes a
 * million-row import fast (few commits and checkpoints), at the price of
 * batches landing out of file order (harmless for orders, whose keys and
 * identities do not depend on it). ---- */

/* Writes batch (unless write is false) and frees it; returns 0, or 1 when
 * the store failed. */
typedef int (*batch_write_fn)(imp *im, void *batch, bool write);

typedef struct pipeline {
    imp *im;
    batch_write_fn write;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void *q[IMPORT_QUEUE_MAX];
    int head, n;
    bool closed;
    int ret; /* 1 once a batch failed: the rest are dropped */
    pthread_t th[IMPORT_WRITERS_MAX];
    int nth;
} pipeline;

static void *pipeline_main(void *arg) {
    pipeline *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->n == 0 && !p->closed) pthread_cond_wait(&p->cv, &p->mu);
        if (p->n == 0) break;
        void *b = p->q[p->head];
        p->head = (p->head + 1) % IMPORT_QUEUE_MAX;
        p->n--;
        bool drop = p->ret != 0;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        int r = p->write(p->im, b, !drop);
        pthread_mutex_lock(&p->mu);
        if (r && !p->ret) p->ret = r;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static bool pipeline_start(pipeline *p, imp *im, batch_write_fn write, int writers) {
    memset(p, 0, sizeof *p);
    p->im = im;
    p->write = write;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < writers && i < IMPORT_WRITERS_MAX; i++) {
        if (pthread_create(&p->th[i], NULL, pipeline_main, p) != 0) break;
        p->nth++;
    }
    return p->nth > 0;
}

/* Queues a batch (waiting while the queue is full). Returns 1 when an
 * earlier batch failed: the caller should stop reading. */
static int pipeline_put(pipeline *p, void *b) {
    pthread_mutex_lock(&p->mu);
    while (p->n == IMPORT_QUEUE_MAX) pthread_cond_wait(&p->cv, &p->mu);
    p->q[(p->head + p->n) % IMPORT_QUEUE_MAX] = b;
    p->n++;
    int ret = p->ret;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return ret;
}

/* Waits for every queued batch; returns 0 or 1. */
static int pipeline_finish(pipeline *p) {
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nth; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    return p->ret;
}

/* ---- small parsers ---- */

/* Trims ASCII spaces and tabs in place (CSV from spreadsheets often pads). */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = '\0';
    return s;
}

/* A field of the current record, trimmed, in buf (cap bytes; longer is cut
 * and reported through *too_long). */
static const char *field(imp *im, int col, char *buf, size_t cap, bool *too_long) {
    if (col < 0) {
        buf[0] = '\0';
        return buf;
    }
    size_t n;
    const char *s = hd_csv_field(im->csv, col, &n);
    if (n >= cap) {
        if (too_long) *too_long = true;
        n = cap - 1;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return trim(buf);
}

/* Parses a non-negative decimal integer with no sign, point or exponent. */
static bool parse_int(const char *s, int64_t max, int64_t *out) {
    if (!*s) return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (max - (*p - '0')) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    *out = v;
    return true;
}

/* Lower-cases ASCII and trims a header name; "" stays "". */
static char *header_norm(const char *s) {
    size_t n = strlen(s);
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        o[k++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
    }
    o[k] = '\0';
    char *t = trim(o);
    if (t != o) memmove(o, t, strlen(t) + 1);
    return o;
}

/* Known columns under their English names and the Chinese headers people
 * actually export from spreadsheets and shop back ends; 'c' customers files
 * only, 'o' orders files only, 'b' both. */
static const struct {
    char kind;
    const char *alias, *name;
} ALIASES[] = {
    {'c', "姓名", "name"},
    {'c', "名字", "name"},
    {'c', "客户姓名", "name"},
    {'b', "手机", "phone"},
    {'b', "手机号", "phone"},
    {'b', "手机号码", "phone"},
    {'b', "电话", "phone"},
    {'b', "mobile", "phone"},
    {'b', "邮箱", "email"},
    {'b', "电子邮件", "email"},
    {'b', "e-mail", "email"},
    {'b', "mail", "email"},
    {'c', "城市", "city"},
    {'c', "标签", "tags"},
    {'c', "tag", "tags"},
    {'o', "订单号", "order_id"},
    {'o', "订单编号", "order_id"},
    {'o', "order", "order_id"},
    {'o', "客户id", "customer_id"},
    {'o', "customer", "customer_id"},
    {'o', "下单时间", "occurred_at"},
    {'o', "时间", "occurred_at"},
    {'o', "日期", "occurred_at"},
    {'o', "date", "occurred_at"},
    {'o', "time", "occurred_at"},
    {'o', "商品编码", "sku"},
    {'o', "商品", "sku"},
    {'o', "品类", "category"},
    {'o', "类目", "category"},
    {'o', "数量", "qty"},
    {'o', "quantity", "qty"},
    {'o', "金额", "amount"},
    {'o', "渠道", "touchpoint"},
};

static const char *canonical(const char *h, bool orders) {
    for (size_t i = 0; i < sizeof ALIASES / sizeof ALIASES[0]; i++)
        if (strcmp(ALIASES[i].alias, h) == 0 &&
            (ALIASES[i].kind == 'b' || ALIASES[i].kind == (orders ? 'o' : 'c')))
            return ALIASES[i].name;
    return h;
}

static int col_of(const imp *im, const char *name) {
    for (int i = 0; i < im->ncols; i++)
        if (strcmp(im->cols[i], name) == 0) return i;
    return -1;
}

/* Reads the header row. Returns 0, or 2 after saying why. */
static int read_header(imp *im) {
    hd_err err;
    hd_err_clear(&err);
    int got = hd_csv_next(im->csv, &err);
    if (got == 0) {
        fprintf(stderr, "hudong import: %s is empty; the first row must name the columns\n",
                im->path);
        return 2;
    }
    if (got < 0) {
        fprintf(stderr, "hudong import: %s: %s\n", im->path, err.msg);
        return 2;
    }
    im->ncols = hd_csv_nfields(im->csv);
    im->cols = calloc((size_t)im->ncols, sizeof *im->cols);
    if (!im->cols) return 2;
    for (int i = 0; i < im->ncols; i++) {
        char *h = header_norm(hd_csv_field(im->csv, i, NULL));
        if (!h) return 2;
        const char *c = canonical(h, strcmp(im->cmd, "orders") == 0);
        if (c != h) {
            char *d = strdup(c);
            free(h);
            h = d;
            if (!h) return 2;
        }
        im->cols[i] = h;
        if (!*h) {
            fprintf(stderr, "hudong import: %s: column %d of the header has no name\n", im->path,
                    i + 1);
            return 2;
        }
        for (int k = 0; k < i; k++)
            if (strcmp(im->cols[k], h) == 0) {
                fprintf(stderr, "hudong import: %s: the header names column '%s' twice\n", im->path,
                        h);
                return 2;
            }
    }
    return 0;
}

/* Reads the next data record into im->csv. Returns 1, 0 at the end, 2 when the
 * file turns out to be GBK (stop everything), 3 for one bad record (already
 * reported; go on). Blank lines are skipped. */
static int next_record(imp *im) {
    for (;;) {
        hd_err err;
        hd_err_clear(&err);
        int got = hd_csv_next(im->csv, &err);
        if (got == 0) return 0;
        if (got < 0) {
            im->rows++;
            if (strstr(err.msg, "GBK")) {
                pthread_mutex_lock(&im->mu);
                progress_clear(im);
                fprintf(stderr, "hudong import: %s: %s\n", im->path, err.msg);
                pthread_mutex_unlock(&im->mu);
                return 2;
            }
            /* err.msg starts with "line N: " already */
            const char *m = err.msg;
            long long line = hd_csv_line(im->csv);
            if (strncmp(m, "line ", 5) == 0) {
                const char *colon = strstr(m, ": ");
                if (colon) {
                    line = strtoll(m + 5, NULL, 10);
                    m = colon + 2;
                }
            }
            bad_rows(im, line, 1, "%s", m);
            return 3;
        }
        int nf = hd_csv_nfields(im->csv);
        if (nf == 1 && hd_csv_field(im->csv, 0, NULL)[0] == '\0') continue; /* blank line */
        im->rows++;
        if (nf > im->ncols) {
            bad_rows(im, hd_csv_line(im->csv), 1,
                     "has %d fields but the header has %d (a comma in an unquoted value?)", nf,
                     im->ncols);
            return 3;
        }
        return 1;
    }
}

/* ================= customers ================= */

enum { C_NAME, C_PHONE, C_EMAIL, C_CITY, C_TAGS, C_OPENID, C_UNIONID, C_FIXED };
static const char *const CUST_COLS[C_FIXED] = {"name", "phone",         "email",         "city",
                                               "tags", "wechat_openid", "wechat_unionid"};
/* Columns `hudong export customers` writes that are computed, not imported. */
static const char *const CUST_COMPUTED[] = {"id",         "orders",     "revenue",
                                            "events",     "first_seen", "last_seen",
                                            "created_at", "updated_at", NULL};

typedef struct cust_row {
    int64_t line;
    hd_ident ids[4];
    int nids;
    json_t *fields; /* name, city, attributes, tags */
    /* result of the transaction */
    row_status status;
    int64_t cid;
    hd_err err;
} cust_row;

typedef struct cust_batch {
    hd_domain *d;
    cust_row *rows;
    int n;
    bool safe;      /* a savepoint per row (after a row failed) */
    bool failed;    /* a row was refused in the store */
    int64_t merges; /* merges the transaction made */
} cust_batch;

typedef struct cust_cols {
    int fixed[C_FIXED];
    int attr[IMPORT_ATTR_COLS_MAX];
    int nattr;
} cust_cols;

/* Splits "a|b;c" into distinct trimmed tags (also full-width ｜ and ；). */
static hd_rc split_tags(const char *s, json_t *tags, hd_err *err) {
    char buf[HD_CSV_FIELD_MAX + 1];
    size_t n = strlen(s);
    if (n > HD_CSV_FIELD_MAX) n = HD_CSV_FIELD_MAX;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t sep = 0;
        if (i == n || s[i] == '|' || s[i] == ';')
            sep = 1;
        else if (i + 2 < n && (unsigned char)s[i] == 0xEF && (unsigned char)s[i + 1] == 0xBD &&
                 (unsigned char)s[i + 2] == 0x9C)
            sep = 3; /* ｜ U+FF5C */
        else if (i + 2 < n && (unsigned char)s[i] == 0xEF && (unsigned char)s[i + 1] == 0xBC &&
                 (unsigned char)s[i + 2] == 0x9B)
            sep = 3; /* ； U+FF1B */
        if (!sep) continue;
        memcpy(buf, s + start, i - start);
        buf[i - start] = '\0';
        const char *t = trim(buf);
        if (*t) {
            if (hd_utf8_len(t, strlen(t)) > HD_TAG_MAX)
                return hd_err_set(err, HD_EINVAL, "tags", "tag '%s' is longer than %d characters",
                                  t, HD_TAG_MAX);
            bool seen = false;
            size_t k;
            json_t *v;
            json_array_foreach(tags, k, v) if (strcmp(json_string_value(v), t) == 0) seen = true;
            if (!seen) {
                if (json_array_size(tags) >= HD_TAGS_MAX)
                    return hd_err_set(err, HD_EINVAL, "tags", "more than %d tags", HD_TAGS_MAX);
                json_array_append_new(tags, json_string(t));
            }
        }
        start = i + sep;
        i += sep - 1;
    }
    return HD_OK;
}

/* Checks the current record and turns it into r. HD_OK, or HD_EINVAL with
 * the reason in err. */
static hd_rc cust_parse(imp *im, const cust_cols *cc, cust_row *r, hd_err *err) {
    memset(r, 0, sizeof *r);
    r->line = hd_csv_line(im->csv);
    char buf[HD_CSV_FIELD_MAX + 1];
    bool too_long = false;
    /* identities */
    const char *v = field(im, cc->fixed[C_PHONE], buf, sizeof buf, &too_long);
    if (*v) {
        char norm[20];
        if (hd_phone_normalize(v, norm, err)) return HD_EINVAL;
        snprintf(r->ids[r->nids].type, sizeof r->ids[0].type, "phone");
        snprintf(r->ids[r->nids].value, sizeof r->ids[0].value, "%s", norm);
        r->nids++;
    }
    v = field(im, cc->fixed[C_EMAIL], buf, sizeof buf, &too_long);
    if (*v) {
        char norm[255];
        if (hd_email_normalize(v, norm, err)) return HD_EINVAL;
        snprintf(r->ids[r->nids].type, sizeof r->ids[0].type, "email");
        snprintf(r->ids[r->nids].value, sizeof r->ids[0].value, "%s", norm);
        r->nids++;
    }
    for (int k = C_OPENID; k <= C_UNIONID; k++) {
        v = field(im, cc->fixed[k], buf, sizeof buf, &too_long);
        if (!*v) continue;
        if (strlen(v) > 200)
            return hd_err_set(err, HD_EINVAL, CUST_COLS[k], "is longer than 200 bytes");
        snprintf(r->ids[r->nids].type, sizeof r->ids[0].type, "%s", CUST_COLS[k]);
        hd_text_fold_width(v, strlen(v), r->ids[r->nids].value);
        r->nids++;
    }
    if (r->nids == 0)
        return hd_err_set(err, HD_EINVAL, "",
                          "no phone or email: each row needs one to find or create the customer");
    /* profile */
    json_t *f = json_object();
    r->fields = f;
    v = field(im, cc->fixed[C_NAME], buf, sizeof buf, &too_long);
    if (hd_utf8_len(v, strlen(v)) > HD_CUSTOMER_NAME_MAX)
        return hd_err_set(err, HD_EINVAL, "name", "is longer than %d characters",
                          HD_CUSTOMER_NAME_MAX);
    if (*v) json_object_set_new(f, "name", json_string(v));
    v = field(im, cc->fixed[C_CITY], buf, sizeof buf, &too_long);
    if (hd_utf8_len(v, strlen(v)) > 100)
        return hd_err_set(err, HD_EINVAL, "city", "is longer than 100 characters");
    if (*v) json_object_set_new(f, "city", json_string(v));
    v = field(im, cc->fixed[C_TAGS], buf, sizeof buf, &too_long);
    if (*v) {
        json_t *tags = json_array();
        json_object_set_new(f, "tags", tags);
        if (split_tags(v, tags, err)) return HD_EINVAL;
    }
    json_t *attrs = json_object();
    size_t attr_bytes = 2;
    for (int k = 0; k < cc->nattr; k++) {
        v = field(im, cc->attr[k], buf, sizeof buf, &too_long);
        if (!*v) continue;
        const char *col = im->cols[cc->attr[k]];
        /* a JSON object under "attributes" (as `hudong export` writes the
         * attributes that have no column of their own) merges in */
        json_t *obj = strcmp(col, "attributes") == 0 && *v == '{' ? json_loads(v, 0, NULL) : NULL;
        if (json_is_object(obj)) {
            json_object_update(attrs, obj);
            attr_bytes += strlen(v);
        } else {
            json_object_set_new(attrs, col, json_string(v));
            attr_bytes += strlen(col) + strlen(v) + 6;
        }
        json_decref(obj);
    }
    if (attr_bytes > HD_ATTRS_BYTES_MAX) {
        json_decref(attrs);
        return hd_err_set(err, HD_ETOOBIG, "attributes",
                          "the extra columns hold more than %d bytes", HD_ATTRS_BYTES_MAX);
    }
    if (json_object_size(attrs))
        json_object_set_new(f, "attributes", attrs);
    else
        json_decref(attrs);
    (void)too_long; /* fields are at most HD_CSV_FIELD_MAX: buf always fits */
    return HD_OK;
}

static bool store_trouble(hd_rc rc) { return rc == HD_EBUSY || rc == HD_ESTORE || rc == HD_ENOMEM; }

/* Savepoints cost: a savepoint per row makes SQLite copy every page the row
 * touches into its sub-journal (a 1M-line import takes ~35% longer), and
 * inside an enclosing savepoint each RELEASE walks the whole sub-journal.
 * A batch therefore first runs without them; when a row fails, the callback
 * returns ROW_FAILED, the store rolls the batch back, and the batch runs
 * again with a savepoint per row, which isolates the bad rows. Bad rows come
 * in clusters, so after one the next IMPORT_CAREFUL_BATCHES batches start
 * with savepoints (a failure then costs no re-run), and once that many went
 * through without one, batches run fast again. */
#define ROW_FAILED             HD_ESTATE
#define IMPORT_CAREFUL_BATCHES 50

static bool start_careful(imp *im) {
    pthread_mutex_lock(&im->mu);
    bool c = im->careful > 0;
    pthread_mutex_unlock(&im->mu);
    return c;
}

/* After a batch: failed = a row of it was refused in the store. */
static void careful_after(imp *im, bool was_careful, bool failed) {
    pthread_mutex_lock(&im->mu);
    if (failed)
        im->careful = IMPORT_CAREFUL_BATCHES;
    else if (was_careful && im->careful > 0)
        im->careful--;
    pthread_mutex_unlock(&im->mu);
}

static hd_rc row_begin(hd_conn *c, bool safe, hd_err *err) {
    return safe ? hd_exec(c, "SAVEPOINT import_row", NULL, 0, NULL, err) : HD_OK;
}

/* Ends a row that returned rc (its error in rerr). Returns what the batch
 * callback should do: HD_OK to go on, or an error to return. */
static hd_rc row_end(hd_conn *c, bool safe, hd_rc rc, const hd_err *rerr, hd_err *err) {
    if (rc && store_trouble(rc)) {
        *err = *rerr;
        return rc;
    }
    if (!safe) return rc ? hd_err_set(err, ROW_FAILED, "", "a row failed: isolate it") : HD_OK;
    if (rc) hd_exec(c, "ROLLBACK TO SAVEPOINT import_row", NULL, 0, NULL, NULL);
    return hd_exec(c, "RELEASE SAVEPOINT import_row", NULL, 0, NULL, err);
}

/* Would applying r's fields change customer cur? */
static bool cust_differs(const json_t *cur, const json_t *fields) {
    const char *keys[] = {"name", "city"};
    for (int i = 0; i < 2; i++) {
        json_t *want = json_object_get(fields, keys[i]);
        if (want && !json_equal(want, json_object_get(cur, keys[i]))) return true;
    }
    json_t *wa = json_object_get(fields, "attributes"), *ca = json_object_get(cur, "attributes");
    const char *k;
    json_t *v;
    json_object_foreach(wa, k, v) if (!json_equal(v, json_object_get(ca, k))) return true;
    json_t *wt = json_object_get(fields, "tags"), *ct = json_object_get(cur, "tags");
    size_t i, j;
    json_t *t, *u;
    json_array_foreach(wt, i, t) {
        bool have = false;
        json_array_foreach(ct, j, u) if (json_equal(t, u)) have = true;
        if (!have) return true;
    }
    return false;
}

static hd_rc cust_count_merges(hd_conn *c, int64_t *n, hd_err *err) {
    return hd_query_int(c, "SELECT count(*) FROM merges", NULL, 0, n, err);
}

/* One transaction: find or create each row's customer. A row the domain
 * refuses is isolated (see row_end) and reported. Runs again from the start
 * on a PostgreSQL retry, so it recomputes every result. */
static hd_rc cust_batch_cb(hd_conn *c, void *vctx, hd_err *err) {
    cust_batch *b = vctx;
    int64_t merges0 = 0, merges1 = 0;
    hd_rc rc = cust_count_merges(c, &merges0, err);
    if (rc) return rc;
    b->failed = false;
    for (int i = 0; i < b->n; i++) {
        cust_row *r = &b->rows[i];
        r->status = ROW_PENDING;
        hd_err_clear(&r->err);
        if ((rc = row_begin(c, b->safe, err))) return rc;
        bool created = false;
        rc = hd_customer_resolve(c, b->d, r->ids, r->nids, r->fields, &r->cid, &created, &r->err);
        bool earlier = false; /* an earlier row of this batch found the same customer */
        for (int k = 0; !rc && k < i; k++)
            if (b->rows[k].cid == r->cid && b->rows[k].status != ROW_BAD) earlier = true;
        if (!rc && !created && earlier && json_object_size(r->fields)) {
            /* the earlier row's changes are applied after the commit, so compare
             * nothing: apply this row after it, and the file's last row wins
             * the same way on every run */
            r->status = ROW_UPDATED;
        } else if (!rc && !created) {
            json_t *cur = NULL;
            rc = hd_customer_load(c, r->cid, &cur, &r->err);
            if (!rc) r->status = cust_differs(cur, r->fields) ? ROW_UPDATED : ROW_SAME;
            json_decref(cur);
        } else if (!rc) {
            r->status = ROW_CREATED;
        }
        if (rc) r->status = ROW_BAD, b->failed = true;
        if ((rc = row_end(c, b->safe, rc, &r->err, err))) return rc;
    }
    if ((rc = cust_count_merges(c, &merges1, err))) return rc;
    b->merges = merges1 - merges0;
    return HD_OK;
}

/* Applies a changed row to an existing customer: name and city replaced,
 * attributes merged key by key, tags added. */
static hd_rc cust_patch(hd_domain *d, cust_row *r, hd_err *err) {
    json_t *patch = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(r->fields, k, v) {
        if (strcmp(k, "tags") == 0) {
            json_t *t = json_object();
            json_object_set(t, "add", v);
            json_object_set_new(patch, "tags", t);
        } else {
            json_object_set(patch, k, v);
        }
    }
    int64_t id = r->cid, moved = 0;
    hd_rc rc = HD_OK;
    for (int hops = 0; hops < 4; hops++) {
        json_t *out = NULL;
        rc = hd_customer_patch(d, id, patch, &out, &moved, err);
        json_decref(out);
        if (rc != HD_EMOVED) break;
        id = moved; /* a later row merged it: patch the survivor */
    }
    json_decref(patch);
    return rc;
}

static cust_batch *cust_batch_new(imp *im) {
    cust_batch *b = calloc(1, sizeof *b);
    if (b) b->rows = calloc(IMPORT_BATCH_ROWS, sizeof *b->rows);
    if (b && !b->rows) {
        free(b);
        return NULL;
    }
    if (b) b->d = &im->app.d;
    return b;
}

static void cust_batch_free(cust_batch *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) json_decref(b->rows[i].fields);
    free(b->rows);
    free(b);
}

static int cust_flush(imp *im, void *vb, bool write) {
    cust_batch *b = vb;
    if (!write || b->n == 0) {
        cust_batch_free(b);
        return 0;
    }
    hd_err err;
    hd_err_clear(&err);
    b->safe = start_careful(im);
    hd_rc rc = hd_store_write(im->app.store, cust_batch_cb, b, &err);
    if (rc == ROW_FAILED) {
        careful_after(im, b->safe, true);
        b->safe = true;
        hd_err_clear(&err);
        rc = hd_store_write(im->app.store, cust_batch_cb, b, &err);
    }
    if (!rc) careful_after(im, b->safe, b->failed);
    int ret = 0;
    if (rc) {
        store_failed(im, b->rows[0].line, &err);
        ret = 1;
    } else {
        for (int i = 0; i < b->n; i++) {
            cust_row *r = &b->rows[i];
            if (r->status == ROW_UPDATED) {
                hd_err perr;
                hd_err_clear(&perr);
                if (cust_patch(&im->app.d, r, &perr)) {
                    r->status = ROW_BAD;
                    r->err = perr;
                }
            }
            if (r->status == ROW_BAD) {
                bad_rows(im, r->line, 1, "%s%s%s", r->err.field, r->err.field[0] ? ": " : "",
                         r->err.msg);
                continue;
            }
            pthread_mutex_lock(&im->mu);
            if (r->status == ROW_CREATED)
                im->created++, im->imported++;
            else if (r->status == ROW_UPDATED)
                im->updated++, im->imported++;
            else
                im->dups++;
            pthread_mutex_unlock(&im->mu);
        }
        pthread_mutex_lock(&im->mu);
        im->merged += b->merges;
        pthread_mutex_unlock(&im->mu);
    }
    cust_batch_free(b);
    return ret;
}

static int import_customers(imp *im) {
    cust_cols cc;
    for (int k = 0; k < C_FIXED; k++) cc.fixed[k] = col_of(im, CUST_COLS[k]);
    cc.nattr = 0;
    int ncomputed = 0;
    for (int i = 0; i < im->ncols; i++) {
        bool known = false;
        for (int k = 0; k < C_FIXED; k++) known |= cc.fixed[k] == i;
        if (known) continue;
        bool computed = false;
        for (const char *const *p = CUST_COMPUTED; *p; p++)
            computed |= strcmp(*p, im->cols[i]) == 0;
        if (computed) {
            fprintf(stderr, "%s%s",
                    ncomputed++ ? ", " : "hudong import: ignoring computed columns: ", im->cols[i]);
            continue;
        }
        if (strlen(im->cols[i]) > 64) {
            fprintf(stderr, "hudong import: column name '%.64s...' is longer than 64 bytes\n",
                    im->cols[i]);
            return 2;
        }
        if (cc.nattr == IMPORT_ATTR_COLS_MAX) {
            fprintf(stderr, "hudong import: more than %d attribute columns\n",
                    IMPORT_ATTR_COLS_MAX);
            return 2;
        }
        cc.attr[cc.nattr++] = i;
    }
    if (ncomputed) fputc('\n', stderr);
    bool any_ident = false;
    for (int k = C_PHONE; k <= C_UNIONID; k++)
        if (k != C_CITY && k != C_TAGS && cc.fixed[k] >= 0) any_ident = true;
    if (!any_ident) {
        fprintf(stderr,
                "hudong import: %s: the header needs a phone or email column to identify "
                "customers (columns: name, phone, email, city, tags, and any others as "
                "attributes)\n",
                im->path);
        return 2;
    }
    /* one writer: rows reach the store in file order, so when two rows name
     * one customer the later one wins on every run */
    pipeline p;
    cust_batch *b = cust_batch_new(im);
    if (!b || !pipeline_start(&p, im, cust_flush, 1)) {
        cust_batch_free(b);
        fprintf(stderr, "hudong import: out of memory\n");
        return 1;
    }
    int ret = 0;
    for (;;) {
        int got = next_record(im);
        if (got == 0) break;
        if (got == 2) {
            ret = 2;
            break;
        }
        if (got == 3) continue;
        cust_row *r = &b->rows[b->n];
        hd_err err;
        hd_err_clear(&err);
        if (cust_parse(im, &cc, r, &err)) {
            json_decref(r->fields);
            r->fields = NULL;
            bad_rows(im, r->line, 1, "%s%s%s", err.field, err.field[0] ? ": " : "", err.msg);
            continue;
        }
        b->n++;
        if (b->n < IMPORT_BATCH_ROWS) continue;
        ret = pipeline_put(&p, b);
        progress(im);
        b = cust_batch_new(im);
        if (ret || !b) {
            ret = 1;
            break;
        }
    }
    if (ret == 0 && b)
        ret = pipeline_put(&p, b);
    else
        cust_batch_free(b); /* GBK or a failure: nothing more goes in */
    int wret = pipeline_finish(&p);
    return ret ? ret : wret;
}

/* ================= orders ================= */

enum {
    O_ORDER,
    O_PHONE,
    O_EMAIL,
    O_CUSTOMER_ID,
    O_AT,
    O_SKU,
    O_CATEGORY,
    O_QTY,
    O_AMOUNT,
    O_TOUCHPOINT,
    O_COLS
};
static const char *const ORDER_COLS[O_COLS] = {
    "order_id", "phone",    "email", "customer_id", "occurred_at",
    "sku",      "category", "qty",   "amount",      "touchpoint"};

/* One order being assembled from its adjacent lines. */
typedef struct order {
    char id[IMPORT_ORDER_ID_MAX * 4 + 1];
    int64_t first_line, nrows;
    char cust[300]; /* the customer columns joined, to check every line agrees */
    int64_t at_ms;
    int64_t customer_id; /* from a customer_id column, else 0 */
    json_t *event;       /* NULL once the order is bad */
    int64_t amount;
    char why[400];
    int64_t bad_line;
    /* result */
    row_status status;
    hd_err err;
} order;

typedef struct order_batch {
    hd_domain *d;
    order *orders; /* IMPORT_BATCH_ROWS + 1: one more for the order being read */
    int n;
    bool safe;   /* a savepoint per order (after an order failed) */
    bool failed; /* an order was refused in the store */
    int64_t rows;
} order_batch;

/* Order ids flushed in this run, to catch an order whose lines are not
 * adjacent (its second group would otherwise be skipped as a duplicate). */
typedef struct seen_set {
    uint64_t *hash;
    int64_t *line;
    size_t cap, n;
} seen_set;

static uint64_t str_hash(const char *s) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h ? h : 1;
}

/* Returns the line where id was first seen, or 0 after remembering it at line. */
static int64_t seen_check_add(seen_set *s, const char *id, int64_t line) {
    if (s->n * 2 >= s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1 << 16;
        uint64_t *h = calloc(cap, sizeof *h);
        int64_t *l = calloc(cap, sizeof *l);
        if (!h || !l) {
            free(h);
            free(l);
            return 0; /* out of memory: skip the check, the key still prevents doubles */
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (!s->hash[i]) continue;
            size_t j = s->hash[i] & (cap - 1);
            while (h[j]) j = (j + 1) & (cap - 1);
            h[j] = s->hash[i];
            l[j] = s->line[i];
        }
        free(s->hash);
        free(s->line);
        s->hash = h;
        s->line = l;
        s->cap = cap;
    }
    uint64_t h = str_hash(id);
    size_t j = h & (s->cap - 1);
    while (s->hash[j]) {
        if (s->hash[j] == h) return s->line[j]; /* a 64-bit hash collision is not a worry here */
        j = (j + 1) & (s->cap - 1);
    }
    s->hash[j] = h;
    s->line[j] = line;
    s->n++;
    return 0;
}

/* Marks o bad (keeping the first reason); returns false for the caller to pass on. */
static bool order_bad(order *o, int64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool order_bad(order *o, int64_t line, const char *fmt, ...) {
    if (!o->event) return false;
    json_decref(o->event);
    o->event = NULL;
    o->bad_line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof o->why, fmt, ap);
    va_end(ap);
    return false;
}

/* Starts an order from the current record (its id already checked). */
static void order_start(order *o, const char *id, int64_t line) {
    memset(o, 0, sizeof *o);
    snprintf(o->id, sizeof o->id, "%s", id);
    o->first_line = line;
    o->event = json_object();
    json_object_set_new(o->event, "type", json_string("order.paid"));
    char key[IMPORT_ORDER_ID_MAX * 4 + 16];
    snprintf(key, sizeof key, "import:order:%s", id);
    json_object_set_new(o->event, "key", json_string(key));
    json_t *props = json_object();
    json_object_set_new(props, "order_id", json_string(id));
    json_object_set_new(props, "lines", json_array());
    json_object_set_new(o->event, "properties", props);
}

/* Adds the current record as a line of o; false when o turned bad. */
static bool order_add_line(imp *im, const int *oc, order *o) {
    int64_t line = hd_csv_line(im->csv);
    o->nrows++;
    if (!o->event) return false;
    char buf[1024];
    bool too_long = false;
    /* the customer, the time and the touchpoint belong to the order: the first
     * line sets them, the others must agree */
    char cust[300] = "";
    const char *phone = field(im, oc[O_PHONE], buf, sizeof buf, &too_long);
    char norm_phone[20] = "", norm_email[255] = "";
    hd_err err;
    hd_err_clear(&err);
    if (*phone && hd_phone_normalize(phone, norm_phone, &err))
        return order_bad(o, line, "phone: %s", err.msg);
    const char *email = field(im, oc[O_EMAIL], buf, sizeof buf, &too_long);
    if (*email && hd_email_normalize(email, norm_email, &err))
        return order_bad(o, line, "email: %s", err.msg);
    int64_t cid = 0;
    const char *cs = field(im, oc[O_CUSTOMER_ID], buf, sizeof buf, &too_long);
    if (*cs && !hd_id_parse(cs, &cid))
        return order_bad(o, line, "customer_id: '%.40s' is not a customer id", cs);
    if (!cid && !norm_phone[0] && !norm_email[0])
        return order_bad(o, line, "no customer: fill in %s",
                         oc[O_PHONE] >= 0   ? "phone"
                         : oc[O_EMAIL] >= 0 ? "email"
                                            : "customer_id");
    snprintf(cust, sizeof cust, "%lld|%s|%s", (long long)cid, norm_phone, norm_email);
    const char *at_s = field(im, oc[O_AT], buf, sizeof buf, &too_long);
    int64_t at = 0;
    if (!*at_s) return order_bad(o, line, "occurred_at is empty");
    if (!hd_time_parse_in(im->app.clock, at_s, &at)) /* no offset: the brand's local time */
        return order_bad(
            o, line, "occurred_at: '%.40s' is not a date (YYYY-MM-DD) or an RFC 3339 time", at_s);
    char tp[80];
    field(im, oc[O_TOUCHPOINT], tp, sizeof tp, &too_long);
    if (too_long) return order_bad(o, line, "touchpoint is longer than 64 bytes");
    if (o->nrows == 1) {
        snprintf(o->cust, sizeof o->cust, "%s", cust);
        o->at_ms = at;
        json_t *c = json_object();
        if (cid) hd_json_set_id(c, "id", cid);
        o->customer_id = cid;
        if (norm_phone[0]) json_object_set_new(c, "phone", json_string(norm_phone));
        if (norm_email[0]) json_object_set_new(c, "email", json_string(norm_email));
        json_object_set_new(o->event, "customer", c);
        char ts[32];
        hd_time_format(at, ts);
        json_object_set_new(o->event, "occurred_at", json_string(ts));
        if (tp[0]) json_object_set_new(o->event, "touchpoint", json_string(tp));
    } else {
        if (strcmp(cust, o->cust) != 0)
            return order_bad(o, line, "order %s names another customer than on line %lld", o->id,
                             (long long)o->first_line);
        if (at != o->at_ms)
            return order_bad(o, line, "order %s has another occurred_at than on line %lld", o->id,
                             (long long)o->first_line);
    }
    /* the line */
    const char *sku = field(im, oc[O_SKU], buf, sizeof buf, &too_long);
    if (!*sku) return order_bad(o, line, "sku is empty");
    if (hd_utf8_len(sku, strlen(sku)) > IMPORT_SKU_MAX)
        return order_bad(o, line, "sku is longer than %d characters", IMPORT_SKU_MAX);
    json_t *l = json_object();
    json_object_set_new(l, "sku", json_string(sku));
    const char *cat = field(im, oc[O_CATEGORY], buf, sizeof buf, &too_long);
    if (*cat) json_object_set_new(l, "category", json_string(cat));
    int64_t qty = 1;
    const char *q = field(im, oc[O_QTY], buf, sizeof buf, &too_long);
    if (*q && (!parse_int(q, IMPORT_QTY_MAX, &qty) || qty == 0)) {
        json_decref(l);
        return order_bad(o, line, "qty: '%.40s' is not a whole number from 1 to %d", q,
                         IMPORT_QTY_MAX);
    }
    json_object_set_new(l, "qty", json_integer(qty));
    const char *a = field(im, oc[O_AMOUNT], buf, sizeof buf, &too_long);
    int64_t amount;
    if (!*a) {
        json_decref(l);
        return order_bad(o, line, "amount is empty");
    }
    if (!parse_int(a, IMPORT_AMOUNT_MAX, &amount)) {
        json_decref(l);
        if (strchr(a, '.'))
            return order_bad(o, line,
                             "amount: '%.40s' must be whole fen (1 yuan = 100 fen), e.g. 1250 "
                             "for 12.50 yuan",
                             a);
        if (strspn(a, "0123456789") == strlen(a))
            return order_bad(o, line, "amount: %.40s fen is more than the %lld allowed", a,
                             (long long)IMPORT_AMOUNT_MAX);
        return order_bad(o, line, "amount: '%.40s' is not a whole number of fen >= 0", a);
    }
    json_object_set_new(l, "amount", json_integer(amount));
    json_t *props = json_object_get(o->event, "properties");
    json_t *lines = json_object_get(props, "lines");
    if (json_array_size(lines) >= HD_ORDER_LINES_MAX) {
        json_decref(l);
        return order_bad(o, line, "order %s has more than %d lines", o->id, HD_ORDER_LINES_MAX);
    }
    json_array_append_new(lines, l);
    o->amount += amount;
    return true;
}

/* Closes o: bad orders are reported now; good ones join the batch. */
static void order_finish(imp *im, order_batch *b, seen_set *seen) {
    order *o = &b->orders[b->n];
    int64_t first = seen_check_add(seen, o->id, o->first_line);
    if (first)
        order_bad(o, o->first_line,
                  "order %s: its lines must be adjacent; it also appears from line %lld", o->id,
                  (long long)first);
    if (!o->event) {
        if (o->nrows > 1)
            bad_rows(im, o->bad_line, o->nrows, "%s (the order's %lld lines are skipped)", o->why,
                     (long long)o->nrows);
        else
            bad_rows(im, o->bad_line, 1, "%s", o->why);
        return;
    }
    if (o->amount > IMPORT_AMOUNT_MAX) {
        order_bad(o, o->first_line,
                  "order %s: its lines add up to %lld fen, more than the %lld allowed", o->id,
                  (long long)o->amount, (long long)IMPORT_AMOUNT_MAX);
        bad_rows(im, o->bad_line, o->nrows, "%s", o->why);
        return;
    }
    json_t *props = json_object_get(o->event, "properties");
    json_object_set_new(props, "amount", json_integer(o->amount));
    o->status = ROW_PENDING;
    b->rows += o->nrows;
    b->n++;
}

/* One transaction: each order is an order.paid event; a failing one is
 * isolated (see row_end). Runs again from the start on a PostgreSQL retry. */
/* The refusals an order can still meet in the store, checked before it is
 * sent so that a bad row rarely costs the batch a re-run with savepoints:
 * its order id already recorded under another key (by the API, say), or a
 * customer_id that names nobody. Read-only; HD_OK when the order may go. */
static hd_rc order_precheck(hd_conn *c, order *o, hd_err *err) {
    char key[IMPORT_ORDER_ID_MAX * 4 + 16];
    snprintf(key, sizeof key, "import:order:%s", o->id);
    hd_val p[2] = {hd_vtext(o->id), hd_vtext(key)};
    int64_t n = 0;
    hd_rc rc = hd_query_int(c,
                            "SELECT count(*) FROM orders WHERE order_id = ? AND NOT EXISTS "
                            "(SELECT 1 FROM events WHERE ev_key = ?)",
                            p, 2, &n, err);
    if (rc) return rc;
    if (n)
        return hd_err_set(err, HD_ECONFLICT, "order_id",
                          "order %s is already recorded, but not by an import of this order id",
                          o->id);
    if (o->customer_id) {
        hd_val q = hd_vint(o->customer_id);
        if ((rc = hd_query_int(c, "SELECT count(*) FROM customers WHERE id = ?", &q, 1, &n, err)))
            return rc;
        if (!n)
            return hd_err_set(err, HD_EINVAL, "customer_id", "no customer %lld",
                              (long long)o->customer_id);
    }
    return HD_OK;
}

static hd_rc order_batch_cb(hd_conn *c, void *vctx, hd_err *err) {
    order_batch *b = vctx;
    b->failed = false;
    for (int i = 0; i < b->n; i++) {
        order *o = &b->orders[i];
        hd_err_clear(&o->err);
        hd_rc rc = order_precheck(c, o, &o->err);
        if (rc) {
            if (store_trouble(rc)) {
                *err = o->err;
                return rc;
            }
            o->status = ROW_BAD;
            continue;
        }
        if ((rc = row_begin(c, b->safe, err))) return rc;
        bool dup = false;
        rc = hd_event_process(c, b->d, o->event, NULL, NULL, &dup, &o->err);
        o->status = rc ? ROW_BAD : dup ? ROW_DUP : ROW_CREATED;
        if (rc) b->failed = true;
        if ((rc = row_end(c, b->safe, rc, &o->err, err))) return rc;
    }
    return HD_OK;
}

static order_batch *order_batch_new(imp *im) {
    order_batch *b = calloc(1, sizeof *b);
    if (b) b->orders = calloc(IMPORT_BATCH_ROWS + 1, sizeof *b->orders);
    if (b && !b->orders) {
        free(b);
        return NULL;
    }
    if (b) b->d = &im->app.d;
    return b;
}

static void order_batch_free(order_batch *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) json_decref(b->orders[i].event);
    free(b->orders);
    free(b);
}

static int order_flush(imp *im, void *vb, bool write) {
    order_batch *b = vb;
    if (!write || b->n == 0) {
        order_batch_free(b);
        return 0;
    }
    hd_err err;
    hd_err_clear(&err);
    b->safe = start_careful(im);
    hd_rc rc = hd_store_write(im->app.store, order_batch_cb, b, &err);
    if (rc == ROW_FAILED) {
        careful_after(im, b->safe, true);
        b->safe = true;
        hd_err_clear(&err);
        rc = hd_store_write(im->app.store, order_batch_cb, b, &err);
    }
    if (!rc) careful_after(im, b->safe, b->failed);
    int ret = 0;
    if (rc) {
        store_failed(im, b->orders[0].first_line, &err);
        ret = 1;
    } else {
        for (int i = 0; i < b->n; i++) {
            order *o = &b->orders[i];
            if (o->status == ROW_BAD) {
                bad_rows(im, o->first_line, o->nrows, "order %s: %s%s%s", o->id, o->err.field,
                         o->err.field[0] ? ": " : "", o->err.msg);
                continue;
            }
            pthread_mutex_lock(&im->mu);
            if (o->status == ROW_CREATED) {
                im->imported += o->nrows;
                im->orders++;
            } else {
                im->dups += o->nrows;
                im->order_dups++;
            }
            pthread_mutex_unlock(&im->mu);
        }
    }
    order_batch_free(b);
    return ret;
}

static int import_orders(imp *im) {
    int oc[O_COLS];
    for (int k = 0; k < O_COLS; k++) oc[k] = col_of(im, ORDER_COLS[k]);
    static const struct {
        int col;
        const char *why;
    } required[] = {{O_ORDER, "the order number; lines of one order share it"},
                    {O_AT, "when the order was paid: YYYY-MM-DD or an RFC 3339 time"},
                    {O_SKU, "the product code of the line"},
                    {O_AMOUNT, "the line total in fen"}};
    for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
        if (oc[required[k].col] < 0) {
            fprintf(stderr, "hudong import: %s: the header lacks the required column '%s' (%s)\n",
                    im->path, ORDER_COLS[required[k].col], required[k].why);
            return 2;
        }
    if (oc[O_PHONE] < 0 && oc[O_EMAIL] < 0 && oc[O_CUSTOMER_ID] < 0) {
        fprintf(stderr,
                "hudong import: %s: the header needs a customer column: phone, email or "
                "customer_id\n",
                im->path);
        return 2;
    }
    for (int i = 0; i < im->ncols; i++) {
        bool known = false;
        for (int k = 0; k < O_COLS; k++) known |= oc[k] == i;
        if (!known)
            fprintf(stderr, "hudong import: column '%s' is not used; ignored\n", im->cols[i]);
    }
    pipeline p;
    order_batch *b = order_batch_new(im);
    /* SQLite: one writer thread, and batches waiting together are committed
     * together (group commit), so many batches in flight make few, large
     * transactions - the way to few commits and checkpoints. PostgreSQL runs
     * them as concurrent transactions: a few suffice. */
    int writers =
        hd_store_kind_of(im->app.store) == HD_STORE_SQLITE ? IMPORT_WRITERS_MAX : IMPORT_WRITERS_PG;
    if (!b || !pipeline_start(&p, im, order_flush, writers)) {
        order_batch_free(b);
        fprintf(stderr, "hudong import: out of memory\n");
        return 1;
    }
    seen_set seen = {0};
    int ret = 0;
    bool open_order = false; /* b->orders[b->n] is being assembled */
    char buf[IMPORT_ORDER_ID_MAX * 4 + 1];
    for (;;) {
        int got = next_record(im);
        if (got == 2) {
            ret = 2;
            break;
        }
        if (got == 3) continue;
        if (got == 0) break;
        int64_t line = hd_csv_line(im->csv);
        bool too_long = false;
        const char *id = field(im, oc[O_ORDER], buf, sizeof buf, &too_long);
        if (!*id || too_long || hd_utf8_len(id, strlen(id)) > IMPORT_ORDER_ID_MAX) {
            bad_rows(im, line, 1, "order_id %s",
                     *id ? "is longer than 100 characters" : "is empty");
            continue;
        }
        if (open_order && strcmp(id, b->orders[b->n].id) == 0) {
            order_add_line(im, oc, &b->orders[b->n]);
            continue;
        }
        if (open_order) {
            order_finish(im, b, &seen);
            open_order = false;
            if (b->rows >= IMPORT_BATCH_ROWS || b->n == IMPORT_BATCH_ROWS) {
                ret = pipeline_put(&p, b);
                progress(im);
                b = order_batch_new(im);
                if (ret || !b) {
                    ret = 1;
                    break;
                }
            }
        }
        order_start(&b->orders[b->n], id, line);
        open_order = true;
        order_add_line(im, oc, &b->orders[b->n]);
    }
    if (open_order) {
        if (ret)
            json_decref(b->orders[b->n].event);
        else
            order_finish(im, b, &seen);
    }
    if (ret == 0 && b)
        ret = pipeline_put(&p, b);
    else
        order_batch_free(b); /* GBK or a failure: nothing more goes in */
    int wret = pipeline_finish(&p);
    free(seen.hash);
    free(seen.line);
    return ret ? ret : wret;
}

/* ================= the command ================= */

static void import_usage(FILE *f) {
    fputs("usage: hudong import customers FILE.csv [--db DB]\n"
          "       hudong import orders FILE.csv [--db DB]\n"
          "\n"
          "FILE is UTF-8 CSV (with or without a BOM; '-' reads stdin) whose first row\n"
          "names the columns.\n"
          "\n"
          "customers: name, phone, email, city, tags (separated by | or ;), wechat_openid,\n"
          "  wechat_unionid; every other column becomes a string attribute. Each row finds\n"
          "  its customer by phone or e-mail (creating one, or merging two that the row\n"
          "  shows are the same person); an existing customer gets the row's name, city,\n"
          "  attributes and tags.\n"
          "orders: order_id, phone|email|customer_id, occurred_at (YYYY-MM-DD,\n"
          "  YYYY-MM-DD HH:MM:SS - both the brand's local time, see 'hudong brand' - or\n"
          "  RFC 3339 with its offset), sku, category, qty, amount (the line total in fen),\n"
          "  touchpoint. One row per\n"
          "  order line; the lines of one order must be adjacent. Each order becomes one\n"
          "  order.paid event with the key import:order:<order_id>.\n"
          "\n"
          "Re-running a file imports nothing twice. Bad rows are reported with their line\n"
          "and skipped. Exit status: 0 all rows imported (or already there), 1 some rows\n"
          "bad (the others are imported), 2 bad usage or an unreadable file (nothing\n"
          "imported).\n",
          f);
}

static void imp_close(imp *im) {
    hd_csv_free(im->csv);
    if (im->f && im->f != stdin) fclose(im->f);
    if (im->app_open) hd_app_close(&im->app);
    for (int i = 0; i < im->ncols; i++) free(im->cols[i]);
    free(im->cols);
    pthread_mutex_destroy(&im->mu);
}

int hd_cli_import(int argc, char **argv) {
    /* argv[0] may be "import" (the command) or already the kind */
    if (argc > 0 && strcmp(argv[0], "import") == 0) argc--, argv++;
    const char *kind = NULL, *path = NULL, *db = HD_CLI_DB();
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            import_usage(stdout);
            return 0;
        } else if (strcmp(a, "--db") == 0) {
            if (i + 1 == argc) {
                fprintf(stderr, "hudong import: --db needs a value\n");
                return 2;
            }
            db = argv[++i];
        } else if (strncmp(a, "--db=", 5) == 0) {
            db = a + 5;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hudong import: unknown option '%s'\n", a);
            import_usage(stderr);
            return 2;
        } else if (!kind) {
            kind = a;
        } else if (!path) {
            path = a;
        } else {
            fprintf(stderr, "hudong import: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!kind || (strcmp(kind, "customers") != 0 && strcmp(kind, "orders") != 0) || !path) {
        if (kind && strcmp(kind, "customers") != 0 && strcmp(kind, "orders") != 0)
            fprintf(stderr, "hudong import: can import customers or orders, not '%s'\n", kind);
        import_usage(stderr);
        return 2;
    }
    imp im = {.cmd = kind, .path = path};
    pthread_mutex_init(&im.mu, NULL);
    if (strcmp(path, "-") == 0) {
        im.f = stdin;
        im.path = "stdin";
    } else {
        im.f = fopen(path, "rb");
        if (!im.f) {
            fprintf(stderr, "hudong import: cannot open %s: %s\n", path, strerror(errno));
            return 2;
        }
        struct stat sb;
        if (fstat(fileno(im.f), &sb) == 0 && S_ISREG(sb.st_mode)) im.size = (int64_t)sb.st_size;
    }
    im.tty = isatty(fileno(stderr));
    im.csv = hd_csv_new(im.f, ',');
    if (!im.csv) {
        imp_close(&im);
        return 1;
    }
    int ret = read_header(&im);
    if (ret) {
        imp_close(&im);
        return ret;
    }
    if (hd_app_open(&im.app, db, false, true)) {
        imp_close(&im);
        return 1;
    }
    im.app_open = true;
    im.t0_ms = hd_mono_ms();
    ret = strcmp(kind, "customers") == 0 ? import_customers(&im) : import_orders(&im);
    progress_clear(&im);
    double secs = (double)(hd_mono_ms() - im.t0_ms) / 1000.0;
    printf("import %s: %lld rows read in %.1f s\n", kind, (long long)im.rows, secs);
    if (strcmp(kind, "customers") == 0) {
        printf("  imported    %lld (%lld new customers, %lld updated, %lld merges)\n",
               (long long)im.imported, (long long)im.created, (long long)im.updated,
               (long long)im.merged);
        printf("  unchanged   %lld (already imported)\n", (long long)im.dups);
    } else {
        printf("  imported    %lld (%lld orders)\n", (long long)im.imported, (long long)im.orders);
        printf("  skipped     %lld (%lld orders already imported)\n", (long long)im.dups,
               (long long)im.order_dups);
    }
    printf("  bad         %lld\n", (long long)im.bad);
    fflush(stdout);
    if (ret == 2 && im.imported == 0) fprintf(stderr, "hudong import: nothing was imported\n");
    imp_close(&im);
    if (ret) return ret;
    return im.bad ? 1 : 0;
}
