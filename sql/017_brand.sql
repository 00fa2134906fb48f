-- The brand's own settings, one row. utc_offset_min is its calendar: the
-- offset from UTC, in minutes east, at which its days and months begin -
-- per-day and per-month caps and limits, month-end expiry, instalment due
-- dates, monthly specials and daily reports. +08:00 (China) unless the brand
-- says otherwise with `hudong brand --utc-offset`.
-- both
CREATE TABLE brand (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    utc_offset_min INTEGER NOT NULL CHECK (utc_offset_min BETWEEN -840 AND 840),
    updated_at BIGINT NOT NULL DEFAULT 0
);
INSERT INTO brand (id, utc_offset_min) VALUES (1, 480);
