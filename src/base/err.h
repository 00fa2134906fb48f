/* err.h - return codes and the error struct every fallible function fills.
 *
 * Library code never prints: it returns an hd_rc and leaves a human sentence in
 * an hd_err (which field, what was expected). api/ maps codes to HTTP status,
 * cli/ to exit codes. */
#ifndef HD_ERR_H
#define HD_ERR_H

#include <stdarg.h>

typedef enum hd_rc {
    HD_OK = 0,
    HD_EINVAL,     /* input is malformed or fails validation (422/400) */
    HD_ESYNTAX,    /* input cannot be parsed at all (400) */
    HD_ENOTFOUND,  /* what was named does not exist (404) */
    HD_ECONFLICT,  /* clashes with existing state: duplicate, reused key (409) */
    HD_ETOOBIG,    /* over a size limit (413) */
    HD_EAUTH,      /* no or bad credentials (401) */
    HD_EFORBIDDEN, /* credentials lack the right (403) */
    HD_EMOVED,     /* the object was merged into another (301) */
    HD_ESTATE,     /* not allowed in the current state (409/422) */
    HD_EBUSY,      /* transient: retry (503) */
    HD_ESTORE,     /* the store failed (500) */
    HD_EIO,        /* a file or socket failed */
    HD_ENOMEM,     /* out of memory */
    HD_EINTERNAL,  /* a bug: should not happen */
} hd_rc;

#define HD_ERR_FIELD_MAX 64
#define HD_ERR_MSG_MAX   256

typedef struct hd_err {
    hd_rc rc;
    char field[HD_ERR_FIELD_MAX]; /* offending field, "" when none */
    char msg[HD_ERR_MSG_MAX];     /* human sentence */
} hd_err;

/* Fills err (which may be NULL) and returns rc, so callers can write
 * `return hd_err_set(err, HD_EINVAL, "points", "must be > 0, got %lld", p);` */
hd_rc hd_err_set(hd_err *err, hd_rc rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
hd_rc hd_err_setv(hd_err *err, hd_rc rc, const char *field, const char *fmt, va_list ap);

/* Puts prefix before err->field ("lines[2]" + "." + "sku"), truncating at
 * HD_ERR_FIELD_MAX; sep goes between them when both are non-empty. */
void hd_err_prefix(hd_err *err, const char *prefix, const char *sep);

/* Resets err to HD_OK with empty field and message. */
void hd_err_clear(hd_err *err);

/* Short stable name of a code ("invalid", "not_found", ...), never NULL. */
const char *hd_rc_name(hd_rc rc);

#endif
