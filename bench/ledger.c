/* bench/ledger.c - points transfers through the real server against bare
 * baselines measured in the same run.
 *
 *   ledger bare DB N            bare C: N transfer rows inserted and two balance
 *                               rows updated per transfer, 1,000 per transaction,
 *                               prepared statements, into the same tables and
 *                               indexes hudong uses (DB must be migrated)
 *   ledger batch URL KEY N M    N transfers over HTTP as POST /v1/transfers/batch
 *                               of 1,000, spread over M members
 *   ledger single URL KEY N C M N single POST /v1/transfers from C client threads
 *                               over M members; prints transfers/s, p50, p99
 *   ledger members URL KEY M    creates M members with 10^9 points each, prints
 *                               nothing (setup)
 * bench/ledger.sh runs them together and prints the ratios. */
#include <curl/curl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"

static const char *url, *key;

typedef struct sink {
    hd_buf b;
} sink;

static size_t on_body(char *p, size_t sz, size_t n, void *u) {
    hd_buf_append(&((sink *)u)->b, p, sz * n);
    return sz * n;
}

static long post(CURL *c, const char *path, const char *body, hd_buf *out) {
    char u[256], auth[160];
    snprintf(u, sizeof u, "%s%s", url, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    sink s = {HD_BUF_INIT};
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (out)
        *out = s.b;
    else
        hd_buf_free(&s.b);
    return status;
}

/* members are customers 1..M created by `members`; their ids are kept in a file */
static int64_t *members;
static int nmembers;

static void load_members(void) {
    FILE *f = fopen("/tmp/hudong-bench-members", "r");
    if (!f) {
        fprintf(stderr, "run `ledger members` first\n");
        exit(2);
    }
    members = malloc(sizeof(int64_t) * 100000);
    long long v;
    while (nmembers < 100000 && fscanf(f, "%lld", &v) == 1) members[nmembers++] = v;
    fclose(f);
}

static int cmd_members(int m) {
    CURL *c = curl_easy_init();
    FILE *f = fopen("/tmp/hudong-bench-members", "w");
    for (int i = 0; i < m; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"phone\":\"1370%07d\"}", i);
        hd_buf out;
        if (post(c, "/v1/customers", body, &out) != 201) {
            fprintf(stderr, "create member: %s\n", out.data);
            return 1;
        }
        const char *p = strstr(out.data, "\"id\":\"");
        long long id = p ? strtoll(p + 6, NULL, 10) : 0;
        fprintf(f, "%lld\n", id);
        snprintf(
            body, sizeof body,
            "{\"key\":\"fund-%lld\",\"debit\":\"system:issuance\",\"credit\":\"customer:%lld\","
            "\"amount\":1000000000,\"code\":\"earn\"}",
            id, id);
        hd_buf_free(&out);
        if (post(c, "/v1/transfers", body, NULL) != 201) {
            fprintf(stderr, "fund member failed\n");
            return 1;
        }
    }
    fclose(f);
    curl_easy_cleanup(c);
    return 0;
}

static void transfer_json(hd_buf *b, const char *tag, long i) {
    int64_t from = members[i % nmembers], to = members[(i * 7 + 3) % nmembers];
    if (from == to) to = members[(i + 1) % nmembers];
    hd_buf_printf(b,
                  "{\"key\":\"%s-%ld\",\"debit\":\"customer:%lld\",\"credit\":\"customer:%lld\","
                  "\"amount\":%ld,\"code\":\"adjust\"}",
                  tag, i, (long long)from, (long long)to, 1 + i % 50);
}

static int cmd_batch(long n) {
    load_members();
    CURL *c = curl_easy_init();
    char tag[32];
    snprintf(tag, sizeof tag, "b%lld", (long long)hd_mono_ns());
    int64_t t0 = hd_mono_ns();
    for (long done = 0; done < n;) {
        hd_buf b = HD_BUF_INIT;
        hd_buf_puts(&b, "{\"transfers\":[");
        long k = n - done < 1000 ? n - done : 1000;
        for (long j = 0; j < k; j++) {
            if (j) hd_buf_putc(&b, ',');
            transfer_json(&b, tag, done + j);
        }
        hd_buf_puts(&b, "]}");
        hd_buf out;
        long st = post(c, "/v1/transfers/batch", b.data, &out);
        if (st != 200 || strstr(out.data, "\"error\"")) {
            fprintf(stderr, "batch: %ld %.300s\n", st, out.data);
            return 1;
        }
        hd_buf_free(&out);
        hd_buf_free(&b);
        done += k;
    }
    double s = (double)(hd_mono_ns() - t0) / 1e9;
    printf("%.0f\n", (double)n / s);
    curl_easy_cleanup(c);
    return 0;
}

typedef struct worker {
    long from, n;
    char tag[32];
    int64_t *lat;
    int fails;
} worker;

static void *run_single(void *arg) {
    worker *w = arg;
    CURL *c = curl_easy_init();
    for (long i = 0; i < w->n; i++) {
        hd_buf b = HD_BUF_INIT;
        transfer_json(&b, w->tag, w->from + i);
        int64_t t0 = hd_mono_ns();
        if (post(c, "/v1/transfers", b.data, NULL) != 201) w->fails++;
        w->lat[i] = hd_mono_ns() - t0;
        hd_buf_free(&b);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int cmd_single(long n, int clients) {
    load_members();
    pthread_t th[64];
    worker ws[64];
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)n);
    long per = n / clients;
    int64_t t0 = hd_mono_ns();
    for (int i = 0; i < clients; i++) {
        ws[i] = (worker){(long)i * per, per, "", lat + (long)i * per, 0};
        snprintf(ws[i].tag, sizeof ws[i].tag, "s%lld", (long long)t0);
        pthread_create(&th[i], NULL, run_single, &ws[i]);
    }
    int fails = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        fails += ws[i].fails;
    }
    double s = (double)(hd_mono_ns() - t0) / 1e9;
    long total = per * clients;
    qsort(lat, (size_t)total, sizeof *lat, cmp64);
    printf("%.0f %.2f %.2f %d\n", (double)total / s, (double)lat[total / 2] / 1e6,
           (double)lat[total * 99 / 100] / 1e6, fails);
    free(lat);
    return fails ? 1 : 0;
}

/* The ceiling: the same transfer rows between the same member accounts
 * (ids read from the hudong store the batch run used), the same balance
 * updates, the same tables and indexes, 1,000 per transaction - and none of
 * the rules: no key check, no limit, no lots, no JSON, no HTTP. */
static int cmd_bare(const char *db, long n) {
    load_members();
    sqlite3 *s;
    if (sqlite3_open(db, &s) != SQLITE_OK) return 1;
    sqlite3_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;",
                 NULL, NULL, NULL);
    int64_t *acc = malloc(sizeof(int64_t) * (size_t)nmembers);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(s, "SELECT id FROM accounts WHERE name = ?", -1, &q, NULL);
    for (int i = 0; i < nmembers; i++) {
        char name[48];
        snprintf(name, sizeof name, "customer:%lld", (long long)members[i]);
        sqlite3_bind_text(q, 1, name, -1, SQLITE_TRANSIENT);
        acc[i] = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
        sqlite3_reset(q);
        if (!acc[i]) {
            fprintf(stderr, "bare: no account %s in %s\n", name, db);
            return 1;
        }
    }
    sqlite3_finalize(q);
    sqlite3_stmt *ins, *deb, *cre;
    sqlite3_prepare_v2(
        s,
        "INSERT INTO transfers (id, tkey, request_hash, debit_id, credit_id, amount, "
        "code, reference, status, created_at) VALUES (?, ?, "
        "'0000000000000000000000000000000000000000000000000000000000000000', ?, ?, "
        "?, 'adjust', '', 'posted', ?)",
        -1, &ins, NULL);
    sqlite3_prepare_v2(s, "UPDATE accounts SET debits_posted = debits_posted + ? WHERE id = ?", -1,
                       &deb, NULL);
    sqlite3_prepare_v2(s, "UPDATE accounts SET credits_posted = credits_posted + ? WHERE id = ?",
                       -1, &cre, NULL);
    int64_t base = hd_mono_ns();
    int64_t t0 = hd_mono_ns();
    for (long i = 0; i < n; i++) {
        if (i % 1000 == 0) sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
        int from = (int)(i % nmembers), to = (int)((i * 7 + 3) % nmembers);
        if (from == to) to = (int)((i + 1) % nmembers);
        char k[48];
        snprintf(k, sizeof k, "bare%lld-%ld", (long long)base, i);
        sqlite3_bind_int64(ins, 1, base + i);
        sqlite3_bind_text(ins, 2, k, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 3, acc[from]);
        sqlite3_bind_int64(ins, 4, acc[to]);
        sqlite3_bind_int64(ins, 5, 1 + i % 50);
        sqlite3_bind_int64(ins, 6, base / 1000000);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        sqlite3_bind_int64(deb, 1, 1 + i % 50);
        sqlite3_bind_int64(deb, 2, acc[from]);
        sqlite3_step(deb);
        sqlite3_reset(deb);
        sqlite3_bind_int64(cre, 1, 1 + i % 50);
        sqlite3_bind_int64(cre, 2, acc[to]);
        sqlite3_step(cre);
        sqlite3_reset(cre);
        if (i % 1000 == 999 || i == n - 1) sqlite3_exec(s, "COMMIT", NULL, NULL, NULL);
    }
    double sec = (double)(hd_mono_ns() - t0) / 1e9;
    printf("%.0f\n", (double)n / sec);
    sqlite3_finalize(ins);
    sqlite3_finalize(deb);
    sqlite3_finalize(cre);
    sqlite3_close(s);
    free(acc);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "bare") == 0)
        return cmd_bare(argv[2], strtol(argv[3], NULL, 10));
    if (argc < 5) {
        fputs(
            "usage: ledger bare DB N | members URL KEY M | batch URL KEY N | single URL KEY N C\n",
            stderr);
        return 2;
    }
    url = argv[2];
    key = argv[3];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (strcmp(argv[1], "members") == 0) return cmd_members((int)strtol(argv[4], NULL, 10));
    if (strcmp(argv[1], "batch") == 0) return cmd_batch(strtol(argv[4], NULL, 10));
    if (strcmp(argv[1], "single") == 0 && argc >= 6)
        return cmd_single(strtol(argv[4], NULL, 10), (int)strtol(argv[5], NULL, 10));
    return 2;
}
