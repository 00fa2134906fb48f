/* bench/analytics_segment.c - evaluating a 5-condition segment over 1,000,000
 * customers held in memory as columns (the target: < 1 s).
 *
 * The customers are generated from a fixed seed: a city, an RFM segment, the paid
 * orders of the last 90 days, P(alive) and tags. The segment is compiled once and
 * evaluated by hd_segment_eval; the baseline is the same condition hand-written in C
 * over the same columns, measured in the same run, and both must pick the same
 * customers. Loading from the store is not timed here (it is one query per column).
 *
 *   make -s build/rel/bench/analytics_segment && build/rel/bench/analytics_segment [N] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/rfm.h"
#include "analytics/segment.h"
#include "base/clock.h"

#define CITIES 20
#define TAGS   4

static const char *const CITY[CITIES] = {"杭州", "上海", "北京", "广州", "深圳", "成都", "武汉",
                                         "南京", "西安", "苏州", "天津", "重庆", "长沙", "郑州",
                                         "青岛", "沈阳", "宁波", "厦门", "昆明", "大连"};
static const char *const TAG[TAGS] = {"vip", "new", "wechat", "store"};

static const char *const SEGMENT =
    "customer.city in [\"杭州\", \"上海\"] and rfm.segment in [\"champions\", \"loyal\", "
    "\"potential_loyalist\"] and count(order.paid, 90d) >= 2 and p_alive > 0.5 and \"vip\" in "
    "customer.tags";

static uint64_t rng_state = 20260101u;
static uint32_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    int runs = argc > 2 ? (int)strtol(argv[2], NULL, 10) : 5;
    if (n == 0 || runs < 1) {
        fprintf(stderr, "usage: analytics_segment [customers] [runs]\n");
        return 2;
    }
    /* columns */
    uint32_t *city = malloc(n * sizeof *city), *seg = malloc(n * sizeof *seg);
    int64_t *paid = malloc(n * sizeof *paid);
    double *alive = malloc(n * sizeof *alive);
    hd_expr_val *tags = malloc(n * sizeof *tags);
    hd_expr_val tagpool[1 << TAGS][TAGS]; /* every subset of the tags, as a list */
    hd_expr_val city_dict[CITIES], seg_dict[HD_RFM_SEGMENTS];
    uint8_t *member = malloc(n), *want = malloc(n);
    if (!city || !seg || !paid || !alive || !tags || !member || !want) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < CITIES; i++) city_dict[i] = hd_expr_str(CITY[i], strlen(CITY[i]));
    for (int i = 0; i < HD_RFM_SEGMENTS; i++) {
        const char *k = hd_rfm_segment_key((hd_rfm_segment)i);
        seg_dict[i] = hd_expr_str(k, strlen(k));
    }
    size_t tagn[1 << TAGS];
    for (int m = 0; m < (1 << TAGS); m++) {
        tagn[m] = 0;
        for (int t = 0; t < TAGS; t++)
            if (m & (1 << t)) tagpool[m][tagn[m]++] = hd_expr_str(TAG[t], strlen(TAG[t]));
    }
    int *tagmask = malloc(n * sizeof *tagmask);
    if (!tagmask) return 1;
    for (size_t i = 0; i < n; i++) {
        city[i] = rnd() % 4 == 0 ? HD_SEGMENT_NULL_CODE : rnd() % CITIES;
        seg[i] = rnd() % 5 == 0 ? HD_SEGMENT_NULL_CODE : rnd() % HD_RFM_SEGMENTS;
        paid[i] = rnd() % 6;
        alive[i] = (double)(rnd() % 1000) / 1000.0;
        tagmask[i] = (int)(rnd() % (1 << TAGS));
        tags[i] = hd_expr_array(tagpool[tagmask[i]], tagn[tagmask[i]]);
    }

    hd_err err;
    hd_segment *s = NULL;
    if (hd_segment_compile(SEGMENT, strlen(SEGMENT), &s, &err)) {
        fprintf(stderr, "compile: %s\n", err.msg);
        return 1;
    }
    hd_segment_col cols[8];
    int nf = hd_segment_nfields(s);
    for (int k = 0; k < nf; k++) {
        const hd_segment_field *f = hd_segment_field_at(s, k);
        hd_segment_col *c = &cols[k];
        memset(c, 0, sizeof *c);
        switch (f->source) {
        case HD_SEG_CITY:
            *c = (hd_segment_col){
                .kind = HD_SEG_COL_DICT, .code = city, .dict = city_dict, .ndict = CITIES};
            break;
        case HD_SEG_RFM_SEGMENT:
            *c = (hd_segment_col){
                .kind = HD_SEG_COL_DICT, .code = seg, .dict = seg_dict, .ndict = HD_RFM_SEGMENTS};
            break;
        case HD_SEG_COUNT: *c = (hd_segment_col){.kind = HD_SEG_COL_INT, .i = paid}; break;
        case HD_SEG_P_ALIVE: *c = (hd_segment_col){.kind = HD_SEG_COL_REAL, .d = alive}; break;
        case HD_SEG_TAGS: *c = (hd_segment_col){.kind = HD_SEG_COL_VAL, .v = tags}; break;
        default: fprintf(stderr, "unexpected field %s\n", f->name); return 1;
        }
    }

    /* the baseline: the same condition in C */
    double best_c = 1e30, best_h = 1e30;
    size_t count_c = 0, count_h = 0;
    for (int r = 0; r < runs; r++) {
        int64_t t0 = hd_mono_ns();
        size_t cnt = 0;
        for (size_t i = 0; i < n; i++) {
            bool ok = (city[i] == 0 || city[i] == 1) &&
                      (seg[i] == HD_RFM_CHAMPIONS || seg[i] == HD_RFM_LOYAL ||
                       seg[i] == HD_RFM_POTENTIAL_LOYALIST) &&
                      paid[i] >= 2 && alive[i] > 0.5 && (tagmask[i] & 1);
            want[i] = ok;
            cnt += ok;
        }
        double sec = (double)(hd_mono_ns() - t0) / 1e9;
        if (sec < best_c) best_c = sec;
        count_c = cnt;

        t0 = hd_mono_ns();
        hd_segment_stats st;
        if (hd_segment_eval(s, cols, n, member, &st, &err)) {
            fprintf(stderr, "eval: %s\n", err.msg);
            return 1;
        }
        sec = (double)(hd_mono_ns() - t0) / 1e9;
        if (sec < best_h) best_h = sec;
        count_h = st.members;
        if (st.errors) {
            fprintf(stderr, "eval: %zu rows failed: %s\n", st.errors, st.first_error.msg);
            return 1;
        }
    }
    size_t differ = 0;
    for (size_t i = 0; i < n; i++) differ += member[i] != want[i];
    printf("segment of 5 conditions over %zu customers (best of %d)\n", n, runs);
    printf("  %s\n", SEGMENT);
    printf("  hd_segment_eval  %8.1f ms  %zu members  (%.1f ns per customer)\n", best_h * 1e3,
           count_h, best_h * 1e9 / (double)n);
    printf("  hand-written C   %8.1f ms  %zu members\n", best_c * 1e3, count_c);
    printf("  ratio %.1fx the hand-written loop; %s; target < 1000 ms: %s\n", best_h / best_c,
           differ ? "MEMBERS DIFFER" : "same members", best_h < 1.0 ? "met" : "MISSED");
    hd_segment_free(s);
    free(city);
    free(seg);
    free(paid);
    free(alive);
    free(tags);
    free(tagmask);
    free(member);
    free(want);
    return differ || best_h >= 1.0 ? 1 : 0;
}
