//! Settings from the real environment, and a database opened, pinged, and refused when nothing answers.
//! One binary of its own, since it changes this process's environment; the database case needs
//! `just stack-up`.
use env_config::with_vars;
use std::time::Duration;

use storage::testing::TestDatabase;
use storage::{Database, PgSettings, Storage};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:6433/loms";

#[test]
fn storage_and_database_settings_come_from_the_environment() {
    assert_eq!(
        Storage::from_env("X", DEFAULT_URL).expect("valid"),
        Storage::Memory
    );
    let postgres = with_vars(&[("STORAGE", "postgres")], || {
        Storage::from_env("X", DEFAULT_URL)
    });
    let expected = PgSettings {
        url: DEFAULT_URL.into(),
        pool_size: 16,
        acquire_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(5),
    };
    assert_eq!(postgres.expect("valid"), Storage::Postgres(expected));
    let set = with_vars(
        &[
            ("X_DATABASE_URL", "postgres://u:pw@h:1/d"),
            ("X_DATABASE_POOL_SIZE", "1000"),
            ("X_DATABASE_ACQUIRE_TIMEOUT_MS", "10"),
            ("X_DATABASE_TIMEOUT_MS", "600000"),
        ],
        || PgSettings::from_env("X", DEFAULT_URL).expect("valid"),
    );
    assert_eq!(set.url, "postgres://u:pw@h:1/d");
    assert_eq!(set.pool_size, 1000);
    assert_eq!(set.acquire_timeout, Duration::from_millis(10));
    assert_eq!(set.timeout, Duration::from_secs(600));
    assert!(
        !format!("{set:?}").contains("pw"),
        "no password in the log form"
    );

    for (key, value) in [
        ("STORAGE", "disk"),
        ("X_DATABASE_URL", "postgres://u:pw@h:notaport/d"),
        ("X_DATABASE_POOL_SIZE", "0"),
        ("X_DATABASE_ACQUIRE_TIMEOUT_MS", "9"),
        ("X_DATABASE_TIMEOUT_MS", "600001"),
    ] {
        let vars = [("STORAGE", "postgres"), (key, value)];
        let error = with_vars(&vars, || Storage::from_env("X", DEFAULT_URL)).expect_err(value);
        assert!(error.to_string().contains(key), "{key}={value}: {error}");
        assert!(!error.to_string().contains("pw@"), "{error}");
    }
    let unix = PgSettings {
        url: "host=/run/postgresql user=u password=pw dbname=d".into(),
        ..set
    };
    let shown = format!("{unix:?}");
    assert!(
        shown.contains("/run/postgresql") && !shown.contains("pw"),
        "{shown}"
    );
}

#[tokio::test]
async fn an_open_database_answers_its_ping_and_one_that_never_answers_is_refused() {
    let db = TestDatabase::create("storage", "127.0.0.1:6433");
    let database = Database::open(db.settings(), refinery::Runner::new(&[]))
        .await
        .expect("opens");
    assert!(format!("{database:?}").contains("timeout"));
    database
        .ping(async |client| client.execute("SELECT 1", &[]).await)
        .await
        .expect("answers");

    let nowhere = PgSettings {
        url: "postgres://postgres@127.0.0.1:1/none".into(),
        acquire_timeout: Duration::from_millis(200),
        ..db.settings().clone()
    };
    let refused = Database::open(&nowhere, refinery::Runner::new(&[])).await;
    assert!(refused.is_err(), "nothing listens on port 1");
    db.drop_now();
}
