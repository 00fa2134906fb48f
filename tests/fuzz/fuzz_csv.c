/* fuzz_csv.c - libFuzzer driver for the CSV reader and the normalisers an
 * import feeds its fields to. Reads the input to the end, touching every byte
 * of every field, and checks the reader's promises: fields are NUL-terminated
 * at their length, hold no NUL and are valid UTF-8, line numbers never go back, the offset
 * never passes the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

/* A reader that reports an error must consume something, so a crafted input
 * cannot spin forever; this bounds the records read from one input. */
#define RECORDS_MAX 100000

/* A broken promise is a crash, with the line that names it. */
#define check(ok)                                                                                  \
    do {                                                                                           \
        if (!(ok)) {                                                                               \
            fprintf(stderr, "fuzz_csv.c:%d: check failed: %s\n", __LINE__, #ok);                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void feed_normalisers(const char *f, size_t len) {
    char phone[20], email[255];
    hd_err err;
    hd_err_clear(&err);
    if (hd_phone_normalize(f, phone, &err) == HD_OK) {
        check(phone[0] == '+' && strlen(phone) < sizeof phone);
        /* normalising twice changes nothing */
        char again[20];
        check(hd_phone_normalize(phone, again, &err) == HD_OK && strcmp(again, phone) == 0);
    } else {
        check(err.rc == HD_EINVAL && strcmp(err.field, "phone") == 0);
        check(hd_utf8_valid(err.msg, strlen(err.msg)));
    }
    hd_err_clear(&err);
    if (hd_email_normalize(f, email, &err) == HD_OK) {
        check(strchr(email, '@') != NULL && hd_utf8_valid(email, strlen(email)));
        char again[255];
        check(hd_email_normalize(email, again, &err) == HD_OK && strcmp(again, email) == 0);
    } else {
        check(err.rc == HD_EINVAL && strcmp(err.field, "email") == 0);
    }
    /* folding never grows and keeps valid UTF-8 valid */
    char *folded = malloc(len + 1);
    if (!folded) return;
    size_t fl = hd_text_fold_width(f, len, folded);
    check(fl <= len && folded[fl] == '\0');
    check(hd_utf8_valid(folded, fl));
    check(hd_utf8_len(folded, fl) == hd_utf8_len(f, len)); /* one for one */
    free(folded);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0; /* fmemopen wants a non-empty buffer */
    /* The separator is ',' unless the input starts with ';', a tab or '|'
     * (that byte is still read as data), as an import would be told. */
    char sep = data[0] == ';' || data[0] == '\t' || data[0] == '|' ? (char)data[0] : ',';
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f) return 0;
    hd_csv *c = hd_csv_new(f, sep);
    if (!c) {
        fclose(f);
        return 0;
    }
    int64_t last_line = 0, last_offset = 0;
    volatile unsigned sum = 0; /* keeps the reads of every field byte */
    for (int n = 0; n < RECORDS_MAX; n++) {
        hd_err err;
        hd_err_clear(&err);
        int got = hd_csv_next(c, &err);
        int64_t off = hd_csv_offset(c);
        check(off >= last_offset && off <= (int64_t)size);
        last_offset = off;
        if (got == 0) break;
        if (got < 0) {
            check(err.rc != HD_OK && err.msg[0] != '\0');
            continue;
        }
        check(got == 1);
        int64_t line = hd_csv_line(c);
        check(line > last_line);
        last_line = line;
        int nf = hd_csv_nfields(c);
        check(nf >= 1 && nf <= HD_CSV_FIELDS_MAX);
        for (int i = 0; i < nf; i++) {
            size_t len;
            const char *fld = hd_csv_field(c, i, &len);
            check(len <= HD_CSV_FIELD_MAX && fld[len] == '\0');
            check(hd_utf8_valid(fld, len) && memchr(fld, '\0', len) == NULL);
            for (size_t k = 0; k < len; k++) sum += (unsigned char)fld[k];
            feed_normalisers(fld, len);
        }
        size_t len;
        check(hd_csv_field(c, nf, &len)[0] == '\0' && len == 0);
    }
    (void)sum;
    hd_csv_free(c);
    fclose(f);
    return 0;
}
