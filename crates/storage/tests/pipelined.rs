//! [`storage::Pipelined`] on PostgreSQL through pgbouncer (`just stack-up`): its statements commit
//! together or not at all, and a transaction dropped open never leaves its connection inside it.
use std::time::Duration;

use storage::testing::TestDatabase;
use storage::{Context, Database, PgSettings, Pipelined, RepoError};

/// A pool of one connection, so each test's later calls get the connection its transaction used.
async fn open(db: &TestDatabase) -> Database {
    let settings = PgSettings {
        pool_size: 1,
        ..db.settings().clone()
    };
    let database = Database::open(&settings, refinery::Runner::new(&[]))
        .await
        .expect("opens");
    let client = database.client().await.expect("a connection");
    client
        .batch_execute("CREATE TABLE t (id integer PRIMARY KEY)")
        .await
        .expect("creates the table");
    database
}

const INSERT: &str = "INSERT INTO t (id) VALUES ($1)";

/// Inserts `id` with the connection's prepared INSERT ([`prepare`] first): a statement sent beside
/// `COMMIT` must leave at once. (An unprepared one — `execute` with the text — was seen to lose:
/// `COMMIT` went first and the statement ran outside the transaction, as the module doc warns.)
async fn insert(client: &deadpool_postgres::Object, id: i32) -> Result<(), RepoError> {
    let statement = client.prepare_cached(INSERT).await.context("prepare")?;
    client.execute(&statement, &[&id]).await.context("insert")?;
    Ok(())
}

async fn prepare(client: &deadpool_postgres::Object) {
    client.prepare_cached(INSERT).await.expect("prepares");
}

/// The ids in the table, read on a connection of another pool.
async fn ids(db: &TestDatabase) -> Vec<i32> {
    let other = Database::open(db.settings(), refinery::Runner::new(&[]))
        .await
        .expect("opens");
    let client = other.client().await.expect("a connection");
    let rows = client
        .query("SELECT id FROM t ORDER BY id", &[])
        .await
        .expect("reads");
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn its_statements_commit_together_and_a_failed_last_one_rolls_the_first_back() {
    let db = TestDatabase::create("storage_pipelined", "127.0.0.1:6433");
    let database = open(&db).await;

    let client = database.client().await.expect("a connection");
    prepare(&client).await;
    let (tx, ()) = Pipelined::begin_with(client, async |c| insert(c, 1).await)
        .await
        .expect("begins");
    tx.commit_with(async |c| insert(c, 2).await)
        .await
        .expect("commits");
    assert_eq!(ids(&db).await, [1, 2]);

    // The last statement breaks the key: the first one's row must go with it.
    let client = database.client().await.expect("a connection");
    let (tx, ()) = Pipelined::begin_with(client, async |c| insert(c, 3).await)
        .await
        .expect("begins");
    let failed = tx.commit_with(async |c| insert(c, 1).await).await;
    assert!(failed.is_err(), "the duplicate key is reported");
    assert_eq!(ids(&db).await, [1, 2], "nothing of the failed transaction");

    // The connection is usable and outside any transaction: what it writes now is committed.
    let client = database.client().await.expect("a connection");
    insert(&client, 4).await.expect("inserts");
    drop(client);
    assert_eq!(ids(&db).await, [1, 2, 4]);
    db.drop_now();
}

#[tokio::test]
async fn a_last_statement_that_fails_before_it_is_sent_commits_nothing() {
    let db = TestDatabase::create("storage_pipelined", "127.0.0.1:6433");
    let database = open(&db).await;

    let client = database.client().await.expect("a connection");
    prepare(&client).await;
    let (tx, ()) = Pipelined::begin_with(client, async |c| insert(c, 5).await)
        .await
        .expect("begins");
    // A text for the integer: refused by the client while encoding, so it never leaves; a COMMIT sent
    // beside it would commit the first row alone.
    let failed = tx
        .commit_with(async |c| {
            let statement = c.prepare_cached(INSERT).await.context("prepare")?;
            c.execute(&statement, &[&"five"]).await.context("insert")?;
            Ok(())
        })
        .await;
    assert!(failed.is_err(), "the wrong type is reported");

    let client = database.client().await.expect("a connection");
    insert(&client, 6).await.expect("inserts");
    drop(client);
    assert_eq!(ids(&db).await, [6], "5 rolled back, 6 committed on its own");
    db.drop_now();
}

#[tokio::test]
async fn a_transaction_dropped_open_is_rolled_back_before_its_connection_serves_again() {
    let db = TestDatabase::create("storage_pipelined", "127.0.0.1:6433");
    let database = open(&db).await;

    let client = database.client().await.expect("a connection");
    let (tx, ()) = Pipelined::begin_with(client, async |c| insert(c, 10).await)
        .await
        .expect("begins");
    drop(tx);

    // The pool's only connection comes back once its ROLLBACK is through; were it still inside the
    // dropped transaction, this row would stay invisible to others.
    let client = tokio::time::timeout(Duration::from_secs(10), database.client())
        .await
        .expect("the connection comes back to the pool")
        .expect("a connection");
    insert(&client, 11).await.expect("inserts");
    drop(client);
    assert_eq!(
        ids(&db).await,
        [11],
        "10 rolled back, 11 committed on its own"
    );
    db.drop_now();
}
