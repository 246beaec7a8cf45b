//! Admin accounts: signup, login with throttling, server-side sessions, personal access tokens.

use chrono::{DateTime, Utc};
use countersign_proto::{AccountInfo, CreatedToken, TokenInfo};
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use crate::audit::{self, NewAuditEntry};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::{password, random, workspaces, Actor, RequestMeta, Service};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cs_session";
/// Prefix of personal access tokens, so that leaked ones are easy to grep for.
pub const TOKEN_PREFIX: &str = "cs_pat_";

/// A new session: the cookie value (shown to the browser once) and when it ends at the latest.
pub struct NewSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub account: AccountInfo,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewSession").field("account", &self.account).finish_non_exhaustive()
    }
}

#[derive(FromRow)]
struct AccountRow {
    id: Uuid,
    email: String,
    password_hash: String,
}

/// Normalises and checks an email address: trimmed, lowercase, one `@`, no spaces.
pub fn normalize_email(email: &str) -> ServiceResult<String> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(ServiceError::invalid("Enter a valid email address."))
    }
}

impl Service {
    /// Creates an account and its first workspace (as owner), and signs it in.
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        workspace_name: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<NewSession> {
        if !self.settings().allow_signup {
            return Err(ServiceError::new(
                ErrorCode::SignupDisabled,
                "Signup is turned off on this server; ask an admin to add you.",
            ));
        }
        let email = normalize_email(email)?;
        password::validate_new(password)?;
        let workspace_name = workspaces::validate_name(workspace_name)?;
        let hash = self.passwords.hash(password).await?;

        let mut tx = self.pool.begin().await?;
        let account_id = insert_account(&mut tx, &email, &hash, self.clock.now()).await?;
        let actor = Actor { account_id, email: email.clone(), meta: meta.clone() };
        audit::insert(&mut tx, self.clock.now(), NewAuditEntry::account(&actor, "account.signup")).await?;
        self.create_workspace_in(&mut tx, &actor, &workspace_name).await?;
        let session = self.insert_session(&mut tx, account_id, &email, meta).await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Signs in with email and password. A wrong password and an unknown email get the same
    /// answer in the same time; guesses are throttled ([`crate::throttle`]).
    pub async fn login(&self, email: &str, password: &str, meta: &RequestMeta) -> ServiceResult<NewSession> {
        let email = email.trim().to_lowercase();
        let attempt = self.begin_attempt(&email, meta.ip.as_deref().unwrap_or_default()).await?;
        let row: Option<AccountRow> =
            crate::db::query_as("SELECT id, email, password_hash FROM accounts WHERE lower(email) = $1")
                .bind(&email)
                .fetch_optional(&self.pool)
                .await?;
        let ok = match &row {
            Some(account) => self.passwords.verify(password, &account.password_hash).await?,
            None => {
                self.passwords.verify(password, self.dummy_hash().await?).await?;
                false
            }
        };
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        match row {
            Some(account) if ok => {
                let actor = Actor { account_id: account.id, email: account.email.clone(), meta: meta.clone() };
                audit::insert(&mut tx, now, NewAuditEntry::account(&actor, "account.login")).await?;
                let session = self.insert_session(&mut tx, account.id, &account.email, meta).await?;
                tx.commit().await?;
                self.attempt_succeeded(attempt).await?;
                Ok(session)
            }
            row => {
                let entry = NewAuditEntry {
                    workspace_id: None,
                    actor_id: row.map(|r| r.id),
                    actor_email: Some(email.clone()),
                    action: "account.login_failed",
                    target: None,
                    details: serde_json::json!({}),
                    meta: meta.clone(),
                };
                audit::insert(&mut tx, now, entry).await?;
                tx.commit().await?;
                Err(ServiceError::new(ErrorCode::InvalidCredentials, "Email or password is incorrect."))
            }
        }
    }

    pub(crate) async fn insert_session(
        &self,
        conn: &mut PgConnection,
        account_id: Uuid,
        email: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<NewSession> {
        let token = random::token("");
        let now = self.clock.now();
        let expires_at = now + self.settings().session_absolute;
        crate::db::query(
            "INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at, expires_at, ip, user_agent)
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(random::digest(&token))
        .bind(account_id)
        .bind(now)
        .bind(expires_at)
        .bind(&meta.ip)
        .bind(&meta.user_agent)
        .execute(conn)
        .await?;
        Ok(NewSession { token, expires_at, account: AccountInfo { id: account_id, email: email.to_owned() } })
    }

    /// The account behind a session cookie, if the session is neither idle too long nor past
    /// its absolute expiry. Extends the idle window.
    pub async fn authenticate_session(&self, token: &str, meta: &RequestMeta) -> ServiceResult<Actor> {
        let now = self.clock.now();
        let idle_since = now - self.settings().session_idle;
        let row: Option<(Uuid, String)> = crate::db::query_as(
            "UPDATE sessions s SET last_seen_at = $2
               FROM accounts a
              WHERE s.id_hash = $1 AND a.id = s.account_id AND s.expires_at > $2 AND s.last_seen_at > $3
              RETURNING a.id, a.email",
        )
        .bind(random::digest(token))
        .bind(now)
        .bind(idle_since)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((account_id, email)) => Ok(Actor { account_id, email, meta: meta.clone() }),
            None => Err(ServiceError::new(ErrorCode::Unauthorized, "Your session has ended; sign in again.")),
        }
    }

    /// Ends a session (logout). Ending an unknown session is not an error.
    pub async fn logout(&self, token: &str) -> ServiceResult<()> {
        crate::db::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(random::digest(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The account behind a personal access token that is not revoked.
    pub async fn authenticate_token(&self, token: &str, meta: &RequestMeta) -> ServiceResult<Actor> {
        let row: Option<(Uuid, String)> = crate::db::query_as(
            "UPDATE personal_access_tokens t SET last_used_at = $2
               FROM accounts a
              WHERE t.token_hash = $1 AND a.id = t.account_id AND t.revoked_at IS NULL
              RETURNING a.id, a.email",
        )
        .bind(random::digest(token))
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some((account_id, email)) => Ok(Actor { account_id, email, meta: meta.clone() }),
            None => Err(ServiceError::new(ErrorCode::Unauthorized, "This access token is unknown or revoked.")),
        }
    }

    /// Creates a personal access token for the caller; the token is in the answer only.
    pub async fn create_token(&self, actor: &Actor, name: &str) -> ServiceResult<CreatedToken> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "The token name must have 1 to 100 characters, without control characters.",
            ));
        }
        let token = random::token(TOKEN_PREFIX);
        let info = TokenInfo {
            id: Uuid::new_v4(),
            name: name.to_owned(),
            created_at: self.clock.now(),
            last_used_at: None,
            revoked_at: None,
        };
        let mut tx = self.pool.begin().await?;
        crate::db::query(
            "INSERT INTO personal_access_tokens (id, account_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(info.id)
        .bind(actor.account_id)
        .bind(&info.name)
        .bind(random::digest(&token))
        .bind(info.created_at)
        .execute(&mut *tx)
        .await?;
        let entry = NewAuditEntry::account(actor, "token.created").target(info.id.to_string());
        audit::insert(&mut tx, info.created_at, entry).await?;
        tx.commit().await?;
        Ok(CreatedToken { info, token })
    }

    /// The caller's personal access tokens, newest first.
    pub async fn list_tokens(&self, actor: &Actor) -> ServiceResult<Vec<TokenInfo>> {
        Ok(crate::db::query_as::<TokenInfo>(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM personal_access_tokens
              WHERE account_id = $1 ORDER BY created_at DESC",
        )
        .bind(actor.account_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Revokes one of the caller's personal access tokens; another account's token is 404.
    pub async fn revoke_token(&self, actor: &Actor, token_id: Uuid) -> ServiceResult<()> {
        let now = self.clock.now();
        let mut tx = self.pool.begin().await?;
        let done = crate::db::query(
            "UPDATE personal_access_tokens SET revoked_at = coalesce(revoked_at, $3) WHERE id = $1 AND account_id = $2",
        )
        .bind(token_id)
        .bind(actor.account_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(ServiceError::not_found("Token"));
        }
        audit::insert(&mut tx, now, NewAuditEntry::account(actor, "token.revoked").target(token_id.to_string()))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Inserts an account; an email already taken is `conflict`.
pub(crate) async fn insert_account(
    conn: &mut PgConnection,
    email: &str,
    password_hash: &str,
    now: DateTime<Utc>,
) -> ServiceResult<Uuid> {
    let id = Uuid::new_v4();
    let inserted = crate::db::query(
        "INSERT INTO accounts (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(email)
    .bind(password_hash)
    .bind(now)
    .execute(conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(ServiceError::new(ErrorCode::Conflict, "An account with this email already exists."));
    }
    Ok(id)
}

/// The `Set-Cookie` value that stores a session: HttpOnly, SameSite=Lax, Secure behind https.
pub fn session_cookie(session: &NewSession, secure: bool, now: DateTime<Utc>) -> String {
    let max_age = (session.expires_at - now).num_seconds().max(0);
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}", session.token)
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
}

/// The session token in a `Cookie` header, if any.
pub fn session_from_cookie_header(header: &str) -> Option<&str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == SESSION_COOKIE && !value.is_empty())
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Emails are trimmed and lowercased; malformed ones are refused.
    #[test]
    fn emails() {
        assert_eq!(normalize_email(" Ada@Example.COM ").ok().as_deref(), Some("ada@example.com"));
        for bad in ["", "ada", "@x", "a@", "a b@x.io", "a@b@c"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    /// The session cookie is read among others, and an empty one is no session.
    #[test]
    fn cookie_header() {
        assert_eq!(session_from_cookie_header("a=1; cs_session=tok; b=2"), Some("tok"));
        assert_eq!(session_from_cookie_header("cs_session="), None);
        assert_eq!(session_from_cookie_header("xcs_session=tok"), None);
    }
}
