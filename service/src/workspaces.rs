//! Workspaces (tenants) and the membership check every workspace operation starts with.

use countersign_core::policy::Role;
use countersign_proto::WorkspaceSummary;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ServiceError, ServiceResult};
use crate::{random, Actor, Service};

/// Checks a workspace name: 1 to 100 characters after trimming, no control characters.
pub fn validate_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid("The workspace name must have 1 to 100 characters."));
    }
    Ok(name.to_owned())
}

impl Service {
    /// Creates a workspace with the caller as its owner.
    pub async fn create_workspace(&self, actor: &Actor, name: &str) -> ServiceResult<WorkspaceSummary> {
        let name = validate_name(name)?;
        let mut tx = self.pool.begin().await?;
        let workspace = self.create_workspace_in(&mut tx, actor, &name).await?;
        tx.commit().await?;
        Ok(workspace)
    }

    pub(crate) async fn create_workspace_in(
        &self,
        conn: &mut PgConnection,
        actor: &Actor,
        name: &str,
    ) -> ServiceResult<WorkspaceSummary> {
        let now = self.clock.now();
        let workspace = WorkspaceSummary {
            id: Uuid::new_v4(),
            app_id: random::id("app_"),
            name: name.to_owned(),
            role: Role::Owner,
        };
        crate::db::query("INSERT INTO workspaces (id, app_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(workspace.id)
            .bind(&workspace.app_id)
            .bind(&workspace.name)
            .bind(now)
            .execute(&mut *conn)
            .await?;
        crate::db::query(
            "INSERT INTO members (workspace_id, account_id, role, created_at) VALUES ($1, $2, 'owner', $3)",
        )
        .bind(workspace.id)
        .bind(actor.account_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
        let (kid, _) = self.insert_key(conn, workspace.id, actor.account_id, now).await?;
        let entry = NewAuditEntry::workspace(actor, workspace.id, "workspace.created")
            .target(workspace.app_id.clone())
            .details(serde_json::json!({ "name": workspace.name, "primary_kid": kid }));
        audit::insert(&mut *conn, now, entry).await?;
        crate::config::notify_changed(conn, &workspace.app_id).await?;
        Ok(workspace)
    }

    /// The workspaces the caller belongs to, with their role, by name.
    pub async fn list_workspaces(&self, actor: &Actor) -> ServiceResult<Vec<WorkspaceSummary>> {
        let rows: Vec<(Uuid, String, String, String)> = crate::db::query_as(
            "SELECT w.id, w.app_id, w.name, m.role FROM workspaces w JOIN members m ON m.workspace_id = w.id
              WHERE m.account_id = $1 ORDER BY lower(w.name), w.created_at",
        )
        .bind(actor.account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(id, app_id, name, role)| {
                Some(WorkspaceSummary { id, app_id, name, role: Role::parse(&role)? })
            })
            .collect())
    }

    /// One workspace of the caller's.
    pub async fn get_workspace(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<WorkspaceSummary> {
        self.list_workspaces(actor)
            .await?
            .into_iter()
            .find(|w| w.id == workspace_id)
            .ok_or_else(|| ServiceError::not_found("Workspace"))
    }
}
