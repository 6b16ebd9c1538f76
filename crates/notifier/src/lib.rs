//! notifier: tells about every status change of every order exactly once, reading loms's order events
//! from Kafka as the consumer group `notifier`.
//!
//! `config` → `app` (the consumer beside a probe port) → `adapters::kafka` (the consumer: partitions,
//! offsets, delivery) → `service` (one event: parse, record, notify) → `ports` (the store of
//! notifications and offsets) ← `adapters` (memory, PostgreSQL). `domain` holds the parsed event.
//!
//! Exactly once: the notification and the offset past its event are written in one transaction, and
//! a partition is resumed from the stored offset, so neither a crash nor a rebalance loses an event;
//! an event delivered again (the relay sends again what it could not mark sent) finds its id recorded
//! and is counted, not notified.
pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod ports;
pub mod service;

pub use config::Config;
