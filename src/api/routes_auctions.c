/* routes_auctions.c - handlers for auctions and their bids. */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "domain/auctions.h"

static void h_create(hd_req *r, hd_resp *w) {
    hd_post_idem(r, w, hd_auction_create, "/v1/auctions");
}

static void h_list(hd_req *r, hd_resp *w) {
    int64_t limit, cursor;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_AUCTION_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_auction_list(r->d, hd_req_query(r, "status"), cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_get(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "auction", &id, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_auction_get(r->d, id, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_patch(hd_req *r, hd_resp *w) {
    int64_t id;
    if (!hd_req_id(r, 0, "auction", &id, w)) return;
    json_t *in = hd_req_json(r, w);
    if (!in) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_auction_patch(r->d, id, in, &out, &err);
    json_decref(in);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static void h_bid(hd_req *r, hd_resp *w) { hd_post_idem_id(r, w, "auction", hd_auction_bid); }

static void h_bids(hd_req *r, hd_resp *w) {
    int64_t id, limit, cursor;
    if (!hd_req_id(r, 0, "auction", &id, w)) return;
    if (!hd_req_query_int(r, "limit", 50, 1, HD_AUCTION_PAGE_MAX, &limit, w)) return;
    if (!hd_req_cursor(r, &cursor, w)) return;
    hd_err err;
    json_t *out = NULL;
    hd_rc rc = hd_auction_bids(r->d, id, cursor, (int)limit, &out, &err);
    hd_resp_result(w, rc, &err, 200, out, false);
}

static const hd_route routes[] = {
    {"POST", "/v1/auctions", "points:write", h_create, false, NULL},
    {"GET", "/v1/auctions", "points:read", h_list, false, NULL},
    {"GET", "/v1/auctions/{id}", "points:read", h_get, false, NULL},
    {"PATCH", "/v1/auctions/{id}", "points:write", h_patch, false, NULL},
    {"POST", "/v1/auctions/{id}/bids", "points:write", h_bid, false, NULL},
    {"GET", "/v1/auctions/{id}/bids", "points:read", h_bids, false, NULL},
};
HD_ROUTE_TABLE(hd_routes_auctions, routes);
