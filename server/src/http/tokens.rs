//! `POST`/`GET /api/v1/tokens`, `DELETE /api/v1/tokens/{id}`: personal access tokens.

use axum::extract::State;
use axum::http::StatusCode;
use countersign_proto::{CreateTokenRequest, CreatedToken, TokenInfo};
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path};
use crate::AppState;

/// Creates a token for the caller; the answer is the only time it is shown.
pub async fn create_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Json(body): Json<CreateTokenRequest>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    Ok((StatusCode::CREATED, Json(state.svc.create_token(&actor, &body.name).await?)))
}

/// The caller's tokens (metadata only).
pub async fn list_tokens(State(state): State<AppState>, Authed(actor): Authed) -> ApiResult<Json<Vec<TokenInfo>>> {
    Ok(Json(state.svc.list_tokens(&actor).await?))
}

/// Revokes one of the caller's tokens.
pub async fn revoke_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    state.svc.revoke_token(&actor, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
