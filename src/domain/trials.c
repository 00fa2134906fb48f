/* trials.c - trials: applications that hold a price, eligibility in the
 * rules language, the close that selects winners (lottery with a published
 * seed, engagement, first come), reviews that earn the price back plus a
 * bonus, and forfeits.
 *
 * The trial row is the lock for its window: an application counts itself
 * in with a conditional UPDATE that also checks the window is still open,
 * and the close claims the row with a conditional UPDATE once the window
 * has passed, so an application is either in the draw or refused. */
#include "domain/trials.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auctions.h"
#include "domain/catalog.h"
#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"
#include "expr/expr.h"

#define ELIG_MAX HD_EXPR_SRC_MAX /* bytes of an eligibility expression */

typedef struct trial {
    int64_t id, reward_id;
    bool has_option;
    char option[HD_OPTION_CODE_MAX + 1];
    char title_zh[4 * HD_AUCTION_TITLE_MAX + 1], title_en[4 * HD_AUCTION_TITLE_MAX + 1];
    int64_t units, price, bonus, apply_starts_at, apply_ends_at;
    char eligibility[ELIG_MAX + 1];
    char selection[16];
    int64_t review_days;
    bool tier_required;
    int64_t applicants, winners;
    char seed[33];
    int64_t closed_at, created_at, updated_at;
} trial;

#define TRIAL_COLS                                                                                 \
    "id, reward_id, option_code, title_zh, title_en, units, price, bonus, apply_starts_at, "       \
    "apply_ends_at, eligibility, selection, review_days, tier_required, applicants, winners, "     \
    "seed, closed_at, created_at, updated_at"

static void trial_row(hd_rows *r, trial *t) {
    memset(t, 0, sizeof *t);
    t->id = hd_rows_int(r, 0);
    t->reward_id = hd_rows_int(r, 1);
    t->has_option = !hd_rows_isnull(r, 2);
    snprintf(t->option, sizeof t->option, "%s", hd_rows_text(r, 2, NULL));
    snprintf(t->title_zh, sizeof t->title_zh, "%s", hd_rows_text(r, 3, NULL));
    snprintf(t->title_en, sizeof t->title_en, "%s", hd_rows_text(r, 4, NULL));
    t->units = hd_rows_int(r, 5);
    t->price = hd_rows_int(r, 6);
    t->bonus = hd_rows_int(r, 7);
    t->apply_starts_at = hd_rows_int(r, 8);
    t->apply_ends_at = hd_rows_int(r, 9);
    snprintf(t->eligibility, sizeof t->eligibility, "%s", hd_rows_text(r, 10, NULL));
    snprintf(t->selection, sizeof t->selection, "%s", hd_rows_text(r, 11, NULL));
    t->review_days = hd_rows_int(r, 12);
    t->tier_required = hd_rows_int(r, 13) != 0;
    t->applicants = hd_rows_int(r, 14);
    t->winners = hd_rows_int(r, 15);
    snprintf(t->seed, sizeof t->seed, "%s", hd_rows_text(r, 16, NULL));
    t->closed_at = hd_rows_isnull(r, 17) ? 0 : hd_rows_int(r, 17);
    t->created_at = hd_rows_int(r, 18);
    t->updated_at = hd_rows_int(r, 19);
}

static hd_rc trial_load(hd_conn *c, int64_t id, trial *t, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT " TRIAL_COLS " FROM trials WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) trial_row(r, t);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no trial %lld", (long long)id);
    return HD_OK;
}

static const char *trial_status(const trial *t, int64_t now) {
    if (t->closed_at) return "closed";
    if (now < t->apply_starts_at) return "scheduled";
    if (now < t->apply_ends_at) return "open";
    return "drawing";
}

static json_t *trial_json(const trial *t, int64_t now) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", t->id);
    hd_json_set_id(o, "reward_id", t->reward_id);
    json_object_set_new(o, "option", t->has_option ? json_string(t->option) : json_null());
    hd_spend_title_json(o, t->title_zh, t->title_en);
    json_object_set_new(o, "units", json_integer(t->units));
    json_object_set_new(o, "price", json_integer(t->price));
    json_object_set_new(o, "bonus", json_integer(t->bonus));
    hd_json_set_time(o, "apply_starts_at", t->apply_starts_at, true);
    hd_json_set_time(o, "apply_ends_at", t->apply_ends_at, true);
    json_object_set_new(o, "eligibility",
                        t->eligibility[0] ? json_string(t->eligibility) : json_null());
    json_object_set_new(o, "selection", json_string(t->selection));
    json_object_set_new(o, "review_days", json_integer(t->review_days));
    json_object_set_new(o, "tier_required", json_boolean(t->tier_required));
    json_object_set_new(o, "status", json_string(trial_status(t, now)));
    json_object_set_new(o, "applicants", json_integer(t->applicants));
    json_object_set_new(o, "winners", json_integer(t->winners));
    json_object_set_new(o, "seed", t->seed[0] ? json_string(t->seed) : json_null());
    hd_json_set_time(o, "closed_at", t->closed_at, t->closed_at != 0);
    hd_json_set_time(o, "created_at", t->created_at, true);
    hd_json_set_time(o, "updated_at", t->updated_at, true);
    return o;
}

/* ---- the lottery ---- */

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

bool hd_trial_seed_state(const char *seed_hex, uint64_t *state) {
    if (!seed_hex || strlen(seed_hex) != 32) return false;
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 32; i++) {
        int v = hexval(seed_hex[i]);
        if (v < 0) return false;
        if (i < 16)
            hi = hi << 4 | (uint64_t)v;
        else
            lo = lo << 4 | (uint64_t)v;
    }
    *state = hi ^ lo;
    return true;
}

uint64_t hd_trial_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* An unbiased draw from [0, m): values below 2^64 mod m are redrawn. */
static uint64_t uniform(uint64_t *state, uint64_t m) {
    uint64_t lim = (0 - m) % m; /* 2^64 mod m */
    for (;;) {
        uint64_t x = hd_trial_next(state);
        if (x >= lim) return x % m;
    }
}

/* The permutation the published algorithm gives: idx[0..n) ends up holding
 * the positions (in id order) of the applicants in rank order. */
static void shuffle_idx(size_t *idx, size_t n, uint64_t state) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)uniform(&state, (uint64_t)i + 1);
        size_t tmp = idx[i];
        idx[i] = idx[j];
        idx[j] = tmp;
    }
}

void hd_trial_shuffle(int64_t *ids, size_t n, const char *seed_hex) {
    uint64_t state;
    if (n < 2 || !hd_trial_seed_state(seed_hex, &state)) return;
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)uniform(&state, (uint64_t)i + 1);
        int64_t tmp = ids[i];
        ids[i] = ids[j];
        ids[j] = tmp;
    }
}

/* ---- create, read ---- */

static const char *const TRIAL_FIELDS[] = {
    "reward_id",   "option",    "title",           "units",
    "price",       "bonus",     "apply_starts_at", "apply_ends_at",
    "eligibility", "selection", "review_days",     "tier_required",
    NULL};

static hd_rc read_bounded(const json_t *in, const char *field, bool *present, int64_t *v,
                          int64_t min, int64_t max, hd_err *err) {
    hd_rc rc = hd_json_int(in, field, present, v, err);
    if (rc) return rc;
    if (*present && (*v < min || *v > max))
        return hd_err_set(err, HD_EINVAL, field, "must be a whole number from %lld to %lld",
                          (long long)min, (long long)max);
    return HD_OK;
}

static hd_rc trial_parse(const json_t *in, const hd_clock *cal, trial *t, int64_t now,
                         hd_err *err) {
    hd_rc rc = hd_json_only(in, TRIAL_FIELDS, "a trial", err);
    if (rc) return rc;
    bool present;
    if ((rc = hd_json_int(in, "reward_id", &present, &t->reward_id, err))) return rc;
    if (!present || t->reward_id <= 0)
        return hd_err_set(err, HD_EINVAL, "reward_id", "is required: the product to try");
    if ((rc = hd_spend_option(in, &t->has_option, t->option, sizeof t->option, err))) return rc;
    if ((rc = hd_spend_title(in, t->title_zh, sizeof t->title_zh, t->title_en, sizeof t->title_en,
                             err)))
        return rc;
    if ((rc = read_bounded(in, "units", &present, &t->units, 1, HD_TRIAL_UNITS_MAX, err)))
        return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, "units", "is required: K units to give");
    if ((rc = read_bounded(in, "price", &present, &t->price, 0, HD_AMOUNT_MAX, err))) return rc;
    if ((rc = read_bounded(in, "bonus", &present, &t->bonus, 0, HD_AMOUNT_MAX, err))) return rc;
    if ((rc = hd_json_time(in, "apply_starts_at", cal, &present, &t->apply_starts_at, err)))
        return rc;
    if (!present)
        return hd_err_set(err, HD_EINVAL, "apply_starts_at", "is required: when applying opens");
    if ((rc = hd_json_time(in, "apply_ends_at", cal, &present, &t->apply_ends_at, err))) return rc;
    if (!present)
        return hd_err_set(err, HD_EINVAL, "apply_ends_at", "is required: when applying closes");
    if (t->apply_ends_at <= t->apply_starts_at)
        return hd_err_set(err, HD_EINVAL, "apply_ends_at", "must be after apply_starts_at");
    if (t->apply_ends_at - t->apply_starts_at > HD_TRIAL_WINDOW_MAX_MS)
        return hd_err_set(err, HD_EINVAL, "apply_ends_at", "must be within 366 days of the start");
    if (t->apply_ends_at <= now)
        return hd_err_set(err, HD_EINVAL, "apply_ends_at", "must be in the future");
    const char *s;
    if ((rc = hd_json_str(in, "eligibility", ELIG_MAX, &s, err))) return rc;
    if (s && *s) {
        if ((rc = hd_catalog_check_expr(s, "eligibility", err))) return rc;
        snprintf(t->eligibility, sizeof t->eligibility, "%s", s);
    }
    if ((rc = hd_json_str(in, "selection", 16, &s, err))) return rc;
    if (!s || (strcmp(s, "lottery") && strcmp(s, "engagement") && strcmp(s, "first_come")))
        return hd_err_set(err, HD_EINVAL, "selection",
                          "is required: lottery, engagement or first_come");
    snprintf(t->selection, sizeof t->selection, "%s", s);
    if ((rc = read_bounded(in, "review_days", &present, &t->review_days, 1,
                           HD_TRIAL_REVIEW_DAYS_MAX, err)))
        return rc;
    if (!present)
        return hd_err_set(err, HD_EINVAL, "review_days",
                          "is required: days winners have to review");
    json_t *tr = json_object_get(in, "tier_required");
    if (tr && !json_is_null(tr)) {
        if (!json_is_boolean(tr))
            return hd_err_set(err, HD_EINVAL, "tier_required", "must be true or false");
        t->tier_required = json_is_true(tr);
    }
    return HD_OK;
}

typedef struct create_ctx {
    hd_domain *d;
    const json_t *in;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    create_ctx *cc = vctx;
    hd_domain *d = cc->d;
    int64_t now = hd_now(d);
    trial *t = calloc(1, sizeof *t);
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_rc rc = trial_parse(cc->in, d->clock, t, now, err);
    if (rc) goto done;
    hd_reward_info ri;
    rc = hd_reward_get_in(c, d, t->reward_id, &ri, err);
    if (rc == HD_ENOTFOUND)
        rc = hd_err_set(err, HD_EINVAL, "reward_id", "no reward %lld", (long long)t->reward_id);
    if (rc) goto done;
    /* the K units are set aside now, so the winners are never short */
    rc = hd_reward_take_stock_in(c, t->reward_id, t->has_option ? t->option : NULL, (int)t->units,
                                 err);
    if (rc == HD_ESTATE) {
        char why[HD_ERR_MSG_MAX];
        snprintf(why, sizeof why, "%s", err->msg);
        rc = hd_err_set(err, HD_ESTATE, "units",
                        "out of stock: the reward cannot set aside %lld units (%s)",
                        (long long)t->units, why);
    }
    if (rc) goto done;
    t->id = hd_id_next(d->ids);
    t->created_at = t->updated_at = now;
    hd_val p[16] = {hd_vint(t->id),
                    hd_vint(t->reward_id),
                    t->has_option ? hd_vtext(t->option) : hd_vnull(),
                    hd_vtext(t->title_zh),
                    hd_vtext(t->title_en),
                    hd_vint(t->units),
                    hd_vint(t->price),
                    hd_vint(t->bonus),
                    hd_vint(t->apply_starts_at),
                    hd_vint(t->apply_ends_at),
                    hd_vtext(t->eligibility),
                    hd_vtext(t->selection),
                    hd_vint(t->review_days),
                    hd_vbool(t->tier_required),
                    hd_vint(now),
                    hd_vint(now)};
    rc = hd_exec(c,
                 "INSERT INTO trials (id, reward_id, option_code, title_zh, title_en, units, "
                 "price, bonus, apply_starts_at, apply_ends_at, eligibility, selection, "
                 "review_days, tier_required, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 p, 16, NULL, err);
    if (rc) goto done;
    *status = 201;
    *body = trial_json(t, now);
done:
    free(t);
    return rc;
}

hd_rc hd_trial_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status, json_t **out,
                      bool *replayed, hd_err *err) {
    create_ctx cc = {d, in};
    return hd_idem_write(d, im, create_cb, &cc, status, out, replayed, err);
}

typedef struct read_ctx {
    hd_domain *d;
    int64_t id, cursor, customer_id;
    const char *status;
    int limit;
    json_t *out;
} read_ctx;

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    trial *t = malloc(sizeof *t);
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_rc rc = trial_load(c, rx->id, t, err);
    if (!rc) rx->out = trial_json(t, hd_now(rx->d));
    free(t);
    return rc;
}

hd_rc hd_trial_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    read_ctx rx = {.d = d, .id = id};
    return hd_read_json(d, get_cb, &rx, &rx.out, out, err);
}

static json_t *trial_page_row(hd_rows *r, void *now) {
    trial *t = malloc(sizeof *t);
    if (!t) return NULL;
    trial_row(r, t);
    json_t *e = trial_json(t, *(const int64_t *)now);
    free(t);
    return e;
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    int64_t now = hd_now(rx->d);
    hd_val p[4] = {hd_vint(rx->cursor ? rx->cursor : INT64_MAX), hd_vint(now),
                   hd_vtext(rx->status ? rx->status : ""), hd_vint(rx->limit + 1)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT " TRIAL_COLS " FROM trials WHERE id < ?1 AND (?3 = '' OR ?3 = CASE "
                        "WHEN closed_at IS NOT NULL THEN 'closed' WHEN apply_starts_at > ?2 THEN "
                        "'scheduled' WHEN apply_ends_at > ?2 THEN 'open' ELSE 'drawing' END) "
                        "ORDER BY id DESC LIMIT ?4",
                        p, 4, &r, err);
    if (rc) return rc;
    return hd_page_json(r, rx->limit, 0, trial_page_row, &now, &rx->out, err);
}

hd_rc hd_trial_list(hd_domain *d, const char *status, int64_t cursor, int limit, json_t **out,
                    hd_err *err) {
    if (status && strcmp(status, "scheduled") && strcmp(status, "open") &&
        strcmp(status, "drawing") && strcmp(status, "closed"))
        return hd_err_set(err, HD_EINVAL, "status", "must be scheduled, open, drawing or closed");
    if (limit < 1 || limit > HD_TRIAL_PAGE_MAX) limit = HD_TRIAL_PAGE_MAX;
    read_ctx rx = {.d = d, .status = status, .cursor = cursor, .limit = limit};
    return hd_read_json(d, list_cb, &rx, &rx.out, out, err);
}

/* ---- applications ---- */

#define APP_COLS                                                                                   \
    "id, trial_id, customer_id, status, score, draw_rank, applied_at, order_id, review_due_at, "   \
    "reviewed_at, forfeited_at, transfer_id"

static void set_opt(json_t *o, const char *k, hd_rows *r, int col, bool id, bool time) {
    if (hd_rows_isnull(r, col))
        json_object_set_new(o, k, json_null());
    else if (id)
        hd_json_set_id(o, k, hd_rows_int(r, col));
    else if (time)
        hd_json_set_time(o, k, hd_rows_int(r, col), true);
    else
        json_object_set_new(o, k, json_integer(hd_rows_int(r, col)));
}

static json_t *app_json(hd_rows *r) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    hd_json_set_id(o, "trial_id", hd_rows_int(r, 1));
    hd_json_set_id(o, "customer_id", hd_rows_int(r, 2));
    json_object_set_new(o, "status", json_string(hd_rows_text(r, 3, NULL)));
    set_opt(o, "score", r, 4, false, false);
    set_opt(o, "rank", r, 5, false, false);
    hd_json_set_time(o, "applied_at", hd_rows_int(r, 6), true);
    set_opt(o, "order_id", r, 7, true, false);
    set_opt(o, "review_due_at", r, 8, false, true);
    set_opt(o, "reviewed_at", r, 9, false, true);
    set_opt(o, "forfeited_at", r, 10, false, true);
    set_opt(o, "transfer_id", r, 11, true, false);
    return o;
}

static hd_rc app_load_json(hd_conn *c, int64_t cid, int64_t trial_id, json_t **out, hd_err *err) {
    hd_val p[2] = {hd_vint(cid), hd_vint(trial_id)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT " APP_COLS " FROM trial_applications WHERE customer_id = ? AND "
                        "trial_id = ?",
                        p, 2, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) *out = app_json(r);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "customer_id", "no application");
    return HD_OK;
}

typedef struct apply_ctx {
    hd_domain *d;
    int64_t trial_id, customer_id;
} apply_ctx;

static hd_rc window_refused(const trial *t, int64_t now, hd_err *err) {
    char w[32];
    if (now < t->apply_starts_at) {
        hd_time_format(t->apply_starts_at, w);
        return hd_err_set(err, HD_ESTATE, "status", "applications open at %s", w);
    }
    hd_time_format(t->apply_ends_at, w);
    return hd_err_set(err, HD_ESTATE, "status", "the application window closed at %s", w);
}

static hd_rc apply_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    apply_ctx *ac = vctx;
    hd_domain *d = ac->d;
    int64_t now = hd_now(d), cid;
    hd_rc rc = hd_spend_customer_in(c, ac->customer_id, &cid, err);
    if (rc) return rc;
    trial *t = malloc(sizeof *t);
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    if ((rc = trial_load(c, ac->trial_id, t, err))) goto done;
    if (t->closed_at || now < t->apply_starts_at || now >= t->apply_ends_at) {
        rc = window_refused(t, now, err);
        goto done;
    }
    if (t->tier_required) {
        hd_tier_info ti;
        if ((rc = hd_tier_of_in(c, cid, &ti, err))) goto done;
        if (!ti.has || !ti.access_trials) {
            rc =
                hd_err_set(err, HD_EFORBIDDEN, "customer_id",
                           "not eligible: this trial is for members whose tier gives access to "
                           "trials; %s%s does not",
                           ti.has ? "the tier " : "a member without a tier", ti.has ? ti.code : "");
            goto done;
        }
    }
    /* a forfeited trial in the last 180 days refuses the member, saying until when */
    {
        hd_val p[2] = {hd_vint(cid), hd_vint(now - HD_TRIAL_FORFEIT_DAYS * 86400000LL)};
        hd_rows *r;
        if ((rc = hd_query(c,
                           "SELECT trial_id, forfeited_at FROM trial_applications WHERE "
                           "customer_id = ? AND status = 'forfeited' AND forfeited_at > ? ORDER "
                           "BY forfeited_at DESC LIMIT 1",
                           p, 2, &r, err)))
            goto done;
        int got = hd_rows_next(r, err);
        int64_t ft = got == 1 ? hd_rows_int(r, 0) : 0, fa = got == 1 ? hd_rows_int(r, 1) : 0;
        hd_rows_free(r);
        if (got < 0) {
            rc = err->rc;
            goto done;
        }
        if (got == 1) {
            char until[32];
            hd_time_format(fa + HD_TRIAL_FORFEIT_DAYS * 86400000LL, until);
            rc = hd_err_set(err, HD_EFORBIDDEN, "customer_id",
                            "not eligible: the member won trial %lld and did not review it; they "
                            "may apply again after %s",
                            (long long)ft, until);
            goto done;
        }
    }
    bool ok;
    if ((rc = hd_catalog_eligible_in(c, d, cid, t->eligibility, &ok, err))) goto done;
    if (!ok) {
        rc =
            hd_err_set(err, HD_EFORBIDDEN, "customer_id",
                       "not eligible: the trial's eligibility (%.150s) is not met", t->eligibility);
        goto done;
    }
    /* the window guard and the count, on the trial row */
    hd_val p[3] = {hd_vint(now), hd_vint(t->id), hd_vint(HD_TRIAL_APPLICANTS_MAX)};
    int64_t n = 0;
    if ((rc = hd_exec(c,
                      "UPDATE trials SET applicants = applicants + 1, updated_at = ?1 WHERE id = "
                      "?2 AND closed_at IS NULL AND apply_starts_at <= ?1 AND apply_ends_at > ?1 "
                      "AND applicants < ?3",
                      p, 3, &n, err)))
        goto done;
    if (n == 0) {
        if ((rc = trial_load(c, ac->trial_id, t, err))) goto done;
        rc = t->applicants >= HD_TRIAL_APPLICANTS_MAX
                 ? hd_err_set(err, HD_ESTATE, "status",
                              "the trial has %d applications, the most "
                              "it takes",
                              HD_TRIAL_APPLICANTS_MAX)
                 : window_refused(t, now, err);
        goto done;
    }
    hd_val q[2] = {hd_vint(cid), hd_vint(t->id)};
    int64_t have;
    if ((rc = hd_query_int(c,
                           "SELECT count(*) FROM trial_applications WHERE customer_id = ? AND "
                           "trial_id = ?",
                           q, 2, &have, err)))
        goto done;
    if (have) {
        rc = hd_err_set(err, HD_ECONFLICT, "customer_id",
                        "customer %lld already applied for trial %lld", (long long)cid,
                        (long long)t->id);
        goto done;
    }
    int64_t xfer = 0;
    if (t->price > 0) {
        char key[96], acc[48], ref[48];
        snprintf(key, sizeof key, "trial:%lld:%lld", (long long)t->id, (long long)cid);
        snprintf(acc, sizeof acc, "customer:%lld", (long long)cid);
        snprintf(ref, sizeof ref, "trial:%lld", (long long)t->id);
        hd_transfer_req tr = {.key = key,
                              .debit = acc,
                              .credit = "system:redemption",
                              .amount = t->price,
                              .code = "redeem",
                              .reference = ref,
                              .pending = true};
        hd_transfer_res res;
        if ((rc = hd_ledger_transfer_in(c, d, &tr, &res, err))) goto done;
        xfer = res.id;
    }
    hd_val a[5] = {hd_vint(cid), hd_vint(t->id), hd_vint(hd_id_next(d->ids)),
                   xfer ? hd_vint(xfer) : hd_vnull(), hd_vint(now)};
    rc = hd_exec(c,
                 "INSERT INTO trial_applications (customer_id, trial_id, id, transfer_id, status, "
                 "applied_at) VALUES (?, ?, ?, ?, 'applied', ?)",
                 a, 5, NULL, err);
    if (rc == HD_ECONFLICT) rc = hd_err_set(err, HD_EBUSY, "", "application raced");
    if (rc) goto done;
    if ((rc = app_load_json(c, cid, t->id, body, err))) goto done;
    *status = 201;
done:
    free(t);
    return rc;
}

hd_rc hd_trial_apply(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                     json_t **out, bool *replayed, hd_err *err) {
    static const char *const allowed[] = {"customer_id", NULL};
    hd_rc rc = hd_json_only(in, allowed, "an application", err);
    if (rc) return rc;
    apply_ctx ac = {d, id, 0};
    if ((rc = hd_spend_customer_field(in, &ac.customer_id, err))) return rc;
    return hd_idem_write(d, im, apply_cb, &ac, status, out, replayed, err);
}

static json_t *app_row(hd_rows *r, void *arg) {
    (void)arg;
    return app_json(r);
}

static hd_rc apps_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    hd_val p = hd_vint(rx->id);
    int64_t exists;
    hd_rc rc = hd_query_int(c, "SELECT count(*) FROM trials WHERE id = ?", &p, 1, &exists, err);
    if (rc) return rc;
    if (!exists) return hd_err_set(err, HD_ENOTFOUND, "id", "no trial %lld", (long long)rx->id);
    hd_val q[5] = {hd_vint(rx->id), hd_vint(rx->cursor), hd_vtext(rx->status ? rx->status : ""),
                   hd_vint(rx->customer_id), hd_vint(rx->limit + 1)};
    hd_rows *r;
    if ((rc = hd_query(
             c,
             "SELECT " APP_COLS " FROM trial_applications WHERE trial_id = ?1 AND id > "
             "?2 AND (?3 = '' OR status = ?3) AND (CAST(?4 AS BIGINT) = 0 OR customer_id = ?4) "
             "ORDER BY "
             "id LIMIT ?5",
             q, 5, &r, err)))
        return rc;
    return hd_page_json(r, rx->limit, 0, app_row, NULL, &rx->out, err);
}

hd_rc hd_trial_applications(hd_domain *d, int64_t id, const char *status, int64_t customer_id,
                            int64_t cursor, int limit, json_t **out, hd_err *err) {
    if (status && strcmp(status, "applied") && strcmp(status, "won") && strcmp(status, "lost") &&
        strcmp(status, "reviewed") && strcmp(status, "forfeited"))
        return hd_err_set(err, HD_EINVAL, "status",
                          "must be applied, won, lost, reviewed or forfeited");
    if (limit < 1 || limit > HD_TRIAL_PAGE_MAX) limit = HD_TRIAL_PAGE_MAX;
    read_ctx rx = {.d = d,
                   .id = id,
                   .status = status,
                   .customer_id = customer_id,
                   .cursor = cursor,
                   .limit = limit};
    return hd_read_json(d, apps_cb, &rx, &rx.out, out, err);
}

/* ---- the close ---- */

typedef struct applicant {
    int64_t customer_id, id, transfer_id, applied_at, score;
} applicant;

static int by_engagement(const void *a, const void *b) {
    const applicant *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    if (x->applied_at != y->applied_at) return x->applied_at < y->applied_at ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static int by_time(const void *a, const void *b) {
    const applicant *x = a, *y = b;
    if (x->applied_at != y->applied_at) return x->applied_at < y->applied_at ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

typedef hd_sweep_item close_ctx;

static hd_rc close_cb(hd_conn *c, void *vctx, hd_err *err) {
    close_ctx *cc = vctx;
    hd_domain *d = cc->d;
    int64_t now = cc->now;
    trial *t = malloc(sizeof *t);
    applicant *apps = NULL, *ranked = NULL;
    size_t *idx = NULL;
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_rc rc = trial_load(c, cc->id, t, err);
    if (rc) goto done;
    char seed[33] = "";
    if (strcmp(t->selection, "lottery") == 0) {
        unsigned char raw[16];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(seed, sizeof seed, raw, sizeof raw);
    }
    /* the guard: one closer, and only after the window */
    hd_val p[4] = {hd_vint(now), seed[0] ? hd_vtext(seed) : hd_vnull(), hd_vint(t->id),
                   hd_vint(now)};
    int64_t n = 0;
    if ((rc = hd_exec(c,
                      "UPDATE trials SET closed_at = ?1, updated_at = ?1, seed = ?2 WHERE id = ?3 "
                      "AND closed_at IS NULL AND apply_ends_at <= ?4",
                      p, 4, &n, err)))
        goto done;
    if (n == 0) goto done;
    if ((rc = trial_load(c, cc->id, t, err))) goto done; /* applicants as of the lock */
    size_t cap = (size_t)t->applicants + 1, na = 0;
    apps = calloc(cap, sizeof *apps);
    ranked = calloc(cap, sizeof *ranked);
    idx = calloc(cap, sizeof *idx);
    if (!apps || !ranked || !idx) {
        rc = hd_err_set(err, HD_ENOMEM, "", "out of memory");
        goto done;
    }
    hd_val q[3] = {hd_vint(now - HD_TRIAL_ENGAGEMENT_DAYS * 86400000LL), hd_vint(now),
                   hd_vint(t->id)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT a.customer_id, a.id, a.transfer_id, a.applied_at, (SELECT count(*) "
                       "FROM events e WHERE e.customer_id = a.customer_id AND e.occurred_at > ?1 "
                       "AND e.occurred_at <= ?2) FROM trial_applications a WHERE a.trial_id = ?3 "
                       "ORDER BY a.id",
                       q, 3, &r, err)))
        goto done;
    int got;
    while ((got = hd_rows_next(r, err)) == 1 && na < cap) {
        applicant *a = &apps[na++];
        a->customer_id = hd_rows_int(r, 0);
        a->id = hd_rows_int(r, 1);
        a->transfer_id = hd_rows_isnull(r, 2) ? 0 : hd_rows_int(r, 2);
        a->applied_at = hd_rows_int(r, 3);
        a->score = hd_rows_int(r, 4);
    }
    hd_rows_free(r);
    if (got < 0) {
        rc = err->rc;
        goto done;
    }
    bool lottery = strcmp(t->selection, "lottery") == 0;
    if (lottery) {
        uint64_t state = 0;
        hd_trial_seed_state(seed, &state);
        shuffle_idx(idx, na, state);
        for (size_t i = 0; i < na; i++) ranked[i] = apps[idx[i]];
    } else {
        memcpy(ranked, apps, na * sizeof *apps);
        qsort(ranked, na, sizeof *ranked,
              strcmp(t->selection, "engagement") == 0 ? by_engagement : by_time);
    }
    size_t k = (size_t)t->units < na ? (size_t)t->units : na;
    char ref[48];
    snprintf(ref, sizeof ref, "trial:%lld", (long long)t->id);
    for (size_t i = 0; i < na; i++) {
        applicant *a = &ranked[i];
        bool win = i < k;
        int64_t oid = 0;
        if (a->transfer_id && (rc = hd_ledger_resolve_in(c, d, a->transfer_id, win, err)))
            goto done;
        if (win) {
            hd_order_req o = {.customer_id = a->customer_id,
                              .reward_id = t->reward_id,
                              .option = t->has_option ? t->option : NULL,
                              .quantity = 1,
                              .points = t->price,
                              .transfer_id = a->transfer_id,
                              .source = "trial",
                              .source_ref = ref};
            if ((rc = hd_order_create_in(c, d, &o, &oid, err))) goto done;
        }
        hd_val u[7] = {hd_vtext(win ? "won" : "lost"),
                       hd_vint(a->score),
                       hd_vint((int64_t)i + 1),
                       oid ? hd_vint(oid) : hd_vnull(),
                       win ? hd_vint(now + t->review_days * 86400000LL) : hd_vnull(),
                       hd_vint(a->customer_id),
                       hd_vint(t->id)};
        if ((rc = hd_exec(c,
                          "UPDATE trial_applications SET status = ?, score = ?, draw_rank = ?, "
                          "order_id = ?, review_due_at = ? WHERE customer_id = ? AND trial_id = ?",
                          u, 7, NULL, err)))
            goto done;
    }
    /* what the winners did not use goes back to the catalog */
    if ((int64_t)k < t->units &&
        (rc = hd_reward_return_stock_in(c, t->reward_id, t->has_option ? t->option : NULL,
                                        (int)(t->units - (int64_t)k), err)))
        goto done;
    hd_val u[2] = {hd_vint((int64_t)k), hd_vint(t->id)};
    rc = hd_exec(c, "UPDATE trials SET winners = ? WHERE id = ?", u, 2, NULL, err);
done:
    free(idx);
    free(ranked);
    free(apps);
    free(t);
    return rc;
}

/* Whether some winner's review is overdue: read first, so an idle scheduler
 * does not write every second. */
typedef struct overdue_ctx {
    int64_t now, due;
} overdue_ctx;

static hd_rc overdue_cb(hd_conn *c, void *vctx, hd_err *err) {
    overdue_ctx *oc = vctx;
    hd_val p = hd_vint(oc->now);
    return hd_query_int(c,
                        "SELECT count(*) FROM (SELECT 1 FROM trial_applications WHERE status = "
                        "'won' AND review_due_at <= ? LIMIT 1) x",
                        &p, 1, &oc->due, err);
}

typedef struct forfeit_ctx {
    int64_t now;
} forfeit_ctx;

static hd_rc forfeit_cb(hd_conn *c, void *vctx, hd_err *err) {
    forfeit_ctx *fc = vctx;
    hd_val p[2] = {hd_vint(fc->now), hd_vint(fc->now)};
    return hd_exec(c,
                   "UPDATE trial_applications SET status = 'forfeited', forfeited_at = ? WHERE "
                   "status = 'won' AND review_due_at <= ?",
                   p, 2, NULL, err);
}

hd_rc hd_trial_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)arg;
    hd_rc first = hd_domain_sweep(d, now_ms,
                                  "SELECT id FROM trials WHERE closed_at IS NULL AND apply_ends_at "
                                  "<= ? ORDER BY apply_ends_at, id LIMIT 100",
                                  10, "trial", close_cb, err);
    overdue_ctx oc = {now_ms, 0};
    hd_err re;
    hd_err_clear(&re);
    hd_rc rc = hd_store_read(d->store, overdue_cb, &oc, &re);
    if (rc) {
        if (first == HD_OK) *err = re;
        return first ? first : rc;
    }
    if (!oc.due) return first;
    forfeit_ctx fc = {now_ms};
    hd_err e;
    hd_err_clear(&e);
    rc = hd_store_write(d->store, forfeit_cb, &fc, &e);
    if (rc && first == HD_OK) {
        first = rc;
        hd_err_set(err, rc, e.field, "trial forfeits: %s", e.msg);
    }
    return first;
}

/* ---- the draw, for anyone to check ---- */

static hd_rc draw_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    trial *t = malloc(sizeof *t);
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_rc rc = trial_load(c, rx->id, t, err);
    if (!rc && !t->closed_at) {
        char w[32];
        hd_time_format(t->apply_ends_at, w);
        rc = hd_err_set(err, HD_ESTATE, "status",
                        "the winners are drawn when the window closes at %s", w);
    }
    if (rc) {
        free(t);
        return rc;
    }
    json_t *o = json_object(), *list = json_array(), *winners = json_array();
    hd_json_set_id(o, "trial_id", t->id);
    json_object_set_new(o, "selection", json_string(t->selection));
    json_object_set_new(o, "seed", t->seed[0] ? json_string(t->seed) : json_null());
    json_object_set_new(o, "units", json_integer(t->units));
    json_object_set_new(
        o, "algorithm",
        json_string(strcmp(t->selection, "lottery") == 0
                        ? "applications sorted by id; state = seed[0..8) XOR seed[8..16) "
                          "(big-endian); splitmix64; for i = n-1..1: x = next() until x >= 2^64 "
                          "mod (i+1), swap a[i], a[x mod (i+1)]; winners = a[0..units)"
                    : strcmp(t->selection, "engagement") == 0
                        ? "score = events in the 90 days before the close, highest first; ties "
                          "by earlier application; winners = the first units"
                        : "by application time, then id; winners = the first units"));
    hd_json_set_time(o, "closed_at", t->closed_at, true);
    json_object_set_new(o, "applicants", list);
    json_object_set_new(o, "winners", winners);
    hd_val p = hd_vint(t->id);
    hd_rows *r;
    rc = hd_query(c,
                  "SELECT a.id, a.score, a.draw_rank, a.status, c.name, (SELECT i.value FROM "
                  "identities i WHERE i.customer_id = a.customer_id AND i.kind = 'phone' ORDER BY "
                  "i.created_at LIMIT 1) FROM trial_applications a LEFT JOIN customers c ON c.id = "
                  "a.customer_id WHERE a.trial_id = ? ORDER BY a.id",
                  &p, 1, &r, err);
    if (rc) {
        free(t);
        json_decref(o);
        return rc;
    }
    size_t k = (size_t)t->winners, nw = 0;
    int64_t *win = calloc(k ? k : 1, sizeof *win);
    int got;
    while (win && (got = hd_rows_next(r, err)) == 1) {
        json_t *e = json_object();
        hd_json_set_id(e, "id", hd_rows_int(r, 0));
        char m[64];
        hd_mask_display(hd_rows_text(r, 4, NULL), hd_rows_text(r, 5, NULL), m, sizeof m);
        json_object_set_new(e, "name", json_string(m));
        set_opt(e, "score", r, 1, false, false);
        set_opt(e, "rank", r, 2, false, false);
        json_array_append_new(list, e);
        int64_t rank = hd_rows_int(r, 2);
        if (rank >= 1 && (size_t)rank <= k) {
            win[rank - 1] = hd_rows_int(r, 0);
            nw++;
        }
    }
    hd_rows_free(r);
    if (!win) got = -1, hd_err_set(err, HD_ENOMEM, "", "out of memory");
    for (size_t i = 0; win && i < k; i++) {
        char s[24];
        hd_id_format(win[i], s);
        json_array_append_new(winners, json_string(s));
    }
    free(win);
    free(t);
    if (got < 0 || nw != k) {
        json_decref(o);
        return got < 0 ? err->rc
                       : hd_err_set(err, HD_EINTERNAL, "", "winner ranks are not 1..%zu", k);
    }
    rx->out = o;
    return HD_OK;
}

hd_rc hd_trial_draw(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    read_ctx rx = {.d = d, .id = id};
    return hd_read_json(d, draw_cb, &rx, &rx.out, out, err);
}

/* ---- reviews ---- */

typedef struct review_ctx {
    hd_domain *d;
    int64_t trial_id, customer_id, rating;
    const char *text;
} review_ctx;

static hd_rc review_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    review_ctx *rv = vctx;
    hd_domain *d = rv->d;
    int64_t now = hd_now(d), cid;
    hd_rc rc = hd_spend_customer_in(c, rv->customer_id, &cid, err);
    if (rc) return rc;
    trial *t = malloc(sizeof *t);
    if (!t) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    if ((rc = trial_load(c, rv->trial_id, t, err))) goto done;
    hd_val p[2] = {hd_vint(cid), hd_vint(t->id)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT id, status, review_due_at FROM trial_applications WHERE customer_id "
                       "= ? AND trial_id = ?",
                       p, 2, &r, err)))
        goto done;
    int got = hd_rows_next(r, err);
    int64_t app_id = 0, due = 0;
    char st[16] = "";
    if (got == 1) {
        app_id = hd_rows_int(r, 0);
        snprintf(st, sizeof st, "%s", hd_rows_text(r, 1, NULL));
        due = hd_rows_int(r, 2);
    }
    hd_rows_free(r);
    if (got < 0) {
        rc = err->rc;
        goto done;
    }
    char w[32];
    hd_time_format(due, w);
    if (got == 0 || strcmp(st, "applied") == 0 || strcmp(st, "lost") == 0) {
        rc = hd_err_set(err, HD_ESTATE, "customer_id",
                        "customer %lld is not a winner of trial %lld; only winners review",
                        (long long)cid, (long long)t->id);
        goto done;
    }
    if (strcmp(st, "reviewed") == 0) {
        rc = hd_err_set(err, HD_ECONFLICT, "customer_id",
                        "customer %lld already reviewed trial %lld", (long long)cid,
                        (long long)t->id);
        goto done;
    }
    if (strcmp(st, "forfeited") == 0 || now >= due) {
        rc = hd_err_set(err, HD_ESTATE, "review_due_at",
                        "review late: it was due by %s and the trial is forfeited", w);
        goto done;
    }
    int64_t n = 0;
    hd_val u[4] = {hd_vint(now), hd_vint(cid), hd_vint(t->id), hd_vint(now)};
    if ((rc = hd_exec(c,
                      "UPDATE trial_applications SET status = 'reviewed', reviewed_at = ?1 WHERE "
                      "customer_id = ?2 AND trial_id = ?3 AND status = 'won' AND review_due_at > "
                      "?4",
                      u, 4, &n, err)))
        goto done;
    if (n == 0) {
        rc = hd_err_set(err, HD_ESTATE, "review_due_at", "review late: it was due by %s", w);
        goto done;
    }
    int64_t rid = hd_id_next(d->ids);
    hd_val ins[7] = {hd_vint(cid),        hd_vint(rid),       hd_vint(t->id), hd_vint(app_id),
                     hd_vint(rv->rating), hd_vtext(rv->text), hd_vint(now)};
    if ((rc = hd_exec(c,
                      "INSERT INTO trial_reviews (customer_id, id, trial_id, application_id, "
                      "rating, review_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                      ins, 7, NULL, err)))
        goto done;
    char acc[48], ref[48], key[96];
    snprintf(acc, sizeof acc, "customer:%lld", (long long)cid);
    snprintf(ref, sizeof ref, "trial:%lld", (long long)t->id);
    hd_transfer_res tr;
    if (t->price > 0) {
        snprintf(key, sizeof key, "trial:%lld:%lld:refund", (long long)t->id, (long long)cid);
        hd_transfer_req x = {.key = key,
                             .debit = "system:issuance",
                             .credit = acc,
                             .amount = t->price,
                             .code = "refund",
                             .reference = ref};
        if ((rc = hd_ledger_transfer_in(c, d, &x, &tr, err))) goto done;
    }
    if (t->bonus > 0) {
        snprintf(key, sizeof key, "trial:%lld:%lld:bonus", (long long)t->id, (long long)cid);
        hd_transfer_req x = {.key = key,
                             .debit = "system:issuance",
                             .credit = acc,
                             .amount = t->bonus,
                             .code = "earn",
                             .reference = ref};
        if ((rc = hd_ledger_transfer_in(c, d, &x, &tr, err))) goto done;
    }
    json_t *o = json_object();
    hd_json_set_id(o, "id", rid);
    hd_json_set_id(o, "trial_id", t->id);
    hd_json_set_id(o, "customer_id", cid);
    json_object_set_new(o, "rating", json_integer(rv->rating));
    json_object_set_new(o, "text", json_string(rv->text));
    json_object_set_new(o, "refunded", json_integer(t->price));
    json_object_set_new(o, "bonus", json_integer(t->bonus));
    hd_json_set_time(o, "created_at", now, true);
    *status = 201;
    *body = o;
done:
    free(t);
    return rc;
}

hd_rc hd_trial_review(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                      json_t **out, bool *replayed, hd_err *err) {
    static const char *const allowed[] = {"customer_id", "text", "rating", NULL};
    hd_rc rc = hd_json_only(in, allowed, "a review", err);
    if (rc) return rc;
    review_ctx rv = {.d = d, .trial_id = id};
    if ((rc = hd_spend_customer_field(in, &rv.customer_id, err))) return rc;
    if ((rc = hd_json_str(in, "text", HD_TRIAL_REVIEW_MAX, &rv.text, err))) return rc;
    if (!rv.text || !*rv.text)
        return hd_err_set(err, HD_EINVAL, "text", "is required: what the member thought");
    bool present;
    if ((rc = hd_json_int(in, "rating", &present, &rv.rating, err))) return rc;
    if (!present || rv.rating < 1 || rv.rating > 5)
        return hd_err_set(err, HD_EINVAL, "rating", "is required: a whole number from 1 to 5");
    return hd_idem_write(d, im, review_cb, &rv, status, out, replayed, err);
}

static json_t *review_row(hd_rows *r, void *arg) {
    (void)arg;
    json_t *e = json_object();
    hd_json_set_id(e, "id", hd_rows_int(r, 0));
    char m[64];
    hd_mask_display(hd_rows_text(r, 4, NULL), hd_rows_text(r, 5, NULL), m, sizeof m);
    json_object_set_new(e, "reviewer", json_string(m));
    json_object_set_new(e, "rating", json_integer(hd_rows_int(r, 1)));
    json_object_set_new(e, "text", json_string(hd_rows_text(r, 2, NULL)));
    hd_json_set_time(e, "created_at", hd_rows_int(r, 3), true);
    return e;
}

static hd_rc reviews_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    hd_val p = hd_vint(rx->id);
    int64_t exists;
    hd_rc rc = hd_query_int(c, "SELECT count(*) FROM trials WHERE id = ?", &p, 1, &exists, err);
    if (rc) return rc;
    if (!exists) return hd_err_set(err, HD_ENOTFOUND, "id", "no trial %lld", (long long)rx->id);
    hd_val q[3] = {hd_vint(rx->id), hd_vint(rx->cursor ? rx->cursor : INT64_MAX),
                   hd_vint(rx->limit + 1)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT v.id, v.rating, v.review_text, v.created_at, c.name, (SELECT "
                       "i.value FROM identities i WHERE i.customer_id = v.customer_id AND i.kind = "
                       "'phone' ORDER BY i.created_at LIMIT 1) FROM trial_reviews v LEFT JOIN "
                       "customers c ON c.id = v.customer_id WHERE v.trial_id = ? AND v.id < ? "
                       "ORDER BY v.id DESC LIMIT ?",
                       q, 3, &r, err)))
        return rc;
    return hd_page_json(r, rx->limit, 0, review_row, NULL, &rx->out, err);
}

hd_rc hd_trial_reviews(hd_domain *d, int64_t id, int64_t cursor, int limit, json_t **out,
                       hd_err *err) {
    if (limit < 1 || limit > HD_TRIAL_PAGE_MAX) limit = HD_TRIAL_PAGE_MAX;
    read_ctx rx = {.d = d, .id = id, .cursor = cursor, .limit = limit};
    return hd_read_json(d, reviews_cb, &rx, &rx.out, out, err);
}
