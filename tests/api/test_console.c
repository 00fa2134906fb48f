/* test_console.c - the console's own endpoints over HTTP: the overview's
 * counts and daily trend, merging two customers from the duplicates list
 * (and what it refuses), and a segment condition previewed before saving.
 * Runs on SQLite and PostgreSQL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/harness.h"

static ht_server S;

static int setup(void **state) {
    (void)state;
    ht_start(&S, true);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_stop(&S, false);
    return 0;
}

static void new_customer(const char *body, char *id, size_t cap) {
    ht_resp r = ht_post(&S, "/v1/customers", body);
    assert_int_equal(r.status, 201);
    snprintf(id, cap, "%s", ht_str(r.json, "id"));
    ht_free(&r);
}

static void test_overview(void **state) {
    (void)state;
    /* 17:00Z on 3 March is 01:00 on the 4th in Beijing: the trend's days are the brand's */
    ht_clock_to(&S, "2026-03-03T17:00:00Z");
    ht_resp r = ht_post(&S, "/v1/events",
                        "{\"type\":\"order.paid\",\"customer\":{\"phone\":\"13900000001\","
                        "\"name\":\"王芳\",\"city\":\"杭州\"},\"properties\":{\"order_id\":"
                        "\"C-1\",\"amount\":25000}}");
    assert_true(r.status == 200 || r.status == 201 || r.status == 202);
    ht_free(&r);
    r = ht_get(&S, "/v1/console/overview?days=7");
    assert_int_equal(r.status, 200);
    assert_true(ht_int(r.json, "members") >= 1);
    assert_int_equal(ht_int(r.json, "orders"), 1);
    assert_int_equal(ht_int(r.json, "revenue"), 25000);
    assert_int_equal(ht_int(r.json, "orders_30d"), 1);
    json_t *trend = json_object_get(r.json, "trend");
    assert_int_equal(json_array_size(trend), 7);
    /* the order lands in exactly one day, the last */
    long long orders = 0, revenue = 0;
    for (size_t i = 0; i < json_array_size(trend); i++) {
        orders += ht_int(json_array_get(trend, i), "orders");
        revenue += ht_int(json_array_get(trend, i), "revenue");
    }
    assert_int_equal(orders, 1);
    assert_int_equal(revenue, 25000);
    assert_int_equal(ht_int(json_array_get(trend, 6), "orders"), 1);
    assert_string_equal(ht_str(json_array_get(trend, 6), "date"), "2026-03-04");
    assert_string_equal(ht_str(json_array_get(trend, 0), "date"), "2026-02-26");
    assert_string_equal(ht_str(r.json, "to"), "2026-03-04T16:00:00.000Z");
    ht_free(&r);
    r = ht_get(&S, "/v1/console/overview?days=0");
    ht_expect_problem(&r, 400, "days");
    ht_free(&r);
    r = ht_get(&S, "/v1/console/overview?days=abc");
    ht_expect_problem(&r, 400, "days");
    ht_free(&r);
}

static void test_merge(void **state) {
    (void)state;
    char a[32], b[32], body[256], path[64];
    new_customer("{\"name\":\"李雷\",\"phone\":\"13900000011\"}", a, sizeof a);
    new_customer("{\"name\":\"李雷 (dup)\",\"email\":\"lilei@example.com\"}", b, sizeof b);

    ht_resp r = ht_post(&S, "/v1/customers/merge", "{\"survivor\":1}");
    ht_expect_problem(&r, 422, "merged");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"survivor\":%s,\"merged\":%s}", a, a);
    r = ht_post(&S, "/v1/customers/merge", body);
    ht_expect_problem(&r, 422, "merged");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"survivor\":%s,\"merged\":%s,\"colour\":1}", a, b);
    r = ht_post(&S, "/v1/customers/merge", body);
    ht_expect_problem(&r, 422, "colour");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"survivor\":%s,\"merged\":987654321}", a);
    r = ht_post(&S, "/v1/customers/merge", body);
    ht_expect_problem(&r, 404, "merged");
    ht_free(&r);

    snprintf(body, sizeof body, "{\"survivor\":%s,\"merged\":%s,\"reason\":\"same person\"}", a, b);
    r = ht_post(&S, "/v1/customers/merge", body);
    assert_int_equal(r.status, 200);
    json_t *surv = json_object_get(r.json, "survivor");
    assert_string_equal(ht_str(surv, "id"), a);
    assert_string_equal(ht_str(surv, "email"), "lilei@example.com");
    assert_string_equal(ht_str(r.json, "merged_id"), b);
    ht_free(&r);
    /* the merged id now points at the survivor, which has both identities */
    snprintf(path, sizeof path, "/v1/customers/%s", b);
    r = ht_get(&S, path);
    assert_int_equal(r.status, 301);
    assert_string_equal(ht_str(r.json, "merged_into"), a);
    ht_free(&r);
    r = ht_get(&S, "/v1/customers?email=lilei@example.com");
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "data");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(ht_str(json_array_get(items, 0), "id"), a);
    ht_free(&r);
    /* again, or the other way round: they are one already */
    r = ht_post(&S, "/v1/customers/merge", body);
    ht_expect_problem(&r, 409, "merged");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"survivor\":%s,\"merged\":%s}", b, a);
    r = ht_post(&S, "/v1/customers/merge", body);
    ht_expect_problem(&r, 409, "merged");
    ht_free(&r);
}

static void test_segment_preview(void **state) {
    (void)state;
    char id[32];
    new_customer("{\"name\":\"赵敏\",\"city\":\"苏州\",\"phone\":\"13900000021\"}", id, sizeof id);
    new_customer("{\"name\":\"周芷若\",\"city\":\"苏州\",\"phone\":\"13900000022\"}", id,
                 sizeof id);
    ht_resp r = ht_get(&S, "/v1/console/segments/preview?expression=customer.city%20%3D%3D%20%22"
                           "%E8%8B%8F%E5%B7%9E%22");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "count"), 2);
    json_t *sample = json_object_get(r.json, "sample");
    assert_int_equal(json_array_size(sample), 2);
    assert_string_equal(ht_str(json_array_get(sample, 0), "city"), "苏州");
    ht_free(&r);
    /* a syntax error says where it is */
    r = ht_get(&S, "/v1/console/segments/preview?expression=customer.city%20%3D%3D");
    ht_expect_problem(&r, 400, "expression");
    assert_true(ht_int(r.json, "column") > 0);
    ht_free(&r);
    r = ht_get(&S, "/v1/console/segments/preview");
    ht_expect_problem(&r, 422, "expression");
    ht_free(&r);
}

static void test_permissions(void **state) {
    (void)state;
    char ro[128];
    const char *scopes[] = {"analytics:read", NULL};
    ht_key(&S, scopes, ro, sizeof ro);
    ht_resp r = ht_req(&S, "GET", "/v1/console/permissions", NULL, ro, NULL);
    assert_int_equal(r.status, 200);
    json_t *allows = json_object_get(r.json, "allows");
    assert_true(json_is_true(json_object_get(allows, "analytics:read")));
    assert_true(json_is_false(json_object_get(allows, "customers:write")));
    ht_free(&r);
    /* and the router agrees with what it was told */
    r = ht_req(&S, "POST", "/v1/customers/merge", "{\"survivor\":1,\"merged\":2}", ro, NULL);
    ht_expect_problem(&r, 403, NULL);
    ht_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_overview),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_segment_preview),
        cmocka_unit_test(test_permissions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
