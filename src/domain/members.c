/* members.c - member sign-in by one-time code, member sessions, and the
 * per-member views the member pages read (see members.h). */
#include "domain/members.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "domain/auctions.h"
#include "domain/catalog.h"
#include "domain/customers.h"
#include "domain/groupbuys.h"
#include "domain/ledger.h"
#include "domain/tiers.h"
#include "domain/trials.h"
#include "text/text.h"

#define CLEANUP_EVERY_MS (60LL * 1000)
#define OTP_KEEP_MS      (86400LL * 1000) /* old code rows go after a day */

/* ---- module state: the sender and the log sender's memory ---- */

typedef struct remembered {
    char phone[20];
    char code[HD_OTP_DIGITS + 1];
} remembered;

typedef struct members_state {
    pthread_mutex_t mu;
    hd_otp_sender sender;
    FILE *log;
    remembered last[HD_OTP_REMEMBER_MAX];
    int next; /* the slot a new phone takes (oldest first) */
    int64_t cleaned_at_ms;
    int client_max; /* codes per client address an hour, 0: no cap */
} members_state;

/* The state hangs on the domain as the argument of the module's job (the
 * domain has no slot per module; analytics does the same). */
static members_state *state_of(hd_domain *d) {
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i].fn == hd_member_job) return d->jobs[i].arg;
    return NULL;
}

/* The log sender: "otp: +8613800138000 123456" to the log, and the code kept
 * in memory for hd_member_otp_peek. */
static hd_rc log_send(void *arg, const char *phone, const char *code, hd_err *err) {
    members_state *st = arg;
    pthread_mutex_lock(&st->mu);
    int slot = -1;
    for (int i = 0; i < HD_OTP_REMEMBER_MAX && slot < 0; i++)
        if (strcmp(st->last[i].phone, phone) == 0) slot = i;
    if (slot < 0) {
        slot = st->next;
        st->next = (st->next + 1) % HD_OTP_REMEMBER_MAX;
    }
    snprintf(st->last[slot].phone, sizeof st->last[slot].phone, "%s", phone);
    snprintf(st->last[slot].code, sizeof st->last[slot].code, "%s", code);
    FILE *log = st->log ? st->log : stderr;
    fprintf(log, "otp: %s %s\n", phone, code);
    fflush(log);
    pthread_mutex_unlock(&st->mu);
    (void)err;
    return HD_OK;
}

hd_rc hd_members_init(hd_domain *d, hd_err *err) {
    members_state *st = calloc(1, sizeof *st);
    if (!st) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    pthread_mutex_init(&st->mu, NULL);
    st->sender = (hd_otp_sender){"log", log_send, st};
    st->client_max = HD_OTP_CLIENT_MAX;
    hd_rc rc = hd_domain_add_job(d, "members", hd_member_job, st, err);
    if (rc) {
        pthread_mutex_destroy(&st->mu);
        free(st);
        return rc;
    }
    return hd_domain_add_merge_hook(d, hd_member_on_merge, NULL, err);
}

void hd_members_close(hd_domain *d) {
    members_state *st = state_of(d);
    if (!st) return;
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i].fn == hd_member_job) d->jobs[i].arg = NULL;
    pthread_mutex_destroy(&st->mu);
    free(st);
}

void hd_member_set_sender(hd_domain *d, const hd_otp_sender *s) {
    members_state *st = state_of(d);
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    st->sender = s ? *s : (hd_otp_sender){"log", log_send, st};
    pthread_mutex_unlock(&st->mu);
}

void hd_member_set_client_max(hd_domain *d, int per_hour) {
    members_state *st = state_of(d);
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    st->client_max = per_hour > 0 ? per_hour : 0;
    pthread_mutex_unlock(&st->mu);
}

void hd_member_set_log(hd_domain *d, FILE *log) {
    members_state *st = state_of(d);
    if (!st) return;
    pthread_mutex_lock(&st->mu);
    st->log = log;
    pthread_mutex_unlock(&st->mu);
}

hd_rc hd_member_otp_peek(hd_domain *d, const char *phone, char code[HD_OTP_DIGITS + 1],
                         hd_err *err) {
    char e164[20];
    if (hd_phone_normalize(phone, e164, err)) return HD_EINVAL;
    members_state *st = state_of(d);
    hd_rc rc =
        hd_err_set(err, HD_ENOTFOUND, "phone", "no code was sent to %s by the log sender", e164);
    if (!st) return rc;
    pthread_mutex_lock(&st->mu);
    for (int i = 0; i < HD_OTP_REMEMBER_MAX; i++) {
        if (strcmp(st->last[i].phone, e164) == 0) {
            memcpy(code, st->last[i].code, HD_OTP_DIGITS + 1);
            rc = HD_OK;
            break;
        }
    }
    pthread_mutex_unlock(&st->mu);
    if (!rc) hd_err_clear(err);
    return rc;
}

/* ---- small helpers ---- */

static void sha256_hex(const char *a, const char *b, char out[65]) {
    crypto_hash_sha256_state s;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, (const unsigned char *)a, strlen(a));
    if (b) {
        crypto_hash_sha256_update(&s, (const unsigned char *)":", 1);
        crypto_hash_sha256_update(&s, (const unsigned char *)b, strlen(b));
    }
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* 32 random bytes as 43 URL-safe base64 characters. */
static void random_token(char out[48]) {
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    sodium_bin2base64(out, 48, b, sizeof b, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* Referral codes avoid characters people confuse (0/O, 1/I/L). */
static void random_referral(char out[HD_REFERRAL_CODE_LEN + 1]) {
    static const char alphabet[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
    for (int i = 0; i < HD_REFERRAL_CODE_LEN; i++)
        out[i] = alphabet[randombytes_uniform((uint32_t)(sizeof alphabet - 1))];
    out[HD_REFERRAL_CODE_LEN] = '\0';
}

static int64_t json_id(const json_t *o, const char *key) {
    int64_t v = 0;
    const char *s = json_string_value(json_object_get(o, key));
    if (s && hd_id_parse(s, &v)) return v;
    return json_is_integer(json_object_get(o, key)) ? json_integer_value(json_object_get(o, key))
                                                    : 0;
}

static int64_t json_ms(const json_t *o, const char *key) {
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(o, key));
    return s && hd_time_parse(s, &ms) ? ms : 0;
}

static void set_now(hd_domain *d, json_t *o) { hd_json_set_time(o, "now", hd_now(d), true); }

/* ---- sending a code ---- */

typedef struct otp_ctx {
    hd_domain *d;
    const char *phone, *client;
    int client_max;
    char hash[65];
    int64_t retry_after_ms;
} otp_ctx;

/* Counts a code against its client's hour: a conditional UPDATE (or the
 * first INSERT), so that nodes racing on one client cannot both pass. */
static hd_rc client_count(hd_conn *c, otp_ctx *o, int64_t now, hd_err *err) {
    int64_t hour_ago = now - HD_OTP_CLIENT_MS, changes = 0;
    hd_val u[4] = {hd_vint(hour_ago), hd_vint(now), hd_vtext(o->client), hd_vint(o->client_max)};
    hd_rc rc = hd_exec(c,
                       "UPDATE member_otp_clients SET sent = CASE WHEN window_from > ?1 THEN sent "
                       "+ 1 ELSE 1 END, window_from = CASE WHEN window_from > ?1 THEN window_from "
                       "ELSE ?2 END WHERE client = ?3 AND (window_from <= ?1 OR sent < ?4)",
                       u, 4, &changes, err);
    if (rc || changes) return rc;
    hd_val ins[2] = {hd_vtext(o->client), hd_vint(now)};
    if ((rc = hd_exec(c,
                      "INSERT INTO member_otp_clients (client, window_from, sent) VALUES (?, ?, 1) "
                      "ON CONFLICT DO NOTHING",
                      ins, 2, &changes, err)))
        return rc;
    if (changes) return HD_OK;
    hd_val p = hd_vtext(o->client);
    int64_t from = 0;
    rc = hd_query_int(c, "SELECT window_from FROM member_otp_clients WHERE client = ?", &p, 1,
                      &from, err);
    if (rc == HD_ENOTFOUND) return hd_err_set(err, HD_EBUSY, "", "client row raced");
    if (rc) return rc;
    o->retry_after_ms = from + HD_OTP_CLIENT_MS - now;
    if (o->retry_after_ms < 1000) o->retry_after_ms = 1000;
    return hd_err_set(err, HD_ESTATE, "client",
                      "%d codes were asked for from this address in the last hour: try again in "
                      "%lld min",
                      o->client_max, (long long)((o->retry_after_ms + 59999) / 60000));
}

static hd_rc otp_send_cb(hd_conn *c, void *vctx, hd_err *err) {
    otp_ctx *o = vctx;
    int64_t now = hd_now(o->d), changes = 0;
    o->retry_after_ms = 0;
    hd_rc crc = o->client ? client_count(c, o, now, err) : HD_OK;
    if (crc) return crc;
    /* the resend and daily limits are a conditional UPDATE, so two nodes
     * cannot both send; the right-hand sides read the row as it was */
    int64_t day_ago = now - HD_OTP_DAY_MS;
    hd_val u[9] = {hd_vtext(o->hash),
                   hd_vint(now),
                   hd_vint(now + HD_OTP_TTL_MS),
                   hd_vint(day_ago),
                   hd_vint(now),
                   hd_vtext(o->phone),
                   hd_vint(now - HD_OTP_RESEND_MS),
                   hd_vint(day_ago),
                   hd_vint(HD_OTP_DAY_MAX)};
    hd_rc rc = hd_exec(c,
                       "UPDATE member_otps SET code_hash = ?1, sent_at = ?2, expires_at = ?3, "
                       "tries = 0, burnt = 0, day_sent = CASE WHEN day_from > ?4 THEN day_sent + "
                       "1 ELSE 1 END, day_from = CASE WHEN day_from > ?4 THEN day_from ELSE ?5 "
                       "END WHERE phone = ?6 AND sent_at <= ?7 AND (day_from <= ?8 OR day_sent < "
                       "?9)",
                       u, 9, &changes, err);
    if (rc || changes) return rc;
    hd_val ins[5] = {hd_vtext(o->phone), hd_vtext(o->hash), hd_vint(now),
                     hd_vint(now + HD_OTP_TTL_MS), hd_vint(now)};
    if ((rc = hd_exec(c,
                      "INSERT INTO member_otps (phone, code_hash, sent_at, expires_at, day_from, "
                      "day_sent) VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO NOTHING",
                      ins, 5, &changes, err)))
        return rc;
    if (changes) return HD_OK;
    /* the row exists: sent less than a minute ago, or too often today */
    hd_val p = hd_vtext(o->phone);
    hd_rows *r;
    if ((rc = hd_query(c, "SELECT sent_at, day_from, day_sent FROM member_otps WHERE phone = ?", &p,
                       1, &r, err)))
        return rc;
    int got = hd_rows_next(r, err);
    int64_t sent_at = got == 1 ? hd_rows_int(r, 0) : 0, day_from = got == 1 ? hd_rows_int(r, 1) : 0,
            day_sent = got == 1 ? hd_rows_int(r, 2) : 0;
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) /* deleted under us: try again */
        return hd_err_set(err, HD_EBUSY, "", "code row raced");
    if (sent_at > now - HD_OTP_RESEND_MS) {
        o->retry_after_ms = sent_at + HD_OTP_RESEND_MS - now;
        if (o->retry_after_ms < 1000) o->retry_after_ms = 1000;
        return hd_err_set(err, HD_ESTATE, "phone",
                          "a code was sent to this phone less than a minute ago: try again in "
                          "%lld s",
                          (long long)((o->retry_after_ms + 999) / 1000));
    }
    o->retry_after_ms = day_from + HD_OTP_DAY_MS - now;
    if (o->retry_after_ms < 1000) o->retry_after_ms = 1000;
    return hd_err_set(err, HD_ESTATE, "phone",
                      "this phone has had %lld codes in 24 hours: try again in %lld min",
                      (long long)day_sent, (long long)((o->retry_after_ms + 59999) / 60000));
}

hd_rc hd_member_otp_send(hd_domain *d, const char *phone, const char *client, char phone_e164[20],
                         int64_t *retry_after_ms, hd_err *err) {
    *retry_after_ms = 0;
    if (hd_phone_normalize(phone, phone_e164, err)) {
        err->rc = HD_EINVAL;
        snprintf(err->field, sizeof err->field, "phone");
        return HD_EINVAL;
    }
    members_state *st = state_of(d);
    if (!st) return hd_err_set(err, HD_EINTERNAL, "", "the members module is not set up");
    char code[HD_OTP_DIGITS + 1];
    snprintf(code, sizeof code, "%06u", (unsigned)randombytes_uniform(1000000));
    pthread_mutex_lock(&st->mu);
    int client_max = st->client_max;
    pthread_mutex_unlock(&st->mu);
    otp_ctx o = {.d = d,
                 .phone = phone_e164,
                 .client = client_max ? client : NULL,
                 .client_max = client_max};
    sha256_hex(phone_e164, code, o.hash);
    hd_rc rc = hd_store_write(d->store, otp_send_cb, &o, err);
    if (rc) {
        *retry_after_ms = o.retry_after_ms;
        return rc;
    }
    pthread_mutex_lock(&st->mu);
    hd_otp_sender s = st->sender;
    pthread_mutex_unlock(&st->mu);
    rc = s.send(s.arg, phone_e164, code, err);
    sodium_memzero(code, sizeof code);
    return rc;
}

/* ---- signing in ---- */

typedef struct login_ctx {
    hd_domain *d;
    const char *phone;
    char hash[65];
    char token_hash[65];
    char csrf[48];
    int64_t customer_id;
    bool created;
    hd_rc result; /* a refusal that still commits (the wrong try is counted) */
} login_ctx;

/* The member record: created at the first sign-in with a referral code. */
static hd_rc member_row_in(hd_conn *c, int64_t cid, int64_t now, bool login, hd_err *err) {
    int64_t changes = 0;
    hd_val u[3] = {hd_vint(now), hd_vint(login ? 1 : 0), hd_vint(cid)};
    hd_rc rc = hd_exec(c,
                       "UPDATE members SET last_login_at = CASE WHEN ?2 = 1 THEN ?1 ELSE "
                       "last_login_at END, logins = logins + ?2 WHERE customer_id = ?3",
                       u, 3, &changes, err);
    if (rc || changes) return rc;
    char code[HD_REFERRAL_CODE_LEN + 1];
    random_referral(code);
    hd_val ins[5] = {hd_vint(cid), hd_vtext(code), hd_vint(now), hd_vint(now),
                     hd_vint(login ? 1 : 0)};
    if ((rc = hd_exec(c,
                      "INSERT INTO members (customer_id, referral_code, first_login_at, "
                      "last_login_at, logins) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                      ins, 5, &changes, err)))
        return rc;
    /* another node inserted the row first, or (rarely) the code was taken */
    if (!changes) return hd_err_set(err, HD_EBUSY, "", "member row raced");
    return HD_OK;
}

static hd_rc login_cb(hd_conn *c, void *vctx, hd_err *err) {
    login_ctx *l = vctx;
    l->result = HD_OK;
    int64_t now = hd_now(l->d);
    hd_val p = hd_vtext(l->phone);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT code_hash, expires_at, tries, burnt FROM member_otps WHERE phone = ?",
                 &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    char stored[65] = "";
    int64_t expires_at = 0, tries = 0;
    bool burnt = false;
    if (got == 1) {
        snprintf(stored, sizeof stored, "%s", hd_rows_text(r, 0, NULL));
        expires_at = hd_rows_int(r, 1);
        tries = hd_rows_int(r, 2);
        burnt = hd_rows_int(r, 3) != 0;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (got == 0) {
        l->result =
            hd_err_set(err, HD_EAUTH, "code", "no code was sent to this phone: ask for one");
        return HD_OK;
    }
    if (burnt) {
        l->result = hd_err_set(err, HD_EAUTH, "code",
                               "this code was already used or voided by wrong tries: ask for a "
                               "new one");
        return HD_OK;
    }
    if (expires_at <= now) {
        l->result = hd_err_set(err, HD_EAUTH, "code",
                               "the code has expired (codes last 5 minutes): ask for a new one");
        return HD_OK;
    }
    int64_t changes = 0;
    if (strlen(stored) != 64 || sodium_memcmp(stored, l->hash, 64) != 0) {
        /* counted with a conditional UPDATE so racing wrong tries add up */
        hd_val u[2] = {hd_vint(HD_OTP_TRIES_MAX), p};
        if ((rc =
                 hd_exec(c,
                         "UPDATE member_otps SET tries = tries + 1, burnt = CASE WHEN tries + 1 >= "
                         "?1 THEN 1 ELSE 0 END WHERE phone = ?2 AND burnt = 0",
                         u, 2, &changes, err)))
            return rc;
        int64_t left = HD_OTP_TRIES_MAX - (tries + 1);
        if (!changes || left <= 0)
            l->result = hd_err_set(err, HD_EAUTH, "code",
                                   "wrong code; after %d wrong tries the code is void: ask for a "
                                   "new one",
                                   HD_OTP_TRIES_MAX);
        else
            l->result =
                hd_err_set(err, HD_EAUTH, "code", "wrong code: %lld tries left", (long long)left);
        return HD_OK;
    }
    /* single use: only one racing sign-in with the right code gets through */
    hd_val u[2] = {p, hd_vtext(l->hash)};
    if ((rc = hd_exec(c,
                      "UPDATE member_otps SET burnt = 1 WHERE phone = ? AND code_hash = ? AND "
                      "burnt = 0",
                      u, 2, &changes, err)))
        return rc;
    if (!changes) {
        l->result =
            hd_err_set(err, HD_EAUTH, "code", "this code was already used: ask for a new one");
        return HD_OK;
    }
    hd_ident id = {0};
    snprintf(id.type, sizeof id.type, "phone");
    snprintf(id.value, sizeof id.value, "%s", l->phone);
    if ((rc = hd_customer_resolve(c, l->d, &id, 1, NULL, &l->customer_id, &l->created, err)))
        return rc;
    if ((rc = member_row_in(c, l->customer_id, now, true, err))) return rc;
    hd_val s[6] = {hd_vtext(l->token_hash),
                   hd_vint(l->customer_id),
                   hd_vtext(l->csrf),
                   hd_vint(now),
                   hd_vint(now),
                   hd_vint(now + HD_MEMBER_SESSION_MAX_MS)};
    return hd_exec(c,
                   "INSERT INTO member_sessions (token_hash, customer_id, csrf, created_at, "
                   "last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                   s, 6, NULL, err);
}

hd_rc hd_member_login(hd_domain *d, const char *phone, const char *code, int64_t *customer_id,
                      bool *created, char **token, char csrf[48], hd_err *err) {
    char e164[20];
    if (!phone || hd_phone_normalize(phone, e164, err))
        return hd_err_set(err, HD_EINVAL, "phone", "must be a phone number");
    size_t n = code ? strlen(code) : 0;
    bool digits = n == HD_OTP_DIGITS;
    for (size_t i = 0; digits && i < n; i++) digits = code[i] >= '0' && code[i] <= '9';
    if (!digits)
        return hd_err_set(err, HD_EINVAL, "code", "must be the %d digits sent", HD_OTP_DIGITS);
    char *tok = malloc(48);
    if (!tok) return hd_err_set(err, HD_ENOMEM, "", "out of memory");
    random_token(tok);
    login_ctx l = {.d = d, .phone = e164};
    sha256_hex(e164, code, l.hash);
    sha256_hex(tok, NULL, l.token_hash);
    random_token(l.csrf);
    hd_rc rc = hd_store_write(d->store, login_cb, &l, err);
    if (!rc) rc = l.result;
    if (rc) {
        free(tok);
        return rc;
    }
    *customer_id = l.customer_id;
    if (created) *created = l.created;
    *token = tok;
    memcpy(csrf, l.csrf, 48);
    return HD_OK;
}

/* ---- sessions ---- */

typedef struct sess_ctx {
    hd_domain *d;
    char hash[65];
    int64_t customer_id, last_seen;
    char csrf[48];
    bool found, expired;
} sess_ctx;

static hd_rc check_cb(hd_conn *c, void *vctx, hd_err *err) {
    sess_ctx *k = vctx;
    hd_val p = hd_vtext(k->hash);
    hd_rows *r;
    hd_rc rc =
        hd_query(c,
                 "SELECT customer_id, csrf, last_seen, expires_at FROM member_sessions WHERE "
                 "token_hash = ?",
                 &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        int64_t now = hd_now(k->d);
        k->found = true;
        k->customer_id = hd_rows_int(r, 0);
        snprintf(k->csrf, sizeof k->csrf, "%s", hd_rows_text(r, 1, NULL));
        k->last_seen = hd_rows_int(r, 2);
        k->expired = hd_rows_int(r, 3) <= now || now - k->last_seen > HD_MEMBER_SESSION_IDLE_MS;
    }
    hd_rows_free(r);
    if (got < 0) return err->rc;
    if (k->found && !k->expired) {
        /* a merge may have folded this customer into another */
        int64_t live;
        rc = hd_customer_follow(c, k->customer_id, &live, err);
        if (rc == HD_ENOTFOUND) {
            k->found = false;
            return HD_OK;
        }
        if (rc) return rc;
        k->customer_id = live;
    }
    return HD_OK;
}

static hd_rc touch_cb(hd_conn *c, void *vctx, hd_err *err) {
    sess_ctx *k = vctx;
    hd_val p[2] = {hd_vint(hd_now(k->d)), hd_vtext(k->hash)};
    return hd_exec(c, "UPDATE member_sessions SET last_seen = ? WHERE token_hash = ?", p, 2, NULL,
                   err);
}

static hd_rc drop_cb(hd_conn *c, void *vctx, hd_err *err) {
    sess_ctx *k = vctx;
    hd_val p = hd_vtext(k->hash);
    return hd_exec(c, "DELETE FROM member_sessions WHERE token_hash = ?", &p, 1, NULL, err);
}

hd_rc hd_member_session_check(hd_domain *d, const char *token, int64_t *customer_id, char csrf[48],
                              hd_err *err) {
    if (!token || !*token || strlen(token) > 100)
        return hd_err_set(err, HD_EAUTH, "Cookie", "not signed in: sign in with your phone");
    sess_ctx k = {.d = d};
    sha256_hex(token, NULL, k.hash);
    hd_rc rc = hd_store_read(d->store, check_cb, &k, err);
    if (rc) return rc;
    if (!k.found)
        return hd_err_set(err, HD_EAUTH, "Cookie", "not signed in: sign in with your phone");
    if (k.expired) {
        hd_store_write(d->store, drop_cb, &k, NULL);
        return hd_err_set(err, HD_EAUTH, "Cookie", "the session has expired: sign in again");
    }
    /* last_seen moves at most once an hour: a read should rarely write */
    if (hd_now(d) - k.last_seen > 3600000) hd_store_write(d->store, touch_cb, &k, NULL);
    *customer_id = k.customer_id;
    memcpy(csrf, k.csrf, 48);
    return HD_OK;
}

hd_rc hd_member_logout(hd_domain *d, const char *token, hd_err *err) {
    sess_ctx k = {.d = d};
    sha256_hex(token ? token : "", NULL, k.hash);
    return hd_store_write(d->store, drop_cb, &k, err);
}

/* ---- the job and the merge hook ---- */

typedef struct clean_ctx {
    int64_t now;
} clean_ctx;

static hd_rc clean_cb(hd_conn *c, void *vctx, hd_err *err) {
    clean_ctx *k = vctx;
    hd_val p = hd_vint(k->now);
    hd_rc rc = hd_exec(c, "DELETE FROM member_sessions WHERE expires_at <= ?", &p, 1, NULL, err);
    if (rc) return rc;
    hd_val q = hd_vint(k->now - OTP_KEEP_MS);
    if ((rc = hd_exec(c, "DELETE FROM member_otps WHERE sent_at < ?", &q, 1, NULL, err))) return rc;
    hd_val h = hd_vint(k->now - HD_OTP_CLIENT_MS);
    return hd_exec(c, "DELETE FROM member_otp_clients WHERE window_from <= ?", &h, 1, NULL, err);
}

hd_rc hd_member_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err) {
    members_state *st = arg;
    if (!st) return HD_OK;
    pthread_mutex_lock(&st->mu);
    bool due = now_ms - st->cleaned_at_ms >= CLEANUP_EVERY_MS || now_ms < st->cleaned_at_ms;
    if (due) st->cleaned_at_ms = now_ms;
    pthread_mutex_unlock(&st->mu);
    if (!due) return HD_OK;
    clean_ctx k = {now_ms};
    return hd_store_write(d->store, clean_cb, &k, err);
}

hd_rc hd_member_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                         hd_err *err) {
    hd_val p[2] = {hd_vint(survivor), hd_vint(loser)};
    hd_rc rc = hd_exec(c, "UPDATE member_sessions SET customer_id = ? WHERE customer_id = ?", p, 2,
                       NULL, err);
    if (rc) return rc;
    /* the survivor keeps its own member record; else it takes the loser's */
    int64_t n = 0;
    if ((rc = hd_query_int(c, "SELECT count(*) FROM members WHERE customer_id = ?", &p[0], 1, &n,
                           err)))
        return rc;
    if (n) return hd_exec(c, "DELETE FROM members WHERE customer_id = ?", &p[1], 1, NULL, err);
    return hd_exec(c, "UPDATE members SET customer_id = ? WHERE customer_id = ?", p, 2, NULL, err);
}

/* ---- views ---- */

typedef struct view_ctx {
    hd_domain *d;
    int64_t cid;
    char tier_code[64];
    char referral[HD_REFERRAL_CODE_LEN + 1];
    json_t *rows; /* an array of small objects read from the store */
} view_ctx;

static hd_rc referral_read_cb(hd_conn *c, void *vctx, hd_err *err) {
    view_ctx *v = vctx;
    hd_val p = hd_vint(v->cid);
    hd_rows *r;
    hd_rc rc =
        hd_query(c, "SELECT referral_code FROM members WHERE customer_id = ?", &p, 1, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) snprintf(v->referral, sizeof v->referral, "%s", hd_rows_text(r, 0, NULL));
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static hd_rc referral_make_cb(hd_conn *c, void *vctx, hd_err *err) {
    view_ctx *v = vctx;
    hd_rc rc = member_row_in(c, v->cid, hd_now(v->d), false, err);
    return rc ? rc : referral_read_cb(c, vctx, err);
}

/* The member's referral code, made on first use (sign-in makes it too). */
static hd_rc referral_code(hd_domain *d, int64_t cid, char out[HD_REFERRAL_CODE_LEN + 1],
                           hd_err *err) {
    view_ctx v = {.d = d, .cid = cid};
    hd_rc rc = hd_store_read(d->store, referral_read_cb, &v, err);
    if (!rc && !v.referral[0]) rc = hd_store_write(d->store, referral_make_cb, &v, err);
    if (!rc) memcpy(out, v.referral, sizeof v.referral);
    return rc;
}

hd_rc hd_member_me(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    json_t *cust = NULL, *pts = NULL, *tier = NULL, *o = NULL;
    int64_t moved = 0;
    char ref[HD_REFERRAL_CODE_LEN + 1];
    hd_rc rc = hd_customer_get(d, cid, &cust, &moved, err);
    if (rc == HD_EMOVED) rc = hd_customer_get(d, cid = moved, &cust, &moved, err);
    if (rc) goto done;
    if ((rc = hd_ledger_points(d, cid, &pts, err))) goto done;
    if ((rc = hd_tier_customer(d, cid, &tier, err))) goto done;
    if ((rc = referral_code(d, cid, ref, err))) goto done;
    o = json_object();
    hd_json_set_id(o, "customer_id", cid);
    json_t *name = json_object_get(cust, "name");
    json_object_set_new(o, "name", name ? json_incref(name) : json_null());
    const char *phone = json_string_value(json_object_get(cust, "phone"));
    char masked[32] = "";
    if (phone) hd_mask_phone(phone, masked);
    json_object_set_new(o, "phone", phone ? json_string(masked) : json_null());
    json_t *t = json_object_get(tier, "tier");
    if (json_is_object(t))
        json_object_set_new(o, "tier",
                            json_pack("{s:O,s:O}", "code", json_object_get(t, "code"), "name",
                                      json_object_get(t, "name")));
    else
        json_object_set_new(o, "tier", json_null());
    json_t *p = json_object();
    static const char *const keys[] = {"balance", "available",    "pending", "credit_limit",
                                       "debt",    "expiring_30d", NULL};
    for (const char *const *k = keys; *k; k++) {
        json_t *val = json_object_get(pts, *k);
        json_object_set_new(p, *k, val ? json_incref(val) : json_integer(0));
    }
    json_t *soon = json_array();
    int64_t limit = hd_now(d) + 30LL * 86400000;
    size_t i;
    json_t *lot;
    json_array_foreach(json_object_get(pts, "lots"), i, lot) {
        int64_t at = json_ms(lot, "expires_at");
        if (!at || at > limit) continue;
        json_array_append_new(soon,
                              json_pack("{s:O,s:O}", "points", json_object_get(lot, "remaining"),
                                        "expires_at", json_object_get(lot, "expires_at")));
    }
    json_object_set_new(p, "expiring", soon);
    json_object_set_new(o, "points", p);
    json_object_set_new(o, "referral_code", json_string(ref));
    set_now(d, o);
    *out = o;
    o = NULL;
done:
    json_decref(cust);
    json_decref(pts);
    json_decref(tier);
    json_decref(o);
    return rc;
}

static hd_rc tier_cb(hd_conn *c, void *vctx, hd_err *err) {
    view_ctx *v = vctx;
    hd_tier_info ti;
    hd_rc rc = hd_tier_of_in(c, v->cid, &ti, err);
    if (!rc && ti.has) snprintf(v->tier_code, sizeof v->tier_code, "%s", ti.code);
    return rc;
}

hd_rc hd_member_rewards(hd_domain *d, int64_t cid, const char *type, int64_t cursor, int limit,
                        json_t **out, hd_err *err) {
    json_t *list = NULL, *specials = NULL;
    hd_reward_query q = {type, 1, cid, cursor, limit};
    hd_rc rc = hd_reward_list(d, &q, &list, err);
    if (rc) goto done;
    hd_special_query sq = {0, true, cid, HD_CATALOG_PAGE_MAX};
    if ((rc = hd_special_list(d, &sq, &specials, err))) goto done;
    view_ctx v = {.d = d, .cid = cid};
    if ((rc = hd_store_read(d->store, tier_cb, &v, err))) goto done;
    size_t i, j;
    json_t *rw, *sp;
    json_array_foreach(json_object_get(list, "data"), i, rw) {
        int64_t id = json_id(rw, "id");
        int64_t best = json_integer_value(json_object_get(json_object_get(rw, "price"), "points"));
        json_t *chosen = NULL;
        /* the same rule redemption applies: the lowest running special this
         * member can take (hd_special_list already filtered by that) */
        json_array_foreach(json_object_get(specials, "data"), j, sp) {
            int64_t pts = json_integer_value(json_object_get(sp, "points"));
            if (json_id(sp, "reward_id") == id && pts < best) {
                best = pts;
                chosen = sp;
            }
        }
        json_object_set_new(rw, "best_points", json_integer(best));
        json_object_set(rw, "special", chosen ? chosen : json_null());
        json_t *tiers = json_object_get(rw, "tiers");
        bool ok = !json_is_array(tiers) || json_array_size(tiers) == 0;
        json_t *tc;
        json_array_foreach(tiers, j, tc) {
            if (v.tier_code[0] && json_is_string(tc) &&
                strcmp(json_string_value(tc), v.tier_code) == 0)
                ok = true;
        }
        json_object_set_new(rw, "eligible", json_boolean(ok));
    }
    set_now(d, list);
    *out = list;
    list = NULL;
done:
    json_decref(list);
    json_decref(specials);
    return rc;
}

/* A reward's name and type, for lists that carry only its id. */
static json_t *reward_brief(hd_domain *d, int64_t reward_id, int64_t cid) {
    json_t *rw = NULL;
    hd_err ignore;
    if (hd_reward_get(d, reward_id, cid, &rw, &ignore)) return json_null();
    json_t *o = json_pack("{s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(rw, "id"), "type",
                          json_object_get(rw, "type"), "name", json_object_get(rw, "name"), "price",
                          json_object_get(rw, "price"), "options", json_object_get(rw, "options"));
    json_object_set(o, "selected_option",
                    json_object_get(rw, "selected_option") ? json_object_get(rw, "selected_option")
                                                           : json_null());
    json_decref(rw);
    return o ? o : json_null();
}

hd_rc hd_member_specials(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    json_t *list = NULL;
    hd_special_query sq = {0, true, cid, HD_CATALOG_PAGE_MAX};
    hd_rc rc = hd_special_list(d, &sq, &list, err);
    if (rc) return rc;
    size_t i;
    json_t *sp;
    json_array_foreach(json_object_get(list, "data"), i, sp)
        json_object_set_new(sp, "reward", reward_brief(d, json_id(sp, "reward_id"), cid));
    set_now(d, list);
    *out = list;
    return HD_OK;
}

/* ---- where the member stands in auctions, groups and trials ---- */

static hd_rc my_bids_cb(hd_conn *c, void *vctx, hd_err *err) {
    view_ctx *v = vctx;
    hd_val p = hd_vint(v->cid);
    hd_rows *r;
    /* the latest bid per auction is the one with the highest seq */
    hd_rc rc =
        hd_query(c,
                 "SELECT auction_id, amount, status, seq FROM auction_bids WHERE customer_id "
                 "= ? ORDER BY auction_id DESC, seq DESC LIMIT 500",
                 &p, 1, &r, err);
    if (rc) return rc;
    int got;
    int64_t last = 0;
    while ((got = hd_rows_next(r, err)) == 1) {
        int64_t aid = hd_rows_int(r, 0);
        if (aid == last) continue;
        last = aid;
        json_t *b = json_object();
        hd_json_set_id(b, "auction_id", aid);
        json_object_set_new(b, "bid", json_integer(hd_rows_int(r, 1)));
        json_object_set_new(b, "status", json_string(hd_rows_text(r, 2, NULL)));
        json_array_append_new(v->rows, b);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

static json_t *find_by(json_t *arr, const char *key, int64_t id) {
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) if (json_id(o, key) == id) return o;
    return NULL;
}

static int auction_rank(const json_t *a) {
    static const char *const order[] = {"open", "closing", "scheduled", "closed"};
    const char *s = json_string_value(json_object_get(a, "status"));
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, order[i]) == 0) return i;
    return 4;
}

hd_rc hd_member_auctions(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    json_t *recent = NULL, *data = json_array();
    view_ctx v = {.d = d, .cid = cid, .rows = json_array()};
    hd_rc rc = hd_auction_list(d, NULL, 0, HD_MEMBER_LIST_MAX, &recent, err);
    if (rc) goto done;
    if ((rc = hd_store_read(d->store, my_bids_cb, &v, err))) goto done;
    json_t *all = json_array();
    size_t i;
    json_t *a, *b;
    json_array_foreach(json_object_get(recent, "data"), i, a) json_array_append(all, a);
    /* auctions the member bid in that fell off the recent page */
    json_array_foreach(v.rows, i, b) {
        if (json_array_size(all) >= 2 * HD_MEMBER_LIST_MAX) break;
        int64_t aid = json_id(b, "auction_id");
        if (find_by(all, "id", aid)) continue;
        json_t *one = NULL;
        hd_err ignore;
        if (hd_auction_get(d, aid, &one, &ignore) == HD_OK) json_array_append_new(all, one);
    }
    for (int rank = 0; rank <= 4; rank++) {
        json_array_foreach(all, i, a) {
            if (auction_rank(a) != rank) continue;
            json_t *mine = find_by(v.rows, "auction_id", json_id(a, "id"));
            /* closed auctions show only where the member took part */
            if (rank == 3 && !mine) continue;
            json_t *me = json_null();
            if (mine) {
                const char *st = json_string_value(json_object_get(mine, "status"));
                bool outbid = st && (strcmp(st, "outbid") == 0 || strcmp(st, "lost") == 0);
                me = json_pack("{s:O,s:s,s:b,s:b}", "bid", json_object_get(mine, "bid"), "status",
                               st ? st : "", "outbid", outbid, "won", st && strcmp(st, "won") == 0);
            }
            /* who else won, and their order, are not this member's business */
            json_object_del(a, "winner_customer_id");
            if (!mine || !json_is_true(json_object_get(me, "won"))) json_object_del(a, "order_id");
            json_object_set_new(a, "me", me);
            json_object_set_new(a, "reward", reward_brief(d, json_id(a, "reward_id"), cid));
            json_array_append(data, a);
        }
    }
    json_decref(all);
    *out = json_pack("{s:O}", "data", data);
    set_now(d, *out);
done:
    json_decref(recent);
    json_decref(v.rows);
    json_decref(data);
    return rc;
}

typedef struct group_me_ctx {
    const char *code;
    int64_t cid;
    bool joined, initiator;
} group_me_ctx;

static hd_rc group_me_cb(hd_conn *c, void *vctx, hd_err *err) {
    group_me_ctx *g = vctx;
    hd_val p[2] = {hd_vint(g->cid), hd_vtext(g->code)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT g.initiator_id, m.group_id FROM groupbuy_groups g LEFT JOIN "
                        "groupbuy_members m ON m.group_id = g.id AND m.customer_id = ?1 WHERE "
                        "g.code = ?2",
                        p, 2, &r, err);
    if (rc) return rc;
    int got = hd_rows_next(r, err);
    if (got == 1) {
        g->initiator = hd_rows_int(r, 0) == g->cid;
        g->joined = !hd_rows_isnull(r, 1);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_member_group(hd_domain *d, int64_t cid, const char *code, json_t **out, hd_err *err) {
    json_t *g = NULL, *deal = NULL;
    hd_rc rc = hd_groupbuy_group(d, code, &g, err);
    if (rc) return rc;
    group_me_ctx m = {json_string_value(json_object_get(g, "code")), cid, false, false};
    if ((rc = hd_store_read(d->store, group_me_cb, &m, err))) {
        json_decref(g);
        return rc;
    }
    json_object_set_new(g, "me",
                        json_pack("{s:b,s:b}", "joined", m.joined, "initiator", m.initiator));
    hd_err ignore;
    if (hd_groupbuy_get(d, json_id(g, "deal_id"), &deal, &ignore) == HD_OK) {
        json_t *t = json_object_get(deal, "title");
        json_object_set(g, "title", t ? t : json_null());
        json_decref(deal);
    }
    json_object_set_new(g, "reward", reward_brief(d, json_id(g, "reward_id"), cid));
    char path[64];
    snprintf(path, sizeof path, "/m/g/%s", m.code ? m.code : "");
    json_object_set_new(g, "share_path", json_string(path));
    set_now(d, g);
    *out = g;
    return HD_OK;
}

static hd_rc my_groups_cb(hd_conn *c, void *vctx, hd_err *err) {
    view_ctx *v = vctx;
    hd_val p[2] = {hd_vint(v->cid), hd_vint(HD_MEMBER_LIST_MAX)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT g.code FROM groupbuy_members m JOIN groupbuy_groups g ON g.id = "
                        "m.group_id WHERE m.customer_id = ? ORDER BY m.joined_at DESC LIMIT ?",
                        p, 2, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1)
        json_array_append_new(v->rows, json_string(hd_rows_text(r, 0, NULL)));
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_member_groupbuys(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    json_t *deals = NULL, *data = json_array(), *mine = json_array();
    view_ctx v = {.d = d, .cid = cid, .rows = json_array()};
    hd_rc rc = hd_groupbuy_list(d, 0, HD_MEMBER_LIST_MAX, &deals, err);
    if (rc) goto done;
    int64_t now = hd_now(d);
    size_t i;
    json_t *g, *code;
    json_array_foreach(json_object_get(deals, "data"), i, g) {
        int64_t s = json_ms(g, "starts_at"), e = json_ms(g, "ends_at");
        if (!json_is_true(json_object_get(g, "active")) || (s && s > now) || (e && e <= now) ||
            json_integer_value(json_object_get(g, "available_groups")) <= 0)
            continue;
        json_object_set_new(g, "reward", reward_brief(d, json_id(g, "reward_id"), cid));
        json_array_append(data, g);
    }
    if ((rc = hd_store_read(d->store, my_groups_cb, &v, err))) goto done;
    json_array_foreach(v.rows, i, code) {
        json_t *one = NULL;
        hd_err ignore;
        if (hd_member_group(d, cid, json_string_value(code), &one, &ignore) == HD_OK)
            json_array_append_new(mine, one);
    }
    *out = json_pack("{s:O,s:O}", "data", data, "mine", mine);
    set_now(d, *out);
done:
    json_decref(deals);
    json_decref(data);
    json_decref(mine);
    json_decref(v.rows);
    return rc;
}

static hd_rc my_trials_cb(hd_conn *c, void *vctx, hd_err *err) {
    view_ctx *v = vctx;
    hd_val p[2] = {hd_vint(v->cid), hd_vint(HD_MEMBER_LIST_MAX)};
    hd_rows *r;
    hd_rc rc = hd_query(c,
                        "SELECT trial_id FROM trial_applications WHERE customer_id = ? ORDER BY "
                        "applied_at DESC LIMIT ?",
                        p, 2, &r, err);
    if (rc) return rc;
    int got;
    while ((got = hd_rows_next(r, err)) == 1) {
        json_t *o = json_object();
        hd_json_set_id(o, "id", hd_rows_int(r, 0));
        json_array_append_new(v->rows, o);
    }
    hd_rows_free(r);
    return got < 0 ? err->rc : HD_OK;
}

hd_rc hd_member_trials(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    json_t *open = NULL, *soon = NULL, *data = json_array();
    view_ctx v = {.d = d, .cid = cid, .rows = json_array()};
    hd_rc rc = hd_trial_list(d, "open", 0, HD_MEMBER_LIST_MAX, &open, err);
    if (!rc) rc = hd_trial_list(d, "scheduled", 0, HD_MEMBER_LIST_MAX, &soon, err);
    if (!rc) rc = hd_store_read(d->store, my_trials_cb, &v, err);
    if (rc) goto done;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(open, "data"), i, t) json_array_append(data, t);
    json_array_foreach(json_object_get(soon, "data"), i, t) json_array_append(data, t);
    json_array_foreach(v.rows, i, t) {
        if (find_by(data, "id", json_id(t, "id"))) continue;
        json_t *one = NULL;
        hd_err ignore;
        if (hd_trial_get(d, json_id(t, "id"), &one, &ignore) == HD_OK)
            json_array_append_new(data, one);
    }
    json_array_foreach(data, i, t) {
        json_t *me = json_null();
        if (find_by(v.rows, "id", json_id(t, "id"))) {
            json_t *apps = NULL;
            hd_err ignore;
            if (hd_trial_applications(d, json_id(t, "id"), NULL, cid, 0, 1, &apps, &ignore) ==
                    HD_OK &&
                json_array_size(json_object_get(apps, "data")) > 0)
                me = json_incref(json_array_get(json_object_get(apps, "data"), 0));
            json_decref(apps);
        }
        json_object_set_new(t, "me", me);
        json_object_set_new(t, "reward", reward_brief(d, json_id(t, "reward_id"), cid));
    }
    *out = json_pack("{s:O}", "data", data);
    set_now(d, *out);
done:
    json_decref(open);
    json_decref(soon);
    json_decref(data);
    json_decref(v.rows);
    return rc;
}

hd_rc hd_member_referral(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    char ref[HD_REFERRAL_CODE_LEN + 1];
    hd_rc rc = referral_code(d, cid, ref, err);
    if (rc) return rc;
    char path[64];
    snprintf(path, sizeof path, "/m/?ref=%s", ref);
    *out = json_pack("{s:s,s:s,s:b,s:{s:s,s:s}}", "code", ref, "path", path, "available", false,
                     "message", "zh", "推荐有礼即将上线：先把链接分享给好友吧。", "en",
                     "The referral programme is coming soon: share your link already.");
    return HD_OK;
}

hd_rc hd_member_instalments(hd_domain *d, int64_t cid, json_t **out, hd_err *err) {
    (void)d;
    (void)cid;
    (void)err;
    *out =
        json_pack("{s:[],s:b,s:{s:s,s:s}}", "data", "available", false, "message", "zh",
                  "积分分期暂未开放，敬请期待。", "en", "Instalment plans are not available yet.");
    return HD_OK;
}
