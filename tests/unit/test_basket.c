/* test_basket.c - FP-growth itemsets and rules (Groceries against arules'
 * published figures, random data against a brute-force counter), rules math,
 * bought-together and cross-sell on hand-made baskets. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the headers it needs */

#include "analytics/basket.h"

/* ------------------------------------------------------------ helpers */

/* cmocka 1.1.5 has no assert_double_equal */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

typedef struct baskets {
    uint32_t *items;
    size_t *starts;
    size_t n, cap_items, cap_baskets;
    uint32_t item_count;
} baskets;

static void b_init(baskets *b, uint32_t item_count) {
    memset(b, 0, sizeof *b);
    b->item_count = item_count;
    b->cap_items = 64;
    b->cap_baskets = 16;
    b->items = malloc(sizeof *b->items * b->cap_items);
    b->starts = malloc(sizeof *b->starts * (b->cap_baskets + 1));
    assert_non_null(b->items);
    assert_non_null(b->starts);
    b->starts[0] = 0;
}

static void b_add(baskets *b, const uint32_t *ids, size_t len) {
    size_t end = b->starts[b->n];
    while (end + len > b->cap_items) {
        b->cap_items *= 2;
        b->items = realloc(b->items, sizeof *b->items * b->cap_items);
        assert_non_null(b->items);
    }
    if (b->n + 1 > b->cap_baskets) {
        b->cap_baskets *= 2;
        b->starts = realloc(b->starts, sizeof *b->starts * (b->cap_baskets + 1));
        assert_non_null(b->starts);
    }
    if (len) memcpy(b->items + end, ids, sizeof *ids * len);
    b->n++;
    b->starts[b->n] = end + len;
}

static hd_basket_data b_data(const baskets *b) {
    return (hd_basket_data){b->items, b->starts, b->n, b->item_count};
}

static void b_free(baskets *b) {
    free(b->items);
    free(b->starts);
}

static void params(hd_basket_params *p, double supp, double conf, int min_len, int max_len) {
    hd_basket_params_init(p);
    p->min_support = supp;
    p->min_confidence = conf;
    p->min_len = min_len;
    p->max_len = max_len;
}

/* ------------------------------------------------------------ Groceries */

typedef struct groceries {
    baskets b;
    char names[169][64];
} groceries;

/* Reads Groceries.data (one line per basket, 169 TAB-separated purchase counts;
 * arules takes any count > 0 as "bought") and the English labels. Returns false
 * when the data directory is not there. */
static bool groceries_load(groceries *g, char *path, size_t path_max) {
    const char *dir = getenv("HUDONG_DATA");
    if (!dir || !*dir) dir = "../shared/data";
    snprintf(path, path_max, "%s/groceries/Groceries.data", dir);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    b_init(&g->b, 169);
    char line[4096];
    uint32_t row[169];
    while (fgets(line, sizeof line, f)) {
        size_t len = 0;
        uint32_t col = 0;
        char *p = line;
        while (*p && *p != '\n' && *p != '\r') {
            char *end;
            long v = strtol(p, &end, 10);
            assert_true(end != p);
            assert_true(col < 169);
            if (v > 0) row[len++] = col;
            col++;
            p = end;
            while (*p == '\t') p++;
        }
        assert_int_equal(col, 169);
        b_add(&g->b, row, len);
    }
    fclose(f);
    char lpath[1024];
    snprintf(lpath, sizeof lpath, "%s/groceries/Groceries.labels", dir);
    f = fopen(lpath, "r");
    assert_non_null(f);
    for (int i = 0; i < 169; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        char *tab1 = strchr(line, '\t');
        assert_non_null(tab1);
        char *tab2 = strchr(tab1 + 1, '\t');
        assert_non_null(tab2);
        *tab2 = '\0';
        snprintf(g->names[i], sizeof g->names[i], "%s", tab1 + 1);
    }
    fclose(f);
    return true;
}

static uint32_t gid(const groceries *g, const char *name) {
    for (uint32_t i = 0; i < 169; i++)
        if (strcmp(g->names[i], name) == 0) return i;
    fail_msg("no item '%s' in Groceries.labels", name);
    return 0;
}

static void assert_rule(const groceries *g, const hd_basket_rule *r, const char *a, const char *b,
                        const char *rhs) {
    uint32_t x = gid(g, a), y = gid(g, b);
    uint32_t lo = x < y ? x : y, hi = x < y ? y : x;
    assert_int_equal(r->lhs_len, 2);
    assert_int_equal(r->lhs[0], lo);
    assert_int_equal(r->lhs[1], hi);
    assert_int_equal(r->rhs, gid(g, rhs));
}

static size_t count_rules(const hd_basket_data *d, double supp, double conf, int min_len,
                          int max_len) {
    hd_basket_params p;
    params(&p, supp, conf, min_len, max_len);
    hd_basket_rules *r = NULL;
    hd_err e;
    assert_int_equal(hd_basket_rules_mine(d, &p, &r, &e), HD_OK);
    size_t n = r->n;
    hd_basket_rules_free(r);
    return n;
}

static void test_groceries(void **state) {
    (void)state;
    static groceries g;
    char path[1024];
    if (!groceries_load(&g, path, sizeof path)) {
        printf("SKIP: %s not found\n", path);
        skip();
    }
    hd_basket_data d = b_data(&g.b);
    /* data summary (arulesViz vignette): 9835 x 169, density 0.02609146 */
    assert_int_equal(d.n, 9835);
    assert_int_equal(d.starts[d.n], 43367);
    assert_true(fabs((double)d.starts[d.n] / (9835.0 * 169) - 0.02609146) < 1e-8);
    hd_basket_params p;
    hd_err e;
    params(&p, 0.001, 0.5, 1, 10);

    /* most frequent items: whole milk 2513, other vegetables 1903, rolls/buns
     * 1809, soda 1715, yogurt 1372 */
    hd_basket_itemsets *s = NULL;
    assert_int_equal(hd_basket_itemsets_mine(&d, &p, &s, &e), HD_OK);
    const char *top[] = {"whole milk", "other vegetables", "rolls/buns", "soda", "yogurt"};
    const uint32_t top_count[] = {2513, 1903, 1809, 1715, 1372};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(s->set[i].len, 1);
        assert_int_equal(s->set[i].items[0], gid(&g, top[i]));
        assert_int_equal(s->set[i].count, top_count[i]);
    }
    /* 13492 frequent itemsets: the count node-fpgrowth gives on the same data
     * (bench/analytics.sh), a cross-check rather than a published figure */
    assert_int_equal(s->n, 13492);
    hd_basket_itemsets_free(s);

    /* the published figure: 5668 rules at supp 0.001, conf 0.5 (minlen 1, maxlen 10) */
    hd_basket_rules *r = NULL;
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 5668);
    /* top by lift: {Instant food products, soda} => {hamburger meat} (supp
     * 0.0012, conf 0.63, lift ~19, count 12); {soda, popcorn} => {salty snack}
     * (~17); {flour, baking powder} => {sugar} (~16) */
    assert_rule(&g, &r->rule[0], "Instant food products", "soda", "hamburger meat");
    assert_int_equal(r->rule[0].count, 12);
    assert_true(r->rule[0].support > 0.00115 && r->rule[0].support < 0.00125);
    assert_true(r->rule[0].confidence > 0.625 && r->rule[0].confidence < 0.635);
    assert_true(r->rule[0].lift > 18.5 && r->rule[0].lift < 19.5);
    assert_rule(&g, &r->rule[1], "soda", "popcorn", "salty snack");
    assert_true(r->rule[1].lift > 16.5 && r->rule[1].lift < 17.5);
    assert_rule(&g, &r->rule[2], "flour", "baking powder", "sugar");
    assert_true(r->rule[2].lift > 15.5 && r->rule[2].lift < 16.5);
    for (size_t i = 0; i < r->n; i++) {
        const hd_basket_rule *x = &r->rule[i];
        assert_true(x->confidence >= 0.5);
        assert_true(x->count >= 10);
        if (i) assert_true(r->rule[i - 1].lift >= x->lift);
    }
    hd_basket_rules_free(r);

    /* Not in REFERENCE.md: the counts arules prints for these settings in widely
     * used tutorials (410 rules at conf 0.8; Lantz, Machine Learning with R,
     * 463 rules at supp 0.006, conf 0.25, minlen 2). */
    assert_int_equal(count_rules(&d, 0.001, 0.8, 1, 10), 410);
    assert_int_equal(count_rules(&d, 0.006, 0.25, 2, 10), 463);
    /* max_len bounds |lhs| + 1: only rules of length 2 and 3 here */
    params(&p, 0.001, 0.5, 2, 3);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    for (size_t i = 0; i < r->n; i++)
        assert_true(r->rule[i].lhs_len >= 1 && r->rule[i].lhs_len <= 2);
    hd_basket_rules_free(r);
    b_free(&g.b);
}

/* ------------------------------------------------------------ brute force */

#define BF_ITEMS 10

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("property failed, seed %llu: %s (line %d)\n", (unsigned long long)seed, #cond,  \
                   __LINE__);                                                                      \
            fail();                                                                                \
        }                                                                                          \
    } while (0)

/* Compares FP-growth with counting every subset of BF_ITEMS items directly. */
static void check_seed(uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    uint32_t ni = 1 + (uint32_t)(rng_next(&s) % BF_ITEMS);
    size_t nb = rng_next(&s) % 41;
    unsigned density = 10 + (unsigned)(rng_next(&s) % 70);
    baskets b;
    b_init(&b, ni);
    uint32_t masks[64];
    for (size_t i = 0; i < nb; i++) {
        uint32_t row[2 * BF_ITEMS], len = 0, mask = 0;
        for (uint32_t it = 0; it < ni; it++) {
            if (rng_next(&s) % 100 < density) {
                row[len++] = it;
                mask |= 1u << it;
                if (rng_next(&s) % 8 == 0) row[len++] = it; /* a repeat counts once */
            }
        }
        for (uint32_t k = len; k > 1; k--) { /* any order */
            uint32_t j = (uint32_t)(rng_next(&s) % k), t = row[k - 1];
            row[k - 1] = row[j];
            row[j] = t;
        }
        b_add(&b, row, len);
        masks[i] = mask;
    }
    static const double supports[] = {0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 1.0 / 3, 0.5, 0.07, 1.0};
    hd_basket_params p;
    int min_len = 1 + (int)(rng_next(&s) % 3);
    int max_len = min_len + (int)(rng_next(&s) % 5);
    params(&p, supports[rng_next(&s) % 10], (double)(rng_next(&s) % 11) / 10, min_len, max_len);
    if (rng_next(&s) % 4 == 0) p.min_confidence = 2.0 / 3;
    uint32_t minc = hd_basket_min_count(p.min_support, nb);

    static uint32_t count[1u << BF_ITEMS];
    size_t want_sets = 0;
    for (uint32_t m = 1; m < (1u << ni); m++) {
        count[m] = 0;
        for (size_t i = 0; i < nb; i++)
            if ((masks[i] & m) == m) count[m]++;
        int k = __builtin_popcount(m);
        if (count[m] >= minc && k >= min_len && k <= max_len) want_sets++;
    }
    hd_basket_data d = b_data(&b);
    hd_err e;
    hd_basket_itemsets *is = NULL;
    CHECK(hd_basket_itemsets_mine(&d, &p, &is, &e) == HD_OK);
    CHECK(is->n == want_sets);
    for (size_t i = 0; i < is->n; i++) {
        uint32_t m = 0;
        for (uint32_t k = 0; k < is->set[i].len; k++) {
            if (k) CHECK(is->set[i].items[k - 1] < is->set[i].items[k]);
            m |= 1u << is->set[i].items[k];
        }
        CHECK((int)is->set[i].len >= min_len && (int)is->set[i].len <= max_len);
        CHECK(is->set[i].count == count[m]);
        CHECK(is->set[i].support == (double)count[m] / (double)nb);
    }
    hd_basket_itemsets_free(is);

    /* rules: every frequent set in range, every item of it as rhs */
    size_t want_rules = 0;
    for (uint32_t m = 1; m < (1u << ni); m++) {
        int k = __builtin_popcount(m);
        if (count[m] < minc || k < min_len || k > max_len) continue;
        for (uint32_t it = 0; it < ni; it++) {
            if (!(m & (1u << it))) continue;
            uint32_t l = m & ~(1u << it);
            uint32_t lc = l ? count[l] : (uint32_t)nb;
            if ((double)count[m] / lc >= p.min_confidence - 1e-12) want_rules++;
        }
    }
    hd_basket_rules *r = NULL;
    CHECK(hd_basket_rules_mine(&d, &p, &r, &e) == HD_OK);
    CHECK(r->n == want_rules);
    for (size_t i = 0; i < r->n; i++) {
        const hd_basket_rule *x = &r->rule[i];
        uint32_t l = 0;
        for (uint32_t k = 0; k < x->lhs_len; k++) l |= 1u << x->lhs[k];
        CHECK(!(l & (1u << x->rhs)));
        uint32_t m = l | (1u << x->rhs);
        CHECK(x->count == count[m]);
        CHECK(x->lhs_count == (l ? count[l] : nb));
        CHECK(x->rhs_count == count[1u << x->rhs]);
        CHECK(x->confidence == (double)x->count / x->lhs_count);
        CHECK(x->lift == x->confidence * (double)nb / x->rhs_count);
    }
    hd_basket_rules_free(r);
    b_free(&b);
}

static void test_bruteforce(void **state) {
    (void)state;
    for (uint64_t seed = 1; seed <= 1500; seed++) check_seed(seed);
}

/* ------------------------------------------------------------ hand-made */

static void test_min_count(void **state) {
    (void)state;
    assert_int_equal(hd_basket_min_count(0.001, 9835), 10);
    assert_int_equal(hd_basket_min_count(0.002, 88162), 177);
    assert_int_equal(hd_basket_min_count(0.5, 10), 5);
    /* arules' ceil(N * supp) in double: 100 * 0.07 = 7.000000000000001 -> 8 */
    assert_int_equal(hd_basket_min_count(0.07, 100), 8);
    assert_int_equal(hd_basket_min_count(1e-9, 5), 1);
    assert_int_equal(hd_basket_min_count(1.0, 0), 1);
}

/* A=0, B=1, C=2: {A,B,C} {A,B} {A,C} {A} {B,C}. Counts: A 4, B 3, C 3, AB 2,
 * AC 2, BC 2, ABC 1. */
static void test_rules_math(void **state) {
    (void)state;
    baskets b;
    b_init(&b, 3);
    b_add(&b, (uint32_t[]){0, 1, 2}, 3);
    b_add(&b, (uint32_t[]){1, 0}, 2);
    b_add(&b, (uint32_t[]){2, 0, 2}, 3);
    b_add(&b, (uint32_t[]){0}, 1);
    b_add(&b, (uint32_t[]){2, 1}, 2);
    hd_basket_data d = b_data(&b);
    hd_basket_params p;
    hd_err e;
    hd_basket_rules *r = NULL;

    /* support 0.4 -> count >= 2; conf 0.6: A=>B and A=>C (0.5) drop */
    params(&p, 0.4, 0.6, 2, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 4);
    const uint32_t lhs[4] = {1, 2, 1, 2}, rhs[4] = {2, 1, 0, 0};
    for (int i = 0; i < 4; i++) {
        const hd_basket_rule *x = &r->rule[i];
        assert_int_equal(x->lhs_len, 1);
        assert_int_equal(x->lhs[0], lhs[i]);
        assert_int_equal(x->rhs, rhs[i]);
        assert_int_equal(x->count, 2);
        assert_int_equal(x->lhs_count, 3);
        assert_near(x->support, 0.4, 1e-12);
        assert_near(x->confidence, 2.0 / 3, 1e-12);
    }
    assert_near(r->rule[0].lift, (2.0 / 3) * 5 / 3, 1e-12); /* B=>C */
    assert_near(r->rule[2].lift, (2.0 / 3) * 5 / 4, 1e-12); /* B=>A */
    assert_int_equal(r->rule[2].rhs_count, 4);
    hd_basket_rules_free(r);

    /* min_len 1 adds {} => {x} when support(x) >= conf: A 0.8, B 0.6, C 0.6 */
    params(&p, 0.4, 0.6, 1, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 7);
    int empty = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (r->rule[i].lhs_len) continue;
        empty++;
        assert_int_equal(r->rule[i].lhs_count, 5);
        assert_near(r->rule[i].lift, 1.0, 1e-12);
    }
    assert_int_equal(empty, 3);
    hd_basket_rules_free(r);

    /* support 0.2 -> count >= 1, so ABC is frequent; its rules all have
     * confidence 1/2, kept at exactly 0.5 and dropped at 2/3 */
    params(&p, 0.2, 2.0 / 3, 3, 3);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 0); /* ABC: 1/2 for every rhs */
    hd_basket_rules_free(r);
    params(&p, 0.2, 0.5, 3, 3);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 3);
    hd_basket_rules_free(r);

    /* itemsets: min_len filters, ordering is count desc then length */
    hd_basket_itemsets *s = NULL;
    params(&p, 0.4, 0, 1, 10);
    assert_int_equal(hd_basket_itemsets_mine(&d, &p, &s, &e), HD_OK);
    assert_int_equal(s->n, 6);
    assert_int_equal(s->set[0].count, 4);
    assert_int_equal(s->set[0].items[0], 0);
    assert_int_equal(s->set[5].len, 2);
    hd_basket_itemsets_free(s);
    params(&p, 0.4, 0, 2, 2);
    assert_int_equal(hd_basket_itemsets_mine(&d, &p, &s, &e), HD_OK);
    assert_int_equal(s->n, 3);
    hd_basket_itemsets_free(s);
    b_free(&b);
}

/* bread 0, butter 1, jam 2, milk 3, tea 4; ten baskets. Counts: bread 6,
 * butter 5, jam 4, milk 5, tea 4; bread+butter 4, bread+jam 4, butter+jam 3,
 * milk+tea 3, bread+milk 2, bread+butter+jam 3. */
static void shop(baskets *b) {
    b_init(b, 5);
    for (int i = 0; i < 3; i++) b_add(b, (uint32_t[]){0, 1, 2}, 3);
    b_add(b, (uint32_t[]){0, 1}, 2);
    b_add(b, (uint32_t[]){0, 2, 3}, 3);
    b_add(b, (uint32_t[]){1, 3}, 2);
    b_add(b, (uint32_t[]){3, 4}, 2);
    b_add(b, (uint32_t[]){3, 4}, 2);
    b_add(b, (uint32_t[]){3, 4, 0}, 3);
    b_add(b, (uint32_t[]){4}, 1);
}

static void test_cross_sell(void **state) {
    (void)state;
    baskets b;
    shop(&b);
    hd_basket_data d = b_data(&b);
    hd_basket_params p;
    hd_err e;
    hd_basket_rules *r = NULL;
    params(&p, 0.2, 0.5, 2, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 11);
    /* top by lift: {bread, butter} => {jam}, conf 3/4, lift 0.75 * 10 / 4 */
    assert_int_equal(r->rule[0].lhs_len, 2);
    assert_int_equal(r->rule[0].rhs, 2);
    assert_near(r->rule[0].lift, 1.875, 1e-12);

    hd_basket_suggestion out[8];
    size_t n;
    /* owns bread: bread=>jam and bread=>butter tie on confidence 4/6; lift decides */
    assert_int_equal(
        hd_basket_cross_sell(r, (uint32_t[]){0}, 1, HD_BASKET_RANK_CONFIDENCE, out, 8, &n, &e),
        HD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].item, 2);
    assert_int_equal(out[1].item, 1);
    assert_near(out[0].confidence, 4.0 / 6, 1e-12);

    /* owns bread and butter: three rules lead to jam; the best one is kept */
    assert_int_equal(
        hd_basket_cross_sell(r, (uint32_t[]){1, 0}, 2, HD_BASKET_RANK_CONFIDENCE, out, 8, &n, &e),
        HD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].item, 2);
    assert_near(out[0].confidence, 0.75, 1e-12);
    assert_int_equal(r->rule[out[0].rule].lhs_len, 2);

    /* owns jam and milk (with a repeat): bread (1.0), butter (0.75), tea (0.6) */
    const uint32_t owned[] = {3, 2, 3};
    assert_int_equal(hd_basket_cross_sell(r, owned, 3, HD_BASKET_RANK_CONFIDENCE, out, 8, &n, &e),
                     HD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(out[0].item, 0);
    assert_int_equal(out[1].item, 1);
    assert_int_equal(out[2].item, 4);
    /* by lift: bread 10/6, then butter and tea tie at 1.5 and confidence decides */
    assert_int_equal(hd_basket_cross_sell(r, owned, 3, HD_BASKET_RANK_LIFT, out, 2, &n, &e), HD_OK);
    assert_int_equal(n, 2);
    assert_int_equal(out[0].item, 0);
    assert_near(out[0].lift, 10.0 / 6, 1e-12);
    assert_int_equal(out[1].item, 1);

    /* owns nothing or everything: nothing to suggest */
    assert_int_equal(hd_basket_cross_sell(r, NULL, 0, HD_BASKET_RANK_CONFIDENCE, out, 8, &n, &e),
                     HD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(hd_basket_cross_sell(r, (uint32_t[]){0, 1, 2, 3, 4}, 5,
                                          HD_BASKET_RANK_CONFIDENCE, out, 8, &n, &e),
                     HD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(hd_basket_cross_sell(r, (uint32_t[]){0}, 1, (hd_basket_rank)7, out, 8, &n, &e),
                     HD_EINVAL);
    assert_string_equal(e.field, "rank");
    hd_basket_rules_free(r);

    /* min_len 1 with a low confidence: {} => {x} applies to a customer with nothing */
    params(&p, 0.2, 0.5, 1, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(hd_basket_cross_sell(r, NULL, 0, HD_BASKET_RANK_CONFIDENCE, out, 8, &n, &e),
                     HD_OK);
    assert_int_equal(n, 3); /* bread 0.6, butter 0.5, milk 0.5 */
    assert_int_equal(out[0].item, 0);
    hd_basket_rules_free(r);
    b_free(&b);
}

static void test_bought_together(void **state) {
    (void)state;
    baskets b;
    shop(&b);
    hd_basket_data d = b_data(&b);
    hd_basket_pair out[8];
    size_t n;
    hd_err e;
    /* with bread: jam (lift 4*10/(6*4)), butter (4*10/(6*5)), milk, tea */
    assert_int_equal(hd_basket_bought_together(&d, 0, 1, out, 8, &n, &e), HD_OK);
    assert_int_equal(n, 4);
    assert_int_equal(out[0].item, 2);
    assert_int_equal(out[0].count, 4);
    assert_near(out[0].lift, 40.0 / 24, 1e-12);
    assert_near(out[0].confidence, 4.0 / 6, 1e-12);
    assert_near(out[0].support, 0.4, 1e-12);
    assert_int_equal(out[1].item, 1);
    assert_int_equal(out[2].item, 3);
    assert_int_equal(out[3].item, 4);
    assert_int_equal(hd_basket_bought_together(&d, 0, 2, out, 8, &n, &e), HD_OK);
    assert_int_equal(n, 3);
    assert_int_equal(hd_basket_bought_together(&d, 0, 1, out, 1, &n, &e), HD_OK);
    assert_int_equal(n, 1);
    assert_int_equal(hd_basket_bought_together(&d, 5, 1, out, 8, &n, &e), HD_EINVAL);
    assert_string_equal(e.field, "item");
    b_free(&b);
}

static void test_errors(void **state) {
    (void)state;
    baskets b;
    shop(&b);
    hd_basket_data d = b_data(&b);
    hd_basket_params p;
    hd_err e;
    hd_basket_itemsets *s = (hd_basket_itemsets *)&e;
    hd_basket_rules *r = NULL;

    const double bad_supp[] = {0, -0.1, 1.5, NAN};
    for (int i = 0; i < 4; i++) {
        params(&p, bad_supp[i], 0.5, 1, 10);
        assert_int_equal(hd_basket_itemsets_mine(&d, &p, &s, &e), HD_EINVAL);
        assert_null(s);
        assert_string_equal(e.field, "min_support");
    }
    params(&p, 0.1, 1.5, 1, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_EINVAL);
    assert_string_equal(e.field, "min_confidence");
    params(&p, 0.1, 0.5, 0, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_EINVAL);
    assert_string_equal(e.field, "min_len");
    params(&p, 0.1, 0.5, 3, 2);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_EINVAL);
    assert_string_equal(e.field, "max_len");
    params(&p, 0.1, 0.5, 1, HD_BASKET_LEN_MAX + 1);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_EINVAL);

    /* limits */
    params(&p, 0.1, 0.0, 1, 10);
    p.itemsets_max = 5;
    assert_int_equal(hd_basket_itemsets_mine(&d, &p, &s, &e), HD_ETOOBIG);
    assert_string_equal(e.field, "itemsets_max");
    assert_null(s);
    p.itemsets_max = 0;
    p.rules_max = 3;
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_ETOOBIG);
    assert_string_equal(e.field, "rules_max");
    assert_null(r);

    /* bad data */
    params(&p, 0.1, 0.5, 1, 10);
    hd_basket_data bad = d;
    bad.item_count = 4; /* tea (4) is out of range */
    assert_int_equal(hd_basket_itemsets_mine(&bad, &p, &s, &e), HD_EINVAL);
    assert_string_equal(e.field, "items");
    assert_non_null(strstr(e.msg, "basket 6"));
    size_t starts[3] = {0, 3, 2};
    bad = (hd_basket_data){b.items, starts, 2, 5};
    assert_int_equal(hd_basket_itemsets_mine(&bad, &p, &s, &e), HD_EINVAL);
    assert_string_equal(e.field, "starts");
    size_t big[2] = {0, HD_BASKET_BASKET_ITEMS_MAX + 1};
    uint32_t *many = calloc(HD_BASKET_BASKET_ITEMS_MAX + 1, sizeof *many);
    assert_non_null(many);
    bad = (hd_basket_data){many, big, 1, 1};
    assert_int_equal(hd_basket_itemsets_mine(&bad, &p, &s, &e), HD_ETOOBIG);
    free(many);
    assert_int_equal(hd_basket_itemsets_mine(&d, &p, NULL, &e), HD_EINVAL);

    /* no baskets, or nothing frequent: empty results, not errors */
    hd_basket_data none = {NULL, NULL, 0, 0};
    assert_int_equal(hd_basket_itemsets_mine(&none, &p, &s, &e), HD_OK);
    assert_int_equal(s->n, 0);
    hd_basket_itemsets_free(s);
    assert_int_equal(hd_basket_rules_mine(&none, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 0);
    hd_basket_rules_free(r);
    params(&p, 1.0, 0.5, 1, 10);
    assert_int_equal(hd_basket_rules_mine(&d, &p, &r, &e), HD_OK);
    assert_int_equal(r->n, 0);
    hd_basket_rules_free(r);
    hd_basket_itemsets_free(NULL);
    hd_basket_rules_free(NULL);
    b_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_min_count),  cmocka_unit_test(test_rules_math),
        cmocka_unit_test(test_cross_sell), cmocka_unit_test(test_bought_together),
        cmocka_unit_test(test_errors),     cmocka_unit_test(test_bruteforce),
        cmocka_unit_test(test_groceries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
