-- Group buys (团购): a deal sells a reward in groups of N at a group price.
-- The deal row locks its stock (reserved grows by N when a group starts and
-- shrinks when one expires); the group row locks its places (members grows
-- by one per join, never past group_size). Members are per-customer rows,
-- keyed by customer_id first (docs/scaling.md).
-- both
CREATE TABLE groupbuy_deals (
    id BIGINT PRIMARY KEY,
    reward_id BIGINT NOT NULL,
    option_code TEXT,
    title_zh TEXT NOT NULL DEFAULT '',
    title_en TEXT NOT NULL DEFAULT '',
    group_size INTEGER NOT NULL,
    price BIGINT NOT NULL,             -- points per member
    fill_ms BIGINT NOT NULL,           -- time a group has to fill
    stock BIGINT NOT NULL,             -- units this deal may sell
    reserved BIGINT NOT NULL DEFAULT 0, -- units held by open and completed groups
    sold BIGINT NOT NULL DEFAULT 0,
    starts_at BIGINT,
    ends_at BIGINT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE groupbuy_groups (
    id BIGINT PRIMARY KEY,
    deal_id BIGINT NOT NULL,
    initiator_id BIGINT NOT NULL,
    reward_id BIGINT NOT NULL,         -- copied from the deal when the group starts
    option_code TEXT,
    code TEXT NOT NULL UNIQUE,         -- the share code
    group_size INTEGER NOT NULL,
    members INTEGER NOT NULL DEFAULT 0,
    price BIGINT NOT NULL,
    status TEXT NOT NULL,              -- open, completed, expired
    expires_at BIGINT NOT NULL,
    completed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX groupbuy_groups_deal ON groupbuy_groups (deal_id, id);
CREATE INDEX groupbuy_groups_due ON groupbuy_groups (status, expires_at);

CREATE TABLE groupbuy_members (
    customer_id BIGINT NOT NULL,
    group_id BIGINT NOT NULL,
    deal_id BIGINT NOT NULL,
    seq INTEGER NOT NULL,              -- 1 for the starter, N for the member who completed it
    transfer_id BIGINT NOT NULL,       -- the hold
    via_code INTEGER NOT NULL,
    status TEXT NOT NULL,              -- held, posted, voided
    order_id BIGINT,
    joined_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, group_id)
);
CREATE UNIQUE INDEX groupbuy_members_group ON groupbuy_members (group_id, seq);
