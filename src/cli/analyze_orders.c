/* analyze_orders.c - `hudong analyze clv|rfm`: reads an orders CSV (customer, date,
 * amount), runs analytics/clv or analytics/rfm on it and prints JSON or CSV.
 *
 * Everything is computed before anything is printed, so bad input (reported with its
 * line number on stderr, exit 2) never leaves half an answer on stdout. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analytics/clv.h"
#include "analytics/rfm.h"
#include "base/clock.h"
#include "base/err.h"
#include "cli/cli.h"
#include "text/text.h"

#define ORDERS_MAX      100000000 /* rows in one file */
#define CUSTOMER_ID_MAX 256       /* bytes in one customer id */
#define LIST_MAX        10        /* customers in each JSON list */
#define PARETO_POINTS   20        /* 5 % steps */
#define DAYS_PER_YEAR   365.25
#define DAYS_PER_MONTH  30.4375

static const char *const CUSTOMER_COLS[] = {"customer_id", "customer", "cust_id", "cust",
                                            "id",          "masterid", NULL};
static const char *const DATE_COLS[] = {"date", "order_date", "day", "created_at", NULL};
static const char *const AMOUNT_COLS[] = {"amount", "sales",        "revenue",
                                          "value",  "dollar_value", NULL};

typedef struct opts {
    bool clv;
    const char *orders, *customer_col, *date_col, *amount_col;
    char sep;
    bool json;
    int64_t cal_end, as_of; /* days; INT64_MIN when not given */
    const char *cal_end_s, *as_of_s;
    hd_clock *cal; /* the calendar a timestamp's day is read on (--utc-offset) */
    hd_clv_period period;
    double horizon; /* periods; NAN when not given */
    double discount;
    bool pareto;
} opts;

/* The orders file in memory: parallel arrays plus the customer id strings, interned so
 * customers are dense indexes 0..ncust-1 in order of first appearance. */
typedef struct orders {
    size_t n, cap;
    int64_t *cust, *day;
    double *amount;
    char *names;
    size_t names_len, names_cap;
    size_t *name_off;
    size_t ncust, ncust_cap;
    size_t *slots; /* open addressing: customer index + 1, 0 = empty */
    size_t nslots;
    int64_t min_day, max_day;
} orders;

static void orders_free(orders *o) {
    free(o->cust);
    free(o->day);
    free(o->amount);
    free(o->names);
    free(o->name_off);
    free(o->slots);
}

static const char *cust_name(const orders *o, int64_t c) { return o->names + o->name_off[c]; }

static uint64_t fnv1a(const char *s, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h;
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return true;
    size_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return false;
    *p = q;
    *cap = c;
    return true;
}

/* Returns the dense index of customer id s, adding it if new; -1 when out of memory. */
static int64_t intern(orders *o, const char *s, size_t n) {
    if (o->ncust * 2 >= o->nslots) {
        size_t ns = o->nslots ? o->nslots * 2 : 4096;
        size_t *sl = calloc(ns, sizeof *sl);
        if (!sl) return -1;
        for (size_t c = 0; c < o->ncust; c++) {
            const char *nm = cust_name(o, (int64_t)c);
            size_t h = (size_t)fnv1a(nm, strlen(nm)) & (ns - 1);
            while (sl[h]) h = (h + 1) & (ns - 1);
            sl[h] = c + 1;
        }
        free(o->slots);
        o->slots = sl;
        o->nslots = ns;
    }
    size_t h = (size_t)fnv1a(s, n) & (o->nslots - 1);
    while (o->slots[h]) {
        const char *nm = cust_name(o, (int64_t)(o->slots[h] - 1));
        if (strncmp(nm, s, n) == 0 && nm[n] == '\0') return (int64_t)(o->slots[h] - 1);
        h = (h + 1) & (o->nslots - 1);
    }
    size_t ncap = o->ncust_cap;
    if (!grow((void **)&o->names, &o->names_cap, o->names_len + n + 1, 1) ||
        !grow((void **)&o->name_off, &ncap, o->ncust + 1, sizeof *o->name_off))
        return -1;
    o->ncust_cap = ncap;
    memcpy(o->names + o->names_len, s, n);
    o->names[o->names_len + n] = '\0';
    o->name_off[o->ncust] = o->names_len;
    o->names_len += n + 1;
    o->slots[h] = ++o->ncust;
    return (int64_t)(o->ncust - 1);
}

/* Trims ASCII spaces and tabs in place; returns the new start and sets *n. */
static const char *trim(const char *s, size_t *n) {
    size_t len = strlen(s);
    while (len && (*s == ' ' || *s == '\t')) s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    *n = len;
    return s;
}

/* Parses YYYY-MM-DD, YYYY/MM/DD, YYYYMMDD or a timestamp hd_time_parse accepts into
 * days since 1970-01-01: a date is the day written; a time is on the day it falls on
 * at cal's UTC offset (one with no offset is read at that offset, so its day is the
 * date written too) - the brand's days, as the live store counts them. */
static bool parse_day(const hd_clock *cal, const char *in, int64_t *day) {
    size_t n;
    const char *s = trim(in, &n);
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    int y, m, d;
    if (n == 8 && strspn(buf, "0123456789") == 8) {
        y = (buf[0] - '0') * 1000 + (buf[1] - '0') * 100 + (buf[2] - '0') * 10 + (buf[3] - '0');
        m = (buf[4] - '0') * 10 + (buf[5] - '0');
        d = (buf[6] - '0') * 10 + (buf[7] - '0');
        if (m < 1 || m > 12 || d < 1 || d > 31) return false;
        int64_t days = hd_days_from_civil(y, m, d);
        int y2, m2, d2;
        hd_civil_from_days(days, &y2, &m2, &d2);
        if (y2 != y || m2 != m || d2 != d) return false;
        *day = days;
        return true;
    }
    if (n == 10 && buf[4] == '/' && buf[7] == '/') buf[4] = buf[7] = '-';
    int64_t ms;
    if (!hd_time_parse_in(cal, buf, &ms)) return false;
    *day = hd_cal_day(hd_clock_utc_offset(cal), ms);
    return true;
}

static bool parse_amount(const char *in, double *v) {
    size_t n;
    const char *s = trim(in, &n);
    char buf[64];
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double x = strtod(buf, &end);
    if (*end != '\0' || errno == ERANGE || !isfinite(x)) return false;
    *v = x;
    return true;
}

static void fmt_day(int64_t day, char out[16]) {
    int y, m, d;
    hd_civil_from_days(day, &y, &m, &d);
    snprintf(out, 16, "%04d-%02d-%02d", y, m, d);
}

/* Finds a column: the one named (case-insensitively), or the first default present. */
static int find_col(const hd_csv *c, const char *named, const char *const *defaults) {
    int nf = hd_csv_nfields(c);
    for (int k = 0; named ? k == 0 : defaults[k] != NULL; k++) {
        const char *want = named ? named : defaults[k];
        for (int i = 0; i < nf; i++) {
            size_t len;
            const char *h = trim(hd_csv_field(c, i, NULL), &len);
            if (len == strlen(want) && strncasecmp(h, want, len) == 0) return i;
        }
    }
    return -1;
}

static void missing_col(const char *cmd, const opts *o, const hd_csv *c, const char *what,
                        const char *named, const char *const *defaults) {
    fprintf(stderr, "hudong analyze %s: %s: no %s column ", cmd, o->orders, what);
    if (named) {
        fprintf(stderr, "\"%s\"", named);
    } else {
        fputs("(looked for", stderr);
        for (int k = 0; defaults[k]; k++) fprintf(stderr, " %s", defaults[k]);
        fputc(')', stderr);
    }
    fputs("; the header has:", stderr);
    for (int i = 0; i < hd_csv_nfields(c); i++) fprintf(stderr, " %s", hd_csv_field(c, i, NULL));
    fprintf(stderr, "\n  (name it with --%s-col)\n", what);
}

/* Reads the whole file into o. Returns 0, or the exit code after printing the reason. */
static int load_orders(const char *cmd, const opts *op, orders *o) {
    int rc = 2;
    hd_err err;
    hd_err_clear(&err);
    memset(o, 0, sizeof *o);
    o->min_day = INT64_MAX;
    o->max_day = INT64_MIN;
    FILE *f = fopen(op->orders, "rb");
    if (!f) {
        fprintf(stderr, "hudong analyze %s: cannot open %s: %s\n", cmd, op->orders,
                strerror(errno));
        return 2;
    }
    hd_csv *c = hd_csv_new(f, op->sep);
    if (!c) {
        fprintf(stderr, "hudong analyze %s: out of memory\n", cmd);
        fclose(f);
        return 1;
    }
    int got = hd_csv_next(c, &err);
    if (got <= 0) {
        fprintf(stderr, "hudong analyze %s: %s: %s\n", cmd, op->orders,
                got == 0 ? "the file is empty (expected a header line)" : err.msg);
        goto done;
    }
    int ci = find_col(c, op->customer_col, CUSTOMER_COLS);
    int di = find_col(c, op->date_col, DATE_COLS);
    int ai = find_col(c, op->amount_col, AMOUNT_COLS);
    if (ci < 0) {
        missing_col(cmd, op, c, "customer", op->customer_col, CUSTOMER_COLS);
        goto done;
    }
    if (di < 0) {
        missing_col(cmd, op, c, "date", op->date_col, DATE_COLS);
        goto done;
    }
    if (ai < 0) {
        missing_col(cmd, op, c, "amount", op->amount_col, AMOUNT_COLS);
        goto done;
    }
    int need = (ci > di ? ci : di) > ai ? (ci > di ? ci : di) : ai;
    while ((got = hd_csv_next(c, &err)) != 0) {
        if (got < 0) {
            fprintf(stderr, "hudong analyze %s: %s: %s\n", cmd, op->orders, err.msg);
            goto done;
        }
        long long line = (long long)hd_csv_line(c);
        size_t len0;
        if (hd_csv_nfields(c) == 1 && hd_csv_field(c, 0, &len0) && len0 == 0) continue;
        if (hd_csv_nfields(c) <= need) {
            fprintf(stderr, "hudong analyze %s: %s: line %lld: %d fields, expected at least %d\n",
                    cmd, op->orders, line, hd_csv_nfields(c), need + 1);
            goto done;
        }
        size_t idn;
        const char *id = trim(hd_csv_field(c, ci, NULL), &idn);
        const char *ds = hd_csv_field(c, di, NULL), *as = hd_csv_field(c, ai, NULL);
        int64_t day;
        double amt;
        if (idn == 0 || idn > CUSTOMER_ID_MAX) {
            fprintf(stderr, "hudong analyze %s: %s: line %lld: customer id is %s\n", cmd,
                    op->orders, line, idn == 0 ? "empty" : "longer than 256 bytes");
            goto done;
        }
        if (!parse_day(op->cal, ds, &day)) {
            fprintf(stderr,
                    "hudong analyze %s: %s: line %lld: date \"%.40s\" is not a date "
                    "(YYYY-MM-DD or YYYYMMDD)\n",
                    cmd, op->orders, line, ds);
            goto done;
        }
        if (!parse_amount(as, &amt) || amt < 0) {
            fprintf(stderr,
                    "hudong analyze %s: %s: line %lld: amount \"%.40s\" is not a number >= 0\n",
                    cmd, op->orders, line, as);
            goto done;
        }
        if (o->n >= ORDERS_MAX) {
            fprintf(stderr, "hudong analyze %s: %s: more than %d orders\n", cmd, op->orders,
                    ORDERS_MAX);
            goto done;
        }
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 4096;
            int64_t *c1 = realloc(o->cust, cap * sizeof *c1);
            if (c1) o->cust = c1;
            int64_t *d1 = realloc(o->day, cap * sizeof *d1);
            if (d1) o->day = d1;
            double *a1 = realloc(o->amount, cap * sizeof *a1);
            if (a1) o->amount = a1;
            if (!c1 || !d1 || !a1) goto oom;
            o->cap = cap;
        }
        int64_t k = intern(o, id, idn);
        if (k < 0) goto oom;
        o->cust[o->n] = k;
        o->day[o->n] = day;
        o->amount[o->n] = amt;
        o->n++;
        if (day < o->min_day) o->min_day = day;
        if (day > o->max_day) o->max_day = day;
    }
    if (o->n == 0) {
        fprintf(stderr, "hudong analyze %s: %s: no orders after the header\n", cmd, op->orders);
        goto done;
    }
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "hudong analyze %s: out of memory reading %s\n", cmd, op->orders);
    rc = 1;
done:
    hd_csv_free(c);
    fclose(f);
    if (rc != 0) orders_free(o);
    return rc;
}

/* --- output helpers */

static void json_str(FILE *out, const char *s) {
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static void csv_str(FILE *out, const char *s) {
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static int finish_output(const char *cmd) {
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "hudong analyze %s: writing the output failed: %s\n", cmd, strerror(errno));
        return 1;
    }
    return 0;
}

static int lib_fail(const char *cmd, const hd_err *err) {
    fprintf(stderr, "hudong analyze %s: %s\n", cmd, err->msg);
    return err->rc == HD_EINVAL || err->rc == HD_ETOOBIG ? 2 : 1;
}

/* --- options */

static void usage(bool clv, FILE *out) {
    if (clv)
        fputs("usage: hudong analyze clv --orders FILE [options]\n"
              "Fits BG/NBD (purchases, P(alive)) and Gamma-Gamma (spend) to an order log and\n"
              "prints the parameters and each customer's expected purchases and CLV.\n"
              "  --orders FILE           CSV with a header: one row per order\n"
              "  --customer-col C        customer id column (default: customer_id, customer,\n"
              "                          cust_id, cust, id or masterid)\n"
              "  --date-col D            order date column, YYYY-MM-DD or YYYYMMDD (default:\n"
              "                          date, order_date, day or created_at)\n"
              "  --utc-offset +HH:MM     the brand's calendar: a time with an offset counts on\n"
              "                          its day there (default +08:00, as the live store)\n"
              "  --amount-col A          order amount column, >= 0 (default: amount, sales,\n"
              "                          revenue, value or dollar_value)\n"
              "  --sep C                 field separator: , ; | or tab (default ,)\n"
              "  --calibration-end DATE  fit on orders up to DATE; later ones are the hold-out\n"
              "                          (default: the last order date)\n"
              "  --period week|day       time unit of the model (default week)\n"
              "  --horizon N             CLV horizon in periods (default one year: 52 or 365)\n"
              "  --discount R            annual discount rate for CLV (default 0.1)\n"
              "  --format json|csv       json: parameters and summary (default);\n"
              "                          csv: customer,x,t_x,T,p_alive,expected_purchases,\n"
              "                          expected_value,clv for every customer\n"
              "Same-day orders of a customer count as one purchase; customers whose first\n"
              "order is after the calibration end are left out. Exit 0 ok, 1 failure,\n"
              "2 bad usage or bad input (the first bad line is named).\n",
              out);
    else
        fputs("usage: hudong analyze rfm --orders FILE [options]\n"
              "Scores customers 1..5 on recency, frequency and monetary value (quintiles;\n"
              "equal values get equal scores: 1 + floor(5 k / n), k = customers strictly\n"
              "worse) and names their segment (Champions 重要价值客户 ... Lost 流失客户).\n"
              "  --orders FILE           CSV with a header: one row per order\n"
              "  --customer-col C        customer id column (default: customer_id, customer,\n"
              "                          cust_id, cust, id or masterid)\n"
              "  --date-col D            order date column, YYYY-MM-DD or YYYYMMDD\n"
              "  --utc-offset +HH:MM     the brand's calendar: a time with an offset counts on\n"
              "                          its day there (default +08:00, as the live store)\n"
              "  --amount-col A          order amount column, >= 0 (default: amount, sales, ...)\n"
              "  --sep C                 field separator: , ; | or tab (default ,)\n"
              "  --as-of DATE            score as of DATE; later orders are ignored (default:\n"
              "                          the last order date)\n"
              "  --pareto                print the Pareto curve (revenue share by customer\n"
              "                          rank, top-20 % share, Gini) instead of the scores\n"
              "  --format csv|json       csv: customer,recency_days,frequency,monetary,R,F,M,\n"
              "                          segment,segment_zh (default); json: segment summary\n"
              "Frequency counts distinct purchase days; monetary is total spend.\n"
              "Exit 0 ok, 1 failure, 2 bad usage or bad input (the first bad line is named).\n",
              out);
}

/* 1 = parsed, 0 = --help printed, -1 = bad usage (reported). */
static int parse_opts(int argc, char **argv, opts *o) {
    const char *cmd = o->clv ? "clv" : "rfm";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[32];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(o->clv, stdout);
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
        if (strcmp(name, "--pareto") == 0 && !o->clv) {
            o->pareto = true;
            continue;
        }
        static const char *const WITH_VALUE[] = {
            "--orders", "--customer-col",    "--date-col", "--amount-col", "--sep",
            "--format", "--calibration-end", "--period",   "--horizon",    "--discount",
            "--as-of",  "--utc-offset",      NULL};
        bool known = false;
        for (int k = 0; WITH_VALUE[k]; k++) known = known || strcmp(name, WITH_VALUE[k]) == 0;
        bool clv_only = strcmp(name, "--calibration-end") == 0 || strcmp(name, "--period") == 0 ||
                        strcmp(name, "--horizon") == 0 || strcmp(name, "--discount") == 0;
        if (!known || (clv_only && !o->clv) || (strcmp(name, "--as-of") == 0 && o->clv)) {
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
        if (strcmp(name, "--orders") == 0) {
            o->orders = val;
        } else if (strcmp(name, "--customer-col") == 0) {
            o->customer_col = val;
        } else if (strcmp(name, "--date-col") == 0) {
            o->date_col = val;
        } else if (strcmp(name, "--amount-col") == 0) {
            o->amount_col = val;
        } else if (strcmp(name, "--sep") == 0) {
            if (strcmp(val, "tab") == 0 || strcmp(val, "\\t") == 0)
                o->sep = '\t';
            else if (strlen(val) == 1 && strchr(",;|\t", val[0]))
                o->sep = val[0];
            else {
                fprintf(stderr, "hudong analyze %s: --sep must be , ; | or tab\n", cmd);
                return -1;
            }
        } else if (strcmp(name, "--format") == 0) {
            if (strcmp(val, "json") != 0 && strcmp(val, "csv") != 0) {
                fprintf(stderr, "hudong analyze %s: --format must be json or csv\n", cmd);
                return -1;
            }
            o->json = strcmp(val, "json") == 0;
        } else if (strcmp(name, "--calibration-end") == 0 || strcmp(name, "--as-of") == 0) {
            *(strcmp(name, "--as-of") == 0 ? &o->as_of_s : &o->cal_end_s) = val;
        } else if (strcmp(name, "--utc-offset") == 0) {
            int minutes;
            if (!hd_utc_offset_parse(val, &minutes)) {
                fprintf(stderr,
                        "hudong analyze %s: --utc-offset must be like +08:00 or -05:30, within "
                        "-14:00 and +14:00; got \"%s\"\n",
                        cmd, val);
                return -1;
            }
            hd_clock_set_utc_offset(o->cal, minutes);
        } else if (strcmp(name, "--period") == 0) {
            if (strcmp(val, "week") == 0)
                o->period = HD_CLV_WEEK;
            else if (strcmp(val, "day") == 0)
                o->period = HD_CLV_DAY;
            else {
                fprintf(stderr, "hudong analyze %s: --period must be week or day\n", cmd);
                return -1;
            }
        } else {
            double v;
            bool hz = strcmp(name, "--horizon") == 0;
            if (!parse_amount(val, &v) || v < 0 || (hz && v > HD_CLV_TIME_MAX) ||
                (!hz && v > 100)) {
                fprintf(stderr, "hudong analyze %s: %s must be a number in [0, %g], got \"%s\"\n",
                        cmd, name, hz ? HD_CLV_TIME_MAX : 100.0, val);
                return -1;
            }
            *(hz ? &o->horizon : &o->discount) = v;
        }
    }
    if (!o->orders) {
        fprintf(stderr, "hudong analyze %s: --orders FILE is required (see --help)\n", cmd);
        return -1;
    }
    /* after every option: a time given here is on the --utc-offset calendar */
    const char *names[2] = {"--as-of", "--calibration-end"}, *vals[2] = {o->as_of_s, o->cal_end_s};
    int64_t *days[2] = {&o->as_of, &o->cal_end};
    for (int k = 0; k < 2; k++)
        if (vals[k] && !parse_day(o->cal, vals[k], days[k])) {
            fprintf(stderr, "hudong analyze %s: %s \"%s\" is not a date (YYYY-MM-DD)\n", cmd,
                    names[k], vals[k]);
            return -1;
        }
    return 1;
}

/* --- clv */

typedef struct ranked {
    double key;
    size_t i;
} ranked;

static int ranked_desc(const void *pa, const void *pb) {
    const ranked *a = pa, *b = pb;
    if (a->key != b->key) return a->key > b->key ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

/* Prints up to LIST_MAX customers with the largest key (key < 0 means leave out). */
static void json_list(const orders *o, const hd_clv_summary *s, const hd_clv_score *sc, size_t n,
                      ranked *rk, const char *name) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (rk[i].key >= 0) rk[m++] = rk[i];
    qsort(rk, m, sizeof *rk, ranked_desc);
    printf(",\n  \"%s\": [", name);
    for (size_t k = 0; k < m && k < LIST_MAX; k++) {
        size_t i = rk[k].i;
        printf("%s\n    {\"customer\": ", k ? "," : "");
        json_str(stdout, cust_name(o, s[i].customer));
        printf(", \"x\": %.0f, \"p_alive\": %.6f, \"expected_purchases\": %.6f, \"clv\": %.2f}",
               s[i].x, sc[i].p_alive, sc[i].expected_purchases, sc[i].clv);
    }
    printf("%s]", m ? "\n  " : "");
}

static int run_clv(const opts *op, const orders *o) {
    int rc = 1;
    hd_err err;
    hd_err_clear(&err);
    hd_clv_summary *s = NULL;
    hd_clv_score *sc = NULL, *ho = NULL;
    ranked *rk = NULL;
    size_t ns = 0;
    int64_t cal_end = op->cal_end != INT64_MIN ? op->cal_end : o->max_day;
    double per = (double)op->period;
    double horizon = !isnan(op->horizon) ? op->horizon : op->period == HD_CLV_WEEK ? 52 : 365;
    double annual = isnan(op->discount) ? 0.1 : op->discount;
    double disc = pow(1 + annual, per / DAYS_PER_YEAR) - 1; /* per period */
    double months = horizon * per / DAYS_PER_MONTH;
    int steps = months < 1 ? 1 : months > HD_CLV_STEPS_MAX ? HD_CLV_STEPS_MAX : (int)ceil(months);

    if (hd_clv_summarize(o->cust, o->day, o->amount, o->n, cal_end, op->period, &s, &ns, &err) !=
        HD_OK) {
        rc = lib_fail("clv", &err);
        goto done;
    }
    if (ns == 0) {
        char d[16];
        fmt_day(cal_end, d);
        fprintf(stderr, "hudong analyze clv: no customer bought on or before %s\n", d);
        rc = 2;
        goto done;
    }
    hd_clv_bgnbd bg;
    hd_clv_gg gg;
    if (hd_clv_bgnbd_fit(s, ns, &bg, &err) != HD_OK || hd_clv_gg_fit(s, ns, &gg, &err) != HD_OK) {
        rc = lib_fail("clv", &err);
        goto done;
    }
    if (bg.at_bound || gg.at_bound)
        fprintf(stderr,
                "hudong analyze clv: warning: the data do not pin down the %s model (a "
                "parameter reached its limit), so its predictions are limiting cases; more "
                "customers or a longer calibration period help\n",
                bg.at_bound ? "BG/NBD" : "Gamma-Gamma");
    sc = malloc(ns * sizeof *sc);
    ho = malloc(ns * sizeof *ho);
    rk = malloc(ns * sizeof *rk);
    if (!sc || !ho || !rk) {
        fputs("hudong analyze clv: out of memory\n", stderr);
        goto done;
    }
    if (hd_clv_score_all(&bg, &gg, s, ns, horizon, disc, steps, sc, &err) != HD_OK) {
        rc = lib_fail("clv", &err);
        goto done;
    }
    double holdout = o->max_day > cal_end ? (double)(o->max_day - cal_end) / per : 0;
    double ho_exp = 0, ho_act = 0, tot_exp = 0, tot_clv = 0, sum_x = 0;
    size_t repeaters = 0;
    if (holdout > 0) {
        if (hd_clv_score_all(&bg, &gg, s, ns, holdout, 0, 1, ho, &err) != HD_OK) {
            rc = lib_fail("clv", &err);
            goto done;
        }
    }
    for (size_t i = 0; i < ns; i++) {
        if (holdout > 0) ho_exp += ho[i].expected_purchases;
        ho_act += s[i].x_star;
        tot_exp += sc[i].expected_purchases;
        tot_clv += sc[i].clv;
        sum_x += s[i].x;
        repeaters += s[i].x > 0;
    }

    if (!op->json) {
        puts("customer,x,t_x,T,p_alive,expected_purchases,expected_value,clv");
        for (size_t i = 0; i < ns; i++) {
            csv_str(stdout, cust_name(o, s[i].customer));
            printf(",%.0f,%.6g,%.6g,%.6f,%.6f,%.2f,%.2f\n", s[i].x, s[i].t_x, s[i].T, sc[i].p_alive,
                   sc[i].expected_purchases, sc[i].expected_spend, sc[i].clv);
        }
        rc = finish_output("clv");
        goto done;
    }
    char d0[16], d1[16], d2[16];
    fmt_day(o->min_day, d0);
    fmt_day(cal_end, d1);
    fmt_day(o->max_day, d2);
    printf("{\n  \"orders\": %zu,\n  \"customers\": %zu,\n  \"repeat_customers\": %zu,\n"
           "  \"repeat_purchases\": %.0f,\n  \"first_date\": \"%s\",\n"
           "  \"calibration_end\": \"%s\",\n  \"last_date\": \"%s\",\n  \"period\": \"%s\",\n",
           o->n, ns, repeaters, sum_x, d0, d1, d2, op->period == HD_CLV_WEEK ? "week" : "day");
    printf("  \"bgnbd\": {\"r\": %.10g, \"alpha\": %.10g, \"a\": %.10g, \"b\": %.10g, "
           "\"loglik\": %.6f, \"iterations\": %d, \"at_bound\": %s},\n",
           bg.r, bg.alpha, bg.a, bg.b, bg.loglik, bg.iterations, bg.at_bound ? "true" : "false");
    printf("  \"gamma_gamma\": {\"p\": %.10g, \"q\": %.10g, \"v\": %.10g, \"loglik\": %.6f, "
           "\"customers\": %zu, \"iterations\": %d, \"at_bound\": %s},\n",
           gg.p, gg.q, gg.v, gg.loglik, gg.customers, gg.iterations,
           gg.at_bound ? "true" : "false");
    printf("  \"horizon\": %.10g,\n  \"discount_annual\": %.10g,\n  \"discount_per_period\": "
           "%.10g,\n",
           horizon, annual, disc);
    printf("  \"expected_purchases\": %.4f,\n  \"clv_total\": %.2f,\n  \"clv_mean\": %.4f,\n",
           tot_exp, tot_clv, tot_clv / (double)ns);
    printf("  \"new_customer_spend\": %.4f", hd_clv_gg_expected_spend(&gg, 0, 0));
    if (holdout > 0)
        printf(",\n  \"holdout\": {\"periods\": %.10g, \"actual_repeat_purchases\": %.0f, "
               "\"expected_repeat_purchases\": %.4f}",
               holdout, ho_act, ho_exp);
    for (size_t i = 0; i < ns; i++) rk[i] = (ranked){sc[i].clv, i};
    json_list(o, s, sc, ns, rk, "top_clv");
    for (size_t i = 0; i < ns; i++) rk[i] = (ranked){sc[i].expected_purchases, i};
    json_list(o, s, sc, ns, rk, "likely_repurchasers");
    /* slipping away: repeat buyers who are probably gone, most valuable first */
    for (size_t i = 0; i < ns; i++)
        rk[i] = (ranked){s[i].x > 0 && sc[i].p_alive < 0.5 ? s[i].x * s[i].monetary : -1, i};
    json_list(o, s, sc, ns, rk, "slipping_away");
    puts("\n}");
    rc = finish_output("clv");
done:
    free(s);
    free(sc);
    free(ho);
    free(rk);
    return rc;
}

/* --- rfm */

static int run_rfm(const opts *op, const orders *o) {
    int rc = 1;
    hd_err err;
    hd_err_clear(&err);
    hd_rfm_input *in = NULL;
    hd_rfm_score *sc = NULL;
    double *rev = NULL;
    size_t n = 0;
    int64_t as_of = op->as_of != INT64_MIN ? op->as_of : o->max_day;
    char d[16];
    fmt_day(as_of, d);
    if (hd_rfm_summarize(o->cust, o->day, o->amount, o->n, as_of, &in, &n, &err) != HD_OK) {
        rc = lib_fail("rfm", &err);
        goto done;
    }
    if (n == 0) {
        fprintf(stderr, "hudong analyze rfm: no customer bought on or before %s\n", d);
        rc = 2;
        goto done;
    }
    if (op->pareto) {
        double curve[PARETO_POINTS];
        hd_pareto_summary ps;
        rev = malloc(n * sizeof *rev);
        if (!rev) {
            fputs("hudong analyze rfm: out of memory\n", stderr);
            goto done;
        }
        for (size_t i = 0; i < n; i++) rev[i] = in[i].monetary;
        if (hd_pareto_curve(rev, n, curve, PARETO_POINTS, &ps, &err) != HD_OK) {
            rc = lib_fail("rfm", &err);
            goto done;
        }
        if (op->json) {
            printf("{\n  \"as_of\": \"%s\",\n  \"customers\": %zu,\n  \"revenue\": %.2f,\n"
                   "  \"top20_share\": %.6f,\n  \"customer_share_80\": %.6f,\n"
                   "  \"gini\": %.6f,\n  \"curve\": [",
                   d, ps.customers, ps.revenue, ps.top20_share, ps.customer_share_80, ps.gini);
            for (int k = 0; k < PARETO_POINTS; k++)
                printf("%s[%.2f, %.6f]", k ? ", " : "", (k + 1.0) / PARETO_POINTS, curve[k]);
            puts("]\n}");
        } else {
            puts("customer_share,revenue_share");
            for (int k = 0; k < PARETO_POINTS; k++)
                printf("%.2f,%.6f\n", (k + 1.0) / PARETO_POINTS, curve[k]);
        }
        rc = finish_output("rfm");
        goto done;
    }
    sc = malloc(n * sizeof *sc);
    if (!sc) {
        fputs("hudong analyze rfm: out of memory\n", stderr);
        goto done;
    }
    if (hd_rfm_score_all(in, n, sc, &err) != HD_OK) {
        rc = lib_fail("rfm", &err);
        goto done;
    }
    if (op->json) {
        size_t cnt[HD_RFM_SEGMENTS] = {0};
        double money[HD_RFM_SEGMENTS] = {0}, total = 0;
        for (size_t i = 0; i < n; i++) {
            cnt[sc[i].segment]++;
            money[sc[i].segment] += in[i].monetary;
            total += in[i].monetary;
        }
        printf("{\n  \"as_of\": \"%s\",\n  \"customers\": %zu,\n  \"revenue\": %.2f,\n"
               "  \"segments\": [",
               d, n, total);
        for (int k = 0; k < HD_RFM_SEGMENTS; k++) {
            printf("%s\n    {\"segment\": \"%s\", \"name_en\": ", k ? "," : "",
                   hd_rfm_segment_key((hd_rfm_segment)k));
            json_str(stdout, hd_rfm_segment_en((hd_rfm_segment)k));
            printf(", \"name_zh\": \"%s\", \"customers\": %zu, \"customer_share\": %.6f, "
                   "\"revenue\": %.2f, \"revenue_share\": %.6f}",
                   hd_rfm_segment_zh((hd_rfm_segment)k), cnt[k], (double)cnt[k] / (double)n,
                   money[k], total > 0 ? money[k] / total : 0);
        }
        puts("\n  ]\n}");
    } else {
        puts("customer,recency_days,frequency,monetary,R,F,M,segment,segment_zh");
        for (size_t i = 0; i < n; i++) {
            csv_str(stdout, cust_name(o, in[i].customer));
            printf(",%.0f,%.0f,%.2f,%d,%d,%d,", in[i].recency_days, in[i].frequency, in[i].monetary,
                   sc[i].r, sc[i].f, sc[i].m);
            csv_str(stdout, hd_rfm_segment_en(sc[i].segment));
            printf(",%s\n", hd_rfm_segment_zh(sc[i].segment));
        }
    }
    rc = finish_output("rfm");
done:
    free(in);
    free(sc);
    free(rev);
    return rc;
}

int hd_cli_analyze_orders(int argc, char **argv) {
    if (argc < 1 || (strcmp(argv[0], "clv") != 0 && strcmp(argv[0], "rfm") != 0)) {
        fputs("usage: hudong analyze clv|rfm --orders FILE [options] (see --help)\n", stderr);
        return 2;
    }
    opts o = {.clv = strcmp(argv[0], "clv") == 0,
              .sep = ',',
              .cal_end = INT64_MIN,
              .as_of = INT64_MIN,
              .period = HD_CLV_WEEK,
              .horizon = NAN,
              .discount = NAN};
    o.json = o.clv; /* clv prints the parameters by default, rfm the customer rows */
    /* only a calendar here: the brand's default offset until --utc-offset */
    o.cal = hd_clock_new(true, 0);
    if (!o.cal) {
        fputs("hudong analyze: out of memory\n", stderr);
        return 1;
    }
    int pr = parse_opts(argc, argv, &o);
    int rc = pr == 0 ? 0 : 2;
    if (pr > 0) {
        orders od;
        rc = load_orders(argv[0], &o, &od);
        if (rc == 0) {
            rc = o.clv ? run_clv(&o, &od) : run_rfm(&o, &od);
            orders_free(&od);
        }
    }
    hd_clock_free(o.cal);
    return rc;
}
