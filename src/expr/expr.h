/* expr.h - the small expression language of earning rules, segments and
 * eligibility: `amount >= 10000 and touchpoint == "wechat"`,
 * `floor(amount / 100) * tier.multiplier`, `count(order.paid, 90d) >= 2`.
 *
 * A source text is parsed once into an immutable program for a small stack
 * machine. Every field path it names (and every aggregate call such as
 * count(order.paid, 90d)) becomes a numbered slot; the caller resolves the
 * slot names once and, for each evaluation, hands in an array of values
 * indexed by slot. Evaluation never allocates, never blocks, and may run on
 * the same hd_expr from any number of threads at once.
 *
 * The language is described in docs/rules-language.md. In short:
 *   - integers (int64) stay exact under + - * % and unary minus; overflow is
 *     an error, never a wrap. `/` is real division. floor/ceil/round return
 *     integers, and floor(a / b), ceil(a / b), round(a / b) of two integers
 *     are computed exactly in integers.
 *   - ordered comparisons (< <= > >=) involving null are false; `==` is true
 *     for null only when both sides are null, `!=` is its negation. null in
 *     arithmetic or a function gives null; null counts as false in and/or/not.
 *   - comparing different kinds (a string with a number, ...) is an error.
 *
 * Errors from this module (parse and evaluation) have a message that starts
 * with "line L, column C: " (1-based; columns count characters, not bytes);
 * hd_expr_error_pos() reads the position back as numbers. */
#ifndef HD_EXPR_H
#define HD_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Limits, checked at parse time with a clear error. */
#define HD_EXPR_SRC_MAX   4096 /* bytes of source */
#define HD_EXPR_DEPTH_MAX 64   /* brackets, calls, lists and signs open at once */
#define HD_EXPR_NODES_MAX 1024 /* operands + operators + calls + list elements */
#define HD_EXPR_VARS_MAX  128  /* distinct fields and aggregates */
#define HD_EXPR_NAME_MAX  128  /* bytes in one field path */
#define HD_EXPR_STACK_MAX 128  /* evaluation stack slots (2 KiB of C stack) */

typedef enum hd_expr_type {
    HD_EXPR_NULL = 0,
    HD_EXPR_BOOL,
    HD_EXPR_INT,
    HD_EXPR_REAL,
    HD_EXPR_STR,
    HD_EXPR_ARRAY,
} hd_expr_type;

/* A value: 16 bytes, passed by copy. Strings and arrays are borrowed
 * pointers with a length; the language never creates a new one at
 * evaluation time, so a string or array result points either into the
 * hd_expr (valid until hd_expr_free) or into the caller's vars. Strings are
 * UTF-8 compared byte by byte (which is code-point order). */
typedef struct hd_expr_val {
    hd_expr_type type;
    uint32_t len; /* STR: bytes; ARRAY: elements */
    union {
        bool b;
        int64_t i;
        double d;
        const char *s;
        const struct hd_expr_val *a;
    } u;
} hd_expr_val;

static inline hd_expr_val hd_expr_null(void) {
    hd_expr_val v = {HD_EXPR_NULL, 0, {.i = 0}};
    return v;
}
static inline hd_expr_val hd_expr_bool(bool b) {
    hd_expr_val v = {HD_EXPR_BOOL, 0, {.b = b}};
    return v;
}
static inline hd_expr_val hd_expr_int(int64_t i) {
    hd_expr_val v = {HD_EXPR_INT, 0, {.i = i}};
    return v;
}
static inline hd_expr_val hd_expr_real(double d) {
    hd_expr_val v = {HD_EXPR_REAL, 0, {.d = d}};
    return v;
}
/* s is borrowed and need not be NUL-terminated. */
static inline hd_expr_val hd_expr_str(const char *s, size_t len) {
    hd_expr_val v = {HD_EXPR_STR, (uint32_t)len, {.s = s}};
    return v;
}
/* For a path with [*] (lines[*].category): one element per line. Borrowed. */
static inline hd_expr_val hd_expr_array(const hd_expr_val *a, size_t n) {
    hd_expr_val v = {HD_EXPR_ARRAY, (uint32_t)n, {.a = a}};
    return v;
}

typedef struct hd_expr hd_expr;

/* Where a parse error is, for APIs that return it as JSON fields. */
typedef struct hd_expr_pos {
    int line;      /* 1-based */
    int column;    /* 1-based, in characters (code points), not bytes */
    size_t offset; /* byte offset into the source */
} hd_expr_pos;

/* Parses src[0..len) (UTF-8, need not be NUL-terminated) and returns a
 * program the caller frees with hd_expr_free. On error returns NULL and
 * fills err: HD_ESYNTAX when the text is not an expression, HD_EINVAL when
 * it is one that cannot work (unknown function, wrong number of arguments,
 * a limit exceeded, `"a" + 1`). err->msg reads
 * "line L, column C: <what was expected>". */
hd_expr *hd_expr_parse(const char *src, size_t len, hd_err *err);
/* The same, and on error also fills *errpos (which may be NULL). */
hd_expr *hd_expr_parse_ex(const char *src, size_t len, hd_expr_pos *errpos, hd_err *err);

/* Reads line and column back from any error this module produced (parse or
 * evaluation), for an API that returns them as fields; pos->offset is left
 * 0 (hd_expr_parse_ex gives it). False, with *pos zeroed, when err has no
 * position. */
bool hd_expr_error_pos(const hd_err *err, hd_expr_pos *pos);

void hd_expr_free(hd_expr *e); /* accepts NULL */

/* --- slots: the fields and aggregates the expression reads --- */

/* One slot. Strings are owned by the hd_expr. */
typedef struct hd_expr_var {
    const char *name; /* canonical text, unique within the expression:
                       * "amount", "customer.attributes.city",
                       * "lines[*].category", "count(order.paid,90d)" */
    const char *path; /* the field path; for an aggregate, its argument */
    const char *agg;  /* NULL for a field, else "count" "sum" "avg" "min" "max" */
    int64_t window_s; /* aggregate window in seconds; 0 = all time */
    bool is_array;    /* path has [*]: supply an HD_EXPR_ARRAY (or null) */
} hd_expr_var;

int hd_expr_nvars(const hd_expr *e);
/* Slot i's canonical name; NULL when i is out of range. */
const char *hd_expr_var_name(const hd_expr *e, int i);
/* Slot i in full; NULL when i is out of range. */
const hd_expr_var *hd_expr_var_info(const hd_expr *e, int i);
/* The slot of a canonical name, or -1. */
int hd_expr_var_find(const hd_expr *e, const char *name);

/* Bit (1u << HD_EXPR_x) is set for each type the result may have, as far as
 * the parser can tell without knowing the fields' types; lets a caller
 * reject a formula that can never be a number before saving it. */
unsigned hd_expr_result_types(const hd_expr *e);
/* The source text, NUL-terminated, owned by e. */
const char *hd_expr_source(const hd_expr *e, size_t *len);

/* --- evaluation: no allocation, thread-safe on a shared hd_expr --- */

/* Evaluates with vars[i] the value of slot i (vars has hd_expr_nvars(e)
 * entries; NULL when there are none). On a type error (a string compared
 * with a number, `and` applied to a number), integer overflow, division by
 * zero or a number out of range, returns HD_EINVAL with err->msg saying
 * where and what, and err->field naming the field involved when there is
 * one; *out is then null. */
hd_rc hd_expr_eval(const hd_expr *e, const hd_expr_val *vars, hd_expr_val *out, hd_err *err);

/* A condition: true/false; null (a missing field) counts as false. Any other
 * result type is HD_EINVAL. */
hd_rc hd_expr_eval_bool(const hd_expr *e, const hd_expr_val *vars, bool *out, hd_err *err);

/* A number as a double (an integer result is converted). A null or
 * non-number result is HD_EINVAL. */
hd_rc hd_expr_eval_number(const hd_expr *e, const hd_expr_val *vars, double *out, hd_err *err);

/* A whole number, for points: an integer result is returned exactly; a real
 * one is rounded down (points are whole; write round() or ceil() in the
 * formula to choose otherwise). null, non-numbers and reals outside int64
 * are HD_EINVAL. */
hd_rc hd_expr_eval_int(const hd_expr *e, const hd_expr_val *vars, int64_t *out, hd_err *err);

/* Name of a type for messages: "null", "boolean", "integer", "real",
 * "string", "list". */
const char *hd_expr_type_name(hd_expr_type t);

#endif
