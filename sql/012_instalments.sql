-- Instalments (积分分期): a reward taken now and paid in 3, 6 or 12 scheduled
-- instalments. The first is charged at once; the unpaid rest is a pending
-- ledger transfer (a hold), so it counts against the member's available
-- points and credit limit. At each due date the hold is voided and replaced
-- by the posted instalment plus a smaller hold, in one transaction, with
-- transfer keys made from the plan id ("inst:<plan>:<n>:post|hold").
-- both
CREATE TABLE instalment_plans (
    id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    reward_id BIGINT NOT NULL,
    option_code TEXT,
    order_id BIGINT NOT NULL,
    total BIGINT NOT NULL,              -- points in all
    instalments INTEGER NOT NULL,       -- 3, 6 or 12
    period TEXT NOT NULL,               -- month or week
    paid BIGINT NOT NULL DEFAULT 0,     -- points collected so far
    paid_count INTEGER NOT NULL DEFAULT 0,
    held BIGINT NOT NULL DEFAULT 0,     -- the current hold's amount, 0 when none
    hold_transfer_id BIGINT,            -- the pending transfer holding the rest
    next_due_at BIGINT,                 -- NULL once nothing more falls due
    status TEXT NOT NULL,               -- active, paid_off, delinquent, cancelled
    payoff TEXT,                        -- paid_off: schedule or early
    delinquent_at BIGINT,
    delinquent_reason TEXT,
    paid_off_at BIGINT,
    cancelled_at BIGINT,
    cancel_reason TEXT,
    refund_transfer_id BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX instalment_plans_customer ON instalment_plans (customer_id, id);
CREATE INDEX instalment_plans_due ON instalment_plans (next_due_at)
    WHERE status IN ('active', 'delinquent');
CREATE INDEX instalment_plans_status ON instalment_plans (status, delinquent_at);

-- one row per instalment: what falls due when, and when it was paid
CREATE TABLE instalment_schedule (
    plan_id BIGINT NOT NULL,
    n INTEGER NOT NULL,
    amount BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    paid_at BIGINT,
    transfer_id BIGINT,
    PRIMARY KEY (plan_id, n)
);
