/* ledger_check.c - hudong check: every ledger invariant, verified from the
 * rows themselves over the whole store.
 *   1. each account's posted and pending debits and credits equal the sums
 *      of its transfers by status;
 *   2. the balances of each currency sum to zero;
 *   3. no member account is beyond its credit limit, except by reversals
 *      (code "reverse"), which may push a member into debt on purpose;
 *   4. a member's points lots hold exactly its positive available balance;
 *   5. no transfer is in a state other than posted, pending or voided. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/ledger.h"

typedef struct check_ctx {
    json_t *violations;
    int64_t accounts, transfers;
} check_ctx;

static void violation(check_ctx *cc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void violation(check_ctx *cc, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (json_array_size(cc->violations) < 1000)
        json_array_append_new(cc->violations, json_string(buf));
}

static hd_rc check_cb(hd_conn *c, void *vctx, hd_err *err) {
    check_ctx *cc = vctx;
    hd_rows *r;
    /* 1: stored totals against the transfers */
    hd_rc rc = hd_query(
        c,
        "SELECT a.name, a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending, "
        " COALESCE((SELECT sum(amount) FROM transfers t WHERE t.debit_id = a.id AND t.status = "
        "  'posted'), 0), "
        " COALESCE((SELECT sum(amount) FROM transfers t WHERE t.credit_id = a.id AND t.status = "
        "  'posted'), 0), "
        " COALESCE((SELECT sum(amount) FROM transfers t WHERE t.debit_id = a.id AND t.status = "
        "  'pending'), 0), "
        " COALESCE((SELECT sum(amount) FROM transfers t WHERE t.credit_id = a.id AND t.status = "
        "  'pending'), 0), "
        " a.kind, a.credit_limit, a.currency, "
        " COALESCE((SELECT sum(amount) FROM transfers t WHERE t.debit_id = a.id AND t.status = "
        "  'posted' AND t.code = 'reverse'), 0), "
        " COALESCE((SELECT sum(remaining) FROM lots l WHERE l.account_id = a.id), 0), "
        " a.limit_excess "
        "FROM accounts a ORDER BY a.id",
        NULL, 0, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        cc->accounts++;
        const char *name = hd_rows_text(r, 0, NULL);
        int64_t dp = hd_rows_int(r, 1), cp = hd_rows_int(r, 2), dq = hd_rows_int(r, 3),
                cq = hd_rows_int(r, 4);
        int64_t sdp = hd_rows_int(r, 5), scp = hd_rows_int(r, 6), sdq = hd_rows_int(r, 7),
                scq = hd_rows_int(r, 8);
        if (dp != sdp || cp != scp || dq != sdq || cq != scq)
            violation(cc,
                      "%s: stored debits/credits posted %lld/%lld pending %lld/%lld, but its "
                      "transfers sum to %lld/%lld and %lld/%lld",
                      name, (long long)dp, (long long)cp, (long long)dq, (long long)cq,
                      (long long)sdp, (long long)scp, (long long)sdq, (long long)scq);
        bool member = strcmp(hd_rows_text(r, 9, NULL), "member") == 0;
        int64_t limit = hd_rows_int(r, 10), reversed = hd_rows_int(r, 12);
        int64_t over = (dp + dq) - (cp + limit), lowered = hd_rows_int(r, 14);
        if (member && over > 0 && over > reversed + lowered)
            violation(cc,
                      "%s: %lld beyond its credit limit %lld (reversals explain %lld, a lowered "
                      "limit %lld)",
                      name, (long long)over, (long long)limit, (long long)reversed,
                      (long long)lowered);
        if (member && strcmp(hd_rows_text(r, 11, NULL), "points") == 0) {
            int64_t pos = cp - dp - dq;
            if (pos < 0) pos = 0;
            int64_t lots = hd_rows_int(r, 13);
            if (lots != pos)
                violation(cc, "%s: lots hold %lld but the positive available balance is %lld", name,
                          (long long)lots, (long long)pos);
        }
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    /* 2: zero sum per currency */
    if ((rc =
             hd_query(c,
                      "SELECT currency, sum(credits_posted - debits_posted), sum(credits_pending - "
                      "debits_pending) FROM accounts GROUP BY currency ORDER BY currency",
                      NULL, 0, &r, err)))
        return rc;
    while ((got = hd_rows_next(r, err)) == 1) {
        if (hd_rows_int(r, 1) != 0 || hd_rows_int(r, 2) != 0)
            violation(cc, "%s: balances sum to %lld (pending %lld), not zero",
                      hd_rows_text(r, 0, NULL), (long long)hd_rows_int(r, 1),
                      (long long)hd_rows_int(r, 2));
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    /* 5: states */
    if ((rc = hd_query_int(c, "SELECT count(*) FROM transfers", NULL, 0, &cc->transfers, err)))
        return rc;
    int64_t bad;
    if ((rc = hd_query_int(
             c,
             "SELECT count(*) FROM transfers WHERE status NOT IN ('posted', 'pending', "
             "'voided') OR amount <= 0 OR debit_id = credit_id",
             NULL, 0, &bad, err)))
        return rc;
    if (bad)
        violation(cc, "%lld transfers have a bad status, amount or account pair", (long long)bad);
    if ((rc = hd_query_int(c, "SELECT count(*) FROM lots WHERE remaining < 0 OR remaining > amount",
                           NULL, 0, &bad, err)))
        return rc;
    if (bad) violation(cc, "%lld lots have remaining outside 0..amount", (long long)bad);
    return HD_OK;
}

hd_rc hd_ledger_check(hd_domain *d, json_t **report, hd_err *err) {
    check_ctx cc = {json_array(), 0, 0};
    hd_rc rc = hd_store_read(d->store, check_cb, &cc, err);
    if (rc) {
        json_decref(cc.violations);
        return rc;
    }
    json_t *o = json_object();
    json_object_set_new(o, "accounts", json_integer(cc.accounts));
    json_object_set_new(o, "transfers", json_integer(cc.transfers));
    size_t n = json_array_size(cc.violations);
    json_object_set_new(o, "ok", json_boolean(n == 0));
    json_object_set_new(o, "violations", cc.violations);
    *report = o;
    if (n) return hd_err_set(err, HD_ESTATE, "", "%zu ledger invariant violation(s)", n);
    return HD_OK;
}
