/* auctions.c - auctions, bids that hold points, anti-sniping, and the close
 * job that turns the winning hold into an order.
 *
 * The auction row is the lock: a bid is one conditional UPDATE that claims
 * the lead only if its amount still beats whatever lead it finds (PostgreSQL
 * re-checks the WHERE on the locked, newest row version; SQLite has one
 * writer). The same UPDATE remembers the bid it displaced in prev_bid_id, so
 * the transaction that won the row voids exactly that hold. */
#include "domain/auctions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/catalog.h"
#include "domain/customers.h"
#include "domain/ledger.h"
#include "domain/tiers.h"

typedef struct auction {
    int64_t id, reward_id;
    bool has_option;
    char option[HD_OPTION_CODE_MAX + 1];
    char title_zh[4 * HD_AUCTION_TITLE_MAX + 1], title_en[4 * HD_AUCTION_TITLE_MAX + 1];
    int64_t starts_at, ends_at, scheduled_end;
    int64_t starting_bid, increment, reserve;
    bool has_reserve, tier_required;
    int64_t window_ms, max_ext_ms;
    int64_t leader_id, leader_bid_id, amount, bids;
    char outcome[24];
    int64_t winner_id, order_id, closed_at;
    int64_t created_at, updated_at;
} auction;

#define AUCTION_COLS                                                                               \
    "id, reward_id, option_code, title_zh, title_en, starts_at, ends_at, scheduled_end, "          \
    "starting_bid, increment, reserve, snipe_window_ms, snipe_max_ms, tier_required, leader_id, "  \
    "leader_bid_id, amount, bids, outcome, winner_id, order_id, closed_at, created_at, updated_at"

static void auction_row(hd_rows *r, auction *a) {
    memset(a, 0, sizeof *a);
    a->id = hd_rows_int(r, 0);
    a->reward_id = hd_rows_int(r, 1);
    a->has_option = !hd_rows_isnull(r, 2);
    snprintf(a->option, sizeof a->option, "%s", hd_rows_text(r, 2, NULL));
    snprintf(a->title_zh, sizeof a->title_zh, "%s", hd_rows_text(r, 3, NULL));
    snprintf(a->title_en, sizeof a->title_en, "%s", hd_rows_text(r, 4, NULL));
    a->starts_at = hd_rows_int(r, 5);
    a->ends_at = hd_rows_int(r, 6);
    a->scheduled_end = hd_rows_int(r, 7);
    a->starting_bid = hd_rows_int(r, 8);
    a->increment = hd_rows_int(r, 9);
    a->has_reserve = !hd_rows_isnull(r, 10);
    a->reserve = hd_rows_int(r, 10);
    a->window_ms = hd_rows_int(r, 11);
    a->max_ext_ms = hd_rows_int(r, 12);
    a->tier_required = hd_rows_int(r, 13) != 0;
    a->leader_id = hd_rows_isnull(r, 14) ? 0 : hd_rows_int(r, 14);
    a->leader_bid_id = hd_rows_isnull(r, 15) ? 0 : hd_rows_int(r, 15);
    a->amount = hd_rows_int(r, 16);
    a->bids = hd_rows_int(r, 17);
    snprintf(a->outcome, sizeof a->outcome, "%s", hd_rows_text(r, 18, NULL));
    a->winner_id = hd_rows_isnull(r, 19) ? 0 : hd_rows_int(r, 19);
    a->order_id = hd_rows_isnull(r, 20) ? 0 : hd_rows_int(r, 20);
    a->closed_at = hd_rows_isnull(r, 21) ? 0 : hd_rows_int(r, 21);
    a->created_at = hd_rows_int(r, 22);
    a->updated_at = hd_rows_int(r, 23);
}

static hd_rc auction_load(hd_conn *c, int64_t id, auction *a, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT " AUCTION_COLS " FROM auctions WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) auction_row(r, a);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no auction %lld", (long long)id);
    return HD_OK;
}

/* ---- masked names ---- */

void hd_mask_display(const char *name, const char *phone, char *out, size_t cap) {
    if (cap == 0) return;
    if (name && *name) {
        /* the first character, whole: its UTF-8 length from the lead byte */
        unsigned char b = (unsigned char)name[0];
        size_t n = b < 0x80 ? 1 : b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 1;
        for (size_t i = 1; i < n; i++)
            if (!name[i]) n = i;
        snprintf(out, cap, "%.*s**", (int)n, name);
        return;
    }
    if (phone && *phone) {
        const char *p = phone;
        if (p[0] == '+') p++;
        if (strncmp(p, "86", 2) == 0 && strlen(p) == 13) p += 2; /* +86 and 11 digits */
        size_t n = strlen(p);
        if (n >= 8)
            snprintf(out, cap, "%.3s****%s", p, p + n - 4);
        else
            snprintf(out, cap, "****%s", n > 2 ? p + n - 2 : "");
        return;
    }
    snprintf(out, cap, "***");
}

hd_rc hd_mask_customer_in(hd_conn *c, int64_t customer_id, char *out, size_t cap, hd_err *err) {
    hd_val p = hd_vint(customer_id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT c.name, (SELECT i.value FROM identities i WHERE i.customer_id = "
                        "c.id AND i.kind = 'phone' ORDER BY i.created_at LIMIT 1) FROM customers c "
                        "WHERE c.id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1)
        hd_mask_display(hd_rows_text(r, 0, NULL), hd_rows_text(r, 1, NULL), out, cap);
    else
        hd_mask_display(NULL, NULL, out, cap);
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

/* ---- JSON ---- */

static const char *auction_status(const auction *a, int64_t now) {
    if (a->closed_at) return "closed";
    if (now < a->starts_at) return "scheduled";
    if (now < a->ends_at) return "open";
    return "closing";
}

static void set_opt_int(json_t *o, const char *k, bool has, int64_t v) {
    json_object_set_new(o, k, has ? json_integer(v) : json_null());
}

static void set_opt_id(json_t *o, const char *k, int64_t id) {
    if (id)
        hd_json_set_id(o, k, id);
    else
        json_object_set_new(o, k, json_null());
}

static hd_rc auction_json(hd_conn *c, const auction *a, int64_t now, json_t **out, hd_err *err) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", a->id);
    hd_json_set_id(o, "reward_id", a->reward_id);
    json_object_set_new(o, "option", a->has_option ? json_string(a->option) : json_null());
    hd_spend_title_json(o, a->title_zh, a->title_en);
    hd_json_set_time(o, "starts_at", a->starts_at, true);
    hd_json_set_time(o, "ends_at", a->ends_at, true);
    hd_json_set_time(o, "scheduled_end", a->scheduled_end, true);
    json_object_set_new(o, "starting_bid", json_integer(a->starting_bid));
    json_object_set_new(o, "increment", json_integer(a->increment));
    set_opt_int(o, "reserve", a->has_reserve, a->reserve);
    json_t *as = json_object();
    json_object_set_new(as, "window_s", json_integer(a->window_ms / 1000));
    json_object_set_new(as, "max_extension_s", json_integer(a->max_ext_ms / 1000));
    json_object_set_new(o, "anti_sniping", as);
    json_object_set_new(o, "tier_required", json_boolean(a->tier_required));
    json_object_set_new(o, "status", json_string(auction_status(a, now)));
    json_object_set_new(o, "outcome", a->outcome[0] ? json_string(a->outcome) : json_null());
    set_opt_int(o, "current_bid", a->leader_id != 0, a->amount);
    if (a->leader_id) {
        char m[64];
        hd_rc rc = hd_mask_customer_in(c, a->leader_id, m, sizeof m, err);
        if (rc) {
            json_decref(o);
            return rc;
        }
        json_object_set_new(o, "leader", json_string(m));
    } else {
        json_object_set_new(o, "leader", json_null());
    }
    set_opt_int(o, "min_next_bid", !a->closed_at,
                a->leader_id ? a->amount + a->increment : a->starting_bid);
    json_object_set_new(o, "reserve_met",
                        json_boolean(!a->has_reserve || (a->leader_id && a->amount >= a->reserve)));
    json_object_set_new(o, "bids", json_integer(a->bids));
    set_opt_id(o, "winner_customer_id", a->winner_id);
    set_opt_id(o, "order_id", a->order_id);
    hd_json_set_time(o, "closed_at", a->closed_at, a->closed_at != 0);
    hd_json_set_time(o, "created_at", a->created_at, true);
    hd_json_set_time(o, "updated_at", a->updated_at, true);
    *out = o;
    return HD_OK;
}

/* ---- input ---- */

static const char *const AUCTION_FIELDS[] = {
    "reward_id", "option",  "title",        "starts_at",     "ends_at", "starting_bid",
    "increment", "reserve", "anti_sniping", "tier_required", NULL};

static hd_rc read_amount(const json_t *in, const char *field, bool *present, int64_t *v,
                         int64_t min, hd_err *err) {
    hd_rc rc = hd_json_int(in, field, present, v, err);
    if (rc) return rc;
    if (*present && (*v < min || *v > HD_AMOUNT_MAX))
        return hd_err_set(err, HD_EINVAL, field,
                          "must be a whole number of points from %lld to %lld", (long long)min,
                          (long long)HD_AMOUNT_MAX);
    return HD_OK;
}

/* Reads the title object {"zh","en"} (either may be missing). */
hd_rc hd_spend_title(const json_t *in, char *zh, size_t zcap, char *en, size_t ecap, hd_err *err) {
    json_t *t = json_object_get(in, "title");
    if (!t) return HD_OK;
    if (json_is_null(t)) {
        zh[0] = en[0] = '\0';
        return HD_OK;
    }
    if (!json_is_object(t)) return hd_err_set(err, HD_EINVAL, "title", "must be {\"zh\",\"en\"}");
    static const char *const allowed[] = {"zh", "en", NULL};
    hd_rc rc = hd_json_only(t, allowed, "title", err);
    if (rc) {
        hd_err_prefix(err, "title", ".");
        return rc;
    }
    const char *s;
    if ((rc = hd_json_str(t, "zh", HD_AUCTION_TITLE_MAX, &s, err))) {
        hd_err_prefix(err, "title", ".");
        return rc;
    }
    snprintf(zh, zcap, "%s", s ? s : "");
    if ((rc = hd_json_str(t, "en", HD_AUCTION_TITLE_MAX, &s, err))) {
        hd_err_prefix(err, "title", ".");
        return rc;
    }
    snprintf(en, ecap, "%s", s ? s : "");
    return HD_OK;
}

hd_rc hd_spend_option(const json_t *in, bool *has, char *out, size_t cap, hd_err *err) {
    json_t *v = json_object_get(in, "option");
    if (!v) return HD_OK;
    if (json_is_null(v)) {
        *has = false;
        out[0] = '\0';
        return HD_OK;
    }
    const char *s;
    hd_rc rc = hd_json_str(in, "option", HD_OPTION_CODE_MAX, &s, err);
    if (rc) return rc;
    if (!*s) return hd_err_set(err, HD_EINVAL, "option", "must not be empty (or null for none)");
    *has = true;
    snprintf(out, cap, "%s", s);
    return HD_OK;
}

/* Applies the members of in over a (defaults for create, the stored row for
 * PATCH) and validates the result. */
static hd_rc auction_apply(const json_t *in, const hd_clock *cal, auction *a, bool create,
                           int64_t now, hd_err *err) {
    hd_rc rc = hd_json_only(in, AUCTION_FIELDS, "an auction", err);
    if (rc) return rc;
    bool present;
    int64_t v;
    if ((rc = hd_json_int(in, "reward_id", &present, &v, err))) return rc;
    if (present) {
        if (v <= 0) return hd_err_set(err, HD_EINVAL, "reward_id", "must be a reward id");
        a->reward_id = v;
    } else if (create) {
        return hd_err_set(err, HD_EINVAL, "reward_id", "is required: the reward auctioned");
    }
    if ((rc = hd_spend_option(in, &a->has_option, a->option, sizeof a->option, err))) return rc;
    if ((rc = hd_spend_title(in, a->title_zh, sizeof a->title_zh, a->title_en, sizeof a->title_en,
                             err)))
        return rc;
    if ((rc = hd_json_time(in, "starts_at", cal, &present, &v, err))) return rc;
    if (present) a->starts_at = v;
    if (!present && create)
        return hd_err_set(err, HD_EINVAL, "starts_at", "is required: when bidding opens");
    if ((rc = hd_json_time(in, "ends_at", cal, &present, &v, err))) return rc;
    if (present) a->ends_at = a->scheduled_end = v;
    if (!present && create)
        return hd_err_set(err, HD_EINVAL, "ends_at", "is required: when bidding closes");
    if ((rc = read_amount(in, "starting_bid", &present, &v, 1, err))) return rc;
    if (present) a->starting_bid = v;
    if (!present && create)
        return hd_err_set(err, HD_EINVAL, "starting_bid", "is required: the lowest first bid");
    if ((rc = read_amount(in, "increment", &present, &v, 1, err))) return rc;
    if (present) a->increment = v;
    json_t *res = json_object_get(in, "reserve");
    if (res && json_is_null(res)) {
        a->has_reserve = false;
        a->reserve = 0;
    } else {
        if ((rc = read_amount(in, "reserve", &present, &v, 1, err))) return rc;
        if (present) {
            a->has_reserve = true;
            a->reserve = v;
        }
    }
    json_t *as = json_object_get(in, "anti_sniping");
    if (as && !json_is_null(as)) {
        if (!json_is_object(as))
            return hd_err_set(err, HD_EINVAL, "anti_sniping",
                              "must be {\"window_s\": N, \"max_extension_s\": M}");
        static const char *const allowed[] = {"window_s", "max_extension_s", NULL};
        if ((rc = hd_json_only(as, allowed, "anti_sniping", err))) {
            hd_err_prefix(err, "anti_sniping", ".");
            return rc;
        }
        if ((rc = hd_json_int(as, "window_s", &present, &v, err))) {
            hd_err_prefix(err, "anti_sniping", ".");
            return rc;
        }
        if (present) {
            if (v < 0 || v > HD_AUCTION_WINDOW_MAX_S)
                return hd_err_set(err, HD_EINVAL, "anti_sniping.window_s",
                                  "must be from 0 (off) to %d seconds", HD_AUCTION_WINDOW_MAX_S);
            a->window_ms = v * 1000;
        }
        if ((rc = hd_json_int(as, "max_extension_s", &present, &v, err))) {
            hd_err_prefix(err, "anti_sniping", ".");
            return rc;
        }
        if (present) {
            if (v < 0 || v > HD_AUCTION_EXTEND_MAX_S)
                return hd_err_set(err, HD_EINVAL, "anti_sniping.max_extension_s",
                                  "must be from 0 to %d seconds", HD_AUCTION_EXTEND_MAX_S);
            a->max_ext_ms = v * 1000;
        }
    } else if (as && json_is_null(as)) {
        a->window_ms = a->max_ext_ms = 0;
    }
    json_t *tr = json_object_get(in, "tier_required");
    if (tr && !json_is_null(tr)) {
        if (!json_is_boolean(tr))
            return hd_err_set(err, HD_EINVAL, "tier_required", "must be true or false");
        a->tier_required = json_is_true(tr);
    }
    /* the whole, merged */
    if (a->ends_at <= a->starts_at)
        return hd_err_set(err, HD_EINVAL, "ends_at", "must be after starts_at");
    if (a->ends_at - a->starts_at > HD_AUCTION_DURATION_MAX)
        return hd_err_set(err, HD_EINVAL, "ends_at", "must be within 366 days of starts_at");
    if (a->ends_at <= now) return hd_err_set(err, HD_EINVAL, "ends_at", "must be in the future");
    if (a->has_reserve && a->reserve < a->starting_bid)
        return hd_err_set(err, HD_EINVAL, "reserve", "must be at least the starting bid (%lld)",
                          (long long)a->starting_bid);
    return HD_OK;
}

void hd_spend_title_json(json_t *o, const char *zh, const char *en) {
    if (!zh[0] && !en[0]) return;
    json_t *t = json_object();
    json_object_set_new(t, "zh", json_string(zh));
    json_object_set_new(t, "en", json_string(en));
    json_object_set_new(o, "title", t);
}

hd_rc hd_spend_customer_field(const json_t *in, int64_t *id, hd_err *err) {
    bool present;
    hd_rc rc = hd_json_int(in, "customer_id", &present, id, err);
    if (rc) return rc;
    if (!present || *id <= 0)
        return hd_err_set(err, HD_EINVAL, "customer_id", "is required: a customer id");
    return HD_OK;
}

hd_rc hd_spend_customer_in(hd_conn *c, int64_t id, int64_t *live, hd_err *err) {
    hd_rc rc = hd_customer_follow(c, id, live, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_EINVAL, "customer_id", "no customer %lld", (long long)id);
    return rc;
}

static hd_rc check_reward(hd_conn *c, hd_domain *d, int64_t reward_id, hd_err *err) {
    hd_reward_info ri;
    hd_rc rc = hd_reward_get_in(c, d, reward_id, &ri, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_EINVAL, "reward_id", "no reward %lld", (long long)reward_id);
    return rc;
}

/* ---- create, read, patch ---- */

typedef struct create_ctx {
    hd_domain *d;
    const json_t *in;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    create_ctx *cc = vctx;
    hd_domain *d = cc->d;
    int64_t now = hd_now(d);
    auction a = {0};
    a.increment = 1;
    hd_rc rc = auction_apply(cc->in, d->clock, &a, true, now, err);
    if (rc) return rc;
    if ((rc = check_reward(c, d, a.reward_id, err))) return rc;
    a.id = hd_id_next(d->ids);
    a.created_at = a.updated_at = now;
    hd_val p[16] = {hd_vint(a.id),
                    hd_vint(a.reward_id),
                    a.has_option ? hd_vtext(a.option) : hd_vnull(),
                    hd_vtext(a.title_zh),
                    hd_vtext(a.title_en),
                    hd_vint(a.starts_at),
                    hd_vint(a.ends_at),
                    hd_vint(a.scheduled_end),
                    hd_vint(a.starting_bid),
                    hd_vint(a.increment),
                    a.has_reserve ? hd_vint(a.reserve) : hd_vnull(),
                    hd_vint(a.window_ms),
                    hd_vint(a.max_ext_ms),
                    hd_vbool(a.tier_required),
                    hd_vint(now),
                    hd_vint(now)};
    rc = hd_exec(c,
                 "INSERT INTO auctions (id, reward_id, option_code, title_zh, title_en, starts_at, "
                 "ends_at, scheduled_end, starting_bid, increment, reserve, snipe_window_ms, "
                 "snipe_max_ms, tier_required, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, "
                 "?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 p, 16, NULL, err);
    if (rc) return rc;
    *status = 201;
    return auction_json(c, &a, now, body, err);
}

hd_rc hd_auction_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                        json_t **out, bool *replayed, hd_err *err) {
    create_ctx cc = {d, in};
    return hd_idem_write(d, im, create_cb, &cc, status, out, replayed, err);
}

typedef struct get_ctx {
    hd_domain *d;
    int64_t id;
    json_t *out;
} get_ctx;

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    get_ctx *g = vctx;
    json_decref(g->out);
    g->out = NULL;
    auction a;
    hd_rc rc = auction_load(c, g->id, &a, err);
    if (rc) return rc;
    return auction_json(c, &a, hd_now(g->d), &g->out, err);
}

hd_rc hd_auction_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    get_ctx g = {d, id, NULL};
    hd_rc rc = hd_store_read(d->store, get_cb, &g, err);
    if (rc) {
        json_decref(g.out);
        return rc;
    }
    *out = g.out;
    return HD_OK;
}

typedef struct list_ctx {
    hd_domain *d;
    const char *status;
    int64_t cursor;
    int limit;
    json_t *out;
} list_ctx;

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    list_ctx *l = vctx;
    json_decref(l->out);
    l->out = NULL;
    hd_val p[4] = {hd_vint(l->cursor ? l->cursor : INT64_MAX), hd_vint(hd_now(l->d)),
                   hd_vtext(l->status ? l->status : ""), hd_vint(l->limit + 1)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT " AUCTION_COLS " FROM auctions WHERE id < ?1 AND (?3 = '' OR ?3 = "
                        "CASE WHEN closed_at IS NOT NULL THEN 'closed' WHEN starts_at > ?2 THEN "
                        "'scheduled' WHEN ends_at > ?2 THEN 'open' ELSE 'closing' END) ORDER BY "
                        "id DESC LIMIT ?4",
                        p, 4, &r, err);
    if (rc) return rc;
    auction *rows = calloc((size_t)l->limit + 1, sizeof *rows);
    if (!rows) {
        hd_rows_free(r);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1) auction_row(r, &rows[n++]);
    hd_rows_free(r);
    if (got < 0) {
        free(rows);
        return err->rc;
    }
    json_t *o = json_object(), *data = json_array();
    json_object_set_new(o, "data", data);
    int shown = n > l->limit ? l->limit : n;
    for (int i = 0; i < shown; i++) {
        json_t *j;
        if ((rc = auction_json(c, &rows[i], hd_now(l->d), &j, err))) {
            free(rows);
            json_decref(o);
            return rc;
        }
        json_array_append_new(data, j);
    }
    if (n > l->limit)
        hd_json_set_id(o, "next_cursor", rows[shown - 1].id);
    else
        json_object_set_new(o, "next_cursor", json_null());
    free(rows);
    l->out = o;
    return HD_OK;
}

hd_rc hd_auction_list(hd_domain *d, const char *status, int64_t cursor, int limit, json_t **out,
                      hd_err *err) {
    if (status && strcmp(status, "scheduled") && strcmp(status, "open") &&
        strcmp(status, "closing") && strcmp(status, "closed"))
        return hd_err_set(err, HD_EINVAL, "status", "must be scheduled, open, closing or closed");
    if (limit < 1 || limit > HD_AUCTION_PAGE_MAX) limit = HD_AUCTION_PAGE_MAX;
    list_ctx l = {d, status, cursor, limit, NULL};
    hd_rc rc = hd_store_read(d->store, list_cb, &l, err);
    if (rc) {
        json_decref(l.out);
        return rc;
    }
    *out = l.out;
    return HD_OK;
}

typedef struct patch_ctx {
    hd_domain *d;
    int64_t id;
    const json_t *in;
    json_t *out;
} patch_ctx;

static hd_rc patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    patch_ctx *pc = vctx;
    json_decref(pc->out);
    pc->out = NULL;
    int64_t now = hd_now(pc->d);
    auction a;
    hd_rc rc = auction_load(c, pc->id, &a, err);
    if (rc) return rc;
    if (a.closed_at || now >= a.starts_at) {
        char t[32];
        hd_time_format(a.starts_at, t);
        return hd_err_set(err, HD_ESTATE, "starts_at",
                          "the auction opened at %s; only a scheduled auction can be changed", t);
    }
    int64_t reward_before = a.reward_id;
    if ((rc = auction_apply(pc->in, pc->d->clock, &a, false, now, err))) return rc;
    if (a.reward_id != reward_before && (rc = check_reward(c, pc->d, a.reward_id, err))) return rc;
    int64_t n = 0;
    hd_val p[16] = {hd_vint(a.reward_id),
                    a.has_option ? hd_vtext(a.option) : hd_vnull(),
                    hd_vtext(a.title_zh),
                    hd_vtext(a.title_en),
                    hd_vint(a.starts_at),
                    hd_vint(a.ends_at),
                    hd_vint(a.scheduled_end),
                    hd_vint(a.starting_bid),
                    hd_vint(a.increment),
                    a.has_reserve ? hd_vint(a.reserve) : hd_vnull(),
                    hd_vint(a.window_ms),
                    hd_vint(a.max_ext_ms),
                    hd_vbool(a.tier_required),
                    hd_vint(now),
                    hd_vint(a.id),
                    hd_vint(now)};
    /* the guard: still before the start, still without bids */
    rc = hd_exec(c,
                 "UPDATE auctions SET reward_id = ?, option_code = ?, title_zh = ?, title_en = ?, "
                 "starts_at = ?, ends_at = ?, scheduled_end = ?, starting_bid = ?, increment = ?, "
                 "reserve = ?, snipe_window_ms = ?, snipe_max_ms = ?, tier_required = ?, "
                 "updated_at = ? WHERE id = ? AND starts_at > ? AND closed_at IS NULL AND bids = 0",
                 p, 16, &n, err);
    if (rc) return rc;
    if (n == 0)
        return hd_err_set(err, HD_ESTATE, "starts_at",
                          "the auction opened meanwhile; only a scheduled auction can be changed");
    a.updated_at = now;
    return auction_json(c, &a, now, &pc->out, err);
}

hd_rc hd_auction_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    patch_ctx pc = {d, id, in, NULL};
    hd_rc rc = hd_store_write(d->store, patch_cb, &pc, err);
    if (rc) {
        json_decref(pc.out);
        return rc;
    }
    *out = pc.out;
    return HD_OK;
}

/* ---- bids ---- */

typedef struct bid_ctx {
    hd_domain *d;
    int64_t auction_id;
    int64_t customer_id, amount;
} bid_ctx;

/* Why a bid's claim on the row failed, from the row as it is now. */
static hd_rc bid_refused(hd_conn *c, const bid_ctx *bc, int64_t now, hd_err *err) {
    auction a;
    hd_rc rc = auction_load(c, bc->auction_id, &a, err);
    if (rc) return rc;
    char t[32];
    if (a.closed_at || now >= a.ends_at) {
        hd_time_format(a.ends_at, t);
        return hd_err_set(err, HD_ESTATE, "status", "the auction closed at %s; bidding is over", t);
    }
    if (now < a.starts_at) {
        hd_time_format(a.starts_at, t);
        return hd_err_set(err, HD_ESTATE, "status",
                          "the auction opens at %s; bidding has not begun", t);
    }
    if (!a.leader_id)
        return hd_err_set(err, HD_ESTATE, "amount",
                          "bid too low: the first bid must be at least the starting bid %lld, got "
                          "%lld",
                          (long long)a.starting_bid, (long long)bc->amount);
    return hd_err_set(err, HD_ESTATE, "amount",
                      "bid too low: must be at least %lld (the leading bid %lld plus the increment "
                      "%lld), got %lld",
                      (long long)(a.amount + a.increment), (long long)a.amount,
                      (long long)a.increment, (long long)bc->amount);
}

static hd_rc bid_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    bid_ctx *bc = vctx;
    hd_domain *d = bc->d;
    int64_t now = hd_now(d), cid;
    hd_rc rc = hd_spend_customer_in(c, bc->customer_id, &cid, err);
    if (rc) return rc;
    auction a;
    if ((rc = auction_load(c, bc->auction_id, &a, err))) return rc;
    if (a.tier_required) {
        hd_tier_info ti;
        if ((rc = hd_tier_of_in(c, cid, &ti, err))) return rc;
        if (!ti.has || !ti.access_auctions)
            return hd_err_set(err, HD_EFORBIDDEN, "customer_id",
                              "this auction is for members whose tier gives access to auctions; "
                              "%s%s does not",
                              ti.has ? "the tier " : "a member without a tier",
                              ti.has ? ti.code : "");
    }
    int64_t bid_id = hd_id_next(d->ids);
    /* The claim. SET expressions read the row as it is when locked, so the
     * displaced bid is remembered exactly and the end moves from the
     * current end: a bid in the last window extends it by the window, up
     * to the maximum extension past the scheduled end. */
    hd_val p[5] = {hd_vint(cid), hd_vint(bid_id), hd_vint(bc->amount), hd_vint(now),
                   hd_vint(bc->auction_id)};
    int64_t n = 0;
    rc = hd_exec(
        c,
        "UPDATE auctions SET prev_bid_id = leader_bid_id, leader_id = ?1, leader_bid_id = ?2, "
        "amount = ?3, bids = bids + 1, updated_at = ?4, ends_at = CASE WHEN snipe_window_ms > 0 "
        "AND ends_at - ?4 < snipe_window_ms THEN CASE WHEN ends_at + snipe_window_ms < "
        "scheduled_end + snipe_max_ms THEN ends_at + snipe_window_ms ELSE scheduled_end + "
        "snipe_max_ms END ELSE ends_at END WHERE id = ?5 AND closed_at IS NULL AND starts_at <= "
        "?4 AND ends_at > ?4 AND ((leader_id IS NULL AND starting_bid <= ?3) OR (leader_id IS NOT "
        "NULL AND amount + increment <= ?3))",
        p, 5, &n, err);
    if (rc) return rc;
    if (n == 0) return bid_refused(c, bc, now, err);
    /* void the displaced hold first, so raising your own bid needs only the
     * new amount to be available */
    hd_val q = hd_vint(bc->auction_id);
    hd_rows *pr;
    if ((rc = hd_query(c, "SELECT prev_bid_id, bids FROM auctions WHERE id = ?", &q, 1, &pr, err)))
        return rc;
    int pgot = hd_rows_next(pr, err);
    /* seq: the order in which claims won the row (ids are drawn before the wait) */
    int64_t prev = pgot == 1 && !hd_rows_isnull(pr, 0) ? hd_rows_int(pr, 0) : 0,
            seq = pgot == 1 ? hd_rows_int(pr, 1) : 0;
    hd_rows_free(pr);
    if (pgot != 1)
        return pgot < 0 ? err->rc : hd_err_set(err, HD_EINTERNAL, "", "auction vanished");
    if (prev) {
        hd_val pp[2] = {hd_vint(bc->auction_id), hd_vint(prev)};
        hd_rows *r;
        if ((rc = hd_query(c,
                           "SELECT customer_id, transfer_id FROM auction_bids WHERE auction_id = ? "
                           "AND id = ?",
                           pp, 2, &r, err)))
            return rc;
        int got = hd_rows_next(r, err);
        int64_t pc = got == 1 ? hd_rows_int(r, 0) : 0, pt = got == 1 ? hd_rows_int(r, 1) : 0;
        hd_rows_free(r);
        if (got < 0) return err->rc;
        if (got == 0)
            return hd_err_set(err, HD_EINTERNAL, "", "displaced bid %lld is missing",
                              (long long)prev);
        if ((rc = hd_ledger_resolve_in(c, d, pt, false, err))) return rc;
        hd_val u[4] = {hd_vtext(pc == cid ? "replaced" : "outbid"), hd_vint(now), hd_vint(pc),
                       hd_vint(prev)};
        if ((rc = hd_exec(c,
                          "UPDATE auction_bids SET status = ?, resolved_at = ? WHERE customer_id = "
                          "? AND id = ?",
                          u, 4, NULL, err)))
            return rc;
    }
    char key[96], acc[48], ref[48];
    snprintf(key, sizeof key, "auction:%lld:bid:%lld", (long long)bc->auction_id,
             (long long)bid_id);
    snprintf(acc, sizeof acc, "customer:%lld", (long long)cid);
    snprintf(ref, sizeof ref, "auction:%lld", (long long)bc->auction_id);
    hd_transfer_req t = {.key = key,
                         .debit = acc,
                         .credit = "system:redemption",
                         .amount = bc->amount,
                         .code = "redeem",
                         .reference = ref,
                         .pending = true};
    hd_transfer_res tr;
    if ((rc = hd_ledger_transfer_in(c, d, &t, &tr, err))) return rc;
    hd_val b[7] = {hd_vint(cid), hd_vint(bid_id),     hd_vint(bc->auction_id),
                   hd_vint(seq), hd_vint(bc->amount), hd_vint(tr.id),
                   hd_vint(now)};
    if ((rc = hd_exec(c,
                      "INSERT INTO auction_bids (customer_id, id, auction_id, seq, amount, "
                      "transfer_id, status, created_at) VALUES (?, ?, ?, ?, ?, ?, 'leading', ?)",
                      b, 7, NULL, err)))
        return rc;
    if ((rc = auction_load(c, bc->auction_id, &a, err))) return rc;
    json_t *o = json_object();
    hd_json_set_id(o, "id", bid_id);
    hd_json_set_id(o, "auction_id", bc->auction_id);
    hd_json_set_id(o, "customer_id", cid);
    json_object_set_new(o, "seq", json_integer(seq));
    json_object_set_new(o, "amount", json_integer(bc->amount));
    json_object_set_new(o, "status", json_string("leading"));
    hd_json_set_id(o, "transfer_id", tr.id);
    hd_json_set_time(o, "created_at", now, true);
    json_t *aj;
    if ((rc = auction_json(c, &a, now, &aj, err))) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "auction", aj);
    *status = 201;
    *body = o;
    return HD_OK;
}

hd_rc hd_auction_bid(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                     json_t **out, bool *replayed, hd_err *err) {
    static const char *const allowed[] = {"customer_id", "amount", NULL};
    hd_rc rc = hd_json_only(in, allowed, "a bid", err);
    if (rc) return rc;
    bid_ctx bc = {d, id, 0, 0};
    bool present;
    if ((rc = hd_spend_customer_field(in, &bc.customer_id, err))) return rc;
    if ((rc = read_amount(in, "amount", &present, &bc.amount, 1, err))) return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, "amount", "is required: the bid in points");
    return hd_idem_write(d, im, bid_cb, &bc, status, out, replayed, err);
}

typedef struct bids_ctx {
    int64_t id, cursor;
    int limit;
    json_t *out;
} bids_ctx;

/* A bid in the list: the bidder masked, the cursor its sequence number. */
static json_t *bid_row(hd_rows *r, void *arg) {
    (void)arg;
    json_t *e = json_object();
    hd_json_set_id(e, "id", hd_rows_int(r, 0));
    json_object_set_new(e, "seq", json_integer(hd_rows_int(r, 6)));
    char m[64];
    hd_mask_display(hd_rows_text(r, 4, NULL), hd_rows_text(r, 5, NULL), m, sizeof m);
    json_object_set_new(e, "bidder", json_string(m));
    json_object_set_new(e, "amount", json_integer(hd_rows_int(r, 1)));
    json_object_set_new(e, "status", json_string(hd_rows_text(r, 2, NULL)));
    hd_json_set_time(e, "created_at", hd_rows_int(r, 3), true);
    return e;
}

static hd_rc bids_cb(hd_conn *c, void *vctx, hd_err *err) {
    bids_ctx *b = vctx;
    json_decref(b->out);
    b->out = NULL;
    hd_val p = hd_vint(b->id);
    int64_t exists;
    hd_rc rc = hd_query_int(c, "SELECT count(*) FROM auctions WHERE id = ?", &p, 1, &exists, err);
    if (rc) return rc;
    if (!exists) return hd_err_set(err, HD_ENOTFOUND, "id", "no auction %lld", (long long)b->id);
    hd_val q[3] = {hd_vint(b->id), hd_vint(b->cursor ? b->cursor : INT64_MAX),
                   hd_vint(b->limit + 1)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT b.id, b.amount, b.status, b.created_at, c.name, (SELECT i.value "
                       "FROM identities i WHERE i.customer_id = b.customer_id AND i.kind = "
                       "'phone' ORDER BY i.created_at LIMIT 1), b.seq FROM auction_bids b LEFT "
                       "JOIN customers c ON c.id = b.customer_id WHERE b.auction_id = ? AND b.seq "
                       "< ? ORDER BY b.seq DESC LIMIT ?",
                       q, 3, &r, err)))
        return rc;
    return hd_page_json(r, b->limit, 6, bid_row, NULL, &b->out, err);
}

hd_rc hd_auction_bids(hd_domain *d, int64_t id, int64_t cursor, int limit, json_t **out,
                      hd_err *err) {
    if (limit < 1 || limit > HD_AUCTION_PAGE_MAX) limit = HD_AUCTION_PAGE_MAX;
    bids_ctx b = {id, cursor, limit, NULL};
    hd_rc rc = hd_store_read(d->store, bids_cb, &b, err);
    if (rc) {
        json_decref(b.out);
        return rc;
    }
    *out = b.out;
    return HD_OK;
}

/* ---- close ---- */

typedef hd_sweep_item close_ctx;

/* Voids every hold still pending on the auction (normally only the leader's). */
static hd_rc void_leading(hd_conn *c, hd_domain *d, int64_t auction_id, int64_t now, hd_err *err) {
    hd_val p = hd_vint(auction_id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT customer_id, id, transfer_id FROM auction_bids WHERE auction_id = "
                        "? AND status = 'leading'",
                        &p, 1, &r, err);
    if (rc) return rc;
    enum { MAXV = 64 };
    int64_t cust[MAXV], ids[MAXV], xfer[MAXV];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < MAXV) {
        cust[n] = hd_rows_int(r, 0);
        ids[n] = hd_rows_int(r, 1);
        xfer[n] = hd_rows_int(r, 2);
        n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++) {
        if ((rc = hd_ledger_resolve_in(c, d, xfer[i], false, err))) return rc;
        hd_val u[3] = {hd_vint(now), hd_vint(cust[i]), hd_vint(ids[i])};
        if ((rc = hd_exec(c,
                          "UPDATE auction_bids SET status = 'lost', resolved_at = ? WHERE "
                          "customer_id = ? AND id = ?",
                          u, 3, NULL, err)))
            return rc;
    }
    return HD_OK;
}

static hd_rc close_cb(hd_conn *c, void *vctx, hd_err *err) {
    close_ctx *cc = vctx;
    hd_domain *d = cc->d;
    int64_t now = cc->now, n = 0;
    /* the guard: one closer wins, and only once no bid can extend the end */
    hd_val p[3] = {hd_vint(now), hd_vint(cc->id), hd_vint(now)};
    hd_rc rc = hd_exec(c,
                       "UPDATE auctions SET closed_at = ?1, updated_at = ?1 WHERE id = ?2 AND "
                       "closed_at IS NULL AND ends_at <= ?3",
                       p, 3, &n, err);
    if (rc || n == 0) return rc;
    auction a;
    if ((rc = auction_load(c, cc->id, &a, err))) return rc;
    const char *outcome = "no_bids";
    int64_t order_id = 0, winner = 0;
    if (a.leader_id && a.has_reserve && a.amount < a.reserve) {
        outcome = "reserve_not_met";
    } else if (a.leader_id) {
        /* a savepoint, so a refusal part-way through the catalog's updates
         * leaves no trace when the auction closes without a sale */
        if ((rc = hd_exec(c, "SAVEPOINT auction_stock", NULL, 0, NULL, err))) return rc;
        hd_err serr;
        hd_err_clear(&serr);
        rc = hd_reward_take_stock_in(c, a.reward_id, a.has_option ? a.option : NULL, 1, &serr);
        if (rc == HD_ESTATE || rc == HD_ENOTFOUND) {
            if ((rc = hd_exec(c, "ROLLBACK TO SAVEPOINT auction_stock", NULL, 0, NULL, err)))
                return rc;
            outcome = "out_of_stock"; /* nothing to deliver: the holds are voided below */
        } else if (rc) {
            *err = serr;
            return rc;
        }
        if ((rc = hd_exec(c, "RELEASE SAVEPOINT auction_stock", NULL, 0, NULL, err))) return rc;
        if (strcmp(outcome, "out_of_stock") != 0) {
            hd_val q[2] = {hd_vint(a.id), hd_vint(a.leader_bid_id)};
            int64_t xfer;
            if ((rc = hd_query_int(c,
                                   "SELECT transfer_id FROM auction_bids WHERE auction_id = ? AND "
                                   "id = ?",
                                   q, 2, &xfer, err)))
                return rc;
            if ((rc = hd_ledger_resolve_in(c, d, xfer, true, err))) return rc;
            char ref[48];
            snprintf(ref, sizeof ref, "auction:%lld", (long long)a.id);
            hd_order_req o = {.customer_id = a.leader_id,
                              .reward_id = a.reward_id,
                              .option = a.has_option ? a.option : NULL,
                              .quantity = 1,
                              .points = a.amount,
                              .transfer_id = xfer,
                              .source = "auction",
                              .source_ref = ref};
            if ((rc = hd_order_create_in(c, d, &o, &order_id, err))) return rc;
            hd_val u[3] = {hd_vint(now), hd_vint(a.leader_id), hd_vint(a.leader_bid_id)};
            if ((rc = hd_exec(c,
                              "UPDATE auction_bids SET status = 'won', resolved_at = ? WHERE "
                              "customer_id = ? AND id = ?",
                              u, 3, NULL, err)))
                return rc;
            outcome = "sold";
            winner = a.leader_id;
        }
    }
    if ((rc = void_leading(c, d, a.id, now, err))) return rc;
    hd_val u[4] = {hd_vtext(outcome), winner ? hd_vint(winner) : hd_vnull(),
                   order_id ? hd_vint(order_id) : hd_vnull(), hd_vint(a.id)};
    return hd_exec(c, "UPDATE auctions SET outcome = ?, winner_id = ?, order_id = ? WHERE id = ?",
                   u, 4, NULL, err);
}

hd_rc hd_auction_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)arg;
    /* bounded: at most 10 rounds of 100 per run; the next run takes the rest */
    return hd_domain_sweep(d, now_ms,
                           "SELECT id FROM auctions WHERE closed_at IS NULL AND ends_at <= ? ORDER "
                           "BY ends_at, id LIMIT 100",
                           10, "auction", close_cb, err);
}
