/* segments.c - saved segments: storage, bulk column loaders (one grouped query per
 * field), evaluation over the whole base, member pages and CSV export. */
#include "domain/segments.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/ladder.h"
#include "analytics/rfm.h"
#include "analytics/segment.h"
#include "base/buf.h"
#include "domain/analytics_api.h"

#define DAY_MS       86400000LL
#define CHUNK        (64 * 1024)
#define NAMES_PER_IN 64 /* parameters per statement the PostgreSQL store takes */
#define TIME_MIN     (-(INT64_C(1) << 62))

static hd_rc oom(hd_err *err) { return hd_err_set(err, HD_ENOMEM, "", "out of memory"); }

/* ---- an arena for the strings and lists the columns point into ---- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} chunk;

typedef struct arena {
    chunk *head;
} arena;

static void *arena_alloc(arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    chunk *c = a->head;
    if (!c || c->cap - c->used < n) {
        size_t cap = n > CHUNK ? n : CHUNK;
        chunk *nc = malloc(sizeof *nc + cap);
        if (!nc) return NULL;
        nc->next = c;
        nc->used = 0;
        nc->cap = cap;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(arena *a) {
    for (chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    a->head = NULL;
}

static const char *arena_str(arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- a string dictionary for DICT columns ---- */

typedef struct dict {
    hd_expr_val *vals;
    uint32_t n, cap;
    uint32_t *slots; /* index + 1 */
    size_t nslots;
} dict;

static uint64_t fnv(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

/* Code of s, adding it; UINT32_MAX when out of memory. */
static uint32_t dict_code(dict *dc, arena *a, const char *s, size_t n) {
    if ((size_t)dc->n * 2 >= dc->nslots) {
        size_t ns = dc->nslots ? dc->nslots * 2 : 64;
        uint32_t *sl = calloc(ns, sizeof *sl);
        if (!sl) return UINT32_MAX;
        for (uint32_t i = 0; i < dc->n; i++) {
            size_t h = (size_t)fnv(dc->vals[i].u.s, dc->vals[i].len) & (ns - 1);
            while (sl[h]) h = (h + 1) & (ns - 1);
            sl[h] = i + 1;
        }
        free(dc->slots);
        dc->slots = sl;
        dc->nslots = ns;
    }
    size_t h = (size_t)fnv(s, n) & (dc->nslots - 1);
    while (dc->slots[h]) {
        const hd_expr_val *v = &dc->vals[dc->slots[h] - 1];
        if (v->len == n && memcmp(v->u.s, s, n) == 0) return dc->slots[h] - 1;
        h = (h + 1) & (dc->nslots - 1);
    }
    if (dc->n == dc->cap) {
        uint32_t nc = dc->cap ? dc->cap * 2 : 16;
        hd_expr_val *nv = realloc(dc->vals, nc * sizeof *nv);
        if (!nv) return UINT32_MAX;
        dc->vals = nv;
        dc->cap = nc;
    }
    const char *copy = arena_str(a, s, n);
    if (!copy) return UINT32_MAX;
    dc->vals[dc->n] = hd_expr_str(copy, n);
    dc->slots[h] = dc->n + 1;
    return dc->n++;
}

/* ---- the base: every live customer and one column per field ---- */

typedef struct base {
    hd_domain *d;
    const hd_segment *seg;
    int64_t now;
    size_t n, cap;
    int64_t *ids; /* ascending */
    int nf;
    hd_segment_col *cols;
    void **owned; /* arrays behind the columns */
    int nowned, owned_cap;
    dict *dicts; /* one per field (unused ones stay empty) */
    arena a;
} base;

static void base_free(base *b) {
    free(b->ids);
    free(b->cols);
    for (int i = 0; i < b->nowned; i++) free(b->owned[i]);
    free(b->owned);
    for (int i = 0; b->dicts && i < b->nf; i++) {
        free(b->dicts[i].vals);
        free(b->dicts[i].slots);
    }
    free(b->dicts);
    arena_free(&b->a);
    memset(b, 0, sizeof *b);
}

/* calloc'd array kept until base_free. */
static void *own(base *b, size_t n, size_t size) {
    if (b->nowned == b->owned_cap) {
        int nc = b->owned_cap ? b->owned_cap * 2 : 16;
        void **no = realloc(b->owned, (size_t)nc * sizeof *no);
        if (!no) return NULL;
        b->owned = no;
        b->owned_cap = nc;
    }
    void *p = calloc(n ? n : 1, size);
    if (p) b->owned[b->nowned++] = p;
    return p;
}

static int64_t idx(const base *b, int64_t id) { return hd_analytics_index_of(b->ids, b->n, id); }

static hd_rc load_ids(hd_conn *c, base *b, hd_err *err) {
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT id FROM customers WHERE merged_into IS NULL ORDER BY id", NULL,
                        0, &r, err);
    if (rc) return rc;
    int got;
    b->n = 0;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (b->n == b->cap) {
            size_t nc = b->cap ? b->cap * 2 : 4096;
            int64_t *ni = realloc(b->ids, nc * sizeof *ni);
            if (!ni) {
                hd_rows_free(r);
                return oom(err);
            }
            b->ids = ni;
            b->cap = nc;
        }
        b->ids[b->n++] = hd_rows_int(r, 0);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

/* An INT or REAL column from "SELECT customer_id, value ..." (NULL values stay null);
 * rows of unknown customers are skipped. def_zero: customers without a row get 0. */
static hd_rc num_col(hd_conn *c, base *b, int k, const char *sql, const hd_val *q, int nq,
                     bool real, bool def_zero, hd_err *err) {
    hd_segment_col *col = &b->cols[k];
    int64_t *iv = NULL;
    double *dv = NULL;
    uint8_t *present = NULL;
    if (real ? !(dv = own(b, b->n, sizeof *dv)) : !(iv = own(b, b->n, sizeof *iv))) return oom(err);
    if (!def_zero && !(present = own(b, b->n, 1))) return oom(err);
    *col = real ? (hd_segment_col){.kind = HD_SEG_COL_REAL, .d = dv, .present = present}
                : (hd_segment_col){.kind = HD_SEG_COL_INT, .i = iv, .present = present};
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, q, nq, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = idx(b, hd_rows_int(r, 0));
        if (i < 0 || hd_rows_isnull(r, 1)) continue;
        if (real)
            dv[i] = hd_rows_real(r, 1);
        else
            iv[i] = hd_rows_int(r, 1);
        if (present) present[i] = 1;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

/* A DICT column from "SELECT customer_id, text ..." ('' and NULL are null). */
static hd_rc dict_col(hd_conn *c, base *b, int k, const char *sql, const hd_val *q, int nq,
                      hd_err *err) {
    uint32_t *code = own(b, b->n, sizeof *code);
    if (!code) return oom(err);
    for (size_t i = 0; i < b->n; i++) code[i] = HD_SEGMENT_NULL_CODE;
    dict *dc = &b->dicts[k];
    hd_rows *r;
    hd_rc rc = hd_query(c, sql, q, nq, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = idx(b, hd_rows_int(r, 0));
        size_t len;
        const char *s = hd_rows_text(r, 1, &len);
        if (i < 0 || hd_rows_isnull(r, 1) || len == 0) continue;
        uint32_t cd = dict_code(dc, &b->a, s, len);
        if (cd == UINT32_MAX) {
            hd_rows_free(r);
            return oom(err);
        }
        code[i] = cd;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    /* the dictionary's array may have moved while growing: point the column at it last */
    b->cols[k] =
        (hd_segment_col){.kind = HD_SEG_COL_DICT, .code = code, .dict = dc->vals, .ndict = dc->n};
    return HD_OK;
}

/* A JSON value as the expression sees it; strings and lists copied into the arena. */
static hd_expr_val from_json(arena *a, const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING: {
        const char *s = arena_str(a, json_string_value(v), json_string_length(v));
        return s ? hd_expr_str(s, json_string_length(v)) : hd_expr_null();
    }
    case JSON_INTEGER: return hd_expr_int(json_integer_value(v));
    case JSON_REAL: return hd_expr_real(json_real_value(v));
    case JSON_TRUE: return hd_expr_bool(true);
    case JSON_FALSE: return hd_expr_bool(false);
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        hd_expr_val *el = arena_alloc(a, (n ? n : 1) * sizeof *el);
        if (!el) return hd_expr_null();
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(v, i);
            el[i] = json_is_array(e) || json_is_object(e) ? hd_expr_null() : from_json(a, e);
        }
        return hd_expr_array(el, n);
    }
    default: return hd_expr_null();
    }
}

/* Follows a dotted path into an object. */
static const json_t *walk(const json_t *o, const char *path) {
    char part[HD_EXPR_NAME_MAX];
    while (o && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof part) return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        o = json_is_object(o) ? json_object_get(o, part) : NULL;
        path += n + (dot ? 1 : 0);
    }
    return o;
}

static hd_rc attr_col(hd_conn *c, base *b, int k, const char *path, hd_err *err) {
    hd_expr_val *v = own(b, b->n, sizeof *v); /* zeroed: HD_EXPR_NULL */
    if (!v) return oom(err);
    b->cols[k] = (hd_segment_col){.kind = HD_SEG_COL_VAL, .v = v};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id, attributes FROM customers WHERE merged_into IS NULL AND "
                        "attributes <> '{}'",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = idx(b, hd_rows_int(r, 0));
        if (i < 0) continue;
        size_t len;
        const char *s = hd_rows_text(r, 1, &len);
        json_t *j = json_loadb(s, len, 0, NULL);
        const json_t *at = walk(j, path);
        if (at) v[i] = from_json(&b->a, at);
        json_decref(j);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static const hd_expr_val NO_TAGS[1] = {{HD_EXPR_NULL, 0, {.i = 0}}};

static hd_rc tags_col(hd_conn *c, base *b, int k, hd_err *err) {
    hd_expr_val *v = own(b, b->n, sizeof *v);
    if (!v) return oom(err);
    for (size_t i = 0; i < b->n; i++) v[i] = hd_expr_array(NO_TAGS, 0);
    b->cols[k] = (hd_segment_col){.kind = HD_SEG_COL_VAL, .v = v};
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT customer_id, tag FROM customer_tags ORDER BY customer_id, tag",
                        NULL, 0, &r, err);
    if (rc) return rc;
    /* rows come grouped by customer: collect one customer's tags, then copy them out */
    hd_expr_val tmp[128];
    int ntmp = 0;
    int64_t cur = -1;
    int got;
    for (;;) {
        got = hd_rows_next(r, err);
        int64_t i = got == 1 ? idx(b, hd_rows_int(r, 0)) : -1;
        if ((got != 1 || i != cur) && cur >= 0 && ntmp > 0) {
            hd_expr_val *el = arena_alloc(&b->a, (size_t)ntmp * sizeof *el);
            if (!el) {
                hd_rows_free(r);
                return oom(err);
            }
            memcpy(el, tmp, (size_t)ntmp * sizeof *el);
            v[cur] = hd_expr_array(el, (size_t)ntmp);
        }
        if (got != 1) break;
        if (i != cur) ntmp = 0;
        cur = i;
        if (i < 0 || ntmp == (int)(sizeof tmp / sizeof tmp[0])) continue;
        size_t len;
        const char *s = hd_rows_text(r, 1, &len);
        const char *copy = arena_str(&b->a, s, len);
        if (!copy) {
            hd_rows_free(r);
            return oom(err);
        }
        tmp[ntmp++] = hd_expr_str(copy, len);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

/* A DICT column over fixed keys from per-customer codes. */
static hd_rc keys_col(base *b, int k, const uint8_t *codes, const char *const *keys, int nkeys,
                      hd_err *err) {
    uint32_t *code = own(b, b->n, sizeof *code);
    hd_expr_val *dv = own(b, (size_t)nkeys, sizeof *dv);
    if (!code || !dv) return oom(err);
    for (int i = 0; i < nkeys; i++) dv[i] = hd_expr_str(keys[i], strlen(keys[i]));
    for (size_t i = 0; i < b->n; i++) code[i] = codes[i] < nkeys ? codes[i] : HD_SEGMENT_NULL_CODE;
    b->cols[k] = (hd_segment_col){
        .kind = HD_SEG_COL_DICT, .code = code, .dict = dv, .ndict = (uint32_t)nkeys};
    return HD_OK;
}

static hd_rc rfm_segment_col(hd_conn *c, base *b, int k, hd_err *err) {
    const char *keys[HD_RFM_SEGMENTS];
    for (int s = 0; s < HD_RFM_SEGMENTS; s++) keys[s] = hd_rfm_segment_key((hd_rfm_segment)s);
    uint8_t *codes = own(b, b->n, 1);
    if (!codes) return oom(err);
    memset(codes, 0xFF, b->n);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id, rfm_segment FROM customer_scores WHERE rfm_at IS NOT "
                        "NULL",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = idx(b, hd_rows_int(r, 0));
        const char *s = hd_rows_text(r, 1, NULL);
        for (int j = 0; i >= 0 && j < HD_RFM_SEGMENTS; j++)
            if (strcmp(s, keys[j]) == 0) codes[i] = (uint8_t)j;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    return keys_col(b, k, codes, keys, HD_RFM_SEGMENTS, err);
}

static hd_rc ladder_col(hd_conn *c, base *b, int k, bool level, uint8_t **stages, hd_err *err) {
    if (!*stages) {
        hd_ladder_thresholds t;
        uint8_t *st = own(b, b->n, 1);
        if (!st) return oom(err);
        hd_rc rc = hd_analytics_ladder_thresholds_in(c, &t, err);
        if (!rc) rc = hd_analytics_ladder_stages_in(c, b->ids, b->n, b->now, &t, st, err);
        if (rc) return rc;
        *stages = st;
    }
    if (level) {
        int64_t *iv = own(b, b->n, sizeof *iv);
        if (!iv) return oom(err);
        for (size_t i = 0; i < b->n; i++) iv[i] = (*stages)[i];
        b->cols[k] = (hd_segment_col){.kind = HD_SEG_COL_INT, .i = iv};
        return HD_OK;
    }
    const char *keys[HD_LADDER_STAGES];
    for (int s = 0; s < HD_LADDER_STAGES; s++) keys[s] = hd_ladder_stage_key((hd_ladder_stage)s);
    return keys_col(b, k, *stages, keys, HD_LADDER_STAGES, err);
}

static hd_rc days_col(hd_conn *c, base *b, int k, bool last, hd_err *err) {
    hd_rc rc = num_col(c, b, k,
                       last ? "SELECT id, last_seen FROM customers WHERE merged_into IS NULL"
                            : "SELECT id, first_seen FROM customers WHERE merged_into IS NULL",
                       NULL, 0, false, false, err);
    if (rc) return rc;
    int64_t *iv = (int64_t *)b->cols[k].i;
    for (size_t i = 0; i < b->n; i++) {
        int64_t ms = b->now - iv[i];
        iv[i] = ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
    }
    return HD_OK;
}

/* An aggregate over a window: count(<type>) of events, sum/avg/min/max(amount) of paid,
 * unrefunded orders. PostgreSQL groups by customer itself; on SQLite a GROUP BY over
 * millions of rows sorts, so the rows are read once in index order and folded here. */
static hd_rc agg_col(hd_conn *c, base *b, int k, const hd_segment_field *f, int64_t lo,
                     hd_err *err) {
    hd_segment_source src = f->source;
    bool grouped = hd_conn_kind(c) == HD_STORE_POSTGRES;
    hd_val w[3] = {hd_vint(lo), hd_vint(b->now)};
    hd_val cw[3] = {hd_vtext(f->arg), hd_vint(lo), hd_vint(b->now)};
    if (grouped) {
        static const char *const sql[] = {
            "SELECT customer_id, count(*) FROM events WHERE type = ? AND occurred_at > ? AND "
            "occurred_at <= ? GROUP BY customer_id",
            "SELECT customer_id, sum(amount) FROM orders WHERE refunded_at IS NULL AND "
            "occurred_at > ? AND occurred_at <= ? GROUP BY customer_id",
            "SELECT customer_id, avg(amount) FROM orders WHERE refunded_at IS NULL AND "
            "occurred_at > ? AND occurred_at <= ? GROUP BY customer_id",
            "SELECT customer_id, min(amount) FROM orders WHERE refunded_at IS NULL AND "
            "occurred_at > ? AND occurred_at <= ? GROUP BY customer_id",
            "SELECT customer_id, max(amount) FROM orders WHERE refunded_at IS NULL AND "
            "occurred_at > ? AND occurred_at <= ? GROUP BY customer_id"};
        int i = src - HD_SEG_COUNT;
        return num_col(c, b, k, sql[i], i ? w : cw, i ? 2 : 3, src == HD_SEG_AVG_AMOUNT,
                       src == HD_SEG_COUNT || src == HD_SEG_SUM_AMOUNT, err);
    }
    bool count = src == HD_SEG_COUNT, avg = src == HD_SEG_AVG_AMOUNT;
    int64_t *iv = own(b, b->n, sizeof *iv), *n = avg ? own(b, b->n, sizeof *n) : NULL;
    double *dv = avg ? own(b, b->n, sizeof *dv) : NULL;
    uint8_t *present = count || src == HD_SEG_SUM_AMOUNT ? NULL : own(b, b->n, 1);
    if (!iv || (avg && (!n || !dv)) || (!present && !count && src != HD_SEG_SUM_AMOUNT))
        return oom(err);
    hd_rows *r;
    hd_rc rc = count ? hd_query(c,
                                "SELECT customer_id FROM events WHERE type = ? AND occurred_at > "
                                "? AND occurred_at <= ?",
                                cw, 3, &r, err)
                     : hd_query(c,
                                "SELECT customer_id, amount FROM orders WHERE refunded_at IS NULL "
                                "AND occurred_at > ? AND occurred_at <= ?",
                                w, 2, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t i = idx(b, hd_rows_int(r, 0));
        if (i < 0) continue;
        if (count) {
            iv[i]++;
            continue;
        }
        int64_t a = hd_rows_int(r, 1);
        if (src == HD_SEG_SUM_AMOUNT || avg) {
            iv[i] += a;
            if (n) n[i]++;
        } else if (!present[i] || (src == HD_SEG_MIN_AMOUNT ? a < iv[i] : a > iv[i])) {
            iv[i] = a;
        }
        if (present) present[i] = 1;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (avg) {
        for (size_t i = 0; i < b->n; i++)
            if (n[i]) dv[i] = (double)iv[i] / (double)n[i];
        b->cols[k] = (hd_segment_col){.kind = HD_SEG_COL_REAL, .d = dv, .present = present};
    } else {
        b->cols[k] = (hd_segment_col){.kind = HD_SEG_COL_INT, .i = iv, .present = present};
    }
    return HD_OK;
}

static hd_rc load_cb(hd_conn *c, void *vctx, hd_err *err) {
    base *b = vctx;
    hd_rc rc = load_ids(c, b, err);
    if (rc) return rc;
    uint8_t *stages = NULL;
    for (int k = 0; k < b->nf && !rc; k++) {
        const hd_segment_field *f = hd_segment_field_at(b->seg, k);
        int64_t lo = f->window_s ? b->now - f->window_s * 1000 : TIME_MIN;
        switch (f->source) {
        case HD_SEG_CUSTOMER_ID:
            b->cols[k] = (hd_segment_col){.kind = HD_SEG_COL_INT, .i = b->ids};
            break;
        case HD_SEG_CITY:
            rc = dict_col(c, b, k, "SELECT id, city FROM customers WHERE merged_into IS NULL", NULL,
                          0, err);
            break;
        case HD_SEG_TIER:
            rc = dict_col(c, b, k,
                          "SELECT ct.customer_id, t.code FROM customer_tiers ct JOIN tiers t ON "
                          "t.id = ct.tier_id",
                          NULL, 0, err);
            break;
        case HD_SEG_ORDERS:
            rc = num_col(c, b, k, "SELECT id, orders FROM customers WHERE merged_into IS NULL",
                         NULL, 0, false, true, err);
            break;
        case HD_SEG_REVENUE:
            rc = num_col(c, b, k, "SELECT id, revenue FROM customers WHERE merged_into IS NULL",
                         NULL, 0, false, true, err);
            break;
        case HD_SEG_EVENTS:
            rc = num_col(c, b, k, "SELECT id, events FROM customers WHERE merged_into IS NULL",
                         NULL, 0, false, true, err);
            break;
        case HD_SEG_DAYS_SINCE_FIRST_SEEN: rc = days_col(c, b, k, false, err); break;
        case HD_SEG_DAYS_SINCE_LAST_SEEN: rc = days_col(c, b, k, true, err); break;
        case HD_SEG_ATTRIBUTE: rc = attr_col(c, b, k, f->arg, err); break;
        case HD_SEG_TAGS: rc = tags_col(c, b, k, err); break;
        case HD_SEG_RFM_R:
        case HD_SEG_RFM_F:
        case HD_SEG_RFM_M: {
            const char *sql =
                f->source == HD_SEG_RFM_R
                    ? "SELECT customer_id, rfm_r FROM customer_scores WHERE rfm_at IS NOT NULL"
                : f->source == HD_SEG_RFM_F
                    ? "SELECT customer_id, rfm_f FROM customer_scores WHERE rfm_at IS NOT NULL"
                    : "SELECT customer_id, rfm_m FROM customer_scores WHERE rfm_at IS NOT NULL";
            rc = num_col(c, b, k, sql, NULL, 0, false, false, err);
            break;
        }
        case HD_SEG_RFM_SEGMENT: rc = rfm_segment_col(c, b, k, err); break;
        case HD_SEG_CLV:
            rc = num_col(c, b, k,
                         "SELECT customer_id, clv FROM customer_scores WHERE clv_at IS NOT NULL",
                         NULL, 0, true, false, err);
            break;
        case HD_SEG_P_ALIVE:
            rc = num_col(c, b, k,
                         "SELECT customer_id, p_alive FROM customer_scores WHERE clv_at IS NOT "
                         "NULL",
                         NULL, 0, true, false, err);
            break;
        case HD_SEG_EXPECTED_PURCHASES:
            rc = num_col(c, b, k,
                         "SELECT customer_id, expected_purchases FROM customer_scores WHERE "
                         "clv_at IS NOT NULL",
                         NULL, 0, true, false, err);
            break;
        case HD_SEG_LADDER_STAGE: rc = ladder_col(c, b, k, false, &stages, err); break;
        case HD_SEG_LADDER_LEVEL: rc = ladder_col(c, b, k, true, &stages, err); break;
        case HD_SEG_COUNT:
        case HD_SEG_SUM_AMOUNT:
        case HD_SEG_AVG_AMOUNT:
        case HD_SEG_MIN_AMOUNT:
        case HD_SEG_MAX_AMOUNT: rc = agg_col(c, b, k, f, lo, err); break;
        default: rc = hd_err_set(err, HD_EINTERNAL, "", "field %s has no loader", f->name);
        }
    }
    return rc;
}

/* The result of one evaluation. */
typedef struct run {
    base b;
    uint8_t *member;
    hd_segment_stats stats;
    bool scores_pending;
} run;

static void run_free(run *r) {
    base_free(&r->b);
    free(r->member);
}

/* Makes sure the scores the condition reads exist; *pending when a job computes them. */
static hd_rc ensure_scores(hd_domain *d, const hd_segment *seg, bool *pending, hd_err *err) {
    bool rfm = false, clv = false;
    for (int k = 0; k < hd_segment_nfields(seg); k++) {
        hd_segment_source s = hd_segment_field_at(seg, k)->source;
        rfm |=
            s == HD_SEG_RFM_R || s == HD_SEG_RFM_F || s == HD_SEG_RFM_M || s == HD_SEG_RFM_SEGMENT;
        clv |= s == HD_SEG_CLV || s == HD_SEG_P_ALIVE || s == HD_SEG_EXPECTED_PURCHASES;
    }
    const char *kinds[2] = {rfm ? "rfm" : NULL, clv ? "clv" : NULL};
    for (int i = 0; i < 2; i++) {
        if (!kinds[i]) continue;
        hd_analytics_query q = {0};
        int status = 0;
        json_t *out = NULL;
        hd_rc rc = hd_analytics_get(d, kinds[i], &q, &status, &out, err);
        json_decref(out);
        if (rc == HD_ESTATE) { /* no data for the model: every score stays null */
            hd_err_clear(err);
            continue;
        }
        if (rc) return rc;
        if (status == 202) *pending = true;
    }
    return HD_OK;
}

static hd_rc evaluate(hd_domain *d, const hd_segment *seg, run *r, hd_err *err) {
    memset(r, 0, sizeof *r);
    hd_rc rc = ensure_scores(d, seg, &r->scores_pending, err);
    if (rc) return rc;
    base *b = &r->b;
    b->d = d;
    b->seg = seg;
    b->now = hd_now(d);
    b->nf = hd_segment_nfields(seg);
    b->cols = calloc((size_t)(b->nf ? b->nf : 1), sizeof *b->cols);
    b->dicts = calloc((size_t)(b->nf ? b->nf : 1), sizeof *b->dicts);
    if (!b->cols || !b->dicts) return oom(err);
    if ((rc = hd_store_read(d->store, load_cb, b, err))) return rc;
    if (!(r->member = malloc(b->n ? b->n : 1))) return oom(err);
    return hd_segment_eval(seg, b->cols, b->n, r->member, &r->stats, err);
}

/* ---- storage ---- */

typedef struct seg_row {
    int64_t id;
    char *name, *expression, *description;
    bool counted;
    int64_t member_count, counted_at, created_at, updated_at;
} seg_row;

static void seg_row_free(seg_row *s) {
    free(s->name);
    free(s->expression);
    free(s->description);
    memset(s, 0, sizeof *s);
}

#define SEG_COLS                                                                                   \
    "SELECT id, name, expression, description, member_count, counted_at, created_at, "             \
    "updated_at FROM segments "

static void seg_row_read(hd_rows *r, seg_row *s) {
    s->id = hd_rows_int(r, 0);
    s->name = strdup(hd_rows_text(r, 1, NULL));
    s->expression = strdup(hd_rows_text(r, 2, NULL));
    s->description = strdup(hd_rows_text(r, 3, NULL));
    s->counted = !hd_rows_isnull(r, 5);
    s->member_count = hd_rows_int(r, 4);
    s->counted_at = hd_rows_int(r, 5);
    s->created_at = hd_rows_int(r, 6);
    s->updated_at = hd_rows_int(r, 7);
}

static json_t *seg_json(const seg_row *s, const hd_segment *seg) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", s->id);
    json_object_set_new(o, "name", json_string(s->name ? s->name : ""));
    json_object_set_new(o, "description", json_string(s->description ? s->description : ""));
    json_object_set_new(o, "expression", json_string(s->expression ? s->expression : ""));
    if (seg) {
        json_t *f = json_array();
        for (int k = 0; k < hd_segment_nfields(seg); k++)
            json_array_append_new(f, json_string(hd_segment_field_at(seg, k)->name));
        json_object_set_new(o, "fields", f);
    }
    json_object_set_new(o, "member_count",
                        s->counted ? json_integer(s->member_count) : json_null());
    hd_json_set_time(o, "counted_at", s->counted_at, s->counted);
    hd_json_set_time(o, "created_at", s->created_at, true);
    hd_json_set_time(o, "updated_at", s->updated_at, true);
    return o;
}

typedef struct load_ctx {
    int64_t id;
    seg_row row;
} load_ctx;

static hd_rc seg_load_cb(hd_conn *c, void *vctx, hd_err *err) {
    load_ctx *lc = vctx;
    seg_row_free(&lc->row);
    hd_val q = hd_vint(lc->id);
    hd_rows *r;
    hd_rc rc = hd_query(c, SEG_COLS "WHERE id = ?", &q, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) seg_row_read(r, &lc->row);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no segment %lld", (long long)lc->id);
    if (!lc->row.name || !lc->row.expression || !lc->row.description) return oom(err);
    return HD_OK;
}

typedef struct count_ctx {
    int64_t id, count, at;
} count_ctx;

static hd_rc count_cb(hd_conn *c, void *vctx, hd_err *err) {
    count_ctx *cc = vctx;
    hd_val q[3] = {hd_vint(cc->count), hd_vint(cc->at), hd_vint(cc->id)};
    return hd_exec(c, "UPDATE segments SET member_count = ?, counted_at = ? WHERE id = ?", q, 3,
                   NULL, err);
}

/* Loads a saved segment, compiles and evaluates it, and records the count. */
static hd_rc open_and_run(hd_domain *d, int64_t id, seg_row *row, hd_segment **seg, run *r,
                          hd_err *err) {
    load_ctx lc = {id, {0}};
    memset(r, 0, sizeof *r);
    *seg = NULL;
    hd_rc rc = hd_store_read(d->store, seg_load_cb, &lc, err);
    *row = lc.row;
    if (rc) return rc;
    if ((rc = hd_segment_compile(row->expression, strlen(row->expression), seg, err))) return rc;
    if ((rc = evaluate(d, *seg, r, err))) return rc;
    count_ctx cc = {id, (int64_t)r->stats.members, hd_now(d)};
    if ((rc = hd_store_write(d->store, count_cb, &cc, err))) return rc;
    row->counted = true;
    row->member_count = cc.count;
    row->counted_at = cc.at;
    return HD_OK;
}

static json_t *val_json(hd_expr_val v) {
    switch (v.type) {
    case HD_EXPR_BOOL: return json_boolean(v.u.b);
    case HD_EXPR_INT: return json_integer(v.u.i);
    case HD_EXPR_REAL: return isfinite(v.u.d) ? json_real(v.u.d) : json_null();
    case HD_EXPR_STR: return json_stringn(v.u.s, v.len);
    case HD_EXPR_ARRAY: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < v.len; i++) json_array_append_new(a, val_json(v.u.a[i]));
        return a;
    }
    default: return json_null();
    }
}

/* Adds the evaluation's facts to a segment's JSON. */
static void add_run(json_t *o, const run *r) {
    json_object_set_new(o, "customers", json_integer((json_int_t)r->b.n));
    if (r->stats.errors) {
        json_t *first = json_object();
        hd_json_set_id(first, "customer_id", r->b.ids[r->stats.first_error_row]);
        json_object_set_new(first, "detail", json_string(r->stats.first_error.msg));
        json_object_set_new(
            o, "errors",
            json_pack("{s:I,s:o}", "count", (json_int_t)r->stats.errors, "first", first));
    }
    if (r->scores_pending) json_object_set_new(o, "scores_pending", json_true());
}

/* ---- the public calls ---- */

static const char *const FIELDS[] = {"name", "expression", "description", NULL};

typedef struct create_ctx {
    hd_domain *d;
    const char *name, *expression, *description;
    const hd_segment *seg;
    int64_t id;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    create_ctx *cc = vctx;
    int64_t now = hd_now(cc->d);
    cc->id = hd_id_next(cc->d->ids);
    hd_val q[6] = {hd_vint(cc->id),           hd_vtext(cc->name), hd_vtext(cc->expression),
                   hd_vtext(cc->description), hd_vint(now),       hd_vint(now)};
    hd_rc rc = hd_exec(c,
                       "INSERT INTO segments (id, name, expression, description, created_at, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                       q, 6, NULL, err);
    if (rc) return rc;
    seg_row row = {
        cc->id, (char *)cc->name, (char *)cc->expression, (char *)cc->description, false, 0, 0, now,
        now};
    *status = 201;
    *body = seg_json(&row, cc->seg);
    return HD_OK;
}

hd_rc hd_segments_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                         json_t **out, bool *replayed, hd_err *err) {
    *out = NULL;
    hd_rc rc = hd_json_only(in, FIELDS, "a segment", err);
    const char *name = NULL, *expr = NULL, *desc = NULL;
    if (!rc) rc = hd_json_str(in, "name", HD_SEGMENT_NAME_MAX, &name, err);
    if (!rc && (!name || !*name))
        rc = hd_err_set(err, HD_EINVAL, "name", "is required, e.g. \"杭州的重要价值客户\"");
    if (!rc) rc = hd_json_str(in, "description", HD_SEGMENT_DESC_MAX, &desc, err);
    if (!rc) rc = hd_json_str(in, "expression", HD_EXPR_SRC_MAX, &expr, err);
    if (!rc && (!expr || !*expr))
        rc = hd_err_set(err, HD_EINVAL, "expression",
                        "is required, e.g. \"count(order.paid, 90d) >= 2\"");
    if (rc) return rc;
    hd_segment *seg = NULL;
    if ((rc = hd_segment_compile(expr, strlen(expr), &seg, err))) {
        /* as for rules: a condition that does not parse is an invalid field, 422 */
        if (rc == HD_ESYNTAX) err->rc = rc = HD_EINVAL;
        return rc;
    }
    create_ctx cc = {d, name, expr, desc ? desc : "", seg, 0};
    rc = hd_idem_write(d, im, create_cb, &cc, status, out, replayed, err);
    if (!rc && !*replayed) {
        /* count the members now, so the answer says how big the segment is */
        run r;
        int64_t id = 0;
        hd_id_parse(json_string_value(json_object_get(*out, "id")), &id);
        hd_rc erc = evaluate(d, seg, &r, err);
        if (!erc) {
            count_ctx cnt = {id, (int64_t)r.stats.members, hd_now(d)};
            erc = hd_store_write(d->store, count_cb, &cnt, err);
            if (!erc) {
                json_object_set_new(*out, "member_count", json_integer(cnt.count));
                hd_json_set_time(*out, "counted_at", cnt.at, true);
                add_run(*out, &r);
            }
        }
        run_free(&r);
        if (erc) hd_err_clear(err); /* the segment is saved; the count comes with the next GET */
    }
    hd_segment_free(seg);
    return rc;
}

typedef struct list_ctx {
    int64_t cursor;
    int limit;
    json_t *out;
} list_ctx;

static json_t *seg_page_row(hd_rows *r, void *arg) {
    (void)arg;
    seg_row s = {0};
    seg_row_read(r, &s);
    json_t *e = seg_json(&s, NULL);
    seg_row_free(&s);
    return e;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    list_ctx *lc = vctx;
    json_decref(lc->out);
    lc->out = NULL;
    hd_val q[2] = {hd_vint(lc->cursor ? lc->cursor : INT64_MAX), hd_vint(lc->limit + 1)};
    hd_rows *r;
    hd_rc rc = hd_query(c, SEG_COLS "WHERE id < ? ORDER BY id DESC LIMIT ?", q, 2, &r, err);
    if (rc) return rc;
    return hd_page_json(r, lc->limit, 0, seg_page_row, NULL, &lc->out, err);
}

hd_rc hd_segments_list(hd_domain *d, int64_t cursor, int limit, json_t **out, hd_err *err) {
    list_ctx lc = {cursor, limit, NULL};
    hd_rc rc = hd_store_read(d->store, list_cb, &lc, err);
    if (rc) {
        json_decref(lc.out);
        return rc;
    }
    *out = lc.out;
    return HD_OK;
}

hd_rc hd_segments_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    seg_row row;
    hd_segment *seg = NULL;
    run r;
    hd_rc rc = open_and_run(d, id, &row, &seg, &r, err);
    if (!rc) {
        *out = seg_json(&row, seg);
        add_run(*out, &r);
    }
    run_free(&r);
    hd_segment_free(seg);
    seg_row_free(&row);
    return rc;
}

/* Names and cities of some customers: one query per NAMES_PER_IN. */
typedef struct names_ctx {
    const int64_t *ids;
    size_t n;
    json_t *by_id; /* "id" -> [name, city] */
} names_ctx;

static hd_rc names_cb(hd_conn *c, void *vctx, hd_err *err) {
    names_ctx *nc = vctx;
    json_object_clear(nc->by_id);
    hd_val q[NAMES_PER_IN];
    hd_buf sql = HD_BUF_INIT;
    hd_rc rc = HD_OK;
    for (size_t at = 0; at < nc->n && !rc; at += NAMES_PER_IN) {
        size_t m = nc->n - at < NAMES_PER_IN ? nc->n - at : NAMES_PER_IN;
        hd_buf_reset(&sql);
        hd_buf_puts(&sql, "SELECT id, name, city FROM customers WHERE id IN (");
        for (size_t i = 0; i < m; i++) {
            hd_buf_puts(&sql, i ? ",?" : "?");
            q[i] = hd_vint(nc->ids[at + i]);
        }
        hd_buf_putc(&sql, ')');
        if (sql.oom) {
            rc = oom(err);
            break;
        }
        hd_rows *r;
        if ((rc = hd_query(c, sql.data, q, (int)m, &r, err))) break;
        int got;
        while ((got = hd_rows_next(r, err)) == 1) {
            char key[24];
            hd_id_format(hd_rows_int(r, 0), key);
            json_object_set_new(
                nc->by_id, key,
                json_pack("[s,s]", hd_rows_text(r, 1, NULL), hd_rows_text(r, 2, NULL)));
        }
        hd_rows_free(r);
        if (got < 0) rc = err->rc;
    }
    hd_buf_free(&sql);
    return rc;
}

static hd_rc load_names(hd_domain *d, const int64_t *ids, size_t n, json_t **by_id, hd_err *err) {
    names_ctx nc = {ids, n, json_object()};
    hd_rc rc = hd_store_read(d->store, names_cb, &nc, err);
    if (rc) {
        json_decref(nc.by_id);
        return rc;
    }
    *by_id = nc.by_id;
    return HD_OK;
}

hd_rc hd_segments_members(hd_domain *d, int64_t id, int64_t cursor, int limit, json_t **out,
                          hd_err *err) {
    seg_row row;
    hd_segment *seg = NULL;
    run r;
    int64_t *page = NULL;
    size_t *rows = NULL;
    json_t *names = NULL;
    hd_rc rc = open_and_run(d, id, &row, &seg, &r, err);
    if (rc) goto done;
    page = malloc((size_t)limit * sizeof *page);
    rows = malloc((size_t)limit * sizeof *rows);
    if (!page || !rows) {
        rc = oom(err);
        goto done;
    }
    size_t n = 0;
    bool more = false;
    for (size_t i = 0; i < r.b.n; i++) {
        if (!r.member[i] || r.b.ids[i] <= cursor) continue;
        if (n == (size_t)limit) {
            more = true;
            break;
        }
        page[n] = r.b.ids[i];
        rows[n++] = i;
    }
    if ((rc = load_names(d, page, n, &names, err))) goto done;
    json_t *data = json_array();
    for (size_t k = 0; k < n; k++) {
        json_t *m = json_object(), *vals = json_object();
        char key[24];
        hd_id_format(page[k], key);
        json_t *nm = json_object_get(names, key);
        json_object_set_new(m, "id", json_string(key));
        json_object_set(m, "name", nm ? json_array_get(nm, 0) : json_null());
        json_object_set(m, "city", nm ? json_array_get(nm, 1) : json_null());
        for (int f = 0; f < r.b.nf; f++)
            json_object_set_new(vals, hd_segment_field_at(seg, f)->name,
                                val_json(hd_segment_col_value(&r.b.cols[f], rows[k])));
        json_object_set_new(m, "values", vals);
        json_array_append_new(data, m);
    }
    *out = json_object();
    json_object_set_new(*out, "data", data);
    if (more)
        hd_json_set_id(*out, "next_cursor", page[n - 1]);
    else
        json_object_set_new(*out, "next_cursor", json_null());
    json_object_set_new(*out, "member_count", json_integer((json_int_t)r.stats.members));
    add_run(*out, &r);
done:
    json_decref(names);
    free(page);
    free(rows);
    run_free(&r);
    hd_segment_free(seg);
    seg_row_free(&row);
    return rc;
}

/* ---- CSV ---- */

static void csv_text(hd_buf *o, const char *s, size_t n) {
    bool quote = n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        hd_buf_append(o, s, n);
        return;
    }
    hd_buf_putc(o, '"');
    /* a leading = + - @ would run as a formula in a spreadsheet: make it text */
    if (n > 0 && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@')) hd_buf_putc(o, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') hd_buf_putc(o, '"');
        hd_buf_putc(o, s[i]);
    }
    hd_buf_putc(o, '"');
}

static void csv_val(hd_buf *o, hd_expr_val v) {
    switch (v.type) {
    case HD_EXPR_BOOL: hd_buf_puts(o, v.u.b ? "true" : "false"); break;
    case HD_EXPR_INT: hd_buf_printf(o, "%lld", (long long)v.u.i); break;
    case HD_EXPR_REAL:
        if (isfinite(v.u.d)) hd_buf_printf(o, "%.10g", v.u.d);
        break;
    case HD_EXPR_STR: csv_text(o, v.u.s, v.len); break;
    case HD_EXPR_ARRAY: {
        hd_buf tmp = HD_BUF_INIT;
        for (uint32_t i = 0; i < v.len; i++) {
            if (i) hd_buf_putc(&tmp, '|');
            hd_expr_val e = v.u.a[i];
            if (e.type == HD_EXPR_STR)
                hd_buf_append(&tmp, e.u.s, e.len);
            else if (e.type == HD_EXPR_INT)
                hd_buf_printf(&tmp, "%lld", (long long)e.u.i);
            else if (e.type == HD_EXPR_REAL)
                hd_buf_printf(&tmp, "%.10g", e.u.d);
            else if (e.type == HD_EXPR_BOOL)
                hd_buf_puts(&tmp, e.u.b ? "true" : "false");
        }
        csv_text(o, tmp.data ? tmp.data : "", tmp.len);
        hd_buf_free(&tmp);
        break;
    }
    default: break;
    }
}

hd_rc hd_segments_export_csv(hd_domain *d, int64_t id, char **csv, size_t *len, hd_err *err) {
    *csv = NULL;
    *len = 0;
    seg_row row;
    hd_segment *seg = NULL;
    run r;
    int64_t *ids = NULL;
    size_t *rows = NULL;
    json_t *names = NULL;
    hd_buf o = HD_BUF_INIT;
    hd_rc rc = open_and_run(d, id, &row, &seg, &r, err);
    if (rc) goto done;
    if (r.stats.members > HD_SEGMENT_EXPORT_MAX) {
        rc = hd_err_set(err, HD_ETOOBIG, "format", "the segment has %zu members; export at most %d",
                        r.stats.members, HD_SEGMENT_EXPORT_MAX);
        goto done;
    }
    ids = malloc((r.stats.members ? r.stats.members : 1) * sizeof *ids);
    rows = malloc((r.stats.members ? r.stats.members : 1) * sizeof *rows);
    if (!ids || !rows) {
        rc = oom(err);
        goto done;
    }
    size_t n = 0;
    for (size_t i = 0; i < r.b.n; i++)
        if (r.member[i]) {
            ids[n] = r.b.ids[i];
            rows[n++] = i;
        }
    if ((rc = load_names(d, ids, n, &names, err))) goto done;
    hd_buf_puts(&o, "customer_id,name,city");
    for (int f = 0; f < r.b.nf; f++) {
        hd_buf_putc(&o, ',');
        const char *nm = hd_segment_field_at(seg, f)->name;
        csv_text(&o, nm, strlen(nm));
    }
    hd_buf_puts(&o, "\r\n");
    for (size_t k = 0; k < n; k++) {
        char key[24];
        hd_id_format(ids[k], key);
        hd_buf_puts(&o, key);
        json_t *nm = json_object_get(names, key);
        for (int j = 0; j < 2; j++) {
            hd_buf_putc(&o, ',');
            const char *s = json_string_value(json_array_get(nm, (size_t)j));
            if (s) csv_text(&o, s, strlen(s));
        }
        for (int f = 0; f < r.b.nf; f++) {
            hd_buf_putc(&o, ',');
            csv_val(&o, hd_segment_col_value(&r.b.cols[f], rows[k]));
        }
        hd_buf_puts(&o, "\r\n");
    }
    if (o.oom) {
        rc = oom(err);
        goto done;
    }
    *csv = hd_buf_take(&o, len);
done:
    hd_buf_free(&o);
    json_decref(names);
    free(ids);
    free(rows);
    run_free(&r);
    hd_segment_free(seg);
    seg_row_free(&row);
    return rc;
}

hd_rc hd_segments_match(hd_domain *d, const char *expression, int64_t **ids, size_t *n,
                        hd_err *err) {
    *ids = NULL;
    *n = 0;
    hd_segment *seg = NULL;
    hd_rc rc = hd_segment_compile(expression, strlen(expression), &seg, err);
    if (rc) return rc;
    run r;
    rc = evaluate(d, seg, &r, err);
    if (!rc && r.stats.members) {
        if (!(*ids = malloc(r.stats.members * sizeof **ids))) {
            rc = oom(err);
        } else {
            for (size_t i = 0; i < r.b.n; i++)
                if (r.member[i]) (*ids)[(*n)++] = r.b.ids[i];
        }
    }
    run_free(&r);
    hd_segment_free(seg);
    return rc;
}
