-- Auctions (竞拍): a reward goes to the highest bid in points. The auction
-- row is the lock every bid takes (a conditional UPDATE of leader and
-- amount); prev_bid_id is the bid the last claim displaced, read by that
-- same transaction to void its hold.
-- Bids are per-customer rows, keyed by customer_id first (docs/scaling.md).
-- both
CREATE TABLE auctions (
    id BIGINT PRIMARY KEY,
    reward_id BIGINT NOT NULL,
    option_code TEXT,
    title_zh TEXT NOT NULL DEFAULT '',
    title_en TEXT NOT NULL DEFAULT '',
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,          -- moved later by anti-sniping
    scheduled_end BIGINT NOT NULL,    -- the end as set, before any extension
    starting_bid BIGINT NOT NULL,
    increment BIGINT NOT NULL,
    reserve BIGINT,
    snipe_window_ms BIGINT NOT NULL DEFAULT 0,
    snipe_max_ms BIGINT NOT NULL DEFAULT 0,
    tier_required INTEGER NOT NULL DEFAULT 0,
    leader_id BIGINT,                 -- customer holding the lead
    leader_bid_id BIGINT,
    prev_bid_id BIGINT,
    amount BIGINT NOT NULL DEFAULT 0, -- the leading bid
    bids BIGINT NOT NULL DEFAULT 0,
    outcome TEXT,                     -- sold, reserve_not_met, no_bids, out_of_stock
    winner_id BIGINT,
    order_id BIGINT,
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX auctions_due ON auctions (closed_at, ends_at);

CREATE TABLE auction_bids (
    customer_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    auction_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,              -- 1, 2, … in the order the claims won the auction row
    amount BIGINT NOT NULL,
    transfer_id BIGINT NOT NULL,      -- the hold
    status TEXT NOT NULL,             -- leading, outbid, replaced, won, lost
    created_at BIGINT NOT NULL,
    resolved_at BIGINT,
    PRIMARY KEY (customer_id, id)
);
CREATE UNIQUE INDEX auction_bids_auction ON auction_bids (auction_id, seq);
CREATE INDEX auction_bids_id ON auction_bids (auction_id, id);
