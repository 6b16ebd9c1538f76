-- notifier: records that can never be notified are kept as dead letters, and each partition's
-- offset names the member that moved it last.
--
-- A dead letter is written in the transaction that moves its partition past it, so a poison record
-- neither blocks its partition nor is lost: it stays here, with why, for a person to read (README).
-- `holder` lets a member recognise its own earlier attempt at a run of records whose answer was lost
-- (see `claim_run` in queries/notifier/notifications.sql); other members never move a partition the
-- holder moved since they last read it.

CREATE TABLE dead_letters (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic     text NOT NULL,
    partition integer NOT NULL,
    "offset"  bigint NOT NULL,
    key       bytea,
    -- The record's headers as they came: [{"name": ..., "value": ...}], values read as UTF-8 (lossy),
    -- null for a header without a value.
    headers   jsonb NOT NULL,
    value     bytea,
    -- Why, in a word (`notifier_dead_letters_total`'s `reason` label): content_type, undecodable,
    -- invalid, key, refused.
    reason    text NOT NULL,
    -- Why, in words.
    detail    text NOT NULL,
    dead_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (topic, partition, "offset")
);

ALTER TABLE consumer_offsets ADD COLUMN holder text;
