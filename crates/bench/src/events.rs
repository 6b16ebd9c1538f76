//! `events-load`: the two sides of the order-events benchmark (`scripts/bench-events.sh`).
//!
//! - `events-load topic BROKERS TOPIC`: creates TOPIC as the stack creates `loms.order-events` (3
//!   partitions, replication factor 3, `min.insync.replicas=2`).
//! - `events-load drop BROKERS PREFIX...`: deletes every topic whose name starts with a PREFIX — what
//!   earlier runs and tests left — since each partition, idle or not, costs the brokers' replica
//!   fetchers work, and on two cores that shows in the acknowledgement times.
//! - `events-load bare BROKERS TOPIC COUNT`: the baseline — a bare idempotent `acks=all` rdkafka
//!   producer sends COUNT records shaped like loms's events (key, the contract's event, its headers),
//!   all handed over at once, and waits for every acknowledgement. Prints `{"events", "seconds", "per_second"}`.
//! - `events-load orders LOMS_ADDR RATE SECONDS`: OrderCreate at RATE calls per second (open loop), each
//!   second order paid; prints how many changes that made.
//! - `events-load paced BROKERS TOPIC COUNT LINGER`: what the cluster alone adds to a change's way —
//!   the acknowledgement wait of COUNT records sent at 250/s by a bare producer (see [`paced`]).
//! - `events-load stamps BROKERS TOPIC`: every record of TOPIC as `event-id<TAB>timestamp` — the
//!   producer's timestamp, taken when the relay handed the event over (milliseconds since the epoch) —
//!   once no record came for 3 s.
use std::time::{Duration, Instant};

use bench::credentials::{with_bearer, Credentials};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use route256_proto::events::{
    CONTENT_TYPE, CONTENT_TYPE_HEADER, EVENT_ID_HEADER, REQUEST_ID_HEADER,
};
use route256_proto::loms::loms_service_client::LomsServiceClient;
use route256_proto::loms::{
    Item, OrderCreateRequest, OrderPayRequest, OrderStatus, OrderStatusChanged,
};

/// The allocator loms uses: the baseline differs from the relay by the relay alone.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["topic", brokers, topic] => create_topic(brokers, topic).await,
        ["drop", brokers, prefixes @ ..] => drop_topics(brokers, prefixes).await,
        ["bare", brokers, topic, count] => bare(brokers, topic, count.parse()?).await,
        ["orders", addr, rate, seconds] => orders(addr, rate.parse()?, seconds.parse()?).await,
        ["stamps", brokers, topic] => stamps(brokers, topic),
        ["paced", brokers, topic, count, linger] => paced(brokers, topic, count.parse()?, linger).await,
        _ => anyhow::bail!(
            "usage: events-load topic BROKERS TOPIC | drop BROKERS PREFIX... | bare BROKERS TOPIC COUNT | orders LOMS_ADDR RATE SECONDS \
             | paced BROKERS TOPIC COUNT LINGER | stamps BROKERS TOPIC"
        ),
    }
}

fn stamps(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("{topic}-stamps"))
        .set("enable.auto.commit", "false")
        // what consumers see: no record of an aborted transaction
        .set("isolation.level", "read_committed")
        .set("auto.offset.reset", "earliest")
        .create()?;
    consumer.subscribe(&[topic])?;
    let mut idle_since = Instant::now();
    let mut seen = 0_u64;
    while seen == 0 || idle_since.elapsed() < Duration::from_secs(3) {
        anyhow::ensure!(
            idle_since.elapsed() < Duration::from_secs(30),
            "no records in {topic}"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message?;
        let event_id = message.headers().and_then(|headers| {
            let header = headers
                .iter()
                .find(|header| header.key == EVENT_ID_HEADER)?;
            std::str::from_utf8(header.value?).ok()
        });
        let stamp = message.timestamp().to_millis();
        if let (Some(event_id), Some(stamp)) = (event_id, stamp) {
            println!("{event_id}\t{stamp}");
        }
        seen += 1;
        idle_since = Instant::now();
    }
    Ok(())
}

async fn drop_topics(brokers: &str, prefixes: &[&str]) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let metadata = admin
        .inner()
        .fetch_metadata(None, Duration::from_secs(10))?;
    let names: Vec<&str> = metadata.topics().iter().map(|topic| topic.name()).collect();
    let doomed: Vec<&str> = names
        .into_iter()
        .filter(|name| prefixes.iter().any(|prefix| name.starts_with(prefix)))
        .collect();
    if doomed.is_empty() {
        return Ok(());
    }
    for result in admin.delete_topics(&doomed, &AdminOptions::new()).await? {
        if let Err((name, code)) = result {
            anyhow::bail!("cannot delete {name}: {code}");
        }
    }
    println!("deleted {} topics", doomed.len());
    Ok(())
}

async fn create_topic(brokers: &str, topic: &str) -> anyhow::Result<()> {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()?;
    let new = NewTopic::new(topic, 3, TopicReplication::Fixed(3)).set("min.insync.replicas", "2");
    for result in admin.create_topics([&new], &AdminOptions::new()).await? {
        if let Err((name, code)) = result {
            if code != RDKafkaErrorCode::TopicAlreadyExists {
                anyhow::bail!("cannot create {name}: {code}");
            }
        }
    }
    Ok(())
}

/// Event `n` as the relay writes it — the contract's event, framed — three events an order: its key,
/// event id and value.
fn relay_record(n: u64) -> anyhow::Result<(String, String, Vec<u8>)> {
    let event = OrderStatusChanged {
        event_id: format!("00000000-0000-4000-8000-{n:012}"),
        order_id: i64::try_from(n / 3 + 1)?,
        status: OrderStatus::AwaitingPayment.into(),
        moment: Some(std::time::SystemTime::now().into()),
        request_id: "bench".into(),
    };
    let value = event.to_value()?;
    Ok((event.key(), event.event_id, value))
}

async fn bare(brokers: &str, topic: &str, count: u64) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "25")
        .set("partitioner", "murmur2_random")
        .create()?;
    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(usize::try_from(count)?);
    for n in 0..count {
        let (key, event_id, value) = relay_record(n)?;
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: CONTENT_TYPE_HEADER,
                value: Some(CONTENT_TYPE),
            })
            .insert(Header {
                key: EVENT_ID_HEADER,
                value: Some(event_id.as_str()),
            })
            .insert(Header {
                key: REQUEST_ID_HEADER,
                value: Some("bench"),
            });
        let mut record = FutureRecord::to(topic)
            .key(&key)
            .payload(&value)
            .headers(headers);
        loop {
            match producer.send_result(record) {
                Ok(delivery) => break deliveries.push(delivery),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                Err((error, _)) => anyhow::bail!("cannot enqueue: {error}"),
            }
        }
    }
    for delivery in deliveries {
        if let Err((error, _)) = delivery.await? {
            anyhow::bail!("not delivered: {error}");
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)]
    let per_second = count as f64 / seconds;
    println!(r#"{{"events": {count}, "seconds": {seconds:.3}, "per_second": {per_second:.0}}}"#);
    Ok(())
}

async fn orders(addr: &str, rate: u64, seconds: u64) -> anyhow::Result<()> {
    let client = LomsServiceClient::connect(format!("http://{addr}")).await?;
    let credentials = Credentials::from_env()?;
    // Users 1 to 1000, each with a token of their own.
    let bearers = (1..=1000)
        .map(|user| credentials.bearer(user))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut ticks = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    let mut calls = Vec::new();
    for n in 0..rate * seconds {
        ticks.tick().await;
        let mut client = client.clone();
        let index = usize::try_from(n % 1000).unwrap_or(0);
        let bearer = bearers[index].clone();
        calls.push(tokio::spawn(async move {
            let request = OrderCreateRequest {
                user: i64::try_from(index + 1).unwrap_or(1),
                items: vec![Item {
                    sku: 1_625_903,
                    count: 1,
                }],
                idempotency_key: String::new(),
            };
            let order_id = client
                .order_create(with_bearer(request, &bearer))
                .await
                .ok()?
                .into_inner()
                .order_id;
            if n % 2 == 0 {
                let pay = with_bearer(OrderPayRequest { order_id }, &bearer);
                client.order_pay(pay).await.ok()?;
                return Some(3);
            }
            Some(2)
        }));
    }
    let (mut changes, mut failed) = (0u64, 0u64);
    for call in calls {
        match call.await? {
            Some(made) => changes += made,
            None => failed += 1,
        }
    }
    println!(r#"{{"changes": {changes}, "failed": {failed}}}"#);
    Ok(())
}

/// `paced`: one small record every 4 ms (250/s, the latency benchmark's rate of changes) through a bare
/// idempotent `acks=all` producer with `linger.ms` = LINGER; prints p50/p99/max of each record's wait
/// for its acknowledgement, the first second's records (connecting) left out.
async fn paced(brokers: &str, topic: &str, count: u64, linger: &str) -> anyhow::Result<()> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", linger)
        .create()?;
    let mut ticks = tokio::time::interval(Duration::from_millis(4));
    let mut waits = Vec::new();
    for n in 0..count {
        ticks.tick().await;
        let key = n.to_string();
        let started = Instant::now();
        let record = FutureRecord::to(topic).key(&key).payload(&key);
        let delivery = producer.send_result(record).map_err(|(error, _)| error)?;
        waits.push(tokio::spawn(async move {
            let _ = delivery.await;
            started.elapsed()
        }));
    }
    let mut ms = Vec::new();
    for wait in waits.into_iter().skip(250) {
        ms.push(wait.await?.as_secs_f64() * 1000.0);
    }
    anyhow::ensure!(!ms.is_empty(), "COUNT must exceed 250");
    ms.sort_by(f64::total_cmp);
    let at = |share: usize| ms[(ms.len() * share / 100).min(ms.len() - 1)];
    println!("p50 {:.1} p99 {:.1} max {:.1}", at(50), at(99), at(100));
    Ok(())
}
