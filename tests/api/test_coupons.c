/* test_coupons.c - coupons over HTTP: templates and their validation, bulk
 * issue of unguessable codes (all or nothing), claim by click with its
 * window, segment, per-customer limit and quantity, redeem once per order
 * reference (a replay answers the same), restore on refund, expiry, the
 * daily report; and 5,000 claims from 16 threads racing for 1,000 coupons.
 * Every refusal is problem+json naming the reason and changes nothing;
 * `hudong check` passes after each test. */
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
#include <time.h>

#include "api/harness.h"

static void start(ht_server *s) {
    ht_start(s, true);
    ht_clock_to(s, "2026-03-02T00:00:00Z");
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

static long long given(const ht_server *s, const char *tid) {
    json_t *t = get_json(s, "/v1/coupons/templates/%s", tid);
    long long n = ht_int(t, "given");
    json_decref(t);
    return n;
}

static size_t coupons_of(const ht_server *s, const char *cid) {
    json_t *j = get_json(s, "/v1/customers/%s/coupons", cid);
    size_t n = json_array_size(json_object_get(j, "data"));
    json_decref(j);
    return n;
}

static void expect_refusal(ht_resp *r, long status, const char *field, const char *reason) {
    ht_expect_problem(r, status, field);
    if (reason && strcmp(ht_str(r->json, "reason"), reason) != 0)
        fail_msg("expected reason %s: %s", reason, r->body);
    ht_free(r);
}

static ht_resp claim(const ht_server *s, const char *tid, const char *cid) {
    char p[96], body[96];
    snprintf(p, sizeof p, "/v1/coupons/%s/claim", tid);
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\"}", cid);
    return ht_post(s, p, body);
}

/* A refused claim changes nothing: the template's count and the holding stay. */
static void claim_refused(const ht_server *s, const char *tid, const char *cid, long status,
                          const char *field, const char *reason) {
    long long g = given(s, tid);
    size_t n = coupons_of(s, cid);
    ht_resp r = claim(s, tid, cid);
    expect_refusal(&r, status, field, reason);
    assert_int_equal(given(s, tid), g);
    assert_int_equal(coupons_of(s, cid), n);
}

static ht_resp redeem(const ht_server *s, const char *code, const char *cid, const char *ref,
                      long amount) {
    char body[256];
    snprintf(body, sizeof body,
             "{\"code\":\"%s\",\"customer_id\":\"%s\",\"order_ref\":\"%s\",\"amount\":%ld}", code,
             cid, ref, amount);
    return ht_post(s, "/v1/coupons/redeem", body);
}

static const char *status_of(const ht_server *s, const char *code, char out[16]) {
    json_t *j = get_json(s, "/v1/coupons/%s", code);
    snprintf(out, 16, "%s", ht_str(j, "status"));
    json_decref(j);
    return out;
}

static bool code_ok(const char *c) {
    if (strlen(c) != 18) return false;
    for (const char *p = c; *p; p++)
        if (!strchr("23456789ABCDEFGHJKMNPQRSTUVWXYZ", *p)) return false;
    return true;
}

/* ---- templates ---- */

static void test_templates(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    struct {
        const char *body, *field;
    } bad[] = {
        {"{\"discount\":{\"type\":\"amount\",\"amount\":100},\"validity\":{\"days\":7}}", "name"},
        {"{\"name\":{\"zh\":\"券\"},\"validity\":{\"days\":7}}", "discount"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"gift\"},\"validity\":{\"days\":7}}",
         "discount.type"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"percent\",\"percent\":120},"
         "\"validity\":{\"days\":7}}",
         "discount.percent"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":0},"
         "\"validity\":{\"days\":7}}",
         "discount.amount"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":5}}", "validity"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":5},\"validity\":"
         "{\"days\":7,\"to\":\"2026-04-01\"}}",
         "validity.days"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":5},\"validity\":"
         "{\"from\":\"2026-04-01\"}}",
         "validity.to"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":5},\"validity\":"
         "{\"days\":7},\"quantity\":0}",
         "quantity"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":5},\"validity\":"
         "{\"days\":7},\"segment\":\"customer.tier ==\"}",
         "segment"},
        {"{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":5},\"validity\":"
         "{\"days\":7},\"claim\":{\"starts_at\":\"2026-03-05\",\"ends_at\":\"2026-03-01\"}}",
         "claim.ends_at"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ht_resp r = ht_post(&s, "/v1/coupons/templates", bad[i].body);
        ht_expect_problem(&r, 422, bad[i].field);
        ht_free(&r);
    }
    ht_resp r = ht_get(&s, "/v1/coupons/templates");
    assert_int_equal(json_array_size(json_object_get(r.json, "data")), 0);
    ht_free(&r);
    r = ht_post_idem(&s, "/v1/coupons/templates",
                     "{\"name\":{\"zh\":\"八五折\",\"en\":\"15% off\"},\"discount\":{\"type\":"
                     "\"percent\",\"percent\":15,\"max\":3000},\"validity\":{\"from\":"
                     "\"2026-03-01\",\"to\":\"2026-04-01\"},\"quantity\":100,\"per_customer\":1}",
                     "tmpl-1");
    assert_int_equal(r.status, 201);
    char id[32];
    snprintf(id, sizeof id, "%s", ht_str(r.json, "id"));
    json_t *disc = json_object_get(r.json, "discount");
    assert_string_equal(ht_str(disc, "type"), "percent");
    assert_int_equal(ht_int(disc, "max"), 3000);
    assert_int_equal(ht_int(r.json, "remaining"), 100);
    assert_string_equal(ht_str(json_object_get(r.json, "name"), "zh"), "八五折");
    ht_free(&r);
    r = ht_post_idem(&s, "/v1/coupons/templates",
                     "{\"name\":{\"zh\":\"八五折\",\"en\":\"15% off\"},\"discount\":{\"type\":"
                     "\"percent\",\"percent\":15,\"max\":3000},\"validity\":{\"from\":"
                     "\"2026-03-01\",\"to\":\"2026-04-01\"},\"quantity\":100,\"per_customer\":1}",
                     "tmpl-1");
    assert_true(r.replayed);
    assert_string_equal(ht_str(r.json, "id"), id);
    ht_free(&r);
    char p[96];
    snprintf(p, sizeof p, "/v1/coupons/templates/%s", id);
    r = ht_patch(&s, p, "{\"name\":{\"en\":\"15 percent off\"},\"quantity\":50}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(json_object_get(r.json, "name"), "zh"), "八五折");
    assert_int_equal(ht_int(r.json, "quantity"), 50);
    ht_free(&r);
    char *a = new_customer(&s, "13600000001", NULL);
    r = claim(&s, id, a);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    r = ht_patch(&s, p, "{\"quantity\":0}");
    ht_expect_problem(&r, 422, "quantity");
    ht_free(&r);
    r = ht_patch(&s, p, "{\"segment\":\"nope.field > 1\"}");
    ht_expect_problem(&r, 422, "segment");
    ht_free(&r);
    r = ht_get(&s, "/v1/coupons/templates/1");
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
}

/* ---- bulk issue, redeem, restore ---- */

static void test_issue_redeem_restore(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *t20 = mk(&s, "/v1/coupons/templates",
                   "{\"name\":{\"zh\":\"满100减20\",\"en\":\"20 off 100\"},\"discount\":{\"type\":"
                   "\"amount\",\"amount\":2000},\"min_spend\":10000,\"validity\":{\"days\":7},"
                   "\"quantity\":12,\"per_customer\":2}");
    char *a = new_customer(&s, "13600000011", "\"city\":\"北京\"");
    char *b = new_customer(&s, "13600000012", "\"city\":\"上海\"");
    /* bearer codes: unguessable, unambiguous, unique */
    char p[96];
    snprintf(p, sizeof p, "/v1/coupons/templates/%s/issue", t20);
    ht_resp r = ht_post(&s, p, "{\"count\":6}");
    assert_int_equal(r.status, 201);
    assert_int_equal(ht_int(r.json, "issued"), 6);
    json_t *cs = json_object_get(r.json, "coupons");
    char codes[6][24];
    for (size_t i = 0; i < 6; i++) {
        snprintf(codes[i], sizeof codes[i], "%s", ht_str(json_array_get(cs, i), "code"));
        assert_true(code_ok(codes[i]));
        for (size_t j = 0; j < i; j++) assert_string_not_equal(codes[i], codes[j]);
        assert_true(json_is_null(json_object_get(json_array_get(cs, i), "customer_id")));
    }
    ht_free(&r);
    /* to customers: all or nothing */
    char body[256];
    snprintf(body, sizeof body, "{\"count\":2,\"customer_ids\":[\"%s\",\"%s\"]}", a, b);
    r = ht_post_idem(&s, p, body, "issue-1");
    assert_int_equal(r.status, 201);
    assert_int_equal(ht_int(r.json, "issued"), 4);
    ht_free(&r);
    r = ht_post_idem(&s, p, body, "issue-1");
    assert_true(r.replayed);
    ht_free(&r);
    assert_int_equal(given(&s, t20), 10);
    snprintf(body, sizeof body, "{\"count\":1,\"customer_ids\":[\"%s\"]}", a);
    r = ht_post(&s, p, body); /* a holds 2 already */
    expect_refusal(&r, 409, "limit", "limit_reached");
    r = ht_post(&s, p, "{\"count\":3}"); /* 2 left */
    expect_refusal(&r, 409, "quantity", "sold_out");
    snprintf(body, sizeof body, "{\"customer_ids\":[\"%s\",\"77\"]}", a);
    r = ht_post(&s, p, body);
    ht_expect_problem(&r, 422, "customer_ids[1]");
    ht_free(&r);
    snprintf(body, sizeof body, "{\"customer_ids\":[\"%s\",\"%s\"]}", a, a);
    r = ht_post(&s, p, body);
    ht_expect_problem(&r, 422, "customer_ids");
    ht_free(&r);
    r = ht_post(&s, p, "{\"count\":10001}");
    ht_expect_problem(&r, 422, "count");
    ht_free(&r);
    r = ht_post(&s, "/v1/coupons/templates/5/issue", "{\"count\":1}");
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);
    assert_int_equal(given(&s, t20), 10);
    assert_int_equal(coupons_of(&s, a), 2);
    /* redeem a bearer code: below the minimum spend, then on an order */
    char st[16];
    r = redeem(&s, codes[0], a, "ORD-1", 5000);
    ht_expect_problem(&r, 422, "amount");
    ht_free(&r);
    assert_string_equal(status_of(&s, codes[0], st), "available");
    r = redeem(&s, codes[0], a, "ORD-1", 15000);
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "discount"), 2000);
    assert_int_equal(ht_int(r.json, "payable"), 13000);
    assert_false(r.replayed);
    ht_free(&r);
    /* the same order again: the same answer (idempotent on the order) */
    r = redeem(&s, codes[0], a, "ORD-1", 15000);
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "discount"), 2000);
    assert_true(r.replayed);
    ht_free(&r);
    /* another order, or another customer: refused */
    r = redeem(&s, codes[0], a, "ORD-2", 15000);
    expect_refusal(&r, 409, "status", "wrong_state");
    r = redeem(&s, codes[0], b, "ORD-1", 15000);
    expect_refusal(&r, 409, "status", "wrong_state");
    json_t *c0 = get_json(&s, "/v1/coupons/%s", codes[0]);
    assert_string_equal(ht_str(c0, "status"), "redeemed");
    assert_string_equal(ht_str(c0, "order_ref"), "ORD-1");
    assert_string_equal(ht_str(c0, "redeemed_by"), a);
    json_decref(c0);
    /* a refund restores it; the order must match when named */
    snprintf(p, sizeof p, "/v1/coupons/%s/restore", codes[0]);
    r = ht_post(&s, p, "{\"order_ref\":\"ORD-9\"}");
    expect_refusal(&r, 409, "order_ref", "wrong_order");
    r = ht_post(&s, p, "{\"order_ref\":\"ORD-1\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "available");
    assert_true(json_is_null(json_object_get(r.json, "order_ref")));
    ht_free(&r);
    r = ht_post(&s, p, NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    /* lower case with dashes is the same code */
    char lower[40];
    snprintf(lower, sizeof lower, "%.6s-%.6s-%.6s", codes[0], codes[0] + 6, codes[0] + 12);
    for (char *q = lower; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    r = redeem(&s, lower, b, "ORD-3", 10000);
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "discount"), 2000);
    ht_free(&r);
    /* a's own coupon cannot be used by b */
    json_t *mine = get_json(&s, "/v1/customers/%s/coupons", a);
    char acode[24];
    snprintf(acode, sizeof acode, "%s",
             ht_str(json_array_get(json_object_get(mine, "data"), 0), "code"));
    json_decref(mine);
    r = redeem(&s, acode, b, "ORD-4", 20000);
    ht_expect_problem(&r, 403, "customer_id");
    ht_free(&r);
    assert_string_equal(status_of(&s, acode, st), "available");
    /* unknown and malformed codes */
    r = redeem(&s, "23456789ABCDEFGHJK", a, "ORD-5", 20000);
    ht_expect_problem(&r, 404, "code");
    ht_free(&r);
    r = redeem(&s, "0O1IL", a, "ORD-5", 20000);
    ht_expect_problem(&r, 404, "code");
    ht_free(&r);
    r = ht_post(&s, "/v1/coupons/redeem", "{\"code\":\"X\",\"customer_id\":\"1\",\"amount\":1}");
    ht_expect_problem(&r, 422, "order_ref");
    ht_free(&r);
    snprintf(body, sizeof body,
             "{\"code\":\"%s\",\"customer_id\":\"%s\",\"order_ref\":\"O\",\"amount\":-1}", acode,
             a);
    r = ht_post(&s, "/v1/coupons/redeem", body);
    ht_expect_problem(&r, 422, "amount");
    ht_free(&r);
    /* seven days after issue the coupons have expired */
    ht_clock_to(&s, "2026-03-09T00:00:01Z");
    assert_string_equal(status_of(&s, acode, st), "expired");
    r = redeem(&s, acode, a, "ORD-6", 20000);
    expect_refusal(&r, 409, "window", "window_closed");
    assert_string_equal(status_of(&s, acode, st), "expired");
    /* percent off with a cap; a coupon not yet valid */
    char *pct =
        mk(&s, "/v1/coupons/templates",
           "{\"name\":{\"zh\":\"八五折\"},\"discount\":{\"type\":\"percent\",\"percent\":"
           "15,\"max\":3000},\"validity\":{\"from\":\"2026-03-01\",\"to\":\"2026-04-01\"}}");
    char *later = mk(&s, "/v1/coupons/templates",
                     "{\"name\":{\"zh\":\"四月券\"},\"discount\":{\"type\":\"amount\",\"amount\":"
                     "100},\"validity\":{\"from\":\"2026-04-01\",\"to\":\"2026-05-01\"}}");
    r = claim(&s, pct, a);
    char pc1[24];
    snprintf(pc1, sizeof pc1, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    r = claim(&s, pct, a);
    char pc2[24];
    snprintf(pc2, sizeof pc2, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    r = redeem(&s, pc1, a, "ORD-7", 10001);
    assert_int_equal(ht_int(r.json, "discount"), 1500); /* 15% rounded down */
    ht_free(&r);
    r = redeem(&s, pc2, a, "ORD-8", 50000);
    assert_int_equal(ht_int(r.json, "discount"), 3000); /* capped */
    ht_free(&r);
    r = claim(&s, later, a);
    char lc[24];
    snprintf(lc, sizeof lc, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    r = redeem(&s, lc, a, "ORD-9", 50000);
    expect_refusal(&r, 409, "window", "window_closed");
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(t20);
    free(a);
    free(b);
    free(pct);
    free(later);
}

/* ---- claim by click ---- */

static void test_claim_rules(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *t = mk(&s, "/v1/coupons/templates",
                 "{\"name\":{\"zh\":\"直播专享\",\"en\":\"Live deal\"},\"discount\":{\"type\":"
                 "\"amount\",\"amount\":500},\"validity\":{\"days\":3},\"claim\":{\"starts_at\":"
                 "\"2026-03-05T20:00:00+08:00\",\"ends_at\":\"2026-03-05T22:00:00+08:00\"},"
                 "\"per_customer\":1,\"quantity\":2,\"segment\":\"customer.city in "
                 "[\\\"杭州\\\", \\\"上海\\\"] or \\\"vip\\\" in customer.tags\"}");
    char *hz = new_customer(&s, "13600000021", "\"city\":\"杭州\"");
    char *bj = new_customer(&s, "13600000022", "\"city\":\"北京\"");
    char *vip = new_customer(&s, "13600000023", "\"city\":\"北京\",\"tags\":[\"vip\"]");
    char *sh = new_customer(&s, "13600000024", "\"city\":\"上海\"");
    claim_refused(&s, t, hz, 409, "window", "window_closed"); /* not open yet */
    ht_clock_to(&s, "2026-03-05T12:30:00Z");
    claim_refused(&s, t, bj, 403, "eligibility", "not_eligible");
    /* an Idempotency-Key makes a retried click return the same coupon */
    char p[96], body[96];
    snprintf(p, sizeof p, "/v1/coupons/%s/claim", t);
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\"}", hz);
    ht_resp r = ht_post_idem(&s, p, body, "click-1");
    assert_int_equal(r.status, 201);
    assert_string_equal(ht_str(r.json, "origin"), "claim");
    assert_string_equal(ht_str(r.json, "status"), "available");
    assert_string_equal(ht_str(r.json, "valid_to"), "2026-03-08T12:30:00.000Z");
    char code[24];
    snprintf(code, sizeof code, "%s", ht_str(r.json, "code"));
    ht_free(&r);
    r = ht_post_idem(&s, p, body, "click-1");
    assert_int_equal(r.status, 201);
    assert_true(r.replayed);
    assert_string_equal(ht_str(r.json, "code"), code);
    ht_free(&r);
    /* the same key and body on another template's claim is another request */
    char *t2 = mk(&s, "/v1/coupons/templates",
                  "{\"name\":{\"zh\":\"满减\",\"en\":\"Money off\"},\"discount\":{\"type\":"
                  "\"amount\",\"amount\":300},\"validity\":{\"days\":3}}");
    char p2[96];
    snprintf(p2, sizeof p2, "/v1/coupons/%s/claim", t2);
    r = ht_post_idem(&s, p2, body, "click-1");
    assert_int_equal(r.status, 201);
    assert_false(r.replayed);
    assert_string_not_equal(ht_str(r.json, "code"), code);
    ht_free(&r);
    free(t2);
    claim_refused(&s, t, hz, 409, "limit", "limit_reached");
    r = claim(&s, t, vip);
    assert_int_equal(r.status, 201);
    ht_free(&r);
    claim_refused(&s, t, sh, 409, "quantity", "sold_out");
    /* more quantity, but the window closes */
    char tp[96];
    snprintf(tp, sizeof tp, "/v1/coupons/templates/%s", t);
    r = ht_patch(&s, tp, "{\"quantity\":5}");
    assert_int_equal(r.status, 200);
    assert_int_equal(ht_int(r.json, "remaining"), 3);
    ht_free(&r);
    r = ht_patch(&s, tp, "{\"active\":false}");
    ht_free(&r);
    claim_refused(&s, t, sh, 409, "active", "not_active");
    r = ht_patch(&s, tp, "{\"active\":true}");
    ht_free(&r);
    ht_clock_to(&s, "2026-03-05T14:00:00Z");
    claim_refused(&s, t, sh, 409, "window", "window_closed");
    /* bad requests */
    r = ht_post(&s, p, "{}");
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    r = ht_post(&s, p, "{\"customer_id\":\"12\"}");
    ht_expect_problem(&r, 422, "customer_id");
    ht_free(&r);
    r = claim(&s, "99", hz);
    ht_expect_problem(&r, 404, "id");
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(t);
    free(hz);
    free(bj);
    free(vip);
    free(sh);
}

/* ---- the report ---- */

static void test_report(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char *t = mk(&s, "/v1/coupons/templates",
                 "{\"name\":{\"zh\":\"券\"},\"discount\":{\"type\":\"amount\",\"amount\":300},"
                 "\"validity\":{\"days\":30}}");
    char *other = mk(&s, "/v1/coupons/templates",
                     "{\"name\":{\"zh\":\"另一券\"},\"discount\":{\"type\":\"amount\",\"amount\":"
                     "100},\"validity\":{\"days\":30}}");
    char *a = new_customer(&s, "13600000031", NULL);
    char p[96];
    snprintf(p, sizeof p, "/v1/coupons/templates/%s/issue", t);
    ht_resp r = ht_post(&s, p, "{\"count\":3}");
    char code[24];
    snprintf(code, sizeof code, "%s",
             ht_str(json_array_get(json_object_get(r.json, "coupons"), 0), "code"));
    ht_free(&r);
    r = claim(&s, t, a);
    ht_free(&r);
    r = claim(&s, other, a);
    ht_free(&r);
    ht_clock_to(&s, "2026-03-03T10:00:00Z");
    r = claim(&s, t, a);
    ht_free(&r);
    r = redeem(&s, code, a, "R-1", 1000);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    /* 17:00Z on the 3rd is 01:00 on the 4th in Beijing: the brand's day */
    ht_clock_to(&s, "2026-03-03T17:00:00Z");
    r = ht_post(&s, p, "{\"count\":1}");
    assert_int_equal(r.status, 201);
    ht_free(&r);
    char q[160];
    snprintf(q, sizeof q, "/v1/coupons/report?from=2026-03-01&to=2026-03-05&template_id=%s", t);
    r = ht_get(&s, q);
    assert_int_equal(r.status, 200);
    json_t *tot = json_object_get(r.json, "totals");
    assert_int_equal(ht_int(tot, "issued"), 4);
    assert_int_equal(ht_int(tot, "claimed"), 2);
    assert_int_equal(ht_int(tot, "redeemed"), 1);
    assert_int_equal(ht_int(tot, "discount"), 300);
    json_t *days = json_object_get(r.json, "days");
    assert_int_equal(json_array_size(days), 3);
    json_t *d0 = json_array_get(days, 0), *d1 = json_array_get(days, 1);
    assert_string_equal(ht_str(d0, "date"), "2026-03-02");
    assert_int_equal(ht_int(d0, "issued"), 3);
    assert_int_equal(ht_int(d0, "claimed"), 1);
    assert_string_equal(ht_str(d1, "date"), "2026-03-03");
    assert_int_equal(ht_int(d1, "claimed"), 1);
    assert_int_equal(ht_int(d1, "redeemed"), 1);
    assert_string_equal(ht_str(json_array_get(days, 2), "date"), "2026-03-04");
    assert_int_equal(ht_int(json_array_get(days, 2), "issued"), 1);
    ht_free(&r);
    r = ht_get(&s, "/v1/coupons/report?from=2026-03-01&to=2026-03-05");
    assert_int_equal(ht_int(json_object_get(r.json, "totals"), "claimed"), 3);
    ht_free(&r);
    r = ht_get(&s, "/v1/coupons/report?from=2026-03-05&to=2026-03-01");
    ht_expect_problem(&r, 400, "to");
    ht_free(&r);
    r = ht_get(&s, "/v1/coupons/report?from=2020-01-01&to=2026-03-01");
    ht_expect_problem(&r, 400, "from");
    ht_free(&r);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(t);
    free(other);
    free(a);
}

/* ---- 5,000 clicks for 1,000 coupons ---- */

#define CUSTOMERS 1000
#define THREADS   16
#define CLAIMS    5000
#define QUANTITY  1000
#define PER_CUST  2

typedef struct clicker {
    const ht_server *s;
    const char *tid;
    char (*ids)[24];
    int from, to; /* claims [from, to) */
    atomic_int *won_by;
    int won, limit, sold_out, errors;
} clicker;

static void *click(void *arg) {
    clicker *k = arg;
    char p[96];
    snprintf(p, sizeof p, "/v1/coupons/%s/claim", k->tid);
    for (int i = k->from; i < k->to; i++) {
        int who = (int)(((unsigned)i * 2654435761u) % CUSTOMERS);
        char body[96];
        snprintf(body, sizeof body, "{\"customer_id\":\"%s\"}", k->ids[who]);
        ht_resp r = ht_req_soft(k->s, "POST", p, body);
        if (r.status == 201) {
            k->won++;
            atomic_fetch_add(&k->won_by[who], 1);
        } else if (r.status == 409 && strcmp(ht_str(r.json, "field"), "limit") == 0) {
            k->limit++;
        } else if (r.status == 409 && strcmp(ht_str(r.json, "field"), "quantity") == 0) {
            k->sold_out++;
        } else {
            if (k->errors++ < 3) fprintf(stderr, "claim: %ld %s\n", r.status, r.body);
        }
        ht_free(&r);
    }
    return NULL;
}

typedef struct maker {
    const ht_server *s;
    char (*ids)[24];
    int from, to;
} maker;

static void *make_customers(void *arg) {
    maker *m = arg;
    for (int i = m->from; i < m->to; i++) {
        char phone[16];
        snprintf(phone, sizeof phone, "1350000%04d", i);
        char *id = new_customer(m->s, phone, NULL);
        snprintf(m->ids[i], sizeof m->ids[i], "%s", id);
        free(id);
    }
    return NULL;
}

static double secs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_claim_race(void **state) {
    (void)state;
    ht_server s;
    start(&s);
    char body[300];
    snprintf(body, sizeof body,
             "{\"name\":{\"zh\":\"秒杀券\",\"en\":\"Flash coupon\"},\"discount\":{\"type\":"
             "\"amount\",\"amount\":1000},\"validity\":{\"days\":1},\"quantity\":%d,"
             "\"per_customer\":%d}",
             QUANTITY, PER_CUST);
    char *t = mk(&s, "/v1/coupons/templates", body);
    static char ids[CUSTOMERS][24];
    pthread_t th[THREADS];
    maker ms[THREADS];
    for (int i = 0; i < THREADS; i++) {
        ms[i] = (maker){&s, ids, CUSTOMERS * i / THREADS, CUSTOMERS * (i + 1) / THREADS};
        pthread_create(&th[i], NULL, make_customers, &ms[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    static atomic_int won_by[CUSTOMERS];
    for (int i = 0; i < CUSTOMERS; i++) atomic_store(&won_by[i], 0);
    clicker ks[THREADS];
    double t0 = secs();
    for (int i = 0; i < THREADS; i++) {
        ks[i] = (clicker){&s, t, ids, CLAIMS * i / THREADS, CLAIMS * (i + 1) / THREADS, won_by, 0,
                          0,  0, 0};
        pthread_create(&th[i], NULL, click, &ks[i]);
    }
    int won = 0, limit = 0, sold_out = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        won += ks[i].won;
        limit += ks[i].limit;
        sold_out += ks[i].sold_out;
        errors += ks[i].errors;
    }
    double el = secs() - t0;
    fprintf(stderr,
            "claim race (%s): %d claims in %.2f s (%.0f/s): %d won, %d at limit, %d sold out\n",
            ht_store(), CLAIMS, el, CLAIMS / el, won, limit, sold_out);
    assert_int_equal(errors, 0);
    assert_int_equal(won, QUANTITY);
    assert_int_equal(won + limit + sold_out, CLAIMS);
    assert_int_equal(given(&s, t), QUANTITY);
    long long held = 0;
    for (int i = 0; i < CUSTOMERS; i++) {
        int n = atomic_load(&won_by[i]);
        assert_true(n <= PER_CUST);
        assert_int_equal(coupons_of(&s, ids[i]), n);
        held += n;
    }
    assert_int_equal(held, QUANTITY);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_templates),   cmocka_unit_test(test_issue_redeem_restore),
        cmocka_unit_test(test_claim_rules), cmocka_unit_test(test_report),
        cmocka_unit_test(test_claim_race),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
