/* rules.h - earning rules (DESIGN §4.4): when an event of a type arrives and
 * a condition holds, award points (or growth) computed by a formula, within
 * caps per customer per day and month, a total budget, a validity window,
 * in priority order, stackable or exclusive. Conditions and formulas are in
 * the expression language (expr/expr.h), parsed when a rule is saved (a bad
 * one is refused with its line and column) and evaluated without allocation.
 *
 * Rule JSON: {"id","name","event_type":"order.paid","condition":"amount >=
 *   10000","formula":"floor(amount / 100) * tier.multiplier","currency":
 *   "points"|"growth","caps":{"per_day":N,"per_month":N,"budget":N},
 *   "awarded":N,"starts_at","ends_at","priority":0,"stackable":true,
 *   "active":true}
 *
 * Fields a rule may read: amount, type, touchpoint, properties.<path>,
 * lines[*].sku|category|qty|amount, customer.tier|city|orders|revenue|events,
 * customer.attributes.<path>, tier.multiplier, and the aggregates
 * count(<event type>, <window>) and sum(amount, <window>) over the
 * customer's own history. */
#ifndef HD_RULES_H
#define HD_RULES_H

#include "domain/domain.h"

#define HD_RULES_ACTIVE_MAX 500

hd_rc hd_rule_create(hd_domain *d, const json_t *in, int *status, json_t **out, hd_err *err);
hd_rc hd_rule_list(hd_domain *d, json_t **out, hd_err *err);
hd_rc hd_rule_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
hd_rc hd_rule_patch(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);
/* Runs a rule (saved, by id) against {"event": {...}, "customer_id": "…"}
 * without writing: {"matched", "points", "reason"}. */
hd_rc hd_rule_simulate(hd_domain *d, int64_t id, const json_t *in, json_t **out, hd_err *err);

/* Checks a condition or formula: HD_EINVAL/HD_ESYNTAX with the position in
 * err (see hd_expr_error_pos) when it does not parse or reads unknown fields. */
hd_rc hd_rule_check_expr(const char *src, bool formula, const char *field, hd_err *err);

/* The event hook: awards, and on order.refunded reverses what the order earned. */
hd_rc hd_rules_on_event(hd_conn *c, hd_domain *d, const hd_event *ev, void *arg, hd_err *err);

/* Module state hung on the domain (compiled rules cache). */
hd_rc hd_rules_init(hd_domain *d, hd_err *err);
void hd_rules_free(hd_domain *d);

#endif
