/* test_auctions.c - auctions over HTTP with the test clock: scheduled, open,
 * anti-sniping extensions up to the cap, closing into an order; every
 * refusal (too low, not open, not enough points, tier) is a problem naming
 * its field and changes nothing; outbid and raised holds are voided;
 * reserve not met, no bids and no stock void everything; then 50 bidders
 * racing in the last seconds leave one winner and every other hold voided. */
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

/* balance, available and pending of a customer, in that order */
static void points(const ht_server *s, const char *cid, long long out[3]) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/points", cid);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("points: %ld %s", r.status, r.body);
    out[0] = ht_int(r.json, "balance");
    out[1] = ht_int(r.json, "available");
    out[2] = ht_int(r.json, "pending");
    ht_free(&r);
}

static void expect_points(const ht_server *s, const char *cid, long long bal, long long avail,
                          long long pending) {
    long long p[3];
    points(s, cid, p);
    if (p[0] != bal || p[1] != avail || p[2] != pending)
        fail_msg("customer %s: balance/available/pending %lld/%lld/%lld, expected %lld/%lld/%lld",
                 cid, p[0], p[1], p[2], bal, avail, pending);
}

static char *reward(const ht_server *s, long stock) {
    ht_resp r = ht_postf(s, "/v1/rewards",
                         "{\"type\":\"physical\",\"name\":{\"zh\":\"保温杯\",\"en\":\"Flask\"},"
                         "\"price\":{\"points\":500},\"stock\":%ld}",
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
    if (r.status != 200) fail_msg("reward: %ld %s", r.status, r.body);
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

static ht_resp bid(const ht_server *s, const char *aid, const char *cid, long amount) {
    char p[96];
    snprintf(p, sizeof p, "/v1/auctions/%s/bids", aid);
    return ht_postf(s, p, "{\"customer_id\":\"%s\",\"amount\":%ld}", cid, amount);
}

static void expect_bid(const ht_server *s, const char *aid, const char *cid, long amount) {
    ht_resp r = bid(s, aid, cid, amount);
    if (r.status != 201) fail_msg("bid %ld by %s: %ld %s", amount, cid, r.status, r.body);
    ht_free(&r);
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static json_t *auction(const ht_server *s, const char *aid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/auctions/%s", aid);
    return get_json(s, p);
}

static void test_lifecycle(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-03-01T00:00:00Z");
    char *rid = reward(&s, 1);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"title\":{\"zh\":\"保温杯竞拍\",\"en\":\"Flask auction\"},"
             "\"starts_at\":\"2026-03-01T01:00:00Z\",\"ends_at\":\"2026-03-01T02:00:00Z\","
             "\"starting_bid\":100,\"increment\":10,\"reserve\":150,"
             "\"anti_sniping\":{\"window_s\":60,\"max_extension_s\":120}}",
             rid);
    ht_resp r = ht_post_idem(&s, "/v1/auctions", body, "auction-1");
    assert_int_equal(r.status, 201);
    char aid[32];
    snprintf(aid, sizeof aid, "%s", ht_str(r.json, "id"));
    assert_string_equal(ht_str(r.json, "status"), "scheduled");
    assert_true(json_is_null(json_object_get(r.json, "current_bid")));
    ht_free(&r);
    r = ht_post_idem(&s, "/v1/auctions", body, "auction-1"); /* the same key replays */
    assert_true(r.replayed);
    assert_string_equal(ht_str(r.json, "id"), aid);
    ht_free(&r);

    char *a = customer(&s, "13811112222", "张伟"), *b = customer(&s, "13800138000", NULL),
         *c = customer(&s, "13833334444", "李娜");
    give(&s, a, 2000);
    give(&s, b, 2000);
    give(&s, c, 50);

    /* scheduled: no bids, but it may still be changed */
    r = bid(&s, aid, a, 100);
    ht_expect_problem(&r, 409, "status");
    ht_free(&r);
    char path[96];
    snprintf(path, sizeof path, "/v1/auctions/%s", aid);
    r = ht_patch(&s, path, "{\"increment\":20}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "increment"), 20);
    ht_free(&r);
    r = ht_patch(&s, path, "{\"reserve\":50}"); /* below the starting bid */
    ht_expect_problem(&r, 422, "reserve");
    ht_free(&r);

    ht_clock_to(&s, "2026-03-01T01:00:00Z");
    json_t *au = auction(&s, aid);
    assert_string_equal(ht_str(au, "status"), "open");
    assert_int_equal(ht_int(au, "min_next_bid"), 100);
    json_decref(au);
    r = ht_patch(&s, path, "{\"increment\":5}");
    ht_expect_problem(&r, 409, "starts_at");
    ht_free(&r);

    r = bid(&s, aid, a, 90); /* below the starting bid */
    ht_expect_problem(&r, 409, "amount");
    assert_non_null(strstr(ht_str(r.json, "detail"), "too low"));
    ht_free(&r);
    r = bid(&s, aid, a, 100);
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "status"), "leading");
    assert_string_equal(ht_str(json_object_get(r.json, "auction"), "leader"), "张**");
    ht_free(&r);
    expect_points(&s, a, 2000, 1900, 100);
    r = bid(&s, aid, b, 110); /* must beat 100 by 20 */
    ht_expect_problem(&r, 409, "amount");
    ht_free(&r);
    expect_points(&s, b, 2000, 2000, 0);
    expect_bid(&s, aid, b, 120);
    expect_points(&s, a, 2000, 2000, 0); /* outbid: the hold is void */
    expect_points(&s, b, 2000, 1880, 120);
    /* not enough points: refused, nothing changes */
    r = bid(&s, aid, c, 200);
    ht_expect_problem(&r, 409, "amount");
    assert_non_null(strstr(ht_str(r.json, "detail"), "insufficient"));
    ht_free(&r);
    au = auction(&s, aid);
    assert_int_equal(ht_int(au, "current_bid"), 120);
    assert_string_equal(ht_str(au, "leader"), "138****8000");
    assert_int_equal(ht_int(au, "bids"), 2);
    json_decref(au);
    expect_points(&s, c, 50, 50, 0);
    /* raising your own bid with every point you have: the old hold is voided first */
    expect_bid(&s, aid, b, 2000);
    expect_points(&s, b, 2000, 0, 2000);
    r = bid(&s, aid, a, 2020);
    ht_expect_problem(&r, 409, "amount");
    ht_free(&r);
    expect_points(&s, b, 2000, 0, 2000);
    give(&s, a, 1000);
    give(&s, b, 1000);
    expect_bid(&s, aid, a, 2020);
    expect_points(&s, b, 3000, 3000, 0);
    expect_points(&s, a, 3000, 980, 2020);

    /* anti-sniping: a bid in the last 60 s moves the end 60 s, never more than
     * 120 s past the scheduled 02:00 */
    ht_clock_to(&s, "2026-03-01T01:59:30Z");
    expect_bid(&s, aid, b, 2040);
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "ends_at"), "2026-03-01T02:01:00.000Z");
    assert_string_equal(ht_str(au, "scheduled_end"), "2026-03-01T02:00:00.000Z");
    json_decref(au);
    ht_clock_to(&s, "2026-03-01T02:00:10Z"); /* past the scheduled end, before the new one */
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "status"), "open");
    json_decref(au);
    expect_bid(&s, aid, a, 2060);
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "ends_at"), "2026-03-01T02:02:00.000Z");
    json_decref(au);
    ht_clock_to(&s, "2026-03-01T02:01:30Z");
    expect_bid(&s, aid, b, 2080);
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "ends_at"), "2026-03-01T02:02:00.000Z"); /* capped */
    json_decref(au);
    ht_clock_to(&s, "2026-03-01T02:01:50Z");
    expect_bid(&s, aid, a, 2100);
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "ends_at"), "2026-03-01T02:02:00.000Z");
    json_decref(au);

    /* the close: the winner's hold posts, one unit is taken, an order is made */
    ht_clock_to(&s, "2026-03-01T02:02:00Z");
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "status"), "closed");
    assert_string_equal(ht_str(au, "outcome"), "sold");
    assert_string_equal(ht_str(au, "winner_customer_id"), a);
    char order[96];
    snprintf(order, sizeof order, "/v1/orders/%s", ht_str(au, "order_id"));
    json_decref(au);
    expect_points(&s, a, 900, 900, 0);
    expect_points(&s, b, 3000, 3000, 0);
    json_t *o = get_json(&s, order);
    assert_string_equal(ht_str(o, "source"), "auction");
    assert_string_equal(ht_str(o, "customer_id"), a);
    assert_int_equal(ht_int(o, "points"), 2100);
    assert_string_equal(ht_str(o, "status"), "placed");
    json_decref(o);
    assert_int_equal(reward_stock(&s, rid), 0);
    r = bid(&s, aid, b, 3000);
    ht_expect_problem(&r, 409, "status");
    ht_free(&r);

    /* public history: newest first, names masked, statuses */
    snprintf(path, sizeof path, "/v1/auctions/%s/bids?limit=3", aid);
    json_t *h = get_json(&s, path);
    json_t *data = json_object_get(h, "data");
    assert_int_equal(json_array_size(data), 3);
    assert_string_equal(ht_str(json_array_get(data, 0), "bidder"), "张**");
    assert_string_equal(ht_str(json_array_get(data, 0), "status"), "won");
    assert_int_equal(ht_int(json_array_get(data, 0), "amount"), 2100);
    assert_string_equal(ht_str(json_array_get(data, 1), "bidder"), "138****8000");
    assert_string_equal(ht_str(json_array_get(data, 1), "status"), "outbid");
    assert_null(json_object_get(json_array_get(data, 0), "customer_id"));
    snprintf(path, sizeof path, "/v1/auctions/%s/bids?cursor=%s", aid, ht_str(h, "next_cursor"));
    json_decref(h);
    h = get_json(&s, path);
    data = json_object_get(h, "data");
    assert_int_equal(json_array_size(data), 5); /* 8 bids in all */
    /* the 2000 raise replaced B's own 120 */
    assert_string_equal(ht_str(json_array_get(data, 3), "status"), "replaced");
    assert_int_equal(ht_int(json_array_get(data, 3), "amount"), 120);
    json_decref(h);
    h = get_json(&s, "/v1/auctions?status=closed");
    assert_int_equal(json_array_size(json_object_get(h, "data")), 1);
    json_decref(h);
    h = get_json(&s, "/v1/auctions?status=open");
    assert_int_equal(json_array_size(json_object_get(h, "data")), 0);
    json_decref(h);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(b);
    free(c);
    free(rid);
}

static char *make_auction(const ht_server *s, const char *rid, const char *extra) {
    ht_resp r = ht_postf(s, "/v1/auctions",
                         "{\"reward_id\":\"%s\",\"starts_at\":\"2026-04-01T00:00:00Z\",\"ends_at\":"
                         "\"2026-04-01T01:00:00Z\",\"starting_bid\":100%s%s}",
                         rid, extra ? "," : "", extra ? extra : "");
    if (r.status != 201) fail_msg("auction: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static void test_unsold_and_refusals(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-03-31T00:00:00Z");
    char *rid = reward(&s, 5), *empty = reward(&s, 0);
    /* bad input names the field and creates nothing */
    char body[512];
    ht_resp r = ht_post(&s, "/v1/auctions", "{\"starts_at\":\"2026-04-01T00:00:00Z\"}");
    ht_expect_problem(&r, 422, "reward_id");
    ht_free(&r);
    r = ht_postf(&s, "/v1/auctions",
                 "{\"reward_id\":\"987654321\",\"starts_at\":\"2026-04-01T00:00:00Z\",\"ends_at\":"
                 "\"2026-04-01T01:00:00Z\",\"starting_bid\":100}");
    ht_expect_problem(&r, 422, "reward_id");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"starts_at\":\"2026-04-01T02:00:00Z\",\"ends_at\":"
             "\"2026-04-01T01:00:00Z\",\"starting_bid\":100}",
             rid);
    r = ht_post(&s, "/v1/auctions", body);
    ht_expect_problem(&r, 422, "ends_at");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"starts_at\":\"2026-04-01T00:00:00Z\",\"ends_at\":"
             "\"2026-04-01T01:00:00Z\",\"starting_bid\":0}",
             rid);
    r = ht_post(&s, "/v1/auctions", body);
    ht_expect_problem(&r, 422, "starting_bid");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"starts_at\":\"2026-04-01T00:00:00Z\",\"ends_at\":"
             "\"2026-04-01T01:00:00Z\",\"starting_bid\":10,\"anti_sniping\":{\"window_s\":-1}}",
             rid);
    r = ht_post(&s, "/v1/auctions", body);
    ht_expect_problem(&r, 422, "anti_sniping.window_s");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"reward_id\":\"%s\",\"colour\":\"red\"}", rid);
    r = ht_post(&s, "/v1/auctions", body);
    ht_expect_problem(&r, 422, "colour");
    ht_free(&r);
    json_t *l = get_json(&s, "/v1/auctions");
    assert_int_equal(json_array_size(json_object_get(l, "data")), 0);
    json_decref(l);
    r = ht_get(&s, "/v1/auctions/123456");
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);

    char *reserve = make_auction(&s, rid, "\"reserve\":500");
    char *none = make_auction(&s, rid, NULL);
    char *nostock = make_auction(&s, empty, NULL);
    char *vip = make_auction(&s, rid, "\"tier_required\":true");
    char *a = customer(&s, "13900000001", "王芳"), *g = customer(&s, "13900000002", "赵敏");
    give(&s, a, 1000);
    give(&s, g, 1000);
    ht_clock_to(&s, "2026-04-01T00:10:00Z");
    r = bid(&s, reserve, "99999999", 100);
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    r = bid(&s, reserve, a, -5);
    ht_expect_problem(&r, 422, "amount");
    ht_free(&r);
    expect_bid(&s, reserve, a, 300); /* below the reserve of 500 */
    json_t *au = auction(&s, reserve);
    assert_false(json_is_true(json_object_get(au, "reserve_met")));
    json_decref(au);
    expect_bid(&s, nostock, g, 100);

    /* tier access: none, then gold (access.auctions) through growth */
    r = bid(&s, vip, g, 100);
    ht_expect_problem(&r, 403, "customer_id");
    ht_free(&r);
    r = ht_post(&s, "/v1/tiers",
                "{\"code\":\"gold\",\"name\":{\"zh\":\"金卡\",\"en\":\"Gold\"},\"threshold\":100,"
                "\"access\":{\"auctions\":true}}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_post(&s, "/v1/rules",
                "{\"name\":\"vip\",\"event_type\":\"test.vip\",\"currency\":\"growth\","
                "\"formula\":\"properties.g\"}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_postf(&s, "/v1/events",
                 "{\"type\":\"test.vip\",\"customer\":\"%s\",\"properties\":{\"g\":100}}", g);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    expect_bid(&s, vip, g, 100);
    expect_points(&s, g, 1000, 800, 200);

    ht_clock_to(&s, "2026-04-01T01:00:00Z");
    au = auction(&s, reserve);
    assert_string_equal(ht_str(au, "outcome"), "reserve_not_met");
    assert_true(json_is_null(json_object_get(au, "order_id")));
    json_decref(au);
    au = auction(&s, none);
    assert_string_equal(ht_str(au, "outcome"), "no_bids");
    json_decref(au);
    au = auction(&s, nostock);
    assert_string_equal(ht_str(au, "outcome"), "out_of_stock");
    json_decref(au);
    au = auction(&s, vip);
    assert_string_equal(ht_str(au, "outcome"), "sold");
    json_decref(au);
    expect_points(&s, a, 1000, 1000, 0); /* reserve not met: voided */
    expect_points(&s, g, 900, 900, 0);   /* no stock voided, the tier auction won */
    assert_int_equal(reward_stock(&s, rid), 4);
    assert_int_equal(reward_stock(&s, empty), 0);
    char path[96];
    snprintf(path, sizeof path, "/v1/auctions/%s/bids", reserve);
    json_t *h = get_json(&s, path);
    assert_string_equal(ht_str(json_array_get(json_object_get(h, "data"), 0), "status"), "lost");
    json_decref(h);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(reserve);
    free(none);
    free(nostock);
    free(vip);
    free(a);
    free(g);
    free(rid);
    free(empty);
}

/* `hudong tick` runs the same close with the wall clock (long past 2021) */
static void test_closed_by_tick(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2021-01-01T00:00:00Z");
    ht_resp p = ht_patch(&s, "/v1/program", "{\"expiry\":{\"policy\":\"none\"}}");
    assert_int_equal(p.status, 200); /* or the points of 2021 expire at the tick too */
    ht_free(&p);
    char *rid = reward(&s, 2);
    ht_resp r = ht_postf(&s, "/v1/auctions",
                         "{\"reward_id\":\"%s\",\"starts_at\":\"2021-01-01T00:00:00Z\",\"ends_at\":"
                         "\"2021-01-01T01:00:00Z\",\"starting_bid\":10}",
                         rid);
    assert_int_equal(r.status, 201);
    char aid[32];
    snprintf(aid, sizeof aid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    char *a = customer(&s, "13911110000", "孙丽");
    give(&s, a, 100);
    expect_bid(&s, aid, a, 40);
    const char *args[] = {"tick", NULL};
    char *out = NULL;
    assert_int_equal(ht_cli(&s, &out, args), 0);
    free(out);
    json_t *au = auction(&s, aid);
    assert_string_equal(ht_str(au, "outcome"), "sold");
    json_decref(au);
    expect_points(&s, a, 60, 60, 0);
    assert_int_equal(reward_stock(&s, rid), 1);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(rid);
}

/* ---- 50 bidders in the last seconds ---- */

#define BIDDERS 50
#define ROUNDS  4
#define FUNDS   100000

typedef struct bidder {
    const ht_server *s;
    const char *aid;
    const char *cid;
    int id;
    int ok, low, errors;
    long best; /* this bidder's highest accepted bid */
} bidder;

static void *bid_race(void *arg) {
    bidder *b = arg;
    uint64_t x = (uint64_t)b->id * 2654435761u + 7;
    char path[96];
    snprintf(path, sizeof path, "/v1/auctions/%s", b->aid);
    for (int i = 0; i < ROUNDS; i++) {
        ht_resp g = ht_get(b->s, path);
        long min = (long)ht_int(g.json, "min_next_bid");
        ht_free(&g);
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        long amount = min + (long)((x >> 33) % 5);
        ht_resp r = bid(b->s, b->aid, b->cid, amount);
        if (r.status == 201) {
            b->ok++;
            b->best = amount;
        } else if (r.status == 409 && strcmp(ht_str(r.json, "field"), "amount") == 0) {
            b->low++;
        } else {
            fprintf(stderr, "bid race: %ld %s\n", r.status, r.body);
            b->errors++;
        }
        ht_free(&r);
    }
    return NULL;
}

static void test_race_last_seconds(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-05-01T00:00:00Z");
    char *rid = reward(&s, 1);
    ht_resp r = ht_postf(&s, "/v1/auctions",
                         "{\"reward_id\":\"%s\",\"starts_at\":\"2026-05-01T00:00:00Z\",\"ends_at\":"
                         "\"2026-05-01T01:00:00Z\",\"starting_bid\":100,\"increment\":1,"
                         "\"anti_sniping\":{\"window_s\":30,\"max_extension_s\":600}}",
                         rid);
    assert_int_equal(r.status, 201);
    char aid[32];
    snprintf(aid, sizeof aid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    char *ids[BIDDERS];
    for (int i = 0; i < BIDDERS; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1370000%04d", i);
        ids[i] = customer(&s, phone, i % 2 ? "竞拍者" : NULL);
        give(&s, ids[i], FUNDS);
    }
    ht_clock_to(&s, "2026-05-01T00:59:50Z"); /* the last ten seconds */
    pthread_t th[BIDDERS];
    bidder bs[BIDDERS];
    for (int i = 0; i < BIDDERS; i++) {
        bs[i] = (bidder){&s, aid, ids[i], i, 0, 0, 0, 0};
        pthread_create(&th[i], NULL, bid_race, &bs[i]);
    }
    int ok = 0, low = 0, errors = 0;
    for (int i = 0; i < BIDDERS; i++) {
        pthread_join(th[i], NULL);
        ok += bs[i].ok;
        low += bs[i].low;
        errors += bs[i].errors;
    }
    fprintf(stderr, "auction race (%s): %d bidders, %d bids accepted, %d refused as too low\n",
            ht_store(), BIDDERS, ok, low);
    assert_int_equal(errors, 0);
    assert_true(ok > 0);
    assert_int_equal(ok + low, BIDDERS * ROUNDS);
    json_t *au = auction(&s, aid);
    assert_int_equal(ht_int(au, "bids"), ok);
    long top = (long)ht_int(au, "current_bid");
    /* the first bid in the window moved the end 30 s; later ones did not */
    assert_string_equal(ht_str(au, "ends_at"), "2026-05-01T01:00:30.000Z");
    json_decref(au);
    /* while open: only the leader holds anything */
    int holders = 0;
    for (int i = 0; i < BIDDERS; i++) {
        long long p[3];
        points(&s, ids[i], p);
        if (p[2]) {
            holders++;
            assert_int_equal(p[2], top);
        }
    }
    assert_int_equal(holders, 1);
    ht_clock_to(&s, "2026-05-01T01:10:00Z");
    au = auction(&s, aid);
    assert_string_equal(ht_str(au, "outcome"), "sold");
    const char *winner = ht_str(au, "winner_customer_id");
    int winners = 0;
    for (int i = 0; i < BIDDERS; i++) {
        bool won = strcmp(ids[i], winner) == 0;
        if (won) {
            winners++;
            assert_int_equal(bs[i].best, top);
        }
        expect_points(&s, ids[i], won ? FUNDS - top : FUNDS, won ? FUNDS - top : FUNDS, 0);
    }
    assert_int_equal(winners, 1);
    json_decref(au);
    /* history: one won, everything else outbid or replaced, amounts rising */
    char path[96];
    snprintf(path, sizeof path, "/v1/auctions/%s/bids?limit=200", aid);
    json_t *h = get_json(&s, path);
    json_t *data = json_object_get(h, "data");
    assert_int_equal((int)json_array_size(data), ok);
    long prev = -1;
    for (size_t i = json_array_size(data); i-- > 0;) {
        json_t *e = json_array_get(data, i);
        const char *st = ht_str(e, "status");
        if (i == 0)
            assert_string_equal(st, "won");
        else
            assert_true(strcmp(st, "outbid") == 0 || strcmp(st, "replaced") == 0);
        assert_true(ht_int(e, "amount") > prev);
        prev = (long)ht_int(e, "amount");
    }
    json_decref(h);
    expect_check_ok(&s);
    ht_stop(&s, false);
    for (int i = 0; i < BIDDERS; i++) free(ids[i]);
    free(rid);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_unsold_and_refusals),
        cmocka_unit_test(test_closed_by_tick),
        cmocka_unit_test(test_race_last_seconds),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
