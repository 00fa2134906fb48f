/* events.h - recording what customers did (DESIGN §4.2).
 *
 * Event JSON: {"type":"order.paid","customer":"<id>"|{"phone":…,"email":…,…},
 *   "touchpoint":"wechat","occurred_at":"2026-01-01T08:00:00+08:00",
 *   "properties":{…},"key":"client-unique-key"}
 * order.paid needs properties.order_id and properties.amount (fen), and may
 * carry lines [{sku, category, qty, amount}]; order.refunded needs order_id.
 *
 * Processing one event is one transaction: store it, resolve or merge the
 * customer, update counters, run the registered hooks. The same key is
 * processed once; a replay answers with the first result. */
#ifndef HD_EVENTS_H
#define HD_EVENTS_H

#include "domain/domain.h"

#define HD_EVENT_TYPE_MAX   64
#define HD_EVENT_PROPS_MAX  16384 /* bytes of serialised properties */
#define HD_EVENT_KEY_MAX    200
#define HD_ORDER_LINES_MAX  500
#define HD_BATCH_MAX        1000
#define HD_ORDER_AMOUNT_MAX 1000000000000LL /* fen: 10 billion yuan in one order or line */

/* One event, validated now (a refusal is returned at once) and written
 * later through hd_write_submit or hd_write_wait: 201
 * {"id","customer_id","status":"created"}, or 200 with "status":"duplicate"
 * for a replayed key. */
hd_rc hd_event_prepare(hd_domain *d, const hd_idem *im, const json_t *in, hd_write **out,
                       hd_err *err);

/* A batch {"events":[…]} of up to HD_BATCH_MAX, likewise: one transaction,
 * in which a bad event fails alone. 200 {"results":[{"index", "status",
 * "id"|"error"}…], "created":N, "duplicates":N, "failed":N}. */
hd_rc hd_event_batch_prepare(hd_domain *d, const hd_idem *im, const json_t *in, hd_write **out,
                             hd_err *err);
/* The same, written and waited for. */
hd_rc hd_event_record_batch(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                            json_t **out, bool *replayed, hd_err *err);

/* Inside a caller's write transaction (import, tests): validates and
 * processes one event. *event_id and *customer_id get the result;
 * *duplicate is set when the key was seen before. */
hd_rc hd_event_process(hd_conn *c, hd_domain *d, const json_t *in, int64_t *event_id,
                       int64_t *customer_id, bool *duplicate, hd_err *err);

/* Builds a problem object for a failed item (also used by api/ for bodies). */
json_t *hd_problem_json(const hd_err *err, int status);
/* The HTTP status that goes with an error code. */
int hd_rc_http_status(hd_rc rc);

#endif
