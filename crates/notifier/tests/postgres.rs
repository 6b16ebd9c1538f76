//! The shared storage suite (`notifier::adapters::suite`) on PostgreSQL, through pgbouncer, on a fresh
//! database per case (see `storage::testing`). Needs `just stack-up`.
use notifier::adapters::postgres::PgNotificationStore;
use storage::testing::TestDatabase;

/// A migrated PostgreSQL store on a database of its own.
async fn fresh() -> (PgNotificationStore, TestDatabase) {
    let database = TestDatabase::create("notifier", "127.0.0.1:6434");
    let store = PgNotificationStore::open(database.settings())
        .await
        .expect("opens, migrations applied");
    (store, database)
}

notifier::storage_suite!(fresh(), TestDatabase::drop_now);

/// The probe port reports ready while the notifier's database answers its ping through pgbouncer, and
/// not ready once the database is gone.
#[tokio::test]
async fn the_notifier_on_postgres_is_ready_while_its_database_answers() {
    use notifier::adapters::kafka::{ConsumerSettings, Start};
    let database = TestDatabase::create("notifier", "127.0.0.1:6434");
    let topic = format!("test-ready-{}", std::process::id());
    let config = notifier::Config {
        http_addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        storage: notifier::config::Storage::Postgres(database.settings().clone()),
        consumer: ConsumerSettings {
            brokers: "127.0.0.1:9092".into(),
            topic: topic.clone(),
            group: topic,
            start: Start::Earliest,
            stall_after: std::time::Duration::from_secs(60),
        },
    };
    let server = notifier::app::build(config)
        .await
        .expect("starts on postgres");
    let url = format!("http://{}/readyz", server.local_addr());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    let answer = reqwest::get(&url).await.expect("the probe port answers");
    assert_eq!(
        answer.status(),
        reqwest::StatusCode::OK,
        "{:?}",
        answer.text().await
    );
    database.drop_now();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let answer = reqwest::get(&url).await.expect("the probe port answers");
        if answer.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
            let reason = answer.text().await.unwrap_or_default();
            assert!(reason.contains("database"), "{reason}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still ready without a database"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    running.await.expect("stops");
}
