/* clv.h - customer lifetime value from an order log: the BG/NBD model (Fader, Hardie &
 * Lee 2005) says how many more purchases a customer will make and whether they are still
 * "alive", the Gamma-Gamma model says what each purchase will be worth, and the two give
 * a discounted CLV over a horizon.
 *
 * Pure C over arrays: no store, no I/O, no printing. Times are in periods (weeks or days,
 * chosen when the summaries are built); amounts in whatever unit the caller uses. */
#ifndef HD_CLV_H
#define HD_CLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Limits: beyond these the models are meaningless and the arithmetic gets slow. */
#define HD_CLV_X_MAX      1e9 /* repeat purchases of one customer */
#define HD_CLV_TIME_MAX   1e7 /* periods in t_x, T and a horizon */
#define HD_CLV_STEPS_MAX  10000
#define HD_CLV_PARAM_MIN  1e-8 /* fitted parameters are kept inside [MIN, MAX] */
#define HD_CLV_PARAM_MAX  1e8
#define HD_CLV_ITERATIONS 500 /* optimiser iterations per fit */

typedef enum hd_clv_period { HD_CLV_DAY = 1, HD_CLV_WEEK = 7 } hd_clv_period;

/* What the models know about one customer at the end of the calibration period. */
typedef struct hd_clv_summary {
    int64_t customer; /* the caller's id */
    double x;         /* repeat purchase occasions (purchase days after the first) */
    double t_x;       /* time of the last purchase, counted from the first (periods) */
    double T;         /* calibration end minus the first purchase (periods) */
    double monetary;  /* mean amount of the repeat occasions, first excluded; 0 if x == 0 */
    double x_star;    /* purchase occasions after the calibration end (hold-out); 0 if none */
} hd_clv_summary;

/* Builds one summary per customer from n transactions given as three parallel arrays
 * (customer id, day number such as hd_days_from_civil(), amount). Purchases on the same
 * day are one occasion with their amounts summed. Only purchases on or before cal_end_day
 * count for x, t_x, T and monetary; later ones count in x_star. Customers whose first
 * purchase is after cal_end_day are left out. The result is sorted by customer id and
 * allocated here: *out (NULL when *n_out == 0) is freed by the caller with free().
 * HD_EINVAL when an amount is not finite or a count exceeds the limits. */
hd_rc hd_clv_summarize(const int64_t *customer, const int64_t *day, const double *amount, size_t n,
                       int64_t cal_end_day, hd_clv_period period, hd_clv_summary **out,
                       size_t *n_out, hd_err *err);

/* BG/NBD parameters: purchase rate lambda ~ Gamma(r, alpha), drop-out probability after
 * each repeat purchase p ~ Beta(a, b). */
typedef struct hd_clv_bgnbd {
    double r, alpha, a, b;
    double loglik;  /* log-likelihood at the parameters (all customers) */
    int iterations; /* optimiser iterations used */
    bool at_bound;  /* a parameter ended at HD_CLV_PARAM_MIN/MAX: the data point to a
                       limiting case (e.g. nobody drops out); the values are that limit */
} hd_clv_bgnbd;

/* Fits BG/NBD by maximum likelihood (BFGS on log-parameters with the analytic gradient,
 * Nelder-Mead as a fallback). Customers with identical (x, t_x, T) are pooled first, so
 * the cost grows with the number of distinct summaries. HD_EINVAL when the input is
 * invalid (negative or non-finite values, t_x > T) or cannot identify the model (no
 * customers, nobody with a repeat purchase, no time observed), or when the fit does not
 * converge. */
hd_rc hd_clv_bgnbd_fit(const hd_clv_summary *s, size_t n, hd_clv_bgnbd *out, hd_err *err);

/* Log-likelihood of the summaries at p (only r, alpha, a, b are read) and, when grad is not
 * NULL, its gradient with respect to (r, alpha, a, b). HD_EINVAL on invalid input. */
hd_rc hd_clv_bgnbd_loglik(const hd_clv_bgnbd *p, const hd_clv_summary *s, size_t n, double *loglik,
                          double grad[4], hd_err *err);

/* Probability that a customer with history (x, t_x, T) is still alive at T. */
double hd_clv_p_alive(const hd_clv_bgnbd *p, double x, double t_x, double T);

/* Expected number of purchases in (T, T + t] for a customer with history (x, t_x, T).
 * With x = t_x = T = 0 this is E[X(t)] for a customer who has just made a first purchase.
 * Evaluated as a negative-binomial-weighted sum of positive terms, which equals the
 * closed form with the Gauss hypergeometric 2F1 without its cancellation (a near 1,
 * large x). HD_EINVAL when an argument is out of range. */
hd_rc hd_clv_expected(const hd_clv_bgnbd *p, double x, double t_x, double T, double t, double *out,
                      hd_err *err);

/* Gamma-Gamma spend: each purchase ~ Gamma(p, nu), nu ~ Gamma(q, v) across customers. */
typedef struct hd_clv_gg {
    double p, q, v;
    double loglik;    /* log-likelihood of the mean repeat spend (with all constants) */
    size_t customers; /* customers the fit used */
    int iterations;
    bool at_bound;
} hd_clv_gg;

/* Fits Gamma-Gamma on the customers with x >= 1 and monetary > 0 (monetary being the
 * mean of their repeat purchases). HD_EINVAL with fewer than two such customers, on
 * invalid input, when the fit fails, or when q <= 1 (spend too heavy-tailed for a finite
 * expected value). */
hd_rc hd_clv_gg_fit(const hd_clv_summary *s, size_t n, hd_clv_gg *out, hd_err *err);

/* Expected value of a future purchase for a customer with x repeat purchases of mean
 * monetary: p (v + x m) / (p x + q - 1), a weighted average of the population mean
 * p v / (q - 1) (what x == 0 gets) and the customer's own mean. Needs q > 1, which
 * hd_clv_gg_fit guarantees; a monetary <= 0 counts as 0. */
double hd_clv_gg_expected_spend(const hd_clv_gg *g, double x, double monetary);

/* Everything the CLI and the console show per customer. */
typedef struct hd_clv_score {
    double p_alive;
    double expected_purchases; /* in (T, T + horizon] */
    double expected_spend;     /* per purchase (Gamma-Gamma) */
    double clv;                /* discounted expected revenue over the horizon */
} hd_clv_score;

/* Scores n customers over a horizon (periods) with a discount rate per period: the
 * horizon is cut into `steps` equal slices, the expected purchases in each slice are
 * valued at expected_spend and discounted by (1 + discount)^-(slice midpoint). Customers
 * with the same (x, t_x, T) are computed once. out has n entries. */
hd_rc hd_clv_score_all(const hd_clv_bgnbd *p, const hd_clv_gg *g, const hd_clv_summary *s, size_t n,
                       double horizon, double discount, int steps, hd_clv_score *out, hd_err *err);

#endif
