//! Building the notifier: the store, then the consumer as the background task of a probe port.
use std::sync::Arc;

use server::grpc::BindError;
use server::probes::ProbeServer;
use server::web::{readiness_of, ReadinessCheck};

use crate::adapters::kafka;
use crate::adapters::memory::MemoryNotificationStore;
use crate::adapters::postgres::PgNotificationStore;
use crate::config::{Config, Storage};
use crate::ports::NotificationStore;

/// The notifier could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Database(#[from] storage::OpenError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("cannot set up the kafka consumer")]
    Kafka(#[from] rdkafka::error::KafkaError),
}

/// Opens the store (PostgreSQL with its migrations applied, or memory) and binds the probe port (port
/// 0 picks a free one: see [`ProbeServer::local_addr`]); running it consumes until shutdown.
///
/// Ready while no partition has stalled (records waiting, no progress for `stall_after`) and, on
/// PostgreSQL, while the database answers.
pub async fn build(config: Config) -> Result<ProbeServer, AppError> {
    let (store, database): (Arc<dyn NotificationStore>, Option<ReadinessCheck>) =
        match &config.storage {
            Storage::Memory => (Arc::new(MemoryNotificationStore::default()), None),
            Storage::Postgres(settings) => {
                let store = Arc::new(PgNotificationStore::open(settings).await?);
                tracing::info!(database = ?settings, "notifier storage: postgres");
                let readiness = readiness_of("database", store.clone(), |store| async move {
                    store.ping().await
                });
                (store, Some(readiness))
            }
        };
    // the recorder first: what is registered before it is lost (the dead letters' counters at 0)
    server::metrics::install();
    crate::service::describe_metrics();
    let consumer = kafka::EventConsumer::new(&config.consumer, store)?;
    let (stalls, topic, limit) = (
        consumer.stalls(),
        config.consumer.topic.clone(),
        config.consumer.stall_after,
    );
    let readiness: ReadinessCheck = Arc::new(move || {
        let stalled = stalls.check(&topic, limit);
        let database = database.clone();
        Box::pin(async move {
            stalled?;
            match database {
                Some(check) => check().await,
                None => Ok(()),
            }
        })
    });
    Ok(ProbeServer::bind(config.http_addr)
        .await?
        .with_background("consumer", move |stop| consumer.run(stop))
        .with_readiness(readiness))
}
