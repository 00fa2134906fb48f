/* harness.c - starting servers and speaking HTTP to them for API tests. */
#include "api/harness.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int seq;

/* Servers started and not yet stopped. A failed assertion jumps out of its
 * test before ht_stop: what it left running is killed when the binary exits,
 * not left to tick (and write to PostgreSQL) through the tests after it. */
#define LIVE_MAX 64
static pid_t live[LIVE_MAX];

static void live_kill_all(void) {
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] > 0) {
            kill(live[i], SIGKILL);
            waitpid(live[i], NULL, 0);
            live[i] = 0;
        }
}

static void live_set(pid_t old, pid_t pid) {
    static bool registered;
    if (!registered) registered = atexit(live_kill_all) == 0;
    for (int i = 0; i < LIVE_MAX; i++)
        if (live[i] == old) {
            live[i] = pid;
            return;
        }
}

const char *ht_store(void) {
    const char *s = getenv("HUDONG_TEST_STORE");
    return s && strcmp(s, "postgres") == 0 ? "postgres" : "sqlite";
}

static const char *bin(void) {
    const char *b = getenv("HUDONG_BIN");
    return b && *b ? b : "build/asan/hudong";
}

static void drop_store(ht_server *s) {
    if (s->pgname[0]) {
        PGconn *pg = PQconnectdb(getenv("HUDONG_TEST_PG"));
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", s->pgname);
        PQclear(PQexec(pg, sql));
        PQfinish(pg);
    } else {
        char p[600];
        unlink(s->db);
        snprintf(p, sizeof p, "%s-wal", s->db);
        unlink(p);
        snprintf(p, sizeof p, "%s-shm", s->db);
        unlink(p);
    }
}

static void fresh_store(ht_server *s) {
    seq++;
    if (strcmp(ht_store(), "postgres") == 0) {
        const char *url = getenv("HUDONG_TEST_PG");
        if (!url || !*url) fail_msg("HUDONG_TEST_STORE=postgres needs HUDONG_TEST_PG");
        PGconn *pg = PQconnectdb(url);
        if (PQstatus(pg) != CONNECTION_OK)
            fail_msg("cannot connect to %s: %s", url, PQerrorMessage(pg));
        snprintf(s->pgname, sizeof s->pgname, "hdt_%d_%d", (int)getpid(), seq);
        char sql[128];
        snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", s->pgname);
        PQclear(PQexec(pg, sql));
        snprintf(sql, sizeof sql, "CREATE DATABASE %s", s->pgname);
        PGresult *r = PQexec(pg, sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            fail_msg("create database: %s", PQerrorMessage(pg));
        PQclear(r);
        PQfinish(pg);
        /* same server, other database */
        const char *slash = strrchr(url, '/');
        snprintf(s->db, sizeof s->db, "%.*s/%s", (int)(slash - url), url, s->pgname);
    } else {
        /* PIDs come round again (pid_max is 32768 on the CI machines): a
         * file of this name, and its WAL, may be an older run's */
        snprintf(s->db, sizeof s->db, "/tmp/hudong-api-%d-%d.db", (int)getpid(), seq);
        drop_store(s);
    }
}

int ht_cli(const ht_server *s, char **out, const char *const *args) {
    int pfd[2];
    if (pipe(pfd) != 0) fail_msg("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        const char *argv[32];
        int n = 0;
        argv[n++] = bin();
        for (const char *const *a = args; *a && n < 28; a++) argv[n++] = *a;
        argv[n++] = "--db";
        argv[n++] = s->db;
        argv[n] = NULL;
        execv(bin(), (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    char tmp[4096];
    ssize_t k;
    while ((k = read(pfd[0], tmp, sizeof tmp)) > 0) {
        if (len + (size_t)k + 1 > cap) {
            cap = (len + (size_t)k + 1) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + len, tmp, (size_t)k);
        len += (size_t)k;
    }
    close(pfd[0]);
    if (buf) buf[len] = '\0';
    int st;
    waitpid(pid, &st, 0);
    if (out)
        *out = buf ? buf : strdup("");
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

void ht_key(const ht_server *s, const char *const *scopes, char *out, size_t cap) {
    const char *args[40] = {"apikey", "create", "--name", "test"};
    int n = 4;
    for (const char *const *p = scopes; p && *p && n < 36; p++) {
        args[n++] = "--scope";
        args[n++] = *p;
    }
    args[n] = NULL;
    char *o = NULL;
    int rc = ht_cli(s, &o, args);
    if (rc != 0) fail_msg("apikey create exited %d", rc);
    /* the key is the last line */
    size_t L = strlen(o);
    while (L && o[L - 1] == '\n') o[--L] = '\0';
    char *last = strrchr(o, '\n');
    snprintf(out, cap, "%s", last ? last + 1 : o);
    free(o);
}

static void launch(ht_server *s, bool test_clock) {
    s->test_clock = test_clock;
    snprintf(s->log, sizeof s->log, "/tmp/hudong-api-%d-%d.log", (int)getpid(), ++seq);
    /* emptied here, before the wait below reads it: an older run's log of
     * the same name (PIDs come round again) names another server's port */
    int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) fail_msg("cannot create %s", s->log);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd, 2);
        int nul = open("/dev/null", O_WRONLY);
        dup2(nul, 1);
        const char *argv[] = {bin(),
                              "serve",
                              "--db",
                              s->db,
                              "--listen",
                              "127.0.0.1:0",
                              test_clock ? "--test-clock" : NULL,
                              NULL};
        execv(bin(), (char *const *)argv);
        _exit(127);
    }
    close(fd);
    s->pid = pid;
    live_set(0, pid);
    /* wait for "serving on http://127.0.0.1:PORT" */
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(s->log, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            char *p = strstr(line, "serving on http://127.0.0.1:");
            if (p) {
                s->port = (int)strtol(p + strlen("serving on http://127.0.0.1:"), NULL, 10);
                snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
                fclose(f);
                return;
            }
        }
        if (f) fclose(f);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            live_set(pid, 0);
            s->pid = 0;
            fail_msg("server exited at start; see %s", s->log);
        }
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fail_msg("server did not start in 30 s; see %s", s->log);
}

void ht_start(ht_server *s, bool test_clock) {
    memset(s, 0, sizeof *s);
    fresh_store(s);
    ht_key(s, NULL, s->key, sizeof s->key);
    launch(s, test_clock);
}

void ht_start_on(ht_server *s, const ht_server *same, bool test_clock) {
    memset(s, 0, sizeof *s);
    snprintf(s->db, sizeof s->db, "%s", same->db);
    snprintf(s->key, sizeof s->key, "%s", same->key);
    launch(s, test_clock);
}

void ht_stop(ht_server *s, bool keep_store) {
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        int st;
        waitpid(s->pid, &st, 0);
        live_set(s->pid, 0);
        s->pid = 0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            char cmd[300];
            snprintf(cmd, sizeof cmd, "tail -n 30 %s >&2", s->log);
            if (system(cmd)) {}
            fail_msg("server did not exit 0 on SIGTERM (status %d)", st);
        }
    }
    if (!keep_store) {
        drop_store(s);
        unlink(s->log);
    }
}

void ht_kill(ht_server *s) {
    if (s->pid > 0) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        live_set(s->pid, 0);
        s->pid = 0;
    }
}

typedef struct sink {
    char *buf;
    size_t len;
    ht_resp *r;
} sink;

static size_t on_body(char *p, size_t sz, size_t n, void *u) {
    sink *k = u;
    size_t m = sz * n;
    char *nb = realloc(k->buf, k->len + m + 1);
    if (!nb) return 0;
    k->buf = nb;
    memcpy(k->buf + k->len, p, m);
    k->len += m;
    k->buf[k->len] = '\0';
    return m;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u) {
    sink *k = u;
    size_t m = sz * n;
    char line[512];
    snprintf(line, sizeof line, "%.*s", (int)(m < 511 ? m : 511), p);
    char *e = line + strlen(line);
    while (e > line && (e[-1] == '\r' || e[-1] == '\n')) *--e = '\0';
    if (strncasecmp(line, "Content-Type: ", 14) == 0)
        snprintf(k->r->content_type, sizeof k->r->content_type, "%s", line + 14);
    if (strncasecmp(line, "Location: ", 10) == 0)
        snprintf(k->r->location, sizeof k->r->location, "%s", line + 10);
    if (strncasecmp(line, "Idempotent-Replayed: true", 25) == 0) k->r->replayed = true;
    if (strncasecmp(line, "Set-Cookie: ", 12) == 0)
        snprintf(k->r->set_cookie, sizeof k->r->set_cookie, "%s", line + 12);
    return m;
}

static ht_resp request(const ht_server *s, const char *method, const char *path, const char *body,
                       const char *key, const char *const *headers, bool soft);

ht_resp ht_req(const ht_server *s, const char *method, const char *path, const char *body,
               const char *key, const char *const *headers) {
    return request(s, method, path, body, key, headers, false);
}

ht_resp ht_req_soft(const ht_server *s, const char *method, const char *path, const char *body) {
    return request(s, method, path, body, NULL, NULL, true);
}

static ht_resp request(const ht_server *s, const char *method, const char *path, const char *body,
                       const char *key, const char *const *headers, bool soft) {
    ht_resp r = {0};
    CURL *c = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof url, "%s%s", s->base, path);
    struct curl_slist *h = NULL;
    char auth[200];
    const char *k = key ? key : s->key;
    if (*k) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", k);
        h = curl_slist_append(h, auth);
    }
    if (body) h = curl_slist_append(h, "Content-Type: application/json");
    for (const char *const *p = headers; p && *p; p++) h = curl_slist_append(h, *p);
    h = curl_slist_append(h, "Expect:");
    sink sk = {NULL, 0, &r};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sk);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &sk);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK && !soft) fail_msg("%s %s: %s", method, path, curl_easy_strerror(cc));
    if (cc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    r.body = sk.buf ? sk.buf : strdup("");
    r.len = sk.len;
    if (r.len) r.json = json_loadb(r.body, r.len, 0, NULL);
    return r;
}

ht_resp ht_get(const ht_server *s, const char *path) {
    return ht_req(s, "GET", path, NULL, NULL, NULL);
}
ht_resp ht_post(const ht_server *s, const char *path, const char *body) {
    return ht_req(s, "POST", path, body, NULL, NULL);
}
ht_resp ht_postf(const ht_server *s, const char *path, const char *fmt, ...) {
    char body[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return ht_post(s, path, body);
}

void ht_clock_to(const ht_server *s, const char *iso) {
    ht_resp r = ht_postf(s, "/v1/test/clock", "{\"now\":\"%s\"}", iso);
    if (r.status != 200) fail_msg("clock: %ld %s", r.status, r.body);
    ht_free(&r);
}

void ht_clock_advance(const ht_server *s, long seconds) {
    ht_resp r = ht_postf(s, "/v1/test/clock", "{\"advance_s\":%ld}", seconds);
    if (r.status != 200) fail_msg("clock: %ld %s", r.status, r.body);
    ht_free(&r);
}

ht_resp ht_post_idem(const ht_server *s, const char *path, const char *body, const char *ikey) {
    char h[256];
    snprintf(h, sizeof h, "Idempotency-Key: %s", ikey);
    const char *hs[] = {h, NULL};
    return ht_req(s, "POST", path, body, NULL, hs);
}
ht_resp ht_patch(const ht_server *s, const char *path, const char *body) {
    return ht_req(s, "PATCH", path, body, NULL, NULL);
}
ht_resp ht_delete(const ht_server *s, const char *path) {
    return ht_req(s, "DELETE", path, NULL, NULL, NULL);
}

void ht_free(ht_resp *r) {
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

const char *ht_str(const json_t *o, const char *key) {
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

long long ht_int(const json_t *o, const char *key) {
    return json_integer_value(json_object_get(o, key));
}

void ht_expect_problem(const ht_resp *r, long status, const char *field) {
    if (r->status != status)
        fail_msg("expected status %ld, got %ld: %s", status, r->status, r->body);
    if (strcmp(r->content_type, "application/problem+json") != 0)
        fail_msg("expected application/problem+json, got '%s'", r->content_type);
    if (!r->json) fail_msg("problem body is not JSON: %s", r->body);
    if (ht_int(r->json, "status") != status) fail_msg("problem status member wrong: %s", r->body);
    if (!*ht_str(r->json, "title") || !*ht_str(r->json, "detail") || !*ht_str(r->json, "type"))
        fail_msg("problem lacks type/title/detail: %s", r->body);
    if (field && strcmp(ht_str(r->json, "field"), field) != 0)
        fail_msg("expected field '%s' in %s", field, r->body);
}
