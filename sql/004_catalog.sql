-- The catalog (积分换购): rewards and their options with stock, the orders
-- that deliver them (from redemption and every other spending module), the
-- monthly specials (月度特惠), and per-customer usage counters for limits.
-- Stock and counters change only through conditional UPDATEs
-- (`... WHERE stock >= ?`), so racing buyers can never oversell.
-- both
CREATE TABLE rewards (
    id BIGINT PRIMARY KEY,
    type TEXT NOT NULL,                      -- physical, digital, coupon, service
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    desc_zh TEXT NOT NULL DEFAULT '',
    desc_en TEXT NOT NULL DEFAULT '',
    price_points BIGINT NOT NULL,
    price_cash BIGINT NOT NULL DEFAULT 0,    -- fen on top of the points
    stock BIGINT,                            -- NULL = unlimited
    sold BIGINT NOT NULL DEFAULT 0,
    limit_n BIGINT,                          -- per customer per period, NULL = none
    limit_period TEXT NOT NULL DEFAULT 'ever', -- day, month, year, ever
    tiers TEXT,                              -- JSON array of tier codes, NULL = everyone
    spec_category TEXT NOT NULL DEFAULT '',  -- customer specs category for pre-selection
    coupon_template_id BIGINT,               -- type coupon: the template it issues
    starts_at BIGINT,
    ends_at BIGINT,
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rewards_type ON rewards (type, id);

CREATE TABLE reward_options (
    reward_id BIGINT NOT NULL,
    code TEXT NOT NULL,
    pos INTEGER NOT NULL,
    name_zh TEXT NOT NULL DEFAULT '',
    name_en TEXT NOT NULL DEFAULT '',
    attrs TEXT NOT NULL DEFAULT '{}',
    stock BIGINT,                            -- NULL = unlimited
    sold BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (reward_id, code)
);

CREATE TABLE reward_orders (
    id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    reward_id BIGINT NOT NULL,
    option_code TEXT,
    quantity INTEGER NOT NULL,
    points BIGINT NOT NULL,
    cash BIGINT NOT NULL DEFAULT 0,
    source TEXT NOT NULL,                    -- redemption, special, auction, groupbuy, trial, instalment
    source_ref TEXT,
    special_id BIGINT,
    transfer_id BIGINT,
    refund_transfer_id BIGINT,
    usage_period TEXT,                       -- the reward limit period it counted in
    status TEXT NOT NULL,                    -- placed, shipped, delivered, cancelled
    carrier TEXT,
    tracking_number TEXT,
    cancel_reason TEXT,
    shipped_at BIGINT,
    delivered_at BIGINT,
    cancelled_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX reward_orders_customer ON reward_orders (customer_id, id);
CREATE INDEX reward_orders_reward ON reward_orders (reward_id, id);
CREATE INDEX reward_orders_created ON reward_orders (created_at);

CREATE TABLE specials (
    id BIGINT PRIMARY KEY,
    reward_id BIGINT NOT NULL,
    title_zh TEXT NOT NULL DEFAULT '',
    title_en TEXT NOT NULL DEFAULT '',
    points BIGINT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    quantity BIGINT,                         -- NULL = unlimited
    sold BIGINT NOT NULL DEFAULT 0,
    per_customer BIGINT,                     -- NULL = no limit
    eligibility TEXT NOT NULL DEFAULT '',    -- a condition in the rules language
    tier_access INTEGER NOT NULL DEFAULT 0,  -- only tiers whose access.specials is true
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX specials_reward ON specials (reward_id, starts_at);
CREATE INDEX specials_window ON specials (starts_at, ends_at);

-- how much of a limited thing each customer took in a period: kind 'reward'
-- (period day:2026-03-05, month:2026-03, year:2026 or ever) or 'special'
CREATE TABLE catalog_usage (
    customer_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    ref_id BIGINT NOT NULL,
    period TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (customer_id, kind, ref_id, period)
);
