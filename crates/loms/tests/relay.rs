//! The relay over the real PostgreSQL store and the real 3-broker Apache Kafka cluster of
//! `just stack-up` (brokers from `ROUTE256_TEST_KAFKA`, default 127.0.0.1:9092-9094), on a fresh
//! database and a fresh topic per test: what a holder committed and did not take out of the outbox
//! before it died goes out once. (Whole-system runs with killed processes are in system-tests.)
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use loms::adapters::kafka::KafkaEventPublisher;
use loms::adapters::postgres::PgStore;
use loms::domain::{Item, OrderItems, RequestId, UserId};
use loms::ports::{EventPublisher, LeaseWatch, NewOrder, Offsets, OrderRepo, Outbox, PublishError};
use loms::relay::{Pipeline, Relay, RelaySettings, Step};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use storage::testing::TestDatabase;
use tokio::time::Instant;

fn brokers() -> String {
    std::env::var("ROUTE256_TEST_KAFKA")
        .unwrap_or_else(|_| "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094".into())
}

/// A topic of its own, replicated like the stack's.
async fn fresh_topic() -> String {
    let name = format!("test-relay-{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("an admin client");
    let topic = NewTopic::new(&name, 3, TopicReplication::Fixed(3)).set("min.insync.replicas", "2");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let created = admin.create_topics([&topic], &options).await;
    for result in created.expect("is the Kafka cluster of `just stack-up` running?") {
        result.expect("topic created");
    }
    name
}

/// The event ids of the topic's committed records, read with `read_committed` to its end.
fn committed_event_ids(topic: &str) -> Vec<String> {
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .set("group.id", "relay-test-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("a reader");
    reader.subscribe(&[topic]).expect("subscribed");
    let (mut ids, mut ended) = (Vec::new(), HashSet::new());
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while ended.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{topic} read to its end"
        );
        match reader.poll(Duration::from_millis(200)) {
            Some(Ok(record)) => {
                let headers = record.headers().expect("headers");
                let id = headers.iter().find(|h| h.key == "event-id");
                let id = id.and_then(|h| h.value).expect("an event id");
                ids.push(String::from_utf8(id.to_vec()).expect("text"));
            }
            Some(Err(KafkaError::PartitionEOF(partition))) => {
                ended.insert(partition);
            }
            Some(Err(error)) => eprintln!("reading {topic}: {error}"),
            None => {}
        }
    }
    ids
}

/// Places one order of one unit for each of users 1 to `users`: two events each (new, awaiting payment).
async fn place_orders(store: &PgStore, users: i64) {
    for user in 1..=users {
        let order = NewOrder {
            user: UserId::try_from(user).expect("valid"),
            items: OrderItems::new([Item::new(1_625_903, 1).expect("valid")]).expect("valid"),
            idempotency_key: None,
            request_id: RequestId::fresh("relay-test"),
        };
        store.place(order).await.expect("placed");
    }
}

/// A relay of `store` to `topic`, with a producer of its own.
fn relay(store: &PgStore, topic: &str) -> Relay {
    let lease = store.lease_of(topic);
    let ttl = Duration::from_secs(30);
    let publisher = KafkaEventPublisher::new(&brokers(), topic, &lease, ttl).expect("a producer");
    let settings = RelaySettings {
        batch: 100,
        lease_ttl: ttl,
        ..RelaySettings::default()
    };
    Relay::new(
        Arc::new(store.clone()),
        Box::new(publisher),
        lease,
        settings,
    )
}

/// A holder commits a transaction and dies before it takes the events out of the outbox: its
/// successor, taking the lease over, finds them in the topic and takes them out instead of sending
/// them again.
///
/// Caught with its mechanism removed: a takeover that does not take out what it found (the events
/// still in the outbox, sent a second time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_successor_sends_nothing_that_a_killed_holder_committed() {
    let database = TestDatabase::create("loms", "127.0.0.1:6433");
    let store = PgStore::open(database.settings()).await.expect("opens");
    let topic = fresh_topic().await;
    place_orders(&store, 3).await;
    let lease_for = |term| LeaseWatch::fixed(term, Instant::now() + Duration::from_secs(30));

    let (mut first, mut pipeline) = (relay(&store, &topic), Pipeline::default());
    let tenure = lease_for(1);
    let took_over = first
        .step(&mut pipeline, &tenure)
        .await
        .expect("takes over");
    assert_eq!(took_over, Step::TookOver { forgotten: 0 });
    let committed = first.step(&mut pipeline, &tenure).await.expect("commits");
    assert_eq!(
        committed,
        Step::Committed {
            count: 6,
            more: false
        }
    );
    // killed here: the taking out, which the relay's loop runs next, never happens
    drop(first);
    assert_eq!(store.pending(100, &[]).await.expect("read").len(), 6);

    let (mut second, mut pipeline) = (relay(&store, &topic), Pipeline::default());
    let tenure = lease_for(2);
    let took_over = second
        .step(&mut pipeline, &tenure)
        .await
        .expect("takes over");
    assert_eq!(took_over, Step::TookOver { forgotten: 6 });
    assert!(store.pending(100, &[]).await.expect("read").is_empty());
    let idle = second
        .step(&mut pipeline, &tenure)
        .await
        .expect("nothing left");
    assert_eq!(idle, Step::Idle);

    let ids = committed_event_ids(&topic);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (6, 6), "{ids:?}");
    drop(second);
    database.drop_now();
}

/// Commits given too little time to finish (200 µs; on a busy machine librdkafka's own threads answer
/// that late): each is settled by the take-over that follows, every event reaches the topic once, and
/// the process lives.
///
/// Caught with its mechanism removed: a commit called again after its local timeout, as the relay once
/// did (5 ms at a time). librdkafka's first commit phase is not resumable: the timed-out call's request
/// stays queued and the next call takes its answer for its own. Within these 40 transactions,
/// librdkafka took a commit's end for an abort's and failed an assertion, ending the process (SIGABRT;
/// seen once in CI), or no commit was ever reported cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_cut_short_are_settled_by_the_next_take_over() {
    const TRANSACTIONS: usize = 40;
    let database = TestDatabase::create("loms", "127.0.0.1:6433");
    let store = PgStore::open(database.settings()).await.expect("opens");
    let topic = fresh_topic().await;
    place_orders(&store, TRANSACTIONS as i64).await;
    let events = store.pending(2 * TRANSACTIONS, &[]).await.expect("read");
    let lease = store.lease_of(&topic);
    let ttl = Duration::from_secs(30);
    let mut publisher = KafkaEventPublisher::new(&brokers(), &topic, &lease, ttl)
        .expect("a producer")
        .with_commit_timeout(Duration::from_micros(200));
    let tenure = LeaseWatch::fixed(1, Instant::now() + Duration::from_secs(600));
    let mut offsets = Offsets::new();
    // where the lease's records start, as the relay stores them (an empty `from` reads nothing)
    let mut published = publisher
        .take_over(&offsets, &tenure)
        .await
        .expect("takes over");
    offsets.extend(published.ends.clone());
    let mut cut_short = 0;
    for pair in events.chunks(2) {
        loop {
            match publisher.publish(pair, &tenure).await {
                Ok(ends) => {
                    offsets.extend(ends);
                    break;
                }
                Err(PublishError::Failed(_)) => cut_short += 1,
                Err(error) => panic!("{error}"),
            }
            published = publisher
                .take_over(&offsets, &tenure)
                .await
                .expect("takes over");
            offsets.extend(published.ends.clone());
            // read from where the committed transactions end: the pair, if its commit went through
            if published.event_ids.len() == pair.len() {
                break;
            }
            assert!(published.event_ids.is_empty(), "{:?}", published.event_ids);
        }
    }
    drop(published);
    assert!(
        cut_short > 0,
        "no commit was cut short: the test proves nothing"
    );
    let ids = committed_event_ids(&topic);
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (events.len(), events.len()));
    drop(publisher);
    database.drop_now();
}
