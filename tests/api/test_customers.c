/* test_customers.c - the customer API over HTTP: create, read, search,
 * patch, identities and conflicts, merges through events, duplicates,
 * export and erase; auth and error shapes. Runs on SQLite and PostgreSQL. */
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

static void test_health_and_openapi(void **state) {
    (void)state;
    ht_resp r = ht_req(&S, "GET", "/v1/health", NULL, "", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "ok");
    assert_string_equal(ht_str(r.json, "store"), ht_store());
    ht_free(&r);
    r = ht_req(&S, "GET", "/v1/openapi.json", NULL, "", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "openapi"), "3.1.0");
    ht_free(&r);
}

static void test_auth(void **state) {
    (void)state;
    ht_resp r = ht_req(&S, "GET", "/v1/customers", NULL, "", NULL);
    ht_expect_problem(&r, 401, "Authorization");
    ht_free(&r);
    r = ht_req(&S, "GET", "/v1/customers", NULL,
               "hd_0000000000_0000000000000000000000000000000000000000", NULL);
    ht_expect_problem(&r, 401, "Authorization");
    ht_free(&r);
    char ro[128];
    const char *scopes[] = {"customers:read", NULL};
    ht_key(&S, scopes, ro, sizeof ro);
    r = ht_req(&S, "GET", "/v1/customers", NULL, ro, NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = ht_req(&S, "POST", "/v1/customers", "{\"name\":\"x\"}", ro, NULL);
    ht_expect_problem(&r, 403, "Authorization");
    ht_free(&r);
    r = ht_req(&S, "POST", "/v1/events", "{}", ro, NULL);
    ht_expect_problem(&r, 403, NULL);
    ht_free(&r);
    /* a revoked key stops at once, though the server had just trusted it */
    r = ht_get(&S, "/v1/apikeys");
    assert_int_equal(r.status, 200);
    json_t *keys = json_object_get(r.json, "data");
    char del[64] = "";
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const char *prefix = ht_str(json_array_get(keys, i), "prefix");
        if (strncmp(ro + 3, prefix, strlen(prefix)) == 0)
            snprintf(del, sizeof del, "/v1/apikeys/%s", ht_str(json_array_get(keys, i), "id"));
    }
    ht_free(&r);
    assert_true(del[0]);
    r = ht_delete(&S, del);
    assert_true(r.status == 200 || r.status == 204);
    ht_free(&r);
    r = ht_req(&S, "GET", "/v1/customers", NULL, ro, NULL);
    ht_expect_problem(&r, 401, "Authorization");
    ht_free(&r);
    /* unknown route and wrong method */
    r = ht_get(&S, "/v1/nothing");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
    r = ht_req(&S, "PUT", "/v1/customers", "{}", NULL, NULL);
    ht_expect_problem(&r, 405, NULL);
    ht_free(&r);
}

static void test_create_get_normalised(void **state) {
    (void)state;
    ht_resp r =
        ht_post(&S, "/v1/customers",
                "{\"name\":\"张伟\",\"city\":\"杭州\",\"phone\":\"138 0013 8000\","
                "\"email\":\"  Zhang.Wei@Example.COM \",\"tags\":[\"vip\",\"老客\"],"
                "\"attributes\":{\"gender\":\"m\",\"birth_year\":1990},"
                "\"consent\":{\"sms\":true,\"email\":{\"granted\":false,\"source\":\"form\"}},"
                "\"specs\":{\"jeans\":{\"waist\":32,\"inseam\":30}}}");
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "phone"), "+8613800138000");
    assert_string_equal(ht_str(r.json, "email"), "zhang.wei@example.com");
    assert_string_equal(ht_str(r.json, "name"), "张伟");
    assert_int_equal(json_array_size(json_object_get(r.json, "tags")), 2);
    assert_true(json_is_true(
        json_object_get(json_object_get(json_object_get(r.json, "consent"), "sms"), "granted")));
    assert_int_equal(ht_int(json_object_get(json_object_get(r.json, "specs"), "jeans"), "waist"),
                     32);
    char id[32];
    snprintf(id, sizeof id, "%s", ht_str(r.json, "id"));
    assert_true(strlen(id) > 10);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/customers/%s", id);
    assert_string_equal(r.location, loc);
    ht_free(&r);

    r = ht_get(&S, loc);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "city"), "杭州");
    ht_free(&r);

    /* the same phone in another spelling is a conflict naming the owner */
    r = ht_post(&S, "/v1/customers", "{\"name\":\"李娜\",\"phone\":\"+86-138-0013-8000\"}");
    ht_expect_problem(&r, 409, "phone");
    assert_string_equal(ht_str(r.json, "existing_id"), id);
    ht_free(&r);
    /* full-width digits normalise the same */
    r = ht_post(&S, "/v1/customers", "{\"phone\":\"１３８００１３８０００\"}");
    ht_expect_problem(&r, 409, "phone");
    ht_free(&r);

    /* search by phone, e-mail, name prefix, tag */
    r = ht_get(&S, "/v1/customers?phone=13800138000");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    ht_free(&r);
    r = ht_get(&S, "/v1/customers?email=ZHANG.WEI@example.com");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    ht_free(&r);
    r = ht_get(&S, "/v1/customers?q=%E5%BC%A0"); /* 张 */
    assert_true(json_array_size(json_object_get(r.json, "data")) >= 1);
    ht_free(&r);
    r = ht_get(&S, "/v1/customers?tag=vip");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    ht_free(&r);
}

static void test_validation_errors(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/customers", "{\"name\": \"x\",");
    ht_expect_problem(&r, 400, NULL);
    assert_non_null(strstr(ht_str(r.json, "detail"), "line 1"));
    ht_free(&r);
    r = ht_post(&S, "/v1/customers", "{\"phone\":\"12345\"}");
    ht_expect_problem(&r, 422, "phone");
    ht_free(&r);
    r = ht_post(&S, "/v1/customers", "{\"email\":\"not-an-email\"}");
    ht_expect_problem(&r, 422, "email");
    ht_free(&r);
    r = ht_post(&S, "/v1/customers", "{\"name\":42}");
    ht_expect_problem(&r, 422, "name");
    ht_free(&r);
    r = ht_post(&S, "/v1/customers", "{\"nickname\":\"x\"}");
    ht_expect_problem(&r, 422, "nickname");
    ht_free(&r);
    r = ht_post(&S, "/v1/customers", "{\"consent\":{\"fax\":true}}");
    ht_expect_problem(&r, 422, "consent.fax");
    ht_free(&r);
    r = ht_post(&S, "/v1/customers", "[1,2]");
    ht_expect_problem(&r, 422, NULL);
    ht_free(&r);
    /* an over-size body is 413 and nothing is written */
    size_t n = 1024 * 1024 + 100;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"name\":\"", 9);
    big[n - 2] = '"';
    big[n - 1] = '}';
    big[n] = '\0';
    r = ht_post(&S, "/v1/customers", big);
    ht_expect_problem(&r, 413, NULL);
    ht_free(&r);
    free(big);
    r = ht_get(&S, "/v1/customers/12345");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
    r = ht_get(&S, "/v1/customers/abc");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
}

static void test_idempotency_key(void **state) {
    (void)state;
    const char *body = "{\"name\":\"王芳\",\"phone\":\"13900000001\"}";
    ht_resp a = ht_post_idem(&S, "/v1/customers", body, "create-wangfang");
    assert_int_equal(a.status, 201);
    ht_resp b = ht_post_idem(&S, "/v1/customers", body, "create-wangfang");
    assert_int_equal(b.status, 201);
    assert_true(b.replayed);
    assert_string_equal(a.body, b.body);
    ht_resp c = ht_post_idem(&S, "/v1/customers", "{\"name\":\"王芳2\"}", "create-wangfang");
    ht_expect_problem(&c, 409, "Idempotency-Key");
    ht_free(&a);
    ht_free(&b);
    ht_free(&c);
    ht_resp s = ht_get(&S, "/v1/customers?phone=13900000001");
    assert_int_equal(json_array_size(json_object_get(s.json, "data")), 1);
    ht_free(&s);
}

static void test_patch(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/customers",
                        "{\"name\":\"刘洋\",\"attributes\":{\"a\":1,\"b\":2},\"tags\":[\"x\"]}");
    char path[64];
    snprintf(path, sizeof path, "/v1/customers/%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_patch(
        &S, path,
        "{\"city\":\"成都\",\"attributes\":{\"b\":null,\"c\":\"三\"},\"tags\":{\"add\":[\"y\"],"
        "\"remove\":[\"x\"]},\"specs\":{\"shoes\":{\"size\":42}},\"email\":\"liu@example.cn\"}");
    assert_int_equal(r.status, 200);
    json_t *attrs = json_object_get(r.json, "attributes");
    assert_int_equal(ht_int(attrs, "a"), 1);
    assert_null(json_object_get(attrs, "b"));
    assert_string_equal(ht_str(attrs, "c"), "三");
    assert_string_equal(ht_str(r.json, "city"), "成都");
    assert_string_equal(ht_str(r.json, "email"), "liu@example.cn");
    json_t *tags = json_object_get(r.json, "tags");
    assert_int_equal(json_array_size(tags), 1);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), "y");
    ht_free(&r);
    r = ht_patch(&S, path, "{\"phone\":\"13800138000\"}"); /* belongs to 张伟 */
    ht_expect_problem(&r, 409, "phone");
    ht_free(&r);
}

static void test_merge_through_event(void **state) {
    (void)state;
    ht_resp a = ht_post(&S, "/v1/customers",
                        "{\"name\":\"陈静\",\"phone\":\"13700000001\",\"tags\":[\"a\"],"
                        "\"attributes\":{\"k\":\"old\",\"keep\":1}}");
    ht_resp b = ht_post(&S, "/v1/customers",
                        "{\"name\":\"陈静\",\"email\":\"chenjing@example.com\",\"tags\":[\"b\"],"
                        "\"attributes\":{\"k\":\"new\"}}");
    char older[32], newer[32];
    snprintf(older, sizeof older, "%s", ht_str(a.json, "id"));
    snprintf(newer, sizeof newer, "%s", ht_str(b.json, "id"));
    ht_free(&a);
    ht_free(&b);
    /* an order on the newer one first */
    char ev[512];
    snprintf(ev, sizeof ev,
             "{\"type\":\"order.paid\",\"customer\":\"%s\",\"properties\":{\"order_id\":\"M-1\","
             "\"amount\":5000}}",
             newer);
    ht_resp e = ht_post(&S, "/v1/events", ev);
    assert_int_equal(e.status, 201);
    ht_free(&e);
    /* an event naming both identities merges them into the older */
    e = ht_post(&S, "/v1/events",
                "{\"type\":\"page.view\",\"customer\":{\"phone\":\"13700000001\",\"email\":"
                "\"chenjing@example.com\"}}");
    assert_int_equal(e.status, 201);
    assert_string_equal(ht_str(e.json, "customer_id"), older);
    ht_free(&e);
    char path[64];
    snprintf(path, sizeof path, "/v1/customers/%s", older);
    ht_resp c = ht_get(&S, path);
    assert_int_equal(c.status, 200);
    assert_string_equal(ht_str(json_object_get(c.json, "attributes"), "k"), "new");
    assert_int_equal(ht_int(json_object_get(c.json, "attributes"), "keep"), 1);
    assert_int_equal(json_array_size(json_object_get(c.json, "tags")), 2);
    assert_string_equal(ht_str(c.json, "email"), "chenjing@example.com");
    json_t *stats = json_object_get(c.json, "stats");
    assert_int_equal(ht_int(stats, "orders"), 1);
    assert_int_equal(ht_int(stats, "revenue"), 5000);
    assert_int_equal(ht_int(stats, "events"), 2);
    ht_free(&c);
    /* the merged id answers 301 with the survivor */
    snprintf(path, sizeof path, "/v1/customers/%s", newer);
    c = ht_get(&S, path);
    assert_int_equal(c.status, 301);
    assert_string_equal(ht_str(c.json, "merged_into"), older);
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/customers/%s", older);
    assert_string_equal(c.location, loc);
    ht_free(&c);
    /* the export lists the merge */
    snprintf(path, sizeof path, "/v1/customers/%s/export", older);
    c = ht_get(&S, path);
    assert_int_equal(c.status, 200);
    assert_int_equal(json_array_size(json_object_get(c.json, "merges")), 1);
    assert_int_equal(json_array_size(json_object_get(c.json, "orders")), 1);
    ht_free(&c);
}

static void test_duplicates_and_erase(void **state) {
    (void)state;
    ht_resp a = ht_post(&S, "/v1/customers", "{\"name\":\"赵敏\",\"city\":\"西安\"}");
    ht_resp b = ht_post(&S, "/v1/customers", "{\"name\":\" 赵敏 \",\"city\":\"西安\"}");
    char ida[32];
    snprintf(ida, sizeof ida, "%s", ht_str(a.json, "id"));
    ht_free(&a);
    ht_free(&b);
    ht_resp d = ht_get(&S, "/v1/customers/duplicates");
    assert_int_equal(d.status, 200);
    json_t *data = json_object_get(d.json, "data");
    bool found = false;
    size_t i;
    json_t *g;
    json_array_foreach(data, i, g) {
        if (strstr(ht_str(g, "reason"), "赵敏")) {
            found = true;
            assert_int_equal(json_array_size(json_object_get(g, "customers")), 2);
        }
    }
    assert_true(found);
    ht_free(&d);
    char path[64];
    snprintf(path, sizeof path, "/v1/customers/%s", ida);
    ht_resp p = ht_patch(&S, path, "{\"phone\":\"13600000009\"}");
    ht_free(&p);
    ht_resp x = ht_delete(&S, path);
    assert_int_equal(x.status, 204);
    ht_free(&x);
    x = ht_get(&S, path);
    assert_int_equal(x.status, 200);
    assert_string_equal(ht_str(x.json, "name"), "");
    assert_true(json_is_null(json_object_get(x.json, "phone")));
    assert_non_null(json_object_get(x.json, "erased_at"));
    ht_free(&x);
    /* the erased phone no longer finds anyone and can be used again */
    x = ht_get(&S, "/v1/customers?phone=13600000009");
    assert_int_equal(json_array_size(json_object_get(x.json, "data")), 0);
    ht_free(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_health_and_openapi),    cmocka_unit_test(test_auth),
        cmocka_unit_test(test_create_get_normalised), cmocka_unit_test(test_validation_errors),
        cmocka_unit_test(test_idempotency_key),       cmocka_unit_test(test_patch),
        cmocka_unit_test(test_merge_through_event),   cmocka_unit_test(test_duplicates_and_erase),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, setup, teardown);
}
