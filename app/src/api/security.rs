//! Server functions: security settings, attributes, contacts and the verification log.

use countersign_core::{AttributeDef, AttributeType, Mode, TokenProfile};
use countersign_proto::{Contact, LogEntry, Page, SecuritySettings};
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// The workspace's security settings.
#[server(prefix = "/ui")]
pub async fn get_security(workspace: Uuid) -> Result<SecuritySettings, AppError> {
    Ok(ssr::service()?.get_security(&ssr::actor().await?, workspace).await?)
}

/// Saves the security settings form. Text fields arrive as typed: origins one per line,
/// claims separated by commas, blank numbers and issuer mean "none".
#[server(prefix = "/ui")]
#[allow(clippy::too_many_arguments)]
pub async fn save_security(
    workspace: Uuid,
    web: Mode,
    ios: Mode,
    android: Mode,
    token_profile: TokenProfile,
    leeway_seconds: String,
    max_token_lifetime_seconds: String,
    allowed_origins: String,
    user_id_claims: String,
    expected_issuer: String,
    hmac_enabled: Option<String>,
    require_exp: Option<String>,
    confirm_enforce: Option<String>,
) -> Result<SecuritySettings, AppError> {
    let invalid = |message: &str| AppError { code: "invalid_request".into(), message: message.into() };
    let leeway_seconds =
        leeway_seconds.trim().parse().map_err(|_| invalid("Leeway must be a whole number of seconds."))?;
    let max_token_lifetime_seconds = match max_token_lifetime_seconds.trim() {
        "" => None,
        v => Some(v.parse().map_err(|_| invalid("Max token lifetime must be a whole number of seconds, or empty."))?),
    };
    let settings = SecuritySettings {
        modes: countersign_core::Modes { web, ios, android },
        hmac_enabled: hmac_enabled.is_some(),
        leeway_seconds,
        require_exp: require_exp.is_some(),
        max_token_lifetime_seconds,
        allowed_origins: allowed_origins.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect(),
        token_profile,
        user_id_claims: user_id_claims.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned).collect(),
        expected_issuer: Some(expected_issuer.trim().to_owned()).filter(|i| !i.is_empty()),
    };
    let svc = ssr::service()?;
    let actor = ssr::actor().await?;
    if confirm_enforce.is_none() {
        let current = svc.get_security(&actor, workspace).await?;
        let switching: Vec<countersign_core::Platform> = countersign_core::Platform::ALL
            .into_iter()
            .filter(|p| settings.modes.get(*p) == Mode::Enforce && current.modes.get(*p) != Mode::Enforce)
            .collect();
        if !switching.is_empty() {
            let impact = svc.enforce_impact(&actor, workspace).await?;
            return Err(AppError::confirmation_required(enforce_question(&switching, &impact)));
        }
    }
    Ok(svc.update_security(&actor, workspace, &settings).await?)
}

/// What switching `platforms` to enforce would have refused, as a question to confirm.
#[cfg(feature = "ssr")]
fn enforce_question(platforms: &[countersign_core::Platform], impact: &[countersign_proto::EnforceImpact]) -> String {
    let parts: Vec<String> = platforms
        .iter()
        .map(|p| (p, impact.iter().find(|i| i.platform == p.as_str())))
        .filter_map(|(p, i)| Some(format!("If {} enforces: {}", p.label(), crate::pages::security::impact_words(i?))))
        .collect();
    format!(
        "Review the impact before enforcing. {} Tick “Switch to enforce” and save again to confirm.",
        parts.join(" ")
    )
}

/// Per platform, what enforcing it would have refused over the last 7 days.
#[server(prefix = "/ui")]
pub async fn get_enforce_impact(workspace: Uuid) -> Result<Vec<countersign_proto::EnforceImpact>, AppError> {
    Ok(ssr::service()?.enforce_impact(&ssr::actor().await?, workspace).await?)
}

/// The attribute registry.
#[server(prefix = "/ui")]
pub async fn list_attributes(workspace: Uuid) -> Result<Vec<AttributeDef>, AppError> {
    Ok(ssr::service()?.list_attributes(&ssr::actor().await?, workspace).await?)
}

/// Registers an attribute.
#[server(prefix = "/ui")]
pub async fn create_attribute(
    workspace: Uuid,
    name: String,
    kind: AttributeType,
    secure_only: Option<String>,
) -> Result<AttributeDef, AppError> {
    let def = AttributeDef { name: name.trim().to_owned(), kind, secure_only: secure_only.is_some() };
    Ok(ssr::service()?.create_attribute(&ssr::actor().await?, workspace, &def).await?)
}

/// Per registered attribute, its unsigned updates over the last 7 days.
#[server(prefix = "/ui")]
pub async fn get_attribute_stats(workspace: Uuid) -> Result<countersign_proto::AttributeStats, AppError> {
    Ok(ssr::service()?.attribute_stats(&ssr::actor().await?, workspace).await?)
}

/// Turns an attribute's secure-only flag on or off. Turning it on when unsigned updates of it
/// arrived in the last 7 days needs `confirm`: those would have been rejected.
#[server(prefix = "/ui")]
pub async fn set_secure_only(
    workspace: Uuid,
    name: String,
    kind: AttributeType,
    secure_only: bool,
    confirm: Option<String>,
) -> Result<AttributeDef, AppError> {
    let svc = ssr::service()?;
    let actor = ssr::actor().await?;
    if secure_only && confirm.is_none() {
        let stats = svc.attribute_stats(&actor, workspace).await?;
        let unsigned = stats.items.iter().find(|a| a.name == name).map_or(0, |a| a.unsigned_updates);
        if unsigned > 0 {
            return Err(AppError::confirmation_required(format!(
                "{} unsigned updates of {name} arrived in the last 7 days; secure-only, each would have been \
                     rejected. Tick the confirmation to go ahead.",
                countersign_core::text::thousands(unsigned)
            )));
        }
    }
    let update = countersign_proto::AttributeUpdate { kind, secure_only };
    Ok(svc.update_attribute(&actor, workspace, &name, &update).await?)
}

/// Removes an attribute.
#[server(prefix = "/ui")]
pub async fn delete_attribute(workspace: Uuid, name: String) -> Result<(), AppError> {
    Ok(ssr::service()?.delete_attribute(&ssr::actor().await?, workspace, &name).await?)
}

/// A contact by user id; `None` if there is none.
#[server(prefix = "/ui")]
pub async fn find_contact(workspace: Uuid, user_id: String) -> Result<Option<Contact>, AppError> {
    match ssr::service()?.get_contact(&ssr::actor().await?, workspace, &user_id).await {
        Ok(contact) => Ok(Some(contact)),
        Err(e) if e.code == countersign_service::ErrorCode::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A page of the verification log, newest first, with the log explorer's filters.
#[server(prefix = "/ui")]
#[allow(clippy::too_many_arguments)]
pub async fn list_logs(
    workspace: Uuid,
    outcome: Option<String>,
    platform: Option<String>,
    reason: Option<String>,
    user_id: Option<String>,
    kid: Option<String>,
    origin: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<String>,
) -> Result<Page<LogEntry>, AppError> {
    let service = ssr::service()?;
    let filter = countersign_service::logs::LogFilter {
        outcome,
        platform,
        reason,
        user_id,
        kid,
        origin,
        from,
        to,
        cursor,
        limit: Some(50),
    };
    Ok(service.list_logs(&ssr::actor().await?, workspace, &filter).await?)
}

/// The most frequent failure reasons over a log search's time range (shown above the log).
#[server(prefix = "/ui")]
pub async fn get_log_failures(
    workspace: Uuid,
    from: Option<String>,
    to: Option<String>,
) -> Result<Vec<countersign_proto::FailureGroup>, AppError> {
    let filter = countersign_service::logs::LogFilter { from, to, ..Default::default() };
    Ok(ssr::service()?.log_failure_groups(&ssr::actor().await?, workspace, &filter).await?)
}

/// The read replica's lag in seconds when the log page should mention it (over a few
/// seconds); `None` when it is current or there is no replica.
#[server(prefix = "/ui")]
pub async fn log_replica_lag(workspace: Uuid) -> Result<Option<u64>, AppError> {
    Ok(ssr::service()?.log_replica_lag_notice(&ssr::actor().await?, workspace).await?)
}

/// The workspace overview over `range` (`24h`, `7d` or `30d`).
#[server(prefix = "/ui")]
pub async fn get_overview(workspace: Uuid, range: Option<String>) -> Result<countersign_proto::Overview, AppError> {
    Ok(ssr::service()?.overview(&ssr::actor().await?, workspace, range.as_deref()).await?)
}
