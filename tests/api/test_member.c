/* test_member.c - the member API over HTTP: one-time codes (expiry, five
 * wrong tries void a code, single use even when racing, one send per phone
 * per minute even when racing), member sessions (cookie, CSRF on every
 * POST, expiry, logout), a member reads and spends only as themself, and
 * member and console sessions never open each other's routes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "api/harness.h"

#define HD_OTP_DAY_MAX_TEST 10 /* HD_OTP_DAY_MAX in domain/members.h */

static ht_server S;
static int keyseq;

typedef struct member {
    char cookie[160]; /* "Cookie: hd_member=…" */
    char csrf[80];    /* "X-CSRF-Token: …" */
    char id[32];      /* the customer */
} member;

static ht_resp postf(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static ht_resp postf(const char *path, const char *fmt, ...) {
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return ht_post(&S, path, body);
}

/* A POST with no credentials at all (the sign-in routes need none). */
static ht_resp anon_post(const char *path, const char *body) {
    return ht_req(&S, "POST", path, body, "", NULL);
}

static void advance(long seconds) {
    ht_resp r = postf("/v1/test/clock", "{\"advance_s\":%ld}", seconds);
    if (r.status != 200) fail_msg("clock: %ld %s", r.status, r.body);
    ht_free(&r);
}

static ht_resp send_code(const char *phone) {
    char body[128];
    snprintf(body, sizeof body, "{\"phone\":\"%s\"}", phone);
    return anon_post("/v1/member/otp", body);
}

/* The code the log sender delivered (test-only route, API key). */
static void last_code(const char *phone, char out[8]) {
    char p[128];
    snprintf(p, sizeof p, "/v1/test/otp?phone=%s", phone);
    ht_resp r = ht_get(&S, p);
    if (r.status != 200) fail_msg("test otp: %ld %s", r.status, r.body);
    snprintf(out, 8, "%s", ht_str(r.json, "code"));
    ht_free(&r);
}

static ht_resp login(const char *phone, const char *code) {
    char body[128];
    snprintf(body, sizeof body, "{\"phone\":\"%s\",\"code\":\"%s\"}", phone, code);
    return anon_post("/v1/member/login", body);
}

/* A code that is surely not the right one. */
static void wrong_code(const char *right, char out[8]) {
    snprintf(out, 8, "%s", strcmp(right, "000000") == 0 ? "111111" : "000000");
}

static member sign_in(const char *phone) {
    ht_resp r = send_code(phone);
    if (r.status != 200) fail_msg("otp %s: %ld %s", phone, r.status, r.body);
    ht_free(&r);
    char code[8];
    last_code(phone, code);
    r = login(phone, code);
    if (r.status != 200) fail_msg("login %s: %ld %s", phone, r.status, r.body);
    member m;
    size_t n = strcspn(r.set_cookie, ";");
    snprintf(m.cookie, sizeof m.cookie, "Cookie: %.*s", (int)n, r.set_cookie);
    snprintf(m.csrf, sizeof m.csrf, "X-CSRF-Token: %s", ht_str(r.json, "csrf_token"));
    snprintf(m.id, sizeof m.id, "%s", ht_str(r.json, "customer_id"));
    ht_free(&r);
    return m;
}

/* A request as a member (with the CSRF token unless told not to). */
static ht_resp as(const member *m, const char *method, const char *path, const char *body,
                  bool csrf) {
    const char *h[] = {m->cookie, csrf ? m->csrf : NULL, NULL};
    return ht_req(&S, method, path, body, "", h);
}

static void give(const char *cid, long points) {
    ht_resp r =
        postf("/v1/transfers",
              "{\"key\":\"give-%d\",\"debit\":\"system:issuance\",\"credit\":\"customer:%s\","
              "\"amount\":%ld,\"code\":\"earn\"}",
              ++keyseq, cid, points);
    if (r.status != 201) fail_msg("give: %ld %s", r.status, r.body);
    ht_free(&r);
}

static long long member_balance(const member *m) {
    ht_resp r = as(m, "GET", "/v1/member/me", NULL, false);
    if (r.status != 200) fail_msg("me: %ld %s", r.status, r.body);
    long long b = ht_int(json_object_get(r.json, "points"), "balance");
    ht_free(&r);
    return b;
}

static char *make_reward(long points, long stock) {
    ht_resp r = postf("/v1/rewards",
                      "{\"type\":\"physical\",\"name\":{\"zh\":\"保温杯\",\"en\":\"Flask\"},"
                      "\"price\":{\"points\":%ld},\"stock\":%ld}",
                      points, stock);
    if (r.status != 201) fail_msg("reward: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static int setup(void **state) {
    (void)state;
    ht_start(&S, true);
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-05-01T09:00:00+08:00\"}");
    ht_free(&r);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    ht_stop(&S, false);
    return 0;
}

/* ---- codes ---- */

static void test_code_tries_and_expiry(void **state) {
    (void)state;
    const char *phone = "13800001111";
    ht_resp r = send_code("138 0000 1111"); /* any spelling; stored as E.164 */
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "phone"), "+8613800001111");
    assert_int_equal(ht_int(r.json, "expires_in_s"), 300);
    ht_free(&r);
    char code[8], bad[8];
    last_code(phone, code);
    assert_int_equal(strlen(code), 6);
    wrong_code(code, bad);
    /* four wrong tries say how many are left; the fifth voids the code */
    for (int i = 1; i <= 5; i++) {
        r = login(phone, bad);
        ht_expect_problem(&r, 401, "code");
        assert_string_equal(ht_str(r.json, "reason"), "wrong_code");
        if (i < 5) {
            char want[32];
            snprintf(want, sizeof want, "%d tries left", 5 - i);
            assert_non_null(strstr(ht_str(r.json, "detail"), want));
        } else {
            assert_non_null(strstr(ht_str(r.json, "detail"), "void"));
        }
        assert_int_equal(strlen(r.set_cookie), 0);
        ht_free(&r);
    }
    r = login(phone, code); /* the right code, too late */
    ht_expect_problem(&r, 401, "code");
    assert_non_null(strstr(ht_str(r.json, "detail"), "ask for a new one"));
    ht_free(&r);
    /* nobody was created by the failed sign-ins */
    r = ht_get(&S, "/v1/customers?phone=13800001111");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);

    /* a new code after a minute; it expires after five */
    advance(61);
    r = send_code(phone);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    last_code(phone, code);
    advance(301);
    r = login(phone, code);
    ht_expect_problem(&r, 401, "code");
    assert_non_null(strstr(ht_str(r.json, "detail"), "expired"));
    ht_free(&r);

    /* a fresh code signs in once: the customer is created by phone */
    r = send_code(phone);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    last_code(phone, code);
    r = login(phone, "12345");
    ht_expect_problem(&r, 422, "code");
    ht_free(&r);
    r = login("not a phone", code);
    ht_expect_problem(&r, 422, "phone");
    ht_free(&r);
    r = login(phone, code);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "created")));
    assert_string_equal(ht_str(r.json, "phone"), "138****1111");
    assert_int_equal(strlen(ht_str(r.json, "csrf_token")), 43);
    assert_non_null(strstr(r.set_cookie, "hd_member="));
    assert_non_null(strstr(r.set_cookie, "HttpOnly"));
    assert_non_null(strstr(r.set_cookie, "SameSite=Lax"));
    assert_non_null(strstr(r.set_cookie, "Path=/v1/member"));
    assert_null(strstr(r.set_cookie, "Secure"));
    char cid[32];
    snprintf(cid, sizeof cid, "%s", ht_str(r.json, "customer_id"));
    ht_free(&r);
    r = login(phone, code); /* single use */
    ht_expect_problem(&r, 401, "code");
    ht_free(&r);
    r = ht_get(&S, "/v1/customers?phone=13800001111");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    assert_string_equal(ht_str(json_array_get(json_object_get(r.json, "data"), 0), "id"), cid);
    ht_free(&r);

    /* behind TLS the cookie is Secure; an existing customer is found, not made */
    advance(61);
    r = send_code(phone);
    ht_free(&r);
    last_code(phone, code);
    char body[128];
    snprintf(body, sizeof body, "{\"phone\":\"+86 13800001111\",\"code\":\"%s\"}", code);
    const char *tls[] = {"X-Forwarded-Proto: https", NULL};
    r = ht_req(&S, "POST", "/v1/member/login", body, "", tls);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.set_cookie, "; Secure"));
    assert_false(json_is_true(json_object_get(r.json, "created")));
    assert_string_equal(ht_str(r.json, "customer_id"), cid);
    ht_free(&r);

    r = ht_get(&S, "/v1/test/otp?phone=13999999999");
    ht_expect_problem(&r, 404, "phone");
    ht_free(&r);
}

static void test_send_limit(void **state) {
    (void)state;
    ht_resp r = send_code("13800002222");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    char first[8], now[8];
    last_code("13800002222", first);
    advance(30);
    r = send_code("+86 138-0000-2222"); /* the same phone, spelled otherwise */
    ht_expect_problem(&r, 429, "phone");
    assert_string_equal(ht_str(r.json, "reason"), "rate_limited");
    assert_int_equal(ht_int(r.json, "retry_after_s"), 30);
    ht_free(&r);
    last_code("13800002222", now);
    assert_string_equal(first, now); /* nothing was sent */
    r = send_code("13800003333");    /* other phones are not held up */
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = send_code("12");
    ht_expect_problem(&r, 422, "phone");
    ht_free(&r);
    r = anon_post("/v1/member/otp", "{\"phone\":\"13800002222\",\"customer_id\":\"1\"}");
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    advance(30);
    r = send_code("13800002222");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    /* a minute after the first, a new code goes out and signs in */
    last_code("13800002222", now);
    r = login("13800002222", now);
    assert_int_equal(r.status, 200);
    ht_free(&r);
}

/* ---- races: one send per minute, one sign-in per code ---- */

#define RACERS 12

typedef struct racer {
    const char *path;
    char body[128];
    long status;
} racer;

static void *race(void *arg) {
    racer *rc = arg;
    ht_resp r = ht_req_soft(&S, "POST", rc->path, rc->body);
    rc->status = r.status;
    ht_free(&r);
    return NULL;
}

static int run_race(racer *rs, int n, long want_status) {
    pthread_t th[RACERS];
    for (int i = 0; i < n; i++) pthread_create(&th[i], NULL, race, &rs[i]);
    int got = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        if (rs[i].status == want_status) got++;
    }
    return got;
}

static void test_races(void **state) {
    (void)state;
    racer rs[RACERS];
    for (int i = 0; i < RACERS; i++)
        rs[i] = (racer){"/v1/member/otp", "{\"phone\":\"13800004444\"}", 0};
    assert_int_equal(run_race(rs, RACERS, 200), 1);
    for (int i = 0; i < RACERS; i++) assert_true(rs[i].status == 200 || rs[i].status == 429);
    char code[8];
    last_code("13800004444", code);
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){"/v1/member/login", "", 0};
        snprintf(rs[i].body, sizeof rs[i].body, "{\"phone\":\"13800004444\",\"code\":\"%s\"}",
                 code);
    }
    assert_int_equal(run_race(rs, RACERS, 200), 1);
    for (int i = 0; i < RACERS; i++) assert_true(rs[i].status == 200 || rs[i].status == 401);
    /* racing wrong tries add up: exactly five void the code */
    advance(61);
    ht_resp r = send_code("13800004444");
    ht_free(&r);
    last_code("13800004444", code);
    char bad[8];
    wrong_code(code, bad);
    for (int i = 0; i < RACERS; i++) {
        rs[i] = (racer){"/v1/member/login", "", 0};
        snprintf(rs[i].body, sizeof rs[i].body, "{\"phone\":\"13800004444\",\"code\":\"%s\"}", bad);
    }
    assert_int_equal(run_race(rs, RACERS, 401), RACERS);
    r = login("13800004444", code);
    ht_expect_problem(&r, 401, "code");
    ht_free(&r);
    char *out = NULL;
    const char *args[] = {"check", NULL};
    assert_int_equal(ht_cli(&S, &out, args), 0);
    free(out);
}

/* ---- sessions ---- */

static void test_csrf_logout_expiry(void **state) {
    (void)state;
    member m = sign_in("13800005555");
    give(m.id, 1000);
    char *rid = make_reward(300, 5);
    char body[128];
    snprintf(body, sizeof body, "{\"reward_id\":\"%s\"}", rid);
    /* a POST without the token, or with a wrong one, is refused and changes nothing */
    ht_resp r = as(&m, "POST", "/v1/member/redemptions", body, false);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    const char *wrong[] = {m.cookie, "X-CSRF-Token: not-the-token", NULL};
    r = ht_req(&S, "POST", "/v1/member/redemptions", body, "", wrong);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    r = as(&m, "GET", "/v1/member/orders", NULL, false);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    assert_int_equal(member_balance(&m), 1000);
    /* with it: 201, the points move */
    r = as(&m, "POST", "/v1/member/redemptions", body, true);
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "customer_id"), m.id);
    ht_free(&r);
    assert_int_equal(member_balance(&m), 700);
    /* an Idempotency-Key replays instead of spending twice */
    const char *idem[] = {m.cookie, m.csrf, "Idempotency-Key: tap-1", NULL};
    r = ht_req(&S, "POST", "/v1/member/redemptions", body, "", idem);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_req(&S, "POST", "/v1/member/redemptions", body, "", idem);
    assert_int_equal(r.status, 201);
    assert_true(r.replayed);
    ht_free(&r);
    assert_int_equal(member_balance(&m), 400);
    /* the token comes back with /me */
    r = as(&m, "GET", "/v1/member/me", NULL, false);
    assert_string_equal(ht_str(r.json, "csrf_token"), m.csrf + strlen("X-CSRF-Token: "));
    ht_free(&r);

    /* logout needs the token too, then the cookie is dead */
    r = as(&m, "POST", "/v1/member/logout", NULL, false);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    r = as(&m, "POST", "/v1/member/logout", NULL, true);
    assert_int_equal(r.status, 204);
    assert_non_null(strstr(r.set_cookie, "Max-Age=0"));
    ht_free(&r);
    r = as(&m, "GET", "/v1/member/me", NULL, false);
    ht_expect_problem(&r, 401, "Cookie");
    ht_free(&r);

    /* thirty idle days end a session; a session in use lives on */
    advance(61);
    member idle = sign_in("13800005555");
    member busy = sign_in("13800006666");
    for (int i = 0; i < 3; i++) {
        advance(20L * 86400);
        r = as(&busy, "GET", "/v1/member/me", NULL, false);
        assert_int_equal(r.status, 200);
        ht_free(&r);
    }
    r = as(&idle, "GET", "/v1/member/me", NULL, false);
    ht_expect_problem(&r, 401, "Cookie");
    assert_non_null(strstr(ht_str(r.json, "detail"), "expired"));
    ht_free(&r);
    free(rid);
}

/* ---- a member acts only as themself ---- */

static void test_member_sees_only_own(void **state) {
    (void)state;
    member a = sign_in("13800007777"), b = sign_in("13800008888");
    give(a.id, 500);
    give(b.id, 2000);
    char *rid = make_reward(300, 10);
    char body[256];
    snprintf(body, sizeof body, "{\"reward_id\":\"%s\"}", rid);
    ht_resp r = as(&b, "POST", "/v1/member/redemptions", body, true);
    assert_int_equal(r.status, 201);
    char order[32];
    snprintf(order, sizeof order, "%s", ht_str(r.json, "id"));
    ht_free(&r);

    /* me, history and orders are the caller's own */
    r = as(&a, "GET", "/v1/member/me", NULL, false);
    assert_string_equal(ht_str(r.json, "customer_id"), a.id);
    assert_int_equal(ht_int(json_object_get(r.json, "points"), "balance"), 500);
    ht_free(&r);
    r = as(&a, "GET", "/v1/member/orders", NULL, false);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    r = as(&a, "GET", "/v1/member/points/history", NULL, false);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(r.json, "data"), i, t) {
        char mine[48];
        snprintf(mine, sizeof mine, "customer:%s", a.id);
        assert_true(strcmp(ht_str(t, "credit"), mine) == 0 ||
                    strcmp(ht_str(t, "debit"), mine) == 0);
    }
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    ht_free(&r);
    r = as(&b, "GET", "/v1/member/orders", NULL, false);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 1);
    assert_string_equal(ht_str(json_array_get(json_object_get(r.json, "data"), 0), "id"), order);
    ht_free(&r);

    /* naming another customer is refused everywhere, and spends nothing */
    snprintf(body, sizeof body, "{\"reward_id\":\"%s\",\"customer_id\":\"%s\"}", rid, b.id);
    r = as(&a, "POST", "/v1/member/redemptions", body, true);
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    ht_resp au = postf("/v1/auctions",
                       "{\"reward_id\":\"%s\",\"starts_at\":\"2026-07-01T00:00:00Z\",\"ends_at\":"
                       "\"2026-07-02T00:00:00Z\",\"starting_bid\":100}",
                       rid);
    assert_int_equal(au.status, 201);
    char path[128];
    snprintf(path, sizeof path, "/v1/member/auctions/%s/bids", ht_str(au.json, "id"));
    snprintf(body, sizeof body, "{\"amount\":100,\"customer_id\":\"%s\"}", b.id);
    r = as(&a, "POST", path, body, true);
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"text\":\"好\",\"rating\":5,\"customer_id\":\"%s\"}", b.id);
    r = as(&a, "POST", "/v1/member/trials/1/reviews", body, true);
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    assert_int_equal(member_balance(&b), 1700);

    /* the API's own customer routes stay closed to a member cookie */
    snprintf(path, sizeof path, "/v1/customers/%s/points", b.id);
    r = as(&a, "GET", path, NULL, false);
    ht_expect_problem(&r, 401, "Authorization");
    ht_free(&r);
    snprintf(path, sizeof path, "/v1/orders/%s", order);
    r = as(&a, "GET", path, NULL, false);
    ht_expect_problem(&r, 401, "Authorization");
    ht_free(&r);

    /* an auction says where the caller stands, and never who won */
    r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-07-01T01:00:00Z\"}");
    ht_free(&r);
    snprintf(path, sizeof path, "/v1/member/auctions/%s/bids", ht_str(au.json, "id"));
    r = as(&a, "POST", path, "{\"amount\":100}", true);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = as(&b, "POST", path, "{\"amount\":300}", true);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = as(&a, "POST", path, "{\"amount\":900}", true);
    ht_expect_problem(&r, 409, "amount");
    assert_string_equal(ht_str(r.json, "reason"), "insufficient_points");
    ht_free(&r);
    r = as(&a, "GET", "/v1/member/auctions", NULL, false);
    json_t *me = json_object_get(json_array_get(json_object_get(r.json, "data"), 0), "me");
    assert_string_equal(ht_str(me, "status"), "outbid");
    assert_true(json_is_true(json_object_get(me, "outbid")));
    assert_int_equal(ht_int(me, "bid"), 100);
    ht_free(&r);
    r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-07-02T00:00:01Z\"}");
    ht_free(&r);
    r = as(&b, "GET", "/v1/member/auctions", NULL, false);
    json_t *won = json_array_get(json_object_get(r.json, "data"), 0);
    assert_string_equal(ht_str(json_object_get(won, "me"), "status"), "won");
    assert_null(json_object_get(won, "winner_customer_id"));
    assert_non_null(json_object_get(won, "order_id"));
    ht_free(&r);
    r = as(&a, "GET", "/v1/member/auctions", NULL, false);
    json_t *lost = json_array_get(json_object_get(r.json, "data"), 0);
    assert_true(json_is_true(json_object_get(json_object_get(lost, "me"), "outbid")));
    assert_null(json_object_get(lost, "winner_customer_id"));
    assert_null(json_object_get(lost, "order_id"));
    ht_free(&r);
    ht_free(&au);

    /* a group shows each member whether they are in it */
    ht_resp deal = postf("/v1/groupbuys",
                         "{\"reward_id\":\"%s\",\"group_size\":2,\"price\":100,\"fill_s\":3600,"
                         "\"stock\":4}",
                         rid);
    assert_int_equal(deal.status, 201);
    snprintf(path, sizeof path, "/v1/member/groupbuys/%s/groups", ht_str(deal.json, "id"));
    r = as(&a, "POST", path, NULL, true);
    assert_int_equal(r.status, 201);
    char code[32], gpath[96];
    snprintf(code, sizeof code, "%s", ht_str(r.json, "code"));
    assert_non_null(strstr(ht_str(r.json, "share_path"), code));
    ht_free(&r);
    snprintf(gpath, sizeof gpath, "/v1/member/groupbuys/groups/%s", code);
    r = as(&b, "GET", gpath, NULL, false);
    assert_false(json_is_true(json_object_get(json_object_get(r.json, "me"), "joined")));
    assert_int_equal(ht_int(r.json, "remaining"), 1);
    ht_free(&r);
    r = as(&a, "GET", gpath, NULL, false);
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "me"), "joined")));
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "me"), "initiator")));
    ht_free(&r);
    snprintf(body, sizeof body, "{\"code\":\"%s\"}", code);
    r = as(&a, "POST", "/v1/member/groupbuys/join", body, true);
    ht_expect_problem(&r, 409, "customer_id");
    assert_string_equal(ht_str(r.json, "reason"), "already_joined");
    ht_free(&r);
    r = as(&b, "POST", "/v1/member/groupbuys/join", body, true);
    assert_int_equal(r.status, 201);
    assert_true(json_is_true(json_object_get(r.json, "completed")));
    ht_free(&r);
    r = as(&b, "GET", gpath, NULL, false);
    assert_string_equal(ht_str(r.json, "status"), "completed");
    ht_free(&r);
    r = as(&b, "GET", "/v1/member/groupbuys/groups/NOSUCHCODE", NULL, false);
    ht_expect_problem(&r, 404, "code");
    ht_free(&r);
    ht_free(&deal);

    /* the placeholders answer plainly */
    r = as(&a, "GET", "/v1/member/instalments", NULL, false);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    assert_false(json_is_true(json_object_get(r.json, "available")));
    ht_free(&r);
    r = as(&a, "GET", "/v1/member/referral", NULL, false);
    assert_int_equal(strlen(ht_str(r.json, "code")), 8);
    char ref[16];
    snprintf(ref, sizeof ref, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    r = as(&b, "GET", "/v1/member/referral", NULL, false);
    assert_string_not_equal(ht_str(r.json, "code"), ref);
    ht_free(&r);
    char *out = NULL;
    const char *args[] = {"check", NULL};
    assert_int_equal(ht_cli(&S, &out, args), 0);
    free(out);
    free(rid);
}

/* ---- trials: apply and review as the member ---- */

static void test_trial_apply_and_review(void **state) {
    (void)state;
    ht_resp r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-08-01T00:00:00Z\"}");
    ht_free(&r);
    member m = sign_in("13800001212");
    give(m.id, 100);
    char *rid = make_reward(300, 5);
    r = postf("/v1/trials",
              "{\"reward_id\":\"%s\",\"title\":{\"zh\":\"面霜试用\",\"en\":\"Cream trial\"},"
              "\"units\":1,\"price\":50,\"bonus\":20,\"apply_starts_at\":\"2026-08-01T00:00:00Z\","
              "\"apply_ends_at\":\"2026-08-02T00:00:00Z\",\"selection\":\"first_come\","
              "\"review_days\":7}",
              rid);
    assert_int_equal(r.status, 201);
    char tid[32], path[128];
    snprintf(tid, sizeof tid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    r = as(&m, "GET", "/v1/member/trials", NULL, false);
    json_t *t = json_array_get(json_object_get(r.json, "data"), 0);
    assert_string_equal(ht_str(t, "id"), tid);
    assert_true(json_is_null(json_object_get(t, "me")));
    ht_free(&r);
    snprintf(path, sizeof path, "/v1/member/trials/%s/applications", tid);
    r = as(&m, "POST", path, NULL, false);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    r = as(&m, "POST", path, NULL, true);
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "customer_id"), m.id);
    ht_free(&r);
    r = as(&m, "POST", path, NULL, true);
    ht_expect_problem(&r, 409, "customer_id");
    ht_free(&r);
    r = as(&m, "GET", "/v1/member/me", NULL, false);
    assert_int_equal(ht_int(json_object_get(r.json, "points"), "available"), 50);
    ht_free(&r);
    /* the window closes, the member wins, reviews, and gets 50 back plus 20 */
    r = ht_post(&S, "/v1/test/clock", "{\"now\":\"2026-08-02T00:00:01Z\"}");
    ht_free(&r);
    r = as(&m, "GET", "/v1/member/trials", NULL, false);
    t = json_array_get(json_object_get(r.json, "data"), 0);
    assert_string_equal(ht_str(json_object_get(t, "me"), "status"), "won");
    ht_free(&r);
    snprintf(path, sizeof path, "/v1/member/trials/%s/reviews", tid);
    r = as(&m, "POST", path, "{\"text\":\"很滋润，推荐\",\"rating\":5}", true);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    assert_int_equal(member_balance(&m), 120);
    r = as(&m, "GET", "/v1/member/trials", NULL, false);
    t = json_array_get(json_object_get(r.json, "data"), 0);
    assert_string_equal(ht_str(json_object_get(t, "me"), "status"), "reviewed");
    ht_free(&r);
    free(rid);
}

/* ---- member and console sessions stay apart ---- */

static void add_user(const char *email, const char *role) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n' 'correct horse battery' | %s user add --email %s --role %s --db "
             "'%s' >/dev/null",
             getenv("HUDONG_BIN") ? getenv("HUDONG_BIN") : "build/asan/hudong", email, role, S.db);
    int rc = system(cmd);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) fail_msg("user add %s failed", email);
}

static void test_sessions_apart(void **state) {
    (void)state;
    member m = sign_in("13800009999");
    /* a member cookie opens no console, API or admin route */
    static const struct {
        const char *method, *path, *body;
    } console[] = {{"GET", "/v1/customers", NULL},
                   {"GET", "/v1/auth/me", NULL},
                   {"GET", "/v1/users", NULL},
                   {"GET", "/v1/rewards", NULL},
                   {"POST", "/v1/transfers", "{}"},
                   {"POST", "/v1/test/clock", "{\"advance_s\":1}"},
                   {"GET", "/v1/test/otp?phone=13800009999", NULL}};
    for (size_t i = 0; i < sizeof console / sizeof console[0]; i++) {
        ht_resp r = as(&m, console[i].method, console[i].path, console[i].body, true);
        if (r.status != 401)
            fail_msg("%s %s with a member cookie: %ld", console[i].method, console[i].path,
                     r.status);
        ht_expect_problem(&r, 401, "Authorization");
        ht_free(&r);
    }
    /* a console session (even the owner's) and an API key open no member route */
    add_user("owner@brand.cn", "owner");
    ht_resp r = anon_post("/v1/auth/login",
                          "{\"email\":\"owner@brand.cn\",\"password\":\"correct horse battery\"}");
    assert_int_equal(r.status, 200);
    char cookie[160], csrf[80];
    size_t n = strcspn(r.set_cookie, ";");
    snprintf(cookie, sizeof cookie, "Cookie: %.*s", (int)n, r.set_cookie);
    snprintf(csrf, sizeof csrf, "X-CSRF-Token: %s", ht_str(r.json, "csrf_token"));
    ht_free(&r);
    const char *console_h[] = {cookie, csrf, NULL};
    static const struct {
        const char *method, *path, *body;
    } mine[] = {{"GET", "/v1/member/me", NULL},
                {"GET", "/v1/member/rewards", NULL},
                {"POST", "/v1/member/redemptions", "{\"reward_id\":\"1\"}"},
                {"POST", "/v1/member/logout", NULL}};
    for (size_t i = 0; i < sizeof mine / sizeof mine[0]; i++) {
        r = ht_req(&S, mine[i].method, mine[i].path, mine[i].body, "", console_h);
        ht_expect_problem(&r, 401, "Cookie");
        ht_free(&r);
        r = ht_req(&S, mine[i].method, mine[i].path, mine[i].body, NULL, NULL); /* API key */
        ht_expect_problem(&r, 401, "Cookie");
        ht_free(&r);
    }
    r = ht_req(&S, "GET", "/v1/auth/me", NULL, "", console_h);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    /* a browser carrying both cookies gets each side by its own */
    char both[400];
    snprintf(both, sizeof both, "%s; %s", cookie, m.cookie + strlen("Cookie: "));
    const char *both_h[] = {both, NULL};
    r = ht_req(&S, "GET", "/v1/member/me", NULL, "", both_h);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "customer_id"), m.id);
    ht_free(&r);
    r = ht_req(&S, "GET", "/v1/auth/me", NULL, "", both_h);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "email"), "owner@brand.cn");
    ht_free(&r);
    /* the member's CSRF token is not the console's, and the other way round */
    char mixed[200];
    snprintf(mixed, sizeof mixed, "%s", csrf);
    const char *mixed_h[] = {both, mixed, NULL};
    r = ht_req(&S, "POST", "/v1/member/logout", NULL, "", mixed_h);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
    const char *mixed2_h[] = {both, m.csrf, NULL};
    r = ht_req(&S, "POST", "/v1/customers", "{\"name\":\"x\"}", "", mixed2_h);
    ht_expect_problem(&r, 403, "X-CSRF-Token");
    ht_free(&r);
}

/* GET /v1/test/otp exists only with --test-clock. */
static void test_no_test_route_in_production(void **state) {
    (void)state;
    ht_server p;
    ht_start(&p, false);
    ht_resp r = ht_req(&p, "POST", "/v1/member/otp", "{\"phone\":\"13800001234\"}", "", NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = ht_get(&p, "/v1/test/otp?phone=13800001234");
    ht_expect_problem(&r, 404, NULL);
    ht_free(&r);
    ht_stop(&p, false);
}

/* Ten codes to one phone in 24 hours, then no more until the first of them
 * is a day old; other phones are not affected. Last: it moves the clock a day. */
static void test_daily_limit(void **state) {
    (void)state;
    char before[8], after[8];
    for (int i = 0; i < HD_OTP_DAY_MAX_TEST; i++) {
        ht_resp r = send_code("13800007777");
        if (r.status != 200) fail_msg("code %d: %ld %s", i + 1, r.status, r.body);
        ht_free(&r);
        advance(61);
    }
    last_code("13800007777", before);
    ht_resp r = send_code("13800007777");
    ht_expect_problem(&r, 429, "phone");
    assert_string_equal(ht_str(r.json, "reason"), "rate_limited");
    assert_non_null(strstr(ht_str(r.json, "detail"), "24 hours"));
    long long wait = ht_int(r.json, "retry_after_s");
    assert_in_range(wait, 86400 - 11 * 61, 86400 - 10 * 61 + 1);
    ht_free(&r);
    last_code("13800007777", after);
    assert_string_equal(before, after); /* nothing was sent */
    r = send_code("13800008888");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    advance(wait);
    r = send_code("13800007777");
    assert_int_equal(r.status, 200);
    ht_free(&r);
}

/* One address asks for at most HD_OTP_CLIENT_MAX_TEST codes an hour, whatever
 * the phones: behind a proxy on a private network (the test client is on
 * loopback) the address is the last hop of X-Forwarded-For. Nothing is sent
 * past the cap; another address is not held up; the next hour counts anew. A
 * loopback caller with no X-Forwarded-For is not counted: everyone behind a
 * proxy that sends none would otherwise be one client. */
#define HD_OTP_CLIENT_MAX_TEST 60 /* HD_OTP_CLIENT_MAX, serve's default */
static ht_resp send_code_on(const ht_server *s, const char *phone, const char *xff) {
    char body[128], h[128];
    snprintf(body, sizeof body, "{\"phone\":\"%s\"}", phone);
    snprintf(h, sizeof h, "X-Forwarded-For: %s", xff);
    const char *hs[] = {h, NULL};
    return ht_req(s, "POST", "/v1/member/otp", body, "", hs);
}

static ht_resp send_code_from(const char *phone, const char *xff) {
    return send_code_on(&S, phone, xff);
}

static void test_client_limit(void **state) {
    (void)state;
    advance(2 * 86400); /* clear of the tests before */
    char phone[16];
    for (int i = 0; i < HD_OTP_CLIENT_MAX_TEST; i++) {
        snprintf(phone, sizeof phone, "137%08d", 5000 + i);
        /* the client's own claim comes first; the proxy's hop is the last */
        ht_resp r = send_code_from(phone, i % 2 ? "10.9.9.9, 203.0.113.7" : "203.0.113.7");
        if (r.status != 200) fail_msg("code %d: %ld %s", i + 1, r.status, r.body);
        ht_free(&r);
        advance(10);
    }
    ht_resp r = send_code_from("13700009999", "198.51.100.1, 203.0.113.7");
    ht_expect_problem(&r, 429, "client");
    assert_string_equal(ht_str(r.json, "reason"), "rate_limited");
    long long wait = ht_int(r.json, "retry_after_s");
    assert_in_range(wait, 3600 - HD_OTP_CLIENT_MAX_TEST * 10 - 1,
                    3600 - (HD_OTP_CLIENT_MAX_TEST - 1) * 10);
    ht_free(&r);
    /* nothing was sent to that phone */
    r = ht_get(&S, "/v1/test/otp?phone=13700009999");
    assert_int_equal(r.status, 404);
    ht_free(&r);
    /* another address, and a local caller without the header, go on */
    r = send_code_from("13700009999", "203.0.113.8");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = send_code("13700009998");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    /* an hour after the first: allowed again */
    advance(wait);
    r = send_code_from("13700009997", "203.0.113.7");
    assert_int_equal(r.status, 200);
    ht_free(&r);
}

/* serve --otp-per-client-hour (here by its variable): 2, then 0 for no cap */
static void test_client_limit_setting(void **state) {
    (void)state;
    ht_server s;
    setenv("HUDONG_OTP_PER_CLIENT_HOUR", "2", 1);
    ht_start(&s, false);
    unsetenv("HUDONG_OTP_PER_CLIENT_HOUR");
    for (int i = 0; i < 3; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1370001000%d", i);
        ht_resp r = send_code_on(&s, phone, "203.0.113.9");
        if (i < 2)
            assert_int_equal(r.status, 200);
        else
            ht_expect_problem(&r, 429, "client");
        ht_free(&r);
    }
    ht_stop(&s, false);
    setenv("HUDONG_OTP_PER_CLIENT_HOUR", "0", 1);
    ht_start(&s, false);
    unsetenv("HUDONG_OTP_PER_CLIENT_HOUR");
    for (int i = 0; i < 3; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1370002000%d", i);
        ht_resp r = send_code_on(&s, phone, "203.0.113.9");
        assert_int_equal(r.status, 200);
        ht_free(&r);
    }
    ht_stop(&s, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_code_tries_and_expiry),
        cmocka_unit_test(test_send_limit),
        cmocka_unit_test(test_races),
        cmocka_unit_test(test_csrf_logout_expiry),
        cmocka_unit_test(test_member_sees_only_own),
        cmocka_unit_test(test_trial_apply_and_review),
        cmocka_unit_test(test_sessions_apart),
        cmocka_unit_test(test_no_test_route_in_production),
        cmocka_unit_test(test_daily_limit),
        cmocka_unit_test(test_client_limit),
        cmocka_unit_test(test_client_limit_setting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
