/* domain.c - hooks, idempotent writes and JSON validation helpers. */
#include "domain/domain.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

hd_rc hd_domain_add_hook(hd_domain *d, hd_event_hook_fn fn, void *arg, hd_err *err) {
    if (d->nhooks >= HD_HOOKS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "", "more than %d event hooks", HD_HOOKS_MAX);
    d->hooks[d->nhooks].fn = fn;
    d->hooks[d->nhooks].arg = arg;
    d->nhooks++;
    return HD_OK;
}

hd_rc hd_domain_add_merge_hook(hd_domain *d, hd_merge_hook_fn fn, void *arg, hd_err *err) {
    if (d->nmerge_hooks >= HD_HOOKS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "", "more than %d merge hooks", HD_HOOKS_MAX);
    d->merge_hooks[d->nmerge_hooks].fn = fn;
    d->merge_hooks[d->nmerge_hooks].arg = arg;
    d->nmerge_hooks++;
    return HD_OK;
}

hd_rc hd_domain_add_job(hd_domain *d, const char *name, hd_job_fn fn, void *arg, hd_err *err) {
    if (d->njobs >= HD_HOOKS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "", "more than %d jobs", HD_HOOKS_MAX);
    d->jobs[d->njobs].name = name;
    d->jobs[d->njobs].fn = fn;
    d->jobs[d->njobs].arg = arg;
    d->njobs++;
    return HD_OK;
}

typedef struct due_ctx {
    const char *sql;
    int64_t now;
    int64_t ids[HD_SWEEP_BATCH];
    int n;
} due_ctx;

static hd_rc due_cb(hd_conn *c, void *vctx, hd_err *err) {
    due_ctx *dc = vctx;
    dc->n = 0; /* a retried read starts over */
    hd_val p = hd_vint(dc->now);
    hd_rows *r;
    hd_rc rc = hd_query(c, dc->sql, &p, 1, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1 && dc->n < HD_SWEEP_BATCH)
        dc->ids[dc->n++] = hd_rows_int(r, 0);
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_domain_sweep(hd_domain *d, int64_t now, const char *due_sql, int rounds, const char *what,
                      hd_store_fn fn, hd_err *err) {
    hd_rc first = HD_OK;
    for (int round = 0; round < rounds; round++) {
        due_ctx dc = {.sql = due_sql, .now = now};
        hd_rc rc = hd_store_read(d->store, due_cb, &dc, err);
        if (rc) return rc;
        int done = 0;
        for (int i = 0; i < dc.n; i++) {
            hd_sweep_item it = {d, dc.ids[i], now};
            hd_err e;
            hd_err_clear(&e);
            rc = hd_store_write(d->store, fn, &it, &e);
            if (rc && first == HD_OK) {
                first = rc;
                hd_err_set(err, rc, e.field, "%s %lld: %s", what, (long long)dc.ids[i], e.msg);
            }
            if (!rc) done++;
        }
        if (dc.n < HD_SWEEP_BATCH || done == 0) break;
    }
    return first;
}

hd_rc hd_domain_run_jobs(hd_domain *d, hd_err *err) {
    hd_rc first = HD_OK;
    for (int i = 0; i < d->njobs; i++) {
        hd_err jerr;
        hd_err_clear(&jerr);
        hd_rc rc = d->jobs[i].fn(d, hd_now(d), d->jobs[i].arg, &jerr);
        if (rc && first == HD_OK) {
            first = rc;
            hd_err_set(err, rc, jerr.field, "job %s: %s", d->jobs[i].name, jerr.msg);
        }
    }
    return first;
}

void hd_idem_hash(hd_idem *im, const char *body, size_t len) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)body, len);
    sodium_bin2hex(im->request_hash, sizeof im->request_hash, h, sizeof h);
}

typedef struct idem_ctx {
    const hd_idem *im;
    hd_respond_fn fn;
    void *ctx;
    int status;
    json_t *body;
    bool replayed;
} idem_ctx;

/* The outcome of an audited write, in the write's own transaction: the
 * change and the end of its audit line commit together. */
static hd_rc audit_outcome(hd_conn *c, const hd_idem *im, int status, const json_t *body,
                           hd_err *err) {
    if (!im || !im->audit_id) return HD_OK;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    hd_val p[3] = {hd_vint(status), hd_vtext(text), hd_vint(im->audit_id)};
    hd_rc rc =
        hd_exec(c, "UPDATE audit_log SET status = ?, after_json = ? WHERE id = ?", p, 3, NULL, err);
    free(text);
    return rc;
}

static hd_rc idem_cb(hd_conn *c, void *vctx, hd_err *err) {
    idem_ctx *ic = vctx;
    json_decref(ic->body); /* a retried callback starts clean */
    ic->body = NULL;
    ic->replayed = false;
    const hd_idem *im = ic->im;
    hd_rc rc;
    if (im && im->key) {
        hd_val p[2] = {hd_vtext(im->scope), hd_vtext(im->key)};
        hd_rows *r;
        rc = hd_query(c,
                      "SELECT request_hash, status, body FROM idempotency WHERE scope = ? AND "
                      "ikey = ?",
                      p, 2, &r, err);
        if (rc) return rc;
        int got = hd_rows_next(r, err);
        if (got == 1) {
            bool same = strcmp(hd_rows_text(r, 0, NULL), im->request_hash) == 0;
            ic->status = (int)hd_rows_int(r, 1);
            size_t n;
            const char *b = hd_rows_text(r, 2, &n);
            ic->body = json_loadb(b, n, 0, NULL);
            hd_rows_free(r);
            if (!same)
                return hd_err_set(err, HD_ECONFLICT, "Idempotency-Key",
                                  "this key was used with a different request; use a new key");
            ic->replayed = true;
            return audit_outcome(c, im, ic->status, ic->body, err);
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
    }
    rc = ic->fn(c, ic->ctx, &ic->status, &ic->body, err);
    if (rc || !im) return rc;
    if ((rc = audit_outcome(c, im, ic->status, ic->body, err)) || !im->key) return rc;
    char *text = ic->body ? json_dumps(ic->body, JSON_COMPACT) : strdup("null");
    if (!text) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    hd_val p[6] = {hd_vtext(im->scope), hd_vtext(im->key), hd_vtext(im->request_hash),
                   hd_vint(ic->status), hd_vtext(text),    hd_vint(0)};
    rc = hd_exec(c,
                 "INSERT INTO idempotency (scope, ikey, request_hash, status, body, created_at) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 p, 6, NULL, err);
    free(text);
    /* Two nodes raced on one key: the loser retries and replays the winner. */
    if (rc == HD_ECONFLICT) return hd_err_set(err, HD_EBUSY, "", "idempotency key raced");
    return rc;
}

hd_rc hd_page_json(hd_rows *r, int limit, int cursor_col, hd_row_json_fn fn, void *arg,
                   json_t **out, hd_err *err) {
    json_t *o = json_object(), *data = json_array();
    json_object_set_new(o, "data", data);
    int n = 0, got;
    int64_t last = 0;
    bool more = false;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (n == limit) {
            more = true;
            break;
        }
        last = hd_rows_int(r, cursor_col);
        json_t *e = fn(r, arg);
        if (!e) {
            got = -1;
            hd_err_set(err, HD_ENOMEM, "", "out of memory");
            break;
        }
        json_array_append_new(data, e);
        n++;
    }
    hd_rows_free(r);
    if (got < 0) {
        json_decref(o);
        return err->rc;
    }
    if (more)
        hd_json_set_id(o, "next_cursor", last);
    else
        json_object_set_new(o, "next_cursor", json_null());
    *out = o;
    return HD_OK;
}

hd_rc hd_read_json(hd_domain *d, hd_store_fn fn, void *ctx, json_t **slot, json_t **out,
                   hd_err *err) {
    hd_rc rc = hd_store_read(d->store, fn, ctx, err);
    if (rc) {
        json_decref(*slot);
        *slot = NULL;
        return rc;
    }
    *out = *slot;
    return HD_OK;
}

hd_rc hd_idem_write(hd_domain *d, const hd_idem *im, hd_respond_fn fn, void *ctx, int *status,
                    json_t **body, bool *replayed, hd_err *err) {
    idem_ctx ic = {im, fn, ctx, 0, NULL, false};
    hd_rc rc = hd_store_write(d->store, idem_cb, &ic, err);
    if (rc) {
        json_decref(ic.body);
        return rc;
    }
    *status = ic.status;
    *body = ic.body;
    if (replayed) *replayed = ic.replayed;
    return HD_OK;
}

struct hd_write {
    hd_domain *d;
    idem_ctx ic;
    void (*free_ctx)(void *ctx);
    hd_answer_fn done;
    void *arg;
};

hd_write *hd_write_new(hd_domain *d, const hd_idem *im, hd_respond_fn fn, void *ctx,
                       void (*free_ctx)(void *ctx)) {
    hd_write *w = malloc(sizeof *w);
    if (!w) {
        if (free_ctx) free_ctx(ctx);
        return NULL;
    }
    *w = (hd_write){d, {im, fn, ctx, 0, NULL, false}, free_ctx, NULL, NULL};
    return w;
}

static void write_free(hd_write *w) {
    if (w->free_ctx) w->free_ctx(w->ic.ctx);
    free(w);
}

hd_rc hd_write_wait(hd_write *w, int *status, json_t **body, bool *replayed, hd_err *err) {
    hd_rc rc = hd_idem_write(w->d, w->ic.im, w->ic.fn, w->ic.ctx, status, body, replayed, err);
    write_free(w);
    return rc;
}

static void write_done(void *arg, hd_rc rc, const hd_err *err) {
    hd_write *w = arg;
    idem_ctx ic = w->ic;
    hd_answer_fn done = w->done;
    void *done_arg = w->arg;
    write_free(w); /* before the answer: after it the request may be gone */
    if (rc) {
        json_decref(ic.body);
        done(done_arg, rc, err, 0, NULL, false);
        return;
    }
    done(done_arg, HD_OK, err, ic.status, ic.body, ic.replayed);
}

void hd_write_submit(hd_write *w, hd_answer_fn done, void *arg) {
    w->done = done;
    w->arg = arg;
    hd_store_write_async(w->d->store, idem_cb, &w->ic, write_done, w);
}

hd_rc hd_json_str(const json_t *obj, const char *field, size_t max_chars, const char **out,
                  hd_err *err) {
    *out = NULL;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v)) return HD_OK;
    if (!json_is_string(v)) return hd_err_set(err, HD_EINVAL, field, "must be a string");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (strlen(s) != n) return hd_err_set(err, HD_EINVAL, field, "must not contain NUL characters");
    if (hd_utf8_len(s, n) > max_chars)
        return hd_err_set(err, HD_EINVAL, field, "must be at most %zu characters", max_chars);
    *out = s;
    return HD_OK;
}

hd_rc hd_json_int(const json_t *obj, const char *field, bool *present, int64_t *out, hd_err *err) {
    *present = false;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v)) return HD_OK;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_string(v) && hd_id_parse(json_string_value(v), out)) {
        /* ids travel as strings */
    } else {
        return hd_err_set(err, HD_EINVAL, field, "must be an integer");
    }
    *present = true;
    return HD_OK;
}

hd_rc hd_json_time(const json_t *obj, const char *field, const hd_clock *cal, bool *present,
                   int64_t *out_ms, hd_err *err) {
    *present = false;
    json_t *v = json_object_get(obj, field);
    if (!v || json_is_null(v)) return HD_OK;
    if (!json_is_string(v) || !hd_time_parse_in(cal, json_string_value(v), out_ms))
        return hd_err_set(err, HD_EINVAL, field,
                          "must be an RFC 3339 time such as 2026-01-01T08:00:00+08:00, or a "
                          "date (2026-01-01, the brand's midnight)");
    *present = true;
    return HD_OK;
}

hd_rc hd_json_only(const json_t *obj, const char *const *allowed, const char *where, hd_err *err) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) {
                ok = true;
                break;
            }
        if (!ok) return hd_err_set(err, HD_EINVAL, k, "is not a field of %s", where);
    }
    return HD_OK;
}

void hd_json_set_id(json_t *obj, const char *key, int64_t id) {
    char s[24];
    hd_id_format(id, s);
    json_object_set_new(obj, key, json_string(s));
}

void hd_json_set_time(json_t *obj, const char *key, int64_t ms, bool present) {
    if (!present) {
        json_object_set_new(obj, key, json_null());
        return;
    }
    char s[32];
    hd_time_format(ms, s);
    json_object_set_new(obj, key, json_string(s));
}

json_t *hd_json_load(const char *text, size_t len) {
    json_t *v = json_loadb(text, len, 0, NULL);
    if (!v || !json_is_object(v)) {
        json_decref(v);
        return json_object();
    }
    return v;
}

char *hd_json_dump(const json_t *v) {
    return json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
}
