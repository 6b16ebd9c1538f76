--! ping
--- Readiness: the database answers a statement through the pool (and pgbouncer).
SELECT 1 AS ok;
