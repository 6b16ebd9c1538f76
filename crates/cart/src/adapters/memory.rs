//! In-memory cart storage: the zero-dependency default. Nothing survives a restart, and each process
//! has carts of its own, so it suits one cart replica; several replicas need the PostgreSQL storage.
//!
//! One std mutex over all carts, held only for map operations and never across an `.await`; each
//! method is therefore atomic.
//!
//! Versions: a user's cart is kept (empty) after it is emptied, so its version never goes back. A new
//! store starts every cart at the microseconds since the Unix epoch at its creation, so a restarted
//! process does not hand out a version (and with it a checkout key loms remembers) that the previous
//! process already used — unless a single cart changed more than once per microsecond between the two
//! starts.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::domain::{CartItem, CartSnapshot, CartVersion, ItemCount, Sku, UserId};
use crate::ports::{AddOutcome, CartRepo, RepoError};

/// One user's cart: a SKU-ordered map, so listing is sorted by construction.
#[derive(Debug)]
struct UserCart {
    items: BTreeMap<Sku, ItemCount>,
    version: u64,
    /// The latest version whose ordered items were removed (0: none yet).
    checked_out: u64,
}

/// Carts in process memory.
#[derive(Debug)]
pub(crate) struct MemoryCartRepo {
    carts: Mutex<HashMap<UserId, UserCart>>,
    first_version: u64,
}

impl Default for MemoryCartRepo {
    fn default() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_micros()).unwrap_or(u64::MAX / 2)
            });
        Self::starting_at(now.max(1))
    }
}

impl MemoryCartRepo {
    /// A store whose carts start at `first_version`.
    pub(crate) fn starting_at(first_version: u64) -> Self {
        Self {
            carts: Mutex::new(HashMap::new()),
            first_version,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, UserCart>> {
        // Every change below is validated before it writes, so a poisoned lock still guards consistent
        // carts.
        self.carts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `change` on the user's cart and, when it reports a change, gives the cart a new version.
    fn change<T>(
        &self,
        user: UserId,
        change: impl FnOnce(&mut UserCart) -> Result<(bool, T), RepoError>,
    ) -> Result<T, RepoError> {
        let mut carts = self.lock();
        let cart = carts.entry(user).or_insert_with(|| UserCart {
            items: BTreeMap::new(),
            version: self.first_version,
            checked_out: 0,
        });
        let (changed, result) = change(cart)?;
        if changed {
            cart.version += 1;
        }
        Ok(result)
    }
}

#[async_trait]
impl CartRepo for MemoryCartRepo {
    async fn add_item(
        &self,
        user: UserId,
        sku: Sku,
        count: ItemCount,
    ) -> Result<AddOutcome, RepoError> {
        self.change(user, |cart| {
            let total = match cart.items.get(&sku) {
                Some(current) => match current.checked_add(count.get()) {
                    Some(total) => total,
                    None => return Ok((false, AddOutcome::TooManyUnits)),
                },
                None => count,
            };
            cart.items.insert(sku, total);
            Ok((true, AddOutcome::Added))
        })
    }

    async fn count(&self, user: UserId, sku: Sku) -> Result<u32, RepoError> {
        Ok(self
            .lock()
            .get(&user)
            .and_then(|cart| cart.items.get(&sku))
            .map_or(0, |count| u32::from(count.get())))
    }

    async fn snapshot(&self, user: UserId) -> Result<CartSnapshot, RepoError> {
        let carts = self.lock();
        Ok(match carts.get(&user) {
            Some(cart) => CartSnapshot {
                items: cart
                    .items
                    .iter()
                    .map(|(&sku, &count)| CartItem { sku, count })
                    .collect(),
                version: CartVersion(cart.version),
            },
            None => CartSnapshot {
                items: Vec::new(),
                version: CartVersion(self.first_version),
            },
        })
    }

    async fn delete_item(&self, user: UserId, sku: Sku) -> Result<(), RepoError> {
        self.change(user, |cart| Ok((cart.items.remove(&sku).is_some(), ())))
    }

    async fn clear(&self, user: UserId) -> Result<(), RepoError> {
        self.change(user, |cart| {
            let changed = !cart.items.is_empty();
            cart.items.clear();
            Ok((changed, ()))
        })
    }

    async fn remove_ordered(
        &self,
        user: UserId,
        snapshot: &CartSnapshot,
    ) -> Result<bool, RepoError> {
        self.change(user, |cart| {
            if snapshot.version.0 <= cart.checked_out {
                return Ok((false, false));
            }
            cart.checked_out = snapshot.version.0;
            for ordered in &snapshot.items {
                if let Some(count) = cart.items.get(&ordered.sku).copied() {
                    match ItemCount::new(count.get().saturating_sub(ordered.count.get())) {
                        Some(left) => cart.items.insert(ordered.sku, left),
                        None => cart.items.remove(&ordered.sku),
                    };
                }
            }
            Ok((true, true))
        })
    }
}

/// The shared storage suite on a fresh in-memory store per case.
#[cfg(test)]
mod suite {
    use super::MemoryCartRepo;

    crate::cart_storage_suite!(async { (MemoryCartRepo::default(), ()) }, |()| ());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::item_count;

    #[tokio::test]
    async fn versions_start_where_the_store_says_and_survive_emptying() {
        let repo = MemoryCartRepo::starting_at(100);
        let user = UserId::try_from(1).expect("positive");
        let sku = Sku::try_from(1).expect("positive");
        assert_eq!(repo.snapshot(user).await.expect("read").version.0, 100);
        repo.add_item(user, sku, item_count(1).expect("valid"))
            .await
            .expect("added");
        repo.clear(user).await.expect("cleared");
        assert_eq!(repo.snapshot(user).await.expect("read").version.0, 102);
    }
}
