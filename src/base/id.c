/* id.c - snowflake-style id generator. Uses the real wall clock, not the
 * injectable one: ids only need to be unique and ordered, and a test clock
 * moved backwards must not produce duplicates. */
#include "base/id.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define EPOCH_MS 1577836800000LL /* 2020-01-01T00:00:00Z */

struct hd_idgen {
    pthread_mutex_t mu;
    unsigned node;
    int64_t last_ms;
    int64_t seq;
};

hd_idgen *hd_idgen_new(unsigned node) {
    hd_idgen *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    pthread_mutex_init(&g->mu, NULL);
    g->node = node & 1023;
    return g;
}

void hd_idgen_free(hd_idgen *g) {
    if (!g) return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

int64_t hd_id_next(hd_idgen *g) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - EPOCH_MS;
    pthread_mutex_lock(&g->mu);
    if (ms <= g->last_ms) {
        ms = g->last_ms;
        if (++g->seq > 4095) { /* borrow from the next millisecond */
            ms++;
            g->seq = 0;
        }
    } else {
        g->seq = 0;
    }
    g->last_ms = ms;
    int64_t id = (ms << 22) | ((int64_t)g->node << 12) | g->seq;
    pthread_mutex_unlock(&g->mu);
    return id;
}

void hd_id_format(int64_t id, char out[24]) { snprintf(out, 24, "%lld", (long long)id); }

bool hd_id_parse(const char *s, int64_t *out) {
    if (!s || !*s) return false;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return false;
        if (v > (INT64_MAX - (*p - '0')) / 10) return false;
        v = v * 10 + (*p - '0');
    }
    if (v <= 0) return false;
    *out = v;
    return true;
}
