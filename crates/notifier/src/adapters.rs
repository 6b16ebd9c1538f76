//! Implementations of the ports: the store of notifications and offsets in memory (the
//! zero-dependency default) and in PostgreSQL, and the `suite` both pass; and the Kafka consumer that
//! feeds the use case; for tests (feature `testsuite`), `testing` makes topics on the stack's cluster.
pub mod kafka;
pub mod memory;
pub mod postgres;
#[cfg(any(test, feature = "testsuite"))]
pub mod suite;
#[cfg(feature = "testsuite")]
pub mod testing;
