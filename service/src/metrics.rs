//! Prometheus metrics. Labels are workspace-agnostic (outcome, reason, platform), so their
//! number stays bounded whatever the number of tenants.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The service's metrics and their registry.
pub struct Metrics {
    registry: Registry,
    /// Identify attempts by outcome, reason and platform.
    pub identify: IntCounterVec,
    /// Identify latency, from request to acknowledged log row.
    pub identify_seconds: Histogram,
    /// Attempts per group-commit transaction.
    pub batch_size: Histogram,
    /// Attempts waiting in the local spool for Postgres.
    pub spooled: IntGauge,
    /// Log rows Postgres refused one by one, moved to the dead-letter file.
    pub dead_letters: IntCounter,
    /// 1 while the database circuit breaker is open (rows go straight to the spool).
    pub breaker_open: IntGauge,
    /// How configuration changes reach this instance: `mode="listen"` (NOTIFY) or
    /// `mode="poll"` (the per-workspace version, every half second); the active one is 1.
    pub config_changes: IntGaugeVec,
    /// Polls of the configuration versions (while LISTEN is unavailable, and once per
    /// (re)connection).
    pub config_polls: IntCounter,
    /// HTTP connections open now (the listener serves at most `COUNTERSIGN_MAX_CONNECTIONS`).
    pub http_connections: IntGauge,
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Result<Metrics, prometheus::Error> {
        let registry = Registry::new();
        let identify = IntCounterVec::new(
            Opts::new("countersign_identify_total", "Identify attempts by outcome, reason and platform."),
            &["outcome", "reason", "platform"],
        )?;
        let identify_seconds = Histogram::with_opts(
            HistogramOpts::new("countersign_identify_seconds", "Identify latency including the committed log row.")
                .buckets(vec![0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0]),
        )?;
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("countersign_log_batch_size", "Attempts committed per transaction.")
                .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0]),
        )?;
        let spooled = IntGauge::new("countersign_log_spooled", "Attempts in the local spool awaiting Postgres.")?;
        let dead_letters = IntCounter::new(
            "countersign_log_dead_letters_total",
            "Log rows Postgres refused on their own, quarantined to the dead-letter file.",
        )?;
        let breaker_open = IntGauge::new(
            "countersign_database_breaker_open",
            "1 while the database is known to be unreachable and log rows go straight to the spool.",
        )?;
        let config_changes = IntGaugeVec::new(
            Opts::new(
                "countersign_config_changes_mode",
                "How configuration changes reach this instance: 1 on the active mode, listen (NOTIFY) or poll.",
            ),
            &["mode"],
        )?;
        let config_polls = IntCounter::new(
            "countersign_config_polls_total",
            "Polls of the per-workspace configuration versions: every 400 ms while LISTEN is unavailable, and once on each (re)connection.",
        )?;
        let http_connections = IntGauge::new(
            "countersign_http_connections_open",
            "HTTP connections open now (at most COUNTERSIGN_MAX_CONNECTIONS).",
        )?;
        registry.register(Box::new(http_connections.clone()))?;
        registry.register(Box::new(config_changes.clone()))?;
        registry.register(Box::new(config_polls.clone()))?;
        registry.register(Box::new(dead_letters.clone()))?;
        registry.register(Box::new(breaker_open.clone()))?;
        registry.register(Box::new(identify.clone()))?;
        registry.register(Box::new(identify_seconds.clone()))?;
        registry.register(Box::new(batch_size.clone()))?;
        registry.register(Box::new(spooled.clone()))?;
        Ok(Metrics {
            registry,
            identify,
            identify_seconds,
            batch_size,
            spooled,
            dead_letters,
            breaker_open,
            config_changes,
            config_polls,
            http_connections,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        TextEncoder::new().encode_to_string(&self.registry.gather()).unwrap_or_default()
    }
}
