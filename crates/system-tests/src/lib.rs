//! Tests that start several services together live in `tests/`: the full purchase flow, checkout under
//! concurrency, hostile input and the server limits, through the generated clients. This crate has no
//! code of its own; it exists so that no service crate depends on another, not even for its tests.
