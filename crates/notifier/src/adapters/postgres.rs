//! Notifications, dead letters and offsets in PostgreSQL, through pgbouncer, with the queries
//! cornucopia generated from `queries/notifier` (crate `notifier_db`).
//!
//! [`NotificationStore::apply`] is one transaction over a poll's worth of runs — one WAL flush for all
//! of them. Each run first claims its partition (`claim_run`: a compare-and-set of the stored offset,
//! whose row lock also orders racing members), then stores one row per record. An event whose data
//! PostgreSQL refuses (SQLSTATE class 22 or 23) fails the transaction; the runs are then stored again
//! with a savepoint around each notification, so that only the refused one turns into a dead letter —
//! the savepoints cost a round trip each, and are paid only on that rare path.
use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Transaction;
use notifier_db::client::GenericClient;
use notifier_db::queries::notifications;
use storage::{refuses_the_data, Context, Database, OpenError, RepoError};

use crate::domain::{Event, Poison, Record};
use crate::ports::{Applied, NotificationStore, Recorded, Run};

/// The migrations of `migrations/notifier`, embedded in the binary.
mod embedded {
    refinery::embed_migrations!("../../migrations/notifier");
}

/// The notifier's storage in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgNotificationStore {
    db: Database,
    /// Who this store is among the members sharing the database: fresh per store, so a member knows
    /// its own earlier attempts (see `claim_run`).
    holder: String,
}

/// How an attempt at the runs ended, when the database did not fail.
enum Attempt {
    Done(Vec<Applied>),
    /// An event's data was refused: nothing is stored; store again, with savepoints.
    Refused,
}

impl PgNotificationStore {
    /// The database of `settings`, with the notifier's migrations applied.
    pub async fn open(settings: &storage::PgSettings) -> Result<Self, OpenError> {
        let db = Database::open(settings, embedded::migrations::runner()).await?;
        let holder = format!("notifier-{}", uuid::Uuid::new_v4().simple());
        Ok(Self { db, holder })
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

    /// One transaction over `runs` (see the module doc); with `careful`, each notification in a
    /// savepoint, a refused one kept as a dead letter.
    async fn attempt(&self, runs: &[Run], careful: bool) -> Result<Attempt, RepoError> {
        let mut client = self.db.client().await?;
        let mut tx = client.transaction().await.context("begin")?;
        let mut applied = Vec::with_capacity(runs.len());
        for run in runs {
            let claimed = notifications::claim_run()
                .bind(
                    &tx,
                    &run.topic,
                    &run.partition,
                    &run.next(),
                    &self.holder,
                    &run.expected,
                )
                .opt()
                .await
                .context("claim the partition")?;
            if claimed.is_none() {
                let stored = notifications::stored_offset()
                    .bind(&tx, &run.topic, &run.partition)
                    .opt()
                    .await
                    .context("read the stored offset")?;
                applied.push(Applied::Taken { stored });
                continue;
            }
            let mut recorded = Vec::with_capacity(run.entries.len());
            for entry in &run.entries {
                let outcome = match &entry.event {
                    Err(poison) => {
                        dead_letter(&tx, &entry.record, poison).await?;
                        Recorded::DeadLettered(poison.clone())
                    }
                    Ok(event) if careful => notify_or_refuse(&mut tx, &entry.record, event).await?,
                    Ok(event) => match notify(&tx, &entry.record, event).await {
                        Ok(recorded) => recorded,
                        Err(error) if refuses_the_data(&error) => return Ok(Attempt::Refused),
                        Err(error) => return Err(error).context("record a notification"),
                    },
                };
                recorded.push(outcome);
            }
            applied.push(Applied::Stored(recorded));
        }
        tx.commit().await.context("commit notifications")?;
        Ok(Attempt::Done(applied))
    }
}

/// Records the notification of `event`, read at `record`'s position: notified, or a duplicate.
async fn notify(
    client: &impl GenericClient,
    record: &Record,
    event: &Event,
) -> Result<Recorded, tokio_postgres::Error> {
    let id = notifications::record_notification()
        .bind(
            client,
            &event.event_id,
            &event.order_id,
            &event.status.course_name(),
            &event.moment_micros,
            &event.request_id,
            &record.at.topic,
            &record.at.partition,
            &record.at.offset,
        )
        .opt()
        .await?;
    Ok(match id {
        Some(_) => Recorded::Notified,
        None => Recorded::Duplicate,
    })
}

/// [`notify`] inside a savepoint; an event whose data the database refuses becomes a dead letter.
async fn notify_or_refuse(
    tx: &mut Transaction<'_>,
    record: &Record,
    event: &Event,
) -> Result<Recorded, RepoError> {
    let savepoint = tx.transaction().await.context("savepoint")?;
    match notify(&savepoint, record, event).await {
        Ok(recorded) => {
            savepoint.commit().await.context("release savepoint")?;
            Ok(recorded)
        }
        Err(error) if refuses_the_data(&error) => {
            savepoint
                .rollback()
                .await
                .context("roll back to savepoint")?;
            let poison = Poison::Refused(refusal(&error));
            dead_letter(&*tx, record, &poison).await?;
            Ok(Recorded::DeadLettered(poison))
        }
        Err(error) => Err(error).context("record a notification"),
    }
}

/// The database's words for a refusal: SQLSTATE, message, constraint.
fn refusal(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.constraint() {
            Some(constraint) => format!("{} {} ({constraint})", db.code().code(), db.message()),
            None => format!("{} {}", db.code().code(), db.message()),
        },
        None => error.to_string(),
    }
}

/// Text PostgreSQL stores whatever the bytes: UTF-8 read lossily, NUL (which neither `text` nor
/// `jsonb` takes) replaced. A dead letter's words must never be refused themselves, or the record
/// would block its partition after all.
fn storable(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\0', "\u{fffd}")
}

/// Keeps `record` as a dead letter, for `poison`.
async fn dead_letter(
    client: &impl GenericClient,
    record: &Record,
    poison: &Poison,
) -> Result<(), RepoError> {
    let headers: Vec<_> = record
        .headers
        .iter()
        .map(|header| {
            serde_json::json!({
                "name": storable(header.name.as_bytes()),
                "value": header.value.as_deref().map(storable),
            })
        })
        .collect();
    notifications::record_dead_letter()
        .bind(
            client,
            &record.at.topic,
            &record.at.partition,
            &record.at.offset,
            &record.key.as_deref(),
            &serde_json::Value::Array(headers).to_string(),
            &record.value.as_deref(),
            &poison.label(),
            &storable(poison.to_string().as_bytes()),
        )
        .one()
        .await
        .context("keep a dead letter")?;
    Ok(())
}

#[async_trait]
impl NotificationStore for PgNotificationStore {
    async fn apply(&self, runs: &[Run]) -> Result<Vec<Applied>, RepoError> {
        self.db
            .run("apply", async {
                if let Attempt::Done(applied) = self.attempt(runs, false).await? {
                    return Ok(applied);
                }
                match self.attempt(runs, true).await? {
                    Attempt::Done(applied) => Ok(applied),
                    Attempt::Refused => Err(RepoError::msg("refused with savepoints")),
                }
            })
            .await
    }

    async fn offsets(&self, topic: &str) -> Result<HashMap<i32, i64>, RepoError> {
        self.db
            .run("offsets", async {
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

    async fn dead_letters(&self, topic: &str) -> Vec<(i32, i64, String)> {
        let client = self.db.client().await.expect("a connection");
        let rows = notifications::dead_letters_of()
            .bind(&client, &topic)
            .all()
            .await
            .expect("dead letters read");
        rows.into_iter()
            .map(|row| (row.partition, row.offset, row.reason))
            .collect()
    }

    fn twin(&self) -> Option<Self> {
        Some(Self {
            db: self.db.clone(),
            holder: format!("notifier-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    async fn refuse_order(&self, order_id: i64) -> bool {
        let client = self.db.client().await.expect("a connection");
        let check = format!(
            "ALTER TABLE notifications ADD CONSTRAINT refuses_{order_id} CHECK (order_id <> {order_id})"
        );
        client
            .batch_execute(&check)
            .await
            .expect("constraint added");
        true
    }
}
