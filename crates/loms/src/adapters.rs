//! Implementations of the ports: storage and outbox in memory (the zero-dependency default) and in
//! PostgreSQL, and the `suite` both pass; the relay's publisher on Apache Kafka.
pub mod kafka;
pub mod memory;
pub mod postgres;
#[cfg(any(test, feature = "testsuite"))]
pub mod suite;
