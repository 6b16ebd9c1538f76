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

/// A database that is gone is an error for readiness and for a write alike: not a ping that answers,
/// nor a refused add taken for the 65535-unit limit (the one refusal `add_item` reads from an error).
#[tokio::test]
async fn a_database_that_is_gone_fails_ping_and_add() {
    use cart::domain::{item_count, Sku, UserId};
    use cart::ports::CartRepo;
    let (repo, database) = fresh().await;
    let (user, sku) = (
        UserId::try_from(1).expect("valid"),
        Sku::try_from(1).expect("valid"),
    );
    let one = item_count(1).expect("valid");
    repo.ping()
        .await
        .expect("ready while the database is there");
    repo.add_item(user, sku, one).await.expect("adds");
    database.drop_now();
    let added = repo.add_item(user, sku, one).await;
    assert!(added.is_err(), "an add without a database gave {added:?}");
    assert!(
        repo.ping().await.is_err(),
        "ping answered without a database"
    );
}
