/* test_segment.c - segment conditions on hand-made columns: which field each slot
 * reads, errors with their line and column (unknown field, bad aggregate, not a
 * condition, syntax), evaluation with nulls, dictionaries, lists and windows, rows
 * whose evaluation fails, and malformed columns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "analytics/segment.h"

static hd_segment *compile(const char *src) {
    hd_segment *s = NULL;
    hd_err err;
    if (hd_segment_compile(src, strlen(src), &s, &err) != HD_OK) fail_msg("%s: %s", src, err.msg);
    return s;
}

static void expect_error(const char *src, hd_rc rc, int line, int column, const char *words) {
    hd_segment *s = (hd_segment *)1;
    hd_err err;
    assert_int_equal(hd_segment_compile(src, strlen(src), &s, &err), rc);
    assert_null(s);
    assert_string_equal(err.field, "expression");
    hd_expr_pos pos;
    if (!hd_expr_error_pos(&err, &pos)) fail_msg("no position in '%s'", err.msg);
    if (pos.line != line || pos.column != column)
        fail_msg("%s: at %d:%d, want %d:%d (%s)", src, pos.line, pos.column, line, column, err.msg);
    if (words && !strstr(err.msg, words)) fail_msg("'%s' does not say '%s'", err.msg, words);
}

static void test_fields(void **state) {
    (void)state;
    hd_segment *s = compile("customer.city == \"杭州\" and tier in [\"gold\"] and rfm.r >= 4 and "
                            "count(order.paid, 90d) >= 2 and sum(amount, 365d) > 100000 and "
                            "customer.attributes.profile.age > 30 and \"vip\" in customer.tags "
                            "and p_alive > 0.5 and ladder.stage == \"spreader\" and "
                            "avg(amount) > 0 and clv > 0");
    struct {
        hd_segment_source src;
        const char *arg;
        int64_t window_s;
    } want[] = {
        {HD_SEG_CITY, "", 0},
        {HD_SEG_TIER, "", 0},
        {HD_SEG_RFM_R, "", 0},
        {HD_SEG_COUNT, "order.paid", 90 * 86400},
        {HD_SEG_SUM_AMOUNT, "", 365 * 86400},
        {HD_SEG_ATTRIBUTE, "profile.age", 0},
        {HD_SEG_TAGS, "", 0},
        {HD_SEG_P_ALIVE, "", 0},
        {HD_SEG_LADDER_STAGE, "", 0},
        {HD_SEG_AVG_AMOUNT, "", 0},
        {HD_SEG_CLV, "", 0},
    };
    assert_int_equal(hd_segment_nfields(s), (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < hd_segment_nfields(s); i++) {
        const hd_segment_field *f = hd_segment_field_at(s, i);
        if (f->source != want[i].src) fail_msg("slot %d (%s): source %d", i, f->name, f->source);
        assert_string_equal(f->arg, want[i].arg);
        assert_int_equal(f->window_s, want[i].window_s);
    }
    assert_null(hd_segment_field_at(s, 99));
    assert_non_null(hd_segment_expr(s));
    hd_segment_free(s);
    hd_segment_free(NULL);
}

static void test_errors_have_positions(void **state) {
    (void)state;
    /* unknown field on the second line, after Chinese text (columns are characters) */
    expect_error("customer.city == \"杭州\"\n  and customer.shoe_size > 40", HD_EINVAL, 2, 7,
                 "unknown field 'customer.shoe_size'");
    expect_error("sum(properties.points, 30d) > 1", HD_EINVAL, 1, 5, "sum|avg|min|max(amount");
    expect_error("\"A\" in lines[*].sku", HD_EINVAL, 1, 8, "unknown field");
    expect_error("customer.orders + 1", HD_EINVAL, 1, 1, "true or false");
    expect_error("customer.orders >= ", HD_ESYNTAX, 1, 20, NULL);
    expect_error("count(order.paid, 0d) > 1", HD_EINVAL, 1, 19, NULL);
    /* a field named as part of a longer one is found where it stands alone */
    expect_error("customer.cityx == 1 or customer.city == \"x\"", HD_EINVAL, 1, 1,
                 "customer.cityx");
}

static const hd_expr_val CITY[] = {{HD_EXPR_STR, 6, {.s = "杭州"}},
                                   {HD_EXPR_STR, 6, {.s = "上海"}}};

static void test_eval(void **state) {
    (void)state;
    /* 8 customers */
    const uint32_t city[8] = {0, 1, 0, HD_SEGMENT_NULL_CODE, 0, 1, 0, 0};
    const int64_t paid[8] = {3, 5, 1, 4, 2, 0, 2, 9};
    const double alive[8] = {0.9, 0.9, 0.9, 0.9, 0.2, 0.9, 0.7, 0.6};
    const uint8_t alive_present[8] = {1, 1, 1, 1, 1, 1, 1, 0};
    hd_expr_val vip = hd_expr_str("vip", 3), new_ = hd_expr_str("new", 3);
    hd_expr_val both[2] = {vip, new_};
    hd_expr_val tags[8] = {hd_expr_array(both, 2),  hd_expr_array(&vip, 1), hd_expr_array(&vip, 1),
                           hd_expr_array(&vip, 1),  hd_expr_array(&vip, 1), hd_expr_array(&vip, 1),
                           hd_expr_array(&new_, 1), hd_expr_array(&vip, 1)};
    hd_segment *s = compile("customer.city == \"杭州\" and count(order.paid, 90d) >= 2 and\n"
                            "p_alive > 0.5 and \"vip\" in customer.tags");
    hd_segment_col cols[4] = {
        {.kind = HD_SEG_COL_DICT, .code = city, .dict = CITY, .ndict = 2},
        {.kind = HD_SEG_COL_INT, .i = paid},
        {.kind = HD_SEG_COL_REAL, .d = alive, .present = alive_present},
        {.kind = HD_SEG_COL_VAL, .v = tags},
    };
    uint8_t member[8];
    hd_segment_stats st;
    hd_err err;
    assert_int_equal(hd_segment_eval(s, cols, 8, member, &st, &err), HD_OK);
    /* 0: yes; 1: 上海; 2: 1 order; 3: no city; 4: p_alive 0.2; 5: 上海; 6: not vip;
     * 7: p_alive unknown */
    const uint8_t want[8] = {1, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(member, want, 8);
    assert_int_equal(st.members, 1);
    assert_int_equal(st.rows, 8);
    assert_int_equal(st.errors, 0);
    hd_segment_free(s);

    /* null == "x" is false, null != "x" is true; an all-null column */
    s = compile("customer.city != \"杭州\" and customer.tier == null");
    hd_segment_col c2[2] = {{.kind = HD_SEG_COL_DICT, .code = city, .dict = CITY, .ndict = 2},
                            {.kind = HD_SEG_COL_NULL}};
    assert_int_equal(hd_segment_eval(s, c2, 8, member, &st, &err), HD_OK);
    const uint8_t want2[8] = {0, 1, 0, 1, 0, 1, 0, 0};
    assert_memory_equal(member, want2, 8);
    assert_int_equal(st.members, 3);
    hd_segment_free(s);

    /* a condition with no fields at all */
    s = compile("1 < 2");
    assert_int_equal(hd_segment_nfields(s), 0);
    assert_int_equal(hd_segment_eval(s, NULL, 8, member, &st, &err), HD_OK);
    assert_int_equal(st.members, 8);
    hd_segment_free(s);
}

static void test_row_errors_and_bad_columns(void **state) {
    (void)state;
    /* an attribute that is a number for some and a string for others */
    hd_expr_val age[4] = {hd_expr_int(40), hd_expr_str("forty", 5), hd_expr_null(),
                          hd_expr_real(31.5)};
    hd_segment *s = compile("customer.attributes.age > 30");
    hd_segment_col c = {.kind = HD_SEG_COL_VAL, .v = age};
    uint8_t member[4];
    hd_segment_stats st;
    hd_err err;
    assert_int_equal(hd_segment_eval(s, &c, 4, member, &st, &err), HD_OK);
    const uint8_t want[4] = {1, 0, 0, 1};
    assert_memory_equal(member, want, 4);
    assert_int_equal(st.members, 2);
    assert_int_equal(st.errors, 1);
    assert_int_equal(st.first_error_row, 1);
    assert_non_null(strstr(st.first_error.msg, "line 1, column"));

    /* a dictionary code out of range, a missing array */
    const uint32_t code[2] = {0, 7};
    hd_segment_col bad = {.kind = HD_SEG_COL_DICT, .code = code, .dict = CITY, .ndict = 2};
    assert_int_equal(hd_segment_eval(s, &bad, 2, member, &st, &err), HD_EINVAL);
    hd_segment_col none = {.kind = HD_SEG_COL_INT};
    assert_int_equal(hd_segment_eval(s, &none, 2, member, &st, &err), HD_EINVAL);
    assert_int_equal(hd_segment_eval(s, NULL, 2, member, &st, &err), HD_EINVAL);
    hd_segment_free(s);

    /* column values as the expression sees them */
    const int64_t iv[2] = {7, 8};
    const uint8_t pr[2] = {0, 1};
    hd_segment_col ic = {.kind = HD_SEG_COL_INT, .i = iv, .present = pr};
    assert_int_equal(hd_segment_col_value(&ic, 0).type, HD_EXPR_NULL);
    assert_int_equal(hd_segment_col_value(&ic, 1).u.i, 8);
    const uint32_t nc[1] = {HD_SEGMENT_NULL_CODE};
    hd_segment_col dc = {.kind = HD_SEG_COL_DICT, .code = nc, .dict = CITY, .ndict = 2};
    assert_int_equal(hd_segment_col_value(&dc, 0).type, HD_EXPR_NULL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_errors_have_positions),
        cmocka_unit_test(test_eval),
        cmocka_unit_test(test_row_errors_and_bad_columns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
