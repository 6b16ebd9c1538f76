//! Building and running loms: storage, use cases, bind, serve until shutdown.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use platform::grpc::{BindError, GrpcServer, ServeError};
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

/// A bound, ready-to-run loms.
pub struct App {
    server: GrpcServer,
}

impl App {
    /// Sets up the in-memory store with the seed stock and binds the listener (port 0 picks a free port:
    /// see [`App::local_addr`]).
    pub async fn build(config: Config) -> Result<Self, AppError> {
        let store = Arc::new(MemoryStore::seeded());
        let loms = Loms::new(store.clone(), store);
        let routes = Routes::new(LomsServiceServer::new(LomsGrpc::new(loms)));
        Ok(Self {
            server: GrpcServer::bind(config.grpc_addr, routes, &[SERVICE_NAME]).await?,
        })
    }

    /// The address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves, then drains the calls in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ServeError> {
        self.server.run_until(shutdown).await
    }
}
