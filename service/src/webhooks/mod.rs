//! Security alerts by webhook: endpoints per workspace (owners and admins manage them), events
//! enqueued in the transaction of the change they report (`enqueue`, called where the audit
//! row is written), durable delivery with retries (`delivery`), and a periodic checker over
//! the log rollups (`alerts`). The pure rules live in `countersign_core::webhook`.

mod alerts;
mod delivery;

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use countersign_core::policy::Action;
use countersign_core::webhook::{self, EventType, Target};
use countersign_proto::{CreatedWebhook, WebhookDelivery, WebhookEndpoint, WebhookRequest};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ServiceError, ServiceResult};
use crate::{random, Actor, Service};

pub use alerts::{REJECTION_SPIKE_THRESHOLD, REJECTION_SPIKE_WINDOW_MINUTES};

/// Endpoints one workspace may have.
pub const MAX_ENDPOINTS: i64 = 20;
/// Deliveries listed per endpoint, newest first.
pub const DELIVERY_LOG_LENGTH: i64 = 50;
/// How long resolving a webhook's host may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: Uuid,
    url: String,
    events: Vec<String>,
    enabled: bool,
    disabled_reason: Option<String>,
    consecutive_failures: i32,
    created_at: DateTime<Utc>,
}

const ENDPOINT_COLUMNS: &str = "id, url, events, enabled, disabled_reason, consecutive_failures, created_at";
const DELIVERY_COLUMNS: &str =
    "id, event_id, event_type, status, attempts, response_code, response_excerpt, error, created_at, last_attempt_at, next_attempt_at";

impl From<EndpointRow> for WebhookEndpoint {
    fn from(row: EndpointRow) -> Self {
        WebhookEndpoint {
            id: row.id,
            url: row.url,
            events: row.events,
            enabled: row.enabled,
            disabled_reason: row.disabled_reason,
            consecutive_failures: row.consecutive_failures,
            created_at: row.created_at,
        }
    }
}

/// What a signing secret is sealed under: its own "kid", distinct from every key's (`k_...`).
fn seal_id(endpoint_id: Uuid) -> String {
    format!("webhook:{endpoint_id}")
}

/// The subscribed events, checked and deduplicated in catalogue order.
fn parse_events(events: &[String]) -> ServiceResult<Vec<String>> {
    if events.is_empty() {
        return Err(ServiceError::invalid("events must name at least one event."));
    }
    if events.len() > 64 {
        return Err(ServiceError::invalid("events has too many entries."));
    }
    for name in events {
        if EventType::parse(name).is_none() {
            let known: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|e| e.as_str()).collect();
            let shown: String = name.chars().take(64).collect();
            return Err(ServiceError::invalid(format!("Unknown event {shown:?}; events are {}.", known.join(", "))));
        }
    }
    Ok(EventType::SUBSCRIBABLE
        .iter()
        .map(|e| e.as_str())
        .filter(|e| events.iter().any(|n| n == e))
        .map(str::to_owned)
        .collect())
}

/// Resolves a target's host and checks every address it resolves to; the addresses to
/// connect to (only these: a second lookup could answer differently).
pub(crate) async fn resolve(target: &Target, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((target.host.as_str(), target.port))).await
        {
            Ok(Ok(addrs)) => addrs.collect(),
            Ok(Err(_)) => return Err(format!("The host {} does not resolve.", target.host)),
            Err(_) => return Err(format!("Resolving {} timed out.", target.host)),
        };
    if addrs.is_empty() {
        return Err(format!("The host {} does not resolve.", target.host));
    }
    if let Some(refused) = addrs.iter().find(|a| !webhook::address_allowed(a.ip(), allow_private)) {
        return Err(format!(
            "The host {} resolves to {}, a private, loopback or link-local address; webhooks are delivered to public addresses only.",
            target.host,
            refused.ip()
        ));
    }
    Ok(addrs)
}

/// The connections of the delivery workers and the alert checker: one per worker and one for
/// the checker, opened on first use.
pub(crate) fn background_pool(pool: &crate::db::Db) -> crate::db::Db {
    let background = sqlx::postgres::PgPoolOptions::new()
        .max_connections(delivery::WORKERS as u32 + 1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with((*pool.connect_options()).clone());
    crate::db::Db::new(background, pool.pooler())
}

/// The JSON body of an event (signed and sent byte for byte as stored).
fn payload(event_id: &str, event: EventType, workspace_id: Uuid, at: DateTime<Utc>, data: serde_json::Value) -> String {
    serde_json::json!({
        "id": event_id,
        "type": event.as_str(),
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "workspace_id": workspace_id,
        "data": data,
    })
    .to_string()
}

fn new_event_id() -> String {
    format!("msg_{}", Uuid::now_v7().simple())
}

/// Queues `event` for every enabled endpoint of the workspace subscribed to it, on `conn`: in
/// the transaction of the change it reports, so it is delivered if and only if that commits.
pub(crate) async fn enqueue(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    event: EventType,
    at: DateTime<Utc>,
    data: serde_json::Value,
) -> ServiceResult<()> {
    let event_id = new_event_id();
    crate::db::query(
        "INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type, payload, next_attempt_at, created_at)
         SELECT gen_random_uuid(), e.workspace_id, e.id, $2, $3, $4, $5, $5
           FROM webhook_endpoints e
          WHERE e.workspace_id = $1 AND e.enabled AND $3 = ANY (e.events)
         ON CONFLICT (endpoint_id, event_id) DO NOTHING",
    )
    .bind(workspace_id)
    .bind(&event_id)
    .bind(event.as_str())
    .bind(payload(&event_id, event, workspace_id, at, data))
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

impl Service {
    fn webhook_target(&self, url: &str) -> ServiceResult<Target> {
        webhook::parse_url(url, self.settings.webhooks_allow_private).map_err(ServiceError::invalid)
    }

    /// Checks a URL completely: its shape and every address its host resolves to now.
    async fn check_webhook_url(&self, url: &str) -> ServiceResult<()> {
        let target = self.webhook_target(url)?;
        resolve(&target, self.settings.webhooks_allow_private).await.map_err(ServiceError::invalid)?;
        Ok(())
    }

    /// The workspace's webhook endpoints, oldest first.
    pub async fn list_webhooks(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<WebhookEndpoint>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        let rows: Vec<EndpointRow> = crate::db::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(tenant.conn())
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Adds an endpoint with a new signing secret, returned this once.
    pub async fn create_webhook(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        request: &WebhookRequest,
    ) -> ServiceResult<CreatedWebhook> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        let events = parse_events(&request.events)?;
        self.check_webhook_url(&request.url).await?;
        let tx = tenant.conn();
        let count: i64 = crate::db::query_scalar("SELECT count(*) FROM webhook_endpoints WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= MAX_ENDPOINTS {
            return Err(ServiceError::invalid(format!("A workspace has at most {MAX_ENDPOINTS} webhook endpoints.")));
        }
        let id = Uuid::now_v7();
        let secret = random::bytes::<32>();
        let now = self.clock.now();
        let row: EndpointRow = crate::db::query_as(&format!(
            "INSERT INTO webhook_endpoints (id, workspace_id, url, events, sealed_secret, created_at, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {ENDPOINT_COLUMNS}"
        ))
        .bind(id)
        .bind(workspace_id)
        .bind(&request.url)
        .bind(&events)
        .bind(self.keyring.seal(workspace_id, &seal_id(id), &secret)?)
        .bind(now)
        .bind(actor.account_id)
        .fetch_one(&mut *tx)
        .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "webhook.created")
            .target(id.to_string())
            .details(serde_json::json!({ "url": request.url, "events": events }));
        audit::insert(tx, now, entry).await?;
        tenant.commit().await?;
        Ok(CreatedWebhook { endpoint: row.into(), secret: webhook::display_secret(&secret) })
    }

    /// Replaces an endpoint's URL and events; `enabled: true` re-enables it (clearing its
    /// failure count), `false` pauses it.
    pub async fn update_webhook(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        hook_id: Uuid,
        request: &WebhookRequest,
    ) -> ServiceResult<WebhookEndpoint> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        let events = parse_events(&request.events)?;
        self.check_webhook_url(&request.url).await?;
        let tx = tenant.conn();
        let row: Option<EndpointRow> = crate::db::query_as(&format!(
            "UPDATE webhook_endpoints
                SET url = $3, events = $4,
                    enabled = coalesce($5, enabled),
                    disabled_reason = CASE WHEN $5 IS NULL THEN disabled_reason ELSE NULL END,
                    consecutive_failures = CASE WHEN $5 THEN 0 ELSE consecutive_failures END
              WHERE workspace_id = $1 AND id = $2
          RETURNING {ENDPOINT_COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(hook_id)
        .bind(&request.url)
        .bind(&events)
        .bind(request.enabled)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.ok_or_else(|| ServiceError::not_found("Webhook"))?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "webhook.updated")
            .target(hook_id.to_string())
            .details(serde_json::json!({ "url": request.url, "events": events, "enabled": row.enabled }));
        audit::insert(tx, self.clock.now(), entry).await?;
        tenant.commit().await?;
        Ok(row.into())
    }

    /// Removes an endpoint and its delivery log.
    pub async fn delete_webhook(&self, actor: &Actor, workspace_id: Uuid, hook_id: Uuid) -> ServiceResult<()> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        let tx = tenant.conn();
        let url: Option<String> =
            crate::db::query_scalar("DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2 RETURNING url")
                .bind(workspace_id)
                .bind(hook_id)
                .fetch_optional(&mut *tx)
                .await?;
        let url = url.ok_or_else(|| ServiceError::not_found("Webhook"))?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "webhook.deleted")
            .target(hook_id.to_string())
            .details(serde_json::json!({ "url": url }));
        audit::insert(tx, self.clock.now(), entry).await?;
        tenant.commit().await?;
        Ok(())
    }

    /// Queues a `webhook.test` event for one endpoint (delivered even while it is disabled,
    /// to check a fix before re-enabling it).
    pub async fn test_webhook(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        hook_id: Uuid,
    ) -> ServiceResult<WebhookDelivery> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        let now = self.clock.now();
        let event_id = new_event_id();
        let data = serde_json::json!({ "message": "A test event from Countersign.", "sent_by": actor.email });
        let delivery: Option<WebhookDelivery> = crate::db::query_as(&format!(
            "INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, event_type, payload, next_attempt_at, created_at)
             SELECT $3, workspace_id, id, $4, $5, $6, $7, $7 FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2
             RETURNING {DELIVERY_COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(hook_id)
        .bind(Uuid::now_v7())
        .bind(&event_id)
        .bind(EventType::Test.as_str())
        .bind(payload(&event_id, EventType::Test, workspace_id, now, data))
        .bind(now)
        .fetch_optional(tenant.conn())
        .await?;
        let delivery = delivery.ok_or_else(|| ServiceError::not_found("Webhook"))?;
        tenant.commit().await?;
        Ok(delivery)
    }

    /// An endpoint's most recent deliveries, newest first.
    pub async fn list_webhook_deliveries(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        hook_id: Uuid,
    ) -> ServiceResult<Vec<WebhookDelivery>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        let tx = tenant.conn();
        let exists: Option<Uuid> =
            crate::db::query_scalar("SELECT id FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(hook_id)
                .fetch_optional(&mut *tx)
                .await?;
        if exists.is_none() {
            return Err(ServiceError::not_found("Webhook"));
        }
        let rows: Vec<WebhookDelivery> = crate::db::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE workspace_id = $1 AND endpoint_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(hook_id)
        .bind(DELIVERY_LOG_LENGTH)
        .fetch_all(&mut *tx)
        .await?;
        Ok(rows)
    }

    /// Re-seals every webhook signing secret under the keyring's current master key.
    pub(crate) async fn rekey_webhooks(&self) -> ServiceResult<usize> {
        let rows: Vec<(Uuid, Uuid, Vec<u8>)> =
            crate::db::query_as("SELECT id, workspace_id, sealed_secret FROM webhook_endpoints")
                .fetch_all(&self.pool)
                .await?;
        for (id, workspace_id, sealed) in &rows {
            let secret = self.keyring.open(*workspace_id, &seal_id(*id), sealed)?;
            crate::db::query("UPDATE webhook_endpoints SET sealed_secret = $2 WHERE id = $1 AND sealed_secret = $3")
                .bind(id)
                .bind(self.keyring.seal(*workspace_id, &seal_id(*id), &secret)?)
                .bind(sealed)
                .execute(&self.pool)
                .await?;
        }
        Ok(rows.len())
    }

    /// Starts this instance's delivery workers and alert checker.
    pub(crate) fn start_webhook_workers(&self) {
        for _ in 0..delivery::WORKERS {
            tokio::spawn(self.clone().deliver_forever());
        }
        tokio::spawn(self.clone().check_alerts_forever());
    }
}
