-- notifier: one row per notification sent, and how far each partition of the event topic is consumed.
--
-- Both are written by one statement per event (`record_notification`), so a notification and the
-- offset past its event commit together: after a crash the consumer resumes exactly where the last
-- committed event left off, and an event delivered again finds its id taken and is not notified twice.

CREATE TABLE notifications (
    -- The order notifications were made in: per order, the order of its events.
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    text NOT NULL UNIQUE,
    order_id    bigint NOT NULL CHECK (order_id > 0),
    status      text NOT NULL
        CHECK (status IN ('new', 'awaiting payment', 'failed', 'payed', 'cancelled')),
    -- When loms made the change; `notified_at - moment` is the event's end-to-end latency.
    moment      timestamptz NOT NULL,
    request_id  text,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    notified_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE INDEX notifications_order ON notifications (order_id, id);

CREATE TABLE consumer_offsets (
    topic       text NOT NULL,
    partition   integer NOT NULL CHECK (partition >= 0),
    -- The offset of the next event to handle.
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (topic, partition)
);
