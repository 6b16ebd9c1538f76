//! Building loms: storage, use cases, bind. `main` runs the server until a signal.
use std::sync::Arc;

use platform::grpc::{BindError, GrpcServer};
use route256_proto::loms::loms_service_server::{LomsServiceServer, SERVICE_NAME};
use tonic::service::Routes;

use crate::adapters::memory::MemoryStore;
use crate::config::Config;
use crate::grpc::LomsGrpc;
use crate::service::Loms;

/// loms could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// Sets up the in-memory store with the seed stock and binds the listener (port 0 picks a free port:
/// see [`GrpcServer::local_addr`]).
pub async fn build(config: Config) -> Result<GrpcServer, AppError> {
    let store = Arc::new(MemoryStore::seeded());
    let loms = Loms::new(store.clone(), store);
    let server = LomsServiceServer::new(LomsGrpc::new(loms))
        .max_decoding_message_size(config.limits.max_request_bytes);
    let routes = Routes::new(server);
    Ok(GrpcServer::bind(config.grpc_addr, routes, &[SERVICE_NAME], config.limits).await?)
}
