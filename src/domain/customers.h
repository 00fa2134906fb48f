/* customers.h - the one-to-one customer database (DESIGN §4.1): identities,
 * attributes, tags, consent, remembered specs, merges, hygiene, privacy.
 *
 * Customer JSON (what GET returns):
 *   {"id":"…","name":"张伟","city":"杭州","phone":"+8613800138000","email":…,
 *    "identities":[{"type":"phone","value":"+86…"},…],"attributes":{…},"tags":[…],
 *    "consent":{"sms":{"granted":true,"at":"…","source":"…"}},"specs":{"jeans":{…}},
 *    "stats":{"orders":N,"revenue":fen,"events":N,"first_seen":…,"last_seen":…},
 *    "created_at":…,"updated_at":…}
 * Input fields: name, city, phone, email, wechat_openid, wechat_unionid,
 * external_ids {source: id}, attributes, tags, consent, specs. */
#ifndef HD_CUSTOMERS_H
#define HD_CUSTOMERS_H

#include "domain/domain.h"

#define HD_CUSTOMER_NAME_MAX 100   /* characters */
#define HD_TAG_MAX           50    /* characters in one tag */
#define HD_TAGS_MAX          100   /* tags on one customer */
#define HD_ATTRS_BYTES_MAX   16384 /* serialised attributes */
#define HD_IDENTS_MAX        16    /* identities named in one request */
#define HD_PAGE_MAX          200

/* An identity, normalised. type: phone, email, wechat_openid, wechat_unionid,
 * or ext:<source>. */
typedef struct hd_ident {
    char type[48];
    char value[256];
} hd_ident;

/* Parses the identity members of obj (phone, email, wechat_openid,
 * wechat_unionid, external_ids) into out (up to HD_IDENTS_MAX), normalising
 * each; field names in errors are prefixed with prefix (e.g. "customer."). */
hd_rc hd_idents_parse(const json_t *obj, const char *prefix, hd_ident *out, int *n, hd_err *err);

/* POST /v1/customers: 201 with the customer. An identity that already belongs
 * to someone is HD_ECONFLICT naming the field and the existing customer id
 * (also put in *existing_id). */
hd_rc hd_customer_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                         json_t **out, bool *replayed, int64_t *existing_id, hd_err *err);
/* GET: HD_EMOVED with *moved_to set when id was merged into another. */
hd_rc hd_customer_get(hd_domain *d, int64_t id, json_t **out, int64_t *moved_to, hd_err *err);
/* PATCH: attributes are merged key by key (null deletes); tags, consent, specs
 * are merged likewise; identities may be added. */
hd_rc hd_customer_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, int64_t *moved_to,
                        hd_err *err);

typedef struct hd_customer_query {
    const char *phone, *email, *q, *tag;
    int64_t cursor; /* 0 = from the newest */
    int limit;
} hd_customer_query;
/* Search, newest first: {"data":[…],"next_cursor":"…"|null}. */
hd_rc hd_customer_search(hd_domain *d, const hd_customer_query *q, json_t **out, hd_err *err);
/* Likely duplicates with a reason: {"data":[{"customers":[id,…],"reason":"…"}]}. */
hd_rc hd_customer_duplicates(hd_domain *d, int limit, json_t **out, hd_err *err);
/* Everything about one customer (privacy export). */
hd_rc hd_customer_export(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* Erases personal data; anonymous facts (orders, amounts, counters) stay. */
hd_rc hd_customer_erase(hd_domain *d, int64_t id, hd_err *err);
/* Timeline, newest first: events with their properties, paged by cursor. */
hd_rc hd_customer_timeline(hd_domain *d, int64_t id, const char *cursor, int limit, json_t **out,
                           hd_err *err);

/* ---- inside a write transaction (for events, import) ---- */

/* Finds the customer that owns these identities, creating one when none does
 * and merging when they belong to several (the oldest survives). *created is
 * set when a customer was created. fields (may be NULL) supplies name/city/
 * attributes/tags for a new customer. */
hd_rc hd_customer_resolve(hd_conn *c, hd_domain *d, const hd_ident *ids, int n,
                          const json_t *fields, int64_t *customer_id, bool *created, hd_err *err);
/* Gives customer id the identities: unowned ones are added to them, ones
 * owned by someone else merge that customer and id (the older survives,
 * *survivor says who). */
hd_rc hd_customer_attach(hd_conn *c, hd_domain *d, int64_t id, const hd_ident *ids, int n,
                         int64_t *survivor, hd_err *err);
/* Follows merged_into to the surviving id; HD_ENOTFOUND when id is unknown. */
hd_rc hd_customer_follow(hd_conn *c, int64_t id, int64_t *survivor, hd_err *err);
/* Merges loser into survivor (everything re-pointed), recording why. */
hd_rc hd_customer_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser,
                        const char *reason, hd_err *err);
/* Reads one customer as JSON from inside a transaction. */
hd_rc hd_customer_load(hd_conn *c, int64_t id, json_t **out, hd_err *err);

#endif
