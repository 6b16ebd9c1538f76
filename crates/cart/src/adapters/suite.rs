//! The cart storage suite: one set of test cases every [`CartRepo`] must pass — the in-memory store
//! in its unit tests, the PostgreSQL one in `tests/postgres.rs` — so the two cannot drift. Each case
//! gets a fresh, empty store. Versions are compared, never spelled out: stores may start them anywhere.
//!
//! Compiled for this crate's tests and, through the `testsuite` feature, for its integration tests.
use std::sync::Arc;

use crate::domain::{item_count, CartSnapshot, ItemCount, Sku, UserId};
use crate::ports::{AddOutcome, CartRepo};

/// Generates one `#[tokio::test]` per suite case (see [`storage::suite_tests`]): `$make` yields a
/// fresh `(store, guard)` per case, `$finish` gets the guard when the case has passed.
#[macro_export]
macro_rules! cart_storage_suite {
    ($make:expr, $finish:expr) => {
        ::storage::suite_tests!($crate::adapters::suite; $make, $finish;
            counts_add_up_and_items_are_sorted,
            a_position_never_passes_65535,
            delete_and_clear_are_fine_on_missing_things,
            every_change_is_a_new_version,
            remove_ordered_takes_exactly_what_was_ordered_once,
            an_older_snapshot_removes_nothing_after_a_newer_one,
            one_snapshot_removed_at_once_is_removed_once,
            concurrent_adds_all_count,
        );
    };
}

fn user(n: i64) -> UserId {
    UserId::try_from(n).expect("positive")
}
fn sku(n: u32) -> Sku {
    Sku::try_from(n).expect("positive")
}
fn count(n: u32) -> ItemCount {
    item_count(n).expect("valid")
}

async fn add<R: CartRepo>(repo: &R, u: i64, s: u32, n: u32) {
    repo.add_item(user(u), sku(s), count(n))
        .await
        .expect("added");
}

async fn snapshot<R: CartRepo>(repo: &R, u: i64) -> CartSnapshot {
    repo.snapshot(user(u)).await.expect("read")
}

async fn flat<R: CartRepo>(repo: &R, u: i64) -> Vec<(u32, u16)> {
    let snapshot = snapshot(repo, u).await;
    snapshot
        .items
        .iter()
        .map(|i| (i.sku.get(), i.count.get()))
        .collect()
}

pub async fn counts_add_up_and_items_are_sorted<R: CartRepo>(repo: Arc<R>) {
    add(&*repo, 1, 9, 1).await;
    add(&*repo, 1, 3, 2).await;
    add(&*repo, 1, 9, 4).await;
    add(&*repo, 2, 3, 1).await;
    assert_eq!(flat(&*repo, 1).await, vec![(3, 2), (9, 5)]);
    assert_eq!(flat(&*repo, 2).await, vec![(3, 1)]);
    assert_eq!(repo.count(user(1), sku(9)).await.ok(), Some(5));
    assert_eq!(repo.count(user(1), sku(4)).await.ok(), Some(0));
    assert_eq!(repo.count(user(3), sku(4)).await.ok(), Some(0));
}

pub async fn a_position_never_passes_65535<R: CartRepo>(repo: Arc<R>) {
    add(&*repo, 1, 1, 65535).await;
    let before = snapshot(&*repo, 1).await.version;
    let result = repo.add_item(user(1), sku(1), count(1)).await;
    assert!(matches!(result, Ok(AddOutcome::TooManyUnits)), "{result:?}");
    assert_eq!(repo.count(user(1), sku(1)).await.ok(), Some(65535));
    assert_eq!(
        snapshot(&*repo, 1).await.version,
        before,
        "a refused change is no change"
    );
}

pub async fn delete_and_clear_are_fine_on_missing_things<R: CartRepo>(repo: Arc<R>) {
    repo.delete_item(user(1), sku(1))
        .await
        .expect("nothing to delete");
    repo.clear(user(1)).await.expect("nothing to clear");
    add(&*repo, 1, 1, 1).await;
    add(&*repo, 1, 2, 1).await;
    repo.delete_item(user(1), sku(1)).await.expect("deleted");
    assert_eq!(flat(&*repo, 1).await, vec![(2, 1)]);
    repo.clear(user(1)).await.expect("cleared");
    assert!(flat(&*repo, 1).await.is_empty());
}

pub async fn every_change_is_a_new_version<R: CartRepo>(repo: Arc<R>) {
    let version = || async { snapshot(&*repo, 1).await.version };
    let mut last = version().await;
    let mut expect_new = |now| {
        assert!(now > last, "{now} after {last}");
        last = now;
    };
    add(&*repo, 1, 1, 1).await;
    expect_new(version().await);
    add(&*repo, 1, 1, 1).await;
    expect_new(version().await);
    repo.delete_item(user(1), sku(7))
        .await
        .expect("nothing to delete");
    let unchanged = version().await;
    repo.delete_item(user(1), sku(1)).await.expect("deleted");
    let after_delete = version().await;
    assert!(after_delete > unchanged);
    repo.clear(user(1)).await.expect("nothing left to clear");
    assert_eq!(
        version().await,
        after_delete,
        "clearing an empty cart changes nothing"
    );
    expect_new(after_delete);
    add(&*repo, 1, 1, 1).await;
    // The same content as after the first add, yet a new state: an emptied cart keeps counting.
    expect_new(version().await);
    add(&*repo, 1, 2, 1).await;
    repo.clear(user(1)).await.expect("cleared");
    expect_new(version().await);
}

pub async fn remove_ordered_takes_exactly_what_was_ordered_once<R: CartRepo>(repo: Arc<R>) {
    add(&*repo, 1, 1, 3).await;
    add(&*repo, 1, 2, 1).await;
    let ordered = snapshot(&*repo, 1).await;

    // meanwhile: more of sku 1, a new sku 3, sku 2 deleted
    add(&*repo, 1, 1, 2).await;
    add(&*repo, 1, 3, 1).await;
    repo.delete_item(user(1), sku(2)).await.expect("deleted");

    assert_eq!(
        repo.remove_ordered(user(1), &ordered).await.ok(),
        Some(true)
    );
    assert_eq!(flat(&*repo, 1).await, vec![(1, 2), (3, 1)]);
    assert_eq!(
        repo.remove_ordered(user(1), &ordered).await.ok(),
        Some(false),
        "a second call with the same order removes nothing"
    );
    assert_eq!(flat(&*repo, 1).await, vec![(1, 2), (3, 1)]);
    assert!(snapshot(&*repo, 1).await.version > ordered.version);
}

pub async fn an_older_snapshot_removes_nothing_after_a_newer_one<R: CartRepo>(repo: Arc<R>) {
    add(&*repo, 1, 1, 1).await;
    let older = snapshot(&*repo, 1).await;
    add(&*repo, 1, 2, 1).await;
    let newer = snapshot(&*repo, 1).await;
    assert_eq!(repo.remove_ordered(user(1), &newer).await.ok(), Some(true));
    add(&*repo, 1, 1, 1).await;
    // the newer order already took sku 1 of the older snapshot; the unit added since stays
    assert_eq!(repo.remove_ordered(user(1), &older).await.ok(), Some(false));
    assert_eq!(flat(&*repo, 1).await, vec![(1, 1)]);
}

pub async fn one_snapshot_removed_at_once_is_removed_once<R: CartRepo + 'static>(repo: Arc<R>) {
    add(&*repo, 1, 1, 5).await;
    let ordered = snapshot(&*repo, 1).await;
    add(&*repo, 1, 1, 2).await;
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let (repo, ordered) = (repo.clone(), ordered.clone());
            tokio::spawn(async move { repo.remove_ordered(user(1), &ordered).await })
        })
        .collect();
    let mut applied = 0;
    for call in calls {
        if call.await.expect("task").expect("no storage error") {
            applied += 1;
        }
    }
    assert_eq!(applied, 1);
    assert_eq!(flat(&*repo, 1).await, vec![(1, 2)]);
}

pub async fn concurrent_adds_all_count<R: CartRepo + 'static>(repo: Arc<R>) {
    let calls: Vec<_> = (0..50)
        .map(|_| {
            let repo = repo.clone();
            tokio::spawn(async move { add(&*repo, 1, 1, 1).await })
        })
        .collect();
    for call in calls {
        call.await.expect("task");
    }
    assert_eq!(flat(&*repo, 1).await, vec![(1, 50)]);
}
