/* fuzz_expr.c - libFuzzer driver for the rule expression language.
 *
 * Parses the input; a failure must leave a message with a line and column
 * that matches the position returned beside it. A success is evaluated with
 * fixed values chosen by each field's name (numbers, Chinese strings, null,
 * lists, the integer extremes), through every evaluation entry point, and
 * must give the same answer twice. Nothing may crash, leak or trip a
 * sanitizer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"

static const hd_expr_val strs[] = {
    {HD_EXPR_STR, 5, {.s = "jeans"}}, {HD_EXPR_STR, 6, {.s = "北京"}}, {HD_EXPR_NULL, 0, {.i = 0}}};
static const hd_expr_val ints[] = {
    {HD_EXPR_INT, 0, {.i = 1}}, {HD_EXPR_REAL, 0, {.d = 2.5}}, {HD_EXPR_INT, 0, {.i = -7}}};
static const hd_expr_val nested[] = {{HD_EXPR_ARRAY, 3, {.a = strs}}, {HD_EXPR_INT, 0, {.i = 1}}};

static hd_expr_val value_for(const char *name) {
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    switch (h % 14) {
    case 0: return hd_expr_int(12345);
    case 1: return hd_expr_int(0);
    case 2: return hd_expr_int(INT64_MAX);
    case 3: return hd_expr_int(INT64_MIN);
    case 4: return hd_expr_real(1.5);
    case 5: return hd_expr_real(-0.0);
    case 6: return hd_expr_str("wechat", 6);
    case 7: return hd_expr_str("上海", 6);
    case 8: return hd_expr_str("", 0);
    case 9: return hd_expr_bool(true);
    case 10: return hd_expr_array(strs, 3);
    case 11: return hd_expr_array(ints, 3);
    case 12: return hd_expr_array(nested, 2);
    default: return hd_expr_null();
    }
}

static int same(const hd_expr_val *a, const hd_expr_val *b) {
    if (a->type != b->type || a->len != b->len) return 0;
    switch (a->type) {
    case HD_EXPR_NULL: return 1;
    case HD_EXPR_BOOL: return a->u.b == b->u.b;
    case HD_EXPR_INT: return a->u.i == b->u.i;
    case HD_EXPR_REAL: return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case HD_EXPR_STR: return a->u.s == b->u.s;
    case HD_EXPR_ARRAY: return a->u.a == b->u.a;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    hd_err err;
    hd_expr_pos pos, back;
    hd_expr *e = hd_expr_parse_ex((const char *)data, size, &pos, &err);
    if (!e) {
        /* every parse error carries its position, the same both ways */
        if (err.rc != HD_ESYNTAX && err.rc != HD_EINVAL && err.rc != HD_ENOMEM) abort();
        if (!hd_expr_error_pos(&err, &back)) abort();
        if (back.line != pos.line || back.column != pos.column || pos.line < 1) abort();
        if (pos.offset > size) abort();
        return 0;
    }
    int n = hd_expr_nvars(e);
    hd_expr_val vars[HD_EXPR_VARS_MAX];
    for (int i = 0; i < n; i++) {
        const char *name = hd_expr_var_name(e, i);
        if (!name || hd_expr_var_find(e, name) != i) abort();
        vars[i] = value_for(name);
    }
    hd_expr_val a, b;
    hd_rc r1 = hd_expr_eval(e, n ? vars : NULL, &a, &err);
    if (r1 != HD_OK && !hd_expr_error_pos(&err, &back)) abort();
    hd_rc r2 = hd_expr_eval(e, n ? vars : NULL, &b, &err);
    if (r1 != r2 || !same(&a, &b)) abort();
    bool flag;
    double d;
    int64_t i64;
    (void)hd_expr_eval_bool(e, vars, &flag, &err);
    (void)hd_expr_eval_number(e, vars, &d, &err);
    (void)hd_expr_eval_int(e, vars, &i64, &err);

    /* the stored source parses again to the same slots */
    size_t len;
    const char *src = hd_expr_source(e, &len);
    hd_expr *again = hd_expr_parse(src, len, &err);
    if (!again || hd_expr_nvars(again) != n) abort();
    hd_expr_free(again);
    hd_expr_free(e);
    return 0;
}
