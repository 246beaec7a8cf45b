//! `/api/v1/workspaces/{id}/keys`: list, rotate, revoke, reveal.

use axum::extract::State;
use axum::http::StatusCode;
use countersign_proto::{ImportKeyRequest, KeyInfo, RevealedSecret, RotateRequest, RotatedKey};
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, NotCrossSite, Path};
use crate::AppState;

/// The workspace's keys (metadata only).
pub async fn list_keys(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<KeyInfo>>> {
    Ok(Json(state.svc.list_keys(&actor, id).await?))
}

/// Makes a new primary; the old one verifies for `grace_seconds` (0 = revoke at once).
pub async fn rotate_key(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<RotateRequest>,
) -> ApiResult<Json<RotatedKey>> {
    Ok(Json(state.svc.rotate_key(&actor, id, body.grace_seconds).await?))
}

/// Revokes a key now.
pub async fn revoke_key(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, kid)): Path<(Uuid, String)>,
) -> ApiResult<Json<KeyInfo>> {
    Ok(Json(state.svc.revoke_key(&actor, id, &kid).await?))
}

/// Reveals a secret (audited). A `GET`, so the CSRF layer does not see it: the origin is
/// checked here.
pub async fn reveal_secret(
    State(state): State<AppState>,
    _: NotCrossSite,
    Authed(actor): Authed,
    Path((id, kid)): Path<(Uuid, String)>,
) -> ApiResult<Json<RevealedSecret>> {
    Ok(Json(state.svc.reveal_secret(&actor, id, &kid).await?))
}

/// Imports an existing secret, as primary or verify-only (never echoed back).
pub async fn import_key(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<ImportKeyRequest>,
) -> ApiResult<(StatusCode, Json<KeyInfo>)> {
    Ok((StatusCode::CREATED, Json(state.svc.import_key(&actor, id, &body.secret, body.primary).await?)))
}
