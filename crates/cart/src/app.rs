//! Building cart: storage, clients of product-service and loms, bind. `main` runs the server until a signal.
use std::num::NonZeroU32;
use std::sync::Arc;

use tower::Layer;

use platform::grpc::{BindError, GrpcServer};
use platform::postgres::{MigrateError, PgSettings};
use route256_proto::cart::cart_service_server::{CartServiceServer, SERVICE_NAME};
use tonic::service::Routes;

use crate::adapters::channel;
use crate::adapters::loms_client::GrpcLoms;
use crate::adapters::memory::MemoryCartRepo;
use crate::adapters::postgres::PgCartRepo;
use crate::adapters::product_client::GrpcProductCatalog;
use crate::adapters::rate_limit::{Gcra, Limiter, RateLimitLayer, RedisGcra, Unlimited};
use crate::config::{Config, Storage};
use crate::grpc::CartGrpc;
use crate::pool::WorkerPool;
use crate::ports::CartRepo;
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
    Database(#[from] platform::postgres::PoolSetupError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("invalid CART_LIMITER_REDIS_URL")]
    Redis(#[from] redis::RedisError),
}

/// The limit on cart's calls to product-service: shared through Redis, local, or none.
fn limiter(config: &Config) -> Result<Arc<dyn Limiter>, AppError> {
    let Some(rps) = NonZeroU32::new(config.product_rps) else {
        tracing::info!("no rate limit toward product-service");
        return Ok(Arc::new(Unlimited));
    };
    Ok(match &config.limiter_redis_url {
        Some(url) => {
            tracing::info!(
                rps,
                burst = config.product_burst,
                "product-service rate limit shared through redis"
            );
            Arc::new(RedisGcra::new(
                url,
                &config.limiter_key,
                rps,
                config.product_burst,
            )?)
        }
        None => {
            tracing::info!(
                rps,
                burst = config.product_burst,
                "product-service rate limit in this process"
            );
            Arc::new(Gcra::new(rps, config.product_burst))
        }
    })
}

/// A PostgreSQL cart store with its migrations applied.
pub async fn postgres_repo(settings: &PgSettings) -> Result<PgCartRepo, AppError> {
    let pool = settings.pool()?;
    platform::postgres::migrate(&pool, PgCartRepo::migrations()).await?;
    tracing::info!(database = ?settings, "cart storage: postgres");
    Ok(PgCartRepo::new(pool))
}

/// Sets up storage (PostgreSQL with its migrations applied, or memory), the upstream clients (they
/// connect lazily, so the other services may start later; product-service's behind the rate limit),
/// and binds the listener (port 0 picks a free port: see [`GrpcServer::local_addr`]).
pub async fn build(config: Config) -> Result<GrpcServer, AppError> {
    let connect = |url: &str| {
        channel(url).map_err(|source| AppError::Upstream {
            url: url.to_owned(),
            source,
        })
    };
    let limited =
        RateLimitLayer::new(limiter(&config)?).layer(connect(&config.product_service_url)?);
    let products = GrpcProductCatalog::new(limited, config.upstream_timeout);
    let loms = GrpcLoms::new(connect(&config.loms_url)?, config.upstream_timeout);
    let carts: Arc<dyn CartRepo> = match &config.storage {
        Storage::Memory => Arc::new(MemoryCartRepo::default()),
        Storage::Postgres(settings) => Arc::new(postgres_repo(settings).await?),
    };
    let pricing = WorkerPool::new(config.list_workers);
    let cart = Cart::new(carts, Arc::new(products), Arc::new(loms), pricing);
    let server = CartServiceServer::new(CartGrpc::new(cart))
        .max_decoding_message_size(config.limits.max_request_bytes);
    let routes = Routes::new(server);
    Ok(GrpcServer::bind(config.grpc_addr, routes, &[SERVICE_NAME], config.limits).await?)
}
