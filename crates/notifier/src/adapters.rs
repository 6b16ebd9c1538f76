//! Implementations of the ports: the store of notifications and offsets in memory (the
//! zero-dependency default) and in PostgreSQL, and the `suite` both pass; and the Kafka consumer that
//! feeds the use case.
pub mod kafka;
pub mod memory;
pub mod postgres;
#[cfg(any(test, feature = "testsuite"))]
pub mod suite;
