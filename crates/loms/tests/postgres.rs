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

/// The relay's lease: one holder at a time, renewable by it, free for another once it expired; its
/// term grows with every takeover and stays with a renewal.
#[tokio::test]
async fn the_relay_lease_has_one_holder_until_it_expires() {
    use loms::ports::Outbox;
    use std::time::{Duration, Instant};
    let (store, database) = fresh().await;
    // Long leases where a check must see one still running, however slow the machine.
    let (long, short) = (Duration::from_secs(600), Duration::from_millis(300));
    let held = |holder: &'static str, ttl| {
        let store = store.clone();
        async move { store.lease("t", holder, ttl).await.expect("lease query") }
    };
    assert_eq!(held("a", long).await, Some(1), "a free lease is taken");
    assert_eq!(held("b", long).await, None, "a running lease is not");
    assert_eq!(
        held("a", short).await,
        Some(1),
        "its holder renews it (now for a short while), in the same term"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let taken = loop {
        if let Some(term) = held("b", long).await {
            break term;
        }
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(taken, 2, "taken over: a new term");
    assert_eq!(held("a", long).await, None, "the old holder lost it");
    assert_eq!(
        store.lease("u", "a", long).await.expect("lease query"),
        Some(1),
        "another lease is another row"
    );
    database.drop_now();
}

/// A released lease is free at once for another holder, in a new term; only its holder can release it.
#[tokio::test]
async fn a_released_relay_lease_is_free_at_once() {
    use loms::ports::Outbox;
    use std::time::Duration;
    let (store, database) = fresh().await;
    let long = Duration::from_secs(600);
    let lease = |holder| store.lease("t", holder, long);
    assert_eq!(lease("a").await.expect("lease query"), Some(1));
    store.release("t", "b").await.expect("release query");
    assert_eq!(
        lease("b").await.expect("lease query"),
        None,
        "another holder cannot release it"
    );
    store.release("t", "a").await.expect("release query");
    assert_eq!(
        lease("b").await.expect("lease query"),
        Some(2),
        "released: taken at once, in a new term"
    );
    store.release("t", "b").await.expect("release query");
    assert_eq!(
        lease("b").await.expect("lease query"),
        Some(3),
        "taken again after giving it up: a new term, for whoever held it in between"
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
    let sku = Sku::try_from(level.sku).expect("valid");
    let free = level.total - level.reserved;
    assert_eq!(store.available(sku).await.expect("stock query"), Some(free));
    let order = NewOrder {
        user: UserId::try_from(1).expect("valid"),
        items: OrderItems::new([Item::new(level.sku, 1).expect("valid")]).expect("valid"),
        idempotency_key: None,
        request_id: RequestId::fresh("test"),
    };
    store.place(order).await.expect("places");
    let again = store.seed_catalogue_stock().await.expect("seeds again");
    assert_eq!(again, 0, "every SKU was stocked already");
    assert_eq!(
        store.available(sku).await.expect("stock query"),
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

/// A session of its own on the test's database, straight to PostgreSQL (not through pgbouncer, so
/// that it can hold a transaction open across statements), to stage what a race needs.
async fn outside_session(database: &TestDatabase) -> tokio_postgres::Client {
    let url = format!(
        "host=127.0.0.1 port=5432 user=postgres dbname={}",
        database.name()
    );
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connects to PostgreSQL");
    tokio::spawn(connection);
    client
}

/// Waits until `n` sessions of the database wait for a lock. `watcher` must not be in a transaction:
/// one would see pg_stat_activity as it was at its first look.
async fn lock_waiters(watcher: &tokio_postgres::Client, database: &TestDatabase, n: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "{n} sessions never waited"
        );
        let row = watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&database.name()],
            )
            .await
            .expect("reads pg_stat_activity");
        if row.get::<_, i64>(0) >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// One order of a course SKU under `key` for user 7.
fn keyed_order(key: &str) -> loms::ports::NewOrder {
    use loms::domain::{IdempotencyKey, Item, OrderItems, RequestId, UserId};
    loms::ports::NewOrder {
        user: UserId::try_from(7).expect("valid"),
        items: OrderItems::new([Item::new(COURSE_SKU, 1).expect("valid")]).expect("valid"),
        idempotency_key: IdempotencyKey::parse(key).expect("valid"),
        request_id: RequestId::fresh("test"),
    }
}

/// A SKU the migrations stock (300 units, none reserved).
const COURSE_SKU: u32 = 1148162;

/// Two calls with one key, each past its lookup before the other's order is committed: the second's
/// insert meets the first's order on the key's index, waits for its commit, is refused, and finds that
/// order on its second look. Staged, not left to chance: an outside session holds the SKU's stock row,
/// so the first call waits after its insert until both calls are in place.
#[tokio::test]
async fn a_key_lost_at_the_insert_finds_the_winners_order() {
    use loms::ports::{OrderRepo, Placement};
    let (store, database) = fresh().await;
    let outside = outside_session(&database).await;
    outside
        .batch_execute(&format!(
            "BEGIN; SELECT * FROM stocks WHERE sku = {COURSE_SKU} FOR UPDATE"
        ))
        .await
        .expect("holds the stock row");
    let watcher = outside_session(&database).await;
    let place =
        |store: PgStore| tokio::spawn(async move { store.place(keyed_order("race")).await });
    let first = place(store.clone());
    lock_waiters(&watcher, &database, 1).await;
    let second = place(store.clone());
    lock_waiters(&watcher, &database, 2).await;
    outside.batch_execute("COMMIT").await.expect("lets go");
    let first = first
        .await
        .expect("no panic")
        .expect("the first call places");
    let second = second
        .await
        .expect("no panic")
        .expect("the second call is no error");
    let Placement::Created { order_id, .. } = first else {
        panic!("the first call created no order: {first:?}");
    };
    match second {
        Placement::Existing(order) => assert_eq!(order.id, order_id, "the winner's order"),
        other => panic!("the second call placed another order: {other:?}"),
    }
    database.drop_now();
}

/// An insert the database refuses for any other reason than the key is that failure, reported once —
/// not retried and reported as a lost race for the key.
#[tokio::test]
async fn an_insert_refused_otherwise_is_not_a_lost_key() {
    use loms::ports::OrderRepo;
    let (store, database) = fresh().await;
    let outside = outside_session(&database).await;
    outside
        .batch_execute("ALTER TABLE orders ADD CONSTRAINT test_refuses_user_7 CHECK (user_id <> 7)")
        .await
        .expect("adds the check");
    let error = store
        .place(keyed_order("refused"))
        .await
        .expect_err("the database refuses the order");
    let message = telemetry::error_chain(&error);
    assert!(message.contains("test_refuses_user_7"), "{message}");
    assert!(!message.contains("key taken"), "{message}");
    database.drop_now();
}
