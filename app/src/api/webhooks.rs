//! Server functions: webhook endpoints, test events and delivery logs.

#[cfg(feature = "ssr")]
use countersign_proto::WebhookRequest;
use countersign_proto::{CreatedWebhook, WebhookDelivery, WebhookEndpoint};
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// The workspace's endpoints.
#[server(prefix = "/ui")]
pub async fn list_webhooks(workspace: Uuid) -> Result<Vec<WebhookEndpoint>, AppError> {
    Ok(ssr::service()?.list_webhooks(&ssr::actor().await?, workspace).await?)
}

/// Adds an endpoint from the form: the URL and the ticked events (`events[i]`).
#[server(prefix = "/ui")]
pub async fn create_webhook(
    workspace: Uuid,
    url: String,
    events: Option<Vec<String>>,
) -> Result<CreatedWebhook, AppError> {
    let request = WebhookRequest { url: url.trim().to_owned(), events: events.unwrap_or_default(), enabled: None };
    Ok(ssr::service()?.create_webhook(&ssr::actor().await?, workspace, &request).await?)
}

/// Enables (clearing its failure count) or pauses an endpoint, keeping its URL and events.
#[server(prefix = "/ui")]
pub async fn set_webhook_enabled(workspace: Uuid, hook: Uuid, enabled: bool) -> Result<WebhookEndpoint, AppError> {
    let service = ssr::service()?;
    let actor = ssr::actor().await?;
    let current = service.list_webhooks(&actor, workspace).await?.into_iter().find(|h| h.id == hook);
    let current = current.ok_or_else(|| AppError::from(countersign_service::ServiceError::not_found("Webhook")))?;
    let request = WebhookRequest { url: current.url, events: current.events, enabled: Some(enabled) };
    Ok(service.update_webhook(&actor, workspace, hook, &request).await?)
}

/// Removes an endpoint.
#[server(prefix = "/ui")]
pub async fn delete_webhook(workspace: Uuid, hook: Uuid) -> Result<(), AppError> {
    Ok(ssr::service()?.delete_webhook(&ssr::actor().await?, workspace, hook).await?)
}

/// Queues a test event for an endpoint.
#[server(prefix = "/ui")]
pub async fn send_test_webhook(workspace: Uuid, hook: Uuid) -> Result<WebhookDelivery, AppError> {
    Ok(ssr::service()?.test_webhook(&ssr::actor().await?, workspace, hook).await?)
}

/// An endpoint's recent deliveries.
#[server(prefix = "/ui")]
pub async fn list_webhook_deliveries(workspace: Uuid, hook: Uuid) -> Result<Vec<WebhookDelivery>, AppError> {
    Ok(ssr::service()?.list_webhook_deliveries(&ssr::actor().await?, workspace, hook).await?)
}
