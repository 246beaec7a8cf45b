//! Traffic counts from the log rollups (`migrations/*_log_rollups.sql`, read through the views of
//! `*_rollups_off_the_commit_path.sql`), never from the log itself: a day of a busy workspace is
//! a few hundred rollup rows, not millions of log rows.

use chrono::{DateTime, Duration, DurationRound, Utc};
use countersign_core::policy::Action;
use countersign_proto::{AttributeStats, AttributeUsage, Stats, StatsItem};
use serde::Deserialize;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Service};

/// Bits of the distinct-user sketch of an hourly rollup row.
const SKETCH_BITS: f64 = 4096.0;
/// Most items one stats answer holds; a wider query is asked to narrow down.
const MAX_ITEMS: usize = 20_000;

/// The window of the secure-only preview: "unsigned updates in the last 7 days".
pub const ATTRIBUTE_PREVIEW_DAYS: i64 = 7;

/// Query of `GET .../stats`: RFC 3339 bounds (default: the last 24 hours) and a bucket.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StatsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    /// `minute`, `hour` (default) or `day`.
    pub bucket: Option<String>,
}

/// A bucket size, with how far back it reaches and how wide one query may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    Minute,
    Hour,
    Day,
}

impl Bucket {
    fn parse(value: Option<&str>) -> ServiceResult<Bucket> {
        match value.filter(|v| !v.is_empty()) {
            None | Some("hour") => Ok(Bucket::Hour),
            Some("minute") => Ok(Bucket::Minute),
            Some("day") => Ok(Bucket::Day),
            Some(_) => Err(ServiceError::invalid("bucket must be one of minute, hour, day.")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bucket::Minute => "minute",
            Bucket::Hour => "hour",
            Bucket::Day => "day",
        }
    }

    fn length(self) -> Duration {
        match self {
            Bucket::Minute => Duration::minutes(1),
            Bucket::Hour => Duration::hours(1),
            Bucket::Day => Duration::days(1),
        }
    }

    /// The widest range one query may ask for in this bucket.
    fn max_range(self) -> Duration {
        match self {
            Bucket::Minute => Duration::hours(48),
            Bucket::Hour => Duration::days(31),
            Bucket::Day => Duration::days(400),
        }
    }
}

/// The distinct users a linear-counting sketch with `zeros` zero bits has seen. A full sketch
/// (about 30,000 users and up) reports its saturation point: a lower bound.
pub fn estimate_users(zeros: i64) -> i64 {
    let zeros = (zeros.max(1) as f64).min(SKETCH_BITS);
    (-SKETCH_BITS * (zeros / SKETCH_BITS).ln()).round() as i64
}

/// Checked bounds of a stats query: aligned to whole buckets, `from` before `to`.
pub fn stats_range(query: &StatsQuery, now: DateTime<Utc>) -> ServiceResult<(Bucket, DateTime<Utc>, DateTime<Utc>)> {
    let bucket = Bucket::parse(query.bucket.as_deref())?;
    let parse = |value: &Option<String>, name: &str| -> ServiceResult<Option<DateTime<Utc>>> {
        value
            .as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| {
                DateTime::parse_from_rfc3339(v).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                    ServiceError::invalid(format!("{name} must be an RFC 3339 time, like 2026-01-31T12:00:00Z."))
                })
            })
            .transpose()
    };
    let to = parse(&query.to, "to")?.unwrap_or(now);
    let from = parse(&query.from, "from")?.unwrap_or(to - Duration::hours(24));
    if from >= to {
        return Err(ServiceError::invalid("from must be before to."));
    }
    if to - from > bucket.max_range() {
        return Err(ServiceError::invalid(format!(
            "A query in {} buckets covers at most {} days; narrow the range or use a larger bucket.",
            bucket.as_str(),
            bucket.max_range().num_hours() as f64 / 24.0
        )));
    }
    let align = |t: DateTime<Utc>| {
        t.duration_trunc(bucket.length()).map_err(|_| ServiceError::invalid("from and to must be real times."))
    };
    let from = align(from)?;
    let to_aligned = align(to)?;
    let to = if to_aligned < to { to_aligned + bucket.length() } else { to_aligned };
    Ok((bucket, from, to))
}

type Row = (DateTime<Utc>, String, String, String, String, i64, Option<i64>);

/// Every registered attribute of a workspace with its updates that arrived unsigned since
/// `from`, from the attribute rollup (the secure-only preview and the overview's checklist).
pub(crate) async fn attribute_usage(
    conn: &mut sqlx::PgConnection,
    workspace_id: Uuid,
    from: DateTime<Utc>,
) -> Result<Vec<AttributeUsage>, sqlx::Error> {
    let rows: Vec<(String, bool, i64)> = crate::db::query_as(
        "SELECT a.name, a.secure_only, coalesce(sum(r.unsigned_updates), 0)::bigint
           FROM attributes a
           LEFT JOIN attribute_rollup_hour r
             ON r.workspace_id = a.workspace_id AND r.name = a.name AND r.bucket >= $2
          WHERE a.workspace_id = $1
          GROUP BY a.name, a.secure_only ORDER BY a.name",
    )
    .bind(workspace_id)
    .bind(from)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, secure_only, unsigned_updates)| AttributeUsage { name, secure_only, unsigned_updates })
        .collect())
}

impl Service {
    /// Every registered attribute with its unsigned updates over the last
    /// [`ATTRIBUTE_PREVIEW_DAYS`] days (whole hours), from the attribute rollup.
    pub async fn attribute_stats(&self, actor: &Actor, workspace_id: Uuid) -> ServiceResult<AttributeStats> {
        let mut tenant = self.tenant(actor, workspace_id, Action::View).await?;
        let to = self.clock.now();
        let from = to.duration_trunc(Duration::hours(1)).unwrap_or(to) - Duration::days(ATTRIBUTE_PREVIEW_DAYS);
        let items = attribute_usage(tenant.conn(), workspace_id, from).await?;
        Ok(AttributeStats { from, to, items })
    }

    /// Attempts per bucket by platform, outcome, reason and kid, with distinct-user estimates
    /// for hour and day buckets.
    pub async fn stats(&self, actor: &Actor, workspace_id: Uuid, query: &StatsQuery) -> ServiceResult<Stats> {
        let mut tenant = self.tenant_read(actor, workspace_id, Action::View).await?;
        let (bucket, from, to) = stats_range(query, self.clock.now())?;
        let sql = match bucket {
            Bucket::Minute => {
                "SELECT bucket, platform, outcome, reason, kid, sum(attempts)::bigint, NULL::bigint
                   FROM log_rollup_minute
                  WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3
                  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 LIMIT $5"
            }
            Bucket::Hour | Bucket::Day => {
                "SELECT date_trunc($4, bucket, 'UTC'), platform, outcome, reason, kid, sum(attempts)::bigint,
                        length(replace(bit_or(users)::text, '1', ''))::bigint
                   FROM log_rollup_hour
                  WHERE workspace_id = $1 AND bucket >= $2 AND bucket < $3
                  GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 LIMIT $5"
            }
        };
        let rows: Vec<Row> = crate::db::query_as(sql)
            .bind(workspace_id)
            .bind(from)
            .bind(to)
            .bind(bucket.as_str())
            .bind(MAX_ITEMS as i64 + 1)
            .fetch_all(tenant.conn())
            .await?;
        if rows.len() > MAX_ITEMS {
            return Err(ServiceError::invalid(
                "This range holds too many combinations; narrow it or use a larger bucket.",
            ));
        }
        let none_if_empty = |s: String| Some(s).filter(|s| !s.is_empty());
        let items = rows
            .into_iter()
            .map(|(at, platform, outcome, reason, kid, attempts, zeros)| StatsItem {
                at,
                platform: none_if_empty(platform),
                outcome,
                reason: none_if_empty(reason),
                kid: none_if_empty(kid),
                attempts,
                users: zeros.map(estimate_users),
            })
            .collect();
        Ok(Stats { from, to, bucket: bucket.as_str().to_owned(), items })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn query(from: &str, to: &str, bucket: &str) -> StatsQuery {
        StatsQuery { from: Some(from.into()), to: Some(to.into()), bucket: Some(bucket.into()) }
    }

    #[test]
    fn ranges_are_aligned_to_whole_buckets() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 30, 0).unwrap();
        let (bucket, from, to) =
            stats_range(&query("2026-11-28T10:15:00Z", "2026-11-29T12:10:00Z", "hour"), now).unwrap();
        assert_eq!(bucket, Bucket::Hour);
        assert_eq!(from, Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap());
        assert_eq!(to, Utc.with_ymd_and_hms(2026, 11, 29, 13, 0, 0).unwrap());
        let (_, from, to) = stats_range(&StatsQuery::default(), now).unwrap();
        assert_eq!(to - from, Duration::hours(25), "the last 24 hours, widened to whole hours");
    }

    #[test]
    fn bad_ranges_are_refused() {
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 12, 30, 0).unwrap();
        for (q, why) in [
            (query("2026-11-29T12:00:00Z", "2026-11-29T11:00:00Z", "hour"), "from must be before to"),
            (query("2026-01-01T00:00:00Z", "2026-11-29T00:00:00Z", "hour"), "at most 31"),
            (query("2026-11-20T00:00:00Z", "2026-11-29T00:00:00Z", "minute"), "at most 2"),
            (query("yesterday", "2026-11-29T00:00:00Z", "hour"), "RFC 3339"),
            (query("2026-11-28T00:00:00Z", "2026-11-29T00:00:00Z", "week"), "bucket must be"),
            (query("0001-01-01T00:00:00Z", "9999-12-31T00:00:00Z", "day"), "at most 400"),
        ] {
            let err = stats_range(&q, now).unwrap_err();
            assert!(err.message.contains(why), "{why}: {}", err.message);
        }
    }

    #[test]
    fn user_estimates_are_close_for_small_and_bounded_for_full_sketches() {
        assert_eq!(estimate_users(4096), 0);
        assert_eq!(estimate_users(4095), 1);
        assert_eq!(estimate_users(4093), 3);
        // 1,000 users leave about 4096 * e^(-1000/4096) = 3207 zero bits.
        assert!((estimate_users(3207) - 1000).abs() <= 5);
        assert_eq!(estimate_users(0), estimate_users(1), "a full sketch is a lower bound, not infinity");
    }
}
