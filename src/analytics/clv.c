/* clv.c - BG/NBD and Gamma-Gamma: summaries from transactions, maximum-likelihood fits,
 * P(alive), conditional expectations and discounted CLV.
 *
 * The fits minimise the mean negative log-likelihood over log-parameters with BFGS and
 * analytic gradients (digamma is computed here, libm has none); parameters are boxed
 * into [HD_CLV_PARAM_MIN, HD_CLV_PARAM_MAX] so a degenerate data set ends at a bound
 * instead of running off to infinity. Nelder-Mead is the fallback when BFGS stalls. */
#include "analytics/clv.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KMAX 4 /* parameters of the largest model */

/* lgamma_r, not lgamma: lgamma writes the global signgam, a data race under threads. */
static double lgam(double x) {
    int sign;
    return lgamma_r(x, &sign);
}

/* Digamma for x > 0: shift up to x >= 6, then the asymptotic series (error < 1e-15). */
static double digamma(double x) {
    double acc = 0;
    while (x < 6) {
        acc -= 1 / x;
        x += 1;
    }
    double f = 1 / (x * x);
    double tail =
        f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (-1.0 / 132)))));
    return acc + log(x) - 0.5 / x + tail;
}

/* ln G(z+q) - ln G(z) for z > 0, z + q > 0, without the cancellation of two huge lgammas: for
 * z >= 1e4 Stirling's series, differenced term by term (error < 1e-15 absolute). */
static double lgamma_diff(double z, double q) {
    if (z < 1e4) return lgam(z + q) - lgam(z);
    double w = z + q;
    return (w - 0.5) * log1p(q / z) + q * log(z) - q + (1 / w - 1 / z) / 12 -
           (1 / (w * w * w) - 1 / (z * z * z)) / 360;
}

/* psi(z+q) - psi(z), likewise. */
static double digamma_diff(double z, double q) {
    if (z < 1e4) return digamma(z + q) - digamma(z);
    double w = z + q;
    return log1p(q / z) - (1 / w - 1 / z) / 2 - (1 / (w * w) - 1 / (z * z)) / 12;
}

/* ------------------------------------------------------------------ summaries */

typedef struct txn {
    int64_t customer, day;
    double amount;
} txn;

static int txn_cmp(const void *pa, const void *pb) {
    const txn *a = pa, *b = pb;
    if (a->customer != b->customer) return a->customer < b->customer ? -1 : 1;
    if (a->day != b->day) return a->day < b->day ? -1 : 1;
    return 0;
}

hd_rc hd_clv_summarize(const int64_t *customer, const int64_t *day, const double *amount, size_t n,
                       int64_t cal_end_day, hd_clv_period period, hd_clv_summary **out,
                       size_t *n_out, hd_err *err) {
    hd_rc rc = HD_OK;
    txn *t = NULL;
    hd_clv_summary *res = NULL;
    *out = NULL;
    *n_out = 0;
    if (period != HD_CLV_DAY && period != HD_CLV_WEEK)
        return hd_err_set(err, HD_EINVAL, "period", "must be day or week");
    if (n == 0) return HD_OK;
    t = malloc(n * sizeof *t);
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory for %zu transactions", n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(amount[i])) {
            rc = hd_err_set(err, HD_EINVAL, "amount", "transaction %zu: amount is not finite", i);
            goto done;
        }
        t[i] = (txn){customer[i], day[i], amount[i]};
    }
    qsort(t, n, sizeof *t, txn_cmp);

    size_t ncust = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || t[i].customer != t[i - 1].customer) ncust++;
    res = malloc(ncust * sizeof *res);
    if (!res) {
        rc = hd_err_set(err, HD_ENOMEM, "", "out of memory for %zu customers", ncust);
        goto done;
    }
    double per = (double)period;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && t[j].customer == t[i].customer) j++;
        int64_t first = t[i].day;
        if (first <= cal_end_day) {
            /* Walk the days: occasion 0 is the first purchase, the rest are repeats. */
            double x = 0, xs = 0, rep = 0;
            int64_t last = first;
            for (size_t m = i; m < j;) {
                size_t e = m;
                double amt = 0;
                while (e < j && t[e].day == t[m].day) amt += t[e++].amount;
                if (t[m].day <= cal_end_day) {
                    if (t[m].day != first) {
                        x += 1;
                        rep += amt;
                        last = t[m].day;
                    }
                } else {
                    xs += 1;
                }
                m = e;
            }
            if (x > HD_CLV_X_MAX || (double)(cal_end_day - first) / per > HD_CLV_TIME_MAX) {
                rc = hd_err_set(err, HD_EINVAL, "customer",
                                "customer %lld: history beyond the limits (%g repeats, %g "
                                "periods)",
                                (long long)t[i].customer, x, (double)(cal_end_day - first) / per);
                goto done;
            }
            res[k++] = (hd_clv_summary){.customer = t[i].customer,
                                        .x = x,
                                        .t_x = (double)(last - first) / per,
                                        .T = (double)(cal_end_day - first) / per,
                                        .monetary = x > 0 ? rep / x : 0,
                                        .x_star = xs};
        }
        i = j;
    }
    *n_out = k;
    if (k > 0) {
        *out = res;
        res = NULL;
    }
done:
    free(res);
    free(t);
    return rc;
}

/* ------------------------------------------------------------------ optimiser */

/* Objective: returns f(theta) and fills g; returns a non-finite value when theta is not
 * admissible. */
typedef double (*objfn)(const double *theta, double *g, void *ctx);

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Box-constrained BFGS on k <= KMAX variables. Returns 0 when the projected gradient fell
 * below gtol (or progress stopped at machine precision), 1 when it ran out of iterations,
 * -1 when no step could be taken at all. theta and *f hold the best point either way. */
static int bfgs(objfn fn, void *ctx, int k, double *th, double lo, double hi, int maxit,
                double gtol, double *fout, int *iters) {
    double g[KMAX], gn[KMAX], tn[KMAX], d[KMAX], s[KMAX], y[KMAX], H[KMAX][KMAX];
    bool fixed[KMAX], fresh = true;
    for (int i = 0; i < k; i++) th[i] = clampd(th[i], lo, hi);
    double f = fn(th, g, ctx);
    if (!isfinite(f)) return -1;
    int it, stall = 0, status = 1;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) H[i][j] = i == j;
    for (it = 0; it < maxit; it++) {
        double pg = 0;
        for (int i = 0; i < k; i++) {
            fixed[i] = (th[i] <= lo && g[i] > 0) || (th[i] >= hi && g[i] < 0);
            if (!fixed[i] && fabs(g[i]) > pg) pg = fabs(g[i]);
        }
        if (pg < gtol) {
            status = 0;
            break;
        }
        double gd = 0, dmax = 0;
        for (int i = 0; i < k; i++) {
            d[i] = 0;
            if (fixed[i]) continue;
            for (int j = 0; j < k; j++)
                if (!fixed[j]) d[i] -= H[i][j] * g[j];
            gd += g[i] * d[i];
        }
        if (!(gd < 0)) { /* not a descent direction: forget the curvature */
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) H[i][j] = i == j;
            fresh = true;
            gd = 0;
            for (int i = 0; i < k; i++) {
                d[i] = fixed[i] ? 0 : -g[i];
                gd += g[i] * d[i];
            }
        }
        for (int i = 0; i < k; i++) dmax = fmax(dmax, fabs(d[i]));
        double step = dmax > 2 ? 2 / dmax : 1; /* never more than a factor e^2 at once */
        double fn_ = NAN;
        bool ok = false;
        for (int ls = 0; ls < 60; ls++) {
            for (int i = 0; i < k; i++) tn[i] = clampd(th[i] + step * d[i], lo, hi);
            fn_ = fn(tn, gn, ctx);
            if (isfinite(fn_) && fn_ <= f + 1e-4 * step * gd) {
                ok = true;
                break;
            }
            step *= isfinite(fn_) ? 0.5 : 0.1;
        }
        if (!ok) {
            if (fresh) {
                /* Steepest descent found nothing: we sit at the precision floor. */
                status = pg < gtol * 1e4 ? 0 : -1;
                break;
            }
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++) H[i][j] = i == j;
            fresh = true;
            continue;
        }
        double sy = 0, yy = 0, ss = 0;
        for (int i = 0; i < k; i++) {
            s[i] = tn[i] - th[i];
            y[i] = gn[i] - g[i];
            sy += s[i] * y[i];
            yy += y[i] * y[i];
            ss += s[i] * s[i];
        }
        if (sy > 1e-12 * sqrt(ss * yy)) {
            if (fresh) { /* scale the identity to the observed curvature first */
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) H[i][j] = i == j ? sy / yy : 0;
                fresh = false;
            }
            /* H <- (I - rho s y') H (I - rho y s') + rho s s' */
            double rho = 1 / sy, Hy[KMAX], yHy = 0;
            for (int i = 0; i < k; i++) {
                Hy[i] = 0;
                for (int j = 0; j < k; j++) Hy[i] += H[i][j] * y[j];
                yHy += y[i] * Hy[i];
            }
            for (int i = 0; i < k; i++)
                for (int j = 0; j < k; j++)
                    H[i][j] += rho * ((1 + rho * yHy) * s[i] * s[j] - Hy[i] * s[j] - s[i] * Hy[j]);
        }
        bool tiny = f - fn_ <= 1e-15 * fmax(1, fabs(f)) && sqrt(ss) < 1e-10;
        stall = tiny ? stall + 1 : 0;
        memcpy(th, tn, (size_t)k * sizeof *th);
        memcpy(g, gn, (size_t)k * sizeof *g);
        f = fn_;
        if (stall >= 3) {
            status = pg < gtol * 1e4 ? 0 : 1;
            break;
        }
    }
    *fout = f;
    *iters += it;
    return status;
}

/* Nelder-Mead on the box, used when BFGS fails: slow but needs no gradient to be right. */
static void nelder_mead(objfn fn, void *ctx, int k, double *th, double lo, double hi, int maxit,
                        double *fout) {
    double P[KMAX + 1][KMAX], F[KMAX + 1], c[KMAX], xr[KMAX], xe[KMAX], g[KMAX];
    for (int v = 0; v <= k; v++) {
        for (int i = 0; i < k; i++) P[v][i] = th[i] + (v == i + 1 ? 0.5 : 0);
        for (int i = 0; i < k; i++) P[v][i] = clampd(P[v][i], lo, hi);
        F[v] = fn(P[v], g, ctx);
        if (!isfinite(F[v])) F[v] = HUGE_VAL;
    }
    for (int it = 0; it < maxit; it++) {
        /* order: best first */
        for (int a = 1; a <= k; a++)
            for (int b = a; b > 0 && F[b] < F[b - 1]; b--) {
                double tf = F[b];
                F[b] = F[b - 1];
                F[b - 1] = tf;
                for (int i = 0; i < k; i++) {
                    double tp = P[b][i];
                    P[b][i] = P[b - 1][i];
                    P[b - 1][i] = tp;
                }
            }
        if (fabs(F[k] - F[0]) <= 1e-14 * (1 + fabs(F[0]))) break;
        for (int i = 0; i < k; i++) {
            c[i] = 0;
            for (int v = 0; v < k; v++) c[i] += P[v][i] / k;
        }
        for (int i = 0; i < k; i++) xr[i] = clampd(c[i] + (c[i] - P[k][i]), lo, hi);
        double fr = fn(xr, g, ctx);
        if (!isfinite(fr)) fr = HUGE_VAL;
        if (fr < F[0]) {
            for (int i = 0; i < k; i++) xe[i] = clampd(c[i] + 2 * (c[i] - P[k][i]), lo, hi);
            double fe = fn(xe, g, ctx);
            if (isfinite(fe) && fe < fr) {
                memcpy(P[k], xe, sizeof xe);
                F[k] = fe;
            } else {
                memcpy(P[k], xr, sizeof xr);
                F[k] = fr;
            }
        } else if (fr < F[k - 1]) {
            memcpy(P[k], xr, sizeof xr);
            F[k] = fr;
        } else {
            for (int i = 0; i < k; i++) xe[i] = c[i] + 0.5 * (P[k][i] - c[i]);
            double fc = fn(xe, g, ctx);
            if (isfinite(fc) && fc < F[k]) {
                memcpy(P[k], xe, sizeof xe);
                F[k] = fc;
            } else { /* shrink towards the best */
                for (int v = 1; v <= k; v++) {
                    for (int i = 0; i < k; i++) P[v][i] = P[0][i] + 0.5 * (P[v][i] - P[0][i]);
                    F[v] = fn(P[v], g, ctx);
                    if (!isfinite(F[v])) F[v] = HUGE_VAL;
                }
            }
        }
    }
    int best = 0;
    for (int v = 1; v <= k; v++)
        if (F[v] < F[best]) best = v;
    memcpy(th, P[best], (size_t)k * sizeof *th);
    *fout = F[best];
}

/* BFGS, and if that does not converge, Nelder-Mead from its best point and BFGS again. */
static int minimise(objfn fn, void *ctx, int k, double *th, double *f, int *iters) {
    double lo = log(HD_CLV_PARAM_MIN), hi = log(HD_CLV_PARAM_MAX);
    const double gtol = 1e-10;
    *iters = 0;
    int st = bfgs(fn, ctx, k, th, lo, hi, HD_CLV_ITERATIONS, gtol, f, iters);
    for (int round = 0; st != 0 && round < 2; round++) {
        nelder_mead(fn, ctx, k, th, lo, hi, 400 * k, f);
        *iters += 400 * k;
        st = bfgs(fn, ctx, k, th, lo, hi, HD_CLV_ITERATIONS, gtol, f, iters);
    }
    return st;
}

static bool at_bound(const double *th, int k) {
    double lo = log(HD_CLV_PARAM_MIN), hi = log(HD_CLV_PARAM_MAX);
    for (int i = 0; i < k; i++)
        if (th[i] <= lo + 1e-9 || th[i] >= hi - 1e-9) return true;
    return false;
}

/* ------------------------------------------------------------------ BG/NBD */

/* A pooled summary: w customers with the same (x, t_x, T). */
typedef struct bgrec {
    double x, t_x, T, w;
} bgrec;

static int bgrec_cmp(const void *pa, const void *pb) {
    const bgrec *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    if (a->T != b->T) return a->T < b->T ? -1 : 1;
    if (a->t_x != b->t_x) return a->t_x < b->t_x ? -1 : 1;
    return 0;
}

static hd_rc check_summary(const hd_clv_summary *s, size_t i, hd_err *err) {
    if (!(s->x >= 0 && s->x <= HD_CLV_X_MAX))
        return hd_err_set(err, HD_EINVAL, "x", "customer %zu: x must be in [0, %g], got %g", i,
                          HD_CLV_X_MAX, s->x);
    if (!(s->T >= 0 && s->T <= HD_CLV_TIME_MAX))
        return hd_err_set(err, HD_EINVAL, "T", "customer %zu: T must be in [0, %g], got %g", i,
                          HD_CLV_TIME_MAX, s->T);
    if (!(s->t_x >= 0 && s->t_x <= s->T))
        return hd_err_set(err, HD_EINVAL, "t_x", "customer %zu: t_x must be in [0, T=%g], got %g",
                          i, s->T, s->t_x);
    if (!isfinite(s->monetary))
        return hd_err_set(err, HD_EINVAL, "monetary", "customer %zu: monetary is not finite", i);
    return HD_OK;
}

/* Log-likelihood (FHL 2005 eq. 6) of weighted records sorted by x, and its gradient with
 * respect to (r, alpha, a, b). Per record:
 *   ln G(r+x) - ln G(r) + r ln alpha + ln B(a, b+x) - ln B(a, b)
 *   + ln[ (alpha+T)^-(r+x) + [x>0] a/(b+x-1) (alpha+t_x)^-(r+x) ]
 * with the last term as a log-sum-exp. The x-only terms are computed once per x. Without
 * `full` the constant ln G(x) is left out (the optimiser's objective). */
static double bg_loglik(const double prm[4], const bgrec *R, size_t n, double g[4], bool full) {
    double r = prm[0], al = prm[1], a = prm[2], b = prm[3];
    double lg_r = lgam(r), lg_b = lgam(b), lg_ab = lgam(a + b);
    double ps_r = digamma(r), ps_b = digamma(b), ps_ab = digamma(a + b);
    double lnal = log(al), lna = log(a);
    double ll = 0, gr = 0, gal = 0, ga = 0, gb = 0;
    double cx = -1, Ax = 0, dAr = 0, dAa = 0, dAb = 0, c4 = 0, ib = 0, cT = -1, lT = 0;
    for (size_t i = 0; i < n; i++) {
        double x = R[i].x, w = R[i].w;
        if (x != cx) {
            cx = x;
            /* ln G(r+x) - ln G(r) = [ln G(x+r) - ln G(x)] + ln G(x) - ln G(r); the huge
             * ln G(x) does not depend on the parameters, so the optimiser leaves it out */
            Ax = (x > 0 ? lgamma_diff(x, r) - lg_r + (full ? lgam(x) : 0) : 0) + lg_ab - lg_b -
                 lgamma_diff(b + x, a);
            dAr = digamma(r + x) - ps_r;
            double ps_abx = digamma(a + b + x);
            dAa = ps_ab - ps_abx;
            dAb = ps_ab + digamma(b + x) - ps_b - ps_abx;
            if (x > 0) {
                c4 = lna - log(b + x - 1);
                ib = 1 / (b + x - 1);
            }
        }
        double s = r + x;
        if (R[i].T != cT) { /* records are sorted by (x, T, t_x): T repeats in runs */
            cT = R[i].T;
            lT = log(al + cT);
        }
        double l3 = -s * lT;
        double lse, w3, w4 = 0, lt = 0;
        if (x > 0) {
            lt = log(al + R[i].t_x);
            double l4 = c4 - s * lt;
            double m = l3 > l4 ? l3 : l4, e = exp(-fabs(l3 - l4));
            lse = m + log1p(e);
            double big = 1 / (1 + e), small = e / (1 + e);
            w3 = l3 >= l4 ? big : small;
            w4 = l3 >= l4 ? small : big;
        } else {
            lse = l3;
            w3 = 1;
        }
        ll += w * (Ax + r * lnal + lse);
        if (g) {
            gr += w * (dAr + lnal - w3 * lT - w4 * lt);
            gal += w * (r / al - w3 * s / (al + R[i].T) - (x > 0 ? w4 * s / (al + R[i].t_x) : 0));
            ga += w * (dAa + w4 / a);
            gb += w * (dAb - w4 * ib);
        }
    }
    if (g) {
        g[0] = gr;
        g[1] = gal;
        g[2] = ga;
        g[3] = gb;
    }
    return ll;
}

typedef struct bgctx {
    const bgrec *R;
    size_t n;
    double W; /* customers, to report the mean so tolerances do not scale with n */
} bgctx;

static double bg_obj(const double *th, double *g, void *vctx) {
    const bgctx *c = vctx;
    double prm[4], gr[4];
    for (int i = 0; i < 4; i++) prm[i] = exp(th[i]);
    double ll = bg_loglik(prm, c->R, c->n, gr, false);
    for (int i = 0; i < 4; i++) g[i] = -gr[i] * prm[i] / c->W;
    return -ll / c->W;
}

hd_rc hd_clv_bgnbd_fit(const hd_clv_summary *s, size_t n, hd_clv_bgnbd *out, hd_err *err) {
    hd_rc rc = HD_OK;
    bgrec *R = NULL;
    memset(out, 0, sizeof *out);
    if (n == 0) return hd_err_set(err, HD_EINVAL, "customers", "no customers to fit BG/NBD on");
    double sum_x = 0, sum_T = 0;
    size_t repeaters = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_summary(&s[i], i, err)) != HD_OK) return rc;
        sum_x += s[i].x;
        sum_T += s[i].T;
        if (s[i].x > 0) repeaters++;
    }
    if (repeaters == 0)
        return hd_err_set(err, HD_EINVAL, "x",
                          "none of the %zu customers made a repeat purchase in the calibration "
                          "period, so BG/NBD cannot be fitted",
                          n);
    if (!(sum_T > 0))
        return hd_err_set(err, HD_EINVAL, "T", "no calibration time observed (all T are 0)");

    R = malloc(n * sizeof *R);
    if (!R) return hd_err_set(err, HD_ENOMEM, "", "out of memory for %zu customers", n);
    for (size_t i = 0; i < n; i++) R[i] = (bgrec){s[i].x, s[i].t_x, s[i].T, 1};
    qsort(R, n, sizeof *R, bgrec_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && bgrec_cmp(&R[m - 1], &R[i]) == 0)
            R[m - 1].w += 1;
        else
            R[m++] = R[i];
    }

    /* Start at r = a = b = 1 with alpha on the data's time scale (mean rate r/alpha close
     * to purchases per unit of observed time), so days and weeks start equally well. */
    double th[4] = {0, log(clampd(sum_T / sum_x, 1e-3, 1e6)), 0, 0}, f;
    bgctx ctx = {R, m, (double)n};
    int st = minimise(bg_obj, &ctx, 4, th, &f, &out->iterations);
    double prm[4];
    for (int i = 0; i < 4; i++) prm[i] = exp(th[i]);
    double ll = bg_loglik(prm, R, m, NULL, true);
    if (st != 0 || !isfinite(ll)) {
        rc = hd_err_set(err, HD_EINVAL, "customers",
                        "the BG/NBD fit did not converge (r=%g alpha=%g a=%g b=%g)", prm[0], prm[1],
                        prm[2], prm[3]);
        goto done;
    }
    out->r = prm[0];
    out->alpha = prm[1];
    out->a = prm[2];
    out->b = prm[3];
    out->loglik = ll;
    out->at_bound = at_bound(th, 4);
done:
    free(R);
    return rc;
}

static hd_rc check_params(const hd_clv_bgnbd *p, hd_err *err) {
    if (!(p->r > 0 && p->alpha > 0 && p->a > 0 && p->b > 0 && isfinite(p->r) &&
          isfinite(p->alpha) && isfinite(p->a) && isfinite(p->b)))
        return hd_err_set(err, HD_EINVAL, "params", "BG/NBD parameters must be finite and > 0");
    return HD_OK;
}

hd_rc hd_clv_bgnbd_loglik(const hd_clv_bgnbd *p, const hd_clv_summary *s, size_t n, double *loglik,
                          double grad[4], hd_err *err) {
    hd_rc rc = check_params(p, err);
    if (rc != HD_OK) return rc;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_summary(&s[i], i, err)) != HD_OK) return rc;
    bgrec *R = malloc((n ? n : 1) * sizeof *R);
    if (!R) return hd_err_set(err, HD_ENOMEM, "", "out of memory for %zu customers", n);
    for (size_t i = 0; i < n; i++) R[i] = (bgrec){s[i].x, s[i].t_x, s[i].T, 1};
    double prm[4] = {p->r, p->alpha, p->a, p->b};
    *loglik = bg_loglik(prm, R, n, grad, true);
    free(R);
    return HD_OK;
}

double hd_clv_p_alive(const hd_clv_bgnbd *p, double x, double t_x, double T) {
    if (!(x > 0)) return 1;
    /* odds of having dropped out after the last purchase versus still being active */
    double lo = log(p->a) - log(p->b + x - 1) + (p->r + x) * log1p((T - t_x) / (p->alpha + t_x));
    return 1 / (1 + exp(lo));
}

/* sum_{m=0}^{j-1} (be)_m / (ga)_m for ga - be = a, in closed form:
 * (ga-1)/(a-1) [1 - (be)_j / (ga-1)_j], with the a -> 1 limit be (psi(be+j) - psi(be)). */
static double wsum_closed(double a, double be, double ga, double j) {
    if (ga <= 1) return 1 + be / ga * wsum_closed(a, be + 1, ga + 1, j - 1);
    if (fabs(a - 1) < 1e-6) return be * (digamma(be + j) - digamma(be));
    /* D = ln (be)_j / (ga-1)_j, as two small differences (ga - 1 = be + (a - 1)) */
    double D = lgamma_diff(be, a - 1) - lgamma_diff(be + j, a - 1);
    return (ga - 1) * -expm1(D) / (a - 1);
}

#define WALK_MAX 100000000L /* terms in one expectation before giving up */

/* Expected purchases in (T, T+t] for a customer alive at T, with posterior
 * lambda ~ Gamma(r+x, alpha+T) and p ~ Beta(a, b+x):
 *   sum_j P(N = j) W(j),  N ~ NegBin(r+x, z = t/(alpha+T+t)),
 *   W(j) = sum_{k=1..j} E[(1-p)^(k-1)]   (the k-th purchase happens only if the customer
 *                                          did not drop out after the k-1 before it).
 * Every term is positive, so nothing cancels; the walk starts at the mode of N. This is
 * (a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]. */
static hd_rc alive_expectation(const hd_clv_bgnbd *p, double x, double T, double t, double *out,
                               hd_err *err) {
    *out = 0;
    if (!(t > 0)) return HD_OK;
    double a = p->a, s = p->r + x, be = p->b + x, ga = p->a + p->b + x;
    double u = t / (p->alpha + T); /* z / (1 - z) */
    double z = t / (p->alpha + T + t);
    double lz = log(z), l1z = -log1p(u);
    double j0 = s > 1 ? floor((s - 1) * u) : 0;
    if (!(j0 <= 1e12))
        return hd_err_set(err, HD_EINVAL, "horizon",
                          "horizon %g is too long for this customer (%g expected purchases)", t,
                          s * u);
    double W = 0, wj = 0; /* W(j0) and w_j0 */
    if (j0 <= 1e7) {
        double w = 1;
        for (double k = 1; k <= j0; k++) {
            W += w;
            wj = w;
            w *= (be + k - 1) / (ga + k - 1);
        }
    } else {
        wj = exp(lgamma_diff(be, a) - lgamma_diff(be + j0 - 1, a)); /* (be)_(j0-1)/(ga)_(j0-1) */
        W = wsum_closed(a, be, ga, j0);
    }
    double p0 = exp(lgam(s + j0) - lgam(s) - lgam(j0 + 1) + s * l1z + j0 * lz);
    double sum = p0 * W;

    double j = j0, pj = p0, Wj = W, w = j0 == 0 ? 1 : wj * (be + j0 - 1) / (ga + j0 - 1);
    for (long it = 0;; it++) { /* upwards: w is w_(j+1) */
        pj *= (s + j) * z / (j + 1);
        j += 1;
        Wj += w;
        w *= (be + j - 1) / (ga + j - 1);
        sum += pj * Wj;
        double q = fmax((s + j) * z / (j + 1), z); /* no later ratio is larger */
        if (q < 1) {
            double tail = pj * (Wj * q / (1 - q) + q / ((1 - q) * (1 - q)));
            if (tail <= 1e-16 * sum) break;
        }
        if (it > WALK_MAX)
            return hd_err_set(err, HD_EINVAL, "horizon",
                              "horizon %g is too long relative to alpha=%g", t, p->alpha);
    }
    j = j0, pj = p0, Wj = W, w = wj;
    while (j > 0) { /* downwards: w is w_j; the left tail is at most j times the last term */
        pj *= j / ((s + j - 1) * z);
        Wj -= w;
        j -= 1;
        if (j >= 1) w *= (ga + j - 1) / (be + j - 1);
        if (Wj < 0) Wj = 0;
        double term = pj * Wj;
        sum += term;
        if (term * j <= 1e-17 * sum) break;
    }
    *out = sum;
    return isfinite(sum) ? HD_OK
                         : hd_err_set(err, HD_EINVAL, "horizon", "expectation is not finite");
}

hd_rc hd_clv_expected(const hd_clv_bgnbd *p, double x, double t_x, double T, double t, double *out,
                      hd_err *err) {
    *out = 0;
    hd_rc rc = check_params(p, err);
    if (rc != HD_OK) return rc;
    hd_clv_summary sm = {.x = x, .t_x = t_x, .T = T};
    if ((rc = check_summary(&sm, 0, err)) != HD_OK) return rc;
    if (!(t >= 0 && t <= HD_CLV_TIME_MAX))
        return hd_err_set(err, HD_EINVAL, "horizon", "must be in [0, %g], got %g", HD_CLV_TIME_MAX,
                          t);
    double e;
    if ((rc = alive_expectation(p, x, T, t, &e, err)) != HD_OK) return rc;
    *out = hd_clv_p_alive(p, x, t_x, T) * e;
    return HD_OK;
}

/* ------------------------------------------------------------------ Gamma-Gamma */

typedef struct ggrec {
    double x, m;
    double lnm, lnxm; /* ln m and ln(x m), fixed during the fit */
} ggrec;

static int ggrec_cmp(const void *pa, const void *pb) {
    const ggrec *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    return (a->m > b->m) - (a->m < b->m);
}

/* Log-density of the mean m of x purchases (the sum is Gamma(p x, nu), nu ~ Gamma(q, v)):
 *   ln G(px+q) - ln G(px) - ln G(q) + q ln v + px ln x + (px-1) ln m - (px+q) ln(v + x m)
 * rearranged so no two large terms cancel when x is huge:
 *   lgamma_diff(px, q) - ln G(q) + q ln v - ln m - px log1p(v / (x m)) - q ln(v + x m) */
static double gg_loglik(const double prm[3], const ggrec *R, size_t n, double g[3]) {
    double p = prm[0], q = prm[1], v = prm[2];
    double lg_q = lgam(q), ps_q = digamma(q), lnv = log(v);
    double ll = 0, gp = 0, gq = 0, gv = 0, cx = -1, Lx = 0, dpx = 0, dqx = 0;
    for (size_t i = 0; i < n; i++) {
        double x = R[i].x, m = R[i].m, px = p * x;
        if (x != cx) {
            cx = x;
            Lx = lgamma_diff(px, q) - lg_q + q * lnv;
            dpx = x * digamma_diff(px, q);
            dqx = digamma(px + q) - ps_q + lnv;
        }
        double xm = x * m, l1 = log1p(v / xm), lvm = R[i].lnxm + l1; /* ln(v + x m) */
        ll += Lx - R[i].lnm - px * l1 - q * lvm;
        if (g) {
            gp += dpx - x * l1;
            gq += dqx - lvm;
            gv += x * (q * m - p * v) / (v * (v + xm));
        }
    }
    if (g) {
        g[0] = gp;
        g[1] = gq;
        g[2] = gv;
    }
    return ll;
}

typedef struct ggctx {
    const ggrec *R;
    size_t n;
} ggctx;

static double gg_obj(const double *th, double *g, void *vctx) {
    const ggctx *c = vctx;
    double prm[3], gr[3];
    for (int i = 0; i < 3; i++) prm[i] = exp(th[i]);
    double ll = gg_loglik(prm, c->R, c->n, gr);
    for (int i = 0; i < 3; i++) g[i] = -gr[i] * prm[i] / (double)c->n;
    return -ll / (double)c->n;
}

hd_rc hd_clv_gg_fit(const hd_clv_summary *s, size_t n, hd_clv_gg *out, hd_err *err) {
    hd_rc rc = HD_OK;
    ggrec *R = NULL;
    memset(out, 0, sizeof *out);
    size_t k = 0;
    double msum = 0;
    for (size_t i = 0; i < n; i++) {
        if ((rc = check_summary(&s[i], i, err)) != HD_OK) return rc;
        if (s[i].x > 0 && s[i].monetary > 0) {
            k++;
            msum += s[i].monetary;
        }
    }
    if (k < 2)
        return hd_err_set(err, HD_EINVAL, "monetary",
                          "Gamma-Gamma needs at least 2 customers with a repeat purchase of "
                          "positive value, got %zu",
                          k);
    R = malloc(k * sizeof *R);
    if (!R) return hd_err_set(err, HD_ENOMEM, "", "out of memory for %zu customers", k);
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i].x > 0 && s[i].monetary > 0)
            R[k++] =
                (ggrec){s[i].x, s[i].monetary, log(s[i].monetary), log(s[i].x * s[i].monetary)};
    qsort(R, k, sizeof *R, ggrec_cmp);

    /* Start at p = 1, q = 3 and v matching the mean spend (mean = p v / (q - 1)). */
    double th[3] = {0, log(3), log(clampd(2 * msum / (double)k, 1e-6, 1e7))}, f;
    ggctx ctx = {R, k};
    int st = minimise(gg_obj, &ctx, 3, th, &f, &out->iterations);
    double prm[3];
    for (int i = 0; i < 3; i++) prm[i] = exp(th[i]);
    double ll = gg_loglik(prm, R, k, NULL);
    if (st != 0 || !isfinite(ll)) {
        rc = hd_err_set(err, HD_EINVAL, "monetary",
                        "the Gamma-Gamma fit did not converge (p=%g q=%g v=%g)", prm[0], prm[1],
                        prm[2]);
        goto done;
    }
    if (prm[1] <= 1) {
        rc = hd_err_set(err, HD_EINVAL, "monetary",
                        "spend is too heavy-tailed for a finite expected value (Gamma-Gamma "
                        "q=%g <= 1)",
                        prm[1]);
        goto done;
    }
    out->p = prm[0];
    out->q = prm[1];
    out->v = prm[2];
    out->loglik = ll;
    out->customers = k;
    out->at_bound = at_bound(th, 3);
done:
    free(R);
    return rc;
}

double hd_clv_gg_expected_spend(const hd_clv_gg *g, double x, double monetary) {
    if (!(x > 0)) x = 0;
    double m = monetary > 0 ? monetary : 0;
    /* a weighted average of the population mean p v / (q-1) and the customer's own mean */
    return g->p * (g->v + x * m) / (g->p * x + g->q - 1);
}

/* ------------------------------------------------------------------ scoring */

typedef struct keyidx {
    double x, t_x, T;
    size_t i;
} keyidx;

static int keyidx_cmp(const void *pa, const void *pb) {
    const keyidx *a = pa, *b = pb;
    if (a->x != b->x) return a->x < b->x ? -1 : 1;
    if (a->T != b->T) return a->T < b->T ? -1 : 1;
    if (a->t_x != b->t_x) return a->t_x < b->t_x ? -1 : 1;
    return 0;
}

hd_rc hd_clv_score_all(const hd_clv_bgnbd *p, const hd_clv_gg *g, const hd_clv_summary *s, size_t n,
                       double horizon, double discount, int steps, hd_clv_score *out, hd_err *err) {
    hd_rc rc = check_params(p, err);
    if (rc != HD_OK) return rc;
    if (!(g->p > 0 && g->q > 1 && g->v > 0 && isfinite(g->p) && isfinite(g->q) && isfinite(g->v)))
        return hd_err_set(err, HD_EINVAL, "params",
                          "Gamma-Gamma parameters must be finite, > 0, and q > 1");
    if (!(horizon >= 0 && horizon <= HD_CLV_TIME_MAX))
        return hd_err_set(err, HD_EINVAL, "horizon", "must be in [0, %g], got %g", HD_CLV_TIME_MAX,
                          horizon);
    if (!(discount > -1 && discount <= 1e3))
        return hd_err_set(err, HD_EINVAL, "discount", "must be in (-1, 1000], got %g", discount);
    if (steps < 1 || steps > HD_CLV_STEPS_MAX)
        return hd_err_set(err, HD_EINVAL, "steps", "must be in [1, %d], got %d", HD_CLV_STEPS_MAX,
                          steps);
    for (size_t i = 0; i < n; i++)
        if ((rc = check_summary(&s[i], i, err)) != HD_OK) return rc;
    if (n == 0) return HD_OK;
    keyidx *K = malloc(n * sizeof *K);
    if (!K) return hd_err_set(err, HD_ENOMEM, "", "out of memory for %zu customers", n);
    for (size_t i = 0; i < n; i++) K[i] = (keyidx){s[i].x, s[i].t_x, s[i].T, i};
    qsort(K, n, sizeof *K, keyidx_cmp);
    double ldisc = log1p(discount), pa = 0, eh = 0, dsum = 0;
    for (size_t u = 0; u < n; u++) {
        if (u == 0 || keyidx_cmp(&K[u - 1], &K[u]) != 0) {
            /* a new (x, t_x, T): expected purchases per slice, each discounted at its middle */
            pa = hd_clv_p_alive(p, K[u].x, K[u].t_x, K[u].T);
            double prev = 0;
            dsum = 0;
            for (int k = 1; k <= steps; k++) {
                double tk = horizon * k / steps, e;
                if ((rc = alive_expectation(p, K[u].x, K[u].T, tk, &e, err)) != HD_OK) goto done;
                double mid = horizon * (k - 0.5) / steps;
                dsum += (e - prev) * exp(-ldisc * mid);
                prev = e;
            }
            eh = prev;
        }
        size_t i = K[u].i;
        out[i].p_alive = pa;
        out[i].expected_purchases = pa * eh;
        out[i].expected_spend = hd_clv_gg_expected_spend(g, s[i].x, s[i].monetary);
        out[i].clv = out[i].expected_spend * pa * dsum;
    }
done:
    free(K);
    return rc;
}
