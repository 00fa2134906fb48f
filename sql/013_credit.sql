-- Overdraft (透支): who is in debt since when, whose limit is lowered to zero
-- for overdue debt (and what to restore once it is repaid), limits set by
-- hand (which the credit formula leaves alone), and a log of every change
-- this module makes to a credit limit. The programme settings credit_formula
-- and overdue_days live in the ledger's program table.
-- both
CREATE TABLE credit_members (
    customer_id BIGINT PRIMARY KEY,
    negative_since BIGINT,              -- first seen below zero; NULL: not in debt
    frozen INTEGER NOT NULL DEFAULT 0,  -- limit lowered to 0 for overdue debt
    frozen_at BIGINT,
    saved_limit BIGINT,                 -- restored once the debt is repaid
    manual_limit BIGINT,                -- set by hand: recomputes leave it alone
    manual_reason TEXT,
    updated_at BIGINT NOT NULL
);
CREATE INDEX credit_members_debt ON credit_members (negative_since)
    WHERE negative_since IS NOT NULL;

CREATE TABLE credit_log (
    id BIGINT PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    source TEXT NOT NULL,               -- manual, formula, overdue, repaid
    old_limit BIGINT NOT NULL,
    new_limit BIGINT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    at BIGINT NOT NULL
);
CREATE INDEX credit_log_customer ON credit_log (customer_id, id);

-- when the credit job last scanned for debt and last applied the formula
CREATE TABLE credit_jobs (
    k TEXT PRIMARY KEY,
    v BIGINT NOT NULL
);
INSERT INTO credit_jobs (k, v) VALUES ('scan', 0), ('recompute', 0);
