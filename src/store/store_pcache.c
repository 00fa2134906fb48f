/* store_pcache.c - SQLite's own page cache, with one needless scan taken out
 * of every commit.
 *
 * When a B-tree page splits, SQLite renumbers the new pages so they lie in
 * order on disk, swapping two page numbers through a scratch number - the
 * page holding the lock byte, 1 GiB into the file. The page cache remembers
 * the largest number it ever held, and at the end of each transaction drops
 * the pages past the end of the database: with that largest number a GiB
 * away, it walks every page it holds to find none. That walk grows with the
 * cache - 20-40 us a commit with a warm 64 MiB cache, a quarter of a small
 * commit's cost (measured with bench/ingest.sh; SQLite 3.40).
 *
 * Here every call goes to SQLite's default cache, but this layer keeps its
 * own largest page number, in which a number that a page only passed through
 * does not count, and skips a truncate that has nothing to drop. */
#include <stdlib.h>

#include "store/store_int.h"

typedef struct cache {
    sqlite3_pcache *inner;
    unsigned max_key; /* no page with a larger number is in the cache */
    unsigned passing; /* a page parked above max_key by a rekey, or 0 */
} cache;

static sqlite3_pcache_methods2 inner_methods;

static int pc_init(void *arg) {
    (void)arg;
    return inner_methods.xInit(inner_methods.pArg);
}

static void pc_shutdown(void *arg) {
    (void)arg;
    if (inner_methods.xShutdown) inner_methods.xShutdown(inner_methods.pArg);
}

static sqlite3_pcache *pc_create(int page, int extra, int purgeable) {
    cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->inner = inner_methods.xCreate(page, extra, purgeable);
    if (!c->inner) {
        free(c);
        return NULL;
    }
    return (sqlite3_pcache *)c;
}

static void pc_cachesize(sqlite3_pcache *p, int n) {
    inner_methods.xCachesize(((cache *)p)->inner, n);
}

static int pc_pagecount(sqlite3_pcache *p) { return inner_methods.xPagecount(((cache *)p)->inner); }

static sqlite3_pcache_page *pc_fetch(sqlite3_pcache *p, unsigned key, int create) {
    cache *c = (cache *)p;
    sqlite3_pcache_page *pg = inner_methods.xFetch(c->inner, key, create);
    if (pg && key > c->max_key) c->max_key = key; /* a lookup finds only what is counted */
    return pg;
}

static void pc_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard) {
    inner_methods.xUnpin(((cache *)p)->inner, pg, discard);
}

static void pc_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from, unsigned to) {
    cache *c = (cache *)p;
    inner_methods.xRekey(c->inner, pg, from, to);
    if (from == c->passing) c->passing = 0; /* the parked page moved on */
    if (to > c->max_key) {
        if (c->passing) /* a second one: count the first for good */
            c->max_key = c->passing > to ? c->passing : to;
        else
            c->passing = to;
    }
}

static void pc_truncate(sqlite3_pcache *p, unsigned limit) {
    cache *c = (cache *)p;
    if (limit > c->max_key && (!c->passing || limit > c->passing)) return; /* nothing to drop */
    inner_methods.xTruncate(c->inner, limit);
    if (c->max_key >= limit) c->max_key = limit ? limit - 1 : 0;
    if (c->passing >= limit) c->passing = 0;
}

static void pc_destroy(sqlite3_pcache *p) {
    cache *c = (cache *)p;
    inner_methods.xDestroy(c->inner);
    free(c);
}

static void pc_shrink(sqlite3_pcache *p) {
    if (inner_methods.xShrink) inner_methods.xShrink(((cache *)p)->inner);
}

int hd__pcache_register(void) {
    int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner_methods);
    if (rc != SQLITE_OK) return rc;
    static const sqlite3_pcache_methods2 ours = {
        .iVersion = 1,
        .xInit = pc_init,
        .xShutdown = pc_shutdown,
        .xCreate = pc_create,
        .xCachesize = pc_cachesize,
        .xPagecount = pc_pagecount,
        .xFetch = pc_fetch,
        .xUnpin = pc_unpin,
        .xRekey = pc_rekey,
        .xTruncate = pc_truncate,
        .xDestroy = pc_destroy,
        .xShrink = pc_shrink,
    };
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &ours);
}
