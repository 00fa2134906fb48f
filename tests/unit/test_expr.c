/* test_expr.c - the rule expression language: parsing, every operator,
 * integer/real rules, strings (Chinese included), lists, null, errors with
 * their exact line and column, limits, threads, and a seeded random
 * comparison of the machine against a tree-walking reference evaluator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/err.h"
#include "expr/expr.h"

/* --- the values fields have in most tests --- */

typedef struct binding {
    const char *name;
    hd_expr_val v;
} binding;

static const hd_expr_val categories[] = {{HD_EXPR_STR, 5, {.s = "jeans"}},
                                         {HD_EXPR_STR, 6, {.s = "shirts"}},
                                         {HD_EXPR_NULL, 0, {.i = 0}}};
static const hd_expr_val tags[] = {{HD_EXPR_STR, 3, {.s = "vip"}}, {HD_EXPR_STR, 6, {.s = "新客"}}};
static const hd_expr_val nums[] = {{HD_EXPR_INT, 0, {.i = 1}}, {HD_EXPR_REAL, 0, {.d = 2.5}}};

static const binding env[] = {
    {"amount", {HD_EXPR_INT, 0, {.i = 12345}}},
    {"touchpoint", {HD_EXPR_STR, 6, {.s = "wechat"}}},
    {"tier.multiplier", {HD_EXPR_REAL, 0, {.d = 1.5}}},
    {"customer.tier", {HD_EXPR_STR, 4, {.s = "gold"}}},
    {"customer.attributes.city", {HD_EXPR_STR, 6, {.s = "北京"}}},
    {"lines[*].category", {HD_EXPR_ARRAY, 3, {.a = categories}}},
    {"customer.tags", {HD_EXPR_ARRAY, 2, {.a = tags}}},
    {"nums", {HD_EXPR_ARRAY, 2, {.a = nums}}},
    {"count(order.paid,90d)", {HD_EXPR_INT, 0, {.i = 3}}},
    {"sum(amount,365d)", {HD_EXPR_INT, 0, {.i = 50000}}},
    {"name", {HD_EXPR_STR, 6, {.s = "张三"}}},
    {"zero", {HD_EXPR_INT, 0, {.i = 0}}},
    {"big", {HD_EXPR_INT, 0, {.i = INT64_MAX}}},
    {"small", {HD_EXPR_INT, 0, {.i = INT64_MIN}}},
    {"neg", {HD_EXPR_INT, 0, {.i = -7}}},
    {"r", {HD_EXPR_REAL, 0, {.d = 2.5}}},
    {"flag", {HD_EXPR_BOOL, 0, {.b = true}}},
    {"off", {HD_EXPR_BOOL, 0, {.b = false}}},
    {"empty", {HD_EXPR_STR, 0, {.s = ""}}},
    {"s", {HD_EXPR_STR, 3, {.s = "abc"}}},
    {"n", {HD_EXPR_NULL, 0, {.i = 0}}},
};
#define NENV (sizeof env / sizeof env[0])

/* Fills vars for e from env; fields env does not know are null. */
static void bind(const hd_expr *e, hd_expr_val *vars) {
    for (int i = 0; i < hd_expr_nvars(e); i++) {
        vars[i] = hd_expr_null();
        for (size_t j = 0; j < NENV; j++)
            if (strcmp(env[j].name, hd_expr_var_name(e, i)) == 0) vars[i] = env[j].v;
    }
}

static hd_expr *parse_ok(const char *src) {
    hd_err err;
    hd_expr *e = hd_expr_parse(src, strlen(src), &err);
    if (!e) fail_msg("%s: parse failed: %s", src, err.msg);
    return e;
}

/* Parses and evaluates src against env; the expression is kept in *ep so a
 * string result stays valid until the caller frees it. */
static hd_rc run(const char *src, hd_expr **ep, hd_expr_val *out, hd_err *err) {
    hd_expr *e = parse_ok(src);
    hd_expr_val vars[HD_EXPR_VARS_MAX];
    bind(e, vars);
    hd_rc rc = hd_expr_eval(e, vars, out, err);
    *ep = e;
    return rc;
}

static void expect_int(const char *src, int64_t want) {
    hd_expr *e;
    hd_expr_val v;
    hd_err err;
    if (run(src, &e, &v, &err) != HD_OK) fail_msg("%s: %s", src, err.msg);
    if (v.type != HD_EXPR_INT || v.u.i != want)
        fail_msg("%s: got %s %lld, want integer %lld", src, hd_expr_type_name(v.type),
                 (long long)v.u.i, (long long)want);
    hd_expr_free(e);
}

static void expect_real(const char *src, double want) {
    hd_expr *e;
    hd_expr_val v;
    hd_err err;
    if (run(src, &e, &v, &err) != HD_OK) fail_msg("%s: %s", src, err.msg);
    if (v.type != HD_EXPR_REAL || v.u.d != want)
        fail_msg("%s: got %s %.17g, want real %.17g", src, hd_expr_type_name(v.type),
                 v.type == HD_EXPR_REAL ? v.u.d : 0.0, want);
    hd_expr_free(e);
}

static void expect_bool(const char *src, bool want) {
    hd_expr *e;
    hd_expr_val v;
    hd_err err;
    if (run(src, &e, &v, &err) != HD_OK) fail_msg("%s: %s", src, err.msg);
    if (v.type != HD_EXPR_BOOL || v.u.b != want)
        fail_msg("%s: got %s, want %s", src,
                 v.type == HD_EXPR_BOOL ? (v.u.b ? "true" : "false") : hd_expr_type_name(v.type),
                 want ? "true" : "false");
    hd_expr_free(e);
}

static void expect_null(const char *src) {
    hd_expr *e;
    hd_expr_val v;
    hd_err err;
    if (run(src, &e, &v, &err) != HD_OK) fail_msg("%s: %s", src, err.msg);
    if (v.type != HD_EXPR_NULL) fail_msg("%s: got %s, want null", src, hd_expr_type_name(v.type));
    hd_expr_free(e);
}

static void expect_str(const char *src, const char *want) {
    hd_expr *e;
    hd_expr_val v;
    hd_err err;
    if (run(src, &e, &v, &err) != HD_OK) fail_msg("%s: %s", src, err.msg);
    if (v.type != HD_EXPR_STR || v.len != strlen(want) || memcmp(v.u.s, want, v.len) != 0)
        fail_msg("%s: got %s '%.*s', want '%s'", src, hd_expr_type_name(v.type),
                 v.type == HD_EXPR_STR ? (int)v.len : 0, v.type == HD_EXPR_STR ? v.u.s : "", want);
    hd_expr_free(e);
}

/* Evaluation fails with HD_EINVAL and a message containing want. */
static void expect_eval_error(const char *src, const char *want) {
    hd_expr *e;
    hd_expr_val v;
    hd_err err;
    hd_rc rc = run(src, &e, &v, &err);
    if (rc != HD_EINVAL) fail_msg("%s: evaluated (rc %s), want an error", src, hd_rc_name(rc));
    if (!strstr(err.msg, want)) fail_msg("%s: message '%s' lacks '%s'", src, err.msg, want);
    if (v.type != HD_EXPR_NULL) fail_msg("%s: out not null after an error", src);
    hd_expr_free(e);
}

/* Parsing fails with rc at line:col with a message containing want. */
static void expect_parse_error(const char *src, size_t len, hd_rc rc, int line, int col,
                               const char *want) {
    hd_err err;
    hd_expr_pos pos;
    hd_expr *e = hd_expr_parse_ex(src, len, &pos, &err);
    if (e) {
        hd_expr_free(e);
        fail_msg("'%s': parsed, want an error", src);
    }
    if (err.rc != rc)
        fail_msg("'%s': rc %s, want %s (%s)", src, hd_rc_name(err.rc), hd_rc_name(rc), err.msg);
    if (pos.line != line || pos.column != col)
        fail_msg("'%s': at %d:%d, want %d:%d (%s)", src, pos.line, pos.column, line, col, err.msg);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "line %d, column %d: ", line, col);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0)
        fail_msg("'%s': message '%s' does not start with '%s'", src, err.msg, prefix);
    if (!strstr(err.msg, want)) fail_msg("'%s': message '%s' lacks '%s'", src, err.msg, want);
    hd_expr_pos back;
    assert_true(hd_expr_error_pos(&err, &back));
    assert_int_equal(back.line, line);
    assert_int_equal(back.column, col);
}

#define PARSE_ERR(src, rc, line, col, want)                                                        \
    expect_parse_error(src, strlen(src), rc, line, col, want)

/* --- tests --- */

static void test_precedence(void **state) {
    (void)state;
    expect_int("1 + 2 * 3", 7);
    expect_int("(1 + 2) * 3", 9);
    expect_int("10 - 2 - 3", 5);
    expect_real("100 / 10 / 2", 5.0);
    expect_int("2 * 3 % 4", 2);
    expect_int("-2 * 3", -6);
    expect_int("- -2", 2);
    expect_int("+5 - -5", 10);
    expect_int("-(2 + 3) * 2", -10);
    expect_bool("1 + 2 == 3 and 2 < 3", true);
    expect_bool("true or false and false", true); /* and binds tighter than or */
    expect_bool("(true or false) and false", false);
    expect_bool("not false and false", false); /* (not false) and false */
    expect_bool("not 1 > 2", true);            /* not (1 > 2) */
    expect_bool("not amount in [1, 2]", true); /* not (amount in [...]) */
    expect_bool("1 + 1 in [2]", true);
    expect_bool("!flag || flag && off", false);
    expect_bool("amount >= 10000 and touchpoint == \"wechat\"", true);
    expect_int("floor(amount / 100) * 2 + 1", 247);
}

static void test_integers_exact(void **state) {
    (void)state;
    expect_int("9223372036854775807", INT64_MAX);
    expect_int("-9223372036854775808", INT64_MIN);
    expect_int("big - 1 + 1", INT64_MAX);
    expect_int("4611686018427387903 * 2 + 1", INT64_MAX);
    expect_int("4611686018427387904 * -2", INT64_MIN);
    expect_eval_error("big + 1", "integer overflow in '+'");
    expect_eval_error("small - 1", "integer overflow in '-'");
    expect_eval_error("big * 2", "integer overflow in '*'");
    expect_eval_error("-small", "integer overflow in '-'");
    expect_eval_error("abs(small)", "integer overflow");
    expect_int("7 % 3", 1);
    expect_int("-7 % 3", 2); /* floored: the sign of the divisor */
    expect_int("7 % -3", -2);
    expect_int("neg % 7", 0);
    expect_int("small % -1", 0);
    expect_eval_error("amount % zero", "division by zero");
    expect_eval_error("amount / zero", "division by zero");
    expect_eval_error("floor(amount / zero)", "division by zero");
    /* integers above 2^53 survive exactly */
    expect_int("9007199254740993 + 0", 9007199254740993LL);
    expect_int("floor(9007199254740993 / 1)", 9007199254740993LL);
    expect_int("floor(big / 1)", INT64_MAX);
    expect_eval_error("floor(small / -1)", "integer overflow");
}

static void test_int_vs_real(void **state) {
    (void)state;
    expect_real("1 / 2", 0.5);
    expect_real("4 / 2", 2.0); /* '/' is always real division */
    expect_int("floor(7 / 2)", 3);
    expect_int("floor(-7 / 2)", -4);
    expect_int("ceil(7 / 2)", 4);
    expect_int("ceil(-7 / 2)", -3);
    expect_int("round(5 / 2)", 3); /* half away from zero */
    expect_int("round(-5 / 2)", -3);
    expect_int("round(7 / 3)", 2);
    expect_int("floor(amount / 100)", 123);
    expect_int("floor(amount / 2.5)", 4938);
    expect_real("floor(amount / 100) * tier.multiplier", 184.5);
    expect_real("amount * 1.0", 12345.0);
    expect_real("0.1 + 0.2", 0.1 + 0.2);
    expect_real("r - 0.5", 2.0);
    expect_real("7.5 % 2", 1.5);
    expect_real("-7.5 % 2", 0.5);
    expect_real("1e3 + 2.5E-1", 1000.25);
    expect_int("floor(2.7)", 2);
    expect_int("floor(-2.5)", -3);
    expect_int("ceil(2.1)", 3);
    expect_int("round(2.5)", 3);
    expect_int("round(-2.5)", -3);
    expect_int("round(amount * 0.05)", 617);
    expect_int("floor(5)", 5);
    expect_eval_error("floor(r * 1e300)", "outside the integer range");
    expect_eval_error("r * 1e300 * 1e300 > 0", "out of range");
    /* comparisons between integers and reals are exact */
    expect_bool("3 == 3.0", true);
    expect_bool("9007199254740993 == 9007199254740992.0", false);
    expect_bool("9007199254740993 > 9007199254740992.0", true);
    expect_bool("big < 9223372036854775808.0", true);
    expect_bool("small == -9223372036854775808.0", true);
    expect_bool("2 < 2.5 and 2.5 < 3 and -1 > -1.5", true);
    expect_real("min(1, 2.5, 0)", 0.0); /* a real among the arguments makes the result real */
    expect_int("min(3, 1, 2)", 1);
    expect_int("max(3, neg, 2)", 3);
    expect_real("max(2, 2.0)", 2.0);
    expect_int("abs(neg)", 7);
    expect_real("abs(-2.5)", 2.5);
}

static void test_comparisons(void **state) {
    (void)state;
    const char *yes[] = {"1 == 1",
                         "1 != 2",
                         "1 < 2",
                         "2 <= 2",
                         "3 > 2",
                         "3 >= 3",
                         "\"a\" < \"b\"",
                         "\"ab\" > \"a\"",
                         "\"\" < \"a\"",
                         "\"b\" >= \"b\"",
                         "true == true",
                         "true != false",
                         "touchpoint == \"wechat\"",
                         "\"wechat\" == touchpoint",
                         "10000 <= amount",
                         "amount != 1",
                         "customer.tier != \"silver\"",
                         "name == \"张三\"",
                         "\"北京\" < \"上海\" or \"北京\" > \"上海\"",
                         "r > 2",
                         "2 < r"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) expect_bool(yes[i], true);
    const char *no[] = {"1 == 2",         "1 != 1",        "2 < 1",
                        "3 <= 2",         "2 > 3",         "2 >= 3",
                        "\"b\" < \"a\"",  "true == false", "touchpoint == \"WeChat\"",
                        "amount < 10000", "10000 > amount"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) expect_bool(no[i], false);
    /* UTF-8 compares by code point: 上 U+4E0A < 北 U+5317 */
    expect_bool("\"上海\" < \"北京\"", true);
    expect_eval_error("touchpoint > 5", "'>' needs two numbers or two strings");
    /* the message follows the source even when the constant comes first */
    expect_eval_error("5 > touchpoint", "'>' needs two numbers or two strings, got a number and "
                                        "a string (touchpoint is string)");
    expect_bool("5 < amount and 12345 >= amount and 12345 <= amount and 1 != amount", true);
    expect_eval_error("amount == \"x\"", "'==' cannot compare a number with a string");
    expect_eval_error("flag == 1", "cannot compare true/false with a number");
    expect_eval_error("flag < off", "needs two numbers or two strings");
    expect_eval_error("s == customer.tags", "use 'in'");
}

static void test_strings(void **state) {
    (void)state;
    expect_str("\"hello\"", "hello");
    expect_str("'single'", "single");
    expect_str("\"北京\"", "北京");
    expect_str("\"a\\\"b\\\\c\\/d\"", "a\"b\\c/d");
    expect_str("'it\\'s'", "it's");
    expect_str("\"\\n\\t\\r\\b\\f\"", "\n\t\r\b\f");
    expect_str("\"\\u5317\\u4eac\"", "北京");
    expect_str("\"\\ud83d\\ude00\"", "😀");
    expect_str("\"\"", "");
    expect_str("touchpoint", "wechat");
    expect_str("\"tab\there\"", "tab\there");
    expect_bool("\"\\u5317\\u4EAC\" == customer.attributes.city", true);
    expect_bool("customer.attributes.city == \"北京\"", true);
    expect_bool("customer.attributes.city in [\"北京\", \"上海\", \"广州\"]", true);
    expect_bool("customer.attributes.city not in [\"上海\", \"广州\"]", true);
    expect_bool("name == '张三' and \"三\" in name", true);
    expect_bool("empty == ''", true);
    /* 'in' with a string on the right is a substring test */
    expect_bool("\"cha\" in touchpoint", true);
    expect_bool("\"x\" in touchpoint", false);
    expect_bool("\"\" in touchpoint", true);
    expect_bool("\"wechat!\" in touchpoint", false);
    expect_bool("\"jeans\" in \"blue jeans\"", true);
    expect_eval_error("amount in touchpoint", "needs a string on the left");
}

static void test_in_and_lists(void **state) {
    (void)state;
    expect_bool("\"jeans\" in lines[*].category", true);
    expect_bool("\"hats\" in lines[*].category", false);
    expect_bool("\"hats\" not in lines[*].category", true);
    expect_bool("\"vip\" in customer.tags", true);
    expect_bool("\"新客\" in customer.tags", true);
    expect_bool("2.5 in nums and 1 in nums and 1.0 in nums", true);
    expect_bool("3 in nums", false);
    expect_bool("touchpoint in [\"wechat\", \"weibo\"]", true);
    expect_bool("touchpoint in ['web', 'store']", false);
    expect_bool("touchpoint not in ['web', 'store']", true);
    expect_bool("amount in [12345, 1]", true);
    expect_bool("amount in [12345.0]", true);
    expect_bool("amount in []", false);
    expect_bool("amount not in []", true);
    expect_bool("amount in [1, null, 12345,]", true);
    expect_bool("customer.tier in [customer.tier, \"x\"]", true); /* elements may be fields */
    expect_bool("amount in [amount + 1, amount - 1]", false);
    expect_bool("amount in [1, 2, amount]", true);
    expect_bool("\"jeans\" in ['x', touchpoint, customer.tier, 'jeans']", true);
    /* a list on the left: does any element occur on the right? */
    expect_bool("lines[*].category in [\"shirts\", \"hats\"]", true);
    expect_bool("lines[*].category in [\"hats\"]", false);
    expect_bool("lines[*].category not in [\"hats\"]", true);
    expect_bool("customer.tags in lines[*].category", false);
    expect_bool("\"shi\" in lines[*].category", false); /* membership, not substring */
    expect_bool("lines[*].category in \"blue jeans\"", true);
    expect_eval_error("amount in lines[*].category", "'in' cannot compare a number with a string");
    expect_eval_error("amount in touchpoint", "'in' with a string on the right");
    expect_eval_error("\"x\" in [touchpoint, amount]", "cannot compare a string with a number");
    expect_eval_error("amount in flag", "'in' needs a list or a string on the right");
    expect_bool("\"wechat\" in [touchpoint, amount]", true); /* found before the mismatch */
}

static void test_functions(void **state) {
    (void)state;
    expect_int("floor(12.9) + ceil(12.1) + round(12.5) + abs(-12)", 12 + 13 + 13 + 12);
    expect_int("min(5, 3)", 3);
    expect_int("max(5, 3, 9, -1)", 9);
    expect_int("min(floor(amount / 100) * 2, 100)", 100);
    expect_real("min(r, 3)", 2.5);
    expect_real("max(r, 3)", 3.0);
    expect_int("abs(-0)", 0);
    expect_int("count(order.paid, 90d)", 3);
    expect_bool("count(order.paid, 90d) >= 2 and sum(amount, 365d) > 10000", true);
    expect_null("max(amount, 30d)"); /* an aggregate the test environment leaves out */
    expect_null("floor(n)");
    expect_null("min(1, n)");
    expect_eval_error("floor(touchpoint)", "floor() needs a number, got a string");
    expect_eval_error("min(1, touchpoint)", "min() needs numbers, got a string");
    expect_eval_error("abs(flag)", "abs() needs a number");
    PARSE_ERR("floor()", HD_EINVAL, 1, 1, "floor() takes 1 argument, got 0");
    PARSE_ERR("round(1, 2)", HD_EINVAL, 1, 1, "round() takes 1 argument, got 2");
    PARSE_ERR("amount > 1 and abs(1,\n 2, 3)", HD_EINVAL, 1, 16, "abs() takes 1 argument, got 3");
    PARSE_ERR("min(1)", HD_EINVAL, 1, 1, "min() takes 2 to 32 numbers");
    PARSE_ERR("max(amount)", HD_EINVAL, 1, 1, "or a field and a window such as max(amount, 30d)");
    PARSE_ERR("count()", HD_EINVAL, 1, 1, "count() takes a field and an optional window");
    PARSE_ERR("sum(amount, 30d, 2)", HD_EINVAL, 1, 1, "sum() takes a field");
    PARSE_ERR("amount > 0 and\n   Floor(amount)", HD_EINVAL, 2, 4, "unknown function 'Floor'");
    PARSE_ERR("count(1, 90d)", HD_EINVAL, 1, 7, "must be a field or event type");
    PARSE_ERR("count(order.paid, 90)", HD_EINVAL, 1, 19, "must be a window such as 90d");
    PARSE_ERR("count(order.paid, 0d)", HD_EINVAL, 1, 19, "longer than 0");
    PARSE_ERR("amount > 90d", HD_EINVAL, 1, 10, "a duration such as 90d can only be the window");
    PARSE_ERR("min(1, 30d)", HD_EINVAL, 1, 5, "must be a field");
    PARSE_ERR("floor(amount", HD_ESYNTAX, 1, 13, "expected ',' or ')' in the call to floor()");
}

static void test_null(void **state) {
    (void)state;
    /* ordered comparisons with null are false, whichever way round */
    const char *no[] = {"n < 1",
                        "n <= 1",
                        "n > 1",
                        "n >= 1",
                        "1 < n",
                        "n < n",
                        "missing.field > 0",
                        "n == 1",
                        "1 == n",
                        "n == \"x\"",
                        "n in [1, 2]",
                        "n in [null]",
                        "1 in n",
                        "\"a\" in n",
                        "not true"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) expect_bool(no[i], false);
    /* == is true only for two nulls; != is its negation */
    const char *yes[] = {
        "n == null", "null == n",        "missing == null",          "n != 1",
        "1 != n",    "amount != null",   "touchpoint != null",       "n not in [1]",
        "not n",     "not missing.flag", "properties.coupon == null"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) expect_bool(yes[i], true);
    expect_bool("amount == null", false);
    expect_bool("n != null", false);
    /* arithmetic and functions pass null on */
    expect_null("n + 1");
    expect_null("1 - n");
    expect_null("n * 2 / 3 % 4");
    expect_null("-n");
    expect_null("floor(amount / n)");
    expect_null("max(n, 1, 2)");
    expect_null("null");
    /* in and/or null counts as false; the result is always true/false */
    expect_bool("n and true", false);
    expect_bool("true and n", false);
    expect_bool("n or true", true);
    expect_bool("n or n", false);
    expect_bool("n or false", false);
    /* a missing field in a condition makes it false, not an error */
    expect_bool("tier.level >= 3 and amount > 0", false);
    /* null with a value of the wrong kind is still a type error */
    expect_eval_error("n + touchpoint", "'+' needs numbers, got a string");
}

static void test_logic(void **state) {
    (void)state;
    expect_bool("true and true", true);
    expect_bool("true and false", false);
    expect_bool("false or true", true);
    expect_bool("false or false", false);
    expect_bool("not true", false);
    expect_bool("not not true", true);
    expect_bool("flag && !off", true);
    expect_bool("off || flag", true);
    expect_bool("!(amount > 1)", false);
    /* short circuit: the right side is not evaluated */
    expect_bool("off and amount / zero > 1", false);
    expect_bool("flag or touchpoint > 1", true);
    expect_bool("amount > 0 or 1 / zero > 1", true);
    expect_eval_error("flag and amount / zero > 1", "division by zero");
    expect_eval_error("amount and true", "'and' needs true/false, got a number");
    expect_eval_error("off or touchpoint", "needs true/false, got a string");
    expect_eval_error("flag and amount", "needs true/false, got a number");
    expect_eval_error("not amount", "'not' needs true/false, got a number");
    expect_bool("true and flag", true); /* folded to flag */
    expect_bool("false or off", false);
    expect_eval_error("true and amount", "needs true/false");
}

static void test_fields(void **state) {
    (void)state;
    hd_expr *e = parse_ok("amount >= 100 and customer.tier == 'gold' and amount < 1000000 and "
                          "customer . attributes . city == '北京' and "
                          "\"jeans\" in lines[*].category and tier.multiplier > 1 and "
                          "count(order.paid, 90d) >= 2 and count(order.paid, 2160h) >= 2 and "
                          "sum(amount, 365d) > 1 and max(amount, 1w) > 0 and avg(amount) > 0 and "
                          "properties.in == 1 and customer.attributes.城市 == '上海'");
    const char *names[] = {
        "amount",          "customer.tier",         "customer.attributes.city", "lines[*].category",
        "tier.multiplier", "count(order.paid,90d)", "sum(amount,365d)",         "max(amount,7d)",
        "avg(amount)",     "properties.in",         "customer.attributes.城市"};
    int n = (int)(sizeof names / sizeof names[0]);
    assert_int_equal(hd_expr_nvars(e), n);
    for (int i = 0; i < n; i++) {
        assert_string_equal(hd_expr_var_name(e, i), names[i]);
        assert_int_equal(hd_expr_var_find(e, names[i]), i);
    }
    assert_null(hd_expr_var_name(e, n));
    assert_null(hd_expr_var_name(e, -1));
    assert_null(hd_expr_var_info(e, n));
    assert_int_equal(hd_expr_var_find(e, "nope"), -1);
    const hd_expr_var *v = hd_expr_var_info(e, 3);
    assert_true(v->is_array);
    assert_null(v->agg);
    assert_string_equal(v->path, "lines[*].category");
    v = hd_expr_var_info(e, 5);
    assert_string_equal(v->agg, "count");
    assert_string_equal(v->path, "order.paid");
    assert_int_equal(v->window_s, 90 * 86400);
    assert_false(v->is_array);
    v = hd_expr_var_info(e, 7);
    assert_string_equal(v->agg, "max");
    assert_int_equal(v->window_s, 7 * 86400);
    v = hd_expr_var_info(e, 8);
    assert_string_equal(v->agg, "avg");
    assert_int_equal(v->window_s, 0);
    hd_expr_free(e);

    /* windows in every unit, named in the largest unit that divides them */
    e = parse_ok("count(a, 45s) + count(a, 90m) + count(a, 36h) + count(a, 86400s) + "
                 "count(a, 2w)");
    const char *wn[] = {"count(a,45s)", "count(a,90m)", "count(a,36h)", "count(a,1d)",
                        "count(a,14d)"};
    assert_int_equal(hd_expr_nvars(e), 5);
    for (int i = 0; i < 5; i++) assert_string_equal(hd_expr_var_name(e, i), wn[i]);
    assert_int_equal(hd_expr_var_info(e, 1)->window_s, 5400);
    hd_expr_free(e);

    /* no fields: vars may be NULL */
    e = parse_ok("1 + 1");
    assert_int_equal(hd_expr_nvars(e), 0);
    hd_expr_val out;
    hd_err err;
    assert_int_equal(hd_expr_eval(e, NULL, &out, &err), HD_OK);
    assert_int_equal(out.u.i, 2);
    size_t len;
    assert_string_equal(hd_expr_source(e, &len), "1 + 1");
    assert_int_equal(len, 5);
    hd_expr_free(e);
    e = parse_ok("amount");
    assert_int_equal(hd_expr_eval(e, NULL, &out, &err), HD_EINVAL);
    hd_expr_free(e);
    hd_expr_free(NULL);

    /* not NUL-terminated: only len bytes are read */
    const char buf[] = {'a', ' ', '+', ' ', '1', '9', '9'};
    e = hd_expr_parse(buf, 5, &err);
    assert_non_null(e);
    assert_string_equal(hd_expr_source(e, NULL), "a + 1");
    hd_expr_free(e);
}

static void test_syntax_errors(void **state) {
    (void)state;
    PARSE_ERR("", HD_ESYNTAX, 1, 1, "the expression is empty");
    PARSE_ERR("  # only a comment", HD_ESYNTAX, 1, 19, "the expression is empty");
    PARSE_ERR("amount >= ", HD_ESYNTAX, 1, 11,
              "expected a value (a number, a string, a field, a function or '(') after '>=', "
              "found the end of the expression");
    PARSE_ERR("amount >=\n  ", HD_ESYNTAX, 2, 3, "after '>='");
    PARSE_ERR(")", HD_ESYNTAX, 1, 1, "expected a value");
    PARSE_ERR("a b", HD_ESYNTAX, 1, 3, "expected an operator (such as and, or, ==, +) or the end");
    PARSE_ERR("(amount + 1", HD_ESYNTAX, 1, 12,
              "expected ')' to close the '(' at line 1, column 1");
    PARSE_ERR("((a)))", HD_ESYNTAX, 1, 6, "found ')'");
    PARSE_ERR("a = 1", HD_ESYNTAX, 1, 3, "use '==' to compare");
    PARSE_ERR("a & b", HD_ESYNTAX, 1, 3, "use 'and'");
    PARSE_ERR("a | b", HD_ESYNTAX, 1, 3, "use 'or'");
    PARSE_ERR("a < b < c", HD_ESYNTAX, 1, 7, "comparisons cannot be chained");
    PARSE_ERR("a == b in [1]", HD_ESYNTAX, 1, 8, "comparisons cannot be chained");
    PARSE_ERR("a in [1] not in [2]", HD_ESYNTAX, 1, 10, "comparisons cannot be chained");
    PARSE_ERR("x in [1, 2", HD_ESYNTAX, 1, 11,
              "expected ',' or ']' in the list that starts at line 1, column 6");
    PARSE_ERR("x in [1 2]", HD_ESYNTAX, 1, 9, "expected ',' or ']'");
    PARSE_ERR("[1, 2]", HD_ESYNTAX, 1, 1, "only allowed after 'in'");
    PARSE_ERR("a == [1]", HD_ESYNTAX, 1, 6, "only allowed after 'in'");
    PARSE_ERR("\"abc", HD_ESYNTAX, 1, 1, "the string that starts here is not closed");
    PARSE_ERR("a == 'x\n'", HD_ESYNTAX, 1, 6, "not closed before the end of the line");
    PARSE_ERR("'\\q'", HD_ESYNTAX, 1, 2, "unknown escape '\\q'");
    PARSE_ERR("'\\中'", HD_ESYNTAX, 1, 2, "unknown escape '\\中'");
    PARSE_ERR("'\\u12'", HD_ESYNTAX, 1, 2, "four hex digits");
    PARSE_ERR("'\\ud800'", HD_ESYNTAX, 1, 2, "first half of a surrogate pair");
    PARSE_ERR("'\\udc00'", HD_ESYNTAX, 1, 2, "second half of a surrogate pair");
    PARSE_ERR("'a\x01'", HD_ESYNTAX, 1, 3, "control character U+0001");
    PARSE_ERR("a\x01", HD_ESYNTAX, 1, 2, "unexpected control character U+0001");
    PARSE_ERR("a $ b", HD_ESYNTAX, 1, 3, "unexpected character '$'");
    PARSE_ERR("9223372036854775808", HD_ESYNTAX, 1, 1, "too large");
    PARSE_ERR("99999999999999999999999", HD_ESYNTAX, 1, 1, "too large");
    PARSE_ERR("1e999", HD_ESYNTAX, 1, 1, "out of range");
    PARSE_ERR("10x", HD_ESYNTAX, 1, 3, "unexpected 'x' after the number 10");
    PARSE_ERR("1.5d", HD_ESYNTAX, 1, 4, "unexpected 'd' after the number 1.5");
    PARSE_ERR(".5", HD_ESYNTAX, 1, 1, "write 0.5, not .5");
    PARSE_ERR("a.", HD_ESYNTAX, 1, 3, "expected a field name after '.'");
    PARSE_ERR("a.1", HD_ESYNTAX, 1, 3, "expected a field name after '.', found the number 1");
    PARSE_ERR("lines[0].x", HD_ESYNTAX, 1, 7, "expected '*' in '[*]'");
    PARSE_ERR("lines[*.x", HD_ESYNTAX, 1, 8, "expected ']' to close '[*]'");
    PARSE_ERR("not", HD_ESYNTAX, 1, 4, "after 'not'");
    PARSE_ERR("a not b", HD_ESYNTAX, 1, 3, "found 'not'");
    /* a Chinese input method's punctuation is named, with what to type instead */
    PARSE_ERR("（amount > 1）", HD_ESYNTAX, 1, 1,
              "full-width '（' (U+FF08) is not allowed here; use '('");
    PARSE_ERR("amount ＞ 1", HD_ESYNTAX, 1, 8, "use '>'");
    PARSE_ERR("city == “北京”", HD_ESYNTAX, 1, 9, "is not a quote here; use '\"'");
    PARSE_ERR("x in [1，2]", HD_ESYNTAX, 1, 8, "use ','");
    PARSE_ERR("x in [1、2]", HD_ESYNTAX, 1, 8, "use ','");
    PARSE_ERR("a → b", HD_ESYNTAX, 1, 3, "unexpected character '→' (U+2192)");
    /* U+3000 and U+00A0 are spaces */
    expect_bool("amount\u3000>\u00a01", true);
}

static void test_error_positions(void **state) {
    (void)state;
    /* columns count characters: each Chinese character is one column */
    PARSE_ERR("城市 == \"北京\" and 金额 > （100）", HD_ESYNTAX, 1, 21, "full-width '（'");
    PARSE_ERR("customer.attributes.城市 == \"北京\"\n and 金额 >= 100\n and touchpoint = \"微信\"",
              HD_ESYNTAX, 3, 17, "use '=='");
    PARSE_ERR("'😀' == x y", HD_ESYNTAX, 1, 10, "found 'y'");
    /* \r\n is one line break, a lone \r is one too; a tab is one column */
    PARSE_ERR("a and\r\n  b c", HD_ESYNTAX, 2, 5, "found 'c'");
    PARSE_ERR("a and\r  b c", HD_ESYNTAX, 2, 5, "found 'c'");
    PARSE_ERR("\ta b", HD_ESYNTAX, 1, 4, "found 'b'");
    PARSE_ERR("# 规则：满一百\namount >= 100 and\n\n  (", HD_ESYNTAX, 4, 4, "after '('");
    /* invalid UTF-8 is found before anything else, at its byte */
    PARSE_ERR("a == \"北\xff\"", HD_ESYNTAX, 1, 8, "invalid UTF-8 (byte 0xFF)");
    PARSE_ERR("a == \"\xe5\x8c\"", HD_ESYNTAX, 1, 7, "invalid UTF-8");
    PARSE_ERR("\xc0\xaf", HD_ESYNTAX, 1, 1, "invalid UTF-8");       /* overlong */
    PARSE_ERR("'\xed\xa0\x80'", HD_ESYNTAX, 1, 2, "invalid UTF-8"); /* surrogate */
    expect_parse_error("a\0b", 3, HD_ESYNTAX, 1, 2, "NUL byte");
    /* semantic errors sit on the operator or argument they are about */
    PARSE_ERR("amount >= 10 and \"大\" + 1 > 0", HD_EINVAL, 1, 22,
              "'+' needs numbers; its left side is a string");
    PARSE_ERR("1 +\n  1 / 0", HD_EINVAL, 2, 5, "division by zero");
    PARSE_ERR("9223372036854775807 + 1 > 0", HD_EINVAL, 1, 21, "integer overflow in '+'");

    /* the offset is in bytes */
    hd_err err;
    hd_expr_pos pos;
    const char *src = "金额 > （1）";
    assert_null(hd_expr_parse_ex(src, strlen(src), &pos, &err));
    assert_int_equal(pos.offset, 9);
    assert_int_equal(pos.column, 6);

    /* evaluation errors carry the position of their operator and the field */
    hd_expr *e = parse_ok("amount > 0 and\n  touchpoint > 5");
    hd_expr_val vars[2], out;
    bind(e, vars);
    assert_int_equal(hd_expr_eval(e, vars, &out, &err), HD_EINVAL);
    assert_string_equal(err.msg, "line 2, column 14: '>' needs two numbers or two strings, got a "
                                 "string and a number (touchpoint is string)");
    assert_string_equal(err.field, "touchpoint");
    assert_true(hd_expr_error_pos(&err, &pos));
    assert_int_equal(pos.line, 2);
    assert_int_equal(pos.column, 14);
    hd_expr_free(e);
    e = parse_ok("城市 + 金额 > 0");
    hd_expr_val v2[2] = {hd_expr_str("x", 1), hd_expr_int(1)};
    assert_int_equal(hd_expr_eval(e, v2, &out, &err), HD_EINVAL);
    assert_string_equal(err.msg, "line 1, column 4: '+' needs numbers, got a string (城市 is "
                                 "string, 金额 is integer)");
    assert_string_equal(err.field, "城市");
    hd_expr_free(e);

    /* hd_expr_error_pos on errors without a position */
    hd_err_set(&err, HD_EINVAL, NULL, "something else");
    assert_false(hd_expr_error_pos(&err, &pos));
    assert_int_equal(pos.line, 0);
    hd_err_clear(&err);
    assert_false(hd_expr_error_pos(&err, &pos));
    assert_false(hd_expr_error_pos(NULL, &pos));
    hd_err_set(&err, HD_EINVAL, NULL, "line 3, column x: no");
    assert_false(hd_expr_error_pos(&err, &pos));
}

static void test_static_types(void **state) {
    (void)state;
    struct {
        const char *src;
        unsigned types;
    } t[] = {
        {"amount > 1", 1u << HD_EXPR_BOOL},
        {"a in [1]", 1u << HD_EXPR_BOOL},
        {"1 + 2", 1u << HD_EXPR_INT},
        {"a + 2", (1u << HD_EXPR_INT) | (1u << HD_EXPR_REAL) | (1u << HD_EXPR_NULL)},
        {"a / 2", (1u << HD_EXPR_REAL) | (1u << HD_EXPR_NULL)},
        {"floor(a)", (1u << HD_EXPR_INT) | (1u << HD_EXPR_NULL)},
        {"floor(a / 100) * 2", (1u << HD_EXPR_INT) | (1u << HD_EXPR_NULL)},
        {"floor(a / 100) * 1.5", (1u << HD_EXPR_REAL) | (1u << HD_EXPR_NULL)},
        {"'x'", 1u << HD_EXPR_STR},
        {"lines[*].x", (1u << HD_EXPR_ARRAY) | (1u << HD_EXPR_NULL)},
        {"count(order.paid, 30d)",
         (1u << HD_EXPR_INT) | (1u << HD_EXPR_REAL) | (1u << HD_EXPR_NULL)},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        hd_expr *e = parse_ok(t[i].src);
        if (hd_expr_result_types(e) != t[i].types)
            fail_msg("%s: types 0x%x, want 0x%x", t[i].src, hd_expr_result_types(e), t[i].types);
        hd_expr_free(e);
    }
    /* what can never work is rejected before any field is known */
    PARSE_ERR("(a > 1) + 2", HD_EINVAL, 1, 9, "'+' needs numbers; its left side is true/false");
    PARSE_ERR("2 * 'x'", HD_EINVAL, 1, 3, "its right side is a string");
    PARSE_ERR("not 5", HD_EINVAL, 1, 5, "'not' needs true/false; this is a number");
    PARSE_ERR("a and 'x'", HD_EINVAL, 1, 7, "'and' needs true/false; this is a string");
    PARSE_ERR("(a + 1) or b", HD_EINVAL, 1, 4, "'or' needs true/false; this is a number");
    PARSE_ERR("-'x'", HD_EINVAL, 1, 2, "'-' needs a number; this is a string");
    PARSE_ERR("floor(a > 1)", HD_EINVAL, 1, 9, "floor() needs a number; this is true/false");
    PARSE_ERR("(a > 1) == 3", HD_EINVAL, 1, 9, "'==' cannot compare true/false with a number");
    PARSE_ERR("'a' < 1", HD_EINVAL, 1, 5, "'<' cannot compare a string with a number");
    PARSE_ERR("(a > 1) < true", HD_EINVAL, 1, 9, "'<' needs numbers or strings");
    PARSE_ERR("lines[*].category == 'x'", HD_EINVAL, 1, 19, "cannot compare a list; use 'in'");
    PARSE_ERR("x in 5", HD_EINVAL, 1, 3, "'in' needs a list or a string");
    PARSE_ERR("x in [1, 'a']", HD_EINVAL, 1, 10,
              "this list mixes a number (first at element 1) with a string");
    PARSE_ERR("x in [null, true, 2]", HD_EINVAL, 1, 19,
              "mixes true/false (first at element 2) with a number");
    PARSE_ERR("'a' in [1, 2]", HD_EINVAL, 1, 5,
              "'in' would compare a string with a list of numbers");
    PARSE_ERR("5 in 'abc'", HD_EINVAL, 1, 3, "looks for a substring");
    PARSE_ERR("'a' in 'b' + 1", HD_EINVAL, 1, 12, "'+' needs numbers");
    /* constants are computed once, at parse time */
    expect_bool("amount > 10 * 1000 + 345 - 1", true);
    expect_bool("x in [1 + 1, 2 * 3] or 6 in [1 + 1, 2 * 3]", true);
}

static void test_eval_helpers(void **state) {
    (void)state;
    hd_err err;
    hd_expr_val vars[HD_EXPR_VARS_MAX];
    bool b;
    double d;
    int64_t i;
    hd_expr *e = parse_ok("amount > 100");
    bind(e, vars);
    assert_int_equal(hd_expr_eval_bool(e, vars, &b, &err), HD_OK);
    assert_true(b);
    hd_expr_free(e);
    e = parse_ok("missing > 100 or missing");
    bind(e, vars);
    assert_int_equal(hd_expr_eval_bool(e, vars, &b, &err), HD_OK);
    assert_false(b); /* null counts as false */
    hd_expr_free(e);
    e = parse_ok("n");
    bind(e, vars);
    b = true;
    assert_int_equal(hd_expr_eval_bool(e, vars, &b, &err), HD_OK);
    assert_false(b);
    assert_int_equal(hd_expr_eval_number(e, vars, &d, &err), HD_EINVAL);
    assert_non_null(strstr(err.msg, "a field it reads is missing"));
    assert_int_equal(hd_expr_eval_int(e, vars, &i, &err), HD_EINVAL);
    hd_expr_free(e);
    e = parse_ok("  amount + 1");
    bind(e, vars);
    assert_int_equal(hd_expr_eval_bool(e, vars, &b, &err), HD_EINVAL);
    assert_string_equal(err.msg, "line 1, column 3: a condition must give true or false, this gave "
                                 "a number");
    assert_int_equal(hd_expr_eval_number(e, vars, &d, &err), HD_OK);
    assert_true(d == 12346.0);
    assert_int_equal(hd_expr_eval_int(e, vars, &i, &err), HD_OK);
    assert_int_equal(i, 12346);
    hd_expr_free(e);
    e = parse_ok("floor(amount / 100) * tier.multiplier");
    bind(e, vars);
    assert_int_equal(hd_expr_eval_number(e, vars, &d, &err), HD_OK);
    assert_true(d == 184.5);
    assert_int_equal(hd_expr_eval_int(e, vars, &i, &err), HD_OK);
    assert_int_equal(i, 184); /* whole points: rounded down */
    hd_expr_free(e);
    e = parse_ok("-7 / 2");
    assert_int_equal(hd_expr_eval_int(e, NULL, &i, &err), HD_OK);
    assert_int_equal(i, -4);
    hd_expr_free(e);
    e = parse_ok("1e300");
    assert_int_equal(hd_expr_eval_int(e, NULL, &i, &err), HD_EINVAL);
    hd_expr_free(e);
    e = parse_ok("touchpoint");
    bind(e, vars);
    assert_int_equal(hd_expr_eval_number(e, vars, &d, &err), HD_EINVAL);
    assert_non_null(strstr(err.msg, "expected a number, this gave a string"));
    assert_int_equal(hd_expr_eval_int(e, vars, &i, &err), HD_EINVAL);
    hd_expr_free(e);
    e = parse_ok("amount / zero");
    bind(e, vars);
    assert_int_equal(hd_expr_eval_bool(e, vars, &b, &err), HD_EINVAL);
    assert_int_equal(hd_expr_eval_number(e, vars, &d, &err), HD_EINVAL);
    assert_int_equal(hd_expr_eval_int(e, vars, &i, &err), HD_EINVAL);
    hd_expr_free(e);
    /* NaN and infinity handed in by a caller */
    e = parse_ok("x > 1 or x < 1 or x == x");
    hd_expr_val nan = hd_expr_real(NAN);
    assert_int_equal(hd_expr_eval_bool(e, &nan, &b, &err), HD_OK);
    assert_false(b);
    hd_expr_free(e);
    e = parse_ok("x + 1");
    hd_expr_val inf = hd_expr_real(INFINITY);
    assert_int_equal(hd_expr_eval_number(e, &inf, &d, &err), HD_EINVAL);
    hd_expr_free(e);
}

/* A string of n copies of s, for the limit tests. */
static char *repeat(const char *head, const char *s, int n, const char *tail) {
    size_t len = strlen(head) + strlen(s) * (size_t)n + strlen(tail) + 1;
    char *b = malloc(len);
    assert_non_null(b);
    size_t at = 0, hl = strlen(head), sl = strlen(s), tl = strlen(tail);
    memcpy(b, head, hl), at += hl;
    for (int i = 0; i < n; i++) memcpy(b + at, s, sl), at += sl;
    memcpy(b + at, tail, tl + 1);
    return b;
}

static void test_limits(void **state) {
    (void)state;
    hd_err err;
    hd_expr *e;
    /* source length: the error points past the limit */
    char *s = repeat("", "1+", HD_EXPR_SRC_MAX / 2, "1");
    expect_parse_error(s, strlen(s), HD_EINVAL, 1, HD_EXPR_SRC_MAX + 1, "the limit is 4096");
    free(s);
    s = repeat("", " ", HD_EXPR_SRC_MAX - 1, "1");
    e = hd_expr_parse(s, strlen(s), &err);
    assert_non_null(e);
    hd_expr_free(e);
    free(s);

    /* nesting: 64 brackets, calls or signs open at once pass, 65 do not; the
     * error is at the one too many */
    s = repeat("", "(", HD_EXPR_DEPTH_MAX, "1");
    char *s2 = repeat(s, ")", HD_EXPR_DEPTH_MAX, "");
    expect_int(s2, 1);
    free(s);
    free(s2);
    s = repeat("", "(", HD_EXPR_DEPTH_MAX + 1, "1");
    s2 = repeat(s, ")", HD_EXPR_DEPTH_MAX + 1, "");
    expect_parse_error(s2, strlen(s2), HD_EINVAL, 1, HD_EXPR_DEPTH_MAX + 1,
                       "nested too deeply: more than 64");
    free(s);
    free(s2);
    s = repeat("", "-", HD_EXPR_DEPTH_MAX, "1");
    expect_int(s, 1);
    free(s);
    s = repeat("", "-", HD_EXPR_DEPTH_MAX + 1, "1");
    expect_parse_error(s, strlen(s), HD_EINVAL, 1, HD_EXPR_DEPTH_MAX + 1, "nested too deeply");
    free(s);
    s = repeat("", "not ", HD_EXPR_DEPTH_MAX, "true");
    expect_bool(s, true);
    free(s);
    s = repeat("", "floor(", HD_EXPR_DEPTH_MAX + 1, "1");
    expect_parse_error(s, strlen(s), HD_EINVAL, 1, 6 * HD_EXPR_DEPTH_MAX + 6, "nested too deeply");
    free(s);
    s = repeat("x in [", "x in [", HD_EXPR_DEPTH_MAX, "1");
    expect_parse_error(s, strlen(s), HD_EINVAL, 1, 6 * HD_EXPR_DEPTH_MAX + 6, "nested too deeply");
    free(s);

    /* terms */
    s = repeat("x in [", "1,", HD_EXPR_NODES_MAX, "1]");
    e = hd_expr_parse_ex(s, strlen(s), NULL, &err);
    assert_null(e);
    assert_int_equal(err.rc, HD_EINVAL);
    assert_non_null(strstr(err.msg, "more than 1024 terms"));
    free(s);
    s = repeat("x in [", "1,", 1000, "1]");
    expect_bool(s, false);
    free(s);

    /* a long chain of operators */
    s = repeat("1", "+1", 255, "");
    expect_int(s, 256);
    free(s);
    s = repeat("1", "+1", 300, "");
    e = hd_expr_parse(s, strlen(s), &err);
    assert_null(e);
    assert_non_null(strstr(err.msg, "more than 256 operators in a chain"));
    free(s);

    /* fields */
    char buf[HD_EXPR_SRC_MAX];
    size_t n = 0;
    for (int i = 0; i < HD_EXPR_VARS_MAX; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%sv%d == 1", i ? " or " : "", i);
    e = parse_ok(buf);
    assert_int_equal(hd_expr_nvars(e), HD_EXPR_VARS_MAX);
    hd_expr_free(e);
    snprintf(buf + n, sizeof buf - n, " or vlast == 1");
    e = hd_expr_parse(buf, strlen(buf), &err);
    assert_null(e);
    assert_non_null(strstr(err.msg, "more than 128 different fields"));

    /* field name length */
    memset(buf, 'a', HD_EXPR_NAME_MAX);
    buf[HD_EXPR_NAME_MAX] = '\0';
    e = parse_ok(buf);
    hd_expr_free(e);
    memcpy(buf, "x.", 2);
    buf[HD_EXPR_NAME_MAX] = 'b';
    buf[HD_EXPR_NAME_MAX + 1] = '\0';
    expect_parse_error(buf, strlen(buf), HD_EINVAL, 1, 1, "longer than 128 bytes");

    /* evaluation stack */
    s = repeat("x in [", "y,", HD_EXPR_STACK_MAX, "y]");
    e = hd_expr_parse(s, strlen(s), &err);
    assert_null(e);
    assert_non_null(strstr(err.msg, "too complex"));
    free(s);
    s = repeat("amount in [", "zero,", HD_EXPR_STACK_MAX - 2, "amount]");
    expect_bool(s, true); /* amount and 127 elements: just fits */
    free(s);
    PARSE_ERR("min(1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,"
              "29,30,31,32,33)",
              HD_EINVAL, 1, 1, "min() takes 2 to 32 numbers");
}

static void test_more_semantics(void **state) {
    (void)state;
    expect_int("-9223372036854775808 + 0", INT64_MIN);
    expect_eval_error("small * -1 + amount", "integer overflow");
    /* '#' starts a comment that runs to the end of the line */
    expect_bool("amount > 1 # 金额\n and touchpoint == 'wechat' # 渠道", true);
    /* keywords are case sensitive; anything else is a field */
    expect_null("TRUE");
    expect_bool("amount>=1&&touchpoint!='x'", true);
    expect_bool("\"a#b\" == 'a#b'", true);
}

/* --- threads: one parsed expression, evaluated from several at once --- */

typedef struct thread_arg {
    const hd_expr *e;
    int64_t sum;
} thread_arg;

static void *thread_main(void *p) {
    thread_arg *a = p;
    hd_err err;
    for (int i = 0; i < 20000; i++) {
        hd_expr_val vars[2] = {hd_expr_int(i), hd_expr_str("wechat", 6)};
        int64_t v;
        if (hd_expr_eval_int(a->e, vars, &v, &err) != HD_OK) return NULL;
        a->sum += v;
    }
    return a;
}

static void test_threads(void **state) {
    (void)state;
    hd_err err;
    const char *src = "floor(amount / 3) + min(amount % 7, 3)";
    hd_expr *e = hd_expr_parse(src, strlen(src), &err);
    assert_non_null(e);
    pthread_t t[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){e, 0};
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    int64_t want = 0;
    for (int i = 0; i < 20000; i++) want += i / 3 + (i % 7 < 3 ? i % 7 : 3);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_non_null(r);
        assert_int_equal(args[i].sum, want);
    }
    hd_expr_free(e);
}

/* --- random expressions: the machine against a tree-walking reference ---
 *
 * Expressions are generated as trees of the right kind (numbers where
 * numbers go, conditions where conditions go), printed with the fewest
 * brackets the precedence rules allow (so the parser's precedence is tested
 * too), parsed and run. The reference below evaluates the tree directly,
 * written from the rules in expr.h rather than from the machine's code:
 * integers are checked with 128-bit arithmetic, integer/real comparisons
 * with long double. Fields hold fixed values, some of the wrong type, so
 * type errors are exercised as well. A constant part that fails (1 / 0) is
 * a parse error even where short-circuit would skip it; the reference
 * models that too. HD_EXPR_SEED=<n> replays a run. */

enum {
    R_INT,
    R_REAL,
    R_NULL,
    R_BOOL,
    R_VAR,
    R_NEG,
    R_NOT,
    R_BIN,
    R_AND,
    R_OR,
    R_FN,
    R_MINMAX,
    R_IN,
    R_INVAR
};

typedef struct rnode {
    int kind;
    int op; /* R_BIN: + - * / % and E(==) N(!=) < L(<=) > G(>=); R_FN: f c r a; R_MINMAX: m M;
             * R_IN: 1 = not in */
    int64_t i;
    double d;
    int var;
    int kid[6];
    int nkids;
} rnode;

typedef struct rgen {
    uint64_t s;
    rnode n[512];
    int nn;
    char out[HD_EXPR_SRC_MAX];
    size_t len;
} rgen;

static const hd_expr_val rarr[] = {
    {HD_EXPR_INT, 0, {.i = 1}}, {HD_EXPR_REAL, 0, {.d = 2.5}}, {HD_EXPR_NULL, 0, {.i = 0}}};
static const binding rvars[] = {
    {"i1", {HD_EXPR_INT, 0, {.i = 7}}},           {"i2", {HD_EXPR_INT, 0, {.i = -3}}},
    {"i0", {HD_EXPR_INT, 0, {.i = 0}}},           {"ibig", {HD_EXPR_INT, 0, {.i = INT64_MAX}}},
    {"imin", {HD_EXPR_INT, 0, {.i = INT64_MIN}}}, {"r1", {HD_EXPR_REAL, 0, {.d = 2.5}}},
    {"r2", {HD_EXPR_REAL, 0, {.d = -0.75}}},      {"n", {HD_EXPR_NULL, 0, {.i = 0}}},
    {"b1", {HD_EXPR_BOOL, 0, {.b = true}}},       {"b0", {HD_EXPR_BOOL, 0, {.b = false}}},
    {"s", {HD_EXPR_STR, 1, {.s = "x"}}},          {"arr", {HD_EXPR_ARRAY, 3, {.a = rarr}}},
};

static uint64_t rnd(rgen *g) { /* splitmix64 */
    uint64_t z = (g->s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}
static int rn(rgen *g, int n) { return (int)(rnd(g) % (uint64_t)n); }

static int rnew(rgen *g, int kind, int op) {
    if (g->nn >= 512) return -1;
    rnode *x = &g->n[g->nn];
    memset(x, 0, sizeof *x);
    x->kind = kind;
    x->op = op;
    return g->nn++;
}

static int gen_bool(rgen *g, int depth);

static int gen_num(rgen *g, int depth) {
    int c = depth <= 0 ? 0 : rn(g, 10);
    int i;
    if (c < 3) { /* a leaf */
        int l = rn(g, 20);
        static const int64_t bigs[] = {INT64_MAX, 4611686018427387904LL, 3037000500LL,
                                       9007199254740993LL};
        if (l < 7) {
            i = rnew(g, R_INT, 0);
            if (i >= 0) g->n[i].i = rn(g, 21);
        } else if (l < 9) {
            i = rnew(g, R_INT, 0);
            if (i >= 0) g->n[i].i = bigs[rn(g, 4)];
        } else if (l < 12) {
            i = rnew(g, R_REAL, 0);
            if (i >= 0) g->n[i].d = rn(g, 12) == 0 ? 1e300 : rn(g, 41) / 4.0;
        } else if (l < 19) {
            i = rnew(g, R_VAR, 0);
            if (i >= 0) g->n[i].var = rn(g, 8); /* i1 .. n */
        } else if (rn(g, 2)) {
            i = rnew(g, R_NULL, 0);
        } else {
            i = rnew(g, R_VAR, 0);
            if (i >= 0) g->n[i].var = rn(g, 3) ? 10 : 8; /* s or b1: the wrong type */
        }
        return i;
    }
    if (c < 7) {
        static const char ops[] = "+-*/%";
        i = rnew(g, R_BIN, ops[rn(g, 5)]);
        if (i < 0) return -1;
        int a = gen_num(g, depth - 1), b = gen_num(g, depth - 1);
        if (a < 0 || b < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].kid[1] = b, g->n[i].nkids = 2;
        return i;
    }
    if (c == 7) {
        i = rnew(g, R_NEG, 0);
        int a = gen_num(g, depth - 1);
        if (i < 0 || a < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].nkids = 1;
        return i;
    }
    if (c == 8) {
        static const char fns[] = "fcra";
        i = rnew(g, R_FN, fns[rn(g, 4)]);
        if (i < 0) return -1;
        int a;
        if (g->n[i].op != 'a' && rn(g, 2)) { /* floor(x / y): the exact integer form */
            a = rnew(g, R_BIN, '/');
            int x = gen_num(g, depth - 1), y = gen_num(g, depth - 1);
            if (a < 0 || x < 0 || y < 0) return -1;
            g->n[a].kid[0] = x, g->n[a].kid[1] = y, g->n[a].nkids = 2;
        } else {
            a = gen_num(g, depth - 1);
        }
        if (a < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].nkids = 1;
        return i;
    }
    i = rnew(g, R_MINMAX, rn(g, 2) ? 'm' : 'M');
    if (i < 0) return -1;
    int k = 2 + rn(g, 3);
    for (int j = 0; j < k; j++)
        if ((g->n[i].kid[j] = gen_num(g, depth - 1)) < 0) return -1;
    g->n[i].nkids = k;
    return i;
}

static int gen_bool(rgen *g, int depth) {
    int c = depth <= 0 ? 0 : rn(g, 20);
    int i;
    if (c < 3) {
        int l = rn(g, 10);
        if (l < 3) {
            i = rnew(g, R_BOOL, 0);
            if (i >= 0) g->n[i].i = rn(g, 2);
        } else {
            i = rnew(g, R_VAR, 0);
            if (i >= 0) g->n[i].var = l < 9 ? 7 + rn(g, 3) : 0; /* n b1 b0, or i1 */
        }
        return i;
    }
    if (c < 10) {
        static const char ops[] = "EN<L>G";
        i = rnew(g, R_BIN, ops[rn(g, 6)]);
        if (i < 0) return -1;
        int a = gen_num(g, depth - 1), b = gen_num(g, depth - 1);
        if (a < 0 || b < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].kid[1] = b, g->n[i].nkids = 2;
        return i;
    }
    if (c < 15) {
        i = rnew(g, rn(g, 2) ? R_AND : R_OR, 0);
        if (i < 0) return -1;
        int a = gen_bool(g, depth - 1), b = gen_bool(g, depth - 1);
        if (a < 0 || b < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].kid[1] = b, g->n[i].nkids = 2;
        return i;
    }
    if (c < 16) {
        i = rnew(g, R_NOT, 0);
        int a = gen_bool(g, depth - 1);
        if (i < 0 || a < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].nkids = 1;
        return i;
    }
    if (c < 17) {
        i = rnew(g, R_BIN, rn(g, 2) ? 'E' : 'N');
        if (i < 0) return -1;
        int a = gen_bool(g, depth - 1), b = gen_bool(g, depth - 1);
        if (a < 0 || b < 0) return -1;
        g->n[i].kid[0] = a, g->n[i].kid[1] = b, g->n[i].nkids = 2;
        return i;
    }
    if (c < 19) {
        i = rnew(g, R_IN, rn(g, 2));
        if (i < 0) return -1;
        int k = rn(g, 5);
        for (int j = 0; j <= k; j++)
            if ((g->n[i].kid[j] = gen_num(g, j == 0 ? depth - 1 : rn(g, 2) ? 0 : depth - 2)) < 0)
                return -1;
        g->n[i].nkids = k + 1; /* kid 0 is the value, the rest the list */
        return i;
    }
    i = rnew(g, R_INVAR, rn(g, 2)); /* x in arr */
    int a = gen_num(g, depth - 1);
    if (i < 0 || a < 0) return -1;
    g->n[i].kid[0] = a, g->n[i].nkids = 1;
    return i;
}

static int lvl(const rnode *x) {
    switch (x->kind) {
    case R_NEG: return 7;
    case R_BIN: return strchr("*/%", x->op) ? 6 : strchr("+-", x->op) ? 5 : 4;
    case R_IN:
    case R_INVAR: return 4;
    case R_NOT: return 3;
    case R_AND: return 2;
    case R_OR: return 1;
    default: return 8;
    }
}

static void put(rgen *g, const char *s) {
    size_t n = strlen(s);
    if (g->len + n < sizeof g->out) {
        memcpy(g->out + g->len, s, n + 1);
        g->len += n;
    }
}

static void render(rgen *g, int i, int min) {
    const rnode *x = &g->n[i];
    char b[64];
    bool paren = lvl(x) < min;
    if (paren) put(g, "(");
    switch (x->kind) {
    case R_INT: snprintf(b, sizeof b, "%lld", (long long)x->i), put(g, b); break;
    case R_REAL:
        snprintf(b, sizeof b, "%.17g%s", x->d,
                 x->d == floor(x->d) && fabs(x->d) < 1e17 ? ".0" : "");
        put(g, b);
        break;
    case R_NULL: put(g, "null"); break;
    case R_BOOL: put(g, x->i ? "true" : "false"); break;
    case R_VAR: put(g, rvars[x->var].name); break;
    case R_NEG: put(g, "-"), render(g, x->kid[0], 7); break;
    case R_NOT: put(g, rn(g, 2) ? "not " : "!"), render(g, x->kid[0], 3); break;
    case R_AND:
    case R_OR:
        render(g, x->kid[0], lvl(x));
        put(g, x->kind == R_AND ? (rn(g, 4) ? " and " : " && ") : (rn(g, 4) ? " or " : " || "));
        render(g, x->kid[1], lvl(x) + 1);
        break;
    case R_BIN: {
        int l = lvl(x);
        const char *op = x->op == 'E'   ? " == "
                         : x->op == 'N' ? " != "
                         : x->op == 'L' ? " <= "
                         : x->op == 'G' ? " >= "
                                        : NULL;
        char ob[4] = {' ', (char)x->op, ' ', 0};
        render(g, x->kid[0], l == 4 ? 5 : l);
        put(g, op ? op : ob);
        render(g, x->kid[1], l + 1);
        break;
    }
    case R_FN: {
        static const char *names[] = {"floor(", "ceil(", "round(", "abs("};
        put(g, names[strchr("fcra", x->op) - "fcra"]);
        render(g, x->kid[0], 0);
        put(g, ")");
        break;
    }
    case R_MINMAX:
        put(g, x->op == 'm' ? "min(" : "max(");
        for (int j = 0; j < x->nkids; j++) {
            if (j) put(g, ", ");
            render(g, x->kid[j], 0);
        }
        put(g, ")");
        break;
    case R_IN:
    case R_INVAR:
        render(g, x->kid[0], 5);
        put(g, x->op ? " not in " : " in ");
        if (x->kind == R_INVAR) {
            put(g, "arr");
            break;
        }
        put(g, "[");
        for (int j = 1; j < x->nkids; j++) {
            if (j > 1) put(g, ", ");
            render(g, x->kid[j], 0);
        }
        put(g, "]");
        break;
    }
    if (paren) put(g, ")");
}

/* -- the reference -- */

static bool rnum(const hd_expr_val *v) { return v->type == HD_EXPR_INT || v->type == HD_EXPR_REAL; }
static long double rld(const hd_expr_val *v) {
    return v->type == HD_EXPR_INT ? (long double)v->u.i : (long double)v->u.d;
}
static double rdbl(const hd_expr_val *v) {
    return v->type == HD_EXPR_INT ? (double)v->u.i : v->u.d;
}
static bool fits(__int128 q) { return q >= INT64_MIN && q <= INT64_MAX; }
static int rint_out(__int128 q, hd_expr_val *out) {
    if (!fits(q)) return -1;
    *out = hd_expr_int((int64_t)q);
    return 0;
}
static int rreal_out(double d, hd_expr_val *out) {
    if (!isfinite(d)) return -1;
    *out = hd_expr_real(d);
    return 0;
}
static int rto_int(double d, hd_expr_val *out) {
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return -1;
    *out = hd_expr_int((int64_t)d);
    return 0;
}

/* Equality of two non-null values: 1, 0, or -1 for kinds that do not compare. */
static int req(const hd_expr_val *a, const hd_expr_val *b) {
    if (rnum(a) && rnum(b)) return rld(a) == rld(b);
    if (a->type != b->type) return -1;
    if (a->type == HD_EXPR_BOOL) return a->u.b == b->u.b;
    if (a->type == HD_EXPR_STR) return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    return -1;
}

static int ref(const rgen *g, int i, hd_expr_val *out);

/* x / y for floor, ceil, round; `op` is f, c or r. */
static int ref_divfn(int op, hd_expr_val a, hd_expr_val b, hd_expr_val *out) {
    if ((a.type != HD_EXPR_NULL && !rnum(&a)) || (b.type != HD_EXPR_NULL && !rnum(&b))) return -1;
    if (a.type == HD_EXPR_NULL || b.type == HD_EXPR_NULL) {
        *out = hd_expr_null();
        return 0;
    }
    if (a.type == HD_EXPR_INT && b.type == HD_EXPR_INT) {
        if (b.u.i == 0) return -1;
        __int128 x = a.u.i, y = b.u.i, q = x / y, r = x % y;
        if (r != 0) {
            bool neg = (x < 0) != (y < 0);
            if (op == 'f' && neg) q -= 1;
            if (op == 'c' && !neg) q += 1;
            if (op == 'r') {
                __int128 ar = r < 0 ? -r : r, ay = y < 0 ? -y : y;
                if (2 * ar >= ay) q += neg ? -1 : 1;
            }
        }
        return rint_out(q, out);
    }
    double y = rdbl(&b);
    if (y == 0) return -1;
    double q = rdbl(&a) / y;
    if (!isfinite(q)) return -1;
    return rto_int(op == 'f' ? floor(q) : op == 'c' ? ceil(q) : round(q), out);
}

static int ref_bin(int op, hd_expr_val a, hd_expr_val b, hd_expr_val *out) {
    if (strchr("+-*/%", op)) {
        if ((a.type != HD_EXPR_NULL && !rnum(&a)) || (b.type != HD_EXPR_NULL && !rnum(&b)))
            return -1;
        if (a.type == HD_EXPR_NULL || b.type == HD_EXPR_NULL) {
            *out = hd_expr_null();
            return 0;
        }
        if (a.type == HD_EXPR_INT && b.type == HD_EXPR_INT && op != '/') {
            __int128 x = a.u.i, y = b.u.i;
            if (op == '+') return rint_out(x + y, out);
            if (op == '-') return rint_out(x - y, out);
            if (op == '*') return rint_out(x * y, out);
            if (y == 0) return -1;
            __int128 m = x % y;
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return rint_out(m, out);
        }
        double x = rdbl(&a), y = rdbl(&b);
        switch (op) {
        case '+': return rreal_out(x + y, out);
        case '-': return rreal_out(x - y, out);
        case '*': return rreal_out(x * y, out);
        case '/': return y == 0 ? -1 : rreal_out(x / y, out);
        default: {
            if (y == 0) return -1;
            double m = fmod(x, y);
            if (m != 0 && ((m < 0) != (y < 0))) m += y;
            return rreal_out(m, out);
        }
        }
    }
    if (op == 'E' || op == 'N') {
        int eq;
        if (a.type == HD_EXPR_NULL || b.type == HD_EXPR_NULL)
            eq = a.type == b.type;
        else if ((eq = req(&a, &b)) < 0)
            return -1;
        *out = hd_expr_bool(op == 'E' ? eq : !eq);
        return 0;
    }
    if (a.type == HD_EXPR_NULL || b.type == HD_EXPR_NULL) {
        *out = hd_expr_bool(false);
        return 0;
    }
    int c;
    if (rnum(&a) && rnum(&b)) {
        long double x = rld(&a), y = rld(&b);
        c = x < y ? -1 : x > y;
    } else if (a.type == HD_EXPR_STR && b.type == HD_EXPR_STR) {
        c = strcmp(a.u.s, b.u.s); /* the random strings have no NULs */
    } else {
        return -1;
    }
    *out = hd_expr_bool(op == '<' ? c < 0 : op == 'L' ? c <= 0 : op == '>' ? c > 0 : c >= 0);
    return 0;
}

/* true/false/null as a condition: 1, 0, or -1 for anything else */
static int rtruth(const hd_expr_val *v) {
    if (v->type == HD_EXPR_NULL) return 0;
    if (v->type != HD_EXPR_BOOL) return -1;
    return v->u.b;
}

static int ref_in(hd_expr_val x, const hd_expr_val *list, int n, bool *found) {
    *found = false;
    if (x.type == HD_EXPR_NULL) return 0;
    for (int j = 0; j < n; j++) {
        if (list[j].type == HD_EXPR_NULL) continue;
        int eq = req(&x, &list[j]);
        if (eq < 0) return -1;
        if (eq) {
            *found = true;
            return 0;
        }
    }
    return 0;
}

static int ref(const rgen *g, int i, hd_expr_val *out) {
    const rnode *x = &g->n[i];
    hd_expr_val a, b, args[6];
    switch (x->kind) {
    case R_INT: *out = hd_expr_int(x->i); return 0;
    case R_REAL: *out = hd_expr_real(x->d); return 0;
    case R_NULL: *out = hd_expr_null(); return 0;
    case R_BOOL: *out = hd_expr_bool(x->i != 0); return 0;
    case R_VAR: *out = rvars[x->var].v; return 0;
    case R_NEG:
        if (ref(g, x->kid[0], &a)) return -1;
        if (a.type == HD_EXPR_NULL) return *out = a, 0;
        if (a.type == HD_EXPR_INT) return rint_out(-(__int128)a.u.i, out);
        if (a.type == HD_EXPR_REAL) return *out = hd_expr_real(-a.u.d), 0;
        return -1;
    case R_NOT: {
        if (ref(g, x->kid[0], &a)) return -1;
        int t = rtruth(&a);
        if (t < 0) return -1;
        *out = hd_expr_bool(!t);
        return 0;
    }
    case R_AND:
    case R_OR: {
        if (ref(g, x->kid[0], &a)) return -1;
        int t = rtruth(&a);
        if (t < 0) return -1;
        if (t == (x->kind == R_OR)) return *out = hd_expr_bool(t), 0;
        if (ref(g, x->kid[1], &b)) return -1;
        if ((t = rtruth(&b)) < 0) return -1;
        *out = hd_expr_bool(t);
        return 0;
    }
    case R_BIN:
        if (ref(g, x->kid[0], &a) || ref(g, x->kid[1], &b)) return -1;
        return ref_bin(x->op, a, b, out);
    case R_FN: {
        const rnode *k = &g->n[x->kid[0]];
        if (x->op != 'a' && k->kind == R_BIN && k->op == '/') {
            if (ref(g, k->kid[0], &a) || ref(g, k->kid[1], &b)) return -1;
            return ref_divfn(x->op, a, b, out);
        }
        if (ref(g, x->kid[0], &a)) return -1;
        if (a.type == HD_EXPR_NULL) return *out = a, 0;
        if (a.type == HD_EXPR_INT) {
            if (x->op == 'a') return rint_out(a.u.i < 0 ? -(__int128)a.u.i : a.u.i, out);
            return *out = a, 0;
        }
        if (a.type != HD_EXPR_REAL) return -1;
        switch (x->op) {
        case 'f': return rto_int(floor(a.u.d), out);
        case 'c': return rto_int(ceil(a.u.d), out);
        case 'r': return rto_int(round(a.u.d), out);
        default: return *out = hd_expr_real(fabs(a.u.d)), 0;
        }
    }
    case R_MINMAX: {
        bool null = false, real = false;
        int best = -1;
        for (int j = 0; j < x->nkids; j++)
            if (ref(g, x->kid[j], &args[j])) return -1;
        for (int j = 0; j < x->nkids; j++) {
            if (args[j].type == HD_EXPR_NULL) {
                null = true;
                continue;
            }
            if (!rnum(&args[j])) return -1;
            real = real || args[j].type == HD_EXPR_REAL;
            if (best < 0 || (x->op == 'm' ? rld(&args[j]) < rld(&args[best])
                                          : rld(&args[j]) > rld(&args[best])))
                best = j;
        }
        if (null) return *out = hd_expr_null(), 0;
        *out = real ? hd_expr_real(rdbl(&args[best])) : args[best];
        return 0;
    }
    case R_IN: {
        bool found;
        if (ref(g, x->kid[0], &a)) return -1;
        for (int j = 1; j < x->nkids; j++)
            if (ref(g, x->kid[j], &args[j - 1])) return -1;
        if (ref_in(a, args, x->nkids - 1, &found)) return -1;
        *out = hd_expr_bool(found != (x->op == 1));
        return 0;
    }
    case R_INVAR: {
        bool found;
        if (ref(g, x->kid[0], &a)) return -1;
        if (ref_in(a, rarr, 3, &found)) return -1;
        *out = hd_expr_bool(found != (x->op == 1));
        return 0;
    }
    }
    return -1;
}

static bool has_var(const rgen *g, int i) {
    const rnode *x = &g->n[i];
    if (x->kind == R_VAR || x->kind == R_INVAR) return true;
    for (int j = 0; j < x->nkids; j++)
        if (has_var(g, x->kid[j])) return true;
    return false;
}

/* Does a part without fields fail? Then parsing fails (constants are
 * computed at parse time). The x / y under floor(x / y) is not a part of its
 * own: it is computed together with the floor. */
static bool const_fails(const rgen *g, int i) {
    const rnode *x = &g->n[i];
    hd_expr_val v;
    if (!has_var(g, i) && ref(g, i, &v)) return true;
    for (int j = 0; j < x->nkids; j++) {
        const rnode *k = &g->n[x->kid[j]];
        if (x->kind == R_FN && x->op != 'a' && k->kind == R_BIN && k->op == '/') {
            if (const_fails(g, k->kid[0]) || const_fails(g, k->kid[1])) return true;
        } else if (const_fails(g, x->kid[j])) {
            return true;
        }
    }
    return false;
}

static bool same(const hd_expr_val *a, const hd_expr_val *b) {
    if (a->type != b->type) return false;
    switch (a->type) {
    case HD_EXPR_NULL: return true;
    case HD_EXPR_BOOL: return a->u.b == b->u.b;
    case HD_EXPR_INT: return a->u.i == b->u.i;
    case HD_EXPR_REAL: return memcmp(&a->u.d, &b->u.d, sizeof(double)) == 0;
    case HD_EXPR_STR: return a->len == b->len && memcmp(a->u.s, b->u.s, a->len) == 0;
    default: return a->u.a == b->u.a && a->len == b->len;
    }
}

static void show(const hd_expr_val *v, char *b, size_t n) {
    switch (v->type) {
    case HD_EXPR_BOOL: snprintf(b, n, "%s", v->u.b ? "true" : "false"); break;
    case HD_EXPR_INT: snprintf(b, n, "%lld", (long long)v->u.i); break;
    case HD_EXPR_REAL: snprintf(b, n, "%.17g (real)", v->u.d); break;
    default: snprintf(b, n, "%s", hd_expr_type_name(v->type));
    }
}

static void test_random_vs_reference(void **state) {
    (void)state;
    const char *env_seed = getenv("HD_EXPR_SEED");
    uint64_t seed = env_seed ? strtoull(env_seed, NULL, 10) : (uint64_t)time(NULL);
    print_message("random expressions: seed %llu (HD_EXPR_SEED=%llu replays)\n",
                  (unsigned long long)seed, (unsigned long long)seed);
    rgen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->s = seed;
    int errors = 0, bools = 0, parse_fails = 0;
    for (int t = 0; t < 50000; t++) {
        g->nn = 0;
        g->len = 0;
        g->out[0] = '\0';
        int root = rn(g, 2) ? gen_bool(g, 1 + rn(g, 5)) : gen_num(g, 1 + rn(g, 5));
        if (root < 0) continue; /* too big: skip */
        render(g, root, 0);
        hd_expr_val want = hd_expr_null();
        bool want_err = const_fails(g, root);
        bool want_parse_err = want_err;
        if (!want_err) want_err = ref(g, root, &want) != 0;

        hd_err err;
        hd_expr *e = hd_expr_parse(g->out, g->len, &err);
        if (!e) {
            if (!want_parse_err)
                fail_msg("seed %llu case %d: '%s' did not parse: %s", (unsigned long long)seed, t,
                         g->out, err.msg);
            assert_int_equal(err.rc, HD_EINVAL);
            parse_fails++;
            continue;
        }
        if (want_parse_err)
            fail_msg("seed %llu case %d: '%s' parsed; a constant part should fail",
                     (unsigned long long)seed, t, g->out);
        hd_expr_val vars[HD_EXPR_VARS_MAX], got;
        for (int v = 0; v < hd_expr_nvars(e); v++) {
            vars[v] = hd_expr_null();
            for (size_t j = 0; j < sizeof rvars / sizeof rvars[0]; j++)
                if (strcmp(rvars[j].name, hd_expr_var_name(e, v)) == 0) vars[v] = rvars[j].v;
        }
        hd_rc rc = hd_expr_eval(e, vars, &got, &err);
        char b1[64], b2[64];
        if (want_err != (rc != HD_OK)) {
            show(&got, b1, sizeof b1);
            show(&want, b2, sizeof b2);
            fail_msg("seed %llu case %d: '%s': machine %s, reference %s", (unsigned long long)seed,
                     t, g->out, rc ? err.msg : b1, want_err ? "fails" : b2);
        }
        if (rc == HD_OK && !same(&got, &want)) {
            show(&got, b1, sizeof b1);
            show(&want, b2, sizeof b2);
            fail_msg("seed %llu case %d: '%s': machine %s, reference %s", (unsigned long long)seed,
                     t, g->out, b1, b2);
        }
        if (rc != HD_OK) errors++;
        if (got.type == HD_EXPR_BOOL) bools++;
        hd_expr_free(e);
    }
    print_message("random expressions: %d parse errors, %d evaluation errors, %d conditions\n",
                  parse_fails, errors, bools);
    free(g);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),    cmocka_unit_test(test_integers_exact),
        cmocka_unit_test(test_int_vs_real),   cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_strings),       cmocka_unit_test(test_in_and_lists),
        cmocka_unit_test(test_functions),     cmocka_unit_test(test_null),
        cmocka_unit_test(test_logic),         cmocka_unit_test(test_fields),
        cmocka_unit_test(test_syntax_errors), cmocka_unit_test(test_error_positions),
        cmocka_unit_test(test_static_types),  cmocka_unit_test(test_eval_helpers),
        cmocka_unit_test(test_limits),        cmocka_unit_test(test_more_semantics),
        cmocka_unit_test(test_threads),       cmocka_unit_test(test_random_vs_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
