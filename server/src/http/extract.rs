//! Extractors: the caller's identity, request metadata, and JSON/path/query extractors whose
//! rejections use the contract's error envelope.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use countersign_service::web;
use countersign_service::{Actor, ErrorCode, RequestMeta};

use super::error::ApiError;
use crate::AppState;

/// JSON body whose rejection is a contract error. Text holding NUL is refused here, for every
/// management endpoint at once: Postgres cannot store it, so it could only fail later as a 500.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;
    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(request, state).await?;
        if holds_nul(&value) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "Text in the body may not contain the NUL character (\\u0000).",
            ));
        }
        T::deserialize(value)
            .map(Json)
            .map_err(|e| ApiError::new(ErrorCode::InvalidRequest, format!("Invalid JSON body: {e}")))
    }
}

/// Whether any string or key of `value` contains NUL.
fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Whether a percent-encoded path, query or form carries an encoded NUL.
pub fn encodes_nul(raw: &[u8]) -> bool {
    raw.windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters whose rejection is a 404 (a 400 for an encoded NUL, which no id holds).
pub struct Path<T>(pub T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if encodes_nul(parts.uri.path().as_bytes()) {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "The path may not contain the NUL character (%00)."));
        }
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(Path(value))
    }
}

/// Query string whose rejection is a 400.
pub struct Query<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(|q| encodes_nul(q.as_bytes())) {
            return Err(ApiError::new(
                ErrorCode::InvalidRequest,
                "The query string may not contain the NUL character (%00).",
            ));
        }
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(Query(value))
    }
}

/// The peer address and user agent of a request.
pub fn request_meta(parts: &Parts) -> RequestMeta {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    web::request_meta(&parts.headers, peer)
}

/// Request metadata as an extractor.
pub struct Meta(pub RequestMeta);

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Meta(request_meta(parts)))
    }
}

/// The caller a valid bearer token authenticated, left by the origin check
/// ([`super::middleware::refuse_cross_site`]) so that [`Authed`] does not look it up again.
#[derive(Clone)]
pub struct BearerActor(pub Actor);

/// A signed-in caller: a personal access token (`Authorization: Bearer`) or a session cookie.
pub struct Authed(pub Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(BearerActor(actor)) = parts.extensions.get::<BearerActor>() {
            return Ok(Authed(actor.clone()));
        }
        let meta = request_meta(parts);
        if let Some(token) = web::bearer_token(&parts.headers) {
            return Ok(Authed(state.svc.authenticate_token(token, &meta).await?));
        }
        match web::session_token(&parts.headers) {
            Some(token) => Ok(Authed(state.svc.authenticate_session(&token, &meta).await?)),
            None => Err(countersign_service::ServiceError::unauthorized().into()),
        }
    }
}

/// A request that is not cross-site, as the CSRF layer requires of state-changing requests:
/// for a `GET` with a side effect worth forging (revealing a secret is audited). Put it before
/// [`Authed`] in the handler's arguments.
pub struct NotCrossSite;

impl FromRequestParts<AppState> for NotCrossSite {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        super::middleware::refuse_cross_site(state, parts).await.map(|()| NotCrossSite)
    }
}
