//! cart settings, from the environment. Unusable values stop the service at start.
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Duration;

use env_config::{env_in_range, env_or, ConfigError};
use identity::Authentication;
use server::grpc::ServerLimits;
pub use storage::Storage;

/// cart's database through its pgbouncer, unless `CART_DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:6432/cart";

/// What cart needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// gRPC listen address (`CART_GRPC_ADDR`, default `127.0.0.1:8082`); port 0 picks a free one.
    pub grpc_addr: SocketAddr,
    /// HTTP listen address: JSON gateway, Swagger UI, health and metrics (`CART_HTTP_ADDR`, default
    /// `127.0.0.1:8080`); port 0 picks a free one.
    pub http_addr: SocketAddr,
    /// product-service's gRPC endpoint (`PRODUCT_SERVICE_URL`, default `http://127.0.0.1:8090`).
    pub product_service_url: String,
    /// loms's gRPC endpoint (`LOMS_URL`, default `http://127.0.0.1:8083`).
    pub loms_url: String,
    /// The longest cart waits for one call to product-service or loms (`CART_UPSTREAM_TIMEOUT_MS`,
    /// default 5000, 1 to 300,000), unless the caller's own deadline is sooner. When it passes, the
    /// call ends in `DEADLINE_EXCEEDED`.
    pub upstream_timeout: Duration,
    /// How many product-service calls one List makes at once (`CART_LIST_WORKERS`, default 8, 1 to
    /// 256): the size of its worker pool.
    pub list_workers: NonZeroUsize,
    /// Calls per second cart makes to product-service, from all its List and AddItem calls together
    /// (`CART_PRODUCT_RPS`, default 10, 0 to 100000; 0 switches the limit off).
    pub product_rps: u32,
    /// How many of those calls may go at once after a quiet spell (`CART_PRODUCT_BURST`, default 10,
    /// 1 to 100000).
    pub product_burst: NonZeroU32,
    /// Redis shared by every cart replica for one rate budget (`CART_LIMITER_REDIS_URL`, e.g.
    /// `redis://127.0.0.1:6379`); unset, each replica limits itself.
    pub limiter_redis_url: Option<String>,
    /// The Redis key of that budget (`CART_LIMITER_KEY`, default
    /// `route256:cart:product-service:gcra`): replicas sharing a budget share the key.
    pub limiter_key: String,
    /// The gRPC server's limits (see [`ServerLimits::from_env`]).
    pub limits: ServerLimits,
    /// Where carts are kept (`STORAGE`, `CART_DATABASE_*`).
    pub storage: Storage,
    /// How callers are authenticated (`AUTH_*`, see [`Authentication::from_env`]; `AUTH_JWKS` is
    /// required). The default holds no key, so a test that starts cart gives it its own.
    pub authentication: Authentication,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 8082)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            product_service_url: "http://127.0.0.1:8090".to_owned(),
            loms_url: "http://127.0.0.1:8083".to_owned(),
            upstream_timeout: Duration::from_secs(5),
            list_workers: NonZeroUsize::new(8).unwrap_or(NonZeroUsize::MIN),
            product_rps: 10,
            product_burst: NonZeroU32::new(10).unwrap_or(NonZeroU32::MIN),
            limiter_redis_url: None,
            limiter_key: "route256:cart:product-service:gcra".to_owned(),
            limits: ServerLimits::default(),
            storage: Storage::Memory,
            authentication: Authentication::no_keys(),
        }
    }
}

impl Config {
    /// The defaults, overridden by whatever the environment sets.
    pub fn from_env() -> Result<Self, ConfigError> {
        let default = Self::default();
        Ok(Self {
            grpc_addr: env_or("CART_GRPC_ADDR", default.grpc_addr)?,
            http_addr: env_or("CART_HTTP_ADDR", default.http_addr)?,
            product_service_url: env_or("PRODUCT_SERVICE_URL", default.product_service_url)?,
            loms_url: env_or("LOMS_URL", default.loms_url)?,
            upstream_timeout: Duration::from_millis(env_in_range(
                "CART_UPSTREAM_TIMEOUT_MS",
                5000,
                1..=300_000,
            )?),
            list_workers: NonZeroUsize::new(env_in_range("CART_LIST_WORKERS", 8, 1..=256)?)
                .unwrap_or(NonZeroUsize::MIN),
            product_rps: env_in_range("CART_PRODUCT_RPS", 10, 0..=100_000)?,
            product_burst: NonZeroU32::new(env_in_range("CART_PRODUCT_BURST", 10, 1..=100_000)?)
                .unwrap_or(NonZeroU32::MIN),
            limiter_redis_url: Some(env_or("CART_LIMITER_REDIS_URL", String::new())?)
                .filter(|url| !url.is_empty()),
            limiter_key: env_or("CART_LIMITER_KEY", default.limiter_key)?,
            limits: ServerLimits::from_env()?,
            storage: Storage::from_env("CART", DEFAULT_DATABASE_URL)?,
            authentication: Authentication::from_env()?,
        })
    }
}
