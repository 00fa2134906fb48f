/* parse.c - from source text to a program for vm.c.
 *
 * Four steps over one parser struct: a lexer that reads UTF-8 and knows the
 * full-width punctuation a Chinese input method produces; a recursive-descent
 * parser that builds a small tree; a pass that interns field paths into
 * slots, checks the types it can know and folds constants; and an emitter
 * that lays the tree out as postfix code with jumps for and/or. Every error
 * carries the line and column of the token it is about. */
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

/* Longest chain of operators from the root to a leaf (`a + b + c + ...`),
 * which bounds the recursion of the checking and emitting passes. */
#define HEIGHT_MAX 256
/* Arguments of min() and max(). */
#define MINMAX_ARGS_MAX 32

enum {
    TK_EOF,
    TK_INT,
    TK_REAL,
    TK_DUR,
    TK_STR,
    TK_IDENT,
    TK_AND,
    TK_OR,
    TK_NOT,
    TK_IN,
    TK_TRUE,
    TK_FALSE,
    TK_NULL,
    TK_LP,
    TK_RP,
    TK_LB,
    TK_RB,
    TK_COMMA,
    TK_DOT,
    TK_STAR,
    TK_PLUS,
    TK_MINUS,
    TK_SLASH,
    TK_PCT,
    TK_EQ,
    TK_NE,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
};

typedef struct tok {
    int kind;
    uint32_t pos, len;   /* span in the source */
    uint64_t u;          /* TK_INT magnitude (may be 2^63 before a minus); TK_DUR seconds */
    double d;            /* TK_REAL */
    uint32_t soff, slen; /* TK_STR: the unescaped bytes in p->strs */
} tok;

enum { N_CONST, N_PATH, N_VAR, N_UNARY, N_BINARY, N_AND, N_OR, N_IN, N_LIST, N_CALL };

enum { F_FLOOR, F_CEIL, F_ROUND, F_ABS, F_MIN, F_MAX, F_COUNT, F_SUM, F_AVG };

static const struct {
    const char *name;
    int args_min, args_max;
} funcs[] = {
    [F_FLOOR] = {"floor", 1, 1},
    [F_CEIL] = {"ceil", 1, 1},
    [F_ROUND] = {"round", 1, 1},
    [F_ABS] = {"abs", 1, 1},
    [F_MIN] = {"min", 2, MINMAX_ARGS_MAX},
    [F_MAX] = {"max", 2, MINMAX_ARGS_MAX},
    [F_COUNT] = {"count", 1, 2},
    [F_SUM] = {"sum", 1, 2},
    [F_AVG] = {"avg", 1, 2},
};
#define NFUNCS ((int)(sizeof funcs / sizeof funcs[0]))

typedef struct node {
    uint8_t kind;
    uint8_t op;     /* OP_x for unary/binary, F_x for calls */
    uint8_t flag;   /* N_IN: 1 = not in; N_CONST: 1 = a duration literal;
                     * N_PATH: 1 = has [*] */
    uint16_t h;     /* height of the subtree */
    uint32_t pos;   /* byte offset of the operator, or of the operand's start */
    int l, r;       /* children; N_LIST/N_CALL: l = first child, r = count;
                     * N_PATH: l = offset in p->names, r = length; N_VAR: l = slot */
    int next;       /* next sibling in a list or argument list, or -1 */
    unsigned types; /* T_x mask the value may have, set by check() */
    hd_expr_val v;  /* N_CONST */
} node;

typedef struct parser {
    const char *src;
    size_t len;
    size_t at; /* lexer cursor */
    tok t;     /* current token */
    tok prev;  /* the one before, for "after '>='" in messages */
    int ntok;  /* tokens read so far */
    int depth;

    node *nodes;
    int nnodes, capnodes;
    char *names; /* canonical field paths, capacity len + 1 */
    size_t nnames;
    char *strs; /* unescaped string literals, capacity len + 1 */
    size_t nstrs;
    hd_expr_val *lists; /* elements of constant lists, capacity nnodes */
    int nlists;

    hd_expr_var vars[HD_EXPR_VARS_MAX];
    int nvars;

    ins *code;
    ins_dbg *dbg;
    int ncode, capcode;
    hd_expr_val *k;
    int nk, capk;
    int sp, spmax;

    bool failed;
    hd_err *err;
    hd_expr_pos *epos;
} parser;

/* --- errors --- */

static int perr(parser *p, hd_rc rc, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(parser *p, hd_rc rc, size_t off, const char *fmt, ...) {
    if (p->failed) return -1;
    p->failed = true;
    hd_expr_pos pos;
    hd_expr__pos(p->src, p->len, off, &pos);
    char msg[HD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    hd_err_set(p->err, rc, NULL, "line %d, column %d: %s", pos.line, pos.column, msg);
    if (p->epos) *p->epos = pos;
    return -1;
}

/* Length of s[0..n) cut to at most max bytes without splitting a character. */
static int clip(const char *s, size_t n, size_t max) {
    if (n <= max) return (int)n;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) max--;
    return (int)max;
}

/* How a token reads in a message: "the end of the expression", "'and'". */
static const char *describe(const parser *p, const tok *t, char *buf, size_t n) {
    const char *s = p->src + t->pos;
    switch (t->kind) {
    case TK_EOF: return "the end of the expression";
    case TK_STR:
        snprintf(buf, n, "the string %.*s%s", clip(s, t->len, 24), s, t->len > 24 ? "..." : "");
        return buf;
    case TK_INT:
    case TK_REAL:
    case TK_DUR: snprintf(buf, n, "the number %.*s", clip(s, t->len, 24), s); return buf;
    default:
        snprintf(buf, n, "'%.*s%s'", clip(s, t->len, 40), s, t->len > 40 ? "..." : "");
        return buf;
    }
}

static void pos_text(const parser *p, size_t off, char *buf, size_t n) {
    hd_expr_pos pos;
    hd_expr__pos(p->src, p->len, off, &pos);
    snprintf(buf, n, "line %d, column %d", pos.line, pos.column);
}

/* --- UTF-8 --- */

/* Decodes one character of s[0..n); returns its length, or 0 when the bytes
 * are not well-formed UTF-8 (overlong, surrogate, above U+10FFFF, cut). */
static int utf8_dec(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

static int utf8_enc(uint32_t cp, char *out) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* May a non-ASCII character be part of a field name? Letters of any script
 * (城市, ciudad) yes; punctuation, symbols and full-width forms no, so that
 * an input method's `（` or `，` is reported instead of swallowed. */
static bool cp_ident(uint32_t c) {
    if (c < 0xC0 || c == 0xD7 || c == 0xF7) return false;
    if (c >= 0x2000 && c <= 0x2BFF) return false; /* punctuation, arrows, math, boxes */
    if (c >= 0x3000 && c <= 0x303F) return false; /* CJK punctuation */
    if (c >= 0xFE10 && c <= 0xFE6F) return false; /* vertical and small forms */
    if (c >= 0xFF00 && c <= 0xFFFF) return false; /* full-width forms, specials */
    return true;
}

static bool ascii_ident(unsigned char c, bool first) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Length of the identifier character at s[i], or 0. */
static int ident_char(const unsigned char *s, size_t n, size_t i, bool first) {
    if (s[i] < 0x80) return ascii_ident(s[i], first) ? 1 : 0;
    uint32_t cp;
    int l = utf8_dec(s + i, n - i, &cp);
    return l && cp_ident(cp) ? l : 0;
}

/* --- lexer --- */

static int lex_unexpected(parser *p, size_t i) {
    const unsigned char *s = (const unsigned char *)p->src;
    unsigned char c = s[i];
    if (c >= 0x80) {
        uint32_t cp = 0;
        int l = utf8_dec(s + i, p->len - i, &cp);
        const char *ch = p->src + i;
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            return perr(p, HD_ESYNTAX, i,
                        "full-width '%.*s' (U+%04X) is not allowed here; use '%c'", l, ch,
                        (unsigned)cp, (char)(cp - 0xFEE0));
        if (cp == 0x201C || cp == 0x201D || cp == 0x300C || cp == 0x300D)
            return perr(p, HD_ESYNTAX, i, "'%.*s' (U+%04X) is not a quote here; use '\"'", l, ch,
                        (unsigned)cp);
        if (cp == 0x2018 || cp == 0x2019)
            return perr(p, HD_ESYNTAX, i, "'%.*s' (U+%04X) is not a quote here; use '\\''", l, ch,
                        (unsigned)cp);
        if (cp == 0x3001) return perr(p, HD_ESYNTAX, i, "'、' is not allowed here; use ','");
        if (cp == 0x3002) return perr(p, HD_ESYNTAX, i, "'。' is not allowed here; use '.'");
        if (cp == 0x3010 || cp == 0x3011)
            return perr(p, HD_ESYNTAX, i, "'%.*s' is not allowed here; use '[' or ']'", l, ch);
        return perr(p, HD_ESYNTAX, i, "unexpected character '%.*s' (U+%04X)", l, ch, (unsigned)cp);
    }
    switch (c) {
    case '=': return perr(p, HD_ESYNTAX, i, "'=' is not an operator; use '==' to compare");
    case '&': return perr(p, HD_ESYNTAX, i, "'&' is not an operator; use 'and' (or '&&')");
    case '|': return perr(p, HD_ESYNTAX, i, "'|' is not an operator; use 'or' (or '||')");
    case '.': return perr(p, HD_ESYNTAX, i, "a number cannot start with '.'; write 0.5, not .5");
    }
    if (c < 0x20 || c == 0x7F)
        return perr(p, HD_ESYNTAX, i, "unexpected control character U+%04X", (unsigned)c);
    return perr(p, HD_ESYNTAX, i, "unexpected character '%c'", (char)c);
}

static int hex4(const unsigned char *s, size_t n, size_t i, uint32_t *out) {
    if (i + 4 > n) return -1;
    uint32_t v = 0;
    for (int j = 0; j < 4; j++) {
        unsigned char c = s[i + (size_t)j];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint32_t)d;
    }
    *out = v;
    return 0;
}

static int lex_string(parser *p, tok *t, size_t i) {
    const unsigned char *s = (const unsigned char *)p->src;
    size_t n = p->len, open = i;
    unsigned char q = s[i++];
    t->kind = TK_STR;
    t->soff = (uint32_t)p->nstrs;
    for (;;) {
        if (i >= n)
            return perr(p, HD_ESYNTAX, open, "the string that starts here is not closed; add %c",
                        q);
        unsigned char c = s[i];
        if (c == q) {
            i++;
            break;
        }
        if (c == '\n' || c == '\r')
            return perr(p, HD_ESYNTAX, open,
                        "the string that starts here is not closed before the end of the line");
        if ((c < 0x20 && c != '\t') || c == 0x7F)
            return perr(p, HD_ESYNTAX, i,
                        "control character U+%04X inside a string; write it as an escape "
                        "such as \\n",
                        (unsigned)c);
        if (c != '\\') {
            p->strs[p->nstrs++] = (char)c;
            i++;
            continue;
        }
        if (i + 1 >= n)
            return perr(p, HD_ESYNTAX, open, "the string that starts here is not closed; add %c",
                        q);
        char e = (char)s[i + 1], out = 0;
        switch (e) {
        case '\\':
        case '"':
        case '\'':
        case '/': out = e; break;
        case 'n': out = '\n'; break;
        case 't': out = '\t'; break;
        case 'r': out = '\r'; break;
        case 'b': out = '\b'; break;
        case 'f': out = '\f'; break;
        case 'u': {
            uint32_t cp, lo;
            if (hex4(s, n, i + 2, &cp))
                return perr(p, HD_ESYNTAX, i, "expected four hex digits after \\u");
            size_t used = 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 7 < n && s[i + 6] == '\\' && s[i + 7] == 'u' &&
                    hex4(s, n, i + 8, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    used = 12;
                } else {
                    return perr(p, HD_ESYNTAX, i,
                                "\\u%04X is the first half of a surrogate pair; the second "
                                "half (\\uDC00 to \\uDFFF) must follow",
                                (unsigned)cp);
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return perr(p, HD_ESYNTAX, i,
                            "\\u%04X is the second half of a surrogate pair without a first",
                            (unsigned)cp);
            }
            p->nstrs += (size_t)utf8_enc(cp, p->strs + p->nstrs);
            i += used;
            continue;
        }
        default: {
            uint32_t cp;
            int l = utf8_dec(s + i + 1, n - i - 1, &cp);
            return perr(p, HD_ESYNTAX, i,
                        "unknown escape '\\%.*s'; the escapes are \\\" \\' \\\\ \\/ \\n \\t \\r "
                        "\\b \\f \\uXXXX",
                        l > 0 ? l : 1, (const char *)s + i + 1);
        }
        }
        p->strs[p->nstrs++] = out;
        i += 2;
    }
    t->slen = (uint32_t)(p->nstrs - t->soff);
    t->len = (uint32_t)(i - open);
    p->at = i;
    return 0;
}

static int lex_number(parser *p, tok *t, size_t i) {
    const unsigned char *s = (const unsigned char *)p->src;
    size_t n = p->len, st = i;
    uint64_t v = 0;
    bool big = false, real = false;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        unsigned d = s[i] - '0';
        /* allow up to 2^63, the magnitude of INT64_MIN */
        if (v > (UINT64_C(1) << 63) / 10 || v * 10 + d > (UINT64_C(1) << 63))
            big = true;
        else
            v = v * 10 + d;
        i++;
    }
    if (i + 1 < n && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
        real = true;
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        if (j < n && (s[j] == '+' || s[j] == '-')) j++;
        if (j < n && s[j] >= '0' && s[j] <= '9') {
            real = true;
            i = j;
            while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        }
    }
    t->pos = (uint32_t)st;
    t->len = (uint32_t)(i - st);
    if (i < n && ident_char(s, n, i, true)) {
        size_t j = i;
        int l;
        while (j < n && (l = ident_char(s, n, j, false)) > 0) j += (size_t)l;
        static const struct {
            char c;
            int64_t s;
        } units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 604800}};
        for (size_t u = 0; !real && !big && j == i + 1 && u < sizeof units / sizeof units[0]; u++) {
            if (s[i] != units[u].c) continue;
            if (v > (uint64_t)(INT64_MAX / units[u].s))
                return perr(p, HD_ESYNTAX, st, "the duration %.*s is too long",
                            clip(p->src + st, j - st, 40), p->src + st);
            t->kind = TK_DUR;
            t->u = v * (uint64_t)units[u].s;
            t->len = (uint32_t)(j - st);
            p->at = j;
            return 0;
        }
        return perr(p, HD_ESYNTAX, i,
                    "unexpected '%.*s' after the number %.*s; put a space or an operator "
                    "between them (a duration is written 90d, 12h, 30m, 45s or 2w)",
                    clip(p->src + i, j - i, 40), p->src + i, clip(p->src + st, i - st, 40),
                    p->src + st);
    }
    if (!real) {
        if (big)
            return perr(p, HD_ESYNTAX, st,
                        "the integer %.*s is too large; the largest is 9223372036854775807",
                        clip(p->src + st, i - st, 40), p->src + st);
        t->kind = TK_INT;
        t->u = v;
        p->at = i;
        return 0;
    }
    char buf[64];
    if (i - st >= sizeof buf)
        return perr(p, HD_ESYNTAX, st, "the number is longer than %d characters",
                    (int)sizeof buf - 1);
    memcpy(buf, s + st, i - st);
    buf[i - st] = '\0';
    /* the text is ASCII digits with '.', so parse it in the C locale
     * whatever locale the process runs in */
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    double d = c ? strtod_l(buf, NULL, c) : strtod(buf, NULL);
    if (c) freelocale(c);
    if (!isfinite(d)) return perr(p, HD_ESYNTAX, st, "the number %s is out of range", buf);
    t->kind = TK_REAL;
    t->d = d;
    p->at = i;
    return 0;
}

static const struct {
    const char *text;
    int kind;
} keywords[] = {{"and", TK_AND},   {"or", TK_OR},       {"not", TK_NOT},  {"in", TK_IN},
                {"true", TK_TRUE}, {"false", TK_FALSE}, {"null", TK_NULL}};

/* Reads the next token into p->t. */
static int next(parser *p) {
    const unsigned char *s = (const unsigned char *)p->src;
    size_t n = p->len, i = p->at;
    tok *t = &p->t;
    p->prev = *t;
    p->ntok++;
    for (;;) {
        if (i >= n) break;
        unsigned char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
        } else if (c == '#') { /* a comment runs to the end of the line */
            while (i < n && s[i] != '\n' && s[i] != '\r') i++;
        } else if (c == 0xE3 && i + 2 < n && s[i + 1] == 0x80 && s[i + 2] == 0x80) {
            i += 3; /* U+3000 ideographic space */
        } else if (c == 0xC2 && i + 1 < n && s[i + 1] == 0xA0) {
            i += 2; /* U+00A0 no-break space */
        } else {
            break;
        }
    }
    memset(t, 0, sizeof *t);
    t->pos = (uint32_t)i;
    if (i >= n) {
        t->kind = TK_EOF;
        p->at = i;
        return 0;
    }
    unsigned char c = s[i];
    unsigned char c2 = i + 1 < n ? s[i + 1] : 0;
    int kind = -1, len = 1;
    switch (c) {
    case '(': kind = TK_LP; break;
    case ')': kind = TK_RP; break;
    case '[': kind = TK_LB; break;
    case ']': kind = TK_RB; break;
    case ',': kind = TK_COMMA; break;
    case '*': kind = TK_STAR; break;
    case '+': kind = TK_PLUS; break;
    case '-': kind = TK_MINUS; break;
    case '/': kind = TK_SLASH; break;
    case '%': kind = TK_PCT; break;
    case '.': kind = TK_DOT; break;
    case '=':
        if (c2 == '=') kind = TK_EQ, len = 2;
        break;
    case '!': kind = c2 == '=' ? TK_NE : TK_NOT, len = c2 == '=' ? 2 : 1; break;
    case '<': kind = c2 == '=' ? TK_LE : TK_LT, len = c2 == '=' ? 2 : 1; break;
    case '>': kind = c2 == '=' ? TK_GE : TK_GT, len = c2 == '=' ? 2 : 1; break;
    case '&':
        if (c2 == '&') kind = TK_AND, len = 2;
        break;
    case '|':
        if (c2 == '|') kind = TK_OR, len = 2;
        break;
    case '"':
    case '\'': return lex_string(p, t, i);
    }
    if (kind >= 0) {
        t->kind = kind;
        t->len = (uint32_t)len;
        p->at = i + (size_t)len;
        return 0;
    }
    if (c >= '0' && c <= '9') return lex_number(p, t, i);
    int l = ident_char(s, n, i, true);
    if (!l) return lex_unexpected(p, i);
    size_t j = i + (size_t)l;
    while (j < n && (l = ident_char(s, n, j, false)) > 0) j += (size_t)l;
    t->kind = TK_IDENT;
    t->len = (uint32_t)(j - i);
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (strlen(keywords[k].text) == t->len && memcmp(keywords[k].text, s + i, t->len) == 0)
            t->kind = keywords[k].kind;
    p->at = j;
    return 0;
}

/* The kind of the token after the current one, without consuming it. A
 * lexing error there stays reported: the parse cannot succeed past it. */
static int peek(parser *p) {
    size_t at = p->at, nstrs = p->nstrs;
    tok t = p->t, prev = p->prev;
    int ntok = p->ntok;
    int kind = next(p) ? -1 : p->t.kind;
    p->at = at;
    p->nstrs = nstrs;
    p->t = t;
    p->prev = prev;
    p->ntok = ntok;
    return kind;
}

/* --- tree --- */

static int new_node(parser *p, int kind, int op, uint32_t pos, int l, int r) {
    if (p->nnodes >= HD_EXPR_NODES_MAX)
        return perr(p, HD_EINVAL, pos, "the expression has more than %d terms", HD_EXPR_NODES_MAX);
    if (p->nnodes == p->capnodes) {
        int cap = p->capnodes ? p->capnodes * 2 : 32;
        node *nn = realloc(p->nodes, (size_t)cap * sizeof *nn);
        if (!nn) return perr(p, HD_ENOMEM, pos, "out of memory");
        p->nodes = nn;
        p->capnodes = cap;
    }
    int i = p->nnodes++;
    node *x = &p->nodes[i];
    memset(x, 0, sizeof *x);
    x->kind = (uint8_t)kind;
    x->op = (uint8_t)op;
    x->pos = pos;
    x->l = l;
    x->r = r;
    x->next = -1;
    int h = 0;
    if (kind == N_UNARY || kind == N_BINARY || kind == N_AND || kind == N_OR || kind == N_IN) {
        h = p->nodes[l].h;
        if (kind != N_UNARY && p->nodes[r].h > h) h = p->nodes[r].h;
    } else if (kind == N_LIST || kind == N_CALL) {
        for (int c = l; c >= 0; c = p->nodes[c].next)
            if (p->nodes[c].h > h) h = p->nodes[c].h;
    }
    if (h + 1 > HEIGHT_MAX)
        return perr(p, HD_EINVAL, pos,
                    "more than %d operators in a chain; split the expression or use 'in [...]'",
                    HEIGHT_MAX);
    x->h = (uint16_t)(h + 1);
    return i;
}

static int const_node(parser *p, uint32_t pos, hd_expr_val v) {
    int i = new_node(p, N_CONST, 0, pos, -1, -1);
    if (i >= 0) p->nodes[i].v = v;
    return i;
}

static int parse_expr(parser *p);
static int parse_add(parser *p);

static bool is_cmp(int kind) { return kind >= TK_EQ && kind <= TK_GE; }

static int cmp_op(int kind) {
    switch (kind) {
    case TK_EQ: return OP_EQ;
    case TK_NE: return OP_NE;
    case TK_LT: return OP_LT;
    case TK_LE: return OP_LE;
    case TK_GT: return OP_GT;
    default: return OP_GE;
    }
}

static int expect_value(parser *p) {
    char b1[80], b2[80];
    if (p->t.kind == TK_EOF && p->ntok == 1)
        return perr(p, HD_ESYNTAX, p->t.pos, "the expression is empty");
    if (p->t.kind == TK_LB)
        return perr(p, HD_ESYNTAX, p->t.pos, "a list [...] is only allowed after 'in'");
    if (p->t.kind == TK_DOT && p->t.pos + 1 < p->len && p->src[p->t.pos + 1] >= '0' &&
        p->src[p->t.pos + 1] <= '9')
        return perr(p, HD_ESYNTAX, p->t.pos, "a number cannot start with '.'; write 0.5, not .5");
    if (p->ntok == 1)
        return perr(p, HD_ESYNTAX, p->t.pos,
                    "expected a value (a number, a string, a field, a function or '('), found %s",
                    describe(p, &p->t, b2, sizeof b2));
    return perr(p, HD_ESYNTAX, p->t.pos,
                "expected a value (a number, a string, a field, a function or '(') after %s, "
                "found %s",
                describe(p, &p->prev, b1, sizeof b1), describe(p, &p->t, b2, sizeof b2));
}

static int enter(parser *p) {
    if (++p->depth > HD_EXPR_DEPTH_MAX)
        return perr(p, HD_EINVAL, p->t.pos,
                    "nested too deeply: more than %d levels of brackets, calls or signs",
                    HD_EXPR_DEPTH_MAX);
    return 0;
}

static int parse_call(parser *p, const tok *name) {
    int f = -1;
    for (int i = 0; i < NFUNCS; i++)
        if (strlen(funcs[i].name) == name->len &&
            memcmp(funcs[i].name, p->src + name->pos, name->len) == 0)
            f = i;
    if (f < 0)
        return perr(p, HD_EINVAL, name->pos,
                    "unknown function '%.*s'; the functions are floor, ceil, round, abs, min, "
                    "max, count, sum and avg",
                    clip(p->src + name->pos, name->len, 40), p->src + name->pos);
    if (enter(p) || next(p)) return -1; /* the '(' */
    int first = -1, n = 0;
    if (p->t.kind != TK_RP) {
        for (int last = -1;;) {
            int a = parse_expr(p);
            if (a < 0) return -1;
            if (last < 0)
                first = a;
            else
                p->nodes[last].next = a;
            last = a;
            n++;
            if (p->t.kind != TK_COMMA) break;
            if (next(p)) return -1;
        }
    }
    if (p->t.kind != TK_RP) {
        char b1[80], b2[40];
        pos_text(p, name->pos, b2, sizeof b2);
        return perr(p, HD_ESYNTAX, p->t.pos,
                    "expected ',' or ')' in the call to %s() that starts at %s, found %s",
                    funcs[f].name, b2, describe(p, &p->t, b1, sizeof b1));
    }
    if (n < funcs[f].args_min || n > funcs[f].args_max) {
        if (f == F_MIN || f == F_MAX)
            return perr(p, HD_EINVAL, name->pos,
                        "%s() takes 2 to %d numbers, or a field and a window such as "
                        "%s(amount, 30d); got %d argument%s",
                        funcs[f].name, MINMAX_ARGS_MAX, funcs[f].name, n, n == 1 ? "" : "s");
        if (f >= F_COUNT)
            return perr(p, HD_EINVAL, name->pos,
                        "%s() takes a field and an optional window, such as %s(%s, 90d); got "
                        "%d arguments",
                        funcs[f].name, funcs[f].name, f == F_COUNT ? "order.paid" : "amount", n);
        return perr(p, HD_EINVAL, name->pos, "%s() takes 1 argument, got %d", funcs[f].name, n);
    }
    p->depth--;
    if (next(p)) return -1; /* the ')' */
    return new_node(p, N_CALL, f, name->pos, first, n);
}

static int parse_path(parser *p, const tok *name) {
    size_t start = p->nnames;
    bool arr = false;
    tok seg = *name;
    for (;;) {
        /* seg is a name: append it */
        if (p->nnames - start + seg.len > HD_EXPR_NAME_MAX)
            return perr(p, HD_EINVAL, name->pos, "the field name is longer than %d bytes",
                        HD_EXPR_NAME_MAX);
        memcpy(p->names + p->nnames, p->src + seg.pos, seg.len);
        p->nnames += seg.len;
        for (;;) {
            if (p->t.kind == TK_LB) {
                uint32_t at = p->t.pos;
                if (next(p)) return -1;
                if (p->t.kind != TK_STAR) {
                    char b[80];
                    return perr(p, HD_ESYNTAX, p->t.pos,
                                "expected '*' in '[*]' (every element of a list), found %s; "
                                "fields cannot be indexed by number",
                                describe(p, &p->t, b, sizeof b));
                }
                if (next(p)) return -1;
                if (p->t.kind != TK_RB) {
                    char b[80];
                    return perr(p, HD_ESYNTAX, p->t.pos, "expected ']' to close '[*]', found %s",
                                describe(p, &p->t, b, sizeof b));
                }
                if (p->nnames - start + 3 > HD_EXPR_NAME_MAX)
                    return perr(p, HD_EINVAL, at, "the field name is longer than %d bytes",
                                HD_EXPR_NAME_MAX);
                memcpy(p->names + p->nnames, "[*]", 3);
                p->nnames += 3;
                arr = true;
                if (next(p)) return -1;
                continue;
            }
            break;
        }
        if (p->t.kind != TK_DOT) break;
        if (next(p)) return -1;
        /* after a dot any word is a name, even a keyword: properties.in */
        if (p->t.kind != TK_IDENT && !(p->t.kind >= TK_AND && p->t.kind <= TK_NULL)) {
            char b[80];
            return perr(p, HD_ESYNTAX, p->t.pos, "expected a field name after '.', found %s",
                        describe(p, &p->t, b, sizeof b));
        }
        if (p->nnames - start + 1 > HD_EXPR_NAME_MAX)
            return perr(p, HD_EINVAL, name->pos, "the field name is longer than %d bytes",
                        HD_EXPR_NAME_MAX);
        p->names[p->nnames++] = '.';
        seg = p->t;
        if (next(p)) return -1;
    }
    int i = new_node(p, N_PATH, 0, name->pos, (int)start, (int)(p->nnames - start));
    if (i >= 0) p->nodes[i].flag = arr;
    return i;
}

static int parse_primary(parser *p) {
    tok t = p->t;
    hd_expr_val v;
    switch (t.kind) {
    case TK_INT:
        if (t.u > (uint64_t)INT64_MAX)
            return perr(p, HD_ESYNTAX, t.pos,
                        "the integer %.*s is too large; the largest is 9223372036854775807",
                        clip(p->src + t.pos, t.len, 40), p->src + t.pos);
        v = hd_expr_int((int64_t)t.u);
        break;
    case TK_REAL: v = hd_expr_real(t.d); break;
    case TK_DUR: v = hd_expr_int((int64_t)t.u); break;
    case TK_STR: v = hd_expr_str(p->strs + t.soff, t.slen); break;
    case TK_TRUE: v = hd_expr_bool(true); break;
    case TK_FALSE: v = hd_expr_bool(false); break;
    case TK_NULL: v = hd_expr_null(); break;
    case TK_LP: {
        if (enter(p) || next(p)) return -1;
        int e = parse_expr(p);
        if (e < 0) return -1;
        p->depth--;
        if (p->t.kind != TK_RP) {
            char b1[80], b2[40];
            pos_text(p, t.pos, b2, sizeof b2);
            return perr(p, HD_ESYNTAX, p->t.pos, "expected ')' to close the '(' at %s, found %s",
                        b2, describe(p, &p->t, b1, sizeof b1));
        }
        if (next(p)) return -1;
        return e;
    }
    case TK_IDENT:
        if (next(p)) return -1;
        return p->t.kind == TK_LP ? parse_call(p, &t) : parse_path(p, &t);
    default: return expect_value(p);
    }
    if (next(p)) return -1;
    int i = const_node(p, t.pos, v);
    if (i >= 0 && t.kind == TK_DUR) p->nodes[i].flag = 1;
    return i;
}

static int parse_unary(parser *p) {
    if (p->t.kind != TK_MINUS && p->t.kind != TK_PLUS) return parse_primary(p);
    tok t = p->t;
    if (enter(p) || next(p)) return -1;
    int c;
    if (t.kind == TK_MINUS && p->t.kind == TK_INT && p->t.u == (UINT64_C(1) << 63)) {
        c = const_node(p, t.pos, hd_expr_int(INT64_MIN)); /* -9223372036854775808 */
        if (c >= 0 && next(p)) return -1;
    } else {
        c = parse_unary(p);
        if (c >= 0 && t.kind == TK_MINUS) c = new_node(p, N_UNARY, OP_NEG, t.pos, c, -1);
    }
    p->depth--;
    return c;
}

static int parse_mul(parser *p) {
    int l = parse_unary(p);
    while (l >= 0 && (p->t.kind == TK_STAR || p->t.kind == TK_SLASH || p->t.kind == TK_PCT)) {
        tok t = p->t;
        if (next(p)) return -1;
        int r = parse_unary(p);
        if (r < 0) return -1;
        int op = t.kind == TK_STAR ? OP_MUL : t.kind == TK_SLASH ? OP_DIV : OP_MOD;
        l = new_node(p, N_BINARY, op, t.pos, l, r);
    }
    return l;
}

static int parse_add(parser *p) {
    int l = parse_mul(p);
    while (l >= 0 && (p->t.kind == TK_PLUS || p->t.kind == TK_MINUS)) {
        tok t = p->t;
        if (next(p)) return -1;
        int r = parse_mul(p);
        if (r < 0) return -1;
        l = new_node(p, N_BINARY, t.kind == TK_PLUS ? OP_ADD : OP_SUB, t.pos, l, r);
    }
    return l;
}

/* What follows 'in': a list [a, b, c] or any value (a list field, a string). */
static int parse_in_rhs(parser *p) {
    if (p->t.kind != TK_LB) return parse_add(p);
    tok open = p->t;
    if (enter(p) || next(p)) return -1;
    int first = -1, last = -1, n = 0;
    while (p->t.kind != TK_RB) {
        int e = parse_expr(p);
        if (e < 0) return -1;
        if (last < 0)
            first = e;
        else
            p->nodes[last].next = e;
        last = e;
        n++;
        if (p->t.kind == TK_COMMA) {
            if (next(p)) return -1;
        } else if (p->t.kind != TK_RB) {
            char b1[80], b2[40];
            pos_text(p, open.pos, b2, sizeof b2);
            return perr(p, HD_ESYNTAX, p->t.pos,
                        "expected ',' or ']' in the list that starts at %s, found %s", b2,
                        describe(p, &p->t, b1, sizeof b1));
        }
    }
    if (next(p)) return -1;
    p->depth--;
    return new_node(p, N_LIST, 0, open.pos, first, n);
}

static bool at_in(parser *p) {
    return p->t.kind == TK_IN || (p->t.kind == TK_NOT && peek(p) == TK_IN);
}

static int parse_cmp(parser *p) {
    int l = parse_add(p);
    if (l < 0) return -1;
    tok t = p->t;
    if (is_cmp(t.kind)) {
        if (next(p)) return -1;
        int r = parse_add(p);
        if (r < 0) return -1;
        l = new_node(p, N_BINARY, cmp_op(t.kind), t.pos, l, r);
    } else if (at_in(p)) {
        bool neg = t.kind == TK_NOT;
        if (next(p) || (neg && next(p))) return -1;
        int r = parse_in_rhs(p);
        if (r < 0) return -1;
        l = new_node(p, N_IN, 0, t.pos, l, r);
        if (l >= 0) p->nodes[l].flag = neg;
    } else {
        return l;
    }
    if (l >= 0 && (is_cmp(p->t.kind) || at_in(p)))
        return perr(p, HD_ESYNTAX, p->t.pos,
                    "comparisons cannot be chained; join them with 'and', as in "
                    "a < b and b < c");
    return l;
}

static int parse_not(parser *p) {
    if (p->t.kind != TK_NOT) return parse_cmp(p);
    tok t = p->t;
    if (enter(p) || next(p)) return -1;
    int c = parse_not(p);
    if (c < 0) return -1;
    p->depth--;
    return new_node(p, N_UNARY, OP_NOT, t.pos, c, -1);
}

static int parse_and(parser *p) {
    int l = parse_not(p);
    while (l >= 0 && p->t.kind == TK_AND) {
        tok t = p->t;
        if (next(p)) return -1;
        int r = parse_not(p);
        if (r < 0) return -1;
        l = new_node(p, N_AND, 0, t.pos, l, r);
    }
    return l;
}

static int parse_or(parser *p) {
    int l = parse_and(p);
    while (l >= 0 && p->t.kind == TK_OR) {
        tok t = p->t;
        if (next(p)) return -1;
        int r = parse_and(p);
        if (r < 0) return -1;
        l = new_node(p, N_OR, 0, t.pos, l, r);
    }
    return l;
}

static int parse_expr(parser *p) { return parse_or(p); }

/* --- checking, interning, folding --- */

static int intern(parser *p, const char *name, size_t nlen, const char *path, size_t plen,
                  const char *agg, int64_t window_s, bool arr, uint32_t pos) {
    for (int i = 0; i < p->nvars; i++)
        if (strlen(p->vars[i].name) == nlen && memcmp(p->vars[i].name, name, nlen) == 0) return i;
    if (p->nvars >= HD_EXPR_VARS_MAX)
        return perr(p, HD_EINVAL, pos, "the expression reads more than %d different fields",
                    HD_EXPR_VARS_MAX);
    char *m = malloc(nlen + plen + 2);
    if (!m) return perr(p, HD_ENOMEM, pos, "out of memory");
    memcpy(m, name, nlen);
    m[nlen] = '\0';
    memcpy(m + nlen + 1, path, plen);
    m[nlen + 1 + plen] = '\0';
    hd_expr_var *v = &p->vars[p->nvars];
    v->name = m;
    v->path = m + nlen + 1;
    v->agg = agg;
    v->window_s = window_s;
    v->is_array = arr;
    return p->nvars++;
}

/* Kinds a mask may hold besides null, with integer and real as one kind. */
static unsigned kinds(unsigned m) {
    unsigned k = m & ~T_NULL;
    if (k & T_NUM) k |= T_NUM;
    return k;
}

static const char *mask_text(unsigned m) {
    unsigned k = kinds(m);
    if (k == 0) return "always null";
    if (k == T_NUM) return "a number";
    if (k == T_STR) return "a string";
    if (k == T_BOOL) return "true/false";
    if (k == T_ARR) return "a list";
    return "of the wrong type";
}

static void to_const(parser *p, int i, hd_expr_val v) {
    node *x = &p->nodes[i];
    x->kind = N_CONST;
    x->flag = 0;
    x->v = v;
    x->types = 1u << v.type;
}

static bool is_const(const parser *p, int i) { return p->nodes[i].kind == N_CONST; }

static int fold_fail(parser *p, int i, const char *why) {
    return perr(p, HD_EINVAL, p->nodes[i].pos, "%s", why);
}

static int check(parser *p, int i);

/* Checks that child (an operand of node i) may have one of the allowed
 * types; else an error at the operator (side given) or at the operand. */
static int need(parser *p, int i, int child, unsigned allowed, const char *what, const char *side) {
    unsigned m = p->nodes[child].types;
    /* null alone (the literal, or what folds to it) goes anywhere; otherwise
     * some type besides null must fit, so `(a + 1) or b` is caught */
    if (m == T_NULL || (m & allowed & ~T_NULL)) return 0;
    if (side)
        return perr(p, HD_EINVAL, p->nodes[i].pos, "%s; its %s side is %s", what, side,
                    mask_text(m));
    return perr(p, HD_EINVAL, p->nodes[child].pos, "%s; this is %s", what, mask_text(m));
}

static int check_aggregate(parser *p, int i) {
    node *x = &p->nodes[i];
    const char *fn = funcs[x->op].name;
    int a = x->l, w = x->r == 2 ? p->nodes[a].next : -1;
    node *an = &p->nodes[a];
    if (an->kind != N_PATH)
        return perr(p, HD_EINVAL, an->pos,
                    "the first argument of %s() must be a field or event type, as in "
                    "%s(%s, 90d)",
                    fn, fn, x->op == F_COUNT ? "order.paid" : "amount");
    int64_t win = 0;
    if (w >= 0) {
        node *wn = &p->nodes[w];
        if (wn->kind != N_CONST || wn->flag != 1)
            return perr(p, HD_EINVAL, wn->pos,
                        "the second argument of %s() must be a window such as 90d, 12h or 30m", fn);
        win = wn->v.u.i;
        if (win <= 0) return perr(p, HD_EINVAL, wn->pos, "the window must be longer than 0");
    }
    char name[HD_EXPR_NAME_MAX + 48];
    int n = snprintf(name, sizeof name, "%s(%.*s", fn, an->r, p->names + an->l);
    if (w >= 0) {
        static const struct {
            int64_t s;
            char c;
        } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
        size_t u = 0;
        while (win % units[u].s) u++;
        n += snprintf(name + n, sizeof name - (size_t)n, ",%lld%c", (long long)(win / units[u].s),
                      units[u].c);
    }
    n += snprintf(name + n, sizeof name - (size_t)n, ")");
    int slot = intern(p, name, (size_t)n, p->names + an->l, (size_t)an->r, fn, win, false, x->pos);
    if (slot < 0) return -1;
    x = &p->nodes[i];
    x->kind = N_VAR;
    x->l = slot;
    x->types = T_NUM | T_NULL;
    return 0;
}

static int check_call(parser *p, int i) {
    node *x = &p->nodes[i];
    int f = x->op;
    if (f == F_COUNT || f == F_SUM || f == F_AVG) return check_aggregate(p, i);
    if ((f == F_MIN || f == F_MAX) && x->r == 2) {
        int w = p->nodes[x->l].next;
        if (p->nodes[w].kind == N_CONST && p->nodes[w].flag == 1) return check_aggregate(p, i);
    }
    char what[64];
    snprintf(what, sizeof what, "%s() needs a number", funcs[f].name);
    if (f == F_FLOOR || f == F_CEIL || f == F_ROUND) {
        int a = x->l;
        if (p->nodes[a].kind == N_BINARY && p->nodes[a].op == OP_DIV) {
            /* floor(a / b): divide exactly when both are integers */
            node *d = &p->nodes[a];
            int op = f == F_FLOOR ? OP_FLOORDIV : f == F_CEIL ? OP_CEILDIV : OP_ROUNDDIV;
            int l = d->l, r = d->r;
            uint32_t dpos = d->pos;
            if (check(p, l) || check(p, r)) return -1;
            if (need(p, a, l, T_NUM | T_NULL, "'/' needs numbers", "left") ||
                need(p, a, r, T_NUM | T_NULL, "'/' needs numbers", "right"))
                return -1;
            x = &p->nodes[i];
            x->kind = N_BINARY;
            x->op = (uint8_t)op;
            x->l = l;
            x->r = r;
            x->pos = dpos;
            x->types = T_INT | ((p->nodes[l].types | p->nodes[r].types) & T_NULL);
            if (is_const(p, l) && is_const(p, r)) {
                hd_expr_val v;
                char why[192];
                if (hd_expr__binary(op, &p->nodes[l].v, &p->nodes[r].v, &v, why, sizeof why))
                    return fold_fail(p, i, why);
                to_const(p, i, v);
            }
            return 0;
        }
    }
    bool all_const = true;
    unsigned t = 0;
    bool all_int = true;
    for (int a = x->l; a >= 0; a = p->nodes[a].next) {
        if (check(p, a) || need(p, i, a, T_NUM | T_NULL, what, NULL)) return -1;
        unsigned m = p->nodes[a].types;
        all_const = all_const && is_const(p, a);
        t |= m & (T_NULL | T_REAL);
        if (!(m & T_INT)) all_int = false;
    }
    x = &p->nodes[i];
    if (f == F_FLOOR || f == F_CEIL || f == F_ROUND) {
        x->kind = N_UNARY;
        x->op = f == F_FLOOR ? OP_FLOOR : f == F_CEIL ? OP_CEIL : OP_ROUND;
        x->types = T_INT | (t & T_NULL);
    } else if (f == F_ABS) {
        x->kind = N_UNARY;
        x->op = OP_ABS;
        x->types = p->nodes[x->l].types & (T_NUM | T_NULL);
    } else {
        x->op = f == F_MIN ? OP_MIN : OP_MAX;
        x->types = t | (all_int ? T_INT : 0);
    }
    if (!all_const) return 0;
    hd_expr_val v;
    char why[192];
    int rc;
    if (x->kind == N_UNARY) {
        rc = hd_expr__unary(x->op, &p->nodes[x->l].v, &v, why, sizeof why);
    } else {
        hd_expr_val args[MINMAX_ARGS_MAX];
        int n = 0;
        for (int a = x->l; a >= 0; a = p->nodes[a].next) args[n++] = p->nodes[a].v;
        rc = hd_expr__minmax(x->op, args, n, &v, why, sizeof why);
    }
    if (rc) return fold_fail(p, i, why);
    to_const(p, i, v);
    return 0;
}

/* A list of constants becomes one constant list value. */
static int check_list(parser *p, int i) {
    node *x = &p->nodes[i];
    bool all_const = true;
    unsigned seen = 0;
    int first_kind_at = -1;
    for (int a = x->l; a >= 0; a = p->nodes[a].next) {
        if (check(p, a)) return -1;
        all_const = all_const && is_const(p, a);
        unsigned k = kinds(p->nodes[a].types);
        if (k == T_ARR) return perr(p, HD_EINVAL, p->nodes[a].pos, "a list cannot hold a list");
        if (is_const(p, a) && k) {
            if (seen && !(seen & k))
                return perr(p, HD_EINVAL, p->nodes[a].pos,
                            "this list mixes %s (first at element %d) with %s", mask_text(seen),
                            first_kind_at + 1, mask_text(k));
            if (!seen) {
                int idx = 0;
                for (int b = x->l; b != a; b = p->nodes[b].next) idx++;
                first_kind_at = idx;
            }
            seen |= k;
        }
    }
    x = &p->nodes[i];
    x->types = T_ARR;
    if (!all_const) return 0;
    hd_expr_val *el = p->lists + p->nlists;
    int n = 0;
    for (int a = x->l; a >= 0; a = p->nodes[a].next) el[n++] = p->nodes[a].v;
    p->nlists += n;
    to_const(p, i, hd_expr_array(el, (size_t)n));
    return 0;
}

static int check_in(parser *p, int i) {
    node *x = &p->nodes[i];
    int l = x->l, r = x->r;
    if (check(p, l)) return -1;
    if (p->nodes[r].kind == N_LIST) {
        if (check_list(p, r)) return -1;
    } else {
        if (check(p, r)) return -1;
        if (need(p, i, r, T_ARR | T_STR | T_NULL, "'in' needs a list or a string", "right"))
            return -1;
    }
    x = &p->nodes[i];
    x->types = T_BOOL;
    unsigned lk = kinds(p->nodes[l].types);
    if (is_const(p, r) && p->nodes[r].v.type == HD_EXPR_ARRAY && lk && !(lk & T_ARR)) {
        unsigned rk = 0;
        const hd_expr_val *a = p->nodes[r].v.u.a;
        for (uint32_t j = 0; j < p->nodes[r].v.len; j++) rk |= kinds(1u << a[j].type);
        if (rk && !(rk & lk))
            return perr(p, HD_EINVAL, x->pos, "'in' would compare %s with a list of %s",
                        mask_text(lk),
                        rk == T_NUM    ? "numbers"
                        : rk == T_STR  ? "strings"
                        : rk == T_BOOL ? "true/false values"
                                       : "values of another type");
    }
    if (is_const(p, r) && p->nodes[r].v.type == HD_EXPR_STR && lk && !(lk & (T_STR | T_ARR)))
        return perr(p, HD_EINVAL, x->pos,
                    "'in' with a string on the right looks for a substring, but the left side "
                    "is %s",
                    mask_text(lk));
    if (is_const(p, l) && is_const(p, r)) {
        bool b;
        char why[192];
        if (hd_expr__in_value(&p->nodes[l].v, &p->nodes[r].v, &b, why, sizeof why))
            return fold_fail(p, i, why);
        to_const(p, i, hd_expr_bool(b != x->flag));
    }
    return 0;
}

static int check_binary(parser *p, int i) {
    node *x = &p->nodes[i];
    int op = x->op, l = x->l, r = x->r;
    if (check(p, l) || check(p, r)) return -1;
    unsigned lm = p->nodes[l].types, rm = p->nodes[r].types, t;
    const char *o = hd_expr__op_text(op);
    char what[64];
    if (op >= OP_ADD && op <= OP_MOD) {
        snprintf(what, sizeof what, "'%s' needs numbers", o);
        if (need(p, i, l, T_NUM | T_NULL, what, "left") ||
            need(p, i, r, T_NUM | T_NULL, what, "right"))
            return -1;
        t = (lm | rm) & T_NULL;
        if (op == OP_DIV) {
            t |= T_REAL;
        } else {
            if ((lm & T_INT) && (rm & T_INT)) t |= T_INT;
            if (((lm & T_REAL) && (rm & T_NUM)) || ((rm & T_REAL) && (lm & T_NUM))) t |= T_REAL;
        }
    } else {
        unsigned lk = kinds(lm), rk = kinds(rm);
        if ((op == OP_EQ || op == OP_NE) && (lk == T_ARR || rk == T_ARR))
            return perr(p, HD_EINVAL, x->pos, "'%s' cannot compare a list; use 'in'", o);
        if (op != OP_EQ && op != OP_NE) {
            snprintf(what, sizeof what, "'%s' needs numbers or strings", o);
            if (need(p, i, l, T_NUM | T_STR | T_NULL, what, "left") ||
                need(p, i, r, T_NUM | T_STR | T_NULL, what, "right"))
                return -1;
        }
        if (lk && rk && !(lk & rk & ~T_ARR))
            return perr(p, HD_EINVAL, x->pos, "'%s' cannot compare %s with %s", o, mask_text(lm),
                        mask_text(rm));
        t = T_BOOL;
    }
    x = &p->nodes[i];
    x->types = t;
    if (is_const(p, l) && is_const(p, r)) {
        hd_expr_val v;
        char why[192];
        if (hd_expr__binary(op, &p->nodes[l].v, &p->nodes[r].v, &v, why, sizeof why))
            return fold_fail(p, i, why);
        to_const(p, i, v);
    }
    return 0;
}

static int check(parser *p, int i) {
    node *x = &p->nodes[i];
    switch (x->kind) {
    case N_CONST:
        if (x->flag == 1)
            return perr(p, HD_EINVAL, x->pos,
                        "a duration such as 90d can only be the window of count(), sum(), avg(), "
                        "min() or max()");
        x->types = 1u << x->v.type;
        return 0;
    case N_PATH: {
        const char *name = p->names + x->l;
        int slot = intern(p, name, (size_t)x->r, name, (size_t)x->r, NULL, 0, x->flag, x->pos);
        if (slot < 0) return -1;
        x = &p->nodes[i];
        x->types = x->flag ? (T_ARR | T_NULL) : T_ANY;
        x->kind = N_VAR;
        x->l = slot;
        return 0;
    }
    case N_VAR: return 0;
    case N_UNARY: {
        int c = x->l, op = x->op;
        if (check(p, c)) return -1;
        x = &p->nodes[i];
        unsigned m = p->nodes[c].types;
        if (op == OP_NEG) {
            if (need(p, i, c, T_NUM | T_NULL, "'-' needs a number", NULL)) return -1;
            x->types = m & (T_NUM | T_NULL);
        } else {
            if (need(p, i, c, T_BOOL | T_NULL,
                     op == OP_NOT ? "'not' needs true/false" : "'and'/'or' need true/false", NULL))
                return -1;
            x->types = T_BOOL;
        }
        if (is_const(p, c)) {
            hd_expr_val v;
            char why[192];
            if (hd_expr__unary(op, &p->nodes[c].v, &v, why, sizeof why))
                return fold_fail(p, i, why);
            to_const(p, i, v);
        }
        return 0;
    }
    case N_BINARY: return check_binary(p, i);
    case N_AND:
    case N_OR: {
        bool is_and = x->kind == N_AND;
        int l = x->l, r = x->r;
        const char *what = is_and ? "'and' needs true/false" : "'or' needs true/false";
        if (check(p, l) || check(p, r) || need(p, l, l, T_BOOL | T_NULL, what, NULL) ||
            need(p, r, r, T_BOOL | T_NULL, what, NULL))
            return -1;
        x = &p->nodes[i];
        x->types = T_BOOL;
        if (is_const(p, l)) {
            bool lv = p->nodes[l].v.type == HD_EXPR_BOOL && p->nodes[l].v.u.b;
            if (lv != is_and) {
                /* false and x, true or x: decided without x */
                to_const(p, i, hd_expr_bool(lv));
            } else {
                /* true and x, false or x: the value of x as true/false */
                x->kind = N_UNARY;
                x->op = OP_TOBOOL;
                x->l = r;
                if (is_const(p, r)) {
                    const hd_expr_val *rv = &p->nodes[r].v;
                    to_const(p, i, hd_expr_bool(rv->type == HD_EXPR_BOOL && rv->u.b));
                }
            }
        }
        return 0;
    }
    case N_IN: return check_in(p, i);
    case N_CALL: return check_call(p, i);
    case N_LIST: return perr(p, HD_EINVAL, x->pos, "a list [...] is only allowed after 'in'");
    }
    return perr(p, HD_EINTERNAL, x->pos, "unknown node %d", x->kind);
}

/* --- code --- */

static int emit_ins(parser *p, int op, int x, int a, int b, uint32_t pos, int lvar, int rvar) {
    if (p->ncode == p->capcode) {
        int cap = p->capcode ? p->capcode * 2 : 32;
        ins *c = realloc(p->code, (size_t)cap * sizeof *c);
        if (c) p->code = c;
        ins_dbg *d = realloc(p->dbg, (size_t)cap * sizeof *d);
        if (d) p->dbg = d;
        if (!c || !d) return perr(p, HD_ENOMEM, pos, "out of memory");
        p->capcode = cap;
    }
    p->code[p->ncode] = (ins){(uint8_t)op, (uint8_t)x, (uint16_t)a, b};
    p->dbg[p->ncode] = (ins_dbg){pos, (int16_t)lvar, (int16_t)rvar};
    return p->ncode++;
}

static int add_const(parser *p, hd_expr_val v, uint32_t pos) {
    if (p->nk == p->capk) {
        int cap = p->capk ? p->capk * 2 : 16;
        hd_expr_val *k = realloc(p->k, (size_t)cap * sizeof *k);
        if (!k) return perr(p, HD_ENOMEM, pos, "out of memory");
        p->k = k;
        p->capk = cap;
    }
    p->k[p->nk] = v;
    return p->nk++;
}

/* Moves the modelled stack depth by d, failing past the machine's stack. */
static int stack(parser *p, int d, uint32_t pos) {
    p->sp += d;
    if (p->sp > p->spmax) p->spmax = p->sp;
    if (p->sp > HD_EXPR_STACK_MAX)
        return perr(p, HD_EINVAL, pos,
                    "the expression is too complex: it needs more than %d evaluation slots",
                    HD_EXPR_STACK_MAX);
    return 0;
}

static int var_of(const parser *p, int i) { return p->nodes[i].kind == N_VAR ? p->nodes[i].l : -1; }

static int swap_cmp(int op) {
    switch (op) {
    case OP_LT: return OP_GT;
    case OP_LE: return OP_GE;
    case OP_GT: return OP_LT;
    case OP_GE: return OP_LE;
    default: return op;
    }
}

static int emit(parser *p, int i) {
    const node *x = &p->nodes[i];
    int l = x->l, r = x->r, k, j;
    uint32_t pos = x->pos;
    switch (x->kind) {
    case N_CONST:
        if ((k = add_const(p, x->v, pos)) < 0) return -1;
        return emit_ins(p, OP_PUSHK, 0, 0, k, pos, -1, -1) < 0 ? -1 : stack(p, 1, pos);
    case N_VAR: return emit_ins(p, OP_LOADV, 0, 0, l, pos, l, -1) < 0 ? -1 : stack(p, 1, pos);
    case N_UNARY:
        if (emit(p, l)) return -1;
        return emit_ins(p, x->op, 0, 0, 0, pos, var_of(p, l), -1) < 0 ? -1 : 0;
    case N_BINARY: {
        int op = x->op;
        if (op >= OP_EQ && op <= OP_GE) {
            /* field <cmp> constant, or constant <cmp> field: one instruction */
            int v = -1, c = -1;
            if (var_of(p, l) >= 0 && is_const(p, r))
                v = l, c = r;
            else if (var_of(p, r) >= 0 && is_const(p, l))
                v = r, c = l, op = swap_cmp(op) | CMP_SWAPPED;
            if (v >= 0) {
                if ((k = add_const(p, p->nodes[c].v, pos)) < 0) return -1;
                int slot = p->nodes[v].l;
                if (emit_ins(p, OP_CMP_VK, op, slot, k, pos, slot, -1) < 0) return -1;
                return stack(p, 1, pos);
            }
        }
        if (emit(p, l) || emit(p, r)) return -1;
        if (emit_ins(p, op, 0, 0, 0, pos, var_of(p, l), var_of(p, r)) < 0) return -1;
        return stack(p, -1, pos);
    }
    case N_AND:
    case N_OR:
        if (emit(p, l)) return -1;
        if ((j = emit_ins(p, x->kind == N_AND ? OP_JFALSE : OP_JTRUE, 0, 0, 0, pos, var_of(p, l),
                          -1)) < 0)
            return -1;
        if (stack(p, -1, pos) || emit(p, r)) return -1;
        if (emit_ins(p, OP_TOBOOL, x->kind == N_OR, 0, 0, pos, var_of(p, r), -1) < 0) return -1;
        p->code[j].b = p->ncode;
        return 0;
    case N_IN: {
        int neg = x->flag;
        const node *rn = &p->nodes[r];
        if (var_of(p, l) >= 0 && rn->kind == N_CONST) {
            if ((k = add_const(p, rn->v, pos)) < 0) return -1;
            if (emit_ins(p, OP_IN_VK, neg, p->nodes[l].l, k, pos, p->nodes[l].l, -1) < 0) return -1;
            return stack(p, 1, pos);
        }
        if (emit(p, l)) return -1;
        if (rn->kind == N_LIST) {
            int n = rn->r;
            for (int a = rn->l; a >= 0; a = p->nodes[a].next)
                if (emit(p, a)) return -1;
            if (emit_ins(p, OP_INLIST, neg, n, 0, pos, var_of(p, l), -1) < 0) return -1;
            return stack(p, -n, pos);
        }
        if (emit(p, r)) return -1;
        if (emit_ins(p, OP_IN, neg, 0, 0, pos, var_of(p, l), var_of(p, r)) < 0) return -1;
        return stack(p, -1, pos);
    }
    case N_CALL: { /* min, max: the rest became unary, binary or a slot */
        for (int a = l; a >= 0; a = p->nodes[a].next)
            if (emit(p, a)) return -1;
        if (emit_ins(p, x->op, 0, r, 0, pos, -1, -1) < 0) return -1;
        return stack(p, -(r - 1), pos);
    }
    }
    return perr(p, HD_EINTERNAL, pos, "cannot emit node %d", x->kind);
}

/* --- the whole --- */

static void parser_free(parser *p) {
    for (int i = 0; i < p->nvars; i++) free((char *)p->vars[i].name);
    free(p->nodes);
    free(p->names);
    free(p->strs);
    free(p->lists);
    free(p->code);
    free(p->dbg);
    free(p->k);
}

/* Checks the bytes are UTF-8 without NULs before anything else reads them. */
static int check_text(parser *p) {
    const unsigned char *s = (const unsigned char *)p->src;
    for (size_t i = 0; i < p->len;) {
        uint32_t cp;
        int l = utf8_dec(s + i, p->len - i, &cp);
        if (!l)
            return perr(p, HD_ESYNTAX, i, "invalid UTF-8 (byte 0x%02X); expressions are UTF-8 text",
                        s[i]);
        if (cp == 0) return perr(p, HD_ESYNTAX, i, "the expression contains a NUL byte");
        i += (size_t)l;
    }
    return 0;
}

hd_expr *hd_expr_parse_ex(const char *src, size_t len, hd_expr_pos *errpos, hd_err *err) {
    parser p;
    hd_expr *e = NULL;
    memset(&p, 0, sizeof p);
    p.err = err;
    p.epos = errpos;
    p.src = src ? src : "";
    p.len = src ? len : 0;
    p.t.kind = TK_EOF;
    p.prev.kind = TK_EOF;
    if (errpos) memset(errpos, 0, sizeof *errpos);
    hd_err_clear(err);
    if (!src && len) {
        hd_err_set(err, HD_EINVAL, NULL, "line 1, column 1: no source text");
        if (errpos) errpos->line = errpos->column = 1;
        return NULL;
    }
    if (p.len > HD_EXPR_SRC_MAX) {
        /* place the error at the first byte past the limit (on a character start) */
        size_t at = HD_EXPR_SRC_MAX;
        while (at > 0 && ((unsigned char)p.src[at] & 0xC0) == 0x80) at--;
        p.len = HD_EXPR_SRC_MAX;
        perr(&p, HD_EINVAL, at, "the expression is %zu bytes long; the limit is %d", len,
             HD_EXPR_SRC_MAX);
        return NULL;
    }
    if (check_text(&p)) goto done;
    p.names = malloc(p.len + 1);
    p.strs = malloc(p.len + 1);
    if (!p.names || !p.strs) {
        perr(&p, HD_ENOMEM, 0, "out of memory");
        goto done;
    }
    if (next(&p)) goto done;
    uint32_t root_pos = p.t.pos; /* where the expression starts */
    int root = parse_expr(&p);
    if (root < 0 || p.failed) goto done;
    if (p.t.kind != TK_EOF) {
        char b[80];
        perr(&p, HD_ESYNTAX, p.t.pos,
             "expected an operator (such as and, or, ==, +) or the end of the expression, found %s",
             describe(&p, &p.t, b, sizeof b));
        goto done;
    }
    p.lists = malloc((size_t)p.nnodes * sizeof *p.lists);
    if (!p.lists) {
        perr(&p, HD_ENOMEM, 0, "out of memory");
        goto done;
    }
    if (check(&p, root) || emit(&p, root) || p.failed) goto done;
    if (emit_ins(&p, OP_RET, 0, 0, 0, root_pos, -1, -1) < 0) goto done;

    e = calloc(1, sizeof *e);
    char *copy = malloc(p.len + 1);
    hd_expr_var *vars = malloc((size_t)(p.nvars ? p.nvars : 1) * sizeof *vars);
    if (!e || !copy || !vars) {
        free(e);
        free(copy);
        free(vars);
        e = NULL;
        perr(&p, HD_ENOMEM, 0, "out of memory");
        goto done;
    }
    memcpy(copy, p.src, p.len);
    copy[p.len] = '\0';
    memcpy(vars, p.vars, (size_t)p.nvars * sizeof *vars);
    e->code = p.code;
    e->dbg = p.dbg;
    e->ncode = (uint32_t)p.ncode;
    e->k = p.k;
    e->nk = (uint32_t)p.nk;
    e->vars = vars;
    e->nvars = p.nvars;
    e->strs = p.strs;
    e->lists = p.lists;
    e->src = copy;
    e->srclen = p.len;
    e->result_types = p.nodes[root].types;
    e->root_pos = root_pos;
    /* now owned by e */
    p.code = NULL;
    p.dbg = NULL;
    p.k = NULL;
    p.strs = NULL;
    p.lists = NULL;
    p.nvars = 0;
done:
    parser_free(&p);
    return e;
}

hd_expr *hd_expr_parse(const char *src, size_t len, hd_err *err) {
    return hd_expr_parse_ex(src, len, NULL, err);
}
