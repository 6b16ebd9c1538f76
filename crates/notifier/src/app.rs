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
pub async fn build(config: Config) -> Result<ProbeServer, AppError> {
    let (store, readiness): (Arc<dyn NotificationStore>, Option<ReadinessCheck>) =
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
    crate::service::describe_metrics();
    let consumer = kafka::EventConsumer::new(&config.consumer, store)?;
    let mut server = ProbeServer::bind(config.http_addr)
        .await?
        .with_background("consumer", move |stop| consumer.run(stop));
    if let Some(readiness) = readiness {
        server = server.with_readiness(readiness);
    }
    Ok(server)
}
