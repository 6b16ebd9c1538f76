//! The Route256 contract in Rust: messages, clients and servers generated from `proto/` by `just gen`
//! (never edited by hand), the descriptor set that reflection and the gateway read, and the validating
//! codec the generated code is wired to, and the order event's framing as a Kafka record (`events`); beside them, the small hand-written id types both sides share
//! and the course's names of the order statuses (`order_status`).
pub mod codec;
pub mod events;
pub mod ids;
mod order_status;

#[allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]
mod generated {
    include!("gen/_includes.rs");
}

pub use generated::route256::cart::v1 as cart;
pub use generated::route256::loms::v1 as loms;
pub use generated::route256::product::v1 as product;

/// Every proto file of the contract and its imports, with source info (comments reach `grpcurl describe`),
/// as written by `buf build`.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("../descriptor.binpb");
