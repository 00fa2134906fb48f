/* analytics_basket.c - times hd_basket_itemsets_mine (FP-growth) on a basket file
 * and prints one JSON line shaped like bench/fpgrowth_node/bench.js prints, so
 * bench/analytics.sh can set the two side by side.
 *
 *   analytics_basket FILE csv|fimi MIN_SUPPORT [RUNS]
 *
 * Loading is timed apart from mining; mining is the best of RUNS (default 5).
 * Every itemset length is counted (max_len = HD_BASKET_LEN_MAX), as
 * node-fpgrowth has no length limit. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/basket.h"
#include "base/err.h"
#include "text/text.h"

typedef struct loaded {
    uint32_t *items;
    size_t n_items, items_cap;
    size_t *starts;
    size_t n, starts_cap;
    /* interning: csv names or fimi numbers -> dense ids */
    char **names;
    uint64_t *nums;
    uint32_t n_ids, ids_cap;
    uint32_t *slots;
    size_t nslots;
} loaded;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *grow(void *p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return p;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(p, c * elem);
    if (!q) {
        fputs("out of memory\n", stderr);
        exit(1);
    }
    *cap = c;
    return q;
}

static uint64_t hash_key(bool fimi, const char *s, uint64_t v) {
    uint64_t h = 1469598103934665603ULL;
    if (fimi) return (v ^ (v >> 29)) * 0xBF58476D1CE4E5B9ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static uint32_t intern(loaded *l, bool fimi, const char *s, uint64_t v) {
    if ((size_t)l->n_ids * 2 >= l->nslots) {
        size_t ns = l->nslots ? l->nslots * 2 : 4096;
        uint32_t *slots = calloc(ns, sizeof *slots);
        if (!slots) exit(1);
        for (uint32_t id = 0; id < l->n_ids; id++) {
            size_t i = hash_key(fimi, fimi ? "" : l->names[id], fimi ? l->nums[id] : 0) & (ns - 1);
            while (slots[i]) i = (i + 1) & (ns - 1);
            slots[i] = id + 1;
        }
        free(l->slots);
        l->slots = slots;
        l->nslots = ns;
    }
    size_t i = hash_key(fimi, s, v) & (l->nslots - 1);
    for (; l->slots[i]; i = (i + 1) & (l->nslots - 1)) {
        uint32_t id = l->slots[i] - 1;
        if (fimi ? l->nums[id] == v : strcmp(l->names[id], s) == 0) return id;
    }
    size_t cap = l->ids_cap;
    if (fimi) {
        l->nums = grow(l->nums, &cap, (size_t)l->n_ids + 1, sizeof *l->nums);
        l->nums[l->n_ids] = v;
    } else {
        l->names = grow(l->names, &cap, (size_t)l->n_ids + 1, sizeof *l->names);
        l->names[l->n_ids] = strdup(s);
        if (!l->names[l->n_ids]) exit(1);
    }
    l->ids_cap = (uint32_t)cap;
    l->slots[i] = l->n_ids + 1;
    return l->n_ids++;
}

static void push(loaded *l, uint32_t id) {
    l->items = grow(l->items, &l->items_cap, l->n_items + 1, sizeof *l->items);
    l->items[l->n_items++] = id;
}

static void end_basket(loaded *l) {
    l->starts = grow(l->starts, &l->starts_cap, l->n + 2, sizeof *l->starts);
    l->starts[++l->n] = l->n_items;
}

/* The same reading rules as `hudong analyze`: blank lines are skipped. */
static void load(loaded *l, const char *path, bool fimi) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    memset(l, 0, sizeof *l);
    l->starts = grow(NULL, &l->starts_cap, 1, sizeof *l->starts);
    l->starts[0] = 0;
    if (fimi) {
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, f) >= 0) {
            size_t before = l->n_items;
            char *p = line;
            for (;;) {
                while (*p == ' ' || *p == '\t') p++;
                if (*p < '0' || *p > '9') break;
                uint64_t v = strtoull(p, &p, 10);
                push(l, intern(l, true, "", v));
            }
            if (l->n_items > before) end_basket(l);
        }
        free(line);
    } else {
        hd_csv *c = hd_csv_new(f, ',');
        hd_err err;
        int r;
        while ((r = hd_csv_next(c, &err)) == 1) {
            size_t len;
            hd_csv_field(c, 0, &len);
            if (hd_csv_nfields(c) == 1 && len == 0) continue;
            for (int i = 0; i < hd_csv_nfields(c); i++)
                push(l, intern(l, false, hd_csv_field(c, i, NULL), 0));
            end_basket(l);
        }
        if (r < 0) {
            fprintf(stderr, "%s: %s\n", path, err.msg);
            exit(2);
        }
        hd_csv_free(c);
    }
    fclose(f);
}

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[2], "csv") != 0 && strcmp(argv[2], "fimi") != 0)) {
        fputs("usage: analytics_basket FILE csv|fimi MIN_SUPPORT [RUNS]\n", stderr);
        return 2;
    }
    bool fimi = strcmp(argv[2], "fimi") == 0;
    int runs = argc > 4 ? atoi(argv[4]) : 5;
    if (runs < 1) runs = 1;
    loaded l;
    double t0 = now_s();
    load(&l, argv[1], fimi);
    double load_s = now_s() - t0;

    hd_basket_data d = {l.items, l.starts, l.n, l.n_ids};
    hd_basket_params p;
    hd_basket_params_init(&p);
    p.min_support = strtod(argv[3], NULL);
    p.min_len = 1;
    p.max_len = HD_BASKET_LEN_MAX;
    hd_basket_itemsets *s = NULL;
    hd_err err;
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        hd_basket_itemsets *got = NULL;
        double t = now_s();
        if (hd_basket_itemsets_mine(&d, &p, &got, &err) != HD_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        t = now_s() - t;
        if (t < best) best = t;
        hd_basket_itemsets_free(s);
        s = got;
    }
    if (!s) return 1;
    size_t by_len[HD_BASKET_LEN_MAX + 1] = {0};
    for (size_t i = 0; i < s->n; i++) by_len[s->set[i].len]++;
    printf("{\"baskets\":%zu,\"items\":%u,\"min_count\":%u,\"itemsets\":%zu,\"by_length\":{", l.n,
           (unsigned)l.n_ids, (unsigned)hd_basket_min_count(p.min_support, l.n), s->n);
    bool first = true;
    for (int k = 1; k <= HD_BASKET_LEN_MAX; k++) {
        if (!by_len[k]) continue;
        printf("%s\"%d\":%zu", first ? "" : ",", k, by_len[k]);
        first = false;
    }
    printf("},\"load_s\":%.6f,\"mine_s\":%.6f,\"runs\":%d}\n", load_s, best, runs);
    hd_basket_itemsets_free(s);
    for (uint32_t i = 0; !fimi && i < l.n_ids; i++) free(l.names[i]);
    free(l.names);
    free(l.nums);
    free(l.slots);
    free(l.items);
    free(l.starts);
    return 0;
}
