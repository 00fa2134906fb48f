/* buf.c - growable byte buffer. */
#include "base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(hd_buf *b, size_t need) {
    if (b->oom) return false;
    if (b->len + need + 1 <= b->cap) return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + need + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void hd_buf_append(hd_buf *b, const void *p, size_t n) {
    if (!grow(b, n)) return;
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void hd_buf_puts(hd_buf *b, const char *s) { hd_buf_append(b, s, strlen(s)); }

void hd_buf_putc(hd_buf *b, char c) { hd_buf_append(b, &c, 1); }

void hd_buf_printf(hd_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        hd_buf_append(b, small, (size_t)n);
        return;
    }
    if (!grow(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void hd_buf_reset(hd_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void hd_buf_free(hd_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}

char *hd_buf_take(hd_buf *b, size_t *len) {
    if (!b->data) grow(b, 0);
    char *p = b->data;
    if (len) *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
