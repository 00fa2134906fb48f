/* apikeys.h - API keys for machine clients. A key is "hd_<prefix>_<secret>";
 * only the prefix and a SHA-256 of the whole key are stored. Scopes are
 * "<area>:<read|write>" (customers, events, touchpoints, …) or "*". */
#ifndef HD_APIKEYS_H
#define HD_APIKEYS_H

#include "domain/domain.h"

#define HD_SCOPES_MAX 32

typedef struct hd_apikey {
    int64_t id;
    char name[101];
    char scopes[512]; /* space-separated */
} hd_apikey;

/* Creates a key; *secret (caller frees) is shown once and never stored. */
hd_rc hd_apikey_create(hd_domain *d, const char *name, const char *const *scopes, int nscopes,
                       int64_t *id, char **secret, hd_err *err);
/* Checks a presented key: HD_EAUTH when unknown, revoked or malformed. */
hd_rc hd_apikey_verify(hd_domain *d, const char *key, hd_apikey *out, hd_err *err);
/* {"data":[{id, name, prefix, scopes, created_at, revoked_at}]} - never secrets. */
hd_rc hd_apikey_list(hd_domain *d, json_t **out, hd_err *err);
/* Revokes a key: the server that revoked it forgets it at once, others
 * within their 5 s key cache. */
hd_rc hd_apikey_revoke(hd_domain *d, int64_t id, hd_err *err);
/* Whether the key's scopes grant `scope` ("customers:read"); "area:write"
 * implies "area:read"; "*" grants all. */
bool hd_apikey_allows(const hd_apikey *k, const char *scope);
/* Is s a known scope? */
bool hd_scope_valid(const char *s);

#endif
