//! The periodic alert checker: reads the minute rollups of workspaces that have an endpoint
//! subscribed, and raises revoked-key, rejection-spike and traffic-stopped alerts. Every
//! instance runs it; an alert is claimed by a conditional upsert of its throttle mark in the
//! transaction that enqueues it, so of instances checking at once exactly one raises it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use countersign_core::webhook::EventType;
use uuid::Uuid;

use super::enqueue;
use crate::error::ServiceResult;
use crate::Service;

/// How often the checker runs.
const CHECK_EVERY: Duration = Duration::from_secs(30);
/// Rejected attempts within the window that make a spike.
pub const REJECTION_SPIKE_THRESHOLD: i64 = 100;
/// The window of the spike and of revoked-key presentations, in minutes.
pub const REJECTION_SPIKE_WINDOW_MINUTES: i64 = 5;
/// A platform whose verified traffic is zero for this long, after some in the hour before,
/// has stopped.
const QUIET_MINUTES: i64 = 10;

impl Service {
    pub(super) async fn check_alerts_forever(self) {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if self.breaker.is_open() {
                continue;
            }
            if let Err(err) = self.check_alerts().await {
                tracing::warn!(error = %err, "webhook alert check failed");
            }
        }
    }

    /// Checks the rollups once and raises due alerts; how many were raised.
    pub async fn check_alerts(&self) -> ServiceResult<usize> {
        let now = self.clock.now();
        let window_start = now - chrono::Duration::minutes(REJECTION_SPIKE_WINDOW_MINUTES);
        let mut raised = 0;

        let revoked: Vec<(Uuid, String, i64)> = crate::db::query_as(
            "SELECT r.workspace_id, r.kid, sum(r.attempts)::bigint
               FROM log_rollup_minute r
              WHERE r.bucket >= date_trunc('minute', $1::timestamptz) AND r.reason = 'revoked_key' AND r.kid <> ''
                AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.workspace_id = r.workspace_id AND e.enabled AND $2 = ANY (e.events))
              GROUP BY 1, 2",
        )
        .bind(window_start)
        .bind(EventType::RevokedKeyPresented.as_str())
        .fetch_all(&self.webhook_pool)
        .await?;
        for (workspace_id, kid, attempts) in revoked {
            let data = serde_json::json!({ "kid": kid, "attempts": attempts, "window_minutes": REJECTION_SPIKE_WINDOW_MINUTES });
            raised += self
                .raise(workspace_id, &format!("revoked_key:{kid}"), 1, EventType::RevokedKeyPresented, now, data)
                .await? as usize;
        }

        let spikes: Vec<(Uuid, i64)> = crate::db::query_as(
            "SELECT r.workspace_id, sum(r.attempts)::bigint
               FROM log_rollup_minute r
              WHERE r.bucket >= date_trunc('minute', $1::timestamptz) AND r.outcome = 'rejected'
                AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.workspace_id = r.workspace_id AND e.enabled AND $2 = ANY (e.events))
              GROUP BY 1
             HAVING sum(r.attempts) >= $3",
        )
        .bind(window_start)
        .bind(EventType::RejectionSpike.as_str())
        .bind(REJECTION_SPIKE_THRESHOLD)
        .fetch_all(&self.webhook_pool)
        .await?;
        for (workspace_id, rejected) in spikes {
            let data = serde_json::json!({
                "rejected": rejected,
                "window_minutes": REJECTION_SPIKE_WINDOW_MINUTES,
                "threshold": REJECTION_SPIKE_THRESHOLD,
            });
            raised +=
                self.raise(workspace_id, "rejection_spike", 1, EventType::RejectionSpike, now, data).await? as usize;
        }

        let quiet_since = now - chrono::Duration::minutes(QUIET_MINUTES);
        let stopped: Vec<(Uuid, String, i64)> = crate::db::query_as(
            "SELECT r.workspace_id, r.platform, sum(r.attempts)::bigint
               FROM log_rollup_minute r
              WHERE r.bucket >= date_trunc('minute', $1::timestamptz) - interval '60 minutes' AND r.outcome = 'verified' AND r.platform <> ''
                AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.workspace_id = r.workspace_id AND e.enabled AND $2 = ANY (e.events))
              GROUP BY 1, 2
             HAVING coalesce(sum(r.attempts) FILTER (WHERE r.bucket >= date_trunc('minute', $1::timestamptz)), 0) = 0",
        )
        .bind(quiet_since)
        .bind(EventType::TrafficStopped.as_str())
        .fetch_all(&self.webhook_pool)
        .await?;
        for (workspace_id, platform, previous_hour) in stopped {
            let data = serde_json::json!({ "platform": platform, "verified_previous_hour": previous_hour, "quiet_minutes": QUIET_MINUTES });
            // The condition lasts about an hour after traffic stops: one alert covers it.
            raised += self
                .raise(workspace_id, &format!("traffic_stopped:{platform}"), 2, EventType::TrafficStopped, now, data)
                .await? as usize;
        }
        Ok(raised)
    }

    /// Raises one alert unless it was raised within `throttle_hours`: claims the throttle mark
    /// and enqueues the event in one transaction; whether this call raised it.
    async fn raise(
        &self,
        workspace_id: Uuid,
        alert: &str,
        throttle_hours: i64,
        event: EventType,
        now: DateTime<Utc>,
        data: serde_json::Value,
    ) -> ServiceResult<bool> {
        let mut tx = self.webhook_pool.begin().await?;
        let claimed: Option<i32> = crate::db::query_scalar(
            "INSERT INTO webhook_alerts AS a (workspace_id, alert, last_sent_at) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id, alert) DO UPDATE SET last_sent_at = EXCLUDED.last_sent_at
              WHERE a.last_sent_at <= EXCLUDED.last_sent_at - make_interval(hours => $4)
             RETURNING 1",
        )
        .bind(workspace_id)
        .bind(alert)
        .bind(now)
        .bind(throttle_hours as i32)
        .fetch_optional(&mut *tx)
        .await?;
        if claimed.is_none() {
            return Ok(false);
        }
        enqueue(&mut tx, workspace_id, event, now, data).await?;
        tx.commit().await?;
        Ok(true)
    }
}
