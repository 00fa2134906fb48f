/* vm.c - the stack machine that evaluates a parsed expression, and the
 * operator semantics it shares with constant folding in the parser.
 *
 * The loop handles the common cases (two integers, a field against a
 * constant) inline and falls back to the hd_expr__ helpers for the rest, so
 * the semantics live in one place. Nothing here allocates. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "expr/expr_int.h"

#define TWO63 9223372036854775808.0

const char *hd_expr_type_name(hd_expr_type t) {
    switch (t) {
    case HD_EXPR_NULL: return "null";
    case HD_EXPR_BOOL: return "boolean";
    case HD_EXPR_INT: return "integer";
    case HD_EXPR_REAL: return "real";
    case HD_EXPR_STR: return "string";
    case HD_EXPR_ARRAY: return "list";
    }
    return "unknown";
}

/* "a number", "a string", ... for sentences. */
static const char *kind(const hd_expr_val *v) {
    switch (v->type) {
    case HD_EXPR_NULL: return "null";
    case HD_EXPR_BOOL: return "true/false";
    case HD_EXPR_INT:
    case HD_EXPR_REAL: return "a number";
    case HD_EXPR_STR: return "a string";
    case HD_EXPR_ARRAY: return "a list";
    }
    return "an unknown value";
}

const char *hd_expr__op_text(int op) {
    switch (op) {
    case OP_NEG: return "-";
    case OP_NOT: return "not";
    case OP_TOBOOL: return "and/or";
    case OP_ADD: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_DIV: return "/";
    case OP_MOD: return "%";
    case OP_EQ: return "==";
    case OP_NE: return "!=";
    case OP_LT: return "<";
    case OP_LE: return "<=";
    case OP_GT: return ">";
    case OP_GE: return ">=";
    case OP_IN:
    case OP_INLIST:
    case OP_IN_VK: return "in";
    case OP_JFALSE: return "and";
    case OP_JTRUE: return "or";
    case OP_FLOOR:
    case OP_FLOORDIV: return "floor";
    case OP_CEIL:
    case OP_CEILDIV: return "ceil";
    case OP_ROUND:
    case OP_ROUNDDIV: return "round";
    case OP_ABS: return "abs";
    case OP_MIN: return "min";
    case OP_MAX: return "max";
    }
    return "?";
}

static int fail(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t whylen, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool is_num(const hd_expr_val *v) {
    return v->type == HD_EXPR_INT || v->type == HD_EXPR_REAL;
}

static double as_real(const hd_expr_val *v) {
    return v->type == HD_EXPR_INT ? (double)v->u.i : v->u.d;
}

static bool both_num(const hd_expr_val *a, const hd_expr_val *b) {
    return (((1u << a->type) | (1u << b->type)) & ~T_NUM) == 0;
}

/* Sign of i - d, exactly (no rounding of i to double); 2 when d is NaN. */
static int cmp_int_real(int64_t i, double d) {
    if (d != d) return 2;
    if (d >= TWO63) return -1;
    if (d < -TWO63) return 1;
    double t = trunc(d);
    int64_t ti = (int64_t)t;
    if (i < ti) return -1;
    if (i > ti) return 1;
    return d > t ? -1 : d < t ? 1 : 0;
}

/* -1, 0, 1, or 2 when unordered (NaN). Both must be numbers. */
static int cmp_num(const hd_expr_val *a, const hd_expr_val *b) {
    if (a->type == HD_EXPR_INT && b->type == HD_EXPR_INT)
        return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
    if (a->type == HD_EXPR_INT) return cmp_int_real(a->u.i, b->u.d);
    if (b->type == HD_EXPR_INT) {
        int c = cmp_int_real(b->u.i, a->u.d);
        return c == 2 ? 2 : -c;
    }
    double x = a->u.d, y = b->u.d;
    if (x < y) return -1;
    if (x > y) return 1;
    if (x == y) return 0;
    return 2;
}

static int cmp_str(const hd_expr_val *a, const hd_expr_val *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->u.s, b->u.s, n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return a->len < b->len ? -1 : a->len > b->len;
}

/* Equality of two non-null values of the same kind: 1, 0, or -1 (kinds
 * differ or cannot be compared). */
static int equal(const hd_expr_val *a, const hd_expr_val *b) {
    if (is_num(a) && is_num(b)) return cmp_num(a, b) == 0;
    if (a->type != b->type || a->type == HD_EXPR_ARRAY) return -1;
    if (a->type == HD_EXPR_STR)
        return a->len == b->len && (a->len == 0 || memcmp(a->u.s, b->u.s, a->len) == 0);
    if (a->type == HD_EXPR_BOOL) return a->u.b == b->u.b;
    return -1;
}

static int real_result(double d, hd_expr_val *out, int op, char *why, size_t whylen) {
    if (!isfinite(d))
        return fail(why, whylen, "'%s' gives a number out of range", hd_expr__op_text(op));
    *out = hd_expr_real(d);
    return 0;
}

/* A real to an integer, for floor/ceil/round. */
static int to_int(double d, int op, hd_expr_val *out, char *why, size_t whylen) {
    if (!(d >= -TWO63 && d < TWO63))
        return fail(why, whylen, "%s() gives a number outside the integer range",
                    hd_expr__op_text(op));
    *out = hd_expr_int((int64_t)d);
    return 0;
}

static int int_div(int op, int64_t a, int64_t b, hd_expr_val *out, char *why, size_t whylen) {
    if (b == 0) return fail(why, whylen, "division by zero in %s()", hd_expr__op_text(op));
    if (a == INT64_MIN && b == -1)
        return fail(why, whylen, "integer overflow in %s()", hd_expr__op_text(op));
    int64_t q = a / b, r = a % b;
    if (r != 0) {
        bool neg = (a < 0) != (b < 0);
        if (op == OP_FLOORDIV && neg) q--;
        if (op == OP_CEILDIV && !neg) q++;
        if (op == OP_ROUNDDIV) {
            /* half away from zero: |r| * 2 >= |b| rounds the magnitude up */
            uint64_t ur = r < 0 ? (uint64_t)0 - (uint64_t)r : (uint64_t)r;
            uint64_t ub = b < 0 ? (uint64_t)0 - (uint64_t)b : (uint64_t)b;
            if (ur >= ub - ur) q += neg ? -1 : 1;
        }
    }
    *out = hd_expr_int(q);
    return 0;
}

int hd_expr__binary(int op, const hd_expr_val *lp, const hd_expr_val *rp, hd_expr_val *out,
                    char *why, size_t whylen) {
    hd_expr_val l = *lp, r = *rp; /* out may alias an input */
    switch (op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
    case OP_MOD:
    case OP_FLOORDIV:
    case OP_CEILDIV:
    case OP_ROUNDDIV: {
        bool fn = op >= OP_FLOORDIV;
        if ((l.type != HD_EXPR_NULL && !is_num(&l)) || (r.type != HD_EXPR_NULL && !is_num(&r))) {
            const hd_expr_val *bad = (l.type != HD_EXPR_NULL && !is_num(&l)) ? &l : &r;
            return fail(why, whylen,
                        fn ? "%s() needs a number, got %s" : "'%s' needs numbers, got %s",
                        hd_expr__op_text(op), kind(bad));
        }
        if (l.type == HD_EXPR_NULL || r.type == HD_EXPR_NULL) {
            *out = hd_expr_null();
            return 0;
        }
        if (l.type == HD_EXPR_INT && r.type == HD_EXPR_INT) {
            int64_t a = l.u.i, b = r.u.i, v = 0;
            switch (op) {
            case OP_ADD:
                if (__builtin_add_overflow(a, b, &v)) break;
                *out = hd_expr_int(v);
                return 0;
            case OP_SUB:
                if (__builtin_sub_overflow(a, b, &v)) break;
                *out = hd_expr_int(v);
                return 0;
            case OP_MUL:
                if (__builtin_mul_overflow(a, b, &v)) break;
                *out = hd_expr_int(v);
                return 0;
            case OP_DIV:
                if (b == 0) return fail(why, whylen, "division by zero");
                *out = hd_expr_real((double)a / (double)b);
                return 0;
            case OP_MOD:
                if (b == 0) return fail(why, whylen, "division by zero in '%%'");
                v = b == -1 ? 0 : a % b;
                if (v != 0 && ((v < 0) != (b < 0))) v += b;
                *out = hd_expr_int(v);
                return 0;
            default: return int_div(op, a, b, out, why, whylen);
            }
            return fail(why, whylen, "integer overflow in '%s'", hd_expr__op_text(op));
        }
        double a = as_real(&l), b = as_real(&r);
        switch (op) {
        case OP_ADD: return real_result(a + b, out, op, why, whylen);
        case OP_SUB: return real_result(a - b, out, op, why, whylen);
        case OP_MUL: return real_result(a * b, out, op, why, whylen);
        case OP_DIV:
            if (b == 0) return fail(why, whylen, "division by zero");
            return real_result(a / b, out, op, why, whylen);
        case OP_MOD: {
            if (b == 0) return fail(why, whylen, "division by zero in '%%'");
            double m = fmod(a, b);
            if (m != 0 && ((m < 0) != (b < 0))) m += b;
            return real_result(m, out, op, why, whylen);
        }
        default: {
            if (b == 0) return fail(why, whylen, "division by zero in %s()", hd_expr__op_text(op));
            double q = a / b;
            if (!isfinite(q))
                return fail(why, whylen, "%s() of a number out of range", hd_expr__op_text(op));
            q = op == OP_FLOORDIV ? floor(q) : op == OP_CEILDIV ? ceil(q) : round(q);
            return to_int(q, op, out, why, whylen);
        }
        }
    }
    case OP_EQ:
    case OP_NE: {
        int eq;
        if (l.type == HD_EXPR_NULL || r.type == HD_EXPR_NULL) {
            eq = l.type == r.type;
        } else if ((eq = equal(&l, &r)) < 0) {
            if (l.type == HD_EXPR_ARRAY || r.type == HD_EXPR_ARRAY)
                return fail(why, whylen, "'%s' cannot compare a list; use 'in'",
                            hd_expr__op_text(op));
            snprintf(why, whylen, "'%s' cannot compare %s with %s", hd_expr__op_text(op), kind(&l),
                     kind(&r));
            return -1;
        }
        *out = hd_expr_bool(op == OP_EQ ? eq : !eq);
        return 0;
    }
    case OP_LT:
    case OP_LE:
    case OP_GT:
    case OP_GE: {
        int c;
        if (l.type == HD_EXPR_NULL || r.type == HD_EXPR_NULL) {
            *out = hd_expr_bool(false);
            return 0;
        }
        if (is_num(&l) && is_num(&r)) {
            c = cmp_num(&l, &r);
        } else if (l.type == HD_EXPR_STR && r.type == HD_EXPR_STR) {
            c = cmp_str(&l, &r);
        } else {
            snprintf(why, whylen, "'%s' needs two numbers or two strings, got %s and %s",
                     hd_expr__op_text(op), kind(&l), kind(&r));
            return -1;
        }
        bool b = c != 2 && (op == OP_LT   ? c < 0
                            : op == OP_LE ? c <= 0
                            : op == OP_GT ? c > 0
                                          : c >= 0);
        *out = hd_expr_bool(b);
        return 0;
    }
    }
    return fail(why, whylen, "unknown operator");
}

int hd_expr__unary(int op, const hd_expr_val *vp, hd_expr_val *out, char *why, size_t whylen) {
    hd_expr_val v = *vp;
    switch (op) {
    case OP_NOT:
    case OP_TOBOOL:
        if (v.type == HD_EXPR_NULL) {
            *out = hd_expr_bool(op == OP_NOT);
            return 0;
        }
        if (v.type != HD_EXPR_BOOL)
            return fail(why, whylen, "'%s' needs true/false, got %s", hd_expr__op_text(op),
                        kind(&v));
        *out = hd_expr_bool(op == OP_NOT ? !v.u.b : v.u.b);
        return 0;
    case OP_NEG:
    case OP_FLOOR:
    case OP_CEIL:
    case OP_ROUND:
    case OP_ABS:
        if (v.type == HD_EXPR_NULL) {
            *out = v;
            return 0;
        }
        if (!is_num(&v))
            return fail(why, whylen,
                        op == OP_NEG ? "'%s' needs a number, got %s"
                                     : "%s() needs a number, got %s",
                        hd_expr__op_text(op), kind(&v));
        if (v.type == HD_EXPR_INT) {
            if ((op == OP_NEG || op == OP_ABS) && v.u.i == INT64_MIN)
                return fail(why, whylen, "integer overflow in '%s'", hd_expr__op_text(op));
            if (op == OP_NEG) v.u.i = -v.u.i;
            if (op == OP_ABS && v.u.i < 0) v.u.i = -v.u.i;
            *out = v;
            return 0;
        }
        switch (op) {
        case OP_NEG: *out = hd_expr_real(-v.u.d); return 0;
        case OP_ABS: *out = hd_expr_real(fabs(v.u.d)); return 0;
        case OP_FLOOR: return to_int(floor(v.u.d), op, out, why, whylen);
        case OP_CEIL: return to_int(ceil(v.u.d), op, out, why, whylen);
        default: return to_int(round(v.u.d), op, out, why, whylen);
        }
    }
    return fail(why, whylen, "unknown operator");
}

int hd_expr__minmax(int op, const hd_expr_val *args, int n, hd_expr_val *out, char *why,
                    size_t whylen) {
    bool any_null = false, any_real = false;
    int best = -1;
    for (int i = 0; i < n; i++) {
        if (args[i].type == HD_EXPR_NULL) {
            any_null = true;
            continue;
        }
        if (!is_num(&args[i]))
            return fail(why, whylen, "%s() needs numbers, got %s", hd_expr__op_text(op),
                        kind(&args[i]));
        if (args[i].type == HD_EXPR_REAL) any_real = true;
        if (best < 0) {
            best = i;
            continue;
        }
        int c = cmp_num(&args[i], &args[best]);
        if (c == 2) {
            /* NaN wins, so it is not silently dropped */
            if (args[i].u.d != args[i].u.d) best = i;
        } else if (op == OP_MIN ? c < 0 : c > 0) {
            best = i;
        }
    }
    if (any_null || best < 0) {
        *out = hd_expr_null();
        return 0;
    }
    hd_expr_val v = args[best];
    *out = any_real ? hd_expr_real(as_real(&v)) : v;
    return 0;
}

int hd_expr__in(const hd_expr_val *xp, const hd_expr_val *list, int n, bool *out, char *why,
                size_t whylen) {
    hd_expr_val x = *xp;
    *out = false;
    if (x.type == HD_EXPR_NULL) return 0;
    if (x.type == HD_EXPR_ARRAY) {
        /* a list on the left: does any of its elements occur on the right? */
        for (uint32_t i = 0; i < x.len; i++) {
            if (x.u.a[i].type == HD_EXPR_ARRAY)
                return fail(why, whylen, "'in' cannot look for a list inside a list");
            if (hd_expr__in(&x.u.a[i], list, n, out, why, whylen)) return -1;
            if (*out) return 0;
        }
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (list[i].type == HD_EXPR_NULL) continue;
        int eq = equal(&x, &list[i]);
        if (eq < 0) {
            snprintf(why, whylen, "'in' cannot compare %s with %s in the list", kind(&x),
                     kind(&list[i]));
            return -1;
        }
        if (eq) {
            *out = true;
            return 0;
        }
    }
    return 0;
}

int hd_expr__in_value(const hd_expr_val *x, const hd_expr_val *rhs, bool *out, char *why,
                      size_t whylen) {
    *out = false;
    switch (rhs->type) {
    case HD_EXPR_NULL: return 0;
    case HD_EXPR_ARRAY: return hd_expr__in(x, rhs->u.a, (int)rhs->len, out, why, whylen);
    case HD_EXPR_STR:
        if (x->type == HD_EXPR_NULL) return 0;
        if (x->type == HD_EXPR_ARRAY) {
            for (uint32_t i = 0; i < x->len && !*out; i++) {
                if (x->u.a[i].type == HD_EXPR_ARRAY)
                    return fail(why, whylen, "'in' cannot look for a list inside a list");
                if (hd_expr__in_value(&x->u.a[i], rhs, out, why, whylen)) return -1;
            }
            return 0;
        }
        if (x->type != HD_EXPR_STR)
            return fail(why, whylen,
                        "'in' with a string on the right needs a string on the left, got %s",
                        kind(x));
        /* substring: "北京" in customer.attributes.address */
        if (x->len == 0)
            *out = true;
        else if (x->len <= rhs->len)
            *out = memmem(rhs->u.s, rhs->len, x->u.s, x->len) != NULL;
        return 0;
    default:
        return fail(why, whylen, "'in' needs a list or a string on the right, got %s", kind(rhs));
    }
}

/* --- the machine --- */

/* Words an evaluation error: position of the failing operator, the message,
 * and which fields fed it. */
static hd_rc vm_fail(const hd_expr *e, const ins *in, const hd_expr_val *vars, const char *why,
                     hd_expr_val *out, hd_err *err) {
    const ins_dbg *d = &e->dbg[in - e->code];
    hd_expr_pos pos;
    hd_expr__pos(e->src, e->srclen, d->pos, &pos);
    char fields[160] = "";
    const char *field = NULL;
    int vs[2] = {d->lvar, d->rvar};
    size_t n = 0;
    for (int i = 0; i < 2; i++) {
        if (vs[i] < 0 || (i == 1 && vs[1] == vs[0])) continue;
        const hd_expr_var *v = &e->vars[vs[i]];
        if (!field) field = v->name;
        int w = snprintf(fields + n, sizeof fields - n, "%s%s is %s", n ? ", " : " (", v->name,
                         hd_expr_type_name(vars[vs[i]].type));
        if (w < 0 || (size_t)w >= sizeof fields - n) break;
        n += (size_t)w;
    }
    if (n && n + 1 < sizeof fields) fields[n++] = ')', fields[n] = '\0';
    *out = hd_expr_null();
    return hd_err_set(err, HD_EINVAL, field, "line %d, column %d: %s%s", pos.line, pos.column, why,
                      n ? fields : "");
}

/* The common `touchpoint in ["store", "web"]` and `"jeans" in
 * lines[*].category`: a string looked up in a list of strings. True when it
 * decided *out; false leaves the general case to hd_expr__in_value. */
static inline bool str_in(const hd_expr_val *x, const hd_expr_val *list, bool *out) {
    if (x->type != HD_EXPR_STR || list->type != HD_EXPR_ARRAY) return false;
    for (uint32_t j = 0; j < list->len; j++) {
        const hd_expr_val *el = &list->u.a[j];
        if (el->type != HD_EXPR_STR) {
            if (el->type == HD_EXPR_NULL) continue;
            return false; /* a type error, or a number: the general path words it */
        }
        if (el->len == x->len && (x->len == 0 || memcmp(el->u.s, x->u.s, x->len) == 0)) {
            *out = true;
            return true;
        }
    }
    *out = false;
    return true;
}

static int swap_cmp(int op) {
    switch (op) {
    case OP_LT: return OP_GT;
    case OP_LE: return OP_GE;
    case OP_GT: return OP_LT;
    case OP_GE: return OP_LE;
    default: return op;
    }
}

static bool cmp_result(int op, int c) {
    switch (op) {
    case OP_LT: return c < 0;
    case OP_LE: return c <= 0;
    case OP_GT: return c > 0;
    default: return c >= 0;
    }
}

hd_rc hd_expr_eval(const hd_expr *e, const hd_expr_val *vars, hd_expr_val *out, hd_err *err) {
    hd_expr_val stack[HD_EXPR_STACK_MAX];
    hd_expr_val *sp = stack; /* next free slot; the top is sp[-1] */
    const ins *code = e->code, *ip = code, *in;
    const hd_expr_val *k = e->k;
    char why[192];

    if (e->nvars > 0 && !vars) {
        *out = hd_expr_null();
        return hd_err_set(err, HD_EINVAL, NULL,
                          "the expression reads %d field(s) but no values "
                          "were given",
                          e->nvars);
    }
    for (;;) {
        in = ip++;
        switch (in->op) {
        case OP_RET: *out = sp[-1]; return HD_OK;
        case OP_PUSHK: *sp++ = k[in->b]; break;
        case OP_LOADV: *sp++ = vars[in->b]; break;
        case OP_ADD:
        case OP_SUB:
        case OP_MUL: {
            hd_expr_val *l = sp - 2, *r = sp - 1;
            int64_t v;
            if (l->type == HD_EXPR_INT && r->type == HD_EXPR_INT) {
                bool ovf = in->op == OP_ADD   ? __builtin_add_overflow(l->u.i, r->u.i, &v)
                           : in->op == OP_SUB ? __builtin_sub_overflow(l->u.i, r->u.i, &v)
                                              : __builtin_mul_overflow(l->u.i, r->u.i, &v);
                if (!ovf) {
                    l->u.i = v;
                    sp--;
                    break;
                }
            } else if (both_num(l, r)) {
                double a = as_real(l), b = as_real(r);
                double d = in->op == OP_ADD ? a + b : in->op == OP_SUB ? a - b : a * b;
                if (isfinite(d)) {
                    *l = hd_expr_real(d);
                    sp--;
                    break;
                }
            }
            if (hd_expr__binary(in->op, l, r, l, why, sizeof why)) goto fail;
            sp--;
            break;
        }
        case OP_FLOORDIV: {
            hd_expr_val *l = sp - 2, *r = sp - 1;
            if (l->type == HD_EXPR_INT && r->type == HD_EXPR_INT && r->u.i > 0) {
                int64_t q = l->u.i / r->u.i;
                if (l->u.i % r->u.i < 0) q--;
                l->u.i = q;
                sp--;
                break;
            }
            if (hd_expr__binary(in->op, l, r, l, why, sizeof why)) goto fail;
            sp--;
            break;
        }
        case OP_DIV:
        case OP_MOD:
        case OP_CEILDIV:
        case OP_ROUNDDIV:
            if (hd_expr__binary(in->op, sp - 2, sp - 1, sp - 2, why, sizeof why)) goto fail;
            sp--;
            break;
        case OP_EQ:
        case OP_NE: {
            hd_expr_val *l = sp - 2, *r = sp - 1;
            if (l->type == r->type && l->type == HD_EXPR_INT) {
                bool eq = l->u.i == r->u.i;
                *l = hd_expr_bool(in->op == OP_EQ ? eq : !eq);
                sp--;
                break;
            }
            if (hd_expr__binary(in->op, l, r, l, why, sizeof why)) goto fail;
            sp--;
            break;
        }
        case OP_LT:
        case OP_LE:
        case OP_GT:
        case OP_GE: {
            hd_expr_val *l = sp - 2, *r = sp - 1;
            if (l->type == r->type && l->type == HD_EXPR_INT) {
                int c = l->u.i < r->u.i ? -1 : l->u.i > r->u.i;
                *l = hd_expr_bool(cmp_result(in->op, c));
                sp--;
                break;
            }
            if (hd_expr__binary(in->op, l, r, l, why, sizeof why)) goto fail;
            sp--;
            break;
        }
        case OP_CMP_VK: {
            const hd_expr_val *l = &vars[in->a], *r = &k[in->b];
            int op = in->x & CMP_OP_MASK;
            if (l->type == r->type) {
                if (l->type == HD_EXPR_INT) {
                    int c = l->u.i < r->u.i ? -1 : l->u.i > r->u.i;
                    bool b = op == OP_EQ ? c == 0 : op == OP_NE ? c != 0 : cmp_result(op, c);
                    *sp++ = hd_expr_bool(b);
                    break;
                }
                if (l->type == HD_EXPR_STR && (op == OP_EQ || op == OP_NE)) {
                    bool eq =
                        l->len == r->len && (l->len == 0 || memcmp(l->u.s, r->u.s, l->len) == 0);
                    *sp++ = hd_expr_bool(op == OP_EQ ? eq : !eq);
                    break;
                }
            }
            /* the general case, in the order it was written so a message
             * reads like the source */
            if (in->x & CMP_SWAPPED ? hd_expr__binary(swap_cmp(op), r, l, sp, why, sizeof why)
                                    : hd_expr__binary(op, l, r, sp, why, sizeof why))
                goto fail;
            sp++;
            break;
        }
        case OP_IN: {
            bool b;
            if (!str_in(sp - 2, sp - 1, &b) &&
                hd_expr__in_value(sp - 2, sp - 1, &b, why, sizeof why))
                goto fail;
            sp--;
            sp[-1] = hd_expr_bool(b != in->x);
            break;
        }
        case OP_IN_VK: {
            bool b;
            const hd_expr_val *x = &vars[in->a], *l = &k[in->b];
            if (!str_in(x, l, &b) && hd_expr__in_value(x, l, &b, why, sizeof why)) goto fail;
            *sp++ = hd_expr_bool(b != in->x);
            break;
        }
        case OP_INLIST: {
            bool b;
            hd_expr_val *x = sp - in->a - 1;
            if (hd_expr__in(x, x + 1, in->a, &b, why, sizeof why)) goto fail;
            sp = x + 1;
            sp[-1] = hd_expr_bool(b != in->x);
            break;
        }
        case OP_JFALSE: {
            hd_expr_val *t = sp - 1;
            if (t->type == HD_EXPR_BOOL && t->u.b) {
                sp--;
                break;
            }
            if (t->type != HD_EXPR_BOOL && t->type != HD_EXPR_NULL) {
                snprintf(why, sizeof why, "'and' needs true/false, got %s", kind(t));
                goto fail;
            }
            *t = hd_expr_bool(false);
            ip = code + in->b;
            break;
        }
        case OP_JTRUE: {
            hd_expr_val *t = sp - 1;
            if (t->type == HD_EXPR_BOOL && t->u.b) {
                ip = code + in->b;
                break;
            }
            if (t->type != HD_EXPR_BOOL && t->type != HD_EXPR_NULL) {
                snprintf(why, sizeof why, "'or' needs true/false, got %s", kind(t));
                goto fail;
            }
            sp--;
            break;
        }
        case OP_FLOOR:
        case OP_CEIL:
        case OP_ROUND:
            if (sp[-1].type == HD_EXPR_REAL) {
                double d = sp[-1].u.d;
                d = in->op == OP_FLOOR ? floor(d) : in->op == OP_CEIL ? ceil(d) : round(d);
                if (d >= -TWO63 && d < TWO63) {
                    sp[-1] = hd_expr_int((int64_t)d);
                    break;
                }
            }
            if (hd_expr__unary(in->op, sp - 1, sp - 1, why, sizeof why)) goto fail;
            break;
        case OP_TOBOOL:
            if (sp[-1].type == HD_EXPR_BOOL) break;
            /* fall through */
        case OP_NOT:
        case OP_NEG:
        case OP_ABS:
            if (hd_expr__unary(in->op, sp - 1, sp - 1, why, sizeof why)) goto fail;
            break;
        case OP_MIN:
        case OP_MAX:
            if (in->a == 2 && sp[-2].type == HD_EXPR_INT && sp[-1].type == HD_EXPR_INT) {
                int64_t a = sp[-2].u.i, b = sp[-1].u.i;
                sp[-2].u.i = (in->op == OP_MIN) == (b < a) ? b : a;
                sp--;
                break;
            }
            if (hd_expr__minmax(in->op, sp - in->a, in->a, sp - in->a, why, sizeof why)) goto fail;
            sp -= in->a - 1;
            break;
        default: snprintf(why, sizeof why, "bad instruction %d", in->op); goto fail;
        }
    }
fail:
    return vm_fail(e, in, vars, why, out, err);
}

/* An error about the result as a whole, placed at the expression's start. */
static hd_rc result_fail(const hd_expr *e, const char *what, const hd_expr_val *v, hd_err *err) {
    hd_expr_pos pos;
    hd_expr__pos(e->src, e->srclen, e->root_pos, &pos);
    return hd_err_set(err, HD_EINVAL, NULL, "line %d, column %d: %s, this gave %s%s", pos.line,
                      pos.column, what, kind(v),
                      v->type == HD_EXPR_NULL ? " (a field it reads is missing)" : "");
}

hd_rc hd_expr_eval_bool(const hd_expr *e, const hd_expr_val *vars, bool *out, hd_err *err) {
    hd_expr_val v;
    *out = false;
    hd_rc rc = hd_expr_eval(e, vars, &v, err);
    if (rc != HD_OK) return rc;
    if (v.type == HD_EXPR_NULL) return HD_OK;
    if (v.type != HD_EXPR_BOOL)
        return result_fail(e, "a condition must give true or false", &v, err);
    *out = v.u.b;
    return HD_OK;
}

hd_rc hd_expr_eval_number(const hd_expr *e, const hd_expr_val *vars, double *out, hd_err *err) {
    hd_expr_val v;
    *out = 0;
    hd_rc rc = hd_expr_eval(e, vars, &v, err);
    if (rc != HD_OK) return rc;
    if (!is_num(&v)) return result_fail(e, "expected a number", &v, err);
    *out = as_real(&v);
    return HD_OK;
}

hd_rc hd_expr_eval_int(const hd_expr *e, const hd_expr_val *vars, int64_t *out, hd_err *err) {
    hd_expr_val v;
    *out = 0;
    hd_rc rc = hd_expr_eval(e, vars, &v, err);
    if (rc != HD_OK) return rc;
    if (v.type == HD_EXPR_INT) {
        *out = v.u.i;
        return HD_OK;
    }
    if (!is_num(&v)) return result_fail(e, "expected a whole number", &v, err);
    double d = floor(v.u.d);
    if (!(d >= -TWO63 && d < TWO63))
        return result_fail(e, "expected a whole number in range", &v, err);
    *out = (int64_t)d;
    return HD_OK;
}
