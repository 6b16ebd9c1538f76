//! The shared cart storage suite (`cart::adapters::suite`) on PostgreSQL, through pgbouncer, on a fresh
//! database per case (see `storage::testing`). Needs `just stack-up`.
use cart::adapters::postgres::PgCartRepo;
use storage::testing::TestDatabase;

/// A migrated PostgreSQL cart store on a database of its own.
async fn fresh() -> (PgCartRepo, TestDatabase) {
    let database = TestDatabase::create("cart", "127.0.0.1:6432");
    let repo = PgCartRepo::open(database.settings())
        .await
        .expect("opens, migrations applied");
    (repo, database)
}

cart::cart_storage_suite!(fresh(), TestDatabase::drop_now);
