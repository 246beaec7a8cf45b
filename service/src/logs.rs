//! Reading the verification log (newest first, keyset pages) and stored contacts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use countersign_core::policy::Action;
use countersign_proto::{Contact, LogEntry, Page};
use serde::Deserialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Service};

/// Filters of `GET .../logs`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LogFilter {
    pub outcome: Option<String>,
    pub platform: Option<String>,
    pub reason: Option<String>,
    pub user_id: Option<String>,
    pub cursor: Option<String>,
    /// 50 by default, 200 at most.
    pub limit: Option<i64>,
}

/// A keyset cursor: the (at, id) of the last row of a page, opaque to clients.
fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

fn decode_cursor(cursor: &str) -> ServiceResult<(DateTime<Utc>, Uuid)> {
    let invalid = || ServiceError::invalid("cursor is not valid.");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let raw = String::from_utf8(raw).map_err(|_| invalid())?;
    let (micros, id) = raw.split_once('|').ok_or_else(invalid)?;
    let at = DateTime::from_timestamp_micros(micros.parse().map_err(|_| invalid())?).ok_or_else(invalid)?;
    Ok((at, id.parse().map_err(|_| invalid())?))
}

impl Service {
    /// A page of the verification log, newest first.
    pub async fn list_logs(&self, actor: &Actor, workspace_id: Uuid, filter: &LogFilter) -> ServiceResult<Page<LogEntry>> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let limit = filter.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(ServiceError::invalid("limit must be between 1 and 200."));
        }
        let check = |value: &Option<String>, allowed: &[&str], name: &str| -> ServiceResult<()> {
            match value.as_deref() {
                Some(v) if !v.is_empty() && !allowed.contains(&v) => Err(ServiceError::invalid(format!("{name} must be one of {}.", allowed.join(", ")))),
                _ => Ok(()),
            }
        };
        check(&filter.outcome, &["verified", "unverified", "would_reject", "rejected"], "outcome")?;
        check(&filter.platform, &["web", "ios", "android"], "platform")?;
        for (name, value) in [("reason", &filter.reason), ("user_id", &filter.user_id)] {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                return Err(ServiceError::invalid(format!("{name} may not contain the NUL character.")));
            }
        }
        let cursor = filter.cursor.as_deref().filter(|c| !c.is_empty()).map(decode_cursor).transpose()?;
        let blank = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let rows: Vec<LogEntry> = sqlx::query_as(
            "SELECT id, at, outcome, reason, explanation, platform, kid, alg, user_id, attributes_accepted,
                    attributes_rejected, details, origin, ip, user_agent, latency_us
               FROM verification_log
              WHERE workspace_id = $1
                AND ($2::timestamptz IS NULL OR (at, id) < ($2, $3))
                AND ($4::text IS NULL OR outcome = $4)
                AND ($5::text IS NULL OR platform = $5)
                AND ($6::text IS NULL OR reason = $6)
                AND ($7::text IS NULL OR user_id = $7)
              ORDER BY at DESC, id DESC
              LIMIT $8",
        )
        .bind(workspace_id)
        .bind(cursor.map(|c| c.0))
        .bind(cursor.map(|c| c.1))
        .bind(blank(&filter.outcome))
        .bind(blank(&filter.platform))
        .bind(blank(&filter.reason))
        .bind(blank(&filter.user_id))
        .bind(limit + 1)
        .fetch_all(tenant.conn())
        .await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<LogEntry> = rows.into_iter().take(limit as usize).collect();
        let next_cursor = if more { items.last().map(|e| encode_cursor(e.at, e.id)) } else { None };
        Ok(Page { items, next_cursor })
    }

    /// A stored contact by user id.
    pub async fn get_contact(&self, actor: &Actor, workspace_id: Uuid, user_id: &str) -> ServiceResult<Contact> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        // No stored user id holds NUL (Postgres text cannot).
        if user_id.contains('\0') {
            return Err(ServiceError::not_found("Contact"));
        }
        let row: Option<Contact> = sqlx::query_as(
            "SELECT user_id, attributes, verified, first_seen_at, last_seen_at, last_platform
               FROM contacts WHERE workspace_id = $1 AND user_id = $2",
        )
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(tenant.conn())
        .await?;
        row.ok_or_else(|| ServiceError::not_found("Contact"))
    }

}

/// Verified attempts per kid in the 24 hours before `now`, from the minute rollup.
pub(crate) async fn key_usage_24h(conn: &mut PgConnection, workspace_id: Uuid, now: DateTime<Utc>) -> ServiceResult<Vec<(String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT kid, sum(attempts)::bigint FROM log_rollup_minute
          WHERE workspace_id = $1 AND bucket > $2 AND outcome = 'verified' AND kid <> ''
          GROUP BY kid",
    )
    .bind(workspace_id)
    .bind(now - Duration::hours(24))
    .fetch_all(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cursors round-trip and garbage is refused.
    #[test]
    fn cursor_round_trip() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap_or_default();
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor(&encode_cursor(at, id)).ok(), Some((at, id)));
        assert!(decode_cursor("garbage!").is_err());
        assert!(decode_cursor(&URL_SAFE_NO_PAD.encode("1|x")).is_err());
    }
}
