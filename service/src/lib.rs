//! Countersign's application layer: every operation an admin or a script can perform, with its
//! permission check (`countersign_core::policy`), its audit row and its SQL. The HTTP API and the
//! dashboard's server functions are thin adapters over [`Service`].

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

pub mod accounts;
pub mod audit;
pub mod clock;
pub mod crypto;
pub mod error;
pub mod keys;
pub mod members;
pub mod password;
pub mod random;
pub mod web;
pub mod workspaces;

use std::sync::Arc;

use chrono::Duration;
use sqlx::PgPool;

pub use clock::Clock;
pub use error::{ErrorCode, ServiceError, ServiceResult};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

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
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            allow_signup: true,
            session_idle: Duration::hours(12),
            session_absolute: Duration::days(7),
            secure_cookies: false,
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
    pub pool: PgPool,
    pub clock: Clock,
    settings: Arc<Settings>,
    keyring: Arc<crypto::Keyring>,
    /// An argon2id hash of a random password, verified against when an email is unknown so
    /// that a wrong password and an unknown email take the same time.
    dummy_hash: Arc<str>,
}

impl Service {
    /// Builds the service. Hashes one dummy password (a few milliseconds).
    pub fn new(pool: PgPool, clock: Clock, settings: Settings, keyring: crypto::Keyring) -> ServiceResult<Self> {
        let dummy_hash = password::hash(&random::token(""))?;
        Ok(Service { pool, clock, settings: Arc::new(settings), keyring: Arc::new(keyring), dummy_hash: dummy_hash.into() })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
}
