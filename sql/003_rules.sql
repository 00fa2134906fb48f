-- Earning rules and tiers.
-- both
CREATE TABLE rules (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    event_type TEXT NOT NULL,
    condition TEXT NOT NULL DEFAULT '',
    formula TEXT NOT NULL,
    currency TEXT NOT NULL DEFAULT 'points',
    cap_day BIGINT,
    cap_month BIGINT,
    budget BIGINT,
    awarded BIGINT NOT NULL DEFAULT 0,
    starts_at BIGINT,
    ends_at BIGINT,
    priority INTEGER NOT NULL DEFAULT 0,
    stackable INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX rules_type ON rules (event_type, active);

-- what each rule gave each customer, for caps (customer first: per-customer data)
CREATE TABLE rule_awards (
    customer_id BIGINT NOT NULL,
    rule_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, rule_id, event_id)
);
CREATE INDEX rule_awards_rule ON rule_awards (rule_id, customer_id, at);

CREATE TABLE tiers (
    id BIGINT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name_zh TEXT NOT NULL,
    name_en TEXT NOT NULL,
    threshold BIGINT NOT NULL,
    multiplier_milli BIGINT NOT NULL DEFAULT 1000,
    credit_limit BIGINT,
    grace_days INTEGER NOT NULL DEFAULT 30,
    access_specials INTEGER NOT NULL DEFAULT 0,
    access_auctions INTEGER NOT NULL DEFAULT 0,
    access_trials INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE customer_tiers (
    customer_id BIGINT PRIMARY KEY,
    tier_id BIGINT NOT NULL,
    since BIGINT NOT NULL,
    below_since BIGINT
);

CREATE TABLE tier_history (
    customer_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    from_tier TEXT,
    to_tier TEXT,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, id)
);

INSERT INTO meta (k, v) VALUES ('rules_version', '0');
