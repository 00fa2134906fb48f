/* events.c - the event pipeline: validate, resolve the customer, store the
 * event and any order, update counters, run hooks - in one transaction. */
#include "domain/events.h"

#include <stdlib.h>
#include <string.h>

#include "domain/customers.h"
#include "text/text.h"

int hd_rc_http_status(hd_rc rc) {
    switch (rc) {
    case HD_OK: return 200;
    case HD_EINVAL: return 422;
    case HD_ESYNTAX: return 400;
    case HD_ENOTFOUND: return 404;
    case HD_ECONFLICT: return 409;
    case HD_ETOOBIG: return 413;
    case HD_EAUTH: return 401;
    case HD_EFORBIDDEN: return 403;
    case HD_EMOVED: return 301;
    case HD_ESTATE: return 409;
    case HD_EBUSY: return 503;
    default: return 500;
    }
}

json_t *hd_problem_json(const hd_err *err, int status) {
    static const struct {
        int status;
        const char *title;
    } titles[] = {
        {400, "Bad Request"},       {401, "Unauthorized"},           {403, "Forbidden"},
        {404, "Not Found"},         {405, "Method Not Allowed"},     {409, "Conflict"},
        {413, "Content Too Large"}, {415, "Unsupported Media Type"}, {422, "Unprocessable Content"},
        {429, "Too Many Requests"}, {500, "Internal Server Error"},  {503, "Service Unavailable"}};
    const char *title = "Error";
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++)
        if (titles[i].status == status) title = titles[i].title;
    json_t *p = json_object();
    char type[80];
    snprintf(type, sizeof type, "https://hudong.dev/problems/%s", hd_rc_name(err->rc));
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(title));
    json_object_set_new(p, "status", json_integer(status));
    json_object_set_new(p, "detail", json_string(err->msg));
    if (err->field[0]) json_object_set_new(p, "field", json_string(err->field));
    return p;
}

/* ---- validation (outside the transaction) ---- */

typedef struct ev_in {
    const json_t *json;
    const char *type;
    const char *touchpoint;
    const char *key;
    int64_t occurred_at;
    int64_t customer_id; /* 0 when named by identities only */
    hd_ident ids[HD_IDENTS_MAX];
    int nids;
    const json_t *customer_fields; /* name/city for a new customer */
    const json_t *properties;
    char *props_text; /* properties as stored, made here rather than in the transaction */
    const char *order_id;
    int64_t amount;
    bool is_order, is_refund;
    /* result */
    int status;
    int64_t id, result_customer;
    bool created_customer, duplicate;
    hd_err err;  /* this run's result */
    hd_err verr; /* what validation found, before any transaction */
} ev_in;

static const char *const EVENT_FIELDS[] = {"type",       "customer", "touchpoint", "occurred_at",
                                           "properties", "key",      NULL};

static hd_rc validate(hd_domain *d, const json_t *in, ev_in *e, hd_err *err) {
    memset(e, 0, sizeof *e);
    e->json = in;
    if (!json_is_object(in))
        return hd_err_set(err, HD_EINVAL, "", "an event must be a JSON object");
    hd_rc rc = hd_json_only(in, EVENT_FIELDS, "an event", err);
    if (rc) return rc;
    if ((rc = hd_json_str(in, "type", HD_EVENT_TYPE_MAX, &e->type, err))) return rc;
    if (!e->type || !*e->type)
        return hd_err_set(err, HD_EINVAL, "type", "is required, e.g. \"order.paid\"");
    for (const char *p = e->type; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
              *p == '-'))
            return hd_err_set(err, HD_EINVAL, "type",
                              "may hold only a-z, 0-9, '.', '_' and '-'; got \"%s\"", e->type);
    if ((rc = hd_json_str(in, "touchpoint", 64, &e->touchpoint, err))) return rc;
    if ((rc = hd_json_str(in, "key", HD_EVENT_KEY_MAX, &e->key, err))) return rc;
    if (e->key && !*e->key) return hd_err_set(err, HD_EINVAL, "key", "must not be empty");
    bool present;
    if ((rc = hd_json_time(in, "occurred_at", d->clock, &present, &e->occurred_at, err))) return rc;
    if (!present) e->occurred_at = hd_now(d);

    json_t *cust = json_object_get(in, "customer");
    if (!cust || json_is_null(cust))
        return hd_err_set(err, HD_EINVAL, "customer", "is required: an id or identities");
    if (json_is_string(cust)) {
        if (!hd_id_parse(json_string_value(cust), &e->customer_id))
            return hd_err_set(err, HD_EINVAL, "customer", "must be a customer id or an object");
    } else if (json_is_object(cust)) {
        static const char *const allowed[] = {
            "id",   "phone", "email", "wechat_openid", "wechat_unionid", "external_ids",
            "name", "city",  NULL};
        if ((rc = hd_json_only(cust, allowed, "customer", err))) {
            hd_err_prefix(err, "customer", ".");
            return rc;
        }
        if ((rc = hd_json_int(cust, "id", &present, &e->customer_id, err))) {
            snprintf(err->field, sizeof err->field, "customer.id");
            return rc;
        }
        if ((rc = hd_idents_parse(cust, "customer.", e->ids, &e->nids, err))) return rc;
        const char *s;
        if ((rc = hd_json_str(cust, "name", 100, &s, err)) ||
            (rc = hd_json_str(cust, "city", 100, &s, err))) {
            hd_err_prefix(err, "customer", ".");
            return rc;
        }
        if (!e->customer_id && e->nids == 0)
            return hd_err_set(err, HD_EINVAL, "customer", "names no id and no identity");
        e->customer_fields = cust;
    } else {
        return hd_err_set(err, HD_EINVAL, "customer", "must be a customer id or an object");
    }

    json_t *props = json_object_get(in, "properties");
    if (props && !json_is_null(props)) {
        if (!json_is_object(props))
            return hd_err_set(err, HD_EINVAL, "properties", "must be an object");
        e->props_text = hd_json_dump(props);
        if (!e->props_text) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
        if (strlen(e->props_text) > HD_EVENT_PROPS_MAX)
            return hd_err_set(err, HD_ETOOBIG, "properties", "must serialise to at most %d bytes",
                              HD_EVENT_PROPS_MAX);
        e->properties = props;
    }
    e->is_order = strcmp(e->type, "order.paid") == 0;
    e->is_refund = strcmp(e->type, "order.refunded") == 0;
    if (e->is_order || e->is_refund) {
        if ((rc = hd_json_str(props, "order_id", 100, &e->order_id, err)) || !e->order_id ||
            !*e->order_id)
            return hd_err_set(err, HD_EINVAL, "properties.order_id", "is required for %s", e->type);
    }
    if (e->is_order) {
        json_t *amt = json_object_get(props, "amount");
        if (!json_is_integer(amt) || json_integer_value(amt) < 0 ||
            json_integer_value(amt) > HD_ORDER_AMOUNT_MAX)
            return hd_err_set(err, HD_EINVAL, "properties.amount",
                              "is required: the order total in fen, an integer from 0 to %lld",
                              (long long)HD_ORDER_AMOUNT_MAX);
        e->amount = json_integer_value(amt);
        json_t *lines = json_object_get(props, "lines");
        if (lines && !json_is_null(lines)) {
            if (!json_is_array(lines))
                return hd_err_set(err, HD_EINVAL, "properties.lines", "must be an array");
            if (json_array_size(lines) > HD_ORDER_LINES_MAX)
                return hd_err_set(err, HD_EINVAL, "properties.lines", "at most %d lines",
                                  HD_ORDER_LINES_MAX);
            size_t i;
            json_t *l;
            json_array_foreach(lines, i, l) {
                char f[64];
                json_t *sku = json_object_get(l, "sku"), *qty = json_object_get(l, "qty"),
                       *la = json_object_get(l, "amount"), *cat = json_object_get(l, "category");
                if (!json_is_object(l) || !json_is_string(sku) || json_string_length(sku) == 0) {
                    snprintf(f, sizeof f, "properties.lines[%zu].sku", i);
                    return hd_err_set(err, HD_EINVAL, f, "is required");
                }
                if (qty && (!json_is_integer(qty) || json_integer_value(qty) <= 0 ||
                            json_integer_value(qty) > 1000000)) {
                    snprintf(f, sizeof f, "properties.lines[%zu].qty", i);
                    return hd_err_set(err, HD_EINVAL, f, "must be an integer from 1 to 1000000");
                }
                if (!json_is_integer(la) || json_integer_value(la) < 0 ||
                    json_integer_value(la) > HD_ORDER_AMOUNT_MAX) {
                    snprintf(f, sizeof f, "properties.lines[%zu].amount", i);
                    return hd_err_set(err, HD_EINVAL, f,
                                      "is required: fen, an integer from 0 to %lld",
                                      (long long)HD_ORDER_AMOUNT_MAX);
                }
                if (cat && !json_is_string(cat)) {
                    snprintf(f, sizeof f, "properties.lines[%zu].category", i);
                    return hd_err_set(err, HD_EINVAL, f, "must be a string");
                }
            }
        }
    }
    return HD_OK;
}

/* ---- processing (inside the transaction) ---- */

static hd_rc insert_order(hd_conn *c, ev_in *e, int64_t cid, hd_err *err) {
    hd_val p[6] = {hd_vtext(e->order_id),
                   hd_vint(cid),
                   hd_vint(e->id),
                   hd_vint(e->amount),
                   hd_vtext(e->touchpoint ? e->touchpoint : ""),
                   hd_vint(e->occurred_at)};
    hd_rc rc = hd_exec(c,
                       "INSERT INTO orders (order_id, customer_id, event_id, amount, touchpoint, "
                       "occurred_at) VALUES (?, ?, ?, ?, ?, ?)",
                       p, 6, NULL, err);
    if (rc == HD_ECONFLICT)
        return hd_err_set(err, HD_ECONFLICT, "properties.order_id",
                          "order %s is already recorded; send order.refunded to reverse it",
                          e->order_id);
    if (rc) return rc;
    json_t *lines = json_object_get(e->properties, "lines");
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) {
        json_t *qty = json_object_get(l, "qty");
        const char *cat = json_string_value(json_object_get(l, "category"));
        hd_val q[7] = {hd_vtext(e->order_id),
                       hd_vint((int64_t)i),
                       hd_vint(cid),
                       hd_vtext(json_string_value(json_object_get(l, "sku"))),
                       hd_vtext(cat ? cat : ""),
                       hd_vint(qty ? json_integer_value(qty) : 1),
                       hd_vint(json_integer_value(json_object_get(l, "amount")))};
        rc = hd_exec(c,
                     "INSERT INTO order_lines (order_id, line_no, customer_id, sku, category, qty, "
                     "amount) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     q, 7, NULL, err);
        if (rc) return rc;
    }
    return HD_OK; /* the customer's orders and revenue: process() */
}

static hd_rc refund_order(hd_conn *c, ev_in *e, int64_t cid, hd_err *err) {
    hd_val p = hd_vtext(e->order_id);
    hd_rows *r;
    hd_rc rc = hd_query(c, "SELECT customer_id, amount, refunded_at FROM orders WHERE order_id = ?",
                        &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got != 1) {
        hd_rows_free(r);
        if (got < 0) return err->rc;
        return hd_err_set(err, HD_EINVAL, "properties.order_id", "no order %s to refund",
                          e->order_id);
    }
    int64_t owner = hd_rows_int(r, 0), amount = hd_rows_int(r, 1);
    bool refunded = !hd_rows_isnull(r, 2);
    hd_rows_free(r);
    if (refunded)
        return hd_err_set(err, HD_ECONFLICT, "properties.order_id", "order %s is already refunded",
                          e->order_id);
    if (owner != cid)
        return hd_err_set(err, HD_EINVAL, "customer", "order %s belongs to another customer",
                          e->order_id);
    e->amount = amount;
    hd_val q[2] = {hd_vint(e->occurred_at), hd_vtext(e->order_id)};
    return hd_exec(c, "UPDATE orders SET refunded_at = ? WHERE order_id = ?", q, 2, NULL, err);
}

static hd_rc process(hd_conn *c, hd_domain *d, ev_in *e, hd_err *err) {
    hd_rc rc;
    if (e->key) {
        hd_val p = hd_vtext(e->key);
        hd_rows *r;
        if ((rc = hd_query(c, "SELECT id, customer_id, type FROM events WHERE ev_key = ?", &p, 1,
                           &r, err)))
            return rc;
        int got = hd_rows_next(r, err);
        if (got == 1) {
            e->id = hd_rows_int(r, 0);
            e->result_customer = hd_rows_int(r, 1);
            bool same_type = strcmp(hd_rows_text(r, 2, NULL), e->type) == 0;
            hd_rows_free(r);
            if (!same_type)
                return hd_err_set(err, HD_ECONFLICT, "key",
                                  "key %s was already used by an event of another type", e->key);
            /* follow merges so the answer names the live customer */
            if ((rc = hd_customer_follow(c, e->result_customer, &e->result_customer, err)))
                return rc;
            e->duplicate = true;
            e->status = 200;
            return HD_OK;
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
    }
    int64_t cid = 0;
    if (e->customer_id) {
        if ((rc = hd_customer_follow(c, e->customer_id, &cid, err))) {
            if (rc == HD_ENOTFOUND)
                return hd_err_set(err, HD_EINVAL, "customer", "no customer %lld",
                                  (long long)e->customer_id);
            return rc;
        }
    }
    if (e->nids && cid) {
        /* the id names the person: unowned identities join them, owned ones merge */
        if ((rc = hd_customer_attach(c, d, cid, e->ids, e->nids, &cid, err))) return rc;
    } else if (e->nids) {
        if ((rc = hd_customer_resolve(c, d, e->ids, e->nids, e->customer_fields, &cid,
                                      &e->created_customer, err)))
            return rc;
    }
    e->id = hd_id_next(d->ids);
    e->result_customer = cid;
    hd_val p[8] = {hd_vint(cid),
                   hd_vint(e->id),
                   hd_vtext(e->type),
                   hd_vtext(e->touchpoint ? e->touchpoint : ""),
                   hd_vint(e->occurred_at),
                   hd_vint(hd_now(d)),
                   e->key ? hd_vtext(e->key) : hd_vnull(),
                   hd_vtext(e->props_text ? e->props_text : "{}")};
    rc = hd_exec(c,
                 "INSERT INTO events (customer_id, id, type, touchpoint, occurred_at, received_at, "
                 "ev_key, properties) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 p, 8, NULL, err);
    if (rc == HD_ECONFLICT) /* another node recorded this key just now: retry and replay */
        return hd_err_set(err, HD_EBUSY, "key", "raced on event key");
    if (rc) return rc;
    if (e->is_order && (rc = insert_order(c, e, cid, err))) return rc;
    if (e->is_refund && (rc = refund_order(c, e, cid, err))) return rc;
    /* the counters, an order's or a refund's included, in one statement */
    int64_t orders = e->is_order ? 1 : e->is_refund ? -1 : 0;
    hd_val u[7] = {hd_vint(orders),
                   hd_vint(orders * e->amount),
                   hd_vint(e->occurred_at),
                   hd_vint(e->occurred_at),
                   hd_vint(e->occurred_at),
                   hd_vint(e->occurred_at),
                   hd_vint(cid)};
    rc = hd_exec(c,
                 "UPDATE customers SET events = events + 1, orders = orders + ?, "
                 "revenue = revenue + ?, "
                 "first_seen = CASE WHEN first_seen IS NULL OR first_seen > ? THEN ? ELSE "
                 "first_seen END, "
                 "last_seen = CASE WHEN last_seen IS NULL OR last_seen < ? THEN ? ELSE last_seen "
                 "END WHERE id = ?",
                 u, 7, NULL, err);
    if (rc) return rc;
    hd_event ev = {e->id,          cid,           e->type,     e->touchpoint ? e->touchpoint : "",
                   e->occurred_at, e->properties, e->order_id, e->amount};
    for (int i = 0; i < d->nhooks; i++)
        if ((rc = d->hooks[i].fn(c, d, &ev, d->hooks[i].arg, err))) return rc;
    e->status = 201;
    return HD_OK;
}

static json_t *result_json(const ev_in *e) {
    json_t *o = json_object();
    hd_json_set_id(o, "id", e->id);
    hd_json_set_id(o, "customer_id", e->result_customer);
    json_object_set_new(o, "status", json_string(e->duplicate ? "duplicate" : "created"));
    json_object_set_new(o, "customer_created", json_boolean(e->created_customer));
    return o;
}

typedef struct one_ctx {
    hd_domain *d;
    ev_in e;
} one_ctx;

static hd_rc one_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    one_ctx *oc = vctx;
    oc->e.duplicate = oc->e.created_customer = false;
    hd_rc rc = process(c, oc->d, &oc->e, err);
    if (rc) return rc;
    *status = oc->e.status;
    *body = result_json(&oc->e);
    return HD_OK;
}

static void one_free(void *vctx) {
    one_ctx *oc = vctx;
    free(oc->e.props_text);
    free(oc);
}

hd_rc hd_event_prepare(hd_domain *d, const hd_idem *im, const json_t *in, hd_write **out,
                       hd_err *err) {
    one_ctx *oc = malloc(sizeof *oc);
    if (!oc) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    oc->d = d;
    hd_rc rc = validate(d, in, &oc->e, err);
    if (rc) {
        one_free(oc);
        return rc;
    }
    if (!(*out = hd_write_new(d, im, one_cb, oc, one_free)))
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    return HD_OK;
}

typedef struct batch_ctx {
    hd_domain *d;
    ev_in *evs;
    int n;
    bool careful; /* events in savepoints: set after one failed */
} batch_ctx;

static hd_rc batch_cb(hd_conn *c, void *vctx, int *status, json_t **body, hd_err *err) {
    batch_ctx *bc = vctx;
    json_t *results = json_array();
    int created = 0, dups = 0, failed = 0;
    for (int i = 0; i < bc->n; i++) {
        ev_in *e = &bc->evs[i];
        e->err = e->verr; /* the callback may run more than once */
        json_t *r;
        if (e->err.rc == HD_OK) {
            /* no savepoints until an event fails (see ledger_api.c batch_cb) */
            hd_rc rc = bc->careful ? hd_exec(c, "SAVEPOINT ev", NULL, 0, NULL, err) : HD_OK;
            if (rc) {
                json_decref(results);
                return rc;
            }
            e->duplicate = e->created_customer = false;
            hd_err ierr;
            hd_err_clear(&ierr);
            rc = process(c, bc->d, e, &ierr);
            if (rc == HD_EBUSY || rc == HD_ESTORE) { /* the transaction itself is in trouble */
                json_decref(results);
                *err = ierr;
                return rc;
            }
            if (rc && !bc->careful) {
                json_decref(results);
                bc->careful = true;
                return hd_err_set(err, HD_EBUSY, "",
                                  "an event failed: run the batch with savepoints");
            }
            if (rc) {
                hd_exec(c, "ROLLBACK TO SAVEPOINT ev", NULL, 0, NULL, NULL);
                e->err = ierr;
            }
            if (bc->careful) hd_exec(c, "RELEASE SAVEPOINT ev", NULL, 0, NULL, NULL);
        }
        if (e->err.rc == HD_OK) {
            r = result_json(e);
            json_object_set_new(r, "index", json_integer(i));
            json_object_set_new(r, "status", json_integer(e->status));
            json_object_set_new(r, "result", json_string(e->duplicate ? "duplicate" : "created"));
            if (e->duplicate)
                dups++;
            else
                created++;
        } else {
            int st = hd_rc_http_status(e->err.rc);
            r = json_object();
            json_object_set_new(r, "index", json_integer(i));
            json_object_set_new(r, "status", json_integer(st));
            json_object_set_new(r, "error", hd_problem_json(&e->err, st));
            failed++;
        }
        json_array_append_new(results, r);
    }
    json_t *o = json_object();
    json_object_set_new(o, "results", results);
    json_object_set_new(o, "created", json_integer(created));
    json_object_set_new(o, "duplicates", json_integer(dups));
    json_object_set_new(o, "failed", json_integer(failed));
    *status = 200;
    *body = o;
    return HD_OK;
}

static void batch_free(void *vctx) {
    batch_ctx *bc = vctx;
    for (int i = 0; i < bc->n; i++) free(bc->evs[i].props_text);
    free(bc->evs);
    free(bc);
}

hd_rc hd_event_batch_prepare(hd_domain *d, const hd_idem *im, const json_t *in, hd_write **out,
                             hd_err *err) {
    json_t *arr = json_is_object(in) ? json_object_get(in, "events") : NULL;
    if (!json_is_array(arr))
        return hd_err_set(err, HD_EINVAL, "events", "is required: an array of events");
    size_t n = json_array_size(arr);
    if (n == 0) return hd_err_set(err, HD_EINVAL, "events", "is empty");
    if (n > HD_BATCH_MAX)
        return hd_err_set(err, HD_ETOOBIG, "events", "at most %d events per batch, got %zu",
                          HD_BATCH_MAX, n);
    batch_ctx *bc = malloc(sizeof *bc);
    if (!bc) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    *bc = (batch_ctx){d, calloc(n, sizeof(ev_in)), (int)n, false};
    if (!bc->evs) {
        free(bc);
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        hd_err verr;
        hd_err_clear(&verr);
        if (validate(d, json_array_get(arr, i), &bc->evs[i], &verr)) {
            char f[32];
            snprintf(f, sizeof f, "events[%zu]", i);
            hd_err_prefix(&verr, f, ".");
        }
        bc->evs[i].verr = verr; /* validate() cleared the struct: set it after */
    }
    if (!(*out = hd_write_new(d, im, batch_cb, bc, batch_free)))
        return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    return HD_OK;
}

hd_rc hd_event_record_batch(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                            json_t **out, bool *replayed, hd_err *err) {
    hd_write *w;
    hd_rc rc = hd_event_batch_prepare(d, im, in, &w, err);
    return rc ? rc : hd_write_wait(w, status, out, replayed, err);
}

hd_rc hd_event_process(hd_conn *c, hd_domain *d, const json_t *in, int64_t *event_id,
                       int64_t *customer_id, bool *duplicate, hd_err *err) {
    ev_in *e = malloc(sizeof *e);
    if (!e) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_rc rc = validate(d, in, e, err);
    if (!rc) rc = process(c, d, e, err);
    if (!rc) {
        if (event_id) *event_id = e->id;
        if (customer_id) *customer_id = e->result_customer;
        if (duplicate) *duplicate = e->duplicate;
    }
    free(e->props_text);
    free(e);
    return rc;
}
