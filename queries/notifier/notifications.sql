-- Every statement returns rows, even the writes: cornucopia runs a row-returning statement as a
-- prepared statement cached per connection (one round trip), a row-less one unprepared (two).

--! claim_run (expected?)
--- First statement of a run of records of one partition, inside the transaction that stores them:
--- moves the partition's next offset to `next_offset` for `holder` if it stands at `expected` (none:
--- the partition has no row yet), or if `holder`'s own earlier attempt at this very run put it there
--- (that attempt committed, its answer was lost). Returns the new offset, or no row: another member
--- moved the partition since `holder` last read it, and the run is not this member's to store. The
--- row's lock holds a racing member until this transaction ends; it then finds the offset moved.
INSERT INTO consumer_offsets (topic, partition, next_offset, holder)
VALUES (:topic, :partition, :next_offset, :holder)
ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset, holder = excluded.holder
    WHERE consumer_offsets.next_offset = :expected
       OR (consumer_offsets.holder = excluded.holder
           AND consumer_offsets.next_offset = excluded.next_offset)
RETURNING next_offset;

--! stored_offset
--- The partition's next offset, if it has one.
SELECT next_offset FROM consumer_offsets WHERE topic = :topic AND partition = :partition;

--! record_notification
--- Records the notification of an event read at `topic`/`partition`/`offset` unless its event id was
--- recorded before. Returns the notification's id — also when the row is this very record's (same
--- position), written by an attempt whose answer was lost — or no row when the event was notified
--- from another record (a re-send).
INSERT INTO notifications (event_id, order_id, status, moment, request_id, topic, partition, "offset")
VALUES (:event_id, :order_id, :status,
        timestamptz 'epoch' + :moment_micros::bigint * interval '1 microsecond',
        :request_id, :topic, :partition, :offset)
ON CONFLICT (event_id) DO UPDATE SET event_id = excluded.event_id
    WHERE notifications.topic = excluded.topic AND notifications.partition = excluded.partition
      AND notifications."offset" = excluded."offset"
RETURNING id;

--! record_dead_letter (key?, value?)
--- Keeps a record that can never be notified, with why; returns its id (also when this very record
--- was kept by an attempt whose answer was lost).
INSERT INTO dead_letters (topic, partition, "offset", key, headers, value, reason, detail)
VALUES (:topic, :partition, :offset, :key, :headers::text::jsonb, :value, :reason, :detail)
ON CONFLICT (topic, partition, "offset") DO UPDATE SET reason = dead_letters.reason
RETURNING id;

--! consumer_offsets
--- The next offset of every partition of `topic` consumed so far.
SELECT partition, next_offset FROM consumer_offsets WHERE topic = :topic;

--! order_notifications : (request_id?)
--- An order's notifications, in the order they were made (what the tests and the benchmark read).
SELECT status, event_id, request_id FROM notifications WHERE order_id = :order_id ORDER BY id;

--! dead_letters_of
--- The dead letters of `topic`, by position (what the tests read).
SELECT partition, "offset", reason, detail FROM dead_letters WHERE topic = :topic
ORDER BY partition, "offset";
