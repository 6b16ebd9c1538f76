//! The shared storage suite (`loms::adapters::suite`) on PostgreSQL, through pgbouncer, on a fresh
//! database per case (see `storage::testing`). Needs `just stack-up`.
use loms::adapters::postgres::PgStore;
use storage::testing::TestDatabase;

/// A migrated PostgreSQL store on a database of its own.
async fn fresh() -> (PgStore, TestDatabase) {
    let database = TestDatabase::create("loms", "127.0.0.1:6433");
    let store = PgStore::open(database.settings())
        .await
        .expect("opens, migrations applied");
    (store, database)
}

loms::storage_suite!(fresh(), TestDatabase::drop_now);
