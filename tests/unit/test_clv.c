/* test_clv.c - BG/NBD and Gamma-Gamma: the published CDNOW figures (Fader, Hardie & Lee
 * 2005; BTYD and lifetimes outputs in shared/data/cdnow/REFERENCE.md), the gradient
 * against finite differences, degenerate logs, and `hudong analyze clv` end to end. */
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
#include <unistd.h>

#include "analytics/clv.h"
#include "base/clock.h"
#include "text/text.h"

/* BTYD 2.4.3 vignette, sec. 4.2 */
static const hd_clv_bgnbd BTYD = {
    .r = 0.2425982, .alpha = 4.4136842, .a = 0.7929899, .b = 2.4261667};

static void data_path(char *out, size_t n, const char *file) {
    const char *d = getenv("HUDONG_DATA");
    snprintf(out, n, "%s/%s", d && *d ? d : "../shared/data", file);
}

/* Opens a data file or skips the test (the one allowed skip: the data dir is missing). */
static FILE *open_data(const char *file) {
    char path[1024];
    data_path(path, sizeof path, file);
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("SKIP: %s not found\n", path);
        skip();
    }
    return f;
}

typedef struct elog {
    size_t n;
    int64_t cust[8000], day[8000];
    double amount[8000];
} elog;

/* cdnowElog.csv: masterid,sampleid,date(YYYYMMDD),cds,sales */
static elog *load_elog(void) {
    FILE *f = open_data("cdnow/cdnowElog.csv");
    elog *e = calloc(1, sizeof *e);
    assert_non_null(e);
    hd_csv *c = hd_csv_new(f, ',');
    hd_err err;
    assert_int_equal(hd_csv_next(c, &err), 1);
    while (hd_csv_next(c, &err) == 1) {
        assert_true(e->n < 8000);
        const char *d = hd_csv_field(c, 2, NULL);
        int y = 0, m = 0, dd = 0;
        assert_int_equal(sscanf(d, "%4d%2d%2d", &y, &m, &dd), 3);
        e->cust[e->n] = strtoll(hd_csv_field(c, 0, NULL), NULL, 10);
        e->day[e->n] = hd_days_from_civil(y, m, dd);
        e->amount[e->n] = strtod(hd_csv_field(c, 4, NULL), NULL);
        e->n++;
    }
    hd_csv_free(c);
    fclose(f);
    assert_int_equal(e->n, 6919);
    return e;
}

static void assert_rel(double got, double want, double rel) {
    if (!(fabs(got - want) <= rel * fabs(want))) {
        print_error("got %.10g, want %.10g (relative tolerance %g)\n", got, want, rel);
        fail();
    }
}

static void assert_abs(double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) {
        print_error("got %.10g, want %.10g (tolerance %g)\n", got, want, tol);
        fail();
    }
}

static void test_cdnow_elog(void **state) {
    (void)state;
    elog *e = load_elog();
    hd_clv_summary *s = NULL;
    size_t n = 0;
    hd_err err;
    assert_int_equal(hd_clv_summarize(e->cust, e->day, e->amount, e->n,
                                      hd_days_from_civil(1997, 9, 30), HD_CLV_WEEK, &s, &n, &err),
                     HD_OK);
    assert_int_equal(n, 2357);
    double sx = 0, sxs = 0;
    size_t rep = 0;
    for (size_t i = 0; i < n; i++) {
        sx += s[i].x;
        sxs += s[i].x_star;
        rep += s[i].x > 0;
    }
    assert_abs(sx, 2457, 0); /* cdnowSummary_cbs.csv column sums */
    assert_abs(sxs, 1882, 0);
    assert_int_equal(rep, 946);
    /* masterid 4 is BTYD customer 1: x=2, t.x=30.43 wk, T.cal=38.86 wk, m.x=22.345 */
    assert_int_equal(s[0].customer, 4);
    assert_abs(s[0].x, 2, 0);
    assert_abs(s[0].t_x, 213.0 / 7, 1e-12);
    assert_abs(s[0].T, 272.0 / 7, 1e-12);
    assert_abs(s[0].monetary, 22.345, 1e-9);

    hd_clv_bgnbd p;
    assert_int_equal(hd_clv_bgnbd_fit(s, n, &p, &err), HD_OK);
    printf("BG/NBD r=%.7f alpha=%.7f a=%.7f b=%.7f LL=%.4f (%d iterations)\n", p.r, p.alpha, p.a,
           p.b, p.loglik, p.iterations);
    assert_rel(p.r, 0.2426, 0.005);
    assert_rel(p.alpha, 4.4137, 0.005);
    assert_rel(p.a, 0.7930, 0.005);
    assert_rel(p.b, 2.4262, 0.005);
    assert_abs(p.loglik, -9582.43, 0.05);
    assert_false(p.at_bound);
    /* the fit is at least as good as the published point */
    double ll_ref;
    assert_int_equal(hd_clv_bgnbd_loglik(&BTYD, s, n, &ll_ref, NULL, &err), HD_OK);
    assert_abs(ll_ref, -9582.429, 0.001);
    assert_true(p.loglik >= ll_ref - 1e-6);

    hd_clv_gg g;
    assert_int_equal(hd_clv_gg_fit(s, n, &g, &err), HD_OK);
    printf("Gamma-Gamma p=%.4f q=%.4f v=%.4f LL=%.3f on %zu customers\n", g.p, g.q, g.v, g.loglik,
           g.customers);
    assert_int_equal(g.customers, 946);
    assert_abs(g.p, 6.25, 0.02);
    assert_abs(g.q, 3.74, 0.02);
    assert_abs(g.v, 15.44, 0.02);

    /* hold-out: mean conditional expectation by calibration frequency (BTYD params) */
    static const double want[8] = {0.2250893, 0.5231364, 1.044126, 1.520256,
                                   2.163824,  2.653789,  3.503957, 6.157036};
    static const double bins[8] = {1411, 439, 214, 100, 62, 38, 29, 64};
    double sum[8] = {0}, cnt[8] = {0};
    for (size_t i = 0; i < n; i++) {
        double ex;
        assert_int_equal(hd_clv_expected(&BTYD, s[i].x, s[i].t_x, s[i].T, 39, &ex, &err), HD_OK);
        int b = s[i].x >= 7 ? 7 : (int)s[i].x;
        sum[b] += ex;
        cnt[b] += 1;
    }
    for (int b = 0; b < 8; b++) {
        assert_abs(cnt[b], bins[b], 0);
        assert_rel(sum[b] / cnt[b], want[b], 1e-5);
    }
    free(s);
    free(e);
}

static void test_cdnow_published_values(void **state) {
    (void)state;
    hd_err err;
    double ex;
    /* BTYD vignette: E[X(52)] of a new customer; customer 1516 */
    assert_int_equal(hd_clv_expected(&BTYD, 0, 0, 0, 52, &ex, &err), HD_OK);
    assert_abs(ex, 1.444004, 2e-6);
    assert_int_equal(hd_clv_expected(&BTYD, 26, 30.85714, 31, 52, &ex, &err), HD_OK);
    assert_abs(ex, 25.75659, 1e-4);
    assert_abs(hd_clv_p_alive(&BTYD, 26, 30.85714, 31), 0.9688523, 1e-6);
    static const double xs[4] = {10, 15, 20, 25};
    static const double ws[4] = {0.3474606, 0.04283391, 0.004158973, 0.0003583685};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(hd_clv_expected(&BTYD, xs[i], 20, 39, 52, &ex, &err), HD_OK);
        assert_rel(ex, ws[i], 1e-5); /* published from 7-digit parameters */
    }
    /* lifetimes (params rounded to 3 decimals): customer (2, 30.43, 38.86), E[X(39)] */
    hd_clv_bgnbd l = {.r = 0.243, .alpha = 4.414, .a = 0.793, .b = 2.426};
    assert_int_equal(hd_clv_expected(&l, 2, 30.43, 38.86, 39, &ex, &err), HD_OK);
    assert_abs(ex, 1.226, 5e-4);
    /* Gamma-Gamma conditional expected spend (Hardie's sheet, params 6.25/3.74/15.44):
     * customer 1 (x=2, zbar=22.35) and customer 2 (x=1, zbar=11.77) */
    hd_clv_gg g = {.p = 6.25, .q = 3.74, .v = 15.44};
    assert_abs(hd_clv_gg_expected_spend(&g, 2, 22.35), 24.65, 0.1);
    assert_abs(hd_clv_gg_expected_spend(&g, 1, 11.77), 18.91, 0.1);
    assert_abs(hd_clv_gg_expected_spend(&g, 0, 0), 6.25 * 15.44 / 2.74, 1e-9);
}

/* The spend figures are published for the 2-decimal summary file. */
static void test_cdnow_summary_file(void **state) {
    (void)state;
    FILE *f = open_data("cdnow/cdnow_customers_summary_with_transactions.csv");
    hd_csv *c = hd_csv_new(f, ',');
    hd_err err;
    hd_clv_summary *s = calloc(2400, sizeof *s);
    size_t n = 0;
    assert_int_equal(hd_csv_next(c, &err), 1); /* ID,x,t_x,T,zbar */
    while (hd_csv_next(c, &err) == 1) {
        assert_true(n < 2400);
        s[n].customer = strtoll(hd_csv_field(c, 0, NULL), NULL, 10);
        s[n].x = strtod(hd_csv_field(c, 1, NULL), NULL);
        s[n].t_x = strtod(hd_csv_field(c, 2, NULL), NULL);
        s[n].T = strtod(hd_csv_field(c, 3, NULL), NULL);
        s[n].monetary = strtod(hd_csv_field(c, 4, NULL), NULL);
        n++;
    }
    hd_csv_free(c);
    fclose(f);
    assert_int_equal(n, 2357);
    hd_clv_gg g;
    assert_int_equal(hd_clv_gg_fit(s, n, &g, &err), HD_OK);
    assert_int_equal(g.customers, 946);
    assert_abs(g.p, 6.2488, 0.002);
    assert_abs(g.q, 3.7446, 0.002);
    assert_abs(g.v, 15.4478, 0.005);
    assert_abs(g.loglik, -4055.923, 0.01);
    /* lifetimes Quickstart with its fitted params: customer 1, 10 (x=0) */
    assert_abs(hd_clv_gg_expected_spend(&g, s[0].x, s[0].monetary), 24.658619, 0.01);
    assert_abs(hd_clv_gg_expected_spend(&g, 0, 0), 35.170981, 0.01);
    double ll;
    assert_int_equal(hd_clv_bgnbd_loglik(&BTYD, s, n, &ll, NULL, &err), HD_OK);
    assert_abs(ll, -9582.426, 0.002);
    free(s);
}

/* --- a small deterministic generator for synthetic customers */
static uint64_t rng_state;
static double urand(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()); }
/* Marsaglia-Tsang, with the k < 1 boost */
static double grand(double k) {
    if (k < 1) return grand(k + 1) * pow(urand(), 1 / k);
    double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = nrand(), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = urand();
        if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

/* BG/NBD customers observed for T periods each (first purchase at 0). */
static void simulate(hd_clv_summary *s, size_t n, double r, double alpha, double a, double b,
                     double Tmax) {
    for (size_t i = 0; i < n; i++) {
        double lam = grand(r) / alpha, ga = grand(a), p = ga / (ga + grand(b));
        double T = Tmax * (0.3 + 0.7 * urand()), t = 0, x = 0, tx = 0;
        for (;;) {
            if (t > 0 && urand() < p) break; /* dropped out after the last repeat purchase */
            t += -log(urand()) / lam;
            if (t > T) break;
            x += 1;
            tx = t;
        }
        s[i] = (hd_clv_summary){.customer = (int64_t)i,
                                .x = x,
                                .t_x = tx,
                                .T = T,
                                .monetary = x > 0 ? 10 + 5 * urand() : 0};
    }
}

static void test_gradient(void **state) {
    (void)state;
    rng_state = 42;
    enum { N = 300 };
    hd_clv_summary *s = calloc(N, sizeof *s);
    simulate(s, N, 0.5, 3, 0.8, 2.5, 40);
    s[0] = (hd_clv_summary){.x = 0, .t_x = 0, .T = 0};     /* bought on the last day */
    s[1] = (hd_clv_summary){.x = 1, .t_x = 0, .T = 10};    /* repeat on the first day */
    s[2] = (hd_clv_summary){.x = 500, .t_x = 39, .T = 40}; /* heavy buyer */
    static const double pts[3][4] = {{0.5, 3, 0.8, 2.5}, {0.05, 0.2, 3, 0.3}, {4, 60, 0.2, 9}};
    hd_err err;
    for (int k = 0; k < 3; k++) {
        hd_clv_bgnbd p = {pts[k][0], pts[k][1], pts[k][2], pts[k][3], 0, 0, false};
        double ll, g[4];
        assert_int_equal(hd_clv_bgnbd_loglik(&p, s, N, &ll, g, &err), HD_OK);
        assert_true(isfinite(ll));
        for (int i = 0; i < 4; i++) {
            double *v = i == 0 ? &p.r : i == 1 ? &p.alpha : i == 2 ? &p.a : &p.b, v0 = *v;
            double h = 1e-6 * v0, lp, lm;
            *v = v0 + h;
            assert_int_equal(hd_clv_bgnbd_loglik(&p, s, N, &lp, NULL, &err), HD_OK);
            *v = v0 - h;
            assert_int_equal(hd_clv_bgnbd_loglik(&p, s, N, &lm, NULL, &err), HD_OK);
            *v = v0;
            double fd = (lp - lm) / (2 * h);
            if (!(fabs(fd - g[i]) <= 1e-5 * (1 + fabs(g[i])))) {
                print_error("point %d param %d: analytic %.10g, finite difference %.10g\n", k, i,
                            g[i], fd);
                fail();
            }
        }
    }
    free(s);
}

/* An independent check of the expectation: the textbook 2F1 closed form, summed naively,
 * where that is accurate (a away from 1, modest x and z). */
static double naive_expected(const hd_clv_bgnbd *p, double x, double t_x, double T, double t) {
    double A = p->r + x, B = p->b + x, C = p->a + p->b + x - 1, z = t / (p->alpha + T + t);
    double term = 1, f = 1;
    for (int k = 0; k < 5000; k++) {
        term *= (A + k) * (B + k) / ((C + k) * (k + 1)) * z;
        f += term;
    }
    double cond =
        (p->a + p->b + x - 1) / (p->a - 1) * (1 - pow((p->alpha + T) / (p->alpha + T + t), A) * f);
    return hd_clv_p_alive(p, x, t_x, T) * cond;
}

static void test_expected_against_2f1(void **state) {
    (void)state;
    static const double prm[4][4] = {
        {0.24, 4.4, 0.79, 2.43}, {2, 10, 3, 5}, {0.6, 1.5, 1.8, 0.7}, {0.3, 20, 0.5, 0.4}};
    static const double cases[5][4] = {
        {0, 0, 0, 10}, {3, 20, 30, 52}, {1, 1, 39, 5}, {12, 30, 31, 26}, {0, 0, 20, 100}};
    hd_err err;
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 5; k++) {
            hd_clv_bgnbd p = {prm[i][0], prm[i][1], prm[i][2], prm[i][3], 0, 0, false};
            double ex;
            assert_int_equal(
                hd_clv_expected(&p, cases[k][0], cases[k][1], cases[k][2], cases[k][3], &ex, &err),
                HD_OK);
            assert_rel(ex, naive_expected(&p, cases[k][0], cases[k][1], cases[k][2], cases[k][3]),
                       1e-9);
        }
    /* a = 1 is a removable singularity of the closed form: continuous across it */
    double e0, e1, e2;
    hd_clv_bgnbd p = {0.5, 3, 1 - 1e-9, 2, 0, 0, false};
    assert_int_equal(hd_clv_expected(&p, 2, 10, 20, 30, &e0, &err), HD_OK);
    p.a = 1;
    assert_int_equal(hd_clv_expected(&p, 2, 10, 20, 30, &e1, &err), HD_OK);
    p.a = 1 + 1e-9;
    assert_int_equal(hd_clv_expected(&p, 2, 10, 20, 30, &e2, &err), HD_OK);
    assert_rel(e0, e1, 1e-7);
    assert_rel(e2, e1, 1e-7);
    /* monotone in the horizon, zero at zero */
    double prev = -1;
    for (double t = 0; t <= 520; t += 26) {
        double ex;
        assert_int_equal(hd_clv_expected(&BTYD, 3, 20, 39, t, &ex, &err), HD_OK);
        if (t == 0) assert_true(ex == 0);
        assert_true(ex > prev);
        prev = ex;
    }
}

static void test_recovers_simulated_params(void **state) {
    (void)state;
    rng_state = 7;
    enum { N = 20000 };
    hd_clv_summary *s = calloc(N, sizeof *s);
    simulate(s, N, 0.8, 6, 0.6, 2.2, 52);
    hd_clv_bgnbd p;
    hd_err err;
    assert_int_equal(hd_clv_bgnbd_fit(s, N, &p, &err), HD_OK);
    printf("simulated r=0.8 alpha=6 a=0.6 b=2.2 -> %.3f %.3f %.3f %.3f\n", p.r, p.alpha, p.a, p.b);
    assert_rel(p.r, 0.8, 0.1);
    assert_rel(p.alpha, 6, 0.15);
    assert_rel(p.a, 0.6, 0.25);
    assert_rel(p.b, 2.2, 0.35);
    /* in days instead of weeks: the same model, alpha scaled by 7 */
    for (size_t i = 0; i < N; i++) s[i].t_x *= 7, s[i].T *= 7;
    hd_clv_bgnbd pd;
    assert_int_equal(hd_clv_bgnbd_fit(s, N, &pd, &err), HD_OK);
    assert_rel(pd.r, p.r, 1e-4);
    assert_rel(pd.alpha, 7 * p.alpha, 1e-4);
    assert_rel(pd.a, p.a, 1e-4);
    assert_rel(pd.b, p.b, 1e-4);
    /* time densities scale by 1/7 per purchase */
    double sx = 0;
    for (size_t i = 0; i < N; i++) sx += s[i].x;
    assert_abs(pd.loglik, p.loglik - sx * log(7), 1e-6 * fabs(p.loglik));
    free(s);
}

static void test_unidentifiable(void **state) {
    (void)state;
    hd_err err;
    hd_clv_bgnbd p;
    hd_clv_gg g;
    /* one purchase each */
    hd_clv_summary s[50];
    for (int i = 0; i < 50; i++) s[i] = (hd_clv_summary){.customer = i, .T = 10 + i};
    assert_int_equal(hd_clv_bgnbd_fit(s, 50, &p, &err), HD_EINVAL);
    assert_string_equal(err.field, "x");
    assert_non_null(strstr(err.msg, "repeat"));
    assert_int_equal(hd_clv_gg_fit(s, 50, &g, &err), HD_EINVAL);
    assert_int_equal(hd_clv_bgnbd_fit(s, 0, &p, &err), HD_EINVAL);
    /* everything on one day: several orders per customer, all the same day */
    int64_t cu[40], dy[40];
    double am[40];
    for (int i = 0; i < 40; i++) cu[i] = i % 8, dy[i] = 10000, am[i] = 5;
    hd_clv_summary *out = NULL;
    size_t n = 0;
    assert_int_equal(hd_clv_summarize(cu, dy, am, 40, 10000, HD_CLV_DAY, &out, &n, &err), HD_OK);
    assert_int_equal(n, 8);
    for (size_t i = 0; i < n; i++) {
        assert_true(out[i].x == 0 && out[i].T == 0 && out[i].t_x == 0);
        assert_true(out[i].monetary == 0);
    }
    assert_int_equal(hd_clv_bgnbd_fit(out, n, &p, &err), HD_EINVAL);
    free(out);
    /* invalid summaries are named */
    hd_clv_summary bad[2] = {{.x = 1, .t_x = 5, .T = 3}, {.x = 1, .t_x = 1, .T = 3}};
    assert_int_equal(hd_clv_bgnbd_fit(bad, 2, &p, &err), HD_EINVAL);
    assert_string_equal(err.field, "t_x");
    bad[0] = (hd_clv_summary){.x = NAN, .T = 3};
    assert_int_equal(hd_clv_bgnbd_fit(bad, 2, &p, &err), HD_EINVAL);
    assert_string_equal(err.field, "x");
    double amt_nan[1] = {NAN};
    assert_int_equal(hd_clv_summarize(cu, dy, amt_nan, 1, 10000, HD_CLV_DAY, &out, &n, &err),
                     HD_EINVAL);
}

static void test_degenerate_but_fittable(void **state) {
    (void)state;
    hd_err err;
    hd_clv_bgnbd p;
    hd_clv_gg g;
    /* nobody ever drops out: every repeater bought on the last day */
    hd_clv_summary s[200];
    for (int i = 0; i < 200; i++)
        s[i] = (hd_clv_summary){
            .customer = i, .x = i % 5, .t_x = i % 5 ? 20 : 0, .T = 20, .monetary = i % 5 ? 10 : 0};
    assert_int_equal(hd_clv_bgnbd_fit(s, 200, &p, &err), HD_OK);
    assert_true(isfinite(p.r) && isfinite(p.alpha) && isfinite(p.a) && isfinite(p.b));
    assert_true(isfinite(p.loglik));
    assert_true(hd_clv_p_alive(&p, 4, 20, 20) > 0.99);
    /* identical spend everywhere: the fit runs to a limit, values stay finite */
    if (hd_clv_gg_fit(s, 200, &g, &err) == HD_OK) {
        assert_true(isfinite(g.p) && isfinite(g.q) && isfinite(g.v));
        assert_abs(hd_clv_gg_expected_spend(&g, 4, 10), 10, 0.5);
    } else {
        assert_int_equal(err.rc, HD_EINVAL);
    }
    /* one repeater among many */
    hd_clv_summary t[100];
    for (int i = 0; i < 100; i++) t[i] = (hd_clv_summary){.customer = i, .T = 30};
    t[7] = (hd_clv_summary){.customer = 7, .x = 1, .t_x = 3, .T = 30, .monetary = 4};
    hd_rc rc = hd_clv_bgnbd_fit(t, 100, &p, &err);
    assert_true(rc == HD_OK || rc == HD_EINVAL);
    if (rc == HD_OK) {
        assert_true(isfinite(p.loglik));
        double ex;
        assert_int_equal(hd_clv_expected(&p, 1, 3, 30, 52, &ex, &err), HD_OK);
        assert_true(isfinite(ex) && ex >= 0);
    }
}

static void test_huge_counts(void **state) {
    (void)state;
    hd_err err;
    rng_state = 3;
    enum { N = 2000 };
    hd_clv_summary *s = calloc(N, sizeof *s);
    simulate(s, N, 0.5, 4, 0.7, 2.5, 39);
    s[0] = (hd_clv_summary){.x = 1e6, .t_x = 39, .T = 39, .monetary = 12};
    s[1] = (hd_clv_summary){.x = 2e5, .t_x = 1, .T = 39, .monetary = 14};
    s[2] = (hd_clv_summary){.x = 1e9, .t_x = 39, .T = 39, .monetary = 11};
    hd_clv_bgnbd p;
    assert_int_equal(hd_clv_bgnbd_fit(s, N, &p, &err), HD_OK);
    assert_true(isfinite(p.r) && isfinite(p.alpha) && isfinite(p.a) && isfinite(p.b));
    assert_true(isfinite(p.loglik));
    hd_clv_gg g;
    assert_int_equal(hd_clv_gg_fit(s, N, &g, &err), HD_OK);
    assert_true(isfinite(g.p) && isfinite(g.q) && isfinite(g.v) && isfinite(g.loglik));
    /* wild spend on top (a mean of 1e6 next to 1e-3): no finite mean, said so */
    hd_clv_summary keep1 = s[1], keep2 = s[2];
    s[1].monetary = 1e6;
    s[2].monetary = 1e-3;
    assert_int_equal(hd_clv_gg_fit(s, N, &g, &err), HD_EINVAL);
    assert_non_null(strstr(err.msg, "heavy-tailed"));
    s[1] = keep1;
    s[2] = keep2;
    assert_int_equal(hd_clv_gg_fit(s, N, &g, &err), HD_OK);
    hd_clv_score *sc = calloc(N, sizeof *sc);
    assert_int_equal(hd_clv_score_all(&p, &g, s, N, 52, 0.002, 12, sc, &err), HD_OK);
    for (size_t i = 0; i < N; i++) {
        assert_true(isfinite(sc[i].p_alive) && sc[i].p_alive >= 0 && sc[i].p_alive <= 1);
        assert_true(isfinite(sc[i].expected_purchases) && sc[i].expected_purchases >= 0);
        assert_true(isfinite(sc[i].expected_spend) && isfinite(sc[i].clv) && sc[i].clv >= 0);
    }
    assert_true(sc[0].expected_purchases > 1e5); /* ~25,600 a week and still buying */
    assert_true(sc[2].expected_purchases > 1e8);
    assert_true(sc[1].p_alive < 1e-6);
    /* the closed-form branch (mode beyond 1e7) agrees with its neighbours */
    hd_clv_bgnbd q = {.r = 0.5, .alpha = 4, .a = 0.7, .b = 2.5};
    double e1, e2;
    assert_int_equal(hd_clv_expected(&q, 5e7, 39, 39, 10, &e1, &err), HD_OK);
    assert_int_equal(hd_clv_expected(&q, 5e7 + 1, 39, 39, 10, &e2, &err), HD_OK);
    assert_true(isfinite(e1) && e1 > 1e6);
    assert_rel(e2, e1, 1e-6);
    /* and is continuous where the mode crosses 1e7 (x = 4.3e7 here): the midpoint of two
     * neighbours, one on each side, is the value between them */
    double lo, mid, hi;
    assert_int_equal(hd_clv_expected(&q, 4.3e7 - 1e4, 39, 39, 10, &lo, &err), HD_OK);
    assert_int_equal(hd_clv_expected(&q, 4.3e7, 39, 39, 10, &mid, &err), HD_OK);
    assert_int_equal(hd_clv_expected(&q, 4.3e7 + 1e4, 39, 39, 10, &hi, &err), HD_OK);
    assert_rel(mid, (lo + hi) / 2, 1e-7);
    /* out of range is an error, not a NaN */
    double ex;
    assert_int_equal(hd_clv_expected(&q, 1, 2, 3, -1, &ex, &err), HD_EINVAL);
    assert_int_equal(hd_clv_expected(&q, 1, 2, 3, INFINITY, &ex, &err), HD_EINVAL);
    free(sc);
    free(s);
}

static void test_score_all(void **state) {
    (void)state;
    hd_err err;
    hd_clv_gg g = {.p = 6.25, .q = 3.74, .v = 15.44};
    hd_clv_summary s[6] = {
        {.customer = 1, .x = 2, .t_x = 30.43, .T = 38.86, .monetary = 22.35},
        {.customer = 2, .x = 0, .t_x = 0, .T = 38.86},
        {.customer = 3, .x = 2, .t_x = 30.43, .T = 38.86, .monetary = 50},
        {.customer = 4, .x = 7, .t_x = 10, .T = 38.86, .monetary = 12},
        {.customer = 5, .x = 0, .t_x = 0, .T = 0},
        {.customer = 6, .x = 2, .t_x = 30.43, .T = 38.86, .monetary = 22.35},
    };
    hd_clv_score sc[6], nd[6];
    assert_int_equal(hd_clv_score_all(&BTYD, &g, s, 6, 52, 0, 1, nd, &err), HD_OK);
    assert_int_equal(hd_clv_score_all(&BTYD, &g, s, 6, 52, 0.002, 12, sc, &err), HD_OK);
    for (int i = 0; i < 6; i++) {
        double ex;
        assert_int_equal(hd_clv_expected(&BTYD, s[i].x, s[i].t_x, s[i].T, 52, &ex, &err), HD_OK);
        assert_rel(sc[i].expected_purchases, ex, 1e-12);
        assert_rel(sc[i].p_alive, hd_clv_p_alive(&BTYD, s[i].x, s[i].t_x, s[i].T), 1e-12);
        /* no discount: CLV is expected purchases times expected spend */
        assert_rel(nd[i].clv, ex * hd_clv_gg_expected_spend(&g, s[i].x, s[i].monetary), 1e-12);
        assert_true(sc[i].clv < nd[i].clv && sc[i].clv > 0.9 * nd[i].clv);
    }
    assert_true(sc[2].clv > sc[0].clv); /* same history, bigger spend */
    assert_rel(sc[5].clv, sc[0].clv, 1e-12);
    assert_int_equal(hd_clv_score_all(&BTYD, &g, s, 6, 52, 0.1, 0, sc, &err), HD_EINVAL);
    hd_clv_gg bad = {.p = 1, .q = 0.5, .v = 1};
    assert_int_equal(hd_clv_score_all(&BTYD, &bad, s, 6, 52, 0.1, 4, sc, &err), HD_EINVAL);
}

/* --- the command line, run as a separate process (HUDONG_BIN, set by scripts/test.sh) */

static const char *bin(void) {
    const char *b = getenv("HUDONG_BIN");
    return b && *b ? b : "build/asan/hudong";
}

/* Runs cmd, returns its exit status and stdout (caller frees). */
static int run(const char *cmd, char **out) {
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
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

static void test_cli_clv(void **state) {
    (void)state;
    char path[1024], cmd[3072];
    data_path(path, sizeof path, "cdnow/cdnowElog.csv");
    FILE *f = open_data("cdnow/cdnowElog.csv");
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s analyze clv --orders '%s' --calibration-end 1997-09-30 --period week "
             "--format json",
             bin(), path);
    char *out;
    assert_int_equal(run(cmd, &out), 0);
    json_error_t je;
    json_t *j = json_loads(out, 0, &je);
    if (!j) print_error("not JSON: %s\n%s\n", je.text, out);
    assert_non_null(j);
    json_t *bg = json_object_get(j, "bgnbd"), *gg = json_object_get(j, "gamma_gamma");
    assert_rel(json_number_value(json_object_get(bg, "r")), 0.2426, 0.005);
    assert_rel(json_number_value(json_object_get(bg, "alpha")), 4.4137, 0.005);
    assert_rel(json_number_value(json_object_get(bg, "a")), 0.7930, 0.005);
    assert_rel(json_number_value(json_object_get(bg, "b")), 2.4262, 0.005);
    assert_abs(json_number_value(json_object_get(bg, "loglik")), -9582.43, 0.05);
    assert_abs(json_number_value(json_object_get(gg, "p")), 6.25, 0.02);
    assert_abs(json_number_value(json_object_get(gg, "q")), 3.74, 0.02);
    assert_abs(json_number_value(json_object_get(gg, "v")), 15.44, 0.02);
    assert_int_equal(json_integer_value(json_object_get(j, "customers")), 2357);
    json_decref(j);
    free(out);

    snprintf(cmd, sizeof cmd,
             "%s analyze clv --orders '%s' --calibration-end 19970930 --format csv --horizon 39 "
             "--discount 0",
             bin(), path);
    assert_int_equal(run(cmd, &out), 0);
    assert_true(strncmp(out,
                        "customer,x,t_x,T,p_alive,expected_purchases,expected_value,clv\n"
                        "4,2,30.4286,38.8571,",
                        68) == 0);
    size_t lines = 0;
    for (char *q = out; *q; q++) lines += *q == '\n';
    assert_int_equal(lines, 2358);
    free(out);

    /* bad input: the first bad line is named, exit 2, nothing on stdout */
    char tmp[] = "/tmp/hd_test_clv_XXXXXX";
    assert_non_null(mkdtemp(tmp));
    char bad[1100];
    snprintf(bad, sizeof bad, "%s/bad.csv", tmp);
    write_file(bad, "customer_id,date,amount\nA,2024-01-01,10\nA,2024-02-30,5\n");
    snprintf(cmd, sizeof cmd, "%s analyze clv --orders %s 2>%s/err.txt", bin(), bad, tmp);
    assert_int_equal(run(cmd, &out), 2);
    assert_string_equal(out, "");
    free(out);
    snprintf(cmd, sizeof cmd, "cat %s/err.txt", tmp);
    run(cmd, &out);
    assert_non_null(strstr(out, "line 3"));
    free(out);
    write_file(bad, "who,date,amount\nA,2024-01-01,10\n");
    snprintf(cmd, sizeof cmd, "%s analyze clv --orders %s 2>%s/err.txt", bin(), bad, tmp);
    assert_int_equal(run(cmd, &out), 2);
    assert_string_equal(out, "");
    free(out);
    snprintf(cmd, sizeof cmd, "cat %s/err.txt", tmp);
    run(cmd, &out);
    assert_non_null(strstr(out, "customer"));
    free(out);
    /* nobody repeats: a clear message, exit 2 */
    write_file(bad, "customer_id,date,amount\nA,2024-01-01,10\nB,2024-01-02,5\nA,20240101,1\n");
    snprintf(cmd, sizeof cmd, "%s analyze clv --orders %s 2>%s/err.txt", bin(), bad, tmp);
    assert_int_equal(run(cmd, &out), 2);
    assert_string_equal(out, "");
    free(out);
    snprintf(cmd, sizeof cmd, "%s analyze clv --help", bin());
    assert_int_equal(run(cmd, &out), 0);
    assert_non_null(strstr(out, "--calibration-end"));
    free(out);
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cdnow_elog),
        cmocka_unit_test(test_cdnow_published_values),
        cmocka_unit_test(test_cdnow_summary_file),
        cmocka_unit_test(test_gradient),
        cmocka_unit_test(test_expected_against_2f1),
        cmocka_unit_test(test_recovers_simulated_params),
        cmocka_unit_test(test_unidentifiable),
        cmocka_unit_test(test_degenerate_but_fittable),
        cmocka_unit_test(test_huge_counts),
        cmocka_unit_test(test_score_all),
        cmocka_unit_test(test_cli_clv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
