-- Coupons (优惠券): templates with limits, the coupons issued or claimed from
-- them, and how many each customer holds. `given` counts every coupon a
-- template handed out (bulk issue, claim, catalog reward) and only moves by
-- a conditional UPDATE against `quantity`, so a live launch gives away
-- exactly the quantity however many clients race.
-- both
CREATE TABLE coupon_templates (
    id BIGINT PRIMARY KEY,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,                      -- amount, percent
    amount_off BIGINT NOT NULL DEFAULT 0,    -- fen
    percent_off INTEGER NOT NULL DEFAULT 0,  -- 1..100
    max_discount BIGINT,                     -- percent: cap in fen, NULL = none
    min_spend BIGINT NOT NULL DEFAULT 0,     -- fen
    valid_from BIGINT,                       -- fixed validity
    valid_to BIGINT,
    valid_days INTEGER,                      -- or N days from claim
    claim_starts_at BIGINT,
    claim_ends_at BIGINT,
    per_customer BIGINT,                     -- NULL = no limit
    quantity BIGINT,                         -- NULL = unlimited
    given BIGINT NOT NULL DEFAULT 0,
    segment TEXT NOT NULL DEFAULT '',        -- eligibility in the rules language
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE coupons (
    code TEXT PRIMARY KEY,
    template_id BIGINT NOT NULL,
    customer_id BIGINT,                      -- NULL: a bearer code from bulk issue
    origin TEXT NOT NULL,                    -- issue, claim, reward
    origin_ref TEXT,
    status TEXT NOT NULL,                    -- available, redeemed
    valid_from BIGINT,
    valid_to BIGINT,
    order_ref TEXT,
    redeemed_by BIGINT,
    redeemed_amount BIGINT,
    discount BIGINT,
    redeemed_at BIGINT,
    restored_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX coupons_template ON coupons (template_id, created_at);
CREATE INDEX coupons_customer ON coupons (customer_id, created_at);
CREATE INDEX coupons_created ON coupons (created_at);
CREATE INDEX coupons_redeemed ON coupons (redeemed_at);

CREATE TABLE coupon_holders (
    customer_id BIGINT NOT NULL,
    template_id BIGINT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (customer_id, template_id)
);
