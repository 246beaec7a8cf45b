//! Per-workspace rate limits of the data plane (PRODUCT.md: `429 rate_limited` with
//! `Retry-After`; identify is never limited below 1,000 requests/s per workspace). A generic
//! cell rate algorithm on one atomic: no lock and no map on the identify path, since each
//! workspace's limiter lives in its configuration snapshot.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Requests per second a workspace may send, with a burst of one second's worth.
#[derive(Debug)]
pub struct RateLimit {
    /// Nanoseconds of budget one request uses.
    interval: u64,
    /// How far ahead of now the budget may be spent (the burst).
    burst: u64,
    /// When the budget spent so far is paid back, in nanoseconds since `epoch`.
    paid_until: AtomicU64,
    epoch: Instant,
}

impl RateLimit {
    /// A limit of `per_second` requests per second (at least 1), bursting to one second's worth.
    pub fn per_second(per_second: u32) -> RateLimit {
        let interval = 1_000_000_000 / u64::from(per_second.max(1));
        RateLimit { interval, burst: 1_000_000_000, paid_until: AtomicU64::new(0), epoch: Instant::now() }
    }

    /// Takes one request's budget, or says how long until one is free.
    pub fn check(&self) -> Result<(), Duration> {
        let now = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let mut paid_until = self.paid_until.load(Ordering::Relaxed);
        loop {
            let next = paid_until.max(now).saturating_add(self.interval);
            if next > now.saturating_add(self.burst) {
                return Err(Duration::from_nanos(next - now - self.burst));
            }
            match self.paid_until.compare_exchange_weak(paid_until, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return Ok(()),
                Err(actual) => paid_until = actual,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of one second's worth passes, the next request waits about one interval.
    #[test]
    fn burst_then_refused() {
        let limit = RateLimit::per_second(100);
        for i in 0..100 {
            assert!(limit.check().is_ok(), "request {i} of the burst");
        }
        let wait = limit.check().err();
        assert!(wait.is_some_and(|w| w <= Duration::from_millis(10)), "{wait:?}");
    }
}
