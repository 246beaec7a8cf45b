//! Members of a workspace and their roles. Only owners grant, change or remove the owner
//! role (it is an ownership transfer), and a workspace always keeps at least one owner.

use chrono::{DateTime, Utc};
use countersign_core::policy::{self, Action, Role};
use countersign_proto::{AddedMember, Member};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::accounts::{insert_account, normalize_email};
use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::{password, random, Actor, Service};

impl Service {
    /// The members of a workspace, by email.
    pub async fn list_members(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<Member>> {
        self.authorize(actor, workspace_id, Action::View).await?;
        let rows: Vec<(Uuid, String, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT a.id, a.email, m.role, m.created_at FROM members m JOIN accounts a ON a.id = m.account_id
              WHERE m.workspace_id = $1 ORDER BY a.email",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(account_id, email, role, added_at)| {
                Some(Member { account_id, email, role: Role::parse(&role)?, added_at })
            })
            .collect())
    }

    /// Adds a member by email. An email without an account gets one, with a one-time
    /// password returned once for the admin to hand over.
    pub async fn add_member(&self, actor: &Actor, workspace_id: Uuid, email: &str, role: Role) -> ServiceResult<AddedMember> {
        let actor_role = self.authorize(actor, workspace_id, Action::ManageMembers).await?;
        require_owner_for(actor_role, role)?;
        let email = normalize_email(email)?;
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let existing: Option<Uuid> = sqlx::query_scalar("SELECT id FROM accounts WHERE lower(email) = $1")
            .bind(&email)
            .fetch_optional(&mut *tx)
            .await?;
        let (account_id, temporary_password) = match existing {
            Some(id) => (id, None),
            None => {
                let temporary = random::token("");
                let id = insert_account(&mut tx, &email, &password::hash(&temporary)?, now).await?;
                (id, Some(temporary))
            }
        };
        let inserted = sqlx::query(
            "INSERT INTO members (workspace_id, account_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(workspace_id)
        .bind(account_id)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServiceError::new(ErrorCode::Conflict, "This person is already a member of the workspace."));
        }
        let entry = NewAuditEntry::workspace(actor, workspace_id, "member.added")
            .target(email.clone())
            .details(serde_json::json!({ "role": role, "account_created": temporary_password.is_some() }));
        audit::insert(&mut tx, now, entry).await?;
        tx.commit().await?;
        Ok(AddedMember { member: Member { account_id, email, role, added_at: now }, temporary_password })
    }

    /// Changes a member's role. The last owner cannot be demoted.
    pub async fn change_member_role(&self, actor: &Actor, workspace_id: Uuid, account_id: Uuid, role: Role) -> ServiceResult<Member> {
        let actor_role = self.authorize(actor, workspace_id, Action::ManageMembers).await?;
        let mut tx = self.pool.begin().await?;
        let (email, current, added_at) = lock_member(&mut tx, workspace_id, account_id).await?;
        require_owner_for(actor_role, current)?;
        require_owner_for(actor_role, role)?;
        if current == Role::Owner && role != Role::Owner {
            ensure_another_owner(&mut tx, workspace_id).await?;
        }
        sqlx::query("UPDATE members SET role = $3 WHERE workspace_id = $1 AND account_id = $2")
            .bind(workspace_id)
            .bind(account_id)
            .bind(role.as_str())
            .execute(&mut *tx)
            .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "member.role_changed")
            .target(email.clone())
            .details(serde_json::json!({ "from": current, "to": role }));
        audit::insert(&mut tx, self.clock.now(), entry).await?;
        tx.commit().await?;
        Ok(Member { account_id, email, role, added_at })
    }

    /// Removes a member. The last owner cannot be removed.
    pub async fn remove_member(&self, actor: &Actor, workspace_id: Uuid, account_id: Uuid) -> ServiceResult<()> {
        let actor_role = self.authorize(actor, workspace_id, Action::ManageMembers).await?;
        let mut tx = self.pool.begin().await?;
        let (email, current, _) = lock_member(&mut tx, workspace_id, account_id).await?;
        require_owner_for(actor_role, current)?;
        if current == Role::Owner {
            ensure_another_owner(&mut tx, workspace_id).await?;
        }
        sqlx::query("DELETE FROM members WHERE workspace_id = $1 AND account_id = $2")
            .bind(workspace_id)
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "member.removed")
            .target(email)
            .details(serde_json::json!({ "role": current }));
        audit::insert(&mut tx, self.clock.now(), entry).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Granting, changing or removing the owner role is an ownership transfer: owners only.
fn require_owner_for(actor_role: Role, role_touched: Role) -> ServiceResult<()> {
    if role_touched == Role::Owner && !policy::permits(actor_role, Action::DeleteOrTransfer) {
        return Err(ServiceError::new(ErrorCode::Forbidden, "Only an owner can grant, change or remove the owner role."));
    }
    Ok(())
}

/// Locks every membership row of the workspace (so two concurrent demotions cannot both
/// pass the last-owner check) and returns the target member.
async fn lock_member(conn: &mut PgConnection, workspace_id: Uuid, account_id: Uuid) -> ServiceResult<(String, Role, DateTime<Utc>)> {
    sqlx::query("SELECT 1 FROM members WHERE workspace_id = $1 FOR UPDATE")
        .bind(workspace_id)
        .execute(&mut *conn)
        .await?;
    let row: Option<(String, String, DateTime<Utc>)> = sqlx::query_as(
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
    let owners: i64 = sqlx::query_scalar("SELECT count(*) FROM members WHERE workspace_id = $1 AND role = 'owner'")
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
