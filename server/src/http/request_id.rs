//! Request ids: every response carries `X-Request-Id` (the caller's own, when it sent a sane
//! one, so ids follow a request through proxies), and the dashboard's and API's log lines are
//! written inside a span that names it, so a support ticket quoting the id finds its lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Request, Response};
use axum::Router;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::request_id::{MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::AppState;

/// The header that carries the id both ways.
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest caller-supplied id kept; a longer or stranger one is replaced.
const MAX_CALLER_ID: usize = 64;

/// Makes ids as `<instance>-<sequence>`: a random prefix per process (so instances behind one
/// load balancer do not collide) and a counter, which is cheaper per request than a random id.
#[derive(Clone, Copy, Default)]
pub struct SequentialIds;

static INSTANCE: LazyLock<String> = LazyLock::new(|| {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..4].iter().map(|b| format!("{b:02x}")).collect()
});
static SEQUENCE: AtomicU64 = AtomicU64::new(1);

impl MakeRequestId for SequentialIds {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = format!("{}-{:x}", *INSTANCE, SEQUENCE.fetch_add(1, Ordering::Relaxed));
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// A caller's id is kept when it is short and made of letters, digits, `-`, `_` and `.`.
fn is_sane(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_CALLER_ID
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Gives every request of `router` an id, echoed on its response. A caller's id that is not
/// sane is dropped before any other layer sees it, so logs never carry attacker-chosen text.
pub fn with_request_ids(router: Router<AppState>) -> Router<AppState> {
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
        .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), SequentialIds))
        .layer(tower::util::MapRequestLayer::new(drop_insane_id))
}

fn drop_insane_id<B>(mut request: Request<B>) -> Request<B> {
    if request.headers().get(&REQUEST_ID).is_some_and(|v| !is_sane(v)) {
        request.headers_mut().remove(&REQUEST_ID);
    }
    request
}

/// One log line per request (method, path without its query, status, latency), inside a span
/// that carries the request id. Not on the data plane, whose rate would flood the log.
pub fn with_access_log(router: Router<AppState>) -> Router<AppState> {
    router.layer(
        TraceLayer::new_for_http()
            .make_span_with(|request: &Request<_>| {
                let id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", request_id = id, method = %request.method(), path = request.uri().path())
            })
            .on_request(())
            .on_response(|response: &Response<_>, latency: Duration, _span: &Span| {
                tracing::info!(status = response.status().as_u16(), latency_ms = latency.as_millis() as u64, "served");
            })
            .on_failure(|class: ServerErrorsFailureClass, latency: Duration, _span: &Span| {
                tracing::warn!(failure = %class, latency_ms = latency.as_millis() as u64, "failed");
            }),
    )
}
