/* domain.h - what every domain module shares: the context (store, clock, ids),
 * the event pipeline hook, idempotent writes, and small JSON helpers.
 *
 * Domain modules own their tables and enforce the rules. Their public calls
 * take and return JSON (jansson) because that is the shape of the product's
 * data; they validate every field and name the one at fault in hd_err. */
#ifndef HD_DOMAIN_H
#define HD_DOMAIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/clock.h"
#include "base/err.h"
#include "base/id.h"
#include "store/store.h"

typedef struct hd_domain hd_domain;

/* One processed event as the pipeline hooks see it (all borrowed). */
typedef struct hd_event {
    int64_t id;
    int64_t customer_id;
    const char *type;
    const char *touchpoint;
    int64_t occurred_at_ms;
    const json_t *properties;
    const char *order_id; /* order.paid / order.refunded, else NULL */
    int64_t amount_fen;   /* order amount, 0 when none */
} hd_event;

/* A hook runs inside the event's own transaction, after the event is stored
 * and the customer resolved; returning an error rolls the event back. Later
 * modules (earning rules, ladder, referrals) register here. */
typedef hd_rc (*hd_event_hook_fn)(hd_conn *c, hd_domain *d, const hd_event *ev, void *arg,
                                  hd_err *err);

/* A merge hook runs inside the merge's transaction so a module can re-point
 * what it keeps per customer (points accounts, orders of its own, …). */
typedef hd_rc (*hd_merge_hook_fn)(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser,
                                  void *arg, hd_err *err);

/* A scheduled job does whatever came due by now (expiries, auction closes,
 * timeouts). Jobs run from the server's scheduler every second, after
 * POST /v1/test/clock moves time, and from `hudong tick`. */
typedef hd_rc (*hd_job_fn)(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

#define HD_HOOKS_MAX 16

struct hd_domain {
    hd_store *store; /* borrowed */
    hd_clock *clock; /* borrowed */
    hd_idgen *ids;   /* borrowed */
    struct {
        hd_event_hook_fn fn;
        void *arg;
    } hooks[HD_HOOKS_MAX];
    int nhooks;
    struct {
        hd_merge_hook_fn fn;
        void *arg;
    } merge_hooks[HD_HOOKS_MAX];
    int nmerge_hooks;
    struct {
        const char *name;
        hd_job_fn fn;
        void *arg;
    } jobs[HD_HOOKS_MAX];
    int njobs;
    void *rules;  /* compiled rules cache (rules.c) */
    void *ledger; /* programme cache (ledger.c) */
    void *brand;  /* the lock that orders loads and changes of the calendar (brand.c) */
};

/* Sets up d over a store, a clock and an id generator (all borrowed) and
 * registers every module's hooks and jobs (modules.c). */
hd_rc hd_domain_init(hd_domain *d, hd_store *st, hd_clock *clock, hd_idgen *ids, hd_err *err);

/* Frees module state hd_domain_init created. */
void hd_domain_close(hd_domain *d);

/* Registers a hook; HD_ETOOBIG past HD_HOOKS_MAX. */
hd_rc hd_domain_add_hook(hd_domain *d, hd_event_hook_fn fn, void *arg, hd_err *err);
hd_rc hd_domain_add_merge_hook(hd_domain *d, hd_merge_hook_fn fn, void *arg, hd_err *err);
hd_rc hd_domain_add_job(hd_domain *d, const char *name, hd_job_fn fn, void *arg, hd_err *err);
/* Runs every job once; all run even if one fails; the first failure is returned. */
hd_rc hd_domain_run_jobs(hd_domain *d, hd_err *err);
static inline int64_t hd_now(const hd_domain *d) { return hd_clock_now_ms(d->clock); }

/* ---- sweeps: a job's loop over what came due ---- */

#define HD_SWEEP_BATCH 100

/* What a sweep hands each write: the domain, the id that came due, the time. */
typedef struct hd_sweep_item {
    hd_domain *d;
    int64_t id, now;
} hd_sweep_item;

/* Reads up to HD_SWEEP_BATCH ids with due_sql (one parameter: now) and runs
 * fn on each in a write of its own (ctx an hd_sweep_item), for at most
 * `rounds` batches, stopping after a short batch or one where nothing
 * succeeded. Every id is tried; the first failure is returned as
 * "<what> <id>: <reason>". */
hd_rc hd_domain_sweep(hd_domain *d, int64_t now, const char *due_sql, int rounds, const char *what,
                      hd_store_fn fn, hd_err *err);

/* ---- idempotent writes ----
 * A write that creates or moves value produces a response (status + JSON body)
 * inside its transaction. With an idempotency key, the response is stored in
 * the same transaction, so a retry with the same key and request replays it,
 * and a retry with the same key and a different request is HD_ECONFLICT. */
typedef struct hd_idem {
    const char *scope; /* who and where: api key id + route */
    const char *key;   /* the client's Idempotency-Key, NULL for none */
    char request_hash[65];
    int64_t audit_id; /* a line begun in the audit log (hd_audit_begin), or 0:
                         the write records its outcome there, in its own
                         transaction */
} hd_idem;

/* Fills request_hash from the request body. */
void hd_idem_hash(hd_idem *im, const char *body, size_t len);

typedef hd_rc (*hd_respond_fn)(hd_conn *c, void *ctx, int *status, json_t **body, hd_err *err);
/* Runs fn in a write transaction under im (NULL or im->key NULL: no key).
 * On success *status and *body hold the response (the caller owns body);
 * *replayed tells whether it came from an earlier request. */
/* One page of a list. r holds the rows of a query that asked for limit + 1;
 * *out becomes {"data":[fn(row, arg) for the first limit rows],
 * "next_cursor"}, the cursor being column cursor_col of the last row shown
 * when another followed, else null. r is freed either way. */
typedef json_t *(*hd_row_json_fn)(hd_rows *r, void *arg);
hd_rc hd_page_json(hd_rows *r, int limit, int cursor_col, hd_row_json_fn fn, void *arg,
                   json_t **out, hd_err *err);

/* A read that builds JSON: runs fn(ctx) in a read transaction; fn leaves its
 * result in *slot (a field of ctx), which becomes *out - or is released when
 * the read fails. */
hd_rc hd_read_json(hd_domain *d, hd_store_fn fn, void *ctx, json_t **slot, json_t **out,
                   hd_err *err);
hd_rc hd_idem_write(hd_domain *d, const hd_idem *im, hd_respond_fn fn, void *ctx, int *status,
                    json_t **body, bool *replayed, hd_err *err);

/* ---- writes that need not wait ----
 * A module's *_prepare validates a request and makes an hd_write: the
 * hd_idem_write it will be, not yet sent. hd_write_wait sends it and waits,
 * as hd_idem_write does; hd_write_submit sends it and returns (see
 * hd_store_write_async), and done gets the same answer exactly once - on
 * SQLite from the writer thread, after the commit. Either way the write is
 * freed, with free_ctx(ctx). The request (im, and whatever ctx borrows)
 * must live until the answer. */
typedef struct hd_write hd_write;
/* rc and err as hd_idem_write returns them; on success status and body
 * (the callee's to keep or release) and replayed. */
typedef void (*hd_answer_fn)(void *arg, hd_rc rc, const hd_err *err, int status, json_t *body,
                             bool replayed);
/* NULL when out of memory (and then free_ctx(ctx) has been called). */
hd_write *hd_write_new(hd_domain *d, const hd_idem *im, hd_respond_fn fn, void *ctx,
                       void (*free_ctx)(void *ctx));
hd_rc hd_write_wait(hd_write *w, int *status, json_t **body, bool *replayed, hd_err *err);
void hd_write_submit(hd_write *w, hd_answer_fn done, void *arg);

/* ---- JSON helpers for validation with field names ---- */
/* Reads an optional string member; HD_EINVAL naming field when it is not a
 * string, is not valid UTF-8, or is longer than max_chars characters. */
hd_rc hd_json_str(const json_t *obj, const char *field, size_t max_chars, const char **out,
                  hd_err *err);
/* Optional integer member (JSON integer or a string of digits for ids). */
hd_rc hd_json_int(const json_t *obj, const char *field, bool *present, int64_t *out, hd_err *err);
/* Optional time member: RFC 3339, or a bare date / "YYYY-MM-DD HH:MM:SS"
 * on the brand's calendar cal (hd_time_parse_in). */
hd_rc hd_json_time(const json_t *obj, const char *field, const hd_clock *cal, bool *present,
                   int64_t *out_ms, hd_err *err);
/* Rejects members of obj not named in allowed (NULL-terminated). */
hd_rc hd_json_only(const json_t *obj, const char *const *allowed, const char *where, hd_err *err);
/* Sets obj[key] to the id as a decimal string. */
void hd_json_set_id(json_t *obj, const char *key, int64_t id);
/* Sets obj[key] to an RFC 3339 UTC string, or null when ms is 0/absent. */
void hd_json_set_time(json_t *obj, const char *key, int64_t ms, bool present);
/* Parses a stored JSON text (object), returning an empty object when bad. */
json_t *hd_json_load(const char *text, size_t len);
/* Compact serialisation with sorted keys is not needed: keeps insertion order. */
char *hd_json_dump(const json_t *v);

#endif
