use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::lag::{LAG_REPORT, LAG_WARNING};
use super::*;
use crate::domain::{OrderEvent, OrderId, OrderStatus, RequestId};
use crate::ports::{Backlog, LeaseWatch, MockOutbox, Offsets, Published, Term};
use async_trait::async_trait;
use mockall::predicate::eq;
use tokio::sync::{mpsc, Notify};

/// Event `position` of order `order`.
fn event(position: i64, order: i64) -> OrderEvent {
    OrderEvent {
        position,
        event_id: format!("e{position}"),
        order_id: OrderId::try_from(order).expect("positive"),
        status: OrderStatus::New,
        moment: std::time::UNIX_EPOCH,
        request_id: RequestId::parse("r").expect("valid"),
        trace: None,
    }
}

fn offsets(pairs: &[(i32, i64)]) -> Offsets {
    pairs.iter().copied().collect()
}

/// Batches of 2 (so that a test fills one easily), a lease of 3 s.
fn settings() -> RelaySettings {
    RelaySettings {
        poll: Duration::from_millis(10),
        linger: pace::LINGER,
        max_linger: pace::MAX_LINGER,
        batch: 2,
        lease_ttl: Duration::from_secs(3),
    }
}

const LEASE: &str = "topic";

/// What the relay asked of its outbox's lease and of its publisher, in order.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    TakeOver(Offsets),
    Publish(Vec<i64>, Term),
    Retire,
    Release,
}

/// How the fake publisher answers a transaction.
#[derive(Clone, Debug)]
enum Answer {
    Done(Result<Offsets, PublishError>),
    /// Never: the brokers do not answer.
    Hang,
}

/// The brokers, faked: they record every call and answer as told (by default: taken over with nothing
/// found; every transaction committed, its records ending at offset `10 × first position` of
/// partition 0).
#[derive(Clone, Default)]
struct Brokers {
    calls: Arc<Mutex<Vec<Call>>>,
    /// When each call was made (tokio's clock).
    times: Arc<Mutex<Vec<Instant>>>,
    found: Arc<Mutex<Published>>,
    answers: Arc<Mutex<VecDeque<Answer>>>,
    deadlines: Arc<Mutex<Vec<Instant>>>,
}

impl Brokers {
    fn record(&self, call: Call) {
        self.calls.lock().expect("not poisoned").push(call);
        self.times
            .lock()
            .expect("not poisoned")
            .push(Instant::now());
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("not poisoned").clone()
    }

    fn answer(&self, answer: Answer) {
        self.answers.lock().expect("not poisoned").push_back(answer);
    }

    fn publisher(&self) -> Box<dyn EventPublisher> {
        Box::new(FakePublisher(self.clone()))
    }
}

struct FakePublisher(Brokers);

#[async_trait]
impl EventPublisher for FakePublisher {
    async fn take_over(
        &mut self,
        from: &Offsets,
        lease: &LeaseWatch,
    ) -> Result<Published, PublishError> {
        self.0.record(Call::TakeOver(from.clone()));
        self.0
            .deadlines
            .lock()
            .expect("not poisoned")
            .push(lease.deadline());
        Ok(self.0.found.lock().expect("not poisoned").clone())
    }

    async fn publish(
        &mut self,
        events: &[OrderEvent],
        lease: &LeaseWatch,
    ) -> Result<Offsets, PublishError> {
        let positions: Vec<i64> = events.iter().map(|e| e.position).collect();
        self.0
            .record(Call::Publish(positions.clone(), lease.term()));
        self.0
            .deadlines
            .lock()
            .expect("not poisoned")
            .push(lease.deadline());
        let answer = self.0.answers.lock().expect("not poisoned").pop_front();
        match answer {
            Some(Answer::Done(result)) => result,
            Some(Answer::Hang) => std::future::pending().await,
            None => Ok(offsets(&[(0, 10 * positions[0])])),
        }
    }

    async fn retire(&mut self) {
        self.0.record(Call::Retire);
    }
}

fn relay(outbox: MockOutbox, brokers: &Brokers) -> Relay {
    Relay::new(
        Arc::new(outbox),
        brokers.publisher(),
        LEASE.into(),
        settings(),
    )
}

/// A tenure of term `term` whose lease runs another 3 s.
fn tenure(term: Term) -> LeaseWatch {
    LeaseWatch::fixed(term, Instant::now() + Duration::from_secs(3))
}

/// The outbox answers its reads with `batches`, one by one, then with nothing.
fn reading(outbox: &mut MockOutbox, batches: Vec<Vec<OrderEvent>>) {
    let mut batches = batches.into_iter();
    outbox
        .expect_pending()
        .returning(move |_, _| Ok(batches.next().unwrap_or_default()));
}

/// A pipeline whose producer took term `term` over.
fn ready(term: Term) -> Pipeline {
    let mut pipeline = Pipeline::default();
    pipeline.ready = Some(term);
    pipeline.may_produce = true;
    pipeline
}

#[tokio::test]
async fn a_tenure_starts_by_fencing_and_taking_out_what_the_topic_already_holds() {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_published_offsets()
        .with(eq(LEASE))
        .returning(|_| Ok(offsets(&[(0, 5), (1, 7)])));
    outbox
        .expect_forget()
        .withf(|ids, lease, ends| {
            ids == ["e1".to_owned(), "e4".to_owned()]
                && lease == LEASE
                && *ends == offsets(&[(0, 9), (1, 7)])
        })
        .times(1)
        .returning(|_, _, _| Ok(2));
    outbox.expect_pending().never();
    let brokers = Brokers::default();
    *brokers.found.lock().expect("not poisoned") = Published {
        event_ids: vec!["e1".into(), "e4".into()],
        ends: offsets(&[(0, 9), (1, 7)]),
    };
    let mut relay = relay(outbox, &brokers);
    let mut pipeline = Pipeline::default();
    pipeline.ahead = vec![event(1, 1)];
    let tenure = tenure(4);
    let step = relay
        .step(&mut pipeline, &tenure)
        .await
        .expect("taken over");
    assert_eq!(step, Step::TookOver { forgotten: 2 });
    assert_eq!(
        brokers.calls(),
        [Call::TakeOver(offsets(&[(0, 5), (1, 7)]))]
    );
    assert_eq!(
        *brokers.deadlines.lock().expect("not poisoned"),
        [tenure.deadline()]
    );
    assert_eq!(pipeline.ready, Some(4));
    assert!(
        pipeline.ahead.is_empty(),
        "what was read before the takeover is read again"
    );
}

#[tokio::test]
async fn a_takeover_whose_taking_out_fails_publishes_nothing_and_takes_over_again() {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_published_offsets()
        .returning(|_| Ok(Offsets::new()));
    let mut forgets = 0;
    outbox.expect_forget().returning(move |_, _, _| {
        forgets += 1;
        match forgets {
            1 => Err(RepoError::msg("down")),
            _ => Ok(0),
        }
    });
    outbox.expect_pending().never();
    let brokers = Brokers::default();
    let mut relay = relay(outbox, &brokers);
    let mut pipeline = Pipeline::default();
    let step = relay.step(&mut pipeline, &tenure(1)).await;
    assert!(matches!(step, Err(StepError::Store(_))), "{step:?}");
    assert_eq!(pipeline.ready, None);
    let step = relay
        .step(&mut pipeline, &tenure(1))
        .await
        .expect("taken over");
    assert_eq!(step, Step::TookOver { forgotten: 0 });
    assert_eq!(brokers.calls().len(), 2, "{:?}", brokers.calls());
}

#[tokio::test]
async fn a_batch_is_one_transaction_of_the_tenures_term_ending_by_its_lease() {
    let mut outbox = MockOutbox::new();
    let skips = Arc::new(Mutex::new(Vec::new()));
    let seen = skips.clone();
    let mut reads = vec![vec![event(1, 7), event(2, 8)], vec![event(3, 7)]].into_iter();
    outbox.expect_pending().returning(move |limit, skip| {
        assert_eq!(limit, 2);
        seen.lock().expect("not poisoned").push(skip.to_vec());
        Ok(reads.next().unwrap_or_default())
    });
    let brokers = Brokers::default();
    brokers.answer(Answer::Done(Ok(offsets(&[(1, 10), (2, 4)]))));
    let mut relay = relay(outbox, &brokers);
    let mut pipeline = ready(3);
    let tenure = tenure(3);
    let step = relay.step(&mut pipeline, &tenure).await.expect("committed");
    assert_eq!(
        step,
        Step::Committed {
            count: 2,
            more: true
        }
    );
    assert_eq!(brokers.calls(), [Call::Publish(vec![1, 2], 3)]);
    assert_eq!(
        *brokers.deadlines.lock().expect("not poisoned"),
        [tenure.deadline()]
    );
    // behind a full batch, the next read ran beside the commit, leaving the batch out
    let skips = skips.lock().expect("not poisoned").clone();
    assert_eq!(skips.len(), 2);
    let mut ahead_skip = skips[1].clone();
    ahead_skip.sort_unstable();
    assert_eq!(ahead_skip, [1, 2]);
    assert_eq!(pipeline.ahead, [event(3, 7)]);
    let mut held = pipeline.held(&[]);
    held.sort_unstable();
    assert_eq!(
        held,
        [1, 2, 3],
        "committed and read ahead: later reads leave them out"
    );
    assert_eq!(
        pipeline.next_taking_out(),
        Some((vec![1, 2], offsets(&[(1, 10), (2, 4)])))
    );
}

#[tokio::test]
async fn an_aborted_transaction_is_read_again_from_the_head_by_the_same_producer() {
    let mut outbox = MockOutbox::new();
    reading(
        &mut outbox,
        vec![
            vec![event(1, 7), event(2, 8)],
            vec![event(3, 7)],
            vec![event(1, 7), event(2, 8)],
        ],
    );
    let brokers = Brokers::default();
    brokers.answer(Answer::Done(Err(PublishError::Aborted("refused".into()))));
    let mut relay = relay(outbox, &brokers);
    let mut pipeline = ready(1);
    let step = relay.step(&mut pipeline, &tenure(1)).await;
    assert!(
        matches!(step, Err(StepError::Publish(PublishError::Aborted(_)))),
        "{step:?}"
    );
    assert_eq!(
        pipeline.ready,
        Some(1),
        "an abort leaves the producer usable"
    );
    assert!(
        pipeline.ahead.is_empty(),
        "the batch read behind it is dropped"
    );
    assert!(
        pipeline.held(&[]).is_empty(),
        "nothing of it is on its way out"
    );
    assert_eq!(pipeline.next_taking_out(), None);
    relay
        .step(&mut pipeline, &tenure(1))
        .await
        .expect("committed");
    assert_eq!(
        brokers.calls(),
        [Call::Publish(vec![1, 2], 1), Call::Publish(vec![1, 2], 1)],
        "read again from the head, no takeover between"
    );
}

#[tokio::test]
async fn after_a_failed_or_fenced_transaction_the_next_step_takes_over_again() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let _recording = metrics::set_default_local_recorder(&recorder);
    for (failure, fenced) in [
        (PublishError::Failed("commit timed out".into()), 0),
        (PublishError::Fenced, 1),
    ] {
        let mut outbox = MockOutbox::new();
        reading(&mut outbox, vec![vec![event(1, 7)]]);
        outbox
            .expect_published_offsets()
            .returning(|_| Ok(Offsets::new()));
        outbox.expect_forget().returning(|_, _, _| Ok(0));
        let brokers = Brokers::default();
        brokers.answer(Answer::Done(Err(failure.clone())));
        let mut relay = relay(outbox, &brokers);
        let mut pipeline = ready(1);
        let step = relay.step(&mut pipeline, &tenure(1)).await;
        assert!(
            matches!(&step, Err(StepError::Publish(e)) if *e == failure),
            "{step:?}"
        );
        assert_eq!(pipeline.ready, None, "the producer is in doubt");
        assert!(
            pipeline.held(&[]).is_empty(),
            "a takeover finds out what committed"
        );
        let step = relay
            .step(&mut pipeline, &tenure(1))
            .await
            .expect("taken over");
        assert_eq!(step, Step::TookOver { forgotten: 0 });
        let rendered = metrics.render();
        assert!(
            rendered.contains(&format!("loms_relay_fenced_total {fenced}"))
                || (fenced == 0 && !rendered.contains("loms_relay_fenced_total")),
            "{rendered}"
        );
    }
    let rendered = metrics.render();
    assert!(
        rendered.contains("loms_relay_transactions_total{outcome=\"failed\"} 2"),
        "{rendered}"
    );
}

#[tokio::test]
async fn an_empty_outbox_publishes_nothing() {
    let mut outbox = MockOutbox::new();
    reading(&mut outbox, Vec::new());
    let brokers = Brokers::default();
    let mut relay = relay(outbox, &brokers);
    let step = relay.step(&mut ready(1), &tenure(1)).await.expect("idle");
    assert_eq!(step, Step::Idle);
    assert!(brokers.calls().is_empty());
}

#[test]
fn takings_out_go_one_at_a_time_and_a_failed_one_goes_with_the_next() {
    let mut pipeline = ready(1);
    pipeline.committed(&[event(1, 1), event(2, 2)], &offsets(&[(0, 5)]));
    let first = pipeline.next_taking_out().expect("something to take out");
    assert_eq!(first, (vec![1, 2], offsets(&[(0, 5)])));
    pipeline.committed(&[event(3, 1)], &offsets(&[(0, 9), (1, 2)]));
    pipeline.taken(Ok(Err(vec![1, 2])));
    let mut held = pipeline.held(&[]);
    held.sort_unstable();
    assert_eq!(
        held,
        [1, 2, 3],
        "still committed and in the outbox: never read again"
    );
    let (mut positions, ends) = pipeline.next_taking_out().expect("both");
    positions.sort_unstable();
    assert_eq!(positions, [1, 2, 3]);
    assert_eq!(ends, offsets(&[(0, 9), (1, 2)]));
    pipeline.taken(Ok(Ok(vec![1, 2, 3])));
    assert!(pipeline.held(&[]).is_empty());
    assert_eq!(pipeline.next_taking_out(), None);
}

/// A running relay, and its stop.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(relay: Relay) -> Self {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(relay.run(stopped));
        Self { stop, task }
    }

    async fn stop(self) {
        self.stop.send(true).expect("relay listening");
        self.task.await.expect("stops without panic");
    }
}

/// The outbox of a relay that runs: `written` for its wake-ups, no backlog, nothing published before,
/// every position taken out reported on the returned channel.
fn running_outbox(
    outbox: &mut MockOutbox,
    written: Arc<Notify>,
) -> mpsc::UnboundedReceiver<Vec<i64>> {
    outbox.expect_written().returning(move || written.clone());
    outbox.expect_backlog().returning(|| Ok(Backlog::default()));
    outbox
        .expect_published_offsets()
        .returning(|_| Ok(Offsets::new()));
    outbox.expect_forget().returning(|_, _, _| Ok(0));
    let (taken, taken_out) = mpsc::unbounded_channel();
    outbox.expect_mark_sent().returning(move |positions, _, _| {
        let _ = taken.send(positions.to_vec());
        Ok(())
    });
    taken_out
}

/// The lease answers: `Some(1)` while `held` says so, `None` otherwise; each answer counted.
fn leasing(outbox: &mut MockOutbox, held: Arc<Mutex<Option<Term>>>) -> Arc<Mutex<Vec<Instant>>> {
    let asked = Arc::new(Mutex::new(Vec::new()));
    let counting = asked.clone();
    outbox.expect_lease().returning(move |name, _, _| {
        assert_eq!(name, LEASE);
        counting.lock().expect("not poisoned").push(Instant::now());
        Ok(*held.lock().expect("not poisoned"))
    });
    asked
}

#[tokio::test(start_paused = true)]
async fn run_takes_over_publishes_and_retires_the_producer_before_giving_the_lease_up() {
    let mut outbox = MockOutbox::new();
    leasing(&mut outbox, Arc::new(Mutex::new(Some(1))));
    reading(&mut outbox, vec![vec![event(1, 7)], vec![event(2, 7)]]);
    let mut taken_out = running_outbox(&mut outbox, Arc::default());
    let brokers = Brokers::default();
    let log = brokers.clone();
    outbox
        .expect_release()
        .times(1)
        .returning(move |name, holder| {
            assert_eq!(name, LEASE);
            assert!(holder.starts_with("loms-"), "{holder}");
            log.record(Call::Release);
            Ok(())
        });
    let running = Running::start(relay(outbox, &brokers));
    assert_eq!(taken_out.recv().await, Some(vec![1]));
    assert_eq!(taken_out.recv().await, Some(vec![2]));
    running.stop().await;
    assert_eq!(
        brokers.calls(),
        [
            Call::TakeOver(Offsets::new()),
            Call::Publish(vec![1], 1),
            Call::Publish(vec![2], 1),
            Call::Retire,
            Call::Release
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn without_the_lease_nothing_is_read_or_published_and_nothing_given_up() {
    let mut outbox = MockOutbox::new();
    let asked = leasing(&mut outbox, Arc::new(Mutex::new(None)));
    outbox.expect_pending().never();
    outbox.expect_release().never();
    let _taken_out = running_outbox(&mut outbox, Arc::default());
    let brokers = Brokers::default();
    let running = Running::start(relay(outbox, &brokers));
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.stop().await;
    assert!(brokers.calls().is_empty(), "{:?}", brokers.calls());
    let asked = asked.lock().expect("not poisoned").len();
    assert!(asked >= 50, "on standby, asked every poll: {asked}");
}

/// The brokers never answer. While the lease is renewed (every second: a TTL of 3 s) the step goes on;
/// once the renewals fail, it ends when the last one runs out, and the producer goes.
#[tokio::test(start_paused = true)]
async fn a_step_goes_on_while_the_lease_is_renewed_and_ends_when_it_runs_out() {
    let mut outbox = MockOutbox::new();
    let (renewing, asked) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(Mutex::new(Vec::new())),
    );
    let (answering, counting) = (renewing.clone(), asked.clone());
    outbox.expect_lease().returning(move |_, _, _| {
        counting.lock().expect("not poisoned").push(Instant::now());
        match answering.load(Ordering::SeqCst) {
            true => Ok(Some(1)),
            false => Err(RepoError::msg("the database is away")),
        }
    });
    reading(&mut outbox, vec![vec![event(1, 7)]]);
    let _taken_out = running_outbox(&mut outbox, Arc::default());
    outbox.expect_release().returning(|_, _| Ok(()));
    let brokers = Brokers::default();
    brokers.answer(Answer::Hang);
    let started = Instant::now();
    let running = Running::start(relay(outbox, &brokers));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let renewals = asked.lock().expect("not poisoned").len();
    assert!(renewals >= 4, "renewed every second: {renewals}");
    let calls = brokers.calls();
    assert_eq!(
        calls,
        [Call::TakeOver(Offsets::new()), Call::Publish(vec![1], 1)],
        "the step still waits: its lease was renewed"
    );
    // the renewal at 3 s holds it until 6 s; the next ones fail
    renewing.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let calls = brokers.calls();
    assert_eq!(calls[2], Call::Retire, "{calls:?}");
    let retired = brokers.times.lock().expect("not poisoned")[2].duration_since(started);
    assert!(
        retired >= Duration::from_secs(6) && retired < Duration::from_millis(6100),
        "{retired:?}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_drops_the_step_and_the_producer_at_once() {
    let mut outbox = MockOutbox::new();
    let held = Arc::new(Mutex::new(Some(1)));
    leasing(&mut outbox, held.clone());
    reading(&mut outbox, vec![vec![event(1, 7)]]);
    let _taken_out = running_outbox(&mut outbox, Arc::default());
    outbox.expect_release().never();
    let brokers = Brokers::default();
    brokers.answer(Answer::Hang);
    let running = Running::start(relay(outbox, &brokers));
    tokio::time::sleep(Duration::from_millis(500)).await;
    *held.lock().expect("not poisoned") = None; // another replica took it: the renewal at 1 s finds out
    tokio::time::sleep(Duration::from_millis(700)).await;
    let calls = brokers.calls();
    assert_eq!(
        calls,
        [
            Call::TakeOver(Offsets::new()),
            Call::Publish(vec![1], 1),
            Call::Retire
        ]
    );
    let retired = brokers.times.lock().expect("not poisoned")[2];
    let lost_at = retired.duration_since(brokers.times.lock().expect("not poisoned")[0]);
    assert!(
        lost_at < Duration::from_millis(1100),
        "retired at the renewal: {lost_at:?}"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_stop_ends_a_step_waiting_on_the_brokers_at_once() {
    let mut outbox = MockOutbox::new();
    leasing(&mut outbox, Arc::new(Mutex::new(Some(1))));
    reading(&mut outbox, vec![vec![event(1, 7)]]);
    let _taken_out = running_outbox(&mut outbox, Arc::default());
    let brokers = Brokers::default();
    let log = brokers.clone();
    outbox.expect_release().times(1).returning(move |_, _| {
        log.record(Call::Release);
        Ok(())
    });
    brokers.answer(Answer::Hang);
    let running = Running::start(relay(outbox, &brokers));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = Instant::now();
    running.stop().await;
    assert_eq!(stopping.elapsed(), Duration::ZERO, "no wait on the clock");
    let calls = brokers.calls();
    assert_eq!(calls[calls.len() - 2..], [Call::Retire, Call::Release]);
}

#[tokio::test(start_paused = true)]
async fn a_write_here_wakes_the_relay_before_its_poll() {
    let mut outbox = MockOutbox::new();
    leasing(&mut outbox, Arc::new(Mutex::new(Some(1))));
    let reads = Arc::new(Mutex::new(Vec::new()));
    let counting = reads.clone();
    outbox.expect_pending().returning(move |_, _| {
        counting.lock().expect("not poisoned").push(Instant::now());
        Ok(Vec::new())
    });
    let written = Arc::new(Notify::new());
    let _taken_out = running_outbox(&mut outbox, written.clone());
    outbox.expect_release().returning(|_, _| Ok(()));
    let brokers = Brokers::default();
    let relay = Relay::new(
        Arc::new(outbox),
        brokers.publisher(),
        LEASE.into(),
        RelaySettings {
            poll: Duration::from_secs(60),
            ..settings()
        },
    );
    let running = Running::start(relay);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = reads.lock().expect("not poisoned").len();
    written.notify_one();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let after = reads.lock().expect("not poisoned").len();
    assert_eq!(
        after,
        before + 1,
        "read at once, not after the minute's poll"
    );
    running.stop().await;
}

/// A pace polling every 100 ms, lingering 10 to 250 ms, backing off up to 800 ms.
fn pace() -> Pace {
    Pace::new(
        Duration::from_millis(100),
        (pace::LINGER, pace::MAX_LINGER),
        Duration::from_millis(800),
    )
}

/// How long until the pace reads next (the clock is paused: it does not move by itself).
fn wait(pace: &Pace) -> u128 {
    pace.next_read.duration_since(Instant::now()).as_millis()
}

#[tokio::test(start_paused = true)]
async fn the_pace_reads_at_once_behind_a_full_batch_or_a_takeover_and_after_the_poll_otherwise() {
    let mut pace = pace();
    assert_eq!(wait(&pace), 0, "the first read is at once");
    for (step, expected) in [
        (
            Step::Committed {
                count: 2,
                more: false,
            },
            0,
        ),
        (
            Step::Committed {
                count: 1,
                more: true,
            },
            0,
        ),
        (
            Step::Committed {
                count: 1,
                more: false,
            },
            100,
        ),
        (Step::TookOver { forgotten: 3 }, 0),
        (Step::Idle, 100),
    ] {
        pace.stepped(&Ok(step), 2);
        assert_eq!(wait(&pace), expected, "{step:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_write_here_brings_the_read_forward_but_not_within_the_linger_of_a_commit() {
    let mut pace = pace();
    pace.stepped(
        &Ok(Step::Committed {
            count: 1,
            more: false,
        }),
        2,
    );
    assert_eq!(wait(&pace), 100, "the poll");
    pace.woken();
    assert_eq!(wait(&pace), pace::LINGER.as_millis(), "gathering changes");
    tokio::time::advance(Duration::from_millis(30)).await;
    pace.stepped(&Ok(Step::Idle), 2);
    tokio::time::advance(Duration::from_millis(30)).await;
    pace.woken();
    assert_eq!(wait(&pace), 0, "the linger has passed: at once");
}

#[tokio::test(start_paused = true)]
async fn the_linger_grows_with_the_events_the_last_transaction_carried_up_to_its_most() {
    let mut pace = pace();
    let committed = |count| Ok(Step::Committed { count, more: false });
    for (count, linger) in [(40, 40), (5, 10), (180, 180), (400, 250), (40, 40)] {
        pace.stepped(&committed(count), 1_000);
        pace.woken();
        assert_eq!(wait(&pace), linger, "after {count} events");
    }
    pace.stepped(&committed(400), 1_000);
    assert_eq!(
        wait(&pace),
        250,
        "the poll does not cut a longer linger short"
    );
    assert_eq!(pace::PER_EVENT, Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn failed_steps_back_off_doubling_to_the_limit_until_one_succeeds() {
    let mut pace = pace();
    let failed = || Err(StepError::LeaseRanOut);
    for expected in [100, 200, 400, 800, 800] {
        pace.stepped(&failed(), 2);
        assert_eq!(wait(&pace), expected);
    }
    pace.woken();
    assert_eq!(wait(&pace), 800, "a write does not cut a backoff short");
    pace.stepped(&Ok(Step::Idle), 2);
    assert_eq!(wait(&pace), 100);
    pace.stepped(&failed(), 2);
    assert_eq!(wait(&pace), 100, "the backoff starts over");
}

/// Everything logged while the guard lives, on this thread.
fn captured_log() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    #[derive(Clone)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("not poisoned")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer(Arc::default());
    let log = buffer.0.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || buffer.clone())
        .finish();
    (log, tracing::subscriber::set_default(subscriber))
}

/// The backlog on /metrics every second, and in the log: a warning once the oldest event waited
/// longer than LAG_WARNING, again every LAG_WARNING_REPEAT while that lasts, a line when it is over.
#[tokio::test(start_paused = true)]
async fn the_lag_is_on_metrics_and_a_long_one_in_the_log() {
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let metrics = recorder.handle();
    let _recording = metrics::set_default_local_recorder(&recorder);
    let (log, _logging) = captured_log();
    let mut outbox = MockOutbox::new();
    let reads = std::sync::atomic::AtomicU32::new(0);
    // one read a second: at LAG_WARNING (not late yet), then late until the 13th, a failed read
    // in between, then caught up
    outbox.expect_backlog().returning(move || {
        let second = reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (pending, oldest) = match second {
            0 | 1 => (3, LAG_WARNING),
            4 => return Err(RepoError::msg("down")),
            2..=12 => (5, LAG_WARNING + Duration::from_secs(1)),
            _ => (0, Duration::ZERO),
        };
        Ok(Backlog { pending, oldest })
    });
    let (stop, stopped) = watch::channel(false);
    let reporting = tokio::spawn(report_lag(Arc::new(outbox), stopped));

    tokio::time::sleep(LAG_REPORT * 6 + Duration::from_millis(500)).await;
    let rendered = metrics.render();
    assert!(
        rendered.contains("loms_outbox_pending_events 5"),
        "{rendered}"
    );
    assert!(
        rendered.contains("loms_outbox_oldest_event_age_seconds 6"),
        "{rendered}"
    );
    tokio::time::sleep(Duration::from_secs(10)).await;
    stop.send(true).expect("listening");
    reporting.await.expect("stops");
    assert!(metrics.render().contains("loms_outbox_pending_events 0"));

    let log = String::from_utf8(log.lock().expect("not poisoned").clone()).expect("utf-8");
    assert_eq!(log.matches("outbox lagging").count(), 2, "{log}");
    assert_eq!(log.matches("outbox caught up").count(), 1, "{log}");
    let first = log.lines().find(|line| line.contains("outbox lagging"));
    let first = first.expect("warned");
    assert!(first.contains("pending=5 oldest_ms=6000"), "{log}");
}
