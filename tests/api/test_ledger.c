/* test_ledger.c - points over HTTP: transfers and their idempotency keys,
 * holds posted, voided and timed out, batches (independent and linked),
 * balances, lots and expiry with the test clock, the programme, and
 * `hudong check`; then many clients racing on shared accounts across two
 * server processes, and a kill -9 in the middle of a transfer storm. */
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
#include "base/buf.h"

static char *new_customer(const ht_server *s, const char *phone) {
    char body[128];
    snprintf(body, sizeof body, "{\"phone\":\"%s\"}", phone);
    ht_resp r = ht_post(s, "/v1/customers", body);
    if (r.status != 201) fail_msg("create customer: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static ht_resp xfer(const ht_server *s, const char *key, const char *debit, const char *credit,
                    long amount, const char *extra) {
    char body[512];
    snprintf(body, sizeof body,
             "{\"key\":\"%s\",\"debit\":\"%s\",\"credit\":\"%s\",\"amount\":%ld,\"code\":"
             "\"adjust\"%s%s}",
             key, debit, credit, amount, extra ? "," : "", extra ? extra : "");
    return ht_post(s, "/v1/transfers", body);
}

static json_t *points(const ht_server *s, const char *cid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/points", cid);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("points: %ld %s", r.status, r.body);
    json_t *j = json_incref(r.json);
    ht_free(&r);
    return j;
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static void test_transfers_holds_and_errors(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    char *a = new_customer(&s, "13811110001"), *b = new_customer(&s, "13811110002");
    char acc_a[64], acc_b[64];
    snprintf(acc_a, sizeof acc_a, "customer:%s", a);
    snprintf(acc_b, sizeof acc_b, "customer:%s", b);
    ht_resp r = xfer(&s, "t1", "system:issuance", acc_a, 1000, NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "status"), "posted");
    char t1[32];
    snprintf(t1, sizeof t1, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    /* same key, same transfer: the same answer; other fields: 409 */
    r = xfer(&s, "t1", "system:issuance", acc_a, 1000, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "id"), t1);
    ht_free(&r);
    r = xfer(&s, "t1", "system:issuance", acc_a, 999, NULL);
    ht_expect_problem(&r, 409, "key");
    ht_free(&r);
    /* not enough points: 409 naming the amount, nothing moves */
    r = xfer(&s, "t2", acc_a, acc_b, 1001, NULL);
    ht_expect_problem(&r, 409, "amount");
    assert_non_null(strstr(ht_str(r.json, "detail"), "insufficient"));
    ht_free(&r);
    /* amounts past 32 bits, too (PostgreSQL once read them as integer when undoing a credit) */
    r = xfer(&s, "t2big", acc_a, acc_b, 6000000000L, NULL);
    ht_expect_problem(&r, 409, "amount");
    ht_free(&r);
    /* bad input names the field */
    r = xfer(&s, "t3", acc_a, acc_b, -5, NULL);
    ht_expect_problem(&r, 422, "amount");
    ht_free(&r);
    r = xfer(&s, "t3", "customer:42", acc_b, 5, NULL);
    ht_expect_problem(&r, 422, "debit");
    ht_free(&r);
    r = ht_post(&s, "/v1/transfers", "{\"debit\":\"system:issuance\"}");
    ht_expect_problem(&r, 422, "key");
    ht_free(&r);
    /* a hold: available drops, balance stays */
    r = xfer(&s, "h1", acc_a, acc_b, 300, "\"pending\":true");
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "status"), "pending");
    char h1[96];
    snprintf(h1, sizeof h1, "/v1/transfers/%s/post", ht_str(r.json, "id"));
    ht_free(&r);
    json_t *p = points(&s, a);
    assert_int_equal(ht_int(p, "balance"), 1000);
    assert_int_equal(ht_int(p, "available"), 700);
    assert_int_equal(ht_int(p, "pending"), 300);
    json_decref(p);
    r = ht_post(&s, h1, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "posted");
    ht_free(&r);
    r = ht_post(&s, h1, NULL);
    ht_expect_problem(&r, 409, "status");
    ht_free(&r);
    /* a hold that is voided, and one that times out */
    r = xfer(&s, "h2", acc_a, acc_b, 100, "\"pending\":true");
    char h2[96];
    snprintf(h2, sizeof h2, "/v1/transfers/%s/void", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_post(&s, h2, NULL);
    assert_string_equal(ht_str(r.json, "status"), "voided");
    ht_free(&r);
    r = xfer(&s, "h3", acc_a, acc_b, 100, "\"pending\":true,\"timeout_s\":60");
    char h3[96];
    snprintf(h3, sizeof h3, "/v1/transfers/%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_post(&s, "/v1/test/clock", "{\"advance_s\":61}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = ht_get(&s, h3);
    assert_string_equal(ht_str(r.json, "status"), "voided");
    ht_free(&r);
    p = points(&s, a);
    assert_int_equal(ht_int(p, "balance"), 700);
    assert_int_equal(ht_int(p, "available"), 700);
    json_decref(p);
    p = points(&s, b);
    assert_int_equal(ht_int(p, "balance"), 300);
    json_decref(p);
    /* history, newest first, with the signed change */
    char hp[128];
    snprintf(hp, sizeof hp, "/v1/customers/%s/points/history?limit=2", a);
    r = ht_get(&s, hp);
    json_t *data = json_object_get(r.json, "data");
    assert_int_equal(json_array_size(data), 2);
    assert_string_equal(ht_str(json_array_get(data, 0), "key"), "h3");
    assert_int_equal(ht_int(json_array_get(data, 0), "change"), -100);
    assert_true(json_is_string(json_object_get(r.json, "next_cursor")));
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(b);
}

static void test_batches(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, false);
    char *a = new_customer(&s, "13822220001");
    char body[1024];
    snprintf(
        body, sizeof body,
        "{\"transfers\":[{\"key\":\"b1\",\"debit\":\"system:issuance\",\"credit\":\"customer:%s\","
        "\"amount\":50,\"code\":\"earn\"},{\"key\":\"b2\",\"debit\":\"customer:%s\",\"credit\":"
        "\"system:redemption\",\"amount\":80,\"code\":\"redeem\"},{\"key\":\"b3\",\"debit\":"
        "\"customer:%s\",\"credit\":\"system:redemption\",\"amount\":20,\"code\":\"redeem\"}]}",
        a, a, a);
    ht_resp r = ht_post(&s, "/v1/transfers/batch", body);
    assert_int_equal(r.status, 200);
    json_t *res = json_object_get(r.json, "results");
    assert_int_equal(ht_int(json_array_get(res, 0), "status"), 201);
    assert_int_equal(ht_int(json_array_get(res, 1), "status"), 409); /* 80 > 50 */
    assert_int_equal(ht_int(json_array_get(res, 2), "status"), 201);
    ht_free(&r);
    json_t *p = points(&s, a);
    assert_int_equal(ht_int(p, "balance"), 30);
    json_decref(p);
    /* linked: one fails, none applies */
    snprintf(
        body, sizeof body,
        "{\"linked\":true,\"transfers\":[{\"key\":\"l1\",\"debit\":\"system:issuance\",\"credit\":"
        "\"customer:%s\",\"amount\":10,\"code\":\"earn\"},{\"key\":\"l2\",\"debit\":\"customer:%"
        "s\","
        "\"credit\":\"system:redemption\",\"amount\":1000,\"code\":\"redeem\"}]}",
        a, a);
    r = ht_post(&s, "/v1/transfers/batch", body);
    assert_int_equal(r.status, 422);
    res = json_object_get(r.json, "results");
    assert_int_equal(ht_int(json_array_get(res, 1), "status"), 409);
    assert_non_null(json_object_get(json_array_get(res, 0), "error"));
    ht_free(&r);
    p = points(&s, a);
    assert_int_equal(ht_int(p, "balance"), 30);
    json_decref(p);
    r = ht_post(&s, "/v1/transfers/batch", "{\"transfers\":[]}");
    ht_expect_problem(&r, 422, "transfers");
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
}

static void test_program_and_expiry(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_resp r = ht_post(&s, "/v1/test/clock", "{\"now\":\"2026-01-15T00:00:00Z\"}");
    ht_free(&r);
    r = ht_get(&s, "/v1/program");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(json_object_get(r.json, "expiry"), "policy"), "end_of_month");
    assert_string_equal(ht_str(json_object_get(r.json, "currency"), "zh"), "积分");
    ht_free(&r);
    r = ht_patch(&s, "/v1/program", "{\"expiry\":{\"policy\":\"end_of_month\",\"months\":1}}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = ht_patch(&s, "/v1/program", "{\"expiry\":{\"policy\":\"weekly\"}}");
    ht_expect_problem(&r, 422, "expiry.policy");
    ht_free(&r);
    char *a = new_customer(&s, "13833330001");
    char acc[64];
    snprintf(acc, sizeof acc, "customer:%s", a);
    r = xfer(&s, "e1", "system:issuance", acc, 500, NULL);
    ht_free(&r);
    json_t *p = points(&s, a);
    json_t *lot = json_array_get(json_object_get(p, "lots"), 0);
    /* earned in January, expires at the end of February, Beijing time */
    assert_string_equal(ht_str(lot, "expires_at"), "2026-02-28T15:59:59.999Z");
    assert_int_equal(ht_int(p, "expiring_30d"), 0);
    json_decref(p);
    /* 20:00Z on 31 January is 1 February in Beijing: a February lot */
    char *b = new_customer(&s, "13833330002");
    char accb[64];
    snprintf(accb, sizeof accb, "customer:%s", b);
    ht_clock_to(&s, "2026-01-31T20:00:00Z");
    r = xfer(&s, "e2", "system:issuance", accb, 70, NULL);
    ht_free(&r);
    p = points(&s, b);
    lot = json_array_get(json_object_get(p, "lots"), 0);
    assert_string_equal(ht_str(lot, "expires_at"), "2026-03-31T15:59:59.999Z");
    json_decref(p);
    free(b);
    r = ht_post(&s, "/v1/test/clock", "{\"now\":\"2026-02-10T00:00:00Z\"}");
    ht_free(&r);
    p = points(&s, a);
    assert_int_equal(ht_int(p, "expiring_30d"), 500);
    json_decref(p);
    r = ht_post(&s, "/v1/test/clock", "{\"now\":\"2026-03-01T00:00:00Z\"}");
    ht_free(&r);
    p = points(&s, a);
    assert_int_equal(ht_int(p, "balance"), 0);
    assert_int_equal(json_array_size(json_object_get(p, "lots")), 0);
    json_decref(p);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
}

/* ---- races ---- */

#define MEMBERS 4
#define CLIENTS 12
#define OPS     40

typedef struct racer {
    const ht_server *nodes[2];
    char (*accs)[64];
    int id;
    atomic_llong *net; /* per member: net posted change observed from 2xx answers */
    int ok, refused, errors;
} racer;

static void *race(void *arg) {
    racer *rc = arg;
    uint64_t s = (uint64_t)rc->id * 7919 + 17;
    for (int i = 0; i < OPS; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        const ht_server *node = rc->nodes[(rc->id + i) % 2];
        int from = (int)((s >> 33) % (MEMBERS + 1)), to = (int)((s >> 40) % MEMBERS);
        long amount = 1 + (long)((s >> 20) % 40);
        const char *debit = from == MEMBERS ? "system:issuance" : rc->accs[from];
        if (from == to) continue;
        bool hold = (s >> 50) % 3 == 0;
        char key[64];
        snprintf(key, sizeof key, "race-%d-%d", rc->id, i);
        ht_resp r = xfer(node, key, debit, rc->accs[to], amount, hold ? "\"pending\":true" : NULL);
        if (r.status == 201) {
            rc->ok++;
            bool post = true;
            if (hold) {
                post = (s >> 55) % 2;
                char path[96];
                snprintf(path, sizeof path, "/v1/transfers/%s/%s", ht_str(r.json, "id"),
                         post ? "post" : "void");
                ht_resp q = ht_post(rc->nodes[(rc->id + i + 1) % 2], path, NULL);
                if (q.status != 200) rc->errors++;
                ht_free(&q);
            }
            if (post) {
                if (from < MEMBERS) atomic_fetch_sub(&rc->net[from], amount);
                atomic_fetch_add(&rc->net[to], amount);
            }
        } else if (r.status == 409) {
            rc->refused++;
        } else {
            fprintf(stderr, "race: %ld %s\n", r.status, r.body);
            rc->errors++;
        }
        ht_free(&r);
    }
    return NULL;
}

static void test_race_two_nodes(void **state) {
    (void)state;
    ht_server a, b;
    ht_start(&a, false);
    ht_start_on(&b, &a, false);
    char accs[MEMBERS][64];
    char *ids[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1384444000%d", i);
        ids[i] = new_customer(&a, phone);
        snprintf(accs[i], sizeof accs[i], "customer:%s", ids[i]);
    }
    atomic_llong net[MEMBERS] = {0};
    pthread_t th[CLIENTS];
    racer rs[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        rs[i] = (racer){{&a, &b}, accs, i, net, 0, 0, 0};
        pthread_create(&th[i], NULL, race, &rs[i]);
    }
    int ok = 0, refused = 0, errors = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(th[i], NULL);
        ok += rs[i].ok;
        refused += rs[i].refused;
        errors += rs[i].errors;
    }
    assert_int_equal(errors, 0);
    assert_true(ok > CLIENTS * OPS / 3);
    assert_true(refused > 0); /* members ran dry sometimes: the limit held */
    for (int i = 0; i < MEMBERS; i++) {
        json_t *p = points(&b, ids[i]);
        assert_int_equal(ht_int(p, "balance"), (long long)atomic_load(&net[i]));
        assert_true(ht_int(p, "balance") >= 0);
        assert_int_equal(ht_int(p, "pending"), 0);
        json_decref(p);
        free(ids[i]);
    }
    ht_stop(&b, true);
    expect_check_ok(&a);
    ht_stop(&a, false);
}

typedef struct stormer {
    const ht_server *s;
    const char *acc;
    int from, n;
    atomic_int *acked;
} stormer;

static void *storm(void *arg) {
    stormer *st = arg;
    for (int i = st->from; i < st->from + st->n; i++) {
        char body[256], key[32];
        snprintf(key, sizeof key, "s-%d", i);
        snprintf(body, sizeof body,
                 "{\"key\":\"%s\",\"debit\":\"system:issuance\",\"credit\":\"%s\",\"amount\":%d,"
                 "\"code\":\"earn\"}",
                 key, st->acc, 1 + i % 7);
        ht_resp r = ht_req_soft(st->s, "POST", "/v1/transfers", body);
        if (r.status == 201) atomic_store(&st->acked[i], 1);
        bool gone = r.status == 0;
        ht_free(&r);
        if (gone) break;
    }
    return NULL;
}

static void test_kill9_during_storm(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, false);
    char *id = new_customer(&s, "13855550001");
    char acc[64];
    snprintf(acc, sizeof acc, "customer:%s", id);
    enum { T = 4, EACH = 3000 };
    atomic_int *acked = calloc(T * EACH, sizeof *acked);
    pthread_t th[T];
    stormer sts[T];
    for (int i = 0; i < T; i++) {
        sts[i] = (stormer){&s, acc, i * EACH, EACH, acked};
        pthread_create(&th[i], NULL, storm, &sts[i]);
    }
    usleep(800 * 1000);
    ht_kill(&s);
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    ht_server again;
    ht_start_on(&again, &s, false);
    expect_check_ok(&again);
    long long expected = 0;
    int n = 0;
    for (int i = 0; i < T * EACH; i++) {
        if (!atomic_load(&acked[i])) continue;
        n++;
        expected += 1 + i % 7;
        char key[32];
        snprintf(key, sizeof key, "s-%d", i);
        char body[256];
        snprintf(body, sizeof body,
                 "{\"key\":\"%s\",\"debit\":\"system:issuance\",\"credit\":\"%s\",\"amount\":%d,"
                 "\"code\":\"earn\"}",
                 key, acc, 1 + i % 7);
        ht_resp r = ht_post(&again, "/v1/transfers", body);
        /* the replay finds it: 200, not a new 201 */
        if (r.status != 200) fail_msg("acknowledged transfer %s lost: %ld", key, r.status);
        ht_free(&r);
    }
    assert_true(n > 0);
    /* the balance holds at least everything acknowledged (a transfer may
     * have committed just before the kill without its answer arriving) */
    json_t *p = points(&again, id);
    assert_true(ht_int(p, "balance") >= expected);
    json_decref(p);
    ht_stop(&again, false);
    free(acked);
    free(id);
}

static void test_merge_moves_holds_and_lots(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, false);
    /* the older customer has 100 points; the newer 500 with a hold of 300 */
    ht_resp r = ht_post(&s, "/v1/customers", "{\"phone\":\"13866660001\"}");
    char older[32];
    snprintf(older, sizeof older, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_post(&s, "/v1/customers", "{\"email\":\"merge@example.com\"}");
    char newer[32];
    snprintf(newer, sizeof newer, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    char ao[64], an[64];
    snprintf(ao, sizeof ao, "customer:%s", older);
    snprintf(an, sizeof an, "customer:%s", newer);
    r = xfer(&s, "m1", "system:issuance", ao, 100, NULL);
    ht_free(&r);
    r = xfer(&s, "m2", "system:issuance", an, 500, NULL);
    ht_free(&r);
    r = xfer(&s, "m3", an, "system:redemption", 300, "\"pending\":true");
    char hold[96];
    snprintf(hold, sizeof hold, "/v1/transfers/%s/void", ht_str(r.json, "id"));
    ht_free(&r);
    /* an event naming both merges them into the older */
    r = ht_post(&s, "/v1/events",
                "{\"type\":\"page.view\",\"customer\":{\"phone\":\"13866660001\",\"email\":"
                "\"merge@example.com\"}}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    expect_check_ok(&s);
    json_t *p = points(&s, older);
    assert_int_equal(ht_int(p, "balance"), 600);
    assert_int_equal(ht_int(p, "pending"), 300);
    assert_int_equal(ht_int(p, "available"), 300);
    json_decref(p);
    /* the hold now lives on the survivor: voiding it frees the points there */
    r = ht_post(&s, hold, NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    p = points(&s, older);
    assert_int_equal(ht_int(p, "available"), 600);
    json_decref(p);
    /* transfers naming the merged customer reach the survivor */
    r = xfer(&s, "m4", an, "system:redemption", 50, NULL);
    assert_int_equal(r.status, 201);
    char want[64];
    snprintf(want, sizeof want, "customer:%s", older);
    assert_string_equal(ht_str(r.json, "debit"), want);
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transfers_holds_and_errors),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_program_and_expiry),
        cmocka_unit_test(test_race_two_nodes),
        cmocka_unit_test(test_kill9_during_storm),
        cmocka_unit_test(test_merge_moves_holds_and_lots),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
