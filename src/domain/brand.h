/* brand.h - the brand's own settings: for now its calendar, the offset from
 * UTC at which its days and months begin (base/clock.h says what cuts by it).
 *
 * The setting lives in the store (table brand, one row), so every node on a
 * database cuts days at the same instant. hd_domain_init loads it into the
 * clock, and the "brand" job loads it again on every tick, so a change made
 * with `hudong brand --utc-offset` reaches running servers within a tick; a
 * change made through this domain (PATCH /v1/brand) applies at once - a load
 * and a change are ordered by one lock, so a load that read the row before
 * the change cannot put the old offset back after it. */
#ifndef HD_BRAND_H
#define HD_BRAND_H

#include "domain/domain.h"

/* Module state, and the first hd_brand_load; hd_brand_free undoes it. */
hd_rc hd_brand_init(hd_domain *d, hd_err *err);
void hd_brand_free(hd_domain *d);
/* Reads the brand's UTC offset from the store into d's clock. */
hd_rc hd_brand_load(hd_domain *d, hd_err *err);
/* Sets it (minutes east of UTC, within +-HD_UTC_OFFSET_MAX_MIN; HD_EINVAL
 * naming "utc_offset" otherwise), in the store and in d's clock. */
hd_rc hd_brand_set_utc_offset(hd_domain *d, int minutes, hd_err *err);
/* {"utc_offset":"+08:00","updated_at":…} as the store has it. */
hd_rc hd_brand_get(hd_domain *d, json_t **out, hd_err *err);
/* Changes what in gives ({"utc_offset":"-05:00"}, nothing else) and answers
 * like hd_brand_get. HD_EINVAL naming the field for anything malformed. */
hd_rc hd_brand_patch(hd_domain *d, const json_t *in, json_t **out, hd_err *err);
/* A job: hd_brand_load. */
hd_rc hd_brand_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);

#endif
