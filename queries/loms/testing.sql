-- Queries for the storage suite only (loms's `testsuite` feature): no use case sets or reads a stock
-- level directly, so the service never calls these.

--! stock_levels
SELECT total, reserved FROM stocks WHERE sku = :sku;

--! put_stock
--- Sets a SKU's stock, creating its row if need be.
INSERT INTO stocks (sku, total, reserved) VALUES (:sku, :total, :reserved)
ON CONFLICT (sku) DO UPDATE SET total = excluded.total, reserved = excluded.reserved
RETURNING sku;
