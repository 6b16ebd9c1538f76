//! Throw-away databases for tests that need a real PostgreSQL (feature `testing`).
//!
//! A [`TestDatabase`] is created on the server with `createdb` (the machine's PostgreSQL, or the one
//! `just stack-up` started) and reached through a pgbouncer of the stack, whose wildcard entry serves
//! any database: so the tests go the way the services go, transaction pooling included. A test that
//! cannot reach them fails; it never skips.
//!
//! | variable | default |
//! |---|---|
//! | `PGHOST`, `PGPORT`, `PGUSER` (for `createdb`/`dropdb`) | `127.0.0.1`, `5432`, `postgres` |
//! | `ROUTE256_TEST_PGBOUNCER` (host:port the tests connect through) | the service's pgbouncer |
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::PgSettings;

/// A database of its own for one test, dropped by [`TestDatabase::drop_now`].
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    settings: PgSettings,
}

fn client_command(program: &str) -> Command {
    let var = |key: &str, default: &str| std::env::var(key).unwrap_or_else(|_| default.to_owned());
    let mut command = Command::new(program);
    command
        .env("PGHOST", var("PGHOST", "127.0.0.1"))
        .env("PGPORT", var("PGPORT", "5432"))
        .env("PGUSER", var("PGUSER", "postgres"));
    command
}

impl TestDatabase {
    /// Creates `<prefix>_test_<pid>_<n>` (unique across the processes of a test run), to be reached
    /// through the pgbouncer at `bouncer` (e.g. `127.0.0.1:6433`) unless `ROUTE256_TEST_PGBOUNCER` says.
    pub fn create(prefix: &str, bouncer: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "{prefix}_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = client_command("createdb")
            .arg(&name)
            .status()
            .expect("createdb runs (is the PostgreSQL client installed?)");
        assert!(
            status.success(),
            "createdb {name} failed: is `just stack-up` done?"
        );
        let bouncer = std::env::var("ROUTE256_TEST_PGBOUNCER").unwrap_or_else(|_| bouncer.into());
        let settings = PgSettings {
            url: format!("postgres://postgres@{bouncer}/{name}"),
            pool_size: 16,
            acquire_timeout: Duration::from_secs(10),
            // Generous: a loaded test machine is slow, not stalled.
            timeout: Duration::from_secs(60),
        };
        Self { name, settings }
    }

    /// Its name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How to reach it, through pgbouncer.
    pub fn settings(&self) -> &PgSettings {
        &self.settings
    }

    /// Drops the database, closing whatever connections pgbouncer still holds to it. Called at the end
    /// of a passing test; a failing test leaves its database for a look (`<prefix>_test_*`).
    pub fn drop_now(self) {
        let status = client_command("dropdb")
            .args(["--force", "--if-exists", &self.name])
            .status()
            .expect("dropdb runs");
        assert!(status.success(), "dropdb {} failed", self.name);
    }
}
