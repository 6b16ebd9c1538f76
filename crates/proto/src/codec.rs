//! The codec every generated client and server uses: prost encoding, plus validation on decode.
//!
//! The plugin (tools/protoc-gen-route256) points tonic's generated code here, so a server validates every
//! request against its `(validate.rules)` before the handler runs, in one place for all services, and a
//! handler only ever sees valid input. A client validates responses the same way (none of ours carries a
//! rule a correct server could break).
use prost::Message;
use prost_validate::Validator;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic::Status;
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

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
        ValidatingDecoder(self.0.decoder())
    }
}

/// Decodes with prost, then validates.
#[derive(Debug)]
pub struct ValidatingDecoder<U>(ProstDecoder<U>);

impl<U> Decoder for ValidatingDecoder<U>
where
    U: Message + Validator + Default,
{
    type Item = U;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let message = self.0.decode(src)?;
        if let Some(message) = &message {
            message
                .validate()
                .map_err(|error| Status::invalid_argument(error.to_string()))?;
        }
        Ok(message)
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
