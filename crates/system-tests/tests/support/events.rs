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

/// How many records the topic holds: with nothing published twice, one per status change.
pub(crate) fn records_in(topic: &str) -> i64 {
    let probe = consumer("watermarks-probe");
    (0..PARTITIONS)
        .map(|partition| {
            let (low, high) = probe
                .fetch_watermarks(topic, partition, Duration::from_secs(10))
                .expect("watermarks");
            high - low
        })
        .sum()
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
            },
        }),
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
