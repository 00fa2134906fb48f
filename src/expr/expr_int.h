/* expr_int.h - what the parser (parse.c), the machine (vm.c) and the
 * lifecycle code (expr.c) share: the instruction set and the program layout.
 * Nothing here is part of the public contract. */
#ifndef HD_EXPR_INT_H
#define HD_EXPR_INT_H

#include <stdint.h>

#include "expr/expr.h"

/* Type masks used by the static checks: bit (1u << HD_EXPR_x). */
#define T_NULL (1u << HD_EXPR_NULL)
#define T_BOOL (1u << HD_EXPR_BOOL)
#define T_INT  (1u << HD_EXPR_INT)
#define T_REAL (1u << HD_EXPR_REAL)
#define T_STR  (1u << HD_EXPR_STR)
#define T_ARR  (1u << HD_EXPR_ARRAY)
#define T_NUM  (T_INT | T_REAL)
#define T_ANY  (T_NULL | T_BOOL | T_NUM | T_STR | T_ARR)

/* Instructions. Binary operators pop two values and push one. */
enum {
    OP_RET,    /* result is the top of the stack */
    OP_PUSHK,  /* push constant b */
    OP_LOADV,  /* push vars[b] */
    OP_NEG,    /* unary minus */
    OP_NOT,    /* boolean not; null counts as false */
    OP_TOBOOL, /* check bool/null, null becomes false */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV, /* real division */
    OP_MOD, /* floored modulo: the result has the sign of the divisor */
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,     /* x in (list or string); x = 1 negates (not in) */
    OP_INLIST, /* x e1..e[a] on the stack; x = 1 negates */
    OP_JFALSE, /* and: if top is false/null, make it false and jump to b; else pop */
    OP_JTRUE,  /* or: if top is true, jump to b; else pop */
    OP_FLOOR,  /* one argument; the x-DIV forms divide two integers exactly */
    OP_CEIL,
    OP_ROUND,
    OP_FLOORDIV,
    OP_CEILDIV,
    OP_ROUNDDIV,
    OP_ABS,
    OP_MIN, /* a arguments */
    OP_MAX,
    /* fused forms of the common `field <cmp> constant`: a = slot, b = const,
     * x = the comparison (OP_EQ..OP_GE), plus CMP_SWAPPED when the source
     * had the constant first (`5 < amount` runs as `amount > 5`) */
    OP_CMP_VK,
    OP_IN_VK, /* vars[a] in constant b; x = 1 negates */
    OP_NOPS
};

#define CMP_OP_MASK 0x7F
#define CMP_SWAPPED 0x80

typedef struct ins {
    uint8_t op;
    uint8_t x;
    uint16_t a;
    int32_t b;
} ins;

/* Cold per-instruction data, read only to word an error. */
typedef struct ins_dbg {
    uint32_t pos; /* byte offset of the operator in the source */
    int16_t lvar; /* slot whose value is the left / only operand, or -1 */
    int16_t rvar; /* slot of the right operand, or -1 */
} ins_dbg;

struct hd_expr {
    ins *code;
    ins_dbg *dbg;
    uint32_t ncode;
    hd_expr_val *k; /* constants; strings point into strs, lists into lists */
    uint32_t nk;
    hd_expr_var *vars;
    int nvars;
    char *strs;         /* unescaped string literals */
    hd_expr_val *lists; /* elements of constant lists */
    char *src;          /* copy of the source, NUL-terminated */
    size_t srclen;
    unsigned result_types;
    uint32_t root_pos; /* byte offset where the expression starts */
};

/* Shared by the machine and by constant folding in the parser, so both give
 * the same answer. Each returns 0, or -1 with a sentence in why. */
int hd_expr__binary(int op, const hd_expr_val *l, const hd_expr_val *r, hd_expr_val *out, char *why,
                    size_t whylen);
int hd_expr__unary(int op, const hd_expr_val *v, hd_expr_val *out, char *why, size_t whylen);
int hd_expr__minmax(int op, const hd_expr_val *args, int n, hd_expr_val *out, char *why,
                    size_t whylen);
/* x in list: 0 with *out set, or -1. */
int hd_expr__in(const hd_expr_val *x, const hd_expr_val *list, int n, bool *out, char *why,
                size_t whylen);
int hd_expr__in_value(const hd_expr_val *x, const hd_expr_val *rhs, bool *out, char *why,
                      size_t whylen);

/* Text of an operator for messages ("+", ">=", "floor", ...). */
const char *hd_expr__op_text(int op);
/* 1-based line and column of byte offset off in src. */
void hd_expr__pos(const char *src, size_t len, size_t off, hd_expr_pos *pos);

#endif
