/* analytics_clv.c - CLV and RFM at a million customers.
 *
 * Simulates an order log from known BG/NBD and Gamma-Gamma parameters (a CDNOW-like
 * cohort: first purchases over 12 weeks, 39 calibration weeks, 39 hold-out weeks, amounts
 * in whole cents), then times summarising, both fits, scoring with a 12-month discounted
 * CLV, RFM and the Pareto curve. Recovery of the parameters is checked on the exact
 * continuous-time summaries kept beside the log: rounding to days merges a few purchases
 * into days already bought, which the model does not know about. A qsort
 * of the same number of doubles, timed in the same run, is the baseline for the ratios.
 * Usage: analytics_clv [customers]   (default 1,000,000) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "analytics/clv.h"
#include "analytics/rfm.h"
#include "base/clock.h"

static uint64_t rng = 20240501;
static double urand(void) {
    uint64_t z = (rng += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()); }
static double grand(double k) { /* Gamma(k, 1), Marsaglia-Tsang */
    if (k < 1) return grand(k + 1) * pow(urand(), 1 / k);
    double d = k - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = nrand(), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        if (log(urand()) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
    }
}

/* The bench has nothing to clean up: out of memory ends it. */
static void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size);
    if (!q) {
        fputs("analytics_clv: out of memory\n", stderr);
        exit(1);
    }
    return q;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double secs(int64_t t0) { return (double)(hd_mono_ns() - t0) / 1e9; }

static long peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    if (n < 1000) n = 1000;
    const double R = 0.25, ALPHA = 4.4, A = 0.8, B = 2.4; /* weekly, CDNOW-like */
    const double P = 6, Q = 4, V = 15;
    const int64_t start = hd_days_from_civil(2024, 1, 1), cal_end = start + 12 * 7 + 39 * 7 - 1;
    const int64_t end = cal_end + 39 * 7;

    /* --- simulate the order log, and beside it each customer's exact continuous-time
     * summary (the model's own data: rounding to days merges some purchases) */
    int64_t t0 = hd_mono_ns();
    size_t cap = n * 4, m = 0;
    int64_t *cu = malloc(cap * sizeof *cu), *dy = malloc(cap * sizeof *dy);
    double *am = malloc(cap * sizeof *am);
    hd_clv_summary *ex_s = calloc(n, sizeof *ex_s);
    if (!cu || !dy || !am || !ex_s) return 1;
    for (size_t i = 0; i < n; i++) {
        double lam = grand(R) / ALPHA, g = grand(A), p = g / (g + grand(B));
        double nu = grand(Q) / V;
        int64_t first = start + (int64_t)(urand() * 84);
        double t = 0, horizon = (double)(end - first + 1) / 7;
        double T = (double)(cal_end - first + 1) / 7, x = 0, tx = 0, rep = 0;
        for (int k = 0;; k++) {
            if (k > 1 && urand() < p) break; /* drops out only after a repeat purchase */
            if (m == cap) {
                cap *= 2;
                cu = xrealloc(cu, cap * sizeof *cu);
                dy = xrealloc(dy, cap * sizeof *dy);
                am = xrealloc(am, cap * sizeof *am);
            }
            cu[m] = (int64_t)i;
            dy[m] = first + (int64_t)floor(t * 7);
            am[m] = round(grand(P) / nu * 100) / 100;
            if (k > 0 && t < T) {
                x += 1;
                tx = t;
                rep += am[m];
            }
            m++;
            t += -log(urand()) / lam;
            if (t >= horizon) break;
        }
        ex_s[i] = (hd_clv_summary){
            .customer = (int64_t)i, .x = x, .t_x = tx, .T = T, .monetary = x > 0 ? rep / x : 0};
    }
    double t_sim = secs(t0);

    /* --- baseline: qsort of n doubles */
    double *base = malloc(n * sizeof *base);
    for (size_t i = 0; i < n; i++) base[i] = urand();
    t0 = hd_mono_ns();
    qsort(base, n, sizeof *base, cmp_double);
    double t_base = secs(t0);
    free(base);

    hd_err err;
    /* --- CLV */
    hd_clv_summary *s = NULL;
    size_t ns = 0;
    t0 = hd_mono_ns();
    if (hd_clv_summarize(cu, dy, am, m, cal_end, HD_CLV_WEEK, &s, &ns, &err) != HD_OK) {
        fprintf(stderr, "summarize: %s\n", err.msg);
        return 1;
    }
    double t_sum = secs(t0);
    hd_clv_bgnbd bg;
    t0 = hd_mono_ns();
    if (hd_clv_bgnbd_fit(s, ns, &bg, &err) != HD_OK) {
        fprintf(stderr, "bgnbd: %s\n", err.msg);
        return 1;
    }
    double t_bg = secs(t0);
    hd_clv_gg gg;
    t0 = hd_mono_ns();
    if (hd_clv_gg_fit(s, ns, &gg, &err) != HD_OK) {
        fprintf(stderr, "gamma-gamma: %s\n", err.msg);
        return 1;
    }
    double t_gg = secs(t0);
    hd_clv_score *sc = malloc(ns * sizeof *sc);
    t0 = hd_mono_ns();
    if (hd_clv_score_all(&bg, &gg, s, ns, 52, pow(1.1, 7 / 365.25) - 1, 12, sc, &err) != HD_OK) {
        fprintf(stderr, "score: %s\n", err.msg);
        return 1;
    }
    double t_score = secs(t0);
    /* hold-out check: expected vs actual repeat purchases in the 39 weeks after */
    hd_clv_score *ho = malloc(ns * sizeof *ho);
    hd_clv_score_all(&bg, &gg, s, ns, 39, 0, 1, ho, &err);
    double ex = 0, act = 0, clv = 0;
    for (size_t i = 0; i < ns; i++) ex += ho[i].expected_purchases, act += s[i].x_star;
    for (size_t i = 0; i < ns; i++) clv += sc[i].clv;

    /* the exact continuous-time summaries: repeaters do not pool (the slow case for the fit),
     * and the recovery check */
    hd_clv_bgnbd bgc;
    hd_clv_gg ggc;
    t0 = hd_mono_ns();
    hd_rc rc_c = hd_clv_bgnbd_fit(ex_s, n, &bgc, &err);
    double t_bgc = secs(t0);
    if (rc_c != HD_OK || hd_clv_gg_fit(ex_s, n, &ggc, &err) != HD_OK) {
        fprintf(stderr, "exact fit: %s\n", err.msg);
        return 1;
    }

    /* --- RFM and Pareto */
    hd_rfm_input *in = NULL;
    size_t nr = 0;
    t0 = hd_mono_ns();
    if (hd_rfm_summarize(cu, dy, am, m, end, &in, &nr, &err) != HD_OK) return 1;
    double t_rsum = secs(t0);
    hd_rfm_score *rs = malloc(nr * sizeof *rs);
    t0 = hd_mono_ns();
    if (hd_rfm_score_all(in, nr, rs, &err) != HD_OK) return 1;
    double t_rfm = secs(t0);
    double *rev = malloc(nr * sizeof *rev), curve[20];
    for (size_t i = 0; i < nr; i++) rev[i] = in[i].monetary;
    hd_pareto_summary ps;
    t0 = hd_mono_ns();
    if (hd_pareto_curve(rev, nr, curve, 20, &ps, &err) != HD_OK) return 1;
    double t_par = secs(t0);

    printf("analytics_clv: %zu customers, %zu orders (simulated in %.2f s)\n", n, m, t_sim);
    printf("baseline: qsort of %zu doubles %.3f s\n\n", n, t_base);
    printf("%-34s %9s %9s\n", "step", "seconds", "x qsort");
    printf("%-34s %9.3f %9.1f\n", "clv summarize (sort 1 order/row)", t_sum, t_sum / t_base);
    printf("%-34s %9.3f %9.1f\n", "bg/nbd fit (day-grained)", t_bg, t_bg / t_base);
    printf("%-34s %9.3f %9.1f\n", "gamma-gamma fit", t_gg, t_gg / t_base);
    printf("%-34s %9.3f %9.1f\n", "score 52 wk, 12 steps", t_score, t_score / t_base);
    printf("%-34s %9.3f %9.1f\n", "total clv (summarize..score)", t_sum + t_bg + t_gg + t_score,
           (t_sum + t_bg + t_gg + t_score) / t_base);
    printf("%-34s %9.3f %9.1f\n", "bg/nbd fit, continuous t_x", t_bgc, t_bgc / t_base);
    printf("%-34s %9.3f %9.1f\n", "rfm summarize", t_rsum, t_rsum / t_base);
    printf("%-34s %9.3f %9.1f\n", "rfm score (radix)", t_rfm, t_rfm / t_base);
    printf("%-34s %9.3f %9.1f\n\n", "pareto curve", t_par, t_par / t_base);
    double sx = 0, sxe = 0;
    for (size_t i = 0; i < ns; i++) sx += s[i].x;
    for (size_t i = 0; i < n; i++) sxe += ex_s[i].x;
    printf("bg/nbd       true  r=%.4f alpha=%.4f a=%.4f b=%.4f\n", R, ALPHA, A, B);
    printf("  exact      fit   r=%.4f alpha=%.4f a=%.4f b=%.4f (%d iterations)\n", bgc.r, bgc.alpha,
           bgc.a, bgc.b, bgc.iterations);
    printf("  day log    fit   r=%.4f alpha=%.4f a=%.4f b=%.4f (%d iterations; rounding to days "
           "merged %.1f %% of repeat purchases)\n",
           bg.r, bg.alpha, bg.a, bg.b, bg.iterations, 100 * (1 - sx / sxe));
    printf("gamma-gamma  true  p=%.3f q=%.3f v=%.3f\n", P, Q, V);
    printf("  exact      fit   p=%.3f q=%.3f v=%.3f on %zu customers (%d iterations)\n", ggc.p,
           ggc.q, ggc.v, ggc.customers, ggc.iterations);
    printf("  day log    fit   p=%.3f q=%.3f v=%.3f on %zu customers\n", gg.p, gg.q, gg.v,
           gg.customers);
    printf("hold-out 39 wk: actual %.0f repeat purchases, expected %.0f (%+.2f %%)\n", act, ex,
           100 * (ex - act) / act);
    printf("clv total %.0f, mean %.2f; pareto top-20 %% share %.3f, gini %.3f\n", clv,
           clv / (double)ns, ps.top20_share, ps.gini);
    printf("peak RSS %ld MiB\n", peak_rss_mib());
    int bad = fabs(bgc.r / R - 1) > 0.03 || fabs(bgc.alpha / ALPHA - 1) > 0.03 ||
              fabs(bgc.a / A - 1) > 0.05 || fabs(bgc.b / B - 1) > 0.05 ||
              fabs(ggc.p / P - 1) > 0.05 || fabs(ggc.q / Q - 1) > 0.05 ||
              fabs(ggc.v / V - 1) > 0.05;
    printf("recovery (exact data): %s\n", bad ? "OUTSIDE 3 % (r, alpha) / 5 % (a, b, p, q, v)"
                                              : "ok, r and alpha within 3 %, "
                                                "a, b, p, q, v within 5 %");
    free(cu);
    free(dy);
    free(am);
    free(s);
    free(ex_s);
    free(sc);
    free(ho);
    free(in);
    free(rs);
    free(rev);
    return bad;
}
