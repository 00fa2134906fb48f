/* test_import.c - the CLI data commands end to end: `hudong import`,
 * `hudong export` and `hudong demo` run as the real binary ($HUDONG_BIN, or
 * build/asan/hudong) on small CSV fixtures written here (UTF-8 Chinese, a BOM,
 * GBK bytes, bad rows), and the store is then opened and queried directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

typedef struct fx {
    char dir[128];
    char db[256], db2[256];
    char *out, *err; /* of the last run */
} fx;

static const char *bin(void) {
    const char *b = getenv("HUDONG_BIN");
    return b && *b ? b : "build/asan/hudong";
}

static void rm_db(const char *db) {
    char p[300];
    unlink(db);
    snprintf(p, sizeof p, "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
}

static int setup(void **state) {
    static int n;
    fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/hudong-test-import-%d-%d", (int)getpid(), n++);
    if (mkdir(f->dir, 0700) != 0) {
        fprintf(stderr, "cannot create %s\n", f->dir);
        free(f);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "%s/a.db", f->dir);
    snprintf(f->db2, sizeof f->db2, "%s/b.db", f->dir);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx *f = *state;
    rm_db(f->db);
    rm_db(f->db2);
    const char *files[] = {"c.csv", "o.csv", "gbk.csv", "x.csv", "y.csv", "e.jsonl", NULL};
    for (const char *const *p = files; *p; p++) {
        char path[300];
        snprintf(path, sizeof path, "%s/%s", f->dir, *p);
        unlink(path);
    }
    rmdir(f->dir);
    free(f->out);
    free(f->err);
    free(f);
    return 0;
}

static char *slurp(const char *path) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return strdup("");
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, fp);
    s[got] = '\0';
    fclose(fp);
    return s;
}

/* Runs hudong with args (NULL-terminated); keeps stdout and stderr in f. */
static int run(fx *f, const char *const *args) {
    char outp[300], errp[300];
    snprintf(outp, sizeof outp, "%s/stdout", f->dir);
    snprintf(errp, sizeof errp, "%s/stderr", f->dir);
    const char *argv[32];
    int n = 0;
    argv[n++] = bin();
    for (const char *const *a = args; *a && n < 31; a++) argv[n++] = *a;
    argv[n] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    free(f->out);
    free(f->err);
    f->out = slurp(outp);
    f->err = slurp(errp);
    unlink(outp);
    unlink(errp);
    int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
    if (rc == 127) fail_msg("cannot run %s (set HUDONG_BIN)", bin());
    return rc;
}

static const char *write_file(fx *f, const char *name, const char *bytes, size_t n) {
    static char path[300];
    snprintf(path, sizeof path, "%s/%s", f->dir, name);
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(bytes, 1, n, fp), n);
    fclose(fp);
    return path;
}

#define WRITE(f, name, lit) write_file((f), (name), (lit), sizeof(lit) - 1)

/* ---- reading the store directly ---- */

typedef struct q_ctx {
    const char *sql;
    const hd_val *p;
    int np;
    int64_t v;
    char text[512];
} q_ctx;

static hd_rc q_int_cb(hd_conn *c, void *vctx, hd_err *err) {
    q_ctx *q = vctx;
    return hd_query_int(c, q->sql, q->p, q->np, &q->v, err);
}

static hd_rc q_text_cb(hd_conn *c, void *vctx, hd_err *err) {
    q_ctx *q = vctx;
    hd_rows *r;
    hd_rc rc = hd_query(c, q->sql, q->p, q->np, &r, err);
    if (rc) return rc;
    q->text[0] = '\0';
    if (hd_rows_next(r, err) == 1)
        snprintf(q->text, sizeof q->text, "%s", hd_rows_text(r, 0, NULL));
    hd_rows_free(r);
    return HD_OK;
}

static int64_t q_int(const char *db, const char *sql, const hd_val *p, int np) {
    hd_store_opts o = {.url = db, .migrate = true};
    hd_err err;
    hd_store *st = hd_store_open(&o, &err);
    if (!st) fail_msg("open %s: %s", db, err.msg);
    q_ctx q = {sql, p, np, 0, ""};
    hd_rc rc = hd_store_read(st, q_int_cb, &q, &err);
    hd_store_close(st);
    if (rc) fail_msg("%s: %s", sql, err.msg);
    return q.v;
}

static void q_text(const char *db, const char *sql, const hd_val *p, int np, char *out,
                   size_t cap) {
    hd_store_opts o = {.url = db, .migrate = true};
    hd_err err;
    hd_store *st = hd_store_open(&o, &err);
    if (!st) fail_msg("open %s: %s", db, err.msg);
    q_ctx q = {sql, p, np, 0, ""};
    hd_rc rc = hd_store_read(st, q_text_cb, &q, &err);
    hd_store_close(st);
    if (rc) fail_msg("%s: %s", sql, err.msg);
    snprintf(out, cap, "%s", q.text);
}

static int64_t count(const char *db, const char *sql) { return q_int(db, sql, NULL, 0); }

/* The customer that owns a phone (E.164), 0 when none. */
static int64_t by_phone(const char *db, const char *phone) {
    hd_val p = hd_vtext(phone);
    return q_int(db,
                 "SELECT COALESCE(max(customer_id), 0) FROM identities WHERE kind = 'phone' AND "
                 "value = ?",
                 &p, 1);
}

/* ---- customers ---- */

static const char CUSTOMERS_BOM[] = "\xEF\xBB\xBFname,phone,email,city,tags,会员卡号\r\n"
                                    "张伟,138 0013 8000,ZhangWei@Example.com,杭州,VIP|吃货,A001\r\n"
                                    "李娜,+86 139-0013-9000,,北京,新客;学生,A002\r\n"
                                    "\"欧阳, 静\",13700137000,ouyang@example.cn,深圳,,\r\n";

static void test_customers_bom_utf8(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "c.csv", CUSTOMERS_BOM);
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers"), 3);
    int64_t zw = by_phone(f->db, "+8613800138000");
    assert_true(zw > 0);
    char s[512];
    hd_val p = hd_vint(zw);
    q_text(f->db, "SELECT name FROM customers WHERE id = ?", &p, 1, s, sizeof s);
    assert_string_equal(s, "张伟");
    q_text(f->db, "SELECT attributes FROM customers WHERE id = ?", &p, 1, s, sizeof s);
    assert_non_null(strstr(s, "\"会员卡号\":\"A001\""));
    assert_int_equal(
        q_int(f->db, "SELECT count(*) FROM customer_tags WHERE customer_id = ?", &p, 1), 2);
    /* the e-mail is lower-cased, the quoted name with a comma kept whole */
    assert_int_equal(count(f->db, "SELECT count(*) FROM identities WHERE value = "
                                  "'zhangwei@example.com'"),
                     1);
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers WHERE name = '欧阳, 静'"), 1);
    /* tags split on ';' too */
    assert_int_equal(
        count(f->db, "SELECT count(*) FROM customer_tags WHERE tag IN ('新客', '学生')"), 2);
}

static void test_customers_rerun_is_idempotent(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "c.csv", CUSTOMERS_BOM);
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 0);
    int64_t tags = count(f->db, "SELECT count(*) FROM customer_tags");
    int64_t ids = count(f->db, "SELECT count(*) FROM identities");
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 0);
    assert_non_null(strstr(f->out, "unchanged   3"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers"), 3);
    assert_int_equal(count(f->db, "SELECT count(*) FROM customer_tags"), tags);
    assert_int_equal(count(f->db, "SELECT count(*) FROM identities"), ids);
    /* a changed row updates the customer it names, without a new one */
    const char *csv2 = WRITE(f, "x.csv", "phone,city,tags\n13800138000,上海,新标签\n");
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv2, "--db", f->db, NULL}), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers"), 3);
    int64_t zw = by_phone(f->db, "+8613800138000");
    hd_val p = hd_vint(zw);
    char s[512];
    q_text(f->db, "SELECT city FROM customers WHERE id = ?", &p, 1, s, sizeof s);
    assert_string_equal(s, "上海");
    assert_int_equal(
        q_int(f->db, "SELECT count(*) FROM customer_tags WHERE customer_id = ?", &p, 1), 3);
}

static void test_customers_bad_rows(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "c.csv",
                            "name,phone,email\n"
                            "王芳,13800138000,\n"
                            "赵强,12345,\n"
                            "刘洋,,\n"
                            "陈静,,not-an-email\n"
                            "周杰,13900139000,zhou@example.com\n");
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 1);
    assert_non_null(strstr(f->err, "line 3: phone"));
    assert_non_null(strstr(f->err, "line 4: no phone or email"));
    assert_non_null(strstr(f->err, "line 5: email"));
    assert_non_null(strstr(f->out, "bad         3"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers"), 2);
}

static void test_customers_row_merges_two(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "c.csv",
                            "name,phone,email\n"
                            "孙丽,13800138000,\n"
                            ",,sun@example.com\n");
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers WHERE merged_into IS NULL"), 2);
    const char *csv2 = WRITE(f, "x.csv", "phone,email\n13800138000,sun@example.com\n");
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv2, "--db", f->db, NULL}), 0);
    assert_non_null(strstr(f->out, "1 merges"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers WHERE merged_into IS NULL"), 1);
    assert_int_equal(count(f->db, "SELECT count(DISTINCT customer_id) FROM identities"), 1);
}

static void test_gbk_is_rejected(void **state) {
    fx *f = *state;
    /* "name,phone\n张伟,13800138000\n" with 张伟 in GBK (D5 C5 CE B0) */
    const char gbk[] = "name,phone\n\xD5\xC5\xCE\xB0,13800138000\n";
    const char *csv = write_file(f, "gbk.csv", gbk, sizeof gbk - 1);
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 2);
    assert_non_null(strstr(f->err, "GBK"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers"), 0);
    /* a GBK header says so too */
    const char gbk_head[] = "\xD0\xD5\xC3\xFB,phone\nx,13800138000\n"; /* 姓名 */
    csv = write_file(f, "gbk.csv", gbk_head, sizeof gbk_head - 1);
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 2);
    assert_non_null(strstr(f->err, "GBK"));
}

static void test_usage_errors(void **state) {
    fx *f = *state;
    assert_int_equal(run(f, (const char *[]){"import", NULL}), 2);
    assert_int_equal(run(f, (const char *[]){"import", "widgets", "x.csv", NULL}), 2);
    assert_int_equal(
        run(f, (const char *[]){"import", "customers", "/nonexistent/x.csv", "--db", f->db, NULL}),
        2);
    const char *csv = WRITE(f, "c.csv", "name,city\n张伟,杭州\n");
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 2);
    assert_non_null(strstr(f->err, "phone or email"));
    const char *empty = WRITE(f, "x.csv", "");
    assert_int_equal(run(f, (const char *[]){"import", "orders", empty, "--db", f->db, NULL}), 2);
    assert_int_equal(
        run(f, (const char *[]){"export", "customers", "--format", "xml", "--db", f->db, NULL}), 2);
    assert_int_equal(run(f, (const char *[]){"import", "--help", NULL}), 0);
    assert_int_equal(run(f, (const char *[]){"export", "--help", NULL}), 0);
    assert_int_equal(run(f, (const char *[]){"demo", "--help", NULL}), 0);
    assert_int_equal(run(f, (const char *[]){"brand", "--help", NULL}), 0);
    assert_int_equal(run(f, (const char *[]){"brand", "--utc-offset", "8", "--db", f->db, NULL}),
                     2);
    assert_non_null(strstr(f->err, "--utc-offset must be like +08:00"));
    assert_int_equal(run(f, (const char *[]){"brand", "--zone", "x", "--db", f->db, NULL}), 2);
    assert_int_equal(run(f, (const char *[]){"brand", "--db", f->db, NULL}), 0);
    assert_non_null(strstr(f->out, "utc_offset +08:00"));
}

/* ---- orders ---- */

static const char ORDERS[] = "order_id,phone,occurred_at,sku,category,qty,amount\n"
                             "D001,13800138000,2026-01-05,FZ001,服装,1,9900\n"
                             "D001,13800138000,2026-01-05,FZ002,服装,2,51800\n"
                             "D002,13900139000,2026-02-01T10:00:00+08:00,MZ001,美妆,1,39900\n"
                             "D003,13800138000,2026-03-08 12:30:00,SP001,食品,,6900\n";

static void test_orders_import_and_rerun(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "o.csv", ORDERS);
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 0);
    assert_non_null(strstr(f->out, "(3 orders)"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders"), 3);
    assert_int_equal(count(f->db, "SELECT count(*) FROM order_lines"), 4);
    assert_int_equal(count(f->db, "SELECT count(*) FROM events WHERE type = 'order.paid'"), 3);
    assert_int_equal(count(f->db, "SELECT amount FROM orders WHERE order_id = 'D001'"), 61700);
    int64_t c = by_phone(f->db, "+8613800138000");
    hd_val p = hd_vint(c);
    assert_int_equal(q_int(f->db, "SELECT orders FROM customers WHERE id = ?", &p, 1), 2);
    assert_int_equal(q_int(f->db, "SELECT revenue FROM customers WHERE id = ?", &p, 1), 68600);
    char s[512];
    q_text(f->db,
           "SELECT ev_key FROM events WHERE type = 'order.paid' AND customer_id = ? ORDER BY "
           "occurred_at LIMIT 1",
           &p, 1, s, sizeof s);
    assert_string_equal(s, "import:order:D001");
    /* times without an offset are the brand's (+08:00): a till's export means Beijing time */
    assert_int_equal(
        q_int(f->db, "SELECT occurred_at FROM orders WHERE order_id = 'D003'", NULL, 0),
        1772944200000LL); /* 2026-03-08T04:30:00Z */
    assert_int_equal(
        q_int(f->db, "SELECT occurred_at FROM orders WHERE order_id = 'D001'", NULL, 0),
        1767542400000LL); /* 2026-01-04T16:00:00Z, midnight on the 5th there */
    assert_int_equal(
        q_int(f->db, "SELECT occurred_at FROM orders WHERE order_id = 'D002'", NULL, 0),
        1769911200000LL); /* 2026-02-01T10:00:00+08:00 as written */
    /* again: nothing new, every order skipped as already imported */
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 0);
    assert_non_null(strstr(f->out, "skipped     4 (3 orders already imported)"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders"), 3);
    assert_int_equal(count(f->db, "SELECT count(*) FROM events"), 3);
    assert_int_equal(q_int(f->db, "SELECT revenue FROM customers WHERE id = ?", &p, 1), 68600);
}

static void test_orders_bad_rows(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "o.csv",
                            "order_id,email,occurred_at,sku,qty,amount\n"
                            "E1,a@example.com,2026-01-05,S1,1,100\n"
                            "E2,a@example.com,2026-01-05,S1,1,12.50\n"
                            "E2,a@example.com,2026-01-05,S2,1,100\n"
                            "E3,b@example.com,yesterday,S1,1,100\n"
                            "E4,c@example.com,2026-01-05,S1,0,100\n"
                            "E5,,2026-01-05,S1,1,100\n"
                            "E1,a@example.com,2026-01-05,S3,1,100\n"
                            "E6,d@example.com,2026-01-05,,1,100\n"
                            "E7,e@example.com,2026-01-06,S1,2,300\n");
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 1);
    assert_non_null(strstr(f->err, "line 3: amount: '12.50' must be whole fen"));
    assert_non_null(strstr(f->err, "2 lines are skipped"));
    assert_non_null(strstr(f->err, "line 5: occurred_at"));
    assert_non_null(strstr(f->err, "line 6: qty"));
    assert_non_null(strstr(f->err, "line 7: no customer"));
    assert_non_null(strstr(f->err, "line 8: order E1: its lines must be adjacent"));
    assert_non_null(strstr(f->err, "line 9: sku is empty"));
    assert_non_null(strstr(f->out, "bad         7"));
    /* the good orders are in */
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders"), 2);
    assert_int_equal(count(f->db, "SELECT sum(amount) FROM orders"), 400);
}

static void test_orders_missing_column(void **state) {
    fx *f = *state;
    const char *csv =
        WRITE(f, "o.csv", "order_id,phone,occurred_at,sku\nD1,13800138000,2026-01-05,S\n");
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 2);
    assert_non_null(strstr(f->err, "'amount'"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders"), 0);
    csv = WRITE(f, "o.csv", "order_id,occurred_at,sku,amount\nD1,2026-01-05,S,1\n");
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 2);
    assert_non_null(strstr(f->err, "customer column"));
}

/* An order id the store already holds under another key (here a demo order)
 * is refused by the domain; that order fails alone and the orders around it,
 * in the same transaction, are committed. */
static void test_orders_domain_refusal_is_isolated(void **state) {
    fx *f = *state;
    assert_int_equal(
        run(f, (const char *[]){"demo", "--customers", "5", "--seed", "3", "--db", f->db, NULL}),
        0);
    char taken[128];
    q_text(f->db, "SELECT order_id FROM orders ORDER BY order_id LIMIT 1", NULL, 0, taken,
           sizeof taken);
    assert_true(taken[0] != '\0');
    int64_t before = count(f->db, "SELECT count(*) FROM orders");
    char body[512];
    int n = snprintf(body, sizeof body,
                     "order_id,phone,occurred_at,sku,amount\n"
                     "N1,13800138000,2026-04-01,S,100\n"
                     "%s,13800138000,2026-04-01,S,100\n"
                     "N2,13800138000,2026-04-01,S,100\n"
                     "N1 ,13700137000,2026-04-02,S,100\n",
                     taken);
    const char *csv = write_file(f, "o.csv", body, (size_t)n);
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 1);
    assert_non_null(strstr(f->err, "already recorded"));
    assert_non_null(strstr(f->err, "line 3"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders"), before + 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders WHERE order_id IN ('N1', 'N2')"), 2);
    /* "N1 " is N1 once trimmed: its lines must be adjacent */
    assert_non_null(strstr(f->err, "line 5: order N1: its lines must be adjacent"));

    /* a refusal only the domain finds (properties over its size limit: an
     * order of 300 lines) sends the batch round again with a savepoint per
     * order; the orders around it still go in */
    size_t cap = 64 * 1024, len = 0;
    char *big = malloc(cap);
    len += (size_t)snprintf(big + len, cap - len,
                            "order_id,phone,occurred_at,sku,amount\n"
                            "M1,13800138000,2026-05-01,S,100\n");
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(
            big + len, cap - len,
            "HUGE,13800138000,2026-05-01,SKU-%04d-A-MUCH-LONGER-PRODUCT-CODE,100\n", i);
    len += (size_t)snprintf(big + len, cap - len, "M2,13800138000,2026-05-01,S,100\n");
    csv = write_file(f, "y.csv", big, len);
    free(big);
    assert_int_equal(run(f, (const char *[]){"import", "orders", csv, "--db", f->db, NULL}), 1);
    assert_non_null(strstr(f->err, "order HUGE: properties"));
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders WHERE order_id IN ('M1', 'M2')"), 2);
    assert_int_equal(count(f->db, "SELECT count(*) FROM orders WHERE order_id = 'HUGE'"), 0);
}

/* ---- export ---- */

static void test_export_roundtrip(void **state) {
    fx *f = *state;
    const char *csv = WRITE(f, "c.csv", CUSTOMERS_BOM);
    assert_int_equal(run(f, (const char *[]){"import", "customers", csv, "--db", f->db, NULL}), 0);
    const char *orders = WRITE(f, "o.csv", ORDERS);
    assert_int_equal(run(f, (const char *[]){"import", "orders", orders, "--db", f->db, NULL}), 0);
    char out[300];
    snprintf(out, sizeof out, "%s/x.csv", f->dir);
    assert_int_equal(run(f, (const char *[]){"export", "customers", "--format", "csv", "--output",
                                             out, "--db", f->db, NULL}),
                     0);
    assert_int_equal(run(f, (const char *[]){"import", "customers", out, "--db", f->db2, NULL}), 0);
    assert_int_equal(count(f->db2, "SELECT count(*) FROM customers"), 3);
    int64_t zw = by_phone(f->db2, "+8613800138000");
    hd_val p = hd_vint(zw);
    char s[512];
    q_text(f->db2, "SELECT name || '/' || city FROM customers WHERE id = ?", &p, 1, s, sizeof s);
    assert_string_equal(s, "张伟/杭州");
    q_text(f->db2, "SELECT attributes FROM customers WHERE id = ?", &p, 1, s, sizeof s);
    assert_non_null(strstr(s, "\"会员卡号\":\"A001\""));
    assert_null(strstr(s, "revenue")); /* computed columns are not attributes */
    assert_int_equal(count(f->db2, "SELECT count(*) FROM customer_tags"),
                     count(f->db, "SELECT count(*) FROM customer_tags"));
    assert_int_equal(count(f->db2, "SELECT count(*) FROM customers WHERE name = '欧阳, 静'"), 1);

    /* JSON Lines: one object per line, customers as the API shows them */
    snprintf(out, sizeof out, "%s/e.jsonl", f->dir);
    assert_int_equal(run(f, (const char *[]){"export", "customers", "--format", "jsonl", "--output",
                                             out, "--db", f->db, NULL}),
                     0);
    char *text = slurp(out);
    int lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        assert_true(json_is_array(json_object_get(o, "identities")));
        assert_true(json_is_object(json_object_get(o, "stats")));
        json_decref(o);
    }
    free(text);
    assert_int_equal(lines, 3);
    assert_int_equal(run(f, (const char *[]){"export", "events", "--format", "jsonl", "--output",
                                             out, "--db", f->db, NULL}),
                     0);
    text = slurp(out);
    lines = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        assert_string_equal(json_string_value(json_object_get(o, "type")), "order.paid");
        json_decref(o);
    }
    free(text);
    assert_int_equal(lines, 3);
    /* events CSV to stdout: a header and one row per event */
    assert_int_equal(run(f, (const char *[]){"export", "events", "--db", f->db, NULL}), 0);
    assert_int_equal(strncmp(f->out, "id,customer_id,type,", 20), 0);
    int rows = 0;
    for (const char *c = f->out; *c; c++) rows += *c == '\n';
    assert_int_equal(rows, 4);
}

/* ---- demo ---- */

static void test_demo_deterministic(void **state) {
    fx *f = *state;
    assert_int_equal(
        run(f, (const char *[]){"demo", "--customers", "40", "--seed", "7", "--db", f->db, NULL}),
        0);
    assert_int_equal(
        run(f, (const char *[]){"demo", "--customers", "40", "--seed", "7", "--db", f->db2, NULL}),
        0);
    static const char *const sums[] = {"SELECT count(*) FROM customers",
                                       "SELECT sum(revenue) FROM customers",
                                       "SELECT count(*) FROM orders",
                                       "SELECT count(*) FROM order_lines",
                                       "SELECT count(*) FROM events",
                                       "SELECT count(*) FROM identities",
                                       "SELECT count(*) FROM orders WHERE refunded_at IS NOT NULL",
                                       NULL};
    for (const char *const *q = sums; *q; q++)
        assert_int_equal(count(f->db, *q), count(f->db2, *q));
    assert_int_equal(count(f->db, "SELECT count(*) FROM customers"), 40);
    assert_true(count(f->db, "SELECT count(*) FROM orders") > 20);
    assert_int_equal(count(f->db, "SELECT count(*) FROM touchpoints"), 9);
    /* counters agree with the rows they count */
    assert_int_equal(count(f->db, "SELECT sum(revenue) FROM customers"),
                     count(f->db,
                           "SELECT COALESCE(sum(amount), 0) FROM orders WHERE refunded_at IS "
                           "NULL"));
    assert_int_equal(count(f->db, "SELECT sum(events) FROM customers"),
                     count(f->db, "SELECT count(*) FROM events"));
    /* the programme ran through the history: points were earned when the
     * events happened, over a year back, and nothing happened after now */
    int64_t now = (int64_t)time(NULL) * 1000;
    char q[200];
    snprintf(q, sizeof q, "SELECT count(*) FROM events WHERE occurred_at > %lld", (long long)now);
    assert_int_equal(count(f->db, q), 0);
    snprintf(q, sizeof q, "SELECT count(*) FROM transfers WHERE created_at > %lld", (long long)now);
    assert_int_equal(count(f->db, q), 0);
    snprintf(q, sizeof q, "SELECT count(*) FROM transfers WHERE created_at < %lld",
             (long long)(now - 365LL * 86400000));
    assert_true(count(f->db, q) > 0);
    /* ...and each earning is dated with the event that earned it */
    assert_true(count(f->db, "SELECT count(*) FROM transfers WHERE code = 'earn'") > 20);
    assert_int_equal(count(f->db, "SELECT count(*) FROM transfers t JOIN events e ON t.reference = "
                                  "'event:' || e.id WHERE t.created_at <> e.occurred_at"),
                     0);
    /* points a year old expired at the end of their month, Beijing time, as
     * the ledger job would have done it then; none due is left */
    assert_true(count(f->db, "SELECT count(*) FROM transfers WHERE code = 'expire'") > 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM transfers WHERE code = 'expire' AND "
                                  "(created_at + 28800000 + 1) % 86400000 <> 0"),
                     0);
    snprintf(q, sizeof q, "SELECT count(*) FROM lots WHERE remaining > 0 AND expires_at <= %lld",
             (long long)now);
    assert_int_equal(count(f->db, q), 0);
    /* a store with customers is left alone */
    int64_t events = count(f->db, "SELECT count(*) FROM events");
    assert_int_equal(run(f, (const char *[]){"demo", "--customers", "40", "--db", f->db, NULL}), 0);
    assert_int_equal(count(f->db, "SELECT count(*) FROM events"), events);
    /* another seed, other people */
    rm_db(f->db2);
    assert_int_equal(
        run(f, (const char *[]){"demo", "--customers", "40", "--seed", "8", "--db", f->db2, NULL}),
        0);
    assert_true(count(f->db, "SELECT sum(revenue) FROM customers") !=
                count(f->db2, "SELECT sum(revenue) FROM customers"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_customers_bom_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customers_rerun_is_idempotent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customers_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customers_row_merges_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gbk_is_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_import_and_rerun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_bad_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_missing_column, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders_domain_refusal_is_isolated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_export_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_demo_deterministic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
