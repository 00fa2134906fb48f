/* instalments.c - instalment plans: the first instalment charged and the
 * rest held in one transaction with the stock and the order; the job that
 * swaps the hold for a posted instalment and a smaller hold at each due
 * date; early payoff, cancellation, the member's plans and the report.
 *
 * The plan row is the lock: every change starts with a conditional UPDATE of
 * it (status and due date in the WHERE), so the job on two nodes, a payoff
 * and a cancel racing on one plan serialise and only one of them acts. */
#include "domain/instalments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auctions.h"
#include "domain/catalog.h"
#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"

#define DAY_MS 86400000LL

typedef struct plan {
    int64_t id, customer_id, reward_id, order_id;
    bool has_option;
    char option[HD_OPTION_CODE_MAX * 4 + 1];
    int64_t total, paid, held, hold_id, next_due_at; /* hold_id, next_due_at: 0 = none */
    int n, paid_count;
    char period[8], status[16], payoff[16];
    int64_t delinquent_at, paid_off_at, cancelled_at, refund_id, created_at, updated_at;
    char delinquent_reason[HD_ERR_MSG_MAX + 64];
    char cancel_reason[HD_INSTALMENT_REASON_MAX * 4 + 1];
} plan;

#define PLAN_COLS                                                                                  \
    "id, customer_id, reward_id, option_code, order_id, total, instalments, period, paid, "        \
    "paid_count, held, hold_transfer_id, next_due_at, status, payoff, delinquent_at, "             \
    "delinquent_reason, paid_off_at, cancelled_at, cancel_reason, refund_transfer_id, "            \
    "created_at, updated_at"

static int64_t opt_int(hd_rows *r, int col) {
    return hd_rows_isnull(r, col) ? 0 : hd_rows_int(r, col);
}

static void plan_row(hd_rows *r, plan *p) {
    memset(p, 0, sizeof *p);
    p->id = hd_rows_int(r, 0);
    p->customer_id = hd_rows_int(r, 1);
    p->reward_id = hd_rows_int(r, 2);
    p->has_option = !hd_rows_isnull(r, 3);
    snprintf(p->option, sizeof p->option, "%s", hd_rows_text(r, 3, NULL));
    p->order_id = hd_rows_int(r, 4);
    p->total = hd_rows_int(r, 5);
    p->n = (int)hd_rows_int(r, 6);
    snprintf(p->period, sizeof p->period, "%s", hd_rows_text(r, 7, NULL));
    p->paid = hd_rows_int(r, 8);
    p->paid_count = (int)hd_rows_int(r, 9);
    p->held = hd_rows_int(r, 10);
    p->hold_id = opt_int(r, 11);
    p->next_due_at = opt_int(r, 12);
    snprintf(p->status, sizeof p->status, "%s", hd_rows_text(r, 13, NULL));
    snprintf(p->payoff, sizeof p->payoff, "%s", hd_rows_text(r, 14, NULL));
    p->delinquent_at = opt_int(r, 15);
    snprintf(p->delinquent_reason, sizeof p->delinquent_reason, "%s", hd_rows_text(r, 16, NULL));
    p->paid_off_at = opt_int(r, 17);
    p->cancelled_at = opt_int(r, 18);
    snprintf(p->cancel_reason, sizeof p->cancel_reason, "%s", hd_rows_text(r, 19, NULL));
    p->refund_id = opt_int(r, 20);
    p->created_at = hd_rows_int(r, 21);
    p->updated_at = hd_rows_int(r, 22);
}

static hd_rc plan_load(hd_conn *c, int64_t id, plan *p, hd_err *err) {
    hd_val v = hd_vint(id);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT " PLAN_COLS " FROM instalment_plans WHERE id = ?", &v, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) plan_row(r, p);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return hd_err_set(err, HD_ENOTFOUND, "id", "no instalment plan %lld", (long long)id);
    return HD_OK;
}

/* ---- the schedule ---- */

/* Instalment k (1-based) of total in n: the first total % n carry one more. */
static int64_t amount_of(int64_t total, int n, int k) {
    return total / n + (k <= total % n ? 1 : 0);
}

/* What instalments 1..k add up to. */
static int64_t paid_through(int64_t total, int n, int k) {
    int64_t extra = total % n;
    return total / n * k + (k < extra ? k : extra);
}

/* When instalment k falls due for a plan started at start: the same time of
 * day, k-1 weeks or calendar months later on the brand's calendar (off, its
 * UTC offset in minutes; the 31st becomes the last day of a shorter month). */
static int64_t due_at(int off, int64_t start, const char *period, int k) {
    if (strcmp(period, "week") == 0) return start + (int64_t)(k - 1) * 7 * DAY_MS;
    int64_t day = hd_cal_day(off, start), tod = start - hd_cal_day_ms(off, day);
    int y, m, d;
    hd_civil_from_days(day, &y, &m, &d);
    int64_t first = hd_month_first(day, k - 1), dim = hd_month_first(day, k) - first;
    if (d > dim) d = (int)dim;
    return hd_cal_day_ms(off, first + d - 1) + tod;
}

/* ---- JSON ---- */

static hd_rc plan_json(hd_conn *c, const plan *p, int64_t now, json_t **out, hd_err *err) {
    hd_val v = hd_vint(p->id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT n, amount, due_at, paid_at FROM instalment_schedule WHERE plan_id "
                        "= ? ORDER BY n",
                        &v, 1, &r, err);
    if (rc) return rc;
    bool open = strcmp(p->status, "active") == 0 || strcmp(p->status, "delinquent") == 0;
    bool delinquent = strcmp(p->status, "delinquent") == 0;
    json_t *sched = json_array(), *next = json_null();
    int64_t overdue = 0;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t n = hd_rows_int(r, 0), amount = hd_rows_int(r, 1), due = hd_rows_int(r, 2);
        bool paid = !hd_rows_isnull(r, 3);
        const char *st = "scheduled";
        if (paid)
            st = "paid";
        else if (!open)
            st = "cancelled";
        else if (due <= now)
            st = delinquent ? "overdue" : "due";
        if (open && !paid && due <= now) overdue += amount;
        json_t *e = json_object();
        json_object_set_new(e, "n", json_integer(n));
        json_object_set_new(e, "amount", json_integer(amount));
        hd_json_set_time(e, "due_at", due, true);
        json_object_set_new(e, "status", json_string(st));
        hd_json_set_time(e, "paid_at", hd_rows_int(r, 3), paid);
        json_array_append_new(sched, e);
        if (open && !paid && json_is_null(next)) {
            next = json_object();
            json_object_set_new(next, "n", json_integer(n));
            json_object_set_new(next, "amount", json_integer(amount));
            hd_json_set_time(next, "due_at", due, true);
        }
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(sched);
        json_decref(next);
        return err->rc;
    }
    bool cancelled = strcmp(p->status, "cancelled") == 0;
    json_t *o = json_object();
    hd_json_set_id(o, "id", p->id);
    hd_json_set_id(o, "customer_id", p->customer_id);
    hd_json_set_id(o, "reward_id", p->reward_id);
    json_object_set_new(o, "option", p->has_option ? json_string(p->option) : json_null());
    hd_json_set_id(o, "order_id", p->order_id);
    json_object_set_new(o, "plan", json_integer(p->n));
    json_object_set_new(o, "interval", json_string(p->period));
    json_object_set_new(o, "total", json_integer(p->total));
    json_object_set_new(o, "paid", json_integer(p->paid));
    json_object_set_new(o, "remaining", json_integer(cancelled ? 0 : p->total - p->paid));
    json_object_set_new(o, "held", json_integer(p->held));
    json_object_set_new(o, "overdue", json_integer(overdue));
    json_object_set_new(o, "paid_count", json_integer(p->paid_count));
    json_object_set_new(o, "status", json_string(p->status));
    json_object_set_new(o, "payoff", p->payoff[0] ? json_string(p->payoff) : json_null());
    json_object_set_new(o, "next_due", next);
    json_object_set_new(o, "schedule", sched);
    if (p->hold_id)
        hd_json_set_id(o, "hold_transfer_id", p->hold_id);
    else
        json_object_set_new(o, "hold_transfer_id", json_null());
    json_object_set_new(o, "refunded", json_integer(cancelled ? p->paid : 0));
    hd_json_set_time(o, "delinquent_at", p->delinquent_at, p->delinquent_at != 0);
    json_object_set_new(o, "delinquent_reason",
                        p->delinquent_reason[0] ? json_string(p->delinquent_reason) : json_null());
    hd_json_set_time(o, "paid_off_at", p->paid_off_at, p->paid_off_at != 0);
    hd_json_set_time(o, "cancelled_at", p->cancelled_at, p->cancelled_at != 0);
    json_object_set_new(o, "cancel_reason",
                        p->cancel_reason[0] ? json_string(p->cancel_reason) : json_null());
    hd_json_set_time(o, "created_at", p->created_at, true);
    hd_json_set_time(o, "updated_at", p->updated_at, true);
    *out = o;
    return HD_OK;
}

static hd_rc load_json(hd_conn *c, hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    plan p;
    hd_rc rc = plan_load(c, id, &p, err);
    if (rc) return rc;
    return plan_json(c, &p, hd_now(d), out, err);
}

/* ---- ledger moves ---- */

/* customer → system:redemption for plan p, reference "instalment:<plan>". */
static hd_rc charge(hd_conn *c, hd_domain *d, const plan *p, const char *key, int64_t amount,
                    bool pending, bool force, int64_t *id, hd_err *err) {
    char acct[48], ref[48];
    snprintf(acct, sizeof acct, "customer:%lld", (long long)p->customer_id);
    snprintf(ref, sizeof ref, "instalment:%lld", (long long)p->id);
    hd_transfer_req t = {.key = key,
                         .debit = acct,
                         .credit = "system:redemption",
                         .amount = amount,
                         .code = "instalment",
                         .reference = ref,
                         .pending = pending,
                         .force = force};
    hd_transfer_res res;
    hd_rc rc = hd_ledger_transfer_in(c, d, &t, &res, err);
    if (!rc) *id = res.id;
    return rc;
}

static void key_of(char *out, size_t cap, int64_t plan_id, int k, const char *what) {
    if (k > 0)
        snprintf(out, cap, "inst:%lld:%d:%s", (long long)plan_id, k, what);
    else
        snprintf(out, cap, "inst:%lld:%s", (long long)plan_id, what);
}

/* Marks instalments up to k paid by transfer_id at now. */
static hd_rc mark_paid(hd_conn *c, int64_t plan_id, int k, int64_t transfer_id, int64_t now,
                       hd_err *err) {
    hd_val p[4] = {hd_vint(now), hd_vint(transfer_id), hd_vint(plan_id), hd_vint(k)};
    return hd_exec(c,
                   "UPDATE instalment_schedule SET paid_at = ?, transfer_id = ? WHERE plan_id = ? "
                   "AND n <= ? AND paid_at IS NULL",
                   p, 4, NULL, err);
}

/* Writes the plan's moving parts back. */
static hd_rc plan_save(hd_conn *c, const plan *p, int64_t now, hd_err *err) {
    hd_val v[14] = {hd_vint(p->paid),
                    hd_vint(p->paid_count),
                    hd_vint(p->held),
                    p->hold_id ? hd_vint(p->hold_id) : hd_vnull(),
                    p->next_due_at ? hd_vint(p->next_due_at) : hd_vnull(),
                    hd_vtext(p->status),
                    hd_vtext(p->payoff[0] ? p->payoff : NULL),
                    p->delinquent_at ? hd_vint(p->delinquent_at) : hd_vnull(),
                    hd_vtext(p->delinquent_reason[0] ? p->delinquent_reason : NULL),
                    p->paid_off_at ? hd_vint(p->paid_off_at) : hd_vnull(),
                    p->refund_id ? hd_vint(p->refund_id) : hd_vnull(),
                    hd_vtext(p->cancel_reason[0] ? p->cancel_reason : NULL),
                    hd_vint(now),
                    hd_vint(p->id)};
    return hd_exec(c,
                   "UPDATE instalment_plans SET paid = ?, paid_count = ?, held = ?, "
                   "hold_transfer_id = ?, next_due_at = ?, status = ?, payoff = ?, delinquent_at "
                   "= ?, delinquent_reason = ?, paid_off_at = ?, refund_transfer_id = ?, "
                   "cancel_reason = ?, updated_at = ? WHERE id = ?",
                   v, 14, NULL, err);
}

/* A refused transfer (HD_ESTATE) is an outcome here, not a failure: the
 * ledger undid it exactly, so the transaction goes on. */
static bool refused(hd_rc rc, hd_err *err, char *why, size_t cap) {
    if (rc != HD_ESTATE) return false;
    snprintf(why, cap, "%s", err->msg);
    hd_err_clear(err);
    return true;
}

/* ---- creating a plan ---- */

typedef struct create_ctx {
    hd_domain *d;
    int64_t customer_id, reward_id;
    const char *option;
    int n;
    const char *period;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    create_ctx *cc = vctx;
    hd_domain *d = cc->d;
    int64_t now = hd_now(d), cid;
    hd_rc rc = hd_spend_customer_in(c, cc->customer_id, &cid, err);
    if (rc) return rc;
    /* a member with a delinquent plan starts no new one */
    hd_val cv = hd_vint(cid);
    int64_t bad = 0;
    rc = hd_query_int(c,
                      "SELECT id FROM instalment_plans WHERE customer_id = ? AND status = "
                      "'delinquent' ORDER BY id LIMIT 1",
                      &cv, 1, &bad, err);
    if (rc == HD_OK)
        return hd_err_set(err, HD_ESTATE, "delinquent",
                          "customer %lld has a delinquent instalment plan %lld: pay it off "
                          "before starting another",
                          (long long)cid, (long long)bad);
    if (rc != HD_ENOTFOUND) return rc;
    hd_err_clear(err);
    hd_reward_info ri;
    rc = hd_reward_get_in(c, d, cc->reward_id, &ri, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_EINVAL, "reward_id", "no reward %lld", (long long)cc->reward_id);
    if (rc) return rc;
    if (!ri.active)
        return hd_err_set(err, HD_ESTATE, "active", "reward %lld is not on offer now",
                          (long long)ri.id);
    if (strcmp(ri.type, "coupon") == 0)
        return hd_err_set(err, HD_EINVAL, "reward_id",
                          "reward %lld is a coupon: coupons are redeemed whole, not in instalments",
                          (long long)ri.id);
    /* bought like a redemption: tier, option (or the member's specs), the
     * per-customer limit, the best special, stock */
    hd_reward_taken t;
    if ((rc = hd_reward_take_in(c, d, cid, ri.id, cc->option, 1, 0, &t, err))) return rc;
    if (t.unit_points < cc->n)
        return hd_err_set(err, HD_EINVAL, "plan",
                          "reward %lld costs %lld points: too few to pay in %d instalments",
                          (long long)ri.id, (long long)t.unit_points, cc->n);

    plan p = {0};
    p.id = hd_id_next(d->ids);
    p.customer_id = cid;
    p.reward_id = ri.id;
    p.has_option = t.option[0] != '\0';
    snprintf(p.option, sizeof p.option, "%s", t.option);
    p.total = t.unit_points;
    p.n = cc->n;
    snprintf(p.period, sizeof p.period, "%s", cc->period);
    snprintf(p.status, sizeof p.status, "active");
    p.created_at = p.updated_at = now;

    /* the first instalment now, the rest held against the member's limit */
    char key[96], why[HD_ERR_MSG_MAX];
    int64_t first = amount_of(p.total, p.n, 1), rest = p.total - first, first_id = 0;
    key_of(key, sizeof key, p.id, 1, "post");
    rc = charge(c, d, &p, key, first, false, false, &first_id, err);
    if (refused(rc, err, why, sizeof why))
        return hd_err_set(err, HD_ESTATE, "points", "the first instalment of %lld points: %s",
                          (long long)first, why);
    if (rc) return rc;
    key_of(key, sizeof key, p.id, 1, "hold");
    rc = charge(c, d, &p, key, rest, true, false, &p.hold_id, err);
    if (refused(rc, err, why, sizeof why))
        return hd_err_set(err, HD_ESTATE, "points",
                          "not enough available for the unpaid %lld points, which are held "
                          "against the member's points and credit limit: %s",
                          (long long)rest, why);
    if (rc) return rc;
    p.paid = first;
    p.paid_count = 1;
    p.held = rest;
    int off = hd_clock_utc_offset(d->clock); /* one calendar for the whole schedule */
    p.next_due_at = due_at(off, now, p.period, 2);

    char ref[48];
    snprintf(ref, sizeof ref, "instalment:%lld", (long long)p.id);
    hd_order_req q = {.customer_id = cid,
                      .reward_id = ri.id,
                      .option = p.has_option ? p.option : NULL,
                      .quantity = 1,
                      .points = p.total,
                      .cash = t.unit_cash,
                      .transfer_id = first_id,
                      .source = "instalment",
                      .source_ref = ref,
                      .special_id = t.special_id,
                      .usage_period = t.usage_period[0] ? t.usage_period : NULL};
    if ((rc = hd_order_create_in(c, d, &q, &p.order_id, err))) return rc;

    hd_val v[13] = {hd_vint(p.id),        hd_vint(cid),
                    hd_vint(p.reward_id), hd_vtext(p.has_option ? p.option : NULL),
                    hd_vint(p.order_id),  hd_vint(p.total),
                    hd_vint(p.n),         hd_vtext(p.period),
                    hd_vint(p.paid),      hd_vint(p.held),
                    hd_vint(p.hold_id),   hd_vint(p.next_due_at),
                    hd_vint(now)};
    if ((rc = hd_exec(c,
                      "INSERT INTO instalment_plans (id, customer_id, reward_id, option_code, "
                      "order_id, total, instalments, period, paid, paid_count, held, "
                      "hold_transfer_id, next_due_at, status, created_at, updated_at) VALUES (?1, "
                      "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 1, ?10, ?11, ?12, 'active', ?13, ?13)",
                      v, 13, NULL, err)))
        return rc;
    /* the schedule in one statement (at most 12 rows); the first is paid */
    char sql[1024];
    size_t len = (size_t)snprintf(sql, sizeof sql,
                                  "INSERT INTO instalment_schedule (plan_id, n, amount, due_at, "
                                  "paid_at, transfer_id) VALUES ");
    hd_val sv[12 * 6];
    int nv = 0;
    for (int k = 1; k <= p.n; k++) {
        len += (size_t)snprintf(sql + len, sizeof sql - len, "%s(?, ?, ?, ?, ?, ?)",
                                k > 1 ? ", " : "");
        sv[nv++] = hd_vint(p.id);
        sv[nv++] = hd_vint(k);
        sv[nv++] = hd_vint(amount_of(p.total, p.n, k));
        sv[nv++] = hd_vint(due_at(off, now, p.period, k));
        sv[nv++] = k == 1 ? hd_vint(now) : hd_vnull();
        sv[nv++] = k == 1 ? hd_vint(first_id) : hd_vnull();
    }
    if ((rc = hd_exec(c, sql, sv, nv, NULL, err))) return rc;
    *status = 201;
    return plan_json(c, &p, now, body, err);
}

static const char *const CREATE_FIELDS[] = {"customer_id", "reward_id", "option",
                                            "plan",        "interval",  NULL};

hd_rc hd_instalment_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err) {
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, CREATE_FIELDS, "an instalment plan", err);
    if (rc) return rc;
    create_ctx cc = {.d = d, .period = "month"};
    if ((rc = hd_spend_customer_field(in, &cc.customer_id, err))) return rc;
    bool present;
    if ((rc = hd_json_int(in, "reward_id", &present, &cc.reward_id, err))) return rc;
    if (!present || cc.reward_id <= 0)
        return hd_err_set(err, HD_EINVAL, "reward_id", "is required: the reward to take now");
    json_t *o = json_object_get(in, "option");
    if (o && !json_is_null(o)) {
        if ((rc = hd_json_str(in, "option", HD_OPTION_CODE_MAX, &cc.option, err))) return rc;
        if (cc.option && !*cc.option) cc.option = NULL;
    }
    json_t *pl = json_object_get(in, "plan");
    if (!pl) return hd_err_set(err, HD_EINVAL, "plan", "is required: 3, 6 or 12 instalments");
    if (!json_is_integer(pl) || (json_integer_value(pl) != 3 && json_integer_value(pl) != 6 &&
                                 json_integer_value(pl) != 12))
        return hd_err_set(err, HD_EINVAL, "plan", "must be 3, 6 or 12 instalments");
    cc.n = (int)json_integer_value(pl);
    const char *iv = NULL;
    if ((rc = hd_json_str(in, "interval", 16, &iv, err))) return rc;
    if (iv) {
        if (strcmp(iv, "month") && strcmp(iv, "week"))
            return hd_err_set(err, HD_EINVAL, "interval", "must be month (default) or week");
        cc.period = iv;
    }
    return hd_idem_write(d, im, create_cb, &cc, status, out, replayed, err);
}

/* ---- collecting what fell due ---- */

/* Collects every instalment of p due by now; the caller has claimed the plan
 * row. An active plan's hold is voided and replaced by the posted
 * instalments (forced: the hold guaranteed them, so they may take the
 * member into overdraft or past a limit cut since) and a hold of the rest;
 * when the rest no longer fits, the plan turns delinquent. A delinquent
 * plan's arrears are charged when they fit, and the hold re-placed when the
 * rest fits too, which makes the plan active again. */
static hd_rc collect_in(hd_conn *c, hd_domain *d, plan *p, int64_t now, hd_err *err) {
    /* the due dates the plan was made with, as the member sees them - not
     * worked out again on a calendar that may have changed since */
    int64_t dues[12] = {0};
    hd_val v = hd_vint(p->id);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT n, due_at FROM instalment_schedule WHERE plan_id = ?", &v, 1, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1)
        if (hd_rows_int(r, 0) >= 1 && hd_rows_int(r, 0) <= 12)
            dues[hd_rows_int(r, 0) - 1] = hd_rows_int(r, 1);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    int k = p->paid_count;
    while (k < p->n && k < 12 && dues[k] <= now) k++;
    p->next_due_at = k < p->n ? dues[k] : 0;
    if (k == p->paid_count) return plan_save(c, p, now, err);
    int64_t amount = paid_through(p->total, p->n, k) - p->paid;
    int64_t rest = p->total - paid_through(p->total, p->n, k);
    bool active = strcmp(p->status, "active") == 0, guaranteed = false;
    char key[96], why[HD_ERR_MSG_MAX] = "";
    if (active && p->hold_id) {
        rc = hd_ledger_resolve_in(c, d, p->hold_id, false, err);
        if (!rc)
            guaranteed = true;
        else if (!refused(rc, err, why, sizeof why)) /* voided by hand meanwhile */
            return rc;
        p->hold_id = 0;
        p->held = 0;
    }
    int64_t tid = 0;
    key_of(key, sizeof key, p->id, k, "post");
    rc = charge(c, d, p, key, amount, false, guaranteed, &tid, err);
    if (refused(rc, err, why, sizeof why)) {
        /* arrears: nothing collected, nothing held */
        if (active) p->delinquent_at = now;
        snprintf(p->status, sizeof p->status, "delinquent");
        snprintf(p->delinquent_reason, sizeof p->delinquent_reason,
                 "instalments %d to %d (%lld points) could not be charged: %s", p->paid_count + 1,
                 k, (long long)amount, why);
        return plan_save(c, p, now, err);
    }
    if (rc) return rc;
    if ((rc = mark_paid(c, p->id, k, tid, now, err))) return rc;
    p->paid += amount;
    p->paid_count = k;
    if (rest == 0) {
        snprintf(p->status, sizeof p->status, "paid_off");
        snprintf(p->payoff, sizeof p->payoff, "schedule");
        p->paid_off_at = now;
        p->next_due_at = 0;
        p->delinquent_reason[0] = '\0';
        return plan_save(c, p, now, err);
    }
    key_of(key, sizeof key, p->id, k, "hold");
    rc = charge(c, d, p, key, rest, true, false, &p->hold_id, err);
    if (refused(rc, err, why, sizeof why)) {
        p->hold_id = 0;
        if (active) p->delinquent_at = now;
        snprintf(p->status, sizeof p->status, "delinquent");
        snprintf(p->delinquent_reason, sizeof p->delinquent_reason,
                 "the unpaid %lld points no longer fit the member's points and credit limit: %s",
                 (long long)rest, why);
        return plan_save(c, p, now, err);
    }
    if (rc) return rc;
    p->held = rest;
    snprintf(p->status, sizeof p->status, "active");
    p->delinquent_at = 0;
    p->delinquent_reason[0] = '\0';
    return plan_save(c, p, now, err);
}

typedef hd_sweep_item collect_ctx;

static hd_rc collect_cb(hd_conn *c, void *vctx, hd_err *err) {
    collect_ctx *cc = vctx;
    /* the claim: one collector per plan and due date, on any number of nodes */
    hd_val v[3] = {hd_vint(cc->now), hd_vint(cc->id), hd_vint(cc->now)};
    int64_t n = 0;
    hd_rc rc = hd_exec(c,
                       "UPDATE instalment_plans SET updated_at = ?1 WHERE id = ?2 AND status IN "
                       "('active', 'delinquent') AND next_due_at <= ?3",
                       v, 3, &n, err);
    if (rc || n == 0) return rc;
    plan p;
    if ((rc = plan_load(c, cc->id, &p, err))) return rc;
    return collect_in(c, cc->d, &p, cc->now, err);
}

hd_rc hd_instalment_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)arg;
    return hd_domain_sweep(d, now_ms,
                           "SELECT id FROM instalment_plans WHERE status IN ('active', "
                           "'delinquent') AND next_due_at <= ? ORDER BY next_due_at, id LIMIT 100",
                           100, "instalment plan", collect_cb, err);
}

/* ---- payoff and cancellation ---- */

typedef struct act_ctx {
    hd_domain *d;
    int64_t id;
    const char *reason;
} act_ctx;

/* Why a plan is not in a state the action leaves from. */
static hd_rc wrong_state(hd_conn *c, int64_t id, const char *action, hd_err *err) {
    plan p;
    hd_rc rc = plan_load(c, id, &p, err);
    if (rc) return rc;
    return hd_err_set(err, HD_ESTATE, "status", "instalment plan %lld is %s: it cannot be %s",
                      (long long)id, p.status, action);
}

static hd_rc payoff_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    act_ctx *ac = vctx;
    hd_domain *d = ac->d;
    int64_t now = hd_now(d), n = 0;
    hd_val v[2] = {hd_vint(now), hd_vint(ac->id)};
    hd_rc rc = hd_exec(c,
                       "UPDATE instalment_plans SET updated_at = ? WHERE id = ? AND status IN "
                       "('active', 'delinquent')",
                       v, 2, &n, err);
    if (rc) return rc;
    if (n == 0) return wrong_state(c, ac->id, "paid off", err);
    plan p;
    if ((rc = plan_load(c, ac->id, &p, err))) return rc;
    int64_t rest = p.total - p.paid, tid = 0;
    char why[HD_ERR_MSG_MAX];
    if (p.hold_id) {
        /* the hold is the rest: posting it pays the plan off */
        rc = hd_ledger_resolve_in(c, d, p.hold_id, true, err);
        if (!rc) tid = p.hold_id;
        if (rc && !refused(rc, err, why, sizeof why)) return rc;
    }
    if (!tid) {
        char key[96];
        key_of(key, sizeof key, p.id, 0, "payoff");
        rc = charge(c, d, &p, key, rest, false, false, &tid, err);
        if (refused(rc, err, why, sizeof why))
            return hd_err_set(err, HD_ESTATE, "points", "paying off the %lld points left: %s",
                              (long long)rest, why);
        if (rc) return rc;
    }
    if ((rc = mark_paid(c, p.id, p.n, tid, now, err))) return rc;
    p.paid = p.total;
    p.paid_count = p.n;
    p.held = 0;
    p.hold_id = 0;
    p.next_due_at = 0;
    snprintf(p.status, sizeof p.status, "paid_off");
    snprintf(p.payoff, sizeof p.payoff, "early");
    p.paid_off_at = now;
    p.delinquent_reason[0] = '\0';
    if ((rc = plan_save(c, &p, now, err))) return rc;
    *status = 200;
    return load_json(c, d, p.id, body, err);
}

hd_rc hd_instalment_payoff(hd_domain *d, const hd_idem *im, int64_t id, int *status, json_t **out,
                           bool *replayed, hd_err *err) {
    act_ctx ac = {d, id, NULL};
    return hd_idem_write(d, im, payoff_cb, &ac, status, out, replayed, err);
}

static hd_rc cancel_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    act_ctx *ac = vctx;
    hd_domain *d = ac->d;
    int64_t now = hd_now(d), n = 0;
    hd_val v[3] = {hd_vint(now), hd_vint(now), hd_vint(ac->id)};
    hd_rc rc = hd_exec(c,
                       "UPDATE instalment_plans SET status = 'cancelled', cancelled_at = ?, "
                       "next_due_at = NULL, updated_at = ? WHERE id = ? AND status <> 'cancelled'",
                       v, 3, &n, err);
    if (rc) return rc;
    if (n == 0) return wrong_state(c, ac->id, "cancelled", err);
    plan p;
    if ((rc = plan_load(c, ac->id, &p, err))) return rc;
    /* only while nothing shipped: the order row is the guard */
    const char *reason = ac->reason && *ac->reason ? ac->reason : "instalment plan cancelled";
    hd_val o[4] = {hd_vtext(reason), hd_vint(now), hd_vint(now), hd_vint(p.order_id)};
    if ((rc = hd_exec(c,
                      "UPDATE reward_orders SET status = 'cancelled', cancel_reason = ?, "
                      "cancelled_at = ?, updated_at = ? WHERE id = ? AND status = 'placed'",
                      o, 4, &n, err)))
        return rc;
    if (n == 0) {
        hd_val q = hd_vint(p.order_id);
        hd_rows *r;
        char st[16] = "gone";
        if ((rc = hd_query(c, "SELECT status FROM reward_orders WHERE id = ?", &q, 1, &r, err)))
            return rc;
        if (hd_rows_next(r, err) == 1) snprintf(st, sizeof st, "%s", hd_rows_text(r, 0, NULL));
        hd_rows_free(r);
        return hd_err_set(err, HD_ESTATE, "status",
                          "order %lld of instalment plan %lld is %s: a plan can be cancelled only "
                          "while its order is placed (nothing shipped)",
                          (long long)p.order_id, (long long)p.id, st);
    }
    char why[HD_ERR_MSG_MAX];
    if (p.hold_id) {
        rc = hd_ledger_resolve_in(c, d, p.hold_id, false, err);
        if (rc && !refused(rc, err, why, sizeof why)) return rc;
    }
    if (p.paid > 0) {
        char key[96], acct[48], ref[48];
        key_of(key, sizeof key, p.id, 0, "refund");
        snprintf(acct, sizeof acct, "customer:%lld", (long long)p.customer_id);
        snprintf(ref, sizeof ref, "instalment:%lld", (long long)p.id);
        hd_transfer_req t = {.key = key,
                             .debit = "system:redemption",
                             .credit = acct,
                             .amount = p.paid,
                             .code = "refund",
                             .reference = ref};
        hd_transfer_res res;
        if ((rc = hd_ledger_transfer_in(c, d, &t, &res, err))) return rc;
        p.refund_id = res.id;
        hd_val u[2] = {hd_vint(res.id), hd_vint(p.order_id)};
        if ((rc = hd_exec(c, "UPDATE reward_orders SET refund_transfer_id = ? WHERE id = ?", u, 2,
                          NULL, err)))
            return rc;
    }
    /* the stock, and the special's units and the member's allowance it took */
    hd_val q = hd_vint(p.order_id);
    hd_rows *r;
    if ((rc = hd_query(c, "SELECT special_id, usage_period FROM reward_orders WHERE id = ?", &q, 1,
                       &r, err)))
        return rc;
    int64_t special_id = 0;
    char period[24] = "";
    int got = hd_rows_next(r, err);
    if (got == 1) {
        special_id = hd_rows_isnull(r, 0) ? 0 : hd_rows_int(r, 0);
        snprintf(period, sizeof period, "%s", hd_rows_text(r, 1, NULL));
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if ((rc = hd_reward_untake_in(c, p.customer_id, p.reward_id, p.has_option ? p.option : NULL, 1,
                                  special_id, period, err)))
        return rc;
    p.hold_id = 0;
    p.held = 0;
    p.next_due_at = 0;
    snprintf(p.cancel_reason, sizeof p.cancel_reason, "%s", reason);
    if ((rc = plan_save(c, &p, now, err))) return rc;
    *status = 200;
    return load_json(c, d, p.id, body, err);
}

hd_rc hd_instalment_cancel(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in,
                           int *status, json_t **out, bool *replayed, hd_err *err) {
    act_ctx ac = {d, id, NULL};
    if (in) {
        static const char *const allowed[] = {"reason", NULL};
        if (!json_is_object(in))
            return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
        hd_rc rc = hd_json_only(in, allowed, "a cancellation", err);
        if (rc) return rc;
        if ((rc = hd_json_str(in, "reason", HD_INSTALMENT_REASON_MAX, &ac.reason, err))) return rc;
    }
    return hd_idem_write(d, im, cancel_cb, &ac, status, out, replayed, err);
}

/* ---- reading ---- */

typedef struct read_ctx {
    hd_domain *d;
    int64_t id, cursor;
    int limit;
    json_t *out;
} read_ctx;

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    return load_json(c, rx->d, rx->id, &rx->out, err);
}

hd_rc hd_instalment_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    read_ctx rx = {.d = d, .id = id};
    return hd_read_json(d, get_cb, &rx, &rx.out, out, err);
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    int64_t cid;
    hd_rc rc = hd_customer_follow(c, rx->id, &cid, err);
    if (rc) return rc;
    hd_val v[3] = {hd_vint(cid), hd_vint(rx->cursor ? rx->cursor : INT64_MAX),
                   hd_vint(rx->limit + 1)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT " PLAN_COLS " FROM instalment_plans WHERE customer_id = ? AND id < "
                       "? ORDER BY id DESC LIMIT ?",
                       v, 3, &r, err)))
        return rc;
    plan *rows = calloc((size_t)rx->limit + 1, sizeof *rows);
    if (!rows) {
        hd_rows_free(r);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n <= rx->limit) plan_row(r, &rows[n++]);
    hd_rows_free(r);
    json_t *o = json_object(), *data = json_array();
    json_object_set_new(o, "data", data);
    int shown = n > rx->limit ? rx->limit : n;
    int64_t now = hd_now(rx->d);
    for (int i = 0; got >= 0 && i < shown; i++) {
        json_t *j;
        if ((rc = plan_json(c, &rows[i], now, &j, err))) {
            free(rows);
            json_decref(o);
            return rc;
        }
        json_array_append_new(data, j);
    }
    if (n > rx->limit)
        hd_json_set_id(o, "next_cursor", rows[shown - 1].id);
    else
        json_object_set_new(o, "next_cursor", json_null());
    free(rows);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    rx->out = o;
    return HD_OK;
}

hd_rc hd_instalment_list_customer(hd_domain *d, int64_t customer_id, int64_t cursor, int limit,
                                  json_t **out, hd_err *err) {
    if (limit < 1 || limit > HD_INSTALMENT_PAGE_MAX) limit = 50;
    read_ctx rx = {.d = d, .id = customer_id, .cursor = cursor, .limit = limit};
    return hd_read_json(d, list_cb, &rx, &rx.out, out, err);
}

hd_rc hd_instalment_outstanding_in(hd_conn *c, int64_t customer_id, int64_t *out, hd_err *err) {
    hd_val v = hd_vint(customer_id);
    return hd_query_int(c,
                        "SELECT COALESCE(sum(total - paid), 0) FROM instalment_plans WHERE "
                        "customer_id = ? AND status IN ('active', 'delinquent')",
                        &v, 1, out, err);
}

/* ---- the report ---- */

static hd_rc report_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    int64_t now = hd_now(rx->d);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT status, count(*), COALESCE(sum(total), 0), COALESCE(sum(paid), 0), "
                        "COALESCE(sum(held), 0) FROM instalment_plans GROUP BY status ORDER BY "
                        "status",
                        NULL, 0, &r, err);
    if (rc) return rc;
    static const char *const states[] = {"active", "delinquent", "paid_off", "cancelled"};
    json_t *o = json_object(), *by = json_object();
    for (size_t i = 0; i < 4; i++)
        json_object_set_new(
            by, states[i],
            json_pack("{s:i,s:i,s:i,s:i}", "plans", 0, "total", 0, "paid", 0, "outstanding", 0));
    int64_t outstanding = 0, held = 0, plans_open = 0, refunded = 0;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *st = hd_rows_text(r, 0, NULL);
        int64_t n = hd_rows_int(r, 1), total = hd_rows_int(r, 2), paid = hd_rows_int(r, 3);
        bool open = strcmp(st, "active") == 0 || strcmp(st, "delinquent") == 0;
        json_t *e = json_pack("{s:I,s:I,s:I,s:I}", "plans", (json_int_t)n, "total",
                              (json_int_t)total, "paid", (json_int_t)paid, "outstanding",
                              (json_int_t)(open ? total - paid : 0));
        if (strcmp(st, "cancelled") == 0) {
            json_object_set_new(e, "refunded", json_integer(paid));
            refunded += paid;
        }
        if (strcmp(st, "active") == 0)
            json_object_set_new(e, "held", json_integer(hd_rows_int(r, 4)));
        json_object_set_new(by, st, e);
        if (open) {
            outstanding += total - paid;
            plans_open += n;
            held += hd_rows_int(r, 4);
        }
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        json_decref(by);
        return err->rc;
    }
    json_object_set_new(o, "outstanding", json_integer(outstanding));
    json_object_set_new(o, "outstanding_plans", json_integer(plans_open));
    json_object_set_new(o, "held", json_integer(held));
    json_object_set_new(o, "unheld", json_integer(outstanding - held));
    json_object_set_new(o, "by_status", by);
    /* instalments past their due date and unpaid */
    hd_val nv = hd_vint(now);
    if ((rc = hd_query(c,
                       "SELECT COALESCE(sum(s.amount), 0), count(DISTINCT s.plan_id) FROM "
                       "instalment_schedule s JOIN instalment_plans p ON p.id = s.plan_id WHERE "
                       "p.status IN ('active', 'delinquent') AND s.paid_at IS NULL AND s.due_at "
                       "<= ?",
                       &nv, 1, &r, err))) {
        json_decref(o);
        return rc;
    }
    if ((got = hd_rows_next(r, err)) == 1)
        json_object_set_new(o, "overdue",
                            json_pack("{s:I,s:I}", "points", (json_int_t)hd_rows_int(r, 0), "plans",
                                      (json_int_t)hd_rows_int(r, 1)));
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    int64_t members = 0;
    if ((rc = hd_query_int(c,
                           "SELECT count(DISTINCT customer_id) FROM instalment_plans WHERE status "
                           "= 'delinquent'",
                           NULL, 0, &members, err))) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "delinquent_members", json_integer(members));
    json_t *list = json_array();
    json_object_set_new(o, "delinquent", list);
    hd_val lv = hd_vint(HD_INSTALMENT_REPORT_LIST);
    if ((rc = hd_query(c,
                       "SELECT id, customer_id, total - paid, delinquent_at, delinquent_reason, "
                       "next_due_at FROM instalment_plans WHERE status = 'delinquent' ORDER BY "
                       "delinquent_at, id LIMIT ?",
                       &lv, 1, &r, err))) {
        json_decref(o);
        return rc;
    }
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *e = json_object();
        hd_json_set_id(e, "id", hd_rows_int(r, 0));
        hd_json_set_id(e, "customer_id", hd_rows_int(r, 1));
        json_object_set_new(e, "outstanding", json_integer(hd_rows_int(r, 2)));
        hd_json_set_time(e, "delinquent_at", hd_rows_int(r, 3), !hd_rows_isnull(r, 3));
        json_object_set_new(e, "reason", json_string(hd_rows_text(r, 4, NULL)));
        hd_json_set_time(e, "next_due_at", hd_rows_int(r, 5), !hd_rows_isnull(r, 5));
        json_array_append_new(list, e);
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    json_object_set_new(o, "refunded", json_integer(refunded));
    char t[32];
    hd_time_format(now, t);
    json_object_set_new(o, "at", json_string(t));
    rx->out = o;
    return HD_OK;
}

hd_rc hd_instalment_report(hd_domain *d, json_t **out, hd_err *err) {
    read_ctx rx = {.d = d};
    return hd_read_json(d, report_cb, &rx, &rx.out, out, err);
}

/* ---- merges ---- */

hd_rc hd_instalment_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                             hd_err *err) {
    (void)d;
    (void)arg;
    hd_val v[2] = {hd_vint(survivor), hd_vint(loser)};
    return hd_exec(c, "UPDATE instalment_plans SET customer_id = ? WHERE customer_id = ?", v, 2,
                   NULL, err);
}
