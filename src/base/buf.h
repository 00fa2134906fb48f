/* buf.h - a growable byte buffer, always NUL-terminated. */
#ifndef HD_BUF_H
#define HD_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct hd_buf {
    char *data; /* NUL-terminated when non-NULL; owned */
    size_t len;
    size_t cap;
    bool oom; /* set once an allocation failed; later appends are no-ops */
} hd_buf;

#define HD_BUF_INIT                                                                                \
    { NULL, 0, 0, false }

void hd_buf_append(hd_buf *b, const void *p, size_t n);
void hd_buf_puts(hd_buf *b, const char *s);
void hd_buf_putc(hd_buf *b, char c);
void hd_buf_printf(hd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hd_buf_reset(hd_buf *b); /* len = 0, keeps memory */
void hd_buf_free(hd_buf *b);
/* Hands the data to the caller (free with free()) and resets b. */
char *hd_buf_take(hd_buf *b, size_t *len);

#endif
