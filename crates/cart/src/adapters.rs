//! Implementations of the ports: cart storage in memory or PostgreSQL (and the `suite` both pass), gRPC
//! clients of product-service and loms, and the rate limit on calls to product-service, in process or
//! shared through Redis (`rate_limit`).
pub(crate) mod loms_client;
pub(crate) mod memory;
pub mod postgres;
pub(crate) mod product_client;
pub mod rate_limit;
#[cfg(any(test, feature = "testsuite"))]
pub mod suite;

use std::future::Future;
use std::time::Duration;

use server::context::RequestContext;
use telemetry::semconv::{self, Side};
use tokio::time::Instant;
use tracing::Instrument as _;

use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};

use crate::ports::UpstreamError;

/// A lazily connecting channel: cart starts even while the other services are still starting, and
/// reconnects by itself. Calls are bounded by [`call`], not by the channel.
pub(crate) fn channel(url: &str) -> Result<Channel, tonic::transport::Error> {
    Ok(Endpoint::from_shared(url.to_owned())?
        .connect_timeout(Duration::from_secs(2))
        .connect_lazy())
}

/// How much later than cart's own deadline the callee is told to give up.
///
/// Cart's clock decides how a call that runs out of time ends: `DEADLINE_EXCEEDED`. The `grpc-timeout`
/// sent along is also read by the tonic channel itself, whose guard would race cart's timer at the same
/// instant and report `CANCELLED`; the grace keeps it second. The callee still stops as soon as cart
/// stops waiting: dropping the call resets its stream. The forwarded deadline is the backstop for when
/// that reset is lost.
const CALLEE_GRACE: Duration = Duration::from_millis(50);

/// Makes one call of `rpc` (`<package>.<Service>/<Method>`) to another service on behalf of `ctx`,
/// within a budget: the caller's time left, and at most `limit` (cart's own bound on one call). When the
/// budget runs out the call ends in `DeadlineExceeded` — cart's deadline, which says nothing about the
/// callee's health. tonic reports its own timeouts as `CANCELLED`, so the clock is kept here rather
/// than on the channel.
///
/// The call is a client span of the trace, the callee's server span its child (the call carries the
/// span's `traceparent`); the rate limiter's wait, on the channel, is a span within it. The span ends
/// with the call's gRPC status, an error for any but OK (cart's own deadline: DEADLINE_EXCEEDED).
async fn call<M, T, F>(
    ctx: &RequestContext,
    rpc: &'static str,
    limit: Duration,
    message: M,
    send: impl FnOnce(tonic::Request<M>) -> F,
) -> Result<T, UpstreamError>
where
    F: Future<Output = Result<tonic::Response<T>, Status>>,
{
    let span = tracing::info_span!("call", otel.name = rpc, otel.kind = "client");
    semconv::rpc(&span, rpc);
    let budget = ctx.remaining().map_or(limit, |left| left.min(limit));
    let deadline = Instant::now() + budget;
    let mut request = ctx.outgoing(message);
    request.set_timeout(budget + CALLEE_GRACE);
    server::context::send_trace_context(&span, request.metadata_mut());
    // For the rate limiter on the channel: a call that cannot get a slot in time is not made.
    request
        .extensions_mut()
        .insert(rate_limit::Deadline(deadline));
    let answered = tokio::time::timeout_at(deadline, send(request)).instrument(span.clone());
    let answered = match answered.await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        // A cancellation seen once cart's deadline has passed is that deadline's doing, whichever
        // timer woke first.
        Ok(Err(status)) if status.code() == Code::Cancelled && Instant::now() >= deadline => {
            Err(Status::deadline_exceeded("cart's deadline"))
        }
        Ok(Err(status)) => Err(status),
        Err(_elapsed) => Err(Status::deadline_exceeded("cart's deadline")),
    };
    let code = answered.as_ref().map_or_else(Status::code, |_| Code::Ok);
    semconv::grpc_status(&span, Side::Client, code.into());
    answered.map_err(upstream_error)
}

/// What a gRPC status from another service means to cart.
fn upstream_error(status: Status) -> UpstreamError {
    if connection_lost(&status) {
        return UpstreamError::Unavailable(Box::new(status));
    }
    match status.code() {
        Code::NotFound => UpstreamError::NotFound,
        Code::Unauthenticated => UpstreamError::Unauthenticated(status.message().to_owned()),
        Code::FailedPrecondition => UpstreamError::Refused(status.message().to_owned()),
        Code::ResourceExhausted => UpstreamError::RateLimited(status.message().to_owned()),
        Code::DeadlineExceeded => UpstreamError::DeadlineExceeded,
        Code::Cancelled => UpstreamError::Cancelled(status.message().to_owned()),
        Code::Unavailable => UpstreamError::Unavailable(Box::new(status)),
        _ => UpstreamError::Failed(Box::new(status)),
    }
}

/// Whether the call ended in cart's own transport, without an answer: the connection could not be
/// made or was lost mid-call (the callee crashed or restarted). tonic reports that as `UNKNOWN` or
/// `INTERNAL` "transport error"; it is the callee being unreachable, which a retry may not meet.
fn connection_lost(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::transport::Error>() || error.is::<std::io::Error>() {
            return true;
        }
        source = error.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_upstream_errors() {
        let map = |code, msg: &str| upstream_error(Status::new(code, msg));
        assert!(matches!(map(Code::NotFound, ""), UpstreamError::NotFound));
        assert!(
            matches!(map(Code::Unauthenticated, "x"), UpstreamError::Unauthenticated(m) if m == "x")
        );
        assert!(
            matches!(map(Code::FailedPrecondition, "short"), UpstreamError::Refused(m) if m == "short")
        );
        assert!(matches!(
            map(Code::ResourceExhausted, ""),
            UpstreamError::RateLimited(_)
        ));
        assert!(matches!(
            map(Code::Unavailable, ""),
            UpstreamError::Unavailable(_)
        ));
        assert!(matches!(
            map(Code::DeadlineExceeded, ""),
            UpstreamError::DeadlineExceeded
        ));
        assert!(matches!(
            map(Code::Cancelled, "bye"),
            UpstreamError::Cancelled(m) if m == "bye"
        ));
        assert!(matches!(map(Code::Internal, ""), UpstreamError::Failed(_)));
        assert!(matches!(
            map(Code::InvalidArgument, "malformed"),
            UpstreamError::Failed(_)
        ));
        assert!(matches!(
            map(Code::InvalidArgument, ""),
            UpstreamError::Failed(_)
        ));
    }
}

#[cfg(test)]
mod call_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_call_past_its_budget_is_deadline_exceeded() {
        let never =
            |_: tonic::Request<()>| std::future::pending::<Result<tonic::Response<()>, Status>>();
        let result = call(
            &RequestContext::default(),
            "t.T/M",
            Duration::from_millis(200),
            (),
            never,
        )
        .await;
        assert!(matches!(result, Err(UpstreamError::DeadlineExceeded)));
    }

    /// A call that fails once `budget` has passed, with `status`.
    async fn failing_late(budget: u64, status: Status) -> UpstreamError {
        let late = |_: tonic::Request<()>| async move {
            tokio::time::advance(Duration::from_millis(budget)).await;
            Err::<tonic::Response<()>, _>(status)
        };
        let ctx = RequestContext::default();
        let result = call(&ctx, "t.T/M", Duration::from_millis(200), (), late).await;
        result.expect_err("failed")
    }

    /// tonic's own timer may cancel the call at cart's deadline: that is the deadline. Earlier, a
    /// cancellation is the callee's; another failure keeps its meaning.
    #[tokio::test(start_paused = true)]
    async fn a_cancellation_at_the_deadline_is_the_deadline() {
        let at_deadline = failing_late(200, Status::cancelled("timeout")).await;
        assert!(
            matches!(at_deadline, UpstreamError::DeadlineExceeded),
            "{at_deadline:?}"
        );
        let before = failing_late(100, Status::cancelled("bye")).await;
        assert!(matches!(before, UpstreamError::Cancelled(_)), "{before:?}");
        let other = failing_late(200, Status::unavailable("down")).await;
        assert!(matches!(other, UpstreamError::Unavailable(_)), "{other:?}");
    }

    #[tokio::test]
    async fn the_budget_is_sent_as_grpc_timeout() {
        let result = call(
            &RequestContext::default(),
            "t.T/M",
            Duration::from_secs(3),
            (),
            |request: tonic::Request<()>| async move {
                let timeout = request.metadata().get("grpc-timeout").cloned();
                Ok(tonic::Response::new(timeout))
            },
        )
        .await;
        let sent = result.expect("answered").expect("grpc-timeout set");
        // the budget and the callee's grace: 3.05 s
        let mut expected = tonic::Request::new(());
        expected.set_timeout(Duration::from_millis(3_050));
        assert_eq!(Some(&sent), expected.metadata().get("grpc-timeout"));
    }
}

#[cfg(test)]
mod lost_connection_tests {
    use std::convert::Infallible;

    use hyper::body::Incoming;
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    use super::loms_client::GrpcLoms;
    use super::*;
    use crate::domain::Sku;
    use crate::ports::Loms;

    /// A loms that takes the call, then dies before answering, as with `kill -9`: the connection ends
    /// mid-call, with a reset (`reset`) or a plain close.
    async fn dying_loms(reset: bool) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                if reset {
                    // Deprecated for blocking on drop; a zero linger does not block: the close is a reset.
                    #[allow(deprecated)]
                    socket.set_linger(Some(Duration::ZERO)).expect("linger");
                }
                let (called, mut call_arrived) = mpsc::channel::<()>(1);
                let service = hyper::service::service_fn(move |_: http::Request<Incoming>| {
                    let called = called.clone();
                    async move {
                        let _ = called.send(()).await;
                        std::future::pending::<Result<http::Response<String>, Infallible>>().await
                    }
                });
                let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(socket), service);
                tokio::spawn(async move {
                    // Dropping the connection drops the socket: the process is gone.
                    tokio::select! {
                        _ = connection => {}
                        _ = call_arrived.recv() => {}
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    async fn stock_from(url: &str) -> UpstreamError {
        let loms = GrpcLoms::new(channel(url).expect("channel"), Duration::from_secs(10));
        let sku = Sku::try_from(1).expect("sku");
        loms.available_stock(&RequestContext::default(), sku)
            .await
            .expect_err("the call cannot succeed")
    }

    #[tokio::test]
    async fn a_connection_reset_mid_call_is_unavailable() {
        let error = stock_from(&dying_loms(true).await).await;
        assert!(matches!(error, UpstreamError::Unavailable(_)), "{error:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_mid_call_is_unavailable() {
        let error = stock_from(&dying_loms(false).await).await;
        assert!(matches!(error, UpstreamError::Unavailable(_)), "{error:?}");
    }
}
