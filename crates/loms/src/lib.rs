//! loms: logistics and order management. Owns the stock and the orders that reserve it.
//!
//! `config` → `app` (wire everything into a bound gRPC server) → `grpc` (proto ↔ domain only) →
//! `service` (the use cases) → `ports` (storage, outbox and broker traits) ← `adapters` (their
//! implementations: the module's doc lists them). `domain` holds the validated types and the order
//! status machine. `relay` publishes the outbox's order events, a background task beside the
//! auto-cancel in `app`.
pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod ports;
pub mod relay;
pub mod service;

pub use config::Config;
