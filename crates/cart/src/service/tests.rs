use super::*;
use crate::domain::{item_count, CartItem, CartSnapshot, CartVersion, Product};
use crate::ports::{MockCartRepo, MockLoms, MockProductCatalog};
use mockall::predicate::eq;
use server::context::AuthToken;

fn user() -> UserId {
    UserId::try_from(7).expect("positive")
}
fn sku(n: u32) -> Sku {
    Sku::try_from(n).expect("positive")
}
fn count(n: u32) -> ItemCount {
    item_count(n).expect("valid")
}
fn item(s: u32, n: u32) -> CartItem {
    CartItem {
        sku: sku(s),
        count: count(n),
    }
}
fn ctx() -> RequestContext {
    RequestContext::with_token(AuthToken::new("tok").expect("valid"))
}
fn product(name: &str, price: u32) -> Product {
    Product {
        name: name.to_owned(),
        price,
    }
}
fn cause() -> crate::ports::Cause {
    "connection refused".into()
}

struct Mocks {
    carts: MockCartRepo,
    products: MockProductCatalog,
    loms: MockLoms,
}

impl Mocks {
    fn new() -> Self {
        Self {
            carts: MockCartRepo::new(),
            products: MockProductCatalog::new(),
            loms: MockLoms::new(),
        }
    }
    fn cart(self) -> Cart {
        Cart::new(
            Arc::new(self.carts),
            Arc::new(self.products),
            Arc::new(self.loms),
            WorkerPool::new(std::num::NonZeroUsize::new(4).expect("positive")),
        )
    }
    fn product_found(&mut self) {
        self.products
            .expect_get_product()
            .returning(|_, _| Ok(product("book", 100)));
    }
    fn stock(&mut self, available: u64) {
        self.loms
            .expect_available_stock()
            .returning(move |_, _| Ok(available));
    }
    fn in_cart(&mut self, units: u32) {
        self.carts.expect_count().returning(move |_, _| Ok(units));
    }
    /// Checks the cart out; the order id, or `None` on an error.
    async fn checked_out(self) -> Option<i64> {
        let result = self.cart().checkout(&ctx(), user()).await;
        result.ok().map(OrderId::get)
    }
    fn order_created(&mut self, id: i64) {
        self.loms
            .expect_create_order()
            .returning(move |_, _, _, _| Ok(OrderId::try_from(id).expect("positive")));
    }
    fn cart_items(&mut self, items: Vec<CartItem>) {
        self.carts.expect_snapshot().returning(move |_| {
            Ok(CartSnapshot {
                items: items.clone(),
                version: CartVersion(41),
            })
        });
    }
}

#[tokio::test]
async fn add_item_checks_catalogue_then_stock_then_stores() {
    let mut m = Mocks::new();
    m.products
        .expect_get_product()
        .withf(|ctx, s| ctx.token().map(AuthToken::expose) == Some("tok") && *s == sku(5))
        .times(1)
        .returning(|_, _| Ok(product("book", 100)));
    m.loms
        .expect_available_stock()
        .withf(|ctx, s| ctx.token().is_some() && *s == sku(5))
        .times(1)
        .returning(|_, _| Ok(10));
    m.in_cart(4);
    m.carts
        .expect_add_item()
        .with(eq(user()), eq(sku(5)), eq(count(6)))
        .times(1)
        .returning(|_, _, _| Ok(AddOutcome::Added));
    assert!(m
        .cart()
        .add_item(&ctx(), user(), sku(5), count(6))
        .await
        .is_ok());
}

#[tokio::test]
async fn add_item_of_unknown_product_is_refused_without_asking_loms() {
    let mut m = Mocks::new();
    m.products
        .expect_get_product()
        .returning(|_, _| Err(UpstreamError::NotFound));
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(result, Err(CartError::UnknownProduct(s)) if s == sku(5)));
}

#[tokio::test]
async fn add_item_counts_what_is_already_in_the_cart() {
    let mut m = Mocks::new();
    m.product_found();
    m.stock(10);
    m.in_cart(8);
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(3)).await;
    assert!(matches!(
        result,
        Err(CartError::InsufficientStock {
            requested: 11,
            available: 10,
            ..
        })
    ));
}

#[tokio::test]
async fn add_item_of_a_sku_loms_does_not_stock_is_insufficient_stock() {
    let mut m = Mocks::new();
    m.product_found();
    m.loms
        .expect_available_stock()
        .returning(|_, _| Err(UpstreamError::NotFound));
    m.in_cart(0);
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(
        result,
        Err(CartError::InsufficientStock { available: 0, .. })
    ));
}

#[tokio::test]
async fn add_item_caps_a_position_at_65535_units() {
    let mut m = Mocks::new();
    m.product_found();
    m.stock(1_000_000);
    m.in_cart(65_000);
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(536)).await;
    assert!(matches!(result, Err(CartError::TooManyUnits(_))));
}

/// The limits are inclusive: the last available unit, and the 65535th unit of a position, are added.
#[tokio::test]
async fn add_item_takes_the_last_available_unit_and_the_65535th() {
    for (available, in_cart, adding) in [(10, 4, 6), (1_000_000, 65_000, 535)] {
        let mut m = Mocks::new();
        m.product_found();
        m.stock(available);
        m.in_cart(in_cart);
        m.carts
            .expect_add_item()
            .times(1)
            .returning(|_, _, _| Ok(AddOutcome::Added));
        let result = m
            .cart()
            .add_item(&ctx(), user(), sku(5), count(adding))
            .await;
        assert!(result.is_ok(), "{available} {in_cart} {adding}: {result:?}");
    }
}

/// A concurrent add filled the position between the count and the store: the store refuses.
#[tokio::test]
async fn add_item_refused_by_the_store_as_too_many_is_too_many_units() {
    let mut m = Mocks::new();
    m.product_found();
    m.stock(1_000_000);
    m.in_cart(1);
    m.carts
        .expect_add_item()
        .returning(|_, _, _| Ok(AddOutcome::TooManyUnits));
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(result, Err(CartError::TooManyUnits(s)) if s == sku(5)));
}

#[tokio::test]
async fn add_item_passes_upstream_failures_on() {
    let mut m = Mocks::new();
    m.products
        .expect_get_product()
        .returning(|_, _| Err(UpstreamError::Unauthenticated("no token".into())));
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(
        result,
        Err(CartError::Unauthenticated(Upstream::ProductService, _))
    ));

    let mut m = Mocks::new();
    m.product_found();
    m.loms
        .expect_available_stock()
        .returning(|_, _| Err(UpstreamError::Unavailable(cause())));
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(
        result,
        Err(CartError::Unavailable(Upstream::Loms, _))
    ));

    let mut m = Mocks::new();
    m.products
        .expect_get_product()
        .returning(|_, _| Err(UpstreamError::RateLimited("10 rps".into())));
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(
        result,
        Err(CartError::RateLimited(Upstream::ProductService, _))
    ));
}

#[tokio::test]
async fn add_item_reports_storage_failures() {
    let mut m = Mocks::new();
    m.product_found();
    m.stock(10);
    m.in_cart(0);
    m.carts
        .expect_add_item()
        .returning(|_, _, _| Err(RepoError::failed("add", cause())));
    let result = m.cart().add_item(&ctx(), user(), sku(5), count(1)).await;
    assert!(matches!(result, Err(CartError::Storage(_))));
}

#[tokio::test]
async fn delete_and_clear_go_to_storage() {
    let mut m = Mocks::new();
    m.carts
        .expect_delete_item()
        .with(eq(user()), eq(sku(5)))
        .times(1)
        .returning(|_, _| Ok(()));
    m.carts
        .expect_clear()
        .with(eq(user()))
        .times(1)
        .returning(|_| Ok(()));
    let cart = m.cart();
    assert!(cart.delete_item(user(), sku(5)).await.is_ok());
    assert!(cart.clear(user()).await.is_ok());
}

#[tokio::test]
async fn list_prices_every_item_live() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 3), item(9, 1)]);
    m.products
        .expect_get_product()
        .with(mockall::predicate::always(), eq(sku(2)))
        .returning(|_, _| Ok(product("two", 20)));
    m.products
        .expect_get_product()
        .with(mockall::predicate::always(), eq(sku(9)))
        .returning(|_, _| Ok(product("nine", 90)));
    let view = m.cart().list(&ctx(), user()).await.expect("listed");
    let names: Vec<_> = view.lines.iter().map(|l| l.product.name.as_str()).collect();
    assert_eq!(names, ["two", "nine"]);
    assert_eq!(view.total_price, 150);
}

#[tokio::test]
async fn list_of_empty_cart_is_empty_cart() {
    let mut m = Mocks::new();
    m.cart_items(vec![]);
    assert!(matches!(
        m.cart().list(&ctx(), user()).await,
        Err(CartError::EmptyCart(_))
    ));
}

#[tokio::test]
async fn list_with_a_product_gone_from_the_catalogue_is_unknown_product() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 1)]);
    m.products
        .expect_get_product()
        .returning(|_, _| Err(UpstreamError::NotFound));
    assert!(matches!(
        m.cart().list(&ctx(), user()).await,
        Err(CartError::UnknownProduct(_))
    ));
}

#[tokio::test]
async fn list_refuses_a_total_over_32_bits() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(1, 65535), item(2, 65535)]);
    m.products
        .expect_get_product()
        .returning(|_, _| Ok(product("gold", 65537)));
    assert!(matches!(
        m.cart().list(&ctx(), user()).await,
        Err(CartError::TotalOverflow)
    ));
}

#[tokio::test]
async fn list_passes_upstream_failures_on() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 1)]);
    m.products
        .expect_get_product()
        .returning(|_, _| Err(UpstreamError::Failed(cause())));
    assert!(matches!(
        m.cart().list(&ctx(), user()).await,
        Err(CartError::Upstream(Upstream::ProductService, _))
    ));
}

#[tokio::test]
async fn checkout_orders_with_the_versions_key_then_removes_the_snapshot() {
    let mut m = Mocks::new();
    let items = vec![item(2, 3)];
    m.cart_items(items.clone());
    m.loms
        .expect_create_order()
        .withf(move |_, u, i, key| *u == user() && *i == items && key.as_str() == "cart:7:41")
        .times(1)
        .returning(|_, _, _, _| Ok(OrderId::try_from(77).expect("positive")));
    m.carts
        .expect_remove_ordered()
        .withf(|u, snapshot| *u == user() && snapshot.version == CartVersion(41))
        .times(1)
        .returning(|_, _| Ok(true));
    assert_eq!(m.checked_out().await, Some(77));
}

#[tokio::test]
async fn a_second_checkout_of_the_state_answers_with_the_same_order() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 3)]);
    m.order_created(77);
    m.carts.expect_remove_ordered().returning(|_, _| Ok(false));
    assert_eq!(m.checked_out().await, Some(77));
}

#[tokio::test]
async fn checkout_of_empty_cart_is_empty_cart() {
    let mut m = Mocks::new();
    m.cart_items(vec![]);
    m.loms.expect_create_order().never();
    assert!(matches!(
        m.cart().checkout(&ctx(), user()).await,
        Err(CartError::EmptyCart(_))
    ));
}

#[tokio::test]
async fn refused_checkout_keeps_the_cart() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 3)]);
    m.loms
        .expect_create_order()
        .returning(|_, _, _, _| Err(UpstreamError::Refused("insufficient stock".into())));
    m.carts.expect_remove_ordered().never();
    assert!(matches!(
        m.cart().checkout(&ctx(), user()).await,
        Err(CartError::OrderRefused(reason)) if reason == "insufficient stock"
    ));
}

#[tokio::test]
async fn checkout_reports_the_order_even_if_the_cart_cannot_be_changed() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 3)]);
    m.order_created(5);
    m.carts
        .expect_remove_ordered()
        .returning(|_, _| Err(RepoError::failed("count", cause())));
    assert_eq!(m.checked_out().await, Some(5));
}

#[tokio::test]
async fn checkout_with_loms_down_is_unavailable() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 3)]);
    m.loms
        .expect_create_order()
        .returning(|_, _, _, _| Err(UpstreamError::Unavailable(cause())));
    m.carts.expect_remove_ordered().never();
    assert!(matches!(
        m.cart().checkout(&ctx(), user()).await,
        Err(CartError::Unavailable(Upstream::Loms, _))
    ));
}

#[tokio::test]
async fn upstream_deadlines_and_cancellations_are_not_unavailability() {
    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 3)]);
    m.loms
        .expect_create_order()
        .returning(|_, _, _, _| Err(UpstreamError::DeadlineExceeded));
    assert!(matches!(
        m.cart().checkout(&ctx(), user()).await,
        Err(CartError::DeadlineExceeded(Upstream::Loms))
    ));

    let mut m = Mocks::new();
    m.cart_items(vec![item(2, 1)]);
    m.products
        .expect_get_product()
        .returning(|_, _| Err(UpstreamError::Cancelled("shutting down".into())));
    assert!(matches!(
        m.cart().list(&ctx(), user()).await,
        Err(CartError::Cancelled(Upstream::ProductService, _))
    ));
}

/// loms that holds every order until the test lets it go, so the test can change the cart while
/// a checkout waits for loms.
struct GatedLoms {
    entered: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait::async_trait]
impl Loms for GatedLoms {
    async fn available_stock(&self, _: &RequestContext, _: Sku) -> Result<u64, UpstreamError> {
        Ok(u64::MAX)
    }
    async fn create_order(
        &self,
        _: &RequestContext,
        _: UserId,
        _: Vec<CartItem>,
        _: &OrderKey,
    ) -> Result<OrderId, UpstreamError> {
        self.entered.notify_one();
        self.release.notified().await;
        Ok(OrderId::try_from(9).expect("positive"))
    }
}

#[tokio::test]
async fn items_added_while_checkout_waits_for_loms_stay_in_the_cart() {
    use crate::adapters::memory::MemoryCartRepo;

    let carts = Arc::new(MemoryCartRepo::default());
    let loms = Arc::new(GatedLoms {
        entered: tokio::sync::Notify::new(),
        release: tokio::sync::Notify::new(),
    });
    let cart = Cart::new(
        carts.clone(),
        Arc::new(MockProductCatalog::new()),
        loms.clone(),
        WorkerPool::new(std::num::NonZeroUsize::new(1).expect("positive")),
    );
    carts
        .add_item(user(), sku(2), count(3))
        .await
        .expect("added");

    let checkout = tokio::spawn({
        let cart = cart.clone();
        async move { cart.checkout(&ctx(), user()).await }
    });
    loms.entered.notified().await;
    carts
        .add_item(user(), sku(2), count(1))
        .await
        .expect("added meanwhile");
    carts
        .add_item(user(), sku(5), count(2))
        .await
        .expect("added meanwhile");
    loms.release.notify_one();
    let order = checkout
        .await
        .expect("task completes")
        .expect("checked out");
    assert_eq!(order.get(), 9);

    let left: Vec<_> = carts
        .snapshot(user())
        .await
        .expect("read")
        .items
        .iter()
        .map(|i| (i.sku.get(), i.count.get()))
        .collect();
    assert_eq!(left, vec![(2, 1), (5, 2)], "only the ordered 3 units left");
}

/// A catalogue that takes 50 ms per call and counts how many calls overlap.
#[derive(Default)]
struct SlowCatalog {
    in_flight: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl ProductCatalog for SlowCatalog {
    async fn get_product(&self, _: &RequestContext, sku: Sku) -> Result<Product, UpstreamError> {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        self.in_flight.fetch_sub(1, SeqCst);
        if sku.get() == 404 {
            return Err(UpstreamError::NotFound);
        }
        Ok(product(&format!("p{sku}"), sku.get()))
    }
}

#[tokio::test(start_paused = true)]
async fn list_prices_items_on_the_worker_pool() {
    use crate::adapters::memory::MemoryCartRepo;

    let carts = Arc::new(MemoryCartRepo::default());
    for s in (1..=10).rev() {
        carts
            .add_item(user(), sku(s), count(1))
            .await
            .expect("added");
    }
    let catalog = Arc::new(SlowCatalog::default());
    let cart = Cart::new(
        carts.clone(),
        catalog.clone(),
        Arc::new(MockLoms::new()),
        WorkerPool::new(std::num::NonZeroUsize::new(5).expect("positive")),
    );
    let started = tokio::time::Instant::now();
    let view = cart.list(&ctx(), user()).await.expect("listed");
    assert_eq!(
        started.elapsed(),
        std::time::Duration::from_millis(100),
        "two rounds of five"
    );
    assert_eq!(catalog.peak.load(std::sync::atomic::Ordering::SeqCst), 5);
    let skus: Vec<u32> = view.lines.iter().map(|l| l.item.sku.get()).collect();
    assert_eq!(skus, (1..=10).collect::<Vec<_>>());
    assert_eq!(view.total_price, (1..=10).sum::<u32>());

    carts
        .add_item(user(), sku(404), count(1))
        .await
        .expect("added");
    assert!(matches!(
        cart.list(&ctx(), user()).await,
        Err(CartError::UnknownProduct(s)) if s == sku(404)
    ));
}
