/* analytics_api.h - the analytics of DESIGN §4.10 on the live store: loaders that read
 * orders, order lines and events into the arrays analytics/ works on, results cached in
 * analytics_cache, long computations run as jobs with progress, and per-customer scores.
 *
 * Kinds and their parameters (query arguments; the canonical form is the cache key):
 *   rfm       -                        segment counts, the R x FM grid, score spread
 *   pareto    -                        revenue concentration curve, top-20 % share
 *   clv       horizon (weeks, 52), discount (annual, 0.1)
 *             BG/NBD + Gamma-Gamma with calibration end = now, in weeks
 *   baskets   item (category|sku), min_support (0.01), min_confidence (0.5)
 *             association rules over paid, unrefunded orders
 *   ladder    from, to (default: the 30 days up to now)
 *             stage distribution and the moves between stages
 *
 * A GET answers from the cache when the result is younger than HD_ANALYTICS_FRESH_MS;
 * otherwise it computes inline when the base has fewer than HD_ANALYTICS_INLINE_MAX
 * customers, or queues a job and answers 202 with it. Jobs run on one worker thread per
 * process (started when first needed), are claimed from analytics_jobs with a
 * conditional update (so two nodes never run the same one) and report progress there.
 * A scheduled job (once a minute) requeues results with the default arguments that are
 * older than HD_ANALYTICS_FRESH_MS and drops results with other arguments after a week;
 * with nothing cached it costs three small reads a minute.
 *
 * RFM and CLV runs with the default parameters also store each customer's scores
 * (customer_scores), which GET /v1/customers/{id} and segments read. */
#ifndef HD_ANALYTICS_API_H
#define HD_ANALYTICS_API_H

#include "analytics/ladder.h"
#include "domain/domain.h"

#define HD_ANALYTICS_FRESH_MS     (24LL * 3600 * 1000)
#define HD_ANALYTICS_INLINE_MAX   50000 /* customers computed inside a request */
#define HD_ANALYTICS_LIST_MAX     20    /* customers in each CLV list */
#define HD_ANALYTICS_RULES_KEPT   1000  /* rules stored per baskets result */
#define HD_ANALYTICS_RULES_MAX    1000000
#define HD_ANALYTICS_RECS_MAX     100
#define HD_ANALYTICS_STALE_JOB_MS (15LL * 60 * 1000) /* a running job silent this long died */

/* Query arguments as the client sent them (NULL when absent); validated here. */
typedef struct hd_analytics_query {
    const char *item, *min_support, *min_confidence; /* baskets, recommendations */
    const char *from, *to;                           /* ladder */
    const char *horizon, *discount;                  /* clv */
    int limit;                                       /* rules returned; 0 = 100 */
} hd_analytics_query;

/* Registers the scheduled refresh and the merge hook; state lives until
 * hd_analytics_close, which stops the worker (a job it was running goes back to the
 * queue). Called from modules.c. */
hd_rc hd_analytics_init(hd_domain *d, hd_err *err);
void hd_analytics_close(hd_domain *d);

/* GET /v1/analytics/{kind}: *status 200 with the result, or 202 with a job. HD_ENOTFOUND
 * for an unknown kind, HD_EINVAL naming a bad argument, HD_ESTATE when the data cannot
 * support the model (CLV with nobody buying twice). */
hd_rc hd_analytics_get(hd_domain *d, const char *kind, const hd_analytics_query *q, int *status,
                       json_t **out, hd_err *err);

/* POST /v1/analytics/{kind}/refresh: queues a computation (or returns the one already
 * queued or running for the same kind and arguments) and starts the worker. */
hd_rc hd_analytics_refresh(hd_domain *d, const char *kind, const hd_analytics_query *q,
                           json_t **out, hd_err *err);

/* GET /v1/jobs/{id}: {id, kind, params, status (queued|running|done|failed), progress
 * 0..1, result_url, error, created_at, started_at, finished_at}. */
hd_rc hd_analytics_job_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);

/* GET /v1/customers/{id}/recommendations: cross-sell from the basket rules (with q's
 * baskets arguments) and what the customer bought; 202 with a job when the rules have
 * to be mined first on a large base. */
hd_rc hd_analytics_recommendations(hd_domain *d, int64_t customer_id, const hd_analytics_query *q,
                                   int limit, int *status, json_t **out, hd_err *err);

/* What analytics knows about one customer, to merge into GET /v1/customers/{id}:
 * {"rfm": {r, f, m, segment, name, computed_at} | null, "clv": fen | null,
 *  "p_alive": 0..1 | null, "expected_purchases": n | null, "clv_computed_at": … | null,
 *  "ladder": {stage, level, name}}. RFM and CLV come from the last runs (null before
 * the first); the ladder stage is computed now from the customer's events. */
hd_rc hd_analytics_customer(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);

/* GET / PUT /v1/analytics/ladder/thresholds: the brand's thresholds (hd_ladder_thresholds
 * members as JSON). PUT takes any subset, validates and stores them, and drops cached
 * ladder results. */
hd_rc hd_analytics_ladder_thresholds_get(hd_domain *d, json_t **out, hd_err *err);
hd_rc hd_analytics_ladder_thresholds_put(hd_domain *d, const json_t *in, json_t **out, hd_err *err);

/* ---- loaders shared with segments.c (inside a read callback) ---- */

/* The brand's thresholds (the defaults when none are stored). */
hd_rc hd_analytics_ladder_thresholds_in(hd_conn *c, hd_ladder_thresholds *t, hd_err *err);

/* Ladder stage at at_ms of each customer in ids (ascending) into stage[0 .. n): two
 * grouped queries over the window, not one per customer. */
hd_rc hd_analytics_ladder_stages_in(hd_conn *c, const int64_t *ids, size_t n, int64_t at_ms,
                                    const hd_ladder_thresholds *t, uint8_t *stage, hd_err *err);

/* Index of id in the ascending array ids[0 .. n), or -1. */
int64_t hd_analytics_index_of(const int64_t *ids, size_t n, int64_t id);

#endif
