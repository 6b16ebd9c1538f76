//! The codec every generated client and server uses: prost encoding, plus validation on decode.
//!
//! The plugin (tools/protoc-gen-route256) points tonic's generated code here, so a server validates every
//! request against its `(validate.rules)` before the handler runs, in one place for all services, and a
//! handler only ever sees valid input. A client validates responses the same way (none of ours carries a
//! rule a correct server could break).
//!
//! Bytes that are not a well-formed message at all (a truncated varint, a wrong wire type) are the
//! sender's fault too: `INVALID_ARGUMENT` with prost's description, not the `INTERNAL` that
//! `ProstCodec` answers, so a server neither blames itself nor logs a warning for a client's garbage. The
//! decoder cannot tell a server from a client; on the client side the same code describes a malformed
//! response, which callers treat as a failed upstream call, never as their own caller's mistake.
use std::marker::PhantomData;

use prost::Message;
use prost_validate::Validator;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstEncoder};

/// [`ProstCodec`] whose decoder rejects a message that breaks its validation rules with
/// `INVALID_ARGUMENT`.
#[derive(Debug, Clone, Default)]
pub struct ValidatingCodec<T, U>(ProstCodec<T, U>);

impl<T, U> Codec for ValidatingCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Validator + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = ValidatingDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        self.0.encoder()
    }

    fn decoder(&mut self) -> Self::Decoder {
        ValidatingDecoder(PhantomData)
    }
}

/// Decodes with prost, then validates.
#[derive(Debug)]
pub struct ValidatingDecoder<U>(PhantomData<fn() -> U>);

impl<U> Decoder for ValidatingDecoder<U>
where
    U: Message + Validator + Default,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        decode_valid(src).map(Some)
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// Decodes one message and checks its rules; either failure is `INVALID_ARGUMENT`.
fn decode_valid<U: Message + Validator + Default>(src: impl bytes::Buf) -> Result<U, Status> {
    let message = U::decode(src).map_err(|error| {
        Status::invalid_argument(format!(
            "malformed {} message: {error}",
            short_type_name::<U>()
        ))
    })?;
    message
        .validate()
        .map_err(|error| Status::invalid_argument(error.to_string()))?;
    Ok(message)
}

/// `AddItemRequest` for `route256_proto::generated::route256::cart::v1::AddItemRequest`.
fn short_type_name<U>() -> &'static str {
    let name = std::any::type_name::<U>();
    name.rsplit("::").next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loms::OrderCreateRequest;

    fn decode(bytes: &[u8]) -> Result<OrderCreateRequest, Status> {
        decode_valid(bytes)
    }

    #[test]
    fn malformed_bytes_are_invalid_argument() {
        // field 1 (user, varint) whose varint never ends
        let truncated = decode(&[0x08, 0xff]).expect_err("truncated varint");
        assert_eq!(truncated.code(), tonic::Code::InvalidArgument);
        assert!(
            truncated
                .message()
                .starts_with("malformed OrderCreateRequest message"),
            "{truncated:?}"
        );
        // field 1 sent as length-delimited: a wire type the field cannot have
        let wrong_wire_type = decode(&[0x0a, 0x01, 0x01]).expect_err("bad wire type");
        assert_eq!(wrong_wire_type.code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn rule_violations_name_the_field() {
        // user = 0 is the default, i.e. an empty message
        let invalid = decode(&[]).expect_err("user must be positive");
        assert_eq!(invalid.code(), tonic::Code::InvalidArgument);
        assert!(
            invalid
                .message()
                .contains("route256.loms.v1.OrderCreateRequest.user"),
            "{invalid:?}"
        );
    }

    #[test]
    fn valid_messages_decode() {
        let request = OrderCreateRequest {
            user: 1,
            items: vec![crate::loms::Item { sku: 2, count: 3 }],
            idempotency_key: "k".into(),
        };
        assert_eq!(decode(&request.encode_to_vec()).ok(), Some(request));
    }
}
