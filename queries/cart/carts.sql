-- Every statement returns rows, even the writes: cornucopia runs a row-returning statement as a
-- prepared statement cached per connection (one round trip), a row-less one unprepared (two).

--! add_item
--- Adds units of a SKU to the user's cart, creating the cart or bumping its version, in one statement.
--- A position above 65535 units breaks `cart_items_count_check` and changes nothing.
WITH cart AS (
    INSERT INTO carts (user_id) VALUES (:user_id)
    ON CONFLICT (user_id) DO UPDATE SET version = carts.version + 1
    RETURNING user_id
)
INSERT INTO cart_items (user_id, sku, count)
SELECT user_id, :sku, :count FROM cart
ON CONFLICT (user_id, sku) DO UPDATE SET count = cart_items.count + excluded.count
RETURNING count;

--! item_count
SELECT count FROM cart_items WHERE user_id = :user_id AND sku = :sku;

--! cart_snapshot : (sku?, count?)
--- The cart's version and positions in one statement, so they are of one state: a row per position,
--- or a single row without one when the cart is empty; none when the user never had a cart.
SELECT carts.version, cart_items.sku, cart_items.count
FROM carts LEFT JOIN cart_items ON cart_items.user_id = carts.user_id
WHERE carts.user_id = :user_id
ORDER BY cart_items.sku;

--! delete_item
--- Removes a position; the version moves only when there was one.
WITH deleted AS (
    DELETE FROM cart_items WHERE user_id = :user_id AND sku = :sku RETURNING user_id
)
UPDATE carts SET version = version + 1 WHERE user_id IN (SELECT user_id FROM deleted)
RETURNING version;

--! clear_cart
--- Removes every position; the version moves only when there was one.
WITH deleted AS (
    DELETE FROM cart_items WHERE user_id = :user_id RETURNING user_id
)
UPDATE carts SET version = version + 1
WHERE user_id = :user_id AND EXISTS (SELECT 1 FROM deleted)
RETURNING version;

--! mark_checked_out
--- Records that the snapshot of `version` was ordered, unless it or a later one already was; returns
--- the user's id when this call is the one that records it.
UPDATE carts SET checked_out_version = :version, version = version + 1
WHERE user_id = :user_id AND checked_out_version < :version
RETURNING user_id;

--! subtract_ordered
--- Takes `counts[i]` units of `skus[i]` out of the cart: positions that run out go, others shrink.
WITH ordered AS (
    SELECT * FROM unnest(:skus::bigint[], :counts::integer[]) AS ordered (sku, count)
), emptied AS (
    DELETE FROM cart_items
    USING ordered
    WHERE cart_items.user_id = :user_id
      AND cart_items.sku = ordered.sku
      AND cart_items.count <= ordered.count
)
UPDATE cart_items SET count = cart_items.count - ordered.count
FROM ordered
WHERE cart_items.user_id = :user_id
  AND cart_items.sku = ordered.sku
  AND cart_items.count > ordered.count
RETURNING cart_items.sku;
