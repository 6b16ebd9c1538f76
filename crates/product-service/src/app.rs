//! Building and running product-service: load the catalogue, bind, serve until shutdown.
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use route256_proto::product::product_service_server::{ProductServiceServer, SERVICE_NAME};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::catalogue::{Catalogue, CatalogueError};
use crate::config::Config;
use crate::grpc::ProductGrpc;
use crate::rate_limit::RateLimiter;
use crate::service::ProductService;

/// The service could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A bound, ready-to-run product-service.
pub struct App {
    addr: SocketAddr,
    listener: TcpListener,
    routes: Routes,
}

impl App {
    /// Loads the catalogue and binds the listener (port 0 picks a free port: see [`App::local_addr`]).
    pub async fn build(config: Config) -> Result<Self, AppError> {
        let catalogue = match &config.catalogue_file {
            Some(path) => Catalogue::from_file(path)?,
            None => Catalogue::builtin(),
        };
        tracing::info!(
            products = catalogue.len(),
            rps = config.rps,
            latency_ms = config.latency.as_millis() as u64,
            "catalogue loaded"
        );
        let service = Arc::new(ProductService::new(
            catalogue,
            config.tokens,
            config.latency,
        ));
        let limiter = RateLimiter::new(config.rps);
        let server =
            ProductServiceServer::with_interceptor(ProductGrpc::new(service), move |request| {
                limiter.check(request)
            });
        let bind_error = |source| AppError::Bind {
            addr: config.grpc_addr,
            source,
        };
        let listener = TcpListener::bind(config.grpc_addr)
            .await
            .map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        Ok(Self {
            addr,
            listener,
            routes: Routes::new(server),
        })
    }

    /// The address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves until `shutdown` resolves, then drains the calls in flight.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), platform::grpc::ServeError> {
        platform::grpc::serve(self.listener, self.routes, &[SERVICE_NAME], shutdown).await
    }
}
