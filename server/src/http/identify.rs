//! `POST /api/v1/identify` (what the widget calls; CORS open) and `POST /api/v1/signatures`
//! (server to server). Both read the exact body bytes; the service does the rest.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use countersign_service::web;

use super::error::{ApiError, ApiResult};
use super::extract::Meta;
use crate::AppState;

/// The raw request body, at most 64 KiB (else 413 `payload_too_large`, no log row).
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;
    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        Ok(RawBody(Bytes::from_request(request, state).await?))
    }
}

/// The `Origin` header, if it is text (a widget's page; none from a backend).
pub struct Origin(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for Origin {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Origin(parts.headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned)))
    }
}

/// Verifies one identify attempt and answers once its log row is durable.
pub async fn identify(
    State(state): State<AppState>,
    Meta(meta): Meta,
    Origin(origin): Origin,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let started = Instant::now();
    let answer = state.svc.identify(&body, origin.as_deref(), &meta, started).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Ok((status, axum::Json(answer.body)).into_response())
}

/// Signs a user's JWT and legacy HMAC for a backend holding a current secret.
pub async fn signatures(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let answer = state.svc.signatures(&body, web::bearer_token(&headers)).await?;
    Ok(axum::Json(answer).into_response())
}
