-- The outbox's relay side: the lease, the unsent events, taking the sent ones out, the backlog.

--! take_relay_lease
--- Takes the lease `name` for `holder` until `ttl_seconds` from now, or renews it, on the database's
--- clock; returns its term only when `holder` holds it now: it was free, expired, or already its own.
--- The term grows when the lease changes hands or is taken again after it expired or was given up.
INSERT INTO relay_leases (name, holder, expires_at)
VALUES (:name, :holder, clock_timestamp() + make_interval(secs => :ttl_seconds::float8))
ON CONFLICT (name) DO UPDATE SET
    holder = excluded.holder,
    expires_at = excluded.expires_at,
    term = CASE
        WHEN relay_leases.holder = excluded.holder AND relay_leases.expires_at >= clock_timestamp()
        THEN relay_leases.term
        ELSE relay_leases.term + 1
    END
WHERE relay_leases.holder = excluded.holder OR relay_leases.expires_at < clock_timestamp()
RETURNING term;

--! release_relay_lease
--- Gives up the lease `name` if `holder` holds it (a stopping relay), so that another replica takes
--- over at once instead of after the lease expires. The row stays, with its term.
UPDATE relay_leases SET expires_at = '-infinity'
WHERE name = :name AND holder = :holder;

--! pending_events : (traceparent?, tracestate?)
--- Up to `limit` unsent events (the outbox holds no other) by position, leaving out those at `skip`
--- (handed to the brokers, their acknowledgements outstanding: a hashed subplan, so a long list costs a
--- probe per row); the moment in microseconds since the Unix epoch (`extract` is exact: numeric).
SELECT seq,
       event_id::text AS event_id,
       order_id,
       status,
       (extract(epoch FROM moment) * 1000000)::bigint AS moment_micros,
       request_id,
       traceparent,
       tracestate
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

--! relay_offsets
--- Per partition of the lease's topic, where the records begin whose events may still be in the outbox.
SELECT partition, next_offset FROM relay_offsets WHERE lease = :lease;

--! advance_relay_offsets
--- Moves the lease's offsets forward to `next_offsets` (per partition of `partitions`); never back.
INSERT INTO relay_offsets (lease, partition, next_offset)
SELECT :lease, partition, next_offset
FROM unnest(:partitions::integer[], :next_offsets::bigint[]) AS advanced (partition, next_offset)
ON CONFLICT (lease, partition) DO UPDATE
SET next_offset = greatest(relay_offsets.next_offset, excluded.next_offset);

--! forget_published_events
--- Takes out of the outbox the events `event_ids` found in the topic: a relay committed them and was
--- stopped before it took them out. Returns how many it took.
WITH taken AS (
    DELETE FROM order_events WHERE event_id = ANY(:event_ids::uuid[]) RETURNING 1
)
SELECT count(*) AS taken FROM taken;
