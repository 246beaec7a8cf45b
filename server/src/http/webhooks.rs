//! Webhook endpoints of a workspace, their test events and delivery logs.

use axum::extract::State;
use axum::http::StatusCode;
use countersign_proto::{CreatedWebhook, WebhookDelivery, WebhookEndpoint, WebhookRequest};
use uuid::Uuid;

use super::error::ApiResult;
use super::extract::{Authed, Json, Path};
use crate::AppState;

/// The workspace's endpoints.
pub async fn list_webhooks(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
) -> ApiResult<Json<Vec<WebhookEndpoint>>> {
    Ok(Json(state.svc.list_webhooks(&actor, id).await?))
}

/// Adds an endpoint; the answer carries its signing secret, shown this once.
pub async fn create_webhook(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path(id): Path<Uuid>,
    Json(body): Json<WebhookRequest>,
) -> ApiResult<(StatusCode, Json<CreatedWebhook>)> {
    Ok((StatusCode::CREATED, Json(state.svc.create_webhook(&actor, id, &body).await?)))
}

/// Changes an endpoint's URL, events, or enabled state.
pub async fn update_webhook(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, hook_id)): Path<(Uuid, Uuid)>,
    Json(body): Json<WebhookRequest>,
) -> ApiResult<Json<WebhookEndpoint>> {
    Ok(Json(state.svc.update_webhook(&actor, id, hook_id, &body).await?))
}

/// Removes an endpoint.
pub async fn delete_webhook(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, hook_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<StatusCode> {
    state.svc.delete_webhook(&actor, id, hook_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Queues a test event for the endpoint.
pub async fn test_webhook(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, hook_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<(StatusCode, Json<WebhookDelivery>)> {
    Ok((StatusCode::ACCEPTED, Json(state.svc.test_webhook(&actor, id, hook_id).await?)))
}

/// The endpoint's recent deliveries, newest first.
pub async fn list_deliveries(
    State(state): State<AppState>,
    Authed(actor): Authed,
    Path((id, hook_id)): Path<(Uuid, Uuid)>,
) -> ApiResult<Json<Vec<WebhookDelivery>>> {
    Ok(Json(state.svc.list_webhook_deliveries(&actor, id, hook_id).await?))
}
