/* text.c - UTF-8 validation, width folding, phone and e-mail normalisation. */
#include "text/text.h"

#include <ctype.h>
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
        /* U+FF01..U+FF5E is EF BC 81..EF BD 9E; U+3000 is E3 80 80 */
        if (i + 2 < n && s[i] == 0xEF && (s[i + 1] == 0xBC || s[i + 1] == 0xBD)) {
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
            return hd_err_set(err, HD_EINVAL, "phone",
                              "may hold only digits, spaces, dashes, dots, brackets and a "
                              "leading +; got '%c'",
                              c);
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
        if (len == 11 && digits[0] == '1') {
            snprintf(out, 20, "+86%.11s", digits);
            return HD_OK;
        }
        if (len >= 10 && len <= 12 && digits[0] == '0') {
            snprintf(out, 20, "+86%.11s", digits + 1);
            return HD_OK;
        }
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
        size_t nl = strlen(nat);
        if (nat[0] == '0') nat++, nl--; /* +86 0xx landline written with trunk 0 */
        if (nat[0] == '1' && nl != 11)
            return hd_err_set(err, HD_EINVAL, "phone", "a +86 mobile number has 11 digits");
        snprintf(out, 20, "+86%.13s", nat);
        return HD_OK;
    }
    snprintf(out, 20, "+%.15s", digits);
    return HD_OK;
}

hd_rc hd_email_normalize(const char *s, char out[255], hd_err *err) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0) return hd_err_set(err, HD_EINVAL, "email", "is empty");
    if (n > 254 * 3) return hd_err_set(err, HD_EINVAL, "email", "is longer than 254 characters");
    char folded[254 * 3 + 1];
    size_t fl = hd_text_fold_width(s, n, folded);
    size_t a = 0, b = fl;
    while (a < b && isspace((unsigned char)folded[a])) a++;
    while (b > a && isspace((unsigned char)folded[b - 1])) b--;
    if (b - a > 254) return hd_err_set(err, HD_EINVAL, "email", "is longer than 254 characters");
    if (!hd_utf8_valid(folded + a, b - a))
        return hd_err_set(err, HD_EINVAL, "email", "is not valid UTF-8");
    size_t o = 0;
    int at = -1;
    for (size_t i = a; i < b; i++) {
        unsigned char c = (unsigned char)folded[i];
        if (c == '@') {
            if (at >= 0) return hd_err_set(err, HD_EINVAL, "email", "has more than one @");
            at = (int)o;
        }
        if (c <= ' ' || c == ',' || c == ';' || c == '<' || c == '>' || c == '"')
            return hd_err_set(err, HD_EINVAL, "email", "has a character not allowed in an address");
        out[o++] = (char)tolower(c);
    }
    out[o] = '\0';
    if (at <= 0) return hd_err_set(err, HD_EINVAL, "email", "needs a name before @");
    const char *dom = out + at + 1;
    const char *dot = strrchr(dom, '.');
    if (!*dom || !dot || dot == dom || !dot[1] || strstr(dom, ".."))
        return hd_err_set(err, HD_EINVAL, "email", "needs a domain like example.com after @");
    return HD_OK;
}
