//! Security settings, attributes, contacts and the token debugger of a workspace.

use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::AttributeDef;
use countersign_proto::{AttributeUpdate, Contact, SecuritySettings};
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path};
use crate::AppState;

/// The workspace's security settings.
pub async fn get_security(State(state): State<AppState>, Authed(actor): Authed, Path(id): Path<Uuid>) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(state.svc.get_security(&actor, id).await?))
}

/// Replaces the security settings (applies on every instance within a second).
pub async fn put_security(State(state): State<AppState>, Authed(actor): Authed, Path(id): Path<Uuid>, Json(body): Json<SecuritySettings>) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(state.svc.update_security(&actor, id, &body).await?))
}

/// The attribute registry.
pub async fn list_attributes(State(state): State<AppState>, Authed(actor): Authed, Path(id): Path<Uuid>) -> ApiResult<Json<Vec<AttributeDef>>> {
    Ok(Json(state.svc.list_attributes(&actor, id).await?))
}

/// Registers an attribute.
pub async fn create_attribute(State(state): State<AppState>, Authed(actor): Authed, Path(id): Path<Uuid>, Json(body): Json<AttributeDef>) -> ApiResult<(StatusCode, Json<AttributeDef>)> {
    Ok((StatusCode::CREATED, Json(state.svc.create_attribute(&actor, id, &body).await?)))
}

/// Changes an attribute.
pub async fn update_attribute(State(state): State<AppState>, Authed(actor): Authed, Path((id, name)): Path<(Uuid, String)>, Json(body): Json<AttributeUpdate>) -> ApiResult<Json<AttributeDef>> {
    Ok(Json(state.svc.update_attribute(&actor, id, &name, &body).await?))
}

/// Removes an attribute.
pub async fn delete_attribute(State(state): State<AppState>, Authed(actor): Authed, Path((id, name)): Path<(Uuid, String)>) -> ApiResult<StatusCode> {
    state.svc.delete_attribute(&actor, id, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A stored contact.
pub async fn get_contact(State(state): State<AppState>, Authed(actor): Authed, Path((id, user_id)): Path<(Uuid, String)>) -> ApiResult<Json<Contact>> {
    Ok(Json(state.svc.get_contact(&actor, id, &user_id).await?))
}

/// The token debugger (writes no verification log row).
pub async fn debug_token(State(state): State<AppState>, Authed(actor): Authed, Path(id): Path<Uuid>, Json(body): Json<serde_json::Value>) -> ApiResult<Json<serde_json::Value>> {
    Ok(Json(state.svc.debug_token(&actor, id, &body).await?))
}
