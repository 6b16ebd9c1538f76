--! order_by_idempotency_key
--- The order a user's idempotency key names, unless it failed.
SELECT id
FROM orders
WHERE user_id = :user_id AND idempotency_key = :idempotency_key AND status <> 'failed';

--! insert_order (idempotency_key?)
--- Stores a new order, status 'new', and returns its id.
INSERT INTO orders (user_id, status, idempotency_key)
VALUES (:user_id, 'new', :idempotency_key)
RETURNING id;

--! insert_order_items
--- Stores an order's positions: `skus[i]` with `counts[i]` units.
INSERT INTO order_items (order_id, sku, count)
SELECT :order_id, item.sku, item.count
FROM unnest(:skus::bigint[], :counts::integer[]) AS item (sku, count);

--! set_order_status
UPDATE orders SET status = :status, updated_at = now() WHERE id = :id;

--! order_header : (idempotency_key?)
SELECT user_id, status, idempotency_key FROM orders WHERE id = :id;

--! lock_order_status
--- The order's status, its row locked until the transaction ends.
SELECT status FROM orders WHERE id = :id FOR UPDATE;

--! order_items
SELECT sku, count FROM order_items WHERE order_id = :order_id ORDER BY sku;
