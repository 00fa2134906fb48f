/* users.h - console users (DESIGN §1, issue 6): roles, argon2id passwords,
 * sessions with a CSRF token, lockout after failed logins, and the audit log
 * of every change made from the console or with an API key.
 *
 * Roles: owner, admin (everything, including users and keys), marketer (runs
 * the programme: customers, points, touchpoints; reads analytics), agent
 * (service: reads customers with phones masked, writes customers), analyst
 * (reads everything, changes nothing). */
#ifndef HD_USERS_H
#define HD_USERS_H

#include "domain/domain.h"

#define HD_LOGIN_FAILS_MAX 5
#define HD_LOCKOUT_MS      (15LL * 60 * 1000)
#define HD_SESSION_IDLE_MS (2LL * 3600 * 1000)  /* idle time that ends a session */
#define HD_SESSION_MAX_MS  (12LL * 3600 * 1000) /* a session never lives longer */

typedef struct hd_user {
    int64_t id;
    char email[255];
    char name[101];
    char role[16];
} hd_user;

/* Is role one of owner, admin, marketer, agent, analyst? */
bool hd_role_valid(const char *role);
/* Whether a role may use a route that needs scope ("customers:write"). */
bool hd_role_allows(const char *role, const char *scope);

/* Creates a user (password hashed with argon2id). */
hd_rc hd_user_add(hd_domain *d, const char *email, const char *name, const char *role,
                  const char *password, int64_t *id, hd_err *err);
hd_rc hd_user_list(hd_domain *d, json_t **out, hd_err *err);
/* PATCH: role, name, disabled, password. */
hd_rc hd_user_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);

/* Checks email and password. On success creates a session: *token (the
 * cookie value, caller frees) and csrf (43 chars + NUL). HD_EAUTH for wrong
 * credentials (the 5th failure locks the account for 15 minutes), HD_ESTATE
 * while locked or disabled. */
hd_rc hd_session_login(hd_domain *d, const char *email, const char *password, hd_user *user,
                       char **token, char csrf[48], hd_err *err);
/* Resolves a cookie token; HD_EAUTH when unknown or expired. Touches
 * last_seen at most once a minute. */
hd_rc hd_session_check(hd_domain *d, const char *token, hd_user *user, char csrf[48], hd_err *err);
hd_rc hd_session_logout(hd_domain *d, const char *token, hd_err *err);

/* Appends to the audit log (before/after may be NULL). */
hd_rc hd_audit_add(hd_domain *d, const char *actor_type, int64_t actor_id, const char *actor_name,
                   const char *action, const char *path, int status, const char *before,
                   const char *after, hd_err *err);
/* A change is audited in two steps, so that none is ever without its line:
 * hd_audit_begin before making it writes the line with status 0 (outcome not
 * yet known) and *id; after it, hd_audit_end records the status and the
 * result, or hd_audit_drop removes the line of a request that was refused
 * and changed nothing. A line left at status 0 is a change whose outcome
 * the server did not live to record (it stopped in between). */
hd_rc hd_audit_begin(hd_domain *d, const char *actor_type, int64_t actor_id, const char *actor_name,
                     const char *action, const char *path, const char *before, int64_t *id,
                     hd_err *err);
hd_rc hd_audit_end(hd_domain *d, int64_t id, int status, const char *after, hd_err *err);
hd_rc hd_audit_drop(hd_domain *d, int64_t id, hd_err *err);
/* GET /v1/audit?actor_type=&actor_id=&path_prefix=&from=&to=&cursor=&limit= */
typedef struct hd_audit_query {
    const char *actor_type, *path_prefix;
    int64_t actor_id, from_ms, to_ms, cursor;
    int limit;
} hd_audit_query;
hd_rc hd_audit_list(hd_domain *d, const hd_audit_query *q, json_t **out, hd_err *err);

#endif
