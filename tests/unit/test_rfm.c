/* test_rfm.c - RFM quintiles and their tie rule, the segment map, the Pareto curve on
 * hand-made data, and `hudong analyze rfm` end to end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <math.h>
#include <sys/wait.h>

#include "analytics/rfm.h"
#include "base/clock.h"

static void assert_abs(double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.10g, want %.10g (tolerance %g)\n", got, want, tol);
        fail();
    }
}

/* 1 + floor(5 k / n), k = customers strictly worse */
static void test_quintiles_and_ties(void **state) {
    (void)state;
    static const double freq[10] = {1, 1, 1, 1, 1, 2, 2, 3, 4, 5};
    static const double rec[10] = {0, 0, 5, 10, 10, 10, 30, 60, 90, 400};
    static const uint8_t want_f[10] = {1, 1, 1, 1, 1, 3, 3, 4, 5, 5};
    /* recency: k = customers with a larger recency */
    static const uint8_t want_r[10] = {5, 5, 4, 3, 3, 3, 2, 2, 1, 1};
    hd_rfm_input in[10];
    for (int i = 0; i < 10; i++)
        in[i] = (hd_rfm_input){.customer = i,
                               .recency_days = rec[i],
                               .frequency = freq[i],
                               .monetary = 100.0 * (i + 1)};
    hd_rfm_score sc[10];
    hd_err err;
    assert_int_equal(hd_rfm_score_all(in, 10, sc, &err), HD_OK);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(sc[i].f, want_f[i]);
        assert_int_equal(sc[i].r, want_r[i]);
        assert_int_equal(sc[i].m, 1 + (i * 5) / 10); /* all distinct: plain quintiles */
        assert_int_equal(sc[i].fm, (sc[i].f + sc[i].m + 1) / 2);
        assert_int_equal(sc[i].segment, hd_rfm_segment_of(sc[i].r, sc[i].fm));
    }
    /* equal values, equal scores, whatever the order: reverse and rotate the input */
    hd_rfm_input rev[10];
    hd_rfm_score sr[10];
    for (int i = 0; i < 10; i++) rev[i] = in[(i * 7 + 3) % 10];
    assert_int_equal(hd_rfm_score_all(rev, 10, sr, &err), HD_OK);
    for (int i = 0; i < 10; i++) {
        int o = (i * 7 + 3) % 10;
        assert_int_equal(sr[i].r, sc[o].r);
        assert_int_equal(sr[i].f, sc[o].f);
        assert_int_equal(sr[i].m, sc[o].m);
    }
    /* everyone the same: nobody is strictly worse, everyone scores 1 */
    for (int i = 0; i < 10; i++) in[i] = (hd_rfm_input){.recency_days = 3, .frequency = 2};
    assert_int_equal(hd_rfm_score_all(in, 10, sc, &err), HD_OK);
    for (int i = 0; i < 10; i++) assert_true(sc[i].r == 1 && sc[i].f == 1 && sc[i].m == 1);
    /* one customer: 1 too; -0 equals 0; negatives (refunds) rank lowest */
    assert_int_equal(hd_rfm_score_all(in, 1, sc, &err), HD_OK);
    assert_int_equal(sc[0].m, 1);
    hd_rfm_input z[3] = {{.monetary = -0.0}, {.monetary = 0.0}, {.monetary = -5}};
    assert_int_equal(hd_rfm_score_all(z, 3, sc, &err), HD_OK);
    assert_int_equal(sc[0].m, sc[1].m);
    assert_int_equal(sc[2].m, 1);
    assert_int_equal(sc[0].m, 1 + 5 / 3);
    /* not finite: named */
    z[1].frequency = NAN;
    assert_int_equal(hd_rfm_score_all(z, 3, sc, &err), HD_EINVAL);
    assert_string_equal(err.field, "frequency");
    assert_int_equal(hd_rfm_score_all(z, 0, sc, &err), HD_OK);
}

static void test_large_uniform(void **state) {
    (void)state;
    enum { N = 200000 };
    hd_rfm_input *in = malloc(N * sizeof *in);
    hd_rfm_score *sc = malloc(N * sizeof *sc);
    uint64_t x = 12345;
    for (size_t i = 0; i < N; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        in[i] = (hd_rfm_input){.customer = (int64_t)i,
                               .recency_days = (double)(x >> 40) / 1e3,
                               .frequency = (double)((x >> 20) & 0xff),
                               .monetary = (double)(x >> 11) / 9007199254740992.0 * 1e4};
    }
    hd_err err;
    int64_t t0 = hd_mono_ns();
    assert_int_equal(hd_rfm_score_all(in, N, sc, &err), HD_OK);
    printf("scored %d customers in %.1f ms (sanitizer build)\n", N,
           (double)(hd_mono_ns() - t0) / 1e6);
    size_t cnt[6] = {0};
    for (size_t i = 0; i < N; i++) {
        assert_true(sc[i].r >= 1 && sc[i].r <= 5 && sc[i].f >= 1 && sc[i].f <= 5);
        cnt[sc[i].m]++;
    }
    for (int k = 1; k <= 5; k++) assert_abs((double)cnt[k] / N, 0.2, 0.001);
    /* scores are monotone in the value */
    for (size_t i = 1; i < N; i++) {
        if (in[i].monetary > in[i - 1].monetary) assert_true(sc[i].m >= sc[i - 1].m);
        if (in[i].recency_days > in[i - 1].recency_days) assert_true(sc[i].r <= sc[i - 1].r);
        if (in[i].frequency == in[i - 1].frequency) assert_int_equal(sc[i].f, sc[i - 1].f);
    }
    free(in);
    free(sc);
}

static void test_segment_map(void **state) {
    (void)state;
    static const char *const want[5][5] = {
        /* R=5 */ {"new", "potential_loyalist", "potential_loyalist", "champions", "champions"},
        /* R=4 */
        {"promising", "potential_loyalist", "potential_loyalist", "champions", "champions"},
        /* R=3 */ {"about_to_sleep", "need_attention", "need_attention", "loyal", "loyal"},
        /* R=2 */ {"hibernating", "about_to_sleep", "at_risk", "at_risk", "cant_lose"},
        /* R=1 */ {"lost", "hibernating", "at_risk", "cant_lose", "cant_lose"},
    };
    bool used[HD_RFM_SEGMENTS] = {false};
    for (int r = 5; r >= 1; r--)
        for (int fm = 1; fm <= 5; fm++) {
            hd_rfm_segment s = hd_rfm_segment_of(r, fm);
            assert_string_equal(hd_rfm_segment_key(s), want[5 - r][fm - 1]);
            used[s] = true;
        }
    for (int s = 0; s < HD_RFM_SEGMENTS; s++) {
        assert_true(used[s]); /* every segment is reachable */
        assert_true(strlen(hd_rfm_segment_en((hd_rfm_segment)s)) > 0);
        assert_true(strlen(hd_rfm_segment_zh((hd_rfm_segment)s)) > 0);
        for (int t = 0; t < s; t++)
            assert_true(strcmp(hd_rfm_segment_key((hd_rfm_segment)s),
                               hd_rfm_segment_key((hd_rfm_segment)t)) != 0);
    }
    assert_string_equal(hd_rfm_segment_zh(HD_RFM_CHAMPIONS), "重要价值客户");
    assert_string_equal(hd_rfm_segment_en(HD_RFM_CHAMPIONS), "Champions");
    assert_string_equal(hd_rfm_segment_zh(HD_RFM_LOST), "流失客户");
    assert_string_equal(hd_rfm_segment_en(HD_RFM_LOST), "Lost");
    assert_string_equal(hd_rfm_segment_zh(HD_RFM_CANT_LOSE), "重要挽留客户");
    /* out of range is clamped, and names of a bad value are empty, never NULL */
    assert_int_equal(hd_rfm_segment_of(9, 9), HD_RFM_CHAMPIONS);
    assert_int_equal(hd_rfm_segment_of(0, -3), HD_RFM_LOST);
    assert_string_equal(hd_rfm_segment_en(HD_RFM_SEGMENTS), "");
    assert_string_equal(hd_rfm_segment_zh((hd_rfm_segment)-1), "");
}

static void test_summarize(void **state) {
    (void)state;
    int64_t d0 = hd_days_from_civil(2024, 1, 1);
    /* customer 7: two orders on day 0, one on day 10, one after the as-of date;
     * customer 3: one order on day 4; customer 9: only after the as-of date */
    int64_t cu[6] = {7, 3, 7, 7, 9, 7};
    int64_t dy[6] = {d0, d0 + 4, d0, d0 + 10, d0 + 30, d0 + 31};
    double am[6] = {10, 5, 2.5, 20, 99, 50};
    hd_rfm_input *out = NULL;
    size_t n = 0;
    hd_err err;
    assert_int_equal(hd_rfm_summarize(cu, dy, am, 6, d0 + 20, &out, &n, &err), HD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].customer, 3);
    assert_abs(out[0].recency_days, 16, 0);
    assert_abs(out[0].frequency, 1, 0);
    assert_abs(out[0].monetary, 5, 0);
    assert_int_equal(out[1].customer, 7);
    assert_abs(out[1].recency_days, 10, 0);
    assert_abs(out[1].frequency, 2, 0); /* distinct days */
    assert_abs(out[1].monetary, 32.5, 1e-12);
    free(out);
    assert_int_equal(hd_rfm_summarize(cu, dy, am, 6, d0 - 1, &out, &n, &err), HD_OK);
    assert_int_equal(n, 0);
    assert_null(out);
    am[2] = INFINITY;
    assert_int_equal(hd_rfm_summarize(cu, dy, am, 6, d0 + 20, &out, &n, &err), HD_EINVAL);
    assert_null(out);
}

static void test_pareto(void **state) {
    (void)state;
    hd_err err;
    hd_pareto_summary s;
    double curve[5];
    static const double rev[5] = {5, 50, 10, 30, 5};
    assert_int_equal(hd_pareto_curve(rev, 5, curve, 5, &s, &err), HD_OK);
    assert_int_equal(s.customers, 5);
    assert_abs(s.revenue, 100, 1e-12);
    assert_abs(s.top20_share, 0.5, 1e-12);
    static const double want[5] = {0.5, 0.8, 0.9, 0.95, 1.0};
    for (int k = 0; k < 5; k++) assert_abs(curve[k], want[k], 1e-12);
    assert_abs(s.customer_share_80, 0.4, 1e-12);
    /* Gini: sum_j (n - 2j - 1) v_j / (n total), v sorted largest first */
    assert_abs(s.gini, (4 * 50 + 2 * 30 + 0 * 10 - 2 * 5 - 4 * 5) / 500.0, 1e-12);
    /* fractions of a customer interpolate: the top 20 % of 3 is 0.6 of the first */
    static const double three[3] = {10, 60, 30};
    assert_int_equal(hd_pareto_curve(three, 3, NULL, 0, &s, &err), HD_OK);
    assert_abs(s.top20_share, 0.36, 1e-12);
    assert_abs(s.customer_share_80, (1 + 20.0 / 30) / 3, 1e-12);
    /* equal spend: the diagonal, Gini 0 */
    double flat[50];
    for (int i = 0; i < 50; i++) flat[i] = 7;
    assert_int_equal(hd_pareto_curve(flat, 50, curve, 5, &s, &err), HD_OK);
    assert_abs(s.top20_share, 0.2, 1e-12);
    assert_abs(s.gini, 0, 1e-12);
    for (int k = 0; k < 5; k++) assert_abs(curve[k], (k + 1) / 5.0, 1e-12);
    /* one customer holds everything */
    flat[0] = 1000;
    for (int i = 1; i < 50; i++) flat[i] = 0;
    assert_int_equal(hd_pareto_curve(flat, 50, NULL, 0, &s, &err), HD_OK);
    assert_abs(s.top20_share, 1, 1e-12);
    assert_abs(s.gini, 49.0 / 50, 1e-12);
    assert_abs(s.customer_share_80, 0.8 / 50, 1e-12);
    /* errors */
    assert_int_equal(hd_pareto_curve(flat, 0, NULL, 0, &s, &err), HD_EINVAL);
    flat[0] = 0;
    assert_int_equal(hd_pareto_curve(flat, 50, NULL, 0, &s, &err), HD_EINVAL);
    flat[3] = -1;
    assert_int_equal(hd_pareto_curve(flat, 50, NULL, 0, &s, &err), HD_EINVAL);
    assert_int_equal(hd_pareto_curve(rev, 5, NULL, 3, &s, &err), HD_EINVAL);
}

/* --- the command line, run as a separate process (HUDONG_BIN, set by scripts/test.sh) */

static const char *bin(void) {
    const char *b = getenv("HUDONG_BIN");
    return b && *b ? b : "build/asan/hudong";
}

static int run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0, got;
    char *buf = malloc(cap);
    while ((got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            char *more = realloc(buf, cap *= 2);
            assert_non_null(more);
            buf = more;
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    *out = buf;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* `hudong analyze rfm --orders FILE ARGS` refuses: exit 2, nothing on stdout, and its
 * message (in DIR/err.txt) says what. */
static void expect_refused(const char *dir, const char *file, const char *args, const char *what) {
    char cmd[3000], *out;
    snprintf(cmd, sizeof cmd, "%s analyze rfm --orders %s %s 2>%s/err.txt", bin(), file, args, dir);
    assert_int_equal(run(cmd, &out), 2);
    assert_string_equal(out, "");
    free(out);
    snprintf(cmd, sizeof cmd, "cat %s/err.txt", dir);
    run(cmd, &out);
    if (!strstr(out, what)) fail_msg("\"%s\" not in: %s", what, out);
    free(out);
}

static void test_cli_rfm(void **state) {
    (void)state;
    char tmp[] = "/tmp/hd_test_rfm_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char file[1100], cmd[3000], *out;
    snprintf(file, sizeof file, "%s/orders.csv", tmp);
    /* Chinese ids, a quoted id with a comma, dates in both forms, same-day orders */
    write_file(file, "订单号,客户,date,amount\n"
                     "1,张三,2024-01-02,100\n"
                     "2,张三,20240102,50\n"
                     "3,张三,2024-03-01,80\n"
                     "4,\"Li, Si\",2024-02-10,20\n"
                     "5,王五,2024-03-05,500\n"
                     "6,赵六,2023-06-01,5\n"
                     "\n"
                     "7,王五,2024-04-01,1\n");
    snprintf(cmd, sizeof cmd, "%s analyze rfm --orders %s --customer-col 客户 --as-of 2024-03-31",
             bin(), file);
    assert_int_equal(run(cmd, &out), 0);
    const char *want = "customer,recency_days,frequency,monetary,R,F,M,segment,segment_zh\n"
                       "张三,30,2,230.00,3,4,3,Loyal Customers,忠诚客户\n"
                       "\"Li, Si\",50,1,20.00,2,1,2,About to Sleep,即将沉睡客户\n"
                       "王五,26,1,500.00,4,1,4,Potential Loyalists,潜力客户\n"
                       "赵六,304,1,5.00,1,1,1,Lost,流失客户\n";
    assert_string_equal(out, want);
    free(out);

    snprintf(cmd, sizeof cmd,
             "%s analyze rfm --orders %s --customer-col 客户 --as-of 2024-03-31 --pareto "
             "--format json",
             bin(), file);
    assert_int_equal(run(cmd, &out), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "customers")), 4);
    /* top 20 % of 4 customers = 0.8 of 王五's 500 out of 755 */
    assert_abs(json_number_value(json_object_get(j, "top20_share")), 400.0 / 755, 1e-6);
    assert_int_equal(json_array_size(json_object_get(j, "curve")), 20);
    json_decref(j);
    free(out);

    snprintf(cmd, sizeof cmd, "%s analyze rfm --orders %s --customer-col 客户 --format json", bin(),
             file);
    assert_int_equal(run(cmd, &out), 0);
    j = json_loads(out, 0, &je);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "segments")), HD_RFM_SEGMENTS);
    assert_string_equal(json_string_value(json_object_get(j, "as_of")), "2024-04-01");
    json_decref(j);
    free(out);

    /* times count on the brand's day (+08:00 unless --utc-offset says otherwise): 07:00
     * and 09:00 on 1 March in Beijing are one purchase day there and two in UTC (29
     * February 23:00Z, 1 March 01:00Z); a time with no offset is on the date written */
    write_file(file, "customer_id,date,amount\n"
                     "A,2024-03-01T07:00:00+08:00,10\n"
                     "A,2024-02-29T17:00:00-08:00,10\n"
                     "B,2024-03-01 07:00:00,5\n");
    snprintf(cmd, sizeof cmd, "%s analyze rfm --orders %s --as-of 2024-03-31", bin(), file);
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(out, "\nA,30,1,20.00,"));
    assert_non_null(strstr(out, "\nB,30,1,5.00,"));
    free(out);
    snprintf(cmd, sizeof cmd, "%s analyze rfm --orders %s --as-of 2024-03-31 --utc-offset +00:00",
             bin(), file);
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(out, "\nA,30,2,20.00,"));
    assert_non_null(strstr(out, "\nB,30,1,5.00,"));
    free(out);
    expect_refused(tmp, file, "--utc-offset +8", "--utc-offset must be like +08:00");
    expect_refused(tmp, file, "--as-of 2024-02-30", "--as-of \"2024-02-30\" is not a date");

    /* bad input: line named, exit 2, nothing on stdout */
    write_file(file, "customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-02,-3\n");
    expect_refused(tmp, file, "", "line 3");
    expect_refused(tmp, file, "--amount-col price", "\"price\"");
    snprintf(cmd, sizeof cmd, "%s analyze rfm --orders %s --calibration-end 2024-01-01 2>/dev/null",
             bin(), file);
    assert_int_equal(run(cmd, &out), 2);
    free(out);
    snprintf(cmd, sizeof cmd, "%s analyze rfm --help", bin());
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(out, "--pareto"));
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quintiles_and_ties),
        cmocka_unit_test(test_large_uniform),
        cmocka_unit_test(test_segment_map),
        cmocka_unit_test(test_summarize),
        cmocka_unit_test(test_pareto),
        cmocka_unit_test(test_cli_rfm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
