/* brand.c - the brand's settings row (brand.h). */
#include "domain/brand.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct brand_state {
    pthread_mutex_t mu; /* a load's read and store of the offset, or a change, at a time */
} brand_state;

typedef struct brand_ctx {
    hd_domain *d;
    int64_t minutes, updated_at;
} brand_ctx;

static hd_rc load_cb(hd_conn *c, void *ctx, hd_err *err) {
    brand_ctx *b = ctx;
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT utc_offset_min, updated_at FROM brand WHERE id = 1", NULL, 0, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        b->minutes = hd_rows_int(r, 0);
        b->updated_at = hd_rows_int(r, 1);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

/* The row, or the default where it was deleted by hand. */
static hd_rc brand_read(hd_domain *d, brand_ctx *b, hd_err *err) {
    *b = (brand_ctx){d, HD_UTC_OFFSET_DEFAULT_MIN, 0};
    return hd_store_read(d->store, load_cb, b, err);
}

hd_rc hd_brand_init(hd_domain *d, hd_err *err) {
    brand_state *bs = calloc(1, sizeof *bs);
    if (!bs) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    pthread_mutex_init(&bs->mu, NULL);
    d->brand = bs;
    return hd_brand_load(d, err);
}

void hd_brand_free(hd_domain *d) {
    brand_state *bs = d->brand;
    if (!bs) return;
    pthread_mutex_destroy(&bs->mu);
    free(bs);
    d->brand = NULL;
}

hd_rc hd_brand_load(hd_domain *d, hd_err *err) {
    brand_state *bs = d->brand;
    brand_ctx b;
    pthread_mutex_lock(&bs->mu);
    hd_rc rc = brand_read(d, &b, err);
    if (!rc) hd_clock_set_utc_offset(d->clock, (int)b.minutes);
    pthread_mutex_unlock(&bs->mu);
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
    brand_state *bs = d->brand;
    brand_ctx b = {d, minutes, 0};
    pthread_mutex_lock(&bs->mu);
    hd_rc rc = hd_store_write(d->store, set_cb, &b, err);
    if (!rc) hd_clock_set_utc_offset(d->clock, minutes);
    pthread_mutex_unlock(&bs->mu);
    return rc;
}

hd_rc hd_brand_get(hd_domain *d, json_t **out, hd_err *err) {
    *out = NULL;
    brand_ctx b;
    hd_rc rc = brand_read(d, &b, err);
    if (rc) return rc;
    char off[8];
    hd_utc_offset_format((int)b.minutes, off);
    *out = json_pack("{s:s}", "utc_offset", off);
    hd_json_set_time(*out, "updated_at", b.updated_at, b.updated_at > 0);
    return HD_OK;
}

hd_rc hd_brand_patch(hd_domain *d, const json_t *in, json_t **out, hd_err *err) {
    *out = NULL;
    static const char *const allowed[] = {"utc_offset", NULL};
    if (!json_is_object(in)) return hd_err_set(err, HD_EINVAL, "", "send a JSON object");
    hd_rc rc = hd_json_only(in, allowed, "the brand's settings", err);
    if (rc) return rc;
    const char *s = NULL;
    if ((rc = hd_json_str(in, "utc_offset", 16, &s, err))) return rc;
    if (s) {
        int minutes;
        if (!hd_utc_offset_parse(s, &minutes))
            return hd_err_set(err, HD_EINVAL, "utc_offset",
                              "must be like \"+08:00\" or \"-05:30\", within -14:00 and +14:00");
        if ((rc = hd_brand_set_utc_offset(d, minutes, err))) return rc;
    }
    return hd_brand_get(d, out, err);
}

hd_rc hd_brand_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    (void)now_ms;
    (void)arg;
    return hd_brand_load(d, err);
}
