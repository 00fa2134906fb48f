/* brand.c - the brand's settings row (brand.h). */
#include "domain/brand.h"

typedef struct brand_ctx {
    hd_domain *d;
    int64_t minutes;
} brand_ctx;

static hd_rc load_cb(hd_conn *c, void *ctx, hd_err *err) {
    brand_ctx *b = ctx;
    return hd_query_int(c, "SELECT utc_offset_min FROM brand WHERE id = 1", NULL, 0, &b->minutes,
                        err);
}

hd_rc hd_brand_load(hd_domain *d, hd_err *err) {
    brand_ctx b = {d, HD_UTC_OFFSET_DEFAULT_MIN};
    hd_rc rc = hd_store_read(d->store, load_cb, &b, err);
    if (rc == HD_ENOTFOUND) { /* the row was deleted by hand: the default */
        hd_err_clear(err);
        b.minutes = HD_UTC_OFFSET_DEFAULT_MIN;
        rc = HD_OK;
    }
    if (!rc) hd_clock_set_utc_offset(d->clock, (int)b.minutes);
    return rc;
}

static hd_rc set_cb(hd_conn *c, void *ctx, hd_err *err) {
    brand_ctx *b = ctx;
    hd_val p[2] = {hd_vint(b->minutes), hd_vint(hd_now(b->d))};
    return hd_exec(c,
                   "INSERT INTO brand (id, utc_offset_min, updated_at) VALUES (1, ?, ?) "
                   "ON CONFLICT (id) DO UPDATE SET utc_offset_min = excluded.utc_offset_min, "
                   "updated_at = excluded.updated_at",
                   p, 2, NULL, err);
}

hd_rc hd_brand_set_utc_offset(hd_domain *d, int minutes, hd_err *err) {
    if (minutes < -HD_UTC_OFFSET_MAX_MIN || minutes > HD_UTC_OFFSET_MAX_MIN)
        return hd_err_set(err, HD_EINVAL, "utc_offset", "must be within -14:00 and +14:00");
    brand_ctx b = {d, minutes};
    hd_rc rc = hd_store_write(d->store, set_cb, &b, err);
    if (!rc) hd_clock_set_utc_offset(d->clock, minutes);
    return rc;
}

hd_rc hd_brand_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)now_ms;
    (void)arg;
    return hd_brand_load(d, err);
}
