//! Building product-service: load the catalogue, bind. `main` runs the server until a signal.
use std::sync::Arc;

use identity::Authenticator;
use route256_proto::product::product_service_server::{ProductServiceServer, SERVICE_NAME};
use server::grpc::{BindError, GrpcServer, Served};
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
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error(transparent)]
    Identity(#[from] identity::StartError),
}

/// Loads the catalogue and binds the listener (port 0 picks a free port: see [`GrpcServer::local_addr`]).
pub async fn build(config: Config) -> Result<GrpcServer, AppError> {
    Ok(build_service(config).await?.0)
}

/// [`build`], and the service behind the server, whose counters tests read.
pub async fn build_service(config: Config) -> Result<(GrpcServer, Arc<ProductService>), AppError> {
    let catalogue = match &config.catalogue_file {
        Some(path) => Catalogue::from_file(path)?,
        None => Catalogue::builtin(),
    };
    tracing::info!(
        products = catalogue.len(),
        rps = config.rps,
        burst = config.burst,
        latency_ms = config.latency.as_millis() as u64,
        "catalogue loaded"
    );
    let users = match Authenticator::start(&config.authentication).await? {
        Authenticator::Verify(verifier) => Some(verifier),
        Authenticator::Unchecked => None,
    };
    let service = Arc::new(ProductService::new(
        catalogue,
        config.tokens,
        users,
        RateLimiter::new(config.rps, config.burst),
        config.latency,
    ));
    let server = ProductServiceServer::new(ProductGrpc::new(service.clone()))
        .max_decoding_message_size(config.limits.max_request_bytes);
    let served = Served {
        routes: Routes::new(server),
        services: vec![SERVICE_NAME],
        descriptors: route256_proto::FILE_DESCRIPTOR_SET,
        // Static tokens or user tokens: the service checks its own (`service.rs`).
        callers: None,
    };
    // Ready whenever it serves: the catalogue is in memory.
    let server = GrpcServer::bind(config.grpc_addr, served, config.limits)
        .await?
        .with_http(config.http_addr)
        .await?;
    Ok((server, service))
}
