-- cart: one row per user that ever had a cart, and the cart's positions. Up-only.
--
-- A cart row is never deleted, so its version only grows: (user, version) names one cart state for
-- good, and checkout derives loms's idempotency key from it.

CREATE TABLE carts (
    user_id             bigint PRIMARY KEY CHECK (user_id > 0),
    -- Bumped by every change of the cart.
    version             bigint NOT NULL DEFAULT 1 CHECK (version > 0),
    -- The latest version whose ordered items were removed (0: none yet).
    checked_out_version bigint NOT NULL DEFAULT 0 CHECK (checked_out_version >= 0)
);

CREATE TABLE cart_items (
    user_id bigint NOT NULL REFERENCES carts (user_id),
    sku     bigint NOT NULL CHECK (sku BETWEEN 1 AND 4294967295),
    count   integer NOT NULL CHECK (count BETWEEN 1 AND 65535),
    PRIMARY KEY (user_id, sku)
);
