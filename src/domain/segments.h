/* segments.h - saved segments (DESIGN §4.10): a name and a condition in the expression
 * language over customer fields, scores and event aggregates (analytics/segment.h lists
 * them), evaluated on demand over the whole customer base.
 *
 * Evaluation loads one column per field the condition reads - one query per column or
 * aggregate, grouped by customer, into arrays - and then runs the compiled condition
 * once per customer without allocating. Conditions that read rfm.* or clv/p_alive use
 * the scores of the last RFM / CLV runs; when there are none yet they are computed first
 * (inline on a small base, else a job is queued and the answer says scores_pending).
 *
 * Segment JSON: {"id","name","description","expression","fields":[slot names],
 *   "member_count":N|null,"customers":N|null,"counted_at":…|null,"created_at",
 *   "updated_at"}; an evaluation adds "errors":{"count","first":{customer_id,detail}}
 *   when some customers' values did not fit the condition (a string compared with a
 *   number) and "scores_pending":true when scores were still being computed. */
#ifndef HD_SEGMENTS_H
#define HD_SEGMENTS_H

#include "domain/domain.h"

#define HD_SEGMENT_NAME_MAX   100 /* characters */
#define HD_SEGMENT_DESC_MAX   1000
#define HD_SEGMENT_PAGE_MAX   1000 /* members per page */
#define HD_SEGMENT_EXPORT_MAX 5000000

/* POST /v1/segments {name, expression, description?}: 201 with the segment and its
 * member count. A condition that does not compile (or does not parse) is HD_EINVAL with
 * field "expression" and a message starting "line L, column C: ". */
hd_rc hd_segments_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status,
                         json_t **out, bool *replayed, hd_err *err);

/* GET /v1/segments: newest first, {"data":[…],"next_cursor":…|null}; counts are those of
 * the last evaluation. */
hd_rc hd_segments_list(hd_domain *d, int64_t cursor, int limit, json_t **out, hd_err *err);

/* GET /v1/segments/{id}: evaluates now and returns the segment with its member count. */
hd_rc hd_segments_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);

/* GET /v1/segments/{id}/members: members in id order after cursor (0 = from the start):
 * {"data":[{"id","name","city","values":{slot: value}}],"next_cursor","member_count"}. */
hd_rc hd_segments_members(hd_domain *d, int64_t id, int64_t cursor, int limit, json_t **out,
                          hd_err *err);

/* ?format=csv: every member, header customer_id,name,city,<one column per field>.
 * *csv is malloc'd (caller frees). */
hd_rc hd_segments_export_csv(hd_domain *d, int64_t id, char **csv, size_t *len, hd_err *err);

/* The ids (ascending) of the customers a condition selects now, for campaigns and
 * eligibility. *ids is malloc'd (caller frees; NULL when *n == 0). */
hd_rc hd_segments_match(hd_domain *d, const char *expression, int64_t **ids, size_t *n,
                        hd_err *err);

#endif
