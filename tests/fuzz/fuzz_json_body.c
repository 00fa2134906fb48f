/* fuzz_json_body.c - libFuzzer driver for the JSON request bodies of
 * POST /v1/events, /v1/events/batch and /v1/customers: the bytes are parsed as
 * the server parses them, then go through event validation and processing
 * (with earning rules and tiers set up, so the hooks award points), a batch,
 * and customer creation and patching, on one in-memory SQLite store.
 *
 * Each input starts from the same database (the set-up and no customers):
 * the single event runs inside a write that is rolled back, and whatever the
 * batch and the customer calls committed is deleted afterwards, so a crash
 * reproduces from its input alone. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/id.h"
#include "domain/customers.h"
#include "domain/domain.h"
#include "domain/events.h"
#include "domain/ledger.h"
#include "domain/rules.h"
#include "domain/tiers.h"
#include "store/store.h"
#include "text/text.h"

#define START_MS 1767225600000LL /* 2026-01-01T00:00:00Z */

/* The fuzzer's one store, opened once: opening and migrating per input would
 * cost more than everything the input does. */
#define WIPE_MAX 64

static struct {
    hd_store *store;
    hd_clock *clock;
    hd_idgen *ids;
    hd_domain d;
    /* "DELETE FROM t" for every table that holds what inputs create; kept for
     * the whole run so the store's statement cache sees stable pointers */
    char *wipe_sql[WIPE_MAX];
    int nwipe;
} fz;

#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_json_body.c:%d: check failed: %s\n", __LINE__, #ok);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* What an error must look like to become a problem+json answer: about the
 * input (4xx; a body never earns a 500), with a sentence, in UTF-8. */
static void check_err(hd_rc rc, const hd_err *err) {
    check(rc != HD_OK && err->rc == rc);
    if (hd_rc_http_status(rc) >= 500)
        fprintf(stderr, "fuzz_json_body: %s: %s: %s\n", hd_rc_name(rc), err->field, err->msg);
    check(hd_rc_http_status(rc) < 500);
    check(err->msg[0] != '\0');
    check(hd_utf8_valid(err->msg, strlen(err->msg)));
    check(hd_utf8_valid(err->field, strlen(err->field)));
    json_t *p = hd_problem_json(err, hd_rc_http_status(rc));
    check(json_is_string(json_object_get(p, "detail")));
    check(!err->field[0] || json_is_string(json_object_get(p, "field")));
    json_decref(p);
}

static void fz_close(void) {
    hd_domain_close(&fz.d);
    hd_store_close(fz.store);
    hd_idgen_free(fz.ids);
    hd_clock_free(fz.clock);
    for (int i = 0; i < fz.nwipe; i++) free(fz.wipe_sql[i]);
}

static void setup_fail(const char *what, const hd_err *err) {
    fprintf(stderr, "fuzz_json_body: set-up: %s: %s: %s\n", what, err->field, err->msg);
    abort();
}

/* Runs one domain call that answers with JSON on a literal body, for set-up. */
typedef hd_rc (*create_fn)(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err);
static void setup_call(create_fn fn, const char *body) {
    json_error_t je;
    json_t *in = json_loads(body, 0, &je);
    if (!in) {
        fprintf(stderr, "fuzz_json_body: set-up body: %s\n", je.text);
        abort();
    }
    hd_err err;
    hd_err_clear(&err);
    int status = 0;
    json_t *out = NULL;
    if (fn(&fz.d, in, &status, &out, &err)) setup_fail(body, &err);
    json_decref(out);
    json_decref(in);
}

static hd_rc program_patch(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err) {
    *status = 200;
    return hd_program_patch(d, in, out, err);
}

/* Tables that hold configuration made here, or rows the schema seeds: not
 * emptied. RESET puts back what inputs change in them. */
static const char *const KEEP[] = {"meta",        "schema_migrations", "program",  "rules", "tiers",
                                   "touchpoints", "api_keys",          "accounts", NULL};
static const char *const RESET[] = {
    "DELETE FROM accounts WHERE kind != 'system'",
    "UPDATE accounts SET debits_posted = 0, credits_posted = 0, debits_pending = 0, "
    "credits_pending = 0, limit_excess = 0",
    "UPDATE rules SET awarded = 0", NULL};

static hd_rc list_tables(hd_conn *c, void *vctx, hd_err *err) {
    (void)vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                        "'sqlite_%' ORDER BY name",
                        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        const char *name = hd_rows_text(r, 0, NULL);
        bool keep = false;
        for (const char *const *k = KEEP; *k; k++) keep |= strcmp(*k, name) == 0;
        if (keep || fz.nwipe >= WIPE_MAX) continue;
        size_t n = strlen(name) + 32;
        fz.wipe_sql[fz.nwipe] = malloc(n);
        if (!fz.wipe_sql[fz.nwipe]) break;
        snprintf(fz.wipe_sql[fz.nwipe++], n, "DELETE FROM \"%s\"", name);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    hd_err err;
    hd_err_clear(&err);
    hd_store_opts o = {.url = ":memory:", .readers = 1, .migrate = true};
    fz.store = hd_store_open(&o, &err);
    if (!fz.store) setup_fail("open the store", &err);
    fz.clock = hd_clock_new(true, START_MS);
    fz.ids = hd_idgen_new(1);
    if (!fz.clock || !fz.ids) abort();
    if (hd_domain_init(&fz.d, fz.store, fz.clock, fz.ids, &err)) setup_fail("domain", &err);
    atexit(fz_close);
    /* a programme, two tiers and rules that read what events carry, so the
     * event hook has work to do */
    setup_call(program_patch, "{\"expiry\":{\"policy\":\"none\"}}");
    setup_call(hd_tier_create, "{\"code\":\"silver\",\"name\":{\"zh\":\"银卡\",\"en\":\"Silver\"},"
                               "\"threshold\":0}");
    setup_call(hd_tier_create,
               "{\"code\":\"gold\",\"name\":{\"zh\":\"金卡\",\"en\":\"Gold\"},\"threshold\":500,"
               "\"multiplier\":2,\"credit_limit\":300,\"grace_days\":10}");
    setup_call(hd_rule_create, "{\"name\":\"points\",\"event_type\":\"order.paid\",\"formula\":"
                               "\"floor(amount / 100) * tier.multiplier\"}");
    setup_call(hd_rule_create, "{\"name\":\"growth\",\"event_type\":\"order.paid\",\"currency\":"
                               "\"growth\",\"formula\":\"floor(amount / 100)\"}");
    setup_call(hd_rule_create,
               "{\"name\":\"jeans\",\"event_type\":\"order.paid\",\"priority\":10,\"stackable\":"
               "false,\"condition\":\"\\\"jeans\\\" in lines[*].category\",\"formula\":\"500\"}");
    setup_call(hd_rule_create,
               "{\"name\":\"third order\",\"event_type\":\"order.paid\",\"priority\":5,"
               "\"condition\":\"count(order.paid, 90d) >= 3 and sum(amount, 30d) > 0\",\"formula\":"
               "\"1000\"}");
    setup_call(hd_rule_create,
               "{\"name\":\"check-in\",\"event_type\":\"checkin\",\"formula\":\"100\",\"caps\":"
               "{\"per_day\":150,\"per_month\":1000}}");
    setup_call(hd_rule_create,
               "{\"name\":\"home page on wechat\",\"event_type\":\"page.view\",\"condition\":"
               "\"touchpoint == \\\"wechat\\\" and properties.page == \\\"/home\\\"\",\"formula\":"
               "\"customer.orders + 1\"}");
    setup_call(hd_rule_create,
               "{\"name\":\"scaled\",\"event_type\":\"checkin\",\"condition\":\"properties.n * "
               "1000000000 > 5\",\"formula\":\"properties.n\",\"currency\":\"growth\"}");
    if (hd_store_read(fz.store, list_tables, NULL, &err)) setup_fail("list tables", &err);
    return 0;
}

/* ---- one event inside a write of our own, then rolled back ---- */

typedef struct one_ctx {
    const json_t *in;
} one_ctx;

#define ROLLBACK_MSG "fuzz: roll back"

static hd_rc one_event(hd_conn *c, void *vctx, hd_err *err) {
    one_ctx *oc = vctx;
    int64_t eid = 0, cid = 0;
    bool dup = false;
    hd_err e;
    hd_err_clear(&e);
    hd_rc rc = hd_event_process(c, &fz.d, oc->in, &eid, &cid, &dup, &e);
    if (rc == HD_ESTORE || rc == HD_EBUSY) {
        /* the transaction is in trouble: hand it back as the store would */
        *err = e;
        return rc;
    }
    if (rc) {
        check_err(rc, &e);
    } else {
        check(eid > 0 && cid > 0 && !dup);
        /* the same event again in the same transaction: a keyed event is a
         * duplicate of the first, an order is already recorded, the rest
         * are recorded again */
        int64_t eid2 = 0, cid2 = 0;
        bool dup2 = false;
        hd_err_clear(&e);
        rc = hd_event_process(c, &fz.d, oc->in, &eid2, &cid2, &dup2, &e);
        if (rc == HD_ESTORE || rc == HD_EBUSY) {
            *err = e;
            return rc;
        }
        if (rc) {
            check_err(rc, &e);
        } else {
            check(cid2 == cid);
            if (json_is_string(json_object_get(oc->in, "key"))) check(dup2 && eid2 == eid);
        }
    }
    /* an error rolls back everything this callback did */
    return hd_err_set(err, HD_EINTERNAL, "", ROLLBACK_MSG);
}

/* ---- what must hold of whatever was committed ---- */

/* Counters stay integers (SQLite turns an overflowing sum into a REAL) and
 * never go negative; a merged customer keeps no counters of its own. */
static hd_rc check_counters(hd_conn *c, void *vctx, hd_err *err) {
    int64_t *bad = vctx;
    return hd_query_int(c,
                        "SELECT count(*) FROM customers WHERE typeof(orders) != 'integer' OR "
                        "typeof(revenue) != 'integer' OR typeof(events) != 'integer' OR "
                        "orders < 0 OR revenue < 0 OR events < 0 OR (merged_into IS NOT NULL AND "
                        "(orders != 0 OR revenue != 0 OR events != 0))",
                        NULL, 0, bad, err);
}

/* ---- cleaning up what the committed calls left ---- */

static hd_rc wipe(hd_conn *c, void *vctx, hd_err *err) {
    (void)vctx;
    for (int i = 0; i < fz.nwipe; i++) {
        hd_rc rc = hd_exec(c, fz.wipe_sql[i], NULL, 0, NULL, err);
        if (rc) return rc;
    }
    for (const char *const *sql = RESET; *sql; sql++) {
        hd_rc rc = hd_exec(c, *sql, NULL, 0, NULL, err);
        if (rc) return rc;
    }
    return HD_OK;
}

/* ---- a batch, with an idempotency key, then its replay ---- */

static bool run_batch(const json_t *body, const uint8_t *data, size_t size) {
    hd_idem im = {.scope = "fuzz /v1/events/batch", .key = "fuzz-key"};
    hd_idem_hash(&im, (const char *)data, size);
    hd_err err;
    hd_err_clear(&err);
    int status = 0;
    json_t *out = NULL;
    bool replayed = true;
    hd_rc rc = hd_event_record_batch(&fz.d, &im, body, &status, &out, &replayed, &err);
    if (rc) {
        check_err(rc, &err);
        check(out == NULL);
        return false;
    }
    check(status == 200 && !replayed && json_is_object(out));
    json_t *results = json_object_get(out, "results");
    check(json_is_array(results));
    check(json_array_size(results) == json_array_size(json_object_get(body, "events")));
    json_int_t created = json_integer_value(json_object_get(out, "created"));
    json_int_t dups = json_integer_value(json_object_get(out, "duplicates"));
    json_int_t failed = json_integer_value(json_object_get(out, "failed"));
    check(created + dups + failed == (json_int_t)json_array_size(results));
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        check(json_integer_value(json_object_get(r, "index")) == (json_int_t)i);
        json_t *problem = json_object_get(r, "error");
        if (problem) check(json_is_string(json_object_get(problem, "detail")));
    }
    /* the same key and body again: the first answer, replayed */
    int status2 = 0;
    json_t *out2 = NULL;
    bool replayed2 = false;
    hd_err_clear(&err);
    rc = hd_event_record_batch(&fz.d, &im, body, &status2, &out2, &replayed2, &err);
    if (rc) check_err(rc, &err);
    check(rc == HD_OK && replayed2 && status2 == status && json_equal(out, out2));
    json_decref(out2);
    json_decref(out);
    return true;
}

/* ---- a customer, then the same body as a patch of it ---- */

static bool run_customer(const json_t *body) {
    hd_err err;
    hd_err_clear(&err);
    int status = 0;
    json_t *out = NULL;
    bool replayed = true;
    int64_t existing = 0;
    hd_rc rc = hd_customer_create(&fz.d, NULL, body, &status, &out, &replayed, &existing, &err);
    if (rc) {
        check_err(rc, &err);
        check(out == NULL);
        return false;
    }
    check(status == 201 && !replayed && json_is_object(out));
    int64_t id;
    check(hd_id_parse(json_string_value(json_object_get(out, "id")), &id));
    json_decref(out);
    json_t *patched = NULL;
    int64_t moved = 0;
    hd_err_clear(&err);
    rc = hd_customer_patch(&fz.d, id, body, &patched, &moved, &err);
    if (rc)
        check_err(rc, &err);
    else
        check(json_is_object(patched) && moved == 0);
    json_decref(patched);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_error_t je;
    json_t *in = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!in) return 0;
    if (!json_is_object(in)) { /* the server answers 422 before any domain code */
        json_decref(in);
        return 0;
    }
    hd_clock_set_ms(fz.clock, START_MS);
    bool committed = false;

    one_ctx oc = {in};
    hd_err err;
    hd_err_clear(&err);
    hd_rc rc = hd_store_write(fz.store, one_event, &oc, &err);
    if (rc != HD_EINTERNAL || strcmp(err.msg, ROLLBACK_MSG) != 0)
        fprintf(stderr, "fuzz_json_body: the event's write failed: %s: %s: %s\n", hd_rc_name(rc),
                err.field, err.msg);
    check(rc == HD_EINTERNAL && strcmp(err.msg, ROLLBACK_MSG) == 0);

    /* a body with "events" is a batch; any other object is one event of one */
    if (json_object_get(in, "events")) {
        committed |= run_batch(in, data, size);
    } else {
        json_t *batch = json_pack("{s:[O]}", "events", in);
        check(batch != NULL);
        committed |= run_batch(batch, data, size);
        json_decref(batch);
    }
    committed |= run_customer(in);

    if (committed) {
        int64_t bad = -1;
        hd_err_clear(&err);
        rc = hd_store_read(fz.store, check_counters, &bad, &err);
        if (rc) fprintf(stderr, "fuzz_json_body: check_counters: %s\n", err.msg);
        check(rc == HD_OK && bad == 0);
        /* and the ledger's own invariants, over everything the input made */
        json_t *report = NULL;
        hd_err_clear(&err);
        rc = hd_ledger_check(&fz.d, &report, &err);
        if (rc) {
            char *text = report ? json_dumps(report, JSON_COMPACT) : NULL;
            fprintf(stderr, "fuzz_json_body: ledger check: %s\n%s\n", err.msg, text ? text : "");
            free(text);
        }
        json_decref(report);
        check(rc == HD_OK);
        hd_err_clear(&err);
        rc = hd_store_write(fz.store, wipe, NULL, &err);
        if (rc) fprintf(stderr, "fuzz_json_body: wipe: %s\n", err.msg);
        check(rc == HD_OK);
    }
    json_decref(in);
    return 0;
}
