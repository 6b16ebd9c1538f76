-- The outbox's relay side: the lease, the unsent events, taking the sent ones out, the backlog.

--! take_relay_lease
--- Takes the lease `name` for `holder` until `ttl_seconds` from now, or renews it, on the database's
--- clock; returns a row only when `holder` holds it now: it was free, expired, or already its own.
INSERT INTO relay_leases (name, holder, expires_at)
VALUES (:name, :holder, clock_timestamp() + make_interval(secs => :ttl_seconds::float8))
ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
WHERE relay_leases.holder = excluded.holder OR relay_leases.expires_at < clock_timestamp()
RETURNING holder;

--! release_relay_lease
--- Gives up the lease `name` if `holder` holds it (a stopping relay), so that another replica takes
--- over at once instead of after the lease expires.
DELETE FROM relay_leases WHERE name = :name AND holder = :holder;

--! pending_events
--- Up to `limit` unsent events (the outbox holds no other) by position, leaving out those at `skip`
--- (handed to the brokers, their acknowledgements outstanding: a hashed subplan, so a long list costs a
--- probe per row); the moment in microseconds since the Unix epoch (`extract` is exact: numeric).
SELECT seq,
       event_id::text AS event_id,
       order_id,
       status,
       (extract(epoch FROM moment) * 1000000)::bigint AS moment_micros,
       request_id
FROM order_events
WHERE seq NOT IN (SELECT unnest(:skip::bigint[]))
ORDER BY seq
LIMIT :limit;

--! mark_events_sent
--- Takes the events at `seqs` out of the outbox: they are sent. Returns the positions it took (those
--- not taken before).
DELETE FROM order_events WHERE seq = ANY(:seqs::bigint[])
RETURNING seq;

--! outbox_backlog
--- How many events are unsent, and how many seconds the oldest has waited (0 when none).
SELECT count(*) AS pending,
       coalesce(extract(epoch FROM clock_timestamp() - min(moment)), 0)::float8 AS oldest_seconds
FROM order_events;
