-- The points ledger: double-entry accounts and transfers (TigerBeetle's model
-- inside SQL), lots for expiry, the programme settings.
-- Balance of an account = credits_posted - debits_posted. Every transfer adds
-- its amount to one account's debits and another's credits, so the sum of all
-- balances is zero by construction; hudong check verifies it anyway.
-- both
CREATE TABLE accounts (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    customer_id BIGINT,
    currency TEXT NOT NULL,
    kind TEXT NOT NULL,
    debits_posted BIGINT NOT NULL DEFAULT 0,
    credits_posted BIGINT NOT NULL DEFAULT 0,
    debits_pending BIGINT NOT NULL DEFAULT 0,
    credits_pending BIGINT NOT NULL DEFAULT 0,
    credit_limit BIGINT NOT NULL DEFAULT 0,
    limit_excess BIGINT NOT NULL DEFAULT 0, -- usage beyond the limit when it was lowered
    created_at BIGINT NOT NULL
);
CREATE INDEX accounts_customer ON accounts (customer_id);

CREATE TABLE transfers (
    id BIGINT PRIMARY KEY,
    tkey TEXT NOT NULL UNIQUE,
    request_hash TEXT NOT NULL,
    debit_id BIGINT NOT NULL,
    credit_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    code TEXT NOT NULL,
    reference TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    timeout_at BIGINT,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX transfers_debit ON transfers (debit_id, created_at);
CREATE INDEX transfers_credit ON transfers (credit_id, created_at);
CREATE INDEX transfers_reference ON transfers (reference) WHERE reference <> '';
CREATE INDEX transfers_pending ON transfers (timeout_at) WHERE status = 'pending';

CREATE TABLE lots (
    id BIGINT PRIMARY KEY,
    account_id BIGINT NOT NULL,
    transfer_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    remaining BIGINT NOT NULL,
    expires_at BIGINT NOT NULL, -- 9223372036854775807 = never
    created_at BIGINT NOT NULL
);
-- open lots in spending order; spent lots drop out of the index, so a member
-- with thousands of old lots still finds the next one in one step
CREATE INDEX lots_open ON lots (account_id, expires_at, id) WHERE remaining > 0;
CREATE INDEX lots_expiry ON lots (expires_at) WHERE remaining > 0;

-- which lots a debit consumed, so voiding a hold gives them back
CREATE TABLE lot_uses (
    transfer_id BIGINT NOT NULL,
    lot_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (transfer_id, lot_id)
);

CREATE TABLE program (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);

INSERT INTO accounts (id, name, currency, kind, created_at) VALUES
    (1, 'system:issuance', 'points', 'system', 0),
    (2, 'system:redemption', 'points', 'system', 0),
    (3, 'system:expiry', 'points', 'system', 0),
    (4, 'system:adjustment', 'points', 'system', 0),
    (5, 'system:growth', 'growth', 'system', 0);
