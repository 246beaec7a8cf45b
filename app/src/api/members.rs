//! Server functions: members and invitations.

use countersign_core::policy::Role;
use countersign_proto::{AcceptedInvitation, CreatedInvitation, Invitation, InvitationPreview, Member};
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// The members of a workspace.
#[server(prefix = "/ui")]
pub async fn list_members(workspace: Uuid) -> Result<Vec<Member>, AppError> {
    Ok(ssr::service()?.list_members(&ssr::actor().await?, workspace).await?)
}

/// Changes a member's role.
#[server(prefix = "/ui")]
pub async fn change_member_role(workspace: Uuid, account: Uuid, role: Role) -> Result<Member, AppError> {
    Ok(ssr::service()?.change_member_role(&ssr::actor().await?, workspace, account, role).await?)
}

/// Removes a member.
#[server(prefix = "/ui")]
pub async fn remove_member(workspace: Uuid, account: Uuid) -> Result<(), AppError> {
    Ok(ssr::service()?.remove_member(&ssr::actor().await?, workspace, account).await?)
}

/// The workspace's invitations, newest first.
#[server(prefix = "/ui")]
pub async fn list_invitations(workspace: Uuid) -> Result<Vec<Invitation>, AppError> {
    Ok(ssr::service()?.list_invitations(&ssr::actor().await?, workspace).await?)
}

/// Creates an invitation (an empty email makes a link for anyone); the answer is the only
/// time its link is shown.
#[server(prefix = "/ui")]
pub async fn create_invitation(
    workspace: Uuid,
    email: Option<String>,
    role: Role,
) -> Result<CreatedInvitation, AppError> {
    let email = email.filter(|e| !e.trim().is_empty());
    Ok(ssr::service()?.create_invitation(&ssr::actor().await?, workspace, email.as_deref(), role).await?)
}

/// Revokes an invitation.
#[server(prefix = "/ui")]
pub async fn revoke_invitation(workspace: Uuid, invitation: Uuid) -> Result<(), AppError> {
    Ok(ssr::service()?.revoke_invitation(&ssr::actor().await?, workspace, invitation).await?)
}

/// What an invitation link offers, for the accept page.
#[server(prefix = "/ui")]
pub async fn preview_invitation(token: String) -> Result<InvitationPreview, AppError> {
    Ok(ssr::service()?.preview_invitation(&token).await?)
}

/// Accepts an invitation, then opens the workspace. Signed in, the account joins; signed
/// out, a new account is made with the holder's own password and signed in.
#[server(prefix = "/ui")]
pub async fn accept_invitation(
    token: String,
    password: Option<String>,
    email: Option<String>,
) -> Result<AcceptedInvitation, AppError> {
    use countersign_service::invitations::Joiner;
    let svc = ssr::service()?;
    let meta = ssr::meta()?;
    let actor = match ssr::actor().await {
        Ok(actor) => Some(actor),
        Err(e) if e.is_unauthorized() => None,
        Err(e) => return Err(e),
    };
    let joiner = match &actor {
        Some(actor) => Joiner::Account(actor),
        None => Joiner::NewAccount { password: password.as_deref(), email: email.as_deref(), meta: &meta },
    };
    let (accepted, session) = svc.accept_invitation(&token, joiner).await?;
    if let Some(session) = &session {
        ssr::set_session_cookie(&svc, session);
    }
    leptos_axum::redirect(&format!("/w/{}", accepted.workspace.id));
    Ok(accepted)
}
