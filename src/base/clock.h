/* clock.h - the one source of "now" for all domain code.
 *
 * A system clock reads CLOCK_REALTIME; a test clock holds a settable instant so
 * expiries, auctions and schedules are tested by moving time, never by sleeping.
 * Both are safe to read from many threads. */
#ifndef HD_CLOCK_H
#define HD_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

typedef struct hd_clock hd_clock;

/* Creates a clock. A test clock starts at start_ms (ms since the Unix epoch);
 * start_ms is ignored for a system clock. Caller frees with hd_clock_free. */
hd_clock *hd_clock_new(bool test, int64_t start_ms);
void hd_clock_free(hd_clock *c);

bool hd_clock_is_test(const hd_clock *c);

/* Milliseconds since the Unix epoch. */
int64_t hd_clock_now_ms(const hd_clock *c);

/* Test clock only: set or advance the instant. Return false on a system clock. */
bool hd_clock_set_ms(hd_clock *c, int64_t now_ms);
bool hd_clock_advance_ms(hd_clock *c, int64_t delta_ms);

/* Monotonic milliseconds for measuring durations (never the test clock). */
int64_t hd_mono_ms(void);
/* Monotonic nanoseconds, for benchmarks and latency. */
int64_t hd_mono_ns(void);

/* RFC 3339 / ISO 8601 helpers, always UTC on output.
 * hd_time_parse accepts "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SS[.fff](Z|+hh:mm)" and
 * "YYYY-MM-DD HH:MM:SS" (the two without an offset taken as UTC); returns
 * false when s is not one of those. */
bool hd_time_parse(const char *s, int64_t *out_ms);
/* hd_time_parse, but a time that names no offset ("2026-03-01", "2026-03-01
 * 12:30:00") is on the brand's calendar (cal) rather than UTC: what an
 * operator typing a date, or a till's CSV export, means. */
bool hd_time_parse_in(const hd_clock *cal, const char *s, int64_t *out_ms);
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 chars + NUL) into out (>= 32 bytes). */
void hd_time_format(int64_t ms, char out[32]);

/* Days since 1970-01-01 for a civil date, and back (proleptic Gregorian). */
int64_t hd_days_from_civil(int y, int m, int d);
void hd_civil_from_days(int64_t days, int *y, int *m, int *d);

/* ---- the brand's calendar ----
 * Days and months that reset caps and limits, end points at month end, fall
 * due for instalments and make up daily reports are the brand's own: a fixed
 * offset from UTC, +08:00 unless the brand says otherwise (China keeps no
 * daylight saving, so for it a fixed offset is exact). The clock carries the
 * offset so that every module cuts days at the same instant. A NULL clock has
 * the default. */
#define HD_UTC_OFFSET_DEFAULT_MIN 480
#define HD_UTC_OFFSET_MAX_MIN     (14 * 60) /* -14:00 .. +14:00, as time zones go */

void hd_clock_set_utc_offset(hd_clock *c, int minutes);
int hd_clock_utc_offset(const hd_clock *c);

/* The brand's day number (days since 1970-01-01 on its calendar) at ms, and
 * the instant a day begins, for an offset in minutes. Read the offset once
 * (hd_clock_utc_offset) for a calculation that cuts more than once. */
int64_t hd_cal_day(int offset_min, int64_t ms);
int64_t hd_cal_day_ms(int offset_min, int64_t day);
/* The day number of the first day of the month `months` after (or before,
 * when negative) the month holding day. */
int64_t hd_month_first(int64_t day, int months);

/* "+08:00", "-05:30", "+0800", "Z" or "UTC" to minutes east of UTC; false
 * for anything else or beyond +-14:00. */
bool hd_utc_offset_parse(const char *s, int *minutes);
/* "+08:00" (7 chars + NUL). */
void hd_utc_offset_format(int minutes, char out[8]);

#endif
