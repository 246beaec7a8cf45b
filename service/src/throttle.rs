//! Throttling of password guesses (sign-in, and the current password of a password change).
//!
//! Each attempt is recorded *before* the password is checked, and the decision counts the
//! attempt itself: concurrent guesses cannot all pass a check made before any of them was
//! written. A correct password deletes its row; a refused attempt is not kept either, so a
//! client hammering one account records only a handful of rows.
//!
//! Limits are per (email, IP) pair, per email and per IP, in a sliding window. The pair limit
//! is small and the IP limit high, so failures from one address lock that address out of the
//! accounts it guessed at, not everyone behind it (an office, a proxy, a CI runner).

use chrono::{DateTime, Duration, Utc};

use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::Service;

/// Failed attempts for one email from one IP within the window before the pair is throttled.
pub const MAX_FAILURES_PER_PAIR: i64 = 5;
/// Failed attempts for one email, from any IP, within the window.
pub const MAX_FAILURES_PER_EMAIL: i64 = 20;
/// Failed attempts from one IP, for any email, within the window.
pub const MAX_FAILURES_PER_IP: i64 = 100;
/// The sliding window of login throttling.
pub const THROTTLE_WINDOW_MINUTES: i64 = 15;

/// Recent failures for the (email, IP) pair, the email and the IP, and the first of each.
type FailureCounts = (i64, i64, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// A recorded attempt: counts as a failure until [`Service::attempt_succeeded`] removes it.
#[derive(Debug)]
#[must_use]
pub struct Attempt(i64);

impl Service {
    /// Records a password attempt for `email` from `ip`, then refuses it with `rate_limited`
    /// (and forgets it) if, counting it, a limit is exceeded.
    pub async fn begin_attempt(&self, email: &str, ip: &str) -> ServiceResult<Attempt> {
        let now = self.clock.now();
        let id: i64 =
            crate::db::query_scalar("INSERT INTO login_failures (at, email, ip) VALUES ($1, $2, $3) RETURNING id")
                .bind(now)
                .bind(email)
                .bind(ip)
                .fetch_one(&self.pool)
                .await?;
        let since = now - Duration::minutes(THROTTLE_WINDOW_MINUTES);
        let counts: FailureCounts = crate::db::query_as(
            "SELECT count(*) FILTER (WHERE email = $1 AND ip = $2),
                    count(*) FILTER (WHERE email = $1),
                    count(*) FILTER (WHERE ip = $2),
                    min(at) FILTER (WHERE email = $1 AND ip = $2),
                    min(at) FILTER (WHERE email = $1),
                    min(at) FILTER (WHERE ip = $2)
               FROM login_failures
              WHERE at > $3 AND (email = $1 OR ip = $2)",
        )
        .bind(email)
        .bind(ip)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        let (pair, by_email, by_ip, pair_oldest, email_oldest, ip_oldest) = counts;
        let oldest = if pair > MAX_FAILURES_PER_PAIR {
            pair_oldest
        } else if by_email > MAX_FAILURES_PER_EMAIL {
            email_oldest
        } else if by_ip > MAX_FAILURES_PER_IP {
            ip_oldest
        } else {
            return Ok(Attempt(id));
        };
        self.forget_attempt(id).await?;
        let reopens = oldest.unwrap_or(now) + Duration::minutes(THROTTLE_WINDOW_MINUTES);
        let wait = (reopens - now).num_seconds().max(1) as u64;
        let mut err = ServiceError::new(
            ErrorCode::RateLimited,
            format!("Too many failed sign-in attempts. Try again in {} minutes.", wait.div_ceil(60)),
        );
        err.retry_after = Some(wait);
        Err(err)
    }

    /// The password was right: the attempt no longer counts as a failure.
    pub async fn attempt_succeeded(&self, attempt: Attempt) -> ServiceResult<()> {
        self.forget_attempt(attempt.0).await
    }

    async fn forget_attempt(&self, id: i64) -> ServiceResult<()> {
        crate::db::query("DELETE FROM login_failures WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }
}
