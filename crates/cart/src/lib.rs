//! cart: users' shopping carts, priced live from product-service and turned into loms orders.
//!
//! `config` → `app` (wire everything into a bound gRPC server) → `grpc` (proto ↔ domain only) →
//! `service` (the use cases, pricing a list on the `pool` of workers) → `ports` (cart storage, the
//! catalogue, loms) ← `adapters` (their implementations: the module's doc lists them). Every use case
//! takes the [`RequestContext`](server::context::RequestContext) of the call it serves, so the
//! caller's token and deadline reach product-service and loms.
//!
//! # Follow one call: AddItem
//!
//! 0. the server's authentication (`server::grpc`, `crates/identity`) has verified the caller's token
//!    before the request is even decoded;
//! 1. [`grpc::CartGrpc`]'s `add_item` — the handler: the request, validated while it was decoded,
//!    becomes a [`UserId`](domain::UserId) — the caller's own, or `PERMISSION_DENIED` — a
//!    [`Sku`](domain::Sku) and an [`ItemCount`](domain::ItemCount), beside the call's context;
//! 2. [`service::Cart::add_item`] — the use case: the product must be in the catalogue
//!    ([`ports::ProductCatalog::get_product`]), loms must have the units
//!    ([`ports::Loms::available_stock`]), and the cart's count of the SKU must stay within one order
//!    position ([`ports::CartRepo::count`]);
//! 3. [`ports::CartRepo::add_item`] — the port: adds the units in one statement;
//! 4. [`adapters::postgres::PgCartRepo`] (or [`adapters::memory::MemoryCartRepo`]) — the adapter:
//!    runs [`cart_db::queries::carts::add_item`], which cornucopia generated from
//!    `queries/cart/carts.sql` over the tables of `migrations/cart/`. The two upstream ports are
//!    gRPC clients: [`adapters::product_client::GrpcProductCatalog`] (behind the shared rate limit of
//!    [`adapters::rate_limit`]) and [`adapters::loms_client::GrpcLoms`].
//!
//! # Import rules
//!
//! - `domain` imports nothing of the crate; `ports` only `domain`; `pool` nothing.
//! - `service` imports `domain`, `ports` and `pool`, never an adapter, `tonic` or a generated query
//!   crate (of `route256-proto`, only the contract's `limits`).
//! - `adapters` implement `ports`; they never call `service` or `grpc`.
//! - `grpc` knows `service` and `domain` (and, in its tests, the memory adapter), and is the only
//!   module that speaks `route256-proto`'s messages to callers; the clients in `adapters` speak them
//!   to product-service and loms.
//! - Only `app` picks the adapters and ties them to the use cases.
pub mod adapters;
pub mod app;
pub mod config;
pub mod domain;
mod grpc;
pub mod pool;
pub mod ports;
pub mod service;

pub use config::Config;
