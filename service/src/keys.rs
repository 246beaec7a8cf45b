//! Workspace secrets: generate, rotate with a grace period, revoke at once, reveal (audited),
//! re-encrypt under a new master key. Secrets are sealed at rest (`crypto`) and never logged.

use chrono::{DateTime, Utc};
use countersign_core::policy::{permits, Action};
use countersign_core::{KeyState, VerificationKey};
use countersign_proto::{KeyInfo, RevealedSecret, RotatedKey};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ServiceError, ServiceResult};
use crate::{random, Actor, Service};

/// Grace period of a rotation when none is given.
pub const DEFAULT_GRACE_SECONDS: i64 = 24 * 3600;
/// The longest grace period accepted.
pub const MAX_GRACE_SECONDS: i64 = 30 * 24 * 3600;
/// Prefix of generated secrets, so leaked ones are easy to scan for.
pub const SECRET_PREFIX: &str = "cs_sk_";

#[derive(FromRow)]
struct KeyRow {
    workspace_id: Uuid,
    kid: String,
    sealed: Vec<u8>,
    fingerprint: String,
    state: String,
    expires_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

const KEY_COLUMNS: &str =
    "workspace_id, kid, sealed, fingerprint, state, expires_at, created_at, last_used_at, revoked_at";

impl KeyRow {
    /// The state as of `now`: a rotating key past its grace period no longer verifies.
    fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        match (self.state.as_str(), self.expires_at) {
            ("primary", _) => "primary",
            ("rotating", Some(expires)) if expires > now => "rotating",
            _ => "revoked",
        }
    }

    /// The key as listed, with its verified use from the rollups: `last_verified` is newer than
    /// the stored `last_used_at` (written at most once a minute) while the log still holds it.
    fn info(&self, now: DateTime<Utc>, verifications_24h: i64, last_verified: Option<DateTime<Utc>>) -> KeyInfo {
        KeyInfo {
            kid: self.kid.clone(),
            state: self.state_at(now).to_owned(),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at.or_else(|| self.expires_at.filter(|e| *e <= now)),
            last_used_at: self.last_used_at.max(last_verified),
            fingerprint: self.fingerprint.clone(),
            verifications_24h,
        }
    }
}

/// A workspace's keys as listed (primary first, then newest first), with their verified use
/// from the rollups: the Keys page's and the overview's view of them.
pub(crate) async fn key_infos(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<KeyInfo>> {
    let rows: Vec<KeyRow> = crate::db::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM workspace_keys WHERE workspace_id = $1 ORDER BY state = 'primary' DESC, created_at DESC"
    ))
    .bind(workspace_id)
    .fetch_all(&mut *conn)
    .await?;
    let usage = crate::logs::key_usage(conn, workspace_id, now).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let used = usage.iter().find(|(kid, _, _)| *kid == row.kid);
            row.info(now, used.map_or(0, |u| u.1), used.and_then(|u| u.2))
        })
        .collect())
}

/// A short, safe-to-show fingerprint of a secret: the start of its SHA-256.
pub fn fingerprint(secret: &[u8]) -> String {
    countersign_core::fingerprint(secret)
}

impl Service {
    /// Generates a primary key for a workspace and stores it sealed; returns its kid and secret.
    pub(crate) async fn insert_key(
        &self,
        conn: &mut PgConnection,
        workspace_id: Uuid,
        created_by: Uuid,
        now: DateTime<Utc>,
    ) -> ServiceResult<(String, String)> {
        let secret = random::token(SECRET_PREFIX);
        let kid = self.store_key(conn, workspace_id, secret.as_bytes(), None, created_by, now).await?;
        Ok((kid, secret))
    }

    /// Stores a secret sealed under a new kid: primary, or rotating until `expires_at`.
    async fn store_key(
        &self,
        conn: &mut PgConnection,
        workspace_id: Uuid,
        secret: &[u8],
        expires_at: Option<DateTime<Utc>>,
        created_by: Uuid,
        now: DateTime<Utc>,
    ) -> ServiceResult<String> {
        let kid = random::id("k_");
        crate::db::query(
            "INSERT INTO workspace_keys (workspace_id, kid, sealed, fingerprint, state, expires_at, created_at, created_by)
             VALUES ($1, $2, $3, $4, CASE WHEN $5::timestamptz IS NULL THEN 'primary' ELSE 'rotating' END, $5, $6, $7)",
        )
        .bind(workspace_id)
        .bind(&kid)
        .bind(self.keyring.seal(workspace_id, &kid, secret)?)
        .bind(fingerprint(secret))
        .bind(expires_at)
        .bind(now)
        .bind(created_by)
        .execute(conn)
        .await?;
        Ok(kid)
    }

    /// The workspace's keys, primary first, then newest first, with their recent usage.
    pub async fn list_keys(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<Vec<KeyInfo>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        key_infos(tenant.conn(), workspace_id, self.clock.now()).await
    }

    /// Makes a new primary key. The old primary keeps verifying for `grace_seconds` (default
    /// 24 h; 0 revokes it at once). The new secret is returned only to roles that may reveal it.
    pub async fn rotate_key(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        grace_seconds: Option<i64>,
    ) -> ServiceResult<RotatedKey> {
        let mut tenant = self.tenant(actor, workspace_id, Action::RotateOrRevokeKey).await?;
        let grace = grace_seconds.unwrap_or(DEFAULT_GRACE_SECONDS);
        if !(0..=MAX_GRACE_SECONDS).contains(&grace) {
            return Err(ServiceError::invalid(format!(
                "grace_seconds must be between 0 and {MAX_GRACE_SECONDS} (30 days)."
            )));
        }
        let now = self.clock.now();
        let tx = tenant.conn();
        lock_keys(tx, workspace_id).await?;
        let previous: Option<KeyRow> = crate::db::query_as(&format!(
            "UPDATE workspace_keys
                SET state = CASE WHEN $2 = 0 THEN 'revoked' ELSE 'rotating' END,
                    expires_at = CASE WHEN $2 = 0 THEN NULL ELSE $3 + make_interval(secs => $2) END,
                    revoked_at = CASE WHEN $2 = 0 THEN $3 ELSE NULL END
              WHERE workspace_id = $1 AND state = 'primary'
          RETURNING {KEY_COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(grace as f64)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let (kid, secret) = self.insert_key(tx, workspace_id, actor.account_id, now).await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "key.rotated").target(kid.clone()).details(
            serde_json::json!({
                "previous_kid": previous.as_ref().map(|p| p.kid.clone()),
                "grace_seconds": grace,
                "previous_revoked": grace == 0,
            }),
        );
        audit::insert(tx, now, entry).await?;
        // Revoked at once, the previous key is revoked as surely as by `revoke_key`: said so in
        // the audit log too, which is what `key.revoked` subscribers hear.
        if let Some(previous) = previous.as_ref().filter(|_| grace == 0) {
            let revoked = NewAuditEntry::workspace(actor, workspace_id, "key.revoked")
                .target(previous.kid.clone())
                .details(serde_json::json!({ "by_rotation_to": kid }));
            audit::insert(tx, now, revoked).await?;
        }
        let app_id = notify_workspace(tx, workspace_id).await?;
        let role = tenant.role;
        tenant.commit().await?;
        self.config.evict(&app_id);
        let key = KeyInfo {
            kid,
            state: "primary".into(),
            created_at: now,
            expires_at: None,
            revoked_at: None,
            last_used_at: None,
            fingerprint: fingerprint(secret.as_bytes()),
            verifications_24h: 0,
        };
        Ok(RotatedKey {
            key,
            secret: permits(role, Action::RevealSecret).then_some(secret),
            previous: previous.map(|p| p.info(now, 0, None)),
        })
    }

    /// Imports a secret the customer already uses (the raw HMAC key; refused when weak, see
    /// [`countersign_core::check_imported_secret`]). As primary,
    /// the old primary keeps verifying for 24 h; otherwise the key is verify-only for the
    /// longest grace period (30 days), long enough to move backends to a Countersign key.
    pub async fn import_key(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        secret: &str,
        primary: bool,
    ) -> ServiceResult<KeyInfo> {
        let mut tenant = self.tenant(actor, workspace_id, Action::ChangeSettings).await?;
        countersign_core::check_imported_secret(secret).map_err(ServiceError::invalid)?;
        let now = self.clock.now();
        let tx = tenant.conn();
        lock_keys(tx, workspace_id).await?;
        let expires_at = (!primary).then(|| now + chrono::Duration::seconds(MAX_GRACE_SECONDS));
        if primary {
            crate::db::query(
                "UPDATE workspace_keys SET state = 'rotating', expires_at = $2 WHERE workspace_id = $1 AND state = 'primary'",
            )
            .bind(workspace_id)
            .bind(now + chrono::Duration::seconds(DEFAULT_GRACE_SECONDS))
            .execute(&mut *tx)
            .await?;
        }
        let kid = self.store_key(tx, workspace_id, secret.as_bytes(), expires_at, actor.account_id, now).await?;
        let entry = NewAuditEntry::workspace(actor, workspace_id, "key.imported")
            .target(kid.clone())
            .details(serde_json::json!({ "primary": primary }));
        audit::insert(tx, now, entry).await?;
        let app_id = notify_workspace(tx, workspace_id).await?;
        tenant.commit().await?;
        self.config.evict(&app_id);
        Ok(KeyInfo {
            kid,
            state: if primary { "primary" } else { "rotating" }.into(),
            created_at: now,
            expires_at,
            revoked_at: None,
            last_used_at: None,
            fingerprint: fingerprint(secret.as_bytes()),
            verifications_24h: 0,
        })
    }

    /// Revokes a key at once: it never verifies again.
    pub async fn revoke_key(&self, actor: &Actor, workspace_id: Uuid, kid: &str) -> ServiceResult<KeyInfo> {
        let mut tenant = self.tenant(actor, workspace_id, Action::RotateOrRevokeKey).await?;
        let now = self.clock.now();
        let tx = tenant.conn();
        let row: Option<KeyRow> = crate::db::query_as(&format!(
            "UPDATE workspace_keys SET state = 'revoked', expires_at = NULL, revoked_at = coalesce(revoked_at, $3)
              WHERE workspace_id = $1 AND kid = $2
          RETURNING {KEY_COLUMNS}"
        ))
        .bind(workspace_id)
        .bind(kid)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let row = row.ok_or_else(|| ServiceError::not_found("Key"))?;
        audit::insert(tx, now, NewAuditEntry::workspace(actor, workspace_id, "key.revoked").target(kid)).await?;
        let app_id = notify_workspace(tx, workspace_id).await?;
        tenant.commit().await?;
        self.config.evict(&app_id);
        Ok(row.info(now, 0, None))
    }

    /// Reveals a secret in clear to a role that may; every reveal is audited.
    pub async fn reveal_secret(&self, actor: &Actor, workspace_id: Uuid, kid: &str) -> ServiceResult<RevealedSecret> {
        let mut tenant = self.tenant(actor, workspace_id, Action::RevealSecret).await?;
        let row: Option<KeyRow> = crate::db::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM workspace_keys WHERE workspace_id = $1 AND kid = $2"
        ))
        .bind(workspace_id)
        .bind(kid)
        .fetch_optional(tenant.conn())
        .await?;
        let row = row.ok_or_else(|| ServiceError::not_found("Key"))?;
        let secret = self.keyring.open(row.workspace_id, &row.kid, &row.sealed)?;
        let secret = String::from_utf8(secret).map_err(|_| ServiceError::internal("a stored secret is not UTF-8"))?;
        audit::insert(
            tenant.conn(),
            self.clock.now(),
            NewAuditEntry::workspace(actor, workspace_id, "key.revealed").target(kid),
        )
        .await?;
        tenant.commit().await?;
        Ok(RevealedSecret { kid: row.kid, secret })
    }

    /// Every key of a workspace, opened, in the core's terms: for the verification snapshot.
    pub async fn verification_keys(&self, workspace_id: Uuid) -> ServiceResult<Vec<VerificationKey>> {
        // A transaction, so a transaction-mode pooler keeps one server connection throughout.
        let mut tx = self.pool.begin().await?;
        self.verification_keys_in(&mut tx, workspace_id).await
    }

    /// [`Service::verification_keys`] on a given connection (the snapshot load's transaction).
    pub(crate) async fn verification_keys_in(
        &self,
        conn: &mut PgConnection,
        workspace_id: Uuid,
    ) -> ServiceResult<Vec<VerificationKey>> {
        let rows: Vec<KeyRow> =
            crate::db::query_as(&format!("SELECT {KEY_COLUMNS} FROM workspace_keys WHERE workspace_id = $1"))
                .bind(workspace_id)
                .fetch_all(conn)
                .await?;
        rows.iter()
            .map(|row| {
                let state = match (row.state.as_str(), row.expires_at) {
                    ("primary", _) => KeyState::Primary,
                    ("rotating", Some(expires)) => KeyState::Rotating { expires_at: expires.timestamp() },
                    _ => KeyState::Revoked,
                };
                Ok(VerificationKey::new(
                    row.kid.clone(),
                    self.keyring.open(row.workspace_id, &row.kid, &row.sealed)?,
                    state,
                ))
            })
            .collect()
    }

    /// Re-seals every secret under the keyring's current master key (opening each with the
    /// current or the previous key). Row by row, so instances keep serving throughout.
    pub async fn rekey_all(&self) -> ServiceResult<usize> {
        let rows: Vec<KeyRow> =
            crate::db::query_as(&format!("SELECT {KEY_COLUMNS} FROM workspace_keys")).fetch_all(&self.pool).await?;
        for row in &rows {
            let secret = self.keyring.open(row.workspace_id, &row.kid, &row.sealed)?;
            let sealed = self.keyring.seal(row.workspace_id, &row.kid, &secret)?;
            crate::db::query(
                "UPDATE workspace_keys SET sealed = $3 WHERE workspace_id = $1 AND kid = $2 AND sealed = $4",
            )
            .bind(row.workspace_id)
            .bind(&row.kid)
            .bind(sealed)
            .bind(&row.sealed)
            .execute(&self.pool)
            .await?;
        }
        Ok(rows.len() + self.rekey_webhooks().await?)
    }
}

/// Serialises key changes of one workspace (one primary at a time).
async fn lock_keys(conn: &mut PgConnection, workspace_id: Uuid) -> ServiceResult<()> {
    crate::db::query("SELECT 1 FROM workspace_keys WHERE workspace_id = $1 FOR UPDATE")
        .bind(workspace_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Tells every instance (at commit) that this workspace's keys changed; returns its app id.
async fn notify_workspace(conn: &mut PgConnection, workspace_id: Uuid) -> ServiceResult<String> {
    let app_id: String = crate::db::query_scalar("SELECT app_id FROM workspaces WHERE id = $1")
        .bind(workspace_id)
        .fetch_one(&mut *conn)
        .await?;
    crate::config::notify_changed(conn, &app_id).await?;
    Ok(app_id)
}
