/* test_trials.c - trials over HTTP with the test clock: applications that
 * hold a price, eligibility in the rules language, selection first come, by
 * engagement and by lottery (re-drawn here from the published seed with an
 * independent implementation of the documented algorithm), reviews that
 * give the price back plus a bonus, forfeits that refuse later
 * applications; every refusal names its field and changes nothing. */
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

static char *customer(const ht_server *s, const char *phone, const char *name, const char *city) {
    ht_resp r = ht_postf(s, "/v1/customers", "{\"phone\":\"%s\",\"name\":\"%s\",\"city\":\"%s\"}",
                         phone, name, city);
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
    ht_resp r = ht_postf(s, "/v1/rewards",
                         "{\"type\":\"physical\",\"name\":{\"zh\":\"面霜小样\",\"en\":\"Face cream "
                         "sample\"},\"price\":{\"points\":300},\"stock\":%ld}",
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

static char *trial(const ht_server *s, const char *body) {
    ht_resp r = ht_post(s, "/v1/trials", body);
    if (r.status != 201) fail_msg("trial: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static ht_resp apply(const ht_server *s, const char *tid, const char *cid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/trials/%s/applications", tid);
    return ht_postf(s, p, "{\"customer_id\":\"%s\"}", cid);
}

static void expect_apply(const ht_server *s, const char *tid, const char *cid) {
    ht_resp r = apply(s, tid, cid);
    if (r.status != 201) fail_msg("apply %s: %ld %s", cid, r.status, r.body);
    ht_free(&r);
}

static ht_resp review(const ht_server *s, const char *tid, const char *cid, int rating) {
    char p[96];
    snprintf(p, sizeof p, "/v1/trials/%s/reviews", tid);
    return ht_postf(s, p,
                    "{\"customer_id\":\"%s\",\"text\":\"很好用，推荐！Works well.\",\"rating\":%d}",
                    cid, rating);
}

/* the application of cid in trial tid */
static json_t *application(const ht_server *s, const char *tid, const char *cid) {
    char p[128];
    snprintf(p, sizeof p, "/v1/trials/%s/applications?customer_id=%s", tid, cid);
    json_t *l = get_json(s, p);
    json_t *a = json_incref(json_array_get(json_object_get(l, "data"), 0));
    json_decref(l);
    if (!a) fail_msg("no application of %s in %s", cid, tid);
    return a;
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static void test_first_come_reviews_forfeits(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-07-01T00:00:00Z");
    char *rid = reward(&s, 10);
    char body[1024];
    /* bad trials name the field and take no stock */
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":2,\"apply_starts_at\":\"2026-07-01T10:00:00Z\","
             "\"apply_ends_at\":\"2026-07-01T12:00:00Z\",\"selection\":\"raffle\","
             "\"review_days\":7}",
             rid);
    ht_resp r = ht_post(&s, "/v1/trials", body);
    ht_expect_problem(&r, 422, "selection");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":2,\"apply_starts_at\":\"2026-07-01T10:00:00Z\","
             "\"apply_ends_at\":\"2026-07-01T12:00:00Z\",\"selection\":\"lottery\","
             "\"review_days\":7,\"eligibility\":\"customer.city ==\"}",
             rid);
    r = ht_post(&s, "/v1/trials", body);
    ht_expect_problem(&r, 422, "eligibility");
    assert_int_equal(ht_int(r.json, "line"), 1);
    assert_true(ht_int(r.json, "column") > 1);
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":11,\"apply_starts_at\":\"2026-07-01T10:00:00Z\","
             "\"apply_ends_at\":\"2026-07-01T12:00:00Z\",\"selection\":\"lottery\","
             "\"review_days\":7}",
             rid);
    r = ht_post(&s, "/v1/trials", body);
    ht_expect_problem(&r, 409, "units");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":1,\"apply_starts_at\":\"2026-07-01T10:00:00Z\","
             "\"apply_ends_at\":\"2026-07-01T09:00:00Z\",\"selection\":\"lottery\","
             "\"review_days\":7}",
             rid);
    r = ht_post(&s, "/v1/trials", body);
    ht_expect_problem(&r, 422, "apply_ends_at");
    ht_free(&r);
    assert_int_equal(reward_stock(&s, rid), 10);

    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"title\":{\"zh\":\"面霜试用\",\"en\":\"Cream trial\"},"
             "\"units\":2,\"price\":50,\"bonus\":30,\"apply_starts_at\":\"2026-07-01T10:00:00Z\","
             "\"apply_ends_at\":\"2026-07-01T12:00:00Z\",\"selection\":\"first_come\","
             "\"review_days\":7,\"eligibility\":\"customer.city == \\\"杭州\\\"\"}",
             rid);
    char *t1 = trial(&s, body);
    assert_int_equal(reward_stock(&s, rid), 8); /* two units set aside */
    char *a = customer(&s, "13700000001", "张伟", "杭州"),
         *b = customer(&s, "13700000002", "王芳", "杭州"),
         *c = customer(&s, "13700000003", "李娜", "杭州"),
         *n = customer(&s, "13700000004", "赵敏", "北京"),
         *p = customer(&s, "13700000005", "钱多", "杭州");
    give(&s, a, 1000);
    give(&s, b, 1000);
    give(&s, c, 1000);
    give(&s, n, 1000);
    give(&s, p, 10);

    r = apply(&s, t1, a); /* before the window */
    ht_expect_problem(&r, 409, "status");
    ht_free(&r);
    char tp[96];
    snprintf(tp, sizeof tp, "/v1/trials/%s", t1);
    json_t *t = get_json(&s, tp);
    assert_string_equal(ht_str(t, "status"), "scheduled");
    json_decref(t);
    ht_clock_to(&s, "2026-07-01T10:00:00Z");
    r = apply(&s, t1, a);
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "status"), "applied");
    ht_free(&r);
    expect_points(&s, a, 1000, 950, 50);
    r = apply(&s, t1, a);
    ht_expect_problem(&r, 409, "customer_id");
    ht_free(&r);
    r = apply(&s, t1, n); /* 北京 is not eligible */
    ht_expect_problem(&r, 403, "customer_id");
    assert_non_null(strstr(ht_str(r.json, "detail"), "not eligible"));
    ht_free(&r);
    r = apply(&s, t1, p); /* 10 points for a price of 50 */
    ht_expect_problem(&r, 409, "amount");
    ht_free(&r);
    expect_points(&s, n, 1000, 1000, 0);
    expect_points(&s, p, 10, 10, 0);
    ht_clock_to(&s, "2026-07-01T10:01:00Z");
    expect_apply(&s, t1, b);
    ht_clock_to(&s, "2026-07-01T10:02:00Z");
    expect_apply(&s, t1, c);
    t = get_json(&s, tp);
    assert_int_equal(ht_int(t, "applicants"), 3);
    assert_string_equal(ht_str(t, "status"), "open");
    json_decref(t);

    /* the close: first come, A and B win; C's hold is voided */
    ht_clock_to(&s, "2026-07-01T12:00:00Z");
    t = get_json(&s, tp);
    assert_string_equal(ht_str(t, "status"), "closed");
    assert_int_equal(ht_int(t, "winners"), 2);
    assert_true(json_is_null(json_object_get(t, "seed")));
    json_decref(t);
    expect_points(&s, a, 950, 950, 0);
    expect_points(&s, b, 950, 950, 0);
    expect_points(&s, c, 1000, 1000, 0);
    json_t *app = application(&s, t1, a);
    assert_string_equal(ht_str(app, "status"), "won");
    assert_int_equal(ht_int(app, "rank"), 1);
    assert_string_equal(ht_str(app, "review_due_at"), "2026-07-08T12:00:00.000Z");
    char op[96];
    snprintf(op, sizeof op, "/v1/orders/%s", ht_str(app, "order_id"));
    json_decref(app);
    json_t *o = get_json(&s, op);
    assert_string_equal(ht_str(o, "source"), "trial");
    assert_int_equal(ht_int(o, "points"), 50);
    json_decref(o);
    app = application(&s, t1, c);
    assert_string_equal(ht_str(app, "status"), "lost");
    json_decref(app);
    assert_int_equal(reward_stock(&s, rid), 8);
    r = apply(&s, t1, n);
    ht_expect_problem(&r, 409, "status");
    ht_free(&r);

    /* reviews: the price back plus the bonus; once; winners only */
    r = review(&s, t1, a, 6);
    ht_expect_problem(&r, 422, "rating");
    ht_free(&r);
    r = review(&s, t1, a, 5);
    assert_int_equal(r.status, 201);
    assert_int_equal(ht_int(r.json, "refunded"), 50);
    assert_int_equal(ht_int(r.json, "bonus"), 30);
    ht_free(&r);
    expect_points(&s, a, 1030, 1030, 0);
    app = application(&s, t1, a);
    assert_string_equal(ht_str(app, "status"), "reviewed");
    json_decref(app);
    r = review(&s, t1, a, 4);
    ht_expect_problem(&r, 409, "customer_id");
    ht_free(&r);
    r = review(&s, t1, c, 4);
    ht_expect_problem(&r, 409, "customer_id");
    ht_free(&r);
    snprintf(op, sizeof op, "/v1/trials/%s/reviews", t1);
    json_t *rv = get_json(&s, op);
    json_t *first = json_array_get(json_object_get(rv, "data"), 0);
    assert_string_equal(ht_str(first, "reviewer"), "张**");
    assert_string_equal(ht_str(first, "text"), "很好用，推荐！Works well.");
    assert_int_equal(ht_int(first, "rating"), 5);
    json_decref(rv);
    /* the applications page by page: two, then the third, then no cursor */
    snprintf(op, sizeof op, "/v1/trials/%s/applications?limit=2", t1);
    json_t *p1 = get_json(&s, op);
    json_t *d1 = json_object_get(p1, "data");
    assert_int_equal(json_array_size(d1), 2);
    assert_true(json_is_string(json_object_get(p1, "next_cursor")));
    snprintf(op, sizeof op, "/v1/trials/%s/applications?limit=2&cursor=%s", t1,
             ht_str(p1, "next_cursor"));
    json_t *p2 = get_json(&s, op);
    json_t *d2 = json_object_get(p2, "data");
    assert_int_equal(json_array_size(d2), 1);
    assert_true(json_is_null(json_object_get(p2, "next_cursor")));
    for (size_t i = 0; i < 2; i++)
        assert_string_not_equal(ht_str(json_array_get(d1, i), "id"),
                                ht_str(json_array_get(d2, 0), "id"));
    json_decref(p1);
    json_decref(p2);

    /* B lets the due date pass: forfeited, a late review refused */
    ht_clock_to(&s, "2026-07-08T12:00:00Z");
    r = review(&s, t1, b, 5);
    ht_expect_problem(&r, 409, "review_due_at");
    assert_non_null(strstr(ht_str(r.json, "detail"), "late"));
    ht_free(&r);
    expect_points(&s, b, 950, 950, 0);
    app = application(&s, t1, b);
    assert_string_equal(ht_str(app, "status"), "forfeited");
    json_decref(app);

    /* engagement, free: B is refused for the forfeit; C, busier, beats A */
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":1,\"apply_starts_at\":\"2026-07-08T13:00:00Z\","
             "\"apply_ends_at\":\"2026-07-08T14:00:00Z\",\"selection\":\"engagement\","
             "\"review_days\":7}",
             rid);
    char *t2 = trial(&s, body);
    for (int i = 0; i < 3; i++) {
        r = ht_postf(&s, "/v1/events", "{\"type\":\"page.view\",\"customer\":\"%s\"}", c);
        assert_int_equal(r.status, 201);
        ht_free(&r);
    }
    ht_clock_to(&s, "2026-07-08T13:00:00Z");
    r = apply(&s, t2, b);
    ht_expect_problem(&r, 403, "customer_id");
    assert_non_null(strstr(ht_str(r.json, "detail"), "2027-01-04"));
    ht_free(&r);
    expect_apply(&s, t2, a); /* earlier, but fewer events */
    expect_apply(&s, t2, c);
    expect_points(&s, c, 1000, 1000, 0); /* price 0: nothing held */
    ht_clock_to(&s, "2026-07-08T14:00:00Z");
    app = application(&s, t2, c);
    assert_string_equal(ht_str(app, "status"), "won");
    assert_true(ht_int(app, "score") >= 3);
    json_decref(app);
    app = application(&s, t2, a);
    assert_string_equal(ht_str(app, "status"), "lost");
    json_decref(app);
    assert_int_equal(reward_stock(&s, rid), 7);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(b);
    free(c);
    free(n);
    free(p);
    free(t1);
    free(t2);
    free(rid);
}

/* ---- the lottery, re-drawn from the published seed ---- */

static uint64_t splitmix(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int cmp_id(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* The documented draw, written again here from the prose in trials.h. */
static void redraw(const char *seed, long long *ids, size_t n) {
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 32; i++) {
        char ch = seed[i];
        uint64_t v = (uint64_t)(ch <= '9' ? ch - '0' : ch - 'a' + 10);
        if (i < 16)
            hi = hi * 16 + v;
        else
            lo = lo * 16 + v;
    }
    uint64_t state = hi ^ lo;
    qsort(ids, n, sizeof *ids, cmp_id);
    for (size_t i = n - 1; i >= 1; i--) {
        uint64_t m = i + 1, x;
        do x = splitmix(&state);
        while (x < (uint64_t)(-m) % m);
        size_t j = (size_t)(x % m);
        long long t = ids[i];
        ids[i] = ids[j];
        ids[j] = t;
    }
}

static void test_lottery_redraw(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-08-01T00:00:00Z");
    char *rid = reward(&s, 5);
    char body[1024];
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":2,\"price\":10,\"apply_starts_at\":"
             "\"2026-08-01T00:00:00Z\",\"apply_ends_at\":\"2026-08-02T00:00:00Z\","
             "\"selection\":\"lottery\",\"review_days\":3}",
             rid);
    char *t3 = trial(&s, body);
    snprintf(body, sizeof body,
             "{\"reward_id\":\"%s\",\"units\":3,\"apply_starts_at\":\"2026-08-01T00:00:00Z\","
             "\"apply_ends_at\":\"2026-08-02T00:00:00Z\",\"selection\":\"lottery\","
             "\"review_days\":3,\"tier_required\":true}",
             rid);
    char *t4 = trial(&s, body);
    assert_int_equal(reward_stock(&s, rid), 0);
    enum { N = 6 };
    char *ids[N];
    for (int i = 0; i < N; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1330000%04d", i);
        ids[i] = customer(&s, phone, "试用者", "上海");
        give(&s, ids[i], 100);
        expect_apply(&s, t3, ids[i]);
    }
    /* the tier trial: nobody has a tier with access.trials */
    ht_resp r = apply(&s, t4, ids[0]);
    ht_expect_problem(&r, 403, "customer_id");
    ht_free(&r);
    char dp[96];
    snprintf(dp, sizeof dp, "/v1/trials/%s/draw", t3);
    r = ht_get(&s, dp); /* no draw before the close */
    ht_expect_problem(&r, 409, "status");
    ht_free(&r);

    ht_clock_to(&s, "2026-08-02T00:00:00Z");
    json_t *d = get_json(&s, dp);
    const char *seed = ht_str(d, "seed");
    assert_int_equal(strlen(seed), 32);
    json_t *apps = json_object_get(d, "applicants"), *win = json_object_get(d, "winners");
    assert_int_equal(json_array_size(apps), N);
    assert_int_equal(json_array_size(win), 2);
    long long order[N];
    for (int i = 0; i < N; i++) order[i] = strtoll(ht_str(json_array_get(apps, i), "id"), NULL, 10);
    redraw(seed, order, N);
    for (int i = 0; i < 2; i++)
        assert_int_equal(order[i], strtoll(json_string_value(json_array_get(win, i)), NULL, 10));
    /* the winners' holds posted, the others' voided */
    int won = 0;
    for (int i = 0; i < N; i++) {
        json_t *app = application(&s, t3, ids[i]);
        bool w = strcmp(ht_str(app, "status"), "won") == 0;
        won += w;
        expect_points(&s, ids[i], w ? 90 : 100, w ? 90 : 100, 0);
        json_decref(app);
        free(ids[i]);
    }
    assert_int_equal(won, 2);
    json_decref(d);
    /* the tier trial drew nobody: its three units go back */
    char tp[96];
    snprintf(tp, sizeof tp, "/v1/trials/%s", t4);
    json_t *t = get_json(&s, tp);
    assert_int_equal(ht_int(t, "winners"), 0);
    json_decref(t);
    assert_int_equal(reward_stock(&s, rid), 3);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(t3);
    free(t4);
    free(rid);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_come_reviews_forfeits),
        cmocka_unit_test(test_lottery_redraw),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
