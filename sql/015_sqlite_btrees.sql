-- Embedded store only: fewer B-trees to touch per event. Every B-tree an
-- insert lands in at a random place costs a 4 KiB page in the WAL at commit,
-- and for one event a request that was most of the commit.
--   events      the rowid is the (time-ordered) event id, so rows append;
--               the (customer_id, id) key B-tree goes - id alone is unique and
--               the timeline index still finds a customer's events. Keyless
--               events skip the key index.
--   orders, order_lines, identities
--               small rows stored in their primary key's own B-tree
--               (WITHOUT ROWID) instead of a rowid table beside it.
-- PostgreSQL keeps 001's layout: its heap appends anyway, and the customer-
-- first keys are what docs/scaling.md distributes by.
-- sqlite
CREATE TABLE events_015 (
    customer_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    touchpoint TEXT NOT NULL DEFAULT '',
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    ev_key TEXT,
    properties TEXT NOT NULL DEFAULT '{}'
);
INSERT INTO events_015 (customer_id, id, type, touchpoint, occurred_at, received_at, ev_key,
                        properties)
    SELECT customer_id, id, type, touchpoint, occurred_at, received_at, ev_key, properties
    FROM events ORDER BY id;
DROP TABLE events;
ALTER TABLE events_015 RENAME TO events;
CREATE INDEX events_timeline ON events (customer_id, occurred_at);
CREATE UNIQUE INDEX events_key ON events (ev_key) WHERE ev_key IS NOT NULL;
CREATE INDEX events_type_time ON events (type, occurred_at);

CREATE TABLE orders_015 (
    order_id TEXT NOT NULL PRIMARY KEY,
    customer_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    touchpoint TEXT NOT NULL DEFAULT '',
    occurred_at INTEGER NOT NULL,
    refunded_at INTEGER
) WITHOUT ROWID;
INSERT INTO orders_015 (order_id, customer_id, event_id, amount, touchpoint, occurred_at,
                        refunded_at)
    SELECT order_id, customer_id, event_id, amount, touchpoint, occurred_at, refunded_at
    FROM orders;
DROP TABLE orders;
ALTER TABLE orders_015 RENAME TO orders;
CREATE INDEX orders_customer ON orders (customer_id, occurred_at);

CREATE TABLE order_lines_015 (
    order_id TEXT NOT NULL,
    line_no INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    sku TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT '',
    qty INTEGER NOT NULL,
    amount INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
) WITHOUT ROWID;
INSERT INTO order_lines_015 (order_id, line_no, customer_id, sku, category, qty, amount)
    SELECT order_id, line_no, customer_id, sku, category, qty, amount FROM order_lines;
DROP TABLE order_lines;
ALTER TABLE order_lines_015 RENAME TO order_lines;

CREATE TABLE identities_015 (
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    customer_id INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, value)
) WITHOUT ROWID;
INSERT INTO identities_015 (kind, value, customer_id, created_at)
    SELECT kind, value, customer_id, created_at FROM identities;
DROP TABLE identities;
ALTER TABLE identities_015 RENAME TO identities;
CREATE INDEX identities_customer ON identities (customer_id);
