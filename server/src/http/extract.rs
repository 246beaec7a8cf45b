//! Extractors: the caller's identity, request metadata, and JSON/path/query extractors whose
//! rejections use the contract's error envelope.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::request::Parts;
use countersign_service::web;
use countersign_service::{Actor, RequestMeta};

use super::error::ApiError;
use crate::AppState;

/// JSON body whose rejection is a contract error.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> axum::response::IntoResponse for Json<T> {
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Path parameters whose rejection is a 404.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// Query string whose rejection is a 400.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

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

/// A signed-in caller: a personal access token (`Authorization: Bearer`) or a session cookie.
pub struct Authed(pub Actor);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
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
