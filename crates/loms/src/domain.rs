//! loms's domain: order items, order statuses and their transitions, stock.
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::num::NonZeroU16;
use std::ops::RangeInclusive;
use std::sync::LazyLock;

use route256_proto::loms as pb;
use route256_proto::loms::limits::{item, order_create_request, order_status_changed};

pub use route256_proto::ids::{NotPositive, OrderId, Sku, UserId};

/// An order position's `count` rule, from the contract.
const COUNT: RangeInclusive<u32> = item::COUNT_GTE..=item::COUNT_LTE;
const _: () = assert!(
    item::COUNT_GTE >= 1 && item::COUNT_LTE <= u16::MAX as u32,
    "an Item's count holds every count the rule allows"
);

/// A request that no order can be made of.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrder {
    #[error(transparent)]
    NotPositive(#[from] NotPositive),
    #[error("item count must be {min} to {max}, got {0}", min = COUNT.start(), max = COUNT.end())]
    Count(u32),
    #[error("an order needs at least one item")]
    NoItems,
    #[error("sku {0} adds up to more than {max} units", max = COUNT.end())]
    TooManyUnits(Sku),
    #[error(
        "idempotency key must be at most {max} printable ASCII characters",
        max = IdempotencyKey::MAX_LEN
    )]
    IdempotencyKey,
}

/// One order position: a SKU and its units, within the contract's `count` rule (1 to 65535).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Item {
    pub(crate) sku: Sku,
    pub(crate) count: NonZeroU16,
}

impl Item {
    /// Parses wire values.
    pub fn new(sku: u32, count: u32) -> Result<Self, InvalidOrder> {
        let count = position_count(u64::from(count)).ok_or(InvalidOrder::Count(count))?;
        Ok(Self {
            sku: Sku::try_from(sku)?,
            count,
        })
    }

    /// The count as the stock counts it.
    pub(crate) fn units(&self) -> u64 {
        u64::from(self.count.get())
    }
}

/// `units` as one position's count, if the contract's `count` rule allows it.
fn position_count(units: u64) -> Option<NonZeroU16> {
    u32::try_from(units)
        .ok()
        .filter(|count| COUNT.contains(count))
        .and_then(|count| u16::try_from(count).ok())
        .and_then(NonZeroU16::new)
}

/// An order's positions: at least one, one per SKU, sorted by SKU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderItems(Vec<Item>);

impl OrderItems {
    /// Merges items of the same SKU and sorts them; the merged count must still fit one position.
    ///
    /// Counts are summed in `u64`: even the most items a request may carry cannot overflow it, so the
    /// limit is checked on the true sum, never on a wrapped one.
    pub fn new(items: impl IntoIterator<Item = Item>) -> Result<Self, InvalidOrder> {
        let mut merged: BTreeMap<Sku, u64> = BTreeMap::new();
        for item in items {
            let sum = merged.entry(item.sku).or_default();
            *sum = sum.saturating_add(item.units());
        }
        if merged.is_empty() {
            return Err(InvalidOrder::NoItems);
        }
        merged
            .into_iter()
            .map(|(sku, units)| {
                let count = position_count(units).ok_or(InvalidOrder::TooManyUnits(sku))?;
                Ok(Item { sku, count })
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Item> {
        self.0.iter()
    }

    /// Positions as given, not merged: for tests of code that must not rely on the merging.
    #[cfg(test)]
    pub(crate) fn unmerged(items: Vec<Item>) -> Self {
        Self(items)
    }
}

/// A caller's name for one OrderCreate, so that a retry returns the first answer instead of ordering
/// again: 1 to 64 printable ASCII characters (space to `~`), as the contract's rules of
/// `idempotency_key` say. Keys are per user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// The rule's `max_len`: characters, which the pattern makes bytes too.
    pub(crate) const MAX_LEN: usize = order_create_request::IDEMPOTENCY_KEY_MAX_LEN as usize;

    /// Parses the wire value: empty means the caller gave no key.
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidOrder> {
        /// The rule's `pattern`, compiled once.
        static PATTERN: LazyLock<regex::Regex> = LazyLock::new(|| {
            regex::Regex::new(order_create_request::IDEMPOTENCY_KEY_PATTERN)
                .expect("the contract's pattern compiles: its validator uses it too")
        });
        if raw.is_empty() {
            return Ok(None);
        }
        if raw.chars().count() > Self::MAX_LEN || !PATTERN.is_match(raw) {
            return Err(InvalidOrder::IdempotencyKey);
        }
        Ok(Some(Self(raw.to_owned())))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an order is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OrderStatus {
    New,
    AwaitingPayment,
    Failed,
    Payed,
    Cancelled,
}

impl OrderStatus {
    /// The course's name of the status, as events and logs spell it (the contract crate's table).
    pub(crate) fn as_str(self) -> &'static str {
        pb::OrderStatus::from(self).course_name()
    }
}

/// The contract's enum value of each status.
impl From<OrderStatus> for pb::OrderStatus {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::New => Self::New,
            OrderStatus::AwaitingPayment => Self::AwaitingPayment,
            OrderStatus::Failed => Self::Failed,
            OrderStatus::Payed => Self::Payed,
            OrderStatus::Cancelled => Self::Cancelled,
        }
    }
}

impl std::str::FromStr for OrderStatus {
    type Err = UnknownStatus;

    /// Parses the course's name of a status, as [`OrderStatus::as_str`] writes it.
    fn from_str(name: &str) -> Result<Self, UnknownStatus> {
        [
            Self::New,
            Self::AwaitingPayment,
            Self::Failed,
            Self::Payed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|status| status.as_str() == name)
        .ok_or_else(|| UnknownStatus(name.to_owned()))
    }
}

/// A stored status that is none of the known ones.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status {0:?}")]
pub struct UnknownStatus(pub String);

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a transition does to the order's reserved stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StockEffect {
    /// The goods leave the warehouse: total and reserved both drop.
    WriteOff,
    /// The reservation is given back: reserved drops.
    Release,
}

/// A transition a caller can ask for on an order reserved and awaiting payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    Pay,
    Cancel,
}

impl Transition {
    /// The one status the transition starts from.
    pub(crate) fn start_status(self) -> OrderStatus {
        OrderStatus::AwaitingPayment
    }

    /// The status the transition ends in; asking again once there is a no-op.
    pub(crate) fn end_status(self) -> OrderStatus {
        match self {
            Self::Pay => OrderStatus::Payed,
            Self::Cancel => OrderStatus::Cancelled,
        }
    }

    pub(crate) fn stock_effect(self) -> StockEffect {
        match self {
            Self::Pay => StockEffect::WriteOff,
            Self::Cancel => StockEffect::Release,
        }
    }

    /// The verb, for messages.
    pub(crate) fn verb(self) -> &'static str {
        match self {
            Self::Pay => "pay",
            Self::Cancel => "cancel",
        }
    }
}

/// Who acts on orders, from the caller's token (`grpc.rs`): whose orders a call may read and change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A user: reads and changes their own orders; with the support role, reads anyone's too.
    User { id: UserId, support: bool },
    /// Nobody was authenticated (a benchmark's baseline): every order is everyone's.
    Anyone,
}

impl Actor {
    /// Whether the actor may read an order of `owner`.
    pub fn may_read(&self, owner: UserId) -> bool {
        match *self {
            Self::User { id, support } => support || id == owner,
            Self::Anyone => true,
        }
    }

    /// Whether the actor may pay or cancel an order of `owner`: its owner only, support staff too.
    pub fn may_change(&self, owner: UserId) -> bool {
        match *self {
            Self::User { id, .. } => id == owner,
            Self::Anyone => true,
        }
    }
}

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    pub id: OrderId,
    pub(crate) user: UserId,
    pub status: OrderStatus,
    pub(crate) items: OrderItems,
    /// The key the order was created with, if any.
    pub(crate) idempotency_key: Option<IdempotencyKey>,
}

/// A breach of the stock invariant `reserved ≤ total` was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stock of {units} units cannot be {action}: total {total}, reserved {reserved}")]
pub struct StockError {
    pub(crate) action: &'static str,
    pub(crate) units: u64,
    pub(crate) total: u64,
    pub(crate) reserved: u64,
}

/// The warehouse's count of one SKU. Every change keeps `0 ≤ reserved ≤ total`, or is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stock {
    total: u64,
    reserved: u64,
}

impl Stock {
    pub fn new(total: u64, reserved: u64) -> Result<Self, StockError> {
        if reserved > total {
            return Err(StockError {
                action: "seeded",
                units: reserved,
                total,
                reserved,
            });
        }
        Ok(Self { total, reserved })
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn reserved(&self) -> u64 {
        self.reserved
    }

    /// Units free to reserve.
    pub(crate) fn available(&self) -> u64 {
        self.total - self.reserved
    }

    pub(crate) fn reserve(&mut self, units: u64) -> Result<(), StockError> {
        if units > self.available() {
            return Err(self.error("reserved", units));
        }
        self.reserved += units;
        Ok(())
    }

    /// Applies a transition's effect to `units` reserved units.
    pub(crate) fn apply(&mut self, effect: StockEffect, units: u64) -> Result<(), StockError> {
        if units > self.reserved {
            return Err(self.error("unreserved", units));
        }
        self.reserved -= units;
        if effect == StockEffect::WriteOff {
            self.total -= units;
        }
        Ok(())
    }

    fn error(&self, action: &'static str, units: u64) -> StockError {
        StockError {
            action,
            units,
            total: self.total,
            reserved: self.reserved,
        }
    }
}

/// The stock levels after reserving every item, or the first SKU that is unknown or short.
///
/// Every store reserves through this: it reads (and in a database locks) the current levels, asks
/// here, and writes the result only when every item fits — all or nothing by construction. Units are
/// summed per SKU as they are reserved, so the answer is right even for positions that repeat a SKU.
pub(crate) fn reserve_items(
    items: &OrderItems,
    current: impl Fn(Sku) -> Option<Stock>,
) -> Result<HashMap<Sku, Stock>, Sku> {
    let mut changed: HashMap<Sku, Stock> = HashMap::new();
    for item in items.iter() {
        let stock = match changed.entry(item.sku) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => entry.insert(current(item.sku).ok_or(item.sku)?),
        };
        stock.reserve(item.units()).map_err(|_| item.sku)?;
    }
    Ok(changed)
}

/// A reserved order's stock cannot be settled: the stored data breaks an invariant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SettleError {
    #[error("sku {0} of a reserved order has no stock")]
    NoStock(Sku),
    #[error(transparent)]
    Stock(#[from] StockError),
}

/// The stock levels after applying a transition's `effect` to the reservation of every item: like
/// [`reserve_items`], computed first, written by the store only when every item succeeded.
pub(crate) fn settle_items(
    items: &OrderItems,
    effect: StockEffect,
    current: impl Fn(Sku) -> Option<Stock>,
) -> Result<HashMap<Sku, Stock>, SettleError> {
    let mut changed: HashMap<Sku, Stock> = HashMap::new();
    for item in items.iter() {
        let stock = match changed.entry(item.sku) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                entry.insert(current(item.sku).ok_or(SettleError::NoStock(item.sku))?)
            }
        };
        stock.apply(effect, item.units())?;
    }
    Ok(changed)
}

/// The id of the call that caused a change — the `x-request-id` every server call carries, or one the
/// auto-cancel makes for itself — kept with the change's event so a notification can be traced back to
/// the call: 1 to 128 visible ASCII characters, as the server accepts them.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub(crate) const MAX_LEN: usize = order_status_changed::REQUEST_ID_MAX_LEN as usize;

    /// A caller's id, if it is one.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let usable =
            (1..=Self::MAX_LEN).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
        usable.then(|| Self(raw.to_owned()))
    }

    /// A fresh id for a change no call asked for (`<origin>-<uuid>`), or a call that came without one.
    pub fn fresh(origin: &str) -> Self {
        Self(format!("{origin}-{}", uuid::Uuid::new_v4().simple()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One status change of one order, as the outbox keeps it for the relay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderEvent {
    /// The event's place in the outbox. Two changes of one order are made one after the other (each
    /// holds the order), so their positions follow the order of the changes.
    pub(crate) position: i64,
    /// Unique, and the same every time the event is sent again: what consumers de-duplicate on.
    pub(crate) event_id: String,
    pub(crate) order_id: OrderId,
    pub(crate) status: OrderStatus,
    /// When the change was made, to the microsecond.
    pub(crate) moment: std::time::SystemTime,
    pub(crate) request_id: RequestId,
    /// The trace context of the change (the span that wrote it), when a trace was exported: the relay
    /// publishes the event in that trace.
    pub(crate) trace: Option<telemetry::trace_context::TraceContext>,
}

impl OrderEvent {
    /// The trace context an event written now carries: the current span's. Read where the change is
    /// written (a storage operation's span, within the call's), not passed down: what a trace follows is
    /// the work in progress, which tracing knows.
    pub(crate) fn trace_now() -> Option<telemetry::trace_context::TraceContext> {
        telemetry::trace_context::of(&tracing::Span::current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(sku: u32, count: u32) -> Item {
        Item::new(sku, count).expect("valid item")
    }

    #[test]
    fn item_counts_are_1_to_65535() {
        assert_eq!(Item::new(1, 0), Err(InvalidOrder::Count(0)));
        assert_eq!(Item::new(1, 65536), Err(InvalidOrder::Count(65536)));
        assert!(Item::new(0, 1).is_err());
        assert_eq!(item(1, 65535).units(), 65535);
    }

    #[test]
    fn order_items_merge_and_sort_by_sku() {
        let items = OrderItems::new([item(9, 1), item(3, 2), item(9, 4)]).expect("valid");
        let flat: Vec<_> = items.iter().map(|i| (i.sku.get(), i.units())).collect();
        assert_eq!(flat, vec![(3, 2), (9, 5)]);
    }

    #[test]
    fn order_items_refuse_empty_and_overfull_positions() {
        assert_eq!(OrderItems::new([]), Err(InvalidOrder::NoItems));
        let sku = Sku::try_from(5).expect("positive");
        assert_eq!(
            OrderItems::new([item(5, 65535), item(5, 1)]),
            Err(InvalidOrder::TooManyUnits(sku))
        );
    }

    #[test]
    fn merged_counts_are_summed_without_wrapping() {
        // 65,538 positions of 65535 units sum to 2^32 + 65534: a u32 sum would wrap around to 65534,
        // a count that fits (and panic in a debug build). The request allows 1000 positions; the domain
        // must not rely on that.
        let sku = Sku::try_from(5).expect("positive");
        let many = std::iter::repeat_n(item(5, 65535), 65_538);
        assert_eq!(OrderItems::new(many), Err(InvalidOrder::TooManyUnits(sku)));
    }

    #[test]
    fn idempotency_keys_are_short_printable_ascii() {
        assert_eq!(IdempotencyKey::parse(""), Ok(None));
        let key = IdempotencyKey::parse("cart:7:42")
            .expect("valid")
            .expect("some");
        assert_eq!(key.as_str(), "cart:7:42");
        assert!(IdempotencyKey::parse(&"k".repeat(64)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(65)),
            Err(InvalidOrder::IdempotencyKey)
        );
        assert_eq!(
            IdempotencyKey::parse("tab\there"),
            Err(InvalidOrder::IdempotencyKey)
        );
        assert_eq!(
            IdempotencyKey::parse("ключ"),
            Err(InvalidOrder::IdempotencyKey)
        );
    }

    #[test]
    fn stock_never_reserves_more_than_available() {
        let mut stock = Stock::new(10, 4).expect("valid");
        assert!(stock.reserve(7).is_err());
        assert_eq!((stock.total(), stock.reserved()), (10, 4));
        stock.reserve(6).expect("fits");
        assert_eq!(stock.available(), 0);
    }

    #[test]
    fn write_off_drops_total_and_reserved_release_only_reserved() {
        let mut stock = Stock::new(10, 5).expect("valid");
        stock.apply(StockEffect::WriteOff, 2).expect("reserved");
        assert_eq!((stock.total(), stock.reserved()), (8, 3));
        stock.apply(StockEffect::Release, 3).expect("reserved");
        assert_eq!((stock.total(), stock.reserved()), (8, 0));
        assert!(stock.apply(StockEffect::Release, 1).is_err());
        assert!(Stock::new(1, 2).is_err());
    }

    #[test]
    fn repeated_skus_are_reserved_together_or_not_at_all() {
        // OrderItems merges SKUs, but reservation must not rely on it: 4 + 5 units of sku 1 do not fit
        // the 8 available although each does on its own.
        let sku = Sku::try_from(1).expect("positive");
        let stock = |s: Sku| (s == sku).then(|| Stock::new(10, 2).expect("valid"));
        let repeated = OrderItems::unmerged(vec![item(1, 4), item(1, 5)]);
        assert_eq!(reserve_items(&repeated, stock), Err(sku));
        let fits = OrderItems::unmerged(vec![item(1, 4), item(1, 4)]);
        let changed = reserve_items(&fits, stock).expect("fits");
        assert_eq!(changed.get(&sku), Stock::new(10, 10).ok().as_ref());
    }

    #[test]
    fn reserving_an_unknown_or_short_sku_names_it() {
        let known = Sku::try_from(1).expect("positive");
        let stock = |s: Sku| (s == known).then(|| Stock::new(3, 0).expect("valid"));
        let unknown = OrderItems::new([item(1, 1), item(2, 1)]).expect("valid");
        assert_eq!(
            reserve_items(&unknown, stock),
            Err(Sku::try_from(2).expect("positive"))
        );
        let short = OrderItems::new([item(1, 4)]).expect("valid");
        assert_eq!(reserve_items(&short, stock), Err(known));
    }

    #[test]
    fn settling_writes_off_or_releases_every_item() {
        let stock = |s: Sku| Some(Stock::new(10, u64::from(s.get()) * 2).expect("valid"));
        let items = OrderItems::new([item(1, 2), item(2, 3)]).expect("valid");
        let paid = settle_items(&items, StockEffect::WriteOff, stock).expect("reserved");
        let one = Sku::try_from(1).expect("positive");
        assert_eq!(paid.get(&one), Stock::new(8, 0).ok().as_ref());
        let released = settle_items(&items, StockEffect::Release, stock).expect("reserved");
        assert_eq!(released.get(&one), Stock::new(10, 0).ok().as_ref());
        let unreserved = OrderItems::new([item(1, 3)]).expect("valid");
        assert!(matches!(
            settle_items(&unreserved, StockEffect::Release, stock),
            Err(SettleError::Stock(_))
        ));
        assert_eq!(
            settle_items(&items, StockEffect::Release, |_| None),
            Err(SettleError::NoStock(one))
        );
    }

    #[test]
    fn transitions_start_awaiting_payment() {
        assert_eq!(Transition::Pay.start_status(), OrderStatus::AwaitingPayment);
        assert_eq!(Transition::Cancel.end_status(), OrderStatus::Cancelled);
        assert_eq!(Transition::Pay.stock_effect(), StockEffect::WriteOff);
        assert_eq!(OrderStatus::AwaitingPayment.to_string(), "awaiting payment");
        assert_eq!("awaiting payment".parse(), Ok(OrderStatus::AwaitingPayment));
        assert!("paid".parse::<OrderStatus>().is_err());
    }

    #[test]
    fn a_request_id_is_1_to_128_visible_ascii_characters() {
        let longest = "r".repeat(RequestId::MAX_LEN);
        for good in ["r", "req-1", longest.as_str()] {
            let parsed = RequestId::parse(good).map(|id| id.to_string());
            assert_eq!(parsed.as_deref(), Some(good));
        }
        let too_long = "r".repeat(RequestId::MAX_LEN + 1);
        for bad in ["", "has space", "é", too_long.as_str()] {
            assert_eq!(RequestId::parse(bad), None, "{bad:?}");
        }
        let fresh = RequestId::fresh("auto-cancel").to_string();
        assert!(fresh.starts_with("auto-cancel-"), "{fresh}");
        assert!(RequestId::parse(&fresh).is_some(), "{fresh}");
    }
}
