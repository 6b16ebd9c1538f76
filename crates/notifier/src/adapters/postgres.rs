//! Notifications and offsets in PostgreSQL, through pgbouncer, with the queries cornucopia generated
//! from `queries/notifier` (crate `notifier_db`).
//!
//! [`NotificationStore::record`] is one transaction over a poll's worth of records — one WAL flush for
//! all of them — with one statement per record that moves the offset and inserts the notification; on
//! a conflicting event id the unique index decides, even between replicas racing on one event, which
//! delivery notifies.
use std::collections::HashMap;

use async_trait::async_trait;
use notifier_db::queries::notifications;
use storage::{Context, Database, OpenError, RepoError};

use crate::ports::{Entry, NotificationStore, Recorded};

/// The migrations of `migrations/notifier`, embedded in the binary.
mod embedded {
    refinery::embed_migrations!("../../migrations/notifier");
}

/// The notifier's storage in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgNotificationStore {
    db: Database,
}

impl PgNotificationStore {
    /// The database of `settings`, with the notifier's migrations applied.
    pub async fn open(settings: &storage::PgSettings) -> Result<Self, OpenError> {
        let db = Database::open(settings, embedded::migrations::runner()).await?;
        Ok(Self { db })
    }

    /// Readiness ([`Database::ping`]).
    pub(crate) async fn ping(&self) -> Result<(), RepoError> {
        let ping = async |client: &_| {
            notifier_db::queries::health::ping()
                .bind(client)
                .one()
                .await
        };
        self.db.ping(ping).await
    }
}

#[async_trait]
impl NotificationStore for PgNotificationStore {
    async fn record(&self, entries: &[Entry]) -> Result<Vec<Recorded>, RepoError> {
        self.db
            .run(async {
                let mut client = self.db.client().await?;
                let tx = client.transaction().await.context("begin")?;
                let notify = notifications::record_notification()
                    .prepare(&tx)
                    .await
                    .context("prepare record")?;
                let skip = notifications::skip_event()
                    .prepare(&tx)
                    .await
                    .context("prepare skip")?;
                let mut recorded = Vec::with_capacity(entries.len());
                for Entry { event, at } in entries {
                    let Some(event) = event else {
                        skip.bind(&tx, &at.topic, &at.partition, &at.next())
                            .one()
                            .await
                            .context("skip event")?;
                        recorded.push(Recorded::Skipped);
                        continue;
                    };
                    let id = notify
                        .bind(
                            &tx,
                            &at.topic,
                            &at.partition,
                            &at.next(),
                            &event.event_id,
                            &event.order_id,
                            &event.status.course_name(),
                            &event.moment,
                            &event.request_id,
                        )
                        .opt()
                        .await
                        .context("record notification")?;
                    recorded.push(match id {
                        Some(_) => Recorded::Notified,
                        None => Recorded::Duplicate,
                    });
                }
                tx.commit().await.context("commit notifications")?;
                Ok(recorded)
            })
            .await
    }

    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError> {
        self.db
            .run(async {
                let client = self.db.client().await?;
                let rows = notifications::consumer_offsets()
                    .bind(&client, &topic)
                    .all()
                    .await
                    .context("read consumer offsets")?;
                Ok(rows
                    .into_iter()
                    .map(|r| (r.partition, r.next_offset))
                    .collect())
            })
            .await
    }
}

/// What the storage suite reads directly.
#[cfg(any(test, feature = "testsuite"))]
#[async_trait]
impl crate::adapters::suite::TestStore for PgNotificationStore {
    async fn notified_statuses(&self, order_id: i64) -> Vec<crate::domain::Status> {
        let client = self.db.client().await.expect("a connection");
        let rows = notifications::order_notifications()
            .bind(&client, &order_id)
            .all()
            .await
            .expect("notifications read");
        rows.iter()
            .map(|row| {
                crate::domain::Status::from_course_name(&row.status).expect("a known status")
            })
            .collect()
    }
}
