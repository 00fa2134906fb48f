/* groupbuys.c - group-buy deals, groups with share codes, joins that hold
 * the price, completion into orders, and the expiry job.
 *
 * Two rows are locks: the deal row (a conditional UPDATE reserves N units
 * when a group starts, so groups never promise more than the deal's stock)
 * and the group row (a conditional UPDATE of the member count admits a
 * join only while there is a place, so exactly N members get in). */
#include "domain/groupbuys.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auctions.h"
#include "domain/catalog.h"
#include "domain/events.h"
#include "domain/ledger.h"

typedef struct deal {
    int64_t id, reward_id;
    bool has_option;
    char option[HD_OPTION_CODE_MAX + 1];
    char title_zh[4 * HD_AUCTION_TITLE_MAX + 1], title_en[4 * HD_AUCTION_TITLE_MAX + 1];
    int64_t group_size, price, fill_ms, stock, reserved, sold;
    bool has_starts, has_ends, active;
    int64_t starts_at, ends_at, created_at, updated_at;
} deal;

#define DEAL_COLS                                                                                  \
    "id, reward_id, option_code, title_zh, title_en, group_size, price, fill_ms, stock, "          \
    "reserved, sold, starts_at, ends_at, active, created_at, updated_at"

static void deal_row(hd_rows *r, deal *g) {
    memset(g, 0, sizeof *g);
    g->id = hd_rows_int(r, 0);
    g->reward_id = hd_rows_int(r, 1);
    g->has_option = !hd_rows_isnull(r, 2);
    snprintf(g->option, sizeof g->option, "%s", hd_rows_text(r, 2, NULL));
    snprintf(g->title_zh, sizeof g->title_zh, "%s", hd_rows_text(r, 3, NULL));
    snprintf(g->title_en, sizeof g->title_en, "%s", hd_rows_text(r, 4, NULL));
    g->group_size = hd_rows_int(r, 5);
    g->price = hd_rows_int(r, 6);
    g->fill_ms = hd_rows_int(r, 7);
    g->stock = hd_rows_int(r, 8);
    g->reserved = hd_rows_int(r, 9);
    g->sold = hd_rows_int(r, 10);
    g->has_starts = !hd_rows_isnull(r, 11);
    g->starts_at = hd_rows_int(r, 11);
    g->has_ends = !hd_rows_isnull(r, 12);
    g->ends_at = hd_rows_int(r, 12);
    g->active = hd_rows_int(r, 13) != 0;
    g->created_at = hd_rows_int(r, 14);
    g->updated_at = hd_rows_int(r, 15);
}

static hd_rc deal_load(hd_conn *c, int64_t id, deal *g, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT " DEAL_COLS " FROM groupbuy_deals WHERE id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) deal_row(r, g);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return hd_err_set(err, HD_ENOTFOUND, "id", "no group-buy deal %lld", (long long)id);
    return HD_OK;
}

typedef struct group {
    int64_t id, deal_id, initiator_id, reward_id;
    bool has_option;
    char option[HD_OPTION_CODE_MAX + 1];
    char code[HD_GROUP_CODE_LEN + 1];
    int64_t group_size, members, price;
    char status[16];
    int64_t expires_at, completed_at, created_at;
} group;

#define GROUP_COLS                                                                                 \
    "id, deal_id, initiator_id, reward_id, option_code, code, group_size, members, price, "        \
    "status, expires_at, completed_at, created_at"

static void group_row(hd_rows *r, group *g) {
    memset(g, 0, sizeof *g);
    g->id = hd_rows_int(r, 0);
    g->deal_id = hd_rows_int(r, 1);
    g->initiator_id = hd_rows_int(r, 2);
    g->reward_id = hd_rows_int(r, 3);
    g->has_option = !hd_rows_isnull(r, 4);
    snprintf(g->option, sizeof g->option, "%s", hd_rows_text(r, 4, NULL));
    snprintf(g->code, sizeof g->code, "%s", hd_rows_text(r, 5, NULL));
    g->group_size = hd_rows_int(r, 6);
    g->members = hd_rows_int(r, 7);
    g->price = hd_rows_int(r, 8);
    snprintf(g->status, sizeof g->status, "%s", hd_rows_text(r, 9, NULL));
    g->expires_at = hd_rows_int(r, 10);
    g->completed_at = hd_rows_isnull(r, 11) ? 0 : hd_rows_int(r, 11);
    g->created_at = hd_rows_int(r, 12);
}

/* by id (code NULL) or by share code */
static hd_rc group_load(hd_conn *c, int64_t id, const char *code, group *g, hd_err *err) {
    hd_val p = code ? hd_vtext(code) : hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        code ? "SELECT " GROUP_COLS " FROM groupbuy_groups WHERE code = ?"
                             : "SELECT " GROUP_COLS " FROM groupbuy_groups WHERE id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) group_row(r, g);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0)
        return code ? hd_err_set(err, HD_ENOTFOUND, "code", "no group with share code '%s'", code)
                    : hd_err_set(err, HD_ENOTFOUND, "id", "no group %lld", (long long)id);
    return HD_OK;
}

/* Upper-cases a share code into out; false when it cannot be one. */
static bool code_norm(const char *in, char out[HD_GROUP_CODE_LEN + 1]) {
    size_t n = in ? strlen(in) : 0;
    if (n != HD_GROUP_CODE_LEN) return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)in[i])) return false;
        out[i] = (char)toupper((unsigned char)in[i]);
    }
    out[n] = '\0';
    return true;
}

/* A fresh share code: no 0/O, 1/I/L, so it survives being read aloud. */
static void code_new(char out[HD_GROUP_CODE_LEN + 1]) {
    static const char alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    for (int i = 0; i < HD_GROUP_CODE_LEN; i++)
        out[i] = alphabet[randombytes_uniform((uint32_t)(sizeof alphabet - 1))];
    out[HD_GROUP_CODE_LEN] = '\0';
}

/* ---- JSON ---- */

static hd_rc deal_json(hd_conn *c, const deal *g, json_t **out, hd_err *err) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", g->id);
    hd_json_set_id(o, "reward_id", g->reward_id);
    json_object_set_new(o, "option", g->has_option ? json_string(g->option) : json_null());
    hd_spend_title_json(o, g->title_zh, g->title_en);
    json_object_set_new(o, "group_size", json_integer(g->group_size));
    json_object_set_new(o, "price", json_integer(g->price));
    json_object_set_new(o, "fill_s", json_integer(g->fill_ms / 1000));
    json_object_set_new(o, "stock", json_integer(g->stock));
    json_object_set_new(o, "reserved", json_integer(g->reserved));
    json_object_set_new(o, "sold", json_integer(g->sold));
    json_object_set_new(o, "available_groups",
                        json_integer((g->stock - g->reserved) / g->group_size));
    hd_json_set_time(o, "starts_at", g->starts_at, g->has_starts);
    hd_json_set_time(o, "ends_at", g->ends_at, g->has_ends);
    json_object_set_new(o, "active", json_boolean(g->active));
    json_t *counts = json_object();
    json_object_set_new(counts, "open", json_integer(0));
    json_object_set_new(counts, "completed", json_integer(0));
    json_object_set_new(counts, "expired", json_integer(0));
    json_object_set_new(o, "groups", counts);
    hd_val p = hd_vint(g->id);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT status, count(*) FROM groupbuy_groups WHERE deal_id = ? GROUP BY "
                        "status",
                        &p, 1, &r, err);
    if (rc) {
        json_decref(o);
        return rc;
    }
    int got;
    while ((got = hd_rows_next(r, err)) == 1)
        json_object_set_new(counts, hd_rows_text(r, 0, NULL), json_integer(hd_rows_int(r, 1)));
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    hd_json_set_time(o, "created_at", g->created_at, true);
    hd_json_set_time(o, "updated_at", g->updated_at, true);
    *out = o;
    return HD_OK;
}

static hd_rc group_json(hd_conn *c, const group *g, json_t **out, hd_err *err) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", g->id);
    json_object_set_new(o, "code", json_string(g->code));
    hd_json_set_id(o, "deal_id", g->deal_id);
    hd_json_set_id(o, "reward_id", g->reward_id);
    json_object_set_new(o, "option", g->has_option ? json_string(g->option) : json_null());
    char m[64];
    hd_rc rc = hd_mask_customer_in(c, g->initiator_id, m, sizeof m, err);
    if (rc) {
        json_decref(o);
        return rc;
    }
    json_object_set_new(o, "initiator", json_string(m));
    json_object_set_new(o, "group_size", json_integer(g->group_size));
    json_object_set_new(o, "joined", json_integer(g->members));
    json_object_set_new(o, "remaining", json_integer(g->group_size - g->members));
    json_object_set_new(o, "price", json_integer(g->price));
    json_object_set_new(o, "status", json_string(g->status));
    hd_json_set_time(o, "expires_at", g->expires_at, true);
    hd_json_set_time(o, "completed_at", g->completed_at, g->completed_at != 0);
    json_t *members = json_array();
    json_object_set_new(o, "members", members);
    hd_val p = hd_vint(g->id);
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT m.customer_id, m.joined_at, c.name, (SELECT i.value FROM identities "
                       "i WHERE i.customer_id = m.customer_id AND i.kind = 'phone' ORDER BY "
                       "i.created_at LIMIT 1) FROM groupbuy_members m LEFT JOIN customers c ON "
                       "c.id = m.customer_id WHERE m.group_id = ? ORDER BY m.seq",
                       &p, 1, &r, err))) {
        json_decref(o);
        return rc;
    }
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *e = json_object();
        hd_mask_display(hd_rows_text(r, 2, NULL), hd_rows_text(r, 3, NULL), m, sizeof m);
        json_object_set_new(e, "name", json_string(m));
        hd_json_set_time(e, "joined_at", hd_rows_int(r, 1), true);
        json_object_set_new(e, "initiator", json_boolean(hd_rows_int(r, 0) == g->initiator_id));
        json_array_append_new(members, e);
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    hd_json_set_time(o, "created_at", g->created_at, true);
    *out = o;
    return HD_OK;
}

/* ---- deals ---- */

static const char *const DEAL_FIELDS[] = {"reward_id", "option", "title", "group_size",
                                          "price",     "fill_s", "stock", "starts_at",
                                          "ends_at",   "active", NULL};

static hd_rc read_bounded(const json_t *in, const char *field, bool *present, int64_t *v,
                          int64_t min, int64_t max, const char *what, hd_err *err) {
    hd_rc rc = hd_json_int(in, field, present, v, err);
    if (rc) return rc;
    if (*present && (*v < min || *v > max))
        return hd_err_set(err, HD_EINVAL, field, "must be %s from %lld to %lld", what,
                          (long long)min, (long long)max);
    return HD_OK;
}

/* Reads an optional time member; explicit null clears it. */
static hd_rc read_opt_time(const json_t *in, const char *field, const hd_clock *cal, bool *has,
                           int64_t *v, hd_err *err) {
    json_t *j = json_object_get(in, field);
    if (!j) return HD_OK;
    if (json_is_null(j)) {
        *has = false;
        *v = 0;
        return HD_OK;
    }
    bool present;
    hd_rc rc = hd_json_time(in, field, cal, &present, v, err);
    if (!rc) *has = true;
    return rc;
}

static hd_rc read_active(const json_t *in, bool *active, hd_err *err) {
    json_t *a = json_object_get(in, "active");
    if (!a || json_is_null(a)) return HD_OK;
    if (!json_is_boolean(a)) return hd_err_set(err, HD_EINVAL, "active", "must be true or false");
    *active = json_is_true(a);
    return HD_OK;
}

typedef struct create_ctx {
    hd_domain *d;
    const json_t *in;
} create_ctx;

static hd_rc create_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    create_ctx *cc = vctx;
    hd_domain *d = cc->d;
    const json_t *in = cc->in;
    int64_t now = hd_now(d);
    deal g = {.active = true, .fill_ms = 86400000};
    hd_rc rc = hd_json_only(in, DEAL_FIELDS, "a group-buy deal", err);
    if (rc) return rc;
    bool present;
    int64_t v;
    if ((rc = hd_json_int(in, "reward_id", &present, &g.reward_id, err))) return rc;
    if (!present || g.reward_id <= 0)
        return hd_err_set(err, HD_EINVAL, "reward_id", "is required: the reward sold in groups");
    if ((rc = hd_spend_option(in, &g.has_option, g.option, sizeof g.option, err))) return rc;
    if ((rc =
             hd_spend_title(in, g.title_zh, sizeof g.title_zh, g.title_en, sizeof g.title_en, err)))
        return rc;
    if ((rc = read_bounded(in, "group_size", &present, &g.group_size, HD_GROUP_SIZE_MIN,
                           HD_GROUP_SIZE_MAX, "the members a group needs", err)))
        return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, "group_size", "is required: N members");
    if ((rc = read_bounded(in, "price", &present, &g.price, 1, HD_AMOUNT_MAX,
                           "the points each member pays", err)))
        return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, "price", "is required: points per member");
    if ((rc = read_bounded(in, "fill_s", &present, &v, HD_GROUP_FILL_MIN_S, HD_GROUP_FILL_MAX_S,
                           "the seconds a group has to fill", err)))
        return rc;
    if (present) g.fill_ms = v * 1000;
    if ((rc = read_bounded(in, "stock", &present, &g.stock, 1, 1000000000,
                           "the units this deal may sell", err)))
        return rc;
    if (!present) return hd_err_set(err, HD_EINVAL, "stock", "is required: units for the deal");
    if (g.stock < g.group_size)
        return hd_err_set(err, HD_EINVAL, "stock", "must cover at least one group of %lld",
                          (long long)g.group_size);
    if ((rc = read_opt_time(in, "starts_at", cc->d->clock, &g.has_starts, &g.starts_at, err)))
        return rc;
    if ((rc = read_opt_time(in, "ends_at", cc->d->clock, &g.has_ends, &g.ends_at, err))) return rc;
    if (g.has_ends && g.ends_at <= now)
        return hd_err_set(err, HD_EINVAL, "ends_at", "must be in the future");
    if (g.has_ends && g.has_starts && g.ends_at <= g.starts_at)
        return hd_err_set(err, HD_EINVAL, "ends_at", "must be after starts_at");
    if ((rc = read_active(in, &g.active, err))) return rc;
    hd_reward_info ri;
    rc = hd_reward_get_in(c, d, g.reward_id, &ri, err);
    if (rc == HD_ENOTFOUND)
        return hd_err_set(err, HD_EINVAL, "reward_id", "no reward %lld", (long long)g.reward_id);
    if (rc) return rc;
    g.id = hd_id_next(d->ids);
    g.created_at = g.updated_at = now;
    hd_val p[14] = {hd_vint(g.id),
                    hd_vint(g.reward_id),
                    g.has_option ? hd_vtext(g.option) : hd_vnull(),
                    hd_vtext(g.title_zh),
                    hd_vtext(g.title_en),
                    hd_vint(g.group_size),
                    hd_vint(g.price),
                    hd_vint(g.fill_ms),
                    hd_vint(g.stock),
                    g.has_starts ? hd_vint(g.starts_at) : hd_vnull(),
                    g.has_ends ? hd_vint(g.ends_at) : hd_vnull(),
                    hd_vbool(g.active),
                    hd_vint(now),
                    hd_vint(now)};
    if ((rc = hd_exec(c,
                      "INSERT INTO groupbuy_deals (id, reward_id, option_code, title_zh, title_en, "
                      "group_size, price, fill_ms, stock, starts_at, ends_at, active, created_at, "
                      "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      p, 14, NULL, err)))
        return rc;
    *status = 201;
    return deal_json(c, &g, body, err);
}

hd_rc hd_groupbuy_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                         json_t **out, bool *replayed, hd_err *err) {
    create_ctx cc = {d, in};
    return hd_idem_write(d, im, create_cb, &cc, status, out, replayed, err);
}

typedef struct read_ctx {
    hd_domain *d;
    int64_t id, cursor;
    const char *code, *status;
    int limit;
    json_t *out;
} read_ctx;

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    deal g;
    hd_rc rc = deal_load(c, rx->id, &g, err);
    if (rc) return rc;
    return deal_json(c, &g, &rx->out, err);
}

hd_rc hd_groupbuy_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    read_ctx rx = {.d = d, .id = id};
    return hd_read_json(d, get_cb, &rx, &rx.out, out, err);
}

static hd_rc list_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    hd_val p[2] = {hd_vint(rx->cursor ? rx->cursor : INT64_MAX), hd_vint(rx->limit + 1)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT " DEAL_COLS " FROM groupbuy_deals WHERE id < ? ORDER BY id DESC "
                        "LIMIT ?",
                        p, 2, &r, err);
    if (rc) return rc;
    deal *rows = calloc((size_t)rx->limit + 1, sizeof *rows);
    if (!rows) {
        hd_rows_free(r);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1) deal_row(r, &rows[n++]);
    hd_rows_free(r);
    json_t *o = json_object(), *data = json_array();
    json_object_set_new(o, "data", data);
    int shown = n > rx->limit ? rx->limit : n;
    for (int i = 0; got >= 0 && i < shown; i++) {
        json_t *j;
        if ((rc = deal_json(c, &rows[i], &j, err))) {
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

hd_rc hd_groupbuy_list(hd_domain *d, int64_t cursor, int limit, json_t **out, hd_err *err) {
    if (limit < 1 || limit > HD_GROUPBUY_PAGE_MAX) limit = HD_GROUPBUY_PAGE_MAX;
    read_ctx rx = {.d = d, .cursor = cursor, .limit = limit};
    return hd_read_json(d, list_cb, &rx, &rx.out, out, err);
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
    static const char *const allowed[] = {"active", "ends_at", "stock", "title", NULL};
    hd_rc rc = hd_json_only(pc->in, allowed, "a group-buy deal update", err);
    if (rc) return rc;
    int64_t now = hd_now(pc->d);
    deal g;
    if ((rc = deal_load(c, pc->id, &g, err))) return rc;
    if ((rc = read_active(pc->in, &g.active, err))) return rc;
    if ((rc = read_opt_time(pc->in, "ends_at", pc->d->clock, &g.has_ends, &g.ends_at, err)))
        return rc;
    if (json_object_get(pc->in, "ends_at") && g.has_ends && g.ends_at <= now)
        return hd_err_set(err, HD_EINVAL, "ends_at", "must be in the future");
    if ((rc = hd_spend_title(pc->in, g.title_zh, sizeof g.title_zh, g.title_en, sizeof g.title_en,
                             err)))
        return rc;
    bool present;
    if ((rc = read_bounded(pc->in, "stock", &present, &g.stock, 1, 1000000000,
                           "the units this deal may sell", err)))
        return rc;
    int64_t n = 0;
    hd_val p[8] = {hd_vbool(g.active),   g.has_ends ? hd_vint(g.ends_at) : hd_vnull(),
                   hd_vint(g.stock),     hd_vtext(g.title_zh),
                   hd_vtext(g.title_en), hd_vint(now),
                   hd_vint(g.id),        hd_vint(g.stock)};
    /* the stock may not drop below what started groups already reserved */
    if ((rc = hd_exec(c,
                      "UPDATE groupbuy_deals SET active = ?, ends_at = ?, stock = ?, title_zh = ?, "
                      "title_en = ?, updated_at = ? WHERE id = ? AND reserved <= ?",
                      p, 8, &n, err)))
        return rc;
    if (n == 0)
        return hd_err_set(err, HD_ESTATE, "stock",
                          "groups already reserved %lld units; the stock cannot go below that",
                          (long long)g.reserved);
    if ((rc = deal_load(c, pc->id, &g, err))) return rc;
    return deal_json(c, &g, &pc->out, err);
}

hd_rc hd_groupbuy_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err) {
    patch_ctx pc = {d, id, in, NULL};
    hd_rc rc = hd_store_write(d->store, patch_cb, &pc, err);
    if (rc) {
        json_decref(pc.out);
        return rc;
    }
    *out = pc.out;
    return HD_OK;
}

/* ---- joining ---- */

/* Why a join's claim on the group row failed. */
static hd_rc join_refused(hd_conn *c, int64_t group_id, int64_t now, hd_err *err) {
    group g;
    hd_rc rc = group_load(c, group_id, NULL, &g, err);
    if (rc) return rc;
    char t[32];
    if (strcmp(g.status, "completed") == 0 ||
        (strcmp(g.status, "open") == 0 && g.members >= g.group_size))
        return hd_err_set(err, HD_ESTATE, "code", "group %s is full: all %lld places are taken",
                          g.code, (long long)g.group_size);
    hd_time_format(g.expires_at, t);
    if (strcmp(g.status, "expired") == 0 || now >= g.expires_at)
        return hd_err_set(err, HD_ESTATE, "code",
                          "group %s expired at %s before it filled; start a new group", g.code, t);
    return hd_err_set(err, HD_ESTATE, "code", "group %s is %s", g.code, g.status);
}

/* Posts every hold, takes N units and creates N orders. */
static hd_rc complete(hd_conn *c, hd_domain *d, const group *g, int64_t now, json_t *orders,
                      hd_err *err) {
    hd_val p[2] = {hd_vint(now), hd_vint(g->id)};
    int64_t n = 0;
    hd_rc rc = hd_exec(c,
                       "UPDATE groupbuy_groups SET status = 'completed', completed_at = ? WHERE id "
                       "= ? AND status = 'open'",
                       p, 2, &n, err);
    if (rc) return rc;
    if (n == 0)
        return hd_err_set(err, HD_EINTERNAL, "", "group %lld completed twice", (long long)g->id);
    if ((rc = hd_reward_take_stock_in(c, g->reward_id, g->has_option ? g->option : NULL,
                                      (int)g->group_size, err)))
        return rc;
    hd_val q = hd_vint(g->id);
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT customer_id, transfer_id FROM groupbuy_members WHERE group_id = ? "
                       "ORDER BY seq",
                       &q, 1, &r, err)))
        return rc;
    int64_t cust[HD_GROUP_SIZE_MAX], xfer[HD_GROUP_SIZE_MAX];
    int m = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && m < HD_GROUP_SIZE_MAX) {
        cust[m] = hd_rows_int(r, 0);
        xfer[m] = hd_rows_int(r, 1);
        m++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (m != g->group_size)
        return hd_err_set(err, HD_EINTERNAL, "", "group %lld has %d members, not %lld",
                          (long long)g->id, m, (long long)g->group_size);
    char ref[48];
    snprintf(ref, sizeof ref, "groupbuy:%lld", (long long)g->id);
    for (int i = 0; i < m; i++) {
        if ((rc = hd_ledger_resolve_in(c, d, xfer[i], true, err))) return rc;
        hd_order_req o = {.customer_id = cust[i],
                          .reward_id = g->reward_id,
                          .option = g->has_option ? g->option : NULL,
                          .quantity = 1,
                          .points = g->price,
                          .transfer_id = xfer[i],
                          .source = "groupbuy",
                          .source_ref = ref};
        int64_t oid;
        if ((rc = hd_order_create_in(c, d, &o, &oid, err))) return rc;
        hd_val u[3] = {hd_vint(oid), hd_vint(cust[i]), hd_vint(g->id)};
        if ((rc = hd_exec(c,
                          "UPDATE groupbuy_members SET status = 'posted', order_id = ? WHERE "
                          "customer_id = ? AND group_id = ?",
                          u, 3, NULL, err)))
            return rc;
        char s[24];
        hd_id_format(oid, s);
        json_array_append_new(orders, json_string(s));
    }
    hd_val u[3] = {hd_vint(g->group_size), hd_vint(now), hd_vint(g->deal_id)};
    return hd_exec(c, "UPDATE groupbuy_deals SET sold = sold + ?, updated_at = ? WHERE id = ?", u,
                   3, NULL, err);
}

/* Records the spreading: the starter's share code brought cid in. */
static hd_rc share_event(hd_conn *c, hd_domain *d, const group *g, int64_t cid, hd_err *err) {
    char s[24], key[96];
    json_t *ev = json_object(), *props = json_object();
    json_object_set_new(ev, "type", json_string("share.converted"));
    hd_json_set_id(ev, "customer", g->initiator_id);
    json_object_set_new(props, "module", json_string("groupbuy"));
    hd_json_set_id(props, "deal_id", g->deal_id);
    hd_json_set_id(props, "group_id", g->id);
    json_object_set_new(props, "code", json_string(g->code));
    hd_id_format(cid, s);
    json_object_set_new(props, "converted_customer_id", json_string(s));
    json_object_set_new(ev, "properties", props);
    snprintf(key, sizeof key, "groupbuy:%lld:join:%lld", (long long)g->id, (long long)cid);
    json_object_set_new(ev, "key", json_string(key));
    hd_rc rc = hd_event_process(c, d, ev, NULL, NULL, NULL, err);
    json_decref(ev);
    return rc;
}

typedef struct join_res {
    int64_t transfer_id;
    bool completed;
    json_t *orders; /* order ids when completed */
} join_res;

/* One member takes a place in group g (already loaded): claims the place on
 * the group row, refuses a second place, holds the price, records the
 * spreading, and completes the group on the N-th place. */
static hd_rc join_in(hd_conn *c, hd_domain *d, const group *g, int64_t cid, bool via_code,
                     int64_t now, join_res *jr, hd_err *err) {
    hd_val p[3] = {hd_vint(now), hd_vint(g->id), hd_vint(now)};
    int64_t n = 0;
    hd_rc rc = hd_exec(c,
                       "UPDATE groupbuy_groups SET members = members + 1, updated_at = ?1 WHERE "
                       "id = ?2 AND status = 'open' AND expires_at > ?3 AND members < group_size",
                       p, 3, &n, err);
    if (rc) return rc;
    if (n == 0) return join_refused(c, g->id, now, err);
    /* the group row is ours now: the member list cannot change under us */
    hd_val q[2] = {hd_vint(cid), hd_vint(g->id)};
    int64_t have;
    if ((rc = hd_query_int(c,
                           "SELECT count(*) FROM groupbuy_members WHERE customer_id = ? AND "
                           "group_id = ?",
                           q, 2, &have, err)))
        return rc;
    if (have)
        return hd_err_set(err, HD_ECONFLICT, "customer_id",
                          "customer %lld already joined group %s: one place per member",
                          (long long)cid, g->code);
    int64_t seq;
    hd_val gi = hd_vint(g->id);
    if ((rc = hd_query_int(c, "SELECT members FROM groupbuy_groups WHERE id = ?", &gi, 1, &seq,
                           err)))
        return rc;
    char key[96], acc[48], ref[48];
    snprintf(key, sizeof key, "groupbuy:%lld:%lld", (long long)g->id, (long long)cid);
    snprintf(acc, sizeof acc, "customer:%lld", (long long)cid);
    snprintf(ref, sizeof ref, "groupbuy:%lld", (long long)g->id);
    hd_transfer_req t = {.key = key,
                         .debit = acc,
                         .credit = "system:redemption",
                         .amount = g->price,
                         .code = "redeem",
                         .reference = ref,
                         .pending = true};
    hd_transfer_res tr;
    if ((rc = hd_ledger_transfer_in(c, d, &t, &tr, err))) return rc;
    jr->transfer_id = tr.id;
    hd_val m[7] = {hd_vint(cid),   hd_vint(g->id),     hd_vint(g->deal_id), hd_vint(seq),
                   hd_vint(tr.id), hd_vbool(via_code), hd_vint(now)};
    rc = hd_exec(c,
                 "INSERT INTO groupbuy_members (customer_id, group_id, deal_id, seq, transfer_id, "
                 "via_code, status, joined_at) VALUES (?, ?, ?, ?, ?, ?, 'held', ?)",
                 m, 7, NULL, err);
    if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "group member raced");
    if (rc) return rc;
    if (via_code && cid != g->initiator_id && (rc = share_event(c, d, g, cid, err))) return rc;
    if (seq == g->group_size) {
        jr->completed = true;
        if ((rc = complete(c, d, g, now, jr->orders, err))) return rc;
    }
    return HD_OK;
}

typedef struct start_ctx {
    hd_domain *d;
    int64_t deal_id, customer_id;
} start_ctx;

static hd_rc start_refused(hd_conn *c, int64_t deal_id, int64_t now, hd_err *err) {
    deal g;
    hd_rc rc = deal_load(c, deal_id, &g, err);
    if (rc) return rc;
    char t[32];
    if (!g.active) return hd_err_set(err, HD_ESTATE, "active", "the deal is paused");
    if (g.has_starts && now < g.starts_at) {
        hd_time_format(g.starts_at, t);
        return hd_err_set(err, HD_ESTATE, "starts_at", "the deal opens at %s", t);
    }
    if (g.has_ends && now >= g.ends_at) {
        hd_time_format(g.ends_at, t);
        return hd_err_set(err, HD_ESTATE, "ends_at", "the deal ended at %s", t);
    }
    return hd_err_set(
        err, HD_ESTATE, "stock", "out of stock: %lld of %lld units are free and a group needs %lld",
        (long long)(g.stock - g.reserved), (long long)g.stock, (long long)g.group_size);
}

static hd_rc start_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    start_ctx *sc = vctx;
    hd_domain *d = sc->d;
    int64_t now = hd_now(d), cid;
    hd_rc rc = hd_spend_customer_in(c, sc->customer_id, &cid, err);
    if (rc) return rc;
    deal dl;
    if ((rc = deal_load(c, sc->deal_id, &dl, err))) return rc;
    /* the deal row is the lock on its stock: reserve a whole group or refuse */
    hd_val p[3] = {hd_vint(now), hd_vint(sc->deal_id), hd_vint(now)};
    int64_t n = 0;
    if ((rc = hd_exec(c,
                      "UPDATE groupbuy_deals SET reserved = reserved + group_size, updated_at = ?1 "
                      "WHERE id = ?2 AND active = 1 AND (starts_at IS NULL OR starts_at <= ?3) AND "
                      "(ends_at IS NULL OR ends_at > ?3) AND stock - reserved >= group_size",
                      p, 3, &n, err)))
        return rc;
    if (n == 0) return start_refused(c, sc->deal_id, now, err);
    group g = {0};
    g.id = hd_id_next(d->ids);
    g.deal_id = dl.id;
    g.initiator_id = cid;
    g.reward_id = dl.reward_id;
    g.has_option = dl.has_option;
    snprintf(g.option, sizeof g.option, "%s", dl.option);
    code_new(g.code);
    g.group_size = dl.group_size;
    g.price = dl.price;
    snprintf(g.status, sizeof g.status, "open");
    g.expires_at = now + dl.fill_ms;
    g.created_at = now;
    hd_val q[11] = {hd_vint(g.id),
                    hd_vint(g.deal_id),
                    hd_vint(cid),
                    hd_vint(g.reward_id),
                    g.has_option ? hd_vtext(g.option) : hd_vnull(),
                    hd_vtext(g.code),
                    hd_vint(g.group_size),
                    hd_vint(g.price),
                    hd_vint(g.expires_at),
                    hd_vint(now),
                    hd_vint(now)};
    rc = hd_exec(c,
                 "INSERT INTO groupbuy_groups (id, deal_id, initiator_id, reward_id, option_code, "
                 "code, group_size, members, price, status, expires_at, created_at, updated_at) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 'open', ?, ?, ?)",
                 q, 11, NULL, err);
    if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "share code collided");
    if (rc) return rc;
    join_res jr = {0, false, json_array()};
    rc = join_in(c, d, &g, cid, false, now, &jr, err);
    json_decref(jr.orders);
    if (rc) return rc;
    if ((rc = group_load(c, g.id, NULL, &g, err))) return rc;
    json_t *o;
    if ((rc = group_json(c, &g, &o, err))) return rc;
    hd_json_set_id(o, "transfer_id", jr.transfer_id);
    *status = 201;
    *body = o;
    return HD_OK;
}

hd_rc hd_groupbuy_start(hd_domain *d, const hd_idem *im, int64_t deal_id, const json_t *in,
                        int *status, json_t **out, bool *replayed, hd_err *err) {
    static const char *const allowed[] = {"customer_id", NULL};
    hd_rc rc = hd_json_only(in, allowed, "a new group", err);
    if (rc) return rc;
    start_ctx sc = {d, deal_id, 0};
    if ((rc = hd_spend_customer_field(in, &sc.customer_id, err))) return rc;
    return hd_idem_write(d, im, start_cb, &sc, status, out, replayed, err);
}

typedef struct joinreq_ctx {
    hd_domain *d;
    char code[HD_GROUP_CODE_LEN + 1];
    int64_t customer_id;
} joinreq_ctx;

static hd_rc joinreq_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    joinreq_ctx *jc = vctx;
    hd_domain *d = jc->d;
    int64_t now = hd_now(d), cid;
    hd_rc rc = hd_spend_customer_in(c, jc->customer_id, &cid, err);
    if (rc) return rc;
    group g;
    if ((rc = group_load(c, 0, jc->code, &g, err))) return rc;
    join_res jr = {0, false, json_array()};
    if ((rc = join_in(c, d, &g, cid, true, now, &jr, err))) {
        json_decref(jr.orders);
        return rc;
    }
    if ((rc = group_load(c, g.id, NULL, &g, err))) {
        json_decref(jr.orders);
        return rc;
    }
    json_t *gj;
    if ((rc = group_json(c, &g, &gj, err))) {
        json_decref(jr.orders);
        return rc;
    }
    json_t *o = json_object();
    json_object_set_new(o, "group", gj);
    hd_json_set_id(o, "customer_id", cid);
    hd_json_set_id(o, "transfer_id", jr.transfer_id);
    json_object_set_new(o, "completed", json_boolean(jr.completed));
    json_object_set_new(o, "orders", jr.orders);
    *status = 201;
    *body = o;
    return HD_OK;
}

hd_rc hd_groupbuy_join(hd_domain *d, const hd_idem *im, const json_t *in, int *status, json_t **out,
                       bool *replayed, hd_err *err) {
    static const char *const allowed[] = {"code", "customer_id", NULL};
    hd_rc rc = hd_json_only(in, allowed, "a join", err);
    if (rc) return rc;
    joinreq_ctx jc = {.d = d};
    const char *code;
    if ((rc = hd_json_str(in, "code", 64, &code, err))) return rc;
    if (!code || !*code) return hd_err_set(err, HD_EINVAL, "code", "is required: the share code");
    if (!code_norm(code, jc.code))
        return hd_err_set(err, HD_ENOTFOUND, "code", "no group with share code '%s'", code);
    if ((rc = hd_spend_customer_field(in, &jc.customer_id, err))) return rc;
    return hd_idem_write(d, im, joinreq_cb, &jc, status, out, replayed, err);
}

static hd_rc group_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    group g;
    hd_rc rc = group_load(c, 0, rx->code, &g, err);
    if (rc) return rc;
    return group_json(c, &g, &rx->out, err);
}

hd_rc hd_groupbuy_group(hd_domain *d, const char *code, json_t **out, hd_err *err) {
    char norm[HD_GROUP_CODE_LEN + 1];
    if (!code_norm(code, norm))
        return hd_err_set(err, HD_ENOTFOUND, "code", "no group with share code '%s'", code);
    read_ctx rx = {.d = d, .code = norm};
    return hd_read_json(d, group_cb, &rx, &rx.out, out, err);
}

static hd_rc groups_cb(hd_conn *c, void *vctx, hd_err *err) {
    read_ctx *rx = vctx;
    json_decref(rx->out);
    rx->out = NULL;
    deal dl;
    hd_rc rc = deal_load(c, rx->id, &dl, err);
    if (rc) return rc;
    hd_val p[4] = {hd_vint(rx->id), hd_vint(rx->cursor ? rx->cursor : INT64_MAX),
                   hd_vtext(rx->status ? rx->status : ""), hd_vint(rx->limit + 1)};
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT " GROUP_COLS " FROM groupbuy_groups WHERE deal_id = ?1 AND id < ?2 "
                       "AND (?3 = '' OR status = ?3) ORDER BY id DESC LIMIT ?4",
                       p, 4, &r, err)))
        return rc;
    group *rows = calloc((size_t)rx->limit + 1, sizeof *rows);
    if (!rows) {
        hd_rows_free(r);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1) group_row(r, &rows[n++]);
    hd_rows_free(r);
    json_t *o = json_object(), *data = json_array();
    json_object_set_new(o, "data", data);
    int shown = n > rx->limit ? rx->limit : n;
    for (int i = 0; got >= 0 && i < shown; i++) {
        json_t *j;
        if ((rc = group_json(c, &rows[i], &j, err))) {
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

hd_rc hd_groupbuy_groups(hd_domain *d, int64_t deal_id, const char *status, int64_t cursor,
                         int limit, json_t **out, hd_err *err) {
    if (status && strcmp(status, "open") && strcmp(status, "completed") &&
        strcmp(status, "expired"))
        return hd_err_set(err, HD_EINVAL, "status", "must be open, completed or expired");
    if (limit < 1 || limit > HD_GROUPBUY_PAGE_MAX) limit = HD_GROUPBUY_PAGE_MAX;
    read_ctx rx = {.d = d, .id = deal_id, .status = status, .cursor = cursor, .limit = limit};
    return hd_read_json(d, groups_cb, &rx, &rx.out, out, err);
}

/* ---- expiry ---- */

typedef hd_sweep_item expire_ctx;

static hd_rc expire_cb(hd_conn *c, void *vctx, hd_err *err) {
    expire_ctx *ec = vctx;
    int64_t n = 0;
    hd_val p[3] = {hd_vint(ec->now), hd_vint(ec->id), hd_vint(ec->now)};
    /* the guard: one expirer wins, and never over a join that got in first */
    hd_rc rc = hd_exec(c,
                       "UPDATE groupbuy_groups SET status = 'expired', updated_at = ?1 WHERE id = "
                       "?2 AND status = 'open' AND expires_at <= ?3",
                       p, 3, &n, err);
    if (rc || n == 0) return rc;
    group g;
    if ((rc = group_load(c, ec->id, NULL, &g, err))) return rc;
    hd_val q = hd_vint(g.id);
    hd_rows *r;
    if ((rc = hd_query(c,
                       "SELECT customer_id, transfer_id FROM groupbuy_members WHERE group_id = ? "
                       "AND status = 'held'",
                       &q, 1, &r, err)))
        return rc;
    int64_t cust[HD_GROUP_SIZE_MAX], xfer[HD_GROUP_SIZE_MAX];
    int m = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && m < HD_GROUP_SIZE_MAX) {
        cust[m] = hd_rows_int(r, 0);
        xfer[m] = hd_rows_int(r, 1);
        m++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < m; i++) {
        if ((rc = hd_ledger_resolve_in(c, ec->d, xfer[i], false, err))) return rc;
        hd_val u[2] = {hd_vint(cust[i]), hd_vint(g.id)};
        if ((rc = hd_exec(c,
                          "UPDATE groupbuy_members SET status = 'voided' WHERE customer_id = ? AND "
                          "group_id = ?",
                          u, 2, NULL, err)))
            return rc;
    }
    hd_val u[3] = {hd_vint(g.group_size), hd_vint(ec->now), hd_vint(g.deal_id)};
    return hd_exec(c,
                   "UPDATE groupbuy_deals SET reserved = reserved - ?, updated_at = ? WHERE id = ?",
                   u, 3, NULL, err);
}

hd_rc hd_groupbuy_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)arg;
    return hd_domain_sweep(d, now_ms,
                           "SELECT id FROM groupbuy_groups WHERE status = 'open' AND expires_at <= "
                           "? ORDER BY expires_at, id LIMIT 100",
                           10, "group", expire_cb, err);
}
