/* test_events.c - events and orders over HTTP: processing, counters, keys,
 * batches with per-item results, refunds, the timeline, touchpoints and
 * their report, the test clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/harness.h"
#include "base/buf.h"

static ht_server S;

static int setup(void **state) {
    (void)state;
    ht_start(&S, true);
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-03-01T00:00:00Z\"}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_stop(&S, false);
    return 0;
}

static json_t *customer(const char *id) {
    char p[64];
    snprintf(p, sizeof p, "/v1/customers/%s", id);
    ht_resp r = ht_get(&S, p);
    assert_int_equal(r.status, 200);
    json_t *j = json_incref(r.json);
    ht_free(&r);
    return j;
}

static void test_event_creates_customer_and_counts(void **state) {
    (void)state;
    ht_resp r =
        ht_post(&S, "/v1/events",
                "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15000000001\",\"name\":"
                "\"孙丽\"},\"touchpoint\":\"wechat\",\"occurred_at\":\"2026-02-01T10:00:00+08:00\","
                "\"properties\":{\"order_id\":\"A-1\",\"amount\":12900,\"lines\":[{\"sku\":"
                "\"J-01\",\"category\":\"jeans\",\"qty\":1,\"amount\":12900}]},\"key\":\"ev-1\"}");
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "status"), "created");
    assert_true(json_is_true(json_object_get(r.json, "customer_created")));
    char cid[32], eid[32];
    snprintf(cid, sizeof cid, "%s", ht_str(r.json, "customer_id"));
    snprintf(eid, sizeof eid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    /* the same key again: the first result, nothing counted twice */
    r = ht_post(&S, "/v1/events",
                "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15000000001\"},"
                "\"properties\":{\"order_id\":\"A-1\",\"amount\":12900},\"key\":\"ev-1\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "duplicate");
    assert_string_equal(ht_str(r.json, "id"), eid);
    ht_free(&r);
    json_t *c = customer(cid);
    assert_string_equal(ht_str(c, "name"), "孙丽");
    json_t *st = json_object_get(c, "stats");
    assert_int_equal(ht_int(st, "orders"), 1);
    assert_int_equal(ht_int(st, "revenue"), 12900);
    assert_int_equal(ht_int(st, "events"), 1);
    assert_string_equal(ht_str(st, "first_seen"), "2026-02-01T02:00:00.000Z");
    json_decref(c);
    /* the same order id in a new event is a conflict */
    r = ht_post(&S, "/v1/events",
                "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15000000001\"},"
                "\"properties\":{\"order_id\":\"A-1\",\"amount\":1}}");
    ht_expect_problem(&r, 409, "properties.order_id");
    ht_free(&r);
    /* a refund reverses the order */
    r = ht_post(&S, "/v1/events",
                "{\"type\":\"order.refunded\",\"customer\":{\"phone\":\"15000000001\"},"
                "\"properties\":{\"order_id\":\"A-1\"}}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    c = customer(cid);
    st = json_object_get(c, "stats");
    assert_int_equal(ht_int(st, "orders"), 0);
    assert_int_equal(ht_int(st, "revenue"), 0);
    json_decref(c);
    r = ht_post(&S, "/v1/events",
                "{\"type\":\"order.refunded\",\"customer\":{\"phone\":\"15000000001\"},"
                "\"properties\":{\"order_id\":\"A-1\"}}");
    ht_expect_problem(&r, 409, "properties.order_id");
    ht_free(&r);
    r = ht_post(&S, "/v1/events",
                "{\"type\":\"order.refunded\",\"customer\":{\"phone\":\"15000000001\"},"
                "\"properties\":{\"order_id\":\"NOPE\"}}");
    ht_expect_problem(&r, 422, "properties.order_id");
    ht_free(&r);
}

static void test_event_validation(void **state) {
    (void)state;
    static const struct {
        const char *body;
        const char *field;
        long status;
    } cases[] = {
        {"{\"customer\":{\"phone\":\"15000000002\"}}", "type", 422},
        {"{\"type\":\"Order Paid\",\"customer\":{\"phone\":\"15000000002\"}}", "type", 422},
        {"{\"type\":\"x\"}", "customer", 422},
        {"{\"type\":\"x\",\"customer\":{}}", "customer", 422},
        {"{\"type\":\"x\",\"customer\":{\"phone\":\"abc\"}}", "customer.phone", 422},
        {"{\"type\":\"x\",\"customer\":\"999\"}", "customer", 422},
        {"{\"type\":\"x\",\"customer\":{\"phone\":\"15000000002\"},\"occurred_at\":\"yesterday\"}",
         "occurred_at", 422},
        {"{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15000000002\"},\"properties\":{"
         "\"amount\":5}}",
         "properties.order_id", 422},
        {"{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15000000002\"},\"properties\":{"
         "\"order_id\":\"B\",\"amount\":-5}}",
         "properties.amount", 422},
        {"{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15000000002\"},\"properties\":{"
         "\"order_id\":\"B\",\"amount\":5,\"lines\":[{\"sku\":\"s\",\"amount\":\"5\"}]}}",
         "properties.lines[0].amount", 422},
        {"{\"type\":\"x\",\"customer\":{\"phone\":\"15000000002\"},\"extra\":1}", "extra", 422},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ht_resp r = ht_post(&S, "/v1/events", cases[i].body);
        ht_expect_problem(&r, cases[i].status, cases[i].field);
        ht_free(&r);
    }
    /* nothing above was written: the phone is unknown */
    ht_resp r = ht_get(&S, "/v1/customers?phone=15000000002");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
}

static void test_batch_results_in_order(void **state) {
    (void)state;
    hd_buf b = HD_BUF_INIT;
    hd_buf_puts(&b, "{\"events\":[");
    for (int i = 0; i < 300; i++) {
        if (i) hd_buf_putc(&b, ',');
        if (i == 7)
            hd_buf_puts(&b, "{\"type\":\"bad type\",\"customer\":{\"phone\":\"15100000000\"}}");
        else if (i == 8) /* refund of an unknown order fails alone */
            hd_buf_puts(&b, "{\"type\":\"order.refunded\",\"customer\":{\"phone\":\"15100000000\"},"
                            "\"properties\":{\"order_id\":\"none\"}}");
        else
            hd_buf_printf(&b,
                          "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"151%08d\"},\"key\":"
                          "\"b-%d\",\"touchpoint\":\"web\",\"properties\":{\"order_id\":\"BO-%d\","
                          "\"amount\":%d}}",
                          i % 50, i, i, 100 + i);
    }
    hd_buf_puts(&b, "]}");
    ht_resp r = ht_post(&S, "/v1/events/batch", b.data);
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "created"), 298);
    assert_int_equal(ht_int(r.json, "failed"), 2);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(json_array_size(res), 300);
    for (int i = 0; i < 300; i++) assert_int_equal(ht_int(json_array_get(res, i), "index"), i);
    json_t *bad = json_array_get(res, 7);
    assert_int_equal(ht_int(bad, "status"), 422);
    assert_string_equal(ht_str(json_object_get(bad, "error"), "field"), "events[7].type");
    assert_int_equal(ht_int(json_array_get(res, 8), "status"), 422);
    ht_free(&r);
    /* replaying the batch duplicates every good event and creates nothing */
    r = ht_post(&S, "/v1/events/batch", b.data);
    assert_int_equal(ht_int(r.json, "created"), 0);
    assert_int_equal(ht_int(r.json, "duplicates"), 298);
    ht_free(&r);
    /* 50 distinct customers; customer 151...01 has orders 1,51,101,...,251 */
    r = ht_get(&S, "/v1/customers?phone=15100000001");
    json_t *c = json_array_get(json_object_get(r.json, "data"), 0);
    json_t *st = json_object_get(c, "stats");
    assert_int_equal(ht_int(st, "orders"), 6);
    assert_int_equal(ht_int(st, "revenue"), 101 + 151 + 201 + 251 + 301 + 351);
    ht_free(&r);
    hd_buf_free(&b);
    r = ht_post(&S, "/v1/events/batch", "{\"events\":[]}");
    ht_expect_problem(&r, 422, "events");
    ht_free(&r);
}

static void test_timeline_pages(void **state) {
    (void)state;
    char cid[32] = "";
    for (int i = 0; i < 25; i++) {
        char ev[300];
        snprintf(ev, sizeof ev,
                 "{\"type\":\"page.view\",\"customer\":{\"email\":\"tl@example.com\"},"
                 "\"occurred_at\":\"2026-01-%02dT12:00:00Z\",\"properties\":{\"n\":%d}}",
                 1 + i, i);
        ht_resp r = ht_post(&S, "/v1/events", ev);
        assert_int_equal(r.status, 201);
        snprintf(cid, sizeof cid, "%s", ht_str(r.json, "customer_id"));
        ht_free(&r);
    }
    char path[200];
    snprintf(path, sizeof path, "/v1/customers/%s/timeline?limit=10", cid);
    int seen = 0, last_n = 100;
    for (int page = 0; page < 5; page++) {
        ht_resp r = ht_get(&S, path);
        assert_int_equal(r.status, 200);
        json_t *data = json_object_get(r.json, "data");
        size_t i;
        json_t *e;
        json_array_foreach(data, i, e) {
            int n = (int)ht_int(json_object_get(e, "properties"), "n");
            assert_true(n < last_n); /* newest first, no repeats */
            last_n = n;
            seen++;
        }
        const char *next = json_string_value(json_object_get(r.json, "next_cursor"));
        if (!next) {
            ht_free(&r);
            break;
        }
        snprintf(path, sizeof path, "/v1/customers/%s/timeline?limit=10&cursor=%s", cid, next);
        ht_free(&r);
    }
    assert_int_equal(seen, 25);
    snprintf(path, sizeof path, "/v1/customers/%s/timeline?cursor=zzz", cid);
    ht_resp r = ht_get(&S, path);
    ht_expect_problem(&r, 422, "cursor");
    ht_free(&r);
}

static void test_touchpoints_report(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/touchpoints",
                        "{\"code\":\"wechat\",\"name\":\"微信服务号\",\"channel\":\"wechat\","
                        "\"purpose\":\"marketing\",\"cost_month\":100000}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_post(
        &S, "/v1/touchpoints",
        "{\"code\":\"store\",\"name\":\"门店\",\"channel\":\"store\",\"purpose\":\"service\","
        "\"cost_month\":0}");
    assert_int_equal(r.status, 201);
    char sid[32];
    snprintf(sid, sizeof sid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_post(
        &S, "/v1/touchpoints",
        "{\"code\":\"wechat\",\"name\":\"x\",\"channel\":\"wechat\",\"purpose\":\"service\"}");
    ht_expect_problem(&r, 409, "code");
    ht_free(&r);
    r = ht_post(&S, "/v1/touchpoints",
                "{\"code\":\"x\",\"name\":\"x\",\"channel\":\"fax\",\"purpose\":\"service\"}");
    ht_expect_problem(&r, 422, "channel");
    ht_free(&r);
    /* a view on wechat, then an order without a touchpoint 2 days later:
     * attributed to wechat; an order 10 days after a store visit: not attributed */
    const char *evs[] = {
        "{\"type\":\"page.view\",\"touchpoint\":\"wechat\",\"customer\":{\"phone\":\"15200000001\"}"
        ","
        "\"occurred_at\":\"2026-02-10T00:00:00Z\"}",
        "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15200000001\"},\"occurred_at\":"
        "\"2026-02-12T00:00:00Z\",\"properties\":{\"order_id\":\"T-1\",\"amount\":30000}}",
        "{\"type\":\"checkin\",\"touchpoint\":\"store\",\"customer\":{\"phone\":\"15200000002\"},"
        "\"occurred_at\":\"2026-02-01T00:00:00Z\"}",
        "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"15200000002\"},\"occurred_at\":"
        "\"2026-02-11T00:00:00Z\",\"properties\":{\"order_id\":\"T-2\",\"amount\":7000}}",
        "{\"type\":\"order.paid\",\"touchpoint\":\"store\",\"customer\":{\"phone\":\"15200000003\"}"
        ","
        "\"occurred_at\":\"2026-02-15T00:00:00Z\",\"properties\":{\"order_id\":\"T-3\",\"amount\":"
        "5000}}",
        NULL};
    for (int i = 0; evs[i]; i++) {
        r = ht_post(&S, "/v1/events", evs[i]);
        assert_int_equal(r.status, 201);
        ht_free(&r);
    }
    r = ht_get(&S, "/v1/touchpoints/report?from=2026-02-01&to=2026-03-01");
    assert_int_equal(r.status, 200);
    json_t *data = json_object_get(r.json, "data");
    assert_int_equal(json_array_size(data), 2);
    json_t *first = json_array_get(data, 0);
    assert_string_equal(ht_str(first, "code"), "wechat"); /* the only one with a cost ranks first */
    assert_int_equal(ht_int(first, "orders"), 1);
    assert_int_equal(ht_int(first, "revenue"), 30000);
    /* two customers met us on wechat in February: the view, and the (refunded) first order */
    assert_int_equal(ht_int(first, "customers"), 2);
    assert_int_equal(ht_int(first, "events"), 2);
    json_t *store = json_array_get(data, 1);
    assert_int_equal(ht_int(store, "orders"), 1);
    assert_int_equal(ht_int(store, "revenue"), 5000);
    ht_free(&r);
    char path[64];
    snprintf(path, sizeof path, "/v1/touchpoints/%s", sid);
    r = ht_patch(&S, path, "{\"cost_month\":2000}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "cost_month"), 2000);
    ht_free(&r);
    r = ht_delete(&S, path);
    assert_int_equal(r.status, 204);
    ht_free(&r);
    r = ht_get(&S, path);
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
}

static void test_clock_moves(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":86400}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "now"), "2026-03-02T00:00:00.000Z");
    ht_free(&r);
    r = ht_post(&S, "/v1/events", "{\"type\":\"follow\",\"customer\":{\"phone\":\"15300000001\"}}");
    char p[64];
    snprintf(p, sizeof p, "/v1/customers/%s", ht_str(r.json, "customer_id"));
    ht_free(&r);
    r = ht_get(&S, p);
    assert_string_equal(ht_str(json_object_get(r.json, "stats"), "last_seen"),
                        "2026-03-02T00:00:00.000Z");
    ht_free(&r);
    r = ht_post(&S, "/v1/test/clock", "{\"now\":\"never\"}");
    ht_expect_problem(&r, 422, "now");
    ht_free(&r);
}

/* ---- many clients at once ----
 * Each request's write waits for its group commit on no thread of its own
 * (the embedded store) or on a worker (PostgreSQL): either way every client
 * gets its own answer, in full, and the counters add up. On the embedded
 * store the polling threads use poll(2) up to 2,048 allowed connections and
 * epoll past them: the test runs against both. */

#define MC_THREADS   32
#define MC_EVENTS    16
#define MC_CUSTOMERS 8

typedef struct mc_client {
    ht_server *srv;
    int t;
    int status[MC_EVENTS];  /* each event's answer */
    char id[MC_EVENTS][24]; /* ... and the event id it named */
    int dup_status, bad_status, batch_status;
    char dup_id[24], bad_field[64];
    int batch_created;
} mc_client;

static void mc_phone(int t, char *out, size_t cap) {
    snprintf(out, cap, "1590000%04d", t % MC_CUSTOMERS);
}

static void *mc_run(void *arg) {
    mc_client *m = arg;
    char phone[16], body[512];
    mc_phone(m->t, phone, sizeof phone);
    for (int i = 0; i < MC_EVENTS; i++) {
        if (i % 4 == 0)
            snprintf(
                body, sizeof body,
                "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"%s\"},\"key\":\"mc-%d-%d\","
                "\"properties\":{\"order_id\":\"MC-%d-%d\",\"amount\":%d}}",
                phone, m->t, i, m->t, i, 100 + m->t);
        else
            snprintf(body, sizeof body,
                     "{\"type\":\"page.view\",\"customer\":{\"phone\":\"%s\"},\"key\":\"mc-%d-%d\","
                     "\"properties\":{\"page\":\"/p/%d\"}}",
                     phone, m->t, i, i);
        ht_resp r = ht_req_soft(m->srv, "POST", "/v1/events", body);
        m->status[i] = (int)r.status;
        const char *id = r.json ? json_string_value(json_object_get(r.json, "id")) : NULL;
        snprintf(m->id[i], sizeof m->id[i], "%s", id ? id : "");
        ht_free(&r);
        if (i == MC_EVENTS / 2) { /* a batch among the single events */
            snprintf(body, sizeof body,
                     "{\"events\":[{\"type\":\"app.open\",\"customer\":{\"phone\":\"%s\"},"
                     "\"key\":\"mcb-%d-0\"},{\"type\":\"app.open\",\"customer\":{\"phone\":\"%s\"},"
                     "\"key\":\"mcb-%d-1\"}]}",
                     phone, m->t, phone, m->t);
            r = ht_req_soft(m->srv, "POST", "/v1/events/batch", body);
            m->batch_status = (int)r.status;
            m->batch_created =
                r.json ? (int)json_integer_value(json_object_get(r.json, "created")) : -1;
            ht_free(&r);
        }
    }
    /* the first event again: its first answer, nothing counted twice */
    snprintf(body, sizeof body,
             "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"%s\"},\"key\":\"mc-%d-0\","
             "\"properties\":{\"order_id\":\"MC-%d-0\",\"amount\":%d}}",
             phone, m->t, m->t, 100 + m->t);
    ht_resp r = ht_req_soft(m->srv, "POST", "/v1/events", body);
    m->dup_status = (int)r.status;
    const char *id = r.json ? json_string_value(json_object_get(r.json, "id")) : NULL;
    snprintf(m->dup_id, sizeof m->dup_id, "%s", id ? id : "");
    ht_free(&r);
    /* and one the server refuses before it queues anything */
    r = ht_req_soft(m->srv, "POST", "/v1/events", "{\"type\":\"page.view\",\"customer\":{}}");
    m->bad_status = (int)r.status;
    const char *f = r.json ? json_string_value(json_object_get(r.json, "field")) : NULL;
    snprintf(m->bad_field, sizeof m->bad_field, "%s", f ? f : "");
    ht_free(&r);
    return NULL;
}

static int cmp_str(const void *a, const void *b) { return strcmp(a, b); }

static void many_clients(ht_server *srv) {
    static mc_client m[MC_THREADS];
    pthread_t th[MC_THREADS];
    for (int t = 0; t < MC_THREADS; t++) {
        memset(&m[t], 0, sizeof m[t]);
        m[t].srv = srv;
        m[t].t = t;
        assert_int_equal(pthread_create(&th[t], NULL, mc_run, &m[t]), 0);
    }
    for (int t = 0; t < MC_THREADS; t++) pthread_join(th[t], NULL);
    static char ids[MC_THREADS * MC_EVENTS][24];
    int n = 0;
    long long want_events[MC_CUSTOMERS] = {0}, want_orders[MC_CUSTOMERS] = {0},
              want_revenue[MC_CUSTOMERS] = {0};
    for (int t = 0; t < MC_THREADS; t++) {
        for (int i = 0; i < MC_EVENTS; i++) {
            assert_int_equal(m[t].status[i], 201);
            assert_true(m[t].id[i][0]);
            memcpy(ids[n++], m[t].id[i], sizeof ids[0]);
        }
        assert_int_equal(m[t].batch_status, 200);
        assert_int_equal(m[t].batch_created, 2);
        assert_int_equal(m[t].dup_status, 200);
        assert_string_equal(m[t].dup_id, m[t].id[0]);
        assert_int_equal(m[t].bad_status, 422);
        assert_string_equal(m[t].bad_field, "customer");
        int c = t % MC_CUSTOMERS;
        want_events[c] += MC_EVENTS + 2;
        want_orders[c] += MC_EVENTS / 4;
        want_revenue[c] += (MC_EVENTS / 4) * (100 + t);
    }
    /* every answer named an event of its own */
    qsort(ids, (size_t)n, sizeof ids[0], cmp_str);
    for (int i = 1; i < n; i++) assert_string_not_equal(ids[i - 1], ids[i]);
    for (int c = 0; c < MC_CUSTOMERS; c++) {
        char phone[16], path[64];
        mc_phone(c, phone, sizeof phone);
        snprintf(path, sizeof path, "/v1/customers?phone=%s", phone);
        ht_resp r = ht_get(srv, path);
        assert_int_equal(r.status, 200);
        json_t *data = json_object_get(r.json, "data");
        assert_int_equal(json_array_size(data), 1);
        json_t *st = json_object_get(json_array_get(data, 0), "stats");
        assert_int_equal(ht_int(st, "events"), want_events[c]);
        assert_int_equal(ht_int(st, "orders"), want_orders[c]);
        assert_int_equal(ht_int(st, "revenue"), want_revenue[c]);
        ht_free(&r);
    }
}

static void test_many_clients_at_once(void **state) {
    (void)state;
    many_clients(&S);
}

static void test_many_clients_epoll(void **state) {
    (void)state;
    ht_server e;
    setenv("HUDONG_MAX_CONNECTIONS", "4096", 1);
    ht_start(&e, false);
    unsetenv("HUDONG_MAX_CONNECTIONS");
    many_clients(&e);
    ht_stop(&e, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_creates_customer_and_counts),
        cmocka_unit_test(test_event_validation),
        cmocka_unit_test(test_batch_results_in_order),
        cmocka_unit_test(test_timeline_pages),
        cmocka_unit_test(test_touchpoints_report),
        cmocka_unit_test(test_clock_moves),
        cmocka_unit_test(test_many_clients_at_once),
        cmocka_unit_test(test_many_clients_epoll),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, setup, teardown);
}
