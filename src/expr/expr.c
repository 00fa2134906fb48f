/* expr.c - the life of a parsed expression: its slots, its source, freeing
 * it, and turning byte offsets into the line/column every message carries. */
#include <stdlib.h>
#include <string.h>

#include "expr/expr_int.h"

void hd_expr__pos(const char *src, size_t len, size_t off, hd_expr_pos *pos) {
    int line = 1, col = 1;
    if (off > len) off = len;
    for (size_t i = 0; i < off; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c == '\n' || (c == '\r' && !(i + 1 < len && src[i + 1] == '\n'))) {
            line++;
            col = 1;
        } else if (c == '\r') {
            /* the '\r' of "\r\n": the '\n' ends the line */
        } else if ((c & 0xC0) != 0x80) {
            col++; /* count lead bytes only: columns are characters */
        }
    }
    pos->line = line;
    pos->column = col;
    pos->offset = off;
}

bool hd_expr_error_pos(const hd_err *err, hd_expr_pos *pos) {
    memset(pos, 0, sizeof *pos);
    if (!err || err->rc == HD_OK) return false;
    const char *m = err->msg;
    if (strncmp(m, "line ", 5) != 0) return false;
    char *end;
    long line = strtol(m + 5, &end, 10);
    if (end == m + 5 || strncmp(end, ", column ", 9) != 0) return false;
    const char *c = end + 9;
    long col = strtol(c, &end, 10);
    if (end == c || *end != ':' || line < 1 || col < 1 || line > 1000000 || col > 1000000)
        return false;
    pos->line = (int)line;
    pos->column = (int)col;
    return true;
}

void hd_expr_free(hd_expr *e) {
    if (!e) return;
    for (int i = 0; i < e->nvars; i++) free((char *)e->vars[i].name);
    free(e->vars);
    free(e->code);
    free(e->dbg);
    free(e->k);
    free(e->strs);
    free(e->lists);
    free(e->src);
    free(e);
}

int hd_expr_nvars(const hd_expr *e) { return e->nvars; }

const char *hd_expr_var_name(const hd_expr *e, int i) {
    return i >= 0 && i < e->nvars ? e->vars[i].name : NULL;
}

const hd_expr_var *hd_expr_var_info(const hd_expr *e, int i) {
    return i >= 0 && i < e->nvars ? &e->vars[i] : NULL;
}

int hd_expr_var_find(const hd_expr *e, const char *name) {
    for (int i = 0; i < e->nvars; i++)
        if (strcmp(e->vars[i].name, name) == 0) return i;
    return -1;
}

unsigned hd_expr_result_types(const hd_expr *e) { return e->result_types; }

const char *hd_expr_source(const hd_expr *e, size_t *len) {
    if (len) *len = e->srclen;
    return e->src;
}
