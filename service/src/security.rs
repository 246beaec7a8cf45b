//! Security settings and the attribute registry of a workspace. Every change notifies all
//! instances (`config::notify_changed`) so identify applies it within a second.

use countersign_core::policy::Action;
use countersign_core::{validate_allowed_origin, validate_user_id_claims, AttributeDef, Mode, Modes, TokenProfile};
use countersign_proto::{AttributeUpdate, SecuritySettings};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::{config, Actor, Service};

/// The largest leeway accepted (10 minutes).
pub const MAX_LEEWAY_SECONDS: i64 = 600;
/// Most attributes a workspace may register.
pub const MAX_ATTRIBUTES: i64 = 200;

#[derive(FromRow)]
pub(crate) struct SecurityRow {
    pub app_id: String,
    pub mode_web: String,
    pub mode_ios: String,
    pub mode_android: String,
    pub hmac_enabled: bool,
    pub leeway_seconds: i32,
    pub require_exp: bool,
    pub max_token_lifetime_seconds: Option<i32>,
    pub allowed_origins: Vec<String>,
    pub token_profile: String,
    pub user_id_claims: Vec<String>,
    pub expected_issuer: Option<String>,
}

pub(crate) const SECURITY_COLUMNS: &str =
    "app_id, mode_web, mode_ios, mode_android, hmac_enabled, leeway_seconds, require_exp, \
     max_token_lifetime_seconds, allowed_origins, token_profile, user_id_claims, expected_issuer";

impl SecurityRow {
    pub(crate) fn settings(&self) -> SecuritySettings {
        let mode = |m: &str| Mode::parse(m).unwrap_or(Mode::Enforce);
        SecuritySettings {
            modes: Modes { web: mode(&self.mode_web), ios: mode(&self.mode_ios), android: mode(&self.mode_android) },
            hmac_enabled: self.hmac_enabled,
            leeway_seconds: self.leeway_seconds.into(),
            require_exp: self.require_exp,
            max_token_lifetime_seconds: self.max_token_lifetime_seconds.map(i64::from),
            allowed_origins: self.allowed_origins.clone(),
            token_profile: TokenProfile::parse(&self.token_profile).unwrap_or(TokenProfile::Countersign),
            user_id_claims: self.user_id_claims.clone(),
            expected_issuer: self.expected_issuer.clone(),
        }
    }
}

/// Checks settings against the contract's rules; the message names the field at fault.
pub fn validate(settings: &SecuritySettings) -> ServiceResult<()> {
    if !(0..=MAX_LEEWAY_SECONDS).contains(&settings.leeway_seconds) {
        return Err(ServiceError::invalid(format!("leeway_seconds must be between 0 and {MAX_LEEWAY_SECONDS}.")));
    }
    if let Some(max) = settings.max_token_lifetime_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&max) {
            return Err(ServiceError::invalid(
                "max_token_lifetime_seconds must be a positive number of seconds, or null.",
            ));
        }
    }
    if settings.allowed_origins.len() > 100 {
        return Err(ServiceError::invalid("allowed_origins holds at most 100 entries."));
    }
    for origin in &settings.allowed_origins {
        validate_allowed_origin(origin).map_err(|e| ServiceError::invalid(format!("allowed_origins: {e}")))?;
    }
    if settings.token_profile == TokenProfile::Custom {
        validate_user_id_claims(&settings.user_id_claims)
            .map_err(|e| ServiceError::invalid(format!("user_id_claims: {e}")))?;
    }
    if let Some(issuer) = &settings.expected_issuer {
        if issuer.is_empty() || issuer.len() > 255 || issuer.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "expected_issuer must have 1 to 255 characters without control characters, or be null.",
            ));
        }
    }
    Ok(())
}

/// Checks an attribute name: 1 to 64 of `[A-Za-z0-9_.-]`, starting with a letter.
pub fn validate_attribute_name(name: &str) -> ServiceResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "An attribute name has 1 to 64 letters, digits, '_', '-' or '.', and starts with a letter.",
        ))
    }
}

impl Service {
    /// The workspace's security settings.
    pub async fn get_security(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<SecuritySettings> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let row: SecurityRow = crate::db::query_as(&format!("SELECT {SECURITY_COLUMNS} FROM workspaces WHERE id = $1"))
            .bind(workspace_id)
            .fetch_one(tenant.conn())
            .await?;
        Ok(row.settings())
    }

    /// Replaces the workspace's security settings; audited with the before and after.
    pub async fn update_security(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        settings: &SecuritySettings,
    ) -> ServiceResult<SecuritySettings> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        validate(settings)?;
        let tx = tenant.conn();
        let before: SecurityRow =
            crate::db::query_as(&format!("SELECT {SECURITY_COLUMNS} FROM workspaces WHERE id = $1 FOR UPDATE"))
                .bind(workspace_id)
                .fetch_one(&mut *tx)
                .await?;
        crate::db::query(
            "UPDATE workspaces SET mode_web = $2, mode_ios = $3, mode_android = $4, hmac_enabled = $5, leeway_seconds = $6,
                    require_exp = $7, max_token_lifetime_seconds = $8, allowed_origins = $9, token_profile = $10,
                    user_id_claims = $11, expected_issuer = $12
              WHERE id = $1",
        )
        .bind(workspace_id)
        .bind(settings.modes.web.as_str())
        .bind(settings.modes.ios.as_str())
        .bind(settings.modes.android.as_str())
        .bind(settings.hmac_enabled)
        .bind(settings.leeway_seconds as i32)
        .bind(settings.require_exp)
        .bind(settings.max_token_lifetime_seconds.map(|v| v as i32))
        .bind(&settings.allowed_origins)
        .bind(settings.token_profile.as_str())
        .bind(&settings.user_id_claims)
        .bind(&settings.expected_issuer)
        .execute(&mut *tx)
        .await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "security.updated")
            .details(serde_json::json!({ "before": before.settings(), "after": settings }));
        audit::insert(tx, self.clock.now(), entry).await?;
        config::notify_changed(tx, &before.app_id).await?;
        tenant.commit().await?;
        self.config.evict(&before.app_id);
        Ok(settings.clone())
    }

    /// The registered attributes, by name.
    pub async fn list_attributes(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<AttributeDef>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        load_attributes(tenant.conn(), workspace_id).await
    }

    /// Registers an attribute (`conflict` if the name exists).
    pub async fn create_attribute(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        def: &AttributeDef,
    ) -> ServiceResult<AttributeDef> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        validate_attribute_name(&def.name)?;
        let tx = tenant.conn();
        let count: i64 = crate::db::query_scalar("SELECT count(*) FROM attributes WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= MAX_ATTRIBUTES {
            return Err(ServiceError::invalid(format!("A workspace registers at most {MAX_ATTRIBUTES} attributes.")));
        }
        let inserted = crate::db::query(
            "INSERT INTO attributes (workspace_id, name, type, secure_only, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
        )
        .bind(workspace_id)
        .bind(&def.name)
        .bind(def.kind.as_str())
        .bind(def.secure_only)
        .bind(self.clock.now())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(ServiceError::new(ErrorCode::Conflict, format!("The attribute {} already exists.", def.name)));
        }
        let app_id = self
            .attribute_changed(tx, actor, workspace_id, "attribute.created", &def.name, serde_json::json!(def))
            .await?;
        tenant.commit().await?;
        self.config.evict(&app_id);
        Ok(def.clone())
    }

    /// Changes an attribute's type or secure-only flag.
    pub async fn update_attribute(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        name: &str,
        update: &AttributeUpdate,
    ) -> ServiceResult<AttributeDef> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        // A name that could not be registered names no attribute.
        validate_attribute_name(name).map_err(|_| ServiceError::not_found("Attribute"))?;
        let tx = tenant.conn();
        let done =
            crate::db::query("UPDATE attributes SET type = $3, secure_only = $4 WHERE workspace_id = $1 AND name = $2")
                .bind(workspace_id)
                .bind(name)
                .bind(update.kind.as_str())
                .bind(update.secure_only)
                .execute(&mut *tx)
                .await?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::not_found("Attribute"));
        }
        let def = AttributeDef { name: name.to_owned(), kind: update.kind, secure_only: update.secure_only };
        let app_id =
            self.attribute_changed(tx, actor, workspace_id, "attribute.updated", name, serde_json::json!(def)).await?;
        tenant.commit().await?;
        self.config.evict(&app_id);
        Ok(def)
    }

    /// Removes an attribute from the registry (stored contact values stay).
    pub async fn delete_attribute(&self, actor: &Actor, workspace_id: Uuid, name: &str) -> ServiceResult<()> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        validate_attribute_name(name).map_err(|_| ServiceError::not_found("Attribute"))?;
        let tx = tenant.conn();
        let done = crate::db::query("DELETE FROM attributes WHERE workspace_id = $1 AND name = $2")
            .bind(workspace_id)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::not_found("Attribute"));
        }
        let app_id =
            self.attribute_changed(tx, actor, workspace_id, "attribute.deleted", name, serde_json::json!({})).await?;
        tenant.commit().await?;
        self.config.evict(&app_id);
        Ok(())
    }

    async fn attribute_changed(
        &self,
        conn: &mut PgConnection,
        actor: &Actor,
        workspace_id: Uuid,
        action: &'static str,
        name: &str,
        details: serde_json::Value,
    ) -> ServiceResult<String> {
        audit::insert(
            conn,
            self.clock.now(),
            NewAuditEntry::workspace(actor, workspace_id, action).target(name).details(details),
        )
        .await?;
        let app_id: String = crate::db::query_scalar("SELECT app_id FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_one(&mut *conn)
            .await?;
        config::notify_changed(conn, &app_id).await?;
        Ok(app_id)
    }
}

/// The attribute registry of a workspace.
pub(crate) async fn load_attributes(conn: &mut PgConnection, workspace_id: Uuid) -> ServiceResult<Vec<AttributeDef>> {
    let rows: Vec<(String, String, bool)> =
        crate::db::query_as("SELECT name, type, secure_only FROM attributes WHERE workspace_id = $1 ORDER BY name")
            .bind(workspace_id)
            .fetch_all(conn)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(name, kind, secure_only)| {
            Some(AttributeDef { name, kind: countersign_core::AttributeType::parse(&kind)?, secure_only })
        })
        .collect())
}
