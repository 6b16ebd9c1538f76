-- Every statement returns rows, even the writes: cornucopia runs a row-returning statement as a
-- prepared statement cached per connection (one round trip), a row-less one unprepared (two).

--! order_by_idempotency_key
--- The order a user's idempotency key names, unless it failed.
SELECT id
FROM orders
WHERE user_id = :user_id AND idempotency_key = :idempotency_key AND status <> 'failed';

--! insert_order (idempotency_key?, traceparent?, tracestate?)
--- Stores a new order, status 'new', with its positions (`skus[i]` with `counts[i]` units) and the
--- event of its creation (with the trace context of the change, when there is one), in one statement;
--- returns its id.
WITH new_order AS (
    INSERT INTO orders (user_id, status, idempotency_key)
    VALUES (:user_id, 'new', :idempotency_key)
    RETURNING id
), positions AS (
    INSERT INTO order_items (order_id, sku, count)
    SELECT new_order.id, item.sku, item.count
    FROM new_order, unnest(:skus::bigint[], :counts::integer[]) AS item (sku, count)
), created AS (
    INSERT INTO order_events (order_id, status, request_id, traceparent, tracestate)
    SELECT new_order.id, 'new', :request_id, :traceparent, :tracestate FROM new_order
)
SELECT id FROM new_order;

--! settle_order (traceparent?, tracestate?)
--- Writes stock levels computed under `lock_stocks` (`skus[i]` gets `totals[i]` and `reserved[i]`;
--- empty arrays write none), the order's new status and the event of that change (with its trace
--- context, when there is one), in one statement; returns the order's id.
WITH levels AS (
    UPDATE stocks
    SET total = level.total, reserved = level.reserved
    FROM unnest(:skus::bigint[], :totals::bigint[], :reserved::bigint[]) AS level (sku, total, reserved)
    WHERE stocks.sku = level.sku
), changed AS (
    INSERT INTO order_events (order_id, status, request_id, traceparent, tracestate)
    VALUES (:id, :status, :request_id, :traceparent, :tracestate)
)
UPDATE orders SET status = :status, updated_at = now() WHERE id = :id
RETURNING id;

--! order_header : (idempotency_key?)
SELECT user_id, status, idempotency_key FROM orders WHERE id = :id;

--! lock_order_status
--- The order's status, its row locked until the transaction ends.
SELECT status FROM orders WHERE id = :id FOR UPDATE;

--! order_items
SELECT sku, count FROM order_items WHERE order_id = :order_id ORDER BY sku;

--! claim_stale_orders
--- Up to `batch` orders awaiting payment since `age_seconds` or longer, oldest first, none of `skip`
--- (orders this period could not settle), their rows locked until the transaction ends. Rows another
--- transaction holds (a pay, a cancel, another loms replica's canceller) are skipped, not waited for:
--- no order is claimed twice.
SELECT id
FROM orders
WHERE status = 'awaiting payment' AND created_at <= now() - make_interval(secs => :age_seconds::float8)
  AND id <> ALL (:skip::bigint[])
ORDER BY created_at
LIMIT :batch
FOR UPDATE SKIP LOCKED;
