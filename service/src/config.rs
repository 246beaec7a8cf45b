//! The in-memory configuration snapshot identify verifies against: one `WorkspacePolicy` per
//! app id, loaded on first use and evicted on every instance through Postgres `NOTIFY` when
//! anything it holds changes. While Postgres is unreachable, the last snapshot keeps serving.
//!
//! The `LISTEN` runs on the direct connection (`COUNTERSIGN_DIRECT_DATABASE_URL`, else the
//! main one), trusted once the instance's own heartbeat comes back on it. While it cannot
//! listen (refused, cut, or deaf), the listener polls each cached workspace's `config_version`
//! every [`POLL_INTERVAL`] instead, so a change still reaches this instance within a second;
//! `/readyz` and `/metrics` say which mode is active.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use countersign_core::{is_app_id_shaped, WorkspacePolicy};
use sqlx::postgres::PgListener;
use sqlx::PgConnection;
#[cfg(test)]
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::rate::RateLimit;
use crate::security::{load_attributes, SecurityRow, SECURITY_COLUMNS};
use crate::Service;

/// The `NOTIFY` channel; the payload is the app id whose configuration changed.
pub const CHANNEL: &str = "countersign_config";
/// How long an unknown app id is remembered as unknown (creation notifies, so this is a bound
/// on database load from random ids, not on how soon a new workspace works).
const NEGATIVE_TTL: Duration = Duration::from_secs(5);
/// How long a snapshot serves before it is reloaded, even if no notification came: a backstop
/// should one be lost.
const MAX_SNAPSHOT_AGE: Duration = Duration::from_secs(60);
/// Most snapshots kept; more workspaces than this in use evict the oldest loaded.
const MAX_SNAPSHOTS: usize = 10_000;
/// Most app ids remembered as unknown (each at most 64 bytes, so a flood of random ids costs
/// a fixed amount of memory).
const MAX_UNKNOWN: usize = 10_000;
/// Loads of one app id retried when a change arrives while loading, before the last one is
/// served without being cached.
const LOAD_ATTEMPTS: usize = 3;

/// How often the configuration versions are polled while `LISTEN` is unavailable.
pub const POLL_INTERVAL: Duration = Duration::from_millis(400);
/// How long a connection attempt of the listener may take before it polls instead.
const LISTEN_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long after a refused (or deaf) `LISTEN` the listener tries again (it polls meanwhile).
const LISTEN_RETRY: Duration = Duration::from_secs(5);
/// How often a listening instance checks that its own notifications still reach it.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
/// How long a heartbeat may take to come back before the feed is taken for deaf.
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(2);
/// Heartbeat payloads start so; app ids never do.
const HEARTBEAT_PREFIX: &str = "countersign-heartbeat:";

/// Tells every instance that the configuration of `app_id` changed (sent at commit): bumps the
/// workspace's version (what polling instances compare) and notifies the listening ones.
pub async fn notify_changed(conn: &mut PgConnection, app_id: &str) -> ServiceResult<()> {
    crate::db::query("UPDATE workspaces SET config_version = config_version + 1 WHERE app_id = $1")
        .bind(app_id)
        .execute(&mut *conn)
        .await?;
    crate::db::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(app_id).execute(conn).await?;
    Ok(())
}

/// How configuration changes currently reach this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeFeed {
    /// `LISTEN` on the direct connection: changes arrive as they commit.
    Listen,
    /// Polling the per-workspace versions every [`POLL_INTERVAL`].
    Poll,
}

impl ChangeFeed {
    /// `listen` or `poll`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeFeed::Listen => "listen",
            ChangeFeed::Poll => "poll",
        }
    }
}

/// A workspace's configuration as identify sees it.
#[derive(Debug)]
pub struct Snapshot {
    pub workspace_id: Uuid,
    /// The workspace's `config_version` when loaded (compared by polling).
    pub version: i64,
    pub policy: WorkspacePolicy,
    /// When it was loaded.
    loaded: Instant,
    /// The workspace's identify rate limit.
    pub identify_limit: RateLimit,
    /// The workspace's `signatures` rate limit.
    pub signatures_limit: RateLimit,
}

impl Snapshot {
    /// Whether it must be reloaded before use (when the database can be reached).
    fn is_stale(&self) -> bool {
        self.loaded.elapsed() > MAX_SNAPSHOT_AGE
    }
}

/// What the cache knows of an app id.
enum Cached {
    Known(Arc<Snapshot>),
    Unknown,
    Absent,
}

/// The cache of snapshots by app id, bounded in entries (and so in bytes: app ids are short,
/// snapshots are per real workspace).
#[derive(Default)]
pub struct ConfigCache {
    known: RwLock<HashMap<String, Arc<Snapshot>>>,
    /// App ids no workspace had, and since when.
    unknown: Mutex<HashMap<String, Instant>>,
    /// Bumped by every eviction: a load that overlapped one may hold what was just changed,
    /// so it is not cached.
    evictions: AtomicU64,
    /// True while changes arrive by `LISTEN`, false while they are polled.
    listening: std::sync::atomic::AtomicBool,
    /// One lock per app id being loaded, so concurrent misses cost one load.
    loading: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Test hook: the next load waits here between reading the database and caching.
    #[cfg(test)]
    pub(crate) pause_next_load: Mutex<Option<Arc<LoadPause>>>,
}

/// Where a test holds a load (see `ConfigCache::pause_next_load`).
#[cfg(test)]
#[derive(Default)]
pub(crate) struct LoadPause {
    pub loaded: tokio::sync::Notify,
    pub proceed: tokio::sync::Notify,
}

impl ConfigCache {
    fn get(&self, app_id: &str) -> Cached {
        if let Some(snapshot) = read(&self.known).get(app_id) {
            return Cached::Known(snapshot.clone());
        }
        match lock(&self.unknown).get(app_id) {
            Some(since) if since.elapsed() < NEGATIVE_TTL => Cached::Unknown,
            _ => Cached::Absent,
        }
    }

    /// Caches a load's result unless an eviction happened since `evictions` was read.
    fn put(&self, app_id: &str, snapshot: Option<&Arc<Snapshot>>, evictions: u64) -> bool {
        let mut known = write(&self.known);
        // Checked under the write lock that `evict` also takes: no eviction can slip between.
        if self.evictions.load(Ordering::Acquire) != evictions {
            return false;
        }
        match snapshot {
            Some(snapshot) => {
                if known.len() >= MAX_SNAPSHOTS && !known.contains_key(app_id) {
                    let oldest = known.iter().min_by_key(|(_, s)| s.loaded).map(|(id, _)| id.clone());
                    oldest.map(|id| known.remove(&id));
                }
                known.insert(app_id.to_owned(), snapshot.clone());
            }
            None => {
                drop(known);
                let mut unknown = lock(&self.unknown);
                if unknown.len() >= MAX_UNKNOWN {
                    unknown.retain(|_, since| since.elapsed() < NEGATIVE_TTL);
                    if unknown.len() >= MAX_UNKNOWN {
                        unknown.clear();
                    }
                }
                unknown.insert(app_id.to_owned(), Instant::now());
            }
        }
        true
    }

    /// Forgets one app id (its configuration changed).
    pub fn evict(&self, app_id: &str) {
        let mut known = write(&self.known);
        self.evictions.fetch_add(1, Ordering::AcqRel);
        known.remove(app_id);
        drop(known);
        lock(&self.unknown).remove(app_id);
    }

    /// The lock that lets one task at a time load `app_id`.
    fn load_lock(&self, app_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.loading).entry(app_id.to_owned()).or_default().clone()
    }

    /// Drops the load lock of `app_id` once no other task holds it.
    fn release_load_lock(&self, app_id: &str, held: Arc<tokio::sync::Mutex<()>>) {
        let mut loading = lock(&self.loading);
        // One reference in the map, one here: nobody else is waiting.
        if Arc::strong_count(&held) <= 2 {
            loading.remove(app_id);
        }
    }

    /// The cached snapshots' app ids and versions (what a poll compares).
    fn versions(&self) -> Vec<(String, i64)> {
        read(&self.known).iter().map(|(app_id, s)| (app_id.clone(), s.version)).collect()
    }

    /// Entries held: (snapshots, unknown app ids, loads in flight).
    pub fn len(&self) -> (usize, usize, usize) {
        (read(&self.known).len(), lock(&self.unknown).len(), lock(&self.loading).len())
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Service {
    /// The configuration snapshot of `app_id`, `None` if no workspace has it. An id that
    /// cannot be an app id is unknown without a look-up.
    pub async fn snapshot(&self, app_id: &str) -> ServiceResult<Option<Arc<Snapshot>>> {
        if !is_app_id_shaped(app_id) {
            return Ok(None);
        }
        let cached = match self.config.get(app_id) {
            Cached::Known(snapshot) if !snapshot.is_stale() => return Ok(Some(snapshot)),
            Cached::Unknown => return Ok(None),
            Cached::Known(snapshot) => Some(snapshot),
            Cached::Absent => None,
        };
        // Database known to be down: a stale snapshot is better than refusing to verify, and
        // waiting for the pool would only delay the answer.
        if self.breaker.is_open() {
            return cached.map(Some).ok_or_else(|| {
                ServiceError::new(
                    ErrorCode::Unavailable,
                    "The configuration of this app cannot be read right now; try again shortly.",
                )
            });
        }
        let gate = self.config.load_lock(app_id);
        let result = self.load_once(app_id, &gate).await;
        self.config.release_load_lock(app_id, gate);
        match result {
            Ok(found) => Ok(found),
            Err(err) => cached.map(Some).ok_or(err),
        }
    }

    /// Loads `app_id` unless another task just did, and caches it unless a change arrived
    /// while loading (then loads again, a bounded number of times).
    async fn load_once(&self, app_id: &str, gate: &tokio::sync::Mutex<()>) -> ServiceResult<Option<Arc<Snapshot>>> {
        let _loading = gate.lock().await;
        match self.config.get(app_id) {
            Cached::Known(snapshot) if !snapshot.is_stale() => return Ok(Some(snapshot)),
            Cached::Unknown => return Ok(None),
            _ => {}
        }
        let mut loaded = None;
        for _ in 0..LOAD_ATTEMPTS {
            let evictions = self.config.evictions.load(Ordering::Acquire);
            let snapshot = self.load_snapshot(app_id).await?.map(Arc::new);
            #[cfg(test)]
            self.pause_load_for_test().await;
            if self.config.put(app_id, snapshot.as_ref(), evictions) {
                return Ok(snapshot);
            }
            loaded = Some(snapshot);
        }
        Ok(loaded.flatten())
    }

    #[cfg(test)]
    async fn pause_load_for_test(&self) {
        let pause = lock(&self.config.pause_next_load).take();
        if let Some(pause) = pause {
            pause.loaded.notify_one();
            pause.proceed.notified().await;
        }
    }

    /// Reads a workspace's settings, attributes and keys in one repeatable-read transaction,
    /// so the snapshot is one consistent state.
    async fn load_snapshot(&self, app_id: &str) -> ServiceResult<Option<Snapshot>> {
        let mut tx = self.pool.begin().await?;
        crate::db::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        let row: Option<(Uuid, i64, SecurityRow)> = crate::db::query_as::<SecurityRowWithId>(&format!(
            "SELECT id, config_version, {SECURITY_COLUMNS} FROM workspaces WHERE app_id = $1"
        ))
        .bind(app_id)
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| (r.id, r.config_version, r.row));
        let Some((workspace_id, version, row)) = row else { return Ok(None) };
        let settings = row.settings();
        let mut policy = WorkspacePolicy::new_default(app_id);
        policy.modes = settings.modes;
        policy.hmac_enabled = settings.hmac_enabled;
        policy.leeway_seconds = settings.leeway_seconds;
        policy.require_exp = settings.require_exp;
        policy.max_token_lifetime_seconds = settings.max_token_lifetime_seconds;
        policy.allowed_origins = settings.allowed_origins;
        policy.token_profile = settings.token_profile;
        policy.user_id_claims = settings.user_id_claims;
        policy.expected_issuer = settings.expected_issuer;
        policy.attributes = load_attributes(&mut tx, workspace_id).await?;
        policy.keys = self.verification_keys_in(&mut tx, workspace_id).await?;
        tx.commit().await?;
        let settings = self.settings();
        Ok(Some(Snapshot {
            workspace_id,
            version,
            policy,
            loaded: Instant::now(),
            identify_limit: RateLimit::per_second(settings.identify_rate_limit),
            signatures_limit: RateLimit::per_second(settings.signatures_rate_limit),
        }))
    }

    /// How configuration changes reach this instance right now.
    pub fn config_change_feed(&self) -> ChangeFeed {
        if self.config.listening.load(Ordering::Acquire) {
            ChangeFeed::Listen
        } else {
            ChangeFeed::Poll
        }
    }

    fn set_change_feed(&self, feed: ChangeFeed) {
        self.config.listening.store(feed == ChangeFeed::Listen, Ordering::Release);
        for mode in [ChangeFeed::Listen, ChangeFeed::Poll] {
            self.metrics.config_changes.with_label_values(&[mode.as_str()]).set(i64::from(mode == feed));
        }
    }

    /// Evicts every cached snapshot whose workspace's version moved (or that is gone). A failed
    /// poll changes nothing: the next one compares the versions again, so no change is missed,
    /// and identify keeps answering from the cache instead of waiting on an unreachable pool.
    async fn poll_config_versions(&self) {
        self.metrics.config_polls.inc();
        let cached = self.config.versions();
        if cached.is_empty() {
            return;
        }
        let app_ids: Vec<&str> = cached.iter().map(|(app_id, _)| app_id.as_str()).collect();
        let current: Result<Vec<(String, i64)>, sqlx::Error> =
            crate::db::query_as("SELECT app_id, config_version FROM workspaces WHERE app_id = ANY($1)")
                .bind(&app_ids)
                .fetch_all(&self.pool)
                .await;
        let current: HashMap<String, i64> = match current {
            Ok(rows) => rows.into_iter().collect(),
            Err(err) => {
                tracing::debug!(error = %err, "cannot poll configuration versions");
                return;
            }
        };
        for (app_id, version) in cached {
            if current.get(&app_id) != Some(&version) {
                self.config.evict(&app_id);
            }
        }
    }

    /// Follows configuration changes until the process ends: by `LISTEN` on the direct
    /// connection once it has proved to work, else by polling the versions; reconnects by
    /// itself. Connection attempts run beside the polling, so a slow or refused one never
    /// pauses it.
    ///
    /// A `LISTEN` can succeed and still never deliver: through a transaction-mode pooler the
    /// session that listened goes back to the pool. So the listener notifies itself on the
    /// channel (a heartbeat only it knows) and trusts the feed only once that comes back; until
    /// then, and whenever one fails to come back in time, it polls.
    pub async fn listen_for_config_changes(self) {
        type Connecting = std::pin::Pin<
            Box<
                dyn std::future::Future<Output = Result<Result<PgListener, sqlx::Error>, tokio::time::error::Elapsed>>
                    + Send,
            >,
        >;
        enum Step {
            Connected(Result<Result<PgListener, sqlx::Error>, tokio::time::error::Elapsed>),
            Poll,
        }
        let heartbeat = format!("{HEARTBEAT_PREFIX}{}", Uuid::new_v4());
        let mut feed: Option<Feed> = None;
        let mut connecting: Option<Connecting> = None;
        let mut next_attempt = Instant::now();
        self.set_change_feed(ChangeFeed::Poll);
        loop {
            if let Some(current) = feed.as_mut() {
                match self.follow(current, &heartbeat).await {
                    Followed::Going => {}
                    Followed::Lost => {
                        feed = None;
                        self.set_change_feed(ChangeFeed::Poll);
                        self.poll_config_versions().await;
                    }
                    Followed::Deaf => {
                        tracing::warn!(
                            "configuration listener receives no notifications (is a transaction-mode pooler in front of COUNTERSIGN_DIRECT_DATABASE_URL?); polling for changes meanwhile"
                        );
                        feed = None;
                        self.set_change_feed(ChangeFeed::Poll);
                        self.poll_config_versions().await;
                        next_attempt = Instant::now() + LISTEN_RETRY;
                    }
                }
                continue;
            }
            if connecting.is_none() && Instant::now() >= next_attempt {
                let svc = self.clone();
                connecting = Some(Box::pin(async move {
                    tokio::time::timeout(LISTEN_CONNECT_TIMEOUT, svc.connect_listener()).await
                }));
            }
            let step = {
                let attempt = async {
                    match connecting.as_mut() {
                        Some(attempt) => attempt.await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    result = attempt => Step::Connected(result),
                    () = tokio::time::sleep(POLL_INTERVAL) => Step::Poll,
                }
            };
            match step {
                Step::Poll => self.poll_config_versions().await,
                Step::Connected(result) => {
                    connecting = None;
                    match result {
                        Ok(Ok(listener)) => {
                            feed = Some(Feed::start(listener));
                            next_attempt = Instant::now() + POLL_INTERVAL;
                        }
                        Ok(Err(err)) => {
                            tracing::warn!(error = %err, "configuration listener cannot LISTEN; polling for changes meanwhile");
                            next_attempt = Instant::now() + LISTEN_RETRY;
                        }
                        Err(_) => {
                            tracing::warn!(
                                "configuration listener cannot connect in time; polling for changes meanwhile"
                            );
                            next_attempt = Instant::now() + LISTEN_RETRY;
                        }
                    }
                }
            }
        }
    }

    /// One step of following a listening feed: a notification, a heartbeat sent or awaited,
    /// or (while the feed is not yet confirmed) a poll.
    async fn follow(&self, feed: &mut Feed, heartbeat: &str) -> Followed {
        let now = Instant::now();
        if feed.awaiting.is_none() && now >= feed.heartbeat_due {
            let notify = crate::db::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(heartbeat).execute(&self.pool);
            match tokio::time::timeout(HEARTBEAT_TIMEOUT, notify).await {
                Ok(Ok(_)) => feed.awaiting = Some(Instant::now() + HEARTBEAT_TIMEOUT),
                // Postgres unreachable: nothing can be confirmed now; try again shortly.
                _ => feed.heartbeat_due = Instant::now() + POLL_INTERVAL,
            }
        }
        let wake = match (feed.awaiting, feed.confirmed) {
            (Some(deadline), true) => deadline,
            (Some(deadline), false) => deadline.min(Instant::now() + POLL_INTERVAL),
            (None, true) => feed.heartbeat_due,
            (None, false) => feed.heartbeat_due.min(Instant::now() + POLL_INTERVAL),
        };
        tokio::select! {
            payload = feed.payloads.recv() => match payload {
                Some(payload) if payload == heartbeat => {
                    feed.awaiting = None;
                    feed.heartbeat_due = Instant::now() + HEARTBEAT_INTERVAL;
                    if !feed.confirmed {
                        feed.confirmed = true;
                        self.set_change_feed(ChangeFeed::Listen);
                        // What changed before the feed was trusted.
                        self.poll_config_versions().await;
                    }
                    Followed::Going
                }
                // Another instance's heartbeat.
                Some(payload) if payload.starts_with(HEARTBEAT_PREFIX) => Followed::Going,
                Some(app_id) => {
                    self.config.evict(&app_id);
                    Followed::Going
                }
                None => Followed::Lost,
            },
            () = tokio::time::sleep_until(wake.into()) => {
                if feed.awaiting.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Followed::Deaf;
                }
                if !feed.confirmed {
                    self.poll_config_versions().await;
                }
                Followed::Going
            }
        }
    }

    /// A listener on the direct connection (or the main pool's options without one).
    async fn connect_listener(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = match &self.settings().direct_database_url {
            Some(url) => PgListener::connect(url).await?,
            None => PgListener::connect_with(&self.pool).await?,
        };
        // A lost connection is reported, and reconnected beside the polling.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }
}

/// A listener's notifications, read by a task of their own (so waiting for one is never cut
/// short halfway through a message), and what is known of whether they arrive.
struct Feed {
    /// Payloads in order; closed when the connection is lost.
    payloads: tokio::sync::mpsc::UnboundedReceiver<String>,
    reader: tokio::task::JoinHandle<()>,
    /// Whether a heartbeat has come back: only then are changes trusted to arrive.
    confirmed: bool,
    /// When the next heartbeat is sent.
    heartbeat_due: Instant,
    /// The deadline of the heartbeat in flight, if one is.
    awaiting: Option<Instant>,
}

impl Feed {
    fn start(mut listener: PgListener) -> Feed {
        let (sender, payloads) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => {
                        if sender.send(notification.payload().to_owned()).is_err() {
                            return;
                        }
                    }
                    Ok(None) => {
                        tracing::warn!("configuration listener lost its connection; polling until it is back");
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "configuration listener lost its connection; polling until it is back");
                        return;
                    }
                }
            }
        });
        Feed { payloads, reader, confirmed: false, heartbeat_due: Instant::now(), awaiting: None }
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// What one step of following a feed found.
enum Followed {
    Going,
    /// The connection was lost.
    Lost,
    /// A heartbeat did not come back in time: `LISTEN` delivers nothing here.
    Deaf,
}

#[derive(sqlx::FromRow)]
struct SecurityRowWithId {
    id: Uuid,
    config_version: i64,
    #[sqlx(flatten)]
    row: SecurityRow,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::crypto::{Keyring, MasterKey};
    use crate::{Actor, Clock, RequestMeta, Settings};

    /// A second instance on the same database whose listener connects to `direct_url`.
    fn service_listening_on(pool: PgPool, direct_url: String) -> Service {
        let settings = Settings {
            spool_dir: std::env::temp_dir().join(format!("countersign-spool-{}", Uuid::new_v4())),
            direct_database_url: Some(direct_url),
            ..Settings::default()
        };
        Service::new(pool, Clock::system(), settings, Keyring::single(MasterKey::new([7; 32]))).unwrap()
    }

    /// Waits until `svc`'s snapshot of `app_id` holds `kid` as revoked; fails after a second.
    async fn assert_revoked_within_a_second(svc: &Service, app_id: &str, kid: &str) {
        let revoked = Instant::now();
        loop {
            let snapshot = svc.snapshot(app_id).await.unwrap().unwrap();
            if snapshot.policy.keys.iter().any(|k| k.kid == kid && k.state == countersign_core::KeyState::Revoked) {
                return;
            }
            assert!(revoked.elapsed() < Duration::from_secs(1), "still not revoked after {:?}", revoked.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn service(pool: PgPool) -> (Service, Actor) {
        let settings = Settings {
            spool_dir: std::env::temp_dir().join(format!("countersign-spool-{}", Uuid::new_v4())),
            ..Settings::default()
        };
        let svc = Service::new(pool, Clock::system(), settings, Keyring::single(MasterKey::new([7; 32]))).unwrap();
        let session =
            svc.signup("owner@example.com", "correct-horse-battery", "Acme", &RequestMeta::default()).await.unwrap();
        let owner =
            Actor { account_id: session.account.id, email: session.account.email, meta: RequestMeta::default() };
        (svc, owner)
    }

    /// A load that read the database before a revocation committed, and finishes after the
    /// change was announced, is not cached: the next look-up sees the revocation.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn load_overlapping_a_revocation_is_not_cached(pool: PgPool) {
        let (svc, owner) = service(pool).await;
        let workspace = svc.list_workspaces(&owner).await.unwrap_or_default().remove(0);
        let kid = svc.list_keys(&owner, workspace.id).await.unwrap_or_default().remove(0).kid;
        svc.config.evict(&workspace.app_id);

        let pause = Arc::new(LoadPause::default());
        *lock(&svc.config.pause_next_load) = Some(pause.clone());
        let loading = tokio::spawn({
            let (svc, app_id) = (svc.clone(), workspace.app_id.clone());
            async move { svc.snapshot(&app_id).await }
        });
        pause.loaded.notified().await;
        // The revocation commits and its notification evicts, while the load holds old keys.
        svc.revoke_key(&owner, workspace.id, &kid).await.unwrap();
        svc.config.evict(&workspace.app_id);
        pause.proceed.notify_one();
        loading.await.unwrap().unwrap();

        let snapshot = svc.snapshot(&workspace.app_id).await.ok().flatten().unwrap();
        let key = snapshot.policy.keys.iter().find(|k| k.kid == kid).unwrap();
        assert_eq!(
            key.state,
            countersign_core::KeyState::Revoked,
            "the cached snapshot must not hold the key as it was"
        );
    }

    /// A snapshot is served from the cache while it is young, and loaded again at its first use
    /// past [`MAX_SNAPSHOT_AGE`]: a change whose announcement was lost still arrives.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_snapshot_past_its_age_is_loaded_again(pool: PgPool) {
        let (svc, owner) = service(pool).await;
        let app_id = svc.list_workspaces(&owner).await.unwrap_or_default().remove(0).app_id;
        let first = svc.snapshot(&app_id).await.unwrap().unwrap();
        let again = svc.snapshot(&app_id).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first, &again), "a young snapshot comes from the cache");
        drop((first, again));

        let cached = write(&svc.config.known).remove(&app_id).unwrap();
        // Only the cache holds it now.
        let mut aged = Arc::try_unwrap(cached).ok().unwrap();
        aged.loaded = Instant::now().checked_sub(MAX_SNAPSHOT_AGE + Duration::from_secs(1)).unwrap();
        let aged = Arc::new(aged);
        write(&svc.config.known).insert(app_id.clone(), aged.clone());

        let reloaded = svc.snapshot(&app_id).await.unwrap().unwrap();
        assert!(!Arc::ptr_eq(&aged, &reloaded), "an old snapshot is loaded again");
        assert!(!reloaded.is_stale());
        assert!(Arc::ptr_eq(&reloaded, &svc.snapshot(&app_id).await.unwrap().unwrap()), "and cached again");
    }

    /// Many look-ups of one app id while its load is under way wait for that load and share its
    /// snapshot: one load per app id in flight, however many requests ask at once.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn concurrent_look_ups_share_one_load(pool: PgPool) {
        let (svc, owner) = service(pool).await;
        let app_id = svc.list_workspaces(&owner).await.unwrap_or_default().remove(0).app_id;
        svc.config.evict(&app_id);

        let pause = Arc::new(LoadPause::default());
        *lock(&svc.config.pause_next_load) = Some(pause.clone());
        let look_up = || {
            let (svc, app_id) = (svc.clone(), app_id.clone());
            tokio::spawn(async move { svc.snapshot(&app_id).await.unwrap().unwrap() })
        };
        let first = look_up();
        pause.loaded.notified().await;
        let waiting: Vec<_> = (0..20).map(|_| look_up()).collect();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(svc.config.len().2, 1, "one load in flight for the app id");
        pause.proceed.notify_one();
        let loaded = first.await.unwrap();
        for other in waiting {
            assert!(Arc::ptr_eq(&other.await.unwrap(), &loaded), "every look-up got the one loaded snapshot");
        }
        assert_eq!(svc.config.len().2, 0, "no load left in flight");
    }

    /// An instance that cannot LISTEN at all (its direct connection is refused) polls the
    /// versions instead: another instance's revocation still reaches its snapshot within a
    /// second, and it says it is polling.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn without_listen_a_revocation_arrives_by_polling(pool: PgPool) {
        let (admin, owner) = service(pool.clone()).await;
        let workspace = admin.list_workspaces(&owner).await.unwrap_or_default().remove(0);
        let kid = admin.list_keys(&owner, workspace.id).await.unwrap_or_default().remove(0).kid;
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let polling = service_listening_on(pool, format!("postgres://postgres@127.0.0.1:{closed}/nowhere"));
        let before = polling.snapshot(&workspace.app_id).await.unwrap().unwrap();
        assert!(before.policy.keys.iter().all(|k| k.state != countersign_core::KeyState::Revoked));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(polling.config_change_feed(), ChangeFeed::Poll);

        admin.revoke_key(&owner, workspace.id, &kid).await.unwrap();
        assert_revoked_within_a_second(&polling, &workspace.app_id, &kid).await;
        assert!(polling.metrics.render().contains("countersign_config_changes_mode{mode=\"poll\"} 1"));
        assert_eq!(admin.config_change_feed(), ChangeFeed::Listen);
    }

    /// A `LISTEN` that succeeds but hears nothing (here: on another database than the one
    /// changes are notified in, as through a transaction-mode pooler) is never trusted: the
    /// instance polls, says so, and a revocation still arrives within a second.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn a_listen_that_hears_nothing_falls_back_to_polling(pool: PgPool) {
        let (admin, owner) = service(pool.clone()).await;
        let workspace = admin.list_workspaces(&owner).await.unwrap_or_default().remove(0);
        let kid = admin.list_keys(&owner, workspace.id).await.unwrap_or_default().remove(0).kid;
        let deaf = service_listening_on(pool, std::env::var("DATABASE_URL").unwrap());
        let before = deaf.snapshot(&workspace.app_id).await.unwrap().unwrap();
        assert!(before.policy.keys.iter().all(|k| k.state != countersign_core::KeyState::Revoked));
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            assert_eq!(deaf.config_change_feed(), ChangeFeed::Poll, "a feed that never heard itself is not trusted");
        }

        admin.revoke_key(&owner, workspace.id, &kid).await.unwrap();
        assert_revoked_within_a_second(&deaf, &workspace.app_id, &kid).await;
        assert!(deaf.metrics.render().contains("countersign_config_changes_mode{mode=\"poll\"} 1"));
        assert_eq!(admin.config_change_feed(), ChangeFeed::Listen, "a listener that hears itself is trusted");
    }

    /// A flood of distinct app ids keeps the cache within its bounds, and ids that cannot be
    /// app ids cost no entry at all.
    #[sqlx::test(migrator = "crate::MIGRATOR")]
    async fn unknown_app_ids_are_bounded(pool: PgPool) {
        let (svc, _) = service(pool).await;
        for i in 0..(MAX_UNKNOWN + 500) {
            assert!(svc.snapshot(&format!("app_{i:024x}")).await.ok().flatten().is_none());
        }
        let huge = "x".repeat(60 * 1024);
        assert!(svc.snapshot(&huge).await.ok().flatten().is_none());
        let (known, unknown, loading) = svc.config.len();
        assert!(known <= MAX_SNAPSHOTS && unknown <= MAX_UNKNOWN && loading == 0, "{known} {unknown} {loading}");
        assert!(!lock(&svc.config.unknown).contains_key(&huge));
    }
}
