-- Members: a phone gets at most HD_OTP_DAY_MAX codes in 24 hours (counted
-- from the first of them), so a script cannot make the brand pay for an SMS
-- to the same phone every minute all day.
-- both
ALTER TABLE member_otps ADD COLUMN day_from BIGINT NOT NULL DEFAULT 0;
ALTER TABLE member_otps ADD COLUMN day_sent INTEGER NOT NULL DEFAULT 0;
