//! Lossless, batched writing of verification log rows and contact upserts ("group commit").
//!
//! Each identify attempt submits one [`Attempt`] and waits for its acknowledgement. Writer
//! tasks take whatever attempts are waiting (up to [`MAX_BATCH`]) and commit them in one
//! transaction, so throughput grows with load instead of costing a round trip per request.
//! When Postgres fails, the batch is appended to a local spool file and fsynced before it is
//! acknowledged; a replayer moves the spool into Postgres when it is back. An acknowledged
//! attempt is therefore always durable: committed, or on disk to be replayed.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::metrics::Metrics;
use countersign_proto::LogEntry;

/// Most attempts committed in one transaction.
pub const MAX_BATCH: usize = 1024;
/// Writer tasks: one collects the next batch while the other commits. More writers only
/// split the waiting attempts into smaller transactions.
const WRITERS: usize = 2;
/// Attempts that may wait for a writer before submitters are slowed down.
const QUEUE: usize = 32 * 1024;

/// One identify attempt to record: its log row (exactly what the logs API reads back), and
/// the contact it touches if the identity was accepted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attempt {
    pub workspace_id: Uuid,
    pub log: LogEntry,
    pub contact: Option<ContactUpdate>,
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

/// The ingest pipeline: a queue, writer tasks, and the spool.
pub struct Ingest {
    queue: mpsc::Sender<Job>,
    spool: Arc<Spool>,
}

impl Ingest {
    /// Starts the writers and the spool replayer (needs a Tokio runtime).
    pub fn start(pool: PgPool, spool_dir: PathBuf, metrics: Arc<Metrics>) -> Ingest {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let receiver = Arc::new(Mutex::new(receiver));
        let spool = Arc::new(Spool { path: spool_dir.join("verification-log.jsonl"), lock: Mutex::new(()) });
        let key_use = Arc::new(KeyUse::default());
        for _ in 0..WRITERS {
            tokio::spawn(write_loop(pool.clone(), receiver.clone(), spool.clone(), metrics.clone(), key_use.clone()));
        }
        tokio::spawn(replay_loop(pool, spool.clone(), metrics));
        Ingest { queue, spool }
    }

    /// Records an attempt; returns once it is committed or spooled. `unavailable` when
    /// neither Postgres nor the spool could take it.
    pub async fn record(&self, attempt: Attempt) -> ServiceResult<()> {
        let (done, acked) = oneshot::channel();
        let unavailable = || ServiceError::new(ErrorCode::Unavailable, "The verification log cannot be written; try again shortly.");
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

/// When each key's `last_used_at` was last written: it is refreshed at most once a minute, so
/// concurrent batches do not queue on the same key row.
#[derive(Default)]
struct KeyUse(std::sync::Mutex<HashMap<String, DateTime<Utc>>>);

impl KeyUse {
    fn due(&self, attempts: &[Attempt]) -> Vec<(String, DateTime<Utc>)> {
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut due: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
        for attempt in attempts.iter().filter(|a| a.log.outcome == "verified") {
            let Some(kid) = &attempt.log.kid else { continue };
            let stale = written.get(kid).is_none_or(|last| attempt.log.at - *last > chrono::Duration::seconds(60));
            if stale {
                let at = due.entry(kid.clone()).or_insert(attempt.log.at);
                *at = (*at).max(attempt.log.at);
            }
        }
        for (kid, at) in &due {
            written.insert(kid.clone(), *at);
        }
        due.into_iter().collect()
    }
}

async fn write_loop(
    pool: PgPool,
    receiver: Arc<Mutex<mpsc::Receiver<Job>>>,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    key_use: Arc<KeyUse>,
) {
    loop {
        let mut jobs = Vec::new();
        {
            let mut receiver = receiver.lock().await;
            match receiver.recv().await {
                Some(job) => jobs.push(job),
                None => return,
            }
            while jobs.len() < MAX_BATCH {
                match receiver.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
        }
        metrics.batch_size.observe(jobs.len() as f64);
        let (attempts, acks): (Vec<Attempt>, Vec<oneshot::Sender<bool>>) = jobs.into_iter().map(|j| (j.attempt, j.done)).unzip();
        let durable = match write_batch(&pool, &attempts, &key_use.due(&attempts)).await {
            Ok(()) => true,
            Err(err) => {
                tracing::warn!(error = %err, rows = attempts.len(), "database write failed; spooling");
                match spool.append(&attempts).await {
                    Ok(()) => true,
                    Err(err) => {
                        tracing::error!(error = %err, "spool write failed: attempts refused");
                        false
                    }
                }
            }
        };
        for ack in acks {
            let _ = ack.send(durable);
        }
    }
}

/// Commits attempts in one transaction: log rows (idempotent by id) and contact upserts
/// (merged per contact and sorted, so concurrent batches lock rows in one order).
/// `used_keys` get their `last_used_at` moved forward.
pub async fn write_batch(pool: &PgPool, attempts: &[Attempt], used_keys: &[(String, DateTime<Utc>)]) -> Result<(), sqlx::Error> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let logs: Vec<&LogEntry> = attempts.iter().map(|a| &a.log).collect();
    let col = |f: &dyn Fn(&LogEntry) -> Option<String>| logs.iter().map(|l| f(l)).collect::<Vec<_>>();
    let all = |f: &dyn Fn(&LogEntry) -> String| logs.iter().map(|l| f(l)).collect::<Vec<_>>();
    let json = |f: &dyn Fn(&LogEntry) -> &serde_json::Value| logs.iter().map(|l| f(l).clone()).collect::<Vec<_>>();
    sqlx::query(
        "INSERT INTO verification_log (id, workspace_id, at, outcome, reason, explanation, platform, kid, alg, user_id,
                attributes_accepted, attributes_rejected, details, origin, ip, user_agent, latency_us)
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
                $8::text[], $9::text[], $10::text[], $11::jsonb[], $12::jsonb[], $13::jsonb[], $14::text[], $15::text[],
                $16::text[], $17::int4[])
         ON CONFLICT DO NOTHING",
    )
    .bind(logs.iter().map(|l| l.id).collect::<Vec<_>>())
    .bind(attempts.iter().map(|a| a.workspace_id).collect::<Vec<_>>())
    .bind(logs.iter().map(|l| l.at).collect::<Vec<_>>())
    .bind(all(&|l| l.outcome.clone()))
    .bind(col(&|l| l.reason.clone()))
    .bind(all(&|l| l.explanation.clone()))
    .bind(col(&|l| l.platform.clone()))
    .bind(col(&|l| l.kid.clone()))
    .bind(col(&|l| l.alg.clone()))
    .bind(col(&|l| l.user_id.clone()))
    .bind(json(&|l| &l.attributes_accepted))
    .bind(json(&|l| &l.attributes_rejected))
    .bind(json(&|l| &l.details))
    .bind(col(&|l| l.origin.clone()))
    .bind(col(&|l| l.ip.clone()))
    .bind(col(&|l| l.user_agent.clone()))
    .bind(logs.iter().map(|l| l.latency_us).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;

    // One row per contact: later attempts' attributes override earlier ones.
    // (workspace, user) -> (merged update, first seen, last seen)
    type Merged = (ContactUpdate, DateTime<Utc>, DateTime<Utc>);
    let mut contacts: BTreeMap<(Uuid, String), Merged> = BTreeMap::new();
    for attempt in attempts {
        let Some(update) = &attempt.contact else { continue };
        contacts
            .entry((attempt.workspace_id, update.user_id.clone()))
            .and_modify(|(merged, first, last)| {
                merged.attributes.extend(update.attributes.clone());
                merged.verified = update.verified;
                merged.platform = update.platform.clone();
                *first = (*first).min(attempt.log.at);
                *last = (*last).max(attempt.log.at);
            })
            .or_insert_with(|| (update.clone(), attempt.log.at, attempt.log.at));
    }
    if !contacts.is_empty() {
        let values: Vec<_> = contacts.into_iter().collect();
        sqlx::query(
            "INSERT INTO contacts (workspace_id, user_id, attributes, verified, first_seen_at, last_seen_at, last_platform)
             SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[], $4::bool[], $5::timestamptz[], $6::timestamptz[], $7::text[])
             ON CONFLICT (workspace_id, user_id) DO UPDATE
                SET attributes = contacts.attributes || EXCLUDED.attributes,
                    verified = EXCLUDED.verified,
                    first_seen_at = least(contacts.first_seen_at, EXCLUDED.first_seen_at),
                    last_seen_at = greatest(contacts.last_seen_at, EXCLUDED.last_seen_at),
                    last_platform = EXCLUDED.last_platform",
        )
        .bind(values.iter().map(|((ws, _), _)| *ws).collect::<Vec<_>>())
        .bind(values.iter().map(|((_, user), _)| user.clone()).collect::<Vec<_>>())
        .bind(values.iter().map(|(_, (u, _, _))| serde_json::Value::Object(u.attributes.clone())).collect::<Vec<_>>())
        .bind(values.iter().map(|(_, (u, _, _))| u.verified).collect::<Vec<_>>())
        .bind(values.iter().map(|(_, (_, first, _))| *first).collect::<Vec<_>>())
        .bind(values.iter().map(|(_, (_, _, last))| *last).collect::<Vec<_>>())
        .bind(values.iter().map(|(_, (u, _, _))| u.platform.clone()).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    if !used_keys.is_empty() {
        sqlx::query(
            "UPDATE workspace_keys k SET last_used_at = u.at
               FROM UNNEST($1::text[], $2::timestamptz[]) AS u(kid, at)
              WHERE k.kid = u.kid AND (k.last_used_at IS NULL OR k.last_used_at < u.at)",
        )
        .bind(used_keys.iter().map(|(kid, _)| kid.clone()).collect::<Vec<_>>())
        .bind(used_keys.iter().map(|(_, at)| *at).collect::<Vec<_>>())
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// The local spool: JSON lines, appended and fsynced, replayed in order.
struct Spool {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Spool {
    async fn append(&self, attempts: &[Attempt]) -> std::io::Result<()> {
        let _guard = self.lock.lock().await;
        let mut buf = Vec::new();
        for attempt in attempts {
            serde_json::to_writer(&mut buf, attempt)?;
            buf.push(b'\n');
        }
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(&buf)?;
            file.sync_all()
        })
        .await
        .map_err(std::io::Error::other)?
    }

    async fn read_all(&self) -> std::io::Result<Vec<Attempt>> {
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut attempts = Vec::new();
        for line in std::io::BufReader::new(file).lines() {
            let line = line?;
            // A torn last line (crash mid-append) was never acknowledged: skip it.
            if let Ok(attempt) = serde_json::from_str(&line) {
                attempts.push(attempt);
            }
        }
        Ok(attempts)
    }

    async fn len(&self) -> usize {
        let _guard = self.lock.lock().await;
        self.read_all().await.map(|a| a.len()).unwrap_or(0)
    }
}

/// Every second, moves spooled attempts into Postgres, then empties the spool.
async fn replay_loop(pool: PgPool, spool: Arc<Spool>, metrics: Arc<Metrics>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let guard = spool.lock.lock().await;
        let attempts = match spool.read_all().await {
            Ok(attempts) if !attempts.is_empty() => attempts,
            Ok(_) => continue,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the spool");
                continue;
            }
        };
        metrics.spooled.set(attempts.len() as i64);
        let mut replayed = true;
        for chunk in attempts.chunks(MAX_BATCH) {
            if let Err(err) = write_batch(&pool, chunk, &[]).await {
                tracing::warn!(error = %err, "spool replay waits for the database");
                replayed = false;
                break;
            }
        }
        if replayed {
            // Every row is committed (ids make the replay idempotent): empty the spool.
            if let Err(err) = std::fs::remove_file(&spool.path) {
                tracing::error!(error = %err, "cannot empty the spool");
            } else {
                tracing::info!(rows = attempts.len(), "spool replayed into the database");
                metrics.spooled.set(0);
            }
        }
        drop(guard);
    }
}
