/* test_rules.c - earning rules and tiers over HTTP: a bad rule refused with
 * its position, awards per event (once, even when the event is replayed),
 * caps and budgets, exclusive rules, order lines and aggregates, growth and
 * tier upgrades that change the multiplier, downgrade after the grace
 * period, simulation, and refunds that take back what an order earned. */
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
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-01-05T02:00:00Z\"}");
    ht_free(&r);
    r = ht_patch(&S, "/v1/program", "{\"expiry\":{\"policy\":\"none\"}}");
    ht_free(&r);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_stop(&S, false);
    return 0;
}

static char *rule(const char *body) {
    ht_resp r = ht_post(&S, "/v1/rules", body);
    if (r.status != 201) fail_msg("rule: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static void set_active(const char *id, bool on) {
    char p[64];
    snprintf(p, sizeof p, "/v1/rules/%s", id);
    ht_resp r = ht_patch(&S, p, on ? "{\"active\":true}" : "{\"active\":false}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
}

static long long balance_of_phone(const char *phone, const char *field) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers?phone=%s", phone);
    ht_resp r = ht_get(&S, p);
    json_t *c = json_array_get(json_object_get(r.json, "data"), 0);
    if (!c) fail_msg("no customer %s", phone);
    char pp[96];
    snprintf(pp, sizeof pp, "/v1/customers/%s/points", ht_str(c, "id"));
    ht_free(&r);
    r = ht_get(&S, pp);
    long long v = ht_int(r.json, field);
    ht_free(&r);
    return v;
}

static void order(const char *phone, const char *oid, long amount, const char *tp,
                  const char *extra) {
    char ev[700];
    snprintf(
        ev, sizeof ev,
        "{\"type\":\"order.paid\",\"key\":\"o-%s\",\"touchpoint\":\"%s\",\"customer\":{\"phone\":"
        "\"%s\"},\"properties\":{\"order_id\":\"%s\",\"amount\":%ld%s%s}}",
        oid, tp, phone, oid, amount, extra ? "," : "", extra ? extra : "");
    ht_resp r = ht_post(&S, "/v1/events", ev);
    if (r.status != 201 && r.status != 200) fail_msg("order: %ld %s", r.status, r.body);
    ht_free(&r);
}

static void test_bad_rules_name_the_position(void **state) {
    (void)state;
    ht_resp r =
        ht_post(&S, "/v1/rules",
                "{\"name\":\"x\",\"event_type\":\"order.paid\",\"formula\":\"floor(amount / )\"}");
    ht_expect_problem(&r, 422, "formula");
    assert_int_equal(ht_int(r.json, "line"), 1);
    assert_int_equal(ht_int(r.json, "column"), 16);
    ht_free(&r);
    r = ht_post(&S, "/v1/rules",
                "{\"name\":\"x\",\"event_type\":\"order.paid\",\"condition\":\"amount >= 1 and\\n  "
                "colour == \\\"红\\\"\",\"formula\":\"1\"}");
    ht_expect_problem(&r, 422, "condition");
    assert_non_null(strstr(ht_str(r.json, "detail"), "colour"));
    ht_free(&r);
    r = ht_post(&S, "/v1/rules",
                "{\"name\":\"x\",\"event_type\":\"order.paid\",\"formula\":\"\\\"a\\\"\"}");
    ht_expect_problem(&r, 422, "formula");
    ht_free(&r);
    r = ht_post(&S, "/v1/rules",
                "{\"name\":\"x\",\"event_type\":\"order.paid\",\"formula\":\"1\","
                "\"caps\":{\"per_week\":3}}");
    ht_expect_problem(&r, 422, "caps.per_week");
    ht_free(&r);
}

static void test_awards_caps_and_refunds(void **state) {
    (void)state;
    char *base =
        rule("{\"name\":\"1 point per yuan on WeChat over 100\",\"event_type\":\"order.paid\","
             "\"condition\":\"amount >= 10000 and touchpoint == \\\"wechat\\\"\","
             "\"formula\":\"floor(amount / 100) * tier.multiplier\"}");
    order("13900000001", "R1", 25000, "wechat", NULL); /* 250 */
    order("13900000001", "R2", 5000, "wechat", NULL);  /* below 100 yuan: 0 */
    order("13900000001", "R3", 30000, "web", NULL);    /* not wechat: 0 */
    order("13900000001", "R1", 25000, "wechat", NULL); /* replayed key: nothing twice */
    assert_int_equal(balance_of_phone("13900000001", "balance"), 250);
    /* simulate without writing */
    char p[96];
    snprintf(p, sizeof p, "/v1/rules/%s/simulate", base);
    ht_resp r = ht_post(&S, p,
                        "{\"event\":{\"type\":\"order.paid\",\"touchpoint\":\"wechat\","
                        "\"properties\":{\"amount\":12345}}}");
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "matched")));
    assert_int_equal(ht_int(r.json, "points"), 123);
    ht_free(&r);
    r = ht_post(&S, p,
                "{\"event\":{\"type\":\"order.paid\",\"touchpoint\":\"web\",\"properties\":{"
                "\"amount\":12345}}}");
    assert_false(json_is_true(json_object_get(r.json, "matched")));
    assert_string_equal(ht_str(r.json, "reason"), "the condition is false");
    ht_free(&r);
    assert_int_equal(balance_of_phone("13900000001", "balance"), 250);
    /* the refund takes the 250 back even after they were spent */
    r = ht_get(&S, "/v1/customers?phone=13900000001");
    char acc[64];
    snprintf(acc, sizeof acc, "customer:%s",
             ht_str(json_array_get(json_object_get(r.json, "data"), 0), "id"));
    ht_free(&r);
    char body[300];
    snprintf(
        body, sizeof body,
        "{\"key\":\"spend-1\",\"debit\":\"%s\",\"credit\":\"system:redemption\",\"amount\":200,"
        "\"code\":\"redeem\"}",
        acc);
    r = ht_post(&S, "/v1/transfers", body);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_post(
        &S, "/v1/events",
        "{\"type\":\"order.refunded\",\"customer\":{\"phone\":\"13900000001\"},\"properties\":"
        "{\"order_id\":\"R1\"}}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    assert_int_equal(balance_of_phone("13900000001", "balance"), -200);
    assert_int_equal(balance_of_phone("13900000001", "debt"), 200);
    /* caps: 100 a time, at most 150 a day, budget 400 in all */
    set_active(base, false);
    char *capped = rule("{\"name\":\"check-in\",\"event_type\":\"checkin\",\"formula\":\"100\","
                        "\"caps\":{\"per_day\":150,\"budget\":400}}");
    const char *evs[] = {"c1", "c2", "c3", NULL};
    for (int day = 0; day < 4; day++) {
        for (int i = 0; evs[i]; i++) {
            char ev[300];
            snprintf(
                ev, sizeof ev,
                "{\"type\":\"checkin\",\"key\":\"%s-%d\",\"customer\":{\"phone\":\"13900000002\"}}",
                evs[i], day);
            r = ht_post(&S, "/v1/events", ev);
            assert_int_equal(r.status, 201);
            ht_free(&r);
        }
        long long want = day == 0 ? 150 : day == 1 ? 300 : 400;
        assert_int_equal(balance_of_phone("13900000002", "balance"), want);
        r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":86400}");
        ht_free(&r);
    }
    snprintf(p, sizeof p, "/v1/rules/%s", capped);
    r = ht_get(&S, p);
    assert_int_equal(ht_int(r.json, "awarded"), 400);
    ht_free(&r);
    set_active(capped, false);
    free(base);
    free(capped);
}

static void checkin(const char *phone, const char *key, const char *at) {
    ht_resp r = ht_postf(&S, "/v1/events",
                         "{\"type\":\"checkin\",\"key\":\"%s\",\"occurred_at\":\"%s\","
                         "\"customer\":{\"phone\":\"%s\"}}",
                         key, at, phone);
    assert_int_equal(r.status, 201);
    ht_free(&r);
}

/* A day's and a month's caps start again at the brand's midnight (+08:00
 * unless set), not at UTC's; `hudong brand --utc-offset` moves it. */
static void test_caps_follow_the_brands_calendar(void **state) {
    (void)state;
    char *r1 = rule("{\"name\":\"daily\",\"event_type\":\"checkin\",\"formula\":\"100\","
                    "\"caps\":{\"per_day\":150,\"per_month\":350}}");
    const char *ph = "13900000009";
    checkin(ph, "bj-1", "2026-03-29T15:00:00Z"); /* 23:00 on the 29th in Beijing */
    checkin(ph, "bj-2", "2026-03-29T15:30:00Z");
    assert_int_equal(balance_of_phone(ph, "balance"), 150);
    checkin(ph, "bj-3", "2026-03-29T16:10:00Z"); /* 00:10 on the 30th: a new day, not in UTC */
    assert_int_equal(balance_of_phone(ph, "balance"), 250);
    checkin(ph, "bj-4", "2026-03-30T15:00:00Z"); /* still the 30th: 50 left of the day */
    assert_int_equal(balance_of_phone(ph, "balance"), 300);
    checkin(ph, "bj-5", "2026-03-30T16:30:00Z"); /* the 31st, and 50 left of the month's 350 */
    assert_int_equal(balance_of_phone(ph, "balance"), 350);
    checkin(ph, "bj-6", "2026-03-31T16:01:00Z"); /* 00:01 on 1 April in Beijing */
    assert_int_equal(balance_of_phone(ph, "balance"), 450);
    checkin(ph, "bj-7", "2026-04-01T18:00:00Z"); /* 2 April */
    assert_int_equal(balance_of_phone(ph, "balance"), 550);
    /* sent late, for 1 April: that day's cap, not counting the 2nd's award */
    checkin(ph, "bj-8", "2026-03-31T23:00:00Z");
    assert_int_equal(balance_of_phone(ph, "balance"), 600);

    /* the brand moves to UTC: days turn at 00:00Z, after the server's next tick */
    char *out = NULL;
    assert_int_equal(
        ht_cli(&S, &out, (const char *const[]){"brand", "--utc-offset", "+00:00", NULL}), 0);
    assert_non_null(strstr(out, "utc_offset +00:00"));
    free(out);
    ht_clock_advance(&S, 1);
    const char *ph2 = "13900000010";
    checkin(ph2, "utc-1", "2026-05-10T20:00:00Z");
    checkin(ph2, "utc-2", "2026-05-10T23:00:00Z");
    checkin(ph2, "utc-3", "2026-05-11T00:30:00Z"); /* in Beijing still the 11th: no cap here */
    assert_int_equal(balance_of_phone(ph2, "balance"), 250);
    assert_int_equal(ht_cli(&S, NULL, (const char *const[]){"brand", "--utc-offset", "+8", NULL}),
                     2);
    /* over the API: any key reads it, an admin key changes it */
    ht_resp r = ht_get(&S, "/v1/brand");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "utc_offset"), "+00:00");
    ht_free(&r);
    char ro[128];
    ht_key(&S, (const char *const[]){"customers:read", NULL}, ro, sizeof ro);
    r = ht_req(&S, "GET", "/v1/brand", NULL, ro, NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = ht_req(&S, "PATCH", "/v1/brand", "{\"utc_offset\":\"+08:00\"}", ro, NULL);
    ht_expect_problem(&r, 403, NULL);
    ht_free(&r);
    r = ht_patch(&S, "/v1/brand", "{\"utc_offset\":\"+15:00\"}");
    ht_expect_problem(&r, 422, "utc_offset");
    ht_free(&r);
    r = ht_patch(&S, "/v1/brand", "{\"utc_offset\":8}");
    ht_expect_problem(&r, 422, "utc_offset");
    ht_free(&r);
    r = ht_patch(&S, "/v1/brand", "{\"zone\":\"Asia/Shanghai\"}");
    ht_expect_problem(&r, 422, "zone");
    ht_free(&r);
    r = ht_get(&S, "/v1/brand"); /* nothing changed by the refusals */
    assert_string_equal(ht_str(r.json, "utc_offset"), "+00:00");
    ht_free(&r);
    r = ht_patch(&S, "/v1/brand", "{\"utc_offset\":\"+08:00\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "utc_offset"), "+08:00");
    assert_true(*ht_str(r.json, "updated_at"));
    ht_free(&r);
    /* this server took it at once: 00:30Z on the 12th is the 12th's 08:30 in Beijing,
     * the same brand day as 20:00Z on the 11th */
    const char *ph3 = "13900000011";
    checkin(ph3, "bj2-1", "2026-05-11T20:00:00Z");
    checkin(ph3, "bj2-2", "2026-05-12T00:30:00Z");
    assert_int_equal(balance_of_phone(ph3, "balance"), 150);
    set_active(r1, false);
    free(r1);
}

static void test_exclusive_lines_and_aggregates(void **state) {
    (void)state;
    char *a = rule("{\"name\":\"jeans bonus\",\"event_type\":\"order.paid\",\"priority\":10,"
                   "\"stackable\":false,\"condition\":\"\\\"jeans\\\" in lines[*].category\","
                   "\"formula\":\"500\"}");
    char *b = rule("{\"name\":\"base\",\"event_type\":\"order.paid\",\"formula\":\"10\"}");
    char *c =
        rule("{\"name\":\"third order in 90 days\",\"event_type\":\"order.paid\",\"priority\":5,"
             "\"condition\":\"count(order.paid, 90d) >= 3\",\"formula\":\"1000\"}");
    order("13900000003", "X1", 100, "web",
          "\"lines\":[{\"sku\":\"J1\",\"category\":\"jeans\",\"amount\":100}]");
    assert_int_equal(balance_of_phone("13900000003", "balance"), 500); /* exclusive: no base */
    order("13900000003", "X2", 100, "web",
          "\"lines\":[{\"sku\":\"S1\",\"category\":\"shirts\",\"amount\":100}]");
    assert_int_equal(balance_of_phone("13900000003", "balance"), 510);
    order("13900000003", "X3", 100, "web", NULL); /* the third: 1000 + 10 */
    assert_int_equal(balance_of_phone("13900000003", "balance"), 1520);
    set_active(a, false);
    set_active(b, false);
    set_active(c, false);
    free(a);
    free(b);
    free(c);
}

static void test_growth_and_tiers(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/tiers",
                        "{\"code\":\"silver\",\"name\":{\"zh\":\"银卡\",\"en\":\"Silver\"},"
                        "\"threshold\":0}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_post(&S, "/v1/tiers",
                "{\"code\":\"gold\",\"name\":{\"zh\":\"金卡\",\"en\":\"Gold\"},"
                "\"threshold\":500,\"multiplier\":2,\"credit_limit\":300,"
                "\"grace_days\":10,\"access\":{\"auctions\":true}}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_post(&S, "/v1/tiers",
                "{\"code\":\"gold\",\"name\":{\"zh\":\"x\",\"en\":\"x\"},\"threshold\":1}");
    ht_expect_problem(&r, 409, "code");
    ht_free(&r);
    char *g = rule("{\"name\":\"growth\",\"event_type\":\"order.paid\",\"currency\":\"growth\","
                   "\"formula\":\"floor(amount / 100)\"}");
    char *p = rule(
        "{\"name\":\"points\",\"event_type\":\"order.paid\",\"formula\":\"floor(amount / 100) * "
        "tier.multiplier\"}");
    order("13900000004", "G1", 10000, "web", NULL); /* growth 100 → silver; points 100 × 1 */
    assert_int_equal(balance_of_phone("13900000004", "balance"), 100);
    assert_int_equal(balance_of_phone("13900000004", "growth"), 100);
    order("13900000004", "G2", 50000, "web", NULL); /* growth 600 → gold after; points 500 × 1 */
    assert_int_equal(balance_of_phone("13900000004", "balance"), 600);
    r = ht_get(&S, "/v1/customers?phone=13900000004");
    char path[96];
    snprintf(path, sizeof path, "/v1/customers/%s/tier",
             ht_str(json_array_get(json_object_get(r.json, "data"), 0), "id"));
    ht_free(&r);
    r = ht_get(&S, path);
    assert_string_equal(ht_str(json_object_get(r.json, "tier"), "code"), "gold");
    assert_int_equal(ht_int(r.json, "window_growth"), 600);
    ht_free(&r);
    assert_int_equal(balance_of_phone("13900000004", "credit_limit"), 300); /* the tier's */
    order("13900000004", "G3", 10000, "web", NULL);                         /* gold doubles: 200 */
    assert_int_equal(balance_of_phone("13900000004", "balance"), 800);
    /* 13 months later the window holds no growth: below gold, grace, then down */
    r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":33696000}");
    ht_free(&r);
    r = ht_get(&S, path);
    assert_string_equal(ht_str(json_object_get(r.json, "tier"), "code"), "gold");
    assert_true(
        json_is_string(json_object_get(json_object_get(r.json, "tier"), "below_threshold_since")));
    ht_free(&r);
    r = ht_post(&S, "/v1/test/clock", "{\"advance_s\":950400}"); /* 11 days */
    ht_free(&r);
    r = ht_get(&S, path);
    assert_string_equal(ht_str(json_object_get(r.json, "tier"), "code"), "silver");
    json_t *hist = json_object_get(r.json, "history");
    assert_string_equal(ht_str(json_array_get(hist, 0), "reason"), "downgrade after grace");
    ht_free(&r);
    /* a refund takes growth back too */
    r = ht_post(
        &S, "/v1/events",
        "{\"type\":\"order.refunded\",\"customer\":{\"phone\":\"13900000004\"},\"properties\":"
        "{\"order_id\":\"G3\"}}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    assert_int_equal(balance_of_phone("13900000004", "growth"), 600);
    assert_int_equal(balance_of_phone("13900000004", "balance"), 600);
    const char *args[] = {"check", NULL};
    char *out = NULL;
    assert_int_equal(ht_cli(&S, &out, args), 0);
    free(out);
    free(g);
    free(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_rules_name_the_position),
        cmocka_unit_test(test_awards_caps_and_refunds),
        cmocka_unit_test(test_caps_follow_the_brands_calendar),
        cmocka_unit_test(test_exclusive_lines_and_aggregates),
        cmocka_unit_test(test_growth_and_tiers),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, setup, teardown);
}
