//! Workspace-scoped transactions, confined by Postgres row-level security.
//!
//! Every operation on one workspace's data runs in a [`Tenant`] transaction: it switches to the
//! `countersign_tenant` role and names the workspace in `countersign.workspace_id`, and the
//! policies in `migrations/*_row_level_security.sql` hide and refuse every row of any other
//! workspace. A query that forgets its `workspace_id = $1` therefore still cannot read or change
//! another tenant's rows. Paths that span workspaces by design (the log writer, the
//! configuration snapshot, retention, sign-in) keep the connection's own role.

use countersign_core::policy::{self, Action, Role};
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Service};

/// An open transaction confined to one workspace, with the caller's role in it. Dropped
/// without [`Tenant::commit`], it rolls back.
pub struct Tenant {
    tx: Transaction<'static, Postgres>,
    /// The caller's role in the workspace, already checked against the operation's action.
    pub role: Role,
}

impl Tenant {
    /// The transaction's connection, for queries.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> ServiceResult<()> {
        self.tx.commit().await?;
        Ok(())
    }
}

impl Service {
    /// Opens a transaction confined to `workspace_id` and checks that the caller's role there
    /// permits `action`. Not a member (or no such workspace) is 404, exactly alike; a member
    /// whose role does not permit it is 403.
    pub async fn tenant(&self, actor: &Actor, workspace_id: Uuid, action: Action) -> ServiceResult<Tenant> {
        let mut tx = self.pool.begin().await?;
        confine(&mut tx, workspace_id).await?;
        let role: Option<String> =
            crate::db::query_scalar("SELECT role FROM members WHERE workspace_id = $1 AND account_id = $2")
                .bind(workspace_id)
                .bind(actor.account_id)
                .fetch_optional(&mut *tx)
                .await?;
        let role = role.and_then(|r| Role::parse(&r)).ok_or_else(|| ServiceError::not_found("Workspace"))?;
        if !policy::permits(role, action) {
            return Err(ServiceError::forbidden());
        }
        Ok(Tenant { tx, role })
    }

    /// [`Service::tenant`] for dashboard reads that may lag a little (log pages, exports,
    /// stats, contact look-ups): the role is checked on the primary (a removed member loses
    /// access at once), then the transaction is opened on the read replica when one is
    /// configured (`COUNTERSIGN_READ_DATABASE_URL`), confined alike.
    pub async fn tenant_read(&self, actor: &Actor, workspace_id: Uuid, action: Action) -> ServiceResult<Tenant> {
        let checked = self.tenant(actor, workspace_id, action).await?;
        let Some(replica) = &self.read_pool else { return Ok(checked) };
        let role = checked.role;
        drop(checked);
        let mut tx = replica.begin().await?;
        confine(&mut tx, workspace_id).await?;
        Ok(Tenant { tx, role })
    }
}

/// Confines the rest of the current transaction to one workspace's rows (both settings end
/// with the transaction, so a pooled connection never carries them to another request).
pub async fn confine(conn: &mut PgConnection, workspace_id: Uuid) -> ServiceResult<()> {
    crate::db::query(
        "SELECT set_config('role', 'countersign_tenant', true), set_config('countersign.workspace_id', $1, true)",
    )
    .bind(workspace_id.to_string())
    .execute(conn)
    .await?;
    Ok(())
}
