//! Two per-call duties of every server, as tower layers around the services:
//!
//! - [`RequestIdLayer`] (outermost): every call has a request id — the caller's `x-request-id` when it
//!   sent a usable one, else a fresh one — written into the request (so the call's log span and its
//!   [`RequestContext`](crate::context::RequestContext) carry it, and calls made on its behalf forward
//!   it) and echoed in the response. One id then follows a request through the logs of every service
//!   it reaches.
//! - [`DeadlineLayer`] (innermost): a call with `grpc-timeout` that has not answered when it runs out
//!   is answered `DEADLINE_EXCEEDED` and its handler dropped — with it every database transaction
//!   (rolled back) and every call it was making to another service (reset, so that service stops too).
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use http::header::HeaderValue;
use tonic::Status;
use tower::{Layer, Service};

use crate::context::{parse_grpc_timeout, REQUEST_ID};

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// See the module doc.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct DeadlineLayer;

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline { inner }
    }
}

/// Answers `DEADLINE_EXCEEDED` when the caller's `grpc-timeout` runs out.
#[derive(Clone, Debug)]
pub(super) struct Deadline<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Deadline<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let timeout = match request.headers().get("grpc-timeout") {
            None => None,
            Some(value) => match value.to_str().ok().and_then(parse_grpc_timeout) {
                Some(timeout) => Some(timeout),
                // Ignoring it would run the call without the deadline its caller meant to set.
                None => {
                    let status = Status::invalid_argument(format!(
                        "malformed grpc-timeout {value:?}: want 1 to 8 digits and a unit (H, M, S, m, u or n)"
                    ));
                    return Box::pin(async move { Ok(status.into_http()) });
                }
            },
        };
        let response = self.inner.call(request);
        match timeout {
            None => Box::pin(response),
            Some(timeout) => Box::pin(async move {
                match tokio::time::timeout(timeout, response).await {
                    Ok(answered) => answered,
                    Err(_elapsed) => {
                        tracing::info!(?timeout, "call ended by the caller's deadline");
                        Ok(
                            Status::deadline_exceeded(format!("deadline of {timeout:?} exceeded"))
                                .into_http(),
                        )
                    }
                }
            }),
        }
    }
}

/// See the module doc.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> RequestId<S> {
        RequestId { inner }
    }
}

/// Gives every call a request id and echoes it.
#[derive(Clone, Debug)]
pub(super) struct RequestId<S> {
    inner: S,
}

/// Whether a caller's id is fit to be logged and forwarded: 1 to 128 visible ASCII characters.
fn usable(id: &HeaderValue) -> bool {
    let bytes = id.as_bytes();
    !bytes.is_empty() && bytes.len() <= 128 && bytes.iter().all(u8::is_ascii_graphic)
}

/// A fresh id: 32 hex digits from a per-process random key, the clock and a counter.
fn new_request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(std::collections::hash_map::RandomState::new);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut high = keys.build_hasher();
    high.write_u128(nanos);
    high.write_u64(count);
    let mut low = keys.build_hasher();
    low.write_u64(count);
    low.write_u128(nanos);
    low.write_u32(std::process::id());
    format!("{:016x}{:016x}", high.finish(), low.finish())
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for RequestId<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let id = match request.headers().get(REQUEST_ID) {
            Some(id) if usable(id) => id.clone(),
            _ => {
                let fresh = HeaderValue::from_str(&new_request_id())
                    .unwrap_or_else(|_| HeaderValue::from_static("unknown"));
                request.headers_mut().insert(REQUEST_ID, fresh.clone());
                fresh
            }
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            let mut response = response.await?;
            response.headers_mut().insert(REQUEST_ID, id);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::time::Duration;
    use tower::ServiceExt;

    fn slow(
        delay: Duration,
    ) -> impl Service<
        http::Request<()>,
        Response = http::Response<String>,
        Error = Infallible,
        Future = impl Future<Output = Result<http::Response<String>, Infallible>> + Send,
    > + Clone {
        tower::service_fn(move |request: http::Request<()>| async move {
            tokio::time::sleep(delay).await;
            let id = request.headers().get(REQUEST_ID).cloned();
            let mut response = http::Response::new("done".to_owned());
            if let Some(id) = id {
                response.headers_mut().insert("seen-id", id);
            }
            Ok(response)
        })
    }

    fn request(headers: &[(&'static str, &'static str)]) -> http::Request<()> {
        let mut request = http::Request::new(());
        for (k, v) in headers {
            request
                .headers_mut()
                .insert(*k, HeaderValue::from_static(v));
        }
        request
    }

    fn grpc_status<B>(response: &http::Response<B>) -> Option<&[u8]> {
        response
            .headers()
            .get("grpc-status")
            .map(HeaderValue::as_bytes)
    }

    #[tokio::test(start_paused = true)]
    async fn past_its_deadline_a_call_is_deadline_exceeded_at_the_deadline() {
        let started = tokio::time::Instant::now();
        let response = DeadlineLayer
            .layer(slow(Duration::from_secs(60)))
            .oneshot(request(&[("grpc-timeout", "200m")]))
            .await
            .expect("answered");
        assert_eq!(grpc_status(&response), Some(b"4".as_slice()));
        assert_eq!(started.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn in_time_or_without_a_deadline_the_answer_passes() {
        for headers in [&[("grpc-timeout", "2S")][..], &[][..]] {
            let response = DeadlineLayer
                .layer(slow(Duration::from_secs(1)))
                .oneshot(request(headers))
                .await
                .expect("answered");
            assert_eq!(response.body(), "done");
        }
    }

    #[tokio::test]
    async fn a_malformed_deadline_is_invalid_argument_and_never_runs() {
        for value in [
            "-1S",
            "garbage",
            "1",
            "S",
            "+1S",
            "1.5S",
            "123456789S",
            "10x",
            "1 S",
        ] {
            let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let seen = ran.clone();
            let inner = tower::service_fn(move |_: http::Request<()>| {
                seen.store(true, std::sync::atomic::Ordering::SeqCst);
                async { Ok::<_, Infallible>(http::Response::new(String::new())) }
            });
            let response = DeadlineLayer
                .layer(inner)
                .oneshot(request(&[("grpc-timeout", value)]))
                .await
                .expect("answered");
            assert_eq!(grpc_status(&response), Some(b"3".as_slice()), "{value}");
            assert!(
                !ran.load(std::sync::atomic::Ordering::SeqCst),
                "{value} ran"
            );
        }
    }

    #[tokio::test]
    async fn the_callers_request_id_is_kept_and_echoed() {
        let response = RequestIdLayer
            .layer(slow(Duration::ZERO))
            .oneshot(request(&[(REQUEST_ID, "abc-123")]))
            .await
            .expect("answered");
        assert_eq!(
            response.headers().get("seen-id").map(HeaderValue::as_bytes),
            Some(b"abc-123".as_slice())
        );
        assert_eq!(
            response
                .headers()
                .get(REQUEST_ID)
                .map(HeaderValue::as_bytes),
            Some(b"abc-123".as_slice())
        );
    }

    #[tokio::test]
    async fn a_missing_or_unusable_request_id_is_replaced_by_a_fresh_one() {
        for headers in [&[][..], &[(REQUEST_ID, "has space")][..]] {
            let response = RequestIdLayer
                .layer(slow(Duration::ZERO))
                .oneshot(request(headers))
                .await
                .expect("answered");
            let seen = response
                .headers()
                .get("seen-id")
                .expect("an id reached the service");
            assert_eq!(seen.len(), 32);
            assert_eq!(response.headers().get(REQUEST_ID), Some(seen));
        }
        assert_ne!(new_request_id(), new_request_id());
    }
}
