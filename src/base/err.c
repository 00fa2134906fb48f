/* err.c - filling hd_err. */
#include "base/err.h"

#include <stdio.h>
#include <string.h>

/* Truncation must not cut a UTF-8 character in half: drop an incomplete
 * sequence at the end of s, so messages stay valid JSON strings. */
static void utf8_cut(char *s) {
    size_t n = strlen(s);
    if (n == 0) return;
    size_t j = n - 1;
    while (j > 0 && n - j < 4 && ((unsigned char)s[j] & 0xC0) == 0x80) j--;
    unsigned char lead = (unsigned char)s[j];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if ((lead & 0xC0) == 0x80 || n - j < need) s[j] = '\0';
}

hd_rc hd_err_setv(hd_err *err, hd_rc rc, const char *field, const char *fmt, va_list ap) {
    if (!err) return rc;
    err->rc = rc;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    utf8_cut(err->field);
    utf8_cut(err->msg);
    return rc;
}

hd_rc hd_err_set(hd_err *err, hd_rc rc, const char *field, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    hd_err_setv(err, rc, field, fmt, ap);
    va_end(ap);
    return rc;
}

void hd_err_clear(hd_err *err) {
    if (!err) return;
    err->rc = HD_OK;
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

const char *hd_rc_name(hd_rc rc) {
    switch (rc) {
    case HD_OK: return "ok";
    case HD_EINVAL: return "invalid";
    case HD_ESYNTAX: return "syntax";
    case HD_ENOTFOUND: return "not_found";
    case HD_ECONFLICT: return "conflict";
    case HD_ETOOBIG: return "too_big";
    case HD_EAUTH: return "unauthorized";
    case HD_EFORBIDDEN: return "forbidden";
    case HD_EMOVED: return "moved";
    case HD_ESTATE: return "state";
    case HD_EBUSY: return "busy";
    case HD_ESTORE: return "store";
    case HD_EIO: return "io";
    case HD_ENOMEM: return "no_memory";
    case HD_EINTERNAL: return "internal";
    }
    return "unknown";
}

void hd_err_prefix(hd_err *err, const char *prefix, const char *sep) {
    if (!err) return;
    char f[HD_ERR_FIELD_MAX];
    size_t n = strlen(prefix), m = strlen(err->field), k = err->field[0] ? strlen(sep) : 0;
    size_t o = 0;
    for (size_t i = 0; i < n && o + 1 < sizeof f; i++) f[o++] = prefix[i];
    for (size_t i = 0; i < k && o + 1 < sizeof f; i++) f[o++] = sep[i];
    for (size_t i = 0; i < m && o + 1 < sizeof f; i++) f[o++] = err->field[i];
    f[o] = '\0';
    memcpy(err->field, f, o + 1);
    utf8_cut(err->field);
}
