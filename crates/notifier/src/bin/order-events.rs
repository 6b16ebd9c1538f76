//! `just events [--from-start]`: the order events of the topic as a person reads them — one JSON line
//! per record, the value decoded by the contract (`OrderStatusChanged`), following new records until
//! Ctrl-C. Reads committed records only, as the notifier does, and joins no consumer group (it moves
//! no one's offsets). `NOTIFIER_KAFKA_BROKERS` and `NOTIFIER_KAFKA_TOPIC` say where, as for the notifier.
use std::time::Duration;

use anyhow::Context as _;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use route256_proto::events::CONTENT_TYPE_HEADER;
use route256_proto::loms::OrderStatusChanged;

fn main() -> anyhow::Result<()> {
    let from_start = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--from-start") => true,
        Some(other) => anyhow::bail!("usage: order-events [--from-start] (not '{other}')"),
    };
    let brokers = env_config::env_or("NOTIFIER_KAFKA_BROKERS", "127.0.0.1:9092".to_owned())?;
    let topic = env_config::env_or("NOTIFIER_KAFKA_TOPIC", "loms.order-events".to_owned())?;
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", "order-events-reader")
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_committed")
        .create()?;
    let metadata = consumer
        .fetch_metadata(Some(&topic), Duration::from_secs(10))
        .with_context(|| format!("cannot read the metadata of {topic} from {brokers}"))?;
    let partitions = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect::<Vec<_>>();
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut assignment = TopicPartitionList::new();
    let start = if from_start {
        Offset::Beginning
    } else {
        Offset::End
    };
    for partition in &partitions {
        assignment.add_partition_offset(&topic, *partition, start)?;
    }
    consumer.assign(&assignment)?;
    eprintln!("order events of {topic} on {brokers}, partitions {partitions:?}; Ctrl-C stops");
    loop {
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message?;
        println!("{}", line(&message));
    }
}

/// One record as a JSON line: where it sits, its key, and its event (or why it is none).
fn line(message: &impl Message) -> serde_json::Value {
    let content_type = message.headers().and_then(|headers| {
        let header = headers.iter().find(|h| h.key == CONTENT_TYPE_HEADER)?;
        header
            .value
            .map(|v| String::from_utf8_lossy(v).into_owned())
    });
    let key = message
        .key()
        .map(|k| String::from_utf8_lossy(k).into_owned());
    let event = match OrderStatusChanged::from_value(message.payload().unwrap_or_default()) {
        Ok(event) => serde_json::json!({
            "event_id": event.event_id,
            "order_id": event.order_id,
            "status": event.status().course_name(),
            "moment": event.moment.map(|m| m.to_string()),
            "request_id": event.request_id,
        }),
        Err(why) => serde_json::json!({ "not_an_event": why.to_string() }),
    };
    serde_json::json!({
        "partition": message.partition(),
        "offset": message.offset(),
        "key": key,
        "content_type": content_type,
        "event": event,
    })
}
