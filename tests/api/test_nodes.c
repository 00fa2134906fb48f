/* test_nodes.c - several server processes on one store, interleaved writes
 * racing on the same identities and event keys: nothing lost, nothing
 * doubled. Then a server is killed with -9 during a write storm, and every
 * event it acknowledged is still there after a restart; a SIGTERM finishes
 * requests in flight and exits 0. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/harness.h"
#include "store/store.h"

#define CLIENTS    8
#define PER_CLIENT 60
#define PHONES     40 /* few phones: clients race to create the same customers */

typedef struct client {
    const ht_server *nodes[2];
    int id;
    int ok, dup, fail;
    atomic_int *acked; /* per event index: 1 when a 2xx came back */
} client;

static void *run_client(void *arg) {
    client *c = arg;
    for (int i = 0; i < PER_CLIENT; i++) {
        /* every event is sent twice, to both nodes, by two different clients
         * (client k and k^1 share keys): one is created, one is a duplicate */
        int pair = c->id / 2;
        int idx = pair * PER_CLIENT + i;
        char ev[400];
        snprintf(ev, sizeof ev,
                 "{\"type\":\"order.paid\",\"key\":\"n-%d\",\"customer\":{\"phone\":\"158%08d\"},"
                 "\"properties\":{\"order_id\":\"N-%d\",\"amount\":%d}}",
                 idx, idx % PHONES, idx, 100 + idx);
        const ht_server *s = c->nodes[(c->id + i) % 2];
        ht_resp r = ht_post(s, "/v1/events", ev);
        if (r.status == 201)
            c->ok++;
        else if (r.status == 200 && strcmp(ht_str(r.json, "status"), "duplicate") == 0)
            c->dup++;
        else {
            fprintf(stderr, "unexpected %ld: %s\n", r.status, r.body);
            c->fail++;
        }
        ht_free(&r);
    }
    return NULL;
}

typedef struct counts {
    int64_t events, orders, revenue, live_customers, phone_owners, sum_customer_revenue,
        sum_customer_orders;
} counts;

static hd_rc count_cb(hd_conn *c, void *ctx, hd_err *err) {
    counts *k = ctx;
    hd_rc rc = hd_query_int(c, "SELECT count(*) FROM events", NULL, 0, &k->events, err);
    if (!rc) rc = hd_query_int(c, "SELECT count(*) FROM orders", NULL, 0, &k->orders, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT COALESCE(sum(amount), 0) FROM orders", NULL, 0, &k->revenue,
                          err);
    if (!rc)
        rc = hd_query_int(c, "SELECT count(*) FROM customers WHERE merged_into IS NULL", NULL, 0,
                          &k->live_customers, err);
    if (!rc)
        rc = hd_query_int(c,
                          "SELECT count(DISTINCT customer_id) FROM identities WHERE kind = 'phone'",
                          NULL, 0, &k->phone_owners, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT COALESCE(sum(revenue), 0) FROM customers", NULL, 0,
                          &k->sum_customer_revenue, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT COALESCE(sum(orders), 0) FROM customers", NULL, 0,
                          &k->sum_customer_orders, err);
    return rc;
}

static counts read_counts(const ht_server *s) {
    hd_store_opts o = {.url = s->db};
    hd_err err;
    hd_store *st = hd_store_open(&o, &err);
    if (!st) fail_msg("open %s: %s", s->db, err.msg);
    counts k = {0};
    if (hd_store_read(st, count_cb, &k, &err)) fail_msg("count: %s", err.msg);
    hd_store_close(st);
    return k;
}

static void test_two_nodes_interleaved(void **state) {
    (void)state;
    ht_server a, b;
    ht_start(&a, false);
    ht_start_on(&b, &a, false);
    pthread_t th[CLIENTS];
    client cs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cs[i] = (client){{&a, &b}, i, 0, 0, 0, NULL};
        pthread_create(&th[i], NULL, run_client, &cs[i]);
    }
    int ok = 0, dup = 0, fail = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        ok += cs[i].ok;
        dup += cs[i].dup;
        fail += cs[i].fail;
    }
    int distinct = CLIENTS / 2 * PER_CLIENT;
    assert_int_equal(fail, 0);
    assert_int_equal(ok, distinct);
    assert_int_equal(dup, distinct);
    ht_stop(&b, true);
    ht_stop(&a, true);
    counts k = read_counts(&a);
    assert_int_equal(k.events, distinct);
    assert_int_equal(k.orders, distinct);
    int64_t revenue = 0;
    for (int i = 0; i < distinct; i++) revenue += 100 + i;
    assert_int_equal(k.revenue, revenue);
    /* one customer per phone, whatever the races did */
    assert_int_equal(k.phone_owners, PHONES);
    assert_int_equal(k.live_customers, PHONES);
    assert_int_equal(k.sum_customer_revenue, revenue);
    assert_int_equal(k.sum_customer_orders, distinct);
    ht_stop(&a, false);
}

typedef struct storm {
    const ht_server *s;
    int from, n;
    atomic_int *acked;
    atomic_bool *stop;
} storm;

static void *run_storm(void *arg) {
    storm *st = arg;
    for (int i = st->from; i < st->from + st->n && !atomic_load(st->stop); i++) {
        char ev[300];
        snprintf(ev, sizeof ev,
                 "{\"type\":\"order.paid\",\"key\":\"k-%d\",\"customer\":{\"phone\":\"159%08d\"},"
                 "\"properties\":{\"order_id\":\"K-%d\",\"amount\":1}}",
                 i, i % 97, i);
        ht_resp r = ht_req_soft(st->s, "POST", "/v1/events", ev);
        if (r.status == 201) atomic_store(&st->acked[i], 1);
        ht_free(&r);
    }
    return NULL;
}

static void test_kill9_keeps_acknowledged(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, false);
    enum { THREADS = 4, EACH = 400 };
    atomic_int *acked = calloc(THREADS * EACH, sizeof *acked);
    atomic_bool stop = false;
    pthread_t th[THREADS];
    storm sts[THREADS];
    for (int i = 0; i < THREADS; i++) {
        sts[i] = (storm){&s, i * EACH, EACH, acked, &stop};
        pthread_create(&th[i], NULL, run_storm, &sts[i]);
    }
    usleep(700 * 1000);
    ht_kill(&s);
    atomic_store(&stop, true);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    int n_acked = 0;
    for (int i = 0; i < THREADS * EACH; i++) n_acked += atomic_load(&acked[i]);
    assert_true(n_acked > 0);
    /* restart on the same store: every acknowledged event is there */
    ht_server again;
    ht_start_on(&again, &s, false);
    int missing = 0;
    for (int i = 0; i < THREADS * EACH; i++) {
        if (!atomic_load(&acked[i])) continue;
        char ev[300];
        snprintf(ev, sizeof ev,
                 "{\"type\":\"order.paid\",\"key\":\"k-%d\",\"customer\":{\"phone\":\"159%08d\"},"
                 "\"properties\":{\"order_id\":\"K-%d\",\"amount\":1}}",
                 i, i % 97, i);
        ht_resp r = ht_post(&again, "/v1/events", ev);
        if (r.status != 200) missing++; /* 200 duplicate = it was kept */
        ht_free(&r);
    }
    assert_int_equal(missing, 0);
    counts k = read_counts(&again);
    assert_int_equal(k.orders, k.sum_customer_orders); /* counters agree with rows */
    assert_int_equal(k.revenue, k.sum_customer_revenue);
    ht_stop(&again, false);
    free(acked);
}

static void test_sigterm_finishes_in_flight(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, false);
    enum { THREADS = 4, EACH = 2000 };
    atomic_int *acked = calloc(THREADS * EACH, sizeof *acked);
    atomic_bool stop = false;
    pthread_t th[THREADS];
    storm sts[THREADS];
    for (int i = 0; i < THREADS; i++) {
        sts[i] = (storm){&s, i * EACH, EACH, acked, &stop};
        pthread_create(&th[i], NULL, run_storm, &sts[i]);
    }
    usleep(500 * 1000);
    ht_stop(&s, true); /* asserts exit status 0 */
    atomic_store(&stop, true);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    int n_acked = 0;
    for (int i = 0; i < THREADS * EACH; i++) n_acked += atomic_load(&acked[i]);
    counts k = read_counts(&s);
    /* everything acknowledged is stored; nothing stored was left half-done */
    assert_true(k.events >= n_acked);
    assert_int_equal(k.orders, k.sum_customer_orders);
    ht_stop(&s, false);
    free(acked);
}

static void test_serve_refuses_bad_options(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, false);
    /* the second server names what is wrong and exits 2 without starting */
    const char *const bad[][4] = {{"serve", "--max-connections", "lots", NULL},
                                  {"serve", "--max-connections", "0", NULL},
                                  {"serve", "--workers", "0", NULL},
                                  {"serve", "--workers", "lots", NULL},
                                  {"serve", "--otp-per-client-hour", "-1", NULL},
                                  {"serve", "--otp-per-client-hour", "many", NULL},
                                  {"serve", "--log-level", "loud", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = NULL;
        assert_int_equal(ht_cli(&s, &out, bad[i]), 2);
        free(out);
    }
    ht_stop(&s, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_nodes_interleaved),
        cmocka_unit_test(test_serve_refuses_bad_options),
        cmocka_unit_test(test_kill9_keeps_acknowledged),
        cmocka_unit_test(test_sigterm_finishes_in_flight),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
