//! Invitations: how people join a workspace. An admin makes a single-use, expiring link (shown
//! once; emailed too when mail is configured); whoever holds it joins, either with the account
//! they are signed in to or with a new account and a password of their own. Nobody is added
//! and no password is made until then, so nobody ever learns another person's password, and an
//! account registered first under someone's email is never attached silently.
//!
//! Only the SHA-256 of the token is stored, like personal access tokens.

use chrono::{DateTime, Duration, Utc};
use countersign_core::policy::{Action, Role};
use countersign_proto::{
    AcceptedInvitation, AccountInfo, CreatedInvitation, Invitation, InvitationPreview, InvitationStatus,
    WorkspaceSummary,
};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::accounts::{insert_account, normalize_email, NewSession};
use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::members::require_owner_for;
use crate::{password, random, Actor, RequestMeta, Service};

/// Prefix of invitation tokens, so that leaked ones are easy to recognise.
pub const TOKEN_PREFIX: &str = "cs_inv_";
/// How long an invitation link works.
pub const INVITATION_TTL_DAYS: i64 = 7;

/// An invitation row with the emails of who made and who accepted it.
#[derive(FromRow)]
struct Row {
    id: Uuid,
    workspace_id: Uuid,
    email: Option<String>,
    role: String,
    invited_by: Option<String>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    accepted_at: Option<DateTime<Utc>>,
    accepted_by: Option<String>,
    revoked_at: Option<DateTime<Utc>>,
}

const SELECT: &str = "SELECT i.id, i.workspace_id, i.email, i.role, c.email AS invited_by, i.created_at, i.expires_at,
                             i.accepted_at, a.email AS accepted_by, i.revoked_at
                        FROM invitations i
                        LEFT JOIN accounts c ON c.id = i.created_by
                        LEFT JOIN accounts a ON a.id = i.accepted_by";

impl Row {
    fn status(&self, now: DateTime<Utc>) -> InvitationStatus {
        if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        }
    }

    fn role(&self) -> ServiceResult<Role> {
        Role::parse(&self.role).ok_or_else(|| ServiceError::internal("unknown role in invitations"))
    }

    fn into_invitation(self, now: DateTime<Utc>) -> ServiceResult<Invitation> {
        Ok(Invitation {
            id: self.id,
            role: self.role()?,
            status: self.status(now),
            email: self.email,
            invited_by: self.invited_by,
            created_at: self.created_at,
            expires_at: self.expires_at,
            accepted_at: self.accepted_at,
            accepted_by: self.accepted_by,
            revoked_at: self.revoked_at,
        })
    }

    /// The invitation may be used now; otherwise the error says why not.
    fn usable(&self, now: DateTime<Utc>) -> ServiceResult<()> {
        match self.status(now) {
            InvitationStatus::Pending => Ok(()),
            InvitationStatus::Accepted => Err(ServiceError::new(
                ErrorCode::InvitationUsed,
                "This invitation has already been used. Ask for a new one.",
            )),
            InvitationStatus::Revoked => {
                Err(ServiceError::new(ErrorCode::InvitationRevoked, "This invitation was revoked. Ask for a new one."))
            }
            InvitationStatus::Expired => {
                Err(ServiceError::new(ErrorCode::InvitationExpired, "This invitation has expired. Ask for a new one."))
            }
        }
    }
}

/// How the holder of an invitation accepts it.
pub enum Joiner<'a> {
    /// Signed in: this account joins.
    Account(&'a Actor),
    /// Signed out: a new account with the holder's own password (and email, when the
    /// invitation names none).
    NewAccount { password: Option<&'a str>, email: Option<&'a str>, meta: &'a RequestMeta },
}

impl Service {
    /// Creates an invitation to the workspace with a role. Only owners invite owners.
    pub async fn create_invitation(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        email: Option<&str>,
        role: Role,
    ) -> ServiceResult<CreatedInvitation> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ManageMembers).await?;
        require_owner_for(tenant.role, role)?;
        let email = email.map(str::trim).filter(|e| !e.is_empty()).map(normalize_email).transpose()?;
        let now = self.clock.now();
        let token = random::token(TOKEN_PREFIX);
        let id = Uuid::new_v4();
        let tx = tenant.conn();
        if let Some(email) = &email {
            let member: bool = crate::db::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM members m JOIN accounts a ON a.id = m.account_id
                                 WHERE m.workspace_id = $1 AND lower(a.email) = $2)",
            )
            .bind(workspace_id)
            .bind(email)
            .fetch_one(&mut *tx)
            .await?;
            if member {
                return Err(ServiceError::new(
                    ErrorCode::Conflict,
                    "This person is already a member of the workspace.",
                ));
            }
        }
        crate::db::query(
            "INSERT INTO invitations (id, workspace_id, email, role, token_hash, created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(workspace_id)
        .bind(&email)
        .bind(role.as_str())
        .bind(random::digest(&token))
        .bind(actor.account_id)
        .bind(now)
        .bind(now + Duration::days(INVITATION_TTL_DAYS))
        .execute(&mut *tx)
        .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "invitation.created")
            .target(email.clone().unwrap_or_else(|| "(link)".into()))
            .details(serde_json::json!({ "invitation_id": id, "role": role }));
        audit::insert(tx, now, entry).await?;
        let invitation = fetch(tx, workspace_id, id).await?.into_invitation(now)?;
        tenant.commit().await?;
        let url = format!("{}/invite?token={token}", self.settings().public_url);
        let emailed = match &invitation.email {
            Some(to) => self.email_invitation(workspace_id, to, &actor.email, role, &url).await,
            None => false,
        };
        Ok(CreatedInvitation { invitation, token, url, emailed })
    }

    /// The workspace's invitations, newest first, with where each stands.
    pub async fn list_invitations(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<Invitation>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ManageMembers).await?;
        let rows: Vec<Row> =
            crate::db::query_as(&format!("{SELECT} WHERE i.workspace_id = $1 ORDER BY i.created_at DESC LIMIT 200"))
                .bind(workspace_id)
                .fetch_all(tenant.conn())
                .await?;
        let now = self.clock.now();
        rows.into_iter().map(|row| row.into_invitation(now)).collect()
    }

    /// Revokes a pending invitation: its link stops working. Only owners revoke an
    /// invitation to the owner role; one already accepted is a conflict.
    pub async fn revoke_invitation(&self, actor: &Actor, workspace_id: Uuid, invitation_id: Uuid) -> ServiceResult<()> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ManageMembers).await?;
        let actor_role = tenant.role;
        let now = self.clock.now();
        let tx = tenant.conn();
        crate::db::query("SELECT 1 FROM invitations WHERE id = $1 AND workspace_id = $2 FOR UPDATE")
            .bind(invitation_id)
            .bind(workspace_id)
            .execute(&mut *tx)
            .await?;
        let row = fetch(tx, workspace_id, invitation_id).await?;
        require_owner_for(actor_role, row.role()?)?;
        match row.status(now) {
            InvitationStatus::Accepted => {
                return Err(ServiceError::new(
                    ErrorCode::Conflict,
                    "This invitation was already accepted; remove the member instead.",
                ))
            }
            InvitationStatus::Revoked => return Ok(()),
            InvitationStatus::Pending | InvitationStatus::Expired => {}
        }
        crate::db::query("UPDATE invitations SET revoked_at = $2 WHERE id = $1")
            .bind(invitation_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "invitation.revoked")
            .target(row.email.clone().unwrap_or_else(|| "(link)".into()))
            .details(serde_json::json!({ "invitation_id": invitation_id, "role": row.role }));
        audit::insert(tx, now, entry).await?;
        tenant.commit().await?;
        Ok(())
    }

    /// What a link offers (workspace, role), for the accept page; anyone holding it may ask.
    pub async fn preview_invitation(&self, token: &str) -> ServiceResult<InvitationPreview> {
        // A transaction, so a transaction-mode pooler keeps one server connection throughout.
        let mut conn = self.pool.begin().await?;
        let row = by_token(&mut conn, token, false).await?;
        row.usable(self.clock.now())?;
        let workspace_name: String = crate::db::query_scalar("SELECT name FROM workspaces WHERE id = $1")
            .bind(row.workspace_id)
            .fetch_one(&mut *conn)
            .await?;
        Ok(InvitationPreview {
            workspace_name,
            role: row.role()?,
            email: row.email,
            invited_by: row.invited_by,
            expires_at: row.expires_at,
        })
    }

    /// Accepts an invitation once. Signed in, the account joins; signed out, a new account is
    /// made with the holder's own password and signed in (the new session is returned).
    pub async fn accept_invitation(
        &self,
        token: &str,
        joiner: Joiner<'_>,
    ) -> ServiceResult<(AcceptedInvitation, Option<NewSession>)> {
        // Check the link before spending a password hash on it.
        // A transaction, so a transaction-mode pooler keeps one server connection throughout.
        let mut conn = self.pool.begin().await?;
        let row = by_token(&mut conn, token, false).await?;
        drop(conn);
        row.usable(self.clock.now())?;
        let new_account = match &joiner {
            Joiner::Account(_) => None,
            Joiner::NewAccount { password, email, meta } => {
                let email = new_account_email(row.email.as_deref(), *email)?;
                let password = password.filter(|p| !p.is_empty()).ok_or_else(|| {
                    ServiceError::invalid(
                        "Choose a password for your new account, or sign in to accept with an existing one.",
                    )
                })?;
                password::validate_new(password)?;
                Some((email, self.passwords.hash(password).await?, *meta))
            }
        };

        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let row = by_token(&mut tx, token, true).await?;
        row.usable(now)?;
        let role = row.role()?;
        let (actor, session) = match (&joiner, new_account) {
            (Joiner::Account(actor), _) => ((*actor).clone(), None),
            (Joiner::NewAccount { .. }, Some((email, hash, meta))) => {
                let account_id = insert_account(&mut tx, &email, &hash, now).await.map_err(|err| match err.code {
                    ErrorCode::Conflict => ServiceError::new(
                        ErrorCode::Conflict,
                        "An account with this email already exists: sign in, then open the invitation link again.",
                    ),
                    _ => err,
                })?;
                let actor = Actor { account_id, email: email.clone(), meta: meta.clone() };
                audit::insert(&mut tx, now, NewAuditEntry::account(&actor, "account.signup")).await?;
                let session = self.insert_session(&mut tx, account_id, &email, meta).await?;
                (actor, Some(session))
            }
            (Joiner::NewAccount { .. }, None) => {
                return Err(ServiceError::internal("new account without a password hash"))
            }
        };
        let joined = crate::db::query(
            "INSERT INTO members (workspace_id, account_id, role, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(row.workspace_id)
        .bind(actor.account_id)
        .bind(role.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if joined.rows_affected() == 0 {
            return Err(ServiceError::new(ErrorCode::Conflict, "You are already a member of this workspace."));
        }
        crate::db::query("UPDATE invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1")
            .bind(row.id)
            .bind(now)
            .bind(actor.account_id)
            .execute(&mut *tx)
            .await?;
        let entry = NewAuditEntry::workspace(&actor, row.workspace_id, "invitation.accepted")
            .target(actor.email.clone())
            .details(
                serde_json::json!({ "invitation_id": row.id, "role": role, "account_created": session.is_some() }),
            );
        audit::insert(&mut tx, now, entry).await?;
        let (app_id, name): (String, String) = crate::db::query_as("SELECT app_id, name FROM workspaces WHERE id = $1")
            .bind(row.workspace_id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let accepted = AcceptedInvitation {
            account: AccountInfo { id: actor.account_id, email: actor.email },
            workspace: WorkspaceSummary { id: row.workspace_id, app_id, name, role },
            account_created: session.is_some(),
        };
        Ok((accepted, session))
    }
}

/// The email of an account made by accepting: the invitation's, else the one given.
fn new_account_email(invited: Option<&str>, given: Option<&str>) -> ServiceResult<String> {
    let given = given.map(str::trim).filter(|e| !e.is_empty()).map(normalize_email).transpose()?;
    match (invited, given) {
        (Some(invited), Some(given)) if invited != given => Err(ServiceError::invalid(format!(
            "This invitation is for {invited}; sign in to accept with another account."
        ))),
        (Some(invited), _) => Ok(invited.to_owned()),
        (None, Some(given)) => Ok(given),
        (None, None) => Err(ServiceError::invalid("Enter the email address for your new account.")),
    }
}

/// The invitation of a token (locked for update when `lock`); an unknown token is 404.
async fn by_token(conn: &mut PgConnection, token: &str, lock: bool) -> ServiceResult<Row> {
    let lock = if lock { " FOR UPDATE OF i" } else { "" };
    let row: Option<Row> = crate::db::query_as(&format!("{SELECT} WHERE i.token_hash = $1{lock}"))
        .bind(random::digest(token))
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| {
        ServiceError::new(ErrorCode::NotFound, "This invitation link is not valid. Check that you copied all of it.")
    })
}

/// One invitation of a workspace; another workspace's is 404.
async fn fetch(conn: &mut PgConnection, workspace_id: Uuid, id: Uuid) -> ServiceResult<Row> {
    let row: Option<Row> = crate::db::query_as(&format!("{SELECT} WHERE i.workspace_id = $1 AND i.id = $2"))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.ok_or_else(|| ServiceError::not_found("Invitation"))
}
