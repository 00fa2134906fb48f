/* analytics_api.c - analytics on the live store: loaders into arrays, the five
 * computations (RFM, Pareto, CLV, baskets, ladder) as JSON, the result cache, jobs and
 * their worker thread, per-customer scores and cross-sell recommendations. */
#include "domain/analytics_api.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/basket.h"
#include "analytics/clv.h"
#include "analytics/rfm.h"
#include "base/buf.h"
#include "domain/customers.h"

#define DAY_MS              86400000LL
#define PARETO_POINTS       20
#define PARAMS_MAX          64   /* parameters per statement the PostgreSQL store takes */
#define SCORE_TX_ROWS       2000 /* score rows per transaction */
#define LADDER_DEFAULT_DAYS 30
#define WORKER_POLL_S       5
#define CHECK_EVERY_MS      60000LL
#define JOBS_KEEP_MS        (7 * DAY_MS) /* finished jobs */
#define CACHE_KEEP_MS       (7 * DAY_MS) /* results with other than the default arguments */
#define DAYS_PER_YEAR       365.25
#define DAYS_PER_MONTH      30.4375
#define KEY_MAX             160
#define LIMIT_DEFAULT       100
#define MEMO_MAX            4                     /* sets of basket rules kept in memory */
#define TIME_MIN            (-(INT64_C(1) << 62)) /* "all time" lower bound for SQL */

/* ---- small helpers ---- */

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* Grows two or three parallel arrays (c may be NULL) that share *cap. */
static bool grow_par(size_t *cap, size_t need, void **a, size_t ea, void **b, size_t eb, void **c,
                     size_t ec) {
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    void *p = realloc(*a, n * ea);
    if (!p) return false;
    *a = p;
    if (!(p = realloc(*b, n * eb))) return false;
    *b = p;
    if (c) {
        if (!(p = realloc(*c, n * ec))) return false;
        *c = p;
    }
    *cap = n;
    return true;
}

static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }
static json_t *jfen(double v) {
    return isfinite(v) ? json_integer((json_int_t)llround(v)) : json_null();
}

/* Purchase days are the brand's: two orders on one Beijing evening are one day.
 * off is its UTC offset, read once per analysis. */
static int64_t day_of(int off, int64_t ms) { return hd_cal_day(off, ms); }

static hd_rc oom(hd_err *err) { return hd_err_set(err, HD_ENOMEM, "", "out of memory"); }

int64_t hd_analytics_index_of(const int64_t *ids, size_t n, int64_t id) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ids[mid] < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && ids[lo] == id ? (int64_t)lo : -1;
}

/* ---- interning item names to dense ids ---- */

typedef struct interner {
    hd_buf pool; /* names, each NUL-terminated */
    size_t *off;
    size_t off_cap;
    uint32_t n;
    uint32_t *slots; /* id + 1, 0 = empty */
    size_t nslots;
} interner;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static void interner_free(interner *in) {
    hd_buf_free(&in->pool);
    free(in->off);
    free(in->slots);
    memset(in, 0, sizeof *in);
}

static const char *interner_name(const interner *in, uint32_t id) {
    return in->pool.data + in->off[id];
}

static int64_t interner_find(const interner *in, const char *s, size_t n) {
    if (!in->nslots) return -1;
    size_t h = (size_t)fnv(s, n) & (in->nslots - 1);
    while (in->slots[h]) {
        const char *nm = interner_name(in, in->slots[h] - 1);
        if (strncmp(nm, s, n) == 0 && nm[n] == '\0') return in->slots[h] - 1;
        h = (h + 1) & (in->nslots - 1);
    }
    return -1;
}

static int64_t interner_add(interner *in, const char *s, size_t n) {
    int64_t have = interner_find(in, s, n);
    if (have >= 0) return have;
    if ((size_t)in->n * 2 >= in->nslots) {
        size_t ns = in->nslots ? in->nslots * 2 : 1024;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (!sl) return -1;
        for (uint32_t i = 0; i < in->n; i++) {
            const char *nm = interner_name(in, i);
            size_t h = (size_t)fnv(nm, strlen(nm)) & (ns - 1);
            while (sl[h]) h = (h + 1) & (ns - 1);
            sl[h] = i + 1;
        }
        free(in->slots);
        in->slots = sl;
        in->nslots = ns;
    }
    if (!grow((void **)&in->off, &in->off_cap, (size_t)in->n + 1, sizeof *in->off)) return -1;
    in->off[in->n] = in->pool.len;
    hd_buf_append(&in->pool, s, n);
    hd_buf_putc(&in->pool, '\0');
    if (in->pool.oom) return -1;
    size_t h = (size_t)fnv(s, n) & (in->nslots - 1);
    while (in->slots[h]) h = (h + 1) & (in->nslots - 1);
    in->slots[h] = in->n + 1;
    return in->n++;
}

/* ---- per-process state ---- */

typedef struct rules_memo {
    bool valid;        /* rules were mined (rules stays NULL when there were no baskets) */
    char key[KEY_MAX]; /* the baskets parameters these rules were mined with */
    int64_t computed_at;
    hd_basket_rules *rules;
    interner items;
} rules_memo;

typedef struct an_state {
    hd_domain *d;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started, kicked;
    atomic_bool stop;
    bool checked;
    int64_t last_check_ms;
    rules_memo memo[MEMO_MAX]; /* rules for cross-sell by their arguments, under mu */
} an_state;

static hd_rc schedule_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

/* The state lives as the argument of our scheduled job, so domain.h needs no field. */
static an_state *state_of(hd_domain *d) {
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i].fn == schedule_job) return d->jobs[i].arg;
    return NULL;
}

/* ---- kinds and their parameters ---- */

typedef enum { K_RFM, K_PARETO, K_CLV, K_BASKETS, K_LADDER, K_N } kind_t;
static const char *const KIND_NAMES[K_N] = {"rfm", "pareto", "clv", "baskets", "ladder"};

typedef struct params {
    kind_t kind;
    double min_support, min_confidence; /* baskets */
    bool item_sku;
    bool ladder_relative; /* no from/to given: the 30 days up to the computation */
    int64_t from_ms, to_ms;
    double horizon, discount; /* clv: weeks, annual rate */
    int limit;
    char key[KEY_MAX]; /* canonical query string: the cache key */
} params;

static bool kind_parse(const char *s, kind_t *k) {
    for (int i = 0; i < K_N; i++)
        if (s && strcmp(s, KIND_NAMES[i]) == 0) {
            *k = (kind_t)i;
            return true;
        }
    return false;
}

static hd_rc parse_num(const char *s, const char *field, double def, double lo, double hi,
                       bool lo_open, double *out, hd_err *err) {
    *out = def;
    if (!s) return HD_OK;
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !isfinite(v) || v > hi || v < lo || (lo_open && v == lo))
        return hd_err_set(err, HD_EINVAL, field, "must be a number %s %g and at most %g, got '%s'",
                          lo_open ? "above" : "from", lo, hi, s);
    *out = v;
    return HD_OK;
}

static hd_rc parse_time(const hd_clock *cal, const char *s, const char *field, int64_t def,
                        int64_t *out, hd_err *err) {
    *out = def;
    if (s && !hd_time_parse_in(cal, s, out))
        return hd_err_set(err, HD_EINVAL, field,
                          "must be a date (2026-01-31) or an RFC 3339 time, got '%s'", s);
    return HD_OK;
}

static hd_rc parse_params(hd_domain *d, kind_t k, const hd_analytics_query *q, params *p,
                          hd_err *err) {
    memset(p, 0, sizeof *p);
    p->kind = k;
    p->limit = q->limit > 0 ? q->limit : LIMIT_DEFAULT;
    hd_rc rc = HD_OK;
    switch (k) {
    case K_RFM:
    case K_PARETO: break;
    case K_CLV:
        if ((rc = parse_num(q->horizon, "horizon", 52, 1, 520, false, &p->horizon, err)) ||
            (rc = parse_num(q->discount, "discount", 0.1, 0, 1, false, &p->discount, err)))
            return rc;
        snprintf(p->key, sizeof p->key, "horizon=%.6g&discount=%.6g", p->horizon, p->discount);
        break;
    case K_BASKETS:
        if (q->item && strcmp(q->item, "category") && strcmp(q->item, "sku"))
            return hd_err_set(err, HD_EINVAL, "item", "must be category or sku, got '%s'", q->item);
        p->item_sku = q->item && strcmp(q->item, "sku") == 0;
        if ((rc = parse_num(q->min_support, "min_support", 0.01, 0, 1, true, &p->min_support,
                            err)) ||
            (rc = parse_num(q->min_confidence, "min_confidence", 0.5, 0, 1, false,
                            &p->min_confidence, err)))
            return rc;
        snprintf(p->key, sizeof p->key, "item=%s&min_support=%.6g&min_confidence=%.6g",
                 p->item_sku ? "sku" : "category", p->min_support, p->min_confidence);
        break;
    case K_LADDER: {
        int64_t now = hd_now(d);
        p->ladder_relative = !q->from && !q->to;
        if ((rc = parse_time(d->clock, q->to, "to", now, &p->to_ms, err)) ||
            (rc = parse_time(d->clock, q->from, "from", p->to_ms - LADDER_DEFAULT_DAYS * DAY_MS,
                             &p->from_ms, err)))
            return rc;
        if (p->from_ms >= p->to_ms) return hd_err_set(err, HD_EINVAL, "from", "must be before to");
        if (!p->ladder_relative) {
            char f[32], t[32];
            hd_time_format(p->from_ms, f);
            hd_time_format(p->to_ms, t);
            snprintf(p->key, sizeof p->key, "from=%s&to=%s", f, t);
        }
        break;
    }
    default: return hd_err_set(err, HD_EINTERNAL, "", "unknown kind");
    }
    return HD_OK;
}

/* Parses a canonical key back (for a job). */
static hd_rc params_from_key(hd_domain *d, kind_t k, const char *key, params *p, hd_err *err) {
    char buf[KEY_MAX];
    snprintf(buf, sizeof buf, "%s", key);
    hd_analytics_query q = {0};
    char *save = NULL;
    for (char *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(kv, "item") == 0) q.item = v;
        if (strcmp(kv, "min_support") == 0) q.min_support = v;
        if (strcmp(kv, "min_confidence") == 0) q.min_confidence = v;
        if (strcmp(kv, "from") == 0) q.from = v;
        if (strcmp(kv, "to") == 0) q.to = v;
        if (strcmp(kv, "horizon") == 0) q.horizon = v;
        if (strcmp(kv, "discount") == 0) q.discount = v;
    }
    return parse_params(d, k, &q, p, err);
}

static void result_url(kind_t k, const char *key, char *out, size_t cap) {
    snprintf(out, cap, "/v1/analytics/%s%s%s", KIND_NAMES[k], *key ? "?" : "", key);
}

/* ---- the cache ---- */

typedef struct cache_ctx {
    const params *p;
    bool found;
    char *result;
    int64_t computed_at;
    const json_t *put;
    int64_t dur_ms;
} cache_ctx;

static hd_rc cache_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    cache_ctx *cc = vctx;
    hd_val q[2] = {hd_vtext(KIND_NAMES[cc->p->kind]), hd_vtext(cc->p->key)};
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT result, computed_at FROM analytics_cache WHERE kind = ? AND params = ?",
                 q, 2, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        size_t n;
        const char *t = hd_rows_text(r, 0, &n);
        free(cc->result);
        cc->result = strndup(t, n);
        cc->computed_at = hd_rows_int(r, 1);
        cc->found = cc->result != NULL;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc cache_put_cb(hd_conn *c, void *vctx, hd_err *err) {
    cache_ctx *cc = vctx;
    char *text = hd_json_dump(cc->put);
    if (!text) return oom(err);
    hd_val q[5] = {hd_vtext(KIND_NAMES[cc->p->kind]), hd_vtext(cc->p->key), hd_vtext(text),
                   hd_vint(cc->computed_at), hd_vint(cc->dur_ms)};
    hd_rc rc = hd_exec(c,
                       "INSERT INTO analytics_cache (kind, params, result, computed_at, "
                       "duration_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, params) DO UPDATE "
                       "SET result = excluded.result, computed_at = excluded.computed_at, "
                       "duration_ms = excluded.duration_ms",
                       q, 5, NULL, err);
    free(text);
    return rc;
}

/* ---- progress of a job ---- */

typedef struct progress {
    hd_domain *d;
    an_state *st; /* NULL when computing inside a request */
    int64_t job;  /* 0 likewise */
    double last;
} progress;

typedef struct job_upd {
    int64_t id;
    double progress;
    int64_t now;
} job_upd;

static hd_rc progress_cb(hd_conn *c, void *vctx, hd_err *err) {
    job_upd *u = vctx;
    hd_val q[3] = {hd_vreal(u->progress), hd_vint(u->now), hd_vint(u->id)};
    return hd_exec(c, "UPDATE analytics_jobs SET progress = ?, updated_at = ? WHERE id = ?", q, 3,
                   NULL, err);
}

/* Records progress (at most every 5 %) and says whether to go on: HD_ESTATE when the
 * process is stopping. */
static hd_rc progress_set(progress *pr, double f, hd_err *err) {
    if (!pr || !pr->job) return HD_OK;
    if (pr->st && atomic_load(&pr->st->stop))
        return hd_err_set(err, HD_ESTATE, "", "cancelled: the server is stopping");
    if (f < 1 && f - pr->last < 0.05) return HD_OK;
    pr->last = f;
    job_upd u = {pr->job, f > 1 ? 1 : f, hd_now(pr->d)};
    return hd_store_write(pr->d->store, progress_cb, &u, err);
}

/* ---- loading orders ---- */

typedef struct orders {
    int off; /* the brand's UTC offset, minutes */
    int64_t as_of_ms;
    size_t n, cap;
    int64_t *cust, *day;
    double *amount;
} orders;

static void orders_free(orders *o) {
    free(o->cust);
    free(o->day);
    free(o->amount);
}

static hd_rc orders_cb(hd_conn *c, void *vctx, hd_err *err) {
    orders *o = vctx;
    o->n = 0;
    hd_val q = hd_vint(o->as_of_ms);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id, occurred_at, amount FROM orders WHERE refunded_at IS "
                        "NULL AND occurred_at <= ?",
                        &q, 1, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (!grow_par(&o->cap, o->n + 1, (void **)&o->cust, sizeof *o->cust, (void **)&o->day,
                      sizeof *o->day, (void **)&o->amount, sizeof *o->amount)) {
            hd_rows_free(r);
            return oom(err);
        }
        o->cust[o->n] = hd_rows_int(r, 0);
        o->day[o->n] = day_of(o->off, hd_rows_int(r, 1));
        o->amount[o->n] = (double)hd_rows_int(r, 2);
        o->n++;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc load_orders(hd_domain *d, int64_t as_of_ms, orders *o, hd_err *err) {
    memset(o, 0, sizeof *o);
    o->off = hd_clock_utc_offset(d->clock);
    o->as_of_ms = as_of_ms;
    return hd_store_read(d->store, orders_cb, o, err);
}

/* ---- per-customer scores ---- */

typedef struct score_rows {
    const char *cols;   /* columns of one row, customer_id first */
    const char *update; /* SET list for the upsert */
    const char *clear;  /* nulls the scores of customers this run did not score */
    int ncols;
    size_t n;
    int64_t at;
    void (*row)(const struct score_rows *sr, size_t i, hd_val *out);
    const void *a, *b;
    bool flag;
} score_rows;

typedef struct score_batch {
    const score_rows *sr;
    size_t from, to;
} score_batch;

static hd_rc score_batch_cb(hd_conn *c, void *vctx, hd_err *err) {
    score_batch *sb = vctx;
    const score_rows *sr = sb->sr;
    hd_rc rc = HD_OK;
    size_t per = PARAMS_MAX / (size_t)sr->ncols; /* rows per statement */
    hd_val v[PARAMS_MAX];
    hd_buf sql = HD_BUF_INIT;
    for (size_t at = sb->from; at < sb->to && !rc; at += per) {
        size_t m = sb->to - at < per ? sb->to - at : per;
        hd_buf_reset(&sql);
        hd_buf_printf(&sql, "INSERT INTO customer_scores (%s) VALUES ", sr->cols);
        for (size_t i = 0; i < m; i++) {
            hd_buf_puts(&sql, i ? ",(" : "(");
            for (int k = 0; k < sr->ncols; k++) hd_buf_puts(&sql, k ? ",?" : "?");
            hd_buf_putc(&sql, ')');
            sr->row(sr, at + i, v + i * (size_t)sr->ncols);
        }
        hd_buf_printf(&sql, " ON CONFLICT (customer_id) DO UPDATE SET %s", sr->update);
        if (sql.oom) {
            rc = oom(err);
            break;
        }
        rc = hd_exec(c, sql.data, v, (int)(m * (size_t)sr->ncols), NULL, err);
    }
    hd_buf_free(&sql);
    return rc;
}

static hd_rc score_clear_cb(hd_conn *c, void *vctx, hd_err *err) {
    const score_rows *sr = vctx;
    hd_val q = hd_vint(sr->at);
    return hd_exec(c, sr->clear, &q, 1, NULL, err);
}

/* Upserts every row, a few thousand per transaction, then clears the scores of
 * customers this run left out. Progress goes from f0 to f1. */
static hd_rc write_scores(hd_domain *d, const score_rows *sr, progress *pr, double f0, double f1,
                          hd_err *err) {
    size_t step = SCORE_TX_ROWS;
    hd_rc rc = HD_OK;
    for (size_t at = 0; at < sr->n && !rc; at += step) {
        score_batch sb = {sr, at, at + step < sr->n ? at + step : sr->n};
        rc = hd_store_write(d->store, score_batch_cb, &sb, err);
        if (!rc) rc = progress_set(pr, f0 + (f1 - f0) * (double)sb.to / (double)sr->n, err);
    }
    if (!rc) rc = hd_store_write(d->store, score_clear_cb, (void *)sr, err);
    return rc;
}

static void rfm_row(const score_rows *sr, size_t i, hd_val *v) {
    const hd_rfm_input *in = sr->a;
    const hd_rfm_score *sc = sr->b;
    v[0] = hd_vint(in[i].customer);
    v[1] = hd_vint(sc[i].r);
    v[2] = hd_vint(sc[i].f);
    v[3] = hd_vint(sc[i].m);
    v[4] = hd_vtext(hd_rfm_segment_key(sc[i].segment));
    v[5] = hd_vint(sr->at);
}

static void clv_row(const score_rows *sr, size_t i, hd_val *v) {
    const hd_clv_summary *s = sr->a;
    const hd_clv_score *sc = sr->b;
    v[0] = hd_vint(s[i].customer);
    v[1] = sr->flag && isfinite(sc[i].clv) ? hd_vreal(round(sc[i].clv)) : hd_vnull();
    v[2] = isfinite(sc[i].p_alive) ? hd_vreal(sc[i].p_alive) : hd_vnull();
    v[3] = isfinite(sc[i].expected_purchases) ? hd_vreal(sc[i].expected_purchases) : hd_vnull();
    v[4] = hd_vint(sr->at);
}

/* ---- RFM ---- */

static json_t *name_json(const char *zh, const char *en) {
    return json_pack("{s:s,s:s}", "zh", zh, "en", en);
}

static hd_rc run_rfm(hd_domain *d, const params *p, progress *pr, int64_t now, json_t **out,
                     hd_err *err) {
    orders o;
    hd_rfm_input *in = NULL;
    hd_rfm_score *sc = NULL;
    size_t n = 0;
    hd_rc rc = load_orders(d, now, &o, err);
    if (!rc) rc = progress_set(pr, 0.3, err);
    if (!rc) rc = hd_rfm_summarize(o.cust, o.day, o.amount, o.n, day_of(o.off, now), &in, &n, err);
    if (!rc && n && !(sc = malloc(n * sizeof *sc))) rc = oom(err);
    if (!rc && n) rc = hd_rfm_score_all(in, n, sc, err);
    if (!rc) rc = progress_set(pr, 0.5, err);
    if (rc) goto done;
    {
        uint64_t cnt[HD_RFM_SEGMENTS] = {0}, grid[5][5] = {{0}}, hr[5] = {0}, hf[5] = {0},
                 hm[5] = {0};
        double rev[HD_RFM_SEGMENTS] = {0}, rec[HD_RFM_SEGMENTS] = {0}, fr[HD_RFM_SEGMENTS] = {0},
               total = 0;
        for (size_t i = 0; i < n; i++) {
            hd_rfm_segment s = sc[i].segment;
            cnt[s]++;
            rev[s] += in[i].monetary;
            rec[s] += in[i].recency_days;
            fr[s] += in[i].frequency;
            total += in[i].monetary;
            grid[5 - sc[i].r][sc[i].fm - 1]++;
            hr[sc[i].r - 1]++;
            hf[sc[i].f - 1]++;
            hm[sc[i].m - 1]++;
        }
        json_t *res = json_object(), *segs = json_array(), *g = json_array();
        json_object_set_new(res, "kind", json_string("rfm"));
        hd_json_set_time(res, "as_of", now, true);
        json_object_set_new(res, "customers", json_integer((json_int_t)n));
        json_object_set_new(res, "revenue", jfen(total));
        for (int k = 0; k < HD_RFM_SEGMENTS; k++) {
            hd_rfm_segment s = (hd_rfm_segment)k;
            double c = (double)cnt[k];
            json_array_append_new(
                segs, json_pack("{s:s,s:o,s:I,s:o,s:o,s:o,s:o,s:o}", "key", hd_rfm_segment_key(s),
                                "name", name_json(hd_rfm_segment_zh(s), hd_rfm_segment_en(s)),
                                "customers", (json_int_t)cnt[k], "share",
                                jreal(n ? c / (double)n : 0), "revenue", jfen(rev[k]),
                                "avg_recency_days", cnt[k] ? jreal(rec[k] / c) : json_null(),
                                "avg_frequency", cnt[k] ? jreal(fr[k] / c) : json_null(),
                                "avg_monetary", cnt[k] ? jreal(rev[k] / c) : json_null()));
        }
        json_object_set_new(res, "segments", segs);
        for (int r = 5; r >= 1; r--) {
            json_t *cells = json_array();
            for (int fm = 1; fm <= 5; fm++)
                json_array_append_new(cells,
                                      json_pack("{s:i,s:s,s:I}", "fm", fm, "segment",
                                                hd_rfm_segment_key(hd_rfm_segment_of(r, fm)),
                                                "customers", (json_int_t)grid[5 - r][fm - 1]));
            json_array_append_new(g, json_pack("{s:i,s:o}", "r", r, "cells", cells));
        }
        json_object_set_new(res, "grid", g);
        json_t *scores = json_object();
        const char *names[3] = {"r", "f", "m"};
        uint64_t *hist[3] = {hr, hf, hm};
        for (int k = 0; k < 3; k++) {
            json_t *a = json_array();
            for (int s = 0; s < 5; s++)
                json_array_append_new(a, json_integer((json_int_t)hist[k][s]));
            json_object_set_new(scores, names[k], a);
        }
        json_object_set_new(res, "score_counts", scores);
        *out = res;
    }
    {
        score_rows sr = {"customer_id, rfm_r, rfm_f, rfm_m, rfm_segment, rfm_at",
                         "rfm_r = excluded.rfm_r, rfm_f = excluded.rfm_f, rfm_m = excluded.rfm_m, "
                         "rfm_segment = excluded.rfm_segment, rfm_at = excluded.rfm_at",
                         "UPDATE customer_scores SET rfm_r = NULL, rfm_f = NULL, rfm_m = NULL, "
                         "rfm_segment = NULL, rfm_at = NULL WHERE rfm_at IS NOT NULL AND rfm_at "
                         "<> ?",
                         6,
                         n,
                         now,
                         rfm_row,
                         in,
                         sc,
                         false};
        rc = write_scores(d, &sr, pr, 0.5, 0.95, err);
        if (rc) {
            json_decref(*out);
            *out = NULL;
        }
    }
done:
    orders_free(&o);
    free(in);
    free(sc);
    (void)p;
    return rc;
}

/* ---- Pareto ---- */

static hd_rc run_pareto(hd_domain *d, const params *p, progress *pr, int64_t now, json_t **out,
                        hd_err *err) {
    orders o;
    hd_rfm_input *in = NULL;
    double *rev = NULL;
    size_t n = 0;
    hd_rc rc = load_orders(d, now, &o, err);
    if (!rc) rc = progress_set(pr, 0.5, err);
    if (!rc) rc = hd_rfm_summarize(o.cust, o.day, o.amount, o.n, day_of(o.off, now), &in, &n, err);
    if (!rc && n && !(rev = malloc(n * sizeof *rev))) rc = oom(err);
    if (rc) goto done;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        rev[i] = in[i].monetary;
        total += rev[i];
    }
    json_t *res = json_object(), *curve = json_array();
    json_object_set_new(res, "kind", json_string("pareto"));
    hd_json_set_time(res, "as_of", now, true);
    json_object_set_new(res, "customers", json_integer((json_int_t)n));
    json_object_set_new(res, "revenue", jfen(total));
    if (n && total > 0) {
        double pts[PARETO_POINTS];
        hd_pareto_summary ps;
        if ((rc = hd_pareto_curve(rev, n, pts, PARETO_POINTS, &ps, err))) {
            json_decref(res);
            json_decref(curve);
            goto done;
        }
        for (int k = 0; k < PARETO_POINTS; k++)
            json_array_append_new(curve, json_pack("{s:o,s:o}", "customer_share",
                                                   jreal((double)(k + 1) / PARETO_POINTS),
                                                   "revenue_share", jreal(pts[k])));
        json_object_set_new(res, "top20_share", jreal(ps.top20_share));
        json_object_set_new(res, "customer_share_80", jreal(ps.customer_share_80));
        json_object_set_new(res, "gini", jreal(ps.gini));
    } else {
        json_object_set_new(res, "top20_share", json_null());
        json_object_set_new(res, "customer_share_80", json_null());
        json_object_set_new(res, "gini", json_null());
    }
    json_object_set_new(res, "curve", curve);
    *out = res;
done:
    orders_free(&o);
    free(in);
    free(rev);
    (void)p;
    return rc;
}

/* ---- CLV ---- */

typedef struct ranked {
    double key;
    size_t i;
} ranked;

static int ranked_desc(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->key != b->key) return a->key > b->key ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

static int dbl_asc(const void *pa, const void *pb) {
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* Up to HD_ANALYTICS_LIST_MAX customers with the largest key (key < 0: left out). */
static json_t *clv_list(const hd_clv_summary *s, const hd_clv_score *sc, size_t n, ranked *rk,
                        bool gg_ok) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (rk[i].key >= 0) rk[m++] = rk[i];
    qsort(rk, m, sizeof *rk, ranked_desc);
    json_t *a = json_array();
    for (size_t k = 0; k < m && k < HD_ANALYTICS_LIST_MAX; k++) {
        size_t i = rk[k].i;
        json_t *o = json_object();
        hd_json_set_id(o, "customer_id", s[i].customer);
        json_object_set_new(o, "repeat_purchases", json_integer((json_int_t)s[i].x));
        json_object_set_new(o, "past_repeat_value", jfen(s[i].x * s[i].monetary));
        json_object_set_new(o, "p_alive", jreal(sc[i].p_alive));
        json_object_set_new(o, "expected_purchases", jreal(sc[i].expected_purchases));
        json_object_set_new(o, "clv", gg_ok ? jfen(sc[i].clv) : json_null());
        json_array_append_new(a, o);
    }
    return a;
}

static hd_rc run_clv(hd_domain *d, const params *p, progress *pr, int64_t now, json_t **out,
                     hd_err *err) {
    orders o;
    hd_clv_summary *s = NULL;
    hd_clv_score *sc = NULL;
    ranked *rk = NULL;
    double *vals = NULL;
    size_t n = 0;
    json_t *res = NULL;
    hd_rc rc = load_orders(d, now, &o, err);
    if (!rc) rc = progress_set(pr, 0.2, err);
    if (!rc)
        rc = hd_clv_summarize(o.cust, o.day, o.amount, o.n, day_of(o.off, now), HD_CLV_WEEK, &s, &n,
                              err);
    if (rc) goto done;
    if (n == 0) {
        rc = hd_err_set(err, HD_ESTATE, "", "not enough data for CLV: no customer has paid yet");
        goto done;
    }
    hd_clv_bgnbd bg;
    hd_clv_gg gg;
    if ((rc = hd_clv_bgnbd_fit(s, n, &bg, err))) {
        char msg[HD_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        rc = hd_err_set(err, HD_ESTATE, "", "not enough data for CLV: %s", msg);
        goto done;
    }
    if ((rc = progress_set(pr, 0.5, err))) goto done;
    hd_err gerr;
    bool gg_ok = hd_clv_gg_fit(s, n, &gg, &gerr) == HD_OK;
    if (!gg_ok) memset(&gg, 0, sizeof gg);
    double per = (double)HD_CLV_WEEK;
    double disc = pow(1 + p->discount, per / DAYS_PER_YEAR) - 1;
    double months = p->horizon * per / DAYS_PER_MONTH;
    int steps = months < 1 ? 1 : months > HD_CLV_STEPS_MAX ? HD_CLV_STEPS_MAX : (int)ceil(months);
    sc = malloc(n * sizeof *sc);
    rk = malloc(n * sizeof *rk);
    vals = malloc(n * sizeof *vals);
    if (!sc || !rk || !vals) {
        rc = oom(err);
        goto done;
    }
    if (gg_ok) {
        rc = hd_clv_score_all(&bg, &gg, s, n, p->horizon, disc, steps, sc, err);
    } else {
        /* no spend model: purchases and P(alive) still stand; the values computed with
         * this placeholder are never shown (clv is null) */
        hd_clv_gg unit = {.p = 1, .q = 2, .v = 1};
        rc = hd_clv_score_all(&bg, &unit, s, n, p->horizon, disc, steps, sc, err);
    }
    if (rc || (rc = progress_set(pr, 0.6, err))) goto done;

    double tot_exp = 0, tot_clv = 0, sum_x = 0;
    size_t repeaters = 0;
    uint64_t alive_hist[10] = {0};
    for (size_t i = 0; i < n; i++) {
        tot_exp += sc[i].expected_purchases;
        tot_clv += sc[i].clv;
        sum_x += s[i].x;
        repeaters += s[i].x > 0;
        int b = (int)(sc[i].p_alive * 10);
        alive_hist[b < 0 ? 0 : b > 9 ? 9 : b]++;
        vals[i] = sc[i].clv;
    }
    res = json_object();
    json_object_set_new(res, "kind", json_string("clv"));
    json_object_set_new(res, "period", json_string("week"));
    hd_json_set_time(res, "calibration_end", now, true);
    json_object_set_new(res, "horizon", jreal(p->horizon));
    json_object_set_new(res, "discount_annual", jreal(p->discount));
    json_object_set_new(res, "discount_per_period", jreal(disc));
    json_object_set_new(res, "customers", json_integer((json_int_t)n));
    json_object_set_new(res, "repeat_customers", json_integer((json_int_t)repeaters));
    json_object_set_new(res, "repeat_purchases", json_integer((json_int_t)sum_x));
    json_object_set_new(res, "bgnbd",
                        json_pack("{s:o,s:o,s:o,s:o,s:o,s:b}", "r", jreal(bg.r), "alpha",
                                  jreal(bg.alpha), "a", jreal(bg.a), "b", jreal(bg.b), "loglik",
                                  jreal(bg.loglik), "at_bound", bg.at_bound));
    if (gg_ok) {
        json_object_set_new(res, "gamma_gamma",
                            json_pack("{s:o,s:o,s:o,s:I,s:b}", "p", jreal(gg.p), "q", jreal(gg.q),
                                      "v", jreal(gg.v), "customers", (json_int_t)gg.customers,
                                      "at_bound", gg.at_bound));
        json_object_set_new(res, "new_customer_spend", jfen(hd_clv_gg_expected_spend(&gg, 0, 0)));
    } else {
        json_object_set_new(res, "gamma_gamma", json_null());
        json_object_set_new(res, "gamma_gamma_error", json_string(gerr.msg));
    }
    json_object_set_new(res, "expected_purchases", jreal(tot_exp));
    json_object_set_new(res, "clv_total", gg_ok ? jfen(tot_clv) : json_null());
    json_object_set_new(res, "clv_mean", gg_ok ? jreal(tot_clv / (double)n) : json_null());
    json_t *dist = json_object(), *ah = json_array();
    for (int b = 0; b < 10; b++)
        json_array_append_new(ah, json_pack("{s:o,s:o,s:I}", "from", jreal(b / 10.0), "to",
                                            jreal((b + 1) / 10.0), "customers",
                                            (json_int_t)alive_hist[b]));
    json_object_set_new(dist, "p_alive", ah);
    if (gg_ok) {
        qsort(vals, n, sizeof *vals, dbl_asc);
        static const struct {
            const char *name;
            double q;
        } qs[] = {{"p10", 0.1}, {"p25", 0.25}, {"p50", 0.5}, {"p75", 0.75},
                  {"p90", 0.9}, {"p99", 0.99}, {"max", 1}};
        json_t *cq = json_object();
        for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
            size_t at = (size_t)floor(qs[k].q * (double)(n - 1) + 0.5);
            json_object_set_new(cq, qs[k].name, jfen(vals[at]));
        }
        json_object_set_new(dist, "clv", cq);
    } else {
        json_object_set_new(dist, "clv", json_null());
    }
    json_object_set_new(res, "distribution", dist);
    for (size_t i = 0; i < n; i++) rk[i] = (ranked){sc[i].expected_purchases, i};
    json_object_set_new(res, "top_repurchasers", clv_list(s, sc, n, rk, gg_ok));
    /* slipping away: repeat buyers who are probably gone, most valuable first */
    for (size_t i = 0; i < n; i++)
        rk[i] = (ranked){s[i].x > 0 && sc[i].p_alive < 0.5 ? s[i].x * s[i].monetary : -1, i};
    json_object_set_new(res, "at_risk", clv_list(s, sc, n, rk, gg_ok));

    if (strcmp(p->key, "horizon=52&discount=0.1") == 0) {
        score_rows sr = {"customer_id, clv, p_alive, expected_purchases, clv_at",
                         "clv = excluded.clv, p_alive = excluded.p_alive, expected_purchases = "
                         "excluded.expected_purchases, clv_at = excluded.clv_at",
                         "UPDATE customer_scores SET clv = NULL, p_alive = NULL, "
                         "expected_purchases = NULL, clv_at = NULL WHERE clv_at IS NOT NULL AND "
                         "clv_at <> ?",
                         5,
                         n,
                         now,
                         clv_row,
                         s,
                         sc,
                         gg_ok};
        rc = write_scores(d, &sr, pr, 0.6, 0.95, err);
    }
done:
    if (rc) {
        json_decref(res);
        res = NULL;
    }
    *out = res;
    orders_free(&o);
    free(s);
    free(sc);
    free(rk);
    free(vals);
    return rc;
}

/* ---- baskets ---- */

typedef struct baskets {
    int64_t as_of_ms;
    bool sku;
    interner items;
    uint32_t *ids;
    size_t n, cap;
    size_t *starts; /* nb + 1 entries when done */
    size_t nb, starts_cap;
    size_t lines;
} baskets;

static void baskets_free(baskets *b) {
    interner_free(&b->items);
    free(b->ids);
    free(b->starts);
}

static hd_rc baskets_cb(hd_conn *c, void *vctx, hd_err *err) {
    baskets *b = vctx;
    interner_free(&b->items);
    b->n = b->nb = b->lines = 0;
    hd_val q = hd_vint(b->as_of_ms);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        b->sku ? "SELECT l.order_id, l.sku FROM order_lines l JOIN orders o ON "
                                 "o.order_id = l.order_id WHERE o.refunded_at IS NULL AND "
                                 "o.occurred_at <= ? ORDER BY l.order_id, l.line_no"
                               : "SELECT l.order_id, l.category FROM order_lines l JOIN orders o "
                                 "ON o.order_id = l.order_id WHERE o.refunded_at IS NULL AND "
                                 "o.occurred_at <= ? AND l.category <> '' ORDER BY l.order_id, "
                                 "l.line_no",
                        &q, 1, &r, err);
    if (rc) return rc;
    char cur[128] = "";
    bool any = false;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        size_t olen, ilen;
        const char *oid = hd_rows_text(r, 0, &olen);
        const char *item = hd_rows_text(r, 1, &ilen);
        if (!any || strlen(cur) != olen || memcmp(cur, oid, olen) != 0) {
            if (!grow((void **)&b->starts, &b->starts_cap, b->nb + 2, sizeof *b->starts)) break;
            b->starts[b->nb++] = b->n;
            snprintf(cur, sizeof cur, "%.*s", (int)olen, oid);
            any = true;
        }
        int64_t id = interner_add(&b->items, item, ilen);
        if (id < 0 || !grow((void **)&b->ids, &b->cap, b->n + 1, sizeof *b->ids)) break;
        b->ids[b->n++] = (uint32_t)id;
        b->lines++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 1) return oom(err);
    if (!grow((void **)&b->starts, &b->starts_cap, b->nb + 1, sizeof *b->starts)) return oom(err);
    b->starts[b->nb] = b->n;
    return HD_OK;
}

static void memo_clear(rules_memo *m) {
    hd_basket_rules_free(m->rules);
    interner_free(&m->items);
    memset(m, 0, sizeof *m);
}

/* The rules mined with these arguments, or NULL (under st->mu). */
static rules_memo *memo_find(an_state *st, const char *key) {
    for (int i = 0; i < MEMO_MAX; i++)
        if (st->memo[i].valid && strcmp(st->memo[i].key, key) == 0) return &st->memo[i];
    return NULL;
}

/* Where to keep rules for key: its own slot, else an empty or the oldest one. */
static rules_memo *memo_slot(an_state *st, const char *key) {
    rules_memo *m = memo_find(st, key);
    if (m) return m;
    for (int i = 0; i < MEMO_MAX; i++)
        if (!st->memo[i].valid) return &st->memo[i];
    m = &st->memo[0];
    for (int i = 1; i < MEMO_MAX; i++)
        if (st->memo[i].computed_at < m->computed_at) m = &st->memo[i];
    return m;
}

static json_t *rule_json(const hd_basket_rule *ru, const interner *items) {
    json_t *lhs = json_array();
    for (uint32_t k = 0; k < ru->lhs_len; k++)
        json_array_append_new(lhs, json_string(interner_name(items, ru->lhs[k])));
    return json_pack("{s:o,s:s,s:o,s:o,s:o,s:I}", "lhs", lhs, "rhs", interner_name(items, ru->rhs),
                     "support", jreal(ru->support), "confidence", jreal(ru->confidence), "lift",
                     jreal(ru->lift), "count", (json_int_t)ru->count);
}

static hd_rc run_baskets(hd_domain *d, const params *p, progress *pr, int64_t now, json_t **out,
                         hd_err *err) {
    baskets b = {.as_of_ms = now, .sku = p->item_sku};
    hd_basket_rules *rules = NULL;
    hd_rc rc = hd_store_read(d->store, baskets_cb, &b, err);
    if (!rc) rc = progress_set(pr, 0.4, err);
    if (rc) goto done;
    json_t *res = json_object(), *arr = json_array();
    json_object_set_new(res, "kind", json_string("baskets"));
    hd_json_set_time(res, "as_of", now, true);
    json_object_set_new(res, "item", json_string(p->item_sku ? "sku" : "category"));
    json_object_set_new(res, "min_support", jreal(p->min_support));
    json_object_set_new(res, "min_confidence", jreal(p->min_confidence));
    json_object_set_new(res, "baskets", json_integer((json_int_t)b.nb));
    json_object_set_new(res, "items", json_integer((json_int_t)b.items.n));
    if (b.nb > 0) {
        hd_basket_data data = {b.ids, b.starts, b.nb, b.items.n};
        hd_basket_params bp;
        hd_basket_params_init(&bp);
        bp.min_support = p->min_support;
        bp.min_confidence = p->min_confidence;
        bp.min_len = 2; /* rules with something on the left: what cross-sell needs */
        bp.rules_max = HD_ANALYTICS_RULES_MAX;
        rc = hd_basket_rules_mine(&data, &bp, &rules, err);
        if (rc == HD_ETOOBIG)
            rc = hd_err_set(err, HD_EINVAL, "min_support",
                            "too many rules at these thresholds (over %d): raise min_support or "
                            "min_confidence",
                            HD_ANALYTICS_RULES_MAX);
        if (rc) {
            json_decref(res);
            json_decref(arr);
            goto done;
        }
        for (size_t i = 0; i < rules->n && i < HD_ANALYTICS_RULES_KEPT; i++)
            json_array_append_new(arr, rule_json(&rules->rule[i], &b.items));
    }
    json_object_set_new(res, "rules_total", json_integer(rules ? (json_int_t)rules->n : 0));
    json_object_set_new(res, "rules", arr);
    *out = res;
    /* keep the rules for cross-sell on this node */
    an_state *st = state_of(d);
    if (st) {
        pthread_mutex_lock(&st->mu);
        rules_memo *m = memo_slot(st, p->key);
        memo_clear(m);
        m->valid = true;
        snprintf(m->key, sizeof m->key, "%s", p->key);
        m->computed_at = now;
        m->rules = rules;
        m->items = b.items;
        memset(&b.items, 0, sizeof b.items);
        rules = NULL;
        pthread_mutex_unlock(&st->mu);
    }
done:
    hd_basket_rules_free(rules);
    baskets_free(&b);
    return rc;
}

/* ---- ladder ---- */

typedef struct ladder_counts_ctx {
    const int64_t *ids;
    size_t n;
    int64_t lo, hi;
    hd_ladder_counts *counts;
} ladder_counts_ctx;

static hd_rc ladder_counts_in(hd_conn *c, ladder_counts_ctx *lc, hd_err *err) {
    hd_val q[3] = {hd_vint(lc->lo), hd_vint(lc->hi), hd_vtext("%\"reach\"%")};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id, type, count(*) FROM events WHERE occurred_at > ? AND "
                        "occurred_at <= ? GROUP BY customer_id, type",
                        q, 2, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = hd_analytics_index_of(lc->ids, lc->n, hd_rows_int(r, 0));
        if (i < 0) continue;
        size_t tl;
        const char *t = hd_rows_text(r, 1, &tl);
        hd_ladder_count_add(&lc->counts[i], hd_ladder_classify(t, tl), (uint64_t)hd_rows_int(r, 2));
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    /* reach: only events that carry one */
    rc = hd_query(c,
                  "SELECT customer_id, properties FROM events WHERE occurred_at > ? AND "
                  "occurred_at <= ? AND properties LIKE ?",
                  q, 3, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = hd_analytics_index_of(lc->ids, lc->n, hd_rows_int(r, 0));
        if (i < 0) continue;
        size_t pl;
        const char *pt = hd_rows_text(r, 1, &pl);
        json_t *props = hd_json_load(pt, pl);
        json_t *reach = json_object_get(props, "reach");
        if (json_is_number(reach) && json_number_value(reach) > lc->counts[i].reach)
            lc->counts[i].reach = json_number_value(reach);
        json_decref(props);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static int64_t window_lo(int64_t at_ms, const hd_ladder_thresholds *t) {
    return t->window_days ? at_ms - (int64_t)t->window_days * DAY_MS : TIME_MIN;
}

hd_rc hd_analytics_ladder_stages_in(hd_conn *c, const int64_t *ids, size_t n, int64_t at_ms,
                                    const hd_ladder_thresholds *t, uint8_t *stage, hd_err *err) {
    hd_ladder_counts *counts = calloc(n ? n : 1, sizeof *counts);
    if (!counts) return oom(err);
    ladder_counts_ctx lc = {ids, n, window_lo(at_ms, t), at_ms, counts};
    hd_rc rc = ladder_counts_in(c, &lc, err);
    if (!rc) rc = hd_ladder_stage_all(counts, n, t, stage, err);
    free(counts);
    return rc;
}

static const char *const LADDER_FIELDS[] = {"follower_follows",
                                            "curious_enquiries",
                                            "curious_views",
                                            "responder_participations",
                                            "spreader_conversions",
                                            "key_conversions",
                                            "key_reach",
                                            "window_days",
                                            NULL};

static uint32_t *ladder_field(hd_ladder_thresholds *t, int i) {
    uint32_t *const f[] = {&t->follower_follows,
                           &t->curious_enquiries,
                           &t->curious_views,
                           &t->responder_participations,
                           &t->spreader_conversions,
                           &t->key_conversions,
                           NULL,
                           &t->window_days};
    return f[i];
}

/* Applies the members of in to t; HD_EINVAL naming a bad one. */
static hd_rc thresholds_apply(const json_t *in, hd_ladder_thresholds *t, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the thresholds must be a JSON object");
    hd_rc rc = hd_json_only(in, LADDER_FIELDS, "ladder thresholds", err);
    if (rc) return rc;
    for (int i = 0; LADDER_FIELDS[i]; i++) {
        json_t *v = json_object_get(in, LADDER_FIELDS[i]);
        if (!v) continue;
        if (i == 6) {
            if (!json_is_number(v))
                return hd_err_set(err, HD_EINVAL, "key_reach", "must be a number >= 0");
            t->key_reach = json_number_value(v);
            continue;
        }
        if (!json_is_integer(v) || json_integer_value(v) < 0 ||
            json_integer_value(v) > HD_LADDER_THRESHOLD_MAX)
            return hd_err_set(err, HD_EINVAL, LADDER_FIELDS[i], "must be an integer from 0 to %d",
                              HD_LADDER_THRESHOLD_MAX);
        *ladder_field(t, i) = (uint32_t)json_integer_value(v);
    }
    return hd_ladder_thresholds_check(t, err);
}

static json_t *thresholds_json(hd_ladder_thresholds *t) {
    json_t *o = json_object();
    for (int i = 0; LADDER_FIELDS[i]; i++)
        json_object_set_new(o, LADDER_FIELDS[i],
                            i == 6 ? jreal(t->key_reach) : json_integer(*ladder_field(t, i)));
    return o;
}

hd_rc hd_analytics_ladder_thresholds_in(hd_conn *c, hd_ladder_thresholds *t, hd_err *err) {
    hd_ladder_thresholds_default(t);
    hd_val q = hd_vtext("ladder");
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT v FROM analytics_settings WHERE k = ?", &q, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        size_t n;
        const char *s = hd_rows_text(r, 0, &n);
        json_t *j = hd_json_load(s, n);
        hd_err ignore;
        hd_ladder_thresholds t2 = *t;
        if (thresholds_apply(j, &t2, &ignore) == HD_OK) *t = t2; /* checked when stored */
        json_decref(j);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

typedef struct ladder_run {
    const params *p;
    int64_t from, to;
    hd_ladder_thresholds t;
    int64_t *ids;
    int64_t *known; /* since when each customer is known */
    size_t n, cap;
    uint8_t *s0, *s1;
} ladder_run;

static hd_rc ladder_cb(hd_conn *c, void *vctx, hd_err *err) {
    ladder_run *lr = vctx;
    lr->n = 0;
    hd_rc rc = hd_analytics_ladder_thresholds_in(c, &lr->t, err);
    if (rc) return rc;
    hd_rows *r;
    rc = hd_query(c,
                  "SELECT id, created_at, first_seen FROM customers WHERE merged_into IS NULL "
                  "ORDER BY id",
                  NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (!grow_par(&lr->cap, lr->n + 1, (void **)&lr->ids, sizeof *lr->ids, (void **)&lr->known,
                      sizeof *lr->known, NULL, 0)) {
            hd_rows_free(r);
            return oom(err);
        }
        int64_t created = hd_rows_int(r, 1);
        int64_t first = hd_rows_isnull(r, 2) ? created : hd_rows_int(r, 2);
        lr->ids[lr->n] = hd_rows_int(r, 0);
        lr->known[lr->n] = first < created ? first : created;
        lr->n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    free(lr->s0);
    free(lr->s1);
    lr->s0 = malloc(lr->n ? lr->n : 1);
    lr->s1 = malloc(lr->n ? lr->n : 1);
    if (!lr->s0 || !lr->s1) return oom(err);
    if ((rc = hd_analytics_ladder_stages_in(c, lr->ids, lr->n, lr->from, &lr->t, lr->s0, err)) ||
        (rc = hd_analytics_ladder_stages_in(c, lr->ids, lr->n, lr->to, &lr->t, lr->s1, err)))
        return rc;
    for (size_t i = 0; i < lr->n; i++) {
        if (lr->known[i] > lr->from) lr->s0[i] = HD_LADDER_NONE;
        if (lr->known[i] > lr->to) lr->s1[i] = HD_LADDER_NONE;
    }
    return HD_OK;
}

static hd_rc run_ladder(hd_domain *d, const params *p, progress *pr, int64_t now, json_t **out,
                        hd_err *err) {
    ladder_run lr = {.p = p, .from = p->from_ms, .to = p->to_ms};
    if (p->ladder_relative) {
        lr.to = now;
        lr.from = now - LADDER_DEFAULT_DAYS * DAY_MS;
    }
    hd_ladder_moves m;
    hd_rc rc = hd_store_read(d->store, ladder_cb, &lr, err);
    if (!rc) rc = progress_set(pr, 0.8, err);
    if (!rc) rc = hd_ladder_moves_count(lr.s0, lr.s1, lr.n, &m, err);
    if (!rc) {
        json_t *res = json_object(), *stages = json_array(), *mx = json_array(),
               *keys = json_array(), *entered = json_array();
        json_object_set_new(res, "kind", json_string("ladder"));
        hd_json_set_time(res, "from", lr.from, true);
        hd_json_set_time(res, "to", lr.to, true);
        json_object_set_new(res, "thresholds", thresholds_json(&lr.t));
        json_object_set_new(res, "customers", json_integer((json_int_t)m.customers));
        for (int s = 0; s < HD_LADDER_STAGES; s++) {
            hd_ladder_stage st = (hd_ladder_stage)s;
            json_array_append_new(
                stages,
                json_pack("{s:s,s:i,s:o,s:I,s:o,s:I,s:I}", "key", hd_ladder_stage_key(st), "level",
                          s, "name", name_json(hd_ladder_stage_zh(st), hd_ladder_stage_en(st)),
                          "customers", (json_int_t)m.end[s], "share",
                          jreal(m.customers ? (double)m.end[s] / (double)m.customers : 0),
                          "at_start", (json_int_t)m.start[s], "entered", (json_int_t)m.entered[s]));
            json_array_append_new(keys, json_string(hd_ladder_stage_key(st)));
            json_array_append_new(entered, json_integer((json_int_t)m.entered[s]));
            json_t *row = json_array();
            for (int t = 0; t < HD_LADDER_STAGES; t++)
                json_array_append_new(row, json_integer((json_int_t)m.matrix[s][t]));
            json_array_append_new(mx, row);
        }
        json_object_set_new(res, "stages", stages);
        json_object_set_new(res, "moves",
                            json_pack("{s:o,s:o,s:o,s:I,s:I,s:I}", "stages", keys, "matrix", mx,
                                      "entered", entered, "up", (json_int_t)m.up, "down",
                                      (json_int_t)m.down, "same", (json_int_t)m.same));
        *out = res;
    }
    free(lr.ids);
    free(lr.known);
    free(lr.s0);
    free(lr.s1);
    return rc;
}

/* ---- computing and caching ---- */

static hd_rc compute(hd_domain *d, const params *p, progress *pr, json_t **out, hd_err *err) {
    *out = NULL;
    int64_t now = hd_now(d), t0 = hd_mono_ms();
    json_t *res = NULL;
    hd_rc rc;
    switch (p->kind) {
    case K_RFM: rc = run_rfm(d, p, pr, now, &res, err); break;
    case K_PARETO: rc = run_pareto(d, p, pr, now, &res, err); break;
    case K_CLV: rc = run_clv(d, p, pr, now, &res, err); break;
    case K_BASKETS: rc = run_baskets(d, p, pr, now, &res, err); break;
    case K_LADDER: rc = run_ladder(d, p, pr, now, &res, err); break;
    default: rc = hd_err_set(err, HD_EINTERNAL, "", "unknown kind");
    }
    if (rc) {
        json_decref(res);
        return rc;
    }
    int64_t dur = hd_mono_ms() - t0;
    hd_json_set_time(res, "computed_at", now, true);
    json_object_set_new(res, "duration_ms", json_integer(dur));
    cache_ctx cc = {.p = p, .computed_at = now, .put = res, .dur_ms = dur};
    rc = hd_store_write(d->store, cache_put_cb, &cc, err);
    if (!rc) rc = progress_set(pr, 1.0, err);
    if (rc) {
        json_decref(res);
        return rc;
    }
    *out = res;
    return HD_OK;
}

/* The answer as the client asked for it: baskets cut to the limit. */
static json_t *shape(const params *p, json_t *res) {
    if (p->kind == K_BASKETS) {
        json_t *rules = json_object_get(res, "rules");
        while (json_array_size(rules) > (size_t)p->limit)
            json_array_remove(rules, json_array_size(rules) - 1);
    }
    return res;
}

/* ---- jobs ---- */

typedef struct job_ctx {
    hd_domain *d;
    const params *p;
    bool scheduler; /* skip when any job for this was created within the freshness period */
    int64_t id;
    json_t *out;
} job_ctx;

static json_t *job_json(hd_domain *d, hd_rows *r) {
    /* id, kind, params, status, progress, error, created_at, started_at, finished_at,
     * updated_at */
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    const char *kind = hd_rows_text(r, 1, NULL);
    const char *key = hd_rows_text(r, 2, NULL);
    const char *status = hd_rows_text(r, 3, NULL);
    json_object_set_new(o, "kind", json_string(kind));
    json_object_set_new(o, "params", json_string(key));
    bool stale =
        strcmp(status, "running") == 0 && hd_rows_int(r, 9) < hd_now(d) - HD_ANALYTICS_STALE_JOB_MS;
    json_object_set_new(o, "status", json_string(stale ? "failed" : status));
    json_object_set_new(o, "progress", jreal(hd_rows_real(r, 4)));
    kind_t k;
    if (kind_parse(kind, &k)) {
        char url[KEY_MAX + 40];
        result_url(k, key, url, sizeof url);
        json_object_set_new(o, "result_url", json_string(url));
    }
    if (stale)
        json_object_set_new(o, "error", json_string("abandoned: the process running it stopped"));
    else
        json_object_set_new(
            o, "error", hd_rows_isnull(r, 5) ? json_null() : json_string(hd_rows_text(r, 5, NULL)));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 6), true);
    hd_json_set_time(o, "started_at", hd_rows_int(r, 7), !hd_rows_isnull(r, 7));
    hd_json_set_time(o, "finished_at", hd_rows_int(r, 8), !hd_rows_isnull(r, 8));
    return o;
}

#define JOB_COLS                                                                                   \
    "SELECT id, kind, params, status, progress, error, created_at, started_at, finished_at, "      \
    "updated_at FROM analytics_jobs "

static hd_rc job_load(hd_conn *c, hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    hd_val q = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, JOB_COLS "WHERE id = ?", &q, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) *out = job_json(d, r);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no job %lld", (long long)id);
    return HD_OK;
}

static hd_rc enqueue_cb(hd_conn *c, void *vctx, hd_err *err) {
    job_ctx *jc = vctx;
    json_decref(jc->out);
    jc->out = NULL;
    int64_t now = hd_now(jc->d);
    hd_val q[6] = {hd_vtext(KIND_NAMES[jc->p->kind]), hd_vtext(jc->p->key),
                   hd_vint(now - HD_ANALYTICS_STALE_JOB_MS), hd_vint(jc->scheduler ? 1 : 0),
                   hd_vint(now - HD_ANALYTICS_FRESH_MS)};
    int64_t id = 0;
    hd_rc rc = hd_query_int(c,
                            "SELECT id FROM analytics_jobs WHERE kind = ? AND params = ? AND "
                            "((status IN ('queued', 'running') AND updated_at >= ?) OR (? = 1 AND "
                            "created_at >= ?)) ORDER BY created_at DESC LIMIT 1",
                            q, 5, &id, err);
    if (rc == HD_ENOTFOUND) {
        hd_err_clear(err);
        id = hd_id_next(jc->d->ids);
        hd_val ins[6] = {hd_vint(id), hd_vtext(KIND_NAMES[jc->p->kind]), hd_vtext(jc->p->key),
                         hd_vint(now), hd_vint(now)};
        rc = hd_exec(c,
                     "INSERT INTO analytics_jobs (id, kind, params, status, progress, created_at, "
                     "updated_at) VALUES (?, ?, ?, 'queued', 0, ?, ?)",
                     ins, 5, NULL, err);
    }
    if (rc) return rc;
    jc->id = id;
    return job_load(c, jc->d, id, &jc->out, err);
}

static void *worker_main(void *arg);

/* Starts the worker if needed and wakes it. */
static void kick(an_state *st) {
    pthread_mutex_lock(&st->mu);
    if (!st->started && !atomic_load(&st->stop)) {
        if (pthread_create(&st->thread, NULL, worker_main, st) == 0) st->started = true;
    }
    st->kicked = true;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
}

static hd_rc enqueue(hd_domain *d, const params *p, bool scheduler, json_t **out, hd_err *err) {
    job_ctx jc = {d, p, scheduler, 0, NULL};
    hd_rc rc = hd_store_write(d->store, enqueue_cb, &jc, err);
    if (rc) {
        json_decref(jc.out);
        return rc;
    }
    an_state *st = state_of(d);
    if (st) kick(st);
    if (out)
        *out = jc.out;
    else
        json_decref(jc.out);
    return HD_OK;
}

typedef struct claim_ctx {
    hd_domain *d;
    int64_t id;
    char kind[16];
    char key[KEY_MAX];
    bool claimed;
} claim_ctx;

static hd_rc peek_cb(hd_conn *c, void *vctx, hd_err *err) {
    claim_ctx *cc = vctx;
    cc->id = 0;
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id, kind, params FROM analytics_jobs WHERE status = 'queued' ORDER "
                        "BY created_at, id LIMIT 1",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        cc->id = hd_rows_int(r, 0);
        snprintf(cc->kind, sizeof cc->kind, "%s", hd_rows_text(r, 1, NULL));
        snprintf(cc->key, sizeof cc->key, "%s", hd_rows_text(r, 2, NULL));
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc claim_cb(hd_conn *c, void *vctx, hd_err *err) {
    claim_ctx *cc = vctx;
    int64_t now = hd_now(cc->d), changed = 0;
    hd_val q[3] = {hd_vint(now), hd_vint(now), hd_vint(cc->id)};
    hd_rc rc = hd_exec(c,
                       "UPDATE analytics_jobs SET status = 'running', started_at = ?, "
                       "updated_at = ? WHERE id = ? AND status = 'queued'",
                       q, 3, &changed, err);
    cc->claimed = !rc && changed == 1;
    return rc;
}

typedef struct finish_ctx {
    int64_t id;
    const char *status;
    const char *error;
    int64_t now;
} finish_ctx;

static hd_rc finish_cb(hd_conn *c, void *vctx, hd_err *err) {
    finish_ctx *fc = vctx;
    if (strcmp(fc->status, "queued") == 0) {
        hd_val q[2] = {hd_vint(fc->now), hd_vint(fc->id)};
        return hd_exec(c,
                       "UPDATE analytics_jobs SET status = 'queued', progress = 0, started_at = "
                       "NULL, updated_at = ? WHERE id = ?",
                       q, 2, NULL, err);
    }
    bool done = strcmp(fc->status, "done") == 0;
    hd_val q[6] = {
        hd_vtext(fc->status), hd_vint(done ? 1 : 0), fc->error ? hd_vtext(fc->error) : hd_vnull(),
        hd_vint(fc->now),     hd_vint(fc->now),      hd_vint(fc->id)};
    return hd_exec(c,
                   "UPDATE analytics_jobs SET status = ?, progress = CASE WHEN ? = 1 THEN 1 ELSE "
                   "progress END, error = ?, finished_at = ?, updated_at = ? WHERE id = ?",
                   q, 6, NULL, err);
}

static void run_job(an_state *st, const claim_ctx *cc) {
    hd_domain *d = st->d;
    hd_err err;
    hd_err_clear(&err);
    kind_t k;
    params p;
    json_t *res = NULL;
    hd_rc rc;
    if (!kind_parse(cc->kind, &k))
        rc = hd_err_set(&err, HD_EINVAL, "kind", "unknown kind '%s'", cc->kind);
    else
        rc = params_from_key(d, k, cc->key, &p, &err);
    if (!rc) {
        progress pr = {d, st, cc->id, 0};
        rc = compute(d, &p, &pr, &res, &err);
    }
    json_decref(res);
    finish_ctx fc = {cc->id, "done", NULL, hd_now(d)};
    if (rc && atomic_load(&st->stop)) {
        fc.status = "queued"; /* another process finishes it */
    } else if (rc) {
        fc.status = "failed";
        fc.error = err.msg;
    }
    hd_err ferr;
    hd_store_write(d->store, finish_cb, &fc, &ferr);
}

static void *worker_main(void *arg) {
    an_state *st = arg;
    while (!atomic_load(&st->stop)) {
        claim_ctx cc = {.d = st->d};
        hd_err err;
        hd_rc rc = hd_store_read(st->d->store, peek_cb, &cc, &err);
        if (!rc && cc.id) {
            rc = hd_store_write(st->d->store, claim_cb, &cc, &err);
            if (!rc && cc.claimed) run_job(st, &cc);
            if (!rc) continue; /* done, or another process took it: look again */
        }
        /* nothing queued, or the store is failing: wait for a kick or the next poll */
        pthread_mutex_lock(&st->mu);
        if (!st->kicked && !atomic_load(&st->stop)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += WORKER_POLL_S;
            pthread_cond_timedwait(&st->cv, &st->mu, &ts);
        }
        st->kicked = false;
        pthread_mutex_unlock(&st->mu);
    }
    return NULL;
}

/* ---- the scheduled refresh ---- */

typedef struct stale_ctx {
    int64_t before;
    char (*kinds)[16];
    char (*keys)[KEY_MAX];
    int64_t *at;
    size_t n, cap;
    int64_t queued, old_jobs;
} stale_ctx;

static hd_rc stale_cb(hd_conn *c, void *vctx, hd_err *err) {
    stale_ctx *sc = vctx;
    sc->n = 0;
    hd_val q = hd_vint(sc->before);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT kind, params, computed_at FROM analytics_cache WHERE computed_at "
                        "< ?",
                        &q, 1, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (!grow_par(&sc->cap, sc->n + 1, (void **)&sc->kinds, sizeof *sc->kinds,
                      (void **)&sc->keys, sizeof *sc->keys, (void **)&sc->at, sizeof *sc->at))
            break;
        sc->at[sc->n] = hd_rows_int(r, 2);
        snprintf(sc->kinds[sc->n], sizeof sc->kinds[0], "%s", hd_rows_text(r, 0, NULL));
        snprintf(sc->keys[sc->n], sizeof sc->keys[0], "%s", hd_rows_text(r, 1, NULL));
        sc->n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if ((rc = hd_query_int(c, "SELECT count(*) FROM analytics_jobs WHERE status = 'queued'", NULL,
                           0, &sc->queued, err)))
        return rc;
    hd_val old = hd_vint(sc->before - JOBS_KEEP_MS);
    return hd_query_int(c, "SELECT count(*) FROM analytics_jobs WHERE finished_at < ?", &old, 1,
                        &sc->old_jobs, err);
}

static hd_rc drop_cb(hd_conn *c, void *vctx, hd_err *err) {
    const params *p = vctx;
    hd_val q[2] = {hd_vtext(KIND_NAMES[p->kind]), hd_vtext(p->key)};
    return hd_exec(c, "DELETE FROM analytics_cache WHERE kind = ? AND params = ?", q, 2, NULL, err);
}

static hd_rc prune_cb(hd_conn *c, void *vctx, hd_err *err) {
    hd_val q = hd_vint(*(int64_t *)vctx);
    return hd_exec(c, "DELETE FROM analytics_jobs WHERE finished_at < ?", &q, 1, NULL, err);
}

static hd_rc schedule_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    an_state *st = arg;
    pthread_mutex_lock(&st->mu);
    bool due =
        !st->checked || now_ms - st->last_check_ms >= CHECK_EVERY_MS || now_ms < st->last_check_ms;
    if (due) {
        st->checked = true;
        st->last_check_ms = now_ms;
    }
    pthread_mutex_unlock(&st->mu);
    if (!due) return HD_OK;
    stale_ctx sc = {.before = now_ms - HD_ANALYTICS_FRESH_MS};
    hd_rc rc = hd_store_read(d->store, stale_cb, &sc, err);
    /* results with the default arguments are kept fresh; others (a basket threshold or a
     * ladder period someone asked for once) are dropped after CACHE_KEEP_MS */
    for (size_t i = 0; !rc && i < sc.n; i++) {
        kind_t k;
        params p, def;
        hd_err perr;
        hd_analytics_query none = {0};
        if (!kind_parse(sc.kinds[i], &k) || params_from_key(d, k, sc.keys[i], &p, &perr) ||
            parse_params(d, k, &none, &def, &perr))
            continue;
        if (strcmp(p.key, def.key) == 0)
            rc = enqueue(d, &p, true, NULL, err);
        else if (sc.at[i] < now_ms - CACHE_KEEP_MS)
            rc = hd_store_write(d->store, drop_cb, &p, err);
    }
    if (!rc && sc.queued > 0) kick(st);
    if (!rc && sc.old_jobs > 0) {
        int64_t before = sc.before - JOBS_KEEP_MS;
        rc = hd_store_write(d->store, prune_cb, &before, err);
    }
    free(sc.kinds);
    free(sc.keys);
    free(sc.at);
    return rc;
}

/* ---- the public calls ---- */

static hd_rc count_customers_cb(hd_conn *c, void *vctx, hd_err *err) {
    return hd_query_int(c, "SELECT count(*) FROM customers WHERE merged_into IS NULL", NULL, 0,
                        vctx, err);
}

/* Inline for a small base, else a job (*status 202, *out the job). */
static hd_rc compute_or_queue(hd_domain *d, const params *p, int *status, json_t **out,
                              hd_err *err) {
    int64_t customers = 0;
    hd_rc rc = hd_store_read(d->store, count_customers_cb, &customers, err);
    if (rc) return rc;
    if (customers < HD_ANALYTICS_INLINE_MAX) {
        *status = 200;
        return compute(d, p, NULL, out, err);
    }
    *status = 202;
    return enqueue(d, p, false, out, err);
}

hd_rc hd_analytics_get(hd_domain *d, const char *kind, const hd_analytics_query *q, int *status,
                       json_t **out, hd_err *err) {
    *out = NULL;
    kind_t k;
    if (!kind_parse(kind, &k))
        return hd_err_set(err, HD_ENOTFOUND, "kind", "no analytics '%s'", kind ? kind : "");
    params p;
    hd_rc rc = parse_params(d, k, q, &p, err);
    if (rc) return rc;
    cache_ctx cc = {.p = &p};
    rc = hd_store_read(d->store, cache_get_cb, &cc, err);
    if (rc) {
        free(cc.result);
        return rc;
    }
    int64_t now = hd_now(d);
    if (cc.found && cc.computed_at >= now - HD_ANALYTICS_FRESH_MS && cc.computed_at <= now) {
        json_t *res = json_loads(cc.result, 0, NULL);
        free(cc.result);
        if (res) {
            *status = 200;
            *out = shape(&p, res);
            return HD_OK;
        }
    } else {
        free(cc.result);
    }
    rc = compute_or_queue(d, &p, status, out, err);
    if (!rc && *status == 200) *out = shape(&p, *out);
    return rc;
}

hd_rc hd_analytics_refresh(hd_domain *d, const char *kind, const hd_analytics_query *q,
                           json_t **out, hd_err *err) {
    *out = NULL;
    kind_t k;
    if (!kind_parse(kind, &k))
        return hd_err_set(err, HD_ENOTFOUND, "kind", "no analytics '%s'", kind ? kind : "");
    params p;
    hd_rc rc = parse_params(d, k, q, &p, err);
    if (rc) return rc;
    return enqueue(d, &p, false, out, err);
}

typedef struct get_ctx {
    hd_domain *d;
    int64_t id;
    json_t *out;
} get_ctx;

static hd_rc job_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    get_ctx *g = vctx;
    json_decref(g->out);
    g->out = NULL;
    return job_load(c, g->d, g->id, &g->out, err);
}

hd_rc hd_analytics_job_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    get_ctx g = {d, id, NULL};
    hd_rc rc = hd_store_read(d->store, job_get_cb, &g, err);
    if (rc) {
        json_decref(g.out);
        return rc;
    }
    *out = g.out;
    return HD_OK;
}

/* ---- recommendations ---- */

typedef struct owned_ctx {
    int64_t id;
    bool sku;
    char **names;
    size_t n, cap;
} owned_ctx;

static void owned_free(owned_ctx *o) {
    for (size_t i = 0; i < o->n; i++) free(o->names[i]);
    free(o->names);
    o->names = NULL;
    o->n = o->cap = 0;
}

static hd_rc owned_cb(hd_conn *c, void *vctx, hd_err *err) {
    owned_ctx *o = vctx;
    owned_free(o);
    int64_t id = o->id;
    hd_rc rc = hd_customer_follow(c, o->id, &id, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_ENOTFOUND, "id", "no customer %lld", (long long)o->id);
    if (rc) return rc;
    o->id = id;
    hd_val q = hd_vint(id);
    hd_rows *r;
    rc = hd_query(c,
                  o->sku ? "SELECT DISTINCT l.sku FROM order_lines l JOIN orders o ON o.order_id = "
                           "l.order_id WHERE l.customer_id = ? AND o.refunded_at IS NULL"
                         : "SELECT DISTINCT l.category FROM order_lines l JOIN orders o ON "
                           "o.order_id = l.order_id WHERE l.customer_id = ? AND o.refunded_at IS "
                           "NULL AND l.category <> ''",
                  &q, 1, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1 && o->n < HD_BASKET_OWNED_MAX) {
        if (!grow((void **)&o->names, &o->cap, o->n + 1, sizeof *o->names)) break;
        if (!(o->names[o->n] = strdup(hd_rows_text(r, 0, NULL)))) break;
        o->n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 1 && o->n < HD_BASKET_OWNED_MAX) return oom(err);
    return HD_OK;
}

hd_rc hd_analytics_recommendations(hd_domain *d, int64_t customer_id, const hd_analytics_query *q,
                                   int limit, int *status, json_t **out, hd_err *err) {
    *out = NULL;
    an_state *st = state_of(d);
    if (!st) return hd_err_set(err, HD_EINTERNAL, "", "analytics is not initialised");
    params p;
    hd_rc rc = parse_params(d, K_BASKETS, q, &p, err);
    if (rc) return rc;
    if (limit < 1 || limit > HD_ANALYTICS_RECS_MAX) limit = 10;
    owned_ctx o = {.id = customer_id, .sku = p.item_sku};
    if ((rc = hd_store_read(d->store, owned_cb, &o, err))) goto done;
    int64_t now = hd_now(d);
    pthread_mutex_lock(&st->mu);
    rules_memo *have = memo_find(st, p.key);
    if (have && have->computed_at < now - HD_ANALYTICS_FRESH_MS) have = NULL;
    pthread_mutex_unlock(&st->mu);
    if (!have) {
        json_t *res = NULL;
        rc = compute_or_queue(d, &p, status, &res, err);
        if (rc || *status == 202) {
            *out = res;
            goto done;
        }
        json_decref(res);
    }
    pthread_mutex_lock(&st->mu);
    rules_memo *m = memo_find(st, p.key);
    if (!m) {
        /* pushed out by rules with other arguments meanwhile */
        pthread_mutex_unlock(&st->mu);
        rc = hd_err_set(err, HD_EBUSY, "", "the rules changed while answering; retry");
        goto done;
    }
    uint32_t *ids = malloc((o.n ? o.n : 1) * sizeof *ids);
    hd_basket_suggestion *sug = malloc((size_t)limit * sizeof *sug);
    size_t nids = 0, ns = 0;
    if (!ids || !sug) {
        rc = oom(err);
    } else {
        for (size_t i = 0; i < o.n; i++) {
            int64_t id = interner_find(&m->items, o.names[i], strlen(o.names[i]));
            if (id >= 0) ids[nids++] = (uint32_t)id;
        }
        if (m->rules)
            rc = hd_basket_cross_sell(m->rules, ids, nids, HD_BASKET_RANK_CONFIDENCE, sug,
                                      (size_t)limit, &ns, err);
    }
    if (!rc) {
        json_t *res = json_object(), *owned = json_array(), *recs = json_array();
        hd_json_set_id(res, "customer_id", o.id);
        json_object_set_new(res, "item", json_string(p.item_sku ? "sku" : "category"));
        json_object_set_new(res, "min_support", jreal(p.min_support));
        json_object_set_new(res, "min_confidence", jreal(p.min_confidence));
        hd_json_set_time(res, "rules_computed_at", m->computed_at, true);
        for (size_t i = 0; i < o.n; i++) json_array_append_new(owned, json_string(o.names[i]));
        json_object_set_new(res, "bought", owned);
        for (size_t i = 0; i < ns; i++) {
            const hd_basket_rule *ru = &m->rules->rule[sug[i].rule];
            json_t *because = json_array();
            for (uint32_t k = 0; k < ru->lhs_len; k++)
                json_array_append_new(because, json_string(interner_name(&m->items, ru->lhs[k])));
            json_array_append_new(recs,
                                  json_pack("{s:s,s:o,s:o,s:I,s:o}", "item",
                                            interner_name(&m->items, sug[i].item), "confidence",
                                            jreal(sug[i].confidence), "lift", jreal(sug[i].lift),
                                            "count", (json_int_t)sug[i].count, "because", because));
        }
        json_object_set_new(res, "recommendations", recs);
        *status = 200;
        *out = res;
    }
    pthread_mutex_unlock(&st->mu);
    free(ids);
    free(sug);
done:
    owned_free(&o);
    return rc;
}

/* ---- one customer ---- */

typedef struct cust_ctx {
    hd_domain *d;
    int64_t id;
    json_t *out;
} cust_ctx;

static hd_rc customer_cb(hd_conn *c, void *vctx, hd_err *err) {
    cust_ctx *cc = vctx;
    json_decref(cc->out);
    json_t *o = cc->out = json_object();
    hd_val q = hd_vint(cc->id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT rfm_r, rfm_f, rfm_m, rfm_segment, rfm_at, clv, p_alive, "
                        "expected_purchases, clv_at FROM customer_scores WHERE customer_id = ?",
                        &q, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    json_t *rfm = json_null(), *clv = json_null(), *alive = json_null(), *exp = json_null();
    bool clv_at = false;
    int64_t clv_t = 0;
    if (got == 1) {
        if (!hd_rows_isnull(r, 4)) {
            const char *key = hd_rows_text(r, 3, NULL);
            const char *zh = "", *en = "";
            for (int s = 0; s < HD_RFM_SEGMENTS; s++)
                if (strcmp(key, hd_rfm_segment_key((hd_rfm_segment)s)) == 0) {
                    zh = hd_rfm_segment_zh((hd_rfm_segment)s);
                    en = hd_rfm_segment_en((hd_rfm_segment)s);
                }
            json_decref(rfm);
            rfm = json_pack("{s:I,s:I,s:I,s:s,s:o}", "r", (json_int_t)hd_rows_int(r, 0), "f",
                            (json_int_t)hd_rows_int(r, 1), "m", (json_int_t)hd_rows_int(r, 2),
                            "segment", key, "name", name_json(zh, en));
            hd_json_set_time(rfm, "computed_at", hd_rows_int(r, 4), true);
        }
        if (!hd_rows_isnull(r, 8)) {
            clv_at = true;
            clv_t = hd_rows_int(r, 8);
            if (!hd_rows_isnull(r, 5)) {
                json_decref(clv);
                clv = jfen(hd_rows_real(r, 5));
            }
            if (!hd_rows_isnull(r, 6)) {
                json_decref(alive);
                alive = jreal(hd_rows_real(r, 6));
            }
            if (!hd_rows_isnull(r, 7)) {
                json_decref(exp);
                exp = jreal(hd_rows_real(r, 7));
            }
        }
    }
    hd_rows_free(r);
    json_object_set_new(o, "rfm", rfm);
    json_object_set_new(o, "clv", clv);
    json_object_set_new(o, "p_alive", alive);
    json_object_set_new(o, "expected_purchases", exp);
    hd_json_set_time(o, "clv_computed_at", clv_t, clv_at);
    if (got < 0) return err->rc;

    hd_ladder_thresholds t;
    if ((rc = hd_analytics_ladder_thresholds_in(c, &t, err))) return rc;
    int64_t now = hd_now(cc->d);
    hd_val lq[4] = {hd_vint(cc->id), hd_vint(window_lo(now, &t)), hd_vint(now),
                    hd_vtext("%\"reach\"%")};
    hd_ladder_counts counts = {0};
    rc = hd_query(c,
                  "SELECT type, count(*) FROM events WHERE customer_id = ? AND occurred_at > ? "
                  "AND occurred_at <= ? GROUP BY type",
                  lq, 3, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        size_t tl;
        const char *ty = hd_rows_text(r, 0, &tl);
        hd_ladder_count_add(&counts, hd_ladder_classify(ty, tl), (uint64_t)hd_rows_int(r, 1));
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    rc = hd_query(c,
                  "SELECT properties FROM events WHERE customer_id = ? AND occurred_at > ? AND "
                  "occurred_at <= ? AND properties LIKE ?",
                  lq, 4, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        size_t pl;
        const char *pt = hd_rows_text(r, 0, &pl);
        json_t *props = hd_json_load(pt, pl);
        json_t *reach = json_object_get(props, "reach");
        if (json_is_number(reach) && json_number_value(reach) > counts.reach)
            counts.reach = json_number_value(reach);
        json_decref(props);
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    hd_ladder_stage s = hd_ladder_stage_of(&counts, &t);
    json_object_set_new(o, "ladder",
                        json_pack("{s:s,s:i,s:o}", "stage", hd_ladder_stage_key(s), "level", (int)s,
                                  "name", name_json(hd_ladder_stage_zh(s), hd_ladder_stage_en(s))));
    return HD_OK;
}

hd_rc hd_analytics_customer(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err) {
    cust_ctx cc = {d, customer_id, NULL};
    hd_rc rc = hd_store_read(d->store, customer_cb, &cc, err);
    if (rc) {
        json_decref(cc.out);
        *out = NULL;
        return rc;
    }
    *out = cc.out;
    return HD_OK;
}

/* ---- ladder thresholds ---- */

typedef struct thr_ctx {
    hd_domain *d;
    const json_t *in;
    hd_ladder_thresholds t;
} thr_ctx;

static hd_rc thr_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    thr_ctx *tc = vctx;
    return hd_analytics_ladder_thresholds_in(c, &tc->t, err);
}

static hd_rc thr_put_cb(hd_conn *c, void *vctx, hd_err *err) {
    thr_ctx *tc = vctx;
    hd_rc rc = hd_analytics_ladder_thresholds_in(c, &tc->t, err);
    if (!rc) rc = thresholds_apply(tc->in, &tc->t, err);
    if (rc) return rc;
    json_t *j = thresholds_json(&tc->t);
    char *text = hd_json_dump(j);
    json_decref(j);
    if (!text) return oom(err);
    hd_val q[3] = {hd_vtext("ladder"), hd_vtext(text), hd_vint(hd_now(tc->d))};
    rc = hd_exec(c,
                 "INSERT INTO analytics_settings (k, v, updated_at) VALUES (?, ?, ?) ON CONFLICT "
                 "(k) DO UPDATE SET v = excluded.v, updated_at = excluded.updated_at",
                 q, 3, NULL, err);
    free(text);
    if (!rc)
        rc = hd_exec(c, "DELETE FROM analytics_cache WHERE kind = 'ladder'", NULL, 0, NULL, err);
    return rc;
}

hd_rc hd_analytics_ladder_thresholds_get(hd_domain *d, json_t **out, hd_err *err) {
    thr_ctx tc = {d, NULL, {0}};
    hd_rc rc = hd_store_read(d->store, thr_get_cb, &tc, err);
    if (!rc) *out = thresholds_json(&tc.t);
    return rc;
}

hd_rc hd_analytics_ladder_thresholds_put(hd_domain *d, const json_t *in, json_t **out,
                                         hd_err *err) {
    hd_ladder_thresholds scratch;
    hd_ladder_thresholds_default(&scratch);
    hd_rc rc = thresholds_apply(in, &scratch, err); /* validate before the transaction */
    if (rc) return rc;
    thr_ctx tc = {d, in, {0}};
    rc = hd_store_write(d->store, thr_put_cb, &tc, err);
    if (!rc) *out = thresholds_json(&tc.t);
    return rc;
}

/* ---- lifecycle ---- */

static hd_rc on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                      hd_err *err) {
    hd_val q = hd_vint(loser);
    return hd_exec(c, "DELETE FROM customer_scores WHERE customer_id = ?", &q, 1, NULL, err);
}

hd_rc hd_analytics_init(hd_domain *d, hd_err *err) {
    an_state *st = calloc(1, sizeof *st);
    if (!st) return oom(err);
    st->d = d;
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->cv, NULL);
    atomic_init(&st->stop, false);
    hd_rc rc = hd_domain_add_job(d, "analytics", schedule_job, st, err);
    if (rc) {
        pthread_mutex_destroy(&st->mu);
        pthread_cond_destroy(&st->cv);
        free(st);
        return rc;
    }
    return hd_domain_add_merge_hook(d, on_merge, NULL, err);
}

void hd_analytics_close(hd_domain *d) {
    an_state *st = state_of(d);
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    atomic_store(&st->stop, true);
    bool started = st->started;
    pthread_cond_signal(&st->cv);
    pthread_mutex_unlock(&st->mu);
    if (started) pthread_join(st->thread, NULL);
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i].fn == schedule_job) d->jobs[i].arg = NULL;
    for (int i = 0; i < MEMO_MAX; i++) memo_clear(&st->memo[i]);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->cv);
    free(st);
}
