/* text.c - UTF-8 validation, width folding, phone and e-mail normalisation. */
#include "text/text.h"

#include <string.h>

bool hd_utf8_valid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + need >= n) return false; /* truncated sequence */
        for (size_t k = 1; k <= need; k++) {
            unsigned t = s[i + k];
            if ((t & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (t & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000)) return false; /* overlong */
        if (cp >= 0xD800 && cp <= 0xDFFF) return false;                             /* surrogate */
        if (cp > 0x10FFFF) return false;
        i += need + 1;
    }
    return true;
}

size_t hd_utf8_len(const char *s, size_t n) {
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    return count;
}

size_t hd_text_fold_width(const char *str, size_t n, char *out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        /* U+FF01..U+FF5E is EF BC 81..EF BD 9E; U+3000 is E3 80 80. The third
         * byte must be a continuation byte: EF BC followed by ASCII is broken
         * UTF-8, and folding it would swallow the ASCII byte and hide the fault
         * from a later validity check. */
        if (i + 2 < n && s[i] == 0xEF && (s[i + 1] == 0xBC || s[i + 1] == 0xBD) &&
            (s[i + 2] & 0xC0) == 0x80) {
            unsigned cp = 0xFF00 | ((s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
            if (cp >= 0xFF01 && cp <= 0xFF5E) {
                out[o++] = (char)(cp - 0xFF01 + 0x21);
                i += 3;
                continue;
            }
        }
        if (i + 2 < n && s[i] == 0xE3 && s[i + 1] == 0x80 && s[i + 2] == 0x80) {
            out[o++] = ' ';
            i += 3;
            continue;
        }
        out[o++] = (char)s[i++];
    }
    out[o] = '\0';
    return o;
}

#define PHONE_IN_MAX 64

/* Writes "+86" and a mainland national number (trunk 0 already dropped).
 * Mobile numbers start with 13..19 and have 11 digits; Beijing's area code 10
 * also starts with 1 but its numbers (10 + 8 digits) are landlines. A
 * landline is an area code of 2 or 3 digits and 7 or 8 more, so 9 to 11 in
 * all; checking that keeps the result one that normalises to itself. */
static hd_rc cn_number(const char *nat, char out[20], hd_err *err) {
    size_t nl = strlen(nat);
    if (nat[0] == '0')
        return hd_err_set(err, HD_EINVAL, "phone", "has too many 0s after the country code 86");
    if (nat[0] == '1' && nat[1] != '0' && nl != 11)
        return hd_err_set(err, HD_EINVAL, "phone",
                          "a +86 mobile number has 11 digits, this one has %zu", nl);
    if (nl < 9 || nl > 11)
        return hd_err_set(err, HD_EINVAL, "phone",
                          "a mainland number has 9 to 11 digits after 86 and the area code's 0, "
                          "this one has %zu",
                          nl);
    snprintf(out, 20, "+86%.13s", nat);
    return HD_OK;
}

/* Names the character at p for an error message: the whole UTF-8 sequence
 * when it is one (a lone byte of it would make the message invalid UTF-8),
 * else the byte in hex. */
static hd_rc bad_phone_char(const char *p, hd_err *err) {
    const char *allowed = "may hold only digits, spaces, dashes, dots, brackets and a leading +";
    unsigned char c = (unsigned char)*p;
    if (c >= 0x20 && c < 0x7F)
        return hd_err_set(err, HD_EINVAL, "phone", "%s; got '%c'", allowed, c);
    int len = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (c >= 0x80 && strnlen(p, 4) >= (size_t)len && hd_utf8_valid(p, (size_t)len))
        return hd_err_set(err, HD_EINVAL, "phone", "%s; got '%.*s'", allowed, len, p);
    return hd_err_set(err, HD_EINVAL, "phone", "%s; got byte 0x%02X", allowed, c);
}

hd_rc hd_phone_normalize(const char *s, char out[20], hd_err *err) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return hd_err_set(err, HD_EINVAL, "phone", "is empty");
    if (n > PHONE_IN_MAX) return hd_err_set(err, HD_EINVAL, "phone", "is too long to be a phone");
    char folded[PHONE_IN_MAX + 1];
    hd_text_fold_width(s, n, folded);
    char d[24];
    size_t nd = 0;
    bool plus = false;
    for (const char *p = folded; *p; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            if (nd >= 20) return hd_err_set(err, HD_EINVAL, "phone", "has too many digits");
            d[nd++] = c;
        } else if (c == '+' && nd == 0 && !plus) {
            plus = true;
        } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '\t') {
            continue;
        } else {
            return bad_phone_char(p, err);
        }
    }
    d[nd] = '\0';
    const char *digits = d;
    if (!plus && nd > 2 && d[0] == '0' && d[1] == '0') { /* 00 international prefix */
        digits += 2;
        plus = true;
    }
    size_t len = strlen(digits);
    if (!plus) {
        /* No country code: mainland mobile (11 digits starting with 1) or a
         * landline with trunk 0 (0xx-xxxxxxxx). */
        if (len == 11 && digits[0] == '1') return cn_number(digits, out, err);
        if (len >= 10 && len <= 12 && digits[0] == '0') return cn_number(digits + 1, out, err);
        return hd_err_set(err, HD_EINVAL, "phone",
                          "'%s' is not a mainland number (11 digits starting with 1); add the "
                          "country code with +",
                          s);
    }
    if (len < 8 || len > 15 || digits[0] == '0')
        return hd_err_set(err, HD_EINVAL, "phone",
                          "E.164 numbers have 8 to 15 digits after + and no leading 0");
    if (strncmp(digits, "86", 2) == 0) {
        const char *nat = digits + 2;
        if (nat[0] == '0') nat++; /* +86 0xx landline written with trunk 0 */
        return cn_number(nat, out, err);
    }
    snprintf(out, 20, "+%.15s", digits);
    return HD_OK;
}

/* Like isspace() in the C locale, whatever the process locale is, so a byte
 * of a UTF-8 sequence is never taken for a space. */
static bool ascii_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

hd_rc hd_email_normalize(const char *s, char out[255], hd_err *err) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return hd_err_set(err, HD_EINVAL, "email", "is empty");
    if (n > 254 * 3) return hd_err_set(err, HD_EINVAL, "email", "is longer than 254 characters");
    char folded[254 * 3 + 1];
    size_t fl = hd_text_fold_width(s, n, folded);
    size_t a = 0, b = fl;
    while (a < b && ascii_space(folded[a])) a++;
    while (b > a && ascii_space(folded[b - 1])) b--;
    size_t len = b - a;
    if (len > 254) return hd_err_set(err, HD_EINVAL, "email", "is longer than 254 characters");
    if (!hd_utf8_valid(folded + a, len))
        return hd_err_set(err, HD_EINVAL, "email", "is not valid UTF-8");
    size_t o = 0;
    int at = -1;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)folded[i];
        if (c == '@') {
            if (at >= 0) return hd_err_set(err, HD_EINVAL, "email", "has more than one @");
            at = (int)o;
        }
        if (c <= ' ' || c == 0x7F || c == ',' || c == ';' || c == '<' || c == '>' || c == '"')
            return hd_err_set(err, HD_EINVAL, "email", "has a character not allowed in an address");
        /* ASCII only: tolower() on a byte of a UTF-8 sequence would corrupt it
         * under a single-byte locale. */
        out[o++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    out[o] = '\0';
    if (at < 0) return hd_err_set(err, HD_EINVAL, "email", "needs an @, as in name@example.com");
    if (at == 0) return hd_err_set(err, HD_EINVAL, "email", "needs a name before @");
    const char *dom = out + at + 1;
    const char *dot = strrchr(dom, '.');
    if (!*dom || dom[0] == '.' || !dot || !dot[1] || strstr(dom, ".."))
        return hd_err_set(err, HD_EINVAL, "email", "needs a domain like example.com after @");
    return HD_OK;
}

void hd_mask_phone(const char *e164, char out[32]) {
    const char *n = e164;
    if (strncmp(n, "+86", 3) == 0)
        n += 3;
    else if (*n == '+')
        n++;
    size_t len = strlen(n);
    if (len < 7 || len > 20) {
        snprintf(out, 32, "****");
        return;
    }
    /* keep the first 3 and last 4 digits */
    snprintf(out, 32, "%.3s****%s", n, n + len - 4);
}
