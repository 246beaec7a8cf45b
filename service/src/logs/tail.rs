//! Live tail: new log rows as they commit. One poller per workspace per instance reads the rows
//! newer than what it has seen from Postgres (the keyset (at, id)) and fans them out to that
//! workspace's open tails, each of which applies its own filters.
//!
//! Polling rather than LISTEN/NOTIFY: it works through transaction-mode connection poolers
//! (where LISTEN does not), costs the identify write path nothing, and every instance sees
//! every instance's rows because they all read the same table.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use countersign_core::policy::Action;
use countersign_proto::LogEntry;
use futures_util::Stream;
use sqlx::{Postgres, QueryBuilder};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::filter::{decode_cursor, LogCriteria, LogFilter, LOG_COLUMNS};
use crate::error::ServiceResult;
use crate::{Actor, Service};

/// How often a workspace's poller reads new rows.
const POLL_EVERY: StdDuration = StdDuration::from_millis(250);
/// Rows are stamped when the attempt arrives and committed a few milliseconds later (identify
/// answers once its row is committed), so each poll looks this far behind the newest row it
/// has seen to catch rows another instance committed out of order. A row replayed from an
/// instance's spool after an outage is older than this: it shows in the log, not in the tail.
const LOOKBACK: Duration = Duration::seconds(1);
/// Rows read per poll; a busier workspace is read again at once.
const POLL_ROWS: i64 = 1_000;
/// Rows one tail may lag behind before it is closed (the client reconnects and catches up).
const CHANNEL_ROWS: usize = 4_096;
/// Rows sent on (re)connection from the cursor the client last saw, oldest first. A full page
/// ends the stream once sent: the client reconnects from its last row and gets the next page,
/// so a long gap is caught up in order, a page at a time, and nothing is skipped.
const CATCH_UP_ROWS: i64 = 500;
/// A tail ends after this long; the browser reconnects, which checks the session again.
const TAIL_LIFETIME: StdDuration = StdDuration::from_secs(300);

/// The pollers of this instance, one per workspace with an open tail.
#[derive(Default)]
pub struct TailHub {
    channels: Mutex<HashMap<Uuid, broadcast::Sender<Arc<LogEntry>>>>,
}

impl TailHub {
    /// A receiver of the workspace's new rows, starting its poller if none runs.
    fn subscribe(&self, service: &Service, workspace_id: Uuid) -> broadcast::Receiver<Arc<LogEntry>> {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = channels.get(&workspace_id) {
            return sender.subscribe();
        }
        let (sender, receiver) = broadcast::channel(CHANNEL_ROWS);
        channels.insert(workspace_id, sender.clone());
        tokio::spawn(service.clone().poll_workspace(workspace_id, sender));
        receiver
    }

    /// Stops a poller whose tails have all gone; false if one subscribed meanwhile.
    fn release(&self, workspace_id: Uuid, sender: &broadcast::Sender<Arc<LogEntry>>) -> bool {
        let mut channels = self.channels.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if sender.receiver_count() > 0 {
            return false;
        }
        channels.remove(&workspace_id);
        true
    }
}

impl LogCriteria {
    /// Whether a row passes these filters (the tail's side of `push_where`).
    pub fn matches(&self, e: &LogEntry) -> bool {
        let equal = |want: Option<&str>, have: Option<&str>| want.is_none() || want == have;
        e.at >= self.from
            && self.to.is_none_or(|to| e.at < to)
            && equal(self.outcome, Some(&e.outcome))
            && equal(self.platform, e.platform.as_deref())
            && equal(self.reason.as_deref(), e.reason.as_deref())
            && equal(self.user_id.as_deref(), e.user_id.as_deref())
            && equal(self.kid.as_deref(), e.kid.as_deref())
            && equal(self.origin.as_deref(), e.origin.as_deref())
    }
}

/// A live tail: where a new client resumes from, and the rows.
pub struct Tail<S> {
    /// The cursor a fresh tail starts at (its first moment), for the client to resume from
    /// should the connection drop before any row arrives; `None` when resuming already.
    pub resume_from: Option<String>,
    pub rows: S,
}

/// Where a tail is: rows to send first, the ids already sent by the catch-up, whether more
/// catch-up is waiting (then the stream ends after `pending`), the live feed.
struct TailState {
    pending: VecDeque<LogEntry>,
    caught_up: HashSet<Uuid>,
    more_to_catch_up: bool,
    receiver: broadcast::Receiver<Arc<LogEntry>>,
    criteria: LogCriteria,
    until: tokio::time::Instant,
}

impl Service {
    /// New rows matching `filter` as they commit, oldest first. With `after` (a cursor, such as
    /// the `Last-Event-ID` of a reconnection), the rows after it are sent first, up to
    /// [`CATCH_UP_ROWS`] a connection.
    pub async fn tail_logs(
        &self,
        actor: &Actor,
        workspace_id: Uuid,
        filter: &LogFilter,
        after: Option<&str>,
    ) -> ServiceResult<Tail<impl Stream<Item = LogEntry> + Send + 'static>> {
        drop(self.tenant(actor, workspace_id, Action::View).await?);
        let now = self.clock.now();
        let criteria = filter.criteria(now)?;
        let after = after.filter(|a| !a.is_empty()).map(decode_cursor).transpose()?;
        // Subscribe before reading the catch-up, so no row falls between the two.
        let receiver = self.tail.subscribe(self, workspace_id);
        let pending: VecDeque<LogEntry> = match after {
            Some(after) => self.rows_after(workspace_id, &criteria, after).await?.into(),
            None => VecDeque::new(),
        };
        let more_to_catch_up = pending.len() as i64 == CATCH_UP_ROWS;
        let resume_from = after.is_none().then(|| super::encode_cursor(now, Uuid::nil()));
        let caught_up = pending.iter().map(|e| e.id).collect();
        let until = tokio::time::Instant::now() + TAIL_LIFETIME;
        let state = TailState { pending, caught_up, more_to_catch_up, receiver, criteria, until };
        let rows = futures_util::stream::unfold(state, |mut state| async move {
            if let Some(entry) = state.pending.pop_front() {
                return Some((entry, state));
            }
            if state.more_to_catch_up {
                return None;
            }
            loop {
                let next = tokio::time::timeout_at(state.until, state.receiver.recv()).await;
                match next {
                    Ok(Ok(entry)) if state.criteria.matches(&entry) && !state.caught_up.contains(&entry.id) => {
                        return Some((LogEntry::clone(&entry), state));
                    }
                    Ok(Ok(_)) => continue,
                    // Lagging, closed or timed out: end; the client resumes from its last id.
                    Ok(Err(_)) | Err(_) => return None,
                }
            }
        });
        Ok(Tail { resume_from, rows })
    }

    /// The oldest [`CATCH_UP_ROWS`] rows after `after` matching `criteria`.
    async fn rows_after(
        &self,
        workspace_id: Uuid,
        criteria: &LogCriteria,
        after: (DateTime<Utc>, Uuid),
    ) -> ServiceResult<Vec<LogEntry>> {
        let mut sql = QueryBuilder::<Postgres>::new(format!("SELECT {LOG_COLUMNS} FROM verification_log"));
        criteria.push_where(&mut sql, workspace_id);
        sql.push(" AND at >= ").push_bind(after.0);
        sql.push(" AND (at, id) > (").push_bind(after.0).push(", ").push_bind(after.1).push(")");
        sql.push(" ORDER BY at, id LIMIT ").push_bind(CATCH_UP_ROWS);
        let mut tx = self.pool.begin().await?;
        crate::tenant::confine(&mut tx, workspace_id).await?;
        let rows: Vec<LogEntry> =
            sql.build_query_as().persistent(crate::db::statements_are_named()).fetch_all(&mut *tx).await?;
        Ok(rows.into_iter().map(super::explained).collect())
    }

    /// The workspace's poller: runs while anyone tails it.
    async fn poll_workspace(self, workspace_id: Uuid, sender: broadcast::Sender<Arc<LogEntry>>) {
        let mut newest = self.clock.now();
        // Ids sent with `at` inside the look-back window, so a re-read row is not sent twice.
        let mut sent: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
        let mut interval = tokio::time::interval(POLL_EVERY);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if sender.receiver_count() == 0 && self.tail.release(workspace_id, &sender) {
                return;
            }
            loop {
                let rows: Vec<LogEntry> = match crate::db::query_as(&format!(
                    "SELECT {LOG_COLUMNS} FROM verification_log WHERE workspace_id = $1 AND at > $2 ORDER BY at, id LIMIT $3"
                ))
                .bind(workspace_id)
                .bind(newest - LOOKBACK)
                .bind(POLL_ROWS)
                .fetch_all(&self.pool)
                .await
                {
                    Ok(rows) => rows,
                    Err(err) => {
                        tracing::warn!(error = %err, "live tail poll failed; retrying");
                        break;
                    }
                };
                let full = rows.len() as i64 == POLL_ROWS;
                let before = newest;
                for row in rows {
                    newest = newest.max(row.at);
                    if sent.insert(row.id, row.at).is_none() {
                        let _ = sender.send(Arc::new(super::explained(row)));
                    }
                }
                sent.retain(|_, at| *at > newest - LOOKBACK);
                // A full page that moved the window forward: more may be waiting.
                if !full || newest == before {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn entry(outcome: &str, platform: &str, user: &str) -> LogEntry {
        LogEntry {
            id: Uuid::now_v7(),
            at: Utc::now(),
            outcome: outcome.into(),
            reason: None,
            explanation: String::new(),
            platform: Some(platform.into()),
            kid: Some("k".into()),
            alg: None,
            user_id: Some(user.into()),
            attributes_accepted: serde_json::json!({}),
            attributes_rejected: serde_json::json!([]),
            details: serde_json::json!({}),
            origin: None,
            ip: None,
            user_agent: None,
            latency_us: 1,
        }
    }

    /// The tail's filter agrees with the SQL one on each field.
    #[test]
    fn matches() {
        let filter =
            LogFilter { outcome: Some("rejected".into()), user_id: Some("a+b".into()), ..LogFilter::default() };
        let criteria = filter.criteria(Utc::now()).unwrap();
        assert!(criteria.matches(&entry("rejected", "web", "a+b")));
        assert!(!criteria.matches(&entry("verified", "web", "a+b")));
        assert!(!criteria.matches(&entry("rejected", "web", "a b")));
        let origin = LogFilter { origin: Some("https://a.example".into()), ..LogFilter::default() }
            .criteria(Utc::now())
            .unwrap();
        assert!(!origin.matches(&entry("rejected", "web", "a")), "no origin is not a match");
    }
}
