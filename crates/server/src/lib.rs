//! How every service runs, whatever it serves: the gRPC server (our HTTP/2 serve loop, its layers —
//! request id, metrics, call log, message receipt, admission, deadline — health and reflection), the
//! HTTP port beside it (the JSON gateway, `/healthz`, `/readyz`, `/metrics`), the request context
//! that carries the caller's token and request id to handlers and on to upstream calls, and shutdown;
//! and, for a service with no RPCs, a port with the probes only beside its background tasks
//! ([`probes::ProbeServer`]).
//!
//! A service hands it its routes, its service names and its own descriptor set ([`grpc::Served`]);
//! this crate knows no service, imports no service crate and not `route256-proto`, and leaves storage
//! to the `storage` crate.
mod background;
pub mod context;
pub mod grpc;
pub mod metrics;
pub mod probes;
pub mod shutdown;
pub mod web;
