//! Implementations of the storage ports: in memory (the zero-dependency default) and PostgreSQL, and
//! the `suite` both pass.
pub mod memory;
pub mod postgres;
#[cfg(any(test, feature = "testsuite"))]
pub mod suite;
