//! Server functions: keys, snippets and the audit log.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// A workspace's keys as of the server's `now` (so SSR and hydration render the same ages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeysView {
    pub now: chrono::DateTime<chrono::Utc>,
    pub keys: Vec<countersign_proto::KeyInfo>,
}

/// The keys of a workspace.
#[server(prefix = "/ui")]
pub async fn list_keys(workspace: Uuid) -> Result<KeysView, AppError> {
    let svc = ssr::service()?;
    let keys = svc.list_keys(&ssr::actor().await?, workspace).await?;
    Ok(KeysView { now: svc.clock.now(), keys })
}

/// Rotates the primary key; `grace_seconds` 0 revokes the old one at once.
#[server(prefix = "/ui")]
pub async fn rotate_key(workspace: Uuid, grace_seconds: i64) -> Result<countersign_proto::RotatedKey, AppError> {
    Ok(ssr::service()?.rotate_key(&ssr::actor().await?, workspace, Some(grace_seconds)).await?)
}

/// Revokes a key now.
#[server(prefix = "/ui")]
pub async fn revoke_key(workspace: Uuid, kid: String) -> Result<countersign_proto::KeyInfo, AppError> {
    Ok(ssr::service()?.revoke_key(&ssr::actor().await?, workspace, &kid).await?)
}

/// Reveals a secret (audited).
#[server(prefix = "/ui")]
pub async fn reveal_secret(workspace: Uuid, kid: String) -> Result<countersign_proto::RevealedSecret, AppError> {
    Ok(ssr::service()?.reveal_secret(&ssr::actor().await?, workspace, &kid).await?)
}

/// Imports a secret the workspace's backends already use, as the primary key or verify-only.
/// The answer is the key's metadata: the secret is never sent back.
#[server(prefix = "/ui")]
pub async fn import_key(
    workspace: Uuid,
    secret: String,
    primary: bool,
) -> Result<countersign_proto::KeyInfo, AppError> {
    Ok(ssr::service()?.import_key(&ssr::actor().await?, workspace, &secret, primary).await?)
}

/// The workspace's snippets, filled in with its app id, primary key id and token profile.
#[server(prefix = "/ui")]
pub async fn get_snippets(workspace: Uuid) -> Result<countersign_core::snippets::Snippets, AppError> {
    Ok(ssr::service()?.snippets(&ssr::actor().await?, workspace).await?)
}

/// A page of the audit log, newest first.
#[server(prefix = "/ui")]
pub async fn list_audit(
    workspace: Uuid,
    action: Option<String>,
    actor: Option<String>,
    cursor: Option<String>,
) -> Result<countersign_proto::Page<countersign_proto::AuditEntry>, AppError> {
    let filter = countersign_service::audit::AuditFilter { action, actor, cursor, limit: Some(50) };
    Ok(ssr::service()?.list_audit(&ssr::actor().await?, workspace, &filter).await?)
}
