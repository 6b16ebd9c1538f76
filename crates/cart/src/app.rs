//! Building cart: storage, clients of product-service and loms, bind. `main` runs the server until a signal.
use std::sync::Arc;

use platform::grpc::{BindError, GrpcServer};
use route256_proto::cart::cart_service_server::{CartServiceServer, SERVICE_NAME};
use tonic::service::Routes;

use crate::adapters::channel;
use crate::adapters::loms_client::GrpcLoms;
use crate::adapters::memory::MemoryCartRepo;
use crate::adapters::product_client::GrpcProductCatalog;
use crate::config::Config;
use crate::grpc::CartGrpc;
use crate::service::Cart;

/// cart could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("invalid upstream url {url:?}")]
    Upstream {
        url: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error(transparent)]
    Bind(#[from] BindError),
}

/// Sets up storage and the upstream clients (they connect lazily, so the other services may start
/// later) and binds the listener (port 0 picks a free port: see [`GrpcServer::local_addr`]).
pub async fn build(config: Config) -> Result<GrpcServer, AppError> {
    let connect = |url: &str| {
        channel(url).map_err(|source| AppError::Upstream {
            url: url.to_owned(),
            source,
        })
    };
    let products = GrpcProductCatalog::new(
        connect(&config.product_service_url)?,
        config.upstream_timeout,
    );
    let loms = GrpcLoms::new(connect(&config.loms_url)?, config.upstream_timeout);
    let cart = Cart::new(
        Arc::new(MemoryCartRepo::default()),
        Arc::new(products),
        Arc::new(loms),
    );
    let server = CartServiceServer::new(CartGrpc::new(cart))
        .max_decoding_message_size(config.limits.max_request_bytes);
    let routes = Routes::new(server);
    Ok(GrpcServer::bind(config.grpc_addr, routes, &[SERVICE_NAME], config.limits).await?)
}
