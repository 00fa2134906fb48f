/* ladder.c - engagement ladder stages from event counts, event-type classification,
 * and the transition matrix over a period. */
#include "analytics/ladder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *key, *en, *zh;
} NAMES[HD_LADDER_STAGES] = {
    {"visitor", "Visitor", "访客"},     {"follower", "Follower", "追随者"},
    {"curious", "Curious", "好奇者"},   {"responder", "Responder", "响应者"},
    {"spreader", "Spreader", "传播者"}, {"key_person", "Key person", "关键人物"},
};

void hd_ladder_thresholds_default(hd_ladder_thresholds *t) {
    *t = (hd_ladder_thresholds){.follower_follows = 1,
                                .curious_enquiries = 1,
                                .curious_views = 20,
                                .responder_participations = 1,
                                .spreader_conversions = 1,
                                .key_conversions = 10,
                                .key_reach = 10000,
                                .window_days = 365};
}

hd_rc hd_ladder_thresholds_check(const hd_ladder_thresholds *t, hd_err *err) {
    const struct {
        const char *name;
        uint32_t v;
    } counts[] = {{"follower_follows", t->follower_follows},
                  {"curious_enquiries", t->curious_enquiries},
                  {"curious_views", t->curious_views},
                  {"responder_participations", t->responder_participations},
                  {"spreader_conversions", t->spreader_conversions},
                  {"key_conversions", t->key_conversions}};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
        if (counts[i].v > HD_LADDER_THRESHOLD_MAX)
            return hd_err_set(err, HD_EINVAL, counts[i].name, "must be 0 to %d, got %u",
                              HD_LADDER_THRESHOLD_MAX, counts[i].v);
    if (!isfinite(t->key_reach) || t->key_reach < 0 || t->key_reach > HD_LADDER_REACH_MAX)
        return hd_err_set(err, HD_EINVAL, "key_reach", "must be a number from 0 to %g",
                          HD_LADDER_REACH_MAX);
    if (t->window_days > HD_LADDER_WINDOW_MAX)
        return hd_err_set(err, HD_EINVAL, "window_days", "must be 0 (all time) to %d days",
                          HD_LADDER_WINDOW_MAX);
    return HD_OK;
}

static bool reached(uint32_t have, uint32_t need) { return need && have >= need; }

hd_ladder_stage hd_ladder_stage_of(const hd_ladder_counts *c, const hd_ladder_thresholds *t) {
    double reach = isfinite(c->reach) ? c->reach : 0;
    if (reached(c->conversions, t->key_conversions) || (t->key_reach > 0 && reach >= t->key_reach))
        return HD_LADDER_KEY_PERSON;
    if (reached(c->conversions, t->spreader_conversions)) return HD_LADDER_SPREADER;
    if (reached(c->participations, t->responder_participations)) return HD_LADDER_RESPONDER;
    if (reached(c->enquiries, t->curious_enquiries) || reached(c->views, t->curious_views))
        return HD_LADDER_CURIOUS;
    if (reached(c->follows, t->follower_follows)) return HD_LADDER_FOLLOWER;
    return HD_LADDER_VISITOR;
}

hd_rc hd_ladder_stage_all(const hd_ladder_counts *c, size_t n, const hd_ladder_thresholds *t,
                          uint8_t *out, hd_err *err) {
    hd_rc rc = hd_ladder_thresholds_check(t, err);
    if (rc) return rc;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)hd_ladder_stage_of(&c[i], t);
    return HD_OK;
}

static bool is(const char *s, size_t n, const char *word) {
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

hd_ladder_kind hd_ladder_classify(const char *type, size_t len) {
    if (is(type, len, "share.converted")) return HD_LADDER_K_CONVERSION;
    if (is(type, len, "follow") || is(type, len, "subscribe") || ends_with(type, len, ".follow") ||
        ends_with(type, len, ".subscribe"))
        return HD_LADDER_K_FOLLOW;
    if (is(type, len, "conversation.opened")) return HD_LADDER_K_ENQUIRY;
    const char *dot = memchr(type, '.', len);
    size_t head = dot ? (size_t)(dot - type) : len;
    static const char *const enquiry[] = {"enquiry", "inquiry", "question", "consult", NULL};
    for (const char *const *w = enquiry; *w; w++)
        if (is(type, head, *w)) return HD_LADDER_K_ENQUIRY;
    static const char *const part[] = {"activity", "campaign", "review",    "bid",     "auction",
                                       "trial",    "groupbuy", "group_buy", "checkin", "survey",
                                       "vote",     "contest",  "comment",   "share",   NULL};
    for (const char *const *w = part; *w; w++)
        if (is(type, head, *w)) return HD_LADDER_K_PARTICIPATION;
    if (is(type, len, "view") || ends_with(type, len, ".view")) return HD_LADDER_K_VIEW;
    return HD_LADDER_K_OTHER;
}

static void add_sat(uint32_t *to, uint64_t n) {
    uint64_t v = (uint64_t)*to + n;
    *to = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void hd_ladder_count_add(hd_ladder_counts *c, hd_ladder_kind k, uint64_t n) {
    switch (k) {
    case HD_LADDER_K_VIEW: add_sat(&c->views, n); break;
    case HD_LADDER_K_FOLLOW: add_sat(&c->follows, n); break;
    case HD_LADDER_K_ENQUIRY: add_sat(&c->enquiries, n); break;
    case HD_LADDER_K_PARTICIPATION: add_sat(&c->participations, n); break;
    case HD_LADDER_K_CONVERSION: add_sat(&c->conversions, n); break;
    case HD_LADDER_K_OTHER: break;
    }
}

hd_rc hd_ladder_moves_count(const uint8_t *from, const uint8_t *to, size_t n, hd_ladder_moves *out,
                            hd_err *err) {
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        uint8_t a = from[i], b = to[i];
        if ((a >= HD_LADDER_STAGES && a != HD_LADDER_NONE) ||
            (b >= HD_LADDER_STAGES && b != HD_LADDER_NONE)) {
            char f[40];
            snprintf(f, sizeof f, "%s[%zu]",
                     a >= HD_LADDER_STAGES && a != HD_LADDER_NONE ? "from" : "to", i);
            memset(out, 0, sizeof *out);
            return hd_err_set(err, HD_EINVAL, f, "is not a stage (0 to 5) or HD_LADDER_NONE");
        }
        if (b == HD_LADDER_NONE) continue;
        out->customers++;
        out->end[b]++;
        if (a == HD_LADDER_NONE) {
            out->entered[b]++;
            continue;
        }
        out->start[a]++;
        out->matrix[a][b]++;
        if (b > a)
            out->up++;
        else if (b < a)
            out->down++;
        else
            out->same++;
    }
    return HD_OK;
}

const char *hd_ladder_stage_key(hd_ladder_stage s) {
    return (unsigned)s < HD_LADDER_STAGES ? NAMES[s].key : "";
}
const char *hd_ladder_stage_en(hd_ladder_stage s) {
    return (unsigned)s < HD_LADDER_STAGES ? NAMES[s].en : "";
}
const char *hd_ladder_stage_zh(hd_ladder_stage s) {
    return (unsigned)s < HD_LADDER_STAGES ? NAMES[s].zh : "";
}

bool hd_ladder_stage_parse(const char *key, hd_ladder_stage *out) {
    for (int i = 0; i < HD_LADDER_STAGES; i++)
        if (strcmp(key, NAMES[i].key) == 0) {
            *out = (hd_ladder_stage)i;
            return true;
        }
    return false;
}
