//! cart's domain: what a cart holds and what a listed cart shows.
use std::num::NonZeroU16;
use std::ops::RangeInclusive;

use route256_proto::cart::limits::add_item_request;

pub use route256_proto::ids::{NotPositive, OrderId, Sku, UserId};

/// Units of one SKU in a cart: within AddItem's `count` rule (1 to 65535), which one order position
/// can take too.
pub(crate) type ItemCount = NonZeroU16;

/// AddItem's `count` rule, from the contract.
const COUNT: RangeInclusive<u32> = add_item_request::COUNT_GTE..=add_item_request::COUNT_LTE;
const _: () = assert!(
    add_item_request::COUNT_GTE >= 1 && add_item_request::COUNT_LTE <= u16::MAX as u32,
    "ItemCount holds every count AddItem's rule allows"
);

/// A request that cannot be served as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidRequest {
    #[error(transparent)]
    NotPositive(#[from] NotPositive),
    #[error("count must be {min} to {max}, got {0}", min = COUNT.start(), max = COUNT.end())]
    Count(u32),
}

/// Parses a wire count.
pub fn item_count(count: u32) -> Result<ItemCount, InvalidRequest> {
    COUNT
        .contains(&count)
        .then(|| u16::try_from(count).ok().and_then(NonZeroU16::new))
        .flatten()
        .ok_or(InvalidRequest::Count(count))
}

/// The version of a user's cart: it grows with every change of the cart and is never reused for the
/// user, so (user, version) names one cart state. Checkout derives loms's idempotency key from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct CartVersion(pub u64);

impl std::fmt::Display for CartVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// A cart as read in one step: its items, sorted by SKU, and the version they are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CartSnapshot {
    pub(crate) items: Vec<CartItem>,
    pub(crate) version: CartVersion,
}

/// loms's idempotency key for checking out one cart state: `cart:<user>:<version>`, at most 45
/// printable ASCII characters (loms takes 64). Every checkout of the same state sends the same key, so
/// loms creates one order for it however many calls, retries and cart replicas race.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OrderKey(String);

impl OrderKey {
    pub(crate) fn for_checkout(user: UserId, version: CartVersion) -> Self {
        Self(format!("cart:{user}:{version}"))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// One cart position as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CartItem {
    pub(crate) sku: Sku,
    pub(crate) count: ItemCount,
}

/// A catalogue entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Product {
    pub(crate) name: String,
    pub(crate) price: u32,
}

/// One listed position: the stored item with its live catalogue data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CartLine {
    pub(crate) item: CartItem,
    pub(crate) product: Product,
}

/// A listed cart: lines sorted by SKU and their total price.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CartView {
    pub(crate) lines: Vec<CartLine>,
    pub(crate) total_price: u32,
}

impl CartView {
    /// Sorts the lines by SKU and sums `price × count`; `None` when the total does not fit 32 bits.
    pub(crate) fn new(mut lines: Vec<CartLine>) -> Option<Self> {
        lines.sort_by_key(|line| line.item.sku);
        let total = lines.iter().try_fold(0u32, |sum, line| {
            line.product
                .price
                .checked_mul(u32::from(line.item.count.get()))
                .and_then(|cost| sum.checked_add(cost))
        })?;
        Some(Self {
            lines,
            total_price: total,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(sku: u32, count: u32, price: u32) -> CartLine {
        CartLine {
            item: CartItem {
                sku: Sku::try_from(sku).expect("positive"),
                count: item_count(count).expect("valid"),
            },
            product: Product {
                name: format!("p{sku}"),
                price,
            },
        }
    }

    #[test]
    fn view_sorts_by_sku_and_totals() {
        let view = CartView::new(vec![line(9, 2, 100), line(3, 1, 42)]).expect("fits");
        let skus: Vec<u32> = view.lines.iter().map(|l| l.item.sku.get()).collect();
        assert_eq!(skus, vec![3, 9]);
        assert_eq!(view.total_price, 242);
    }

    #[test]
    fn view_refuses_a_total_over_32_bits() {
        assert!(CartView::new(vec![line(1, 65535, 65537), line(2, 65535, 65537)]).is_none());
    }

    #[test]
    fn order_keys_name_the_user_and_version_and_fit_loms() {
        let user = UserId::try_from(i64::MAX).expect("positive");
        let key = OrderKey::for_checkout(user, CartVersion(u64::MAX));
        assert_eq!(key.as_str(), format!("cart:{}:{}", i64::MAX, u64::MAX));
        assert!(key.as_str().len() <= 64);
        assert_ne!(
            OrderKey::for_checkout(user, CartVersion(1)),
            OrderKey::for_checkout(user, CartVersion(2))
        );
    }

    #[test]
    fn counts_are_1_to_65535() {
        assert_eq!(item_count(0), Err(InvalidRequest::Count(0)));
        assert_eq!(item_count(65536), Err(InvalidRequest::Count(65536)));
        assert_eq!(item_count(65535).map(NonZeroU16::get), Ok(65535));
    }
}
