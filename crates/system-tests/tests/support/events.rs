//! Order events on the real Apache Kafka cluster of `just stack-up` (brokers from
//! `ROUTE256_TEST_KAFKA`, default 127.0.0.1:9092-9094): a fresh topic per test, created as the stack
//! creates `loms.order-events` (3 partitions, replication factor 3, `min.insync.replicas=2`); loms and
//! notifiers on fresh PostgreSQL databases; and the check that each order's notifications are exactly
//! its status changes, in order.
use std::net::SocketAddr;
use std::time::Duration;

use loms::relay::RelaySettings;
use notifier::adapters::kafka::{ConsumerSettings, Start};
use notifier::adapters::postgres::PgNotificationStore;
use notifier::adapters::suite::TestStore;
use notifier::domain::Status;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use route256_proto::loms::OrderStatus;
use storage::testing::TestDatabase;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub(crate) use notifier::adapters::testing::brokers;

pub(crate) const PARTITIONS: i32 = 3;

/// A topic of its own for one test, replicated like the real one, with a leader for every partition.
pub(crate) async fn fresh_topic() -> String {
    let name = format!("test-events-{}", uuid::Uuid::new_v4().simple());
    notifier::adapters::testing::create_topic(&name, PARTITIONS).await;
    name
}

fn consumer(group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", group)
        .create()
        .expect("a consumer")
}

/// The topic's `min.insync.replicas`, as the brokers report it.
pub(crate) async fn min_insync_replicas(topic: &str) -> String {
    use rdkafka::admin::ResourceSpecifier;
    // Right after brokers were killed and started again, a request can go to a broker that is not
    // back yet and time out, and a client's connections can stay stuck on it: asked again, by a new
    // client each time, until two minutes have passed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let described = loop {
        let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .create()
            .expect("an admin client");
        let options = AdminOptions::new().request_timeout(Some(std::time::Duration::from_secs(10)));
        match admin
            .describe_configs([&ResourceSpecifier::Topic(topic)], &options)
            .await
        {
            Ok(described) => break described,
            Err(error) if std::time::Instant::now() < deadline => {
                eprintln!("topic configs: {error}; asking again");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(error) => panic!("topic configs: {error}"),
        }
    };
    let config = described
        .into_iter()
        .next()
        .expect("one topic")
        .expect("described");
    config
        .get("min.insync.replicas")
        .and_then(|entry| entry.value.clone())
        .expect("min.insync.replicas is set")
}

/// A record of the topic as a `read_committed` consumer sees it: aborted transactions and their
/// markers left out.
#[derive(Clone, Debug)]
pub(crate) struct Committed {
    pub partition: i32,
    pub offset: i64,
    pub event_id: String,
    pub order_id: i64,
    pub status: OrderStatus,
    /// The relay lease's term that published it (header `relay-term`).
    pub term: i64,
}

/// Every committed record of `topic`, each partition's in order, read from the start to the end.
pub(crate) fn committed_records(topic: &str) -> Vec<Committed> {
    use rdkafka::message::{Headers, Message};
    use route256_proto::events::{EVENT_ID_HEADER, RELAY_TERM_HEADER};
    use route256_proto::loms::OrderStatusChanged;
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "committed-records-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .create()
        .expect("a reader");
    let mut assignment = rdkafka::TopicPartitionList::new();
    for partition in 0..PARTITIONS {
        assignment
            .add_partition_offset(topic, partition, rdkafka::Offset::Beginning)
            .expect("a partition");
    }
    reader.assign(&assignment).expect("assigned");
    let (mut records, mut ended) = (Vec::new(), std::collections::HashSet::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    while ended.len() < PARTITIONS as usize {
        assert!(
            std::time::Instant::now() < deadline,
            "{topic} read to its end"
        );
        match reader.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(partition))) => {
                ended.insert(partition);
            }
            Some(Err(error)) => eprintln!("reading {topic}: {error}"),
            Some(Ok(record)) => {
                let header = |name: &str| {
                    let headers = record.headers().expect("headers");
                    let found = headers.iter().find(|h| h.key == name);
                    let value = found
                        .and_then(|h| h.value)
                        .unwrap_or_else(|| panic!("{name}"));
                    String::from_utf8(value.to_vec()).expect("text")
                };
                let event = OrderStatusChanged::from_value(record.payload().expect("a value"))
                    .expect("an order event");
                records.push(Committed {
                    partition: record.partition(),
                    offset: record.offset(),
                    event_id: header(EVENT_ID_HEADER),
                    order_id: event.order_id,
                    status: event.status(),
                    term: header(RELAY_TERM_HEADER).parse().expect("a term"),
                });
            }
        }
    }
    records
}

/// How many committed records the topic holds: with nothing published twice, one per status change.
pub(crate) fn records_in(topic: &str) -> i64 {
    committed_records(topic).len() as i64
}

/// Checks what a `read_committed` reader of `topic` sees: no event id twice and, per partition, the
/// relay's terms never going back (no record of a fenced holder after its successor's first); and per
/// order, the statuses in topic order are its path. Returns the number of records.
pub(crate) fn assert_published_once_in_order(topic: &str) -> usize {
    let records = committed_records(topic);
    let mut seen = std::collections::HashMap::new();
    for record in &records {
        if let Some(first) = seen.insert(record.event_id.clone(), record.clone()) {
            panic!(
                "event {} published twice: {first:?} and {record:?}",
                record.event_id
            );
        }
    }
    let mut last_term = std::collections::HashMap::new();
    let mut paths: std::collections::HashMap<i64, Vec<OrderStatus>> = Default::default();
    for record in &records {
        let term = last_term.entry(record.partition).or_insert(record.term);
        assert!(
            record.term >= *term,
            "partition {} offset {}: term {} after term {}",
            record.partition,
            record.offset,
            record.term,
            term
        );
        *term = record.term;
        paths
            .entry(record.order_id)
            .or_default()
            .push(record.status);
    }
    for (order, path) in paths {
        use OrderStatus::*;
        let valid = [
            vec![New],
            vec![New, AwaitingPayment],
            vec![New, Failed],
            vec![New, AwaitingPayment, Payed],
            vec![New, AwaitingPayment, Cancelled],
        ];
        assert!(
            valid.contains(&path),
            "order {order}: {path:?} in the topic"
        );
    }
    records.len()
}

/// Per partition, the offset after the last committed record of `topic` (absent when it has none).
pub(crate) fn committed_ends(topic: &str) -> std::collections::HashMap<i32, i64> {
    let mut ends = std::collections::HashMap::new();
    for record in committed_records(topic) {
        let end = ends.entry(record.partition).or_insert(0);
        *end = (*end).max(record.offset + 1);
    }
    ends
}

/// A service running in this process until [`Running::stop`].
pub(crate) struct Running {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Running {
    pub(crate) async fn stop(self) {
        self.stop.send_replace(true);
        self.task.await.expect("stops without panic");
    }
}

fn shutdown_signal() -> (
    watch::Sender<bool>,
    impl std::future::Future<Output = ()> + Send,
) {
    let (stop, mut stopped) = watch::channel(false);
    let signal = async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    };
    (stop, signal)
}

/// loms on `db`, relaying to `topic` (the lease lasts 30 s, so that a slow machine never hands it over
/// mid-test); unpaid orders are cancelled after `unpaid_ttl`.
pub(crate) async fn start_loms(db: &TestDatabase, topic: &str, unpaid_ttl: Duration) -> Running {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = loms::Config {
        grpc_addr: any_port,
        http_addr: any_port,
        storage: loms::config::Storage::Postgres(db.settings().clone()),
        unpaid_ttl,
        unpaid_check_period: Duration::from_millis(100),
        events: Some(loms::config::Events {
            brokers: brokers(),
            topic: topic.to_owned(),
            relay: RelaySettings {
                poll: Duration::from_millis(20),
                batch: 500,
                lease_ttl: Duration::from_secs(30),
                ..RelaySettings::default()
            },
        }),
        authentication: super::auth::authentication(),
        ..loms::Config::default()
    };
    let server = loms::app::build(config).await.expect("loms starts");
    let addr = server.local_addr();
    let (stop, signal) = shutdown_signal();
    let task = tokio::spawn(async move {
        server.run_until(signal).await.expect("loms stops cleanly");
    });
    Running { addr, stop, task }
}

/// A notifier of `group` on `db`, consuming `topic`.
pub(crate) async fn start_notifier(db: &TestDatabase, topic: &str, group: &str) -> Running {
    let storage = notifier::config::Storage::Postgres(db.settings().clone());
    start_notifier_on(storage, topic, group, Start::Earliest, STALL_AFTER).await
}

/// A notifier on `db` consuming `topic` (its own group) that reports a partition stalled after
/// `stall_after`, and gives up on a database operation after `timeout`.
pub(crate) async fn start_notifier_stalling(
    db: &TestDatabase,
    topic: &str,
    stall_after: Duration,
    timeout: Duration,
) -> Running {
    let mut settings = db.settings().clone();
    settings.timeout = timeout;
    let storage = notifier::config::Storage::Postgres(settings);
    start_notifier_on(storage, topic, topic, Start::Earliest, stall_after).await
}

/// The notifier's default stall limit.
const STALL_AFTER: Duration = Duration::from_secs(60);

/// A notifier keeping its notifications in memory, consuming `topic` from its end.
pub(crate) async fn start_notifier_in_memory(topic: &str) -> Running {
    start_notifier_on(
        notifier::config::Storage::Memory,
        topic,
        topic,
        Start::Latest,
        STALL_AFTER,
    )
    .await
}

async fn start_notifier_on(
    storage: notifier::config::Storage,
    topic: &str,
    group: &str,
    start: Start,
    stall_after: Duration,
) -> Running {
    let config = notifier::Config {
        http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        storage,
        consumer: ConsumerSettings {
            brokers: brokers(),
            topic: topic.to_owned(),
            group: group.to_owned(),
            start,
            stall_after,
        },
    };
    let server = notifier::app::build(config).await.expect("notifier starts");
    let addr = server.local_addr();
    let (stop, signal) = shutdown_signal();
    let task = tokio::spawn(server.run_until(signal));
    Running { addr, stop, task }
}

/// loms's gauge of unsent events, read from its `/metrics` at `http` (`127.0.0.1:port`), when it answers.
pub(crate) async fn pending_events(http: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{http}/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("loms_outbox_pending_events "))
        .and_then(|value| value.trim().parse().ok())
}

/// The status changes an order that ended in `status` went through: what it must be notified of.
pub(crate) fn changes_to(status: OrderStatus) -> Vec<Status> {
    use Status::*;
    match status {
        OrderStatus::AwaitingPayment => vec![New, AwaitingPayment],
        OrderStatus::Failed => vec![New, Failed],
        OrderStatus::Payed => vec![New, AwaitingPayment, Payed],
        OrderStatus::Cancelled => vec![New, AwaitingPayment, Cancelled],
        other => panic!("no order ends in {other:?}"),
    }
}

/// The notifier's store, read directly.
pub(crate) async fn notifications(db: &TestDatabase) -> PgNotificationStore {
    PgNotificationStore::open(db.settings())
        .await
        .expect("the notifier's database")
}

/// Waits (up to 60 s) until every order of `expected` (id, final status) was notified exactly of its
/// changes, in order; fails naming the first order that was not.
pub(crate) async fn assert_notified(store: &PgNotificationStore, expected: &[(i64, OrderStatus)]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for &(order, status) in expected {
        let want = changes_to(status);
        loop {
            let got = store.notified_statuses(order).await;
            if got == want {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline && want.starts_with(&got),
                "order {order} ended {status:?}: notified {got:?}, expected {want:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
