/* rfm.h - RFM scoring (recency, frequency, monetary quintiles), named segments in zh and
 * en, and the Pareto curve of revenue by customer rank.
 *
 * Pure C over arrays: no store, no I/O, no printing. */
#ifndef HD_RFM_H
#define HD_RFM_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define HD_RFM_CUSTOMERS_MAX ((size_t)1 << 32) /* customers in one call */
#define HD_PARETO_POINTS_MAX 100000

/* One customer as of a date. */
typedef struct hd_rfm_input {
    int64_t customer;    /* the caller's id */
    double recency_days; /* days from the last purchase to the as-of date (>= 0) */
    double frequency;    /* purchase occasions: distinct days with a purchase */
    double monetary;     /* total amount spent */
} hd_rfm_input;

/* Builds one row per customer from n transactions given as three parallel arrays
 * (customer id, day number such as hd_days_from_civil(), amount). Only purchases on or
 * before as_of_day count; customers with none are left out. Sorted by customer id;
 * *out (NULL when *n_out == 0) is freed by the caller with free(). HD_EINVAL when an
 * amount is not finite. */
hd_rc hd_rfm_summarize(const int64_t *customer, const int64_t *day, const double *amount, size_t n,
                       int64_t as_of_day, hd_rfm_input **out, size_t *n_out, hd_err *err);

typedef enum hd_rfm_segment {
    HD_RFM_CHAMPIONS,          /* 重要价值客户 */
    HD_RFM_LOYAL,              /* 忠诚客户 */
    HD_RFM_POTENTIAL_LOYALIST, /* 潜力客户 */
    HD_RFM_NEW,                /* 新客户 */
    HD_RFM_PROMISING,          /* 一般发展客户 */
    HD_RFM_NEED_ATTENTION,     /* 需要关注客户 */
    HD_RFM_ABOUT_TO_SLEEP,     /* 即将沉睡客户 */
    HD_RFM_AT_RISK,            /* 流失风险客户 */
    HD_RFM_CANT_LOSE,          /* 重要挽留客户 */
    HD_RFM_HIBERNATING,        /* 沉睡客户 */
    HD_RFM_LOST,               /* 流失客户 */
    HD_RFM_SEGMENTS
} hd_rfm_segment;

typedef struct hd_rfm_score {
    uint8_t r, f, m;        /* 1..5, 5 best (most recent, most frequent, most spent) */
    uint8_t fm;             /* (f + m + 1) / 2: the F-M axis of the segment map */
    hd_rfm_segment segment; /* from hd_rfm_segment_of(r, fm) */
} hd_rfm_score;

/* Scores n customers into quintiles. The rule, the same for R, F and M and independent
 * of input order: a customer's score is 1 + floor(5 * k / n), where k is the number of
 * customers with a strictly worse value (a larger recency, a smaller frequency or
 * monetary). Equal values therefore get equal scores, the worst value always scores 1,
 * and a value only scores 5 if at least 80 % of customers are strictly worse.
 * out has n entries. HD_EINVAL when a value is not finite. Sorting is a radix sort, so
 * a million customers take tens of milliseconds. */
hd_rc hd_rfm_score_all(const hd_rfm_input *in, size_t n, hd_rfm_score *out, hd_err *err);

/* The segment map (rows R 5..1, columns FM 1..5):
 *   R=5  New          Potential    Potential    Champions    Champions
 *   R=4  Promising    Potential    Potential    Champions    Champions
 *   R=3  AboutToSleep NeedAttention NeedAttention Loyal      Loyal
 *   R=2  Hibernating  AboutToSleep AtRisk       AtRisk       Can'tLose
 *   R=1  Lost         Hibernating  AtRisk       Can'tLose    Can'tLose
 * Scores outside 1..5 are clamped. */
hd_rfm_segment hd_rfm_segment_of(int r, int fm);
/* Stable key ("champions", "cant_lose", ...), English and Chinese names; never NULL
 * ("" for an out-of-range value). */
const char *hd_rfm_segment_key(hd_rfm_segment s);
const char *hd_rfm_segment_en(hd_rfm_segment s);
const char *hd_rfm_segment_zh(hd_rfm_segment s);

/* The Pareto (concentration) curve: customers ranked by revenue, largest first. */
typedef struct hd_pareto_summary {
    size_t customers;
    double revenue;           /* total */
    double top20_share;       /* revenue share of the top 20 % of customers */
    double customer_share_80; /* smallest share of customers holding 80 % of revenue */
    double gini;              /* 0 = everyone spends the same, -> 1 = one customer spends all */
} hd_pareto_summary;

/* Fills curve[k] (k = 0..points-1) with the revenue share of the top (k+1)/points of
 * customers, and *sum. Fractions of a customer are interpolated linearly, so the curve
 * and top20_share do not jump with n. curve may be NULL when points == 0.
 * HD_EINVAL when n == 0, a revenue is negative or not finite, or the total is 0. */
hd_rc hd_pareto_curve(const double *revenue, size_t n, double *curve, size_t points,
                      hd_pareto_summary *sum, hd_err *err);

#endif
