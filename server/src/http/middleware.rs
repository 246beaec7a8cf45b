//! Cross-cutting layers: client address behind proxies, CSRF origin checks, security
//! headers, JSON 404/405/500.

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use countersign_app::error::AppError;
use countersign_service::ErrorCode;

use super::csp::{self, CspNonce};
use super::error::ApiError;
use super::extract::{encodes_nul, request_meta, BearerActor};
use crate::AppState;
use countersign_service::web::{self, bearer_token, session_token, TrustedProxies};

/// CSRF protection for every state-changing request (OWASP "verifying origin with standard
/// headers"): a browser always sends `Origin` (or `Sec-Fetch-Site`) on such requests, so one
/// from another site is refused (see [`refuse_cross_site`]). The data plane, called
/// cross-origin by design, is not under this layer.
pub async fn csrf(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if safe {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    if let Err(refused) = refuse_cross_site(&state, &mut parts).await {
        return refused.into_response();
    }
    next.run(Request::from_parts(parts, body)).await
}

/// Refuses a request from another site, or a cookie-carrying one whose origin is unknown.
///
/// Only a request that a *valid* bearer token authenticates, and that carries no session
/// cookie, skips the check: nothing ambient is in play then. The mere presence of an
/// `Authorization` header is not enough, and neither is a valid token beside the cookie,
/// because some handlers (server functions, logout) act on the cookie whatever else the
/// request carries. The token's actor is kept for [`super::extract::Authed`], so it is looked
/// up once.
pub async fn refuse_cross_site(state: &AppState, parts: &mut Parts) -> Result<(), ApiError> {
    let cookie = session_token(&parts.headers).is_some();
    if let (Some(token), false) = (bearer_token(&parts.headers), cookie) {
        match state.svc.authenticate_token(token, &request_meta(parts)).await {
            Ok(actor) => {
                parts.extensions.insert(BearerActor(actor));
                return Ok(());
            }
            Err(err) if err.code == ErrorCode::Unauthorized => {}
            Err(err) => return Err(err.into()),
        }
    }
    let refuse = match same_origin(&parts.headers, &state.config.public_url) {
        Some(same) => !same,
        None => cookie,
    };
    if refuse {
        return Err(ApiError::new(
            ErrorCode::CsrfFailed,
            "Cross-site request refused: send it from the dashboard's own origin.",
        ));
    }
    Ok(())
}

/// Whether the request comes from the dashboard's own origin: `Some(true|false)` when the
/// browser said, `None` when neither `Origin` nor `Sec-Fetch-Site` was sent.
fn same_origin(headers: &HeaderMap, public_url: &str) -> Option<bool> {
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let authority = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        return Some(origin == public_url || (!host.is_empty() && authority == host));
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())?;
    Some(matches!(site, "same-origin" | "none"))
}

/// Headers every response carries unless the handler set its own (the policy is in [`csp`]).
static SECURITY_HEADERS: LazyLock<[(HeaderName, HeaderValue); 4]> = LazyLock::new(|| {
    [
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (header::REFERRER_POLICY, HeaderValue::from_static("same-origin")),
        (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
    ]
});

/// Two years, subdomains included: browsers then never try plain http (RFC 6797).
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// How long a browser keeps a static asset whose name carries its content's hash.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Security headers on every response. Each request gets a fresh CSP nonce, which the
/// dashboard's renderer puts on its scripts and an HTML answer's policy names. Nothing but
/// the static assets under `/pkg/` may be cached: any other answer can show a secret (a
/// server function's, or a signed-in page). Those assets are kept for a year when their names
/// are hashed (a new build has new names), and revalidated on every use otherwise.
pub async fn security_headers(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let cacheable = path.starts_with("/pkg/");
    let immutable = cacheable && state.leptos_options.hash_files && named_by_content(path);
    let nonce = CspNonce::mint();
    request.extensions_mut().insert(nonce.clone());
    let mut response = next.run(request).await;
    let html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let https = state.config.public_url.starts_with("https://");
    if cacheable && response.status().is_success() {
        let policy = if immutable { IMMUTABLE } else { "no-cache" };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    }
    add_security_headers(response.headers_mut(), https, html.then_some(&nonce), cacheable);
    response
}

/// Whether a file's name carries its content's hash, as the build writes it (`name.<22
/// base64url characters>.ext`). The build leaves a few split modules unhashed; those are
/// revalidated rather than kept for a year under a name a new build reuses.
fn named_by_content(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() > 2
        && parts[1..parts.len() - 1]
            .iter()
            .any(|part| part.len() == 22 && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Adds the security headers a response lacks: HSTS when browsers reach us over `https`, the
/// policy (naming `nonce` on an HTML page), and `Cache-Control: no-store` unless `cacheable`,
/// replacing whatever a handler or the framework chose (server-sent events say `no-cache`,
/// which still lets a cache keep the log rows they carry).
pub fn add_security_headers(headers: &mut HeaderMap, https: bool, nonce: Option<&CspNonce>, cacheable: bool) {
    headers.reserve(SECURITY_HEADERS.len() + 3);
    for (name, value) in SECURITY_HEADERS.iter() {
        headers.entry(name).or_insert_with(|| value.clone());
    }
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert_with(|| csp::policy(nonce));
    if https {
        headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert_with(|| HeaderValue::from_static(HSTS));
    }
    if !cacheable {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// The server functions' argument boundary, as [`super::extract::Json`] is the API's: a body
/// over [`super::MAX_BODY_BYTES`] is a 413 and NUL, raw or percent-encoded, a 400, in the
/// dashboard's error shape, before the framework decodes anything (it would answer both with
/// a 500, or hand Postgres text it cannot store).
pub async fn server_fn_arguments(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with(countersign_app::api::SERVER_FN_PREFIX) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, super::MAX_BODY_BYTES).await else {
        return server_fn_error(ErrorCode::PayloadTooLarge, "The request body is over 64 KiB.");
    };
    let query = parts.uri.query().unwrap_or_default().as_bytes();
    if encodes_nul(query) || encodes_nul(&bytes) || bytes.contains(&0) {
        return server_fn_error(ErrorCode::InvalidRequest, "Text may not contain the NUL character.");
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// An error as server functions answer with it (the dashboard's [`AppError`]).
fn server_fn_error(code: ErrorCode, message: &str) -> Response {
    let status = axum::http::StatusCode::from_u16(code.status()).unwrap_or(axum::http::StatusCode::BAD_REQUEST);
    (status, axum::Json(AppError { code: code.as_str().into(), message: message.into() })).into_response()
}

/// JSON 404 for unknown API paths.
pub async fn api_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such API endpoint.")
}

/// JSON 405 for a known API path with the wrong method.
pub async fn api_method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "This endpoint does not accept that HTTP method.")
}

/// A panic in a handler becomes the contract's `internal` error, never a stack trace.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked");
    ApiError::new(ErrorCode::Internal, "Internal server error.").into_response()
}

/// Behind trusted reverse proxies (`COUNTERSIGN_TRUSTED_PROXIES`), replaces the peer address
/// of each request with the client's ([`web::client_ip`]), so that everything reading
/// `ConnectInfo` (audit rows, login throttling, the verification log) sees the client rather
/// than the proxy. Not installed at all when no proxy is trusted.
pub fn resolve_client_ip(trusted: Arc<TrustedProxies>) -> impl Fn(Request) -> Request + Clone {
    move |mut request: Request| {
        if let Some(&ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
            let client = web::client_ip(request.headers(), peer.ip(), &trusted);
            if client != peer.ip() {
                request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, 0)));
            }
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::named_by_content;

    #[test]
    fn only_hashed_names_are_immutable() {
        assert!(named_by_content("/pkg/countersign.C0B1m0Tai6CSJrlfawVTsw.wasm"));
        assert!(named_by_content("/pkg/chunk_100.fnQ23Z03aFU-ae1fAjoGbg.wasm"));
        assert!(named_by_content("/pkg/countersign.d.iPS4nndwcHhcZ6lfz_ertw.ts"));
        assert!(!named_by_content("/pkg/split___snippets_view_5146937158486724217.wasm"));
        assert!(!named_by_content("/pkg/countersign.wasm"));
        assert!(!named_by_content("/pkg/C0B1m0Tai6CSJrlfawVTsw.wasm"));
    }
}
