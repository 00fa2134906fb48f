/* demo.c - `hudong demo` and `serve --demo`: fills an empty store with two
 * years of realistic Chinese retail data (customers, touchpoints, orders,
 * refunds, page views, shares, reviews, follows, check-ins), the same for the
 * same seed, so the console, the analytics and the tests have something to
 * show. Everything goes through the domain (hd_customer_resolve and
 * hd_event_process), so counters, orders and lines are exactly what real
 * traffic would leave behind; the history runs on a clock of its own, so
 * points, tiers and expiries are dated when they would have happened. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "domain/customers.h"
#include "domain/events.h"
#include "domain/ledger.h"
#include "domain/tiers.h"
#include "domain/touchpoints.h"
#include "text/text.h"

#define DEMO_CUSTOMERS_MAX 1000000
#define DEMO_BATCH_EVENTS  500 /* events per write transaction */
#define DEMO_EVENTS_MAX    400 /* per customer: keeps the heaviest buyer bounded */
#define DAY_MS             (24LL * 3600 * 1000)
#define DEMO_SPAN_MS       (730 * DAY_MS)
#define TZ_CN_MS           (8LL * 3600 * 1000) /* China Standard Time, UTC+8 */

/* ---- a small deterministic generator (splitmix64): the same seed gives the
 * same data on every machine, unlike rand() ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n). */
static uint32_t rng_below(rng *r, uint32_t n) {
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform in [0, 1). */
static double rng_unit(rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

static bool rng_chance(rng *r, double p) { return rng_unit(r) < p; }

/* Picks an index by integer weights. */
static int rng_weighted(rng *r, const int *w, int n) {
    int total = 0;
    for (int i = 0; i < n; i++) total += w[i];
    int x = (int)rng_below(r, (uint32_t)total);
    for (int i = 0; i < n; i++) {
        if (x < w[i]) return i;
        x -= w[i];
    }
    return n - 1;
}

#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- the world the demo lives in ---- */

/* Surnames by rough frequency (the census top of the list is heavier). */
static const struct {
    const char *han, *pinyin;
    int weight;
} SURNAMES[] = {
    {"王", "wang", 72}, {"李", "li", 70},   {"张", "zhang", 66},   {"刘", "liu", 54},
    {"陈", "chen", 45}, {"杨", "yang", 31}, {"黄", "huang", 24},   {"赵", "zhao", 22},
    {"吴", "wu", 21},   {"周", "zhou", 21}, {"徐", "xu", 16},      {"孙", "sun", 15},
    {"马", "ma", 14},   {"朱", "zhu", 13},  {"胡", "hu", 12},      {"郭", "guo", 12},
    {"何", "he", 11},   {"林", "lin", 10},  {"罗", "luo", 10},     {"高", "gao", 10},
    {"郑", "zheng", 8}, {"梁", "liang", 8}, {"谢", "xie", 7},      {"宋", "song", 7},
    {"唐", "tang", 7},  {"许", "xu", 6},    {"韩", "han", 6},      {"冯", "feng", 6},
    {"邓", "deng", 6},  {"曹", "cao", 6},   {"彭", "peng", 5},     {"曾", "zeng", 5},
    {"田", "tian", 4},  {"董", "dong", 4},  {"潘", "pan", 4},      {"袁", "yuan", 4},
    {"蔡", "cai", 4},   {"蒋", "jiang", 4}, {"余", "yu", 4},       {"叶", "ye", 4},
    {"程", "cheng", 3}, {"魏", "wei", 3},   {"苏", "su", 3},       {"吕", "lv", 3},
    {"丁", "ding", 3},  {"任", "ren", 3},   {"沈", "shen", 3},     {"姚", "yao", 3},
    {"钟", "zhong", 3}, {"崔", "cui", 2},   {"谭", "tan", 2},      {"陆", "lu", 2},
    {"范", "fan", 2},   {"金", "jin", 2},   {"欧阳", "ouyang", 1}, {"司马", "sima", 1},
};

static const char *const GIVEN_MALE[] = {"伟", "强", "磊", "军", "勇", "杰", "涛", "斌", "超",
                                         "明", "刚", "平", "辉", "鹏", "华", "飞", "鑫", "波",
                                         "宇", "浩", "凯", "健", "俊", "帆", "旭", "宁", "龙",
                                         "阳", "晨", "博", "文", "轩", "泽", "睿", "昊", "天"};
static const char *const GIVEN_FEMALE[] = {"芳", "娜", "敏", "静", "丽", "艳", "娟", "霞", "秀",
                                           "玲", "婷", "雪", "慧", "颖", "琳", "洁", "倩", "晶",
                                           "欣", "怡", "佳", "萱", "梦", "琪", "雨", "涵", "诗",
                                           "悦", "思", "月", "妍", "瑶", "璐", "蕾", "薇", "彤"};

static const struct {
    const char *name;
    int weight;
    const char *store; /* the brand's flagship store there */
} CITIES[] = {
    {"上海", 14, "上海南京西路店"}, {"北京", 13, "北京三里屯店"},  {"深圳", 10, "深圳万象城店"},
    {"广州", 9, "广州天河城店"},    {"杭州", 9, "杭州湖滨银泰店"}, {"成都", 8, "成都太古里店"},
    {"武汉", 6, "武汉楚河汉街店"},  {"南京", 6, "南京新街口店"},   {"西安", 5, "西安赛格店"},
    {"重庆", 5, "重庆解放碑店"},    {"苏州", 4, "苏州观前街店"},   {"天津", 4, "天津滨江道店"},
    {"长沙", 3, "长沙五一广场店"},  {"郑州", 3, "郑州二七广场店"}, {"青岛", 3, "青岛万象城店"},
    {"厦门", 2, "厦门中山路店"},    {"宁波", 2, "宁波天一广场店"}, {"合肥", 2, "合肥淮河路店"},
    {"昆明", 2, "昆明南屏街店"},    {"沈阳", 2, "沈阳中街店"},
};

static const char *const MOBILE_PREFIXES[] = {
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
    "152", "155", "156", "157", "158", "159", "166", "170", "176", "177", "180",
    "181", "182", "185", "186", "187", "188", "189", "191", "198", "199"};

static const char *const MAIL_DOMAINS[] = {"163.com",     "126.com",   "sina.com", "foxmail.com",
                                           "outlook.com", "gmail.com", "139.com"};

/* The touchpoint inventory: code, name, channel, purpose, cost per month in fen. */
static const struct {
    const char *code, *name, *channel, *purpose;
    int64_t cost_month_fen;
} TOUCHPOINTS[] = {
    {"wechat", "微信服务号", "wechat", "service", 1200000},
    {"weibo", "官方微博", "weibo", "marketing", 1800000},
    {"web", "官网", "web", "marketing", 600000},
    {"app", "品牌App", "app", "service", 2500000},
    {"store", "门店", "store", "service", 15000000},
    {"call_centre", "客服热线", "call_centre", "service", 3500000},
    {"roadshow", "商场路演", "roadshow", "marketing", 6000000},
    {"email", "会员邮件", "email", "marketing", 80000},
    {"sms", "短信营销", "sms", "marketing", 450000},
};

/* Where a customer first met the brand: membership source, the touchpoint of
 * the first event, the channel they buy on. */
static const struct {
    const char *source, *first_tp, *buy_tp;
    int weight;
} SOURCES[] = {
    {"微信小程序", "wechat", "wechat", 30}, {"品牌App", "app", "app", 20},
    {"官网注册", "web", "web", 15},         {"门店注册", "store", "store", 22},
    {"商场路演", "roadshow", "store", 6},   {"微博活动", "weibo", "web", 7},
};

#define NCATS 6
static const char *const CATEGORIES[NCATS] = {"服装", "鞋履", "美妆", "食品", "数码", "家居"};
static const int CATEGORY_WEIGHT[NCATS] = {26, 14, 20, 18, 10, 12};
static const char *const CATEGORY_TAG[NCATS] = {"时尚达人", "运动达人", "美妆爱好者",
                                                "吃货",     "数码控",   "家居控"};

typedef struct sku {
    const char *code, *name;
    int cat;
    int64_t price_fen;
    const char *companion; /* often bought together with this one, or NULL */
} sku;

static const sku CATALOG[] = {
    {"FZ001", "纯棉圆领T恤", 0, 9900, "FZ002"}, {"FZ002", "修身牛仔裤", 0, 25900, "FZ001"},
    {"FZ003", "轻薄羽绒服", 0, 69900, "FZ006"}, {"FZ004", "真丝连衣裙", 0, 45900, NULL},
    {"FZ005", "商务衬衫", 0, 19900, "FZ007"},   {"FZ006", "羊毛围巾", 0, 15900, NULL},
    {"FZ007", "休闲西装", 0, 89900, "FZ005"},   {"FZ008", "运动卫衣", 0, 22900, "XL002"},
    {"XL001", "跑步鞋", 1, 59900, "XL005"},     {"XL002", "帆布鞋", 1, 29900, NULL},
    {"XL003", "真皮乐福鞋", 1, 79900, NULL},    {"XL004", "儿童运动鞋", 1, 25900, NULL},
    {"XL005", "运动袜三双装", 1, 3900, NULL},   {"XL006", "短靴", 1, 69900, NULL},
    {"MZ001", "保湿精华液", 2, 39900, "MZ002"}, {"MZ002", "补水面膜十片", 2, 12900, "MZ001"},
    {"MZ003", "哑光口红", 2, 23000, NULL},      {"MZ004", "防晒霜", 2, 18900, "MZ005"},
    {"MZ005", "卸妆水", 2, 9900, NULL},         {"MZ006", "气垫粉底", 2, 32900, "MZ003"},
    {"MZ007", "香水礼盒", 2, 89000, NULL},      {"SP001", "挂耳咖啡二十包", 3, 6900, "JJ004"},
    {"SP002", "每日坚果礼盒", 3, 12800, NULL},  {"SP003", "西湖龙井茶", 3, 29800, NULL},
    {"SP004", "五常大米5kg", 3, 8900, NULL},    {"SP005", "手工月饼礼盒", 3, 19800, "SP003"},
    {"SP006", "进口牛奶整箱", 3, 7900, NULL},   {"SP007", "黑巧克力", 3, 4500, NULL},
    {"SM001", "蓝牙耳机", 4, 49900, "SM004"},   {"SM002", "智能手表", 4, 129900, NULL},
    {"SM003", "充电宝", 4, 15900, "SM004"},     {"SM004", "快充数据线", 4, 4900, NULL},
    {"SM005", "机械键盘", 4, 39900, NULL},      {"JJ001", "乳胶枕", 5, 29900, "JJ002"},
    {"JJ002", "纯棉四件套", 5, 49900, "JJ001"}, {"JJ003", "香薰蜡烛", 5, 8900, NULL},
    {"JJ004", "陶瓷马克杯", 5, 5900, NULL},     {"JJ005", "收纳箱三件套", 5, 11900, NULL},
    {"JJ006", "落地灯", 5, 35900, NULL},
};

static const char *const REVIEWS_GOOD[] = {"质量很好，物流也快", "很满意，会回购",
                                           "包装精美，送人很合适", "性价比高，推荐",
                                           "和描述一致，好评"};
static const char *const REVIEWS_BAD[] = {"一般般，和图片有差距", "尺码偏小", "物流太慢了"};
static const char *const REFUND_REASONS[] = {"尺码不合适", "不喜欢颜色", "质量问题", "买多了",
                                             "七天无理由退货"};
static const char *const LIFE_TAGS[] = {"学生", "白领", "宝妈", "退休", "企业主"};

/* ---- one customer's generated history ---- */

typedef struct gen_event {
    int64_t at;
    int seq;      /* creation order, to keep sorting stable */
    json_t *json; /* the event; "customer" is filled in at processing time */
} gen_event;

typedef struct gen_customer {
    hd_ident ids[3];
    int nids;
    json_t *fields; /* name, city, attributes, tags, consent for a new customer */
    gen_event *events;
    int nevents, cap;
    int64_t end; /* no event after this: the history ends when the demo runs */
} gen_customer;

typedef struct gen_ctx {
    unsigned seed;
    int64_t now, start;
} gen_ctx;

static void time_str(int64_t ms, char out[32]) { hd_time_format(ms, out); }

static json_t *event_new(gen_customer *gc, const char *type, const char *tp, int64_t at,
                         json_t *props, const char *key) {
    if (gc->nevents == DEMO_EVENTS_MAX) {
        json_decref(props);
        return NULL;
    }
    if (gc->nevents == gc->cap) {
        int cap = gc->cap ? gc->cap * 2 : 32;
        gen_event *p = realloc(gc->events, sizeof *p * (size_t)cap);
        if (!p) {
            json_decref(props);
            return NULL;
        }
        gc->events = p;
        gc->cap = cap;
    }
    if (at > gc->end) at = gc->end; /* a check-in "later today" has not happened yet */
    char ts[32];
    time_str(at, ts);
    json_t *e = json_object();
    json_object_set_new(e, "type", json_string(type));
    json_object_set_new(e, "touchpoint", json_string(tp));
    json_object_set_new(e, "occurred_at", json_string(ts));
    json_object_set_new(e, "properties", props ? props : json_object());
    json_object_set_new(e, "key", json_string(key));
    gc->events[gc->nevents].at = at;
    gc->events[gc->nevents].seq = gc->nevents;
    gc->events[gc->nevents].json = e;
    gc->nevents++;
    return e;
}

/* A local time of day weighted to when people shop (lunch, evening), as an
 * offset from local midnight. */
static int64_t shopping_time_of_day(rng *r) {
    static const int hour_w[24] = {2,  1,  1, 1, 1, 1, 2,  4,  6,  7,  8,  9,
                                   12, 10, 8, 8, 8, 9, 10, 13, 16, 17, 14, 6};
    int h = rng_weighted(r, hour_w, 24);
    return (int64_t)h * 3600000 + (int64_t)rng_below(r, 3600000);
}

/* Moves t to the same local day at a shopping hour. */
static int64_t at_shopping_hour(rng *r, int64_t t) {
    int64_t local = t + TZ_CN_MS;
    int64_t day = local - (local % DAY_MS + DAY_MS) % DAY_MS;
    return day + shopping_time_of_day(r) - TZ_CN_MS;
}

/* Snaps t to the nearest earlier big sales day (6.18, 11.11, 12.12) when one
 * is within 12 days, which gives the order curve its real-world spikes. */
static int64_t promo_snap(int64_t t, int64_t lo, bool *snapped) {
    *snapped = false;
    int64_t days = (t + TZ_CN_MS) / DAY_MS;
    int y, m, d;
    hd_civil_from_days(days, &y, &m, &d);
    static const int promo[][2] = {{6, 18}, {11, 11}, {12, 12}};
    for (int i = 0; i < 3; i++) {
        int64_t pd = hd_days_from_civil(y, promo[i][0], promo[i][1]);
        if (pd <= days && days - pd <= 12) {
            int64_t at = pd * DAY_MS - TZ_CN_MS + (t + TZ_CN_MS) % DAY_MS;
            if (at >= lo) {
                *snapped = true;
                return at;
            }
        }
    }
    return t;
}

static int pick_sku(rng *r, int cat) {
    int idx[16], n = 0;
    for (int i = 0; i < NELEM(CATALOG) && n < 16; i++)
        if (CATALOG[i].cat == cat) idx[n++] = i;
    /* popularity falls off: the first items of a category sell most */
    double u = rng_unit(r);
    return idx[(int)(u * u * n)];
}

static int sku_index(const char *code) {
    for (int i = 0; i < NELEM(CATALOG); i++)
        if (strcmp(CATALOG[i].code, code) == 0) return i;
    return -1;
}

static void add_line(json_t *lines, int s, int qty, bool promo, int64_t *total) {
    int64_t amount = CATALOG[s].price_fen * qty;
    if (promo) amount = amount * 85 / 100; /* the campaign discount */
    json_t *l = json_object();
    json_object_set_new(l, "sku", json_string(CATALOG[s].code));
    json_object_set_new(l, "name", json_string(CATALOG[s].name));
    json_object_set_new(l, "category", json_string(CATEGORIES[CATALOG[s].cat]));
    json_object_set_new(l, "qty", json_integer(qty));
    json_object_set_new(l, "amount", json_integer(amount));
    json_array_append_new(lines, l);
    *total += amount;
}

static int by_time(const void *a, const void *b) {
    const gen_event *x = a, *y = b;
    if (x->at != y->at) return x->at < y->at ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Generates customer number i (0-based): identities, profile and history.
 * Only the seed and i decide what comes out; times are relative to now. */
static hd_rc gen_customer_make(const gen_ctx *g, int i, gen_customer *gc, hd_err *err) {
    memset(gc, 0, sizeof *gc);
    rng r = {((uint64_t)g->seed << 32) ^ (uint64_t)i * 0x9E3779B97F4A7C15ull ^ 0x68756475ull};
    rng_next(&r);
    char key[96], ts[32];

    /* who */
    int sw[NELEM(SURNAMES)];
    for (int k = 0; k < NELEM(SURNAMES); k++) sw[k] = SURNAMES[k].weight;
    int sn = rng_weighted(&r, sw, NELEM(SURNAMES));
    bool female = rng_chance(&r, 0.56);
    const char *const *given = female ? GIVEN_FEMALE : GIVEN_MALE;
    int ng = female ? NELEM(GIVEN_FEMALE) : NELEM(GIVEN_MALE);
    char name[64];
    if (rng_chance(&r, 0.35))
        snprintf(name, sizeof name, "%s%s", SURNAMES[sn].han, given[rng_below(&r, (uint32_t)ng)]);
    else
        snprintf(name, sizeof name, "%s%s%s", SURNAMES[sn].han, given[rng_below(&r, (uint32_t)ng)],
                 given[rng_below(&r, (uint32_t)ng)]);
    int cw[NELEM(CITIES)];
    for (int k = 0; k < NELEM(CITIES); k++) cw[k] = CITIES[k].weight;
    int city = rng_weighted(&r, cw, NELEM(CITIES));

    /* identities: unique by construction (the number part is a bijection of i) */
    uint64_t suffix = ((uint64_t)i * 48271u + (uint64_t)g->seed * 7919u) % 100000000u;
    snprintf(gc->ids[0].type, sizeof gc->ids[0].type, "phone");
    snprintf(gc->ids[0].value, sizeof gc->ids[0].value, "+86%s%08llu",
             MOBILE_PREFIXES[rng_below(&r, NELEM(MOBILE_PREFIXES))], (unsigned long long)suffix);
    gc->nids = 1;
    bool has_email = rng_chance(&r, 0.45);
    if (has_email) {
        uint64_t num = ((uint64_t)i * 7919u + (uint64_t)g->seed) % 10000000u;
        snprintf(gc->ids[1].type, sizeof gc->ids[1].type, "email");
        if (rng_chance(&r, 0.4))
            snprintf(gc->ids[1].value, sizeof gc->ids[1].value, "%llu@qq.com",
                     (unsigned long long)(100000000u + num));
        else
            snprintf(gc->ids[1].value, sizeof gc->ids[1].value, "%s%llu@%s", SURNAMES[sn].pinyin,
                     (unsigned long long)num, MAIL_DOMAINS[rng_below(&r, NELEM(MAIL_DOMAINS))]);
        gc->nids++;
    }
    int srcw[NELEM(SOURCES)];
    for (int k = 0; k < NELEM(SOURCES); k++) srcw[k] = SOURCES[k].weight;
    int src = rng_weighted(&r, srcw, NELEM(SOURCES));
    bool wechat = strcmp(SOURCES[src].first_tp, "wechat") == 0 || rng_chance(&r, 0.3);
    if (wechat) {
        snprintf(gc->ids[gc->nids].type, sizeof gc->ids[0].type, "wechat_openid");
        snprintf(gc->ids[gc->nids].value, sizeof gc->ids[0].value, "oDm%08x%012llx",
                 (unsigned)g->seed, (unsigned long long)(((uint64_t)i << 16) ^ suffix));
        gc->nids++;
    }

    /* how they buy: many browse only or buy once, a few buy a lot */
    int norders;
    double u = rng_unit(&r);
    int segment; /* 0 browser, 1 one-time, 2 repeat, 3 loyal */
    if (u < 0.28)
        segment = 0, norders = 0;
    else if (u < 0.68)
        segment = 1, norders = 1;
    else if (u < 0.91)
        segment = 2, norders = 2 + (int)rng_below(&r, 4);
    else
        segment = 3, norders = 6 + (int)(24.0 * rng_unit(&r) * rng_unit(&r) * rng_unit(&r) * 3);
    int fav = rng_weighted(&r, CATEGORY_WEIGHT, NCATS);

    /* when they arrived: more recent arrivals as the programme grows; loyal
     * customers have been around longer */
    double a = rng_unit(&r);
    double frac = segment == 3 ? a * 0.7 : 0.5 * a + 0.5 * sqrt(a);
    int64_t t0 = g->start + (int64_t)(frac * (double)(DEMO_SPAN_MS - 3 * DAY_MS));
    t0 = at_shopping_hour(&r, t0);
    int64_t end = g->now - 2 * 60 * 1000;
    if (t0 >= end) t0 = end - DAY_MS;
    gc->end = end;
    /* repeat buyers stay active for a while, then many drift away */
    int64_t active_end = end;
    if (segment == 2 && rng_chance(&r, 0.6))
        active_end = t0 + 60 * DAY_MS + (int64_t)(rng_unit(&r) * (double)(DEMO_SPAN_MS / 2));
    if (active_end > end) active_end = end;

    /* profile */
    json_t *f = json_object();
    json_object_set_new(f, "name", json_string(name));
    json_object_set_new(f, "city", json_string(CITIES[city].name));
    json_t *attrs = json_object();
    json_object_set_new(attrs, "gender", json_string(female ? "female" : "male"));
    int age = 18 + (int)(rng_unit(&r) * rng_unit(&r) * 45) + (int)rng_below(&r, 5);
    int y, m, d;
    hd_civil_from_days(g->now / DAY_MS, &y, &m, &d);
    json_object_set_new(attrs, "birth_year", json_integer(y - age));
    json_object_set_new(attrs, "source", json_string(SOURCES[src].source));
    json_object_set_new(f, "attributes", attrs);
    json_t *tags = json_array();
    if (segment >= 1) json_array_append_new(tags, json_string(CATEGORY_TAG[fav]));
    if (segment == 3) json_array_append_new(tags, json_string("VIP"));
    if (rng_chance(&r, 0.3))
        json_array_append_new(tags, json_string(LIFE_TAGS[rng_below(&r, NELEM(LIFE_TAGS))]));
    if (segment == 1 && rng_chance(&r, 0.3)) json_array_append_new(tags, json_string("价格敏感"));
    json_object_set_new(f, "tags", tags);
    json_t *consent = json_object();
    time_str(t0, ts);
    static const char *const chans[] = {"sms", "email", "wechat"};
    double granted_p[] = {0.72, 0.6, 0.9};
    for (int k = 0; k < 3; k++) {
        if (k == 1 && !has_email) continue;
        if (k == 2 && !wechat) continue;
        json_t *c = json_object();
        json_object_set_new(c, "granted", json_boolean(rng_chance(&r, granted_p[k])));
        json_object_set_new(c, "at", json_string(ts));
        json_object_set_new(c, "source", json_string(SOURCES[src].source));
        json_object_set_new(consent, chans[k], c);
    }
    json_object_set_new(f, "consent", consent);
    gc->fields = f;

    /* history */
    const char *buy_tp = SOURCES[src].buy_tp;
    int n = 0; /* event number within this customer, for keys */
#define KEY() (snprintf(key, sizeof key, "demo:%u:%d:%d", g->seed, i, n++), key)
    json_t *p = json_object();
    const char *first_tp = SOURCES[src].first_tp;
    if (strcmp(first_tp, "wechat") == 0 || strcmp(first_tp, "weibo") == 0) {
        json_object_set_new(
            p, "account",
            json_string(strcmp(first_tp, "wechat") == 0 ? "品牌微信服务号" : "品牌官方微博"));
        event_new(gc, "follow", first_tp, t0, p, KEY());
    } else if (strcmp(first_tp, "store") == 0 || strcmp(first_tp, "roadshow") == 0) {
        json_object_set_new(p, "store", json_string(CITIES[city].store));
        event_new(gc, "checkin", first_tp, t0, p, KEY());
    } else {
        json_object_set_new(p, "page", json_string("/"));
        json_object_set_new(p, "title", json_string("首页"));
        event_new(gc, "page.view", first_tp, t0, p, KEY());
    }
    if (segment == 0) {
        int views = 1 + (int)rng_below(&r, 8);
        for (int k = 0; k < views; k++) {
            int64_t at = t0 + (int64_t)(rng_unit(&r) * (double)(end - t0));
            int s = pick_sku(&r, rng_chance(&r, 0.6) ? fav : (int)rng_below(&r, NCATS));
            p = json_object();
            char page[64];
            snprintf(page, sizeof page, "/products/%s", CATALOG[s].code);
            json_object_set_new(p, "page", json_string(page));
            json_object_set_new(p, "title", json_string(CATALOG[s].name));
            event_new(gc, "page.view", rng_chance(&r, 0.5) ? "app" : "web", at, p, KEY());
        }
    }
    int browse = segment == 0 ? 0 : (int)rng_below(&r, 4);
    for (int k = 0; k < browse; k++) {
        int s = pick_sku(&r, rng_chance(&r, 0.5) ? fav : (int)rng_below(&r, NCATS));
        p = json_object();
        char page[64];
        snprintf(page, sizeof page, "/products/%s", CATALOG[s].code);
        json_object_set_new(p, "page", json_string(page));
        json_object_set_new(p, "title", json_string(CATALOG[s].name));
        event_new(gc, "page.view", rng_chance(&r, 0.6) ? "app" : "web",
                  t0 + (int64_t)(rng_unit(&r) * (double)(end - t0)), p, KEY());
    }
    for (int o = 0; o < norders; o++) {
        /* the first order comes soon after arrival; later ones spread over
         * the time the customer stays active */
        int64_t at;
        if (o == 0)
            at = t0 + (int64_t)(-log(1.0 - rng_unit(&r)) * 6.0 * (double)DAY_MS);
        else
            at = t0 + (int64_t)(rng_unit(&r) * (double)(active_end - t0));
        at = at_shopping_hour(&r, at);
        if (at < t0) at = t0 + 60000;
        /* one that would come after today comes back round into the time the
         * customer has been here (all on the last minute, they made a spike) */
        if (at > end) at = t0 + (at - t0) % (end - t0 + 1);
        /* a discounted order, moved to a sales day when one is near: whether
         * it is discounted comes from the seed alone, so amounts do not
         * depend on today's date, only times do */
        bool promo = rng_chance(&r, 0.35), sales_day = false;
        if (promo) at = promo_snap(at, t0, &sales_day);
        const char *tp = rng_chance(&r, 0.75) ? buy_tp : (rng_chance(&r, 0.5) ? "app" : "web");
        /* look before buying: views in the hours before, on the same touchpoint */
        int first =
            pick_sku(&r, rng_chance(&r, 0.7) ? fav : rng_weighted(&r, CATEGORY_WEIGHT, NCATS));
        int views = (int)rng_below(&r, 3);
        for (int k = 0; k < views; k++) {
            p = json_object();
            char page[64];
            snprintf(page, sizeof page, "/products/%s", CATALOG[first].code);
            json_object_set_new(p, "page", json_string(page));
            json_object_set_new(p, "title", json_string(CATALOG[first].name));
            int64_t vt = at - 60000 - (int64_t)rng_below(&r, 36 * 3600 * 1000);
            if (vt < t0) vt = t0;
            event_new(gc, "page.view", strcmp(tp, "store") == 0 ? "app" : tp, vt, p, KEY());
        }
        json_t *lines = json_array();
        int64_t total = 0;
        static const int nlines_w[] = {55, 25, 12, 5, 3};
        int nl = 1 + rng_weighted(&r, nlines_w, 5);
        static const int qty_w[] = {80, 15, 5};
        add_line(lines, first, 1 + rng_weighted(&r, qty_w, 3), promo, &total);
        bool used[NELEM(CATALOG)] = {false};
        used[first] = true;
        if (CATALOG[first].companion && rng_chance(&r, 0.4)) {
            int c = sku_index(CATALOG[first].companion);
            if (c >= 0 && !used[c]) {
                add_line(lines, c, 1, promo, &total);
                used[c] = true;
            }
        }
        for (int k = (int)json_array_size(lines); k < nl; k++) {
            int s =
                pick_sku(&r, rng_chance(&r, 0.5) ? fav : rng_weighted(&r, CATEGORY_WEIGHT, NCATS));
            if (used[s]) continue;
            used[s] = true;
            add_line(lines, s, 1 + rng_weighted(&r, qty_w, 3), promo, &total);
        }
        char order_id[40];
        snprintf(order_id, sizeof order_id, "DM%u%07d%03d", g->seed % 1000u, i, o);
        p = json_object();
        json_object_set_new(p, "order_id", json_string(order_id));
        json_object_set_new(p, "amount", json_integer(total));
        json_object_set_new(p, "currency", json_string("CNY"));
        json_object_set_new(p, "lines", lines);
        if (promo) json_object_set_new(p, "campaign", json_string(sales_day ? "大促" : "会员日"));
        event_new(gc, "order.paid", tp, at, p, KEY());
        int64_t later = at + DAY_MS + (int64_t)rng_below(&r, (uint32_t)(13 * DAY_MS));
        if (later > end) later = at + (end - at) / 2;
        if (rng_chance(&r, 0.06)) {
            p = json_object();
            json_object_set_new(p, "order_id", json_string(order_id));
            json_object_set_new(p, "reason",
                                json_string(REFUND_REASONS[rng_below(&r, NELEM(REFUND_REASONS))]));
            event_new(gc, "order.refunded", strcmp(tp, "store") == 0 ? "store" : "call_centre",
                      later, p, KEY());
        } else if (rng_chance(&r, 0.3)) {
            int stars =
                rng_chance(&r, 0.85) ? 4 + (int)rng_below(&r, 2) : 1 + (int)rng_below(&r, 3);
            p = json_object();
            json_object_set_new(p, "sku", json_string(CATALOG[first].code));
            json_object_set_new(p, "rating", json_integer(stars));
            json_object_set_new(p, "text",
                                json_string(stars >= 4
                                                ? REVIEWS_GOOD[rng_below(&r, NELEM(REVIEWS_GOOD))]
                                                : REVIEWS_BAD[rng_below(&r, NELEM(REVIEWS_BAD))]));
            event_new(gc, "review", strcmp(tp, "store") == 0 ? "app" : tp, later, p, KEY());
        }
        if (rng_chance(&r, 0.12)) {
            p = json_object();
            json_object_set_new(p, "sku", json_string(CATALOG[first].code));
            json_object_set_new(p, "to", json_string(rng_chance(&r, 0.7) ? "朋友圈" : "微博"));
            event_new(gc, "share", rng_chance(&r, 0.7) ? "wechat" : "weibo",
                      at + (int64_t)rng_below(&r, 3600 * 1000), p, KEY());
        }
    }
    /* store regulars check in now and then */
    if (strcmp(buy_tp, "store") == 0 && segment >= 2) {
        int visits = (int)rng_below(&r, 6);
        for (int k = 0; k < visits; k++) {
            p = json_object();
            json_object_set_new(p, "store", json_string(CITIES[city].store));
            event_new(gc, "checkin", "store",
                      at_shopping_hour(&r, t0 + (int64_t)(rng_unit(&r) * (double)(end - t0))), p,
                      KEY());
        }
    }
#undef KEY
    /* chronological, so a refund always follows its order */
    qsort(gc->events, (size_t)gc->nevents, sizeof *gc->events, by_time);
    return HD_OK;
}

static void gen_customer_free(gen_customer *gc) {
    json_decref(gc->fields);
    for (int k = 0; k < gc->nevents; k++) json_decref(gc->events[k].json);
    free(gc->events);
    memset(gc, 0, sizeof *gc);
}

/* ---- loading ---- */

typedef struct batch {
    hd_domain *d;
    gen_customer *cs;
    int n, cap;
    int nevents;
    /* what the committed batch did */
    int64_t orders, revenue;
} batch;

/* What the scheduled jobs would have done to one member between two of their
 * events, or after the last: the tier job's look every TIER_LOOK_MS (falling
 * below a tier's threshold starts the grace period, and a member still below
 * when it ends goes down) and the ledger job at each month's end (points
 * earned a year before expire). Replayed at those times, from `from` up to
 * `to`, so downgrades and expiries fall through the history instead of in a
 * wave on the demo's first day. Members without a tier are left alone by the
 * tier job, as it leaves them. */
#define TIER_LOOK_MS (7 * DAY_MS)
/* The last millisecond of the brand's month holding t. */
static int64_t month_end_of(int off, int64_t t) {
    return hd_cal_day_ms(off, hd_month_first(hd_cal_day(off, t), 1)) - 1;
}

static hd_rc replay_jobs(hd_conn *c, hd_domain *d, int64_t cid, int64_t from, int64_t to,
                         hd_err *err) {
    int off = hd_clock_utc_offset(d->clock);
    int64_t look = from + TIER_LOOK_MS, month_end = month_end_of(off, from);
    if (look >= to && month_end >= to) return HD_OK; /* most gaps: nothing came due */
    hd_val p = hd_vint(cid);
    int64_t tiered;
    hd_rc rc = hd_query_int(c, "SELECT count(*) FROM customer_tiers WHERE customer_id = ?", &p, 1,
                            &tiered, err);
    while (!rc) {
        bool tier = tiered && look < to && look <= month_end;
        int64_t t = tier ? look : month_end;
        if (t >= to) break;
        hd_clock_set_ms(d->clock, t);
        if (tier) {
            rc = hd_tier_evaluate_in(c, d, cid, err);
            look += TIER_LOOK_MS;
        } else {
            rc = hd_ledger_expire_due_in(c, d, cid, err);
            month_end = month_end_of(off, month_end + 1);
        }
    }
    return rc;
}

/* Runs in one write transaction; may run again on a PostgreSQL retry, so it
 * keeps nothing but what it recomputes each time. The domain's clock is the
 * demo's own test clock here (hd_demo_fill), set to each customer's arrival
 * and then to each event's time: points are earned, tiers reached and
 * members joined when the history says, not all on the day the demo ran. */
static hd_rc batch_cb(hd_conn *c, void *vctx, hd_err *err) {
    batch *b = vctx;
    for (int i = 0; i < b->n; i++) {
        gen_customer *gc = &b->cs[i];
        int64_t cid;
        bool created;
        if (gc->nevents) hd_clock_set_ms(b->d->clock, gc->events[0].at);
        hd_rc rc = hd_customer_resolve(c, b->d, gc->ids, gc->nids, gc->fields, &cid, &created, err);
        if (rc) return rc;
        char sid[24];
        hd_id_format(cid, sid);
        for (int k = 0; k < gc->nevents; k++) {
            json_t *e = gc->events[k].json;
            if (k && (rc = replay_jobs(c, b->d, cid, gc->events[k - 1].at, gc->events[k].at, err)))
                return rc;
            hd_clock_set_ms(b->d->clock, gc->events[k].at);
            json_object_set_new(e, "customer", json_string(sid));
            bool dup;
            rc = hd_event_process(c, b->d, e, NULL, NULL, &dup, err);
            if (rc) {
                hd_err_prefix(err, json_string_value(json_object_get(e, "key")), ": ");
                return rc;
            }
        }
        if (gc->nevents &&
            (rc = replay_jobs(c, b->d, cid, gc->events[gc->nevents - 1].at, gc->end, err)))
            return rc;
    }
    return HD_OK;
}

typedef struct count_ctx {
    int64_t n;
} count_ctx;

static hd_rc count_cb(hd_conn *c, void *vctx, hd_err *err) {
    count_ctx *cc = vctx;
    return hd_query_int(c, "SELECT count(*) FROM customers", NULL, 0, &cc->n, err);
}

static hd_rc add_touchpoints(hd_domain *d, hd_err *err) {
    for (int i = 0; i < NELEM(TOUCHPOINTS); i++) {
        json_t *in = json_object();
        json_object_set_new(in, "code", json_string(TOUCHPOINTS[i].code));
        json_object_set_new(in, "name", json_string(TOUCHPOINTS[i].name));
        json_object_set_new(in, "channel", json_string(TOUCHPOINTS[i].channel));
        json_object_set_new(in, "purpose", json_string(TOUCHPOINTS[i].purpose));
        json_object_set_new(in, "cost_month", json_integer(TOUCHPOINTS[i].cost_month_fen));
        int status;
        json_t *out = NULL;
        hd_rc rc = hd_touchpoint_create(d, NULL, in, &status, &out, NULL, err);
        json_decref(in);
        json_decref(out);
        if (rc == HD_ECONFLICT) { /* an operator made it already: keep theirs */
            hd_err_clear(err);
            continue;
        }
        if (rc) return rc;
    }
    return HD_OK;
}

/* The two years of history, run on d's clock as it is set (see batch_cb). */
static hd_rc fill_history(hd_domain *d, int customers, const gen_ctx *gp, FILE *progress,
                          hd_err *err) {
    gen_ctx g = *gp;
    hd_rc rc = HD_OK;
    batch b = {.d = d, .cap = 64};
    b.cs = calloc((size_t)b.cap, sizeof *b.cs);
    if (!b.cs) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    bool tty = progress && isatty(fileno(progress));
    int64_t events = 0, t0 = hd_mono_ms();
    int last_pct = -1;
    for (int i = 0; i < customers && !rc; i++) {
        if (b.n == b.cap) {
            int cap = b.cap * 2;
            gen_customer *p = realloc(b.cs, sizeof *p * (size_t)cap);
            if (!p) {
                rc = hd_err_set(err, HD_ENOMEM, "", "out of memory");
                break;
            }
            b.cs = p;
            b.cap = cap;
        }
        if ((rc = gen_customer_make(&g, i, &b.cs[b.n], err))) {
            gen_customer_free(&b.cs[b.n]);
            break;
        }
        b.nevents += b.cs[b.n].nevents;
        b.n++;
        if (b.nevents < DEMO_BATCH_EVENTS && i + 1 < customers) continue;
        rc = hd_store_write(d->store, batch_cb, &b, err);
        events += b.nevents;
        for (int k = 0; k < b.n; k++) gen_customer_free(&b.cs[k]);
        b.n = b.nevents = 0;
        int pct = (int)((int64_t)(i + 1) * 100 / customers);
        if (progress && !rc && (tty || pct / 10 != last_pct / 10 || i + 1 == customers)) {
            fprintf(progress, "%sdemo: %d/%d customers, %lld events (%d%%)%s", tty ? "\r" : "",
                    i + 1, customers, (long long)events, pct, tty ? "" : "\n");
            fflush(progress);
        }
        last_pct = pct;
    }
    if (progress && tty) fputc('\n', progress);
    for (int k = 0; k < b.n; k++) gen_customer_free(&b.cs[k]);
    free(b.cs);
    if (!rc && progress)
        fprintf(progress, "demo: loaded %d customers and %lld events in %.1f s\n", customers,
                (long long)events, (double)(hd_mono_ms() - t0) / 1000.0);
    return rc;
}

hd_rc hd_demo_fill(hd_domain *d, int customers, unsigned seed, FILE *progress, hd_err *err) {
    if (customers < 1 || customers > DEMO_CUSTOMERS_MAX)
        return hd_err_set(err, HD_EINVAL, "customers", "must be 1 to %d, got %d",
                          DEMO_CUSTOMERS_MAX, customers);
    count_ctx cc = {0};
    hd_rc rc = hd_store_read(d->store, count_cb, &cc, err);
    if (rc) return rc;
    if (cc.n > 0) return HD_OK; /* not empty: the demo never touches real data */
    if ((rc = add_touchpoints(d, err))) return rc;

    /* The programme starts two years ago and the history runs on a clock of
     * its own; the server's clock comes back for what the brand has on offer
     * today. Nothing else runs yet: serve starts its threads after this. */
    int64_t now = hd_now(d);
    gen_ctx g = {seed, now, now - DEMO_SPAN_MS};
    hd_clock *real = d->clock, *past = hd_clock_new(true, g.start);
    if (!past) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_clock_set_utc_offset(past, hd_clock_utc_offset(real));
    d->clock = past;
    rc = hd_demo_points_before(d, err);
    if (!rc) rc = fill_history(d, customers, &g, progress, err);
    d->clock = real;
    hd_clock_free(past);
    if (!rc) rc = hd_demo_points_after(d, err);
    return rc;
}

/* ---- hudong demo ---- */

typedef struct summary {
    int64_t customers, events, orders, revenue, refunds, touchpoints;
} summary;

static hd_rc summary_cb(hd_conn *c, void *vctx, hd_err *err) {
    summary *s = vctx;
    hd_rc rc = hd_query_int(c, "SELECT count(*) FROM customers WHERE merged_into IS NULL", NULL, 0,
                            &s->customers, err);
    if (!rc) rc = hd_query_int(c, "SELECT count(*) FROM events", NULL, 0, &s->events, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT count(*) FROM orders WHERE refunded_at IS NULL", NULL, 0,
                          &s->orders, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT COALESCE(sum(revenue), 0) FROM customers", NULL, 0,
                          &s->revenue, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT count(*) FROM orders WHERE refunded_at IS NOT NULL", NULL, 0,
                          &s->refunds, err);
    if (!rc)
        rc = hd_query_int(c, "SELECT count(*) FROM touchpoints", NULL, 0, &s->touchpoints, err);
    return rc;
}

static void demo_usage(FILE *f) {
    fputs("usage: hudong demo [--customers N] [--seed S] [--db DB]\n"
          "\n"
          "Fills an empty store with two years of demo data ending now: customers with\n"
          "Chinese names, mainland mobiles, cities, tags, attributes and consent; the\n"
          "touchpoint inventory with monthly costs; orders with lines, refunds, page\n"
          "views, shares, reviews, follows and check-ins; a points programme that has\n"
          "run all along (points earned when each event happened and expired by the\n"
          "programme's rule - by default at the end of the twelfth month after - and\n"
          "tiers reached and lost) and what it offers today.\n"
          "The same seed gives the same data. A store that already has customers is\n"
          "left alone.\n"
          "\n"
          "  --customers N  how many customers (default 2000, at most 1000000)\n"
          "  --seed S       generator seed (default 20260101)\n"
          "  --db DB        store (default $HUDONG_DB or ./hudong.db)\n",
          f);
}

int hd_cli_demo(int argc, char **argv) {
    const char *db = HD_CLI_DB();
    long customers = 2000;
    unsigned long seed = 20260101ul;
    static const struct option opts[] = {{"customers", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 's'},
                                         {"db", required_argument, 0, 'd'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    /* argv[0] is the command name ("demo"); options follow */
    int c;
    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'n':
            customers = strtol(optarg, &end, 10);
            if (!*optarg || *end || customers < 1 || customers > DEMO_CUSTOMERS_MAX) {
                fprintf(stderr, "hudong demo: --customers must be 1 to %d, got '%s'\n",
                        DEMO_CUSTOMERS_MAX, optarg);
                return 2;
            }
            break;
        case 's':
            seed = strtoul(optarg, &end, 10);
            if (!*optarg || *end || seed > 0xFFFFFFFFul) {
                fprintf(stderr, "hudong demo: --seed must be a number from 0 to 4294967295\n");
                return 2;
            }
            break;
        case 'd': db = optarg; break;
        case 'h': demo_usage(stdout); return 0;
        default: demo_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "hudong demo: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    hd_err err;
    hd_err_clear(&err);
    summary before = {0}, after = {0};
    hd_rc rc = hd_store_read(a.store, summary_cb, &before, &err);
    if (!rc && before.customers > 0) {
        fprintf(stderr,
                "hudong demo: the store already has %lld customers; demo data goes only into an "
                "empty store\n",
                (long long)before.customers);
        hd_app_close(&a);
        return 0;
    }
    if (!rc) rc = hd_demo_fill(&a.d, (int)customers, (unsigned)seed, stderr, &err);
    if (!rc) rc = hd_store_read(a.store, summary_cb, &after, &err);
    hd_app_close(&a);
    if (rc) {
        fprintf(stderr, "hudong demo: %s%s%s\n", err.field, err.field[0] ? ": " : "", err.msg);
        return 1;
    }
    printf("customers    %lld\n"
           "events       %lld\n"
           "orders       %lld (+%lld refunded)\n"
           "revenue      %lld.%02lld yuan\n"
           "touchpoints  %lld\n",
           (long long)after.customers, (long long)after.events, (long long)after.orders,
           (long long)after.refunds, (long long)(after.revenue / 100),
           (long long)(after.revenue % 100), (long long)after.touchpoints);
    return 0;
}
