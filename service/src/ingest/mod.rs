//! Lossless, batched writing of verification log rows and contact upserts ("group commit").
//!
//! Each identify attempt submits one [`Attempt`] and waits for its acknowledgement. A single
//! collector gathers waiting attempts into batches and commits each batch as one statement.
//! While a batch commits, the next one grows, so throughput grows with load instead of
//! costing a round trip per request. When Postgres fails, the batch is appended to a local
//! spool file and fsynced before it is acknowledged; a replayer moves the spool into Postgres
//! when it is back. An acknowledged attempt is therefore always durable: committed, or on disk
//! to be replayed.

mod batch;
mod breaker;
mod merge;
mod recent;
mod rollup;
mod spool;
mod storable;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use uuid::Uuid;

use self::batch::{write_batch, write_split, Batch, Fate, Ids};
pub use self::breaker::Breaker;
use self::recent::{ContactWrites, KeyUse};
pub use self::spool::parse_spool_line;
use self::spool::{replay_loop, Spool};
pub use self::storable::storable_platform;
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::metrics::Metrics;
use countersign_proto::LogEntry;

/// Most attempts committed in one statement.
pub const MAX_BATCH: usize = 1024;
/// Batches committing at once. The second overlaps its statement with the first's WAL flush.
const MAX_IN_FLIGHT: usize = 2;
/// Attempts that must be waiting before a second batch starts beside a committing one. A
/// second statement mostly splits work the database does serially anyway, and each batch
/// costs fixed work (planning, executor set-up, a WAL flush): overlap pays only for a large
/// backlog (bench/README.md: 48 beat 32 in each of four rounds at 64 connections).
const MIN_OVERLAP_BATCH: usize = 48;
/// Attempts that may wait for the collector before submitters are slowed down.
const QUEUE: usize = 32 * 1024;
/// Instances pick their rollup shards among this many ranges at random; two instances sharing
/// one only wait on each other's row locks now and then, which costs time, never counts.
const SHARD_SPACE: i16 = 8_000;

/// One identify attempt to record: its log row (exactly what the logs API reads back), and
/// the contact it touches if the identity was accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub workspace_id: Uuid,
    pub log: LogEntry,
    pub contact: Option<ContactUpdate>,
    /// Accepted attributes that arrived unsigned, counted per hour for the secure-only preview
    /// (absent from lines spooled before it existed).
    #[serde(default)]
    pub unsigned_attributes: Vec<String>,
}

/// What an accepted attempt writes to its contact.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactUpdate {
    pub user_id: String,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub verified: bool,
    pub platform: String,
}

struct Job {
    attempt: Attempt,
    done: oneshot::Sender<bool>,
}

/// The ingest pipeline: a queue, the collector, and the spool.
pub struct Ingest {
    queue: mpsc::Sender<Job>,
    spool: Arc<Spool>,
}

impl Ingest {
    /// Starts the collector and the spool replayer (needs a Tokio runtime). `breaker` is open
    /// while the database is known to be unreachable.
    pub fn start(pool: crate::db::Db, spool_dir: PathBuf, metrics: Arc<Metrics>, breaker: Arc<Breaker>) -> Ingest {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let spool = Arc::new(Spool::new(spool_dir, metrics.clone()));
        let writer = Arc::new(Writer {
            pool: pool.clone(),
            spool: spool.clone(),
            metrics: metrics.clone(),
            breaker: breaker.clone(),
            key_use: KeyUse::default(),
            contacts: ContactWrites::default(),
        });
        // Rollup shards of this instance: one per batch in flight, one for the spool replay, one
        // for the rollup merger.
        let base = i16::from_le_bytes(crate::random::bytes::<2>()).rem_euclid(SHARD_SPACE) * (MAX_IN_FLIGHT as i16 + 2);
        tokio::spawn(collect(receiver, writer, base));
        tokio::spawn(merge::merge_loop(pool.clone(), breaker.clone(), base + MAX_IN_FLIGHT as i16 + 1));
        tokio::spawn(replay_loop(pool, spool.clone(), metrics, breaker, base + MAX_IN_FLIGHT as i16));
        Ingest { queue, spool }
    }

    /// Records an attempt; returns once it is committed or spooled. `unavailable` when
    /// neither Postgres nor the spool could take it. Every string is made storable first.
    pub async fn record(&self, attempt: Attempt) -> ServiceResult<()> {
        let (done, acked) = oneshot::channel();
        let unavailable =
            || ServiceError::new(ErrorCode::Unavailable, "The verification log cannot be written; try again shortly.");
        let attempt = attempt.into_storable();
        self.queue.send(Job { attempt, done }).await.map_err(|_| unavailable())?;
        match acked.await {
            Ok(true) => Ok(()),
            _ => Err(unavailable()),
        }
    }

    /// Attempts waiting in the spool for Postgres (0 when healthy).
    pub async fn spooled(&self) -> usize {
        self.spool.len().await
    }
}

/// Gathers jobs into batches: a batch starts at once when nothing is committing, and beside
/// a committing batch only once [`MIN_OVERLAP_BATCH`] attempts wait. Each batch in flight
/// writes its rollups under a shard of its own (`base` + its slot).
async fn collect(mut receiver: mpsc::Receiver<Job>, writer: Arc<Writer>, base: i16) {
    let mut waiting: Vec<Job> = Vec::new();
    let mut committing = JoinSet::new();
    let mut free_slots: Vec<i16> = (0..MAX_IN_FLIGHT as i16).rev().collect();
    let mut open = true;
    loop {
        while waiting.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => waiting.push(job),
                Err(_) => break,
            }
        }
        let start = !waiting.is_empty()
            && (committing.is_empty() || (committing.len() < MAX_IN_FLIGHT && waiting.len() >= MIN_OVERLAP_BATCH));
        // A slot is always free when `start` holds: fewer than MAX_IN_FLIGHT are committing.
        if let Some(slot) = start.then(|| free_slots.pop()).flatten() {
            let jobs = std::mem::take(&mut waiting);
            let writer = writer.clone();
            committing.spawn(async move {
                writer.commit(jobs, base + slot).await;
                slot
            });
            continue;
        }
        if !open && waiting.is_empty() && committing.is_empty() {
            return;
        }
        tokio::select! {
            Some(done) = committing.join_next(), if !committing.is_empty() => {
                // A writer that panicked has lost its slot number; the set's size still bounds
                // the batches in flight, so give back the first slot no running batch uses.
                let slot = done.unwrap_or_else(|_| (0..MAX_IN_FLIGHT as i16).find(|s| !free_slots.contains(s)).unwrap_or(0));
                free_slots.push(slot);
            }
            job = receiver.recv(), if open && waiting.len() < MAX_BATCH => match job {
                Some(job) => waiting.push(job),
                None => open = false,
            },
        }
    }
}

/// Commits batches: to Postgres, else to the spool.
struct Writer {
    pool: crate::db::Db,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    breaker: Arc<Breaker>,
    key_use: KeyUse,
    contacts: ContactWrites,
}

impl Writer {
    async fn commit(self: Arc<Self>, jobs: Vec<Job>, shard: i16) {
        self.metrics.batch_size.observe(jobs.len() as f64);
        let (attempts, acks): (Vec<Attempt>, Vec<oneshot::Sender<bool>>) =
            jobs.into_iter().map(|j| (j.attempt, j.done)).unzip();
        let used_keys = self.key_use.due(&attempts);
        let durable = if self.breaker.is_open() {
            // The database is known to be down: spool at once instead of waiting for the pool.
            let spooled = self.spool_or_refuse(&attempts).await;
            vec![spooled; attempts.len()]
        } else {
            let batch = Batch::new(&attempts, |row| self.contacts.due(row), used_keys.clone());
            match write_batch(&self.pool, &batch, Ids::New, shard).await {
                Ok(()) => vec![true; attempts.len()],
                Err(err) => {
                    self.contacts.forget(batch.contacts());
                    self.after_failure(&attempts, err, used_keys, shard).await
                }
            }
        };
        for (ack, durable) in acks.into_iter().zip(durable) {
            let _ = ack.send(durable);
        }
    }

    /// A batch Postgres did not take: spooled whole when the database is unreachable; split and
    /// retried when Postgres refused its rows, so one bad row never takes others with it.
    async fn after_failure(
        &self,
        attempts: &[Attempt],
        err: sqlx::Error,
        used_keys: Vec<(String, DateTime<Utc>)>,
        shard: i16,
    ) -> Vec<bool> {
        if !is_outage(&err) {
            tracing::warn!(error = %err, rows = attempts.len(), "database refused a batch; splitting it");
            let fates = write_split(&self.pool, attempts, &used_keys, shard).await;
            let mut durable = vec![true; attempts.len()];
            let mut unreachable = Vec::new();
            for (i, fate) in fates.iter().enumerate() {
                match fate {
                    Fate::Stored => {}
                    // Quarantined for an operator, and not acknowledged: its log_id could never
                    // be read back.
                    Fate::Refused => {
                        durable[i] = false;
                        self.quarantine(&attempts[i..=i]).await;
                    }
                    Fate::Unreachable => unreachable.push(i),
                }
            }
            if !unreachable.is_empty() {
                self.breaker.trip(&self.pool, &self.metrics);
                let rows: Vec<Attempt> = unreachable.iter().map(|&i| attempts[i].clone()).collect();
                let spooled = self.spool_or_refuse(&rows).await;
                unreachable.iter().for_each(|&i| durable[i] = spooled);
            }
            return durable;
        }
        tracing::warn!(error = %err, rows = attempts.len(), "database unreachable; spooling");
        self.breaker.trip(&self.pool, &self.metrics);
        let spooled = self.spool_or_refuse(attempts).await;
        vec![spooled; attempts.len()]
    }

    async fn quarantine(&self, attempts: &[Attempt]) {
        if let Err(err) = self.spool.quarantine(attempts).await {
            tracing::error!(error = %err, "cannot write the dead-letter file");
        }
    }

    /// Appends to the spool; whether the attempts are durable there.
    async fn spool_or_refuse(&self, attempts: &[Attempt]) -> bool {
        match self.spool.append(attempts).await {
            Ok(()) => true,
            Err(err) => {
                tracing::error!(error = %err, "spool write failed: attempts refused");
                false
            }
        }
    }
}

/// Whether `err` may be the database being unreachable, rather than Postgres refusing the
/// rows themselves. Only data errors (a value Postgres cannot store, a constraint, a size
/// limit) are refusals; anything else is treated as an outage, whose rows wait in the spool.
pub(crate) fn is_outage(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            let class = db.code().map(|c| c.chars().take(2).collect::<String>()).unwrap_or_default();
            !matches!(class.as_str(), "22" | "23" | "54")
        }
        sqlx::Error::Encode(_) => false,
        _ => true,
    }
}

/// A verified attempt of `user_id` in `workspace_id`, for the ingest tests.
#[cfg(test)]
pub(crate) fn test_attempt(workspace_id: Uuid, user_id: &str) -> Attempt {
    let log = LogEntry {
        id: Uuid::now_v7(),
        at: Utc::now(),
        outcome: "verified".into(),
        reason: None,
        explanation: "The token is valid.".into(),
        platform: Some("web".into()),
        kid: None,
        alg: Some("HS256".into()),
        user_id: Some(user_id.into()),
        attributes_accepted: serde_json::json!({}),
        attributes_rejected: serde_json::json!([]),
        details: serde_json::json!({}),
        origin: None,
        ip: None,
        user_agent: None,
        latency_us: 1,
    };
    Attempt { workspace_id, log, contact: None, unsigned_attributes: Vec::new() }
}

/// A workspace row for the ingest tests' log rows to belong to.
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) async fn test_workspace(pool: &sqlx::PgPool, app_id: &str) -> Uuid {
    let id = Uuid::now_v7();
    crate::db::query("INSERT INTO workspaces (id, app_id, name, created_at) VALUES ($1, $2, 'w', now())")
        .bind(id)
        .bind(app_id)
        .execute(pool)
        .await
        .expect("test workspace");
    id
}

/// The attempts counted by the minute and the hour rollup views, for the ingest tests.
#[cfg(test)]
#[allow(clippy::expect_used)]
pub(crate) async fn rolled_up(pool: &sqlx::PgPool) -> (i64, i64) {
    crate::db::query_as(
        "SELECT (SELECT coalesce(sum(attempts), 0)::bigint FROM log_rollup_minute),
                (SELECT coalesce(sum(attempts), 0)::bigint FROM log_rollup_hour)",
    )
    .fetch_one(pool)
    .await
    .expect("rollup counts")
}
