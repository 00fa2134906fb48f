/* csv.c - a streaming RFC 4180 reader with its own read buffer (fast enough for
 * a million-line import), line numbers for error messages, and a clear word
 * when a file is GBK rather than UTF-8. */
#include <stdlib.h>
#include <string.h>

#include "text/text.h"

#define RDBUF 65536

struct hd_csv {
    FILE *f;
    char sep;
    unsigned char rd[RDBUF];
    size_t rpos, rlen;
    bool eof;
    int64_t line;     /* current physical line (1-based) */
    int64_t rec_line; /* line the current record started on */
    int64_t offset;   /* bytes consumed */
    char *data;       /* fields, each NUL-terminated, back to back */
    size_t dlen, dcap;
    size_t *starts; /* offset of each field in data */
    size_t *lens;
    int nf;
    bool first;
};

hd_csv *hd_csv_new(FILE *f, char sep) {
    hd_csv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->f = f;
    c->sep = sep;
    c->line = 1;
    c->first = true;
    c->starts = malloc(sizeof(size_t) * HD_CSV_FIELDS_MAX);
    c->lens = malloc(sizeof(size_t) * HD_CSV_FIELDS_MAX);
    c->dcap = 4096;
    c->data = malloc(c->dcap);
    if (!c->starts || !c->lens || !c->data) {
        hd_csv_free(c);
        return NULL;
    }
    return c;
}

void hd_csv_free(hd_csv *c) {
    if (!c) return;
    free(c->starts);
    free(c->lens);
    free(c->data);
    free(c);
}

static int getb(hd_csv *c) {
    if (c->rpos == c->rlen) {
        if (c->eof) return -1;
        c->rlen = fread(c->rd, 1, RDBUF, c->f);
        c->rpos = 0;
        if (c->rlen == 0) {
            c->eof = true;
            return -1;
        }
    }
    c->offset++;
    return c->rd[c->rpos++];
}

static int peekb(hd_csv *c) {
    int b = getb(c);
    if (b >= 0) {
        c->rpos--;
        c->offset--;
    }
    return b;
}

static bool put(hd_csv *c, char ch) {
    if (c->dlen + 1 >= c->dcap) {
        size_t cap = c->dcap * 2;
        char *p = realloc(c->data, cap);
        if (!p) return false;
        c->data = p;
        c->dcap = cap;
    }
    c->data[c->dlen++] = ch;
    return true;
}

/* Stores one byte of the field that started at fstart. Past HD_CSV_FIELD_MAX
 * bytes it stores nothing and sets *toolong, so a huge field costs no memory
 * while the reader still finds where it ends. */
static bool putf(hd_csv *c, size_t fstart, char ch, bool *toolong) {
    if (c->dlen - fstart >= HD_CSV_FIELD_MAX) {
        *toolong = true;
        return true;
    }
    return put(c, ch);
}

/* Heuristic: mostly pairs of a lead byte 0x81-0xFE and a trail 0x40-0xFE. */
static bool looks_gbk(const char *s, size_t n) {
    size_t pairs = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b < 0x80) continue;
        if (b >= 0x81 && b <= 0xFE && i + 1 < n) {
            unsigned char t = (unsigned char)s[i + 1];
            if (t >= 0x40 && t <= 0xFE && t != 0x7F) {
                pairs++;
                i++;
                continue;
            }
        }
        bad++;
    }
    return pairs > 0 && bad == 0;
}

/* Skips the rest of the physical line after an error so the next record starts clean. */
static void skip_line(hd_csv *c) {
    int b;
    while ((b = getb(c)) >= 0 && b != '\n') {}
    if (b == '\n') c->line++;
}

int hd_csv_next(hd_csv *c, hd_err *err) {
    c->dlen = 0;
    c->nf = 0;
    if (c->first) {
        c->first = false;
        /* The first read fills the buffer with min(RDBUF, file size) bytes, so
         * a BOM, when there is one, is whole in it. Looking at the buffer
         * rather than reading and putting back keeps a file shorter than
         * three bytes ("\xEF") from rewinding past its start. */
        if (peekb(c) == 0xEF && c->rlen - c->rpos >= 3 &&
            memcmp(c->rd + c->rpos, "\xEF\xBB\xBF", 3) == 0) {
            c->rpos += 3;
            c->offset += 3;
        }
    }
    int b = peekb(c);
    if (b < 0) return 0;
    c->rec_line = c->line;
    bool inq = false, was_quoted = false, toolong = false;
    size_t fstart = 0;
    for (;;) {
        b = getb(c);
        if (inq) {
            if (b < 0) {
                hd_err_set(err, HD_ESYNTAX, "", "line %lld: a quoted field is never closed",
                           (long long)c->rec_line);
                return -1;
            }
            if (b == '"') {
                if (peekb(c) == '"') {
                    getb(c);
                    if (!putf(c, fstart, '"', &toolong)) goto oom;
                } else {
                    inq = false;
                }
                continue;
            }
            if (b == '\n') c->line++;
            if (!putf(c, fstart, (char)b, &toolong)) goto oom;
            continue;
        }
        if (b == '"' && c->dlen == fstart && !was_quoted) {
            inq = true;
            was_quoted = true;
            continue;
        }
        if (b < 0 || b == c->sep || b == '\n' || b == '\r') {
            if (b == '\r') {
                if (peekb(c) == '\n') getb(c);
                b = '\n';
            }
            if (c->nf >= HD_CSV_FIELDS_MAX) {
                hd_err_set(err, HD_ETOOBIG, "", "line %lld: more than %d fields",
                           (long long)c->rec_line, HD_CSV_FIELDS_MAX);
                if (b != '\n' && b >= 0)
                    skip_line(c);
                else if (b == '\n')
                    c->line++;
                return -1;
            }
            size_t flen = c->dlen - fstart;
            if (!put(c, '\0')) goto oom;
            if (toolong) {
                hd_err_set(err, HD_ETOOBIG, "", "line %lld: field %d is longer than %d bytes",
                           (long long)c->rec_line, c->nf + 1, HD_CSV_FIELD_MAX);
                if (b != '\n' && b >= 0)
                    skip_line(c);
                else if (b == '\n')
                    c->line++;
                return -1;
            }
            c->starts[c->nf] = fstart;
            c->lens[c->nf] = flen;
            c->nf++;
            fstart = c->dlen;
            was_quoted = false;
            toolong = false;
            if (b < 0 || b == '\n') {
                if (b == '\n') c->line++;
                break;
            }
            continue;
        }
        if (was_quoted) {
            hd_err_set(err, HD_ESYNTAX, "", "line %lld: text after a closing quote in field %d",
                       (long long)c->rec_line, c->nf + 1);
            skip_line(c);
            return -1;
        }
        if (!putf(c, fstart, (char)b, &toolong)) goto oom;
    }
    for (int i = 0; i < c->nf; i++) {
        const char *f = c->data + c->starts[i];
        /* NUL is valid UTF-8, but every caller takes fields as C strings and
         * would silently cut them short; a NUL in text is nearly always a
         * UTF-16 file (Excel's "Unicode text"), so name that. */
        if (memchr(f, '\0', c->lens[i])) {
            hd_err_set(err, HD_EINVAL, "",
                       "line %lld: field %d holds a NUL byte; if the file is UTF-16, save it as "
                       "UTF-8 and try again",
                       (long long)c->rec_line, i + 1);
            return -1;
        }
        if (!hd_utf8_valid(f, c->lens[i])) {
            if (looks_gbk(f, c->lens[i]))
                hd_err_set(err, HD_EINVAL, "",
                           "line %lld: the file looks GBK-encoded; save it as "
                           "UTF-8 and try again",
                           (long long)c->rec_line);
            else
                hd_err_set(err, HD_EINVAL, "", "line %lld: field %d is not valid UTF-8",
                           (long long)c->rec_line, i + 1);
            return -1;
        }
    }
    return 1;
oom:
    hd_err_set(err, HD_ENOMEM, "", "line %lld: out of memory", (long long)c->rec_line);
    return -1;
}

int hd_csv_nfields(const hd_csv *c) { return c->nf; }

const char *hd_csv_field(const hd_csv *c, int i, size_t *len) {
    if (i < 0 || i >= c->nf) {
        if (len) *len = 0;
        return "";
    }
    if (len) *len = c->lens[i];
    return c->data + c->starts[i];
}

int64_t hd_csv_line(const hd_csv *c) { return c->rec_line; }
int64_t hd_csv_offset(const hd_csv *c) { return c->offset; }
