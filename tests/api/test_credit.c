/* test_credit.c - overdraft (透支) over HTTP with the test clock: a limit set
 * by hand (pinned, refusals that change nothing), a credit formula refused
 * with its line and column and then applied on demand (pinned members left
 * alone, a null result skipped, the pin removed), and overdue debt: noted
 * when first seen below zero, the limit lowered to zero after overdue_days
 * (a limit set meanwhile kept aside), restored once the debt is repaid;
 * the credit report's numbers and paging. hudong check passes after each. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/harness.h"

static int keyseq;

static char *customer(const ht_server *s, const char *phone, const char *attrs) {
    ht_resp r =
        attrs ? ht_postf(s, "/v1/customers", "{\"phone\":\"%s\",\"attributes\":%s}", phone, attrs)
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

static ht_resp put_credit(const ht_server *s, const char *cid, const char *body) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/credit", cid);
    return ht_req(s, "PUT", p, body, NULL, NULL);
}

static void set_limit(const ht_server *s, const char *cid, long limit, const char *reason) {
    char body[256];
    snprintf(body, sizeof body, "{\"limit\":%ld,\"reason\":\"%s\"}", limit, reason);
    ht_resp r = put_credit(s, cid, body);
    if (r.status != 200) fail_msg("credit: %ld %s", r.status, r.body);
    ht_free(&r);
}

static json_t *get_json(const ht_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static json_t *get_json(const ht_server *s, const char *fmt, ...) {
    char p[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p, sizeof p, fmt, ap);
    va_end(ap);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("GET %s: %ld %s", p, r.status, r.body);
    json_t *j = json_incref(r.json);
    ht_free(&r);
    return j;
}

static json_t *credit(const ht_server *s, const char *cid) {
    return get_json(s, "/v1/customers/%s/credit", cid);
}

static long long limit_of(const ht_server *s, const char *cid) {
    json_t *c = credit(s, cid);
    long long v = ht_int(c, "credit_limit");
    json_decref(c);
    return v;
}

static void expect_points(const ht_server *s, const char *cid, long long bal, long long avail) {
    json_t *p = get_json(s, "/v1/customers/%s/points", cid);
    long long b = ht_int(p, "balance"), a = ht_int(p, "available");
    json_decref(p);
    if (b != bal || a != avail)
        fail_msg("customer %s: balance/available %lld/%lld, expected %lld/%lld", cid, b, a, bal,
                 avail);
}

static char *reward(const ht_server *s, long price) {
    ht_resp r = ht_postf(s, "/v1/rewards",
                         "{\"type\":\"digital\",\"name\":{\"zh\":\"视频会员\",\"en\":\"Video "
                         "membership\"},\"price\":{\"points\":%ld},\"stock\":100}",
                         price);
    if (r.status != 201) fail_msg("reward: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static ht_resp redeem(const ht_server *s, const char *cid, const char *rid) {
    return ht_postf(s, "/v1/redemptions", "{\"customer_id\":\"%s\",\"reward_id\":\"%s\"}", cid,
                    rid);
}

static void redeem_ok(const ht_server *s, const char *cid, const char *rid) {
    ht_resp r = redeem(s, cid, rid);
    if (r.status != 201) fail_msg("redeem: %ld %s", r.status, r.body);
    ht_free(&r);
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static const char *last_source(const json_t *c) {
    return ht_str(json_array_get(json_object_get(c, "history"), 0), "source");
}

/* ---- by hand ---- */

static void test_manual_limit(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-02-01T00:00:00Z");
    char *a = customer(&s, "13600000001", NULL);
    json_t *c = credit(&s, a);
    assert_int_equal(ht_int(c, "credit_limit"), 0);
    assert_true(json_is_false(json_object_get(c, "pinned")));
    json_decref(c);

    ht_resp r = put_credit(&s, a, "{\"limit\":500,\"reason\":\"老客户\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "credit_limit"), 500);
    assert_int_equal(ht_int(r.json, "available"), 500);
    assert_true(json_is_true(json_object_get(r.json, "pinned")));
    assert_int_equal(ht_int(r.json, "manual_limit"), 500);
    json_t *h = json_array_get(json_object_get(r.json, "history"), 0);
    assert_string_equal(ht_str(h, "source"), "manual");
    assert_int_equal(ht_int(h, "old_limit"), 0);
    assert_int_equal(ht_int(h, "new_limit"), 500);
    assert_string_equal(ht_str(h, "reason"), "老客户");
    ht_free(&r);
    expect_points(&s, a, 0, 500);

    /* refusals name their field and change nothing */
    static const struct {
        const char *body, *field;
    } bad[] = {{"{\"limit\":-1,\"reason\":\"x\"}", "limit"},
               {"{\"limit\":\"abc\",\"reason\":\"x\"}", "limit"},
               {"{\"limit\":1.5,\"reason\":\"x\"}", "limit"},
               {"{\"limit\":10}", "reason"},
               {"{\"limit\":10,\"reason\":\"\"}", "reason"},
               {"{\"reason\":\"x\"}", "limit"},
               {"{\"limit\":10,\"reason\":\"x\",\"until\":\"2027\"}", NULL}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = put_credit(&s, a, bad[i].body);
        ht_expect_problem(&r, 422, bad[i].field);
        ht_free(&r);
    }
    r = put_credit(&s, "99999", "{\"limit\":10,\"reason\":\"x\"}");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
    assert_int_equal(limit_of(&s, a), 500);

    /* spending goes below zero down to the limit, no further */
    char *rid = reward(&s, 300);
    redeem_ok(&s, a, rid);
    expect_points(&s, a, -300, 200);
    r = redeem(&s, a, rid);
    ht_expect_problem(&r, 409, "points");
    ht_free(&r);
    c = credit(&s, a);
    assert_int_equal(ht_int(c, "debt"), 300);
    json_decref(c);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(rid);
}

/* ---- by formula ---- */

static void expect_bad_formula(const ht_server *s, const char *body, int line, int column) {
    ht_resp r = ht_patch(s, "/v1/credit/settings", body);
    ht_expect_problem(&r, 422, "credit_formula");
    if (line && ht_int(r.json, "line") != line) fail_msg("line: %s", r.body);
    if (column && ht_int(r.json, "column") != column) fail_msg("column: %s", r.body);
    if (!json_is_integer(json_object_get(r.json, "line"))) fail_msg("no line: %s", r.body);
    ht_free(&r);
}

static void order(const ht_server *s, const char *phone, const char *oid, long amount) {
    ht_resp r =
        ht_postf(s, "/v1/events",
                 "{\"type\":\"order.paid\",\"key\":\"o-%s\",\"customer\":{\"phone\":\"%s\"},"
                 "\"properties\":{\"order_id\":\"%s\",\"amount\":%ld}}",
                 oid, phone, oid, amount);
    if (r.status != 201 && r.status != 200) fail_msg("order: %ld %s", r.status, r.body);
    ht_free(&r);
}

static void test_formula(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-02-01T00:00:00Z");
    expect_bad_formula(&s, "{\"credit_formula\":\"customer.orders * 100 +\"}", 1, 0);
    expect_bad_formula(&s, "{\"credit_formula\":\"min(customer.revenue,\\n  customer.bogus)\"}", 2,
                       3);
    expect_bad_formula(&s, "{\"credit_formula\":\"customer.tier == \\\"gold\\\"\"}", 1, 1);
    expect_bad_formula(&s, "{\"credit_formula\":\"100 + count(order.paid, 30d)\"}", 1, 7);
    ht_resp r = ht_patch(&s, "/v1/credit/settings", "{\"overdue_days\":0}");
    ht_expect_problem(&r, 422, "overdue_days");
    ht_free(&r);
    r = ht_patch(&s, "/v1/credit/settings", "{\"grace\":3}");
    ht_expect_problem(&r, 422, NULL);
    ht_free(&r);
    json_t *st = get_json(&s, "/v1/credit/settings");
    assert_true(json_is_null(json_object_get(st, "credit_formula")));
    assert_int_equal(ht_int(st, "overdue_days"), 30);
    json_decref(st);

    char *x = customer(&s, "13600000002", "{\"信用分\":50}");
    char *y = customer(&s, "13600000003", NULL);
    char *z = customer(&s, "13600000004", "{\"信用分\":80}");
    order(&s, "13600000002", "A1", 10000);
    order(&s, "13600000002", "A2", 10000);
    set_limit(&s, z, 100, "手工");

    r = ht_patch(&s, "/v1/credit/settings",
                 "{\"credit_formula\":\"customer.attributes.信用分 * 10 + customer.orders * 100 + "
                 "floor(customer.revenue / 1000)\",\"overdue_days\":45}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "overdue_days"), 45);
    assert_true(json_is_string(json_object_get(r.json, "credit_formula")));
    ht_free(&r);
    r = ht_post(&s, "/v1/credit/recompute", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "examined"), 3);
    assert_int_equal(ht_int(r.json, "changed"), 1);
    assert_int_equal(ht_int(r.json, "pinned"), 1);
    assert_int_equal(ht_int(r.json, "skipped"), 1);
    json_t *errs = json_object_get(r.json, "errors");
    assert_int_equal(json_array_size(errs), 1);
    assert_string_equal(ht_str(json_array_get(errs, 0), "customer_id"), y);
    ht_free(&r);
    /* 50 × 10 + 2 orders × 100 + 20000 fen / 1000 */
    json_t *c = credit(&s, x);
    assert_int_equal(ht_int(c, "credit_limit"), 720);
    assert_string_equal(last_source(c), "formula");
    json_decref(c);
    assert_int_equal(limit_of(&s, y), 0);
    assert_int_equal(limit_of(&s, z), 100);
    /* applied again: nothing changes */
    r = ht_post(&s, "/v1/credit/recompute", "{}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "changed"), 0);
    ht_free(&r);
    /* removing the pin hands the member back to the formula */
    r = put_credit(&s, z, "{\"limit\":null,\"reason\":\"按公式\"}");
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "pinned")));
    assert_int_equal(ht_int(r.json, "credit_limit"), 800);
    ht_free(&r);
    /* the job applies it daily: a new attribute shows the next day */
    char path[96];
    snprintf(path, sizeof path, "/v1/customers/%s", y);
    r = ht_patch(&s, path, "{\"attributes\":{\"信用分\":20}}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    ht_clock_advance(&s, 86400);
    assert_int_equal(limit_of(&s, y), 200);
    /* one member on demand */
    snprintf(path, sizeof path, "{\"customer_id\":\"%s\"}", x);
    r = ht_post(&s, "/v1/credit/recompute", path);
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "examined"), 1);
    ht_free(&r);
    r = ht_patch(&s, "/v1/credit/settings", "{\"credit_formula\":null}");
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "credit_formula")));
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(x);
    free(y);
    free(z);
}

/* ---- overdue debt ---- */

static void test_overdue(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-03-01T00:00:00Z");
    char *big = reward(&s, 600), *small = reward(&s, 50);
    char *o = customer(&s, "13600000005", NULL);
    char *p = customer(&s, "13600000006", NULL);
    char *q = customer(&s, "13600000007", NULL);
    set_limit(&s, o, 1000, "信用良好");
    set_limit(&s, p, 100, "新客");
    give(&s, q, 500);
    redeem_ok(&s, o, big);
    redeem_ok(&s, p, small);
    redeem_ok(&s, p, small);
    expect_points(&s, o, -600, 400);
    expect_points(&s, p, -100, 0);

    /* the scan notes who is in debt since when */
    ht_clock_advance(&s, 61);
    json_t *c = credit(&s, o);
    assert_string_equal(ht_str(c, "negative_since"), "2026-03-01T00:01:01.000Z");
    assert_true(json_is_false(json_object_get(c, "overdue")));
    assert_true(json_is_false(json_object_get(c, "frozen")));
    assert_int_equal(ht_int(c, "debt"), 600);
    json_decref(c);
    json_t *rep = get_json(&s, "/v1/reports/credit");
    assert_int_equal(ht_int(rep, "members_in_debt"), 2);
    assert_int_equal(ht_int(rep, "outstanding"), 700);
    assert_int_equal(ht_int(json_object_get(rep, "overdue"), "members"), 0);
    assert_int_equal(ht_int(rep, "frozen"), 0);
    assert_int_equal(json_array_size(json_object_get(rep, "data")), 2);
    json_decref(rep);
    rep = get_json(&s, "/v1/reports/credit?limit=1");
    assert_int_equal(json_array_size(json_object_get(rep, "data")), 1);
    char cursor[32];
    snprintf(cursor, sizeof cursor, "%s", ht_str(rep, "next_cursor"));
    assert_true(cursor[0] != '\0');
    json_decref(rep);
    rep = get_json(&s, "/v1/reports/credit?limit=1&cursor=%s", cursor);
    assert_int_equal(json_array_size(json_object_get(rep, "data")), 1);
    assert_true(json_is_null(json_object_get(rep, "next_cursor")));
    json_decref(rep);

    /* p repays in time; o does not */
    give(&s, p, 100);
    ht_clock_advance(&s, 61);
    c = credit(&s, p);
    assert_true(json_is_null(json_object_get(c, "negative_since")));
    json_decref(c);
    ht_clock_advance(&s, 30 * 86400);
    expect_points(&s, o, -600, -600);
    c = credit(&s, o);
    assert_int_equal(ht_int(c, "credit_limit"), 0);
    assert_true(json_is_true(json_object_get(c, "frozen")));
    assert_true(json_is_true(json_object_get(c, "overdue")));
    assert_int_equal(ht_int(c, "saved_limit"), 1000);
    assert_string_equal(last_source(c), "overdue");
    json_decref(c);
    assert_int_equal(limit_of(&s, p), 100);
    rep = get_json(&s, "/v1/reports/credit");
    assert_int_equal(ht_int(rep, "members_in_debt"), 1);
    assert_int_equal(ht_int(rep, "outstanding"), 600);
    assert_int_equal(ht_int(json_object_get(rep, "overdue"), "members"), 1);
    assert_int_equal(ht_int(json_object_get(rep, "overdue"), "points"), 600);
    assert_int_equal(ht_int(rep, "frozen"), 1);
    assert_true(
        json_is_true(json_object_get(json_array_get(json_object_get(rep, "data"), 0), "frozen")));
    json_decref(rep);
    expect_check_ok(&s);
    /* no more spending on credit */
    ht_resp r = redeem(&s, o, small);
    ht_expect_problem(&r, 409, "points");
    ht_free(&r);
    /* a limit set meanwhile waits for the repayment */
    r = put_credit(&s, o, "{\"limit\":2000,\"reason\":\"提额\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "credit_limit"), 0);
    assert_int_equal(ht_int(r.json, "saved_limit"), 2000);
    ht_free(&r);
    ht_clock_advance(&s, 61);
    assert_int_equal(limit_of(&s, o), 0);

    /* repaid: the limit comes back */
    give(&s, o, 650);
    ht_clock_advance(&s, 61);
    c = credit(&s, o);
    assert_int_equal(ht_int(c, "credit_limit"), 2000);
    assert_true(json_is_false(json_object_get(c, "frozen")));
    assert_true(json_is_null(json_object_get(c, "negative_since")));
    json_t *h = json_array_get(json_object_get(c, "history"), 0);
    assert_string_equal(ht_str(h, "source"), "repaid");
    assert_int_equal(ht_int(h, "new_limit"), 2000);
    json_decref(c);
    expect_points(&s, o, 50, 2050);
    rep = get_json(&s, "/v1/reports/credit");
    assert_int_equal(ht_int(rep, "members_in_debt"), 0);
    assert_int_equal(ht_int(rep, "frozen"), 0);
    json_decref(rep);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(big);
    free(small);
    free(o);
    free(p);
    free(q);
}

/* ---- a tier change meets a pin and a freeze ---- */

static void order_for(const ht_server *s, const char *cid, const char *oid, long amount) {
    ht_resp r = ht_postf(s, "/v1/events",
                         "{\"type\":\"order.paid\",\"customer\":\"%s\",\"properties\":{"
                         "\"order_id\":\"%s\",\"amount\":%ld}}",
                         cid, oid, amount);
    if (r.status != 201) fail_msg("order: %ld %s", r.status, r.body);
    ht_free(&r);
}

static void test_tier_meets_pin_and_freeze(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-04-01T00:00:00Z");
    ht_resp r = ht_post(&s, "/v1/tiers",
                        "{\"code\":\"gold\",\"name\":{\"zh\":\"金卡\",\"en\":\"Gold\"},"
                        "\"threshold\":500,\"credit_limit\":3000}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_post(&s, "/v1/rules",
                "{\"name\":\"growth\",\"event_type\":\"order.paid\",\"currency\":\"growth\","
                "\"formula\":\"floor(amount / 100)\"}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    char *rid = reward(&s, 300);
    char *t = customer(&s, "13600000011", NULL);
    char *u = customer(&s, "13600000012", NULL);

    /* a pinned limit wins over a tier change at the next scan */
    set_limit(&s, t, 800, "手工额度");
    order_for(&s, t, "T1", 60000);
    assert_int_equal(limit_of(&s, t), 3000);
    ht_clock_advance(&s, 61);
    json_t *c = credit(&s, t);
    assert_int_equal(ht_int(c, "credit_limit"), 800);
    assert_string_equal(last_source(c), "manual");
    json_decref(c);

    /* an overdue member upgraded meanwhile stays at zero until repaid */
    set_limit(&s, u, 500, "新客");
    r = put_credit(&s, u, "{\"limit\":null,\"reason\":\"不再手工\"}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "credit_limit"), 500);
    ht_free(&r);
    redeem_ok(&s, u, rid);
    ht_clock_advance(&s, 61);
    ht_clock_advance(&s, 31 * 86400);
    assert_int_equal(limit_of(&s, u), 0);
    order_for(&s, u, "U1", 60000);
    assert_int_equal(limit_of(&s, u), 3000);
    ht_clock_advance(&s, 61);
    c = credit(&s, u);
    assert_int_equal(ht_int(c, "credit_limit"), 0);
    assert_int_equal(ht_int(c, "saved_limit"), 3000);
    assert_true(json_is_true(json_object_get(c, "frozen")));
    json_decref(c);
    expect_points(&s, u, -300, -300);
    expect_check_ok(&s);
    give(&s, u, 400);
    ht_clock_advance(&s, 61);
    assert_int_equal(limit_of(&s, u), 3000);
    expect_points(&s, u, 100, 3100);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(rid);
    free(t);
    free(u);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manual_limit),
        cmocka_unit_test(test_formula),
        cmocka_unit_test(test_overdue),
        cmocka_unit_test(test_tier_meets_pin_and_freeze),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
