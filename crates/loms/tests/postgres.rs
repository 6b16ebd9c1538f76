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

/// The relay's lease: one holder at a time, renewable by it, free for another once it expired.
#[tokio::test]
async fn the_relay_lease_has_one_holder_until_it_expires() {
    use loms::ports::Outbox;
    use std::time::{Duration, Instant};
    let (store, database) = fresh().await;
    // Long leases where a check must see one still running, however slow the machine.
    let (long, short) = (Duration::from_secs(600), Duration::from_millis(300));
    let held = |holder: &'static str, ttl| {
        let store = store.clone();
        async move { store.lease(holder, ttl).await.expect("lease query") }
    };
    assert!(held("a", long).await, "a free lease is taken");
    assert!(!held("b", long).await, "a running lease is not");
    assert!(
        held("a", short).await,
        "its holder renews it (now for a short while)"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while !held("b", long).await {
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!held("a", long).await, "the old holder lost it");
    database.drop_now();
}

/// A released lease is free at once for another holder; only its holder can release it.
#[tokio::test]
async fn a_released_relay_lease_is_free_at_once() {
    use loms::ports::Outbox;
    use std::time::Duration;
    let (store, database) = fresh().await;
    let long = Duration::from_secs(600);
    assert!(store.lease("a", long).await.expect("lease query"));
    store.release("b").await.expect("release query");
    assert!(
        !store.lease("b", long).await.expect("lease query"),
        "another holder cannot release it"
    );
    store.release("a").await.expect("release query");
    assert!(
        store.lease("b", long).await.expect("lease query"),
        "released: taken at once"
    );
    database.drop_now();
}

/// Seeding stocks every SKU of the built-in catalogue the migrations did not (they stock the course's
/// SKUs), once: a second seeding adds nothing and leaves the reservations made since alone.
#[tokio::test]
async fn seeding_stocks_the_catalogue_once() {
    use loms::domain::{Item, OrderItems, RequestId, Sku, UserId};
    use loms::ports::{NewOrder, OrderRepo, StockRepo};
    let (store, database) = fresh().await;
    let catalogue = catalogue::stock();
    let seeded = store.seed_catalogue_stock().await.expect("seeds");
    assert_eq!(seeded, catalogue.len() - catalogue::COURSE_STOCK.len());
    let course = |sku| catalogue::COURSE_STOCK.iter().any(|&(s, ..)| s == sku);
    let level = catalogue
        .iter()
        .find(|l| !course(l.sku))
        .expect("a seeded SKU");
    let sku = Sku::try_from(level.sku).unwrap();
    let free = level.total - level.reserved;
    assert_eq!(store.available(sku).await.unwrap(), Some(free));
    let order = NewOrder {
        user: UserId::try_from(1).unwrap(),
        items: OrderItems::new([Item::new(level.sku, 1).unwrap()]).unwrap(),
        idempotency_key: None,
        request_id: RequestId::fresh("test"),
    };
    store.place(order).await.expect("places");
    let again = store.seed_catalogue_stock().await.expect("seeds again");
    assert_eq!(again, 0, "every SKU was stocked already");
    assert_eq!(
        store.available(sku).await.unwrap(),
        Some(free - 1),
        "the reservation stands"
    );
    database.drop_now();
}

/// A database that is gone fails readiness.
#[tokio::test]
async fn a_database_that_is_gone_fails_ping() {
    let (store, database) = fresh().await;
    store
        .ping()
        .await
        .expect("ready while the database is there");
    database.drop_now();
    assert!(
        store.ping().await.is_err(),
        "ping answered without a database"
    );
}
