//! PostgreSQL for any service that keeps its data there: settings from the environment, the connection
//! pool, embedded migrations, the time limit of one operation, the one storage error shape
//! ([`RepoError`]) with the rule that tells a database that is unreachable from a query that failed,
//! and (feature `testing`) throw-away databases and the macro that runs a storage suite. It knows no
//! service's tables: it never imports a service, a generated query crate or `route256-proto`.
//!
//! Services reach PostgreSQL through pgbouncer in transaction pooling: each pooled connection here is a
//! client connection of pgbouncer, which lends a server connection per transaction. So nothing
//! session-scoped is used (no session advisory locks, no `SET`), and the named prepared statements of
//! the generated queries rely on pgbouncer's `max_prepared_statements` (≥ 1.21).
mod error;
#[cfg(feature = "testing")]
pub mod testing;

pub mod pipelined;
pub use error::{
    refuses_the_data, violated, Cause, Classify, Context, NoAnswer, RepoError, Stored,
};
pub use pipelined::Pipelined;

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;
use telemetry::semconv;
use tracing::Instrument as _;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::NoTls;

use env_config::{env_in_range, env_or, ConfigError};

/// Where and how a service reaches its database.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    /// `postgres://user@host:port/database`; never logged whole (it may hold a password).
    pub url: String,
    /// The most connections the pool opens (`<SERVICE>_DATABASE_POOL_SIZE`, default 16, 1 to 1000).
    pub pool_size: usize,
    /// The longest a request waits for a connection, including connecting
    /// (`<SERVICE>_DATABASE_ACQUIRE_TIMEOUT_MS`, default 2000, 10 to 60000). Past it the request fails
    /// as unavailable instead of hanging.
    pub acquire_timeout: Duration,
    /// The longest one storage operation may take, from taking a connection to its last answer
    /// (`<SERVICE>_DATABASE_TIMEOUT_MS`, default 5000, 10 to 600000): a database or pgbouncer that
    /// stalls (accepts, never answers) fails the operation as unavailable ([`within`]).
    pub timeout: Duration,
}

impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("url", &redacted_url(&self.url))
            .field("pool_size", &self.pool_size)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The URL without a password, for logs.
fn redacted_url(url: &str) -> String {
    match tokio_postgres::Config::from_str(url) {
        Ok(config) => {
            let host = match config.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
                Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
                None => String::new(),
            };
            let port = config.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgres://{}@{host}:{port}/{}",
                config.get_user().unwrap_or(""),
                config.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "<invalid url>".to_owned(),
    }
}

impl PgSettings {
    /// Reads `<PREFIX>_DATABASE_URL`, `<PREFIX>_DATABASE_POOL_SIZE`,
    /// `<PREFIX>_DATABASE_ACQUIRE_TIMEOUT_MS` and `<PREFIX>_DATABASE_TIMEOUT_MS`, with `default_url`
    /// for the first.
    pub fn from_env(prefix: &str, default_url: &str) -> Result<Self, ConfigError> {
        let key = |suffix: &str| format!("{prefix}_DATABASE_{suffix}");
        let url: String = env_or(&key("URL"), default_url.to_owned())?;
        tokio_postgres::Config::from_str(&url)
            .map_err(|e| ConfigError::new(&key("URL"), &redacted_url(&url), e.to_string()))?;
        Ok(Self {
            url,
            pool_size: env_in_range(&key("POOL_SIZE"), 16, 1..=1000)?,
            acquire_timeout: Duration::from_millis(env_in_range(
                &key("ACQUIRE_TIMEOUT_MS"),
                2000,
                10..=60_000,
            )?),
            timeout: Duration::from_millis(env_in_range(&key("TIMEOUT_MS"), 5000, 10..=600_000)?),
        })
    }

    /// A pool that connects lazily: the service starts while the database is down, and its requests
    /// fail as unavailable until the database is back, then succeed again with no restart.
    pub fn pool(&self) -> Result<Pool, PoolSetupError> {
        let mut config =
            tokio_postgres::Config::from_str(&self.url).map_err(PoolSetupError::Url)?;
        config.connect_timeout(self.acquire_timeout);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A broken connection is found when it is used; checking each one on the way out of
                // the pool would cost a round trip per request.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        Pool::builder(manager)
            .max_size(self.pool_size)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.acquire_timeout))
            .create_timeout(Some(self.acquire_timeout))
            .recycle_timeout(Some(self.acquire_timeout))
            .build()
            .map_err(PoolSetupError::Build)
    }
}

/// Where a service keeps its data (`STORAGE`, default `memory`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Storage {
    /// In process memory: nothing to set up, nothing survives a restart, one replica only.
    Memory,
    /// PostgreSQL (`<SERVICE>_DATABASE_URL`, `_POOL_SIZE`, `_ACQUIRE_TIMEOUT_MS`, `_TIMEOUT_MS`: see
    /// [`PgSettings::from_env`]); migrations are applied at start.
    Postgres(PgSettings),
}

impl Storage {
    /// `STORAGE=memory|postgres`; for PostgreSQL, the database settings of the service whose variables
    /// start with `prefix`, with `default_url`.
    pub fn from_env(prefix: &str, default_url: &str) -> Result<Self, ConfigError> {
        let kind: String = env_or("STORAGE", "memory".to_owned())?;
        match kind.as_str() {
            "memory" => Ok(Self::Memory),
            "postgres" => PgSettings::from_env(prefix, default_url).map(Self::Postgres),
            other => Err(ConfigError::new(
                "STORAGE",
                other,
                "must be memory or postgres",
            )),
        }
    }
}

/// Runs one storage operation (taking a connection, its statements or transaction) within `limit`.
///
/// A database that has stopped answering without closing its connections (a stalled host, a paused
/// pgbouncer) would otherwise hold the call for as long as the stall lasts: the pool's timeouts bound
/// only taking a connection. Past `limit` the operation is dropped: an open transaction is rolled back
/// (tokio-postgres sends ROLLBACK when it is dropped), the connection goes back to the pool and answers
/// again once the database does, so the pool recovers by itself. A caller's deadline that is sooner
/// ends the call first (the server's deadline layer drops it). Like any timeout it leaves the outcome
/// unknown when the stall began after COMMIT was sent: the write may still land, which is why the
/// answer is UNAVAILABLE (retry; the RPCs are idempotent) and never a refusal.
pub async fn within<T, E: From<NoAnswer>>(
    limit: Duration,
    operation: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    tokio::time::timeout(limit, operation)
        .await
        .unwrap_or_else(|_| Err(NoAnswer(limit).into()))
}

/// A pool could not be set up from the settings.
#[derive(Debug, thiserror::Error)]
pub enum PoolSetupError {
    #[error("invalid database url")]
    Url(#[source] tokio_postgres::Error),
    #[error("cannot build the connection pool")]
    Build(#[source] deadpool_postgres::BuildError),
}

/// What a PostgreSQL adapter holds: the pool, and the time limit of one operation.
#[derive(Clone)]
pub struct Database {
    pool: Pool,
    timeout: Duration,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A database could not be opened for a service.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Pool(#[from] PoolSetupError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
}

impl Database {
    /// The pool of `settings`, with `migrations` applied ([`migrate`]).
    pub async fn open(
        settings: &PgSettings,
        migrations: refinery::Runner,
    ) -> Result<Self, OpenError> {
        let pool = settings.pool()?;
        migrate(&pool, migrations).await?;
        Ok(Self {
            pool,
            timeout: settings.timeout,
        })
    }

    /// A connection from the pool; waiting past the acquire timeout is [`RepoError::is_unavailable`].
    pub async fn client(&self) -> Result<Object, RepoError> {
        self.pool.get().await.context("get a connection")
    }

    /// Readiness: `statement` (the service's generated ping query) goes through the pool and
    /// pgbouncer to the database and back, within the time limit.
    pub async fn ping<T>(
        &self,
        statement: impl AsyncFnOnce(&Object) -> Result<T, tokio_postgres::Error>,
    ) -> Result<(), RepoError> {
        self.run("ping", async {
            let client = self.client().await?;
            statement(&client).await.context("ping")?;
            Ok(())
        })
        .await
    }

    /// Runs the storage operation `name` (a repository method's) within the time limit ([`within`]).
    /// Within a request's span it is a span of its own, a client span of the trace, failed when the
    /// operation fails (its context only: no statement, no parameter); on its own (the
    /// relay's and the auto-cancel's rounds, every few milliseconds) or within a health probe's, it is
    /// not worth a trace.
    pub async fn run<T>(
        &self,
        name: &'static str,
        operation: impl Future<Output = Result<T, RepoError>>,
    ) -> Result<T, RepoError> {
        if tracing::Span::current().is_none() || telemetry::in_untraced() {
            return within(self.timeout, operation).await;
        }
        let span = tracing::info_span!("db", otel.name = name, otel.kind = "client");
        semconv::set(&span, "db.system.name", "postgresql");
        let outcome = within(self.timeout, operation)
            .instrument(span.clone())
            .await;
        if let Err(error) = &outcome {
            semconv::failed(&span, error.to_string());
        }
        outcome
    }
}

/// The migration history could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot get a database connection for migrations")]
    Pool(#[from] PoolError),
    #[error("migrations failed")]
    Migrate(#[from] refinery::Error),
}

/// Applies the embedded migrations that the database lacks, all in one transaction.
///
/// Two replicas starting together may both try: the loser's transaction fails as a whole (a table it
/// creates already exists, or the history row does), so it is retried once, and then finds the work
/// done. A session advisory lock would serialise them, but pgbouncer's transaction pooling cannot keep
/// one.
pub async fn migrate(pool: &Pool, runner: refinery::Runner) -> Result<(), MigrateError> {
    let runner = runner.set_grouped(true);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut client = pool.get().await?;
        match runner.run_async(&mut **client).await {
            Ok(report) => {
                for migration in report.applied_migrations() {
                    tracing::info!(
                        version = migration.version(),
                        name = migration.name(),
                        "migration applied"
                    );
                }
                return Ok(());
            }
            Err(error) if attempt == 1 => {
                tracing::warn!(error = %telemetry::error_chain(&error), "migrations failed: retrying once");
            }
            Err(error) => return Err(error.into()),
        }
    }
}

/// One `#[tokio::test]` per case of a storage suite shared by several implementations of a port:
/// `$suite` is the module (a path) whose `async fn $case(store: Arc<S>)` are the cases; `$make` a
/// future expression, evaluated afresh for every case, yielding `(store, guard)`; `$finish` gets the
/// guard once the case has passed (for PostgreSQL: the [`testing::TestDatabase`] to drop).
#[cfg(feature = "testing")]
#[macro_export]
macro_rules! suite_tests {
    ($suite:path; $make:expr, $finish:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                use $suite as suite;
                let (store, guard) = $make.await;
                suite::$case(::std::sync::Arc::new(store)).await;
                ($finish)(guard);
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_logged_without_a_password() {
        let shown = redacted_url("postgres://app:s3cret@127.0.0.1:6433/loms");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown, "postgres://app@127.0.0.1:6433/loms");
        let settings = PgSettings {
            url: "postgres://app:s3cret@db/loms".into(),
            pool_size: 1,
            acquire_timeout: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
        };
        assert!(!format!("{settings:?}").contains("s3cret"));
    }
}
