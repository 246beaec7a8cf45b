//! The one place the application reads the time. Tests use a manual clock to move through
//! grace periods and session expiry without sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

/// Wall clock, or a manual clock for tests.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Microseconds added to the system time; only a manual clock changes it.
    offset_us: Arc<AtomicI64>,
}

impl Clock {
    /// The system's clock.
    pub fn system() -> Self {
        Clock { offset_us: Arc::new(AtomicI64::new(0)) }
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::microseconds(self.offset_us.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward: for tests of expiry.
    pub fn advance(&self, by: Duration) {
        let us = by.num_microseconds().unwrap_or(i64::MAX);
        self.offset_us.fetch_add(us, Ordering::Relaxed);
    }
}
