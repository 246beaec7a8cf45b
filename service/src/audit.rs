//! The audit log: one row per admin action, written in the same transaction as the action.

use chrono::{DateTime, Utc};
use countersign_core::policy::Action;
use countersign_core::webhook::EventType;
use countersign_proto::{AuditEntry, Page};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, RequestMeta, Service};

/// An audit row to write.
pub struct NewAuditEntry {
    pub workspace_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    /// Dotted verb, e.g. `member.added`, `key.revealed`.
    pub action: &'static str,
    pub target: Option<String>,
    pub details: serde_json::Value,
    pub meta: RequestMeta,
}

impl NewAuditEntry {
    /// An account-level action of `actor` (no workspace).
    pub fn account(actor: &Actor, action: &'static str) -> Self {
        NewAuditEntry {
            workspace_id: None,
            actor_id: Some(actor.account_id),
            actor_email: Some(actor.email.clone()),
            action,
            target: None,
            details: serde_json::json!({}),
            meta: actor.meta.clone(),
        }
    }

    /// An action of `actor` in a workspace.
    pub fn workspace(actor: &Actor, workspace_id: Uuid, action: &'static str) -> Self {
        NewAuditEntry { workspace_id: Some(workspace_id), ..Self::account(actor, action) }
    }

    /// Names what the action was done to.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// Adds structured details (never a secret).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Writes an audit row on `conn` (usually the action's own transaction).
/// When the action is one webhooks report, queues its event in the same transaction.
pub async fn insert(conn: &mut PgConnection, at: DateTime<Utc>, entry: NewAuditEntry) -> ServiceResult<()> {
    if let (Some(workspace_id), Some(event)) = (entry.workspace_id, EventType::for_audit_action(entry.action)) {
        let data = serde_json::json!({
            "action": entry.action,
            "target": entry.target,
            "actor": { "id": entry.actor_id, "email": entry.actor_email },
            "details": entry.details,
            "ip": entry.meta.ip,
        });
        crate::webhooks::enqueue(&mut *conn, workspace_id, event, at, data).await?;
    }
    crate::db::query(
        "INSERT INTO audit_log (at, workspace_id, actor_id, actor_email, action, target, details, ip, user_agent)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(at)
    .bind(entry.workspace_id)
    .bind(entry.actor_id)
    .bind(entry.actor_email)
    .bind(entry.action)
    .bind(entry.target)
    .bind(entry.details)
    .bind(entry.meta.ip)
    .bind(entry.meta.user_agent)
    .execute(conn)
    .await?;
    Ok(())
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct AuditFilter {
    /// Only actions starting with this (e.g. `key.` or `member.added`).
    pub action: Option<String>,
    /// Only actions of this actor's email.
    pub actor: Option<String>,
    /// Keyset cursor from a previous page.
    pub cursor: Option<String>,
    /// Page size: 50 by default, 200 at most.
    pub limit: Option<i64>,
}

impl Service {
    /// A workspace's audit log, newest first, any member may read it.
    pub async fn list_audit(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        filter: &AuditFilter,
    ) -> ServiceResult<Page<AuditEntry>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let limit = filter.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ServiceError::invalid("limit must be between 1 and 200."));
        }
        let before = match &filter.cursor {
            Some(c) => Some(c.parse::<i64>().map_err(|_| ServiceError::invalid("cursor is not valid."))?),
            None => None,
        };
        let rows: Vec<AuditEntry> = crate::db::query_as(
            "SELECT id, at, actor_id, actor_email, action, target, details, ip, user_agent
               FROM audit_log
              WHERE workspace_id = $1
                AND ($2::bigint IS NULL OR id < $2)
                AND ($3::text IS NULL OR starts_with(action, $3))
                AND ($4::text IS NULL OR actor_email = lower($4))
              ORDER BY id DESC
              LIMIT $5",
        )
        .bind(workspace_id)
        .bind(before)
        .bind(filter.action.as_deref().filter(|s| !s.is_empty()))
        .bind(filter.actor.as_deref().filter(|s| !s.is_empty()))
        .bind(limit + 1)
        .fetch_all(tenant.conn())
        .await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<AuditEntry> = rows.into_iter().take(limit as usize).collect();
        let next_cursor = if more { items.last().map(|e| e.id.to_string()) } else { None };
        Ok(Page { items, next_cursor })
    }
}
