//! Members of a workspace and their roles; people join by invitation (`invitations`). Only
//! owners grant, change or remove the owner role (it is an ownership transfer), and a
//! workspace always keeps at least one owner.

use chrono::{DateTime, Utc};
use countersign_core::policy::{self, Action, Role};
use countersign_proto::Member;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::{Actor, Service};

impl Service {
    /// The members of a workspace, by email.
    pub async fn list_members(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<Member>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = crate::db::query_as(
            "SELECT a.id, a.email, m.role, m.created_at FROM members m JOIN accounts a ON a.id = m.account_id
              WHERE m.workspace_id = $1 ORDER BY a.email",
        )
        .bind(workspace_id)
        .fetch_all(tenant.conn())
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(account_id, email, role, added_at)| {
                Some(Member { account_id, email, role: Role::parse(&role)?, added_at })
            })
            .collect())
    }

    /// Changes a member's role. The last owner cannot be demoted.
    pub async fn change_member_role(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        account_id: Uuid,
        role: Role,
    ) -> ServiceResult<Member> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ManageMembers).await?;
        let actor_role = tenant.role;
        let tx = tenant.conn();
        let (email, current, added_at) = lock_member(tx, workspace_id, account_id).await?;
        require_owner_for(actor_role, current)?;
        require_owner_for(actor_role, role)?;
        if current == Role::Owner && role != Role::Owner {
            ensure_another_owner(tx, workspace_id).await?;
        }
        crate::db::query("UPDATE members SET role = $3 WHERE workspace_id = $1 AND account_id = $2")
            .bind(workspace_id)
            .bind(account_id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "member.role_changed")
            .target(email.clone())
            .details(serde_json::json!({ "from": current, "to": role }));
        audit::insert(tx, self.clock.now(), entry).await?;
        tenant.commit().await?;
        Ok(Member { account_id, email, role, added_at })
    }

    /// Removes a member. The last owner cannot be removed.
    pub async fn remove_member(&self, actor: &Actor, workspace_id: Uuid, account_id: Uuid) -> ServiceResult<()> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ManageMembers).await?;
        let actor_role = tenant.role;
        let tx = tenant.conn();
        let (email, current, _) = lock_member(tx, workspace_id, account_id).await?;
        require_owner_for(actor_role, current)?;
        if current == Role::Owner {
            ensure_another_owner(tx, workspace_id).await?;
        }
        crate::db::query("DELETE FROM members WHERE workspace_id = $1 AND account_id = $2")
            .bind(workspace_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "member.removed")
            .target(email)
            .details(serde_json::json!({ "role": current }));
        audit::insert(tx, self.clock.now(), entry).await?;
        tenant.commit().await?;
        Ok(())
    }
}

/// Granting, changing or removing the owner role is an ownership transfer: owners only.
pub(crate) fn require_owner_for(actor_role: Role, role_touched: Role) -> ServiceResult<()> {
    if role_touched == Role::Owner && !policy::permits(actor_role, Action::DeleteOrTransfer) {
        return Err(ServiceError::new(
            ErrorCode::Forbidden,
            "Only an owner can grant, change or remove the owner role.",
        ));
    }
    Ok(())
}

/// Locks every membership row of the workspace (so two concurrent demotions cannot both
/// pass the last-owner check) and returns the target member.
async fn lock_member(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    account_id: Uuid,
) -> ServiceResult<(String, Role, DateTime<Utc>)> {
    crate::db::query("SELECT 1 FROM members WHERE workspace_id = $1 FOR UPDATE")
        .bind(workspace_id)
        .execute(&mut *conn)
        .await?;
    let row: Option<(String, String, DateTime<Utc>)> = crate::db::query_as(
        "SELECT a.email, m.role, m.created_at FROM members m JOIN accounts a ON a.id = m.account_id
          WHERE m.workspace_id = $1 AND m.account_id = $2",
    )
    .bind(workspace_id)
    .bind(account_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (email, role, added_at) = row.ok_or_else(|| ServiceError::not_found("Member"))?;
    let role = Role::parse(&role).ok_or_else(|| ServiceError::internal("unknown role in members"))?;
    Ok((email, role, added_at))
}

async fn ensure_another_owner(conn: &mut PgConnection, workspace_id: Uuid) -> ServiceResult<()> {
    let owners: i64 =
        crate::db::query_scalar("SELECT count(*) FROM members WHERE workspace_id = $1 AND role = 'owner'")
            .bind(workspace_id)
            .fetch_one(conn)
            .await?;
    if owners <= 1 {
        return Err(ServiceError::new(
            ErrorCode::LastOwner,
            "A workspace needs at least one owner: make someone else an owner first.",
        ));
    }
    Ok(())
}
