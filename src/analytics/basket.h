/* basket.h - market-basket analysis: FP-growth frequent itemsets, association
 * rules with arules' definitions, "bought together" and per-customer
 * cross-sell suggestions.
 *
 * Pure C over arrays: items are interned ids (the caller maps names to ids),
 * baskets are one flat id array plus offsets. Nothing here prints or does I/O.
 *
 * Definitions (those of R's arules, so counts match apriori() there):
 * - support(X) = count(X) / N, N = number of baskets (empty ones included);
 * - X is frequent when count(X) >= ceil(N * min_support), computed in double
 *   exactly as arules does (so 0.07 * 100 = 7.000000000000001 asks for 8);
 * - a rule lhs => {rhs} has one item on the right; its length is |lhs| + 1 and
 *   min_len/max_len bound that length (with min_len 1, rules {} => {x} appear
 *   when support(x) >= min_confidence);
 * - confidence = count(lhs u rhs) / count(lhs), kept when it is >=
 *   min_confidence - 1e-12 (arules' tolerance); lift = confidence * N /
 *   count(rhs); a rule's support and count are those of lhs u rhs.
 * - an item repeated within one basket counts once. */
#ifndef HD_BASKET_H
#define HD_BASKET_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define HD_BASKET_BASKETS_MAX      ((size_t)1 << 31)   /* baskets in one data set */
#define HD_BASKET_ITEM_IDS_MAX     ((uint32_t)1 << 24) /* item_count, i.e. distinct ids */
#define HD_BASKET_ENTRIES_MAX      ((size_t)1 << 31)   /* ids in all baskets together */
#define HD_BASKET_BASKET_ITEMS_MAX 4096                /* ids in one basket */
#define HD_BASKET_LEN_MAX          32                  /* items in an itemset or rule */
#define HD_BASKET_LEN_DEFAULT      10                  /* arules' default maxlen */
#define HD_BASKET_ITEMSETS_DEFAULT ((size_t)5000000)   /* itemsets mined, unless raised */
#define HD_BASKET_ITEMSETS_MAX     ((size_t)100000000) /* hard ceiling for itemsets_max */
#define HD_BASKET_RULES_DEFAULT    ((size_t)5000000)   /* rules kept, unless raised */
#define HD_BASKET_RULES_MAX        ((size_t)100000000) /* hard ceiling for rules_max */
#define HD_BASKET_OWNED_MAX        ((size_t)1000000)   /* items one customer owns */

/* Baskets, borrowed from the caller. Basket i is items[starts[i] ..
 * starts[i+1]) in any order; starts has n+1 entries with starts[0] == 0;
 * every id is < item_count. */
typedef struct hd_basket_data {
    const uint32_t *items;
    const size_t *starts;
    size_t n;
    uint32_t item_count;
} hd_basket_data;

typedef struct hd_basket_params {
    double min_support;    /* (0, 1] */
    double min_confidence; /* [0, 1]; rules only */
    int min_len;           /* >= 1: items in an itemset, |lhs|+1 for a rule */
    int max_len;           /* min_len .. HD_BASKET_LEN_MAX */
    size_t itemsets_max;   /* 0 = HD_BASKET_ITEMSETS_DEFAULT; mining stops with
                              HD_ETOOBIG past this many frequent itemsets */
    size_t rules_max;      /* 0 = HD_BASKET_RULES_DEFAULT; HD_ETOOBIG past it */
} hd_basket_params;

/* arules' apriori() defaults: support 0.1, confidence 0.8, min_len 1,
 * max_len 10, and our default limits. */
void hd_basket_params_init(hd_basket_params *p);

/* The smallest count that is frequent among n baskets: ceil(n * min_support)
 * in double arithmetic, and at least 1. */
uint32_t hd_basket_min_count(double min_support, size_t n);

/* --- frequent itemsets --- */
typedef struct hd_basket_itemset {
    const uint32_t *items; /* ascending ids, borrowed from the result */
    uint32_t len;
    uint32_t count; /* baskets containing every item */
    double support; /* count / N */
} hd_basket_itemset;

typedef struct hd_basket_itemsets {
    size_t n;               /* itemsets in set[] */
    size_t baskets;         /* N */
    hd_basket_itemset *set; /* by count desc, then length asc, then ids */
    uint32_t *pool;         /* storage behind set[i].items */
} hd_basket_itemsets;

/* Mines every itemset whose count is >= hd_basket_min_count and whose length
 * is within [min_len, max_len] with FP-growth. On success *out is set; the
 * caller frees it with hd_basket_itemsets_free. On error *out is NULL and err
 * names the parameter or the basket that is wrong (HD_EINVAL), or the limit
 * that was reached (HD_ETOOBIG), or HD_ENOMEM. */
hd_rc hd_basket_itemsets_mine(const hd_basket_data *d, const hd_basket_params *p,
                              hd_basket_itemsets **out, hd_err *err);
void hd_basket_itemsets_free(hd_basket_itemsets *s);

/* --- association rules --- */
typedef struct hd_basket_rule {
    const uint32_t *lhs; /* ascending ids, borrowed from the result; may be empty */
    uint32_t lhs_len;
    uint32_t rhs;
    uint32_t count;     /* baskets containing lhs and rhs */
    uint32_t lhs_count; /* baskets containing lhs (N when lhs is empty) */
    uint32_t rhs_count; /* baskets containing rhs */
    double support;     /* count / N */
    double confidence;  /* count / lhs_count */
    double lift;        /* confidence * N / rhs_count */
} hd_basket_rule;

typedef struct hd_basket_rules {
    size_t n;             /* rules in rule[] */
    size_t baskets;       /* N */
    hd_basket_rule *rule; /* by lift desc, confidence desc, count desc, then
                             shorter lhs, lhs ids, rhs id */
    uint32_t *pool;       /* storage behind rule[i].lhs */
    uint32_t *by_lhs;     /* internal: rule indices ordered by first lhs id */
} hd_basket_rules;

/* Mines the frequent itemsets up to max_len and derives every rule with one
 * item on the right whose length is within [min_len, max_len] and whose
 * confidence is high enough. Caller frees *out with hd_basket_rules_free.
 * Errors as for hd_basket_itemsets_mine, plus min_confidence. */
hd_rc hd_basket_rules_mine(const hd_basket_data *d, const hd_basket_params *p,
                           hd_basket_rules **out, hd_err *err);
void hd_basket_rules_free(hd_basket_rules *r);

/* --- bought together --- */
typedef struct hd_basket_pair {
    uint32_t item;     /* the other item */
    uint32_t count;    /* baskets with both */
    double support;    /* count / N */
    double confidence; /* count / baskets with the asked item */
    double lift;       /* confidence * N / baskets with the other item */
} hd_basket_pair;

/* What is bought with `item`: every other item found together with it in at
 * least min_count baskets (0 is taken as 1), i.e. the rules {item} => {x},
 * ranked by lift desc, then count desc, then id. Fills out[0 .. *out_n) with
 * at most out_max pairs. An item no basket holds gives *out_n = 0. */
hd_rc hd_basket_bought_together(const hd_basket_data *d, uint32_t item, uint32_t min_count,
                                hd_basket_pair *out, size_t out_max, size_t *out_n, hd_err *err);

/* --- cross-sell --- */
typedef enum hd_basket_rank {
    HD_BASKET_RANK_CONFIDENCE, /* confidence, then lift, then count */
    HD_BASKET_RANK_LIFT,       /* lift, then confidence, then count */
} hd_basket_rank;

typedef struct hd_basket_suggestion {
    uint32_t item;     /* suggested item (a rule's rhs) */
    size_t rule;       /* index in rules->rule of the best rule for it */
    double confidence; /* of that rule */
    double lift;
    uint32_t count;
} hd_basket_suggestion;

/* Suggestions for a customer who has bought owned[0 .. owned_n) (any order,
 * repeats allowed): every rule whose lhs the customer has bought in full and
 * whose rhs not yet, one suggestion per rhs (its best rule), ranked by `rank`
 * with ties broken by the item id. Fills at most out_max entries. */
hd_rc hd_basket_cross_sell(const hd_basket_rules *r, const uint32_t *owned, size_t owned_n,
                           hd_basket_rank rank, hd_basket_suggestion *out, size_t out_max,
                           size_t *out_n, hd_err *err);

#endif
