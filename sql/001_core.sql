-- Core tables: customers and identities, events and orders, touchpoints,
-- API keys, idempotency records, merges. Every per-customer table is keyed by
-- customer_id first so the schema can be distributed by customer (docs/scaling.md).
-- Times are BIGINT milliseconds since the Unix epoch (UTC); money is BIGINT fen.
-- both
CREATE TABLE meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);

CREATE TABLE customers (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    name_norm TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    attributes TEXT NOT NULL DEFAULT '{}',
    consent TEXT NOT NULL DEFAULT '{}',
    specs TEXT NOT NULL DEFAULT '{}',
    merged_into BIGINT,
    erased_at BIGINT,
    orders BIGINT NOT NULL DEFAULT 0,
    revenue BIGINT NOT NULL DEFAULT 0,
    events BIGINT NOT NULL DEFAULT 0,
    first_seen BIGINT,
    last_seen BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX customers_name ON customers (name_norm);

CREATE TABLE identities (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kind, value)
);
CREATE INDEX identities_customer ON identities (customer_id);

CREATE TABLE customer_tags (
    customer_id BIGINT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (customer_id, tag)
);
CREATE INDEX customer_tags_tag ON customer_tags (tag);

CREATE TABLE merges (
    id BIGINT PRIMARY KEY,
    survivor_id BIGINT NOT NULL,
    merged_id BIGINT NOT NULL,
    reason TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX merges_merged ON merges (merged_id);

CREATE TABLE touchpoints (
    id BIGINT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    purpose TEXT NOT NULL,
    cost_month_fen BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE events (
    customer_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    type TEXT NOT NULL,
    touchpoint TEXT NOT NULL DEFAULT '',
    occurred_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    ev_key TEXT,
    properties TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (customer_id, id)
);
CREATE INDEX events_timeline ON events (customer_id, occurred_at);
CREATE UNIQUE INDEX events_key ON events (ev_key);
CREATE INDEX events_type_time ON events (type, occurred_at);

CREATE TABLE orders (
    order_id TEXT NOT NULL PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    touchpoint TEXT NOT NULL DEFAULT '',
    occurred_at BIGINT NOT NULL,
    refunded_at BIGINT
);
CREATE INDEX orders_customer ON orders (customer_id, occurred_at);

CREATE TABLE order_lines (
    order_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    customer_id BIGINT NOT NULL,
    sku TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    qty BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE api_keys (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE idempotency (
    scope TEXT NOT NULL,
    ikey TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scope, ikey)
);

CREATE TABLE jobs_due (
    name TEXT PRIMARY KEY,
    last_run BIGINT NOT NULL
);
