//! Server functions: members.

use countersign_proto::{AddedMember, Member};
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

/// Adds a member by email with a role.
#[server(prefix = "/ui")]
pub async fn add_member(workspace: Uuid, email: String, role: countersign_core::policy::Role) -> Result<AddedMember, AppError> {
    Ok(ssr::service()?.add_member(&ssr::actor().await?, workspace, &email, role).await?)
}

/// Changes a member's role.
#[server(prefix = "/ui")]
pub async fn change_member_role(workspace: Uuid, account: Uuid, role: countersign_core::policy::Role) -> Result<Member, AppError> {
    Ok(ssr::service()?.change_member_role(&ssr::actor().await?, workspace, account, role).await?)
}

/// Removes a member.
#[server(prefix = "/ui")]
pub async fn remove_member(workspace: Uuid, account: Uuid) -> Result<(), AppError> {
    Ok(ssr::service()?.remove_member(&ssr::actor().await?, workspace, account).await?)
}

