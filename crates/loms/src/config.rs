//! loms settings, from the environment. Unusable values stop the service at start.
use std::net::SocketAddr;

use platform::config::{env_or, ConfigError};
use platform::grpc::ServerLimits;

/// What loms needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// gRPC listen address (`LOMS_GRPC_ADDR`, default `127.0.0.1:8083`); port 0 picks a free one.
    pub grpc_addr: SocketAddr,
    /// The gRPC server's limits (see [`ServerLimits::from_env`]).
    pub limits: ServerLimits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 8083)),
            limits: ServerLimits::default(),
        }
    }
}

impl Config {
    /// The defaults, overridden by whatever the environment sets.
    pub fn from_env() -> Result<Self, ConfigError> {
        let default = Self::default();
        Ok(Self {
            grpc_addr: env_or("LOMS_GRPC_ADDR", default.grpc_addr)?,
            limits: ServerLimits::from_env()?,
        })
    }
}
