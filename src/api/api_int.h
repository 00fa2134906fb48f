/* api_int.h - shared by the server and the handler files. */
#ifndef HD_API_INT_H
#define HD_API_INT_H

#include <microhttpd.h>
#include <stdatomic.h>

#include "api/api.h"
#include "base/buf.h"
#include "domain/apikeys.h"
#include "domain/users.h"

#define HD_PATH_PARAMS_MAX 4

typedef struct hd_resp {
    int status;
    json_t *body; /* owned; serialised as JSON */
    char *raw;    /* or raw bytes (owned), with content_type */
    size_t raw_len;
    const char *content_type;
    char location[256];
    char set_cookie[256];
    bool replayed;
} hd_resp;

struct hd_route;

typedef struct hd_req {
    struct hd_server *srv;
    hd_domain *d;
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    hd_buf body;
    bool too_big;
    int64_t t0_ns;
    const char *params[HD_PATH_PARAMS_MAX]; /* raw path segments matched by {x} */
    char param_buf[HD_PATH_PARAMS_MAX][128];
    int nparams;
    hd_apikey key; /* when is_user is false */
    hd_user user;  /* when is_user is true: a console session */
    bool is_user;
    bool authed;
    int64_t member_id; /* a member session (scope "member"): the customer */
    char csrf[48];
    const char *route_path; /* the matched pattern, for idempotency scope */
    int64_t audit_id;       /* this change's line in the audit log, or 0 */
    bool audit_in_txn;      /* ...whose outcome the write itself records */
    /* answered away from the polling thread (server.c): by a worker or, for
     * a prepared write, by the store's writer - the answer in w */
    const struct hd_route *rt; /* found once, on the polling thread; NULL: none */
    bool path_known;           /* ...and whether another method has the path */
    struct hd_req *next;       /* in the workers' queue */
    hd_resp w;
    _Atomic bool answered;
    json_t *in; /* a prepared write's body, key and key scope */
    hd_idem im;
    char scope[300];
} hd_req;

typedef void (*hd_handler)(hd_req *r, hd_resp *w);
/* A write made ready from the JSON body and key, sent by the server (for
 * the domain's *_prepare functions, such as hd_event_prepare). */
typedef hd_rc (*hd_prepare_fn)(hd_domain *d, const hd_idem *im, const json_t *in, hd_write **out,
                               hd_err *err);

typedef struct hd_route {
    const char *method;
    const char *path;  /* "/v1/customers/{id}" */
    const char *scope; /* NULL: no key needed */
    hd_handler fn;
    bool test_only; /* registered only with --test-clock */
    /* or, instead of fn: a POST whose write the server sends without
     * holding a thread while it commits (the data plane's hot paths) */
    hd_prepare_fn prep;
} hd_route;

/* Each routes_*.c file owns a table of its routes; routes.c lists the
 * tables (more specific paths before {id} patterns within a table). */
typedef struct hd_route_table {
    const hd_route *routes;
    int n;
} hd_route_table;
#define HD_ROUTE_TABLE(name, arr)                                                                  \
    const hd_route_table name = {arr, (int)(sizeof arr / sizeof arr[0])}

extern const hd_route_table hd_routes_auth;
extern const hd_route_table hd_routes_core, hd_routes_ledger, hd_routes_rules;
extern const hd_route_table hd_routes_catalog, hd_routes_coupons;
extern const hd_route_table hd_routes_auctions, hd_routes_groupbuys, hd_routes_trials;
extern const hd_route_table hd_routes_analytics;
extern const hd_route_table hd_routes_console;
extern const hd_route_table hd_routes_member;
extern const hd_route_table hd_routes_instalments, hd_routes_credit;
extern const hd_route_table *const hd_route_tables[];
extern const int hd_route_tables_count;

/* Sets w to a problem+json for err (status from its code). */
void hd_resp_error(hd_resp *w, const hd_err *err);
/* The answer of a domain call: on success status and body (owned) and
 * whether it was replayed; on failure the problem for err, with "reason"
 * for a refusal by the rules (insufficient_points, out_of_stock, ... read
 * from the field named, so that clients need not parse sentences) and
 * "line" and "column" when the fault is in an expression (rules,
 * eligibility, segments, formulas). */
void hd_resp_result(hd_resp *w, hd_rc rc, const hd_err *err, int status, json_t *body,
                    bool replayed);
/* Sets w to a problem+json with an explicit status. */
void hd_resp_problem(hd_resp *w, int status, hd_rc rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Parses the body as a JSON object; on failure fills w with 400/415 and returns NULL. */
json_t *hd_req_json(hd_req *r, hd_resp *w);
/* A query-string argument, or NULL. */
const char *hd_req_query(hd_req *r, const char *name);
/* Path parameter i as an id; on failure fills w with 404 and returns false. */
bool hd_req_id(hd_req *r, int i, const char *what, int64_t *out, hd_resp *w);
/* The address the request came from, for limits per client: the peer's,
 * or - when the peer is on loopback or a private network, where a reverse
 * proxy sits - the last hop of its X-Forwarded-For. False when there is none
 * to trust (a local or private caller that sent no X-Forwarded-For): such a
 * request is not counted, rather than counting everyone behind a proxy as
 * one client. */
bool hd_req_client(hd_req *r, char *out, size_t cap);
/* The list cursor (?cursor=): an id this API returned, 0 when absent; false
 * (w filled with 400) when it is not one. */
bool hd_req_cursor(hd_req *r, int64_t *out, hd_resp *w);
/* A domain call that creates or moves something under an Idempotency-Key. */
typedef hd_rc (*hd_idem_fn)(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                            json_t **out, bool *replayed, hd_err *err);
/* A POST through fn: the JSON body, the key, the answer. With location (such
 * as "/v1/auctions") the answer's Location is location/<its id>. */
void hd_post_idem(hd_req *r, hd_resp *w, hd_idem_fn fn, const char *location);
/* The same on a resource named by the path's {id} (what: "auction", ...),
 * for a bid, an application, a claim. */
typedef hd_rc (*hd_idem_id_fn)(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in,
                               int *status, json_t **out, bool *replayed, hd_err *err);
void hd_post_idem_id(hd_req *r, hd_resp *w, const char *what, hd_idem_id_fn fn);
/* Builds the idempotency context for a POST from its header; false (w filled)
 * when the header is malformed. */
bool hd_req_idem(hd_req *r, hd_idem *im, char *scope_buf, size_t cap, hd_resp *w);
/* An integer query argument with bounds; false (w filled) when malformed. */
bool hd_req_query_int(hd_req *r, const char *name, int64_t def, int64_t min, int64_t max,
                      int64_t *out, hd_resp *w);
/* Who made the request, for the audit log: "key" or "user", id, name. */
void hd_req_actor(const hd_req *r, const char **type, int64_t *id, const char **name);
/* Drops every key this server has verified (its 5 s cache): after a
 * revocation here a key stops at once; on other nodes within 5 s. */
void hd_server_forget_keys(struct hd_server *s);
/* A console agent sees phone numbers masked (138****8000). */
bool hd_req_masks_phones(const hd_req *r);
/* Masks the phone members of a customer object (or of each in a "data" list). */
void hd_mask_phones(json_t *customer_or_page);

#endif
