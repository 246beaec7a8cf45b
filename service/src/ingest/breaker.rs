//! The database circuit breaker. Once a write finds Postgres unreachable, waiting for the
//! connection pool (seconds per attempt) would only delay answers that the spool can give in
//! milliseconds: while the breaker is open, log rows go straight to the spool and identify
//! verifies from the configuration in memory. A background probe closes it when Postgres
//! answers again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::metrics::Metrics;

/// How often the probe asks Postgres whether it is back.
const PROBE_EVERY: Duration = Duration::from_millis(250);
/// How long one probe waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// Open while the database is known to be unreachable.
#[derive(Debug, Default)]
pub struct Breaker {
    open: AtomicBool,
}

impl Breaker {
    /// Whether the database is known to be unreachable.
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// Opens the breaker (a write found the database unreachable) and, if it was closed,
    /// starts the probe that closes it again.
    pub fn trip(self: &std::sync::Arc<Self>, pool: &crate::db::Db, metrics: &std::sync::Arc<Metrics>) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        tracing::warn!("database unreachable: log rows go to the spool until it answers");
        metrics.breaker_open.set(1);
        let (breaker, pool, metrics) = (self.clone(), pool.clone(), metrics.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let probe = tokio::time::timeout(PROBE_TIMEOUT, crate::db::query("SELECT 1").execute(&pool)).await;
                if matches!(probe, Ok(Ok(_))) {
                    breaker.open.store(false, Ordering::Release);
                    metrics.breaker_open.set(0);
                    tracing::info!("database answers again: log rows are committed directly");
                    return;
                }
            }
        });
    }
}
