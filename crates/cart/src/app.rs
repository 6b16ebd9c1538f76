//! Building cart: storage, clients of product-service and loms, bind. `main` runs the server until a signal.
use std::num::NonZeroU32;
use std::sync::Arc;

use tower::Layer;

use identity::Authenticator;
use route256_proto::cart::cart_service_server::{CartServiceServer, SERVICE_NAME};
use route256_proto::loms::loms_service_server;
use route256_proto::product::product_service_server;
use server::grpc::{BindError, Callers, GrpcServer, Served};
use server::web::ReadinessCheck;
use storage::PgSettings;
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
    Database(#[from] storage::OpenError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("invalid CART_LIMITER_REDIS_URL")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Identity(#[from] identity::StartError),
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
    let repo = PgCartRepo::open(settings).await?;
    tracing::info!(database = ?settings, "cart storage: postgres");
    Ok(repo)
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
    let product_channel = connect(&config.product_service_url)?;
    let loms_channel = connect(&config.loms_url)?;
    let limited = RateLimitLayer::new(limiter(&config)?).layer(product_channel.clone());
    let products = GrpcProductCatalog::new(limited, config.upstream_timeout);
    let loms = GrpcLoms::new(loms_channel.clone(), config.upstream_timeout);
    let (carts, database): (Arc<dyn CartRepo>, _) = match &config.storage {
        Storage::Memory => (Arc::new(MemoryCartRepo::default()), None),
        Storage::Postgres(settings) => {
            let repo = Arc::new(postgres_repo(settings).await?);
            (repo.clone(), Some(repo))
        }
    };
    let readiness = readiness(database, product_channel, loms_channel);
    let pricing = WorkerPool::new(config.list_workers);
    let cart = Cart::new(carts, Arc::new(products), Arc::new(loms), pricing);
    let server = CartServiceServer::new(CartGrpc::new(cart))
        .max_decoding_message_size(config.limits.max_request_bytes);
    let callers = Callers {
        authenticator: Authenticator::start(&config.authentication).await?,
        open: Vec::new(),
    };
    let served = Served {
        routes: Routes::new(server),
        services: vec![SERVICE_NAME],
        descriptors: route256_proto::FILE_DESCRIPTOR_SET,
        callers: Some(callers),
    };
    Ok(GrpcServer::bind(config.grpc_addr, served, config.limits)
        .await?
        .with_http(config.http_addr)
        .await?
        .with_readiness(readiness))
}

/// cart is ready when its database answers (PostgreSQL only) and product-service and loms report
/// SERVING on their gRPC health service: without them no cart call but Clear and DeleteItem works.
/// The health calls bypass the rate limit: they are not catalogue calls.
fn readiness(
    database: Option<Arc<PgCartRepo>>,
    product: tonic::transport::Channel,
    loms: tonic::transport::Channel,
) -> ReadinessCheck {
    Arc::new(move || {
        let (database, product, loms) = (database.clone(), product.clone(), loms.clone());
        Box::pin(async move {
            if let Some(database) = database {
                database
                    .ping()
                    .await
                    .map_err(|error| format!("database: {error}"))?;
            }
            serving(product_service_server::SERVICE_NAME, product).await?;
            serving(loms_service_server::SERVICE_NAME, loms).await
        })
    })
}

async fn serving(name: &str, channel: tonic::transport::Channel) -> Result<(), String> {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: name.to_owned(),
        })
        .await
        .map_err(|status| format!("{name}: {}", status.message()))?;
    if answer.into_inner().status() == ServingStatus::Serving {
        Ok(())
    } else {
        Err(format!("{name}: not serving"))
    }
}
