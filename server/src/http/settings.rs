//! Security settings, attributes, traffic stats, contacts and the token debugger of a workspace.

use axum::extract::State;
use axum::http::StatusCode;
use countersign_core::debug::{DebugReport, TestToken};
use countersign_core::AttributeDef;
use countersign_proto::{AttributeStats, AttributeUpdate, Contact, Overview, SecuritySettings, Stats};
use countersign_service::stats::StatsQuery;
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path, Query};
use crate::AppState;

/// The workspace's security settings.
pub async fn get_security(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(state.svc.get_security(&actor, id).await?))
}

/// Replaces the security settings (applies on every instance within a second).
pub async fn put_security(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<SecuritySettings>,
) -> ApiResult<Json<SecuritySettings>> {
    Ok(Json(state.svc.update_security(&actor, id, &body).await?))
}

/// The attribute registry.
pub async fn list_attributes(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<AttributeDef>>> {
    Ok(Json(state.svc.list_attributes(&actor, id).await?))
}

/// Registers an attribute.
pub async fn create_attribute(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<AttributeDef>,
) -> ApiResult<(StatusCode, Json<AttributeDef>)> {
    Ok((StatusCode::CREATED, Json(state.svc.create_attribute(&actor, id, &body).await?)))
}

/// Changes an attribute.
pub async fn update_attribute(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, name)): Path<(Uuid, String)>,
    Json(body): Json<AttributeUpdate>,
) -> ApiResult<Json<AttributeDef>> {
    Ok(Json(state.svc.update_attribute(&actor, id, &name, &body).await?))
}

/// Removes an attribute.
pub async fn delete_attribute(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, name)): Path<(Uuid, String)>,
) -> ApiResult<StatusCode> {
    state.svc.delete_attribute(&actor, id, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Attempts per bucket, from the log rollups.
pub async fn stats(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Query(query): Query<StatsQuery>,
) -> ApiResult<Json<Stats>> {
    Ok(Json(state.svc.stats(&actor, id, &query).await?))
}

/// Per registered attribute, its unsigned updates over the last 7 days.
pub async fn attribute_stats(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<AttributeStats>> {
    Ok(Json(state.svc.attribute_stats(&actor, id).await?))
}

/// Query of `GET .../overview`.
#[derive(Debug, serde::Deserialize)]
pub struct OverviewQuery {
    range: Option<String>,
}

/// Per-platform health, readiness, failure groups and the checklist, from the rollups.
pub async fn overview(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Query(query): Query<OverviewQuery>,
) -> ApiResult<Json<Overview>> {
    Ok(Json(state.svc.overview(&actor, id, query.range.as_deref()).await?))
}

/// A stored contact.
pub async fn get_contact(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, user_id)): Path<(Uuid, String)>,
) -> ApiResult<Json<Contact>> {
    Ok(Json(state.svc.get_contact(&actor, id, &user_id).await?))
}

/// The token debugger (writes no verification log row).
pub async fn debug_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Json<DebugReport>> {
    Ok(Json(state.svc.debug_token(&actor, id, &body).await?))
}

/// A test token signed with the primary key (roles that may reveal a secret).
pub async fn debug_test_token(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<serde_json::Value>,
) -> ApiResult<Json<TestToken>> {
    Ok(Json(state.svc.debug_test_token(&actor, id, &body).await?))
}
