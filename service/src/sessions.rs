//! Where an account is signed in: listing and ending its sessions, and changing its password
//! (which ends every other session, so a leaked password or cookie stops working).

use countersign_proto::{EndedSessions, SessionSummary};
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::{password, random, Actor, Service};

impl Service {
    /// The caller's live sessions, most recently used first. `current` is the cookie of the
    /// request, which is marked as "this device".
    pub async fn list_sessions(&self, actor: &Actor, current: Option<&str>) -> ServiceResult<Vec<SessionSummary>> {
        let now = self.clock.now();
        Ok(crate::db::query_as::<SessionSummary>(
            "SELECT id, created_at, last_seen_at, expires_at, ip, user_agent, coalesce(id_hash = $2, false) AS current
               FROM sessions
              WHERE account_id = $1 AND expires_at > $3 AND last_seen_at > $4
              ORDER BY last_seen_at DESC",
        )
        .bind(actor.account_id)
        .bind(current.map(random::digest))
        .bind(now)
        .bind(now - self.settings().session_idle)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends one of the caller's sessions; another account's session is 404.
    pub async fn end_session(&self, actor: &Actor, session_id: Uuid) -> ServiceResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = crate::db::query("DELETE FROM sessions WHERE id = $1 AND account_id = $2")
            .bind(session_id)
            .bind(actor.account_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::not_found("Session"));
        }
        let entry = NewAuditEntry::account(actor, "session.ended").target(session_id.to_string());
        audit::insert(&mut tx, self.clock.now(), entry).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends every session of the caller except `current` (all of them without one).
    pub async fn end_other_sessions(&self, actor: &Actor, current: Option<&str>) -> ServiceResult<EndedSessions> {
        let mut tx = self.pool.begin().await?;
        let ended = end_others(&mut tx, actor, current).await?;
        let entry =
            NewAuditEntry::account(actor, "session.ended_others").details(serde_json::json!({ "ended": ended }));
        audit::insert(&mut tx, self.clock.now(), entry).await?;
        tx.commit().await?;
        Ok(EndedSessions { ended })
    }

    /// Changes the caller's password after checking the current one (throttled like a
    /// sign-in), and ends every other session.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: Option<&str>,
        current_password: &str,
        new_password: &str,
    ) -> ServiceResult<EndedSessions> {
        password::validate_new(new_password)?;
        let attempt = self.begin_attempt(&actor.email, actor.meta.ip.as_deref().unwrap_or_default()).await?;
        let stored: String = crate::db::query_scalar("SELECT password_hash FROM accounts WHERE id = $1")
            .bind(actor.account_id)
            .fetch_one(&self.pool)
            .await?;
        if !self.passwords.verify(current_password, &stored).await? {
            return Err(ServiceError::new(ErrorCode::InvalidCredentials, "The current password is incorrect."));
        }
        self.attempt_succeeded(attempt).await?;
        let hash = self.passwords.hash(new_password).await?;
        let mut tx = self.pool.begin().await?;
        crate::db::query("UPDATE accounts SET password_hash = $2 WHERE id = $1")
            .bind(actor.account_id)
            .bind(hash)
            .execute(&mut *tx)
            .await?;
        let ended = end_others(&mut tx, actor, current).await?;
        let entry = NewAuditEntry::account(actor, "account.password_changed")
            .details(serde_json::json!({ "sessions_ended": ended }));
        audit::insert(&mut tx, self.clock.now(), entry).await?;
        tx.commit().await?;
        Ok(EndedSessions { ended })
    }
}

async fn end_others(conn: &mut sqlx::PgConnection, actor: &Actor, current: Option<&str>) -> ServiceResult<u64> {
    let done = crate::db::query("DELETE FROM sessions WHERE account_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2)")
        .bind(actor.account_id)
        .bind(current.map(random::digest))
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}
