//! The in-memory configuration snapshot identify verifies against: one `WorkspacePolicy` per
//! app id, loaded on first use and evicted on every instance through Postgres `NOTIFY` when
//! anything it holds changes. While Postgres is unreachable, the last snapshot keeps serving.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use countersign_core::WorkspacePolicy;
use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::ServiceResult;
use crate::security::{load_attributes, SecurityRow, SECURITY_COLUMNS};
use crate::Service;

/// The `NOTIFY` channel; the payload is the app id whose configuration changed.
pub const CHANNEL: &str = "countersign_config";
/// How long an unknown app id is remembered as unknown (creation notifies, so this is a bound
/// on database load from random ids, not on how soon a new workspace works).
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// Tells every instance that the configuration of `app_id` changed (sent at commit).
pub async fn notify_changed(conn: &mut PgConnection, app_id: &str) -> ServiceResult<()> {
    sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(app_id).execute(conn).await?;
    Ok(())
}

/// A workspace's configuration as identify sees it.
#[derive(Debug)]
pub struct Snapshot {
    pub workspace_id: Uuid,
    pub policy: WorkspacePolicy,
    /// The cache generation it was loaded in; older ones are refreshed when possible.
    generation: u64,
}

enum Entry {
    Known(Arc<Snapshot>),
    Unknown(Instant),
}

/// The cache of snapshots by app id.
#[derive(Default)]
pub struct ConfigCache {
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped when notifications may have been missed (listener reconnected): every entry
    /// loaded before is then refreshed on next use, or kept if the database is down.
    generation: AtomicU64,
}

impl ConfigCache {
    fn get(&self, app_id: &str) -> Option<Option<Arc<Snapshot>>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(app_id)? {
            Entry::Known(snapshot) => Some(Some(snapshot.clone())),
            Entry::Unknown(since) if since.elapsed() < NEGATIVE_TTL => Some(None),
            Entry::Unknown(_) => None,
        }
    }

    fn put(&self, app_id: &str, entry: Entry) {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).insert(app_id.to_owned(), entry);
    }

    /// Forgets one app id (its configuration changed).
    pub fn evict(&self, app_id: &str) {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).remove(app_id);
    }

    /// Marks every entry stale.
    pub fn mark_all_stale(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
    }
}

impl Service {
    /// The configuration snapshot of `app_id`, `None` if no workspace has it.
    pub async fn snapshot(&self, app_id: &str) -> ServiceResult<Option<Arc<Snapshot>>> {
        let generation = self.config.generation.load(Ordering::Relaxed);
        let cached = self.config.get(app_id);
        match cached {
            Some(Some(snapshot)) if snapshot.generation == generation => return Ok(Some(snapshot)),
            Some(None) => return Ok(None),
            _ => {}
        }
        match self.load_snapshot(app_id, generation).await {
            Ok(Some(snapshot)) => {
                let snapshot = Arc::new(snapshot);
                self.config.put(app_id, Entry::Known(snapshot.clone()));
                Ok(Some(snapshot))
            }
            Ok(None) => {
                self.config.put(app_id, Entry::Unknown(Instant::now()));
                Ok(None)
            }
            // Database down: a stale snapshot is better than refusing to verify.
            Err(err) => match cached {
                Some(Some(stale)) => Ok(Some(stale)),
                _ => Err(err),
            },
        }
    }

    async fn load_snapshot(&self, app_id: &str, generation: u64) -> ServiceResult<Option<Snapshot>> {
        let mut conn = self.pool.acquire().await?;
        let row: Option<(Uuid, SecurityRow)> = sqlx::query_as::<_, SecurityRowWithId>(&format!(
            "SELECT id, {SECURITY_COLUMNS} FROM workspaces WHERE app_id = $1"
        ))
        .bind(app_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| (r.id, r.row));
        let Some((workspace_id, row)) = row else { return Ok(None) };
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
        policy.attributes = load_attributes(&mut conn, workspace_id).await?;
        drop(conn);
        policy.keys = self.verification_keys(workspace_id).await?;
        Ok(Some(Snapshot { workspace_id, policy, generation }))
    }

    /// Listens for configuration changes until the process ends; reconnects by itself.
    pub async fn listen_for_config_changes(self, ready: Option<tokio::sync::oneshot::Sender<()>>) {
        let mut ready = ready;
        loop {
            let mut listener = match connect_listener(&self.pool).await {
                Ok(listener) => listener,
                Err(err) => {
                    tracing::warn!(error = %err, "configuration listener cannot connect; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // Changes made while we were not listening were missed.
            self.config.mark_all_stale();
            if let Some(tx) = ready.take() {
                let _ = tx.send(());
            }
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => self.config.evict(notification.payload()),
                    Ok(None) => {
                        self.config.mark_all_stale();
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "configuration listener lost its connection");
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn connect_listener(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[derive(sqlx::FromRow)]
struct SecurityRowWithId {
    id: Uuid,
    #[sqlx(flatten)]
    row: SecurityRow,
}
