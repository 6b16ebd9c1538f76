//! The shared cart storage suite (`cart::adapters::suite`) on PostgreSQL, through pgbouncer, on a fresh
//! database per case (see `platform::postgres::testing`). Needs `just stack-up`.
use cart::adapters::postgres::PgCartRepo;
use platform::postgres::testing::TestDatabase;

/// A migrated PostgreSQL cart store on a database of its own.
async fn fresh() -> (PgCartRepo, TestDatabase) {
    let database = TestDatabase::create("cart", "127.0.0.1:6432");
    let pool = database.settings().pool().expect("valid settings");
    platform::postgres::migrate(&pool, PgCartRepo::migrations())
        .await
        .expect("migrations apply");
    let timeout = database.settings().timeout;
    (PgCartRepo::new(pool, timeout), database)
}

cart::cart_storage_suite!(fresh(), TestDatabase::drop_now);
