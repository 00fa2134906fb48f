/* export.c - `hudong export customers|events`: every customer (merged ones
 * left out) or every event, streamed as CSV or JSON Lines from one consistent
 * snapshot, in pages so memory stays flat on a large store.
 *
 * Customers in JSONL have the shape hd_customer_load gives (GET
 * /v1/customers/{id}); in CSV they have the columns `hudong import customers`
 * reads back (name, phone, email, city, tags, then one column per attribute
 * key) followed by computed columns the import ignores. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "domain/customers.h"

#define EXPORT_PAGE      500 /* rows fetched per query */
#define EXPORT_ATTRS_MAX 256 /* attribute columns in customers CSV; more go to "attributes" */

typedef enum { FMT_CSV, FMT_JSONL } export_fmt;

typedef struct export_ctx {
    FILE *out;
    export_fmt fmt;
    bool bom;
    int64_t rows;
    /* customers CSV: the attribute keys found in a first pass, sorted */
    char **attr_keys;
    int nattr;
    bool attrs_overflow; /* more keys than EXPORT_ATTRS_MAX: the rest go in one JSON column */
    bool write_failed;
} export_ctx;

/* ---- CSV writing ---- */

/* Writes one field, quoted when it holds a comma, quote, CR/LF or edge space. */
static void csv_field(FILE *f, const char *s, size_t n, bool first) {
    if (!first) fputc(',', f);
    bool quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') quote = true;
    if (!quote) {
        fwrite(s, 1, n, f);
        return;
    }
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', f);
        fputc(s[i], f);
    }
    fputc('"', f);
}

static void csv_str(FILE *f, const char *s, bool first) { csv_field(f, s, strlen(s), first); }

/* A JSON value as a CSV cell: strings bare, null empty, anything else as JSON. */
static void csv_json(FILE *f, const json_t *v, bool first) {
    if (!v || json_is_null(v)) {
        csv_field(f, "", 0, first);
    } else if (json_is_string(v)) {
        csv_field(f, json_string_value(v), json_string_length(v), first);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        csv_str(f, s ? s : "", first);
        free(s);
    }
}

static void jsonl_write(export_ctx *x, const json_t *o) {
    if (json_dumpf(o, x->out, JSON_COMPACT | JSON_REAL_PRECISION(15)) != 0) x->write_failed = true;
    fputc('\n', x->out);
}

/* ---- customers ---- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *const CUSTOMER_COMPUTED[] = {"id",         "orders",     "revenue",
                                                "events",     "first_seen", "last_seen",
                                                "created_at", "updated_at", NULL};
static const char *const CUSTOMER_COLS[] = {"name",           "phone",      "email",
                                            "city",           "tags",       "wechat_openid",
                                            "wechat_unionid", "attributes", NULL};

/* An attribute whose key is also a column name goes in the "attributes" cell. */
static bool reserved_key(const char *k) {
    for (const char *const *p = CUSTOMER_COMPUTED; *p; p++)
        if (strcmp(*p, k) == 0) return true;
    for (const char *const *p = CUSTOMER_COLS; *p; p++)
        if (strcmp(*p, k) == 0) return true;
    return false;
}

/* First pass (CSV only): the union of attribute keys, so each gets a column. */
static hd_rc collect_attr_keys(hd_conn *c, export_ctx *x, hd_err *err) {
    int64_t last = 0;
    for (;;) {
        hd_val p[2] = {hd_vint(last), hd_vint(EXPORT_PAGE)};
        hd_rows *r;
        hd_rc rc = hd_query(c,
                            "SELECT id, attributes FROM customers WHERE merged_into IS NULL AND "
                            "id > ? ORDER BY id LIMIT ?",
                            p, 2, &r, err);
        if (rc) return rc;
        int got, n = 0;
        while ((got = hd_rows_next(r, err)) == 1) {
            n++;
            last = hd_rows_int(r, 0);
            size_t len;
            const char *t = hd_rows_text(r, 1, &len);
            if (len <= 2) continue; /* "{}" */
            json_t *a = hd_json_load(t, len);
            const char *k;
            json_t *v;
            json_object_foreach(a, k, v) {
                bool have = false;
                for (int i = 0; i < x->nattr && !have; i++) have = strcmp(x->attr_keys[i], k) == 0;
                if (have) continue;
                if (x->nattr == EXPORT_ATTRS_MAX || reserved_key(k)) {
                    x->attrs_overflow = true;
                    continue;
                }
                char **keys = realloc(x->attr_keys, sizeof *keys * (size_t)(x->nattr + 1));
                char *dup = strdup(k);
                if (!keys || !dup) {
                    free(dup);
                    if (keys) x->attr_keys = keys;
                    json_decref(a);
                    hd_rows_free(r);
                    return hd_err_set(err, HD_ENOMEM, "", "out of memory");
                }
                x->attr_keys = keys;
                x->attr_keys[x->nattr++] = dup;
            }
            json_decref(a);
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
        if (n < EXPORT_PAGE) break;
    }
    qsort(x->attr_keys, (size_t)x->nattr, sizeof *x->attr_keys, cmp_str);
    return HD_OK;
}

static void customer_csv_header(export_ctx *x) {
    FILE *f = x->out;
    static const char *const head[] = {"name", "phone",         "email",          "city",
                                       "tags", "wechat_openid", "wechat_unionid", NULL};
    bool first = true;
    for (const char *const *h = head; *h; h++, first = false) csv_str(f, *h, first);
    for (int i = 0; i < x->nattr; i++) csv_str(f, x->attr_keys[i], false);
    if (x->attrs_overflow) csv_str(f, "attributes", false);
    for (const char *const *h = CUSTOMER_COMPUTED; *h; h++) csv_str(f, *h, false);
    fputs("\r\n", f);
}

static void customer_csv_row(export_ctx *x, const json_t *o) {
    FILE *f = x->out;
    csv_json(f, json_object_get(o, "name"), true);
    csv_json(f, json_object_get(o, "phone"), false);
    csv_json(f, json_object_get(o, "email"), false);
    csv_json(f, json_object_get(o, "city"), false);
    /* tags joined by | (the import splits on it) */
    char *tags = NULL;
    size_t tl = 0;
    FILE *m = open_memstream(&tags, &tl);
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(o, "tags"), i, t) {
        if (m) fprintf(m, "%s%s", i ? "|" : "", json_string_value(t));
    }
    if (m) fclose(m);
    csv_field(f, tags ? tags : "", tags ? tl : 0, false);
    free(tags);
    static const char *const kinds[] = {"wechat_openid", "wechat_unionid"};
    for (int k = 0; k < 2; k++) {
        const char *val = "";
        json_t *id;
        json_array_foreach(json_object_get(o, "identities"), i, id) {
            if (strcmp(json_string_value(json_object_get(id, "type")), kinds[k]) == 0) {
                val = json_string_value(json_object_get(id, "value"));
                break;
            }
        }
        csv_str(f, val, false);
    }
    json_t *attrs = json_object_get(o, "attributes");
    for (int k = 0; k < x->nattr; k++) csv_json(f, json_object_get(attrs, x->attr_keys[k]), false);
    if (x->attrs_overflow) {
        json_t *rest = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(attrs, k, v) {
            bool listed =
                bsearch(&k, x->attr_keys, (size_t)x->nattr, sizeof *x->attr_keys, cmp_str) != NULL;
            if (!listed) json_object_set(rest, k, v);
        }
        csv_json(f, rest, false);
        json_decref(rest);
    }
    json_t *stats = json_object_get(o, "stats");
    csv_json(f, json_object_get(o, "id"), false);
    csv_json(f, json_object_get(stats, "orders"), false);
    csv_json(f, json_object_get(stats, "revenue"), false);
    csv_json(f, json_object_get(stats, "events"), false);
    csv_json(f, json_object_get(stats, "first_seen"), false);
    csv_json(f, json_object_get(stats, "last_seen"), false);
    csv_json(f, json_object_get(o, "created_at"), false);
    csv_json(f, json_object_get(o, "updated_at"), false);
    fputs("\r\n", f);
}

/* Runs on one reader connection: one snapshot for the whole export. */
static hd_rc customers_cb(hd_conn *c, void *vctx, hd_err *err) {
    export_ctx *x = vctx;
    hd_rc rc;
    if (x->fmt == FMT_CSV) {
        if ((rc = collect_attr_keys(c, x, err))) return rc;
        customer_csv_header(x);
    }
    int64_t last = 0;
    int64_t ids[EXPORT_PAGE];
    for (;;) {
        /* ids first, then each customer: hd_customer_load runs its own queries */
        hd_val p[2] = {hd_vint(last), hd_vint(EXPORT_PAGE)};
        hd_rows *r;
        if ((rc = hd_query(c,
                           "SELECT id FROM customers WHERE merged_into IS NULL AND id > ? ORDER BY "
                           "id LIMIT ?",
                           p, 2, &r, err)))
            return rc;
        int got, n = 0;
        while ((got = hd_rows_next(r, err)) == 1 && n < EXPORT_PAGE) ids[n++] = hd_rows_int(r, 0);
        hd_rows_free(r);
        if (got < 0) return err->rc;
        for (int i = 0; i < n; i++) {
            json_t *o;
            if ((rc = hd_customer_load(c, ids[i], &o, err))) return rc;
            if (x->fmt == FMT_JSONL)
                jsonl_write(x, o);
            else
                customer_csv_row(x, o);
            json_decref(o);
            x->rows++;
        }
        if (ferror(x->out)) x->write_failed = true;
        if (x->write_failed) return hd_err_set(err, HD_EIO, "output", "%s", strerror(errno));
        if (n < EXPORT_PAGE) break;
        last = ids[n - 1];
    }
    return HD_OK;
}

/* ---- events ---- */

static void event_csv_header(export_ctx *x) {
    static const char *const head[] = {"id",         "customer_id", "type",
                                       "touchpoint", "occurred_at", "received_at",
                                       "key",        "properties",  NULL};
    bool first = true;
    for (const char *const *h = head; *h; h++, first = false) csv_str(x->out, *h, first);
    fputs("\r\n", x->out);
}

static hd_rc events_cb(hd_conn *c, void *vctx, hd_err *err) {
    export_ctx *x = vctx;
    if (x->fmt == FMT_CSV) event_csv_header(x);
    /* keyset paging on the primary key (customer_id, id) */
    int64_t last_c = 0, last_id = 0;
    for (;;) {
        hd_val p[4] = {hd_vint(last_c), hd_vint(last_c), hd_vint(last_id), hd_vint(EXPORT_PAGE)};
        hd_rows *r;
        hd_rc rc = hd_query(c,
                            "SELECT customer_id, id, type, touchpoint, occurred_at, received_at, "
                            "ev_key, properties FROM events WHERE customer_id > ? OR "
                            "(customer_id = ? AND id > ?) ORDER BY customer_id, id LIMIT ?",
                            p, 4, &r, err);
        if (rc) return rc;
        int got, n = 0;
        while ((got = hd_rows_next(r, err)) == 1) {
            n++;
            last_c = hd_rows_int(r, 0);
            last_id = hd_rows_int(r, 1);
            char at[32], recv[32], cid[24], id[24];
            hd_time_format(hd_rows_int(r, 4), at);
            hd_time_format(hd_rows_int(r, 5), recv);
            hd_id_format(last_c, cid);
            hd_id_format(last_id, id);
            size_t plen;
            const char *props = hd_rows_text(r, 7, &plen);
            bool has_key = !hd_rows_isnull(r, 6);
            if (x->fmt == FMT_CSV) {
                FILE *f = x->out;
                csv_str(f, id, true);
                csv_str(f, cid, false);
                csv_str(f, hd_rows_text(r, 2, NULL), false);
                csv_str(f, hd_rows_text(r, 3, NULL), false);
                csv_str(f, at, false);
                csv_str(f, recv, false);
                csv_str(f, has_key ? hd_rows_text(r, 6, NULL) : "", false);
                csv_field(f, props, plen, false);
                fputs("\r\n", f);
            } else {
                json_t *o = json_object();
                json_object_set_new(o, "id", json_string(id));
                json_object_set_new(o, "customer_id", json_string(cid));
                json_object_set_new(o, "type", json_string(hd_rows_text(r, 2, NULL)));
                json_object_set_new(o, "touchpoint", json_string(hd_rows_text(r, 3, NULL)));
                json_object_set_new(o, "occurred_at", json_string(at));
                json_object_set_new(o, "received_at", json_string(recv));
                json_object_set_new(o, "key",
                                    has_key ? json_string(hd_rows_text(r, 6, NULL)) : json_null());
                json_object_set_new(o, "properties", hd_json_load(props, plen));
                jsonl_write(x, o);
                json_decref(o);
            }
            x->rows++;
        }
        hd_rows_free(r);
        if (got < 0) return err->rc;
        if (ferror(x->out)) x->write_failed = true;
        if (x->write_failed) return hd_err_set(err, HD_EIO, "output", "%s", strerror(errno));
        if (n < EXPORT_PAGE) break;
    }
    return HD_OK;
}

/* ---- the command ---- */

static void export_usage(FILE *f) {
    fputs("usage: hudong export customers|events [--format csv|jsonl] [--output FILE]\n"
          "                     [--bom] [--db DB]\n"
          "\n"
          "Writes every customer (merged ones are part of their survivor) or every event,\n"
          "from one consistent snapshot, to FILE or stdout.\n"
          "\n"
          "  --format  csv (default): a header row, RFC 4180 quoting, UTF-8; customers\n"
          "            have name, phone, email, city, tags (joined by |), one column per\n"
          "            attribute, then computed columns - 'hudong import customers' reads\n"
          "            the file back. jsonl: one JSON object per line; customers as\n"
          "            GET /v1/customers/{id} returns them.\n"
          "  --output  write to FILE (replaced only when the export succeeds)\n"
          "  --bom     start a CSV with a UTF-8 byte-order mark (for Excel on Windows)\n"
          "  --db      store (default $HUDONG_DB or ./hudong.db)\n",
          f);
}

int hd_cli_export(int argc, char **argv) {
    /* argv[0] may be "export" (the command) or already the kind */
    if (argc > 0 && strcmp(argv[0], "export") == 0) argc--, argv++;
    const char *kind = NULL, *db = HD_CLI_DB(), *output = NULL, *format = "csv";
    bool bom = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **target = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            export_usage(stdout);
            return 0;
        }
        if (strcmp(a, "--bom") == 0) {
            bom = true;
            continue;
        }
        static const struct {
            const char *name;
            size_t len;
        } valued[] = {{"--db", 4}, {"--output", 8}, {"--format", 8}};
        const char *val = NULL;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0] && !target; k++) {
            if (strncmp(a, valued[k].name, valued[k].len) != 0) continue;
            if (a[valued[k].len] == '=')
                val = a + valued[k].len + 1;
            else if (a[valued[k].len] != '\0')
                continue;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "hudong export: %s needs a value\n", valued[k].name);
                return 2;
            }
            target = k == 0 ? &db : k == 1 ? &output : &format;
        }
        if (target) {
            *target = val;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "hudong export: unknown option '%s'\n", a);
            export_usage(stderr);
            return 2;
        } else if (!kind) {
            kind = a;
        } else {
            fprintf(stderr, "hudong export: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!kind || (strcmp(kind, "customers") != 0 && strcmp(kind, "events") != 0)) {
        if (kind)
            fprintf(stderr, "hudong export: can export customers or events, not '%s'\n", kind);
        export_usage(stderr);
        return 2;
    }
    export_ctx x = {0};
    if (strcmp(format, "csv") == 0) {
        x.fmt = FMT_CSV;
    } else if (strcmp(format, "jsonl") == 0) {
        x.fmt = FMT_JSONL;
    } else {
        fprintf(stderr, "hudong export: --format must be csv or jsonl, not '%s'\n", format);
        return 2;
    }
    x.bom = bom && x.fmt == FMT_CSV;
    hd_app a;
    if (hd_app_open(&a, db, false, true)) return 1;
    /* write to FILE.tmp-PID and rename at the end, so a failed export never
     * leaves a half file where a good one was */
    char tmp[4096] = "";
    if (output) {
        if (strlen(output) + 32 >= sizeof tmp) {
            fprintf(stderr, "hudong export: the output path is too long\n");
            hd_app_close(&a);
            return 2;
        }
        snprintf(tmp, sizeof tmp, "%s.tmp-%ld", output, getpid_portable());
        x.out = fopen(tmp, "wb");
        if (!x.out) {
            fprintf(stderr, "hudong export: cannot write %s: %s\n", tmp, strerror(errno));
            hd_app_close(&a);
            return 1;
        }
    } else {
        x.out = stdout;
    }
    if (x.bom) fputs("\xEF\xBB\xBF", x.out);
    hd_err err;
    hd_err_clear(&err);
    hd_rc rc =
        hd_store_read(a.store, strcmp(kind, "customers") == 0 ? customers_cb : events_cb, &x, &err);
    hd_app_close(&a);
    if (fflush(x.out) != 0 || ferror(x.out)) {
        if (!rc) rc = hd_err_set(&err, HD_EIO, "output", "%s", strerror(errno));
    }
    if (output) {
        if (fclose(x.out) != 0 && !rc)
            rc = hd_err_set(&err, HD_EIO, "output", "%s", strerror(errno));
        if (!rc && rename(tmp, output) != 0)
            rc = hd_err_set(&err, HD_EIO, "output", "cannot rename %s to %s: %s", tmp, output,
                            strerror(errno));
        if (rc) unlink(tmp);
    }
    for (int i = 0; i < x.nattr; i++) free(x.attr_keys[i]);
    free(x.attr_keys);
    if (rc) {
        fprintf(stderr, "hudong export: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "hudong export: %lld %s%s%s\n", (long long)x.rows, kind, output ? " to " : "",
            output ? output : "");
    return 0;
}
