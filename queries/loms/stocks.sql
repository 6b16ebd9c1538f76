--! lock_stocks
--- The stock rows of `skus`, locked until the transaction ends. Always taken in SKU order, so that two
--- transactions over overlapping SKUs wait for each other instead of deadlocking.
SELECT sku, total, reserved
FROM stocks
WHERE sku = ANY (:skus::bigint[])
ORDER BY sku
FOR UPDATE;

--! available_stock
SELECT total - reserved AS available FROM stocks WHERE sku = :sku;

--! seed_stock
--- Stocks the SKUs that have no row yet (`skus[i]` with `totals[i]` and `reserved[i]`); rows that exist
--- are left as they are. Returns the SKUs it added.
INSERT INTO stocks (sku, total, reserved)
SELECT level.sku, level.total, level.reserved
FROM unnest(:skus::bigint[], :totals::bigint[], :reserved::bigint[]) AS level (sku, total, reserved)
ON CONFLICT (sku) DO NOTHING
RETURNING sku;
