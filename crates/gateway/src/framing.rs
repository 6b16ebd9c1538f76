//! The gRPC side of a call in-process: the request an HTTP call becomes (the gRPC path, one
//! length-prefixed message, the headers that are metadata, the deadline) and the message its answer
//! carries.
use bytes::{Buf, Bytes};
use http::{header, HeaderMap, HeaderValue, Method};
use http_body_util::Full;
use prost_reflect::DynamicMessage;

use crate::routes::Route;
use crate::{transcode, Headers, HttpError};

/// The header that carries the caller's deadline, in milliseconds (gRPC's `grpc-timeout`).
pub const TIMEOUT_HEADER: &str = "x-timeout-ms";
/// The longest deadline `grpc-timeout` can say in milliseconds: at most 8 digits.
pub(crate) const MAX_TIMEOUT_MS: u64 = 99_999_999;
/// The gRPC request for a route's message: the gRPC path, one length-prefixed message, and the
/// headers that are metadata.
pub(crate) fn grpc_request(
    route: &Route,
    headers: &HeaderMap,
    passed: Headers,
    message: &DynamicMessage,
) -> Result<http::Request<tonic::body::Body>, HttpError> {
    let encoded = transcode::encode(message);
    let length = u32::try_from(encoded.len())
        .map_err(|_| HttpError::invalid("the request message is too large"))?;
    let mut frame = Vec::with_capacity(encoded.len() + 5);
    frame.push(0); // not compressed
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&encoded);

    let mut request = http::Request::new(tonic::body::Body::new(Full::new(Bytes::from(frame))));
    *request.method_mut() = Method::POST;
    *request.version_mut() = http::Version::HTTP_2;
    *request.uri_mut() = route
        .grpc_path()
        .parse()
        .map_err(|_| HttpError::invalid("invalid method path"))?;
    let out = request.headers_mut();
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    out.insert(header::TE, HeaderValue::from_static("trailers"));
    copy_headers(passed.credentials, headers, out);
    copy_headers(passed.echoed, headers, out);
    copy_headers(passed.forwarded, headers, out);
    if let Some(value) = headers.get(TIMEOUT_HEADER) {
        let ms = value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| (1..=MAX_TIMEOUT_MS).contains(ms))
            .ok_or_else(|| {
                HttpError::invalid(format!(
                    "{TIMEOUT_HEADER} must be a whole number of milliseconds, 1 to {MAX_TIMEOUT_MS}"
                ))
            })?;
        out.insert(
            "grpc-timeout",
            HeaderValue::try_from(format!("{ms}m"))
                .map_err(|_| HttpError::invalid("invalid timeout"))?,
        );
    }
    Ok(request)
}

/// The one message of a unary response body: a 5-byte prefix (compression flag, length), then the
/// message.
pub(crate) fn unframe(mut data: Bytes) -> Result<Bytes, &'static str> {
    if data.len() < 5 {
        return Err("the response has no message");
    }
    if data.get_u8() != 0 {
        return Err("the response is compressed");
    }
    let length = usize::try_from(data.get_u32()).map_err(|_| "bad length")?;
    if data.len() < length {
        return Err("the response message is truncated");
    }
    Ok(data.split_to(length))
}

/// Copies the headers named in `names` that `from` has.
pub(crate) fn copy_headers(names: &[&'static str], from: &HeaderMap, to: &mut HeaderMap) {
    for &name in names {
        if let Some(value) = from.get(name) {
            to.insert(name, value.clone());
        }
    }
}
