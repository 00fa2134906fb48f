/* ledger_api.c - the ledger as the API and the CLI see it: transfers from
 * JSON, batches (independent or linked), points summaries and history, the
 * programme settings, the scheduled job, merges, and the invariant check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/customers.h"
#include "domain/events.h"
#include "domain/ledger.h"

/* ---- JSON ---- */

static json_t *transfer_json(hd_rows *r) {
    /* id, tkey, debit name, credit name, amount, code, reference, status,
     * timeout_at, created_at, resolved_at */
    json_t *o = json_object();
    hd_json_set_id(o, "id", hd_rows_int(r, 0));
    json_object_set_new(o, "key", json_string(hd_rows_text(r, 1, NULL)));
    json_object_set_new(o, "debit", json_string(hd_rows_text(r, 2, NULL)));
    json_object_set_new(o, "credit", json_string(hd_rows_text(r, 3, NULL)));
    json_object_set_new(o, "amount", json_integer(hd_rows_int(r, 4)));
    json_object_set_new(o, "code", json_string(hd_rows_text(r, 5, NULL)));
    json_object_set_new(o, "reference", json_string(hd_rows_text(r, 6, NULL)));
    json_object_set_new(o, "status", json_string(hd_rows_text(r, 7, NULL)));
    hd_json_set_time(o, "timeout_at", hd_rows_int(r, 8), !hd_rows_isnull(r, 8));
    hd_json_set_time(o, "created_at", hd_rows_int(r, 9), true);
    hd_json_set_time(o, "resolved_at", hd_rows_int(r, 10), !hd_rows_isnull(r, 10));
    return o;
}

#define TRANSFER_COLS                                                                              \
    "SELECT t.id, t.tkey, da.name, ca.name, t.amount, t.code, t.reference, t.status, "             \
    "t.timeout_at, t.created_at, t.resolved_at FROM transfers t JOIN accounts da ON da.id = "      \
    "t.debit_id JOIN accounts ca ON ca.id = t.credit_id "

static hd_rc load_transfer(hd_conn *c, int64_t id, json_t **out, hd_err *err) {
    hd_val p = hd_vint(id);
    hd_rows *r;
    hd_rc rc = hd_query(c, TRANSFER_COLS "WHERE t.id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) *out = transfer_json(r);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) return hd_err_set(err, HD_ENOTFOUND, "id", "no transfer %lld", (long long)id);
    return HD_OK;
}

/* A transfer just made, as JSON, without reading it back. */
static json_t *made_json(const hd_transfer_req *t, const hd_transfer_res *res) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", res->id);
    json_object_set_new(o, "key", json_string(t->key));
    json_object_set_new(o, "debit", json_string(res->debit));
    json_object_set_new(o, "credit", json_string(res->credit));
    json_object_set_new(o, "amount", json_integer(t->amount));
    json_object_set_new(o, "code", json_string(t->code));
    json_object_set_new(o, "reference", json_string(t->reference ? t->reference : ""));
    json_object_set_new(o, "status", json_string(t->pending ? "pending" : "posted"));
    hd_json_set_time(o, "timeout_at", res->timeout_at, res->timeout_at != 0);
    hd_json_set_time(o, "created_at", res->created_at, true);
    hd_json_set_time(o, "resolved_at", 0, false);
    return o;
}

static const char *const TRANSFER_FIELDS[] = {"key",       "debit",   "credit",    "amount", "code",
                                              "reference", "pending", "timeout_s", NULL};

/* Parses one transfer request; strings are borrowed from in. */
static hd_rc parse_req(const json_t *in, hd_transfer_req *t, hd_err *err) {
    memset(t, 0, sizeof *t);
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "a transfer must be a JSON object");
    hd_rc rc = hd_json_only(in, TRANSFER_FIELDS, "a transfer", err);
    if (rc) return rc;
    if ((rc = hd_json_str(in, "key", HD_TRANSFER_KEY_MAX, &t->key, err))) return rc;
    if ((rc = hd_json_str(in, "debit", 64, &t->debit, err))) return rc;
    if ((rc = hd_json_str(in, "credit", 64, &t->credit, err))) return rc;
    if ((rc = hd_json_str(in, "code", 32, &t->code, err))) return rc;
    if ((rc = hd_json_str(in, "reference", 200, &t->reference, err))) return rc;
    json_t *pend = json_object_get(in, "pending");
    if (pend && !json_is_boolean(pend))
        return hd_err_set(err, HD_EINVAL, "pending", "must be true or false");
    t->pending = json_is_true(pend);
    json_t *to = json_object_get(in, "timeout_s");
    if (to && !json_is_integer(to))
        return hd_err_set(err, HD_EINVAL, "timeout_s", "must be an integer");
    t->timeout_s = to ? json_integer_value(to) : 0;
    if (!t->key)
        return hd_err_set(err, HD_EINVAL, "key", "is required: your unique id for this transfer");
    if (!t->debit) return hd_err_set(err, HD_EINVAL, "debit", "is required: an account name");
    if (!t->credit) return hd_err_set(err, HD_EINVAL, "credit", "is required: an account name");
    json_t *a = json_object_get(in, "amount");
    if (!json_is_integer(a))
        return hd_err_set(err, HD_EINVAL, "amount", "is required: a whole number of points > 0");
    t->amount = json_integer_value(a);
    return HD_OK;
}

typedef struct one_ctx {
    hd_domain *d;
    hd_transfer_req t;
    const json_t *in;
    json_t *out;
    int status;
    int64_t id;
    bool post;
    bool linked;
} one_ctx;

static hd_rc one_cb(hd_conn *c, void *vctx, hd_err *err) {
    one_ctx *oc = vctx;
    json_decref(oc->out);
    oc->out = NULL;
    hd_transfer_res res;
    hd_rc rc = hd_ledger_transfer_in(c, oc->d, &oc->t, &res, err);
    if (rc) return rc;
    oc->status = res.replayed ? 200 : 201;
    if (!res.replayed) {
        oc->out = made_json(&oc->t, &res);
        return HD_OK;
    }
    return load_transfer(c, res.id, &oc->out, err);
}

hd_rc hd_ledger_transfer(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err) {
    one_ctx oc = {.d = d};
    hd_rc rc = parse_req(in, &oc.t, err);
    if (rc) return rc;
    rc = hd_store_write(d->store, one_cb, &oc, err);
    if (rc) {
        json_decref(oc.out);
        return rc;
    }
    *status = oc.status;
    *out = oc.out;
    return HD_OK;
}

typedef struct batch_ctx {
    hd_domain *d;
    hd_transfer_req *reqs;
    hd_err *errs;
    int n;
    bool linked;
    bool careful; /* items in savepoints: set after an item failed once */
    json_t *results;
} batch_ctx;

static hd_rc batch_cb(hd_conn *c, void *vctx, hd_err *err) {
    batch_ctx *bc = vctx;
    json_decref(bc->results);
    bc->results = json_array();
    int failed_at = -1;
    /* the callback may run more than once: start from what validation found */
    memcpy(bc->errs, bc->errs + bc->n, sizeof(hd_err) * (size_t)bc->n);
    for (int i = 0; i < bc->n; i++) {
        hd_err *ie = &bc->errs[i];
        json_t *r = json_object();
        json_object_set_new(r, "index", json_integer(i));
        json_array_append_new(bc->results, r);
        if (ie->rc) continue; /* failed validation before the transaction */
        /* Savepoints cost SQLite a sub-journal write per page touched, so a
         * batch first runs without them; an item that fails makes the whole
         * batch run again, carefully, each item in its own savepoint. */
        bool sp = !bc->linked && bc->careful;
        hd_rc rc = HD_OK;
        if (sp) rc = hd_exec(c, "SAVEPOINT tr", NULL, 0, NULL, err);
        if (rc) return rc;
        hd_transfer_res res;
        rc = hd_ledger_transfer_in(c, bc->d, &bc->reqs[i], &res, ie);
        if (rc == HD_EBUSY || rc == HD_ESTORE) {
            *err = *ie;
            return rc;
        }
        if (rc && !bc->linked && !bc->careful) {
            bc->careful = true;
            hd_err_clear(ie);
            return hd_err_set(err, HD_EBUSY, "", "an item failed: run the batch with savepoints");
        }
        if (rc) {
            if (bc->linked) {
                failed_at = i;
                break;
            }
            hd_exec(c, "ROLLBACK TO SAVEPOINT tr", NULL, 0, NULL, NULL);
        } else {
            json_t *t = NULL;
            if (!res.replayed)
                t = made_json(&bc->reqs[i], &res);
            else if ((rc = load_transfer(c, res.id, &t, err)))
                return rc;
            json_object_set_new(r, "status", json_integer(res.replayed ? 200 : 201));
            json_object_set_new(r, "transfer", t);
        }
        if (sp) hd_exec(c, "RELEASE SAVEPOINT tr", NULL, 0, NULL, NULL);
    }
    if (bc->linked) {
        bool any = failed_at >= 0;
        for (int i = 0; i < bc->n && !any; i++) any = bc->errs[i].rc != HD_OK;
        if (any) {
            /* all or nothing: report why, and undo everything */
            for (int i = 0; i < bc->n; i++) {
                json_t *r = json_array_get(bc->results, (size_t)i);
                json_object_del(r, "transfer");
                if (bc->errs[i].rc == HD_OK)
                    hd_err_set(&bc->errs[i], HD_ESTATE, "",
                               "not applied: transfer %d of the linked "
                               "batch failed",
                               failed_at >= 0 ? failed_at : i);
            }
            for (int i = 0; i < bc->n; i++) {
                json_t *r = json_array_get(bc->results, (size_t)i);
                int st = hd_rc_http_status(bc->errs[i].rc);
                json_object_set_new(r, "status", json_integer(st));
                json_object_set_new(r, "error", hd_problem_json(&bc->errs[i], st));
            }
            return hd_err_set(err, HD_ESTATE, "transfers", "linked batch failed");
        }
    }
    for (int i = 0; i < bc->n; i++) {
        if (bc->errs[i].rc == HD_OK) continue;
        json_t *r = json_array_get(bc->results, (size_t)i);
        int st = hd_rc_http_status(bc->errs[i].rc);
        json_object_set_new(r, "status", json_integer(st));
        json_object_set_new(r, "error", hd_problem_json(&bc->errs[i], st));
    }
    return HD_OK;
}

hd_rc hd_ledger_transfer_batch(hd_domain *d, const json_t *in, int *status, json_t **out,
                               hd_err *err) {
    static const char *const fields[] = {"transfers", "linked", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, fields, "a transfer batch", err);
    if (rc) return rc;
    json_t *arr = json_object_get(in, "transfers");
    json_t *linked = json_object_get(in, "linked");
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return hd_err_set(err, HD_EINVAL, "transfers", "is required: a non-empty array");
    if (json_array_size(arr) > HD_TRANSFER_BATCH_MAX)
        return hd_err_set(err, HD_ETOOBIG, "transfers", "at most %d per batch",
                          HD_TRANSFER_BATCH_MAX);
    if (linked && !json_is_boolean(linked))
        return hd_err_set(err, HD_EINVAL, "linked", "must be true or false");
    int n = (int)json_array_size(arr);
    /* errs[0..n) are this run's results, errs[n..2n) what validation found */
    batch_ctx bc = {d,
                    calloc((size_t)n, sizeof(hd_transfer_req)),
                    calloc((size_t)n * 2, sizeof(hd_err)),
                    n,
                    json_is_true(linked),
                    false,
                    NULL};
    if (!bc.reqs || !bc.errs) {
        free(bc.reqs);
        free(bc.errs);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (parse_req(json_array_get(arr, (size_t)i), &bc.reqs[i], &bc.errs[n + i])) {
            char pre[32];
            snprintf(pre, sizeof pre, "transfers[%d]", i);
            hd_err_prefix(&bc.errs[n + i], pre, ".");
        }
    }
    rc = hd_store_write(d->store, batch_cb, &bc, err);
    if (rc == HD_ESTATE && bc.linked && bc.results) {
        /* the linked batch was rolled back; its per-item reasons are the answer */
        rc = HD_OK;
        *status = 422;
    } else {
        *status = 200;
    }
    if (rc) {
        json_decref(bc.results);
    } else {
        *out = json_object();
        json_object_set_new(*out, "linked", json_boolean(bc.linked));
        json_object_set_new(*out, "results", bc.results);
    }
    free(bc.reqs);
    free(bc.errs);
    return rc;
}

static hd_rc get_cb(hd_conn *c, void *vctx, hd_err *err) {
    one_ctx *oc = vctx;
    return load_transfer(c, oc->id, &oc->out, err);
}

hd_rc hd_ledger_get(hd_domain *d, int64_t id, json_t **out, hd_err *err) {
    one_ctx oc = {.d = d, .id = id};
    hd_rc rc = hd_store_read(d->store, get_cb, &oc, err);
    *out = oc.out;
    return rc;
}

static hd_rc resolve_cb(hd_conn *c, void *vctx, hd_err *err) {
    one_ctx *oc = vctx;
    json_decref(oc->out);
    oc->out = NULL;
    hd_rc rc = hd_ledger_resolve_in(c, oc->d, oc->id, oc->post, err);
    if (rc) return rc;
    return load_transfer(c, oc->id, &oc->out, err);
}

hd_rc hd_ledger_resolve(hd_domain *d, int64_t id, bool post, json_t **out, hd_err *err) {
    one_ctx oc = {.d = d, .id = id, .post = post};
    hd_rc rc = hd_store_write(d->store, resolve_cb, &oc, err);
    if (rc) {
        json_decref(oc.out);
        return rc;
    }
    *out = oc.out;
    return HD_OK;
}

/* ---- points summary and history ---- */

typedef struct points_ctx {
    hd_domain *d;
    int64_t customer, cursor;
    int limit;
    json_t *out;
} points_ctx;

static hd_rc find_account(hd_conn *c, int64_t customer, const char *suffix, int64_t *id,
                          hd_err *err) {
    char name[64];
    snprintf(name, sizeof name, "customer:%lld%s", (long long)customer, suffix);
    hd_val p = hd_vtext(name);
    hd_rc rc = hd_query_int(c, "SELECT id FROM accounts WHERE name = ?", &p, 1, id, err);
    if (rc == HD_ENOTFOUND) {
        *id = 0;
        hd_err_clear(err);
        return HD_OK;
    }
    return rc;
}

static hd_rc points_cb(hd_conn *c, void *vctx, hd_err *err) {
    points_ctx *pc = vctx;
    int64_t live;
    hd_rc rc = hd_customer_follow(c, pc->customer, &live, err);
    if (rc) return rc;
    int64_t acc, gacc;
    if ((rc = find_account(c, live, "", &acc, err)) ||
        (rc = find_account(c, live, ":growth", &gacc, err)))
        return rc;
    hd_program prog;
    if ((rc = hd_program_load_in(c, &prog, err))) return rc;
    json_t *o = json_object();
    pc->out = o;
    hd_json_set_id(o, "customer_id", live);
    int64_t bal = 0, pend = 0, limit = acc ? 0 : prog.default_credit_limit, growth = 0;
    if (acc) {
        hd_val p = hd_vint(acc);
        hd_rows *r;
        if ((rc = hd_query(
                 c,
                 "SELECT credits_posted - debits_posted, debits_pending, credit_limit FROM "
                 "accounts WHERE id = ?",
                 &p, 1, &r, err)))
            return rc;
        if (hd_rows_next(r, err) == 1) {
            bal = hd_rows_int(r, 0);
            pend = hd_rows_int(r, 1);
            limit = hd_rows_int(r, 2);
        }
        hd_rows_free(r);
    }
    if (gacc) {
        int64_t ga;
        if ((rc = hd_ledger_balance_in(c, gacc, &growth, &ga, err))) return rc;
    }
    json_object_set_new(o, "balance", json_integer(bal));
    json_object_set_new(o, "pending", json_integer(pend));
    json_object_set_new(o, "credit_limit", json_integer(limit));
    json_object_set_new(o, "available", json_integer(bal - pend + limit));
    json_object_set_new(o, "debt", json_integer(bal < 0 ? -bal : 0));
    json_object_set_new(o, "growth", json_integer(growth));
    json_t *lots = json_array();
    json_object_set_new(o, "lots", lots);
    int64_t soon = 0, now = hd_now(pc->d);
    if (acc) {
        hd_val p = hd_vint(acc);
        hd_rows *r;
        if ((rc = hd_query(c,
                           "SELECT amount, remaining, expires_at, created_at FROM lots WHERE "
                           "account_id = ? AND remaining > 0 ORDER BY expires_at, id LIMIT 200",
                           &p, 1, &r, err)))
            return rc;
        int got;
        while ((got = hd_rows_next(r, err)) == 1) {
            json_t *l = json_object();
            json_object_set_new(l, "amount", json_integer(hd_rows_int(r, 0)));
            json_object_set_new(l, "remaining", json_integer(hd_rows_int(r, 1)));
            bool exp = hd_rows_int(r, 2) != HD_NEVER;
            hd_json_set_time(l, "expires_at", hd_rows_int(r, 2), exp);
            hd_json_set_time(l, "earned_at", hd_rows_int(r, 3), true);
            if (exp && hd_rows_int(r, 2) <= now + 30LL * 86400000) soon += hd_rows_int(r, 1);
            json_array_append_new(lots, l);
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
    }
    json_object_set_new(o, "expiring_30d", json_integer(soon));
    return HD_OK;
}

hd_rc hd_ledger_points(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err) {
    points_ctx pc = {.d = d, .customer = customer_id};
    hd_rc rc = hd_store_read(d->store, points_cb, &pc, err);
    if (rc) {
        json_decref(pc.out);
        return rc;
    }
    *out = pc.out;
    return HD_OK;
}

static hd_rc history_cb(hd_conn *c, void *vctx, hd_err *err) {
    points_ctx *pc = vctx;
    int64_t live, acc;
    hd_rc rc = hd_customer_follow(c, pc->customer, &live, err);
    if (rc) return rc;
    if ((rc = find_account(c, live, "", &acc, err))) return rc;
    json_t *data = json_array();
    pc->out = json_object();
    json_object_set_new(pc->out, "data", data);
    json_object_set_new(pc->out, "next_cursor", json_null());
    if (!acc) return HD_OK;
    hd_val p[4] = {hd_vint(acc), hd_vint(acc), hd_vint(pc->cursor ? pc->cursor : INT64_MAX),
                   hd_vint(pc->limit + 1)};
    hd_rows *r;
    rc = hd_query(c,
                  TRANSFER_COLS
                  "WHERE (t.debit_id = ? OR t.credit_id = ?) AND t.id < ? ORDER BY t.id "
                  "DESC LIMIT ?",
                  p, 4, &r, err);
    if (rc) return rc;
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (n == pc->limit) {
            hd_json_set_id(pc->out, "next_cursor", hd_rows_int(r, 0) + 1);
            break;
        }
        json_t *t = transfer_json(r);
        char me[64];
        snprintf(me, sizeof me, "customer:%lld", (long long)live);
        bool in = strcmp(hd_rows_text(r, 3, NULL), me) == 0;
        json_object_set_new(t, "change", json_integer(in ? hd_rows_int(r, 4) : -hd_rows_int(r, 4)));
        json_array_append_new(data, t);
        n++;
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_ledger_history(hd_domain *d, int64_t customer_id, const char *cursor, int limit,
                        json_t **out, hd_err *err) {
    points_ctx pc = {.d = d, .customer = customer_id, .limit = limit > 0 ? limit : 50};
    if (pc.limit > 200) return hd_err_set(err, HD_EINVAL, "limit", "must be 1 to 200");
    if (cursor && *cursor && !hd_id_parse(cursor, &pc.cursor))
        return hd_err_set(err, HD_EINVAL, "cursor", "is not a cursor this API returned");
    hd_rc rc = hd_store_read(d->store, history_cb, &pc, err);
    if (rc) {
        json_decref(pc.out);
        return rc;
    }
    *out = pc.out;
    return HD_OK;
}

/* ---- programme settings ---- */

typedef struct prog_ctx {
    const json_t *in;
    json_t *out;
    hd_domain *d;
} prog_ctx;

static json_t *program_json(hd_conn *c, hd_err *err) {
    hd_program p;
    if (hd_program_load_in(c, &p, err)) return NULL;
    json_t *o = json_object();
    json_t *e = json_object();
    json_object_set_new(e, "policy", json_string(p.expiry_policy));
    if (strcmp(p.expiry_policy, "days") == 0)
        json_object_set_new(e, "days", json_integer(p.expiry_days));
    if (strcmp(p.expiry_policy, "end_of_month") == 0)
        json_object_set_new(e, "months", json_integer(p.expiry_months));
    json_object_set_new(o, "expiry", e);
    json_object_set_new(o, "tier_window_months", json_integer(p.tier_window_months));
    json_object_set_new(o, "default_credit_limit", json_integer(p.default_credit_limit));
    json_t *names = json_object();
    hd_rows *r;
    if (hd_query(c, "SELECT k, v FROM program WHERE k IN ('currency_zh', 'currency_en')", NULL, 0,
                 &r, err) == HD_OK) {
        while (hd_rows_next(r, err) == 1)
            json_object_set_new(names, hd_rows_text(r, 0, NULL) + 9,
                                json_string(hd_rows_text(r, 1, NULL)));
        hd_rows_free(r);
    }
    if (!json_object_get(names, "zh")) json_object_set_new(names, "zh", json_string("积分"));
    if (!json_object_get(names, "en")) json_object_set_new(names, "en", json_string("points"));
    json_object_set_new(o, "currency", names);
    return o;
}

static hd_rc prog_get_cb(hd_conn *c, void *vctx, hd_err *err) {
    prog_ctx *pc = vctx;
    pc->out = program_json(c, err);
    return pc->out ? HD_OK : err->rc;
}

hd_rc hd_program_get(hd_domain *d, json_t **out, hd_err *err) {
    prog_ctx pc = {NULL, NULL, d};
    hd_rc rc = hd_store_read(d->store, prog_get_cb, &pc, err);
    *out = pc.out;
    return rc;
}

static hd_rc set_kv(hd_conn *c, const char *k, const char *v, hd_err *err) {
    hd_val p[2] = {hd_vtext(k), hd_vtext(v)};
    hd_val q = hd_vtext(k);
    hd_rc rc = hd_exec(c, "DELETE FROM program WHERE k = ?", &q, 1, NULL, err);
    if (!rc) rc = hd_exec(c, "INSERT INTO program (k, v) VALUES (?, ?)", p, 2, NULL, err);
    return rc;
}

static hd_rc set_int(hd_conn *c, const char *k, int64_t v, hd_err *err) {
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    return set_kv(c, k, s, err);
}

static hd_rc prog_patch_cb(hd_conn *c, void *vctx, hd_err *err) {
    prog_ctx *pc = vctx;
    json_decref(pc->out);
    pc->out = NULL;
    const json_t *in = pc->in;
    hd_rc rc;
    json_t *e = json_object_get(in, "expiry");
    if (e) {
        const char *pol = json_string_value(json_object_get(e, "policy"));
        if ((rc = set_kv(c, "expiry_policy", pol, err))) return rc;
        json_t *days = json_object_get(e, "days"), *months = json_object_get(e, "months");
        if (days && (rc = set_int(c, "expiry_days", json_integer_value(days), err))) return rc;
        if (months && (rc = set_int(c, "expiry_months", json_integer_value(months), err)))
            return rc;
    }
    json_t *v;
    if ((v = json_object_get(in, "tier_window_months")) &&
        (rc = set_int(c, "tier_window_months", json_integer_value(v), err)))
        return rc;
    if ((v = json_object_get(in, "default_credit_limit")) &&
        (rc = set_int(c, "default_credit_limit", json_integer_value(v), err)))
        return rc;
    json_t *names = json_object_get(in, "currency");
    if (names) {
        const char *zh = json_string_value(json_object_get(names, "zh"));
        const char *en = json_string_value(json_object_get(names, "en"));
        if (zh && (rc = set_kv(c, "currency_zh", zh, err))) return rc;
        if (en && (rc = set_kv(c, "currency_en", en, err))) return rc;
    }
    pc->out = program_json(c, err);
    return pc->out ? HD_OK : err->rc;
}

hd_rc hd_program_patch(hd_domain *d, const json_t *in, json_t **out, hd_err *err) {
    static const char *const fields[] = {"expiry", "tier_window_months", "default_credit_limit",
                                         "currency", NULL};
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "the body must be a JSON object");
    hd_rc rc = hd_json_only(in, fields, "the programme", err);
    if (rc) return rc;
    json_t *e = json_object_get(in, "expiry");
    if (e) {
        static const char *const ef[] = {"policy", "days", "months", NULL};
        if (!json_is_object(e)) return hd_err_set(err, HD_EINVAL, "expiry", "must be an object");
        if ((rc = hd_json_only(e, ef, "expiry", err))) {
            hd_err_prefix(err, "expiry", ".");
            return rc;
        }
        const char *pol = json_string_value(json_object_get(e, "policy"));
        if (!pol || (strcmp(pol, "none") && strcmp(pol, "days") && strcmp(pol, "end_of_month")))
            return hd_err_set(err, HD_EINVAL, "expiry.policy",
                              "must be none, days or end_of_month");
        json_t *days = json_object_get(e, "days"), *months = json_object_get(e, "months");
        if (strcmp(pol, "days") == 0 && (!json_is_integer(days) || json_integer_value(days) < 1 ||
                                         json_integer_value(days) > 36500))
            return hd_err_set(err, HD_EINVAL, "expiry.days", "must be 1 to 36500 with policy days");
        if (strcmp(pol, "end_of_month") == 0 &&
            (!json_is_integer(months) || json_integer_value(months) < 0 ||
             json_integer_value(months) > 120))
            return hd_err_set(err, HD_EINVAL, "expiry.months",
                              "must be 0 to 120 with policy end_of_month");
    }
    json_t *v = json_object_get(in, "tier_window_months");
    if (v && (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 60))
        return hd_err_set(err, HD_EINVAL, "tier_window_months", "must be 1 to 60");
    v = json_object_get(in, "default_credit_limit");
    if (v &&
        (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > HD_AMOUNT_MAX))
        return hd_err_set(err, HD_EINVAL, "default_credit_limit", "must be an integer >= 0");
    json_t *names = json_object_get(in, "currency");
    if (names) {
        const char *s;
        if (!json_is_object(names))
            return hd_err_set(err, HD_EINVAL, "currency", "must be {zh, en}");
        if ((rc = hd_json_str(names, "zh", 20, &s, err)) ||
            (rc = hd_json_str(names, "en", 20, &s, err))) {
            hd_err_prefix(err, "currency", ".");
            return rc;
        }
    }
    prog_ctx pc = {in, NULL, d};
    rc = hd_store_write(d->store, prog_patch_cb, &pc, err);
    hd_program_forget(d);
    if (rc) {
        json_decref(pc.out);
        return rc;
    }
    *out = pc.out;
    return HD_OK;
}

/* ---- scheduled work ---- */

typedef struct job_ctx {
    hd_domain *d;
    int64_t now;
    int done;
} job_ctx;

#define JOB_BATCH 200

static hd_rc timeout_cb(hd_conn *c, void *vctx, hd_err *err) {
    job_ctx *jc = vctx;
    hd_val p = hd_vint(jc->now);
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT id FROM transfers WHERE status = 'pending' AND timeout_at <= ? "
                        "ORDER BY timeout_at LIMIT 200",
                        &p, 1, &r, err);
    if (rc) return rc;
    int64_t ids[JOB_BATCH];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < JOB_BATCH) ids[n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++) {
        rc = hd_ledger_resolve_in(c, jc->d, ids[i], false, err);
        if (rc == HD_ESTATE) continue; /* resolved meanwhile */
        if (rc) return rc;
    }
    jc->done = n;
    return HD_OK;
}

/* Expires up to JOB_BATCH lots due by now - anyone's, or with account set,
 * that account's; *done says how many it looked at. */
static hd_rc expire_due(hd_conn *c, hd_domain *d, int64_t now, int64_t account, int *done,
                        hd_err *err) {
    hd_val p[2] = {hd_vint(now), hd_vint(account)};
    hd_rows *r;
    hd_rc rc = account ? hd_query(c,
                                  "SELECT l.id, a.id, a.name FROM lots l JOIN accounts a ON a.id = "
                                  "l.account_id WHERE l.account_id = ?2 AND l.expires_at <= ?1 AND "
                                  "l.remaining > 0 ORDER BY l.expires_at LIMIT 200",
                                  p, 2, &r, err)
                       : hd_query(c,
                                  "SELECT l.id, a.id, a.name FROM lots l JOIN accounts a ON a.id = "
                                  "l.account_id WHERE l.expires_at <= ? AND "
                                  "l.remaining > 0 ORDER BY l.expires_at LIMIT 200",
                                  p, 1, &r, err);
    if (rc) return rc;
    int64_t ids[JOB_BATCH], accs[JOB_BATCH];
    char names[JOB_BATCH][64];
    int n = 0, got;
    while ((got = hd_rows_next(r, err)) == 1 && n < JOB_BATCH) {
        ids[n] = hd_rows_int(r, 0);
        accs[n] = hd_rows_int(r, 1);
        snprintf(names[n], sizeof names[n], "%s", hd_rows_text(r, 2, NULL));
        n++;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    for (int i = 0; i < n; i++) {
        /* Lock the account row first - every change to an account's lots
         * happens under it - then read what is really left in the lot. */
        hd_val a = hd_vint(accs[i]);
        if ((rc = hd_exec(c, "UPDATE accounts SET debits_posted = debits_posted WHERE id = ?", &a,
                          1, NULL, err)))
            return rc;
        hd_val u = hd_vint(ids[i]);
        int64_t left;
        if ((rc = hd_query_int(c, "SELECT remaining FROM lots WHERE id = ?", &u, 1, &left, err)))
            return rc;
        if (left <= 0) continue;
        /* take the lot out first so the expiry debit consumes nothing else */
        if ((rc = hd_exec(c, "UPDATE lots SET remaining = 0 WHERE id = ?", &u, 1, NULL, err)))
            return rc;
        char key[64], ref[64];
        snprintf(key, sizeof key, "expire:lot:%lld", (long long)ids[i]);
        snprintf(ref, sizeof ref, "lot:%lld", (long long)ids[i]);
        hd_transfer_req t = {key,  names[i], "system:expiry", left, "expire", ref, false, 0,
                             true, true};
        hd_transfer_res res;
        if ((rc = hd_ledger_transfer_in(c, d, &t, &res, err))) return rc;
    }
    *done = n;
    return HD_OK;
}

static hd_rc expiry_cb(hd_conn *c, void *vctx, hd_err *err) {
    job_ctx *jc = vctx;
    return expire_due(c, jc->d, jc->now, 0, &jc->done, err);
}

hd_rc hd_ledger_expire_due_in(hd_conn *c, hd_domain *d, int64_t customer_id, hd_err *err) {
    int64_t acc;
    hd_rc rc = find_account(c, customer_id, "", &acc, err);
    int done = JOB_BATCH;
    while (!rc && acc && done == JOB_BATCH) rc = expire_due(c, d, hd_now(d), acc, &done, err);
    return rc;
}

hd_rc hd_ledger_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)arg;
    for (int pass = 0; pass < 2; pass++) {
        hd_store_fn fn = pass == 0 ? timeout_cb : expiry_cb;
        for (;;) {
            job_ctx jc = {d, now_ms, 0};
            hd_rc rc = hd_store_write(d->store, fn, &jc, err);
            if (rc) return rc;
            if (jc.done < JOB_BATCH) break;
        }
    }
    return HD_OK;
}

/* ---- merges ---- */

hd_rc hd_ledger_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                         hd_err *err) {
    (void)arg;
    /* Everything of the loser's accounts moves to the survivor's: open holds
     * (their transfers and pending totals), lots with their expiry dates, the
     * posted balance by a transfer (so the books show it), and the higher of
     * the two credit limits. The loser's account stays, closed, for history. */
    static const char *const cur[] = {"points", "growth"};
    for (int k = 0; k < 2; k++) {
        int64_t lacc;
        hd_rc rc = find_account(c, loser, k ? ":growth" : "", &lacc, err);
        if (rc) return rc;
        if (!lacc) continue;
        int64_t sacc;
        if ((rc = hd_ledger_account_in(c, d, survivor, cur[k], &sacc, err))) return rc;
        hd_val lp[2] = {hd_vint(sacc), hd_vint(lacc)};
        static const char *const moves[] = {
            "UPDATE transfers SET debit_id = ? WHERE debit_id = ? AND status = 'pending'",
            "UPDATE transfers SET credit_id = ? WHERE credit_id = ? AND status = 'pending'",
            "UPDATE lots SET account_id = ? WHERE account_id = ?",
            /* pending totals and the limit, from the loser's row */
            "UPDATE accounts SET debits_pending = debits_pending + (SELECT l.debits_pending FROM "
            "accounts l WHERE l.id = ?2), credits_pending = credits_pending + (SELECT "
            "l.credits_pending FROM accounts l WHERE l.id = ?2), credit_limit = CASE WHEN "
            "(SELECT l.credit_limit FROM accounts l WHERE l.id = ?2) > credit_limit THEN (SELECT "
            "l.credit_limit FROM accounts l WHERE l.id = ?2) ELSE credit_limit END WHERE id = ?1",
            NULL};
        for (const char *const *m = moves; *m; m++)
            if ((rc = hd_exec(c, *m, lp, 2, NULL, err))) return rc;
        if ((rc = hd_exec(c,
                          "UPDATE accounts SET debits_pending = 0, credits_pending = 0, kind = "
                          "'merged' WHERE id = ?",
                          &lp[1], 1, NULL, err)))
            return rc;
        int64_t bal;
        if ((rc = hd_ledger_balance_in(c, lacc, &bal, NULL, err))) return rc;
        if (bal != 0) {
            char key[80], ref[64];
            snprintf(key, sizeof key, "merge:%lld:%lld:%s", (long long)loser, (long long)survivor,
                     cur[k]);
            snprintf(ref, sizeof ref, "merge:%lld", (long long)loser);
            /* by account id: the loser's name now resolves to the survivor */
            int64_t amount = bal > 0 ? bal : -bal;
            int64_t from = bal > 0 ? lacc : sacc, to = bal > 0 ? sacc : lacc;
            hd_val a[2] = {hd_vint(amount), hd_vint(from)};
            hd_val b2[2] = {hd_vint(amount), hd_vint(to)};
            if ((rc = hd_exec(c,
                              "UPDATE accounts SET debits_posted = debits_posted + ? WHERE id = ?",
                              a, 2, NULL, err)) ||
                (rc = hd_exec(
                     c, "UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?", b2,
                     2, NULL, err)))
                return rc;
            hd_val t[9] = {hd_vint(hd_id_next(d->ids)),
                           hd_vtext(key),
                           hd_vtext("merge"),
                           hd_vint(from),
                           hd_vint(to),
                           hd_vint(amount),
                           hd_vtext("merge"),
                           hd_vtext(ref),
                           hd_vint(hd_now(d))};
            if ((rc = hd_exec(c,
                              "INSERT INTO transfers (id, tkey, request_hash, debit_id, credit_id, "
                              "amount, code, reference, status, created_at) VALUES (?, ?, ?, ?, ?, "
                              "?, ?, ?, 'posted', ?)",
                              t, 9, NULL, err)))
                return rc;
        }
        /* two people's usage under one limit may exceed it: record that the
         * merge, not a transfer, did it (hudong check reads limit_excess) */
        hd_val s1 = hd_vint(sacc);
        if ((rc = hd_exec(c,
                          "UPDATE accounts SET limit_excess = CASE WHEN debits_posted + "
                          "debits_pending - credits_posted - credit_limit > limit_excess THEN "
                          "debits_posted + debits_pending - credits_posted - credit_limit ELSE "
                          "limit_excess END WHERE id = ?",
                          &s1, 1, NULL, err)))
            return rc;
    }
    return HD_OK;
}
