//! Reading the verification log (newest first, keyset pages; exports; the live tail) and
//! stored contacts.

mod export;
mod filter;
mod tail;

use chrono::{DateTime, Duration, Utc};
use countersign_core::policy::Action;
use countersign_core::{verified_explanation, Outcome};
use countersign_proto::{Contact, LogEntry, Page};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

pub use export::ExportFormat;
pub use filter::{decode_cursor, encode_cursor, LogCriteria, LogFilter};
pub use tail::TailHub;

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Service};

impl Service {
    /// A page of the verification log, newest first.
    pub async fn list_logs(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        filter: &LogFilter,
    ) -> ServiceResult<Page<LogEntry>> {
        let mut tenant = self.tenant_read(actor, workspace_id, Action::View).await?;
        let limit = filter.page_size()?;
        let criteria = filter.criteria(self.clock.now())?;
        let rows = log_rows(tenant.conn(), workspace_id, &criteria, limit + 1).await?;
        let more = rows.len() as i64 > limit;
        let items: Vec<LogEntry> = rows.into_iter().take(limit as usize).collect();
        let next_cursor = if more { items.last().map(|e| encode_cursor(e.at, e.id)) } else { None };
        Ok(Page { items, next_cursor })
    }

    /// [`log_rows`] in a transaction of its own, confined to the workspace: for a stream's
    /// later pages, after the caller was authorized when the stream began.
    async fn confined_log_rows(
        &self,
        workspace_id: Uuid,
        criteria: &LogCriteria,
        limit: i64,
    ) -> ServiceResult<Vec<LogEntry>> {
        let mut tx = match &self.read_pool {
            Some(replica) => replica.begin().await?,
            None => self.pool.begin().await?,
        };
        crate::tenant::confine(&mut tx, workspace_id).await?;
        log_rows(&mut tx, workspace_id, criteria, limit).await
    }

    /// A stored contact by user id.
    pub async fn get_contact(&self, actor: &Actor, workspace_id: Uuid, user_id: &str) -> ServiceResult<Contact> {
        let mut tenant = self.tenant_read(actor, workspace_id, Action::View).await?;
        // No stored user id holds NUL (Postgres text cannot).
        if user_id.contains('\0') {
            return Err(ServiceError::not_found("Contact"));
        }
        let row: Option<Contact> = crate::db::query_as(
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

/// Up to `limit` rows matching `criteria`, newest first. A filter on a rollup dimension
/// (outcome, platform, reason, kid) first asks the hourly rollups which hours hold a match, and
/// a filter on the origin the hours that origin was seen in: none, and no log row is read;
/// otherwise only the span of those hours is scanned. This keeps searches that match little or
/// nothing fast without an index per filter on the log, whose every index is paid for by each
/// identify.
async fn log_rows(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    criteria: &LogCriteria,
    limit: i64,
) -> ServiceResult<Vec<LogEntry>> {
    let mut criteria = criteria.clone();
    let upper = match (criteria.to, criteria.before) {
        (Some(to), Some((at, _))) => Some(to.min(at + Duration::microseconds(1))),
        (to, before) => to.or(before.map(|(at, _)| at + Duration::microseconds(1))),
    };
    if criteria.outcome.is_some() || criteria.platform.is_some() || criteria.reason.is_some() || criteria.kid.is_some()
    {
        let span = crate::db::query_as(
            "SELECT min(bucket), max(bucket) FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= date_trunc('hour', $2) AND ($3::timestamptz IS NULL OR bucket < $3)
                AND ($4::text IS NULL OR outcome = $4) AND ($5::text IS NULL OR platform = $5)
                AND ($6::text IS NULL OR reason = $6)
                AND ($7::text IS NULL OR kid = countersign_rollup_kid($1, $7))",
        )
        .bind(workspace_id)
        .bind(criteria.from)
        .bind(upper)
        .bind(criteria.outcome)
        .bind(criteria.platform)
        .bind(criteria.reason.as_deref())
        .bind(criteria.kid.as_deref())
        .fetch_one(&mut *conn)
        .await?;
        if !criteria.narrow_to_hours(span) {
            return Ok(Vec::new());
        }
    }
    if let Some(origin) = criteria.origin.as_deref() {
        let span = crate::db::query_as(
            "SELECT min(bucket), max(bucket) FROM log_origin_hour
              WHERE workspace_id = $1 AND origin = $2
                AND bucket >= date_trunc('hour', $3) AND ($4::timestamptz IS NULL OR bucket < $4)",
        )
        .bind(workspace_id)
        .bind(origin)
        .bind(criteria.from)
        .bind(upper)
        .fetch_one(&mut *conn)
        .await?;
        if !criteria.narrow_to_hours(span) {
            return Ok(Vec::new());
        }
    }
    let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {} FROM verification_log", filter::LOG_COLUMNS));
    criteria.push_where(&mut sql, workspace_id);
    sql.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(limit);
    let rows: Vec<LogEntry> =
        sql.build_query_as().persistent(crate::db::statements_are_named()).fetch_all(conn).await?;
    Ok(rows.into_iter().map(explained).collect())
}

/// A log row as read back. A verified row is stored without its explanation, which follows
/// from its user id, `alg` and kid ([`verified_explanation`]): the sentence is rendered here
/// instead of written once per attempt. Every read of the log goes through this.
pub(crate) fn explained(mut entry: LogEntry) -> LogEntry {
    if entry.explanation.is_empty() && entry.outcome == Outcome::Verified.as_str() {
        entry.explanation = verified_explanation(entry.user_id.as_deref(), entry.alg.as_deref(), entry.kid.as_deref());
    }
    entry
}

/// Verified attempts per kid in the 24 hours before `now`, from the minute rollup.
pub(crate) async fn key_usage_24h(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<(String, i64)>> {
    Ok(crate::db::query_as(
        "SELECT kid, sum(attempts)::bigint FROM log_rollup_minute
          WHERE workspace_id = $1 AND bucket > $2 AND outcome = 'verified' AND kid <> ''
          GROUP BY kid",
    )
    .bind(workspace_id)
    .bind(now - Duration::hours(24))
    .fetch_all(conn)
    .await?)
}
