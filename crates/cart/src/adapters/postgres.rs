//! Carts in PostgreSQL, through pgbouncer, with the queries cornucopia generated from `queries/cart`
//! (crate `cart_db`). Each port method is one statement, or one transaction owned here; every statement
//! runs prepared and cached per connection (one round trip).
//!
//! A user's `carts` row is never deleted, so its version only grows (see `migrations/cart`).
use std::time::Duration;

use async_trait::async_trait;
use cart_db::queries::carts;
use deadpool_postgres::Pool;
use platform::postgres::{is_unavailable, pool_unavailable, within, NoAnswer};
use tokio_postgres::error::SqlState;

use crate::domain::{CartItem, CartSnapshot, CartVersion, ItemCount, Sku, UserId};
use crate::ports::{CartRepo, RepoError};

/// The migrations of `migrations/cart`, embedded in the binary.
mod embedded {
    refinery::embed_migrations!("../../migrations/cart");
}

/// The CHECK that keeps a position at 65535 units or fewer.
const COUNT_CHECK: &str = "cart_items_count_check";

/// cart's storage in PostgreSQL.
#[derive(Clone)]
pub struct PgCartRepo {
    pool: Pool,
    /// The longest one port method may take ([`platform::postgres::within`]).
    timeout: Duration,
}

impl std::fmt::Debug for PgCartRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgCartRepo").finish_non_exhaustive()
    }
}

/// A database error, classified: unreachable, or failed.
fn db(error: tokio_postgres::Error) -> RepoError {
    if is_unavailable(&error) {
        RepoError::Unavailable(Box::new(error))
    } else {
        RepoError::Storage(Box::new(error))
    }
}

impl From<NoAnswer> for RepoError {
    fn from(stalled: NoAnswer) -> Self {
        Self::Unavailable(Box::new(stalled))
    }
}

/// A stored value that does not fit its domain type: the data is corrupt.
fn corrupt(error: impl std::error::Error + Send + Sync + 'static) -> RepoError {
    RepoError::Storage(Box::new(error))
}

impl PgCartRepo {
    pub fn new(pool: Pool, timeout: Duration) -> Self {
        Self { pool, timeout }
    }

    /// The embedded migrations, for [`platform::postgres::migrate`].
    pub fn migrations() -> refinery::Runner {
        embedded::migrations::runner()
    }

    /// Readiness: a statement goes through the pool and pgbouncer to the database and back.
    pub async fn ping(&self) -> Result<(), RepoError> {
        let client = self.client().await?;
        cart_db::queries::health::ping()
            .bind(&client)
            .one()
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, RepoError> {
        self.pool.get().await.map_err(|error| {
            if pool_unavailable(&error) {
                RepoError::Unavailable(Box::new(error))
            } else {
                RepoError::Storage(Box::new(error))
            }
        })
    }
}

fn sku_of(raw: i64) -> Result<Sku, RepoError> {
    let raw = u32::try_from(raw).map_err(corrupt)?;
    Sku::try_from(raw).map_err(corrupt)
}

#[async_trait]
impl CartRepo for PgCartRepo {
    async fn add_item(&self, user: UserId, sku: Sku, count: ItemCount) -> Result<(), RepoError> {
        within(self.timeout, async {
            let client = self.client().await?;
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
                Ok(_) => Ok(()),
                Err(error)
                    if error.as_db_error().is_some_and(|e| {
                        *e.code() == SqlState::CHECK_VIOLATION
                            && e.constraint() == Some(COUNT_CHECK)
                    }) =>
                {
                    Err(RepoError::CountOverflow(sku))
                }
                Err(error) => Err(db(error)),
            }
        })
        .await
    }

    async fn count(&self, user: UserId, sku: Sku) -> Result<u32, RepoError> {
        within(self.timeout, async {
            let client = self.client().await?;
            let count = carts::item_count()
                .bind(&client, &user.get(), &i64::from(sku.get()))
                .opt()
                .await
                .map_err(db)?;
            count.map_or(Ok(0), |c| u32::try_from(c).map_err(corrupt))
        })
        .await
    }

    async fn snapshot(&self, user: UserId) -> Result<CartSnapshot, RepoError> {
        within(self.timeout, async {
            let client = self.client().await?;
            let rows = carts::cart_snapshot()
                .bind(&client, &user.get())
                .all()
                .await
                .map_err(db)?;
            let version = rows
                .first()
                .map_or(Ok(0), |row| u64::try_from(row.version).map_err(corrupt))?;
            let items = rows
                .iter()
                .filter_map(|row| Some((row.sku?, row.count?)))
                .map(|(sku, count)| {
                    let count = u16::try_from(count)
                        .ok()
                        .and_then(ItemCount::new)
                        .ok_or_else(|| {
                            RepoError::Storage(format!("stored count {count}").into())
                        })?;
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
        within(self.timeout, async {
            let client = self.client().await?;
            carts::delete_item()
                .bind(&client, &user.get(), &i64::from(sku.get()))
                .all()
                .await
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn clear(&self, user: UserId) -> Result<(), RepoError> {
        within(self.timeout, async {
            let client = self.client().await?;
            carts::clear_cart()
                .bind(&client, &user.get())
                .all()
                .await
                .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn remove_ordered(
        &self,
        user: UserId,
        snapshot: &CartSnapshot,
    ) -> Result<bool, RepoError> {
        within(self.timeout, async {
            let version = i64::try_from(snapshot.version.0).map_err(corrupt)?;
            let mut client = self.client().await?;
            // One transaction: the mark and the subtraction happen together or not at all. The mark's row
            // lock makes a concurrent call with the same snapshot wait, then find it marked.
            let tx = client.transaction().await.map_err(db)?;
            // Prepared on the connection (its cache answers after the first time): one round trip each.
            let mark = carts::mark_checked_out().prepare(&tx).await.map_err(db)?;
            let subtract = carts::subtract_ordered().prepare(&tx).await.map_err(db)?;
            let marked = mark
                .bind(&tx, &version, &user.get())
                .opt()
                .await
                .map_err(db)?;
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
                .map_err(db)?;
            tx.commit().await.map_err(db)?;
            Ok(true)
        })
        .await
    }
}
