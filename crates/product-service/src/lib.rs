//! product-service: the catalogue the course treats as an external service, shipped here as a real one.
//!
//! `config` → `app` (wire everything into a bound gRPC server) → `grpc` (proto ↔ domain) → `service`
//! (token check, lookups, artificial latency) over `catalogue` (the data); `rate_limit` guards the gRPC
//! service before any request is decoded.
pub mod app;
pub mod catalogue;
pub mod config;
pub mod grpc;
pub mod rate_limit;
pub mod service;

pub use config::Config;
