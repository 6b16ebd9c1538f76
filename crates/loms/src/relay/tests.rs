use super::lag::LAG_WARNING;
use super::pipeline::MAX_BATCHES_IN_FLIGHT;
use super::*;
use crate::domain::{OrderId, OrderStatus, RequestId};
use crate::ports::Backlog;
use crate::ports::{MockEventPublisher, MockOutbox};
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
    }
}

fn positions(events: &[OrderEvent]) -> Vec<i64> {
    events.iter().map(|event| event.position).collect()
}

/// Batches of 2 (so that a test fills one easily), a lease of 3 s.
fn settings() -> RelaySettings {
    RelaySettings {
        poll: Duration::from_millis(10),
        batch: 2,
        lease_ttl: Duration::from_secs(3),
    }
}

fn relay(outbox: MockOutbox, publisher: MockEventPublisher) -> Relay {
    Relay::new(Arc::new(outbox), Arc::new(publisher), settings())
}

fn leased(outbox: &mut MockOutbox) {
    outbox.expect_lease().returning(|_, _| Ok(true));
}

/// The outbox answers its reads with `batches`, one by one, then with nothing.
fn reading(outbox: &mut MockOutbox, batches: Vec<Vec<OrderEvent>>) {
    let mut batches = batches.into_iter();
    outbox
        .expect_pending()
        .returning(move |_, _| Ok(batches.next().unwrap_or_default()));
}

/// Answers that come at once: every event acknowledged but those at `failing`.
fn answering(failing: &'static [i64]) -> MockEventPublisher {
    let mut publisher = MockEventPublisher::new();
    publisher.expect_send().returning(move |events| {
        let result = |event: &OrderEvent| match failing.contains(&event.position) {
            true => Err(PublishError("refused".into())),
            false => Ok(()),
        };
        let results: Vec<_> = events.iter().map(result).collect();
        Box::pin(std::future::ready(results))
    });
    publisher
}

/// The outbox of a relay that runs: `written` for its wake-ups, no backlog, every position taken
/// out reported on the returned channel.
fn running_outbox(
    outbox: &mut MockOutbox,
    written: Arc<Notify>,
) -> mpsc::UnboundedReceiver<Vec<i64>> {
    outbox.expect_written().returning(move || written.clone());
    outbox.expect_backlog().returning(|| Ok(Backlog::default()));
    let (taken, taken_out) = mpsc::unbounded_channel();
    outbox.expect_mark_sent().returning(move |positions| {
        let _ = taken.send(positions.to_vec());
        Ok(())
    });
    taken_out
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

/// A relay that polls once a minute, so that whatever else makes it read shows.
fn polling_every_minute(outbox: MockOutbox) -> Relay {
    let settings = RelaySettings {
        poll: Duration::from_secs(60),
        ..settings()
    };
    Relay::new(Arc::new(outbox), Arc::new(answering(&[])), settings)
}

/// A pace polling every 100 ms, backing off up to 800 ms.
fn pace() -> Pace {
    Pace::new(Duration::from_millis(100), Duration::from_millis(800))
}

/// How long until the pace reads next (the clock is paused: it does not move by itself).
fn wait(pace: &Pace) -> u128 {
    pace.next_read.duration_since(Instant::now()).as_millis()
}

fn handed_over(count: usize, more: bool) -> Result<Step, RepoError> {
    Ok(Step::HandedOver { count, more })
}

#[tokio::test(start_paused = true)]
async fn the_pace_reads_at_once_behind_a_full_batch_and_after_the_poll_otherwise() {
    let mut pace = pace();
    assert_eq!(wait(&pace), 0, "the first read is at once");
    for (step, expected) in [
        (handed_over(2, false), 0),
        (handed_over(1, true), 0),
        (handed_over(1, false), 100),
        (Ok(Step::Idle), 100),
        (Ok(Step::Standby), 100),
    ] {
        pace.stepped(&step, 2);
        assert_eq!(wait(&pace), expected, "{step:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn failed_reads_back_off_doubling_to_the_limit_until_a_read_succeeds() {
    let mut pace = pace();
    let failed = || Err(RepoError::msg("down"));
    for expected in [100, 200, 400, 800, 800] {
        pace.stepped(&failed(), 2);
        assert_eq!(wait(&pace), expected);
    }
    pace.stepped(&Ok(Step::Idle), 2);
    pace.stepped(&failed(), 2);
    assert_eq!(wait(&pace), 100, "the backoff starts again");
}

#[tokio::test(start_paused = true)]
async fn a_write_here_brings_the_read_forward_unless_the_relay_backs_off() {
    let mut pace = pace();
    pace.stepped(&Ok(Step::Idle), 2);
    pace.woken();
    assert_eq!(wait(&pace), 0, "woken while idle");

    pace.stepped(&Err(RepoError::msg("down")), 2);
    pace.stepped(&Err(RepoError::msg("down")), 2);
    pace.woken();
    assert_eq!(wait(&pace), 200, "woken while backing off");

    let mut pace = self::pace();
    pace.stepped(&Ok(Step::Idle), 2);
    pace.settled(1, false);
    pace.woken();
    assert_eq!(wait(&pace), 100, "woken while a failed event waits");
}

#[tokio::test(start_paused = true)]
async fn after_failed_events_the_first_read_once_the_pipeline_ran_empty_backs_off() {
    let mut pace = pace();
    pace.stepped(&Ok(Step::Idle), 2);
    pace.settled(1, false);
    assert_eq!(wait(&pace), 100, "not before the pipeline runs empty");
    pace.settled(0, true);
    assert_eq!(wait(&pace), 100, "the first backoff: one poll");
    pace.settled(2, true);
    assert_eq!(wait(&pace), 200, "failing again: twice as long");
    pace.settled(1, false);
    pace.settled(0, false);
    pace.settled(0, true);
    assert_eq!(
        wait(&pace),
        400,
        "a batch acknowledged while a failure waits ends nothing"
    );
    // all acknowledged, with no failure waiting: the backoff starts again
    pace.settled(0, true);
    pace.stepped(&Err(RepoError::msg("down")), 2);
    assert_eq!(wait(&pace), 100);
}

#[tokio::test]
async fn a_handed_over_batch_leaves_the_outbox_once_acknowledged() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    outbox
        .expect_pending()
        .with(eq(2), eq(Vec::<i64>::new()))
        .times(1)
        .returning(|_, _| Ok(vec![event(1, 7)]));
    let mut relay = relay(outbox, answering(&[]));
    let mut pipeline = Pipeline::default();
    let step = relay.step(&mut pipeline).await;
    assert_eq!(
        step.ok(),
        Some(Step::HandedOver {
            count: 1,
            more: false
        })
    );
    let (events, results) = pipeline.next_answer().await;
    let (sent, failed) = relay.settle(&mut pipeline, &events, results);
    assert_eq!((sent, failed), (vec![1], 0));
    assert!(
        pipeline.leaving.contains(&1),
        "a read leaves it out until it is gone"
    );
}

#[tokio::test]
async fn a_read_leaves_out_what_is_in_flight_and_overlaps_the_hand_over() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    let mut reads = vec![
        vec![event(1, 7), event(2, 8)],
        vec![event(3, 7), event(4, 9)],
        vec![],
    ]
    .into_iter();
    let (asked, mut skipped) = mpsc::unbounded_channel();
    outbox.expect_pending().returning(move |_, skip| {
        asked.send(skip.to_vec()).expect("test listening");
        Ok(reads.next().unwrap_or_default())
    });
    let mut publisher = MockEventPublisher::new();
    let (sent, mut handed) = mpsc::unbounded_channel();
    publisher.expect_send().returning(move |events| {
        sent.send(positions(events)).expect("test listening");
        Box::pin(std::future::pending())
    });
    let mut relay = relay(outbox, publisher);
    let mut pipeline = Pipeline::default();
    let first = relay.step(&mut pipeline).await;
    assert_eq!(
        first.ok(),
        Some(Step::HandedOver {
            count: 2,
            more: true
        })
    );
    let second = relay.step(&mut pipeline).await;
    assert_eq!(
        second.ok(),
        Some(Step::HandedOver {
            count: 2,
            more: false
        })
    );
    // the first read, then one beside each full batch's hand-over, leaving out what is in flight
    for expected in [vec![], vec![1, 2], vec![1, 2, 3, 4]] {
        assert_eq!(skipped.recv().await, Some(expected));
    }
    // the second batch went out although the first was not acknowledged
    assert_eq!(handed.recv().await, Some(vec![1, 2]));
    assert_eq!(handed.recv().await, Some(vec![3, 4]));
}

#[tokio::test]
async fn after_a_failed_event_its_orders_later_events_stay_even_from_later_batches() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    reading(
        &mut outbox,
        vec![
            vec![event(1, 7), event(2, 8)],
            vec![event(3, 7), event(4, 8)],
        ],
    );
    let mut relay = relay(outbox, answering(&[1]));
    let mut pipeline = Pipeline::default();
    for _ in 0..2 {
        relay.step(&mut pipeline).await.expect("handed over");
    }
    let (events, results) = pipeline.next_answer().await;
    assert_eq!(relay.settle(&mut pipeline, &events, results), (vec![2], 1));
    assert!(
        !pipeline.accepts(2),
        "nothing more goes out until every answer is in"
    );
    // order 7's second event was acknowledged, but must go out again after its first
    let (events, results) = pipeline.next_answer().await;
    assert_eq!(relay.settle(&mut pipeline, &events, results), (vec![4], 1));
    assert!(
        pipeline.accepts(2),
        "the pipeline ran empty: reading starts again"
    );
}

#[tokio::test]
async fn without_the_lease_nothing_is_read_or_sent() {
    let mut outbox = MockOutbox::new();
    outbox
        .expect_lease()
        .with(mockall::predicate::always(), eq(Duration::from_secs(3)))
        .returning(|_, _| Ok(false));
    outbox.expect_pending().never();
    let mut publisher = MockEventPublisher::new();
    publisher.expect_send().never();
    let step = relay(outbox, publisher)
        .step(&mut Pipeline::default())
        .await;
    assert_eq!(step.ok(), Some(Step::Standby));
}

#[tokio::test]
async fn an_empty_outbox_hands_nothing_over() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    outbox.expect_pending().returning(|_, _| Ok(Vec::new()));
    let mut publisher = MockEventPublisher::new();
    publisher.expect_send().never();
    let step = relay(outbox, publisher)
        .step(&mut Pipeline::default())
        .await;
    assert_eq!(step.ok(), Some(Step::Idle));
}

#[tokio::test]
async fn a_store_failure_hands_nothing_over() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    outbox
        .expect_pending()
        .returning(|_, _| Err(RepoError::msg("down")));
    let mut publisher = MockEventPublisher::new();
    publisher.expect_send().never();
    let mut pipeline = Pipeline::default();
    assert!(relay(outbox, publisher).step(&mut pipeline).await.is_err());
    assert!(pipeline.is_empty());
}

#[tokio::test(start_paused = true)]
async fn the_lease_is_renewed_while_a_batch_waits_for_the_brokers() {
    let mut outbox = MockOutbox::new();
    // one take before the batch, then one renewal per third of the lease's life (1 s) while the
    // brokers take 10.5 s
    outbox
        .expect_lease()
        .times(1 + 10)
        .returning(|_, _| Ok(true));
    outbox.expect_release().times(1).returning(|_| Ok(()));
    reading(&mut outbox, vec![vec![event(1, 7)]]);
    let mut taken_out = running_outbox(&mut outbox, Arc::default());
    let mut publisher = MockEventPublisher::new();
    publisher.expect_send().returning(|_| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_millis(10_500)).await;
            vec![Ok(())]
        })
    });
    let running = Running::start(relay(outbox, publisher));
    assert_eq!(taken_out.recv().await, Some(vec![1]));
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_write_here_wakes_the_relay_before_its_poll() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    outbox.expect_release().times(1).returning(|_| Ok(()));
    reading(&mut outbox, vec![vec![], vec![event(1, 7)]]);
    let written = Arc::new(Notify::new());
    let mut taken_out = running_outbox(&mut outbox, written.clone());
    let running = Running::start(polling_every_minute(outbox));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let woken = Instant::now();
    written.notify_one();
    assert_eq!(taken_out.recv().await, Some(vec![1]));
    assert!(
        woken.elapsed() < Duration::from_secs(1),
        "read at once, not after the poll"
    );
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn on_standby_writes_here_do_not_ask_for_the_lease_again() {
    let mut outbox = MockOutbox::new();
    // the first attempt only: the next is the poll's, a minute away
    outbox.expect_lease().times(1).returning(|_, _| Ok(false));
    outbox.expect_pending().never();
    outbox.expect_release().never();
    let written = Arc::new(Notify::new());
    running_outbox(&mut outbox, written.clone());
    let running = Running::start(polling_every_minute(outbox));
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        written.notify_one();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    running.stop().await;
}

#[tokio::test(start_paused = true)]
async fn run_publishes_until_stopped_and_gives_the_lease_up() {
    let mut outbox = MockOutbox::new();
    let holders = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (taking, giving) = (holders.clone(), holders.clone());
    outbox.expect_lease().returning(move |holder, _| {
        taking.lock().expect("not poisoned").push(holder.to_owned());
        Ok(true)
    });
    outbox.expect_release().times(1).returning(move |holder| {
        let holders = giving.lock().expect("not poisoned");
        assert_eq!(
            holders.first().map(String::as_str),
            Some(holder),
            "its own lease"
        );
        Ok(())
    });
    reading(&mut outbox, vec![vec![event(1, 7)], vec![event(2, 7)]]);
    let mut taken_out = running_outbox(&mut outbox, Arc::default());
    let running = Running::start(relay(outbox, answering(&[])));
    assert_eq!(taken_out.recv().await, Some(vec![1]));
    assert_eq!(taken_out.recv().await, Some(vec![2]));
    running.stop().await;
}

/// While the brokers answer nothing, the relay hands over at most MAX_BATCHES_IN_FLIGHT full
/// batches, then waits.
#[tokio::test(start_paused = true)]
async fn at_most_four_batches_wait_for_their_answers() {
    let mut outbox = MockOutbox::new();
    leased(&mut outbox);
    let next = std::sync::atomic::AtomicI64::new(1);
    outbox.expect_pending().returning(move |limit, _| {
        let first = next.fetch_add(limit as i64, std::sync::atomic::Ordering::SeqCst);
        Ok((first..first + limit as i64).map(|p| event(p, p)).collect())
    });
    outbox.expect_release().returning(|_| Ok(()));
    let _taken_out = running_outbox(&mut outbox, Arc::default());
    let (sent, handed_over) = mpsc::unbounded_channel();
    let mut publisher = MockEventPublisher::new();
    publisher.expect_send().returning(move |events| {
        let _ = sent.send(positions(events));
        Box::pin(std::future::pending())
    });
    let relay = Relay::new(Arc::new(outbox), Arc::new(publisher), settings());
    let running = Running::start(relay);
    tokio::time::sleep(Duration::from_secs(60)).await;
    running.stop().await;
    let mut batches = Vec::new();
    let mut handed_over = handed_over;
    while let Ok(batch) = handed_over.try_recv() {
        batches.push(batch);
    }
    let expected: Vec<Vec<i64>> = (0..MAX_BATCHES_IN_FLIGHT as i64)
        .map(|b| vec![2 * b + 1, 2 * b + 2])
        .collect();
    assert_eq!(batches, expected);
}

/// Everything logged while the guard lives, on this thread.
fn captured_log() -> (
    Arc<std::sync::Mutex<Vec<u8>>>,
    tracing::subscriber::DefaultGuard,
) {
    #[derive(Clone)]
    struct Buffer(Arc<std::sync::Mutex<Vec<u8>>>);
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

    tokio::time::sleep(Duration::from_millis(6_500)).await;
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

/// A lease renewed a third of its time ago is renewed before the next hand-over; a younger one is
/// not asked for again.
#[tokio::test(start_paused = true)]
async fn a_step_renews_a_lease_a_third_of_its_time_old() {
    let mut outbox = MockOutbox::new();
    let asked = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counting = asked.clone();
    outbox.expect_lease().returning(move |_, _| {
        counting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(true)
    });
    reading(&mut outbox, Vec::new());
    let mut relay = relay(outbox, MockEventPublisher::new());
    let mut pipeline = Pipeline::default();
    let leases = || asked.load(std::sync::atomic::Ordering::SeqCst);
    relay.step(&mut pipeline).await.expect("idle");
    assert_eq!(leases(), 1);
    // the lease of the settings lasts 3 s
    tokio::time::advance(Duration::from_millis(999)).await;
    relay.step(&mut pipeline).await.expect("idle");
    assert_eq!(leases(), 1, "renewed too early");
    tokio::time::advance(Duration::from_millis(1)).await;
    relay.step(&mut pipeline).await.expect("idle");
    assert_eq!(leases(), 2, "not renewed after a third of its time");
}
