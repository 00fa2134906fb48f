/* trials.h - points trials (试用, DESIGN §4.5): members apply for K units of
 * a product in a window, paying (holding) an application price that may be
 * zero; at the close K winners are selected, and a winner who reviews the
 * product before the due date gets the price back plus a bonus.
 *
 * Creating a trial sets K units of the reward's stock aside (taken from the
 * catalog at once, so the winners are never short); the close returns what
 * the winners did not use. Applying checks the window, the tier (when
 * tier_required: tiers with access.trials), the member's record (a member
 * who forfeited a trial in the last HD_TRIAL_FORFEIT_DAYS days is refused,
 * saying until when) and the eligibility expression, then holds the price.
 *
 * Eligibility is a condition in the rules language (docs/rules-language.md)
 * over the applicant, with the fields the catalog's eligibility reads
 * (catalog.h hd_catalog_eligible_in, shared with specials and coupons):
 * customer.tier|city|orders|revenue|events|points|tags,
 * customer.attributes.<path>, customer.specs.<cat>.<key>, tier.multiplier,
 * count(<event type>, <window>) and sum(amount, <window>) up to the moment
 * of applying.
 *
 * Selection at the close (the "trials" job):
 *   first_come  - by application time, then application id;
 *   engagement  - by score = the applicant's events in the 90 days before
 *                 the close, highest first; ties by earlier application;
 *   lottery     - a seed of 128 random bits is drawn at the close and
 *                 published (32 hex digits). Anyone can re-draw: take the
 *                 applications sorted by id (ascending, as integers);
 *                 state = the seed's first 8 bytes XOR its last 8 bytes, each
 *                 read big-endian; next() is splitmix64 (state +=
 *                 0x9E3779B97F4A7C15; z = state; z = (z ^ z>>30) *
 *                 0xBF58476D1CE4E5B9; z = (z ^ z>>27) * 0x94D049BB133111EB;
 *                 return z ^ z>>31); for i = n-1 down to 1: draw x = next()
 *                 until x >= 2^64 mod (i+1), j = x mod (i+1), swap a[i] and
 *                 a[j]; the winners are a[0..K-1].
 * Winners' holds post and each gets an order (source "trial") and a review
 * due date (close + review_days); the others' holds are voided.
 *
 * A review {customer_id, text, rating 1-5} before the due date is stored
 * (for sentiment analysis) and earns the price back (code "refund") plus the
 * bonus (code "earn"), both from system:issuance. A winner with no review by
 * the due date forfeits (the job), which refuses their next applications.
 *
 * Trial JSON: {"id","reward_id","option","title","units","price","bonus",
 *   "apply_starts_at","apply_ends_at","eligibility","selection",
 *   "review_days","tier_required","status":"scheduled|open|drawing|closed",
 *   "applicants","winners","seed"|null,"closed_at","created_at","updated_at"}
 * Application JSON: {"id","trial_id","customer_id","status":"applied|won|
 *   lost|reviewed|forfeited","score"|null,"rank"|null,"applied_at",
 *   "order_id"|null,"review_due_at"|null,"reviewed_at"|null,
 *   "forfeited_at"|null,"transfer_id"|null} */
#ifndef HD_TRIALS_H
#define HD_TRIALS_H

#include "domain/domain.h"

#define HD_TRIAL_UNITS_MAX       100000
#define HD_TRIAL_APPLICANTS_MAX  100000
#define HD_TRIAL_REVIEW_DAYS_MAX 365
#define HD_TRIAL_WINDOW_MAX_MS   (366LL * 86400000)
#define HD_TRIAL_FORFEIT_DAYS    180
#define HD_TRIAL_ENGAGEMENT_DAYS 90
#define HD_TRIAL_REVIEW_MAX      5000 /* characters */
#define HD_TRIAL_PAGE_MAX        200

hd_rc hd_trial_create(hd_domain *d, const hd_idem *im, const json_t *in, int *status, json_t **out,
                      bool *replayed, hd_err *err);
/* GET /v1/trials?status=scheduled|open|drawing|closed, newest first. */
hd_rc hd_trial_list(hd_domain *d, const char *status, int64_t cursor, int limit, json_t **out,
                    hd_err *err);
hd_rc hd_trial_get(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* POST /v1/trials/{id}/applications {customer_id}: 201 with the
 * application. HD_ESTATE (409) outside the window (field status) or when
 * already applied (HD_ECONFLICT, customer_id); HD_EFORBIDDEN (403) naming
 * customer_id when not eligible, tier-less or under a forfeit;
 * "insufficient points" (409, amount). */
hd_rc hd_trial_apply(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                     json_t **out, bool *replayed, hd_err *err);
/* GET /v1/trials/{id}/applications?status=&customer_id=, by id. */
hd_rc hd_trial_applications(hd_domain *d, int64_t id, const char *status, int64_t customer_id,
                            int64_t cursor, int limit, json_t **out, hd_err *err);
/* GET /v1/trials/{id}/draw: after the close, everything needed to check the
 * selection: {"selection","seed","algorithm","applicants":[{"id","name",
 * "score","rank"}] (by id),"winners":[application ids in rank order]}. */
hd_rc hd_trial_draw(hd_domain *d, int64_t id, json_t **out, hd_err *err);
/* POST /v1/trials/{id}/reviews {customer_id, text, rating}: 201 {"id",
 * "trial_id","customer_id","rating","text","refunded","bonus",
 * "created_at"}. HD_ESTATE (409) naming review_due_at when late. */
hd_rc hd_trial_review(hd_domain *d, const hd_idem *im, int64_t id, const json_t *in, int *status,
                      json_t **out, bool *replayed, hd_err *err);
/* GET /v1/trials/{id}/reviews, newest first (reviewer names masked). */
hd_rc hd_trial_reviews(hd_domain *d, int64_t id, int64_t cursor, int limit, json_t **out,
                       hd_err *err);

/* Scheduled: closes trials whose window ended, forfeits overdue reviews. */
hd_rc hd_trial_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

/* ---- the lottery, pure (exposed for tests and re-drawing) ---- */
/* The PRNG state from a seed of 32 hex digits; false when it is not one. */
bool hd_trial_seed_state(const char *seed_hex, uint64_t *state);
/* splitmix64: advances *state and returns the next value. */
uint64_t hd_trial_next(uint64_t *state);
/* Shuffles ids[0..n) in place by the algorithm above; ids must already be
 * sorted ascending. The winners are ids[0..K). */
void hd_trial_shuffle(int64_t *ids, size_t n, const char *seed_hex);

#endif
