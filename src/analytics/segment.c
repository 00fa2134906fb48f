/* segment.c - compiling a segment condition (which field each slot reads) and
 * evaluating it over columns, row by row, without allocating. */
#include "analytics/segment.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct hd_segment {
    hd_expr *e;
    int n;
    hd_segment_field *f;
};

static const struct {
    const char *name;
    hd_segment_source source;
} PLAIN[] = {
    {"customer.id", HD_SEG_CUSTOMER_ID},
    {"customer.city", HD_SEG_CITY},
    {"customer.tier", HD_SEG_TIER},
    {"tier", HD_SEG_TIER},
    {"tier.code", HD_SEG_TIER},
    {"customer.orders", HD_SEG_ORDERS},
    {"customer.revenue", HD_SEG_REVENUE},
    {"customer.events", HD_SEG_EVENTS},
    {"customer.days_since_first_seen", HD_SEG_DAYS_SINCE_FIRST_SEEN},
    {"customer.days_since_last_seen", HD_SEG_DAYS_SINCE_LAST_SEEN},
    {"customer.tags", HD_SEG_TAGS},
    {"rfm.r", HD_SEG_RFM_R},
    {"rfm.f", HD_SEG_RFM_F},
    {"rfm.m", HD_SEG_RFM_M},
    {"rfm.segment", HD_SEG_RFM_SEGMENT},
    {"clv", HD_SEG_CLV},
    {"clv.value", HD_SEG_CLV},
    {"p_alive", HD_SEG_P_ALIVE},
    {"clv.p_alive", HD_SEG_P_ALIVE},
    {"clv.expected_purchases", HD_SEG_EXPECTED_PURCHASES},
    {"ladder", HD_SEG_LADDER_STAGE},
    {"ladder.stage", HD_SEG_LADDER_STAGE},
    {"ladder.level", HD_SEG_LADDER_LEVEL},
};

const char *hd_segment_fields_help(void) {
    return "customer.id|city|tier|orders|revenue|events|days_since_first_seen|"
           "days_since_last_seen|tags, customer.attributes.*, tier, rfm.r|f|m|segment, clv, "
           "p_alive, clv.expected_purchases, ladder.stage|level, count(<event type>, window), "
           "sum|avg|min|max(amount, window)";
}

hd_rc hd_segment_field_of(const hd_expr_var *v, hd_segment_field *out, hd_err *err) {
    memset(out, 0, sizeof *out);
    out->name = v->name;
    out->arg = "";
    const char *p = v->path;
    if (v->agg) {
        out->window_s = v->window_s;
        if (strcmp(v->agg, "count") == 0) {
            out->source = HD_SEG_COUNT;
            out->arg = p;
            return HD_OK;
        }
        static const struct {
            const char *agg;
            hd_segment_source source;
        } amount[] = {{"sum", HD_SEG_SUM_AMOUNT},
                      {"avg", HD_SEG_AVG_AMOUNT},
                      {"min", HD_SEG_MIN_AMOUNT},
                      {"max", HD_SEG_MAX_AMOUNT}};
        for (size_t i = 0; i < sizeof amount / sizeof amount[0]; i++)
            if (strcmp(v->agg, amount[i].agg) == 0 && strcmp(p, "amount") == 0) {
                out->source = amount[i].source;
                return HD_OK;
            }
        return hd_err_set(err, HD_EINVAL, "expression",
                          "%s: segments can use count(<event type>, window) and "
                          "sum|avg|min|max(amount, window)",
                          v->name);
    }
    if (!v->is_array) {
        for (size_t i = 0; i < sizeof PLAIN / sizeof PLAIN[0]; i++)
            if (strcmp(p, PLAIN[i].name) == 0) {
                out->source = PLAIN[i].source;
                return HD_OK;
            }
        if (strncmp(p, "customer.attributes.", 20) == 0 && p[20]) {
            out->source = HD_SEG_ATTRIBUTE;
            out->arg = p + 20;
            return HD_OK;
        }
    }
    return hd_err_set(err, HD_EINVAL, "expression", "unknown field '%s'; segments read %s", p,
                      hd_segment_fields_help());
}

static bool ident_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || (unsigned char)c >= 0x80;
}

/* Byte offset of the first whole-word occurrence of word in src, or 0. */
static size_t find_word(const char *src, size_t len, const char *word) {
    size_t wl = strlen(word);
    if (!wl) return 0;
    for (size_t i = 0; i + wl <= len; i++) {
        if (memcmp(src + i, word, wl) != 0) continue;
        if (i > 0 && ident_char(src[i - 1])) continue;
        if (i + wl < len && ident_char(src[i + wl])) continue;
        return i;
    }
    return 0;
}

/* "line L, column C: " for byte offset off, as the expression module words it. */
static void position(const char *src, size_t len, size_t off, int *line, int *col) {
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if (c != '\r' && (c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

hd_rc hd_segment_compile(const char *src, size_t len, hd_segment **out, hd_err *err) {
    *out = NULL;
    hd_expr_pos pos;
    hd_expr *e = hd_expr_parse_ex(src, len, &pos, err);
    if (!e) {
        snprintf(err->field, sizeof err->field, "expression");
        return err->rc;
    }
    hd_segment *s = calloc(1, sizeof *s);
    int n = hd_expr_nvars(e);
    if (!s || !(s->f = calloc((size_t)(n ? n : 1), sizeof *s->f))) {
        free(s);
        hd_expr_free(e);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    s->e = e;
    s->n = n;
    for (int i = 0; i < n; i++) {
        const hd_expr_var *v = hd_expr_var_info(e, i);
        hd_err ferr;
        if (hd_segment_field_of(v, &s->f[i], &ferr) != HD_OK) {
            int line, col;
            position(src, len, find_word(src, len, v->path), &line, &col);
            hd_err_set(err, ferr.rc, "expression", "line %d, column %d: %s", line, col, ferr.msg);
            hd_segment_free(s);
            return err->rc;
        }
    }
    unsigned t = hd_expr_result_types(e);
    if (!(t & (1u << HD_EXPR_BOOL))) {
        hd_segment_free(s);
        return hd_err_set(err, HD_EINVAL, "expression",
                          "line 1, column 1: a segment condition must be true or false, as in "
                          "count(order.paid, 90d) >= 2");
    }
    *out = s;
    return HD_OK;
}

void hd_segment_free(hd_segment *s) {
    if (!s) return;
    hd_expr_free(s->e);
    free(s->f);
    free(s);
}

int hd_segment_nfields(const hd_segment *s) { return s->n; }

const hd_segment_field *hd_segment_field_at(const hd_segment *s, int i) {
    return i >= 0 && i < s->n ? &s->f[i] : NULL;
}

const hd_expr *hd_segment_expr(const hd_segment *s) { return s->e; }

hd_expr_val hd_segment_col_value(const hd_segment_col *c, size_t row) {
    switch (c->kind) {
    case HD_SEG_COL_INT:
        return c->present && !c->present[row] ? hd_expr_null() : hd_expr_int(c->i[row]);
    case HD_SEG_COL_REAL:
        return c->present && !c->present[row] ? hd_expr_null() : hd_expr_real(c->d[row]);
    case HD_SEG_COL_DICT: {
        uint32_t k = c->code[row];
        return k < c->ndict ? c->dict[k] : hd_expr_null();
    }
    case HD_SEG_COL_VAL: return c->v[row];
    case HD_SEG_COL_NULL: break;
    }
    return hd_expr_null();
}

static hd_rc check_col(const hd_segment_col *c, int slot, size_t n, hd_err *err) {
    bool ok = true;
    switch (c->kind) {
    case HD_SEG_COL_NULL: break;
    case HD_SEG_COL_INT: ok = c->i != NULL; break;
    case HD_SEG_COL_REAL: ok = c->d != NULL; break;
    case HD_SEG_COL_DICT:
        ok = c->code && (c->dict || c->ndict == 0);
        for (size_t r = 0; ok && r < n; r++)
            ok = c->code[r] < c->ndict || c->code[r] == HD_SEGMENT_NULL_CODE;
        break;
    case HD_SEG_COL_VAL: ok = c->v != NULL; break;
    default: ok = false;
    }
    if (!ok) return hd_err_set(err, HD_EINVAL, "cols", "column %d is malformed", slot);
    return HD_OK;
}

hd_rc hd_segment_eval(const hd_segment *s, const hd_segment_col *cols, size_t n, uint8_t *member,
                      hd_segment_stats *stats, hd_err *err) {
    memset(stats, 0, sizeof *stats);
    stats->rows = n;
    int nv = s->n;
    if (nv > 0 && !cols) return hd_err_set(err, HD_EINVAL, "cols", "the condition reads fields");
    for (int k = 0; k < nv; k++) {
        hd_rc rc = check_col(&cols[k], k, n, err);
        if (rc) return rc;
    }
    hd_expr_val vars[HD_EXPR_VARS_MAX];
    hd_err rerr;
    for (size_t row = 0; row < n; row++) {
        for (int k = 0; k < nv; k++) vars[k] = hd_segment_col_value(&cols[k], row);
        bool yes = false;
        if (hd_expr_eval_bool(s->e, vars, &yes, &rerr) != HD_OK) {
            if (stats->errors++ == 0) {
                stats->first_error_row = row;
                stats->first_error = rerr;
            }
            yes = false;
        }
        member[row] = yes;
        stats->members += yes;
    }
    return HD_OK;
}
