//! loms settings, from the environment. Unusable values stop the service at start.
use std::net::SocketAddr;
use std::time::Duration;

use env_config::{env_in_range, env_or, ConfigError};
use server::grpc::ServerLimits;
pub use storage::Storage;

/// loms's database through its pgbouncer, unless `LOMS_DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:6433/loms";

/// What loms needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// gRPC listen address (`LOMS_GRPC_ADDR`, default `127.0.0.1:8083`); port 0 picks a free one.
    pub grpc_addr: SocketAddr,
    /// HTTP listen address: JSON gateway, Swagger UI, health and metrics (`LOMS_HTTP_ADDR`, default
    /// `127.0.0.1:8084`); port 0 picks a free one.
    pub http_addr: SocketAddr,
    /// The gRPC server's limits (see [`ServerLimits::from_env`]).
    pub limits: ServerLimits,
    /// Where orders and stock are kept (`STORAGE`, `LOMS_DATABASE_*`).
    pub storage: Storage,
    /// Orders awaiting payment this long are cancelled by loms itself
    /// (`LOMS_UNPAID_CANCEL_AFTER_SECS`, default 600, 1 to 604800).
    pub unpaid_ttl: Duration,
    /// How often loms looks for them (`LOMS_UNPAID_CHECK_PERIOD_MS`, default 10000, 10 to 3600000).
    pub unpaid_check_period: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 8083)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8084)),
            limits: ServerLimits::default(),
            storage: Storage::Memory,
            unpaid_ttl: Duration::from_secs(600),
            unpaid_check_period: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// The defaults, overridden by whatever the environment sets.
    pub fn from_env() -> Result<Self, ConfigError> {
        let default = Self::default();
        Ok(Self {
            grpc_addr: env_or("LOMS_GRPC_ADDR", default.grpc_addr)?,
            http_addr: env_or("LOMS_HTTP_ADDR", default.http_addr)?,
            limits: ServerLimits::from_env()?,
            storage: Storage::from_env("LOMS", DEFAULT_DATABASE_URL)?,
            unpaid_ttl: Duration::from_secs(env_in_range(
                "LOMS_UNPAID_CANCEL_AFTER_SECS",
                600,
                1..=604_800,
            )?),
            unpaid_check_period: Duration::from_millis(env_in_range(
                "LOMS_UNPAID_CHECK_PERIOD_MS",
                10_000,
                10..=3_600_000,
            )?),
        })
    }
}
