//! `/api/v1/account/...`: the caller's password and where they are signed in.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use countersign_proto::{ChangePasswordRequest, EndedSessions, SessionSummary};
use countersign_service::web;
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path};
use crate::AppState;

/// The session cookie the request is authenticated by; none when a bearer token is.
fn current_session(headers: &HeaderMap) -> Option<String> {
    match web::bearer_token(headers) {
        Some(_) => None,
        None => web::session_token(headers),
    }
}

/// Changes the caller's password; every other session ends.
pub async fn change_password(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
    Json(body): Json<ChangePasswordRequest>,
) -> ApiResult<Json<EndedSessions>> {
    let current = current_session(&headers);
    Ok(Json(state.svc.change_password(&actor, current.as_deref(), &body.current_password, &body.new_password).await?))
}

/// Where the caller is signed in; the request's own session is marked `current`.
pub async fn list_sessions(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<SessionSummary>>> {
    let current = current_session(&headers);
    Ok(Json(state.svc.list_sessions(&actor, current.as_deref()).await?))
}

/// Signs one of the caller's sessions out.
pub async fn end_session(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.svc.end_session(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Signs every other session of the caller out.
pub async fn end_other_sessions(
    State(state): State<AppState>,
    Authed(actor): Authed,
    headers: HeaderMap,
) -> ApiResult<Json<EndedSessions>> {
    let current = current_session(&headers);
    Ok(Json(state.svc.end_other_sessions(&actor, current.as_deref()).await?))
}
