//! The HTTP/1.1 listener, with limits on slow and numerous clients: a client that takes longer
//! than [`HEADER_TIMEOUT`] to send its request headers, leaves more than [`BODY_IDLE_TIMEOUT`]
//! between pieces of its body, or has not sent the whole body [`BODY_DEADLINE`] after its
//! headers, is cut off; and at most `max_connections` connections are served at once (the
//! next ones wait in the kernel's accept queue). So neither idle nor trickling connections can
//! pile up and hold a task and a socket each (axum's own `serve` sets no such limits).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use prometheus::IntGauge;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

/// Longest wait for a request's headers (also the idle time of a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest pause while a request body arrives.
pub const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time a whole request body may take to arrive, counted from its headers: the largest
/// body the API takes (64 KiB) needs about 2 KiB/s to make it.
pub const BODY_DEADLINE: Duration = Duration::from_secs(30);

/// How many connections to serve at once, and the gauge that counts the open ones.
pub struct ConnectionLimit {
    /// Connections served at once; further clients wait to be accepted.
    pub max: usize,
    /// Set to the number of open connections.
    pub open: IntGauge,
}

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and lets the
/// requests under way finish (an identify answers only once its row is committed, so every
/// acknowledged row is durable), for at most `drain`. Every request carries its peer's
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    limit: ConnectionLimit,
) {
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let slots = Arc::new(Semaphore::new(limit.max));
    loop {
        // A slot first, then the connection: at the limit, clients queue in the kernel.
        let (slot, (stream, peer)) = tokio::select! {
            accepted = accept(&listener, &slots) => accepted,
            () = &mut shutdown => break,
        };
        let service = router.clone().map_request(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let deadline = Instant::now() + BODY_DEADLINE;
            request.map(|body| Body::new(TimeoutBody::new(BODY_IDLE_TIMEOUT, DeadlineBody::new(body, deadline))))
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        let open = OpenConnection::new(slot, &limit.open);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, peer = %peer, "connection ended with an error");
            }
            drop(open);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still under way after {} s: stopping anyway", drain.as_secs());
    }
}

/// A connection's slot, counted in the gauge while it is held: both are given back however the
/// connection's task ends.
struct OpenConnection {
    _slot: OwnedSemaphorePermit,
    gauge: IntGauge,
}

impl OpenConnection {
    fn new(slot: OwnedSemaphorePermit, gauge: &IntGauge) -> OpenConnection {
        gauge.inc();
        OpenConnection { _slot: slot, gauge: gauge.clone() }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

/// Waits for a free connection slot, then for a connection.
async fn accept(
    listener: &TcpListener,
    slots: &Arc<Semaphore>,
) -> (OwnedSemaphorePermit, (tokio::net::TcpStream, std::net::SocketAddr)) {
    // The semaphore is never closed, so acquiring only ever waits.
    let Ok(slot) = Arc::clone(slots).acquire_owned().await else {
        return std::future::pending().await;
    };
    loop {
        match listener.accept().await {
            Ok(connection) => return (slot, connection),
            Err(err) => {
                // Out of file descriptors and the like: pause rather than spin.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A request body that fails once `deadline` passes before its end has arrived.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Started the first time the body has to wait, so a body that is already here sets no timer.
    timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineBody {
    fn new(inner: Incoming, deadline: Instant) -> DeadlineBody {
        DeadlineBody { inner, deadline, timer: None }
    }
}

/// The error a [`DeadlineBody`] ends with.
#[derive(Debug)]
struct BodyDeadlinePassed;

impl std::fmt::Display for BodyDeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the request body did not arrive within {} s", BODY_DEADLINE.as_secs())
    }
}

impl std::error::Error for BodyDeadlinePassed {}

impl HttpBody for DeadlineBody {
    type Data = <Incoming as HttpBody>::Data;
    type Error = tower::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyDeadlinePassed.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
