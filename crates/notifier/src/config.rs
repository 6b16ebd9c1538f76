//! notifier settings, from the environment. Unusable values stop the service at start.
use std::net::SocketAddr;
use std::time::Duration;

use env_config::{env_in_range, env_or, ConfigError};
pub use storage::Storage;

use crate::adapters::kafka::{ConsumerSettings, Start};

/// notifier's database through its pgbouncer, unless `NOTIFIER_DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:6434/notifier";

/// What the notifier needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// The probe port: `/healthz`, `/readyz`, `/metrics` (`NOTIFIER_HTTP_ADDR`, default
    /// `127.0.0.1:8093`); port 0 picks a free one.
    pub http_addr: SocketAddr,
    /// Where notifications and offsets are kept (`STORAGE`, `NOTIFIER_DATABASE_*`).
    pub storage: Storage,
    /// `NOTIFIER_KAFKA_BROKERS` (default `127.0.0.1:9092`), `NOTIFIER_KAFKA_TOPIC` (default
    /// `loms.order-events`), `NOTIFIER_GROUP` (default `notifier`). A partition never consumed starts
    /// at its first record with PostgreSQL, at its end in memory (whose offsets a restart forgets).
    /// `NOTIFIER_STALL_AFTER_MS` (default 60,000; 100 to 86,400,000): how long a partition may have
    /// records waiting without progress before `/readyz` answers 503 naming it.
    pub consumer: ConsumerSettings,
}

impl Config {
    /// The settings of the environment, with the defaults above.
    pub fn from_env() -> Result<Self, ConfigError> {
        let storage = Storage::from_env("NOTIFIER", DEFAULT_DATABASE_URL)?;
        let start = match storage {
            Storage::Memory => Start::Latest,
            Storage::Postgres(_) => Start::Earliest,
        };
        Ok(Self {
            http_addr: env_or(
                "NOTIFIER_HTTP_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 8093)),
            )?,
            storage,
            consumer: ConsumerSettings {
                brokers: env_or("NOTIFIER_KAFKA_BROKERS", "127.0.0.1:9092".to_owned())?,
                topic: env_or("NOTIFIER_KAFKA_TOPIC", "loms.order-events".to_owned())?,
                group: env_or("NOTIFIER_GROUP", "notifier".to_owned())?,
                start,
                stall_after: Duration::from_millis(env_in_range(
                    "NOTIFIER_STALL_AFTER_MS",
                    60_000,
                    100..=86_400_000,
                )?),
            },
        })
    }
}
