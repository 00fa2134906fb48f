-- Trials (试用): members apply in a window (the price held), K winners are
-- selected at the close, winners review within D days. The trial row is
-- the lock for its window (applicants grows by one per application while
-- the window is open; the close claims the row once it has passed).
-- Applications and reviews are per-customer rows, keyed by customer_id
-- first (docs/scaling.md).
-- both
CREATE TABLE trials (
    id BIGINT PRIMARY KEY,
    reward_id BIGINT NOT NULL,
    option_code TEXT,
    title_zh TEXT NOT NULL DEFAULT '',
    title_en TEXT NOT NULL DEFAULT '',
    units INTEGER NOT NULL,            -- K, set aside from the reward's stock at creation
    price BIGINT NOT NULL,             -- points held per application, may be 0
    bonus BIGINT NOT NULL DEFAULT 0,   -- points earned by a review on time
    apply_starts_at BIGINT NOT NULL,
    apply_ends_at BIGINT NOT NULL,
    eligibility TEXT NOT NULL DEFAULT '',
    selection TEXT NOT NULL,           -- lottery, engagement, first_come
    review_days INTEGER NOT NULL,
    tier_required INTEGER NOT NULL DEFAULT 0,
    applicants BIGINT NOT NULL DEFAULT 0,
    winners BIGINT NOT NULL DEFAULT 0,
    seed TEXT,                         -- lottery: 128 bits in hex, published at the close
    closed_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX trials_due ON trials (closed_at, apply_ends_at);

CREATE TABLE trial_applications (
    customer_id BIGINT NOT NULL,
    trial_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    transfer_id BIGINT,                -- the hold, NULL when the price is 0
    status TEXT NOT NULL,              -- applied, won, lost, reviewed, forfeited
    score BIGINT,
    draw_rank INTEGER,
    applied_at BIGINT NOT NULL,
    order_id BIGINT,
    review_due_at BIGINT,
    reviewed_at BIGINT,
    forfeited_at BIGINT,
    PRIMARY KEY (customer_id, trial_id)
);
CREATE INDEX trial_applications_trial ON trial_applications (trial_id, id);
CREATE INDEX trial_applications_due ON trial_applications (status, review_due_at);

CREATE TABLE trial_reviews (
    customer_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    trial_id BIGINT NOT NULL,
    application_id BIGINT NOT NULL,
    rating INTEGER NOT NULL,
    review_text TEXT NOT NULL,
    sentiment REAL,                    -- filled by the listening module later
    created_at BIGINT NOT NULL,
    PRIMARY KEY (customer_id, id)
);
CREATE INDEX trial_reviews_trial ON trial_reviews (trial_id, id);
