//! What at least two Route256 binaries share, and nothing domain-specific: telemetry, configuration from
//! the environment, shutdown signals, the gRPC server bootstrap (health, reflection, request logs, call
//! limits) and the request context that carries the caller's token.
pub mod config;
pub mod context;
pub mod grpc;
pub mod postgres;
pub mod shutdown;
pub mod telemetry;
