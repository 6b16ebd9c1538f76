//! loms settings, from the environment. Unusable values stop the service at start.
use std::net::SocketAddr;
use std::time::Duration;

use env_config::{env_in_range, env_or, ConfigError};
use identity::Authentication;

use crate::relay::RelaySettings;
use server::grpc::ServerLimits;
pub use storage::Storage;

/// loms's database through its pgbouncer, unless `LOMS_DATABASE_URL` says otherwise.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:6433/loms";

/// The topic order events go to unless `LOMS_KAFKA_TOPIC` says otherwise.
pub const DEFAULT_TOPIC: &str = "loms.order-events";
/// The brokers the relay publishes to unless `LOMS_KAFKA_BROKERS` says otherwise.
pub const DEFAULT_BROKERS: &str = "127.0.0.1:9092";

/// Where and how the relay publishes order events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Events {
    /// Bootstrap brokers, `host:port,…` (`LOMS_KAFKA_BROKERS`, default `127.0.0.1:9092`).
    pub brokers: String,
    /// `LOMS_KAFKA_TOPIC`, default `loms.order-events`.
    pub topic: String,
    /// `LOMS_RELAY_POLL_MS` (default 100, 10 to 60000), `LOMS_RELAY_BATCH` (default 10000, 1 to 50000),
    /// `LOMS_RELAY_LEASE_TTL_MS` (default 5000, 1000 to 600000: the relay's Kafka transactions time
    /// out with the lease, and Kafka's floor for that is 1 s), `LOMS_RELAY_LINGER_MS` and
    /// `LOMS_RELAY_MAX_LINGER_MS` (defaults 10 and 250, 0 to 10000: the pause after a transaction, 1 ms
    /// for each event it carried, between the two).
    pub relay: RelaySettings,
}

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
    /// The relay of order events, or `None` when `LOMS_KAFKA_BROKERS` is `off`: the status changes
    /// still write their events to PostgreSQL's outbox, where they wait until a relay runs; in memory,
    /// where no relay ever could, none is kept. [`Config::default`], which tests start from, has none; [`Config::from_env`] turns it on.
    pub events: Option<Events>,
    /// The most events the in-memory outbox holds before status changes are refused with
    /// `UNAVAILABLE` (`LOMS_OUTBOX_MAX_PENDING`, default 100000, 1 to 100000000); PostgreSQL's is
    /// bounded by its disk.
    pub outbox_max_pending: usize,
    /// How callers are authenticated (`AUTH_*`, see [`Authentication::from_env`]; `AUTH_JWKS` is
    /// required). The default holds no key, so a test that starts loms gives it its own.
    pub authentication: Authentication,
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
            events: None,
            outbox_max_pending: crate::adapters::memory::DEFAULT_OUTBOX_LIMIT,
            authentication: Authentication::no_keys(),
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
            events: events_from_env()?,
            outbox_max_pending: env_in_range(
                "LOMS_OUTBOX_MAX_PENDING",
                default.outbox_max_pending as u64,
                1..=100_000_000,
            )? as usize,
            authentication: Authentication::from_env()?,
        })
    }
}

fn events_from_env() -> Result<Option<Events>, ConfigError> {
    let brokers: String = env_or("LOMS_KAFKA_BROKERS", DEFAULT_BROKERS.to_owned())?;
    if brokers == "off" {
        return Ok(None);
    }
    let defaults = RelaySettings::default();
    let millis = |name, default: Duration, range| {
        env_in_range(name, default.as_millis() as u64, range).map(Duration::from_millis)
    };
    let relay = RelaySettings {
        poll: millis("LOMS_RELAY_POLL_MS", defaults.poll, 10..=60_000)?,
        linger: millis("LOMS_RELAY_LINGER_MS", defaults.linger, 0..=10_000)?,
        max_linger: millis("LOMS_RELAY_MAX_LINGER_MS", defaults.max_linger, 0..=10_000)?,
        batch: env_in_range("LOMS_RELAY_BATCH", defaults.batch as u64, 1..=50_000)? as usize,
        // The lease is renewed on its own schedule (a third of it), whatever the poll.
        lease_ttl: millis(
            "LOMS_RELAY_LEASE_TTL_MS",
            defaults.lease_ttl,
            1_000..=600_000,
        )?,
    };
    Ok(Some(Events {
        brokers,
        topic: env_or("LOMS_KAFKA_TOPIC", DEFAULT_TOPIC.to_owned())?,
        relay,
    }))
}
