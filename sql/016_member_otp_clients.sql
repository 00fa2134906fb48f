-- Members: at most HD_OTP_CLIENT_MAX codes an hour from one client address
-- (counted from the first of them), so a script cannot walk through phone
-- numbers from one machine, each phone getting a few texts the brand pays for.
-- both
CREATE TABLE member_otp_clients (
    client TEXT PRIMARY KEY,          -- the address the code was asked from
    window_from BIGINT NOT NULL,      -- the hour counts from here
    sent INTEGER NOT NULL
);
CREATE INDEX member_otp_clients_window ON member_otp_clients (window_from);
