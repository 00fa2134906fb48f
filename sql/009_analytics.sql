-- Analytics: cached results, jobs that compute them, per-customer scores, the
-- ladder thresholds, and saved segments. DOUBLE PRECISION is REAL in SQLite and
-- float8 in PostgreSQL. Per-customer data is keyed by customer_id first.
-- both
CREATE TABLE analytics_cache (
    kind TEXT NOT NULL,           -- rfm, pareto, clv, baskets, ladder
    params TEXT NOT NULL,         -- canonical query string, '' for the defaults
    result TEXT NOT NULL,         -- the JSON answer
    computed_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, params)
);
CREATE INDEX analytics_cache_age ON analytics_cache (computed_at);

CREATE TABLE analytics_jobs (
    id BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,         -- queued, running, done, failed
    progress DOUBLE PRECISION NOT NULL DEFAULT 0,
    error TEXT,
    created_at BIGINT NOT NULL,
    started_at BIGINT,
    finished_at BIGINT,
    updated_at BIGINT NOT NULL    -- heartbeat while running
);
CREATE INDEX analytics_jobs_status ON analytics_jobs (status, created_at);

-- what the last RFM and CLV runs said about each customer (NULL: not scored)
CREATE TABLE customer_scores (
    customer_id BIGINT PRIMARY KEY,
    rfm_r INTEGER,
    rfm_f INTEGER,
    rfm_m INTEGER,
    rfm_segment TEXT,
    rfm_at BIGINT,
    clv DOUBLE PRECISION,
    p_alive DOUBLE PRECISION,
    expected_purchases DOUBLE PRECISION,
    clv_at BIGINT
);

CREATE TABLE analytics_settings (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE segments (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    expression TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    member_count BIGINT,
    counted_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
