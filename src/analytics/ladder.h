/* ladder.h - the engagement ladder (DESIGN §4.10): 访客 visitor, 追随者 follower,
 * 好奇者 curious, 响应者 responder, 传播者 spreader, 关键人物 key person. A customer's
 * stage comes from counts of what they did in a window (views, follows, enquiries,
 * participation, shares that brought others, reach) against thresholds a brand may set;
 * over a period the ladder gives the distribution and the moves between stages.
 *
 * Pure C over arrays: no store, no I/O, no printing. */
#ifndef HD_LADDER_H
#define HD_LADDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define HD_LADDER_STAGES        6
#define HD_LADDER_NONE          0xFF    /* in a stage array: the customer was not known yet */
#define HD_LADDER_THRESHOLD_MAX 1000000 /* any count threshold */
#define HD_LADDER_REACH_MAX     1e12
#define HD_LADDER_WINDOW_MAX    3650 /* days */

/* Ordered: a higher stage is a deeper relationship. */
typedef enum hd_ladder_stage {
    HD_LADDER_VISITOR = 0, /* 访客: known to the brand, nothing more */
    HD_LADDER_FOLLOWER,    /* 追随者: follows the brand's accounts, site or community */
    HD_LADDER_CURIOUS,     /* 好奇者: asks, or keeps coming back to read */
    HD_LADDER_RESPONDER,   /* 响应者: takes part: activities, reviews, bids, trials */
    HD_LADDER_SPREADER,    /* 传播者: shares that brought other people */
    HD_LADDER_KEY_PERSON,  /* 关键人物: brings many people, or has a large audience */
} hd_ladder_stage;

/* What one customer did in the window. */
typedef struct hd_ladder_counts {
    uint32_t views;          /* page and product views */
    uint32_t follows;        /* follows / subscriptions */
    uint32_t enquiries;      /* questions asked */
    uint32_t participations; /* activities, reviews, bids, trials, group buys, surveys, shares */
    uint32_t conversions;    /* share.converted: a share that brought someone */
    double reach;            /* the largest audience seen on one event (properties.reach) */
} hd_ladder_counts;

/* A brand's thresholds. A customer is at the highest stage whose condition holds; the
 * stages need not be climbed in order (a first-time reviewer is a responder). A count
 * threshold of 0 turns that way up off. */
typedef struct hd_ladder_thresholds {
    uint32_t follower_follows;         /* follows >= this: follower (default 1) */
    uint32_t curious_enquiries;        /* enquiries >= this: curious (default 1) */
    uint32_t curious_views;            /* or views >= this (default 20) */
    uint32_t responder_participations; /* participations >= this: responder (default 1) */
    uint32_t spreader_conversions;     /* conversions >= this: spreader (default 1) */
    uint32_t key_conversions;          /* conversions >= this: key person (default 10) */
    double key_reach;                  /* or reach >= this (default 10000; 0 = off) */
    uint32_t window_days; /* the stage at t counts events in (t - window, t]; 0 = all time
                             (default 365) */
} hd_ladder_thresholds;

/* The defaults above. */
void hd_ladder_thresholds_default(hd_ladder_thresholds *t);

/* HD_EINVAL naming the field ("key_reach", ...) when a value is out of range: counts
 * above HD_LADDER_THRESHOLD_MAX, reach negative, not finite or above HD_LADDER_REACH_MAX,
 * window above HD_LADDER_WINDOW_MAX days. */
hd_rc hd_ladder_thresholds_check(const hd_ladder_thresholds *t, hd_err *err);

/* The stage of one customer. A reach that is not a finite number counts as 0. */
hd_ladder_stage hd_ladder_stage_of(const hd_ladder_counts *c, const hd_ladder_thresholds *t);

/* Stages of n customers into out[0 .. n). HD_EINVAL when the thresholds are invalid. */
hd_rc hd_ladder_stage_all(const hd_ladder_counts *c, size_t n, const hd_ladder_thresholds *t,
                          uint8_t *out, hd_err *err);

/* Which counter an event type feeds, by its name:
 *   conversion     share.converted
 *   follow         follow, subscribe, and any type ending in .follow or .subscribe
 *                  (wechat.follow)
 *   enquiry        first part enquiry, inquiry, question or consult (enquiry.product),
 *                  and conversation.opened
 *   participation  first part activity, campaign, review, bid, auction, trial, groupbuy,
 *                  group_buy, checkin, survey, vote, contest, comment, or share
 *   view           view, and any type ending in .view (page.view, product.view)
 *   other          everything else (orders, points, ...)
 * "First part" is the text before the first '.', or the whole type. */
typedef enum hd_ladder_kind {
    HD_LADDER_K_OTHER = 0,
    HD_LADDER_K_VIEW,
    HD_LADDER_K_FOLLOW,
    HD_LADDER_K_ENQUIRY,
    HD_LADDER_K_PARTICIPATION,
    HD_LADDER_K_CONVERSION,
} hd_ladder_kind;
hd_ladder_kind hd_ladder_classify(const char *type, size_t len);

/* Adds n events of a type to c (saturating at UINT32_MAX). */
void hd_ladder_count_add(hd_ladder_counts *c, hd_ladder_kind k, uint64_t n);

/* Distribution and moves over a period. */
typedef struct hd_ladder_moves {
    uint64_t start[HD_LADDER_STAGES];                    /* customers per stage at the start */
    uint64_t end[HD_LADDER_STAGES];                      /* per stage at the end (new ones too) */
    uint64_t matrix[HD_LADDER_STAGES][HD_LADDER_STAGES]; /* [stage at start][stage at end] */
    uint64_t entered[HD_LADDER_STAGES]; /* not known at the start, at this stage at the end */
    uint64_t up, down, same;            /* among customers known at both ends */
    uint64_t customers;                 /* known at the end */
} hd_ladder_moves;

/* Counts the moves of n customers from from[i] to to[i] (stage numbers, or
 * HD_LADDER_NONE when not known at that end; customers unknown at the end are left
 * out). HD_EINVAL naming the index when a value is neither a stage nor HD_LADDER_NONE. */
hd_rc hd_ladder_moves_count(const uint8_t *from, const uint8_t *to, size_t n, hd_ladder_moves *out,
                            hd_err *err);

/* Stable key ("visitor", "key_person"), English and Chinese names; "" when out of
 * range. hd_ladder_stage_parse maps a key back (false when unknown). */
const char *hd_ladder_stage_key(hd_ladder_stage s);
const char *hd_ladder_stage_en(hd_ladder_stage s);
const char *hd_ladder_stage_zh(hd_ladder_stage s);
bool hd_ladder_stage_parse(const char *key, hd_ladder_stage *out);

#endif
