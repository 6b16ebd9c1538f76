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
