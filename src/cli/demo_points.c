/* demo_points.c - the points programme of the demo brand: tiers and earning
 * rules (set up before the demo's events, so its orders earn; points expire
 * by the programme's rule, by default at the end of the twelfth month after
 * the month earned), and after them a catalog, a running special, an open
 * auction, an open group buy, an open trial, a coupon launch, members with
 * instalment plans and some in overdraft. Everything goes through the same
 * domain calls the API uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "domain/auctions.h"
#include "domain/catalog.h"
#include "domain/credit.h"
#include "domain/groupbuys.h"
#include "domain/instalments.h"
#include "domain/rules.h"
#include "domain/tiers.h"
#include "domain/trials.h"

typedef hd_rc (*create_fn)(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                           json_t **out, bool *replayed, hd_err *err);

/* Runs a create call on a packed body; the new object's id in *id (may be NULL). */
static hd_rc make(hd_domain *d, create_fn fn, json_t *in, int64_t *id, hd_err *err) {
    if (!in) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    int status;
    json_t *out = NULL;
    bool replayed;
    hd_rc rc = fn(d, NULL, in, &status, &out, &replayed, err);
    json_decref(in);
    if (!rc && id) hd_id_parse(json_string_value(json_object_get(out, "id")), id);
    json_decref(out);
    return rc;
}

static char *time_at(int64_t ms, char buf[32]) {
    hd_time_format(ms, buf);
    return buf;
}

hd_rc hd_demo_points_before(hd_domain *d, hd_err *err) {
    static const struct {
        const char *code, *zh, *en;
        int threshold;
        double mult;
        int limit;
        int specials, auctions, trials;
    } tiers[] = {{"silver", "银卡", "Silver", 0, 1.0, 0, 0, 0, 0},
                 {"gold", "金卡", "Gold", 2000, 1.5, 500, 1, 1, 1},
                 {"platinum", "铂金卡", "Platinum", 8000, 2.0, 2000, 1, 1, 1}};
    hd_rc rc;
    for (size_t i = 0; i < sizeof tiers / sizeof tiers[0]; i++) {
        json_t *in = json_pack(
            "{s:s,s:{s:s,s:s},s:i,s:f,s:i,s:i,s:{s:b,s:b,s:b}}", "code", tiers[i].code, "name",
            "zh", tiers[i].zh, "en", tiers[i].en, "threshold", tiers[i].threshold, "multiplier",
            tiers[i].mult, "credit_limit", tiers[i].limit, "grace_days", 30, "access", "specials",
            tiers[i].specials, "auctions", tiers[i].auctions, "trials", tiers[i].trials);
        int status;
        json_t *out = NULL;
        rc = hd_tier_create(d, in, &status, &out, err);
        json_decref(in);
        json_decref(out);
        if (rc) return rc;
    }
    static const char *const rules[] = {
        "{\"name\":\"消费积分：每 1 元 1 分 × 等级倍数\",\"event_type\":\"order.paid\","
        "\"formula\":\"floor(amount / 100) * tier.multiplier\"}",
        "{\"name\":\"成长值：每 1 元 1 点\",\"event_type\":\"order.paid\",\"currency\":\"growth\","
        "\"formula\":\"floor(amount / 100)\"}",
        "{\"name\":\"评价奖励\",\"event_type\":\"review\",\"formula\":\"20\",\"caps\":{\"per_day\":"
        "40}}",
        "{\"name\":\"签到\",\"event_type\":\"checkin\",\"formula\":\"5\",\"caps\":{\"per_day\":5}}",
        "{\"name\":\"分享带来新客\",\"event_type\":\"share\",\"formula\":\"10\","
        "\"caps\":{\"per_month\":100}}",
        NULL};
    for (const char *const *r = rules; *r; r++) {
        json_t *in = json_loads(*r, 0, NULL);
        int status;
        json_t *out = NULL;
        rc = hd_rule_create(d, in, &status, &out, err);
        json_decref(in);
        json_decref(out);
        if (rc) return rc;
    }
    return HD_OK;
}

/* The richest members by balance, for the demo's bids, groups and plans. */
typedef struct members_ctx {
    int64_t ids[16];
    int n;
    int64_t modest[2]; /* two members with a few hundred points, for overdraft */
    int nmodest;
} members_ctx;

static hd_rc members_cb(hd_conn *c, void *vctx, hd_err *err) {
    members_ctx *m = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id FROM accounts WHERE kind = 'member' AND currency = "
                        "'points' ORDER BY credits_posted - debits_posted DESC, id LIMIT 16",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1 && m->n < 16) m->ids[m->n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    rc = hd_query(c,
                  "SELECT customer_id FROM accounts WHERE kind = 'member' AND currency = 'points' "
                  "AND credits_posted - debits_posted BETWEEN 300 AND 1500 ORDER BY id LIMIT 2",
                  NULL, 0, &r, err);
    if (rc) return rc;
    while ((got = hd_rows_next(r, err)) == 1 && m->nmodest < 2)
        m->modest[m->nmodest++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_demo_points_after(hd_domain *d, hd_err *err) {
    int64_t now = hd_now(d), day = 86400000;
    char a[32], b[32];
    int64_t jeans = 0, flask = 0, cream = 0, card = 0, sneaker = 0, speaker = 0;
    hd_rc rc =
        make(d, hd_reward_create,
             json_pack("{s:s,s:{s:s,s:s},s:{s:s,s:s},s:{s:i,s:i},s:i,s:s,s:[{s:s,s:{s:i,s:i},"
                       "s:i},{s:s,s:{s:i,s:i},s:i},{s:s,s:{s:i,s:i},s:i}]}",
                       "type", "physical", "name", "zh", "经典直筒牛仔裤", "en", "Classic jeans",
                       "description", "zh", "按您记住的尺码预选", "en",
                       "Your remembered size is pre-selected", "price", "points", 800, "cash", 990,
                       "stock", 60, "spec_category", "jeans", "options", "code", "W30L32", "attrs",
                       "waist", 30, "length", 32, "stock", 20, "code", "W32L32", "attrs", "waist",
                       32, "length", 32, "stock", 20, "code", "W34L34", "attrs", "waist", 34,
                       "length", 34, "stock", 20),
             &jeans, err);
    if (!rc)
        rc = make(d, hd_reward_create,
                  json_pack("{s:s,s:{s:s,s:s},s:{s:i},s:i}", "type", "physical", "name", "zh",
                            "不锈钢保温杯", "en", "Steel flask", "price", "points", 600, "stock",
                            40),
                  &flask, err);
    if (!rc)
        rc = make(d, hd_reward_create,
                  json_pack("{s:s,s:{s:s,s:s},s:{s:i},s:i}", "type", "physical", "name", "zh",
                            "修护面霜（试用装）", "en", "Repair cream (sample)", "price", "points",
                            300, "stock", 30),
                  &cream, err);
    if (!rc)
        rc = make(d, hd_reward_create,
                  json_pack("{s:s,s:{s:s,s:s},s:{s:i},s:{s:i,s:s}}", "type", "digital", "name",
                            "zh", "视频会员月卡", "en", "Video pass (1 month)", "price", "points",
                            450, "limit", "per_customer", 1, "period", "month"),
                  &card, err);
    if (!rc)
        rc = make(d, hd_reward_create,
                  json_pack("{s:s,s:{s:s,s:s},s:{s:i},s:i}", "type", "physical", "name", "zh",
                            "限量联名球鞋", "en", "Limited sneakers", "price", "points", 5000,
                            "stock", 3),
                  &sneaker, err);
    if (!rc)
        rc = make(d, hd_reward_create,
                  json_pack("{s:s,s:{s:s,s:s},s:{s:i},s:i}", "type", "physical", "name", "zh",
                            "蓝牙音箱", "en", "Bluetooth speaker", "price", "points", 2400, "stock",
                            20),
                  &speaker, err);
    if (rc) return rc;
    char id1[24], id2[24], id3[24], id4[24], id5[24];
    hd_id_format(flask, id1);
    hd_id_format(cream, id2);
    hd_id_format(sneaker, id3);
    hd_id_format(jeans, id4);
    hd_id_format(speaker, id5);
    /* a special running this month, and one for gold members in Hangzhou */
    rc = make(d, hd_special_create,
              json_pack("{s:s,s:i,s:s,s:s,s:i,s:i}", "reward_id", id1, "points", 450, "starts_at",
                        time_at(now - 3 * day, a), "ends_at", time_at(now + 20 * day, b),
                        "quantity", 30, "per_customer", 1),
              NULL, err);
    if (!rc)
        rc = make(d, hd_special_create,
                  json_pack("{s:s,s:i,s:s,s:s,s:i,s:i,s:s}", "reward_id", id4, "points", 600,
                            "starts_at", time_at(now - day, a), "ends_at",
                            time_at(now + 10 * day, b), "quantity", 20, "per_customer", 1,
                            "eligibility", "customer.city == \"杭州\""),
                  NULL, err);
    /* an open auction, an open group buy, an open trial */
    int64_t auction = 0, deal = 0;
    if (!rc)
        rc =
            make(d, hd_auction_create,
                 json_pack("{s:s,s:{s:s,s:s},s:s,s:s,s:i,s:i,s:i,s:{s:i,s:i}}", "reward_id", id3,
                           "title", "zh", "限量联名球鞋 积分竞拍", "en", "Limited sneakers auction",
                           "starts_at", time_at(now - day, a), "ends_at", time_at(now + 3 * day, b),
                           "starting_bid", 2000, "increment", 100, "reserve", 3000, "anti_sniping",
                           "window_s", 60, "max_extension_s", 600),
                 &auction, err);
    if (!rc)
        rc = make(d, hd_groupbuy_create,
                  json_pack("{s:s,s:{s:s,s:s},s:i,s:i,s:i,s:i}", "reward_id", id5, "title", "zh",
                            "蓝牙音箱 三人团", "en", "Speaker, team of three", "group_size", 3,
                            "price", 1500, "fill_s", 86400, "stock", 9),
                  &deal, err);
    if (!rc)
        rc = make(d, hd_trial_create,
                  json_pack("{s:s,s:{s:s,s:s},s:i,s:i,s:i,s:s,s:s,s:s,s:i}", "reward_id", id2,
                            "title", "zh", "修护面霜 免费试用", "en", "Repair cream trial", "units",
                            5, "price", 50, "bonus", 30, "apply_starts_at", time_at(now - day, a),
                            "apply_ends_at", time_at(now + 5 * day, b), "selection", "lottery",
                            "review_days", 14),
                  NULL, err);
    /* a coupon launch: 15% off, 1,000 to claim */
    if (!rc)
        rc = make(d, hd_coupon_template_create,
                  json_pack("{s:{s:s,s:s},s:{s:s,s:i,s:i},s:i,s:{s:s,s:s},s:i,s:i}", "name", "zh",
                            "双十一 85 折", "en", "15% off for 11.11", "discount", "type",
                            "percent", "percent", 15, "max", 3000, "min_spend", 10000, "validity",
                            "from", time_at(now - day, a), "to", time_at(now + 30 * day, b),
                            "quantity", 1000, "per_customer", 1),
                  NULL, err);
    if (rc) return rc;
    members_ctx m = {0};
    if ((rc = hd_store_read(d->store, members_cb, &m, err))) return rc;
    char cid[24];
    /* bids from the three richest, a group started by the fourth */
    for (int i = 0; i < 3 && i < m.n && !rc; i++) {
        hd_id_format(m.ids[i], cid);
        json_t *in = json_pack("{s:s,s:i}", "customer_id", cid, "amount", 2000 + 200 * i);
        int status;
        json_t *out = NULL;
        bool rep;
        rc = hd_auction_bid(d, NULL, auction, in, &status, &out, &rep, err);
        json_decref(in);
        json_decref(out);
        if (rc == HD_ESTATE || rc == HD_EFORBIDDEN) rc = HD_OK; /* not rich or gold enough */
    }
    if (!rc && m.n > 3) {
        hd_id_format(m.ids[3], cid);
        json_t *in = json_pack("{s:s}", "customer_id", cid);
        int status;
        json_t *out = NULL;
        bool rep;
        rc = hd_groupbuy_start(d, NULL, deal, in, &status, &out, &rep, err);
        json_decref(in);
        json_decref(out);
        if (rc == HD_ESTATE) rc = HD_OK;
    }
    /* instalment plans for two members; overdraft for two others */
    for (int i = 4; i < 6 && i < m.n && !rc; i++) {
        hd_id_format(m.ids[i], cid);
        rc = make(d, hd_instalment_create,
                  json_pack("{s:s,s:s,s:i}", "customer_id", cid, "reward_id", id5, "plan",
                            i == 4 ? 3 : 6),
                  NULL, err);
        if (rc == HD_ESTATE) rc = HD_OK;
    }
    for (int i = 0; i < m.nmodest && !rc; i++) {
        hd_id_format(m.modest[i], cid);
        json_t *in = json_pack("{s:i,s:s}", "limit", 3000, "reason", "演示：授信 3000 分");
        json_t *out = NULL;
        rc = hd_credit_set(d, m.modest[i], in, &out, err);
        json_decref(in);
        json_decref(out);
        /* a speaker for 2400 points takes them past zero into the credit line */
        if (!rc)
            rc = make(d, hd_redemption_create,
                      json_pack("{s:s,s:s}", "customer_id", cid, "reward_id", id5), NULL, err);
        if (rc == HD_ESTATE) rc = HD_OK;
    }
    return rc;
}
