//! Daily partitions of the verification log: created ahead of time, dropped after retention;
//! the log's rollups are trimmed alike.

use chrono::{Duration, NaiveDate};

use crate::error::ServiceResult;
use crate::Service;

/// Partitions are created this many days ahead.
const DAYS_AHEAD: i64 = 3;
/// Minute rollups are kept this long (stats in minute buckets reach back 48 hours).
const MINUTE_ROLLUP_HOURS: i64 = 49;

fn partition_name(day: NaiveDate) -> String {
    format!("verification_log_p{}", day.format("%Y%m%d"))
}

impl Service {
    /// Creates the coming days' partitions, drops those older than `retention_days`, and trims
    /// the rollups.
    /// Idempotent; run at start-up and hourly.
    pub async fn maintain_log_partitions(&self, retention_days: i64) -> ServiceResult<()> {
        let today = self.clock.now().date_naive();
        for offset in 0..=DAYS_AHEAD {
            let day = today + Duration::days(offset);
            let next = day + Duration::days(1);
            // Names and bounds come from dates we format ourselves, never from input.
            let ddl = format!(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF verification_log FOR VALUES FROM ('{day}') TO ('{next}')",
                partition_name(day)
            );
            if let Err(err) = crate::db::query(&ddl).execute(&self.pool).await {
                tracing::warn!(error = %err, day = %day, "cannot create a verification log partition; rows go to the default partition");
            }
        }
        let cutoff = partition_name(today - Duration::days(retention_days));
        let old: Vec<String> = crate::db::query_scalar(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'verification_log'::regclass AND c.relname ~ '^verification_log_p[0-9]{8}$' AND c.relname < $1",
        )
        .bind(&cutoff)
        .fetch_all(&self.pool)
        .await?;
        for name in old {
            crate::db::query(&format!("DROP TABLE IF EXISTS {name}")).execute(&self.pool).await?;
            tracing::info!(partition = %name, "dropped a verification log partition past retention");
        }
        // Minute rollups serve the last day's charts; hourly ones live as long as the log.
        let now = self.clock.now();
        crate::db::query("DELETE FROM log_rollup_minute_merged WHERE bucket < $1")
            .bind(now - Duration::hours(MINUTE_ROLLUP_HOURS))
            .execute(&self.pool)
            .await?;
        crate::db::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
            .bind(now - Duration::days(retention_days))
            .execute(&self.pool)
            .await?;
        for table in ["log_rollup_hour_merged", "attribute_rollup_hour"] {
            crate::db::query(&format!("DELETE FROM {table} WHERE bucket < $1"))
                .bind(now - Duration::days(retention_days + 1))
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
