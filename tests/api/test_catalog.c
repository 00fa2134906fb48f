/* test_catalog.c - the catalog and redemption (积分换购) over HTTP: rewards
 * with zh/en names and options, remembered specs pre-selecting an option,
 * every order state and every wrong transition, every refusal (not enough
 * points, out of stock, window closed, inactive, limit reached, tier,
 * eligibility) answered with problem+json naming the reason and changing
 * nothing; monthly specials with the best price, their own quantity and
 * limit, and the calendar; coupons bought with points; the points report;
 * and 200 clients racing for the last 10 units. `hudong check` after each. */
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

#include "api/harness.h"

/* ---- helpers ---- */

static void start(ht_server *s) {
    ht_start(s, true);
    ht_clock_to(s, "2026-03-02T00:00:00Z");
    ht_resp r = ht_patch(s, "/v1/program", "{\"expiry\":{\"policy\":\"none\"}}");
    ht_free(&r);
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static char *new_customer(const ht_server *s, const char *phone, const char *extra) {
    char body[512];
    snprintf(body, sizeof body, "{\"phone\":\"%s\"%s%s}", phone, extra ? "," : "",
             extra ? extra : "");
    ht_resp r = ht_post(s, "/v1/customers", body);
    if (r.status != 201) fail_msg("create customer: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static void give_points(const ht_server *s, const char *cid, long amount) {
    static atomic_int seq;
    char body[256];
    snprintf(body, sizeof body,
             "{\"key\":\"give-%d\",\"debit\":\"system:issuance\",\"credit\":\"customer:%s\","
             "\"amount\":%ld,\"code\":\"earn\"}",
             atomic_fetch_add(&seq, 1), cid, amount);
    ht_resp r = ht_post(s, "/v1/transfers", body);
    if (r.status != 201) fail_msg("give points: %ld %s", r.status, r.body);
    ht_free(&r);
}

static long long balance(const ht_server *s, const char *cid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/points", cid);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("points: %ld %s", r.status, r.body);
    long long b = ht_int(r.json, "balance");
    ht_free(&r);
    return b;
}

static char *mk(const ht_server *s, const char *path, const char *body) {
    ht_resp r = ht_post(s, path, body);
    if (r.status != 201) fail_msg("POST %s: %ld %s", path, r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static json_t *get_json(const ht_server *s, const char *fmt, const char *id) {
    char p[160];
    snprintf(p, sizeof p, fmt, id);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("GET %s: %ld %s", p, r.status, r.body);
    json_t *j = json_incref(r.json);
    ht_free(&r);
    return j;
}

/* stock of a reward (-1 when unlimited), or of one of its options */
static long long stock_of(const ht_server *s, const char *rid, const char *option) {
    json_t *j = get_json(s, "/v1/rewards/%s", rid);
    json_t *src = j;
    if (option) {
        size_t i;
        json_t *o;
        src = NULL;
        json_array_foreach(json_object_get(j, "options"), i, o) {
            if (strcmp(ht_str(o, "code"), option) == 0) src = o;
        }
        if (!src) fail_msg("no option %s", option);
    }
    json_t *st = json_object_get(src, "stock");
    long long v = json_is_null(st) ? -1 : json_integer_value(st);
    json_decref(j);
    return v;
}

static size_t order_count(const ht_server *s, const char *cid) {
    json_t *j = get_json(s, "/v1/customers/%s/orders?limit=200", cid);
    size_t n = json_array_size(json_object_get(j, "data"));
    json_decref(j);
    return n;
}

static ht_resp redeem(const ht_server *s, const char *cid, const char *rid, const char *extra) {
    char body[512];
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"reward_id\":\"%s\"%s%s}", cid, rid,
             extra ? "," : "", extra ? extra : "");
    return ht_post(s, "/v1/redemptions", body);
}

static char *redeem_ok(const ht_server *s, const char *cid, const char *rid, const char *extra) {
    ht_resp r = redeem(s, cid, rid, extra);
    if (r.status != 201) fail_msg("redeem: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static void expect_refusal(ht_resp *r, long status, const char *field, const char *reason) {
    ht_expect_problem(r, status, field);
    if (reason && strcmp(ht_str(r->json, "reason"), reason) != 0)
        fail_msg("expected reason %s: %s", reason, r->body);
    ht_free(r);
}

/* A refused redemption changes nothing: balance, stock and orders stay. */
static void refused(const ht_server *s, const char *cid, const char *rid, const char *extra,
                    long status, const char *field, const char *reason) {
    long long b = balance(s, cid), st = stock_of(s, rid, NULL);
    size_t n = order_count(s, cid);
    ht_resp r = redeem(s, cid, rid, extra);
    expect_refusal(&r, status, field, reason);
    assert_int_equal(balance(s, cid), b);
    assert_int_equal(stock_of(s, rid, NULL), st);
    assert_int_equal(order_count(s, cid), n);
}

static ht_resp order_action(const ht_server *s, const char *oid, const char *action,
                            const char *body) {
    char p[128];
    snprintf(p, sizeof p, "/v1/orders/%s/%s", oid, action);
    return ht_post(s, p, body);
}

static const char *status_of(const ht_server *s, const char *oid, char out[16]) {
    json_t *j = get_json(s, "/v1/orders/%s", oid);
    snprintf(out, 16, "%s", ht_str(j, "status"));
    json_decref(j);
    return out;
}

/* ---- rewards ---- */

static void test_rewards_and_specs(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    /* bad input names the field */
    struct {
        const char *body, *field;
    } bad[] = {
        {"{\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1}}", "type"},
        {"{\"type\":\"toy\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1}}", "type"},
        {"{\"type\":\"physical\",\"name\":{\"en\":\"Cup\"},\"price\":{\"points\":1}}", "name.zh"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"}}", "price"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":-1}}",
         "price.points"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1},\"stock\":-2}",
         "stock"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1},\"options\":[{"
         "\"code\":\"A\"},{\"code\":\"A\"}]}",
         "options[1].code"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1},\"limit\":{"
         "\"per_customer\":1,\"period\":\"week\"}}",
         "limit.period"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1},\"starts_at\":"
         "\"2026-03-05\",\"ends_at\":\"2026-03-01\"}",
         "ends_at"},
        {"{\"type\":\"coupon\",\"name\":{\"zh\":\"券\"},\"price\":{\"points\":1}}",
         "coupon_template_id"},
        {"{\"type\":\"physical\",\"name\":{\"zh\":\"杯\"},\"price\":{\"points\":1},\"colour\":1}",
         "colour"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ht_resp r = ht_post(&s, "/v1/rewards", bad[i].body);
        ht_expect_problem(&r, 422, bad[i].field);
        ht_free(&r);
    }
    ht_resp r = ht_get(&s, "/v1/rewards");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    /* jeans with options by waist and length; the customer remembered 32/34 */
    char *jeans = mk(&s, "/v1/rewards",
                     "{\"type\":\"physical\",\"name\":{\"zh\":\"牛仔裤\",\"en\":\"Jeans\"},"
                     "\"description\":{\"zh\":\"经典直筒\",\"en\":\"Classic straight\"},"
                     "\"price\":{\"points\":500,\"cash\":990},\"stock\":10,\"spec_category\":"
                     "\"jeans\",\"options\":[{\"code\":\"W30L32\",\"name\":{\"zh\":\"30/32\"},"
                     "\"attrs\":{\"waist\":30,\"length\":32},\"stock\":3},{\"code\":\"W32L32\","
                     "\"attrs\":{\"waist\":32,\"length\":32},\"stock\":3},{\"code\":\"W32L34\","
                     "\"attrs\":{\"waist\":\"32\",\"length\":34,\"colour\":\"blue\"},\"stock\":"
                     "1}]}");
    char *cup = mk(&s, "/v1/rewards",
                   "{\"type\":\"digital\",\"name\":{\"zh\":\"视频会员月卡\",\"en\":\"Video pass\"},"
                   "\"price\":{\"points\":100}}");
    char *a = new_customer(&s, "13900000001", "\"specs\":{\"jeans\":{\"waist\":32,\"length\":34}}");
    char *b = new_customer(&s, "13900000002", "\"specs\":{\"jeans\":{\"waist\":30}}");
    char *c = new_customer(&s, "13900000003", "\"specs\":{\"shirts\":{\"size\":\"M\"}}");
    char p[160];
    snprintf(p, sizeof p, "/v1/rewards/%s?customer_id=%s", jeans, a);
    r = ht_get(&s, p);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "selected_option"), "W32L34");
    assert_string_equal(ht_str(json_object_get(r.json, "name"), "zh"), "牛仔裤");
    assert_string_equal(ht_str(json_object_get(r.json, "description"), "en"), "Classic straight");
    assert_int_equal(ht_int(json_object_get(r.json, "price"), "cash"), 990);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(r.json, "options"), 2), "selected")));
    ht_free(&r);
    snprintf(p, sizeof p, "/v1/rewards/%s?customer_id=%s", jeans, b);
    r = ht_get(&s, p);
    assert_string_equal(ht_str(r.json, "selected_option"), "W30L32"); /* only waist known */
    ht_free(&r);
    snprintf(p, sizeof p, "/v1/rewards/%s?customer_id=%s", jeans, c);
    r = ht_get(&s, p);
    assert_true(json_is_null(json_object_get(r.json, "selected_option")));
    ht_free(&r);
    snprintf(p, sizeof p, "/v1/rewards/%s?customer_id=42", jeans);
    r = ht_get(&s, p);
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    r = ht_get(&s, "/v1/rewards/123");
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);
    /* redeeming without naming an option takes the remembered one */
    give_points(&s, a, 2000);
    give_points(&s, c, 2000);
    r = redeem(&s, a, jeans, NULL);
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "option"), "W32L34");
    assert_int_equal(ht_int(r.json, "cash"), 990);
    assert_int_equal(ht_int(r.json, "points"), 500);
    ht_free(&r);
    assert_int_equal(stock_of(&s, jeans, "W32L34"), 0);
    assert_int_equal(stock_of(&s, jeans, NULL), 9);
    /* that option is gone now; the next best match is not chosen blindly */
    refused(&s, a, jeans, NULL, 409, "stock", "out_of_stock");
    refused(&s, c, jeans, NULL, 422, "option", NULL);
    refused(&s, c, jeans, "\"option\":\"XXL\"", 422, "option", NULL);
    refused(&s, c, cup, "\"option\":\"XXL\"", 422, "option", NULL);
    refused(&s, c, jeans, "\"quantity\":0", 422, "quantity", NULL);
    refused(&s, c, jeans, "\"quantity\":4,\"option\":\"W30L32\"", 409, "stock", "out_of_stock");
    /* list, filter, page */
    r = ht_get(&s, "/v1/rewards?limit=1");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    assert_string_equal(ht_str(json_array_get(json_object_get(r.json, "data"), 0), "id"), cup);
    char next[160];
    snprintf(next, sizeof next, "/v1/rewards?limit=1&cursor=%s", ht_str(r.json, "next_cursor"));
    ht_free(&r);
    r = ht_get(&s, next);
    assert_string_equal(ht_str(json_array_get(json_object_get(r.json, "data"), 0), "id"), jeans);
    assert_true(json_is_null(json_object_get(r.json, "next_cursor")));
    ht_free(&r);
    r = ht_get(&s, "/v1/rewards?type=digital");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    ht_free(&r);
    r = ht_get(&s, "/v1/rewards?available=true");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
    ht_free(&r);
    r = ht_get(&s, "/v1/rewards?available=false");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    r = ht_get(&s, "/v1/rewards?available=maybe");
    ht_expect_problem(&r, 400, "available");
    ht_free(&r);
    /* PATCH: names merge, options are replaced (sold counts of kept codes stay) */
    snprintf(p, sizeof p, "/v1/rewards/%s", jeans);
    r = ht_patch(&s, p,
                 "{\"name\":{\"en\":\"Denim\"},\"options\":[{\"code\":\"W32L34\",\"attrs\":{"
                 "\"waist\":32,\"length\":34},\"stock\":5},{\"code\":\"W34L34\",\"attrs\":{"
                 "\"waist\":34,\"length\":34},\"stock\":2}]}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(json_object_get(r.json, "name"), "zh"), "牛仔裤");
    assert_string_equal(ht_str(json_object_get(r.json, "name"), "en"), "Denim");
    json_t *opts = json_object_get(r.json, "options");
    assert_int_equal(json_array_size(opts), 2);
    assert_int_equal(ht_int(json_array_get(opts, 0), "sold"), 1);
    assert_int_equal(ht_int(json_array_get(opts, 0), "stock"), 5);
    ht_free(&r);
    r = ht_patch(&s, p, "{\"price\":{\"points\":-3}}");
    ht_expect_problem(&r, 422, "price.points");
    ht_free(&r);
    r = ht_patch(&s, p, "{\"name\":{\"zh\":\"\"}}");
    ht_expect_problem(&r, 422, "name.zh");
    ht_free(&r);
    r = ht_patch(&s, "/v1/rewards/77", "{\"active\":false}");
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(jeans);
    free(cup);
    free(a);
    free(b);
    free(c);
}

/* ---- orders: every state ---- */

static void test_order_states(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *cid = new_customer(&s, "13900000011", NULL);
    give_points(&s, cid, 5000);
    char *tv = mk(&s, "/v1/rewards",
                  "{\"type\":\"physical\",\"name\":{\"zh\":\"电视\",\"en\":\"TV\"},\"price\":{"
                  "\"points\":1000},\"stock\":5}");
    char *card = mk(&s, "/v1/rewards",
                    "{\"type\":\"digital\",\"name\":{\"zh\":\"充值卡\",\"en\":\"Top-up\"},"
                    "\"price\":{\"points\":200}}");
    /* an Idempotency-Key makes a retry return the same order */
    char body[256];
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"reward_id\":\"%s\",\"quantity\":2}", cid,
             tv);
    ht_resp r = ht_post_idem(&s, "/v1/redemptions", body, "redeem-1");
    assert_int_equal(r.status, 201);
    char o1[32];
    snprintf(o1, sizeof o1, "%s", ht_str(r.json, "id"));
    assert_string_equal(ht_str(r.json, "status"), "placed");
    assert_string_equal(ht_str(r.json, "source"), "redemption");
    assert_int_equal(ht_int(r.json, "points"), 2000);
    assert_int_equal(ht_int(r.json, "unit_points"), 1000);
    assert_string_equal(r.location + strlen(r.location) - strlen(o1), o1);
    ht_free(&r);
    r = ht_post_idem(&s, "/v1/redemptions", body, "redeem-1");
    assert_int_equal(r.status, 201);
    assert_true(r.replayed);
    assert_string_equal(ht_str(r.json, "id"), o1);
    ht_free(&r);
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"reward_id\":\"%s\",\"quantity\":1}", cid,
             tv);
    r = ht_post_idem(&s, "/v1/redemptions", body, "redeem-1");
    ht_expect_problem(&r, 409, "Idempotency-Key");
    ht_free(&r);
    assert_int_equal(balance(&s, cid), 3000);
    assert_int_equal(stock_of(&s, tv, NULL), 3);
    /* the charge is a posted ledger transfer to system:redemption */
    json_t *o = get_json(&s, "/v1/orders/%s", o1);
    json_t *t = get_json(&s, "/v1/transfers/%s", ht_str(o, "transfer_id"));
    assert_string_equal(ht_str(t, "credit"), "system:redemption");
    assert_string_equal(ht_str(t, "status"), "posted");
    assert_int_equal(ht_int(t, "amount"), 2000);
    json_decref(t);
    json_decref(o);
    /* placed: deliver (physical) and a second ship are wrong transitions */
    char st[16];
    r = order_action(&s, o1, "deliver", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    r = order_action(&s, o1, "ship", "{\"carrier\":\"顺丰\"}");
    ht_expect_problem(&r, 422, "tracking_number");
    ht_free(&r);
    r = order_action(&s, o1, "ship", NULL);
    ht_expect_problem(&r, 422, "carrier");
    ht_free(&r);
    assert_string_equal(status_of(&s, o1, st), "placed");
    r = order_action(&s, o1, "ship", "{\"carrier\":\"顺丰\",\"tracking_number\":\"SF1234567\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "shipped");
    assert_string_equal(ht_str(r.json, "carrier"), "顺丰");
    assert_string_equal(ht_str(r.json, "tracking_number"), "SF1234567");
    assert_true(json_is_string(json_object_get(r.json, "shipped_at")));
    ht_free(&r);
    r = order_action(&s, o1, "ship", "{\"carrier\":\"EMS\",\"tracking_number\":\"E1\"}");
    expect_refusal(&r, 409, "status", "wrong_state");
    r = order_action(&s, o1, "deliver", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "delivered");
    assert_true(json_is_string(json_object_get(r.json, "delivered_at")));
    ht_free(&r);
    /* delivered is final: no cancel, no ship, no second delivery */
    r = order_action(&s, o1, "cancel", "{\"reason\":\"changed my mind\"}");
    expect_refusal(&r, 409, "status", "wrong_state");
    r = order_action(&s, o1, "deliver", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    assert_int_equal(balance(&s, cid), 3000);
    assert_int_equal(stock_of(&s, tv, NULL), 3);
    /* placed -> cancelled: points back through a refund transfer, stock back */
    char *o2 = redeem_ok(&s, cid, tv, NULL);
    assert_int_equal(balance(&s, cid), 2000);
    assert_int_equal(stock_of(&s, tv, NULL), 2);
    r = order_action(&s, o2, "cancel", "{\"reason\":\"缺货\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "cancelled");
    assert_string_equal(ht_str(r.json, "cancel_reason"), "缺货");
    t = get_json(&s, "/v1/transfers/%s", ht_str(r.json, "refund_transfer_id"));
    assert_string_equal(ht_str(t, "code"), "refund");
    assert_string_equal(ht_str(t, "debit"), "system:redemption");
    json_decref(t);
    ht_free(&r);
    assert_int_equal(balance(&s, cid), 3000);
    assert_int_equal(stock_of(&s, tv, NULL), 3);
    r = order_action(&s, o2, "cancel", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    r = order_action(&s, o2, "ship", "{\"carrier\":\"EMS\",\"tracking_number\":\"E1\"}");
    expect_refusal(&r, 409, "status", "wrong_state");
    assert_int_equal(balance(&s, cid), 3000);
    /* shipped -> cancelled (returned in transit) */
    char *o3 = redeem_ok(&s, cid, tv, NULL);
    r = order_action(&s, o3, "ship", "{\"carrier\":\"EMS\",\"tracking_number\":\"E9\"}");
    ht_free(&r);
    r = order_action(&s, o3, "cancel", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "cancelled");
    ht_free(&r);
    assert_int_equal(balance(&s, cid), 3000);
    assert_int_equal(stock_of(&s, tv, NULL), 3);
    /* a digital reward is delivered straight from placed and never shipped */
    char *o4 = redeem_ok(&s, cid, card, NULL);
    r = order_action(&s, o4, "ship", "{\"carrier\":\"EMS\",\"tracking_number\":\"E2\"}");
    expect_refusal(&r, 409, "status", "wrong_state");
    r = order_action(&s, o4, "deliver", "{}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "delivered");
    ht_free(&r);
    r = order_action(&s, "999", "deliver", NULL);
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);
    r = order_action(&s, o4, "deliver", "{\"carrier\":1}");
    ht_expect_problem(&r, 422, "carrier");
    ht_free(&r);
    /* the member's history, newest first, paged */
    json_t *h = get_json(&s, "/v1/customers/%s/orders", cid);
    json_t *data = json_object_get(h, "data");
    assert_int_equal(json_array_size(data), 4);
    assert_string_equal(ht_str(json_array_get(data, 0), "id"), o4);
    assert_string_equal(ht_str(json_array_get(data, 3), "id"), o1);
    assert_string_equal(
        ht_str(json_object_get(json_object_get(json_array_get(data, 0), "reward"), "name"), "zh"),
        "充值卡");
    json_decref(h);
    char p[128];
    snprintf(p, sizeof p, "/v1/customers/%s/orders?limit=3", cid);
    r = ht_get(&s, p);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 3);
    assert_string_equal(ht_str(r.json, "next_cursor"), o2);
    ht_free(&r);
    assert_int_equal(balance(&s, cid), 2800);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(cid);
    free(tv);
    free(card);
    free(o2);
    free(o3);
    free(o4);
}

/* ---- refusals ---- */

static void test_refusals_change_nothing(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    /* tiers come from growth: a rule gives growth for orders */
    ht_resp r = ht_post(&s, "/v1/tiers",
                        "{\"code\":\"silver\",\"name\":{\"zh\":\"银卡\",\"en\":\"Silver\"},"
                        "\"threshold\":0}");
    ht_free(&r);
    r = ht_post(&s, "/v1/tiers",
                "{\"code\":\"gold\",\"name\":{\"zh\":\"金卡\",\"en\":\"Gold\"},\"threshold\":500}");
    ht_free(&r);
    char *rule = mk(&s, "/v1/rules",
                    "{\"name\":\"growth\",\"event_type\":\"order.paid\",\"currency\":\"growth\","
                    "\"formula\":\"floor(amount / 100)\"}");
    char *gold = new_customer(&s, "13900000021", NULL);
    char *plain = new_customer(&s, "13900000022", NULL);
    char ev[300];
    snprintf(ev, sizeof ev,
             "{\"type\":\"order.paid\",\"customer\":\"%s\",\"properties\":{\"order_id\":\"G1\","
             "\"amount\":60000}}",
             gold);
    r = ht_post(&s, "/v1/events", ev);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    give_points(&s, gold, 1000);
    give_points(&s, plain, 1000);
    char *vip = mk(&s, "/v1/rewards",
                   "{\"type\":\"service\",\"name\":{\"zh\":\"贵宾厅\",\"en\":\"Lounge\"},\"price\":"
                   "{\"points\":100},\"tiers\":[\"gold\",\"platinum\"]}");
    refused(&s, plain, vip, NULL, 403, "tier", "not_eligible");
    char *o = redeem_ok(&s, gold, vip, NULL);
    free(o);
    /* not enough points */
    char *big = mk(&s, "/v1/rewards",
                   "{\"type\":\"physical\",\"name\":{\"zh\":\"冰箱\",\"en\":\"Fridge\"},\"price\":"
                   "{\"points\":950},\"stock\":3}");
    refused(&s, gold, big, NULL, 409, "points", "insufficient_points");
    refused(&s, plain, big, "\"quantity\":2", 409, "points", "insufficient_points");
    /* out of stock */
    char *last = mk(&s, "/v1/rewards",
                    "{\"type\":\"physical\",\"name\":{\"zh\":\"限量版\",\"en\":\"Limited\"},"
                    "\"price\":{\"points\":10},\"stock\":1}");
    o = redeem_ok(&s, plain, last, NULL);
    free(o);
    refused(&s, plain, last, NULL, 409, "stock", "out_of_stock");
    /* window: not yet open, then closed; inactive */
    char *win = mk(&s, "/v1/rewards",
                   "{\"type\":\"digital\",\"name\":{\"zh\":\"春节礼包\",\"en\":\"New Year\"},"
                   "\"price\":{\"points\":10},\"starts_at\":\"2026-03-10T00:00:00+08:00\","
                   "\"ends_at\":\"2026-03-20T00:00:00+08:00\"}");
    refused(&s, plain, win, NULL, 409, "window", "window_closed");
    ht_clock_to(&s, "2026-03-15T00:00:00Z");
    o = redeem_ok(&s, plain, win, NULL);
    free(o);
    ht_clock_to(&s, "2026-03-25T00:00:00Z");
    refused(&s, plain, win, NULL, 409, "window", "window_closed");
    char p[96];
    snprintf(p, sizeof p, "/v1/rewards/%s", last);
    r = ht_patch(&s, p, "{\"active\":false,\"stock\":5}");
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(json_object_get(r.json, "available")));
    ht_free(&r);
    refused(&s, plain, last, NULL, 409, "active", "not_active");
    /* per-customer limit per month; a new month brings a new allowance */
    char *lim = mk(&s, "/v1/rewards",
                   "{\"type\":\"digital\",\"name\":{\"zh\":\"咖啡券\",\"en\":\"Coffee\"},"
                   "\"price\":{\"points\":5},\"limit\":{\"per_customer\":2,\"period\":"
                   "\"month\"}}");
    refused(&s, plain, lim, "\"quantity\":3", 409, "limit", "limit_reached");
    o = redeem_ok(&s, plain, lim, "\"quantity\":2");
    refused(&s, plain, lim, NULL, 409, "limit", "limit_reached");
    /* cancelling gives the allowance back */
    r = order_action(&s, o, "cancel", NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    free(o);
    o = redeem_ok(&s, plain, lim, NULL);
    free(o);
    o = redeem_ok(&s, plain, lim, NULL);
    free(o);
    refused(&s, plain, lim, NULL, 409, "limit", "limit_reached");
    /* the brand's month: 23:30 on 31 March in Beijing is still March... */
    ht_clock_to(&s, "2026-03-31T15:30:00Z");
    refused(&s, plain, lim, NULL, 409, "limit", "limit_reached");
    /* ...and 00:30 on 1 April is April, though UTC still says March */
    ht_clock_to(&s, "2026-03-31T16:30:00Z");
    o = redeem_ok(&s, plain, lim, NULL);
    free(o);
    /* unknown things and malformed input */
    refused(&s, plain, lim, "\"extra\":1", 422, "extra", NULL);
    refused(&s, plain, lim, "\"quantity\":101", 422, "quantity", NULL);
    refused(&s, plain, lim, "\"special_id\":\"5\"", 422, "special_id", NULL);
    r = redeem(&s, "42", lim, NULL);
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    r = redeem(&s, plain, "42", NULL);
    ht_expect_problem(&r, 422, "reward_id");
    ht_free(&r);
    r = ht_post(&s, "/v1/redemptions", "{\"reward_id\":\"1\"}");
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    r = ht_post(&s, "/v1/redemptions", "[1]");
    assert_true(r.status == 422 || r.status == 400);
    ht_free(&r);
    r = ht_post(&s, "/v1/redemptions", "{\"customer_id\":");
    ht_expect_problem(&r, 400, NULL);
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(rule);
    free(gold);
    free(plain);
    free(vip);
    free(big);
    free(last);
    free(win);
    free(lim);
}

/* ---- monthly specials ---- */

static void test_specials(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *rid = mk(&s, "/v1/rewards",
                   "{\"type\":\"physical\",\"name\":{\"zh\":\"保温杯\",\"en\":\"Flask\"},"
                   "\"price\":{\"points\":300},\"stock\":6}");
    char *sh = new_customer(&s, "13900000031", "\"city\":\"上海\"");
    char *hz = new_customer(&s, "13900000032", "\"city\":\"杭州\",\"attributes\":{\"vip\":true}");
    give_points(&s, sh, 5000);
    give_points(&s, hz, 5000);
    /* validation */
    char body[600];
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"points\":300,\"starts_at\":\"2026-03-01\",\"ends_at\":"
             "\"2026-04-01\"}",
             rid);
    ht_resp r = ht_post(&s, "/v1/specials", body);
    ht_expect_problem(&r, 422, "points"); /* not a discount */
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"points\":100,\"starts_at\":\"2026-03-01\",\"ends_at\":"
             "\"2026-04-01\",\"eligibility\":\"customer.city == \\\"杭州\\\" and\"}",
             rid);
    r = ht_post(&s, "/v1/specials", body);
    ht_expect_problem(&r, 422, "eligibility");
    assert_true(ht_int(r.json, "column") > 0);
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"points\":100,\"starts_at\":\"2026-03-01\",\"ends_at\":"
             "\"2026-04-01\",\"eligibility\":\"amount > 1\"}",
             rid);
    r = ht_post(&s, "/v1/specials", body);
    ht_expect_problem(&r, 422, "eligibility");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"points\":100,\"starts_at\":\"2026-03-05\",\"ends_at\":"
             "\"2026-03-01\"}",
             rid);
    r = ht_post(&s, "/v1/specials", body);
    ht_expect_problem(&r, 422, "ends_at");
    ht_free(&r);
    r = ht_post(&s, "/v1/specials",
                "{\"reward_id\":\"9\",\"points\":1,\"starts_at\":\"2026-03-01\",\"ends_at\":"
                "\"2026-03-02\"}");
    ht_expect_problem(&r, 422, "reward_id");
    ht_free(&r);
    /* A: 250 for anyone, 1 unit; B: 200 for 杭州, 1 per customer; C: 150 next month */
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"title\":{\"zh\":\"三月特惠\",\"en\":\"March deal\"},"
             "\"points\":250,\"starts_at\":\"2026-03-01\",\"ends_at\":\"2026-03-16\","
             "\"quantity\":1}",
             rid);
    char *spa = mk(&s, "/v1/specials", body);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"points\":200,\"starts_at\":\"2026-03-01\",\"ends_at\":"
             "\"2026-04-01\",\"per_customer\":1,\"eligibility\":\"customer.city == \\\"杭州\\\" "
             "and customer.attributes.vip\"}",
             rid);
    char *spb = mk(&s, "/v1/specials", body);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"points\":150,\"starts_at\":\"2026-04-01\",\"ends_at\":"
             "\"2026-04-08\"}",
             rid);
    char *spc = mk(&s, "/v1/specials", body);
    json_t *j = get_json(&s, "/v1/specials/%s", spc);
    assert_string_equal(ht_str(j, "status"), "scheduled");
    /* a bare date is the brand's midnight (+08:00) */
    assert_string_equal(ht_str(j, "starts_at"), "2026-03-31T16:00:00.000Z");
    assert_string_equal(ht_str(j, "ends_at"), "2026-04-07T16:00:00.000Z");
    assert_int_equal(ht_int(j, "regular_points"), 300);
    json_decref(j);
    /* what each customer can take now */
    char p[160];
    snprintf(p, sizeof p, "/v1/specials?customer_id=%s", sh);
    r = ht_get(&s, p);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    ht_free(&r);
    snprintf(p, sizeof p, "/v1/specials?customer_id=%s", hz);
    r = ht_get(&s, p);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
    ht_free(&r);
    /* the best price that applies: 杭州 gets B, 上海 gets A, then A is gone */
    r = redeem(&s, hz, rid, NULL);
    assert_int_equal(r.status, 201);
    assert_int_equal(ht_int(r.json, "unit_points"), 200);
    assert_string_equal(ht_str(r.json, "special_id"), spb);
    assert_string_equal(ht_str(r.json, "source"), "special");
    char hz1[32];
    snprintf(hz1, sizeof hz1, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = redeem(&s, sh, rid, NULL);
    assert_int_equal(ht_int(r.json, "unit_points"), 250);
    assert_string_equal(ht_str(r.json, "special_id"), spa);
    ht_free(&r);
    assert_int_equal(balance(&s, sh), 4750);
    r = redeem(&s, sh, rid, NULL);
    assert_int_equal(ht_int(r.json, "unit_points"), 300); /* A sold out: regular price */
    assert_true(json_is_null(json_object_get(r.json, "special_id")));
    ht_free(&r);
    /* 杭州 used B's one per customer; A is gone: regular */
    r = redeem(&s, hz, rid, NULL);
    assert_int_equal(ht_int(r.json, "unit_points"), 300);
    ht_free(&r);
    /* naming a special insists on it, and says why it cannot apply */
    char ex[96];
    snprintf(ex, sizeof ex, "\"special_id\":\"%s\"", spb);
    refused(&s, sh, rid, ex, 403, "eligibility", "not_eligible");
    refused(&s, hz, rid, ex, 409, "limit", "limit_reached");
    snprintf(ex, sizeof ex, "\"special_id\":\"%s\"", spa);
    refused(&s, hz, rid, ex, 409, "quantity", "sold_out");
    snprintf(ex, sizeof ex, "\"special_id\":\"%s\"", spc);
    refused(&s, hz, rid, ex, 409, "window", "window_closed");
    /* cancelling the special order returns the special's unit and the allowance */
    r = order_action(&s, hz1, "cancel", NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    j = get_json(&s, "/v1/specials/%s", spb);
    assert_int_equal(ht_int(j, "sold"), 0);
    json_decref(j);
    snprintf(ex, sizeof ex, "\"special_id\":\"%s\"", spb);
    char *o = redeem_ok(&s, hz, rid, ex);
    free(o);
    /* the special's quantity is separate from the stock: both must have room */
    assert_int_equal(stock_of(&s, rid, NULL), 2);
    snprintf(p, sizeof p, "/v1/specials/%s", spa);
    r = ht_patch(&s, p, "{\"quantity\":10,\"title\":{\"en\":\"March deal!\"}}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(json_object_get(r.json, "title"), "zh"), "三月特惠");
    assert_string_equal(ht_str(r.json, "status"), "running");
    ht_free(&r);
    r = ht_patch(&s, p, "{\"reward_id\":\"1\"}");
    ht_expect_problem(&r, 422, "reward_id");
    ht_free(&r);
    o = redeem_ok(&s, sh, rid, "\"quantity\":2"); /* the last 2 units at 250 */
    free(o);
    refused(&s, sh, rid, NULL, 409, "stock", "out_of_stock");
    j = get_json(&s, "/v1/specials/%s", spa);
    assert_int_equal(ht_int(j, "sold"), 3); /* the refused order took nothing */
    assert_int_equal(ht_int(j, "remaining"), 7);
    json_decref(j);
    /* the calendar: March days carry A and B; April 1-7 carry C */
    r = ht_get(&s, "/v1/specials/calendar?month=2026-03");
    assert_int_equal(r.status, 200);
    json_t *days = json_object_get(r.json, "days");
    assert_int_equal(json_array_size(days), 31);
    assert_string_equal(ht_str(json_array_get(days, 0), "date"), "2026-03-01");
    assert_int_equal(json_array_size(json_object_get(json_array_get(days, 0), "specials")), 2);
    assert_int_equal(json_array_size(json_object_get(json_array_get(days, 20), "specials")), 1);
    /* 31 March ends at Beijing's midnight, when C begins: only B */
    assert_int_equal(json_array_size(json_object_get(json_array_get(days, 30), "specials")), 1);
    ht_free(&r);
    r = ht_get(&s, "/v1/specials/calendar?month=2026-04");
    days = json_object_get(r.json, "days");
    assert_int_equal(json_array_size(days), 30);
    /* the brand's days (+08:00), and its dates: B ended at Beijing's midnight */
    assert_int_equal(json_array_size(json_object_get(json_array_get(days, 0), "specials")), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(days, 6), "specials")), 1);
    assert_int_equal(json_array_size(json_object_get(json_array_get(days, 7), "specials")), 0);
    ht_free(&r);
    r = ht_get(&s, "/v1/specials/calendar?month=2026-13");
    ht_expect_problem(&r, 400, "month");
    ht_free(&r);
    snprintf(p, sizeof p, "/v1/specials?reward_id=%s", rid);
    r = ht_get(&s, p);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 3);
    ht_free(&r);
    r = ht_get(&s, "/v1/specials?reward_id=12345");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    r = ht_get(&s, "/v1/specials?running=true");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 2);
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(rid);
    free(sh);
    free(hz);
    free(spa);
    free(spb);
    free(spc);
}

/* ---- coupons bought with points ---- */

static void test_coupon_reward(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *tmpl = mk(&s, "/v1/coupons/templates",
                    "{\"name\":{\"zh\":\"满100减20\",\"en\":\"20 off 100\"},\"discount\":{"
                    "\"type\":\"amount\",\"amount\":2000},\"min_spend\":10000,\"validity\":{"
                    "\"days\":30},\"per_customer\":2,\"quantity\":3}");
    char body[300];
    snprintf(body, sizeof body,
             "{\"type\":\"coupon\",\"name\":{\"zh\":\"优惠券\",\"en\":\"Coupon\"},\"price\":{"
             "\"points\":50},\"coupon_template_id\":\"%s\"}",
             tmpl);
    char *rid = mk(&s, "/v1/rewards", body);
    char *a = new_customer(&s, "13900000041", NULL);
    give_points(&s, a, 500);
    ht_resp r = redeem(&s, a, rid, "\"quantity\":2");
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "status"), "delivered"); /* issued at once */
    json_t *codes = json_object_get(r.json, "coupons");
    assert_int_equal(json_array_size(codes), 2);
    assert_int_equal(strlen(json_string_value(json_array_get(codes, 0))), 18);
    ht_free(&r);
    assert_int_equal(balance(&s, a), 400);
    json_t *mine = get_json(&s, "/v1/customers/%s/coupons", a);
    assert_int_equal(json_array_size(json_object_get(mine, "data")), 2);
    assert_string_equal(ht_str(json_array_get(json_object_get(mine, "data"), 0), "origin"),
                        "reward");
    json_decref(mine);
    /* the template's own per-customer limit holds, and the points stay */
    refused(&s, a, rid, NULL, 409, "limit", "limit_reached");
    json_t *t = get_json(&s, "/v1/coupons/templates/%s", tmpl);
    assert_int_equal(ht_int(t, "given"), 2);
    json_decref(t);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(tmpl);
    free(rid);
    free(a);
}

/* ---- the points report ---- */

static void test_points_report(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    ht_resp r = ht_patch(&s, "/v1/program", "{\"expiry\":{\"policy\":\"days\",\"days\":10}}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    char *a = new_customer(&s, "13900000051", NULL); /* redeems */
    char *b = new_customer(&s, "13900000052", NULL); /* earns only */
    char *c = new_customer(&s, "13900000053", NULL); /* views the points page */
    char *d = new_customer(&s, "13900000054", NULL); /* nothing at all */
    give_points(&s, a, 1000);
    give_points(&s, b, 600);
    char ev[200];
    snprintf(ev, sizeof ev, "{\"type\":\"points.view\",\"customer\":\"%s\"}", c);
    r = ht_post(&s, "/v1/events", ev);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    char *rid = mk(&s, "/v1/rewards",
                   "{\"type\":\"digital\",\"name\":{\"zh\":\"话费\",\"en\":\"Phone credit\"},"
                   "\"price\":{\"points\":400}}");
    char *o = redeem_ok(&s, a, rid, NULL);
    free(o);
    ht_clock_to(&s, "2026-03-20T00:00:00Z"); /* everyone's lots expired after 10 days */
    r = ht_get(&s, "/v1/reports/points?from=2026-03-01&to=2026-04-01");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "issued"), 1600);
    assert_int_equal(ht_int(r.json, "expired"), 1200); /* 600 of a's + 600 of b's */
    json_t *red = json_object_get(r.json, "redeemed");
    assert_int_equal(ht_int(red, "points"), 400);
    assert_int_equal(
        ht_int(json_object_get(json_object_get(red, "by_module"), "redemption"), "points"), 400);
    assert_int_equal(ht_int(json_object_get(r.json, "outstanding_liability"), "points"), 0);
    double breakage = json_real_value(json_object_get(r.json, "breakage_rate"));
    assert_true(breakage > 0.7499 && breakage < 0.7501);
    json_t *prod = json_object_get(r.json, "productivity");
    assert_int_equal(ht_int(prod, "redeemers"), 1);
    assert_int_equal(ht_int(prod, "followers"), 3); /* a, b, c; not d */
    double pct = json_real_value(json_object_get(prod, "percent"));
    assert_true(pct > 33.33 && pct < 33.34);
    ht_free(&r);
    /* a period with nothing in it */
    r = ht_get(&s, "/v1/reports/points?from=2025-01-01&to=2025-02-01");
    assert_int_equal(ht_int(r.json, "issued"), 0);
    assert_true(json_is_null(json_object_get(r.json, "breakage_rate")));
    assert_true(json_is_null(json_object_get(json_object_get(r.json, "productivity"), "percent")));
    ht_free(&r);
    r = ht_get(&s, "/v1/reports/points?from=2026-04-01&to=2026-03-01");
    ht_expect_problem(&r, 400, "to");
    ht_free(&r);
    r = ht_get(&s, "/v1/reports/points?from=yesterday");
    ht_expect_problem(&r, 400, "from");
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(b);
    free(c);
    free(d);
    free(rid);
}

/* ---- 200 clients for the last 10 units ---- */

#define RACERS 200
#define UNITS  10

typedef struct racer {
    const ht_server *s;
    const char *cid, *rid;
    pthread_barrier_t *go;
    long status;
} racer;

static void *race(void *arg) {
    racer *rc = arg;
    pthread_barrier_wait(rc->go);
    char body[160];
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"reward_id\":\"%s\"}", rc->cid, rc->rid);
    ht_resp r = ht_req_soft(rc->s, "POST", "/v1/redemptions", body);
    rc->status = r.status;
    if (r.status == 409 && strcmp(ht_str(r.json, "field"), "stock") != 0) rc->status = -409;
    if (r.status != 201 && r.status != 409)
        fprintf(stderr, "race: %ld %s\n", r.status, r.body ? r.body : "");
    ht_free(&r);
    return NULL;
}

static void test_race_last_units(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *rid = mk(&s, "/v1/rewards",
                   "{\"type\":\"physical\",\"name\":{\"zh\":\"限量球鞋\",\"en\":\"Sneakers\"},"
                   "\"price\":{\"points\":300},\"stock\":10}");
    static char ids[RACERS][24];
    /* customers, and 500 points each in one batch */
    json_t *xfers = json_array();
    for (int i = 0; i < RACERS; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1370000%04d", i);
        char *id = new_customer(&s, phone, NULL);
        snprintf(ids[i], sizeof ids[i], "%s", id);
        free(id);
        char key[32], acct[48];
        snprintf(key, sizeof key, "seed-%d", i);
        snprintf(acct, sizeof acct, "customer:%s", ids[i]);
        json_array_append_new(xfers, json_pack("{s:s,s:s,s:s,s:i,s:s}", "key", key, "debit",
                                               "system:issuance", "credit", acct, "amount", 500,
                                               "code", "earn"));
    }
    json_t *batch = json_pack("{s:o,s:b}", "transfers", xfers, "linked", 1);
    char *text = json_dumps(batch, JSON_COMPACT);
    ht_resp r = ht_post(&s, "/v1/transfers/batch", text);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    free(text);
    json_decref(batch);
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    pthread_t th[RACERS];
    static racer rs[RACERS];
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){&s, ids[i], rid, &go, 0};
        pthread_create(&th[i], NULL, race, &rs[i]);
    }
    int won = 0, lost = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (rs[i].status == 201) won++;
        if (rs[i].status == 409) lost++;
    }
    pthread_barrier_destroy(&go);
    assert_int_equal(won, UNITS);
    assert_int_equal(lost, RACERS - UNITS);
    json_t *j = get_json(&s, "/v1/rewards/%s", rid);
    assert_int_equal(ht_int(j, "stock"), 0);
    assert_int_equal(ht_int(j, "sold"), UNITS);
    json_decref(j);
    for (int i = 0; i < RACERS; i++) {
        long long b = balance(&s, ids[i]);
        assert_int_equal(b, rs[i].status == 201 ? 200 : 500);
        assert_int_equal(order_count(&s, ids[i]), rs[i].status == 201 ? 1 : 0);
    }
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(rid);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewards_and_specs),       cmocka_unit_test(test_order_states),
        cmocka_unit_test(test_refusals_change_nothing), cmocka_unit_test(test_specials),
        cmocka_unit_test(test_coupon_reward),           cmocka_unit_test(test_points_report),
        cmocka_unit_test(test_race_last_units),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
