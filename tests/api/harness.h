/* harness.h - API tests drive the real server binary over real HTTP.
 *
 * ht_start launches $HUDONG_BIN serve on a fresh store - a temporary SQLite
 * file, or with HUDONG_TEST_STORE=postgres a fresh database on the server
 * named by HUDONG_TEST_PG - creates an API key, and waits until it answers.
 * Requests go through libcurl. */
#ifndef HT_HARNESS_H
#define HT_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct ht_server {
    pid_t pid;
    int port;
    char db[512];    /* path or postgres URL */
    char pgname[64]; /* the database created for this server, "" for SQLite */
    char key[128];   /* an API key with every scope */
    char log[256];   /* the server's stderr */
    char base[64];   /* http://127.0.0.1:PORT */
    bool test_clock;
} ht_server;

typedef struct ht_resp {
    long status;
    char *body; /* NUL-terminated */
    size_t len;
    json_t *json; /* parsed body or NULL */
    char content_type[128];
    char location[256];
    char set_cookie[256];
    bool replayed;
} ht_resp;

/* Which store the suite runs on: "sqlite" (default) or "postgres". */
const char *ht_store(void);
/* Starts a server on a fresh store. extra_args (may be NULL) go after serve. */
void ht_start(ht_server *s, bool test_clock);
/* Starts another server process on the same store as `same` (two nodes). */
void ht_start_on(ht_server *s, const ht_server *same, bool test_clock);
/* SIGTERM, wait, expect exit 0; remove the store unless keep. */
void ht_stop(ht_server *s, bool keep_store);
/* kill -9 (crash tests). */
void ht_kill(ht_server *s);
/* Runs the hudong binary with args (NULL-terminated) on s's store; returns
 * the exit code; stdout (if out) is malloc'd. */
int ht_cli(const ht_server *s, char **out, const char *const *args);
/* Creates another key on s's store with the given scopes (NULL-terminated). */
void ht_key(const ht_server *s, const char *const *scopes, char *out, size_t cap);

/* A request. key NULL = s->key; key "" = no Authorization header. headers is
 * a NULL-terminated list of "Name: value" or NULL. body may be NULL. */
ht_resp ht_req(const ht_server *s, const char *method, const char *path, const char *body,
               const char *key, const char *const *headers);
/* Like ht_req with the default key and a JSON body, but a transport error
 * (server gone) gives status 0 instead of failing the test. */
ht_resp ht_req_soft(const ht_server *s, const char *method, const char *path, const char *body);
/* Shorthands with the default key. */
ht_resp ht_get(const ht_server *s, const char *path);
ht_resp ht_post(const ht_server *s, const char *path, const char *body);
ht_resp ht_post_idem(const ht_server *s, const char *path, const char *body, const char *ikey);
ht_resp ht_patch(const ht_server *s, const char *path, const char *body);
ht_resp ht_delete(const ht_server *s, const char *path);
void ht_free(ht_resp *r);
/* POST with a body formatted like printf (up to 2 KiB). */
ht_resp ht_postf(const ht_server *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The test clock (the server started with test_clock): set it to an RFC 3339
 * time, or move it on; either runs what came due, and fails the test on error. */
void ht_clock_to(const ht_server *s, const char *iso);
void ht_clock_advance(const ht_server *s, long seconds);

/* json helpers: string member or "" */
const char *ht_str(const json_t *o, const char *key);
long long ht_int(const json_t *o, const char *key);
/* Asserts r is a problem+json with this status and (if field) field. */
void ht_expect_problem(const ht_resp *r, long status, const char *field);

#endif
