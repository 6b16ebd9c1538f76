//! product-service: the catalogue the course treats as an external service, shipped here as a real one.
//!
//! `config` → `app` (wire everything into a bound gRPC server) → `grpc` (proto ↔ domain) → `service`
//! (token check, rate limit, artificial latency, lookups) over `catalogue` (the data) and
//! `rate_limit` (a GCRA limiter in constant memory).
//!
//! # Follow one call: GetProduct
//!
//! 1. [`grpc::ProductGrpc`]'s `get_product` — the handler: takes the token from the request or,
//!    when the field is empty, from the metadata;
//! 2. [`service::ProductService::get_product`] — the use case: checks the token first, so a caller
//!    without a valid one spends nobody's budget, then takes a slot of the
//!    [`rate_limit::RateLimiter`] (`RESOURCE_EXHAUSTED` past it), waits the configured latency and
//!    looks the SKU up in
//! 3. [`catalogue::Catalogue`] — the data: built in (from the `catalogue` crate) or read from a file
//!    in the course's format. There is no storage, so no ports and no adapters.
//!
//! # Import rules
//!
//! - `catalogue` and `rate_limit` import nothing of the crate; `service` imports those two only,
//!   never `tonic`; `grpc` knows `service` alone and holds the one mapping of its errors to gRPC
//!   codes; only `app` ties them together.
pub mod app;
pub mod catalogue;
pub mod config;
pub mod grpc;
pub mod rate_limit;
pub mod service;

pub use config::Config;
