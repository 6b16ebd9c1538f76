//! The storage suite: the cases every [`NotificationStore`] must pass — the in-memory store in its unit
//! tests, the PostgreSQL store in `tests/postgres.rs`. Each case gets a fresh, empty store.
use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::{Event, Header, Poison, Position, Record, Status};
use crate::ports::{Applied, Entry, NotificationStore, Recorded, Run};

/// A store under test: the port, plus what was stored.
#[async_trait]
pub trait TestStore: NotificationStore + Sized + 'static {
    async fn notified_statuses(&self, order_id: i64) -> Vec<Status>;
    /// The dead letters of `topic`: (partition, offset, reason), by position.
    async fn dead_letters(&self, topic: &str) -> Vec<(i32, i64, String)>;
    /// Another member on the same data.
    fn twin(&self) -> Option<Self>;
    /// Makes the store refuse, for its data, every notification of `order_id`; `false` when it cannot.
    async fn refuse_order(&self, order_id: i64) -> bool;
}

/// Generates one `#[tokio::test]` per suite case (see [`storage::suite_tests`]).
#[macro_export]
macro_rules! storage_suite {
    ($make:expr, $finish:expr) => {
        ::storage::suite_tests!($crate::adapters::suite; $make, $finish;
            an_event_is_notified_once,
            a_run_moves_its_partition_only_from_where_it_expects,
            a_member_recognises_its_own_attempt_and_no_other,
            racing_members_store_a_run_once,
            poison_records_become_dead_letters_and_move_the_partition,
            an_event_the_store_refuses_becomes_a_dead_letter_and_the_rest_is_stored,
            a_poll_of_runs_is_stored_in_order,
        );
    };
}

fn event(id: u32, order_id: i64, status: Status) -> Event {
    Event {
        event_id: format!("00000000-0000-4000-8000-{id:012}"),
        order_id,
        status,
        moment_micros: 1_796_000_000_123_456,
        request_id: "r".into(),
    }
}

fn record(partition: i32, offset: i64) -> Record {
    Record {
        at: Position {
            topic: "t".into(),
            partition,
            offset,
        },
        key: Some(b"k".to_vec()),
        value: Some(b"v".to_vec()),
        // what a hostile producer may send: a NUL and bytes that are no UTF-8
        headers: vec![Header {
            name: "x-request-id\0".into(),
            value: Some(b"r\0\xff".to_vec()),
        }],
    }
}

/// A run of `partition` past `expected`, of `events` at the offsets given.
fn run(partition: i32, expected: Option<i64>, events: &[(i64, Result<Event, Poison>)]) -> Run {
    Run {
        topic: "t".into(),
        partition,
        expected,
        entries: events
            .iter()
            .map(|(offset, event)| Entry {
                record: record(partition, *offset),
                event: event.clone(),
            })
            .collect(),
    }
}

/// Applies one run on its own.
async fn apply<S: TestStore>(store: &S, run: Run) -> Applied {
    let mut applied = store.apply(&[run]).await.expect("the store answers");
    assert_eq!(applied.len(), 1, "one answer per run");
    applied.remove(0)
}

pub async fn an_event_is_notified_once<S: TestStore>(store: Arc<S>) {
    use Recorded::*;
    let (new, awaiting) = (
        event(1, 5, Status::New),
        event(2, 5, Status::AwaitingPayment),
    );
    let first = run(0, None, &[(0, Ok(new.clone())), (1, Ok(awaiting.clone()))]);
    assert_eq!(
        apply(&*store, first).await,
        Applied::Stored(vec![Notified, Notified])
    );
    // the relay sent both again
    let resent = run(0, Some(2), &[(2, Ok(new)), (3, Ok(awaiting))]);
    assert_eq!(
        apply(&*store, resent).await,
        Applied::Stored(vec![Duplicate, Duplicate])
    );
    assert_eq!(
        store.notified_statuses(5).await,
        vec![Status::New, Status::AwaitingPayment]
    );
    assert_eq!(store.notified_statuses(6).await, vec![]);
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(0, 4)])
    );
}

pub async fn a_run_moves_its_partition_only_from_where_it_expects<S: TestStore>(store: Arc<S>) {
    assert_eq!(store.offsets("t").await.expect("read"), HashMap::new());
    let first = run(1, None, &[(7, Ok(event(1, 1, Status::New)))]);
    assert!(matches!(apply(&*store, first).await, Applied::Stored(_)));
    // a member that read no offset, or an old one, finds the partition moved
    for expected in [None, Some(3)] {
        let stale = run(1, expected, &[(8, Ok(event(2, 2, Status::New)))]);
        assert_eq!(
            apply(&*store, stale).await,
            Applied::Taken { stored: Some(8) }
        );
    }
    assert_eq!(
        store.notified_statuses(2).await,
        vec![],
        "nothing of it stored"
    );
    // a gap (a transaction marker of the topic) is no reason to refuse
    let next = run(1, Some(8), &[(10, Ok(event(2, 2, Status::New)))]);
    assert!(matches!(apply(&*store, next).await, Applied::Stored(_)));
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(1, 11)])
    );
    assert_eq!(store.offsets("u").await.expect("read"), HashMap::new());
}

/// The store committed a run but its answer was lost: the member applies the same run again and
/// learns what it stored (so it logs it), while the store keeps one of each; another member with the
/// same run finds the partition taken.
pub async fn a_member_recognises_its_own_attempt_and_no_other<S: TestStore>(store: Arc<S>) {
    let Some(other) = store.twin() else { return };
    let the_run = || run(0, None, &[(5, Ok(event(1, 3, Status::New)))]);
    for _ in 0..2 {
        assert_eq!(
            apply(&*store, the_run()).await,
            Applied::Stored(vec![Recorded::Notified])
        );
    }
    assert_eq!(
        apply(&other, the_run()).await,
        Applied::Taken { stored: Some(6) }
    );
    assert_eq!(store.notified_statuses(3).await, vec![Status::New]);
}

/// Two members apply the same run at once (a rebalance hands the partition over mid-run, or a paused
/// member wakes up): one of them stores it. (Racers of one member may each store it: to the store they
/// are that member's attempts, whose answers may have been lost; a member never races itself.)
pub async fn racing_members_store_a_run_once<S: TestStore>(store: Arc<S>) {
    let Some(other) = store.twin() else { return };
    let members = [store.clone(), Arc::new(other)];
    let racers: Vec<_> = (0..8)
        .map(|n| {
            let member = members[n % 2].clone();
            tokio::spawn(async move {
                let events = [
                    (0, Ok(event(1, 9, Status::New))),
                    (1, Ok(event(2, 9, Status::Payed))),
                ];
                (n % 2, apply(&*member, run(0, None, &events)).await)
            })
        })
        .collect();
    let mut stored_by = std::collections::HashSet::new();
    for racer in racers {
        let (member, applied) = racer.await.expect("no panic");
        match applied {
            Applied::Stored(recorded) => {
                assert_eq!(recorded, vec![Recorded::Notified, Recorded::Notified]);
                stored_by.insert(member);
            }
            Applied::Taken { stored } => assert_eq!(stored, Some(2)),
        }
    }
    assert_eq!(stored_by.len(), 1, "one member stored the run");
    assert_eq!(
        store.notified_statuses(9).await,
        vec![Status::New, Status::Payed]
    );
}

pub async fn poison_records_become_dead_letters_and_move_the_partition<S: TestStore>(
    store: Arc<S>,
) {
    let poisons = [
        (0, Err(Poison::Undecodable("garbage\0".into()))),
        (1, Ok(event(1, 4, Status::New))),
        (2, Err(Poison::Key(4))),
        (3, Err(Poison::ContentType)),
    ];
    let applied = apply(&*store, run(2, None, &poisons)).await;
    assert_eq!(
        applied,
        Applied::Stored(vec![
            Recorded::DeadLettered(Poison::Undecodable("garbage\0".into())),
            Recorded::Notified,
            Recorded::DeadLettered(Poison::Key(4)),
            Recorded::DeadLettered(Poison::ContentType),
        ])
    );
    assert_eq!(
        store.dead_letters("t").await,
        vec![
            (2, 0, "undecodable".to_owned()),
            (2, 2, "key".to_owned()),
            (2, 3, "content_type".to_owned())
        ]
    );
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(2, 4)])
    );
    // stored again by the same member (its answer lost): still one dead letter each
    let again = apply(&*store, run(2, None, &poisons)).await;
    assert!(matches!(again, Applied::Stored(_)), "{again:?}");
    assert_eq!(store.dead_letters("t").await.len(), 3);
}

pub async fn an_event_the_store_refuses_becomes_a_dead_letter_and_the_rest_is_stored<
    S: TestStore,
>(
    store: Arc<S>,
) {
    if !store.refuse_order(13).await {
        return;
    }
    let events = [
        (0, Ok(event(1, 12, Status::New))),
        (1, Ok(event(2, 13, Status::New))),
        (2, Ok(event(3, 12, Status::AwaitingPayment))),
    ];
    let applied = apply(&*store, run(0, None, &events)).await;
    let Applied::Stored(recorded) = applied else {
        panic!("stored: {applied:?}")
    };
    assert_eq!(recorded[0], Recorded::Notified);
    assert!(
        matches!(&recorded[1], Recorded::DeadLettered(Poison::Refused(why)) if why.starts_with("23514")),
        "{recorded:?}"
    );
    assert_eq!(recorded[2], Recorded::Notified);
    assert_eq!(
        store.notified_statuses(12).await,
        vec![Status::New, Status::AwaitingPayment]
    );
    assert_eq!(
        store.dead_letters("t").await,
        vec![(0, 1, "refused".to_owned())]
    );
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(0, 3)])
    );
}

/// One poll's runs in one step: each answered in order, a duplicate within the poll recognised, a
/// stale run refused while the others are stored.
pub async fn a_poll_of_runs_is_stored_in_order<S: TestStore>(store: Arc<S>) {
    use Recorded::*;
    let (new, paid) = (event(1, 4, Status::New), event(2, 4, Status::Payed));
    apply(&*store, run(2, None, &[(0, Ok(event(3, 5, Status::New)))])).await;
    let poll = [
        run(
            0,
            None,
            &[(0, Ok(new.clone())), (1, Err(Poison::ContentType))],
        ),
        run(1, None, &[(0, Ok(paid)), (1, Ok(new))]),
        run(2, None, &[(1, Ok(event(4, 5, Status::Failed)))]),
    ];
    let applied = store.apply(&poll).await.expect("stored");
    assert_eq!(
        applied,
        vec![
            Applied::Stored(vec![Notified, DeadLettered(Poison::ContentType)]),
            Applied::Stored(vec![Notified, Duplicate]),
            Applied::Taken { stored: Some(1) },
        ]
    );
    assert_eq!(
        store.notified_statuses(4).await,
        vec![Status::New, Status::Payed]
    );
    assert_eq!(
        store.offsets("t").await.expect("read"),
        HashMap::from([(0, 2), (1, 2), (2, 1)])
    );
}
