//! Orders and stock in PostgreSQL, through pgbouncer, with the queries cornucopia generated from
//! `queries/loms` (crate `loms_db`). Every port method is one transaction, owned here.
//!
//! Lock order, so that concurrent transactions wait instead of deadlocking: an order's row first (pay,
//! cancel), then the stock rows of its SKUs in ascending SKU order (`lock_stocks`). New stock levels are
//! computed by the domain ([`reserve_items`], [`settle_items`]) from the locked rows and written back;
//! the table's CHECK constraints stand behind that arithmetic.
//!
//! Placing an order inserts it as `new` and leaves it `awaiting payment` or `failed` before the
//! transaction commits, so no reader and no crash ever sees an order in `new`.
//!
//! Every status change writes its event into `order_events` in the statement that makes it
//! (`insert_order`, `settle_order`), so change and event commit together. The relay's side — lease,
//! unsent events, marking them sent — is [`Outbox`].
//!
//! Round trips: every statement is prepared once per connection (`prepare` hits the connection's
//! statement cache afterwards) and returns rows, so each costs one round trip. Placing an order is
//! BEGIN, insert (order and positions), lock stocks, settle (levels and status), COMMIT in two
//! ([`Pipelined`]): the first three leave together, then the last two.
use std::collections::HashMap;
use std::sync::Arc;
use telemetry::trace_context::TraceContext;

use async_trait::async_trait;
use std::time::Duration;

use deadpool_postgres::Object;
use loms_db::client::GenericClient;
use loms_db::queries::{orders, outbox, stocks};
use storage::{violated, Context, Database, OpenError, Pipelined, RepoError, Stored};
use tokio::sync::Notify;
use tokio_postgres::error::SqlState;

use crate::domain::{
    reserve_items, settle_items, IdempotencyKey, Item, Order, OrderEvent, OrderId, OrderItems,
    OrderStatus, RequestId, Sku, Stock, StockEffect, Transition, UserId,
};
use crate::ports::{
    Backlog, NewOrder, Offsets, OrderRepo, Outbox, Placement, Reservation, StaleBatch, StockRepo,
    Term, TransitionOutcome,
};

/// The migrations of `migrations/loms`, embedded in the binary.
mod embedded {
    refinery::embed_migrations!("../../migrations/loms");
}

/// The index that keeps one live order per (user, idempotency key).
const KEY_INDEX: &str = "orders_user_idempotency_key";

/// loms's storage in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgStore {
    db: Database,
    /// Told after each commit that wrote events ([`Outbox::written`]).
    written: Arc<Notify>,
}

impl PgStore {
    /// The database of `settings`, with loms's migrations applied.
    pub async fn open(settings: &storage::PgSettings) -> Result<Self, OpenError> {
        let db = Database::open(settings, embedded::migrations::runner()).await?;
        Ok(Self {
            db,
            written: Arc::default(),
        })
    }

    /// Readiness ([`Database::ping`]).
    pub async fn ping(&self) -> Result<(), RepoError> {
        let ping = async |client: &_| loms_db::queries::health::ping().bind(client).one().await;
        self.db.ping(ping).await
    }

    /// Stocks every SKU of the built-in catalogue that has no stock row yet; rows that exist (and their
    /// reservations) are left alone. Returns how many SKUs it added.
    pub async fn seed_catalogue_stock(&self) -> Result<usize, RepoError> {
        let mut skus = Vec::new();
        let mut totals = Vec::new();
        let mut reserved = Vec::new();
        for level in catalogue::stock() {
            skus.push(i64::from(level.sku));
            totals.push(to_i64(level.total)?);
            reserved.push(to_i64(level.reserved)?);
        }
        let client = self.db.client().await?;
        let added = stocks::seed_stock()
            .bind(&client, &skus, &totals, &reserved)
            .all()
            .await
            .context("seed stock")?;
        Ok(added.len())
    }

    /// One attempt at placing an order; `Ok(None)` when a concurrent call with the same key committed
    /// its order first (the caller looks again). Two round trips without a key ([`Pipelined`]): BEGIN,
    /// the order and the lock of its stock rows; then the levels and the status, and COMMIT. A key's
    /// lookup goes with BEGIN and adds one.
    async fn try_place(&self, new: &NewOrder) -> Result<Option<Placement>, RepoError> {
        let client = self.db.client().await?;
        let user = new.user.get();
        let key = new.idempotency_key.as_ref().map(IdempotencyKey::as_str);
        let trace = Traced::now();
        let (insert, settle) = placing_statements(&client).await?;
        let insert_and_lock =
            async |client: &Object| insert_order(client, &insert, new, &trace).await;
        let (tx, placed) = match key {
            None => Pipelined::begin_with(client, insert_and_lock).await?,
            Some(key) => {
                let lookup = async |client: &Object| find_by_key(client, user, key).await;
                let (tx, existing) = Pipelined::begin_with(client, lookup).await?;
                if let Some(id) = existing {
                    let order = read_order(tx.client(), id)
                        .await?
                        .ok_or_else(|| RepoError::msg(format!("order {id} vanished")))?;
                    return Ok(Some(Placement::Existing(order)));
                }
                let placed = insert_and_lock(tx.client()).await?;
                (tx, placed)
            }
        };
        // The key's index is checked at the insert, never at the commit: an index cannot be deferred.
        let Some((id, locked)) = placed else {
            return Ok(None);
        };
        let order_id = OrderId::try_from(id).stored("order id")?;
        let (status, changed, reservation) = reserve(&new.items, &locked);
        let levels = Levels::of(&changed)?;
        // `.one()` checks the row count once COMMIT has left; it cannot fail here, the row being the
        // one this transaction inserted.
        tx.commit_with(async |client: &Object| {
            let cause = (&new.request_id, &trace);
            settle_with(client, &settle, &levels, order_id, status, cause).await
        })
        .await?;
        self.written.notify_one();
        Ok(Some(Placement::Created {
            order_id,
            reservation,
        }))
    }
}

/// Inserts `new` with the event of its creation (carrying `trace`) and locks its stock rows, both sent
/// at once: its id and the rows, or `None` when a concurrent call with the same key committed first.
async fn insert_order(
    client: &Object,
    insert: &orders::InsertOrderStmt,
    new: &NewOrder,
    trace: &Traced,
) -> Result<Option<(i64, HashMap<Sku, Stock>)>, RepoError> {
    let (user, request_id) = (new.user.get(), new.request_id.as_str());
    let key = new.idempotency_key.as_ref().map(IdempotencyKey::as_str);
    let (skus, counts) = columns(&new.items);
    let (parent, state) = (&trace.parent, &trace.state);
    let inserted = insert
        .bind(
            client,
            &user,
            &key,
            &skus,
            &counts,
            &request_id,
            parent,
            state,
        )
        .one();
    let (inserted, locked) = tokio::join!(inserted, lock_stocks(client, &skus));
    match inserted {
        Ok(id) => Ok(Some((id, locked?))),
        Err(error) if is_key_taken(&error) => Ok(None),
        Err(error) => Err(error).context("insert order"),
    }
}

/// The insert and settling statements of placing an order, prepared before its transaction (cache hits
/// after a connection's first order): `COMMIT` leaves with the settling one, which must go out at once
/// (storage::pipelined).
async fn placing_statements(
    client: &Object,
) -> Result<(orders::InsertOrderStmt, orders::SettleOrderStmt), RepoError> {
    let insert = orders::insert_order()
        .prepare(client)
        .await
        .context("prepare insert order")?;
    let settle = orders::settle_order()
        .prepare(client)
        .await
        .context("prepare settle order")?;
    Ok((insert, settle))
}

/// What placing `items` against the locked stock rows comes to: all reserved, or none and the order
/// failed (naming the SKU short of stock); the new levels of the SKUs it changes.
fn reserve(
    items: &OrderItems,
    locked: &HashMap<Sku, Stock>,
) -> (OrderStatus, HashMap<Sku, Stock>, Reservation) {
    match reserve_items(items, |sku| locked.get(&sku).copied()) {
        Ok(changed) => (OrderStatus::AwaitingPayment, changed, Reservation::Reserved),
        Err(sku) => (
            OrderStatus::Failed,
            HashMap::new(),
            Reservation::Failed { sku },
        ),
    }
}

/// The order `user` placed under `key`, if any.
async fn find_by_key(client: &Object, user: i64, key: &str) -> Result<Option<OrderId>, RepoError> {
    let lookup = orders::order_by_idempotency_key()
        .prepare(client)
        .await
        .context("prepare find order by key")?;
    let found = lookup
        .bind(client, &user, &key)
        .opt()
        .await
        .context("find order by key")?;
    found
        .map(|id| OrderId::try_from(id).stored("order id"))
        .transpose()
}

/// The unique index on (user, idempotency key) refused the order: another call placed one first.
fn is_key_taken(error: &tokio_postgres::Error) -> bool {
    violated(error, &SqlState::UNIQUE_VIOLATION, KEY_INDEX)
}

/// A stored moment, from microseconds since the Unix epoch.
fn moment_of(micros: i64) -> Result<std::time::SystemTime, RepoError> {
    let since_epoch = Duration::from_micros(micros.unsigned_abs());
    let moment = if micros >= 0 {
        std::time::UNIX_EPOCH.checked_add(since_epoch)
    } else {
        std::time::UNIX_EPOCH.checked_sub(since_epoch)
    };
    moment.ok_or_else(|| RepoError::msg("unusable event moment stored"))
}

fn to_i64(units: u64) -> Result<i64, RepoError> {
    i64::try_from(units).map_err(|e| RepoError::failed("stock beyond bigint", e))
}

fn to_stock(total: i64, reserved: i64) -> Result<Stock, RepoError> {
    let total = u64::try_from(total).stored("stock total")?;
    let reserved = u64::try_from(reserved).stored("reserved stock")?;
    Stock::new(total, reserved).stored("stock")
}

/// The SKU and count columns of an order's positions, as the queries take them.
fn columns(items: &OrderItems) -> (Vec<i64>, Vec<i32>) {
    items
        .iter()
        .map(|item| (i64::from(item.sku.get()), i32::from(item.count.get())))
        .unzip()
}

/// Locks the stock rows of `skus` (in SKU order) and returns their levels.
async fn lock_stocks<C: GenericClient>(
    client: &C,
    skus: &[i64],
) -> Result<HashMap<Sku, Stock>, RepoError> {
    let statement = stocks::lock_stocks()
        .prepare(client)
        .await
        .context("prepare lock stocks")?;
    let rows = statement
        .bind(client, &skus)
        .all()
        .await
        .context("lock stocks")?;
    rows.into_iter()
        .map(|row| {
            let sku = u32::try_from(row.sku)
                .stored("sku")
                .and_then(|s| Sku::try_from(s).stored("sku"))?;
            Ok((sku, to_stock(row.total, row.reserved)?))
        })
        .collect()
}

/// Stock levels computed under [`lock_stocks`], as the settling statement takes them.
struct Levels {
    skus: Vec<i64>,
    totals: Vec<i64>,
    reserved: Vec<i64>,
}

impl Levels {
    fn of(changed: &HashMap<Sku, Stock>) -> Result<Self, RepoError> {
        let mut levels = Self {
            skus: Vec::with_capacity(changed.len()),
            totals: Vec::with_capacity(changed.len()),
            reserved: Vec::with_capacity(changed.len()),
        };
        for (sku, stock) in changed {
            levels.skus.push(i64::from(sku.get()));
            levels.totals.push(to_i64(stock.total())?);
            levels.reserved.push(to_i64(stock.reserved())?);
        }
        Ok(levels)
    }
}

/// An event's trace context as its columns: both NULL without one.
struct Traced {
    parent: Option<String>,
    state: Option<String>,
}

impl Traced {
    /// The context of the change being written ([`OrderEvent::trace_now`]).
    fn now() -> Self {
        match OrderEvent::trace_now() {
            Some(trace) => Self {
                parent: Some(trace.traceparent),
                state: (!trace.tracestate.is_empty()).then_some(trace.tracestate),
            },
            None => Self {
                parent: None,
                state: None,
            },
        }
    }
}

/// Writes stock levels computed under [`lock_stocks`], the order's new status and its event.
async fn settle(
    tx: &deadpool_postgres::Transaction<'_>,
    id: OrderId,
    changed: &HashMap<Sku, Stock>,
    status: OrderStatus,
    request_id: &RequestId,
) -> Result<(), RepoError> {
    let levels = Levels::of(changed)?;
    let statement = orders::settle_order()
        .prepare(tx)
        .await
        .context("prepare settle order")?;
    let trace = Traced::now();
    settle_with(tx, &statement, &levels, id, status, (request_id, &trace)).await
}

/// [`settle`] with its statement prepared, so that the request leaves on the first poll. The event
/// carries what caused the change: its request id and trace context.
async fn settle_with<C: GenericClient>(
    client: &C,
    statement: &orders::SettleOrderStmt,
    levels: &Levels,
    id: OrderId,
    status: OrderStatus,
    (request_id, trace): (&RequestId, &Traced),
) -> Result<(), RepoError> {
    statement
        .bind(
            client,
            &levels.skus,
            &levels.totals,
            &levels.reserved,
            &id.get(),
            &status.as_str(),
            &request_id.as_str(),
            &trace.parent,
            &trace.state,
        )
        .one()
        .await
        .context("settle order")?;
    Ok(())
}

/// An order's positions.
/// Claims up to `batch` orders awaiting payment for `age` or longer, none of `skip`, with their items.
async fn claim_stale(
    tx: &deadpool_postgres::Transaction<'_>,
    age: Duration,
    batch: usize,
    skip: &[OrderId],
) -> Result<Vec<(OrderId, OrderItems)>, RepoError> {
    let batch = i64::try_from(batch).unwrap_or(i64::MAX);
    let skip: Vec<i64> = skip.iter().map(|id| id.get()).collect();
    let claimed = orders::claim_stale_orders()
        .bind(tx, &age.as_secs_f64(), &skip, &batch)
        .all()
        .await
        .context("claim stale orders")?;
    let mut stale = Vec::with_capacity(claimed.len());
    for id in claimed {
        let id = OrderId::try_from(id).stored("order id")?;
        stale.push((id, read_items(tx, id).await?));
    }
    Ok(stale)
}

/// Cancels one claimed order against the stock `levels`, in a savepoint of its own: its changed stock
/// levels, or — when its stock refuses the release, or the database refuses the change — why it is
/// left as it was. Only the database being unavailable fails the whole step.
async fn cancel_one(
    tx: &mut deadpool_postgres::Transaction<'_>,
    id: OrderId,
    items: &OrderItems,
    levels: &HashMap<Sku, Stock>,
    request_id: &RequestId,
) -> Result<Result<HashMap<Sku, Stock>, String>, RepoError> {
    let lookup = |sku| levels.get(&sku).copied();
    let changed = match settle_items(items, StockEffect::Release, lookup) {
        Ok(changed) => changed,
        Err(why) => return Ok(Err(why.to_string())),
    };
    let savepoint = tx.transaction().await.context("savepoint")?;
    match settle(&savepoint, id, &changed, OrderStatus::Cancelled, request_id).await {
        Ok(()) => {
            savepoint.commit().await.context("release savepoint")?;
            Ok(Ok(changed))
        }
        Err(error) if error.is_unavailable() => Err(error),
        Err(error) => {
            savepoint
                .rollback()
                .await
                .context("roll back to savepoint")?;
            Ok(Err(telemetry::error_chain(&error).to_string()))
        }
    }
}

async fn read_items<C: loms_db::client::GenericClient>(
    client: &C,
    id: OrderId,
) -> Result<OrderItems, RepoError> {
    let statement = orders::order_items()
        .prepare(client)
        .await
        .context("prepare read order items")?;
    let rows = statement
        .bind(client, &id.get())
        .all()
        .await
        .context("read order items")?;
    let items = rows
        .into_iter()
        .map(|row| {
            let sku = u32::try_from(row.sku).stored("sku")?;
            let count = u32::try_from(row.count).stored("count")?;
            Item::new(sku, count).stored("order item")
        })
        .collect::<Result<Vec<_>, _>>()?;
    OrderItems::new(items).stored("order items")
}

/// An order with its positions, or `None`.
async fn read_order<C: GenericClient>(client: &C, id: OrderId) -> Result<Option<Order>, RepoError> {
    let statement = orders::order_header()
        .prepare(client)
        .await
        .context("prepare read order")?;
    let Some(header) = statement
        .bind(client, &id.get())
        .opt()
        .await
        .context("read order")?
    else {
        return Ok(None);
    };
    Ok(Some(Order {
        id,
        user: UserId::try_from(header.user_id).stored("user id")?,
        status: header.status.parse().stored("status")?,
        items: read_items(client, id).await?,
        idempotency_key: header
            .idempotency_key
            .as_deref()
            .map(IdempotencyKey::parse)
            .transpose()
            .stored("idempotency key")?
            .flatten(),
    }))
}

#[async_trait]
impl OrderRepo for PgStore {
    async fn place(&self, new: NewOrder) -> Result<Placement, RepoError> {
        self.db
            .run("place", async {
                // A lost race on the key means the winner's order exists now: the second attempt finds it.
                for _ in 0..2 {
                    if let Some(placement) = self.try_place(&new).await? {
                        return Ok(placement);
                    }
                }
                Err(RepoError::msg(
                    "idempotency key taken, yet no order found under it",
                ))
            })
            .await
    }

    async fn get(&self, id: OrderId) -> Result<Option<Order>, RepoError> {
        self.db
            .run("get", async {
                let client = self.db.client().await?;
                read_order(&**client, id).await
            })
            .await
    }

    async fn cancel_stale<'a>(
        &self,
        age: Duration,
        batch: usize,
        skip: &'a [OrderId],
        request_id: RequestId,
    ) -> Result<StaleBatch, RepoError> {
        self.db
            .run("cancel_stale", async {
                let mut client = self.db.client().await?;
                let mut tx = client.transaction().await.context("begin")?;
                let stale = claim_stale(&tx, age, batch, skip).await?;
                // The stock rows of every claimed order, locked once, in SKU order.
                let mut skus: Vec<i64> = stale
                    .iter()
                    .flat_map(|(_, items)| columns(items).0)
                    .collect();
                skus.sort_unstable();
                skus.dedup();
                let mut levels = lock_stocks(&tx, &skus).await?;
                let mut step = StaleBatch::default();
                for (id, items) in stale {
                    match cancel_one(&mut tx, id, &items, &levels, &request_id).await? {
                        Ok(changed) => {
                            levels.extend(changed);
                            step.cancelled.push(id);
                        }
                        Err(why) => step.unsettled.push((id, why)),
                    }
                }
                tx.commit().await.context("commit auto-cancel")?;
                if !step.cancelled.is_empty() {
                    self.written.notify_one();
                }
                Ok(step)
            })
            .await
    }

    async fn transition(
        &self,
        id: OrderId,
        transition: Transition,
        request_id: RequestId,
    ) -> Result<TransitionOutcome, RepoError> {
        self.db
            .run("transition", async {
                let mut client = self.db.client().await?;
                let tx = client.transaction().await.context("begin")?;
                let lock = orders::lock_order_status()
                    .prepare(&tx)
                    .await
                    .context("prepare lock order")?;
                let Some(status) = lock
                    .bind(&tx, &id.get())
                    .opt()
                    .await
                    .context("lock order")?
                else {
                    return Ok(TransitionOutcome::NotFound);
                };
                let current: OrderStatus = status.parse().stored("status")?;
                if current != transition.start_status() {
                    return Ok(TransitionOutcome::Refused { current });
                }
                let items = read_items(&tx, id).await?;
                let (skus, _) = columns(&items);
                let locked = lock_stocks(&tx, &skus).await?;
                let changed = settle_items(&items, transition.stock_effect(), |sku| {
                    locked.get(&sku).copied()
                })
                .map_err(|e| RepoError::failed(format!("order {id}: {}", transition.verb()), e))?;
                settle(&tx, id, &changed, transition.end_status(), &request_id).await?;
                tx.commit().await.context("commit transition")?;
                self.written.notify_one();
                Ok(TransitionOutcome::Applied)
            })
            .await
    }
}

#[async_trait]
impl Outbox for PgStore {
    /// Every replica on this database relays to `topic` under one lease, named by the topic.
    fn lease_of(&self, topic: &str) -> String {
        topic.to_owned()
    }

    async fn lease(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<Term>, RepoError> {
        self.db
            .run("lease", async {
                let client = self.db.client().await?;
                outbox::take_relay_lease()
                    .bind(&client, &name, &holder, &ttl.as_secs_f64())
                    .opt()
                    .await
                    .context("take relay lease")
            })
            .await
    }

    async fn release(&self, name: &str, holder: &str) -> Result<(), RepoError> {
        self.db
            .run("release", async {
                let client = self.db.client().await?;
                outbox::release_relay_lease()
                    .bind(&client, &name, &holder)
                    .await
                    .context("release relay lease")?;
                Ok(())
            })
            .await
    }

    async fn pending(&self, limit: usize, skip: &[i64]) -> Result<Vec<OrderEvent>, RepoError> {
        self.db
            .run("pending", async {
                let client = self.db.client().await?;
                let limit = i64::try_from(limit).unwrap_or(i64::MAX);
                let rows = outbox::pending_events()
                    .bind(&client, &skip, &limit)
                    .all()
                    .await
                    .context("read pending events")?;
                rows.into_iter()
                    .map(|row| {
                        Ok(OrderEvent {
                            position: row.seq,
                            event_id: row.event_id,
                            order_id: OrderId::try_from(row.order_id).stored("event order id")?,
                            status: row.status.parse().stored("event status")?,
                            moment: moment_of(row.moment_micros)?,
                            request_id: RequestId::parse(&row.request_id)
                                .ok_or_else(|| RepoError::msg("unusable request id stored"))?,
                            trace: row.traceparent.map(|traceparent| TraceContext {
                                traceparent,
                                tracestate: row.tracestate.unwrap_or_default(),
                            }),
                        })
                    })
                    .collect()
            })
            .await
    }

    async fn published_offsets(&self, lease: &str) -> Result<Offsets, RepoError> {
        self.db
            .run("published_offsets", async {
                let client = self.db.client().await?;
                let rows = outbox::relay_offsets()
                    .bind(&client, &lease)
                    .all()
                    .await
                    .context("read relay offsets")?;
                Ok(rows
                    .into_iter()
                    .map(|row| (row.partition, row.next_offset))
                    .collect())
            })
            .await
    }

    async fn mark_sent(
        &self,
        positions: &[i64],
        lease: &str,
        offsets: &Offsets,
    ) -> Result<(), RepoError> {
        self.db
            .run("mark_sent", async {
                let mut client = self.db.client().await?;
                let tx = client.transaction().await.context("begin")?;
                outbox::mark_events_sent()
                    .bind(&tx, &positions)
                    .all()
                    .await
                    .context("mark events sent")?;
                advance_offsets(&tx, lease, offsets).await?;
                tx.commit().await.context("commit sent events")
            })
            .await
    }

    async fn forget(
        &self,
        event_ids: &[String],
        lease: &str,
        offsets: &Offsets,
    ) -> Result<u64, RepoError> {
        self.db
            .run("forget", async {
                let mut client = self.db.client().await?;
                let tx = client.transaction().await.context("begin")?;
                // A record not of ours may carry anything: what is no UUID names no event here.
                let ids: Vec<uuid::Uuid> =
                    event_ids.iter().filter_map(|id| id.parse().ok()).collect();
                let taken = outbox::forget_published_events()
                    .bind(&tx, &ids)
                    .one()
                    .await
                    .context("forget published events")?;
                advance_offsets(&tx, lease, offsets).await?;
                tx.commit().await.context("commit forgotten events")?;
                u64::try_from(taken).stored("events taken out")
            })
            .await
    }

    fn written(&self) -> Arc<Notify> {
        self.written.clone()
    }

    async fn backlog(&self) -> Result<Backlog, RepoError> {
        self.db
            .run("backlog", async {
                let client = self.db.client().await?;
                let row = outbox::outbox_backlog()
                    .bind(&client)
                    .one()
                    .await
                    .context("read outbox backlog")?;
                Ok(Backlog {
                    pending: u64::try_from(row.pending).stored("pending events")?,
                    oldest: Duration::try_from_secs_f64(row.oldest_seconds.max(0.0))
                        .stored("oldest event age")?,
                })
            })
            .await
    }
}

/// Moves the offsets of `lease` forward to `offsets`, inside `tx`.
async fn advance_offsets(
    tx: &tokio_postgres::Transaction<'_>,
    lease: &str,
    offsets: &Offsets,
) -> Result<(), RepoError> {
    if offsets.is_empty() {
        return Ok(());
    }
    let (partitions, next): (Vec<i32>, Vec<i64>) = offsets.iter().unzip();
    outbox::advance_relay_offsets()
        .bind(tx, &lease, &partitions, &next)
        .await
        .context("advance relay offsets")?;
    Ok(())
}

/// What the storage suite sets and reads directly, with the queries of `queries/loms/testing.sql`:
/// no use case sets or reads a stock level that way.
#[cfg(any(test, feature = "testsuite"))]
#[async_trait]
impl crate::adapters::suite::TestStore for PgStore {
    async fn put_stock(&self, sku: Sku, stock: Stock) {
        let client = self.db.client().await.expect("a connection");
        let (total, reserved) = (to_i64(stock.total()), to_i64(stock.reserved()));
        let (total, reserved) = (total.expect("fits"), reserved.expect("fits"));
        loms_db::queries::testing::put_stock()
            .bind(&client, &i64::from(sku.get()), &total, &reserved)
            .one()
            .await
            .expect("stock put");
    }

    async fn stock_of(&self, sku: Sku) -> Option<Stock> {
        let client = self.db.client().await.expect("a connection");
        let levels = loms_db::queries::testing::stock_levels()
            .bind(&client, &i64::from(sku.get()))
            .opt()
            .await
            .expect("stock read")?;
        Some(to_stock(levels.total, levels.reserved).expect("a valid stock row"))
    }
}

#[async_trait]
impl StockRepo for PgStore {
    async fn available(&self, sku: Sku) -> Result<Option<u64>, RepoError> {
        self.db
            .run("available", async {
                let client = self.db.client().await?;
                let available = stocks::available_stock()
                    .bind(&client, &i64::from(sku.get()))
                    .opt()
                    .await
                    .context("read available stock")?;
                available
                    .map(|units| u64::try_from(units).stored("available stock"))
                    .transpose()
            })
            .await
    }
}
