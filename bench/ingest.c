/* bench/ingest.c - how fast events get in, next to the floor each path
 * stands on. Driven by bench/ingest.sh; each mode prints one "result:" line.
 *
 *   ingest batch   --url U --key K [--events N] [--threads T]
 *       POST /v1/events/batch, 1,000 events per call, T client threads
 *       (libcurl, keep-alive), full processing in the server.
 *   ingest ceiling --db PATH [--events N] [--vfs hudong]
 *       the same event rows (events, orders, order_lines, and a customer and
 *       identity for each new phone) inserted straight into a fresh store's
 *       tables and indexes with sqlite3, prepared statements, 1,000 events per
 *       transaction, the store's own pragmas: what SQLite alone can do. With
 *       --vfs hudong, through the store's own SQLite layer: its VFS and page
 *       cache (src/store/store_vfs.c, store_pcache.c).
 *   ingest single  --url U [--key K] [--requests N] [--concurrency C]
 *       one event per POST /v1/events (or any URL: the same client measures
 *       bench/hello), C client threads; rate, p50 and p99 latency.
 *   ingest gen-orders --output FILE [--lines N]
 *       an order-lines CSV for `hudong import orders` (100,000 customers,
 *       1 to 5 lines per order, 2025).
 *
 * Events are generated from their index alone, so every mode sees the same
 * mix: 70% page.view, 30% order.paid with 1-3 lines, over 20,000 customers
 * named by phone. */
#include <curl/curl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "store/store.h"

#define BATCH_EVENTS 1000
#define CUSTOMERS    20000
#define THREADS_MAX  64

static const char *const CATS[] = {"服装", "鞋履", "美妆", "食品", "数码", "家居"};
static const char *const TOUCH[] = {"web", "app", "wechat", "store"};

static uint64_t mix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* One generated event: what both the HTTP body and the ceiling's rows hold. */
typedef struct gen_ev {
    char phone[20];
    char key[48];
    char order_id[32];
    const char *type, *touchpoint;
    int64_t at_ms;
    int nlines;
    struct {
        char sku[12];
        const char *cat;
        int qty;
        int64_t amount;
    } lines[3];
    int64_t amount;
    char page[32];
} gen_ev;

static void gen(int64_t i, unsigned run, gen_ev *e) {
    memset(e, 0, sizeof *e);
    uint64_t r = mix((uint64_t)i * 31 + run);
    int cust = (int)(r % CUSTOMERS);
    snprintf(e->phone, sizeof e->phone, "+861%02d%08d", 30 + cust % 70,
             (int)(((uint64_t)cust * 48271u) % 100000000u));
    snprintf(e->key, sizeof e->key, "bench:%u:%lld", run, (long long)i);
    e->touchpoint = TOUCH[(r >> 20) % 4];
    e->at_ms = 1735689600000LL + (int64_t)((r >> 24) % (365LL * 86400000));
    e->nlines = 0;
    e->amount = 0;
    if ((r >> 8) % 10 < 3) {
        e->type = "order.paid";
        snprintf(e->order_id, sizeof e->order_id, "B%u-%lld", run, (long long)i);
        e->nlines = 1 + (int)((r >> 40) % 3);
        for (int k = 0; k < e->nlines; k++) {
            uint64_t q = mix(r + (uint64_t)k);
            snprintf(e->lines[k].sku, sizeof e->lines[k].sku, "SKU%03d", (int)(q % 300));
            e->lines[k].cat = CATS[(q >> 12) % 6];
            e->lines[k].qty = 1 + (int)((q >> 20) % 2);
            e->lines[k].amount = 100 + (int64_t)((q >> 24) % 50000);
            e->amount += e->lines[k].amount;
        }
    } else {
        e->type = "page.view";
        snprintf(e->page, sizeof e->page, "/products/SKU%03d", (int)((r >> 40) % 300));
    }
}

/* The properties object exactly as the server stores it (compact JSON). */
static void props_json(const gen_ev *e, hd_buf *b) {
    if (e->nlines == 0) {
        hd_buf_printf(b, "{\"page\":\"%s\"}", e->page);
        return;
    }
    hd_buf_printf(b, "{\"order_id\":\"%s\",\"amount\":%lld,\"lines\":[", e->order_id,
                  (long long)e->amount);
    for (int k = 0; k < e->nlines; k++)
        hd_buf_printf(b, "%s{\"sku\":\"%s\",\"category\":\"%s\",\"qty\":%d,\"amount\":%lld}",
                      k ? "," : "", e->lines[k].sku, e->lines[k].cat, e->lines[k].qty,
                      (long long)e->lines[k].amount);
    hd_buf_puts(b, "]}");
}

static void event_json(const gen_ev *e, hd_buf *b) {
    char at[32];
    hd_time_format(e->at_ms, at);
    hd_buf_printf(b,
                  "{\"type\":\"%s\",\"customer\":{\"phone\":\"%s\"},\"touchpoint\":\"%s\","
                  "\"occurred_at\":\"%s\",\"key\":\"%s\",\"properties\":",
                  e->type, e->phone, e->touchpoint, at, e->key);
    props_json(e, b);
    hd_buf_putc(b, '}');
}

/* ---- options ---- */

typedef struct opts {
    const char *url, *key, *db, *output, *vfs;
    int64_t events, requests, lines;
    int threads, concurrency;
    unsigned run;
} opts;

static int parse(int argc, char **argv, opts *o) {
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "ingest: %s needs a value\n", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--url") == 0)
            o->url = v;
        else if (strcmp(a, "--key") == 0)
            o->key = v;
        else if (strcmp(a, "--db") == 0)
            o->db = v;
        else if (strcmp(a, "--output") == 0)
            o->output = v;
        else if (strcmp(a, "--vfs") == 0)
            o->vfs = v;
        else if (strcmp(a, "--events") == 0)
            o->events = strtoll(v, NULL, 10);
        else if (strcmp(a, "--requests") == 0)
            o->requests = strtoll(v, NULL, 10);
        else if (strcmp(a, "--lines") == 0)
            o->lines = strtoll(v, NULL, 10);
        else if (strcmp(a, "--threads") == 0)
            o->threads = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--concurrency") == 0)
            o->concurrency = (int)strtol(v, NULL, 10);
        else if (strcmp(a, "--run") == 0)
            o->run = (unsigned)strtoul(v, NULL, 10);
        else {
            fprintf(stderr, "ingest: unknown option %s\n", a);
            return 2;
        }
    }
    if (o->threads < 1 || o->threads > THREADS_MAX || o->concurrency < 1 ||
        o->concurrency > THREADS_MAX || o->events < 1 || o->requests < 1) {
        fprintf(stderr, "ingest: threads and concurrency 1..%d, counts > 0\n", THREADS_MAX);
        return 2;
    }
    return 0;
}

/* ---- HTTP client ---- */

typedef struct http {
    CURL *h;
    struct curl_slist *hdrs;
    hd_buf resp;
} http;

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    hd_buf_append(ud, p, sz * n);
    return sz * n;
}

static void http_init(http *c, const char *key) {
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    c->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:"); /* no 100-continue round trip */
    if (key) {
        char auth[300];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        c->hdrs = curl_slist_append(c->hdrs, auth);
    }
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->resp);
    curl_easy_setopt(c->h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
}

static void http_free(http *c) {
    curl_slist_free_all(c->hdrs);
    curl_easy_cleanup(c->h);
    hd_buf_free(&c->resp);
}

/* POSTs body; returns the status (0 on a transport error). */
static long http_post(http *c, const char *url, const char *body, size_t len) {
    hd_buf_reset(&c->resp);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)len);
    if (curl_easy_perform(c->h) != CURLE_OK) return 0;
    long status = 0;
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* ---- batch ---- */

typedef struct batch_job {
    const opts *o;
    char **bodies; /* prepared before the clock starts */
    size_t *lens;
    int nbodies;
    int next; /* shared cursor, under mu */
    pthread_mutex_t mu;
    int64_t created, failed_calls;
} batch_job;

static void *batch_thread(void *arg) {
    batch_job *j = arg;
    http c;
    http_init(&c, j->o->key);
    char url[512];
    snprintf(url, sizeof url, "%s/v1/events/batch", j->o->url);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        int i = j->next++;
        pthread_mutex_unlock(&j->mu);
        if (i >= j->nbodies) break;
        long st = http_post(&c, url, j->bodies[i], j->lens[i]);
        /* count what the server says it created */
        const char *p = c.resp.data ? strstr(c.resp.data, "\"created\":") : NULL;
        int64_t created = p ? strtoll(p + 10, NULL, 10) : 0;
        pthread_mutex_lock(&j->mu);
        j->created += created;
        if (st != 200) j->failed_calls++;
        pthread_mutex_unlock(&j->mu);
        if (st != 200 && j->failed_calls <= 3)
            fprintf(stderr, "ingest: batch %d: HTTP %ld %.300s\n", i, st,
                    c.resp.data ? c.resp.data : "");
    }
    http_free(&c);
    return NULL;
}

static int run_batch(const opts *o) {
    if (!o->url || !o->key) {
        fprintf(stderr, "ingest batch: --url and --key are required\n");
        return 2;
    }
    batch_job j = {.o = o};
    pthread_mutex_init(&j.mu, NULL);
    j.nbodies = (int)((o->events + BATCH_EVENTS - 1) / BATCH_EVENTS);
    j.bodies = calloc((size_t)j.nbodies, sizeof *j.bodies);
    j.lens = calloc((size_t)j.nbodies, sizeof *j.lens);
    for (int b = 0; b < j.nbodies; b++) {
        hd_buf buf = HD_BUF_INIT;
        hd_buf_puts(&buf, "{\"events\":[");
        for (int64_t i = (int64_t)b * BATCH_EVENTS;
             i < o->events && i < (int64_t)(b + 1) * BATCH_EVENTS; i++) {
            gen_ev e;
            gen(i, o->run, &e);
            if (i > (int64_t)b * BATCH_EVENTS) hd_buf_putc(&buf, ',');
            event_json(&e, &buf);
        }
        hd_buf_puts(&buf, "]}");
        j.bodies[b] = hd_buf_take(&buf, &j.lens[b]);
    }
    pthread_t th[THREADS_MAX];
    int64_t t0 = hd_mono_ns();
    for (int i = 0; i < o->threads; i++) pthread_create(&th[i], NULL, batch_thread, &j);
    for (int i = 0; i < o->threads; i++) pthread_join(th[i], NULL);
    double secs = (double)(hd_mono_ns() - t0) / 1e9;
    printf("result: mode=batch events=%lld created=%lld failed_calls=%lld seconds=%.2f "
           "rate=%.0f\n",
           (long long)o->events, (long long)j.created, (long long)j.failed_calls, secs,
           (double)j.created / secs);
    for (int b = 0; b < j.nbodies; b++) free(j.bodies[b]);
    free(j.bodies);
    free(j.lens);
    return j.created == o->events ? 0 : 1;
}

/* ---- ceiling ---- */

typedef struct cmap { /* phone -> customer id, open addressing */
    char (*keys)[20];
    int64_t *ids;
    size_t cap;
} cmap;

static int64_t cmap_get(cmap *m, const char *k, bool *isnew, int64_t next) {
    uint64_t h = 1469598103934665603ull;
    for (const char *p = k; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    size_t i = h & (m->cap - 1);
    while (m->keys[i][0]) {
        if (strcmp(m->keys[i], k) == 0) {
            *isnew = false;
            return m->ids[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    snprintf(m->keys[i], sizeof m->keys[i], "%s", k);
    m->ids[i] = next;
    *isnew = true;
    return next;
}

static bool sq_ok(sqlite3 *db, int rc, const char *what) {
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return true;
    fprintf(stderr, "ingest ceiling: %s: %s\n", what, sqlite3_errmsg(db));
    return false;
}

static int run_ceiling(const opts *o) {
    if (!o->db) {
        fprintf(stderr, "ingest ceiling: --db is required\n");
        return 2;
    }
    /* The schema and indexes come from the store's own migrations. Opening a
     * store sets up hudong's page cache and VFS for the whole process, so
     * for bare SQLite that happens in a child. */
    pid_t child = o->vfs ? 0 : fork();
    if (child < 0) return 1;
    if (child == 0) {
        hd_store_opts so = {.url = o->db, .migrate = true};
        hd_err err;
        hd_store *st = hd_store_open(&so, &err);
        if (!st) {
            fprintf(stderr, "ingest ceiling: %s\n", err.msg);
            if (!o->vfs) _exit(1);
            return 1;
        }
        hd_store_close(st);
        if (!o->vfs) _exit(0);
    } else {
        int status = 0;
        if (waitpid(child, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) return 1;
    }
    sqlite3 *db; /* the store registered its VFS ("hudong") when it opened */
    if (sqlite3_open_v2(o->db, &db, SQLITE_OPEN_READWRITE, o->vfs) != SQLITE_OK) {
        fprintf(stderr, "ingest ceiling: cannot open %s (vfs %s)\n", o->db,
                o->vfs ? o->vfs : "default");
        return 1;
    }
    /* the pragmas of the store's writer connection (src/store/store_sqlite.c) */
    sqlite3_exec(db,
                 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                 "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;",
                 NULL, NULL, NULL);
    static const char *const sql[] = {
        "INSERT INTO customers (id, name, name_norm, city, attributes, consent, specs, "
        "created_at, updated_at) VALUES (?, '', '', '', '{}', '{}', '{}', ?, ?)",
        "INSERT INTO identities (kind, value, customer_id, created_at) VALUES ('phone', ?, ?, ?)",
        "INSERT INTO events (customer_id, id, type, touchpoint, occurred_at, received_at, ev_key, "
        "properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        "INSERT INTO orders (order_id, customer_id, event_id, amount, touchpoint, occurred_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        "INSERT INTO order_lines (order_id, line_no, customer_id, sku, category, qty, amount) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)"};
    sqlite3_stmt *s[5];
    for (int i = 0; i < 5; i++)
        if (!sq_ok(db, sqlite3_prepare_v2(db, sql[i], -1, &s[i], NULL), "prepare")) return 1;
    size_t cap = 1;
    while (cap < CUSTOMERS * 4) cap <<= 1; /* a power of two for the mask */
    cmap m = {calloc(cap, 20), calloc(cap, sizeof(int64_t)), cap};
    int64_t next_id = 1000000, rows = 0, t0 = hd_mono_ns();
    hd_buf props = HD_BUF_INIT;
    bool ok = sq_ok(db, sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), "begin");
    for (int64_t i = 0; i < o->events && ok; i++) {
        if (i && i % BATCH_EVENTS == 0)
            ok = sq_ok(db, sqlite3_exec(db, "COMMIT; BEGIN", NULL, NULL, NULL), "commit");
        gen_ev e;
        gen(i, o->run, &e);
        int64_t now = hd_clock_now_ms(NULL);
        bool isnew;
        int64_t cid = cmap_get(&m, e.phone, &isnew, next_id + 1);
        if (isnew) {
            next_id++;
            sqlite3_bind_int64(s[0], 1, cid);
            sqlite3_bind_int64(s[0], 2, now);
            sqlite3_bind_int64(s[0], 3, now);
            ok = ok && sq_ok(db, sqlite3_step(s[0]), "customer");
            sqlite3_reset(s[0]);
            sqlite3_bind_text(s[1], 1, e.phone, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s[1], 2, cid);
            sqlite3_bind_int64(s[1], 3, now);
            ok = ok && sq_ok(db, sqlite3_step(s[1]), "identity");
            sqlite3_reset(s[1]);
        }
        int64_t id = ++next_id;
        hd_buf_reset(&props);
        props_json(&e, &props);
        sqlite3_bind_int64(s[2], 1, cid);
        sqlite3_bind_int64(s[2], 2, id);
        sqlite3_bind_text(s[2], 3, e.type, -1, SQLITE_STATIC);
        sqlite3_bind_text(s[2], 4, e.touchpoint, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s[2], 5, e.at_ms);
        sqlite3_bind_int64(s[2], 6, now);
        sqlite3_bind_text(s[2], 7, e.key, -1, SQLITE_STATIC);
        sqlite3_bind_text(s[2], 8, props.data, (int)props.len, SQLITE_STATIC);
        ok = ok && sq_ok(db, sqlite3_step(s[2]), "event");
        sqlite3_reset(s[2]);
        rows++;
        if (e.nlines) {
            sqlite3_bind_text(s[3], 1, e.order_id, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s[3], 2, cid);
            sqlite3_bind_int64(s[3], 3, id);
            sqlite3_bind_int64(s[3], 4, e.amount);
            sqlite3_bind_text(s[3], 5, e.touchpoint, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s[3], 6, e.at_ms);
            ok = ok && sq_ok(db, sqlite3_step(s[3]), "order");
            sqlite3_reset(s[3]);
            for (int k = 0; k < e.nlines; k++) {
                sqlite3_bind_text(s[4], 1, e.order_id, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s[4], 2, k);
                sqlite3_bind_int64(s[4], 3, cid);
                sqlite3_bind_text(s[4], 4, e.lines[k].sku, -1, SQLITE_STATIC);
                sqlite3_bind_text(s[4], 5, e.lines[k].cat, -1, SQLITE_STATIC);
                sqlite3_bind_int64(s[4], 6, e.lines[k].qty);
                sqlite3_bind_int64(s[4], 7, e.lines[k].amount);
                ok = ok && sq_ok(db, sqlite3_step(s[4]), "order line");
                sqlite3_reset(s[4]);
            }
        }
    }
    ok = ok && sq_ok(db, sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), "commit");
    double secs = (double)(hd_mono_ns() - t0) / 1e9;
    for (int i = 0; i < 5; i++) sqlite3_finalize(s[i]);
    sqlite3_close(db);
    hd_buf_free(&props);
    free(m.keys);
    free(m.ids);
    printf("result: mode=ceiling events=%lld seconds=%.2f rate=%.0f\n", (long long)rows, secs,
           (double)rows / secs);
    return ok ? 0 : 1;
}

/* ---- single ---- */

typedef struct single_job {
    const opts *o;
    int64_t per_thread;
    int index;
    double *lat_ms; /* this thread's latencies */
    int64_t n, errors;
} single_job;

static void *single_thread(void *arg) {
    single_job *j = arg;
    http c;
    http_init(&c, j->o->key);
    char url[512];
    /* a bare base URL gets the events path; bench/hello answers any path */
    snprintf(url, sizeof url, "%s/v1/events", j->o->url);
    hd_buf body = HD_BUF_INIT;
    for (int64_t k = 0; k < j->per_thread; k++) {
        gen_ev e;
        gen((int64_t)j->index * j->per_thread + k, j->o->run, &e);
        hd_buf_reset(&body);
        event_json(&e, &body);
        int64_t t0 = hd_mono_ns();
        long st = http_post(&c, url, body.data, body.len);
        j->lat_ms[j->n++] = (double)(hd_mono_ns() - t0) / 1e6;
        if (st != 201 && st != 200) {
            if (j->errors++ < 3)
                fprintf(stderr, "ingest: HTTP %ld %.300s\n", st, c.resp.data ? c.resp.data : "");
        }
    }
    hd_buf_free(&body);
    http_free(&c);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_single(const opts *o) {
    if (!o->url) {
        fprintf(stderr, "ingest single: --url is required\n");
        return 2;
    }
    int c = o->concurrency;
    int64_t per = o->requests / c;
    single_job jobs[THREADS_MAX];
    pthread_t th[THREADS_MAX];
    int64_t t0 = hd_mono_ns();
    for (int i = 0; i < c; i++) {
        jobs[i] = (single_job){o, per, i, malloc(sizeof(double) * (size_t)per), 0, 0};
        pthread_create(&th[i], NULL, single_thread, &jobs[i]);
    }
    for (int i = 0; i < c; i++) pthread_join(th[i], NULL);
    double secs = (double)(hd_mono_ns() - t0) / 1e9;
    int64_t n = 0, errors = 0;
    double *all = malloc(sizeof(double) * (size_t)(per * c));
    for (int i = 0; i < c; i++) {
        memcpy(all + n, jobs[i].lat_ms, sizeof(double) * (size_t)jobs[i].n);
        n += jobs[i].n;
        errors += jobs[i].errors;
        free(jobs[i].lat_ms);
    }
    qsort(all, (size_t)n, sizeof *all, cmp_double);
    double p50 = n ? all[n / 2] : 0, p99 = n ? all[(n * 99) / 100] : 0;
    printf("result: mode=single requests=%lld errors=%lld concurrency=%d seconds=%.2f rate=%.0f "
           "p50_ms=%.2f p99_ms=%.2f\n",
           (long long)n, (long long)errors, c, secs, (double)n / secs, p50, p99);
    free(all);
    return errors ? 1 : 0;
}

/* ---- gen-orders ---- */

static int run_gen_orders(const opts *o) {
    if (!o->output) {
        fprintf(stderr, "ingest gen-orders: --output is required\n");
        return 2;
    }
    FILE *f = fopen(o->output, "w");
    if (!f) {
        perror(o->output);
        return 1;
    }
    fputs("order_id,phone,occurred_at,sku,category,qty,amount\n", f);
    int64_t written = 0;
    for (int64_t ord = 1; written < o->lines; ord++) {
        uint64_t r = mix((uint64_t)ord);
        int cust = (int)(r % 100000);
        int64_t at = 1735689600000LL + (int64_t)((r >> 20) % (365LL * 86400000));
        char ts[32];
        hd_time_format(at, ts);
        static const int nl_of[8] = {1, 1, 1, 2, 2, 3, 4, 5};
        int nl = nl_of[(r >> 50) % 8];
        for (int k = 0; k < nl && written < o->lines; k++, written++) {
            uint64_t q = mix(r + (uint64_t)k + 1);
            fprintf(f, "ORD%08lld,1%02d%08d,%s,SKU%03d,%s,%d,%lld\n", (long long)ord,
                    30 + cust % 70, (int)(((uint64_t)cust * 48271u) % 100000000u), ts,
                    (int)(q % 300), CATS[(q >> 12) % 6], 1 + (int)((q >> 20) % 2),
                    (long long)(100 + (q >> 24) % 100000));
        }
    }
    if (fclose(f) != 0) return 1;
    printf("result: mode=gen-orders lines=%lld file=%s\n", (long long)written, o->output);
    return 0;
}

int main(int argc, char **argv) {
    opts o = {.events = 100000,
              .requests = 20000,
              .lines = 1000000,
              .threads = 2,
              .concurrency = 16,
              .run = 1};
    if (argc < 2) {
        fputs("usage: ingest batch|ceiling|single|gen-orders [options]  (see bench/ingest.c)\n",
              stderr);
        return 2;
    }
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const char *m = argv[1];
    if (strcmp(m, "batch") == 0)
        rc = run_batch(&o);
    else if (strcmp(m, "ceiling") == 0)
        rc = run_ceiling(&o);
    else if (strcmp(m, "single") == 0)
        rc = run_single(&o);
    else if (strcmp(m, "gen-orders") == 0)
        rc = run_gen_orders(&o);
    else {
        fprintf(stderr, "ingest: unknown mode %s\n", m);
        rc = 2;
    }
    curl_global_cleanup();
    return rc;
}
