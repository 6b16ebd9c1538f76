//! Building loms: storage, use cases, bind. `main` runs the server until a signal.
use std::sync::Arc;
use std::time::Duration;

use identity::Authenticator;
use route256_proto::loms::loms_service_server::{LomsServiceServer, SERVICE_NAME};
use server::grpc::{BindError, Callers, GrpcServer, Served};
use server::web::readiness_of;
use storage::PgSettings;
use tonic::service::Routes;

use crate::adapters::kafka::KafkaEventPublisher;
use crate::adapters::memory::MemoryStore;
use crate::adapters::postgres::PgStore;
use crate::config::{Config, Events, Storage};
use crate::grpc::LomsGrpc;
use crate::ports::Outbox;
use crate::relay::Relay;
use crate::service::Loms;

/// loms could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Database(#[from] storage::OpenError),
    #[error("cannot stock the catalogue")]
    Seed(#[from] crate::ports::RepoError),
    #[error(transparent)]
    Bind(#[from] BindError),
    #[error("cannot set up the kafka producer")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error(transparent)]
    Identity(#[from] identity::StartError),
}

/// Sets up the storage — the in-memory store stocking the built-in catalogue, or PostgreSQL with its
/// migrations applied and the catalogue's missing SKUs stocked — and binds the listener (port 0 picks
/// a free port: see [`GrpcServer::local_addr`]). With [`Config::events`], the relay publishes the
/// outbox in the background.
pub async fn build(config: Config) -> Result<GrpcServer, AppError> {
    let (loms, outbox, readiness): (_, Arc<dyn Outbox>, _) = match &config.storage {
        Storage::Memory => {
            let limit = config.events.as_ref().map(|_| config.outbox_max_pending);
            let store = Arc::new(MemoryStore::seeded().with_outbox_limit(limit));
            (Loms::new(store.clone(), store.clone()), store, None)
        }
        Storage::Postgres(settings) => {
            let store = Arc::new(postgres_store(settings).await?);
            let readiness = readiness_of("database", store.clone(), |store| async move {
                store.ping().await
            });
            (
                Loms::new(store.clone(), store.clone()),
                store,
                Some(readiness),
            )
        }
    };
    let relay = config
        .events
        .as_ref()
        .map(|events| relay(events, outbox))
        .transpose()?;
    let server = LomsServiceServer::new(LomsGrpc::new(loms.clone()))
        .max_decoding_message_size(config.limits.max_request_bytes);
    // Stock levels are public: cart asks them before a user has a cart worth guarding.
    let callers = Callers {
        authenticator: Authenticator::start(&config.authentication).await?,
        open: vec![format!("/{SERVICE_NAME}/StocksInfo")],
    };
    let served = Served {
        routes: Routes::new(server),
        services: vec![SERVICE_NAME],
        descriptors: route256_proto::FILE_DESCRIPTOR_SET,
        callers: Some(callers),
    };
    let (ttl, period) = (config.unpaid_ttl, config.unpaid_check_period);
    metrics::describe_counter!(
        "loms_auto_cancel_unsettled_total",
        "Unpaid orders the auto-cancel could not settle, left for a later period"
    );
    let mut server = GrpcServer::bind(config.grpc_addr, served, config.limits)
        .await?
        .with_http(config.http_addr)
        .await?
        .with_background("auto-cancel", move |stop| {
            auto_cancel(loms, ttl, period, stop)
        });
    if let Some(relay) = relay {
        server = server.with_background("outbox relay", move |stop| relay.run(stop));
    }
    if let Some(readiness) = readiness {
        server = server.with_readiness(readiness);
    }
    Ok(server)
}

/// The relay of `outbox` to the brokers of `events`.
fn relay(events: &Events, outbox: Arc<dyn Outbox>) -> Result<Relay, AppError> {
    let lease = outbox.lease_of(&events.topic);
    let publisher = KafkaEventPublisher::new(
        &events.brokers,
        &events.topic,
        &lease,
        events.relay.lease_ttl,
    )?;
    crate::relay::describe_metrics();
    tracing::info!(brokers = %events.brokers, topic = %events.topic, "order events go to kafka");
    Ok(Relay::new(outbox, Box::new(publisher), lease, events.relay))
}

/// Orders cancelled by one storage step of the auto-cancel.
const AUTO_CANCEL_BATCH: usize = 100;

/// Every `period`, cancels the orders that have awaited payment for `ttl` or longer, until `stop`
/// turns true. Several loms replicas may run it on one database: the store claims each batch with
/// `FOR UPDATE SKIP LOCKED`, so no order is cancelled twice and a pay racing it either wins or finds
/// the order cancelled. Stopping drops a batch in flight, whose transaction then rolls back.
async fn auto_cancel(
    loms: Loms,
    ttl: Duration,
    period: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tracing::info!(?ttl, ?period, "auto-cancel of unpaid orders running");
    loop {
        let stopped = stop.wait_for(|stop| *stop);
        tokio::select! {
            _ = stopped => break,
            _ = ticks.tick() => {}
        }
        let stopped = stop.wait_for(|stop| *stop);
        tokio::select! {
            _ = stopped => break,
            result = loms.cancel_unpaid(ttl, AUTO_CANCEL_BATCH) => match result {
                Ok(0) => {}
                Ok(cancelled) => tracing::info!(cancelled, "unpaid orders cancelled"),
                Err(error) => tracing::warn!(
                    error = %telemetry::error_chain(&error),
                    "auto-cancel failed; trying again next period"
                ),
            },
        }
    }
    tracing::info!("auto-cancel stopped");
}

/// A PostgreSQL store with its migrations applied.
pub async fn postgres_store(settings: &PgSettings) -> Result<PgStore, AppError> {
    let store = PgStore::open(settings).await?;
    let added = store.seed_catalogue_stock().await?;
    tracing::info!(database = ?settings, stocked_skus_added = added, "loms storage: postgres");
    Ok(store)
}
