//! Admission of calls: a limit on the calls in flight on one connection and on the whole server, with
//! load shedding — a call past either limit is answered `RESOURCE_EXHAUSTED` at once, never queued, so
//! an overloaded server stays responsive and the caller can back off or go to another replica.
//!
//! A call counts from its admission until its response body has ended (a stream counts while it
//! streams) or it is abandoned. Health checks are exempt: a busy server is not a dead one.
//!
//! An admitted call that is dropped before it is answered — the caller cancelled it or its deadline
//! passed — is logged as such, once.
//!
//! `/metrics` shows the calls holding a server slot (`grpc_server_in_flight`) beside the limit
//! (`grpc_server_in_flight_limit`): their ratio is the server's saturation, which an alert watches
//! (`deploy/prometheus/alerts.yml`).
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use http_body::{Body, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::TcpConnectInfo;
use tonic::Status;
use tower::{Layer, Service};

use super::incoming::{Connection, ConnectionInfo};

const HEALTH_PREFIX: &str = "/grpc.health.v1.Health/";

/// Applies [`CallLimits`] to a service.
#[derive(Clone, Debug)]
pub(super) struct CallLimitsLayer {
    server: Arc<Semaphore>,
    max_in_flight: usize,
    max_in_flight_per_connection: usize,
    /// The calls holding a server slot (`grpc_server_in_flight`).
    in_flight: metrics::Gauge,
}

impl CallLimitsLayer {
    pub(super) fn new(max_in_flight: usize, max_in_flight_per_connection: usize) -> Self {
        metrics::gauge!("grpc_server_in_flight_limit").set(max_in_flight as f64);
        Self {
            server: Arc::new(Semaphore::new(max_in_flight)),
            max_in_flight,
            max_in_flight_per_connection,
            in_flight: metrics::gauge!("grpc_server_in_flight"),
        }
    }
}

impl<S> Layer<S> for CallLimitsLayer {
    type Service = CallLimits<S>;

    fn layer(&self, inner: S) -> CallLimits<S> {
        CallLimits {
            inner,
            limits: self.clone(),
        }
    }
}

/// The service that admits or sheds each call.
#[derive(Clone, Debug)]
pub(super) struct CallLimits<S> {
    inner: S,
    limits: CallLimitsLayer,
}

impl<S> CallLimits<S> {
    fn admit(&self, connection: Option<&Arc<Connection>>, rpc: &str) -> Result<CallGuard, Status> {
        if let Some(connection) = connection {
            let before = connection.in_flight.fetch_add(1, Ordering::AcqRel);
            connection.touch();
            // From here on the guard gives the connection's slot back, whatever happens.
            let guard = CallGuard {
                rpc: rpc.to_owned(),
                connection: Some(connection.clone()),
                permit: None,
                answered: false,
            };
            if before >= self.limits.max_in_flight_per_connection {
                return Err(shed(
                    format!(
                        "too many calls in flight on this connection (limit {})",
                        self.limits.max_in_flight_per_connection
                    ),
                    guard,
                ));
            }
            self.with_permit(guard)
        } else {
            self.with_permit(CallGuard {
                rpc: rpc.to_owned(),
                connection: None,
                permit: None,
                answered: false,
            })
        }
    }

    fn with_permit(&self, mut guard: CallGuard) -> Result<CallGuard, Status> {
        match self.limits.server.clone().try_acquire_owned() {
            Ok(permit) => {
                self.limits.in_flight.increment(1.0);
                guard.permit = Some((permit, self.limits.in_flight.clone()));
                Ok(guard)
            }
            Err(_) => Err(shed(
                format!(
                    "server busy: too many calls in flight (limit {}); retry with backoff",
                    self.limits.max_in_flight
                ),
                guard,
            )),
        }
    }
}

/// A shed call: the guard is released as answered (shedding is not abandoning).
fn shed(message: String, mut guard: CallGuard) -> Status {
    guard.answered = true;
    tracing::debug!(rpc = %guard.rpc, %message, "call shed");
    Status::resource_exhausted(message)
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for CallLimits<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Send + 'static,
{
    type Response = http::Response<GuardedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        let connection = request
            .extensions()
            .get::<ConnectionInfo>()
            .map(|info| info.0.clone());
        if let Some(connection) = &connection {
            // So that `tonic::Request::remote_addr` keeps working behind our own connection type.
            request.extensions_mut().insert(TcpConnectInfo {
                local_addr: connection.local,
                remote_addr: connection.remote,
            });
        }
        let rpc = request.uri().path();
        if rpc.starts_with(HEALTH_PREFIX) {
            let response = self.inner.call(request);
            return Box::pin(async move { Ok(response.await?.map(GuardedBody::unguarded)) });
        }
        let mut guard = match self.admit(connection.as_ref(), rpc) {
            Ok(guard) => guard,
            Err(status) => {
                let response = status.into_http::<()>().map(|()| GuardedBody::empty());
                return Box::pin(std::future::ready(Ok(response)));
            }
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            // Dropped while awaiting: the guard drops unanswered and logs the abandoned call.
            let response = response.await;
            guard.answered = true;
            Ok(response?.map(|body| GuardedBody::guarded(body, guard)))
        })
    }
}

/// Holds an admitted call's slots until the call ends.
#[derive(Debug)]
struct CallGuard {
    rpc: String,
    connection: Option<Arc<Connection>>,
    /// The server slot, and the gauge that counts it.
    permit: Option<(OwnedSemaphorePermit, metrics::Gauge)>,
    answered: bool,
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        if let Some(connection) = &self.connection {
            connection.in_flight.fetch_sub(1, Ordering::AcqRel);
            connection.touch();
        }
        if let Some((_, in_flight)) = &self.permit {
            in_flight.decrement(1.0);
        }
        if !self.answered {
            tracing::info!(rpc = %self.rpc, "call abandoned before its answer: the caller cancelled it or its deadline passed");
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its call's [`CallGuard`] until the body ends or is dropped.
    pub struct GuardedBody<B> {
        #[pin]
        inner: Option<B>,
        guard: Option<CallGuard>,
    }
}

impl<B> GuardedBody<B> {
    fn guarded(inner: B, guard: CallGuard) -> Self {
        Self {
            inner: Some(inner),
            guard: Some(guard),
        }
    }

    fn unguarded(inner: B) -> Self {
        Self {
            inner: Some(inner),
            guard: None,
        }
    }

    /// The body of a trailers-only answer (the status is in the headers).
    fn empty() -> Self {
        Self {
            inner: None,
            guard: None,
        }
    }
}

impl<B> Default for GuardedBody<B> {
    /// The body of a trailers-only answer: what an answer made before the call was admitted has.
    fn default() -> Self {
        Self::empty()
    }
}

impl<B: Body> Body for GuardedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            return Poll::Ready(None);
        };
        let frame = inner.poll_frame(cx);
        if let Poll::Ready(None) = frame {
            // The call is over: free its slots now rather than when hyper drops the body.
            this.guard.take();
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use tokio::sync::Notify;
    use tower::ServiceExt;

    type Response = http::Response<String>;

    /// A service whose calls wait until the test lets them go.
    fn gated(
        gate: Arc<Notify>,
    ) -> impl Service<
        http::Request<()>,
        Response = Response,
        Error = Infallible,
        Future = impl Future<Output = Result<Response, Infallible>> + Send,
    > + Clone {
        tower::service_fn(move |request: http::Request<()>| {
            let gate = gate.clone();
            async move {
                if !request.uri().path().starts_with(HEALTH_PREFIX) {
                    gate.notified().await;
                }
                Ok::<_, Infallible>(http::Response::new("done".to_owned()))
            }
        })
    }

    fn request(path: &str, connection: Option<&Arc<Connection>>) -> http::Request<()> {
        let mut request = http::Request::builder()
            .uri(path)
            .body(())
            .expect("valid request");
        if let Some(connection) = connection {
            request
                .extensions_mut()
                .insert(ConnectionInfo(connection.clone()));
        }
        request
    }

    fn grpc_status(response: &http::Response<GuardedBody<String>>) -> Option<String> {
        response
            .headers()
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    const RESOURCE_EXHAUSTED: &str = "8";

    /// The answer to a call that must not wait (it is shed, or it is a health check).
    async fn at_once<F: Future>(call: F) -> F::Output {
        tokio::time::timeout(std::time::Duration::from_secs(10), call)
            .await
            .expect("answered without waiting")
    }

    /// Yields until `done` holds; a test whose calls never get there fails instead of hanging.
    async fn until(done: impl Fn() -> bool) {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while !done() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the calls were admitted");
    }

    /// The figure `name` on a Prometheus page.
    fn figure(page: &str, name: &str) -> f64 {
        page.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{page}"))
    }

    /// Caught with its mechanism removed: without the decrement the gauge stays at 2 once the calls
    /// ended; counting before the permit, a shed call shows as a third.
    #[tokio::test]
    async fn the_calls_holding_a_slot_are_on_metrics_beside_the_limit() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let page = recorder.handle();
        let gate = Arc::new(Notify::new());
        let limits = metrics::with_local_recorder(&recorder, || CallLimitsLayer::new(2, 100));
        let service = limits.layer(gated(gate.clone()));
        let held: Vec<_> = (0..2)
            .map(|_| tokio::spawn(service.clone().oneshot(request("/a/B", None))))
            .collect();
        until(|| service.limits.server.available_permits() == 0).await;
        let shed = at_once(service.clone().oneshot(request("/a/B", None))).await;
        assert_eq!(
            grpc_status(&shed.expect("answered")).as_deref(),
            Some(RESOURCE_EXHAUSTED)
        );
        assert_eq!(figure(&page.render(), "grpc_server_in_flight"), 2.0);
        assert_eq!(figure(&page.render(), "grpc_server_in_flight_limit"), 2.0);

        gate.notify_waiters();
        for call in held {
            let response = call.await.expect("task").expect("answered");
            drop(response); // the body ends the call
        }
        assert_eq!(figure(&page.render(), "grpc_server_in_flight"), 0.0);
    }

    #[tokio::test]
    async fn past_the_server_limit_calls_are_shed_at_once() {
        let gate = Arc::new(Notify::new());
        let service = CallLimitsLayer::new(2, 100).layer(gated(gate.clone()));
        let held: Vec<_> = (0..2)
            .map(|_| tokio::spawn(service.clone().oneshot(request("/a/B", None))))
            .collect();
        // Spawned calls are admitted when first polled: wait until both hold their slot.
        until(|| service.limits.server.available_permits() == 0).await;
        let shed = at_once(service.clone().oneshot(request("/a/B", None)))
            .await
            .expect("answered");
        assert_eq!(grpc_status(&shed).as_deref(), Some(RESOURCE_EXHAUSTED));

        let health = at_once(
            service
                .clone()
                .oneshot(request("/grpc.health.v1.Health/Check", None)),
        )
        .await
        .expect("answered");
        assert_eq!(grpc_status(&health), None, "health checks are not shed");

        gate.notify_waiters();
        for call in held {
            let response = call.await.expect("task").expect("answered");
            assert_eq!(grpc_status(&response), None, "admitted calls run");
        }
    }

    #[tokio::test]
    async fn past_the_connection_limit_calls_are_shed_and_slots_come_back() {
        let gate = Arc::new(Notify::new());
        let service = CallLimitsLayer::new(100, 1).layer(gated(gate.clone()));
        let busy = Arc::new(Connection::new(None, None));
        let other = Arc::new(Connection::new(None, None));

        let first = tokio::spawn(service.clone().oneshot(request("/a/B", Some(&busy))));
        until(|| busy.in_flight.load(Ordering::Acquire) > 0).await;
        let shed = at_once(service.clone().oneshot(request("/a/B", Some(&busy))))
            .await
            .expect("answered");
        assert_eq!(grpc_status(&shed).as_deref(), Some(RESOURCE_EXHAUSTED));
        assert_eq!(
            busy.in_flight.load(Ordering::Acquire),
            1,
            "a shed call holds no slot"
        );

        let elsewhere = tokio::spawn(service.clone().oneshot(request("/a/B", Some(&other))));
        until(|| other.in_flight.load(Ordering::Acquire) > 0).await;
        gate.notify_waiters();
        let first = first.await.expect("task").expect("answered");
        assert_eq!(grpc_status(&first), None);
        let elsewhere = elsewhere.await.expect("task").expect("answered");
        assert_eq!(
            grpc_status(&elsewhere),
            None,
            "another connection has its own limit"
        );

        drop(first); // the body, and with it the call, ends
        assert_eq!(busy.in_flight.load(Ordering::Acquire), 0);
    }

    #[tokio::test]
    async fn an_abandoned_call_gives_its_slots_back() {
        let gate = Arc::new(Notify::new());
        let service = CallLimitsLayer::new(1, 1).layer(gated(gate));
        let connection = Arc::new(Connection::new(None, None));
        let call = tokio::spawn(service.clone().oneshot(request("/a/B", Some(&connection))));
        until(|| connection.in_flight.load(Ordering::Acquire) > 0).await;
        call.abort();
        let _ = call.await;
        assert_eq!(connection.in_flight.load(Ordering::Acquire), 0);
        assert_eq!(service.limits.server.available_permits(), 1);
    }
}
