/* basket.c - FP-growth over flat arrays, rules derived from the mined itemsets,
 * "bought together" by direct co-occurrence, and cross-sell from rules.
 *
 * FP-trees live in a stack arena: a conditional tree is carved out when an item
 * is mined and released when that branch of the search is done, so there is no
 * per-node malloc. Nodes are parallel arrays (parent, item, count); a child is
 * found through one hash table shared by every build, which works because only
 * one tree is ever under construction at a time. */
#include "analytics/basket.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NONE      UINT32_MAX
#define CONF_EPS  1e-12 /* arules (istree.c) keeps a rule when conf >= minconf - 1e-12 */
#define CHUNK_MIN ((size_t)1 << 20)

/* ---------------------------------------------------------------- arena */

typedef struct chunk {
    struct chunk *next;
    size_t size, used;
    max_align_t data[];
} chunk;

typedef struct arena {
    chunk *head, *cur;
} arena;

typedef struct arena_mark {
    chunk *c;
    size_t used;
} arena_mark;

static chunk *chunk_new(size_t size) {
    chunk *c = malloc(sizeof *c + size);
    if (!c) return NULL;
    c->next = NULL;
    c->size = size;
    c->used = 0;
    return c;
}

static bool arena_init(arena *a) {
    a->head = a->cur = chunk_new(CHUNK_MIN);
    return a->head != NULL;
}

static void arena_free(arena *a) {
    chunk *c = a->head;
    while (c) {
        chunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = a->cur = NULL;
}

/* Returns 16-byte aligned memory, or NULL when out of memory. Chunks after the
 * current one are spares left by arena_release and are reused first. */
static void *arena_alloc(arena *a, size_t bytes) {
    if (bytes > SIZE_MAX / 2) return NULL;
    bytes = (bytes + 15) & ~(size_t)15;
    chunk *c = a->cur;
    if (c->size - c->used < bytes) {
        chunk *spare = c->next;
        if (spare && spare->size >= bytes) {
            c = spare;
        } else {
            chunk *n = chunk_new(bytes > CHUNK_MIN ? bytes : CHUNK_MIN);
            if (!n) return NULL;
            n->next = spare;
            c->next = n;
            c = n;
        }
        c->used = 0;
        a->cur = c;
    }
    void *p = (char *)c->data + c->used;
    c->used += bytes;
    return p;
}

static arena_mark arena_get_mark(const arena *a) { return (arena_mark){a->cur, a->cur->used}; }

static void arena_release(arena *a, arena_mark m) {
    a->cur = m.c;
    m.c->used = m.used;
}

/* ---------------------------------------------------------------- helpers */

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sort_u32(uint32_t *v, size_t n) {
    if (n > 24) {
        qsort(v, n, sizeof *v, cmp_u32);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        uint32_t x = v[i];
        size_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static bool contains_u32(const uint32_t *v, size_t n, uint32_t x) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && v[lo] == x;
}

/* Grows *v (elements of size sz) so that it holds at least need elements. */
static bool grow(void **v, size_t *cap, size_t need, size_t sz) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / sz) return false;
    void *p = realloc(*v, c * sz);
    if (!p) return false;
    *v = p;
    *cap = c;
    return true;
}

static uint64_t hash_items(const uint32_t *v, uint32_t n) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h ^= v[i];
        h *= 0xBF58476D1CE4E5B9ULL;
        h ^= h >> 31;
    }
    return h;
}

static size_t pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p *= 2;
    return p;
}

/* ---------------------------------------------------------------- checks */

void hd_basket_params_init(hd_basket_params *p) {
    p->min_support = 0.1;
    p->min_confidence = 0.8;
    p->min_len = 1;
    p->max_len = HD_BASKET_LEN_DEFAULT;
    p->itemsets_max = 0;
    p->rules_max = 0;
}

uint32_t hd_basket_min_count(double min_support, size_t n) {
    /* The same expression as arules' (int)ceil(tacnt * supp), no tolerance. */
    double v = ceil((double)n * min_support);
    if (!(v >= 1)) return 1;
    if (v >= (double)UINT32_MAX) return UINT32_MAX;
    return (uint32_t)v;
}

static hd_rc check_data(const hd_basket_data *d, hd_err *err) {
    if (!d) return hd_err_set(err, HD_EINVAL, "data", "is missing");
    if (d->n > HD_BASKET_BASKETS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "data", "more than %zu baskets",
                          (size_t)HD_BASKET_BASKETS_MAX);
    if (d->item_count > HD_BASKET_ITEM_IDS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "item_count", "must be <= %u, got %u",
                          (unsigned)HD_BASKET_ITEM_IDS_MAX, (unsigned)d->item_count);
    if (d->n == 0) return HD_OK;
    if (!d->starts) return hd_err_set(err, HD_EINVAL, "starts", "is missing");
    if (d->starts[0] != 0)
        return hd_err_set(err, HD_EINVAL, "starts", "starts[0] must be 0, got %zu", d->starts[0]);
    for (size_t b = 0; b < d->n; b++) {
        size_t s = d->starts[b], e = d->starts[b + 1];
        if (e < s)
            return hd_err_set(err, HD_EINVAL, "starts", "basket %zu ends before it starts", b);
        if (e - s > HD_BASKET_BASKET_ITEMS_MAX)
            return hd_err_set(err, HD_ETOOBIG, "items", "basket %zu has %zu items, the limit is %d",
                              b, e - s, HD_BASKET_BASKET_ITEMS_MAX);
    }
    if (d->starts[d->n] > HD_BASKET_ENTRIES_MAX)
        return hd_err_set(err, HD_ETOOBIG, "items", "more than %zu items in all baskets",
                          (size_t)HD_BASKET_ENTRIES_MAX);
    if (d->starts[d->n] > 0 && !d->items) return hd_err_set(err, HD_EINVAL, "items", "is missing");
    for (size_t b = 0; b < d->n; b++) {
        for (size_t i = d->starts[b]; i < d->starts[b + 1]; i++) {
            if (d->items[i] >= d->item_count)
                return hd_err_set(err, HD_EINVAL, "items",
                                  "basket %zu: item id %u is not below item_count %u", b,
                                  (unsigned)d->items[i], (unsigned)d->item_count);
        }
    }
    return HD_OK;
}

static hd_rc check_params(const hd_basket_params *p, bool rules, hd_err *err) {
    if (!p) return hd_err_set(err, HD_EINVAL, "params", "are missing");
    if (!(p->min_support > 0 && p->min_support <= 1))
        return hd_err_set(err, HD_EINVAL, "min_support", "must be in (0, 1], got %g",
                          p->min_support);
    if (rules && !(p->min_confidence >= 0 && p->min_confidence <= 1))
        return hd_err_set(err, HD_EINVAL, "min_confidence", "must be in [0, 1], got %g",
                          p->min_confidence);
    if (p->min_len < 1 || p->min_len > HD_BASKET_LEN_MAX)
        return hd_err_set(err, HD_EINVAL, "min_len", "must be in 1..%d, got %d", HD_BASKET_LEN_MAX,
                          p->min_len);
    if (p->max_len < p->min_len || p->max_len > HD_BASKET_LEN_MAX)
        return hd_err_set(err, HD_EINVAL, "max_len", "must be in min_len (%d)..%d, got %d",
                          p->min_len, HD_BASKET_LEN_MAX, p->max_len);
    if (p->itemsets_max > HD_BASKET_ITEMSETS_MAX)
        return hd_err_set(err, HD_EINVAL, "itemsets_max", "must be <= %zu, got %zu",
                          (size_t)HD_BASKET_ITEMSETS_MAX, p->itemsets_max);
    if (p->rules_max > HD_BASKET_RULES_MAX)
        return hd_err_set(err, HD_EINVAL, "rules_max", "must be <= %zu, got %zu",
                          (size_t)HD_BASKET_RULES_MAX, p->rules_max);
    return HD_OK;
}

/* ---------------------------------------------------------------- FP-tree */

/* Local item ids run 0..nitems-1 in a fixed order (most frequent first in the
 * main tree; conditional trees keep their parent's order), and every path from
 * the root has ascending local ids. Node 0 is the root. */
typedef struct fpnode {
    uint32_t parent, item, count; /* together: a walk up the tree touches one line per node */
} fpnode;

typedef struct fptree {
    uint32_t nitems, nnodes, cap;
    uint32_t *orig;   /* local id -> caller's item id */
    uint32_t *icount; /* local id -> baskets holding prefix + item */
    fpnode *node;
    uint32_t *hstart; /* nodes of item i: hnode[hstart[i] .. hstart[i+1]) */
    uint32_t *hnode;
} fptree;

typedef struct miner {
    arena ar;
    uint32_t minc;
    int max_len;
    int store_min_len; /* shorter itemsets are mined through but not stored */
    size_t itemsets_max;
    /* build scratch, sized to the main tree's item count (no tree has more) */
    uint32_t *cnt, *map, *path, *prev_item, *prev_node;
    uint32_t prev_len;
    uint32_t *walk; /* paths read while counting, reused while building */
    size_t walk_cap;
    uint32_t *hash;
    size_t hash_cap, hash_mask;
    /* the itemset being extended */
    uint32_t prefix[HD_BASKET_LEN_MAX];
    int plen;
    /* output: itemset i = pool[start[i] .. start[i] + len[i]) */
    uint32_t *pool;
    size_t pool_n, pool_cap;
    size_t *start;
    uint32_t *len, *count;
    size_t n, n_cap;
    hd_err *err;
} miner;

static void miner_free(miner *m) {
    arena_free(&m->ar);
    free(m->cnt);
    free(m->map);
    free(m->path);
    free(m->prev_item);
    free(m->prev_node);
    free(m->walk);
    free(m->hash);
    free(m->pool);
    free(m->start);
    free(m->len);
    free(m->count);
}

static hd_rc oom(hd_err *err) { return hd_err_set(err, HD_ENOMEM, "", "out of memory"); }

static hd_rc tree_begin(miner *m, fptree *t, uint32_t nitems, uint32_t cap) {
    t->nitems = nitems;
    t->nnodes = 1;
    t->cap = cap;
    t->orig = arena_alloc(&m->ar, sizeof(uint32_t) * nitems);
    t->icount = arena_alloc(&m->ar, sizeof(uint32_t) * nitems);
    t->hstart = arena_alloc(&m->ar, sizeof(uint32_t) * ((size_t)nitems + 1));
    t->node = arena_alloc(&m->ar, sizeof(fpnode) * cap);
    t->hnode = arena_alloc(&m->ar, sizeof(uint32_t) * cap);
    if (!t->orig || !t->icount || !t->hstart || !t->node || !t->hnode) return oom(m->err);
    t->node[0] = (fpnode){NONE, NONE, 0};
    size_t hsize = pow2_at_least((size_t)cap * 2);
    if (hsize > m->hash_cap) {
        free(m->hash);
        m->hash = malloc(sizeof(uint32_t) * hsize);
        if (!m->hash) {
            m->hash_cap = 0;
            return oom(m->err);
        }
        m->hash_cap = hsize;
    }
    memset(m->hash, 0, sizeof(uint32_t) * hsize);
    m->hash_mask = hsize - 1;
    m->prev_len = 0;
    return HD_OK;
}

/* The child of node p for item it, created with count 0 when missing. */
static uint32_t tree_child(miner *m, fptree *t, uint32_t p, uint32_t it) {
    uint64_t h = ((uint64_t)p << 32 | it) * 0x9E3779B97F4A7C15ULL;
    size_t i = (size_t)(h >> 32) & m->hash_mask;
    for (;;) {
        uint32_t n = m->hash[i];
        if (n == 0) break;
        if (t->node[n].parent == p && t->node[n].item == it) return n;
        i = (i + 1) & m->hash_mask;
    }
    uint32_t n = t->nnodes++;
    /* cap is an upper bound on distinct prefixes; exceeding it is a bug */
    if (n >= t->cap) abort();
    t->node[n] = (fpnode){p, it, 0};
    m->hash[i] = n;
    return n;
}

/* Adds a path of ascending local ids with count c. Consecutive paths often
 * share a prefix, so the previous path's nodes are reused without hashing. */
static void tree_insert(miner *m, fptree *t, const uint32_t *p, uint32_t len, uint32_t c) {
    uint32_t i = 0;
    while (i < m->prev_len && i < len && m->prev_item[i] == p[i]) {
        t->node[m->prev_node[i]].count += c;
        i++;
    }
    uint32_t node = i ? m->prev_node[i - 1] : 0;
    for (; i < len; i++) {
        node = tree_child(m, t, node, p[i]);
        t->node[node].count += c;
        m->prev_item[i] = p[i];
        m->prev_node[i] = node;
    }
    m->prev_len = len;
}

/* Builds the header lists (nodes per item) and the item counts. */
static void tree_end(miner *m, fptree *t) {
    uint32_t *cur = m->cnt;
    memset(t->hstart, 0, sizeof(uint32_t) * ((size_t)t->nitems + 1));
    memset(t->icount, 0, sizeof(uint32_t) * t->nitems);
    for (uint32_t n = 1; n < t->nnodes; n++) {
        t->hstart[t->node[n].item + 1]++;
        t->icount[t->node[n].item] += t->node[n].count;
    }
    for (uint32_t i = 0; i < t->nitems; i++) t->hstart[i + 1] += t->hstart[i];
    memcpy(cur, t->hstart, sizeof(uint32_t) * t->nitems);
    for (uint32_t n = 1; n < t->nnodes; n++) t->hnode[cur[t->node[n].item]++] = n;
}

/* Builds in c the tree of the baskets that hold local item x of t, restricted
 * to the items before x that are still frequent there. *empty is set when no
 * such item exists. */
static hd_rc tree_conditional(miner *m, const fptree *t, uint32_t x, fptree *c, bool *empty) {
    uint32_t *cnt = m->cnt, *map = m->map;
    memset(cnt, 0, sizeof(uint32_t) * x);
    /* Walk each path once, counting its items and keeping them in m->walk as
     * [len, count, items leaf to root] for the build below. */
    size_t pos = 0;
    for (uint32_t k = t->hstart[x]; k < t->hstart[x + 1]; k++) {
        uint32_t n = t->hnode[k], w = t->node[n].count;
        if (t->node[n].parent == 0) continue;
        if (!grow((void **)&m->walk, &m->walk_cap, pos + x + 2, sizeof *m->walk))
            return oom(m->err);
        size_t head = pos;
        pos += 2;
        for (uint32_t a = t->node[n].parent; a != 0; a = t->node[a].parent) {
            uint32_t it = t->node[a].item;
            cnt[it] += w;
            m->walk[pos++] = it;
        }
        m->walk[head] = (uint32_t)(pos - head - 2);
        m->walk[head + 1] = w;
    }
    uint32_t k = 0;
    for (uint32_t i = 0; i < x; i++) map[i] = cnt[i] >= m->minc ? k++ : NONE;
    *empty = k == 0;
    if (k == 0) return HD_OK;
    /* a conditional node stands for a distinct prefix of t: no more than t's
     * nodes, and no more than the items walked */
    size_t visits = pos, cap = visits < t->nnodes - 1 ? visits : t->nnodes - 1;
    hd_rc rc = tree_begin(m, c, k, (uint32_t)cap + 1);
    if (rc != HD_OK) return rc;
    for (uint32_t i = 0; i < x; i++)
        if (map[i] != NONE) c->orig[map[i]] = t->orig[i];
    for (size_t q = 0; q < pos;) {
        uint32_t wl = m->walk[q], w = m->walk[q + 1], len = 0;
        const uint32_t *it = m->walk + q + 2;
        q += 2 + (size_t)wl;
        for (uint32_t j = wl; j-- > 0;) { /* root first: ascending ids */
            uint32_t l = map[it[j]];
            if (l != NONE) m->path[len++] = l;
        }
        if (len) tree_insert(m, c, m->path, len, w);
    }
    tree_end(m, c);
    return HD_OK;
}

static hd_rc emit(miner *m, int len, uint32_t count) {
    if (len < m->store_min_len) return HD_OK;
    if (m->n >= m->itemsets_max)
        return hd_err_set(m->err, HD_ETOOBIG, "itemsets_max",
                          "more than %zu frequent itemsets; raise min_support or lower max_len",
                          m->itemsets_max);
    if (!grow((void **)&m->pool, &m->pool_cap, m->pool_n + (size_t)len, sizeof *m->pool))
        return oom(m->err);
    if (m->n >= m->n_cap) {
        size_t cap = m->n_cap;
        if (!grow((void **)&m->start, &cap, m->n + 1, sizeof *m->start)) return oom(m->err);
        cap = m->n_cap;
        if (!grow((void **)&m->len, &cap, m->n + 1, sizeof *m->len)) return oom(m->err);
        cap = m->n_cap;
        if (!grow((void **)&m->count, &cap, m->n + 1, sizeof *m->count)) return oom(m->err);
        m->n_cap = cap;
    }
    uint32_t *dst = m->pool + m->pool_n;
    memcpy(dst, m->prefix, sizeof(uint32_t) * (size_t)len);
    sort_u32(dst, (size_t)len);
    m->start[m->n] = m->pool_n;
    m->len[m->n] = (uint32_t)len;
    m->count[m->n] = count;
    m->pool_n += (size_t)len;
    m->n++;
    return HD_OK;
}

/* A tree that is one chain (node n is item n - 1, child of node n - 1). */
static bool tree_is_chain(const fptree *t) {
    if (t->nnodes - 1 != t->nitems) return false;
    for (uint32_t n = 1; n < t->nnodes; n++)
        if (t->node[n].parent != n - 1) return false;
    return true;
}

/* Emits prefix + every nonempty subset of a chain's items below `below`: a
 * subset is in as many baskets as its deepest item, which is picked first
 * (count is NONE until then). This is what mining the chain's conditional
 * trees would give, without building them. */
static hd_rc mine_chain(miner *m, const fptree *t, uint32_t below, uint32_t count) {
    for (uint32_t j = below; j-- > 0;) {
        uint32_t c = count == NONE ? t->icount[j] : count;
        m->prefix[m->plen] = t->orig[j];
        hd_rc rc = emit(m, m->plen + 1, c);
        if (rc == HD_OK && m->plen + 1 < m->max_len) {
            m->plen++;
            rc = mine_chain(m, t, j, c);
            m->plen--;
        }
        if (rc != HD_OK) return rc;
    }
    return HD_OK;
}

static hd_rc mine_tree(miner *m, const fptree *t) {
    if (tree_is_chain(t)) return mine_chain(m, t, t->nitems, NONE);
    for (uint32_t x = t->nitems; x-- > 0;) {
        m->prefix[m->plen] = t->orig[x];
        hd_rc rc = emit(m, m->plen + 1, t->icount[x]);
        if (rc != HD_OK) return rc;
        if (m->plen + 1 >= m->max_len) continue;
        arena_mark mk = arena_get_mark(&m->ar);
        fptree c;
        bool empty;
        rc = tree_conditional(m, t, x, &c, &empty);
        if (rc == HD_OK && !empty) {
            m->plen++;
            rc = mine_tree(m, &c);
            m->plen--;
        }
        arena_release(&m->ar, mk);
        if (rc != HD_OK) return rc;
    }
    return HD_OK;
}

typedef struct item_rank {
    uint32_t id, count;
} item_rank;

static int cmp_item_rank(const void *a, const void *b) {
    const item_rank *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Mines every frequent itemset up to max_len into m; *icount_out gets the
 * count of every item id (caller frees). Data and params are checked. */
static hd_rc mine_all(const hd_basket_data *d, const hd_basket_params *p, int store_min_len,
                      miner *m, uint32_t **icount_out, hd_err *err) {
    uint32_t *icount = NULL, *stamp = NULL, *rank = NULL, *bask = NULL;
    item_rank *fr = NULL;
    hd_rc rc = HD_OK;
    memset(m, 0, sizeof *m);
    m->err = err;
    *icount_out = NULL;
    if (!arena_init(&m->ar)) return oom(err);
    m->minc = hd_basket_min_count(p->min_support, d->n);
    m->max_len = p->max_len;
    m->store_min_len = store_min_len;
    m->itemsets_max = p->itemsets_max ? p->itemsets_max : HD_BASKET_ITEMSETS_DEFAULT;

    size_t nid = d->item_count ? d->item_count : 1;
    icount = calloc(nid, sizeof *icount);
    stamp = calloc(nid, sizeof *stamp);
    rank = malloc(nid * sizeof *rank);
    if (!icount || !stamp || !rank) goto nomem;
    /* count each item once per basket; stamp[id] is the last basket (+1) it was seen in */
    for (size_t b = 0; b < d->n; b++) {
        for (size_t i = d->starts[b]; i < d->starts[b + 1]; i++) {
            uint32_t id = d->items[i];
            if (stamp[id] != (uint32_t)(b + 1)) {
                stamp[id] = (uint32_t)(b + 1);
                icount[id]++;
            }
        }
    }
    uint32_t nf = 0;
    size_t entries = 0;
    for (uint32_t id = 0; id < d->item_count; id++)
        if (icount[id] >= m->minc) {
            nf++;
            entries += icount[id];
        }
    if (nf == 0) goto done;
    fr = malloc(sizeof *fr * nf);
    if (!fr) goto nomem;
    nf = 0;
    for (uint32_t id = 0; id < d->item_count; id++)
        if (icount[id] >= m->minc) fr[nf++] = (item_rank){id, icount[id]};
    qsort(fr, nf, sizeof *fr, cmp_item_rank);
    for (uint32_t id = 0; id < d->item_count; id++) rank[id] = NONE;
    for (uint32_t r = 0; r < nf; r++) rank[fr[r].id] = r;

    m->cnt = malloc(sizeof(uint32_t) * nf);
    m->map = malloc(sizeof(uint32_t) * nf);
    m->path = malloc(sizeof(uint32_t) * nf);
    m->prev_item = malloc(sizeof(uint32_t) * nf);
    m->prev_node = malloc(sizeof(uint32_t) * nf);
    if (!m->cnt || !m->map || !m->path || !m->prev_item || !m->prev_node) goto nomem;

    fptree t;
    rc = tree_begin(m, &t, nf, (uint32_t)entries + 1);
    if (rc != HD_OK) goto done;
    for (uint32_t r = 0; r < nf; r++) t.orig[r] = fr[r].id;
    /* Each basket becomes an ascending list of ranks. (Sorting the baskets
     * first so that neighbours share prefixes was tried: on retail.dat the sort
     * cost more than the hashing it saved.) */
    bask = malloc(sizeof *bask * HD_BASKET_BASKET_ITEMS_MAX);
    if (!bask) goto nomem;
    memset(stamp, 0, nid * sizeof *stamp);
    for (size_t b = 0; b < d->n; b++) {
        uint32_t len = 0;
        for (size_t i = d->starts[b]; i < d->starts[b + 1]; i++) {
            uint32_t id = d->items[i];
            if (rank[id] == NONE || stamp[id] == (uint32_t)(b + 1)) continue;
            stamp[id] = (uint32_t)(b + 1);
            bask[len++] = rank[id];
        }
        if (len == 0) continue;
        sort_u32(bask, len);
        tree_insert(m, &t, bask, len, 1);
    }
    tree_end(m, &t);
    rc = mine_tree(m, &t);
    goto done;
nomem:
    rc = oom(err);
done:
    free(stamp);
    free(rank);
    free(fr);
    free(bask);
    if (rc == HD_OK)
        *icount_out = icount;
    else
        free(icount);
    return rc;
}

/* ---------------------------------------------------------------- itemsets */

static int cmp_itemset(const void *a, const void *b) {
    const hd_basket_itemset *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    for (uint32_t i = 0; i < x->len; i++)
        if (x->items[i] != y->items[i]) return x->items[i] < y->items[i] ? -1 : 1;
    return 0;
}

void hd_basket_itemsets_free(hd_basket_itemsets *s) {
    if (!s) return;
    free(s->set);
    free(s->pool);
    free(s);
}

hd_rc hd_basket_itemsets_mine(const hd_basket_data *d, const hd_basket_params *p,
                              hd_basket_itemsets **out, hd_err *err) {
    miner m;
    uint32_t *icount = NULL;
    hd_basket_itemsets *s = NULL;
    hd_rc rc;
    if (!out) return hd_err_set(err, HD_EINVAL, "out", "is missing");
    *out = NULL;
    if ((rc = check_data(d, err)) != HD_OK) return rc;
    if ((rc = check_params(p, false, err)) != HD_OK) return rc;
    rc = mine_all(d, p, p->min_len, &m, &icount, err);
    if (rc != HD_OK) goto done;
    s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->n = m.n;
    s->baskets = d->n;
    s->set = malloc(sizeof *s->set * (m.n ? m.n : 1));
    if (!s->set) goto nomem;
    s->pool = m.pool;
    m.pool = NULL;
    for (size_t i = 0; i < m.n; i++) {
        s->set[i] = (hd_basket_itemset){s->pool + m.start[i], m.len[i], m.count[i],
                                        (double)m.count[i] / (double)d->n};
    }
    qsort(s->set, s->n, sizeof *s->set, cmp_itemset);
    *out = s;
    s = NULL;
    goto done;
nomem:
    rc = oom(err);
done:
    hd_basket_itemsets_free(s);
    miner_free(&m);
    free(icount);
    return rc;
}

/* ---------------------------------------------------------------- rules */

/* Looks up the count of an itemset mined into m through an open-addressing
 * table of itemset indices (slot value i+1; 0 = empty). */
typedef struct set_index {
    const miner *m;
    uint32_t *slot;
    size_t mask;
} set_index;

static bool set_index_build(set_index *x, const miner *m) {
    size_t size = pow2_at_least(m->n * 2);
    x->m = m;
    x->mask = size - 1;
    x->slot = calloc(size, sizeof *x->slot);
    if (!x->slot) return false;
    for (size_t i = 0; i < m->n; i++) {
        size_t h = (size_t)hash_items(m->pool + m->start[i], m->len[i]) & x->mask;
        while (x->slot[h]) h = (h + 1) & x->mask;
        x->slot[h] = (uint32_t)(i + 1);
    }
    return true;
}

static uint32_t set_index_count(const set_index *x, const uint32_t *v, uint32_t n) {
    size_t h = (size_t)hash_items(v, n) & x->mask;
    const miner *m = x->m;
    for (;;) {
        uint32_t s = x->slot[h];
        if (!s) return 0;
        size_t i = s - 1;
        if (m->len[i] == n && memcmp(m->pool + m->start[i], v, sizeof(uint32_t) * n) == 0)
            return m->count[i];
        h = (h + 1) & x->mask;
    }
}

static int cmp_rule(const void *a, const void *b) {
    const hd_basket_rule *x = a, *y = b;
    if (x->lift != y->lift) return x->lift > y->lift ? -1 : 1;
    if (x->confidence != y->confidence) return x->confidence > y->confidence ? -1 : 1;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->lhs_len != y->lhs_len) return x->lhs_len < y->lhs_len ? -1 : 1;
    for (uint32_t i = 0; i < x->lhs_len; i++)
        if (x->lhs[i] != y->lhs[i]) return x->lhs[i] < y->lhs[i] ? -1 : 1;
    return (x->rhs > y->rhs) - (x->rhs < y->rhs);
}

void hd_basket_rules_free(hd_basket_rules *r) {
    if (!r) return;
    free(r->rule);
    free(r->pool);
    free(r->by_lhs);
    free(r);
}

/* Key of a rule in by_lhs: 0 for an empty lhs, else its first id + 1. */
static uint64_t lhs_key(const hd_basket_rule *r) {
    return r->lhs_len ? (uint64_t)r->lhs[0] + 1 : 0;
}

hd_rc hd_basket_rules_mine(const hd_basket_data *d, const hd_basket_params *p,
                           hd_basket_rules **out, hd_err *err) {
    miner m;
    uint32_t *icount = NULL;
    hd_basket_rules *r = NULL;
    set_index idx = {0};
    size_t *lhs_off = NULL, rule_cap = 0, pool_cap = 0, off_cap = 0, pool_n = 0;
    uint64_t *keys = NULL;
    hd_rc rc;
    if (!out) return hd_err_set(err, HD_EINVAL, "out", "is missing");
    *out = NULL;
    if ((rc = check_data(d, err)) != HD_OK) return rc;
    if ((rc = check_params(p, true, err)) != HD_OK) return rc;
    size_t rules_max = p->rules_max ? p->rules_max : HD_BASKET_RULES_DEFAULT;
    /* every subset is needed for confidences, so all lengths are stored */
    rc = mine_all(d, p, 1, &m, &icount, err);
    if (rc != HD_OK) goto done;
    r = calloc(1, sizeof *r);
    if (!r || !set_index_build(&idx, &m)) goto nomem;
    r->baskets = d->n;
    double nb = (double)d->n;
    uint32_t lhs[HD_BASKET_LEN_MAX];
    for (size_t i = 0; i < m.n; i++) {
        uint32_t k = m.len[i], cnt = m.count[i];
        const uint32_t *set = m.pool + m.start[i];
        if ((int)k < p->min_len) continue;
        for (uint32_t j = 0; j < k; j++) {
            uint32_t nl = 0;
            for (uint32_t q = 0; q < k; q++)
                if (q != j) lhs[nl++] = set[q];
            uint32_t lc = nl ? set_index_count(&idx, lhs, nl) : (uint32_t)d->n;
            if (lc == 0) {
                rc = hd_err_set(err, HD_EINTERNAL, "", "a subset of a frequent itemset is missing");
                goto done;
            }
            double conf = (double)cnt / (double)lc;
            if (conf < p->min_confidence - CONF_EPS) continue;
            if (r->n >= rules_max) {
                rc = hd_err_set(err, HD_ETOOBIG, "rules_max",
                                "more than %zu rules; raise min_support or min_confidence",
                                rules_max);
                goto done;
            }
            if (!grow((void **)&r->rule, &rule_cap, r->n + 1, sizeof *r->rule) ||
                !grow((void **)&lhs_off, &off_cap, r->n + 1, sizeof *lhs_off) ||
                !grow((void **)&r->pool, &pool_cap, pool_n + nl + 1, sizeof *r->pool))
                goto nomem;
            memcpy(r->pool + pool_n, lhs, sizeof(uint32_t) * nl);
            lhs_off[r->n] = pool_n;
            pool_n += nl;
            uint32_t rc_count = icount[set[j]];
            r->rule[r->n] = (hd_basket_rule){
                .lhs = NULL,
                .lhs_len = nl,
                .rhs = set[j],
                .count = cnt,
                .lhs_count = lc,
                .rhs_count = rc_count,
                .support = (double)cnt / nb,
                .confidence = conf,
                /* arules: lift = (c * tacnt) / cnts[head] */
                .lift = conf * nb / (double)rc_count,
            };
            r->n++;
        }
    }
    if (!r->pool && !grow((void **)&r->pool, &pool_cap, 1, sizeof *r->pool)) goto nomem;
    for (size_t i = 0; i < r->n; i++) r->rule[i].lhs = r->pool + lhs_off[i];
    if (r->n) qsort(r->rule, r->n, sizeof *r->rule, cmp_rule);
    r->by_lhs = malloc(sizeof *r->by_lhs * (r->n ? r->n : 1));
    keys = malloc(sizeof *keys * (r->n ? r->n : 1));
    if (!r->by_lhs || !keys) goto nomem;
    for (size_t i = 0; i < r->n; i++) keys[i] = lhs_key(&r->rule[i]) << 32 | (uint64_t)i;
    qsort(keys, r->n, sizeof *keys, cmp_u64);
    for (size_t i = 0; i < r->n; i++) r->by_lhs[i] = (uint32_t)keys[i];
    *out = r;
    r = NULL;
    goto done;
nomem:
    rc = oom(err);
done:
    hd_basket_rules_free(r);
    free(idx.slot);
    free(lhs_off);
    free(keys);
    miner_free(&m);
    free(icount);
    return rc;
}

/* ---------------------------------------------------------------- bought together */

static int cmp_pair(const void *a, const void *b) {
    const hd_basket_pair *x = a, *y = b;
    if (x->lift != y->lift) return x->lift > y->lift ? -1 : 1;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

hd_rc hd_basket_bought_together(const hd_basket_data *d, uint32_t item, uint32_t min_count,
                                hd_basket_pair *out, size_t out_max, size_t *out_n, hd_err *err) {
    uint32_t *icount = NULL, *co = NULL, *stamp = NULL, *stamp_co = NULL;
    hd_basket_pair *all = NULL;
    hd_rc rc;
    if (!out_n || (out_max && !out)) return hd_err_set(err, HD_EINVAL, "out", "is missing");
    *out_n = 0;
    if ((rc = check_data(d, err)) != HD_OK) return rc;
    if (item >= d->item_count)
        return hd_err_set(err, HD_EINVAL, "item", "id %u is not below item_count %u",
                          (unsigned)item, (unsigned)d->item_count);
    if (min_count == 0) min_count = 1;
    icount = calloc(d->item_count, sizeof *icount);
    co = calloc(d->item_count, sizeof *co);
    stamp = calloc(d->item_count, sizeof *stamp);
    stamp_co = calloc(d->item_count, sizeof *stamp_co);
    if (!icount || !co || !stamp || !stamp_co) goto nomem;
    /* stamps hold the last basket (+1) an id was counted in, so repeats count once */
    uint32_t n_item = 0;
    for (size_t b = 0; b < d->n; b++) {
        uint32_t mark = (uint32_t)(b + 1);
        bool has = false;
        for (size_t i = d->starts[b]; i < d->starts[b + 1]; i++) {
            uint32_t id = d->items[i];
            if (stamp[id] == mark) continue;
            stamp[id] = mark;
            icount[id]++;
            if (id == item) has = true;
        }
        if (!has) continue;
        n_item++;
        for (size_t i = d->starts[b]; i < d->starts[b + 1]; i++) {
            uint32_t id = d->items[i];
            if (id == item || stamp_co[id] == mark) continue;
            stamp_co[id] = mark;
            co[id]++;
        }
    }
    if (n_item == 0) goto done;
    size_t np = 0;
    for (uint32_t id = 0; id < d->item_count; id++)
        if (id != item && co[id] >= min_count) np++;
    all = malloc(sizeof *all * (np ? np : 1));
    if (!all) goto nomem;
    np = 0;
    double nb = (double)d->n;
    for (uint32_t id = 0; id < d->item_count; id++) {
        if (id == item || co[id] < min_count) continue;
        double conf = (double)co[id] / (double)n_item;
        all[np++] =
            (hd_basket_pair){id, co[id], (double)co[id] / nb, conf, conf * nb / (double)icount[id]};
    }
    qsort(all, np, sizeof *all, cmp_pair);
    *out_n = np < out_max ? np : out_max;
    for (size_t i = 0; i < *out_n; i++) out[i] = all[i];
    goto done;
nomem:
    rc = oom(err);
done:
    free(icount);
    free(co);
    free(stamp);
    free(stamp_co);
    free(all);
    return rc;
}

/* ---------------------------------------------------------------- cross-sell */

/* A rule that applies to the customer, with its ranking keys copied in so
 * that qsort needs no context. */
typedef struct cand {
    double k1, k2; /* confidence and lift, in the order the ranking asks */
    uint32_t count, rhs, rule;
} cand;

static int cmp_cand_rank(const cand *x, const cand *y) {
    if (x->k1 != y->k1) return x->k1 > y->k1 ? -1 : 1;
    if (x->k2 != y->k2) return x->k2 > y->k2 ? -1 : 1;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return 0;
}

/* By rhs, then best rule first, then rule index (for a stable choice). */
static int cmp_cand_rhs(const void *a, const void *b) {
    const cand *x = a, *y = b;
    if (x->rhs != y->rhs) return x->rhs < y->rhs ? -1 : 1;
    int o = cmp_cand_rank(x, y);
    if (o) return o;
    return (x->rule > y->rule) - (x->rule < y->rule);
}

/* Best first, ties by item id. */
static int cmp_cand_best(const void *a, const void *b) {
    const cand *x = a, *y = b;
    int o = cmp_cand_rank(x, y);
    if (o) return o;
    return (x->rhs > y->rhs) - (x->rhs < y->rhs);
}

/* Index of the first entry of r->by_lhs whose key is >= key. */
static size_t by_lhs_lower(const hd_basket_rules *r, uint64_t key) {
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lhs_key(&r->rule[r->by_lhs[mid]]) < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

hd_rc hd_basket_cross_sell(const hd_basket_rules *r, const uint32_t *owned, size_t owned_n,
                           hd_basket_rank rank, hd_basket_suggestion *out, size_t out_max,
                           size_t *out_n, hd_err *err) {
    uint32_t *own = NULL;
    cand *c = NULL;
    size_t nc = 0, cap = 0;
    hd_rc rc = HD_OK;
    if (!out_n || (out_max && !out)) return hd_err_set(err, HD_EINVAL, "out", "is missing");
    *out_n = 0;
    if (!r) return hd_err_set(err, HD_EINVAL, "rules", "are missing");
    if (rank != HD_BASKET_RANK_CONFIDENCE && rank != HD_BASKET_RANK_LIFT)
        return hd_err_set(err, HD_EINVAL, "rank", "unknown ranking %d", (int)rank);
    if (owned_n > HD_BASKET_OWNED_MAX)
        return hd_err_set(err, HD_ETOOBIG, "owned", "more than %zu items",
                          (size_t)HD_BASKET_OWNED_MAX);
    if (owned_n && !owned) return hd_err_set(err, HD_EINVAL, "owned", "is missing");
    own = malloc(sizeof *own * (owned_n ? owned_n : 1));
    if (!own) goto nomem;
    if (owned_n) memcpy(own, owned, sizeof *own * owned_n);
    sort_u32(own, owned_n);
    size_t no = 0;
    for (size_t i = 0; i < owned_n; i++)
        if (no == 0 || own[no - 1] != own[i]) own[no++] = own[i];

    /* rules with an empty lhs (key 0), then those whose first lhs id is owned */
    for (size_t o = 0; o <= no; o++) {
        uint64_t key = o == 0 ? 0 : (uint64_t)own[o - 1] + 1;
        for (size_t k = by_lhs_lower(r, key); k < r->n; k++) {
            uint32_t ri = r->by_lhs[k];
            const hd_basket_rule *rule = &r->rule[ri];
            if (lhs_key(rule) != key) break;
            if (contains_u32(own, no, rule->rhs)) continue;
            bool all = true;
            for (uint32_t q = 1; q < rule->lhs_len && all; q++)
                all = contains_u32(own, no, rule->lhs[q]);
            if (!all) continue;
            if (!grow((void **)&c, &cap, nc + 1, sizeof *c)) goto nomem;
            bool by_lift = rank == HD_BASKET_RANK_LIFT;
            c[nc++] = (cand){by_lift ? rule->lift : rule->confidence,
                             by_lift ? rule->confidence : rule->lift, rule->count, rule->rhs, ri};
        }
    }
    /* keep the best rule per rhs, then rank what is left */
    if (nc) qsort(c, nc, sizeof *c, cmp_cand_rhs);
    size_t nu = 0;
    for (size_t i = 0; i < nc; i++)
        if (nu == 0 || c[nu - 1].rhs != c[i].rhs) c[nu++] = c[i];
    if (nu) qsort(c, nu, sizeof *c, cmp_cand_best);
    size_t n = nu < out_max ? nu : out_max;
    for (size_t i = 0; i < n; i++) {
        const hd_basket_rule *rule = &r->rule[c[i].rule];
        out[i] =
            (hd_basket_suggestion){c[i].rhs, c[i].rule, rule->confidence, rule->lift, rule->count};
    }
    *out_n = n;
    goto done;
nomem:
    rc = oom(err);
done:
    free(own);
    free(c);
    return rc;
}
