//! The stack's Kafka cluster for tests (feature `testsuite`): the notifier's own consumer tests and the
//! system tests' order events reach the same brokers and make their topics the same way.
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

/// The cluster's bootstrap brokers: `ROUTE256_TEST_KAFKA`, else the three of `just stack-up`.
pub fn brokers() -> String {
    std::env::var("ROUTE256_TEST_KAFKA")
        .unwrap_or_else(|_| "127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094".into())
}

/// Creates the topic `name` of `partitions`, replicated as the stack's `loms.order-events` is (three
/// replicas, `min.insync.replicas` 2), and returns once every partition has a leader. Panics when the
/// cluster does not answer or the partitions have no leader within a minute.
pub async fn create_topic(name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("an admin client");
    let topic =
        NewTopic::new(name, partitions, TopicReplication::Fixed(3)).set("min.insync.replicas", "2");
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let created = admin
        .create_topics([&topic], &options)
        .await
        .expect("is the Kafka cluster of `just stack-up` running?");
    for result in created {
        result.expect("topic created");
    }
    let probe: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers())
        .create()
        .expect("a metadata probe");
    let led = || {
        let Ok(metadata) = probe.fetch_metadata(Some(name), Duration::from_secs(5)) else {
            return false;
        };
        metadata.topics().first().is_some_and(|topic| {
            topic.partitions().len() == partitions as usize
                && topic.partitions().iter().all(|p| p.leader() >= 0)
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !led() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "topic {name}: a partition has no leader after a minute"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Writes records to one topic as any producer may — loms's relay, or a broken or hostile one.
pub struct RecordWriter {
    producer: rdkafka::producer::FutureProducer,
    topic: String,
}

impl RecordWriter {
    /// A writer to `topic`, waiting for every in-sync replica.
    pub fn new(topic: &str) -> Self {
        let producer = ClientConfig::new()
            .set("bootstrap.servers", brokers())
            .set("acks", "all")
            .create()
            .expect("a producer");
        Self {
            producer,
            topic: topic.to_owned(),
        }
    }

    /// Publishes `value` under `key` with the header `content-type` (none without one); returns the
    /// record's partition once the brokers have it.
    pub async fn send(&self, key: &str, value: &[u8], content_type: Option<&str>) -> i32 {
        use rdkafka::message::{Header, OwnedHeaders};
        let headers = OwnedHeaders::new().insert(Header {
            key: route256_proto::events::CONTENT_TYPE_HEADER,
            value: content_type,
        });
        let record = rdkafka::producer::FutureRecord::to(&self.topic)
            .key(key)
            .payload(value)
            .headers(headers);
        let sent = self.producer.send(record, Duration::from_secs(30)).await;
        sent.map_err(|(error, _)| error)
            .expect("published")
            .partition
    }
}
