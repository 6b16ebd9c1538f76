//! In-memory cart storage: the zero-dependency default. Nothing survives a restart.
//!
//! One std mutex over all carts, held only for map operations and never across an `.await`; each
//! method is therefore atomic.
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;

use crate::domain::{CartItem, ItemCount, Sku, UserId};
use crate::ports::{CartRepo, RepoError};

/// Carts in process memory; a cart is a SKU-ordered map, so listing is sorted by construction.
#[derive(Debug, Default)]
pub struct MemoryCartRepo {
    carts: Mutex<HashMap<UserId, BTreeMap<Sku, ItemCount>>>,
}

impl MemoryCartRepo {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, BTreeMap<Sku, ItemCount>>> {
        // Every change below is a single map write, so a poisoned lock still guards consistent carts.
        self.carts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl CartRepo for MemoryCartRepo {
    async fn add_item(&self, user: UserId, sku: Sku, count: ItemCount) -> Result<(), RepoError> {
        let mut carts = self.lock();
        let cart = carts.entry(user).or_default();
        let total = match cart.get(&sku) {
            Some(current) => current
                .checked_add(count.get())
                .ok_or(RepoError::CountOverflow(sku))?,
            None => count,
        };
        cart.insert(sku, total);
        Ok(())
    }

    async fn count(&self, user: UserId, sku: Sku) -> Result<u32, RepoError> {
        Ok(self
            .lock()
            .get(&user)
            .and_then(|cart| cart.get(&sku))
            .map_or(0, |count| u32::from(count.get())))
    }

    async fn items(&self, user: UserId) -> Result<Vec<CartItem>, RepoError> {
        Ok(self.lock().get(&user).map_or_else(Vec::new, |cart| {
            cart.iter()
                .map(|(&sku, &count)| CartItem { sku, count })
                .collect()
        }))
    }

    async fn delete_item(&self, user: UserId, sku: Sku) -> Result<(), RepoError> {
        let mut carts = self.lock();
        if let Some(cart) = carts.get_mut(&user) {
            cart.remove(&sku);
            if cart.is_empty() {
                carts.remove(&user);
            }
        }
        Ok(())
    }

    async fn clear(&self, user: UserId) -> Result<(), RepoError> {
        self.lock().remove(&user);
        Ok(())
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
        let items = repo.items(user(1)).await.expect("read");
        let flat: Vec<_> = items.iter().map(|i| (i.sku.get(), i.count.get())).collect();
        assert_eq!(flat, vec![(3, 2), (9, 5)]);
        assert_eq!(repo.count(user(1), sku(9)).await.ok(), Some(5));
        assert_eq!(repo.count(user(1), sku(4)).await.ok(), Some(0));
    }

    #[tokio::test]
    async fn a_position_never_passes_65535() {
        let repo = MemoryCartRepo::default();
        repo.add_item(user(1), sku(1), count(65535))
            .await
            .expect("added");
        let result = repo.add_item(user(1), sku(1), count(1)).await;
        assert!(matches!(result, Err(RepoError::CountOverflow(_))));
        assert_eq!(repo.count(user(1), sku(1)).await.ok(), Some(65535));
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
        assert_eq!(repo.items(user(1)).await.expect("read").len(), 1);
        repo.clear(user(1)).await.expect("cleared");
        assert!(repo.items(user(1)).await.expect("read").is_empty());
    }
}
