/* test_base.c - errors, clock, ids, buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"

static void test_err_set(void **state) {
    (void)state;
    hd_err e;
    hd_err_clear(&e);
    assert_int_equal(hd_err_set(&e, HD_EINVAL, "points", "must be > 0, got %d", -3), HD_EINVAL);
    assert_string_equal(e.field, "points");
    assert_string_equal(e.msg, "must be > 0, got -3");
    assert_int_equal(hd_err_set(NULL, HD_ENOTFOUND, NULL, "x"), HD_ENOTFOUND);
}

static void test_time_roundtrip(void **state) {
    (void)state;
    int64_t ms;
    char out[32];
    assert_true(hd_time_parse("2026-01-01T00:00:00Z", &ms));
    assert_int_equal(ms, 1767225600000LL);
    hd_time_format(ms, out);
    assert_string_equal(out, "2026-01-01T00:00:00.000Z");
    assert_true(hd_time_parse("2026-01-01T08:00:00+08:00", &ms));
    assert_int_equal(ms, 1767225600000LL);
    assert_true(hd_time_parse("1997-09-30", &ms));
    hd_time_format(ms, out);
    assert_string_equal(out, "1997-09-30T00:00:00.000Z");
    assert_true(hd_time_parse("2024-02-29 12:30:15", &ms));
    hd_time_format(ms, out);
    assert_string_equal(out, "2024-02-29T12:30:15.000Z");
    assert_false(hd_time_parse("2023-02-29", &ms));
    assert_false(hd_time_parse("2026-13-01", &ms));
    assert_false(hd_time_parse("2026-01-01T00:00:00", &ms)); /* no zone */
    assert_false(hd_time_parse("yesterday", &ms));
    assert_false(hd_time_parse("2026-01-01T00:00:00Zjunk", &ms));
    hd_time_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
}

static void test_test_clock(void **state) {
    (void)state;
    hd_clock *c = hd_clock_new(true, 1000);
    assert_int_equal(hd_clock_now_ms(c), 1000);
    assert_true(hd_clock_advance_ms(c, 500));
    assert_int_equal(hd_clock_now_ms(c), 1500);
    assert_true(hd_clock_set_ms(c, 42));
    assert_int_equal(hd_clock_now_ms(c), 42);
    hd_clock_free(c);
    hd_clock *sys = hd_clock_new(false, 0);
    assert_false(hd_clock_set_ms(sys, 1));
    assert_true(hd_clock_now_ms(sys) > 1767225600000LL - 86400000LL * 365);
    hd_clock_free(sys);
}

static int64_t at(const char *s) {
    int64_t ms = 0;
    assert_true(hd_time_parse(s, &ms));
    return ms;
}

/* The instant the brand's day, or month, holding ms began - as callers cut. */
static int64_t day_start(int off, int64_t ms) { return hd_cal_day_ms(off, hd_cal_day(off, ms)); }
static int64_t month_start(int off, int64_t ms) {
    return hd_cal_day_ms(off, hd_month_first(hd_cal_day(off, ms), 0));
}

/* The brand's days and months begin at its midnight, not UTC's. */
static void test_brand_calendar(void **state) {
    (void)state;
    hd_clock *c = hd_clock_new(true, 0);
    assert_int_equal(hd_clock_utc_offset(c), 480); /* +08:00 unless told */
    assert_int_equal(hd_clock_utc_offset(NULL), 480);
    int off = hd_clock_utc_offset(c);
    /* 2026-03-01 07:59 in Beijing is still February's last day in UTC... */
    int y, m, d;
    hd_civil_from_days(hd_cal_day(off, at("2026-02-28T23:59:00Z")), &y, &m, &d);
    assert_true(y == 2026 && m == 3 && d == 1);
    hd_civil_from_days(hd_cal_day(off, at("2026-02-28T15:59:59.999Z")), &y, &m, &d);
    assert_true(y == 2026 && m == 2 && d == 28);
    assert_int_equal(day_start(off, at("2026-03-01T15:59:59Z")), at("2026-02-28T16:00:00Z"));
    assert_int_equal(day_start(off, at("2026-03-01T16:00:00Z")), at("2026-03-01T16:00:00Z"));
    assert_int_equal(month_start(off, at("2026-03-31T16:00:00Z")), at("2026-03-31T16:00:00Z"));
    assert_int_equal(month_start(off, at("2026-03-31T15:00:00Z")), at("2026-02-28T16:00:00Z"));
    assert_int_equal(hd_cal_day_ms(off, hd_days_from_civil(2026, 1, 1)),
                     at("2025-12-31T16:00:00Z"));
    assert_int_equal(hd_cal_day_ms(off, hd_cal_day(off, at("2026-05-05T12:00:00Z"))),
                     at("2026-05-04T16:00:00Z"));
    /* before 1970 and west of Greenwich */
    hd_clock_set_utc_offset(c, -(5 * 60 + 30));
    off = hd_clock_utc_offset(c);
    assert_int_equal(day_start(off, at("1969-12-31T02:00:00Z")), at("1969-12-30T05:30:00Z"));
    assert_int_equal(hd_cal_day(off, at("1970-01-01T05:29:59Z")), -1);
    assert_int_equal(hd_cal_day(off, at("1970-01-01T05:30:00Z")), 0);
    hd_clock_set_utc_offset(c, 0);
    off = hd_clock_utc_offset(c);
    assert_int_equal(month_start(off, at("2026-03-31T23:00:00Z")), at("2026-03-01T00:00:00Z"));
    /* months on from a day: across a year, back before 1970 */
    int64_t jan31 = hd_days_from_civil(2026, 1, 31);
    assert_int_equal(hd_month_first(jan31, 0), hd_days_from_civil(2026, 1, 1));
    assert_int_equal(hd_month_first(jan31, 13), hd_days_from_civil(2027, 2, 1));
    assert_int_equal(hd_month_first(jan31, -1), hd_days_from_civil(2025, 12, 1));
    assert_int_equal(hd_month_first(hd_days_from_civil(1969, 12, 15), 1), 0);
    /* a time naming no offset is the brand's; one that names it is what it says */
    int64_t ms = 0;
    hd_clock_set_utc_offset(c, 480);
    assert_true(hd_time_parse_in(c, "2026-03-01", &ms));
    assert_int_equal(ms, at("2026-02-28T16:00:00Z"));
    assert_true(hd_time_parse_in(c, "2026-03-01 12:30:00", &ms));
    assert_int_equal(ms, at("2026-03-01T04:30:00Z"));
    assert_true(hd_time_parse_in(c, "2026-03-01T12:30:00Z", &ms));
    assert_int_equal(ms, at("2026-03-01T12:30:00Z"));
    assert_true(hd_time_parse_in(c, "2026-03-01T12:30:00-05:00", &ms));
    assert_int_equal(ms, at("2026-03-01T17:30:00Z"));
    assert_false(hd_time_parse_in(c, "2026-03-01T12:30:00", &ms));
    assert_false(hd_time_parse_in(c, "2026-02-30", &ms));
    hd_clock_free(c);

    int v = 1;
    char out[8];
    assert_true(hd_utc_offset_parse("+08:00", &v) && v == 480);
    assert_true(hd_utc_offset_parse("-05:30", &v) && v == -330);
    assert_true(hd_utc_offset_parse("+0545", &v) && v == 345);
    assert_true(hd_utc_offset_parse("Z", &v) && v == 0);
    assert_true(hd_utc_offset_parse("+14:00", &v) && v == 840);
    assert_false(hd_utc_offset_parse("+14:01", &v));
    assert_false(hd_utc_offset_parse("08:00", &v));
    assert_false(hd_utc_offset_parse("+8", &v));
    assert_false(hd_utc_offset_parse("+08:60", &v));
    assert_false(hd_utc_offset_parse("+08:00x", &v));
    assert_false(hd_utc_offset_parse("Asia/Shanghai", &v));
    hd_utc_offset_format(-330, out);
    assert_string_equal(out, "-05:30");
    hd_utc_offset_format(480, out);
    assert_string_equal(out, "+08:00");
}

static void test_ids_ordered_unique(void **state) {
    (void)state;
    hd_idgen *g = hd_idgen_new(7);
    int64_t prev = 0;
    for (int i = 0; i < 100000; i++) {
        int64_t id = hd_id_next(g);
        assert_true(id > prev);
        prev = id;
    }
    char s[24];
    int64_t back;
    hd_id_format(prev, s);
    assert_true(hd_id_parse(s, &back));
    assert_int_equal(back, prev);
    assert_false(hd_id_parse("12a", &back));
    assert_false(hd_id_parse("", &back));
    assert_false(hd_id_parse("99999999999999999999", &back));
    assert_false(hd_id_parse("0", &back));
    hd_idgen_free(g);
}

static void test_buf(void **state) {
    (void)state;
    hd_buf b = HD_BUF_INIT;
    for (int i = 0; i < 1000; i++) hd_buf_printf(&b, "%d,", i);
    assert_int_equal(b.len, strlen(b.data));
    assert_memory_equal(b.data, "0,1,2,", 6);
    hd_buf_reset(&b);
    hd_buf_puts(&b, "互动");
    assert_string_equal(b.data, "互动");
    char big[600];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    hd_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, strlen("互动") + 599);
    hd_buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set),    cmocka_unit_test(test_time_roundtrip),
        cmocka_unit_test(test_test_clock), cmocka_unit_test(test_ids_ordered_unique),
        cmocka_unit_test(test_buf),        cmocka_unit_test(test_brand_calendar),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
