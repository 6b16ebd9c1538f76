//! The storage suite: the cases every [`NotificationStore`] must pass — the in-memory store in its unit
//! tests, the PostgreSQL store in `tests/postgres.rs`. Each case gets a fresh, empty store.
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Event, Position, Status};
use crate::ports::{Entry, NotificationStore, Recorded, RepoError};

/// A store under test: the port, plus what was notified.
#[async_trait]
pub trait TestStore: NotificationStore + 'static {
    async fn notified_statuses(&self, order_id: i64) -> Vec<Status>;
}

/// Generates one `#[tokio::test]` per suite case (see [`storage::suite_tests`]).
#[macro_export]
macro_rules! storage_suite {
    ($make:expr, $finish:expr) => {
        ::storage::suite_tests!($crate::adapters::suite; $make, $finish;
            an_event_is_notified_once,
            offsets_follow_each_partition_and_never_go_back,
            skipping_moves_the_offset_only,
            racing_deliveries_of_one_event_notify_once,
            a_retried_record_is_notified_again_but_recorded_once,
            a_batch_is_recorded_whole_and_in_order,
        );
    };
}

fn event(id: &str, order_id: i64, status: Status) -> Event {
    Event {
        event_id: id.into(),
        order_id,
        status,
        moment: "2026-11-30T10:00:00.000001Z".into(),
        request_id: Some("r".into()),
    }
}

/// Records one event at one position, on its own.
async fn one<S: TestStore>(store: &S, event: &Event, at: Position) -> Result<Recorded, RepoError> {
    let entry = Entry {
        event: Some(event.clone()),
        at,
    };
    let recorded = store.record(&[entry]).await?;
    assert_eq!(recorded.len(), 1, "one answer per entry");
    Ok(recorded[0])
}

fn at(topic: &str, partition: i32, offset: i64) -> Position {
    Position {
        topic: topic.into(),
        partition,
        offset,
    }
}

pub async fn an_event_is_notified_once<S: TestStore>(store: Arc<S>) {
    let new = event("e1", 5, Status::New);
    let awaiting = event("e2", 5, Status::AwaitingPayment);
    assert_eq!(
        one(&*store, &new, at("t", 0, 0)).await.ok(),
        Some(Recorded::Notified)
    );
    assert_eq!(
        one(&*store, &awaiting, at("t", 0, 1)).await.ok(),
        Some(Recorded::Notified)
    );
    // the relay sent both again; a consumer resumed from an older offset
    assert_eq!(
        one(&*store, &new, at("t", 0, 2)).await.ok(),
        Some(Recorded::Duplicate)
    );
    assert_eq!(
        one(&*store, &awaiting, at("t", 0, 3)).await.ok(),
        Some(Recorded::Duplicate)
    );
    assert_eq!(
        store.notified_statuses(5).await,
        vec![Status::New, Status::AwaitingPayment]
    );
    assert_eq!(store.notified_statuses(6).await, vec![]);
}

pub async fn offsets_follow_each_partition_and_never_go_back<S: TestStore>(store: Arc<S>) {
    assert_eq!(store.offsets("t").await.expect("read"), HashMap::new());
    one(&*store, &event("a", 1, Status::New), at("t", 0, 4))
        .await
        .expect("stored");
    one(&*store, &event("b", 2, Status::New), at("t", 2, 9))
        .await
        .expect("stored");
    one(&*store, &event("c", 3, Status::New), at("u", 0, 100))
        .await
        .expect("stored");
    // a consumer that lost partition 0 finishes an older record late
    one(&*store, &event("d", 4, Status::New), at("t", 0, 1))
        .await
        .expect("stored");
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(0, 5), (2, 10)])
    );
    assert_eq!(
        store.offsets("u").await.expect("read"),
        HashMap::from([(0, 101)])
    );
}

pub async fn skipping_moves_the_offset_only<S: TestStore>(store: Arc<S>) {
    let skip = Entry {
        event: None,
        at: at("t", 1, 7),
    };
    let skipped = store.record(&[skip]).await;
    assert_eq!(skipped.ok(), Some(vec![Recorded::Skipped]));
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(1, 8)])
    );
    let first = one(&*store, &event("e", 1, Status::New), at("t", 1, 8)).await;
    assert_eq!(first.ok(), Some(Recorded::Notified));
}

/// The store wrote the notification but its answer was lost: the consumer handles the same record
/// again, and learns it is notified (so it logs it), while the store keeps one notification.
pub async fn a_retried_record_is_notified_again_but_recorded_once<S: TestStore>(store: Arc<S>) {
    let event = event("e", 3, Status::New);
    for _ in 0..2 {
        let recorded = one(&*store, &event, at("t", 0, 5)).await;
        assert_eq!(recorded.ok(), Some(Recorded::Notified));
    }
    let resent = one(&*store, &event, at("t", 0, 6)).await;
    assert_eq!(
        resent.ok(),
        Some(Recorded::Duplicate),
        "a re-send is another record"
    );
    assert_eq!(store.notified_statuses(3).await, vec![Status::New]);
}

/// Two replicas handle one event at once (a rebalance hands its partition over mid-event): one
/// notification.
pub async fn racing_deliveries_of_one_event_notify_once<S: TestStore>(store: Arc<S>) {
    let racers: Vec<_> = (0..8)
        .map(|offset| {
            let store = store.clone();
            tokio::spawn(async move {
                one(
                    &*store,
                    &event("same", 9, Status::Payed),
                    at("t", 0, offset),
                )
                .await
                .expect("stored")
            })
        })
        .collect();
    let mut notified = 0;
    for racer in racers {
        if racer.await.expect("no panic") == Recorded::Notified {
            notified += 1;
        }
    }
    assert_eq!(notified, 1);
    assert_eq!(store.notified_statuses(9).await, vec![Status::Payed]);
}

/// One poll's records in one step: each answered in order, a duplicate within the batch recognised,
/// and the offsets past the last of each partition.
pub async fn a_batch_is_recorded_whole_and_in_order<S: TestStore>(store: Arc<S>) {
    let (new, paid) = (event("n", 4, Status::New), event("p", 4, Status::Payed));
    let entry = |event: Option<&Event>, partition, offset| Entry {
        event: event.cloned(),
        at: at("t", partition, offset),
    };
    let batch = [
        entry(Some(&new), 0, 0),
        entry(None, 0, 1),
        entry(Some(&paid), 1, 0),
        entry(Some(&new), 1, 1),
    ];
    let recorded = store.record(&batch).await.expect("stored");
    use Recorded::*;
    assert_eq!(recorded, vec![Notified, Skipped, Notified, Duplicate]);
    assert_eq!(
        store.notified_statuses(4).await,
        vec![Status::New, Status::Payed]
    );
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(0, 2), (1, 2)])
    );
}
