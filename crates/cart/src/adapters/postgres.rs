//! Carts in PostgreSQL, through pgbouncer, with the queries cornucopia generated from `queries/cart`
//! (crate `cart_db`). Each port method is one statement, or one transaction owned here; every statement
//! runs prepared and cached per connection (one round trip).
//!
//! A user's `carts` row is never deleted, so its version only grows (see `migrations/cart`).
use async_trait::async_trait;
use cart_db::queries::carts;
use storage::{violated, Context, Database, OpenError, RepoError, Stored};
use tokio_postgres::error::SqlState;

use crate::domain::{CartItem, CartSnapshot, CartVersion, ItemCount, Sku, UserId};
use crate::ports::{AddOutcome, CartRepo};

/// The migrations of `migrations/cart`, embedded in the binary.
mod embedded {
    refinery::embed_migrations!("../../migrations/cart");
}

/// The CHECK that keeps a position at 65535 units or fewer.
const COUNT_CHECK: &str = "cart_items_count_check";

/// cart's storage in PostgreSQL.
#[derive(Clone, Debug)]
pub struct PgCartRepo {
    db: Database,
}

impl PgCartRepo {
    /// The database of `settings`, with cart's migrations applied.
    pub async fn open(settings: &storage::PgSettings) -> Result<Self, OpenError> {
        let db = Database::open(settings, embedded::migrations::runner()).await?;
        Ok(Self { db })
    }

    /// Readiness ([`Database::ping`]).
    pub async fn ping(&self) -> Result<(), RepoError> {
        let ping = async |client: &_| cart_db::queries::health::ping().bind(client).one().await;
        self.db.ping(ping).await
    }
}

fn sku_of(raw: i64) -> Result<Sku, RepoError> {
    let raw = u32::try_from(raw).stored("sku")?;
    Sku::try_from(raw).stored("sku")
}

#[async_trait]
impl CartRepo for PgCartRepo {
    async fn add_item(
        &self,
        user: UserId,
        sku: Sku,
        count: ItemCount,
    ) -> Result<AddOutcome, RepoError> {
        self.db
            .run("add_item", async {
                let client = self.db.client().await?;
                let added = carts::add_item()
                    .bind(
                        &client,
                        &user.get(),
                        &i64::from(sku.get()),
                        &i32::from(count.get()),
                    )
                    .one()
                    .await;
                match added {
                    Ok(_) => Ok(AddOutcome::Added),
                    Err(error) if violated(&error, &SqlState::CHECK_VIOLATION, COUNT_CHECK) => {
                        Ok(AddOutcome::TooManyUnits)
                    }
                    Err(error) => Err(error).context("add item"),
                }
            })
            .await
    }

    async fn count(&self, user: UserId, sku: Sku) -> Result<u32, RepoError> {
        self.db
            .run("count", async {
                let client = self.db.client().await?;
                let count = carts::item_count()
                    .bind(&client, &user.get(), &i64::from(sku.get()))
                    .opt()
                    .await
                    .context("read count")?;
                count.map_or(Ok(0), |c| u32::try_from(c).stored("count"))
            })
            .await
    }

    async fn snapshot(&self, user: UserId) -> Result<CartSnapshot, RepoError> {
        self.db
            .run("snapshot", async {
                let client = self.db.client().await?;
                let rows = carts::cart_snapshot()
                    .bind(&client, &user.get())
                    .all()
                    .await
                    .context("read cart")?;
                let version = rows
                    .first()
                    .map_or(Ok(0), |row| u64::try_from(row.version).stored("version"))?;
                let items = rows
                    .iter()
                    .filter_map(|row| Some((row.sku?, row.count?)))
                    .map(|(sku, count)| {
                        let count = u16::try_from(count)
                            .ok()
                            .and_then(ItemCount::new)
                            .ok_or_else(|| RepoError::msg(format!("stored count {count}")))?;
                        Ok(CartItem {
                            sku: sku_of(sku)?,
                            count,
                        })
                    })
                    .collect::<Result<Vec<_>, RepoError>>()?;
                Ok(CartSnapshot {
                    items,
                    version: CartVersion(version),
                })
            })
            .await
    }

    async fn delete_item(&self, user: UserId, sku: Sku) -> Result<(), RepoError> {
        self.db
            .run("delete_item", async {
                let client = self.db.client().await?;
                carts::delete_item()
                    .bind(&client, &user.get(), &i64::from(sku.get()))
                    .all()
                    .await
                    .context("delete item")?;
                Ok(())
            })
            .await
    }

    async fn clear(&self, user: UserId) -> Result<(), RepoError> {
        self.db
            .run("clear", async {
                let client = self.db.client().await?;
                carts::clear_cart()
                    .bind(&client, &user.get())
                    .all()
                    .await
                    .context("clear cart")?;
                Ok(())
            })
            .await
    }

    async fn remove_ordered(
        &self,
        user: UserId,
        snapshot: &CartSnapshot,
    ) -> Result<bool, RepoError> {
        self.db
            .run("remove_ordered", async {
                let version = i64::try_from(snapshot.version.0).stored("version")?;
                let mut client = self.db.client().await?;
                // One transaction: the mark and the subtraction happen together or not at all. The mark's row
                // lock makes a concurrent call with the same snapshot wait, then find it marked.
                let tx = client.transaction().await.context("begin")?;
                // Prepared on the connection (its cache answers after the first time): one round trip each.
                let mark = carts::mark_checked_out()
                    .prepare(&tx)
                    .await
                    .context("prepare mark")?;
                let subtract = carts::subtract_ordered()
                    .prepare(&tx)
                    .await
                    .context("prepare subtract")?;
                let marked = mark
                    .bind(&tx, &version, &user.get())
                    .opt()
                    .await
                    .context("mark checked out")?;
                if marked.is_none() {
                    return Ok(false);
                }
                let (skus, counts): (Vec<i64>, Vec<i32>) = snapshot
                    .items
                    .iter()
                    .map(|item| (i64::from(item.sku.get()), i32::from(item.count.get())))
                    .unzip();
                subtract
                    .bind(&tx, &skus, &counts, &user.get())
                    .all()
                    .await
                    .context("subtract ordered")?;
                tx.commit().await.context("commit checkout")?;
                Ok(true)
            })
            .await
    }
}
