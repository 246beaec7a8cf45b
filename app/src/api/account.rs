//! Server functions: the caller's password and sessions.

use countersign_proto::{EndedSessions, SessionSummary};
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// Changes the caller's password; every other session ends.
#[server(prefix = "/ui")]
pub async fn change_password(current_password: String, new_password: String) -> Result<EndedSessions, AppError> {
    // Request context is read before the first await: after it, the task may run elsewhere.
    let (svc, current) = (ssr::service()?, ssr::session_token());
    let actor = ssr::actor().await?;
    Ok(svc.change_password(&actor, current.as_deref(), &current_password, &new_password).await?)
}

/// Where the caller is signed in; this browser's session is marked `current`.
#[server(prefix = "/ui")]
pub async fn list_sessions() -> Result<Vec<SessionSummary>, AppError> {
    let (svc, current) = (ssr::service()?, ssr::session_token());
    let actor = ssr::actor().await?;
    Ok(svc.list_sessions(&actor, current.as_deref()).await?)
}

/// Signs one session out.
#[server(prefix = "/ui")]
pub async fn end_session(id: Uuid) -> Result<(), AppError> {
    Ok(ssr::service()?.end_session(&ssr::actor().await?, id).await?)
}

/// Signs every other session out.
#[server(prefix = "/ui")]
pub async fn end_other_sessions() -> Result<EndedSessions, AppError> {
    let (svc, current) = (ssr::service()?, ssr::session_token());
    let actor = ssr::actor().await?;
    Ok(svc.end_other_sessions(&actor, current.as_deref()).await?)
}
