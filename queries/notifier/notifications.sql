-- Every statement returns rows, even the writes: cornucopia runs a row-returning statement as a
-- prepared statement cached per connection (one round trip), a row-less one unprepared (two).

--! record_notification (request_id?)
--- In one statement, inside the transaction of the caller's batch: moves the partition's next offset
--- past the event (never back: a consumer that lost the partition may finish its last event late) and
--- records the notification unless the event id was recorded before. Returns the notification's id — also when
--- the row is this very record's (same position), written by an attempt whose answer was lost — or no
--- row when the event was notified from another record (a re-send).
WITH consumed AS (
    INSERT INTO consumer_offsets (topic, partition, next_offset)
    VALUES (:topic, :partition, :next_offset)
    ON CONFLICT (topic, partition)
        DO UPDATE SET next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset)
)
INSERT INTO notifications (event_id, order_id, status, moment, request_id, topic, partition, "offset")
VALUES (:event_id, :order_id, :status, :moment::text::timestamptz, :request_id, :topic, :partition,
        :next_offset - 1)
ON CONFLICT (event_id) DO UPDATE SET event_id = excluded.event_id
    WHERE notifications.topic = excluded.topic AND notifications.partition = excluded.partition
      AND notifications."offset" = excluded."offset"
RETURNING id;

--! skip_event
--- Moves the partition's next offset past an event that cannot be notified (malformed); returns it.
INSERT INTO consumer_offsets (topic, partition, next_offset)
VALUES (:topic, :partition, :next_offset)
ON CONFLICT (topic, partition)
    DO UPDATE SET next_offset = greatest(consumer_offsets.next_offset, excluded.next_offset)
RETURNING next_offset;

--! consumer_offsets
--- The next offset of every partition of `topic` consumed so far.
SELECT partition, next_offset FROM consumer_offsets WHERE topic = :topic;

--! order_notifications : (request_id?)
--- An order's notifications, in the order they were made (what the tests and the benchmark read).
SELECT status, event_id, request_id FROM notifications WHERE order_id = :order_id ORDER BY id;
