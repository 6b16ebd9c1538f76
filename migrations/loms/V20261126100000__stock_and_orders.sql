-- loms: stock per SKU, orders and their positions. Up-only; applied in file-name order.
--
-- The constraints keep the invariants whatever the code does: 0 <= reserved <= total, counts of one
-- position 1..=65535, the status domain, and one live order per (user, idempotency key).

CREATE TABLE stocks (
    sku      bigint PRIMARY KEY CHECK (sku BETWEEN 1 AND 4294967295),
    total    bigint NOT NULL CHECK (total >= 0),
    reserved bigint NOT NULL DEFAULT 0,
    CONSTRAINT stocks_reserved_within_total CHECK (0 <= reserved AND reserved <= total)
);

CREATE TABLE orders (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL CHECK (user_id > 0),
    status          text NOT NULL
        CHECK (status IN ('new', 'awaiting payment', 'failed', 'payed', 'cancelled')),
    -- 1 to 64 printable ASCII characters, or none.
    idempotency_key text CHECK (idempotency_key ~ '^[ -~]{1,64}$'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- A key names at most one order that did not fail; a failed order leaves its key to the next attempt.
CREATE UNIQUE INDEX orders_user_idempotency_key ON orders (user_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND status <> 'failed';

-- Orders by status and age: the auto-cancel of unpaid orders reads the oldest 'awaiting payment' ones.
CREATE INDEX orders_status_created_at ON orders (status, created_at);

-- No foreign key to stocks: an order of an unknown SKU is stored, as failed.
CREATE TABLE order_items (
    order_id bigint NOT NULL REFERENCES orders (id),
    sku      bigint NOT NULL CHECK (sku BETWEEN 1 AND 4294967295),
    count    integer NOT NULL CHECK (count BETWEEN 1 AND 65535),
    PRIMARY KEY (order_id, sku)
);
