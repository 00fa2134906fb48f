/* test_analytics.c - analytics over HTTP on a realistic small data set loaded through
 * POST /v1/events/batch: 200 customers with paid orders (lines in three categories)
 * and engagement events, plus 5 who appear during the ladder period.
 *
 * The numbers are known by construction (RFM levels, Pareto shares, ladder stages,
 * segment members) or computed in the test by analytics/ on the test's own copy of the
 * data (CLV parameters, association rules, cross-sell), which checks the loaders and
 * the plumbing end to end. Also: the ladder thresholds, segments with a bad expression
 * (422 with line and column), member pages and CSV export, the customer view, jobs with
 * progress to completion, refresh on demand, scopes and bad arguments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/basket.h"
#include "analytics/clv.h"
#include "analytics/ladder.h"
#include "analytics/rfm.h"
#include "api/harness.h"
#include "base/clock.h"

#define N      200 /* customers with orders */
#define NNEW   5   /* customers who appear during the ladder period */
#define DAY_MS 86400000LL

/* The brand's day of an instant: purchase days are cut at midnight +08:00,
 * the default calendar (times here are all after 1970). */
static int64_t bday(int64_t ms) { return (ms + 8 * 3600 * 1000LL) / DAY_MS; }
#define NOW "2026-03-01T12:00:00Z"

static ht_server S;
static int64_t now_ms;
static char ids[N + NNEW + 1][24];
static const int REC[5] = {200, 150, 100, 50, 10}; /* days since the last order, by R level */
static const char *const CITY[4] = {"杭州", "上海", "北京", ""};
static const char *const CAT[3] = {"咖啡", "牛奶", "面包"};

/* the test's own copy of the orders */
typedef struct order {
    int k;
    int64_t at_ms;
    int cats; /* bit i: CAT[i] */
} order;
static order orders[N * 5];
static int norders;

static uint32_t rng = 20260301u;
static uint32_t rnd(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static int lr(int k) { return k % 5; }            /* R level 0..4: score lr + 1 */
static int lf(int k) { return (k / 5) % 5; }      /* orders - 1: F and M score lf + 1 */
static int stage_a(int k) { return k % 6; }       /* ladder stage at the start of the period */
static int stage_b(int k) { return (k / 6) % 6; } /* and at its end */

static void iso(int64_t ms, char out[32]) { hd_time_format(ms, out); }

/* Posts a batch to *target; when got_ids is set, records each event's customer id. */
static ht_server *target = &S;
static char (*got_ids)[24];
static int *got_k;

static void post_batch(json_t *events) {
    json_t *body = json_pack("{s:O}", "events", events);
    char *text = json_dumps(body, JSON_COMPACT);
    ht_resp r = ht_post(target, "/v1/events/batch", text);
    if (r.status != 200 || ht_int(r.json, "failed") != 0)
        fail_msg("batch: %ld %s", r.status, r.body);
    json_t *res = json_object_get(r.json, "results");
    for (size_t i = 0; got_ids && i < json_array_size(res); i++) {
        int k = got_k[i];
        snprintf(got_ids[k], sizeof got_ids[k], "%s",
                 ht_str(json_array_get(res, i), "customer_id"));
    }
    ht_free(&r);
    free(text);
    json_decref(body);
    json_array_clear(events);
}

static void add_event(json_t *events, const char *type, int k, int64_t at, json_t *props,
                      const char *key) {
    char t[32];
    iso(at, t);
    json_t *e = json_pack("{s:s,s:s,s:s,s:s}", "type", type, "customer", ids[k], "occurred_at", t,
                          "key", key);
    if (props) json_object_set_new(e, "properties", props);
    json_array_append_new(events, e);
    if (json_array_size(events) >= 400) post_batch(events);
}

/* Events that put customer k at ladder stage s when they count. */
static void stage_events(json_t *ev, int k, int s, int64_t at, const char *tag) {
    static const char *const type[6] = {NULL,     "wechat.follow",   "enquiry",
                                        "review", "share.converted", "share"};
    if (s == 0) return;
    char key[64];
    snprintf(key, sizeof key, "l-%s-%d", tag, k);
    add_event(ev, type[s], k, at, s == 5 ? json_pack("{s:i}", "reach", 20000) : NULL, key);
}

static int setup(void **state) {
    (void)state;
    ht_start(&S, true);
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"now\":\"" NOW "\"}");
    ht_free(&r);
    assert_true(hd_time_parse(NOW, &now_ms));
    for (int k = 0; k < N + NNEW; k++) {
        char body[400];
        snprintf(body, sizeof body,
                 "{\"name\":\"客户%d\",\"city\":\"%s\",\"phone\":\"138%08d\",\"tags\":[%s],"
                 "\"attributes\":{\"age\":%d}}",
                 k, CITY[k % 4], 10000000 + k, k % 3 == 0 ? "\"vip\"" : "", 20 + k % 40);
        r = ht_post(&S, "/v1/customers", body);
        if (r.status != 201) fail_msg("customer %d: %ld %s", k, r.status, r.body);
        snprintf(ids[k], sizeof ids[k], "%s", ht_str(r.json, "id"));
        ht_free(&r);
    }
    json_t *ev = json_array();
    for (int k = 0; k < N; k++) {
        int64_t day = now_ms / DAY_MS - REC[lr(k)];
        for (int j = 0; j <= lf(k); j++) {
            order *o = &orders[norders++];
            o->k = k;
            o->at_ms = day * DAY_MS + 10 * 3600 * 1000LL;
            o->cats = 1 | ((k + j) % 2 == 0 ? 2 : 0) | ((k + j) % 4 == 0 ? 4 : 0);
            json_t *lines = json_array();
            int64_t rest = 10000;
            for (int c = 2; c >= 1; c--)
                if (o->cats & (1 << c)) {
                    char sku[8];
                    snprintf(sku, sizeof sku, "S%d", c);
                    json_array_append_new(lines, json_pack("{s:s,s:s,s:i,s:i}", "sku", sku,
                                                           "category", CAT[c], "qty", 1, "amount",
                                                           c == 1 ? 2000 : 1000));
                    rest -= c == 1 ? 2000 : 1000;
                }
            json_array_append_new(lines, json_pack("{s:s,s:s,s:i,s:I}", "sku", "S0", "category",
                                                   CAT[0], "qty", 1, "amount", (json_int_t)rest));
            char oid[32];
            snprintf(oid, sizeof oid, "o-%d-%d", k, j);
            add_event(ev, "order.paid", k, o->at_ms,
                      json_pack("{s:s,s:i,s:o}", "order_id", oid, "amount", 10000, "lines", lines),
                      oid);
            day -= 3 + (int64_t)(rnd() % 30);
        }
        char key[32];
        snprintf(key, sizeof key, "v-%d", k);
        add_event(ev, "page.view", k, now_ms - 90 * DAY_MS, NULL, key);
        int a = stage_a(k), b = stage_b(k);
        if (b >= a) { /* a before the period, b during it */
            stage_events(ev, k, a, now_ms - 60 * DAY_MS, "a");
            stage_events(ev, k, b, now_ms - 10 * DAY_MS, "b");
        } else { /* a only counts at the start (older than the window at the end) */
            stage_events(ev, k, a, now_ms - 380 * DAY_MS, "a");
            stage_events(ev, k, b, now_ms - 60 * DAY_MS, "b");
        }
    }
    for (int k = N; k < N + NNEW; k++) {
        char key[32];
        snprintf(key, sizeof key, "f-%d", k);
        add_event(ev, "follow", k, now_ms - 5 * DAY_MS, NULL, key);
    }
    if (json_array_size(ev)) post_batch(ev);
    json_decref(ev);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_stop(&S, false);
    return 0;
}

static int customer_of(const char *id) {
    for (int k = 0; k < N + NNEW + 1; k++)
        if (strcmp(ids[k], id) == 0) return k;
    return -1;
}

static json_t *get_ok(const char *path) {
    ht_resp r = ht_get(&S, path);
    if (r.status != 200) fail_msg("GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    ht_free(&r);
    return j;
}

static double num(const json_t *o, const char *k) {
    return json_number_value(json_object_get(o, k));
}

static void near(double got, double want, double rel, const char *what) {
    if (!(fabs(got - want) <= rel * fmax(1, fabs(want))))
        fail_msg("%s: got %.12g, want %.12g", what, got, want);
}

/* ---- RFM and Pareto: known by construction ---- */

static void test_rfm_and_pareto(void **state) {
    (void)state;
    json_t *j = get_ok("/v1/analytics/rfm");
    assert_int_equal(ht_int(j, "customers"), N);
    assert_int_equal(ht_int(j, "revenue"), 6000000);
    /* every (R level, F level) pair has 8 customers; F = M so FM = F */
    long want[HD_RFM_SEGMENTS] = {0};
    for (int k = 0; k < N; k++) want[hd_rfm_segment_of(lr(k) + 1, lf(k) + 1)]++;
    json_t *segs = json_object_get(j, "segments");
    assert_int_equal(json_array_size(segs), HD_RFM_SEGMENTS);
    for (int s = 0; s < HD_RFM_SEGMENTS; s++) {
        json_t *seg = json_array_get(segs, (size_t)s);
        assert_string_equal(ht_str(seg, "key"), hd_rfm_segment_key((hd_rfm_segment)s));
        assert_string_equal(ht_str(json_object_get(seg, "name"), "zh"),
                            hd_rfm_segment_zh((hd_rfm_segment)s));
        if (ht_int(seg, "customers") != want[s])
            fail_msg("segment %s: %lld, want %ld", ht_str(seg, "key"), ht_int(seg, "customers"),
                     want[s]);
    }
    json_t *grid = json_object_get(j, "grid");
    assert_int_equal(json_array_size(grid), 5);
    for (size_t row = 0; row < 5; row++) {
        json_t *g = json_array_get(grid, row);
        assert_int_equal(ht_int(g, "r"), 5 - (int)row);
        for (size_t c = 0; c < 5; c++) {
            json_t *cell = json_array_get(json_object_get(g, "cells"), c);
            assert_int_equal(ht_int(cell, "customers"), 8);
            assert_string_equal(ht_str(cell, "segment"),
                                hd_rfm_segment_key(hd_rfm_segment_of(5 - (int)row, (int)c + 1)));
        }
    }
    for (int s = 0; s < 5; s++)
        assert_int_equal(json_integer_value(json_array_get(
                             json_object_get(json_object_get(j, "score_counts"), "r"), (size_t)s)),
                         40);
    json_decref(j);

    /* revenue per customer is 10,000 fen x orders, 40 customers at each of 1..5 orders:
     * the top 20 % hold 2.0 of 6.0 million; 80 % is reached at 120 customers (60 %) */
    j = get_ok("/v1/analytics/pareto");
    assert_int_equal(ht_int(j, "customers"), N);
    assert_int_equal(ht_int(j, "revenue"), 6000000);
    near(num(j, "top20_share"), 1.0 / 3.0, 1e-9, "top20_share");
    near(num(j, "customer_share_80"), 0.6, 1e-9, "customer_share_80");
    json_t *curve = json_object_get(j, "curve");
    assert_int_equal(json_array_size(curve), 20);
    near(num(json_array_get(curve, 3), "revenue_share"), 1.0 / 3.0, 1e-9, "curve at 20 %");
    near(num(json_array_get(curve, 19), "revenue_share"), 1.0, 1e-12, "curve at 100 %");
    json_decref(j);
}

/* ---- CLV: the same fit on the test's own arrays ---- */

#define NC 300 /* customers of the CLV store */

/* The main data set is built for RFM, not for BG/NBD (every customer's frequency and
 * recency are fixed by design, so drop-out is not identified): the API must refuse CLV
 * exactly when analytics/ does. */
static hd_rc main_clv_fit(void) {
    int64_t cust[N * 5], day[N * 5];
    double amount[N * 5];
    for (int i = 0; i < norders; i++) {
        cust[i] = strtoll(ids[orders[i].k], NULL, 10);
        day[i] = bday(orders[i].at_ms);
        amount[i] = 10000;
    }
    hd_clv_summary *s = NULL;
    size_t n = 0;
    hd_err err;
    assert_int_equal(hd_clv_summarize(cust, day, amount, (size_t)norders, bday(now_ms), HD_CLV_WEEK,
                                      &s, &n, &err),
                     HD_OK);
    hd_clv_bgnbd bg;
    hd_rc rc = hd_clv_bgnbd_fit(s, n, &bg, &err);
    free(s);
    return rc;
}

static double u01(void) { return ((double)(rnd() % 1000000) + 0.5) / 1e6; }

static void test_clv_and_customer_view(void **state) {
    (void)state;
    hd_rc main_fit = main_clv_fit();
    ht_resp r = ht_get(&S, "/v1/analytics/clv");
    if (main_fit != HD_OK)
        ht_expect_problem(&r, 409, NULL);
    else
        assert_int_equal(r.status, 200);
    ht_free(&r);

    /* a second store with purchases from a buy-till-you-die process: each customer buys
     * at a Poisson rate and may drop out after each purchase; spend varies around a
     * personal mean */
    ht_server C;
    ht_start(&C, true);
    r = ht_post(&C, "/v1/test/clock", "{\"now\":\"" NOW "\"}");
    ht_free(&r);
    static int64_t cust[NC * 40], day[NC * 40];
    static double amount[NC * 40];
    static char cids[NC][24];
    static int ks[400];
    int n = 0;
    json_t *ev = json_array();
    target = &C;
    got_ids = cids;
    got_k = ks;
    for (int k = 0; k < NC; k++) {
        double lam = exp(log(0.02) + u01() * (log(1.0) - log(0.02))); /* per week */
        double p = 0.05 + 0.55 * u01(), m = 3000 + 20000 * u01();
        double t = -364 + u01() * 84; /* days before now: first purchase */
        while (t <= 0 && n < NC * 40) {
            int64_t at = now_ms + (int64_t)floor(t * DAY_MS);
            int64_t amt = (int64_t)floor(m * (0.5 + u01()));
            day[n] = bday(at);
            amount[n] = (double)amt;
            char oid[32], phone[20], when[32];
            snprintf(oid, sizeof oid, "c-%d", n);
            snprintf(phone, sizeof phone, "139%08d", k);
            iso(at, when);
            ks[json_array_size(ev)] = k;
            json_array_append_new(ev, json_pack("{s:s,s:{s:s},s:s,s:s,s:{s:s,s:I}}", "type",
                                                "order.paid", "customer", "phone", phone,
                                                "occurred_at", when, "key", oid, "properties",
                                                "order_id", oid, "amount", (json_int_t)amt));
            cust[n++] = k;
            if (json_array_size(ev) == 400) post_batch(ev);
            if (u01() < p) break;
            t += -log(u01()) / lam * 7;
        }
    }
    if (json_array_size(ev)) post_batch(ev);
    json_decref(ev);
    target = &S;
    got_ids = NULL;
    for (int i = 0; i < n; i++) cust[i] = strtoll(cids[cust[i]], NULL, 10);

    hd_clv_summary *s = NULL;
    size_t ns = 0;
    hd_err err;
    assert_int_equal(
        hd_clv_summarize(cust, day, amount, (size_t)n, bday(now_ms), HD_CLV_WEEK, &s, &ns, &err),
        HD_OK);
    hd_clv_bgnbd bg;
    hd_clv_gg gg;
    assert_int_equal(hd_clv_bgnbd_fit(s, ns, &bg, &err), HD_OK);
    assert_int_equal(hd_clv_gg_fit(s, ns, &gg, &err), HD_OK);
    r = ht_get(&C, "/v1/analytics/clv");
    if (r.status != 200) fail_msg("clv: %ld %s", r.status, r.body);
    json_t *j = r.json;
    assert_int_equal(ht_int(j, "customers"), NC);
    assert_string_equal(ht_str(j, "period"), "week");
    assert_string_equal(ht_str(j, "calibration_end"), "2026-03-01T12:00:00.000Z");
    json_t *b = json_object_get(j, "bgnbd"), *g = json_object_get(j, "gamma_gamma");
    near(num(b, "r"), bg.r, 1e-9, "r");
    near(num(b, "alpha"), bg.alpha, 1e-9, "alpha");
    near(num(b, "a"), bg.a, 1e-9, "a");
    near(num(b, "b"), bg.b, 1e-9, "b");
    near(num(b, "loglik"), bg.loglik, 1e-9, "loglik");
    near(num(g, "p"), gg.p, 1e-9, "p");
    near(num(g, "q"), gg.q, 1e-9, "q");
    near(num(g, "v"), gg.v, 1e-9, "v");
    /* scores as the API computes them: 52 weeks, 10 % a year, monthly steps */
    hd_clv_score *sc = malloc(ns * sizeof *sc);
    double disc = pow(1.1, 7 / 365.25) - 1;
    assert_int_equal(hd_clv_score_all(&bg, &gg, s, ns, 52, disc, 12, sc, &err), HD_OK);
    double best = 0, total = 0;
    for (size_t i = 0; i < ns; i++) {
        if (sc[i].expected_purchases > best) best = sc[i].expected_purchases;
        total += sc[i].clv;
    }
    near(num(json_array_get(json_object_get(j, "top_repurchasers"), 0), "expected_purchases"), best,
         1e-9, "top expected purchases");
    near(num(j, "clv_total"), round(total), 1e-9, "clv_total");
    json_t *risk = json_object_get(j, "at_risk");
    assert_true(json_array_size(risk) > 0);
    for (size_t i = 0; i < json_array_size(risk); i++) {
        assert_true(num(json_array_get(risk, i), "p_alive") < 0.5);
        assert_true(ht_int(json_array_get(risk, i), "repeat_purchases") > 0);
    }
    uint64_t hist = 0;
    json_t *pa = json_object_get(json_object_get(j, "distribution"), "p_alive");
    for (size_t i = 0; i < json_array_size(pa); i++)
        hist += ht_int(json_array_get(pa, i), "customers");
    assert_int_equal(hist, NC);
    ht_free(&r);
    /* each customer's view carries the same scores */
    for (size_t i = 0; i < ns; i += 37) {
        char p[64];
        snprintf(p, sizeof p, "/v1/customers/%lld", (long long)s[i].customer);
        r = ht_get(&C, p);
        assert_int_equal(r.status, 200);
        near(num(r.json, "p_alive"), sc[i].p_alive, 1e-9, "p_alive");
        near(num(r.json, "clv"), round(sc[i].clv), 1e-12, "clv");
        near(num(r.json, "expected_purchases"), sc[i].expected_purchases, 1e-9, "expected");
        ht_free(&r);
    }
    free(sc);
    free(s);
    ht_stop(&C, false);

    /* the main store's view: RFM from its run, the ladder stage now */
    for (int k = 5; k < 12; k++) {
        char p[64];
        snprintf(p, sizeof p, "/v1/customers/%s", ids[k]);
        json_t *c = get_ok(p);
        json_t *rfm = json_object_get(c, "rfm");
        assert_int_equal(ht_int(rfm, "r"), lr(k) + 1);
        assert_int_equal(ht_int(rfm, "f"), lf(k) + 1);
        assert_int_equal(ht_int(rfm, "m"), lf(k) + 1);
        assert_string_equal(ht_str(rfm, "segment"),
                            hd_rfm_segment_key(hd_rfm_segment_of(lr(k) + 1, lf(k) + 1)));
        if (main_fit != HD_OK) assert_true(json_is_null(json_object_get(c, "p_alive")));
        json_t *ld = json_object_get(c, "ladder");
        assert_string_equal(ht_str(ld, "stage"), hd_ladder_stage_key(stage_b(k)));
        assert_string_equal(ht_str(json_object_get(ld, "name"), "zh"),
                            hd_ladder_stage_zh(stage_b(k)));
        assert_string_equal(ht_str(c, "city"), CITY[k % 4]); /* the rest is still there */
        json_decref(c);
    }
    /* a customer without orders: no scores, a stage all the same */
    char p[64];
    snprintf(p, sizeof p, "/v1/customers/%s", ids[N]);
    json_t *c = get_ok(p);
    assert_true(json_is_null(json_object_get(c, "rfm")));
    assert_true(json_is_null(json_object_get(c, "clv")));
    assert_true(json_is_null(json_object_get(c, "p_alive")));
    assert_string_equal(ht_str(json_object_get(c, "ladder"), "stage"), "follower");
    json_decref(c);
}

/* ---- baskets and cross-sell: the same mining on the test's baskets ---- */

static void test_baskets_and_recommendations(void **state) {
    (void)state;
    uint32_t items[N * 15];
    size_t starts[N * 5 + 1], m = 0;
    for (int i = 0; i < norders; i++) {
        starts[i] = m;
        for (uint32_t c = 0; c < 3; c++)
            if (orders[i].cats & (1 << c)) items[m++] = c;
    }
    starts[norders] = m;
    hd_basket_data data = {items, starts, (size_t)norders, 3};
    hd_basket_params bp;
    hd_basket_params_init(&bp);
    bp.min_support = 0.05;
    bp.min_confidence = 0.5;
    bp.min_len = 2;
    hd_basket_rules *rules = NULL;
    hd_err err;
    assert_int_equal(hd_basket_rules_mine(&data, &bp, &rules, &err), HD_OK);
    assert_true(rules->n > 0);

    json_t *j = get_ok("/v1/analytics/baskets?min_support=0.05&min_confidence=0.5&limit=1000");
    assert_int_equal(ht_int(j, "baskets"), norders);
    assert_int_equal(ht_int(j, "items"), 3);
    assert_int_equal(ht_int(j, "rules_total"), (long long)rules->n);
    json_t *got = json_object_get(j, "rules");
    assert_int_equal(json_array_size(got), rules->n);
    /* item ids differ (the server numbers items as it meets them): match by names */
    for (size_t i = 0; i < rules->n; i++) {
        const hd_basket_rule *ru = &rules->rule[i];
        json_t *g = NULL;
        for (size_t x = 0; x < json_array_size(got) && !g; x++) {
            json_t *c = json_array_get(got, x), *lhs = json_object_get(c, "lhs");
            if (strcmp(ht_str(c, "rhs"), CAT[ru->rhs]) || json_array_size(lhs) != ru->lhs_len)
                continue;
            bool all = true;
            for (uint32_t k = 0; k < ru->lhs_len && all; k++) {
                bool found = false;
                for (size_t y = 0; y < json_array_size(lhs); y++)
                    found |=
                        strcmp(json_string_value(json_array_get(lhs, y)), CAT[ru->lhs[k]]) == 0;
                all = found;
            }
            if (all) g = c;
        }
        if (!g) fail_msg("rule %zu (=> %s) is missing", i, CAT[ru->rhs]);
        assert_int_equal(ht_int(g, "count"), ru->count);
        near(num(g, "support"), ru->support, 1e-12, "support");
        near(num(g, "confidence"), ru->confidence, 1e-12, "confidence");
        near(num(g, "lift"), ru->lift, 1e-12, "lift");
    }
    for (size_t x = 1; x < json_array_size(got); x++) /* by lift, highest first */
        assert_true(num(json_array_get(got, x), "lift") <= num(json_array_get(got, x - 1), "lift"));
    json_decref(j);
    /* limit cuts the list, not the total */
    j = get_ok("/v1/analytics/baskets?min_support=0.05&min_confidence=0.5&limit=1");
    assert_int_equal(json_array_size(json_object_get(j, "rules")), 1);
    assert_int_equal(ht_int(j, "rules_total"), (long long)rules->n);
    json_decref(j);

    /* cross-sell for customers who bought only coffee, and one who bought everything */
    for (int k = 0; k < 12; k++) {
        uint32_t owned[3];
        size_t no = 0;
        int have = 0;
        for (int i = 0; i < norders; i++)
            if (orders[i].k == k) have |= orders[i].cats;
        for (uint32_t c = 0; c < 3; c++)
            if (have & (1 << c)) owned[no++] = c;
        hd_basket_suggestion sug[3];
        size_t ns = 0;
        assert_int_equal(
            hd_basket_cross_sell(rules, owned, no, HD_BASKET_RANK_CONFIDENCE, sug, 3, &ns, &err),
            HD_OK);
        char p[160];
        snprintf(p, sizeof p,
                 "/v1/customers/%s/recommendations?min_support=0.05&min_confidence=0.5&limit=3",
                 ids[k]);
        json_t *rj = get_ok(p);
        json_t *recs = json_object_get(rj, "recommendations");
        assert_int_equal(json_array_size(recs), ns);
        assert_int_equal(json_array_size(json_object_get(rj, "bought")), no);
        for (size_t i = 0; i < ns; i++) {
            json_t *rec = json_array_get(recs, i);
            assert_string_equal(ht_str(rec, "item"), CAT[sug[i].item]);
            near(num(rec, "confidence"), sug[i].confidence, 1e-12, "rec confidence");
            assert_true(json_array_size(json_object_get(rec, "because")) >= 1);
        }
        json_decref(rj);
    }
    hd_basket_rules_free(rules);

    ht_resp r = ht_get(&S, "/v1/analytics/baskets?min_support=0");
    ht_expect_problem(&r, 422, "min_support");
    ht_free(&r);
    r = ht_get(&S, "/v1/analytics/baskets?item=brand");
    ht_expect_problem(&r, 422, "item");
    ht_free(&r);
    r = ht_get(&S, "/v1/customers/123/recommendations");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
}

/* ---- the ladder ---- */

static void test_ladder(void **state) {
    (void)state;
    json_t *j = get_ok("/v1/analytics/ladder");
    assert_int_equal(ht_int(j, "customers"), N + NNEW);
    json_t *mx = json_object_get(json_object_get(j, "moves"), "matrix");
    long want[6][6] = {{0}}, up = 0, down = 0, same = 0, end[6] = {0};
    for (int k = 0; k < N; k++) {
        want[stage_a(k)][stage_b(k)]++;
        end[stage_b(k)]++;
        up += stage_b(k) > stage_a(k);
        down += stage_b(k) < stage_a(k);
        same += stage_b(k) == stage_a(k);
    }
    end[HD_LADDER_FOLLOWER] += NNEW;
    for (int a = 0; a < 6; a++)
        for (int b = 0; b < 6; b++) {
            long got =
                (long)json_integer_value(json_array_get(json_array_get(mx, (size_t)a), (size_t)b));
            if (got != want[a][b])
                fail_msg("matrix[%d][%d] = %ld, want %ld", a, b, got, want[a][b]);
        }
    json_t *mv = json_object_get(j, "moves");
    assert_int_equal(ht_int(mv, "up"), up);
    assert_int_equal(ht_int(mv, "down"), down);
    assert_int_equal(ht_int(mv, "same"), same);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(mv, "entered"), 1)), NNEW);
    json_t *stages = json_object_get(j, "stages");
    for (int s = 0; s < 6; s++) {
        json_t *st = json_array_get(stages, (size_t)s);
        assert_string_equal(ht_str(st, "key"), hd_ladder_stage_key(s));
        assert_int_equal(ht_int(st, "customers"), end[s]);
    }
    assert_string_equal(ht_str(json_object_get(json_array_get(stages, 5), "name"), "zh"),
                        "关键人物");
    json_decref(j);

    /* a brand with a wider audience: a reach of 20,000 no longer makes a key person */
    ht_resp r =
        ht_req(&S, "PUT", "/v1/analytics/ladder/thresholds", "{\"key_reach\":50000}", NULL, NULL);
    assert_int_equal(r.status, 200);
    near(num(r.json, "key_reach"), 50000, 0, "key_reach");
    assert_int_equal(ht_int(r.json, "follower_follows"), 1);
    ht_free(&r);
    j = get_ok("/v1/analytics/ladder");
    stages = json_object_get(j, "stages");
    /* the reach-20,000 share still counts as taking part; a spreader stays one */
    long end2[6] = {0};
    for (int k = 0; k < N; k++) end2[stage_b(k) < 5 ? stage_b(k) : stage_a(k) == 4 ? 4 : 3]++;
    end2[HD_LADDER_FOLLOWER] += NNEW;
    for (int s = 0; s < 6; s++)
        assert_int_equal(ht_int(json_array_get(stages, (size_t)s), "customers"), end2[s]);
    json_decref(j);
    r = ht_req(&S, "PUT", "/v1/analytics/ladder/thresholds", "{\"key_reach\":-1}", NULL, NULL);
    ht_expect_problem(&r, 422, "key_reach");
    ht_free(&r);
    r = ht_req(&S, "PUT", "/v1/analytics/ladder/thresholds", "{\"likes\":3}", NULL, NULL);
    ht_expect_problem(&r, 422, NULL);
    ht_free(&r);
    r = ht_req(&S, "PUT", "/v1/analytics/ladder/thresholds", "{\"key_reach\":10000}", NULL, NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    j = get_ok("/v1/analytics/ladder/thresholds");
    near(num(j, "key_reach"), 10000, 0, "key_reach");
    json_decref(j);

    /* an explicit period: before any ladder event nobody has climbed */
    char p[160], f[32], t[32];
    iso(now_ms - 500 * DAY_MS, f);
    iso(now_ms - 400 * DAY_MS, t);
    snprintf(p, sizeof p, "/v1/analytics/ladder?from=%s&to=%s", f, t);
    j = get_ok(p);
    assert_int_equal(ht_int(j, "customers"), 0); /* nobody was known yet */
    json_decref(j);
    r = ht_get(&S, "/v1/analytics/ladder?from=2026-02-01&to=2026-01-01");
    ht_expect_problem(&r, 422, "from");
    ht_free(&r);
    r = ht_get(&S, "/v1/analytics/ladder?to=yesterday");
    ht_expect_problem(&r, 422, "to");
    ht_free(&r);
}

/* ---- segments ---- */

static const char *const SEGMENT =
    "customer.city in [\"杭州\", \"上海\"] and count(order.paid, 90d) >= 2 and\n"
    "rfm.segment in [\"champions\", \"loyal\", \"potential_loyalist\", \"need_attention\"] and\n"
    "ladder.level >= 2 and \"vip\" in customer.tags";

static bool expected_member(int k) {
    if (k >= N || k % 4 > 1 || k % 3 != 0 || stage_b(k) < 2) return false;
    int paid = 0;
    for (int i = 0; i < norders; i++)
        if (orders[i].k == k && orders[i].at_ms > now_ms - 90 * DAY_MS) paid++;
    if (paid < 2) return false;
    hd_rfm_segment s = hd_rfm_segment_of(lr(k) + 1, lf(k) + 1);
    return s == HD_RFM_CHAMPIONS || s == HD_RFM_LOYAL || s == HD_RFM_POTENTIAL_LOYALIST ||
           s == HD_RFM_NEED_ATTENTION;
}

static void test_segments(void **state) {
    (void)state;
    /* a bad condition: 422 naming where */
    ht_resp r = ht_post(&S, "/v1/segments",
                        "{\"name\":\"坏的\",\"expression\":\"customer.city == \\\"杭州\\\" and\\n  "
                        "customer.shoe_size > 40\"}");
    ht_expect_problem(&r, 422, "expression");
    assert_int_equal(ht_int(r.json, "line"), 2);
    assert_int_equal(ht_int(r.json, "column"), 3);
    ht_free(&r);
    r = ht_post(&S, "/v1/segments",
                "{\"name\":\"x\",\"expression\":\"count(order.paid, 90d) >=\"}");
    ht_expect_problem(&r, 422, "expression");
    assert_int_equal(ht_int(r.json, "line"), 1);
    assert_int_equal(ht_int(r.json, "column"), 26); /* the end */
    ht_free(&r);
    r = ht_post(&S, "/v1/segments", "{\"expression\":\"customer.orders > 1\"}");
    ht_expect_problem(&r, 422, "name");
    ht_free(&r);
    r = ht_get(&S, "/v1/segments");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0); /* nothing was saved */
    ht_free(&r);

    long want = 0;
    for (int k = 0; k < N + NNEW; k++) want += expected_member(k);
    assert_true(want >= 3);
    json_t *body = json_pack("{s:s,s:s,s:s}", "name", "杭州上海的活跃贵宾", "expression", SEGMENT,
                             "description", "five conditions");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    r = ht_post_idem(&S, "/v1/segments", text, "seg-1");
    if (r.status != 201) fail_msg("segment: %ld %s", r.status, r.body);
    assert_int_equal(ht_int(r.json, "member_count"), want);
    assert_int_equal(ht_int(r.json, "customers"), N + NNEW);
    assert_int_equal(json_array_size(json_object_get(r.json, "fields")), 5);
    char id[24];
    snprintf(id, sizeof id, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_post_idem(&S, "/v1/segments", text, "seg-1"); /* replayed, not saved twice */
    assert_int_equal(r.status, 201);
    assert_true(r.replayed);
    assert_string_equal(ht_str(r.json, "id"), id);
    ht_free(&r);
    free(text);

    char p[160];
    snprintf(p, sizeof p, "/v1/segments/%s", id);
    json_t *j = get_ok(p);
    assert_int_equal(ht_int(j, "member_count"), want);
    assert_string_equal(ht_str(j, "name"), "杭州上海的活跃贵宾");
    json_decref(j);

    /* pages of 3 in id order cover exactly the expected customers */
    char cursor[32] = "";
    long seen = 0;
    for (int page = 0; page < 100; page++) {
        snprintf(p, sizeof p, "/v1/segments/%s/members?limit=3%s%s", id, *cursor ? "&cursor=" : "",
                 cursor);
        j = get_ok(p);
        assert_int_equal(ht_int(j, "member_count"), want);
        json_t *data = json_object_get(j, "data");
        for (size_t i = 0; i < json_array_size(data); i++) {
            json_t *m = json_array_get(data, i);
            int k = customer_of(ht_str(m, "id"));
            if (k < 0 || !expected_member(k))
                fail_msg("member %s is not expected", ht_str(m, "id"));
            assert_string_equal(ht_str(m, "city"), CITY[k % 4]);
            json_t *v = json_object_get(m, "values");
            assert_int_equal(json_integer_value(json_object_get(v, "ladder.level")), stage_b(k));
            seen++;
        }
        json_t *next = json_object_get(j, "next_cursor");
        bool more = json_is_string(next);
        if (more) snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(j);
        if (!more) break;
    }
    assert_int_equal(seen, want);

    /* CSV: a header and one line per member */
    snprintf(p, sizeof p, "/v1/segments/%s/members?format=csv", id);
    r = ht_get(&S, p);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.content_type, "text/csv"));
    assert_true(
        strncmp(r.body, "customer_id,name,city,customer.city,\"count(order.paid,90d)\"", 58) == 0);
    long lines = 0;
    for (const char *c = r.body; *c; c++) lines += *c == '\n';
    assert_int_equal(lines, want + 1);
    assert_non_null(strstr(r.body, "客户"));
    ht_free(&r);
    snprintf(p, sizeof p, "/v1/segments/%s/members?format=xml", id);
    r = ht_get(&S, p);
    ht_expect_problem(&r, 400, "format");
    ht_free(&r);

    j = get_ok("/v1/segments");
    assert_int_equal(json_array_size(json_object_get(j, "data")), 1);
    assert_int_equal(ht_int(json_array_get(json_object_get(j, "data"), 0), "member_count"), want);
    json_decref(j);
    r = ht_get(&S, "/v1/segments/42");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);

    /* a type mismatch for some customers is reported, not fatal */
    r = ht_post(&S, "/v1/segments",
                "{\"name\":\"年龄\",\"expression\":\"customer.attributes.age >= 50 and "
                "sum(amount, 365d) >= 30000\"}");
    assert_int_equal(r.status, 201);
    long want2 = 0;
    for (int k = 0; k < N; k++) {
        long sum = 0;
        for (int i = 0; i < norders; i++)
            if (orders[i].k == k && orders[i].at_ms > now_ms - 365 * DAY_MS) sum += 10000;
        want2 += 20 + k % 40 >= 50 && sum >= 30000;
    }
    assert_int_equal(ht_int(r.json, "member_count"), want2);
    ht_free(&r);

    /* avg, min and max of order amounts (folded in C on SQLite, grouped by PostgreSQL) */
    r = ht_post(&S, "/v1/segments",
                "{\"name\":\"近30天下单\",\"expression\":\"avg(amount, 365d) == 10000 and "
                "min(amount, 3650d) == 10000 and max(amount, 30d) >= 10000 and not (max(amount, "
                "1d) > 0)\"}");
    assert_int_equal(r.status, 201);
    long want3 = 0;
    for (int k = 0; k < N; k++) {
        bool recent = false;
        for (int i = 0; i < norders; i++)
            recent |= orders[i].k == k && orders[i].at_ms > now_ms - 30 * DAY_MS;
        want3 += recent;
    }
    assert_int_equal(want3, N / 5);
    assert_int_equal(ht_int(r.json, "member_count"), want3);
    ht_free(&r);
}

/* ---- jobs and refresh ---- */

static json_t *wait_job(const char *id) {
    char p[64];
    snprintf(p, sizeof p, "/v1/jobs/%s", id);
    for (int i = 0; i < 1000; i++) {
        json_t *j = get_ok(p);
        double pr = num(j, "progress");
        assert_true(pr >= 0 && pr <= 1);
        const char *st = ht_str(j, "status");
        if (strcmp(st, "done") == 0 || strcmp(st, "failed") == 0) return j;
        json_decref(j);
        struct timespec ts = {0, 20 * 1000 * 1000}; /* a real thread is working */
        nanosleep(&ts, NULL);
    }
    fail_msg("job %s did not finish", id);
    return NULL;
}

static void test_jobs_and_refresh(void **state) {
    (void)state;
    json_t *j = get_ok("/v1/analytics/rfm"); /* cached from the first test */
    char first[32];
    snprintf(first, sizeof first, "%s", ht_str(j, "computed_at"));
    json_decref(j);

    /* every kind runs as a job; a CLV horizon, a ladder period, basket arguments */
    const char *const paths[] = {"/v1/analytics/pareto/refresh",
                                 "/v1/analytics/clv/refresh?horizon=26",
                                 "/v1/analytics/baskets/refresh?item=sku&min_support=0.1",
                                 "/v1/analytics/ladder/refresh?from=2026-01-01&to=2026-02-01"};
    const char *const results[] = {"/v1/analytics/pareto", "/v1/analytics/clv?horizon=26",
                                   "/v1/analytics/baskets?item=sku", "/v1/analytics/ladder?from="};
    for (size_t i = 0; i < 4; i++) {
        ht_resp rr = ht_post(&S, paths[i], NULL);
        if (rr.status != 202) fail_msg("%s: %ld %s", paths[i], rr.status, rr.body);
        char jid[32];
        snprintf(jid, sizeof jid, "%s", ht_str(rr.json, "id"));
        ht_free(&rr);
        json_t *job = wait_job(jid);
        if (i == 1 && main_clv_fit() != HD_OK) { /* a job that fails says why */
            assert_string_equal(ht_str(job, "status"), "failed");
            assert_non_null(strstr(ht_str(job, "error"), "not enough data for CLV"));
            ht_resp fr = ht_get(&S, ht_str(job, "result_url"));
            ht_expect_problem(&fr, 409, NULL);
            ht_free(&fr);
            json_decref(job);
            continue;
        }
        if (strcmp(ht_str(job, "status"), "done") != 0)
            fail_msg("%s: %s", paths[i], ht_str(job, "error"));
        const char *url = ht_str(job, "result_url");
        if (strncmp(url, results[i], strlen(results[i])) != 0)
            fail_msg("%s: result_url %s", paths[i], url);
        json_t *res = get_ok(url); /* served from the cache the job filled */
        assert_true(*ht_str(res, "computed_at"));
        assert_true(strcmp(ht_str(res, "computed_at"), ht_str(job, "finished_at")) <= 0);
        json_decref(res);
        json_decref(job);
    }

    /* one more customer buys; the cached answer does not know yet */
    int k = N + NNEW;
    ht_resp r = ht_post(&S, "/v1/customers", "{\"name\":\"新客\",\"phone\":\"13900000001\"}");
    assert_int_equal(r.status, 201);
    snprintf(ids[k], sizeof ids[k], "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":3600}");
    ht_free(&r);
    char ev[300];
    snprintf(ev, sizeof ev,
             "{\"type\":\"order.paid\",\"customer\":\"%s\",\"properties\":{\"order_id\":\"new-1\","
             "\"amount\":50000}}",
             ids[k]);
    r = ht_post(&S, "/v1/events", ev);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    j = get_ok("/v1/analytics/rfm");
    assert_int_equal(ht_int(j, "customers"), N);
    assert_string_equal(ht_str(j, "computed_at"), first);
    json_decref(j);

    r = ht_post(&S, "/v1/analytics/rfm/refresh", NULL);
    if (r.status != 202) fail_msg("refresh: %ld %s", r.status, r.body);
    char id[32];
    snprintf(id, sizeof id, "%s", ht_str(r.json, "id"));
    assert_true(strstr(r.location, id) != NULL);
    assert_string_equal(ht_str(r.json, "result_url"), "/v1/analytics/rfm");
    ht_free(&r);
    j = wait_job(id);
    assert_string_equal(ht_str(j, "status"), "done");
    assert_true(num(j, "progress") == 1.0);
    assert_true(json_is_string(json_object_get(j, "finished_at")));
    json_decref(j);
    j = get_ok("/v1/analytics/rfm");
    assert_int_equal(ht_int(j, "customers"), N + 1);
    assert_string_not_equal(ht_str(j, "computed_at"), first);
    json_decref(j);

    r = ht_post(&S, "/v1/analytics/horoscope/refresh", NULL);
    ht_expect_problem(&r, 404, "kind");
    ht_free(&r);
    r = ht_get(&S, "/v1/jobs/12345");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);

    /* scopes: reading analytics needs analytics:read */
    char key[128];
    const char *const scopes[] = {"customers:read", NULL};
    ht_key(&S, scopes, key, sizeof key);
    r = ht_req(&S, "GET", "/v1/analytics/rfm", NULL, key, NULL);
    ht_expect_problem(&r, 403, "Authorization");
    ht_free(&r);
    r = ht_req(&S, "GET", "/v1/segments", NULL, key, NULL);
    ht_expect_problem(&r, 403, "Authorization");
    ht_free(&r);

    /* a day later everything cached is stale: the scheduled job queues refreshes, and a
     * GET answers with a fresh result either way */
    r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":90000}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    j = get_ok("/v1/analytics/pareto");
    char t[32];
    hd_time_format(now_ms + 3600 * 1000LL + 90000 * 1000LL, t);
    assert_string_equal(ht_str(j, "computed_at"), t);
    json_decref(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfm_and_pareto),
        cmocka_unit_test(test_clv_and_customer_view),
        cmocka_unit_test(test_baskets_and_recommendations),
        cmocka_unit_test(test_ladder),
        cmocka_unit_test(test_segments),
        cmocka_unit_test(test_jobs_and_refresh),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
