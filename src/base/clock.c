/* clock.c - system and test clocks, and UTC time formatting without libc's
 * locale- and TZ-dependent functions. */
#include "base/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hd_clock {
    bool test;
    _Atomic int64_t now_ms;
    _Atomic int utc_offset_min; /* the brand's calendar */
};

hd_clock *hd_clock_new(bool test, int64_t start_ms) {
    hd_clock *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->test = test;
    atomic_store(&c->utc_offset_min, HD_UTC_OFFSET_DEFAULT_MIN);
    atomic_store(&c->now_ms, start_ms);
    return c;
}

void hd_clock_free(hd_clock *c) { free(c); }

bool hd_clock_is_test(const hd_clock *c) { return c && c->test; }

int64_t hd_clock_now_ms(const hd_clock *c) {
    if (c && c->test) return atomic_load(&((hd_clock *)c)->now_ms);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool hd_clock_set_ms(hd_clock *c, int64_t now_ms) {
    if (!c || !c->test) return false;
    atomic_store(&c->now_ms, now_ms);
    return true;
}

bool hd_clock_advance_ms(hd_clock *c, int64_t delta_ms) {
    if (!c || !c->test) return false;
    atomic_fetch_add(&c->now_ms, delta_ms);
    return true;
}

int64_t hd_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t hd_mono_ms(void) { return hd_mono_ns() / 1000000; }

/* Howard Hinnant's days_from_civil algorithm (public domain description). */
int64_t hd_days_from_civil(int y, int m, int d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void hd_civil_from_days(int64_t z, int *y, int *m, int *d) {
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

void hd_clock_set_utc_offset(hd_clock *c, int minutes) {
    if (c) atomic_store(&c->utc_offset_min, minutes);
}

int hd_clock_utc_offset(const hd_clock *c) {
    return c ? atomic_load(&((hd_clock *)c)->utc_offset_min) : HD_UTC_OFFSET_DEFAULT_MIN;
}

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b) {
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Callers read the offset once per calculation (hd_clock_utc_offset) and cut
 * with it, so a change of it (the brand job stores what the database says
 * every tick) never mixes two calendars in one answer. */
int64_t hd_cal_day(int offset_min, int64_t ms) {
    return floor_div(ms + (int64_t)offset_min * 60000, DAY_MS);
}

int64_t hd_cal_day_ms(int offset_min, int64_t day) {
    return day * DAY_MS - (int64_t)offset_min * 60000;
}

int64_t hd_month_first(int64_t day, int months) {
    int y, m, d;
    hd_civil_from_days(day, &y, &m, &d);
    int64_t n = (int64_t)y * 12 + (m - 1) + months;
    int64_t ny = floor_div(n, 12);
    return hd_days_from_civil((int)ny, (int)(n - ny * 12) + 1, 1);
}

static int digits(const char *s, int n);

bool hd_utc_offset_parse(const char *s, int *minutes) {
    if (!s) return false;
    if (strcmp(s, "Z") == 0 || strcmp(s, "z") == 0 || strcmp(s, "UTC") == 0) {
        *minutes = 0;
        return true;
    }
    if (s[0] != '+' && s[0] != '-') return false;
    int h = digits(s + 1, 2), mi;
    if (h < 0) return false;
    if (s[3] == ':' && strlen(s) == 6)
        mi = digits(s + 4, 2);
    else if (strlen(s) == 5)
        mi = digits(s + 3, 2);
    else
        return false;
    if (mi < 0 || mi > 59) return false;
    int v = h * 60 + mi;
    if (v > HD_UTC_OFFSET_MAX_MIN) return false;
    *minutes = s[0] == '-' ? -v : v;
    return true;
}

void hd_utc_offset_format(int minutes, char out[8]) {
    int a = minutes < 0 ? -minutes : minutes;
    snprintf(out, 8, "%c%02d:%02d", minutes < 0 ? '-' : '+', a / 60 % 100, a % 60);
}

static int digits(const char *s, int n) {
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool valid_date(int y, int m, int d) {
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1) return false;
    int max = mdays[m - 1];
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) max = 29;
    return d <= max;
}

/* Parses s; *zoned says whether it named its offset (Z or +hh:mm). */
static bool time_parse(const char *s, int64_t *out_ms, bool *zoned);

bool hd_time_parse(const char *s, int64_t *out_ms) {
    bool zoned;
    return time_parse(s, out_ms, &zoned);
}

bool hd_time_parse_in(const hd_clock *cal, const char *s, int64_t *out_ms) {
    bool zoned;
    int64_t ms;
    if (!time_parse(s, &ms, &zoned)) return false;
    *out_ms = zoned ? ms : ms - (int64_t)hd_clock_utc_offset(cal) * 60000;
    return true;
}

static bool time_parse(const char *s, int64_t *out_ms, bool *zoned) {
    *zoned = false;
    if (!s) return false;
    size_t n = strlen(s);
    if (n < 10 || s[4] != '-' || s[7] != '-') return false;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    if (y < 0 || mo < 0 || d < 0 || !valid_date(y, mo, d)) return false;
    int64_t ms = hd_days_from_civil(y, mo, d) * 86400000LL;
    if (n == 10) {
        *out_ms = ms;
        return true;
    }
    if ((s[10] != 'T' && s[10] != ' ') || n < 19 || s[13] != ':' || s[16] != ':') return false;
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60) return false;
    ms += ((int64_t)h * 3600 + mi * 60 + se) * 1000;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        int frac = 0, nd = 0;
        while (*p >= '0' && *p <= '9') {
            if (nd < 3) frac = frac * 10 + (*p - '0');
            nd++;
            p++;
        }
        if (nd == 0) return false;
        while (nd < 3) {
            frac *= 10;
            nd++;
        }
        ms += frac;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
        *zoned = true;
    } else if (*p == '+' || *p == '-') {
        *zoned = true;
        int sign = *p == '+' ? 1 : -1;
        int oh = digits(p + 1, 2);
        if (oh < 0 || p[3] != ':') return false;
        int om = digits(p + 4, 2);
        if (om < 0 || oh > 23 || om > 59) return false;
        ms -= sign * ((int64_t)oh * 3600 + om * 60) * 1000;
        p += 6;
    } else if (*p != '\0' || s[10] == 'T') {
        /* "YYYY-MM-DDTHH:MM:SS" without a zone is ambiguous: refuse it. A
         * space-separated form names no offset, like a bare date (what a
         * till's CSV export holds): UTC here, the brand's in hd_time_parse_in. */
        if (*p != '\0') return false;
        if (s[10] == 'T') return false;
    }
    if (*p != '\0') return false;
    *out_ms = ms;
    return true;
}

void hd_time_format(int64_t ms, char out[32]) {
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int y, m, d;
    hd_civil_from_days(days, &y, &m, &d);
    int h = (int)(rem / 3600000), mi = (int)(rem / 60000 % 60), s = (int)(rem / 1000 % 60);
    snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m, d, h, mi, s, (int)(rem % 1000));
}
