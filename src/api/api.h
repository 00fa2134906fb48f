/* api.h - the HTTP API: a libmicrohttpd server, routing, authentication by API
 * key with scopes, problem+json errors, idempotency keys, the access log.
 *
 * Handlers are thin: they parse the request, call one domain function and
 * map its hd_rc to a status. Everything that can be wrong with a request is
 * answered with a 4xx problem+json that names what to fix. */
#ifndef HD_API_H
#define HD_API_H

#include <stdbool.h>
#include <stdio.h>

#include "domain/domain.h"

#define HD_BODY_MAX (1024 * 1024) /* request bodies over this get 413 */

typedef struct hd_server hd_server;

typedef enum { HD_LOG_ERROR, HD_LOG_WARN, HD_LOG_INFO, HD_LOG_DEBUG } hd_log_level;

typedef struct hd_server_opts {
    const char *listen;   /* "127.0.0.1:8080" */
    int max_connections;  /* open at once; 0 = default (1024) */
    int workers;          /* threads that run handlers which may wait; 0 = default (32) */
    bool test_clock;      /* expose POST /v1/test/clock */
    FILE *log;            /* access log; NULL = stderr */
    const char *web_root; /* static files for / and /m/; NULL = none */
    hd_log_level log_level;
} hd_server_opts;

/* Starts serving; returns NULL with err filled when the address is bad or taken. */
hd_server *hd_server_start(hd_domain *d, const hd_server_opts *o, hd_err *err);
/* The port actually bound (useful with port 0). */
int hd_server_port(const hd_server *s);
/* Stops accepting, lets requests in flight finish, then stops. NULL is fine. */
void hd_server_stop(hd_server *s);

/* The route table, for the OpenAPI contract test: "METHOD /path/{param}". */
int hd_api_route_count(void);
const char *hd_api_route_method(int i);
const char *hd_api_route_path(int i);
/* The embedded OpenAPI document. */
const char *hd_api_openapi(size_t *len);

#endif
