/* bench/marketplace.c - spending points over HTTP: redemptions and coupon
 * claims per second from concurrent clients, next to the same client against
 * a libmicrohttpd hello-world (bench/hello.c) measured in the same run by
 * bench/marketplace.sh.
 *
 *   marketplace setup URL KEY MEMBERS   creates a reward with ample stock, a
 *                                       coupon template, MEMBERS funded members;
 *                                       prints "reward R template T"
 *   marketplace run URL KEY KIND N C R T  KIND redeem|claim|hello: N requests
 *                                       from C threads; prints rate, p50, p99 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/clock.h"

static const char *url, *key;
static int64_t members[1000];
static int nmembers;

static size_t sink(char *p, size_t sz, size_t n, void *u) {
    hd_buf_append(u, p, sz * n);
    return sz * n;
}

static long post(CURL *c, const char *path, const char *body, hd_buf *out) {
    char u[256], auth[160];
    snprintf(u, sizeof u, "%s%s", url, path);
    struct curl_slist *h = NULL;
    if (key && *key) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
        h = curl_slist_append(h, auth);
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    hd_buf b = HD_BUF_INIT;
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    if (out)
        *out = b;
    else
        hd_buf_free(&b);
    return status;
}

static long long id_in(const hd_buf *b) {
    const char *p = b->data ? strstr(b->data, "\"id\":\"") : NULL;
    return p ? strtoll(p + 6, NULL, 10) : 0;
}

static int setup(int n) {
    CURL *c = curl_easy_init();
    hd_buf out;
    if (post(c, "/v1/rewards",
             "{\"type\":\"digital\",\"name\":{\"zh\":\"压测奖品\",\"en\":\"Bench reward\"},"
             "\"price\":{\"points\":10},\"stock\":100000000}",
             &out) != 201) {
        fprintf(stderr, "reward: %s\n", out.data);
        return 1;
    }
    long long reward = id_in(&out);
    hd_buf_free(&out);
    if (post(c, "/v1/coupons/templates",
             "{\"name\":{\"zh\":\"压测券\",\"en\":\"Bench "
             "coupon\"},\"discount\":{\"type\":\"amount\","
             "\"amount\":500},\"validity\":{\"days\":30},\"quantity\":100000000,\"per_customer\":"
             "1000000}",
             &out) != 201) {
        fprintf(stderr, "template: %s\n", out.data);
        return 1;
    }
    long long tmpl = id_in(&out);
    hd_buf_free(&out);
    FILE *f = fopen("/tmp/hudong-bench-market-members", "w");
    for (int i = 0; i < n; i++) {
        char body[256];
        snprintf(body, sizeof body, "{\"phone\":\"1360%07d\"}", i);
        if (post(c, "/v1/customers", body, &out) != 201) {
            fprintf(stderr, "member: %s\n", out.data);
            return 1;
        }
        long long id = id_in(&out);
        hd_buf_free(&out);
        snprintf(
            body, sizeof body,
            "{\"key\":\"mfund-%lld\",\"debit\":\"system:issuance\",\"credit\":\"customer:%lld\","
            "\"amount\":1000000000,\"code\":\"earn\"}",
            id, id);
        if (post(c, "/v1/transfers", body, NULL) != 201) return 1;
        fprintf(f, "%lld\n", id);
    }
    fclose(f);
    printf("reward %lld template %lld\n", reward, tmpl);
    curl_easy_cleanup(c);
    return 0;
}

typedef struct worker {
    const char *kind;
    long from, n;
    long long reward, tmpl;
    int64_t *lat;
    int fails;
} worker;

static void *run(void *arg) {
    worker *w = arg;
    CURL *c = curl_easy_init();
    for (long i = 0; i < w->n; i++) {
        char body[200], path[96];
        int64_t m = nmembers ? members[(w->from + i) % nmembers] : 0;
        if (strcmp(w->kind, "redeem") == 0) {
            snprintf(path, sizeof path, "/v1/redemptions");
            snprintf(body, sizeof body, "{\"customer_id\":\"%lld\",\"reward_id\":\"%lld\"}",
                     (long long)m, w->reward);
        } else if (strcmp(w->kind, "claim") == 0) {
            snprintf(path, sizeof path, "/v1/coupons/%lld/claim", w->tmpl);
            snprintf(body, sizeof body, "{\"customer_id\":\"%lld\"}", (long long)m);
        } else {
            snprintf(path, sizeof path, "/");
            snprintf(body, sizeof body, "{}");
        }
        int64_t t0 = hd_mono_ns();
        long st = post(c, path, body, NULL);
        w->lat[i] = hd_mono_ns() - t0;
        if (st < 200 || st > 299) w->fails++;
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc == 5 && strcmp(argv[1], "setup") == 0) {
        url = argv[2];
        key = argv[3];
        return setup((int)strtol(argv[4], NULL, 10));
    }
    if (argc != 9 || strcmp(argv[1], "run") != 0) {
        fputs("usage: marketplace setup URL KEY MEMBERS | run URL KEY KIND N C REWARD TEMPLATE\n",
              stderr);
        return 2;
    }
    url = argv[2];
    key = argv[3];
    const char *kind = argv[4];
    long n = strtol(argv[5], NULL, 10);
    int clients = (int)strtol(argv[6], NULL, 10);
    if (clients < 1 || clients > 64 || n < clients) return 2;
    FILE *f = fopen("/tmp/hudong-bench-market-members", "r");
    long long v;
    while (f && nmembers < 1000 && fscanf(f, "%lld", &v) == 1) members[nmembers++] = v;
    if (f) fclose(f);
    pthread_t th[64];
    worker ws[64];
    long per = n / clients;
    int64_t *lat = malloc(sizeof(int64_t) * (size_t)(per * clients));
    int64_t t0 = hd_mono_ns();
    for (int i = 0; i < clients; i++) {
        ws[i] = (worker){kind,
                         (long)i * per,
                         per,
                         strtoll(argv[7], NULL, 10),
                         strtoll(argv[8], NULL, 10),
                         lat + (long)i * per,
                         0};
        pthread_create(&th[i], NULL, run, &ws[i]);
    }
    int fails = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join(th[i], NULL);
        fails += ws[i].fails;
    }
    double s = (double)(hd_mono_ns() - t0) / 1e9;
    long total = per * clients;
    qsort(lat, (size_t)total, sizeof *lat, cmp);
    printf("%.0f %.2f %.2f %d\n", (double)total / s, (double)lat[total / 2] / 1e6,
           (double)lat[total * 99 / 100] / 1e6, fails);
    free(lat);
    return 0;
}
