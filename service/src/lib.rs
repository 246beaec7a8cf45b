//! Countersign's application layer: every operation an admin or a script can perform, with its
//! permission check (`countersign_core::policy`), its audit row and its SQL. The HTTP API and the
//! dashboard's server functions are thin adapters over [`Service`].

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

pub mod accounts;
pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
mod demo;
pub mod error;
pub mod identify;
pub mod ingest;
pub mod invitations;
pub mod keys;
pub mod logs;
pub mod mail;
pub mod members;
pub mod metrics;
pub mod overview;
pub mod password;
pub mod random;
pub mod rate;
pub mod retention;
pub mod security;
pub mod sessions;
pub mod snippets;
pub mod stats;
pub mod tenant;
pub mod throttle;
pub mod web;
pub mod webhooks;
pub mod workspaces;

use std::sync::Arc;

use chrono::Duration;

pub use clock::Clock;
pub use error::{ErrorCode, ServiceError, ServiceResult};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Identify calls per second a workspace may make unless configured otherwise.
pub const DEFAULT_IDENTIFY_RATE_LIMIT: u32 = 10_000;
/// `signatures` calls per second a workspace may make unless configured otherwise.
pub const DEFAULT_SIGNATURES_RATE_LIMIT: u32 = 1_000;
/// The log page mentions the read replica's lag when it is over this.
pub const REPLICA_LAG_NOTICE: std::time::Duration = std::time::Duration::from_secs(5);
/// The lowest identify rate limit the contract allows.
pub const MIN_IDENTIFY_RATE_LIMIT: u32 = 1_000;

/// Settings of the application layer, read from the environment by the server.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Whether `POST /api/v1/auth/signup` creates accounts.
    pub allow_signup: bool,
    /// A session unused for this long ends.
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not.
    pub session_absolute: Duration,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// The dashboard's URL as browsers see it, for links sent to people (invitations).
    pub public_url: String,
    /// Where verification log rows wait while Postgres is unreachable.
    pub spool_dir: std::path::PathBuf,
    /// Identify calls per second one workspace may make (at least 1,000 by the contract).
    pub identify_rate_limit: u32,
    /// `signatures` calls per second one workspace may make.
    pub signatures_rate_limit: u32,
    /// The SMTP relay invitation links are emailed through; none, and they are only shown.
    pub smtp: Option<mail::SmtpSettings>,
    /// Whether webhooks may target private, loopback and link-local addresses, over plain
    /// http too (`COUNTERSIGN_WEBHOOKS_ALLOW_PRIVATE=1`: local receivers in tests only).
    pub webhooks_allow_private: bool,
    /// A connection straight to Postgres (bypassing any pooler) for what needs a session: the
    /// configuration listener's `LISTEN`. `None`: the main pool's connection options.
    pub direct_database_url: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_signup: true,
            session_idle: Duration::hours(12),
            session_absolute: Duration::days(7),
            secure_cookies: false,
            public_url: "http://127.0.0.1:3000".to_owned(),
            spool_dir: std::path::PathBuf::from("spool"),
            identify_rate_limit: DEFAULT_IDENTIFY_RATE_LIMIT,
            signatures_rate_limit: DEFAULT_SIGNATURES_RATE_LIMIT,
            smtp: None,
            webhooks_allow_private: false,
            direct_database_url: None,
        }
    }
}

/// Who made a request and from where, for audit rows and throttling.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A signed-in caller: an account, authenticated by session or personal access token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub account_id: uuid::Uuid,
    pub email: String,
    pub meta: RequestMeta,
}

/// The application: a pool, a clock and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    pub pool: db::Db,
    /// The read replica dashboard reads go to (`COUNTERSIGN_READ_DATABASE_URL`), if any.
    read_pool: Option<db::Db>,
    /// A few connections of their own for webhook delivery and alert checks, so that slow
    /// receivers or an outage never take connections from requests.
    webhook_pool: db::Db,
    pub clock: Clock,
    settings: Arc<Settings>,
    keyring: Arc<crypto::Keyring>,
    pub(crate) config: Arc<config::ConfigCache>,
    ingest: Arc<ingest::Ingest>,
    /// Open while the database is known to be unreachable.
    breaker: Arc<ingest::Breaker>,
    /// Prometheus metrics of this instance.
    pub metrics: Arc<metrics::Metrics>,
    /// Runs argon2 off the async workers, a bounded number at a time.
    passwords: password::Hasher,
    /// An argon2id hash of a random password, verified against when an email is unknown so
    /// that a wrong password and an unknown email take the same time. Made on first use.
    dummy_hash: Arc<tokio::sync::OnceCell<String>>,
    /// The live tails' pollers, one per tailed workspace.
    tail: Arc<logs::TailHub>,
}

impl Service {
    /// Builds the service and starts its background tasks: the log writers, the spool
    /// replayer and the configuration listener (so it must run inside a Tokio runtime).
    pub fn new(
        pool: impl Into<db::Db>,
        clock: Clock,
        settings: Settings,
        keyring: crypto::Keyring,
    ) -> ServiceResult<Self> {
        let pool: db::Db = pool.into();
        let metrics = Arc::new(metrics::Metrics::new().map_err(ServiceError::internal)?);
        let breaker = Arc::new(ingest::Breaker::default());
        let ingest = ingest::Ingest::start(pool.clone(), settings.spool_dir.clone(), metrics.clone(), breaker.clone());
        let webhook_pool = webhooks::background_pool(&pool);
        let service = Service {
            pool,
            read_pool: None,
            webhook_pool,
            clock,
            settings: Arc::new(settings),
            keyring: Arc::new(keyring),
            config: Arc::new(config::ConfigCache::default()),
            ingest: Arc::new(ingest),
            breaker,
            metrics,
            passwords: password::Hasher::per_cpu(),
            dummy_hash: Arc::default(),
            tail: Arc::default(),
        };
        tokio::spawn(service.clone().listen_for_config_changes());
        service.start_webhook_workers();
        Ok(service)
    }

    /// Serves dashboard reads that may lag (log pages, exports, stats, contact look-ups) from
    /// `replica`; writes, identify's configuration and reads of one's own writes stay on the
    /// primary.
    pub fn with_read_replica(mut self, replica: db::Db) -> Self {
        self.read_pool = Some(replica);
        self
    }

    /// The read replica's lag behind the primary: `None` without a replica, zero when it has
    /// replayed everything it received, else the age of the last transaction it replayed.
    pub async fn read_replica_lag(&self) -> ServiceResult<Option<std::time::Duration>> {
        let Some(replica) = &self.read_pool else { return Ok(None) };
        let seconds: Option<f64> = db::query_scalar(
            "SELECT CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
                         ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END::float8",
        )
        .fetch_one(replica)
        .await?;
        Ok(Some(std::time::Duration::from_secs_f64(seconds.unwrap_or(0.0).max(0.0))))
    }

    /// What the log page says of the replica it reads: its lag in whole seconds when over
    /// [`REPLICA_LAG_NOTICE`], else nothing. Members only.
    pub async fn log_replica_lag_notice(&self, actor: &Actor, workspace_id: uuid::Uuid) -> ServiceResult<Option<u64>> {
        drop(self.tenant(actor, workspace_id, countersign_core::policy::Action::View).await?);
        let lag = self.read_replica_lag().await?;
        Ok(lag.filter(|lag| *lag > REPLICA_LAG_NOTICE).map(|lag| lag.as_secs()))
    }

    /// Attempts waiting in the local spool for Postgres.
    pub async fn spooled_attempts(&self) -> usize {
        self.ingest.spooled().await
    }

    /// Whether the database is known to be unreachable (the circuit breaker is open).
    pub fn database_breaker_open(&self) -> bool {
        self.breaker.is_open()
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The hash an unknown email's password is checked against.
    async fn dummy_hash(&self) -> ServiceResult<&str> {
        let hash = self.dummy_hash.get_or_try_init(|| async { self.passwords.hash(&random::token("")).await }).await?;
        Ok(hash.as_str())
    }
}
