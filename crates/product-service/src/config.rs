//! product-service settings, from the environment.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use platform::config::{env_or, ConfigError};

/// What the service needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// gRPC listen address (`PRODUCT_GRPC_ADDR`, default `127.0.0.1:8090`); port 0 picks a free one.
    pub grpc_addr: SocketAddr,
    /// Accepted tokens (`PRODUCT_TOKENS`, comma-separated, default `testtoken`).
    pub tokens: Vec<String>,
    /// Requests per second the service accepts from all callers together (`PRODUCT_RPS`, default 10);
    /// 0 switches the limit off.
    pub rps: u32,
    /// Artificial delay of every answer (`PRODUCT_LATENCY_MS`, default 0), to make a caller's
    /// concurrency measurable.
    pub latency: Duration,
    /// A catalogue file in the course's JSON format (`PRODUCT_CATALOGUE_FILE`) replacing the built-in one.
    pub catalogue_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 8090)),
            tokens: vec!["testtoken".to_owned()],
            rps: 10,
            latency: Duration::ZERO,
            catalogue_file: None,
        }
    }
}

impl Config {
    /// The defaults, overridden by whatever the environment sets.
    pub fn from_env() -> Result<Self, ConfigError> {
        let default = Self::default();
        let tokens: String = env_or("PRODUCT_TOKENS", default.tokens.join(","))?;
        let catalogue_file: String = env_or("PRODUCT_CATALOGUE_FILE", String::new())?;
        Ok(Self {
            grpc_addr: env_or("PRODUCT_GRPC_ADDR", default.grpc_addr)?,
            tokens: tokens
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            rps: env_or("PRODUCT_RPS", default.rps)?,
            latency: Duration::from_millis(env_or("PRODUCT_LATENCY_MS", 0u64)?),
            catalogue_file: (!catalogue_file.is_empty()).then(|| catalogue_file.into()),
        })
    }
}
