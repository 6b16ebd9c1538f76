//! Receiving a call's request message before the call is admitted: [`ReceiveLayer`].
//!
//! A call takes an in-flight slot (`limits.rs`) only once its first request message has arrived whole,
//! so clients that open streams and never finish sending hold no slot: however many such streams stay
//! open, calls that arrive are served. The message must arrive within `read_timeout` of the request's
//! headers (else `DEADLINE_EXCEEDED`, as the gateway's 408), and it is read no further than the size
//! limit (`OUT_OF_RANGE` at once, as tonic would answer after reading it all).
//!
//! The framing is checked here, so a client's broken framing is `INVALID_ARGUMENT` (logged at debug
//! like any client error) rather than tonic's `INTERNAL`/`UNKNOWN`: a flag byte other than 0 or 1, the
//! compressed flag without a `grpc-encoding`, a body that ends inside a message, and for unary methods
//! no message at all or bytes after it.
//!
//! Streaming methods (server reflection) get the first message and then the rest of the stream as it
//! comes; unary ones get exactly their one message. Paths the server does not serve pass untouched.
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tonic::Status;
use tower::{Layer, Service};

/// The gRPC message prefix: a flag byte and a big-endian length.
const PREFIX: usize = 5;

/// How each served method takes its requests: `true` for a stream of them.
#[derive(Clone, Debug, Default)]
pub(super) struct MethodKinds(Arc<HashMap<String, bool>>);

impl MethodKinds {
    /// `(path, client streaming)` pairs, paths as `/package.Service/Method`.
    pub(super) fn new(methods: impl IntoIterator<Item = (String, bool)>) -> Self {
        Self(Arc::new(methods.into_iter().collect()))
    }
}

/// Applies [`Receive`] to a service.
#[derive(Clone, Debug)]
pub(super) struct ReceiveLayer {
    kinds: MethodKinds,
    max_message: usize,
    read_timeout: Duration,
}

impl ReceiveLayer {
    pub(super) fn new(kinds: MethodKinds, max_message: usize, read_timeout: Duration) -> Self {
        Self {
            kinds,
            max_message,
            read_timeout,
        }
    }
}

impl<S> Layer<S> for ReceiveLayer {
    type Service = Receive<S>;

    fn layer(&self, inner: S) -> Receive<S> {
        Receive {
            inner,
            layer: self.clone(),
        }
    }
}

/// See the module doc.
#[derive(Clone, Debug)]
pub(super) struct Receive<S> {
    inner: S,
    layer: ReceiveLayer,
}

impl<S, ResBody> Service<http::Request<tonic::body::Body>> for Receive<S>
where
    S: Service<http::Request<tonic::body::Body>, Response = http::Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let Some(&streaming) = self.layer.kinds.0.get(request.uri().path()) else {
            return Box::pin(self.inner.call(request));
        };
        // The clone that was polled ready serves this call (tower's rule for moving into a future).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let compressed_allowed = parts.headers.contains_key("grpc-encoding");
            let read = first_message(body, layer.max_message, compressed_allowed, streaming);
            let body = match tokio::time::timeout(layer.read_timeout, read).await {
                Ok(Ok(body)) => body,
                Ok(Err(status)) => return Ok(answer(status)),
                Err(_) => {
                    return Ok(answer(Status::deadline_exceeded(format!(
                        "the request message did not arrive within {:?}",
                        layer.read_timeout
                    ))))
                }
            };
            inner.call(http::Request::from_parts(parts, body)).await
        })
    }
}

/// A trailers-only answer with `status`.
fn answer<B: Default>(status: Status) -> http::Response<B> {
    tracing::debug!(code = ?status.code(), message = status.message(), "request refused before admission");
    status.into_http()
}

/// Reads `body` until its first message has arrived whole and returns the body the call gets: that
/// message, and for a streaming method whatever follows it.
async fn first_message(
    mut body: tonic::body::Body,
    max_message: usize,
    compressed_allowed: bool,
    streaming: bool,
) -> Result<tonic::body::Body, Status> {
    let mut received = BytesMut::new();
    let mut whole = None;
    loop {
        if whole.is_none() && received.len() >= PREFIX {
            whole = Some(PREFIX + message_length(&received, max_message, compressed_allowed)?);
        }
        if let Some(whole) = whole {
            // A unary request is read to its end, which a client may send in a frame of its own: a
            // body dropped before it makes HTTP/2 reset the stream, and past 1024 such resets hyper
            // closes the whole connection (GOAWAY `too_many_internal_resets`) under load.
            if received.len() > whole && !streaming {
                return Err(Status::invalid_argument(
                    "bytes after the request message of a unary call",
                ));
            }
            if received.len() >= whole && (streaming || body.is_end_stream()) {
                break;
            }
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    received.extend_from_slice(&data);
                }
            }
            Some(Err(status)) => {
                return Err(Status::cancelled(format!(
                    "request stream failed: {status}"
                )))
            }
            None if whole.is_some_and(|whole| received.len() >= whole) => break,
            None if received.is_empty() && streaming => break,
            None if received.is_empty() => {
                return Err(Status::invalid_argument("missing request message"))
            }
            None => {
                return Err(Status::invalid_argument(format!(
                    "request ended inside a message: {} of {} bytes arrived",
                    received.len(),
                    whole.unwrap_or(PREFIX)
                )))
            }
        }
    }
    let received = received.freeze();
    if streaming {
        return Ok(tonic::body::Body::new(Prefixed {
            prefix: Some(received),
            rest: body,
        }));
    }
    Ok(tonic::body::Body::new(http_body_util::Full::new(received)))
}

/// The length of the message `prefix` starts, once its flag is found valid.
fn message_length(
    mut prefix: &[u8],
    max_message: usize,
    compressed_allowed: bool,
) -> Result<usize, Status> {
    match prefix.get_u8() {
        0 => {}
        1 if compressed_allowed => {}
        1 => {
            return Err(Status::invalid_argument(
                "the message is flagged compressed, but no grpc-encoding says how",
            ))
        }
        flag => {
            return Err(Status::invalid_argument(format!(
                "invalid message flag {flag} (0 or 1)"
            )))
        }
    }
    let length = prefix.get_u32() as usize;
    if length > max_message {
        return Err(Status::out_of_range(format!(
            "request message of {length} bytes is too large: the limit is {max_message} bytes"
        )));
    }
    Ok(length)
}

pin_project_lite::pin_project! {
    /// Bytes already received, then the rest of the request stream.
    struct Prefixed {
        prefix: Option<Bytes>,
        #[pin]
        rest: tonic::body::Body,
    }
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.project();
        match this.prefix.take() {
            Some(prefix) if !prefix.is_empty() => Poll::Ready(Some(Ok(Frame::data(prefix)))),
            _ => this.rest.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.as_ref().is_none_or(Bytes::is_empty) && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::sync::Mutex;
    use tower::ServiceExt;

    const UNARY: &str = "/test.S/Unary";
    const STREAMING: &str = "/test.S/Streaming";

    /// A service that records the body it got.
    fn recorder(
        seen: Arc<Mutex<Option<Bytes>>>,
    ) -> impl Service<
        http::Request<tonic::body::Body>,
        Response = http::Response<String>,
        Error = Infallible,
        Future = impl Future<Output = Result<http::Response<String>, Infallible>> + Send,
    > + Clone
           + Send
           + 'static {
        tower::service_fn(move |request: http::Request<tonic::body::Body>| {
            let seen = seen.clone();
            async move {
                let body = request
                    .into_body()
                    .collect()
                    .await
                    .expect("body")
                    .to_bytes();
                *seen.lock().expect("lock") = Some(body);
                Ok(http::Response::new("called".to_owned()))
            }
        })
    }

    fn layer() -> ReceiveLayer {
        ReceiveLayer::new(
            MethodKinds::new([(UNARY.to_owned(), false), (STREAMING.to_owned(), true)]),
            64,
            Duration::from_secs(10),
        )
    }

    fn framed(flag: u8, message: &[u8]) -> Vec<u8> {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&(message.len() as u32).to_be_bytes());
        bytes.extend_from_slice(message);
        bytes
    }

    async fn send(
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (Option<i32>, Option<Bytes>) {
        let seen = Arc::new(Mutex::new(None));
        let mut request = http::Request::post(path);
        for (key, value) in headers {
            request = request.header(*key, *value);
        }
        let request = request
            .body(tonic::body::Body::new(http_body_util::Full::new(
                Bytes::from(body),
            )))
            .expect("request");
        let response = layer()
            .layer(recorder(seen.clone()))
            .oneshot(request)
            .await
            .expect("answered");
        let code = response
            .headers()
            .get("grpc-status")
            .map(|v| v.to_str().expect("ascii").parse().expect("a code"));
        let seen = seen.lock().expect("lock").clone();
        (code, seen)
    }

    #[tokio::test]
    async fn a_whole_message_passes_as_it_came() {
        let body = framed(0, b"hello");
        assert_eq!(
            send(UNARY, &[], body.clone()).await,
            (None, Some(Bytes::from(body)))
        );
    }

    #[tokio::test]
    async fn broken_framing_is_invalid_argument_and_never_reaches_the_service() {
        let mut trailing = framed(0, b"hello");
        trailing.push(7);
        let mut short = framed(0, b"hello");
        short.truncate(7);
        for (what, headers, body) in [
            ("empty", &[][..], Vec::new()),
            ("half a prefix", &[][..], vec![0, 0]),
            ("shorter than its length", &[][..], short),
            ("bytes after the message", &[][..], trailing),
            ("compressed, no encoding", &[][..], framed(1, b"hello")),
            (
                "flag 2",
                &[("grpc-encoding", "gzip")][..],
                framed(2, b"hello"),
            ),
        ] {
            assert_eq!(send(UNARY, headers, body).await, (Some(3), None), "{what}");
        }
    }

    #[tokio::test]
    async fn a_message_past_the_limit_is_out_of_range_before_it_is_read() {
        let mut prefix = vec![0];
        prefix.extend_from_slice(&65u32.to_be_bytes());
        assert_eq!(send(UNARY, &[], prefix).await, (Some(11), None));
    }

    #[tokio::test]
    async fn a_stream_gets_its_first_message_and_the_rest() {
        let mut body = framed(0, b"one");
        body.extend_from_slice(&framed(0, b"two"));
        assert_eq!(
            send(STREAMING, &[], body.clone()).await,
            (None, Some(Bytes::from(body)))
        );
        // A stream of no messages is a stream.
        assert_eq!(
            send(STREAMING, &[], Vec::new()).await,
            (None, Some(Bytes::new()))
        );
    }

    #[tokio::test]
    async fn unknown_paths_pass_untouched() {
        assert_eq!(
            send("/test.S/Other", &[], vec![9, 9]).await,
            (None, Some(Bytes::from_static(&[9, 9])))
        );
    }

    /// The message, then what the client sends after it in frames of their own: bytes after a unary
    /// message are refused even when they come later, and the end of the stream is waited for.
    #[tokio::test]
    async fn a_unary_request_is_read_to_its_end() {
        let message = framed(0, b"hello");
        for (later, expected) in [
            (Some(Bytes::from_static(&[7])), (Some(3), None)),
            (None, (None, Some(Bytes::from(message.clone())))),
        ] {
            let (sender, frames) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(2);
            let body = http_body_util::StreamBody::new(
                tokio_stream::wrappers::ReceiverStream::new(frames),
            );
            let request = http::Request::post(UNARY)
                .body(tonic::body::Body::new(body))
                .expect("request");
            let seen = Arc::new(Mutex::new(None));
            let call = tokio::spawn(layer().layer(recorder(seen.clone())).oneshot(request));
            let frame = Bytes::from(message.clone());
            sender.send(Ok(Frame::data(frame))).await.expect("sent");
            tokio::task::yield_now().await;
            assert!(!call.is_finished(), "answered before the request ended");
            if let Some(later) = later {
                sender.send(Ok(Frame::data(later))).await.expect("sent");
            }
            drop(sender);
            let response = call.await.expect("no panic").expect("answered");
            let code = response
                .headers()
                .get("grpc-status")
                .map(|v| v.to_str().expect("ascii").parse().expect("a code"));
            let seen = seen.lock().expect("lock").clone();
            assert_eq!((code, seen), expected);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_message_that_never_arrives_is_deadline_exceeded_at_the_read_timeout() {
        // A prefix announcing 4 bytes, and then nothing: the stream stays open.
        let (sender, frames) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(1);
        sender
            .send(Ok(Frame::data(Bytes::from_static(&[0, 0, 0, 0, 4]))))
            .await
            .expect("sent");
        let body =
            http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(frames));
        let seen = Arc::new(Mutex::new(None));
        let request = http::Request::post(UNARY)
            .body(tonic::body::Body::new(body))
            .expect("request");
        let started = tokio::time::Instant::now();
        let response = layer()
            .layer(recorder(seen.clone()))
            .oneshot(request)
            .await
            .expect("answered");
        assert_eq!(response.headers()["grpc-status"], "4");
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert!(seen.lock().expect("lock").is_none());
        drop(sender);
    }
}
