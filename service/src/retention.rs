//! Daily partitions of the verification log: created ahead of time, dropped after retention;
//! the log's rollups are trimmed alike, and so are the records anyone can add without an
//! account (failed sign-ins) and sessions past their expiry.

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
    /// Creates the coming days' partitions, drops those older than `retention_days`, trims the
    /// rollups, and deletes failed sign-ins older than the throttle's window and expired
    /// sessions (an unauthenticated guess adds a row; it must not stay forever).
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
        for table in ["log_rollup_hour_merged", "attribute_rollup_hour", "log_origin_hour_merged"] {
            crate::db::query(&format!("DELETE FROM {table} WHERE bucket < $1"))
                .bind(now - Duration::days(retention_days + 1))
                .execute(&self.pool)
                .await?;
        }
        crate::db::query("DELETE FROM login_failures WHERE at < $1")
            .bind(now - Duration::minutes(crate::throttle::THROTTLE_WINDOW_MINUTES))
            .execute(&self.pool)
            .await?;
        crate::db::query("DELETE FROM sessions WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use sqlx::PgPool;

    use crate::crypto::{Keyring, MasterKey};
    use crate::{Clock, RequestMeta, Service, Settings};

    fn service(pool: &PgPool) -> Service {
        let settings = Settings {
            spool_dir: std::env::temp_dir().join(format!("countersign-spool-{}", uuid::Uuid::new_v4())),
            ..Settings::default()
        };
        Service::new(pool.clone(), Clock::system(), settings, Keyring::single(MasterKey::new([7; 32]))).unwrap()
    }

    /// Failed sign-ins leave with the throttle's window and sessions with their expiry; the
    /// recent ones, and live sessions, stay.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn old_sign_in_records_are_deleted(pool: PgPool) {
        let svc = service(&pool);
        let live =
            svc.signup("ada@example.com", "correct-horse-battery", "Acme", &RequestMeta::default()).await.unwrap();
        for fixture in [
            "INSERT INTO login_failures (at, email, ip) VALUES (now() - interval '16 minutes', 'old@example.com', '192.0.2.1'),
                                                             (now() - interval '1 minute', 'new@example.com', '192.0.2.1')",
            "INSERT INTO sessions (id_hash, account_id, created_at, last_seen_at, expires_at)
             SELECT '\\x01', account_id, now() - interval '40 days', now() - interval '31 days', now() - interval '1 day'
               FROM sessions LIMIT 1",
        ] {
            crate::db::query(fixture).execute(&pool).await.unwrap();
        }
        svc.maintain_log_partitions(30).await.unwrap();
        let failures: Vec<String> =
            crate::db::query_scalar("SELECT email FROM login_failures").fetch_all(&pool).await.unwrap();
        assert_eq!(failures, ["new@example.com"]);
        let sessions: i64 = crate::db::query_scalar("SELECT count(*) FROM sessions").fetch_one(&pool).await.unwrap();
        assert_eq!(sessions, 1, "only the live session of {} is left", live.account.email);
    }

    /// Hourly rollups, unsigned-attribute counts and origin hours older than the log's retention
    /// are trimmed; recent ones stay.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn hourly_records_past_retention_are_trimmed(pool: PgPool) {
        let svc = service(&pool);
        let workspace_id = crate::ingest::test_workspace(&pool, "app_retention").await;
        for age in ["40 days", "1 hour"] {
            for fixture in [
                "INSERT INTO log_rollup_hour_merged (workspace_id, bucket, platform, outcome, reason, kid, attempts, first_at, last_at)
                 SELECT $1, date_trunc('hour', now() - $2::interval), 'web', 'verified', '', '', 1, now(), now()",
                "INSERT INTO attribute_rollup_hour (workspace_id, bucket, name, unsigned_updates)
                 SELECT $1, date_trunc('hour', now() - $2::interval), 'plan', 1",
                "INSERT INTO log_origin_hour_merged (workspace_id, origin, bucket)
                 SELECT $1, 'https://a.example', date_trunc('hour', now() - $2::interval)",
            ] {
                crate::db::query(fixture).bind(workspace_id).bind(age).execute(&pool).await.unwrap();
            }
        }
        svc.maintain_log_partitions(30).await.unwrap();
        for table in ["log_rollup_hour_merged", "attribute_rollup_hour", "log_origin_hour_merged"] {
            let old: (i64, i64) = crate::db::query_as(&format!(
                "SELECT count(*) FILTER (WHERE bucket < now() - interval '31 days'), count(*) FROM {table}"
            ))
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(old, (0, 1), "{table}: the recent row stays, the old one is gone");
        }
    }
}
