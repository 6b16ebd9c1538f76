//! cart: users' shopping carts, priced live from product-service and turned into loms orders.
//!
//! `config` → `app` (wire everything into a bound gRPC server) → `grpc` (proto ↔ domain only) →
//! `service` (the use cases, pricing a list on the `pool` of workers) → `ports` (cart storage, the
//! catalogue, loms) ← `adapters` (their implementations: the module's doc lists them). Every use case
//! takes the
//! [`RequestContext`](server::context::RequestContext) of the call it serves, so the caller's token
//! and deadline reach product-service and loms.
pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod pool;
pub mod ports;
pub mod service;

pub use config::Config;
