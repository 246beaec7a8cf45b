//! The local spool: attempts Postgres could not take, as JSON lines appended and fsynced,
//! replayed in order once the database is back.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Mutex;

use super::batch::{write_batch, Batch, Ids};
use super::{Attempt, MAX_BATCH};
use crate::metrics::Metrics;

/// The spool file and the lock that serialises appends, reads and the replay.
pub(super) struct Spool {
    path: PathBuf,
    lock: Mutex<()>,
}

impl Spool {
    pub(super) fn new(dir: PathBuf) -> Spool {
        Spool { path: dir.join("verification-log.jsonl"), lock: Mutex::new(()) }
    }

    /// Appends the attempts and fsyncs the file before returning.
    pub(super) async fn append(&self, attempts: &[Attempt]) -> std::io::Result<()> {
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

    fn read_all(&self) -> std::io::Result<Vec<Attempt>> {
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

    /// Attempts waiting in the spool.
    pub(super) async fn len(&self) -> usize {
        let _guard = self.lock.lock().await;
        self.read_all().map(|a| a.len()).unwrap_or(0)
    }
}

/// Every second, moves spooled attempts into Postgres, then empties the spool.
pub(super) async fn replay_loop(pool: PgPool, spool: Arc<Spool>, metrics: Arc<Metrics>) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let guard = spool.lock.lock().await;
        let attempts = match spool.read_all() {
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
            // Every contact is written: the replay may not know what was skipped before.
            if let Err(err) = write_batch(&pool, &Batch::new(chunk, |_| true, Vec::new()), Ids::MaybeStored).await {
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
