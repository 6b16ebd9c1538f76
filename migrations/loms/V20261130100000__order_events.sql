-- loms: the transactional outbox of order-status events, and the lease that picks one relay.
--
-- Every status change inserts its event in the transaction that makes the change: both commit, or
-- neither. The relay publishes unsent events in `seq` order and sets `sent_at` only once the brokers
-- acknowledged them. Two changes of one order are serialised by the order's row lock, so their `seq`s
-- follow the order of the changes; events of different orders may commit out of `seq` order, which is
-- harmless: only per-order order is promised.

CREATE TABLE order_events (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- What consumers de-duplicate on: stable across re-sends.
    event_id   uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    order_id   bigint NOT NULL REFERENCES orders (id),
    status     text NOT NULL
        CHECK (status IN ('new', 'awaiting payment', 'failed', 'payed', 'cancelled')),
    -- The clock at the change, not at the transaction's start: `new` and the status placing the order
    -- sets are written by one transaction and get distinct moments.
    moment     timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The x-request-id of the call that caused the change (1 to 128 visible ASCII characters).
    request_id text NOT NULL CHECK (request_id ~ '^[!-~]{1,128}$'),
    sent_at    timestamptz
);

-- What the relay reads: the unsent events, by position.
CREATE INDEX order_events_unsent ON order_events (seq) WHERE sent_at IS NULL;

-- One row per lease: who holds it, until when (on the database's clock, which every replica shares).
CREATE TABLE relay_leases (
    name       text PRIMARY KEY,
    holder     text NOT NULL,
    expires_at timestamptz NOT NULL
);
