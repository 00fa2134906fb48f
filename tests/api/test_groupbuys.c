/* test_groupbuys.c - group buys over HTTP with the test clock: a deal, a
 * group started with a share code, joins that hold the price, the N-th join
 * that posts every hold and creates N orders, expiry that voids them and
 * frees the deal's stock, the spreading recorded for the starter; every
 * refusal (not enough points, already joined, full, expired, no stock for
 * another group, paused) names its field and changes nothing; then 30
 * members racing for the 9 free places of a 10-person group. */
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

static int keyseq;

static char *customer(const ht_server *s, const char *phone, const char *name) {
    ht_resp r =
        name ? ht_postf(s, "/v1/customers", "{\"phone\":\"%s\",\"name\":\"%s\"}", phone, name)
             : ht_postf(s, "/v1/customers", "{\"phone\":\"%s\"}", phone);
    if (r.status != 201) fail_msg("customer: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static void give(const ht_server *s, const char *cid, long points) {
    ht_resp r =
        ht_postf(s, "/v1/transfers",
                 "{\"key\":\"give-%d\",\"debit\":\"system:issuance\",\"credit\":\"customer:%s\","
                 "\"amount\":%ld,\"code\":\"adjust\"}",
                 ++keyseq, cid, points);
    if (r.status != 201) fail_msg("give: %ld %s", r.status, r.body);
    ht_free(&r);
}

static void expect_points(const ht_server *s, const char *cid, long long bal, long long avail,
                          long long pending) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/points", cid);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("points: %ld %s", r.status, r.body);
    long long b = ht_int(r.json, "balance"), a = ht_int(r.json, "available"),
              q = ht_int(r.json, "pending");
    ht_free(&r);
    if (b != bal || a != avail || q != pending)
        fail_msg("customer %s: balance/available/pending %lld/%lld/%lld, expected %lld/%lld/%lld",
                 cid, b, a, q, bal, avail, pending);
}

static char *reward(const ht_server *s, long stock) {
    ht_resp r =
        ht_postf(s, "/v1/rewards",
                 "{\"type\":\"physical\",\"name\":{\"zh\":\"电饭煲\",\"en\":\"Rice cooker\"},"
                 "\"price\":{\"points\":900},\"stock\":%ld}",
                 stock);
    if (r.status != 201) fail_msg("reward: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static long long reward_stock(const ht_server *s, const char *rid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/rewards/%s", rid);
    ht_resp r = ht_get(s, p);
    long long n = ht_int(r.json, "stock");
    ht_free(&r);
    return n;
}

static json_t *get_json(const ht_server *s, const char *path) {
    ht_resp r = ht_get(s, path);
    if (r.status != 200) fail_msg("GET %s: %ld %s", path, r.status, r.body);
    json_t *j = json_incref(r.json);
    ht_free(&r);
    return j;
}

static json_t *group(const ht_server *s, const char *code) {
    char p[96];
    snprintf(p, sizeof p, "/v1/groupbuys/groups/%s", code);
    return get_json(s, p);
}

static ht_resp start(const ht_server *s, const char *deal, const char *cid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/groupbuys/%s/groups", deal);
    return ht_postf(s, p, "{\"customer_id\":\"%s\"}", cid);
}

static ht_resp join(const ht_server *s, const char *code, const char *cid) {
    return ht_postf(s, "/v1/groupbuys/join", "{\"code\":\"%s\",\"customer_id\":\"%s\"}", code, cid);
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static int count_events(const ht_server *s, const char *cid, const char *type) {
    char p[128];
    snprintf(p, sizeof p, "/v1/customers/%s/timeline?limit=200", cid);
    json_t *t = get_json(s, p);
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(t, "data"), i, e) {
        if (strcmp(ht_str(e, "type"), type) == 0) n++;
    }
    json_decref(t);
    return n;
}

static void test_lifecycle(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-06-01T08:00:00Z");
    char *rid = reward(&s, 100);
    /* bad deals name the field and create nothing */
    char body[512];
    snprintf(body, sizeof body, "{\"reward_id\":\"%s\",\"group_size\":1,\"price\":200,\"stock\":6}",
             rid);
    ht_resp r = ht_post(&s, "/v1/groupbuys", body);
    ht_expect_problem(&r, 422, "group_size");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"reward_id\":\"%s\",\"group_size\":3,\"price\":200,\"stock\":2}",
             rid);
    r = ht_post(&s, "/v1/groupbuys", body);
    ht_expect_problem(&r, 422, "stock");
    ht_free(&r);
    r = ht_post(&s, "/v1/groupbuys",
                "{\"reward_id\":\"424242\",\"group_size\":3,\"price\":200,\"stock\":6}");
    ht_expect_problem(&r, 422, "reward_id");
    ht_free(&r);
    json_t *l = get_json(&s, "/v1/groupbuys");
    assert_int_equal(json_array_size(json_object_get(l, "data")), 0);
    json_decref(l);

    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"title\":{\"zh\":\"三人团\",\"en\":\"Team of three\"},"
             "\"group_size\":3,\"price\":200,\"fill_s\":3600,\"stock\":6}",
             rid);
    r = ht_post_idem(&s, "/v1/groupbuys", body, "deal-1");
    assert_int_equal(r.status, 201);
    char deal[32];
    snprintf(deal, sizeof deal, "%s", ht_str(r.json, "id"));
    assert_int_equal(ht_int(r.json, "available_groups"), 2);
    ht_free(&r);

    char *a = customer(&s, "13600000001", "陈静"), *b = customer(&s, "13600000002", NULL),
         *c = customer(&s, "13600000003", "刘洋"), *d = customer(&s, "13600000004", "周杰"),
         *e = customer(&s, "13600000005", "吴磊"), *f = customer(&s, "13600000006", "郑爽");
    const char *all[] = {a, b, c, d, e};
    for (int i = 0; i < 5; i++) give(&s, all[i], 1000);
    give(&s, f, 100);

    /* A starts: a share code, A's price held */
    r = start(&s, deal, a);
    assert_int_equal(r.status, 201);
    char code[32];
    snprintf(code, sizeof code, "%s", ht_str(r.json, "code"));
    assert_int_equal(strlen(code), 10);
    assert_int_equal(ht_int(r.json, "joined"), 1);
    assert_int_equal(ht_int(r.json, "remaining"), 2);
    assert_string_equal(ht_str(r.json, "initiator"), "陈**");
    assert_string_equal(ht_str(r.json, "expires_at"), "2026-06-01T09:00:00.000Z");
    ht_free(&r);
    expect_points(&s, a, 1000, 800, 200);

    /* refusals: own group again, not enough points, unknown code */
    r = join(&s, code, a);
    ht_expect_problem(&r, 409, "customer_id");
    ht_free(&r);
    r = join(&s, code, f);
    ht_expect_problem(&r, 409, "amount");
    ht_free(&r);
    r = join(&s, "ZZZZZZZZZZ", b);
    ht_expect_problem(&r, 404, "code");
    ht_free(&r);
    r = ht_post(&s, "/v1/groupbuys/join", "{\"customer_id\":\"1\"}");
    ht_expect_problem(&r, 422, "code");
    ht_free(&r);
    json_t *g = group(&s, code);
    assert_int_equal(ht_int(g, "joined"), 1);
    json_decref(g);
    expect_points(&s, f, 100, 100, 0);

    /* B joins by the code (lower case works too): spreading for A */
    char lower[32];
    for (size_t i = 0; i <= strlen(code); i++)
        lower[i] = (char)(code[i] >= 'A' && code[i] <= 'Z' ? code[i] + 32 : code[i]);
    r = join(&s, lower, b);
    assert_int_equal(r.status, 201);
    assert_false(json_is_true(json_object_get(r.json, "completed")));
    ht_free(&r);
    expect_points(&s, b, 1000, 800, 200);
    assert_int_equal(count_events(&s, a, "share.converted"), 1);
    assert_int_equal(count_events(&s, b, "share.converted"), 0);
    r = join(&s, code, b);
    ht_expect_problem(&r, 409, "customer_id");
    ht_free(&r);

    /* the third join completes it: every hold posts, three orders */
    r = join(&s, code, c);
    assert_int_equal(r.status, 201);
    assert_true(json_is_true(json_object_get(r.json, "completed")));
    json_t *orders = json_object_get(r.json, "orders");
    assert_int_equal(json_array_size(orders), 3);
    char op[96];
    snprintf(op, sizeof op, "/v1/orders/%s", json_string_value(json_array_get(orders, 2)));
    assert_string_equal(ht_str(json_object_get(r.json, "group"), "status"), "completed");
    ht_free(&r);
    json_t *o = get_json(&s, op);
    assert_string_equal(ht_str(o, "source"), "groupbuy");
    assert_int_equal(ht_int(o, "points"), 200);
    json_decref(o);
    expect_points(&s, a, 800, 800, 0);
    expect_points(&s, b, 800, 800, 0);
    expect_points(&s, c, 800, 800, 0);
    assert_int_equal(reward_stock(&s, rid), 97);
    assert_int_equal(count_events(&s, a, "share.converted"), 2);
    g = group(&s, code);
    assert_int_equal(json_array_size(json_object_get(g, "members")), 3);
    assert_string_equal(ht_str(json_array_get(json_object_get(g, "members"), 1), "name"),
                        "136****0002");
    json_decref(g);
    /* full */
    r = join(&s, code, d);
    ht_expect_problem(&r, 409, "code");
    assert_non_null(strstr(ht_str(r.json, "detail"), "full"));
    ht_free(&r);
    expect_points(&s, d, 1000, 1000, 0);

    /* D starts the second group; the stock (6) cannot cover a third */
    r = start(&s, deal, d);
    assert_int_equal(r.status, 201);
    char code2[32];
    snprintf(code2, sizeof code2, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    r = start(&s, deal, e);
    ht_expect_problem(&r, 409, "stock");
    ht_free(&r);
    expect_points(&s, e, 1000, 1000, 0);
    r = join(&s, code2, e);
    assert_int_equal(r.status, 201);
    ht_free(&r);

    /* time runs out: every hold voided, the reservation returns */
    ht_clock_advance(&s, 3600);
    g = group(&s, code2);
    assert_string_equal(ht_str(g, "status"), "expired");
    json_decref(g);
    expect_points(&s, d, 1000, 1000, 0);
    expect_points(&s, e, 1000, 1000, 0);
    r = join(&s, code2, f);
    ht_expect_problem(&r, 409, "code");
    assert_non_null(strstr(ht_str(r.json, "detail"), "expired"));
    ht_free(&r);
    char dp[96];
    snprintf(dp, sizeof dp, "/v1/groupbuys/%s", deal);
    json_t *dj = get_json(&s, dp);
    assert_int_equal(ht_int(dj, "reserved"), 3);
    assert_int_equal(ht_int(dj, "sold"), 3);
    assert_int_equal(ht_int(json_object_get(dj, "groups"), "completed"), 1);
    assert_int_equal(ht_int(json_object_get(dj, "groups"), "expired"), 1);
    json_decref(dj);
    snprintf(dp, sizeof dp, "/v1/groupbuys/%s/groups?status=expired", deal);
    dj = get_json(&s, dp);
    assert_int_equal(json_array_size(json_object_get(dj, "data")), 1);
    json_decref(dj);

    /* paused deals start nothing; resumed, the freed stock starts a group */
    snprintf(dp, sizeof dp, "/v1/groupbuys/%s", deal);
    r = ht_patch(&s, dp, "{\"active\":false}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = start(&s, deal, e);
    ht_expect_problem(&r, 409, "active");
    ht_free(&r);
    r = ht_patch(&s, dp, "{\"stock\":2}"); /* below what groups reserved */
    ht_expect_problem(&r, 409, "stock");
    ht_free(&r);
    r = ht_patch(&s, dp, "{\"active\":true}");
    ht_free(&r);
    r = start(&s, deal, e);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(b);
    free(c);
    free(d);
    free(e);
    free(f);
    free(rid);
}

/* ---- 30 joiners for a 10-person group ---- */

#define JOINERS 30
#define SIZE    10
#define PRICE   100
#define FUNDS   1000

typedef struct joiner {
    const ht_server *s;
    const char *code, *cid;
    int status;
    bool completed;
    int orders;
} joiner;

static void *join_race(void *arg) {
    joiner *j = arg;
    ht_resp r = join(j->s, j->code, j->cid);
    j->status = (int)r.status;
    if (r.status == 201) {
        j->completed = json_is_true(json_object_get(r.json, "completed"));
        j->orders = (int)json_array_size(json_object_get(r.json, "orders"));
    } else if (r.status != 409 || strcmp(ht_str(r.json, "field"), "code") != 0) {
        fprintf(stderr, "join race: %ld %s\n", r.status, r.body);
    }
    ht_free(&r);
    return NULL;
}

static void test_race_thirty_for_ten(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-06-02T08:00:00Z");
    char *rid = reward(&s, 50);
    ht_resp r = ht_postf(&s, "/v1/groupbuys",
                         "{\"reward_id\":\"%s\",\"group_size\":%d,\"price\":%d,\"stock\":%d}", rid,
                         SIZE, PRICE, SIZE);
    assert_int_equal(r.status, 201);
    char deal[32];
    snprintf(deal, sizeof deal, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    char *starter = customer(&s, "13500000000", "团长");
    give(&s, starter, FUNDS);
    r = start(&s, deal, starter);
    assert_int_equal(r.status, 201);
    char code[32];
    snprintf(code, sizeof code, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    char *ids[JOINERS];
    for (int i = 0; i < JOINERS; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1350000%04d", i + 1);
        ids[i] = customer(&s, phone, NULL);
        give(&s, ids[i], FUNDS);
    }
    pthread_t th[JOINERS];
    joiner js[JOINERS];
    for (int i = 0; i < JOINERS; i++) {
        js[i] = (joiner){&s, code, ids[i], 0, false, 0};
        pthread_create(&th[i], NULL, join_race, &js[i]);
    }
    int joined = 0, full = 0, completed = 0;
    for (int i = 0; i < JOINERS; i++) {
        pthread_join(th[i], NULL);
        if (js[i].status == 201) joined++;
        if (js[i].status == 409) full++;
        if (js[i].completed) {
            completed++;
            assert_int_equal(js[i].orders, SIZE);
        }
    }
    fprintf(stderr, "group race (%s): %d joiners, %d joined, %d refused as full\n", ht_store(),
            JOINERS, joined, full);
    /* the starter holds the first place: exactly nine more get in */
    assert_int_equal(joined, SIZE - 1);
    assert_int_equal(full, JOINERS - (SIZE - 1));
    assert_int_equal(completed, 1);
    json_t *g = group(&s, code);
    assert_int_equal(ht_int(g, "joined"), SIZE);
    assert_string_equal(ht_str(g, "status"), "completed");
    json_decref(g);
    expect_points(&s, starter, FUNDS - PRICE, FUNDS - PRICE, 0);
    for (int i = 0; i < JOINERS; i++) {
        long long left = js[i].status == 201 ? FUNDS - PRICE : FUNDS;
        expect_points(&s, ids[i], left, left, 0);
        free(ids[i]);
    }
    assert_int_equal(reward_stock(&s, rid), 50 - SIZE);
    assert_int_equal(count_events(&s, starter, "share.converted"), SIZE - 1);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(starter);
    free(rid);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_race_thirty_for_ten),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
