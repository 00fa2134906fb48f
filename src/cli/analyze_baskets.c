/* analyze_baskets.c - `hudong analyze rules|itemsets`: reads baskets (CSV, one basket
 * per line, or FIMI, space-separated integer ids), mines them with analytics/basket
 * and writes CSV.
 *
 * Everything is read and mined before anything is written, so bad input (named on
 * stderr with its line, exit 2) never leaves half an answer on stdout or in --output. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/basket.h"
#include "base/err.h"
#include "cli/cli.h"
#include "text/text.h"

#define BASKETS_MAX   50000000  /* lines in one basket file */
#define ITEM_NAME_MAX 1024      /* bytes in one item name */
#define FIMI_LINE_MAX (1 << 20) /* bytes in one FIMI line */

typedef struct opts {
    bool rules;
    const char *baskets, *output;
    bool fimi;
    double min_support, min_confidence; /* NAN when not given */
    int min_len, max_len;
} opts;

/* --- the baskets in memory, items interned to dense ids */

typedef struct input {
    uint32_t *items; /* ids of all baskets back to back */
    size_t n_items, items_cap;
    size_t *starts; /* n + 1 */
    size_t n, starts_cap;
    char *names; /* csv: item names, NUL-terminated, back to back */
    size_t names_len, names_cap;
    size_t *name_off; /* csv: id -> offset in names */
    uint64_t *num;    /* fimi: id -> the integer in the file */
    uint32_t n_ids, ids_cap;
    uint32_t *slots; /* open addressing: id + 1, 0 = empty */
    size_t nslots;
} input;

static void input_free(input *in) {
    free(in->items);
    free(in->starts);
    free(in->names);
    free(in->name_off);
    free(in->num);
    free(in->slots);
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 256;
    while (c < need) c *= 2;
    if (c > SIZE_MAX / elem) return false;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

static uint64_t hash_bytes(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xFF51AFD7ED558CCDULL;
    x ^= x >> 33;
    return x;
}

static const char *item_name(const input *in, uint32_t id) { return in->names + in->name_off[id]; }

/* Doubles the slot table and re-inserts every id. */
static bool rehash(input *in, bool fimi) {
    size_t ns = in->nslots ? in->nslots * 2 : 1024;
    uint32_t *s = calloc(ns, sizeof *s);
    if (!s) return false;
    for (uint32_t id = 0; id < in->n_ids; id++) {
        uint64_t h =
            fimi ? hash_u64(in->num[id]) : hash_bytes(item_name(in, id), strlen(item_name(in, id)));
        size_t i = (size_t)h & (ns - 1);
        while (s[i]) i = (i + 1) & (ns - 1);
        s[i] = id + 1;
    }
    free(in->slots);
    in->slots = s;
    in->nslots = ns;
    return true;
}

/* The id of an item (a name for csv, a number for fimi), added when new.
 * Returns false when out of memory or past HD_BASKET_ITEM_IDS_MAX (*full). */
static bool intern(input *in, bool fimi, const char *name, size_t len, uint64_t num, uint32_t *id,
                   bool *full) {
    *full = false;
    if ((size_t)in->n_ids * 2 >= in->nslots && !rehash(in, fimi)) return false;
    uint64_t h = fimi ? hash_u64(num) : hash_bytes(name, len);
    size_t i = (size_t)h & (in->nslots - 1);
    for (;;) {
        uint32_t s = in->slots[i];
        if (!s) break;
        uint32_t k = s - 1;
        if (fimi ? in->num[k] == num
                 : strncmp(item_name(in, k), name, len) == 0 && item_name(in, k)[len] == '\0') {
            *id = k;
            return true;
        }
        i = (i + 1) & (in->nslots - 1);
    }
    if (in->n_ids >= HD_BASKET_ITEM_IDS_MAX) {
        *full = true;
        return false;
    }
    size_t cap = in->ids_cap;
    if (fimi) {
        if (!grow((void **)&in->num, &cap, (size_t)in->n_ids + 1, sizeof *in->num)) return false;
        in->num[in->n_ids] = num;
    } else {
        if (!grow((void **)&in->name_off, &cap, (size_t)in->n_ids + 1, sizeof *in->name_off) ||
            !grow((void **)&in->names, &in->names_cap, in->names_len + len + 1, 1))
            return false;
        memcpy(in->names + in->names_len, name, len);
        in->names[in->names_len + len] = '\0';
        in->name_off[in->n_ids] = in->names_len;
        in->names_len += len + 1;
    }
    in->ids_cap = (uint32_t)cap;
    in->slots[i] = in->n_ids + 1;
    *id = in->n_ids++;
    return true;
}

static bool push_item(input *in, uint32_t id) {
    if (!grow((void **)&in->items, &in->items_cap, in->n_items + 1, sizeof *in->items))
        return false;
    in->items[in->n_items++] = id;
    return true;
}

static bool end_basket(input *in) {
    if (!grow((void **)&in->starts, &in->starts_cap, in->n + 2, sizeof *in->starts)) return false;
    in->starts[++in->n] = in->n_items;
    return true;
}

/* Reports a bad row and returns 2; 1 for out of memory. */
static int bad_line(const char *cmd, const opts *o, long long line, const char *why) {
    fprintf(stderr, "hudong analyze %s: %s: line %lld: %s\n", cmd, o->baskets, line, why);
    return 2;
}

static int no_memory(const char *cmd) {
    fprintf(stderr, "hudong analyze %s: out of memory reading the baskets\n", cmd);
    return 1;
}

/* Adds one item to the current basket; returns 0 or the exit code after reporting. */
static int add_item(const char *cmd, const opts *o, input *in, long long line, const char *name,
                    size_t len, uint64_t num, size_t in_basket) {
    char why[160];
    if (in_basket >= HD_BASKET_BASKET_ITEMS_MAX) {
        snprintf(why, sizeof why, "more than %d items in one basket", HD_BASKET_BASKET_ITEMS_MAX);
        return bad_line(cmd, o, line, why);
    }
    uint32_t id;
    bool full;
    if (!intern(in, o->fimi, name, len, num, &id, &full)) {
        if (!full) return no_memory(cmd);
        snprintf(why, sizeof why, "more than %u distinct items", (unsigned)HD_BASKET_ITEM_IDS_MAX);
        return bad_line(cmd, o, line, why);
    }
    return push_item(in, id) ? 0 : no_memory(cmd);
}

static int read_csv(const char *cmd, const opts *o, FILE *f, input *in) {
    hd_err err;
    hd_csv *c = hd_csv_new(f, ',');
    if (!c) return no_memory(cmd);
    int r, rc = 0;
    char why[200];
    while ((r = hd_csv_next(c, &err)) == 1) {
        long long line = (long long)hd_csv_line(c);
        int nf = hd_csv_nfields(c);
        size_t len;
        const char *s = hd_csv_field(c, 0, &len);
        if (nf == 1 && len == 0) continue; /* a blank line is not a basket */
        for (int i = 0; i < nf && rc == 0; i++) {
            s = hd_csv_field(c, i, &len);
            if (len == 0) {
                snprintf(why, sizeof why, "item %d is empty", i + 1);
                rc = bad_line(cmd, o, line, why);
            } else if (len > ITEM_NAME_MAX) {
                snprintf(why, sizeof why, "item %d is longer than %d bytes", i + 1, ITEM_NAME_MAX);
                rc = bad_line(cmd, o, line, why);
            } else if (memchr(s, '\0', len)) {
                snprintf(why, sizeof why, "item %d contains a NUL byte", i + 1);
                rc = bad_line(cmd, o, line, why);
            } else if (memchr(s, '|', len)) {
                snprintf(why, sizeof why,
                         "item %d contains '|', which the output uses to join items", i + 1);
                rc = bad_line(cmd, o, line, why);
            } else {
                rc = add_item(cmd, o, in, line, s, len, 0, (size_t)i);
            }
        }
        if (rc) break;
        if (in->n >= BASKETS_MAX) {
            snprintf(why, sizeof why, "more than %d baskets", BASKETS_MAX);
            rc = bad_line(cmd, o, line, why);
            break;
        }
        if (!end_basket(in)) {
            rc = no_memory(cmd);
            break;
        }
    }
    if (r < 0) {
        fprintf(stderr, "hudong analyze %s: %s: %s\n", cmd, o->baskets, err.msg);
        rc = err.rc == HD_ENOMEM ? 1 : 2;
    }
    hd_csv_free(c);
    return rc;
}

static int read_fimi(const char *cmd, const opts *o, FILE *f, input *in) {
    char *buf = NULL, why[200];
    size_t cap = 0;
    ssize_t got;
    long long line = 0;
    int rc = 0;
    errno = 0;
    while (rc == 0 && (got = getline(&buf, &cap, f)) >= 0) {
        line++;
        if (got > FIMI_LINE_MAX) {
            snprintf(why, sizeof why, "longer than %d bytes", FIMI_LINE_MAX);
            rc = bad_line(cmd, o, line, why);
            break;
        }
        size_t n = (size_t)got, k = 0;
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        size_t p = 0;
        while (p < n && rc == 0) {
            while (p < n && (buf[p] == ' ' || buf[p] == '\t')) p++;
            if (p == n) break;
            size_t s = p;
            while (p < n && buf[p] != ' ' && buf[p] != '\t') p++;
            uint64_t v = 0;
            bool ok = p - s <= 10;
            for (size_t i = s; i < p && ok; i++) {
                ok = buf[i] >= '0' && buf[i] <= '9';
                v = v * 10 + (uint64_t)(buf[i] - '0');
            }
            if (!ok || v > UINT32_MAX) {
                snprintf(why, sizeof why, "item %zu \"%.*s\" is not an integer in 0..4294967295",
                         k + 1, (int)(p - s > 40 ? 40 : p - s), buf + s);
                rc = bad_line(cmd, o, line, why);
                break;
            }
            rc = add_item(cmd, o, in, line, NULL, 0, v, k++);
        }
        if (rc) break;
        if (k == 0) continue; /* a blank line is not a basket */
        if (in->n >= BASKETS_MAX) {
            snprintf(why, sizeof why, "more than %d baskets", BASKETS_MAX);
            rc = bad_line(cmd, o, line, why);
        } else if (!end_basket(in)) {
            rc = no_memory(cmd);
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "hudong analyze %s: reading %s failed: %s\n", cmd, o->baskets,
                strerror(errno));
        rc = 1;
    }
    free(buf);
    return rc;
}

typedef struct id_key {
    const char *name; /* csv */
    uint64_t num;     /* fimi */
    uint32_t id;
} id_key;

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const id_key *)a)->name, ((const id_key *)b)->name);
}

static int cmp_num(const void *a, const void *b) {
    uint64_t x = ((const id_key *)a)->num, y = ((const id_key *)b)->num;
    return (x > y) - (x < y);
}

/* Renumbers items in name order (byte order for csv, numeric for fimi), so the
 * output and the order of items within a set do not depend on where an item
 * first appears in the file. */
static int sort_ids(const char *cmd, const opts *o, input *in) {
    size_t n = in->n_ids ? in->n_ids : 1;
    id_key *k = malloc(sizeof *k * n);
    uint32_t *rank = malloc(sizeof *rank * n);
    size_t *off = o->fimi ? NULL : malloc(sizeof *off * n);
    uint64_t *num = o->fimi ? malloc(sizeof *num * n) : NULL;
    int rc = 0;
    if (!k || !rank || (!off && !num)) {
        rc = no_memory(cmd);
        goto done;
    }
    for (uint32_t i = 0; i < in->n_ids; i++)
        k[i] = (id_key){o->fimi ? NULL : item_name(in, i), o->fimi ? in->num[i] : 0, i};
    if (in->n_ids) qsort(k, in->n_ids, sizeof *k, o->fimi ? cmp_num : cmp_name);
    for (uint32_t r = 0; r < in->n_ids; r++) {
        rank[k[r].id] = r;
        if (o->fimi)
            num[r] = k[r].num;
        else
            off[r] = in->name_off[k[r].id];
    }
    for (size_t i = 0; i < in->n_items; i++) in->items[i] = rank[in->items[i]];
    if (o->fimi) {
        free(in->num);
        in->num = num;
        num = NULL;
    } else {
        free(in->name_off);
        in->name_off = off;
        off = NULL;
    }
done:
    free(k);
    free(rank);
    free(off);
    free(num);
    return rc;
}

static int load(const char *cmd, const opts *o, input *in) {
    memset(in, 0, sizeof *in);
    bool std_in = strcmp(o->baskets, "-") == 0;
    FILE *f = std_in ? stdin : fopen(o->baskets, "rb");
    if (!f) {
        fprintf(stderr, "hudong analyze %s: cannot open %s: %s\n", cmd, o->baskets,
                strerror(errno));
        return 2;
    }
    int rc = 0;
    if (grow((void **)&in->starts, &in->starts_cap, 1, sizeof *in->starts))
        in->starts[0] = 0;
    else
        rc = no_memory(cmd);
    if (rc == 0) rc = o->fimi ? read_fimi(cmd, o, f, in) : read_csv(cmd, o, f, in);
    if (!std_in) fclose(f);
    if (rc == 0 && in->n == 0) {
        fprintf(stderr, "hudong analyze %s: %s: no baskets\n", cmd, o->baskets);
        rc = 2;
    }
    if (rc == 0) rc = sort_ids(cmd, o, in);
    if (rc != 0) input_free(in);
    return rc;
}

/* --- output */

/* Writes s[0..n) as one CSV field, quoted when it holds a separator, a quote,
 * a line break, or leading or trailing spaces. */
static void csv_field(FILE *out, const char *s, size_t n) {
    bool quote = n > 0 && (s[0] == ' ' || s[n - 1] == ' ');
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        fwrite(s, 1, n, out);
        return;
    }
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') fputc('"', out);
        fputc(s[i], out);
    }
    fputc('"', out);
}

typedef struct joiner {
    char *buf;
    size_t len, cap;
} joiner;

/* Joins the names of ids with '|' into j (csv names, or fimi numbers). */
static bool join_items(joiner *j, const input *in, bool fimi, const uint32_t *ids, uint32_t n) {
    j->len = 0;
    for (uint32_t i = 0; i < n; i++) {
        char num[24];
        const char *s = num;
        size_t len;
        if (fimi)
            len = (size_t)snprintf(num, sizeof num, "%llu", (unsigned long long)in->num[ids[i]]);
        else
            len = strlen(s = item_name(in, ids[i]));
        if (!grow((void **)&j->buf, &j->cap, j->len + len + 2, 1)) return false;
        if (i) j->buf[j->len++] = '|';
        memcpy(j->buf + j->len, s, len);
        j->len += len;
    }
    return true;
}

/* Opens where the result goes: stdout, or a temporary file beside --output
 * that finish() renames into place, so a failed run leaves no partial file. */
static FILE *open_out(const char *cmd, const opts *o, char *tmp, size_t tmp_max) {
    if (!o->output) return stdout;
    snprintf(tmp, tmp_max, "%s.tmp.%ld", o->output, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f)
        fprintf(stderr, "hudong analyze %s: cannot write %s: %s\n", cmd, o->output,
                strerror(errno));
    return f;
}

static int finish(const char *cmd, const opts *o, FILE *out, const char *tmp, bool ok) {
    if (!o->output) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "hudong analyze %s: writing the output failed: %s\n", cmd,
                    strerror(errno));
            return 1;
        }
        return ok ? 0 : 1;
    }
    bool failed = ferror(out) != 0;
    if (fclose(out) != 0) failed = true;
    if (ok && !failed && rename(tmp, o->output) == 0) return 0;
    if (ok)
        fprintf(stderr, "hudong analyze %s: writing %s failed: %s\n", cmd, o->output,
                strerror(errno));
    remove(tmp);
    return 1;
}

static int lib_fail(const char *cmd, const hd_err *err) {
    fprintf(stderr, "hudong analyze %s: %s\n", cmd, err->msg);
    return err->rc == HD_EINVAL || err->rc == HD_ETOOBIG ? 2 : 1;
}

static void params_from(const opts *o, hd_basket_params *p) {
    hd_basket_params_init(p);
    p->min_support = o->min_support;
    p->min_confidence = isnan(o->min_confidence) ? 0 : o->min_confidence;
    p->min_len = o->min_len;
    p->max_len = o->max_len;
}

static int run_rules(const opts *o, input *in) {
    hd_basket_data d = {in->items, in->starts, in->n, in->n_ids};
    hd_basket_params p;
    hd_basket_rules *r = NULL;
    hd_err err;
    joiner j = {0};
    char tmp[4096];
    params_from(o, &p);
    if (hd_basket_rules_mine(&d, &p, &r, &err) != HD_OK) return lib_fail("rules", &err);
    FILE *out = open_out("rules", o, tmp, sizeof tmp);
    if (!out) {
        hd_basket_rules_free(r);
        return 1;
    }
    bool ok = true;
    fputs("lhs,rhs,support,confidence,lift,count\n", out);
    for (size_t i = 0; i < r->n && ok; i++) {
        const hd_basket_rule *x = &r->rule[i];
        ok = join_items(&j, in, o->fimi, x->lhs, x->lhs_len);
        if (!ok) break;
        csv_field(out, j.buf ? j.buf : "", j.len);
        fputc(',', out);
        ok = join_items(&j, in, o->fimi, &x->rhs, 1);
        if (!ok) break;
        csv_field(out, j.buf, j.len);
        fprintf(out, ",%.10g,%.10g,%.10g,%u\n", x->support, x->confidence, x->lift,
                (unsigned)x->count);
    }
    if (!ok) fputs("hudong analyze rules: out of memory writing the rules\n", stderr);
    int rc = finish("rules", o, out, tmp, ok);
    if (rc == 0 && o->output)
        fprintf(stderr, "hudong analyze rules: %zu baskets, %u items, %zu rules -> %s\n", in->n,
                (unsigned)in->n_ids, r->n, o->output);
    free(j.buf);
    hd_basket_rules_free(r);
    return rc;
}

static int run_itemsets(const opts *o, input *in) {
    hd_basket_data d = {in->items, in->starts, in->n, in->n_ids};
    hd_basket_params p;
    hd_basket_itemsets *s = NULL;
    hd_err err;
    joiner j = {0};
    char tmp[4096];
    params_from(o, &p);
    if (hd_basket_itemsets_mine(&d, &p, &s, &err) != HD_OK) return lib_fail("itemsets", &err);
    FILE *out = open_out("itemsets", o, tmp, sizeof tmp);
    if (!out) {
        hd_basket_itemsets_free(s);
        return 1;
    }
    bool ok = true;
    fputs("items,support,count\n", out);
    for (size_t i = 0; i < s->n && ok; i++) {
        ok = join_items(&j, in, o->fimi, s->set[i].items, s->set[i].len);
        if (!ok) break;
        csv_field(out, j.buf, j.len);
        fprintf(out, ",%.10g,%u\n", s->set[i].support, (unsigned)s->set[i].count);
    }
    if (!ok) fputs("hudong analyze itemsets: out of memory writing the itemsets\n", stderr);
    int rc = finish("itemsets", o, out, tmp, ok);
    if (rc == 0 && o->output)
        fprintf(stderr, "hudong analyze itemsets: %zu baskets, %u items, %zu itemsets -> %s\n",
                in->n, (unsigned)in->n_ids, s->n, o->output);
    free(j.buf);
    hd_basket_itemsets_free(s);
    return rc;
}

/* --- options */

static void usage(bool rules, FILE *out) {
    if (rules)
        fputs("usage: hudong analyze rules --baskets FILE --min-support S --min-confidence C\n"
              "                            [--format csv|fimi] [--min-len K] [--max-len K]\n"
              "                            [--output FILE]\n"
              "Association rules with one item on the right (FP-growth; the definitions of\n"
              "R's arules, so counts match its apriori()).\n",
              out);
    else
        fputs("usage: hudong analyze itemsets --baskets FILE --min-support S\n"
              "                               [--format csv|fimi] [--min-len K] [--max-len K]\n"
              "                               [--output FILE]\n"
              "Frequent itemsets (FP-growth), most frequent first.\n",
              out);
    fputs("  --baskets FILE       one basket per line; - reads standard input\n"
          "  --format csv|fimi    csv (default): items separated by commas, RFC 4180\n"
          "                       quoting, taken verbatim (spaces are part of a name);\n"
          "                       fimi: item ids (integers) separated by spaces\n"
          "  --min-support S      in (0, 1]: a set is frequent when it is in at least\n"
          "                       ceil(S * baskets) baskets\n",
          out);
    if (rules)
        fputs("  --min-confidence C   in [0, 1]: count(lhs and rhs) / count(lhs)\n"
              "  --min-len K          shortest rule, counting |lhs| + 1 (default 1: rules\n"
              "                       {} => {x} appear when support(x) >= C)\n"
              "  --max-len K          longest rule (default 10, at most 32)\n",
              out);
    else
        fputs("  --min-len K          fewest items in a set (default 1)\n"
              "  --max-len K          most items in a set (default 10, at most 32)\n",
              out);
    fputs("  --output FILE        write there (replaced only on success) instead of stdout\n", out);
    if (rules)
        fputs("Output: CSV lhs,rhs,support,confidence,lift,count; lhs items joined by |\n"
              "(empty for {}), highest lift first.\n",
              out);
    else
        fputs("Output: CSV items,support,count; items joined by |.\n", out);
    fputs("Blank lines are skipped; an item repeated in a basket counts once; an item\n"
          "name may not contain |. Exit 0 ok, 1 failure, 2 bad usage or bad input (the\n"
          "first bad line is named).\n",
          out);
}

static bool parse_double(const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v)) return false;
    *out = v;
    return true;
}

static bool parse_len(const char *s, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || v < 1 || v > HD_BASKET_LEN_MAX) return false;
    *out = (int)v;
    return true;
}

/* 1 = parsed, 0 = --help printed, -1 = bad usage (reported). */
static int parse_opts(int argc, char **argv, opts *o) {
    const char *cmd = o->rules ? "rules" : "itemsets";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[32];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(o->rules, stdout);
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "hudong analyze %s: unexpected argument \"%s\"\n", cmd, a);
            return -1;
        }
        const char *eq = strchr(a, '=');
        size_t nl = eq ? (size_t)(eq - a) : strlen(a);
        if (nl >= sizeof name) nl = sizeof name - 1;
        memcpy(name, a, nl);
        name[nl] = '\0';
        static const char *const KNOWN[] = {"--baskets",        "--format",  "--min-support",
                                            "--min-len",        "--max-len", "--output",
                                            "--min-confidence", NULL};
        bool known = false;
        for (int k = 0; KNOWN[k]; k++) known = known || strcmp(name, KNOWN[k]) == 0;
        if (!known || (!o->rules && strcmp(name, "--min-confidence") == 0)) {
            fprintf(stderr, "hudong analyze %s: unknown option %s (see --help)\n", cmd, name);
            return -1;
        }
        if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "hudong analyze %s: %s needs a value\n", cmd, name);
            return -1;
        }
        if (strcmp(name, "--baskets") == 0) {
            o->baskets = val;
        } else if (strcmp(name, "--output") == 0) {
            o->output = val;
        } else if (strcmp(name, "--format") == 0) {
            if (strcmp(val, "csv") != 0 && strcmp(val, "fimi") != 0) {
                fprintf(stderr, "hudong analyze %s: --format must be csv or fimi, got \"%s\"\n",
                        cmd, val);
                return -1;
            }
            o->fimi = strcmp(val, "fimi") == 0;
        } else if (strcmp(name, "--min-support") == 0) {
            if (!parse_double(val, &o->min_support) || !(o->min_support > 0) ||
                o->min_support > 1) {
                fprintf(stderr,
                        "hudong analyze %s: --min-support must be a number in (0, 1], got "
                        "\"%s\"\n",
                        cmd, val);
                return -1;
            }
        } else if (strcmp(name, "--min-confidence") == 0) {
            if (!parse_double(val, &o->min_confidence) || o->min_confidence < 0 ||
                o->min_confidence > 1) {
                fprintf(stderr,
                        "hudong analyze %s: --min-confidence must be a number in [0, 1], got "
                        "\"%s\"\n",
                        cmd, val);
                return -1;
            }
        } else {
            int *dst = strcmp(name, "--min-len") == 0 ? &o->min_len : &o->max_len;
            if (!parse_len(val, dst)) {
                fprintf(stderr, "hudong analyze %s: %s must be an integer in 1..%d, got \"%s\"\n",
                        cmd, name, HD_BASKET_LEN_MAX, val);
                return -1;
            }
        }
    }
    if (!o->baskets) {
        fprintf(stderr, "hudong analyze %s: --baskets FILE is required (see --help)\n", cmd);
        return -1;
    }
    if (isnan(o->min_support)) {
        fprintf(stderr, "hudong analyze %s: --min-support S is required (see --help)\n", cmd);
        return -1;
    }
    if (o->rules && isnan(o->min_confidence)) {
        fprintf(stderr, "hudong analyze rules: --min-confidence C is required (see --help)\n");
        return -1;
    }
    if (o->max_len < o->min_len) {
        fprintf(stderr, "hudong analyze %s: --max-len (%d) is below --min-len (%d)\n", cmd,
                o->max_len, o->min_len);
        return -1;
    }
    return 1;
}

int hd_cli_analyze_baskets(int argc, char **argv) {
    if (argc < 1 || (strcmp(argv[0], "rules") != 0 && strcmp(argv[0], "itemsets") != 0)) {
        fputs("usage: hudong analyze rules|itemsets --baskets FILE [options] (see --help)\n",
              stderr);
        return 2;
    }
    opts o = {.rules = strcmp(argv[0], "rules") == 0,
              .min_support = NAN,
              .min_confidence = NAN,
              .min_len = 1,
              .max_len = HD_BASKET_LEN_DEFAULT};
    int pr = parse_opts(argc, argv, &o);
    if (pr <= 0) return pr == 0 ? 0 : 2;
    input in;
    int rc = load(argv[0], &o, &in);
    if (rc != 0) return rc;
    rc = o.rules ? run_rules(&o, &in) : run_itemsets(&o, &in);
    input_free(&in);
    return rc;
}
