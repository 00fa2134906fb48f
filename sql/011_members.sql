-- Members (issue 6): one-time sign-in codes by phone, member sessions (apart
-- from console sessions), and one row per customer who ever signed in to the
-- member pages (with the referral code the referral programme will use).
-- A code is stored as SHA-256 of "phone:code": it lives five minutes and
-- never sits in the store or a backup in the clear.
-- both
CREATE TABLE member_otps (
    phone TEXT PRIMARY KEY,           -- E.164
    code_hash TEXT NOT NULL,
    sent_at BIGINT NOT NULL,          -- the resend limit counts from here
    expires_at BIGINT NOT NULL,
    tries INTEGER NOT NULL DEFAULT 0, -- wrong codes entered
    burnt INTEGER NOT NULL DEFAULT 0  -- 1 once used, or after too many wrong tries
);
CREATE INDEX member_otps_sent ON member_otps (sent_at);

CREATE TABLE member_sessions (
    token_hash TEXT PRIMARY KEY,      -- SHA-256 of the cookie value
    customer_id BIGINT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX member_sessions_customer ON member_sessions (customer_id);
CREATE INDEX member_sessions_expires ON member_sessions (expires_at);

CREATE TABLE members (
    customer_id BIGINT PRIMARY KEY,
    referral_code TEXT NOT NULL UNIQUE,
    first_login_at BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    logins BIGINT NOT NULL DEFAULT 0
);
