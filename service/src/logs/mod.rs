//! Reading the verification log (newest first, keyset pages; exports; the live tail) and
//! stored contacts.

mod export;
mod filter;
mod tail;

use chrono::{DateTime, Duration, Utc};
use countersign_core::policy::Action;
use countersign_core::{verified_explanation, Outcome};
use countersign_proto::{Contact, FailureGroup, LogEntry, Page};
use sqlx::{PgConnection, Postgres, QueryBuilder};
use uuid::Uuid;

pub use export::ExportFormat;
use filter::MatchingHour;
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

    /// The most frequent failure reasons over the time range of a log search (its other
    /// filters aside), from the hourly rollups: the groups shown above the log.
    pub async fn log_failure_groups(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        filter: &LogFilter,
    ) -> ServiceResult<Vec<FailureGroup>> {
        let mut tenant = self.tenant_read(actor, workspace_id, Action::View).await?;
        let now = self.clock.now();
        let criteria = filter.criteria(now)?;
        let to = criteria.to.unwrap_or(now + Duration::hours(1));
        crate::overview::failure_groups(tenant.conn(), workspace_id, criteria.from, to).await
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

/// Runs of matching hours read one statement each before the rest are read in one.
const RUNS_READ_ONE_BY_ONE: usize = 8;

/// Up to `limit` rows matching `criteria`, newest first. A filter on a rollup dimension
/// (outcome, platform, reason, kid) first asks the hourly rollups which hours hold a match, and
/// a filter on the origin the hours that origin was seen in: none, and no log row is read;
/// otherwise only those hours are read, newest first, run by run of consecutive hours, until
/// the page is full. This keeps searches that match little or nothing fast without an index per
/// filter on the log, whose every index is paid for by each identify.
async fn log_rows(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    criteria: &LogCriteria,
    limit: i64,
) -> ServiceResult<Vec<LogEntry>> {
    let Some(hours) = matching_hours(conn, workspace_id, criteria).await? else {
        return read_rows(conn, workspace_id, criteria, limit).await;
    };
    let runs = filter::hour_runs(&hours);
    let mut rows = Vec::new();
    for (i, &(start, end)) in runs.iter().enumerate() {
        // Past a few runs, the rest are read in one scan of their span, so a page costs a
        // bounded number of statements however scattered the matches are.
        let last = i + 1 == RUNS_READ_ONE_BY_ONE || i + 1 == runs.len();
        let start = if last { runs.last().map_or(start, |&(oldest, _)| oldest) } else { start };
        let wanted = limit - rows.len() as i64;
        rows.extend(read_rows(conn, workspace_id, &criteria.within(start, end), wanted).await?);
        if last || rows.len() as i64 >= limit {
            break;
        }
    }
    Ok(rows)
}

/// The hours, newest first, that may hold a row matching `criteria`'s rollup dimensions and
/// origin, each narrowed to the first and last time the origin was seen in it; `None` when it
/// filters on neither, so any hour may.
async fn matching_hours(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    criteria: &LogCriteria,
) -> ServiceResult<Option<Vec<MatchingHour>>> {
    let upper = match (criteria.to, criteria.before) {
        (Some(to), Some((at, _))) => Some(to.min(at + Duration::microseconds(1))),
        (to, before) => to.or(before.map(|(at, _)| at + Duration::microseconds(1))),
    };
    let mut hours = None;
    if criteria.outcome.is_some() || criteria.platform.is_some() || criteria.reason.is_some() || criteria.kid.is_some()
    {
        let found: Vec<DateTime<Utc>> = crate::db::query_scalar(
            "SELECT DISTINCT bucket FROM log_rollup_hour
              WHERE workspace_id = $1 AND bucket >= date_trunc('hour', $2) AND ($3::timestamptz IS NULL OR bucket < $3)
                AND ($4::text IS NULL OR outcome = $4) AND ($5::text IS NULL OR platform = $5)
                AND ($6::text IS NULL OR reason = $6)
                AND ($7::text IS NULL OR kid = countersign_rollup_kid($1, $7))
              ORDER BY bucket DESC",
        )
        .bind(workspace_id)
        .bind(criteria.from)
        .bind(upper)
        .bind(criteria.outcome)
        .bind(criteria.platform)
        .bind(criteria.reason.as_deref())
        .bind(criteria.kid.as_deref())
        .fetch_all(&mut *conn)
        .await?;
        hours = Some(found.into_iter().map(MatchingHour::whole).collect());
    }
    if let Some(origin) = criteria.origin.as_deref() {
        if hours.as_ref().is_some_and(Vec::is_empty) {
            return Ok(hours);
        }
        let seen: Vec<(DateTime<Utc>, DateTime<Utc>, DateTime<Utc>)> = crate::db::query_as(
            "SELECT bucket, min(first_at), max(last_at) FROM log_origin_hour
              WHERE workspace_id = $1 AND origin = $2
                AND bucket >= date_trunc('hour', $3) AND ($4::timestamptz IS NULL OR bucket < $4)
              GROUP BY bucket ORDER BY bucket DESC",
        )
        .bind(workspace_id)
        .bind(origin)
        .bind(criteria.from)
        .bind(upper)
        .fetch_all(&mut *conn)
        .await?;
        let seen: Vec<MatchingHour> =
            seen.into_iter().map(|(hour, first, last)| MatchingHour { hour, first, last }).collect();
        hours = Some(match hours {
            Some(found) => filter::common_hours(&found, &seen),
            None => seen,
        });
    }
    Ok(hours)
}

/// Up to `limit` rows matching `criteria`, newest first, read from the log in one statement.
async fn read_rows(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    criteria: &LogCriteria,
    limit: i64,
) -> ServiceResult<Vec<LogEntry>> {
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

/// Per key, from the rollups: verified attempts in the 24 hours before `now` (minute rollup)
/// and the last verified attempt (hour rollup, kept as long as the log). The writer stores a
/// key's `last_used_at` with its first verified attempt and then at most once a minute, so a
/// newer use can only be in the hours since it, and a key without one was never used: only
/// those hours are read.
pub(crate) async fn key_usage(
    conn: &mut PgConnection,
    workspace_id: Uuid,
    now: DateTime<Utc>,
) -> ServiceResult<Vec<(String, i64, Option<DateTime<Utc>>)>> {
    Ok(crate::db::query_as(
        "SELECT k.kid, coalesce(day.attempts, 0), since.last_at
           FROM workspace_keys k
           LEFT JOIN (SELECT kid, sum(attempts)::bigint AS attempts FROM log_rollup_minute
                       WHERE workspace_id = $1 AND bucket > $2 AND outcome = 'verified' AND kid <> ''
                       GROUP BY kid) day USING (kid)
           LEFT JOIN LATERAL (SELECT max(r.last_at) AS last_at FROM log_rollup_hour r
                               WHERE r.workspace_id = $1 AND r.outcome = 'verified' AND r.kid = k.kid
                                 AND r.bucket >= date_trunc('hour', k.last_used_at)) since
             ON true
          WHERE k.workspace_id = $1",
    )
    .bind(workspace_id)
    .bind(now - Duration::hours(24))
    .fetch_all(conn)
    .await?)
}
