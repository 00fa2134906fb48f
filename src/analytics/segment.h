/* segment.h - segments: a condition in the expression language (expr/expr.h) over
 * customer fields, computed scores and event aggregates, evaluated over the whole
 * customer base held as columns (one array per field the condition reads).
 *
 *   customer.city == "杭州" and rfm.segment in ["champions", "loyal"]
 *     and count(order.paid, 90d) >= 2 and "vip" in customer.tags and p_alive > 0.5
 *
 * Compiling parses the text once and says, for every slot of the expression, which
 * field it reads (hd_segment_source); the caller loads one column per slot and calls
 * hd_segment_eval, which allocates nothing and touches each row once.
 *
 * Pure C over arrays: no store, no I/O, no printing. */
#ifndef HD_SEGMENT_H
#define HD_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "expr/expr.h"

#define HD_SEGMENT_NULL_CODE UINT32_MAX /* a dictionary column's null */

/* What a slot reads. The names in the language are in brackets. */
typedef enum hd_segment_source {
    HD_SEG_CUSTOMER_ID,           /* customer.id: integer */
    HD_SEG_CITY,                  /* customer.city: string, null when unknown */
    HD_SEG_TIER,                  /* customer.tier, tier, tier.code: the tier code or null */
    HD_SEG_ORDERS,                /* customer.orders: paid orders not refunded */
    HD_SEG_REVENUE,               /* customer.revenue: fen */
    HD_SEG_EVENTS,                /* customer.events */
    HD_SEG_DAYS_SINCE_FIRST_SEEN, /* customer.days_since_first_seen: whole days or null */
    HD_SEG_DAYS_SINCE_LAST_SEEN,  /* customer.days_since_last_seen */
    HD_SEG_ATTRIBUTE,             /* customer.attributes.<path>: any JSON scalar or list */
    HD_SEG_TAGS,                  /* customer.tags: a list of strings (empty when none) */
    HD_SEG_RFM_R,                 /* rfm.r, rfm.f, rfm.m: 1..5, null without orders */
    HD_SEG_RFM_F,
    HD_SEG_RFM_M,
    HD_SEG_RFM_SEGMENT,        /* rfm.segment: "champions", ... (rfm.h keys) */
    HD_SEG_CLV,                /* clv, clv.value: fen over the horizon (real) */
    HD_SEG_P_ALIVE,            /* p_alive, clv.p_alive: 0..1 */
    HD_SEG_EXPECTED_PURCHASES, /* clv.expected_purchases */
    HD_SEG_LADDER_STAGE,       /* ladder.stage: "visitor" .. "key_person" */
    HD_SEG_LADDER_LEVEL,       /* ladder.level: 0 (visitor) .. 5 (key person) */
    HD_SEG_COUNT,              /* count(<event type>, window): integer, 0 when none */
    HD_SEG_SUM_AMOUNT,         /* sum(amount, window): paid orders, fen, 0 when none */
    HD_SEG_AVG_AMOUNT,         /* avg(amount, window): real, null when none */
    HD_SEG_MIN_AMOUNT,         /* min(amount, window), max(amount, window): null when none */
    HD_SEG_MAX_AMOUNT,         /* (the window is needed: min(a, b) is the smaller number) */
    HD_SEG_SOURCES
} hd_segment_source;

typedef struct hd_segment_field {
    hd_segment_source source;
    const char *name; /* the slot's canonical name, borrowed from the segment */
    const char *arg;  /* attribute path or event type, borrowed; "" when none */
    int64_t window_s; /* aggregate window; 0 = all time */
} hd_segment_field;

typedef struct hd_segment hd_segment;

/* Parses and checks a segment condition. On success *out is a segment the caller frees
 * with hd_segment_free. On error *out is NULL and err->field is "expression" with a
 * message that starts "line L, column C: " (hd_expr_error_pos reads it back): HD_ESYNTAX
 * when the text is not an expression, HD_EINVAL when it reads a field segments do not
 * know, uses an aggregate other than count(<event type>) and sum/avg/min/max(amount), or
 * cannot be true or false. */
hd_rc hd_segment_compile(const char *src, size_t len, hd_segment **out, hd_err *err);
void hd_segment_free(hd_segment *s); /* accepts NULL */

/* The fields the condition reads, one per slot (slot i is field i). */
int hd_segment_nfields(const hd_segment *s);
const hd_segment_field *hd_segment_field_at(const hd_segment *s, int i);
const hd_expr *hd_segment_expr(const hd_segment *s);

/* Which source a slot reads; HD_EINVAL (without a position) when none. */
hd_rc hd_segment_field_of(const hd_expr_var *v, hd_segment_field *out, hd_err *err);

/* One column: the values of one field for rows 0 .. n-1. */
typedef enum hd_segment_col_kind {
    HD_SEG_COL_NULL, /* every row null */
    HD_SEG_COL_INT,  /* i[row], null where present[row] == 0 (present may be NULL) */
    HD_SEG_COL_REAL, /* d[row], likewise */
    HD_SEG_COL_DICT, /* dict[code[row]], null where code[row] == HD_SEGMENT_NULL_CODE */
    HD_SEG_COL_VAL,  /* v[row]: any value (strings and lists borrowed) */
} hd_segment_col_kind;

typedef struct hd_segment_col {
    hd_segment_col_kind kind;
    const int64_t *i;
    const double *d;
    const uint8_t *present;
    const uint32_t *code;
    const hd_expr_val *dict;
    uint32_t ndict;
    const hd_expr_val *v;
} hd_segment_col;

typedef struct hd_segment_stats {
    size_t rows;
    size_t members;
    size_t errors;          /* rows whose evaluation failed (a type error): not members */
    size_t first_error_row; /* valid when errors > 0 */
    hd_err first_error;     /* the message of that row's failure */
} hd_segment_stats;

/* Evaluates the segment on rows 0 .. n-1 with cols[k] the column of slot k (cols may be
 * NULL when there are no slots). member[row] is set to 1 or 0. A row whose evaluation
 * fails (a string compared with a number, ...) is not a member and is counted in
 * stats->errors; the first such failure is kept. Allocates nothing; safe to run on
 * disjoint row ranges from several threads (pass offset pointers). HD_EINVAL only for
 * a malformed column (a dictionary code out of range, a missing array). */
hd_rc hd_segment_eval(const hd_segment *s, const hd_segment_col *cols, size_t n, uint8_t *member,
                      hd_segment_stats *stats, hd_err *err);

/* The value of a column at row, as the expression sees it. */
hd_expr_val hd_segment_col_value(const hd_segment_col *c, size_t row);

/* Names the language accepts, for messages and documentation. */
const char *hd_segment_fields_help(void);

#endif
