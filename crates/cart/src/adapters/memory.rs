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
use crate::ports::{CartRepo, RepoError};

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
pub struct MemoryCartRepo {
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
    pub fn starting_at(first_version: u64) -> Self {
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
    async fn add_item(&self, user: UserId, sku: Sku, count: ItemCount) -> Result<(), RepoError> {
        self.change(user, |cart| {
            let total = match cart.items.get(&sku) {
                Some(current) => current
                    .checked_add(count.get())
                    .ok_or(RepoError::CountOverflow(sku))?,
                None => count,
            };
            cart.items.insert(sku, total);
            Ok((true, ()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::item_count;

    fn user(n: i64) -> UserId {
        UserId::try_from(n).expect("positive")
    }
    fn sku(n: u32) -> Sku {
        Sku::try_from(n).expect("positive")
    }
    fn count(n: u32) -> ItemCount {
        item_count(n).expect("valid")
    }
    async fn flat(repo: &MemoryCartRepo, u: i64) -> Vec<(u32, u16)> {
        let snapshot = repo.snapshot(user(u)).await.expect("read");
        snapshot
            .items
            .iter()
            .map(|i| (i.sku.get(), i.count.get()))
            .collect()
    }
    async fn version(repo: &MemoryCartRepo, u: i64) -> u64 {
        repo.snapshot(user(u)).await.expect("read").version.0
    }

    #[tokio::test]
    async fn counts_add_up_and_items_are_sorted() {
        let repo = MemoryCartRepo::default();
        repo.add_item(user(1), sku(9), count(1))
            .await
            .expect("added");
        repo.add_item(user(1), sku(3), count(2))
            .await
            .expect("added");
        repo.add_item(user(1), sku(9), count(4))
            .await
            .expect("added");
        repo.add_item(user(2), sku(3), count(1))
            .await
            .expect("added");
        assert_eq!(flat(&repo, 1).await, vec![(3, 2), (9, 5)]);
        assert_eq!(repo.count(user(1), sku(9)).await.ok(), Some(5));
        assert_eq!(repo.count(user(1), sku(4)).await.ok(), Some(0));
    }

    #[tokio::test]
    async fn a_position_never_passes_65535() {
        let repo = MemoryCartRepo::default();
        repo.add_item(user(1), sku(1), count(65535))
            .await
            .expect("added");
        let before = version(&repo, 1).await;
        let result = repo.add_item(user(1), sku(1), count(1)).await;
        assert!(matches!(result, Err(RepoError::CountOverflow(_))));
        assert_eq!(repo.count(user(1), sku(1)).await.ok(), Some(65535));
        assert_eq!(
            version(&repo, 1).await,
            before,
            "a refused change is no change"
        );
    }

    #[tokio::test]
    async fn delete_and_clear_are_fine_on_missing_things() {
        let repo = MemoryCartRepo::default();
        repo.delete_item(user(1), sku(1))
            .await
            .expect("nothing to delete");
        repo.clear(user(1)).await.expect("nothing to clear");
        repo.add_item(user(1), sku(1), count(1))
            .await
            .expect("added");
        repo.add_item(user(1), sku(2), count(1))
            .await
            .expect("added");
        repo.delete_item(user(1), sku(1)).await.expect("deleted");
        assert_eq!(flat(&repo, 1).await.len(), 1);
        repo.clear(user(1)).await.expect("cleared");
        assert!(flat(&repo, 1).await.is_empty());
    }

    #[tokio::test]
    async fn every_change_is_a_new_version_never_reused() {
        let repo = MemoryCartRepo::starting_at(100);
        assert_eq!(version(&repo, 1).await, 100);
        repo.add_item(user(1), sku(1), count(1))
            .await
            .expect("added");
        assert_eq!(version(&repo, 1).await, 101);
        repo.delete_item(user(1), sku(7))
            .await
            .expect("nothing to delete");
        assert_eq!(
            version(&repo, 1).await,
            101,
            "deleting nothing changes nothing"
        );
        repo.clear(user(1)).await.expect("cleared");
        assert_eq!(version(&repo, 1).await, 102);
        repo.add_item(user(1), sku(1), count(1))
            .await
            .expect("added");
        assert_eq!(
            version(&repo, 1).await,
            103,
            "an emptied cart keeps counting: the same content is a new state"
        );
        assert_eq!(version(&repo, 2).await, 100, "versions are per user");
    }

    #[tokio::test]
    async fn remove_ordered_takes_exactly_what_was_ordered_once() {
        let repo = MemoryCartRepo::starting_at(1);
        repo.add_item(user(1), sku(1), count(3))
            .await
            .expect("added");
        repo.add_item(user(1), sku(2), count(1))
            .await
            .expect("added");
        let snapshot = repo.snapshot(user(1)).await.expect("read");

        // meanwhile: more of sku 1, a new sku 3, sku 2 deleted
        repo.add_item(user(1), sku(1), count(2))
            .await
            .expect("added");
        repo.add_item(user(1), sku(3), count(1))
            .await
            .expect("added");
        repo.delete_item(user(1), sku(2)).await.expect("deleted");

        assert_eq!(
            repo.remove_ordered(user(1), &snapshot).await.ok(),
            Some(true)
        );
        assert_eq!(flat(&repo, 1).await, vec![(1, 2), (3, 1)]);
        assert_eq!(
            repo.remove_ordered(user(1), &snapshot).await.ok(),
            Some(false),
            "a second call with the same order removes nothing"
        );
        assert_eq!(flat(&repo, 1).await, vec![(1, 2), (3, 1)]);
    }

    #[tokio::test]
    async fn an_older_snapshot_removes_nothing_after_a_newer_one() {
        let repo = MemoryCartRepo::starting_at(1);
        repo.add_item(user(1), sku(1), count(1))
            .await
            .expect("added");
        let older = repo.snapshot(user(1)).await.expect("read");
        repo.add_item(user(1), sku(2), count(1))
            .await
            .expect("added");
        let newer = repo.snapshot(user(1)).await.expect("read");
        assert_eq!(repo.remove_ordered(user(1), &newer).await.ok(), Some(true));
        repo.add_item(user(1), sku(1), count(1))
            .await
            .expect("added again");
        // the newer order already took sku 1 of the older snapshot; the unit added since stays
        assert_eq!(repo.remove_ordered(user(1), &older).await.ok(), Some(false));
        assert_eq!(flat(&repo, 1).await, vec![(1, 1)]);
    }
}
