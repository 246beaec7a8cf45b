//! The local spool: attempts Postgres could not take, as JSON lines appended and fsynced,
//! replayed in order once the database is back.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::batch::{write_batch, write_split, Batch, Fate, Ids};
use super::{is_outage, Attempt, Breaker, MAX_BATCH};
use crate::metrics::Metrics;

/// The spool file, the dead-letter file beside it, and the lock that serialises appends, reads
/// and the replay.
pub(super) struct Spool {
    path: PathBuf,
    dead_letters: PathBuf,
    lock: Mutex<()>,
    metrics: Arc<Metrics>,
}

impl Spool {
    pub(super) fn new(dir: PathBuf, metrics: Arc<Metrics>) -> Spool {
        Spool {
            path: dir.join("verification-log.jsonl"),
            dead_letters: dir.join("dead-letter.jsonl"),
            lock: Mutex::new(()),
            metrics,
        }
    }

    /// Appends the attempts and fsyncs the file before returning.
    pub(super) async fn append(&self, attempts: &[Attempt]) -> std::io::Result<()> {
        let _guard = self.lock.lock().await;
        append_lines(self.path.clone(), attempts).await
    }

    /// Moves attempts that Postgres refuses on their own to the dead-letter file (fsynced, for
    /// an operator to inspect), and counts them.
    pub(super) async fn quarantine(&self, attempts: &[Attempt]) -> std::io::Result<()> {
        append_lines(self.dead_letters.clone(), attempts).await?;
        self.metrics.dead_letters.inc_by(attempts.len() as u64);
        Ok(())
    }

    fn read_all(&self) -> std::io::Result<Vec<Attempt>> {
        let file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut attempts = Vec::new();
        // Split as bytes: a line that is not UTF-8 must not stop the replay of the others.
        for line in std::io::BufReader::new(file).split(b'\n') {
            attempts.extend(parse_spool_line(&line?));
        }
        Ok(attempts)
    }

    /// Attempts waiting in the spool.
    pub(super) async fn len(&self) -> usize {
        let _guard = self.lock.lock().await;
        self.read_all().map(|a| a.len()).unwrap_or(0)
    }
}

/// One line of the spool as the attempt to replay, made storable again, so that a line written
/// by an older version or edited by hand still cannot make Postgres refuse its batch. `None`
/// for a line that is not an attempt: a torn last line (a crash mid-append, possibly inside a
/// multi-byte character) was never acknowledged, and is skipped.
pub fn parse_spool_line(line: &[u8]) -> Option<Attempt> {
    serde_json::from_slice::<Attempt>(line).ok().map(Attempt::into_storable)
}

/// Appends one JSON line per attempt to `path` and fsyncs it.
async fn append_lines(path: PathBuf, attempts: &[Attempt]) -> std::io::Result<()> {
    let mut buf = Vec::new();
    for attempt in attempts {
        serde_json::to_writer(&mut buf, attempt)?;
        buf.push(b'\n');
    }
    tokio::task::spawn_blocking(move || {
        let mut file = open_private(&path)?;
        // After a crash mid-append the file ends in a torn line: start a new one, or the first
        // attempt appended now would be glued to it and skipped by the replay.
        if ends_mid_line(&mut file)? {
            file.write_all(b"\n")?;
        }
        file.write_all(&buf)?;
        file.sync_all()
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Opens `path` for appending, readable by this user only (0600, in a 0700 directory): the
/// rows hold user ids, IP addresses and attributes. An existing directory or file made
/// looser (by hand, or by an older version) is tightened first.
fn open_private(path: &Path) -> std::io::Result<File> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        restrict(dir, 0o700)?;
    }
    let file = OpenOptions::new().create(true).read(true).append(true).mode(0o600).open(path)?;
    restrict(path, 0o600)?;
    Ok(file)
}

/// Sets `mode` on `path` unless it already grants nothing to group or others. A failure (a
/// directory this user does not own) is logged, not returned: losing a row would be worse.
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    if std::fs::metadata(path)?.permissions().mode() & 0o077 != 0 {
        if let Err(err) = std::fs::set_permissions(path, Permissions::from_mode(mode)) {
            tracing::warn!(error = %err, path = %path.display(), "cannot make the spool private");
        }
    }
    Ok(())
}

/// Whether `file` is non-empty and does not end with a newline.
fn ends_mid_line(file: &mut File) -> std::io::Result<bool> {
    if file.metadata()?.len() == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1))?;
    file.read_exact(&mut last)?;
    Ok(last != [b'\n'])
}

/// Every second, moves spooled attempts into Postgres, then empties the spool. A row Postgres
/// refuses on its own is quarantined, so it can never hold back the rows behind it.
pub(super) async fn replay_loop(
    pool: crate::db::Db,
    spool: Arc<Spool>,
    metrics: Arc<Metrics>,
    breaker: Arc<Breaker>,
    shard: i16,
) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        // While the database is known to be down, a replay would only hold the spool's lock
        // (and so every append) for the pool's whole acquire timeout.
        if breaker.is_open() {
            continue;
        }
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
            let err = match write_batch(&pool, &Batch::new(chunk, |_| true, Vec::new()), Ids::MaybeStored, shard).await
            {
                Ok(()) => continue,
                Err(err) => err,
            };
            if !is_outage(&err) {
                let fates = write_split(&pool, chunk, &[], shard).await;
                let refused: Vec<Attempt> =
                    chunk.iter().zip(&fates).filter(|(_, f)| **f == Fate::Refused).map(|(a, _)| a.clone()).collect();
                if !refused.is_empty() {
                    tracing::error!(rows = refused.len(), "database refused spooled log rows; quarantined");
                    if let Err(err) = spool.quarantine(&refused).await {
                        tracing::error!(error = %err, "cannot write the dead-letter file; the spool keeps them");
                        replayed = false;
                        break;
                    }
                }
                if !fates.contains(&Fate::Unreachable) {
                    continue;
                }
            }
            tracing::warn!(error = %err, "spool replay waits for the database");
            breaker.trip(&pool, &metrics);
            replayed = false;
            break;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use uuid::Uuid;

    fn attempt(user_id: &str) -> Attempt {
        crate::ingest::test_attempt(Uuid::nil(), user_id)
    }

    fn spool() -> Result<Spool, Box<dyn std::error::Error>> {
        Ok(spool_in(&std::env::temp_dir().join(format!("countersign-spool-{}", Uuid::new_v4()))))
    }

    fn user_ids(spool: &Spool) -> std::io::Result<Vec<Option<String>>> {
        Ok(spool.read_all()?.into_iter().map(|a| a.log.user_id).collect())
    }

    /// A torn line cut inside a multi-byte character does not stop the replay of the others.
    #[tokio::test]
    async fn a_line_that_is_not_utf8_is_skipped() -> Result<(), Box<dyn std::error::Error>> {
        let spool = spool()?;
        spool.append(&[attempt("ü1")]).await?;
        let torn = serde_json::to_vec(&attempt("ü2"))?;
        let cut = torn.iter().position(|&b| b == 0xc3).map_or(torn.len(), |i| i + 1);
        let mut bytes = std::fs::read(&spool.path)?;
        bytes.extend_from_slice(torn.get(..cut).unwrap_or_default());
        bytes.push(b'\n');
        std::fs::write(&spool.path, bytes)?;
        spool.append(&[attempt("ü3")]).await?;
        assert_eq!(user_ids(&spool)?, [Some("ü1".to_owned()), Some("ü3".to_owned())]);
        Ok(std::fs::remove_dir_all(spool.path.parent().unwrap_or(&spool.path))?)
    }

    /// An attempt appended after a torn last line (a crash mid-append) is not glued to it.
    #[tokio::test]
    async fn appending_after_a_torn_line_starts_a_new_line() -> Result<(), Box<dyn std::error::Error>> {
        let spool = spool()?;
        spool.append(&[attempt("u1")]).await?;
        let torn = serde_json::to_vec(&attempt("u2"))?;
        let mut file = std::fs::OpenOptions::new().append(true).open(&spool.path)?;
        file.write_all(torn.get(..torn.len() / 2).unwrap_or_default())?;
        spool.append(&[attempt("u3")]).await?;
        assert_eq!(user_ids(&spool)?, [Some("u1".to_owned()), Some("u3".to_owned())]);
        Ok(std::fs::remove_dir_all(spool.path.parent().unwrap_or(&spool.path))?)
    }

    /// A replayed line is made storable again: NUL and over-long text never reach Postgres.
    #[test]
    fn a_replayed_line_is_made_storable() -> Result<(), Box<dyn std::error::Error>> {
        let mut hostile = attempt("x\u{0}y");
        hostile.log.kid = Some("k".repeat(1000));
        hostile.log.attributes_accepted = json!({"a\u{0}": "b\u{0}"});
        let line = serde_json::to_vec(&hostile)?;
        let replayed = parse_spool_line(&line).ok_or("the line does not parse")?;
        let text = serde_json::to_string(&replayed)?;
        assert!(!text.contains("\\u0000"), "{text}");
        assert_eq!(replayed.log.kid.map(|k| k.chars().count()), Some(255));
        assert!(parse_spool_line(b"{\"torn\": ").is_none());
        Ok(())
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// The directory is 0700 and both spool files 0600.
    fn assert_private(dir: &Path) {
        assert_eq!(mode(dir), 0o700);
        assert_eq!(mode(&dir.join("verification-log.jsonl")), 0o600);
        assert_eq!(mode(&dir.join("dead-letter.jsonl")), 0o600);
    }

    fn spool_in(dir: &Path) -> Spool {
        Spool::new(dir.to_path_buf(), Arc::new(Metrics::new().unwrap()))
    }

    /// A new spool directory is 0700 and both spool files are 0600.
    #[tokio::test]
    async fn new_spool_is_private() {
        let dir = std::env::temp_dir().join(format!("countersign-spool-{}", uuid::Uuid::new_v4())).join("spool");
        let spool = spool_in(&dir);
        spool.append(&[]).await.unwrap();
        spool.quarantine(&[]).await.unwrap();
        assert_private(&dir);
        std::fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    /// A spool directory and files left world-readable are tightened on the next append.
    #[tokio::test]
    async fn loose_spool_is_tightened() {
        let dir = std::env::temp_dir().join(format!("countersign-spool-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        for name in ["verification-log.jsonl", "dead-letter.jsonl"] {
            std::fs::write(dir.join(name), b"").unwrap();
            std::fs::set_permissions(dir.join(name), Permissions::from_mode(0o644)).unwrap();
        }
        let spool = spool_in(&dir);
        spool.append(&[]).await.unwrap();
        spool.quarantine(&[]).await.unwrap();
        assert_private(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
