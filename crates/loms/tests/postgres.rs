//! The shared storage suite (`loms::adapters::suite`) on PostgreSQL, through pgbouncer, on a fresh
//! database per case (see `platform::postgres::testing`). Needs `just stack-up`.
use loms::adapters::postgres::PgStore;
use platform::postgres::testing::TestDatabase;

/// A migrated PostgreSQL store on a database of its own.
async fn fresh() -> (PgStore, TestDatabase) {
    let database = TestDatabase::create("loms", "127.0.0.1:6433");
    let pool = database.settings().pool().expect("valid settings");
    platform::postgres::migrate(&pool, PgStore::migrations())
        .await
        .expect("migrations apply");
    let timeout = database.settings().timeout;
    (PgStore::new(pool, timeout), database)
}

loms::storage_suite!(fresh(), TestDatabase::drop_now);
