/* test_ladder.c - engagement ladder on hand-made data: each stage's condition and its
 * order, thresholds (defaults, zero turns a way up off, invalid values named),
 * event-type classification, and the distribution and transition matrix over a
 * period including customers who appeared during it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "analytics/ladder.h"

static hd_ladder_counts counts(uint32_t views, uint32_t follows, uint32_t enq, uint32_t part,
                               uint32_t conv, double reach) {
    return (hd_ladder_counts){views, follows, enq, part, conv, reach};
}

static void test_stage_of_each_condition(void **state) {
    (void)state;
    hd_ladder_thresholds t;
    hd_ladder_thresholds_default(&t);
    assert_int_equal(t.follower_follows, 1);
    assert_int_equal(t.curious_views, 20);
    assert_int_equal(t.key_conversions, 10);
    assert_int_equal(t.window_days, 365);
    struct {
        hd_ladder_counts c;
        hd_ladder_stage want;
    } cases[] = {
        {counts(0, 0, 0, 0, 0, 0), HD_LADDER_VISITOR},
        {counts(19, 0, 0, 0, 0, 0), HD_LADDER_VISITOR},       /* reading a little */
        {counts(3, 1, 0, 0, 0, 0), HD_LADDER_FOLLOWER},       /* follows */
        {counts(20, 0, 0, 0, 0, 0), HD_LADDER_CURIOUS},       /* keeps coming back */
        {counts(0, 1, 1, 0, 0, 0), HD_LADDER_CURIOUS},        /* asked */
        {counts(0, 0, 0, 1, 0, 0), HD_LADDER_RESPONDER},      /* one review, nothing else */
        {counts(0, 0, 0, 0, 1, 0), HD_LADDER_SPREADER},       /* brought someone */
        {counts(50, 2, 3, 9, 9, 9999), HD_LADDER_SPREADER},   /* just below both key bars */
        {counts(0, 0, 0, 0, 10, 0), HD_LADDER_KEY_PERSON},    /* brought many */
        {counts(0, 0, 0, 0, 0, 10000), HD_LADDER_KEY_PERSON}, /* a large audience */
        {counts(0, 1, 0, 0, 0, NAN), HD_LADDER_FOLLOWER},     /* a bad reach counts as 0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hd_ladder_stage got = hd_ladder_stage_of(&cases[i].c, &t);
        if (got != cases[i].want)
            fail_msg("case %zu: got %s, want %s", i, hd_ladder_stage_key(got),
                     hd_ladder_stage_key(cases[i].want));
    }
}

static void test_thresholds_per_brand(void **state) {
    (void)state;
    hd_ladder_thresholds t;
    hd_ladder_thresholds_default(&t);
    hd_ladder_counts c = counts(30, 0, 0, 0, 0, 500);
    assert_int_equal(hd_ladder_stage_of(&c, &t), HD_LADDER_CURIOUS);
    t.curious_views = 0; /* views alone no longer make anyone curious */
    assert_int_equal(hd_ladder_stage_of(&c, &t), HD_LADDER_VISITOR);
    t.key_reach = 100; /* a brand in a small niche */
    assert_int_equal(hd_ladder_stage_of(&c, &t), HD_LADDER_KEY_PERSON);
    t.key_reach = 0; /* reach alone never makes a key person */
    c.reach = 1e9;
    assert_int_equal(hd_ladder_stage_of(&c, &t), HD_LADDER_VISITOR);
    t.responder_participations = 3;
    c.participations = 2;
    assert_int_equal(hd_ladder_stage_of(&c, &t), HD_LADDER_VISITOR);
    c.participations = 3;
    assert_int_equal(hd_ladder_stage_of(&c, &t), HD_LADDER_RESPONDER);

    hd_err err;
    assert_int_equal(hd_ladder_thresholds_check(&t, &err), HD_OK);
    hd_ladder_thresholds bad = t;
    bad.key_reach = -1;
    assert_int_equal(hd_ladder_thresholds_check(&bad, &err), HD_EINVAL);
    assert_string_equal(err.field, "key_reach");
    bad = t;
    bad.key_reach = INFINITY;
    assert_int_equal(hd_ladder_thresholds_check(&bad, &err), HD_EINVAL);
    bad = t;
    bad.spreader_conversions = HD_LADDER_THRESHOLD_MAX + 1;
    assert_int_equal(hd_ladder_thresholds_check(&bad, &err), HD_EINVAL);
    assert_string_equal(err.field, "spreader_conversions");
    bad = t;
    bad.window_days = HD_LADDER_WINDOW_MAX + 1;
    assert_int_equal(hd_ladder_thresholds_check(&bad, &err), HD_EINVAL);
    assert_string_equal(err.field, "window_days");

    hd_ladder_counts many[3] = {counts(0, 1, 0, 0, 0, 0), counts(0, 0, 0, 0, 2, 0),
                                counts(0, 0, 0, 0, 0, 0)};
    uint8_t st[3];
    assert_int_equal(hd_ladder_stage_all(many, 3, &t, st, &err), HD_OK);
    assert_int_equal(st[0], HD_LADDER_FOLLOWER);
    assert_int_equal(st[1], HD_LADDER_SPREADER);
    assert_int_equal(st[2], HD_LADDER_VISITOR);
    assert_int_equal(hd_ladder_stage_all(many, 3, &bad, st, &err), HD_EINVAL);
}

static void test_classify(void **state) {
    (void)state;
    struct {
        const char *type;
        hd_ladder_kind want;
    } cases[] = {
        {"page.view", HD_LADDER_K_VIEW},
        {"product.view", HD_LADDER_K_VIEW},
        {"view", HD_LADDER_K_VIEW},
        {"preview", HD_LADDER_K_OTHER},
        {"follow", HD_LADDER_K_FOLLOW},
        {"wechat.follow", HD_LADDER_K_FOLLOW},
        {"weibo.subscribe", HD_LADDER_K_FOLLOW},
        {"unfollow", HD_LADDER_K_OTHER},
        {"enquiry", HD_LADDER_K_ENQUIRY},
        {"inquiry.product", HD_LADDER_K_ENQUIRY},
        {"question", HD_LADDER_K_ENQUIRY},
        {"conversation.opened", HD_LADDER_K_ENQUIRY},
        {"review", HD_LADDER_K_PARTICIPATION},
        {"auction.bid", HD_LADDER_K_PARTICIPATION},
        {"bid", HD_LADDER_K_PARTICIPATION},
        {"trial.apply", HD_LADDER_K_PARTICIPATION},
        {"groupbuy.join", HD_LADDER_K_PARTICIPATION},
        {"activity.join", HD_LADDER_K_PARTICIPATION},
        {"survey.answer", HD_LADDER_K_PARTICIPATION},
        {"share", HD_LADDER_K_PARTICIPATION},
        {"share.converted", HD_LADDER_K_CONVERSION},
        {"order.paid", HD_LADDER_K_OTHER},
        {"", HD_LADDER_K_OTHER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hd_ladder_kind k = hd_ladder_classify(cases[i].type, strlen(cases[i].type));
        if (k != cases[i].want)
            fail_msg("%s: got %d, want %d", cases[i].type, (int)k, (int)cases[i].want);
    }
    /* not NUL-terminated: only len bytes count */
    assert_int_equal(hd_ladder_classify("reviewXYZ", 6), HD_LADDER_K_PARTICIPATION);

    hd_ladder_counts c = {0};
    hd_ladder_count_add(&c, HD_LADDER_K_VIEW, 5);
    hd_ladder_count_add(&c, HD_LADDER_K_VIEW, 2);
    hd_ladder_count_add(&c, HD_LADDER_K_CONVERSION, UINT64_MAX);
    hd_ladder_count_add(&c, HD_LADDER_K_OTHER, 9);
    assert_int_equal(c.views, 7);
    assert_int_equal(c.conversions, UINT32_MAX); /* saturates */
    assert_int_equal(c.follows + c.enquiries + c.participations, 0);
}

static void test_moves_matrix(void **state) {
    (void)state;
    /* 9 rows: 3 climb, 1 falls, 2 stay, 2 appeared during the period, 1 unknown at the
     * end (left out) */
    const uint8_t from[] = {0, 1, 2, 4, 3, 3, HD_LADDER_NONE, HD_LADDER_NONE, HD_LADDER_NONE};
    const uint8_t to[] = {1, 3, 5, 2, 3, 3, 0, 4, HD_LADDER_NONE};
    hd_ladder_moves m;
    hd_err err;
    assert_int_equal(hd_ladder_moves_count(from, to, 9, &m, &err), HD_OK);
    assert_int_equal(m.customers, 8);
    assert_int_equal(m.up, 3);
    assert_int_equal(m.down, 1);
    assert_int_equal(m.same, 2);
    assert_int_equal(m.matrix[0][1], 1);
    assert_int_equal(m.matrix[1][3], 1);
    assert_int_equal(m.matrix[2][5], 1);
    assert_int_equal(m.matrix[4][2], 1);
    assert_int_equal(m.matrix[3][3], 2);
    uint64_t total = 0;
    for (int a = 0; a < HD_LADDER_STAGES; a++)
        for (int b = 0; b < HD_LADDER_STAGES; b++) total += m.matrix[a][b];
    assert_int_equal(total, 6);
    assert_int_equal(m.entered[0], 1);
    assert_int_equal(m.entered[4], 1);
    const uint64_t start[6] = {1, 1, 1, 2, 1, 0}, end[6] = {1, 1, 1, 3, 1, 1};
    for (int s = 0; s < 6; s++) {
        assert_int_equal(m.start[s], start[s]);
        assert_int_equal(m.end[s], end[s]);
    }

    uint8_t bad[] = {6};
    uint8_t ok[] = {0};
    assert_int_equal(hd_ladder_moves_count(bad, ok, 1, &m, &err), HD_EINVAL);
    assert_string_equal(err.field, "from[0]");
    assert_int_equal(hd_ladder_moves_count(ok, bad, 1, &m, &err), HD_EINVAL);
    assert_string_equal(err.field, "to[0]");
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(hd_ladder_stage_key(HD_LADDER_KEY_PERSON), "key_person");
    assert_string_equal(hd_ladder_stage_zh(HD_LADDER_KEY_PERSON), "关键人物");
    assert_string_equal(hd_ladder_stage_zh(HD_LADDER_CURIOUS), "好奇者");
    assert_string_equal(hd_ladder_stage_en(HD_LADDER_SPREADER), "Spreader");
    assert_string_equal(hd_ladder_stage_key((hd_ladder_stage)9), "");
    for (int s = 0; s < HD_LADDER_STAGES; s++) {
        hd_ladder_stage back;
        assert_true(hd_ladder_stage_parse(hd_ladder_stage_key((hd_ladder_stage)s), &back));
        assert_int_equal(back, s);
    }
    hd_ladder_stage x;
    assert_false(hd_ladder_stage_parse("vip", &x));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stage_of_each_condition),
        cmocka_unit_test(test_thresholds_per_brand),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_moves_matrix),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
