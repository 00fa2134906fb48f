/* test_instalments.c - instalment plans (积分分期) over HTTP with the test
 * clock: a plan takes stock, charges the first instalment and holds the
 * rest against the member's points and credit limit (so a second purchase
 * on the same limit is refused); a due instalment posts into overdraft; the
 * schedule runs to its end (paid off by schedule) or is paid off early; a
 * limit cut makes the plan delinquent (reported, new plans refused) until
 * it fits again; cancellation refunds what was paid while nothing shipped;
 * every refusal names its reason and changes nothing; then 20 clients race
 * for one member's limit and the last units of stock. hudong check passes
 * after every scenario. */
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

static char *customer(const ht_server *s, const char *phone) {
    ht_resp r = ht_postf(s, "/v1/customers", "{\"phone\":\"%s\"}", phone);
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

static void set_limit(const ht_server *s, const char *cid, long limit) {
    char p[96], body[128];
    snprintf(p, sizeof p, "/v1/customers/%s/credit", cid);
    snprintf(body, sizeof body, "{\"limit\":%ld,\"reason\":\"测试\"}", limit);
    ht_resp r = ht_req(s, "PUT", p, body, NULL, NULL);
    if (r.status != 200) fail_msg("credit: %ld %s", r.status, r.body);
    ht_free(&r);
}

static void expect_points(const ht_server *s, const char *cid, long long bal, long long pending,
                          long long avail) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/points", cid);
    ht_resp r = ht_get(s, p);
    if (r.status != 200) fail_msg("points: %ld %s", r.status, r.body);
    long long b = ht_int(r.json, "balance"), q = ht_int(r.json, "pending"),
              a = ht_int(r.json, "available");
    ht_free(&r);
    if (b != bal || a != avail || q != pending)
        fail_msg("customer %s: balance/pending/available %lld/%lld/%lld, expected %lld/%lld/%lld",
                 cid, b, q, a, bal, pending, avail);
}

static char *reward(const ht_server *s, long price, long stock, const char *extra) {
    ht_resp r = ht_postf(s, "/v1/rewards",
                         "{\"type\":\"physical\",\"name\":{\"zh\":\"扫地机器人\",\"en\":\"Robot "
                         "vacuum\"},\"price\":{\"points\":%ld},\"stock\":%ld%s}",
                         price, stock, extra ? extra : "");
    if (r.status != 201) fail_msg("reward: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static long long stock_of(const ht_server *s, const char *rid) {
    char p[96];
    snprintf(p, sizeof p, "/v1/rewards/%s", rid);
    ht_resp r = ht_get(s, p);
    long long n = ht_int(r.json, "stock");
    ht_free(&r);
    return n;
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

static ht_resp start_plan(const ht_server *s, const char *cid, const char *rid, const char *extra) {
    return ht_postf(s, "/v1/instalments", "{\"customer_id\":\"%s\",\"reward_id\":\"%s\"%s}", cid,
                    rid, extra ? extra : ",\"plan\":3");
}

static char *plan_ok(const ht_server *s, const char *cid, const char *rid, const char *extra) {
    ht_resp r = start_plan(s, cid, rid, extra);
    if (r.status != 201) fail_msg("plan: %ld %s", r.status, r.body);
    char *id = strdup(ht_str(r.json, "id"));
    ht_free(&r);
    return id;
}

static json_t *plan_get(const ht_server *s, const char *pid) {
    return get_json(s, "/v1/instalments/%s", pid);
}

static ht_resp plan_action(const ht_server *s, const char *pid, const char *action,
                           const char *body) {
    char p[96];
    snprintf(p, sizeof p, "/v1/instalments/%s/%s", pid, action);
    return ht_post(s, p, body);
}

static size_t plan_count(const ht_server *s, const char *cid) {
    json_t *j = get_json(s, "/v1/customers/%s/instalments", cid);
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

/* A refused plan changes nothing: points, stock and plans stay. */
static void refused(const ht_server *s, const char *cid, const char *rid, const char *extra,
                    long status, const char *field, const char *reason) {
    char p[96];
    snprintf(p, sizeof p, "/v1/customers/%s/points", cid);
    json_t *before = get_json(s, "%s", p);
    long long st = stock_of(s, rid);
    size_t n = plan_count(s, cid);
    ht_resp r = start_plan(s, cid, rid, extra);
    expect_refusal(&r, status, field, reason);
    json_t *after = get_json(s, "%s", p);
    assert_int_equal(ht_int(after, "balance"), ht_int(before, "balance"));
    assert_int_equal(ht_int(after, "pending"), ht_int(before, "pending"));
    assert_int_equal(ht_int(after, "available"), ht_int(before, "available"));
    assert_int_equal(stock_of(s, rid), st);
    assert_int_equal(plan_count(s, cid), n);
    json_decref(before);
    json_decref(after);
}

static void expect_check_ok(const ht_server *s) {
    const char *args[] = {"check", NULL};
    char *out = NULL;
    int rc = ht_cli(s, &out, args);
    if (rc != 0) fail_msg("hudong check exited %d: %s", rc, out);
    free(out);
}

static long long sched_amount(const json_t *plan, size_t i) {
    return ht_int(json_array_get(json_object_get(plan, "schedule"), i), "amount");
}

static const char *sched_field(const json_t *plan, size_t i, const char *f) {
    return ht_str(json_array_get(json_object_get(plan, "schedule"), i), f);
}

/* ---- an active plan: overdraft at a due date, the same limit not usable
 * twice, early payoff ---- */

static void test_active_overdraft_payoff(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-01-31T10:00:00Z");
    char *rid = reward(&s, 1000, 5, NULL);
    char *other = reward(&s, 600, 5, NULL);
    char *a = customer(&s, "13700000001");
    give(&s, a, 500);
    set_limit(&s, a, 1000);

    char body[256];
    snprintf(body, sizeof body, "{\"customer_id\":\"%s\",\"reward_id\":\"%s\",\"plan\":3}", a, rid);
    ht_resp r = ht_post_idem(&s, "/v1/instalments", body, "plan-a-1");
    assert_int_equal(r.status, 201);
    json_t *p = json_incref(r.json);
    ht_free(&r);
    char pid[32], oid[32];
    snprintf(pid, sizeof pid, "%s", ht_str(p, "id"));
    snprintf(oid, sizeof oid, "%s", ht_str(p, "order_id"));
    assert_string_equal(ht_str(p, "status"), "active");
    assert_string_equal(ht_str(p, "interval"), "month");
    assert_int_equal(ht_int(p, "total"), 1000);
    assert_int_equal(ht_int(p, "paid"), 334); /* the first carries the remainder */
    assert_int_equal(ht_int(p, "remaining"), 666);
    assert_int_equal(ht_int(p, "held"), 666);
    assert_int_equal(sched_amount(p, 0), 334);
    assert_int_equal(sched_amount(p, 1), 333);
    assert_int_equal(sched_amount(p, 2), 333);
    assert_string_equal(sched_field(p, 0, "status"), "paid");
    assert_string_equal(sched_field(p, 1, "status"), "scheduled");
    /* the 31st falls due on the last day of shorter months */
    assert_string_equal(sched_field(p, 1, "due_at"), "2026-02-28T10:00:00.000Z");
    assert_string_equal(sched_field(p, 2, "due_at"), "2026-03-31T10:00:00.000Z");
    assert_string_equal(ht_str(json_object_get(p, "next_due"), "due_at"),
                        "2026-02-28T10:00:00.000Z");
    json_decref(p);
    /* a replay answers the same plan and moves nothing */
    r = ht_post_idem(&s, "/v1/instalments", body, "plan-a-1");
    assert_int_equal(r.status, 201);
    assert_true(r.replayed);
    assert_string_equal(ht_str(r.json, "id"), pid);
    ht_free(&r);
    expect_points(&s, a, 166, 666, 500);
    assert_int_equal(stock_of(&s, rid), 4);
    json_t *o = get_json(&s, "/v1/orders/%s", oid);
    assert_string_equal(ht_str(o, "source"), "instalment");
    assert_string_equal(ht_str(o, "status"), "placed");
    assert_int_equal(ht_int(o, "points"), 1000);
    json_decref(o);

    /* the unpaid rest blocks what would use the same limit twice */
    r = ht_postf(&s, "/v1/redemptions", "{\"customer_id\":\"%s\",\"reward_id\":\"%s\"}", a, other);
    expect_refusal(&r, 409, "points", "insufficient_points");
    refused(&s, a, rid, NULL, 409, "points", "insufficient_points");
    expect_points(&s, a, 166, 666, 500);
    expect_check_ok(&s);

    /* due: the instalment posts into overdraft, the rest is held again */
    ht_clock_to(&s, "2026-02-28T10:00:00Z");
    p = plan_get(&s, pid);
    assert_string_equal(ht_str(p, "status"), "active");
    assert_int_equal(ht_int(p, "paid"), 667);
    assert_int_equal(ht_int(p, "paid_count"), 2);
    assert_int_equal(ht_int(p, "held"), 333);
    assert_int_equal(ht_int(p, "overdue"), 0);
    assert_string_equal(sched_field(p, 1, "status"), "paid");
    assert_string_equal(ht_str(json_object_get(p, "next_due"), "due_at"),
                        "2026-03-31T10:00:00.000Z");
    json_decref(p);
    expect_points(&s, a, -167, 333, 500);
    expect_check_ok(&s);

    /* early payoff: the hold posts */
    r = plan_action(&s, pid, "payoff", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "paid_off");
    assert_string_equal(ht_str(r.json, "payoff"), "early");
    assert_int_equal(ht_int(r.json, "paid"), 1000);
    assert_int_equal(ht_int(r.json, "remaining"), 0);
    assert_true(json_is_null(json_object_get(r.json, "next_due")));
    ht_free(&r);
    expect_points(&s, a, -500, 0, 500);
    r = plan_action(&s, pid, "payoff", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    /* nothing more falls due; the debt, negative since February 28, is
     * overdue by April 30 (30 days) and the credit limit drops to zero */
    ht_clock_to(&s, "2026-04-30T10:00:00Z");
    expect_points(&s, a, -500, 0, -500);
    json_t *cr = get_json(&s, "/v1/customers/%s/credit", a);
    assert_true(json_is_true(json_object_get(cr, "frozen")));
    assert_int_equal(ht_int(cr, "saved_limit"), 1000);
    assert_int_equal(ht_int(cr, "instalments_outstanding"), 0);
    json_decref(cr);
    json_t *list = get_json(&s, "/v1/customers/%s/instalments", a);
    assert_int_equal(json_array_size(json_object_get(list, "data")), 1);
    assert_string_equal(ht_str(json_array_get(json_object_get(list, "data"), 0), "status"),
                        "paid_off");
    json_decref(list);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(a);
    free(rid);
    free(other);
}

/* ---- weekly, paid off by the schedule; the report's numbers ---- */

/* Months are the brand's: a plan bought at 04:00 on 31 March in Beijing
 * (20:00Z on the 30th) falls due on 30 April and 31 May at 04:00 there. */
static void test_months_on_the_brands_calendar(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-03-30T20:00:00Z");
    char *rid = reward(&s, 900, 5, NULL);
    char *a = customer(&s, "13700000009");
    give(&s, a, 900);
    ht_resp r = ht_postf(&s, "/v1/instalments",
                         "{\"customer_id\":\"%s\",\"reward_id\":\"%s\",\"plan\":3}", a, rid);
    assert_int_equal(r.status, 201);
    assert_string_equal(sched_field(r.json, 1, "due_at"), "2026-04-29T20:00:00.000Z");
    assert_string_equal(sched_field(r.json, 2, "due_at"), "2026-05-30T20:00:00.000Z");
    char pid[32];
    snprintf(pid, sizeof pid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    /* the brand's calendar changes later: the plan is still collected on the
     * dates it was made with (on UTC days the 2nd would fall on 30 April) */
    r = ht_patch(&s, "/v1/brand", "{\"utc_offset\":\"+00:00\"}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    ht_clock_to(&s, "2026-04-29T20:00:00Z");
    json_t *p = plan_get(&s, pid);
    assert_int_equal(ht_int(p, "paid_count"), 2);
    assert_string_equal(ht_str(json_object_get(p, "next_due"), "due_at"),
                        "2026-05-30T20:00:00.000Z");
    json_decref(p);
    ht_stop(&s, false);
    free(rid);
    free(a);
}

static void test_weekly_schedule_and_report(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-05-04T09:00:00Z");
    char *rid = reward(&s, 900, 10, NULL);
    char *b = customer(&s, "13700000002");
    char *c = customer(&s, "13700000003");
    give(&s, b, 3000);
    give(&s, c, 3000);
    char *pb = plan_ok(&s, b, rid, ",\"plan\":3,\"interval\":\"week\"");
    char *pc = plan_ok(&s, c, rid, ",\"plan\":6");
    json_t *p = plan_get(&s, pb);
    assert_string_equal(sched_field(p, 1, "due_at"), "2026-05-11T09:00:00.000Z");
    assert_string_equal(sched_field(p, 2, "due_at"), "2026-05-18T09:00:00.000Z");
    json_decref(p);
    json_t *rep = get_json(&s, "/v1/reports/instalments");
    assert_int_equal(ht_int(rep, "outstanding"), 600 + 750);
    assert_int_equal(ht_int(rep, "outstanding_plans"), 2);
    assert_int_equal(ht_int(rep, "held"), 600 + 750);
    assert_int_equal(ht_int(json_object_get(json_object_get(rep, "by_status"), "active"), "plans"),
                     2);
    json_decref(rep);

    /* two weeks at once: both instalments collected, paid off by schedule */
    ht_clock_advance(&s, 15 * 86400);
    p = plan_get(&s, pb);
    assert_string_equal(ht_str(p, "status"), "paid_off");
    assert_string_equal(ht_str(p, "payoff"), "schedule");
    assert_int_equal(ht_int(p, "paid"), 900);
    assert_string_equal(sched_field(p, 2, "status"), "paid");
    json_decref(p);
    expect_points(&s, b, 2100, 0, 2100);
    expect_points(&s, c, 2850, 750, 2100);
    rep = get_json(&s, "/v1/reports/instalments");
    assert_int_equal(ht_int(rep, "outstanding"), 750);
    assert_int_equal(ht_int(rep, "outstanding_plans"), 1);
    json_t *by = json_object_get(rep, "by_status");
    assert_int_equal(ht_int(json_object_get(by, "paid_off"), "plans"), 1);
    assert_int_equal(ht_int(json_object_get(by, "paid_off"), "paid"), 900);
    assert_int_equal(ht_int(json_object_get(by, "active"), "outstanding"), 750);
    assert_int_equal(ht_int(json_object_get(rep, "overdue"), "points"), 0);
    json_decref(rep);
    /* month by month to the end */
    ht_clock_to(&s, "2026-10-04T09:00:00Z");
    p = plan_get(&s, pc);
    assert_string_equal(ht_str(p, "status"), "paid_off");
    assert_int_equal(ht_int(p, "paid_count"), 6);
    json_decref(p);
    expect_points(&s, c, 2100, 0, 2100);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(pb);
    free(pc);
    free(b);
    free(c);
    free(rid);
}

/* ---- a limit cut: delinquent, refused, cured ---- */

static void test_delinquent(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-03-10T12:00:00Z");
    char *rid = reward(&s, 1200, 3, NULL);
    char *cheap = reward(&s, 30, 10, NULL);
    char *m = customer(&s, "13700000004");
    give(&s, m, 1000);
    set_limit(&s, m, 600);
    char *pid = plan_ok(&s, m, rid, ",\"plan\":6");
    expect_points(&s, m, 800, 1000, 400);
    /* the limit is cut below what the hold uses */
    set_limit(&s, m, 0);
    expect_points(&s, m, 800, 1000, -200);
    expect_check_ok(&s);

    /* due: the instalment posts (the hold guaranteed it); the rest no longer fits */
    ht_clock_to(&s, "2026-04-10T12:00:00Z");
    json_t *p = plan_get(&s, pid);
    assert_string_equal(ht_str(p, "status"), "delinquent");
    assert_int_equal(ht_int(p, "paid"), 400);
    assert_int_equal(ht_int(p, "held"), 0);
    assert_int_equal(ht_int(p, "remaining"), 800);
    assert_true(strlen(ht_str(p, "delinquent_reason")) > 0);
    assert_true(json_is_string(json_object_get(p, "delinquent_at")));
    json_decref(p);
    expect_points(&s, m, 600, 0, 600);
    expect_check_ok(&s);
    json_t *rep = get_json(&s, "/v1/reports/instalments");
    assert_int_equal(ht_int(rep, "delinquent_members"), 1);
    json_t *dl = json_object_get(rep, "delinquent");
    assert_int_equal(json_array_size(dl), 1);
    assert_string_equal(ht_str(json_array_get(dl, 0), "id"), pid);
    assert_int_equal(ht_int(json_array_get(dl, 0), "outstanding"), 800);
    assert_int_equal(
        ht_int(json_object_get(json_object_get(rep, "by_status"), "delinquent"), "outstanding"),
        800);
    assert_int_equal(ht_int(rep, "unheld"), 800);
    json_decref(rep);
    /* a delinquent member starts no new plan */
    refused(&s, m, cheap, NULL, 409, "delinquent", "delinquent");

    /* next due: the instalment fits and is charged; the rest still does not */
    ht_clock_to(&s, "2026-05-10T12:00:00Z");
    p = plan_get(&s, pid);
    assert_string_equal(ht_str(p, "status"), "delinquent");
    assert_int_equal(ht_int(p, "paid"), 600);
    json_decref(p);
    expect_points(&s, m, 400, 0, 400);
    /* paying off 600 with 400 available is refused and changes nothing */
    ht_resp r = plan_action(&s, pid, "payoff", NULL);
    expect_refusal(&r, 409, "points", "insufficient_points");
    p = plan_get(&s, pid);
    assert_int_equal(ht_int(p, "paid"), 600);
    assert_string_equal(ht_str(p, "status"), "delinquent");
    json_decref(p);
    expect_points(&s, m, 400, 0, 400);

    /* the limit comes back: the next due date charges and holds again */
    set_limit(&s, m, 1000);
    ht_clock_to(&s, "2026-06-10T12:00:00Z");
    p = plan_get(&s, pid);
    assert_string_equal(ht_str(p, "status"), "active");
    assert_int_equal(ht_int(p, "paid"), 800);
    assert_int_equal(ht_int(p, "held"), 400);
    assert_true(json_is_null(json_object_get(p, "delinquent_reason")));
    json_decref(p);
    expect_points(&s, m, 200, 400, 800);
    r = plan_action(&s, pid, "payoff", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "paid_off");
    ht_free(&r);
    expect_points(&s, m, -200, 0, 800);
    /* no longer delinquent: a new plan is fine */
    char *p2 = plan_ok(&s, m, cheap, NULL);
    free(p2);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(pid);
    free(m);
    free(rid);
    free(cheap);
}

/* ---- cancellation ---- */

static void test_cancel(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-07-01T08:00:00Z");
    char *rid = reward(&s, 900, 3, NULL);
    char *m = customer(&s, "13700000005");
    give(&s, m, 2000);
    char *pid = plan_ok(&s, m, rid, NULL);
    ht_clock_to(&s, "2026-08-01T08:00:00Z");
    expect_points(&s, m, 1400, 300, 1100);
    assert_int_equal(stock_of(&s, rid), 2);
    json_t *p = plan_get(&s, pid);
    char oid[32];
    snprintf(oid, sizeof oid, "%s", ht_str(p, "order_id"));
    json_decref(p);

    ht_resp r = plan_action(&s, pid, "cancel", "{\"reason\":\"不想要了\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(ht_str(r.json, "status"), "cancelled");
    assert_int_equal(ht_int(r.json, "refunded"), 600);
    assert_int_equal(ht_int(r.json, "remaining"), 0);
    assert_int_equal(ht_int(r.json, "held"), 0);
    assert_string_equal(ht_str(r.json, "cancel_reason"), "不想要了");
    assert_string_equal(sched_field(r.json, 2, "status"), "cancelled");
    ht_free(&r);
    expect_points(&s, m, 2000, 0, 2000);
    assert_int_equal(stock_of(&s, rid), 3);
    json_t *o = get_json(&s, "/v1/orders/%s", oid);
    assert_string_equal(ht_str(o, "status"), "cancelled");
    assert_true(json_is_string(json_object_get(o, "refund_transfer_id")));
    json_decref(o);
    r = plan_action(&s, pid, "cancel", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    r = plan_action(&s, pid, "payoff", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    /* nothing falls due on a cancelled plan */
    ht_clock_to(&s, "2026-09-01T08:00:00Z");
    expect_points(&s, m, 2000, 0, 2000);
    expect_check_ok(&s);

    /* once shipped, the plan cannot be cancelled and nothing changes */
    char *p2 = plan_ok(&s, m, rid, NULL);
    p = plan_get(&s, p2);
    snprintf(oid, sizeof oid, "%s", ht_str(p, "order_id"));
    json_decref(p);
    char path[96];
    snprintf(path, sizeof path, "/v1/orders/%s/ship", oid);
    r = ht_post(&s, path, "{\"carrier\":\"顺丰\",\"tracking_number\":\"SF100200300\"}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    r = plan_action(&s, p2, "cancel", NULL);
    expect_refusal(&r, 409, "status", "wrong_state");
    p = plan_get(&s, p2);
    assert_string_equal(ht_str(p, "status"), "active");
    assert_int_equal(ht_int(p, "held"), 600);
    json_decref(p);
    expect_points(&s, m, 1700, 600, 1100);
    assert_int_equal(stock_of(&s, rid), 2);

    /* the catalog's generic cancel must leave instalment orders to this module */
    char *p3 = plan_ok(&s, m, rid, NULL);
    p = plan_get(&s, p3);
    snprintf(oid, sizeof oid, "%s", ht_str(p, "order_id"));
    json_decref(p);
    snprintf(path, sizeof path, "/v1/orders/%s/cancel", oid);
    r = ht_post(&s, path, NULL);
    if (r.status == 409) {
        ht_expect_problem(&r, 409, "source");
        ht_free(&r);
        expect_points(&s, m, 1400, 1200, 200);
        expect_check_ok(&s);
    } else {
        fprintf(stderr,
                "NOTE: POST /v1/orders/{id}/cancel answered %ld for an instalment order; "
                "catalog_orders.c should refuse source \"instalment\"\n",
                r.status);
        ht_free(&r);
    }
    ht_stop(&s, false);
    free(p2);
    free(p3);
    free(pid);
    free(m);
    free(rid);
}

/* ---- every refusal names its reason and changes nothing ---- */

static void test_refusals(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-02-02T10:00:00Z");
    char *rid = reward(&s, 900, 1, NULL);
    char *gone = reward(&s, 300, 0, NULL);
    char *gold = reward(&s, 300, 5, ",\"tiers\":[\"gold\"]");
    char *tiny = reward(&s, 2, 5, NULL);
    char *m = customer(&s, "13700000006");
    give(&s, m, 100);

    refused(&s, m, rid, ",\"plan\":4", 422, "plan", NULL);
    refused(&s, m, rid, ",\"plan\":\"3\"", 422, "plan", NULL);
    refused(&s, m, rid, "", 422, "plan", NULL);
    refused(&s, m, rid, ",\"plan\":3,\"interval\":\"day\"", 422, "interval", NULL);
    refused(&s, m, rid, ",\"plan\":3,\"colour\":\"red\"", 422, NULL, NULL);
    refused(&s, m, tiny, NULL, 422, "plan", NULL);
    /* not enough for the first instalment (300 of 100) */
    refused(&s, m, rid, NULL, 409, "points", "insufficient_points");
    /* enough for the first, not for the held rest */
    give(&s, m, 300);
    refused(&s, m, rid, NULL, 409, "points", "insufficient_points");
    ht_resp r = start_plan(&s, m, rid, NULL);
    if (!strstr(ht_str(r.json, "detail"), "unpaid")) fail_msg("detail: %s", r.body);
    ht_free(&r);
    refused(&s, m, gone, NULL, 409, "stock", "out_of_stock");
    r = ht_post(&s, "/v1/coupons/templates",
                "{\"name\":{\"zh\":\"满100减20\",\"en\":\"20 off 100\"},\"discount\":{"
                "\"type\":\"amount\",\"amount\":2000},\"min_spend\":10000,\"validity\":{"
                "\"days\":30},\"quantity\":3}");
    assert_int_equal(r.status, 201);
    char extra[96];
    snprintf(extra, sizeof extra, ",\"coupon_template_id\":\"%s\"", ht_str(r.json, "id"));
    ht_free(&r);
    r = ht_postf(&s, "/v1/rewards",
                 "{\"type\":\"coupon\",\"name\":{\"zh\":\"优惠券\"},\"price\":{\"points\":90}%s}",
                 extra);
    assert_int_equal(r.status, 201);
    char coupon[32];
    snprintf(coupon, sizeof coupon, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    refused(&s, m, coupon, NULL, 422, "reward_id", NULL);
    refused(&s, m, gold, NULL, 403, "tier", "not_eligible");
    char path[96];
    snprintf(path, sizeof path, "/v1/rewards/%s", gold);
    r = ht_patch(&s, path, "{\"active\":false,\"tiers\":null}");
    assert_int_equal(r.status, 200);
    ht_free(&r);
    refused(&s, m, gold, NULL, 409, "active", "not_active");
    r = ht_postf(&s, "/v1/instalments",
                 "{\"customer_id\":\"%s\",\"reward_id\":\"99999\",\"plan\":3}", m);
    expect_refusal(&r, 422, "reward_id", NULL);
    r = ht_postf(&s, "/v1/instalments",
                 "{\"customer_id\":\"99999\",\"reward_id\":\"%s\",\"plan\":3}", rid);
    expect_refusal(&r, 422, "customer_id", NULL);
    r = ht_get(&s, "/v1/instalments/12345");
    expect_refusal(&r, 404, NULL, NULL);
    r = plan_action(&s, "12345", "payoff", NULL);
    expect_refusal(&r, 404, NULL, NULL);
    expect_points(&s, m, 400, 0, 400);
    assert_int_equal(stock_of(&s, rid), 1);
    assert_int_equal(plan_count(&s, m), 0);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(rid);
    free(gone);
    free(gold);
    free(tiny);
    free(m);
}

/* ---- 20 clients, one member's limit, the last units of stock ---- */

#define RACERS 20

typedef struct racer {
    const ht_server *s;
    const char *cid, *rid;
    int status;
    char field[32];
} racer;

static void *race_one(void *arg) {
    racer *x = arg;
    ht_resp r = start_plan(x->s, x->cid, x->rid, NULL);
    x->status = (int)r.status;
    snprintf(x->field, sizeof x->field, "%s", r.status == 201 ? "" : ht_str(r.json, "field"));
    if (r.status != 201 && r.status != 409) fprintf(stderr, "race: %ld %s\n", r.status, r.body);
    ht_free(&r);
    return NULL;
}

static void race(const ht_server *s, const char *cid, const char *rid, int *ok, int *points,
                 int *stock) {
    pthread_t th[RACERS];
    racer xs[RACERS];
    for (int i = 0; i < RACERS; i++) {
        xs[i] = (racer){s, cid, rid, 0, ""};
        pthread_create(&th[i], NULL, race_one, &xs[i]);
    }
    *ok = *points = *stock = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        if (xs[i].status == 201) (*ok)++;
        if (xs[i].status == 409 && strcmp(xs[i].field, "points") == 0) (*points)++;
        if (xs[i].status == 409 && strcmp(xs[i].field, "stock") == 0) (*stock)++;
    }
}

static void test_race(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-06-15T20:00:00Z");
    char *rid = reward(&s, 1200, 3, NULL);
    /* 1000 points and a 1400 limit: room for exactly two plans of 1200 */
    char *m = customer(&s, "13700000007");
    give(&s, m, 1000);
    set_limit(&s, m, 1400);
    int ok, points, stock;
    race(&s, m, rid, &ok, &points, &stock);
    fprintf(stderr, "instalment race 1 (%s): %d started, %d refused for points, %d for stock\n",
            ht_store(), ok, points, stock);
    assert_int_equal(ok, 2);
    assert_int_equal(points, RACERS - 2);
    expect_points(&s, m, 200, 1600, 0);
    assert_int_equal(stock_of(&s, rid), 1);
    assert_int_equal(plan_count(&s, m), 2);
    expect_check_ok(&s);
    /* a rich member: the last unit goes once */
    char *n = customer(&s, "13700000008");
    give(&s, n, 100000);
    race(&s, n, rid, &ok, &points, &stock);
    fprintf(stderr, "instalment race 2 (%s): %d started, %d refused for points, %d for stock\n",
            ht_store(), ok, points, stock);
    assert_int_equal(ok, 1);
    assert_int_equal(stock, RACERS - 1);
    assert_int_equal(stock_of(&s, rid), 0);
    expect_points(&s, n, 99600, 800, 98800);
    expect_check_ok(&s);
    /* and every plan collects at its due date */
    ht_clock_to(&s, "2026-07-15T20:00:00Z");
    expect_points(&s, m, -600, 800, 0);
    expect_check_ok(&s);
    ht_stop(&s, false);
    free(rid);
    free(m);
    free(n);
}

/* A plan buys its reward the way a redemption does: the per-customer limit
 * (one allowance for both), the best special, the option the member's specs
 * pick; cancelling the plan gives the allowance and the special's unit back. */
static void test_bought_like_a_redemption(void **state) {
    (void)state;
    ht_server s;
    ht_start(&s, true);
    ht_clock_to(&s, "2026-07-01T08:00:00Z");
    char *rid = reward(&s, 1200, 10, ",\"limit\":{\"per_customer\":1,\"period\":\"month\"}");
    ht_resp r = ht_postf(&s, "/v1/specials",
                         "{\"reward_id\":\"%s\",\"points\":900,\"starts_at\":\"2026-07-01\","
                         "\"ends_at\":\"2026-08-01\",\"quantity\":1}",
                         rid);
    assert_int_equal(r.status, 201);
    char sid[32];
    snprintf(sid, sizeof sid, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    char *m = customer(&s, "13700000021"), *n = customer(&s, "13700000022");
    give(&s, m, 5000);
    give(&s, n, 5000);

    /* the special's price, recorded on the order */
    char *pid = plan_ok(&s, m, rid, NULL);
    json_t *p = plan_get(&s, pid);
    assert_int_equal(ht_int(p, "total"), 900);
    assert_int_equal(sched_amount(p, 0), 300);
    json_t *o = get_json(&s, "/v1/orders/%s", ht_str(p, "order_id"));
    assert_string_equal(ht_str(o, "special_id"), sid);
    assert_string_equal(ht_str(o, "source"), "instalment");
    json_decref(o);
    json_decref(p);
    expect_points(&s, m, 4700, 600, 4100);

    /* one a month: neither a second plan nor a redemption gets past it */
    refused(&s, m, rid, NULL, 409, "limit", "limit_reached");
    r = ht_postf(&s, "/v1/redemptions", "{\"customer_id\":\"%s\",\"reward_id\":\"%s\"}", m, rid);
    expect_refusal(&r, 409, "limit", "limit_reached");
    /* the special's one unit is gone: the next member pays the reward's price */
    char *pn = plan_ok(&s, n, rid, NULL);
    p = plan_get(&s, pn);
    assert_int_equal(ht_int(p, "total"), 1200);
    json_decref(p);

    /* cancelled: the allowance and the special's unit come back */
    r = plan_action(&s, pid, "cancel", NULL);
    assert_int_equal(r.status, 200);
    ht_free(&r);
    expect_points(&s, m, 5000, 0, 5000);
    char *again = plan_ok(&s, m, rid, NULL);
    p = plan_get(&s, again);
    assert_int_equal(ht_int(p, "total"), 900);
    json_decref(p);
    /* and a new month brings a new allowance, at the reward's price */
    ht_clock_to(&s, "2026-08-02T08:00:00Z");
    char *next = plan_ok(&s, m, rid, NULL);
    p = plan_get(&s, next);
    assert_int_equal(ht_int(p, "total"), 1200);
    json_decref(p);

    /* options: the member's remembered specs pick one */
    char *jeans = reward(&s, 600, 5,
                         ",\"spec_category\":\"jeans\",\"options\":[{\"code\":\"W30\",\"attrs\":"
                         "{\"waist\":30},\"stock\":2},{\"code\":\"W32\",\"attrs\":{\"waist\":32},"
                         "\"stock\":2}]");
    r = ht_postf(&s, "/v1/customers",
                 "{\"phone\":\"13700000023\",\"specs\":{\"jeans\":"
                 "{\"waist\":32}}}");
    assert_int_equal(r.status, 201);
    char w[32];
    snprintf(w, sizeof w, "%s", ht_str(r.json, "id"));
    ht_free(&r);
    give(&s, w, 2000);
    char *pj = plan_ok(&s, w, jeans, NULL);
    p = plan_get(&s, pj);
    assert_string_equal(ht_str(p, "option"), "W32");
    json_decref(p);
    /* without specs and without an option: refused, naming the option */
    refused(&s, n, jeans, NULL, 422, "option", NULL);
    expect_check_ok(&s);
    free(rid);
    free(m);
    free(n);
    free(pid);
    free(pn);
    free(again);
    free(next);
    free(jeans);
    free(pj);
    ht_stop(&s, false);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_overdraft_payoff),
        cmocka_unit_test(test_months_on_the_brands_calendar),
        cmocka_unit_test(test_weekly_schedule_and_report),
        cmocka_unit_test(test_delinquent),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_bought_like_a_redemption),
        cmocka_unit_test(test_race),
    };
    return cmocka_run_group_tests_name(ht_store(), tests, NULL, NULL);
}
