/* text.h - text as it enters hudong: UTF-8 validation, full-width folding,
 * identity normalisation (phone, e-mail), and a streaming CSV reader.
 *
 * Pure C, no I/O beyond the FILE* a caller hands the CSV reader. */
#ifndef HD_TEXT_H
#define HD_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* True when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool hd_utf8_valid(const char *s, size_t n);
/* Number of code points in valid UTF-8. */
size_t hd_utf8_len(const char *s, size_t n);

/* Copies s to out, folding full-width ASCII (U+FF01..U+FF5E) to ASCII and the
 * ideographic space U+3000 to a space. out needs n+1 bytes (folding never
 * grows). Returns the new length. */
size_t hd_text_fold_width(const char *s, size_t n, char *out);

/* Normalises a phone number to E.164. Accepts spaces, dashes, dots, brackets,
 * full-width digits, a leading "+", "00" or "0086"; a bare 11-digit number
 * starting with 1 is taken as mainland China (+86). out needs >= 20 bytes.
 * Returns HD_EINVAL with a sentence when it is not a phone number. */
hd_rc hd_phone_normalize(const char *s, char out[20], hd_err *err);

/* Masks a phone for people who need not see it: "+8613800138000" →
 * "138****8000" (the national number, middle digits starred). out >= 32 bytes. */
void hd_mask_phone(const char *e164, char out[32]);

/* Normalises an e-mail address: trims, folds full-width, lower-cases, and
 * checks local@domain.tld shape. out needs >= 255 bytes. */
hd_rc hd_email_normalize(const char *s, char out[255], hd_err *err);

/* --- CSV (RFC 4180: quotes, "" escapes, CRLF or LF, fields may span lines) --- */
typedef struct hd_csv hd_csv;

#define HD_CSV_FIELD_MAX  (64 * 1024) /* bytes in one field */
#define HD_CSV_FIELDS_MAX 1024        /* fields in one record */

/* Reads from f (borrowed, not closed) with the given separator. A UTF-8 BOM at
 * the start is skipped. Caller frees with hd_csv_free. */
hd_csv *hd_csv_new(FILE *f, char sep);
/* Reads the next record: 1 = got one, 0 = end of input, -1 = error (err says
 * which line and why: bad quoting, invalid UTF-8 - GBK files are named as
 * such - or a limit exceeded). After an error on one record the reader can go
 * on with the next line. */
int hd_csv_next(hd_csv *c, hd_err *err);
int hd_csv_nfields(const hd_csv *c);
/* Field i of the current record, NUL-terminated, borrowed until the next call
 * to hd_csv_next; "" when i is out of range. */
const char *hd_csv_field(const hd_csv *c, int i, size_t *len);
/* 1-based line on which the current record started, and the bytes consumed so far. */
int64_t hd_csv_line(const hd_csv *c);
int64_t hd_csv_offset(const hd_csv *c);
void hd_csv_free(hd_csv *c);

#endif
