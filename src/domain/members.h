/* members.h - the member side of hudong (DESIGN §4.11, issue 6): sign-in by
 * phone with a one-time code, member sessions, and the views the member
 * pages (/m/) read, each for the one signed-in customer.
 *
 * One-time codes: 6 digits, valid HD_OTP_TTL_MS, single use; HD_OTP_TRIES_MAX
 * wrong tries void the code; a phone gets at most one code per
 * HD_OTP_RESEND_MS and HD_OTP_DAY_MAX in 24 hours (the limits live in the
 * store, so they hold across nodes). Codes are delivered by a pluggable
 * sender; the default "log" sender writes "otp: <phone> <code>" to its log
 * and remembers the last code per phone so tests can read it
 * (GET /v1/test/otp, only with --test-clock).
 *
 * Member sessions are their own table, apart from console sessions: a member
 * cookie never opens a console route and a console cookie never opens a
 * member route. A session names a customer, found or created by the phone
 * identity at sign-in (hd_customer_resolve) and followed through merges.
 *
 * The views compose the spending modules' own calls (catalog, specials,
 * auctions, group buys, trials, ledger). To say where this member stands in
 * an auction, group or trial they read this customer's rows of
 * auction_bids, groupbuy_members and trial_applications (read-only, keyed by
 * customer_id first); every write goes through the owning module. */
#ifndef HD_MEMBERS_H
#define HD_MEMBERS_H

#include <stdio.h>

#include "domain/domain.h"

#define HD_OTP_DIGITS             6
#define HD_OTP_TTL_MS             (5LL * 60 * 1000)
#define HD_OTP_RESEND_MS          (60LL * 1000)
#define HD_OTP_TRIES_MAX          5
#define HD_OTP_DAY_MAX            10 /* codes to one phone in 24 hours */
#define HD_OTP_CLIENT_MAX         60 /* codes asked from one client address in an hour */
#define HD_OTP_CLIENT_MS          (3600LL * 1000)
#define HD_OTP_DAY_MS             (86400LL * 1000)
#define HD_OTP_REMEMBER_MAX       256 /* phones whose last code the log sender keeps */
#define HD_MEMBER_SESSION_IDLE_MS (30LL * 86400 * 1000) /* unused this long: ended */
#define HD_MEMBER_SESSION_MAX_MS  (90LL * 86400 * 1000) /* a session never lives longer */
#define HD_MEMBER_LIST_MAX        50                    /* items in one member view */
#define HD_REFERRAL_CODE_LEN      8

/* ---- delivering codes ---- */

/* A way to deliver a code (SMS gateway, WeChat template message, …). send
 * runs after the code is stored, outside any transaction; an error is
 * reported to the member and the code stays valid (they may try it if it
 * arrived anyway). */
typedef struct hd_otp_sender {
    const char *name;
    hd_rc (*send)(void *arg, const char *phone_e164, const char *code, hd_err *err);
    void *arg;
} hd_otp_sender;

/* Module state on the domain (registered from modules.c). */
hd_rc hd_members_init(hd_domain *d, hd_err *err);
void hd_members_close(hd_domain *d);
/* Replaces the sender (copied; s->arg borrowed). NULL restores the log sender. */
void hd_member_set_sender(hd_domain *d, const hd_otp_sender *s);
/* Where the log sender writes (borrowed). Default stderr, which is the log of
 * `hudong serve`. */
void hd_member_set_log(hd_domain *d, FILE *log);
/* How many codes one client address may ask for in an hour (default
 * HD_OTP_CLIENT_MAX; 0: no cap): `hudong serve --otp-per-client-hour`. */
void hd_member_set_client_max(hd_domain *d, int per_hour);
/* The last code the log sender delivered to phone (any spelling): for tests.
 * HD_ENOTFOUND when none is remembered, HD_EINVAL when phone is not one. */
hd_rc hd_member_otp_peek(hd_domain *d, const char *phone, char code[HD_OTP_DIGITS + 1],
                         hd_err *err);

/* ---- sign-in ---- */

/* Sends a new code to phone (normalised into phone_e164), asked for from
 * client (an address; NULL: not counted). Within HD_OTP_RESEND_MS of the
 * phone's last code, past HD_OTP_DAY_MAX to it in a day, or past the
 * client cap (hd_member_set_client_max) from client in an hour: HD_ESTATE naming "phone" or
 * "client", with *retry_after_ms > 0 (the API answers 429). A bad number is
 * HD_EINVAL. */
hd_rc hd_member_otp_send(hd_domain *d, const char *phone, const char *client, char phone_e164[20],
                         int64_t *retry_after_ms, hd_err *err);

/* Checks the code; on success uses it up, finds or creates the customer by
 * the phone identity and opens a session: *token (the cookie value, caller
 * frees) and csrf. A wrong, expired, used or voided code is HD_EAUTH naming
 * "code" (the wrong try is counted even though the call fails). */
hd_rc hd_member_login(hd_domain *d, const char *phone, const char *code, int64_t *customer_id,
                      bool *created, char **token, char csrf[48], hd_err *err);
/* Resolves a member cookie to the (live) customer; HD_EAUTH when unknown,
 * idle too long or past its lifetime. */
hd_rc hd_member_session_check(hd_domain *d, const char *token, int64_t *customer_id, char csrf[48],
                              hd_err *err);
hd_rc hd_member_logout(hd_domain *d, const char *token, hd_err *err);

/* Scheduled: drops expired sessions and old codes (at most once a minute). */
hd_rc hd_member_job(hd_domain *d, int64_t now_ms, void *arg, hd_err *err);
/* Merge hook: sessions and the member record follow the survivor. */
hd_rc hd_member_on_merge(hd_conn *c, hd_domain *d, int64_t survivor, int64_t loser, void *arg,
                         hd_err *err);

/* ---- what a member sees (all for customer_id only) ---- */

/* {"customer_id","name","phone":"138****8000","tier":{"code","name"}|null,
 *  "points":{"balance","available","pending","credit_limit","debt",
 *  "expiring_30d","expiring":[{"points","expires_at"}]},"referral_code","now"} */
hd_rc hd_member_me(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* Rewards on offer with options pre-selected from the member's specs, each
 * with "best_points" (the lowest price that applies to this member now),
 * "special" (the special giving it, or null) and "eligible" (tier allows). */
hd_rc hd_member_rewards(hd_domain *d, int64_t customer_id, const char *type, int64_t cursor,
                        int limit, json_t **out, hd_err *err);
/* Specials this member can take now, each with its "reward". */
hd_rc hd_member_specials(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* Open and upcoming auctions and those the member bid in, each with
 * "me":{"bid","status":"leading|outbid|won|lost","outbid","won"}|null;
 * winner_customer_id is left out (and order_id unless the member won). */
hd_rc hd_member_auctions(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* Deals on offer ("data") and the member's own groups ("mine"). */
hd_rc hd_member_groupbuys(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* A group by share code with "me":{"joined","initiator"}, "title",
 * "reward", "share_path" and "now" (count down against the server's clock). */
hd_rc hd_member_group(hd_domain *d, int64_t customer_id, const char *code, json_t **out,
                      hd_err *err);
/* Open trials and those the member applied for, each with "me" (the
 * application) or null. */
hd_rc hd_member_trials(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* {"code","path":"/m/?ref=CODE","available":false,"message"}: the referral
 * programme comes later; the code is the member's own and stays. */
hd_rc hd_member_referral(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);
/* Instalment plans are not built yet: {"data":[],"available":false,"message"}. */
hd_rc hd_member_instalments(hd_domain *d, int64_t customer_id, json_t **out, hd_err *err);

#endif
