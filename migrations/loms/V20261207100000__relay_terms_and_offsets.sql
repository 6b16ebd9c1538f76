-- loms: the relay publishes in Kafka transactions (crates/loms/src/relay.rs). Two things it keeps here:
--
-- * `relay_leases.term` counts the lease's tenures: it grows each time a holder takes the lease over (from
--   another holder, or after it expired), and never goes back — giving the lease up keeps the row. Every
--   record a tenure publishes carries its term, so a reader can see handovers in the topic.
-- * `relay_offsets`: per partition of the lease's topic, where the records begin whose events may still
--   be in the outbox. Below it, every record the relay committed had its event taken out. A relay taking
--   the lease over reads the topic from there and takes out what it finds, so nothing committed is sent
--   again. The offset moves in the transaction that takes the events out.
--
-- The lease is now named by its topic; rows of the lease named before this change are left behind.

ALTER TABLE relay_leases ADD COLUMN term bigint NOT NULL DEFAULT 1;

CREATE TABLE relay_offsets (
    lease       text NOT NULL,
    partition   integer NOT NULL CHECK (partition >= 0),
    next_offset bigint NOT NULL CHECK (next_offset >= 0),
    PRIMARY KEY (lease, partition)
);
