//! The accept loop: turns the listener into the connections the server serves, without ever spinning.
//!
//! tonic's own loop, which this replaced, retried a failed `accept` at once: at the open-file limit
//! every retry fails again immediately, so the server burned a core and answered nothing. Here a
//! failure that is about the server (out of file descriptors, memory, buffers) pauses accepting with
//! an exponential backoff, 5 ms up to 1 s, and is logged; a failure that is about one peer (it reset
//! the connection before it was accepted) is skipped. The listener lives in its own task, which ends —
//! and closes the listen socket — as soon as the serve loop stops accepting at shutdown.
//!
//! Every connection is wrapped in a [`TrackedStream`], which shares a [`Connection`] record with the
//! call limits (see `limits.rs`) and closes the connection once it has carried no call for the idle
//! timeout. Keepalive pings do not count as activity: only calls do. A connection that has sent no
//! request at all is closed sooner, [`Timeouts::first_request`] after it was accepted, so a peer that
//! connects and stays silent holds a descriptor for seconds, not minutes.
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Connected;

const MIN_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// How long a connection may stay open without doing anything.
#[derive(Clone, Copy, Debug)]
pub(super) struct Timeouts {
    /// Since its last call ended (or since it was accepted).
    pub idle: Duration,
    /// Since it was accepted, while no request has arrived on it.
    pub first_request: Duration,
}

/// What the server knows of one accepted connection: shared by its stream and by every call on it.
#[derive(Debug)]
pub(super) struct Connection {
    pub(crate) local: Option<SocketAddr>,
    pub(crate) remote: Option<SocketAddr>,
    /// Calls admitted on this connection and not yet finished.
    pub(crate) in_flight: AtomicUsize,
    opened: Instant,
    /// When a call last started or finished, in milliseconds since `opened`.
    last_call_ms: AtomicU64,
    /// Whether a request has arrived on it yet.
    requested: AtomicBool,
}

impl Connection {
    pub(crate) fn new(local: Option<SocketAddr>, remote: Option<SocketAddr>) -> Self {
        Self {
            local,
            remote,
            in_flight: AtomicUsize::new(0),
            opened: Instant::now(),
            last_call_ms: AtomicU64::new(0),
            requested: AtomicBool::new(false),
        }
    }

    /// Records that a call started or finished now.
    pub(crate) fn touch(&self) {
        self.requested.store(true, Ordering::Relaxed);
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_call_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// When the connection stops being busy enough to stay open, if it stays as it is now: `None`
    /// while a call is in flight.
    fn idle_deadline(&self, timeouts: Timeouts) -> Option<Instant> {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return None;
        }
        if !self.requested.load(Ordering::Relaxed) {
            return Some(self.opened + timeouts.first_request.min(timeouts.idle));
        }
        let last = Duration::from_millis(self.last_call_ms.load(Ordering::Relaxed));
        Some(self.opened + last + timeouts.idle)
    }
}

/// The connection info the serve loop puts into every request's extensions (see [`Connected`]).
#[derive(Clone, Debug)]
pub(super) struct ConnectionInfo(pub(crate) Arc<Connection>);

/// An accepted TCP stream that reads as closed once its connection has been idle too long.
#[derive(Debug)]
pub(super) struct TrackedStream {
    inner: TcpStream,
    connection: Arc<Connection>,
    timeouts: Timeouts,
    idle_timer: Pin<Box<Sleep>>,
}

impl TrackedStream {
    fn new(inner: TcpStream, timeouts: Timeouts) -> Self {
        let connection = Arc::new(Connection::new(
            inner.local_addr().ok(),
            inner.peer_addr().ok(),
        ));
        let first = connection
            .idle_deadline(timeouts)
            .unwrap_or_else(Instant::now);
        Self {
            inner,
            connection,
            timeouts,
            idle_timer: Box::pin(tokio::time::sleep_until(first)),
        }
    }

    /// Whether the idle timeout has run out; re-arms the timer (and registers `cx`) otherwise.
    fn idle_expired(&mut self, cx: &mut Context<'_>) -> bool {
        while self.idle_timer.as_mut().poll(cx).is_ready() {
            match self.connection.idle_deadline(self.timeouts) {
                Some(deadline) if deadline <= Instant::now() => return true,
                Some(deadline) => self.idle_timer.as_mut().reset(deadline),
                // Busy: look again one timeout from now (by then the deadline may lie later still).
                None => self
                    .idle_timer
                    .as_mut()
                    .reset(Instant::now() + self.timeouts.idle),
            }
        }
        false
    }
}

impl Connected for TrackedStream {
    type ConnectInfo = ConnectionInfo;

    fn connect_info(&self) -> ConnectionInfo {
        ConnectionInfo(self.connection.clone())
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let ready @ Poll::Ready(_) = Pin::new(&mut self.inner).poll_read(cx, buf) {
            return ready;
        }
        if self.idle_expired(cx) {
            tracing::debug!(remote = ?self.connection.remote, "closing idle connection");
            // Reading nothing is end of stream: hyper closes the connection.
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// An accept error caused by one peer, not by the server's state: skip it and accept the next.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// The connections accepted on `listener`. The stream never yields an error: accept failures are
/// handled (and logged) here. It ends when the receiving side is dropped, which closes the listener.
pub(super) fn accept(
    listener: TcpListener,
    timeouts: Timeouts,
) -> ReceiverStream<Result<TrackedStream, io::Error>> {
    // Capacity 1: a connection waits here only until the serve loop takes it.
    let (connections, incoming) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut backoff = MIN_BACKOFF;
        loop {
            let accepted = tokio::select! {
                () = connections.closed() => return,
                accepted = listener.accept() => accepted,
            };
            match accepted {
                Ok((stream, _)) => {
                    backoff = MIN_BACKOFF;
                    // gRPC answers are small and latency-bound: no Nagle delay.
                    let _ = stream.set_nodelay(true);
                    let stream = TrackedStream::new(stream, timeouts);
                    if connections.send(Ok(stream)).await.is_err() {
                        return;
                    }
                }
                Err(error) if is_peer_error(&error) => {}
                Err(error) => {
                    tracing::warn!(%error, backoff_ms = backoff.as_millis() as u64, "accept failed: pausing");
                    tokio::select! {
                        () = connections.closed() => return,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
    ReceiverStream::new(incoming)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_errors_are_skipped_and_resource_errors_are_not() {
        assert!(is_peer_error(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        // EMFILE: too many open files
        assert!(!is_peer_error(&io::Error::from_raw_os_error(24)));
    }

    const TIMEOUTS: Timeouts = Timeouts {
        idle: Duration::from_secs(60),
        first_request: Duration::from_secs(10),
    };

    #[tokio::test(start_paused = true)]
    async fn a_connection_is_idle_only_without_calls() {
        let connection = Connection::new(None, None);
        let start = Instant::now();
        connection.touch();
        assert_eq!(
            connection.idle_deadline(TIMEOUTS),
            Some(start + TIMEOUTS.idle)
        );
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        assert_eq!(connection.idle_deadline(TIMEOUTS), None, "busy");
        tokio::time::advance(Duration::from_secs(90)).await;
        connection.in_flight.fetch_sub(1, Ordering::AcqRel);
        connection.touch();
        assert_eq!(
            connection.idle_deadline(TIMEOUTS),
            Some(start + Duration::from_secs(150)),
            "a minute after the last call ended"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_connection_closes_at_the_first_request_timeout() {
        let connection = Connection::new(None, None);
        let start = Instant::now();
        assert_eq!(
            connection.idle_deadline(TIMEOUTS),
            Some(start + TIMEOUTS.first_request)
        );
    }
}
