//! Configuration, from the environment only. Every setting has a development default; the
//! unsafe ones say so loudly at start-up. A bad value stops start-up with one clear line.

use std::net::SocketAddr;

/// The server's configuration.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`: the main connection pool (may go through a connection pooler).
    pub database_url: String,
    /// `COUNTERSIGN_DB_POOLER`: what sits in front of Postgres on `DATABASE_URL` (`none` or
    /// `transaction`, for PgBouncer's `pool_mode = transaction`).
    pub db_pooler: countersign_service::db::Pooler,
    /// `COUNTERSIGN_DIRECT_DATABASE_URL`: a connection straight to Postgres, for what needs a
    /// session (LISTEN, migrations); `None` means `DATABASE_URL`.
    pub direct_database_url: Option<String>,
    /// `COUNTERSIGN_READ_DATABASE_URL`: a read replica for dashboard reads (log pages,
    /// exports, stats, contact look-ups); `None`: everything reads the primary.
    pub read_database_url: Option<String>,
    /// `COUNTERSIGN_MASTER_KEY`: 32 bytes, base64; encrypts workspace secrets at rest.
    pub master_key: [u8; 32],
    /// `COUNTERSIGN_OLD_MASTER_KEY`: the previous master key during a change (still opens).
    pub old_master_key: Option<[u8; 32]>,
    /// True when the master key is the built-in development key.
    pub master_key_is_dev_default: bool,
    /// `COUNTERSIGN_ADDR`: where to listen.
    pub addr: SocketAddr,
    /// `COUNTERSIGN_PUBLIC_URL`: the dashboard's URL as browsers see it.
    pub public_url: String,
    /// `COUNTERSIGN_ALLOW_SIGNUP`.
    pub allow_signup: bool,
    /// `COUNTERSIGN_LOG` (tracing filter syntax).
    pub log: String,
    /// `COUNTERSIGN_LOG_FORMAT`: `text` (default) or `json`, one object per line.
    pub log_format: LogFormat,
    /// `COUNTERSIGN_SESSION_IDLE_MINUTES`.
    pub session_idle_minutes: i64,
    /// `COUNTERSIGN_SESSION_MAX_HOURS`.
    pub session_max_hours: i64,
    /// `COUNTERSIGN_SPOOL_DIR`: where log rows wait while Postgres is unreachable.
    pub spool_dir: std::path::PathBuf,
    /// `COUNTERSIGN_LOG_RETENTION_DAYS`: verification log partitions older than this are dropped.
    pub log_retention_days: i64,
    /// `COUNTERSIGN_TRUSTED_PROXIES`: reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: countersign_service::web::TrustedProxies,
    /// `COUNTERSIGN_IDENTIFY_RATE_LIMIT`: identify calls per second per workspace (>= 1,000).
    pub identify_rate_limit: u32,
    /// `COUNTERSIGN_SIGNATURES_RATE_LIMIT`: `signatures` calls per second per workspace.
    pub signatures_rate_limit: u32,
    /// `COUNTERSIGN_MAX_CONNECTIONS`: HTTP connections served at once.
    pub max_connections: usize,
    /// `COUNTERSIGN_SMTP_ADDR` and `COUNTERSIGN_SMTP_FROM`: the relay invitations are emailed through.
    pub smtp: Option<countersign_service::mail::SmtpSettings>,
    /// `COUNTERSIGN_WEBHOOKS_ALLOW_PRIVATE`: webhooks may target private and loopback
    /// addresses, over http too (local receivers in tests; never in production).
    pub webhooks_allow_private: bool,
}

/// How log lines are written to standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the request's span (and its id) in each.
    Json,
}

/// HTTP connections served at once unless `COUNTERSIGN_MAX_CONNECTIONS` says otherwise: far
/// more than a load balancer keeps open, far fewer than the memory and descriptors they take.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// A development-only master key (base64 of 32 fixed bytes). Never use it in production.
pub const DEV_MASTER_KEY: &str = "Y291bnRlcnNpZ24tZGV2LW1hc3Rlci1rZXktMzJieXQ=";

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let get =
            |name: &str, default: &str| lookup(name).filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned());
        let master_raw = lookup("COUNTERSIGN_MASTER_KEY").filter(|v| !v.is_empty());
        let master_key_is_dev_default = master_raw.is_none();
        let master_key = parse_key(master_raw.as_deref().unwrap_or(DEV_MASTER_KEY))
            .map_err(|e| format!("COUNTERSIGN_MASTER_KEY {e}"))?;
        let old_master_key = match lookup("COUNTERSIGN_OLD_MASTER_KEY").filter(|v| !v.is_empty()) {
            Some(raw) => Some(parse_key(&raw).map_err(|e| format!("COUNTERSIGN_OLD_MASTER_KEY {e}"))?),
            None => None,
        };
        let addr_raw = get("COUNTERSIGN_ADDR", "127.0.0.1:3000");
        let addr = addr_raw
            .parse()
            .map_err(|_| format!("COUNTERSIGN_ADDR must be host:port, like 127.0.0.1:3000 (got {addr_raw:?})"))?;
        let public_url = get("COUNTERSIGN_PUBLIC_URL", &format!("http://{addr_raw}")).trim_end_matches('/').to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(format!("COUNTERSIGN_PUBLIC_URL must start with http:// or https:// (got {public_url:?})"));
        }
        let trusted_proxies =
            get("COUNTERSIGN_TRUSTED_PROXIES", "").parse().map_err(|e| format!("COUNTERSIGN_TRUSTED_PROXIES: {e}"))?;
        let smtp = match lookup("COUNTERSIGN_SMTP_ADDR").filter(|v| !v.is_empty()) {
            Some(addr) if !addr.contains(':') => {
                return Err(format!("COUNTERSIGN_SMTP_ADDR must be host:port, like 127.0.0.1:25 (got {addr:?})"))
            }
            Some(addr) => {
                let from = get("COUNTERSIGN_SMTP_FROM", "countersign@localhost");
                countersign_service::accounts::normalize_email(&from)
                    .map_err(|_| format!("COUNTERSIGN_SMTP_FROM must be an email address (got {from:?})"))?;
                Some(countersign_service::mail::SmtpSettings { addr, from })
            }
            None => None,
        };
        let db_pooler =
            countersign_service::db::Pooler::parse(&get("COUNTERSIGN_DB_POOLER", "none")).ok_or_else(|| {
                format!(
                    "COUNTERSIGN_DB_POOLER must be none or transaction (got {:?})",
                    lookup("COUNTERSIGN_DB_POOLER").unwrap_or_default()
                )
            })?;
        let direct_database_url = lookup("COUNTERSIGN_DIRECT_DATABASE_URL").filter(|v| !v.trim().is_empty());
        if db_pooler == countersign_service::db::Pooler::Transaction && direct_database_url.is_none() {
            return Err("COUNTERSIGN_DB_POOLER=transaction needs COUNTERSIGN_DIRECT_DATABASE_URL, a connection that bypasses the pooler (migrations and LISTEN need a session)".to_owned());
        }
        let read_database_url = lookup("COUNTERSIGN_READ_DATABASE_URL").filter(|v| !v.trim().is_empty());
        for (name, url) in [
            ("DATABASE_URL", lookup("DATABASE_URL")),
            ("COUNTERSIGN_DIRECT_DATABASE_URL", direct_database_url.clone()),
            ("COUNTERSIGN_READ_DATABASE_URL", read_database_url.clone()),
        ] {
            if let Some(url) = url.filter(|v| !v.is_empty()) {
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(format!("{name} must be a postgres:// URL"));
                }
            }
        }
        Ok(Config {
            database_url: get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/countersign"),
            db_pooler,
            direct_database_url,
            read_database_url,
            master_key,
            old_master_key,
            master_key_is_dev_default,
            addr,
            public_url,
            allow_signup: parse_bool("COUNTERSIGN_ALLOW_SIGNUP", &get("COUNTERSIGN_ALLOW_SIGNUP", "true"))?,
            log: {
                let filter = get("COUNTERSIGN_LOG", "info");
                tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| {
                    format!("COUNTERSIGN_LOG must be a log filter like info or countersign=debug,warn ({e})")
                })?;
                filter
            },
            log_format: match get("COUNTERSIGN_LOG_FORMAT", "text").as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => return Err(format!("COUNTERSIGN_LOG_FORMAT must be text or json (got {other:?})")),
            },
            session_idle_minutes: parse_positive(
                "COUNTERSIGN_SESSION_IDLE_MINUTES",
                &get("COUNTERSIGN_SESSION_IDLE_MINUTES", "720"),
            )?,
            session_max_hours: parse_positive(
                "COUNTERSIGN_SESSION_MAX_HOURS",
                &get("COUNTERSIGN_SESSION_MAX_HOURS", "168"),
            )?,
            spool_dir: get("COUNTERSIGN_SPOOL_DIR", "spool").into(),
            log_retention_days: parse_positive(
                "COUNTERSIGN_LOG_RETENTION_DAYS",
                &get("COUNTERSIGN_LOG_RETENTION_DAYS", "30"),
            )?,
            trusted_proxies,
            identify_rate_limit: parse_rate(
                "COUNTERSIGN_IDENTIFY_RATE_LIMIT",
                &get("COUNTERSIGN_IDENTIFY_RATE_LIMIT", &countersign_service::DEFAULT_IDENTIFY_RATE_LIMIT.to_string()),
                countersign_service::MIN_IDENTIFY_RATE_LIMIT,
            )?,
            signatures_rate_limit: parse_rate(
                "COUNTERSIGN_SIGNATURES_RATE_LIMIT",
                &get(
                    "COUNTERSIGN_SIGNATURES_RATE_LIMIT",
                    &countersign_service::DEFAULT_SIGNATURES_RATE_LIMIT.to_string(),
                ),
                1,
            )?,
            max_connections: parse_positive(
                "COUNTERSIGN_MAX_CONNECTIONS",
                &get("COUNTERSIGN_MAX_CONNECTIONS", &DEFAULT_MAX_CONNECTIONS.to_string()),
            )?
            .try_into()
            .map_err(|_| "COUNTERSIGN_MAX_CONNECTIONS is too large".to_owned())?,
            smtp,
            webhooks_allow_private: parse_bool(
                "COUNTERSIGN_WEBHOOKS_ALLOW_PRIVATE",
                &get("COUNTERSIGN_WEBHOOKS_ALLOW_PRIVATE", "false"),
            )?,
        })
    }

    /// Settings of the application layer derived from this configuration.
    pub fn service_settings(&self) -> countersign_service::Settings {
        countersign_service::Settings {
            allow_signup: self.allow_signup,
            session_idle: chrono::Duration::minutes(self.session_idle_minutes),
            session_absolute: chrono::Duration::hours(self.session_max_hours),
            secure_cookies: self.public_url.starts_with("https://"),
            public_url: self.public_url.clone(),
            spool_dir: self.spool_dir.clone(),
            identify_rate_limit: self.identify_rate_limit,
            signatures_rate_limit: self.signatures_rate_limit,
            smtp: self.smtp.clone(),
            webhooks_allow_private: self.webhooks_allow_private,
            direct_database_url: self.direct_database_url.clone(),
        }
    }
}

impl Config {
    /// The keyring that seals and opens workspace secrets.
    pub fn keyring(&self) -> countersign_service::crypto::Keyring {
        use countersign_service::crypto::{Keyring, MasterKey};
        Keyring { current: MasterKey::new(self.master_key), previous: self.old_master_key.map(MasterKey::new) }
    }
}

/// Decodes a base64 (standard or url-safe) 32-byte key.
pub fn parse_key(raw: &str) -> Result<[u8; 32], String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let raw = raw.trim();
    let bytes = STANDARD
        .decode(raw)
        .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
        .map_err(|_| "must be base64 of 32 random bytes (try: openssl rand -base64 32)".to_owned())?;
    bytes.try_into().map_err(|_| "must decode to exactly 32 bytes (try: openssl rand -base64 32)".to_owned())
}

fn parse_bool(name: &str, raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(format!("{name} must be true or false (got {raw:?})")),
    }
}

/// A requests-per-second limit of at least `min`.
fn parse_rate(name: &str, raw: &str, min: u32) -> Result<u32, String> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|rate| *rate >= min)
        .ok_or_else(|| format!("{name} must be a whole number of requests per second, at least {min} (got {raw:?})"))
}

fn parse_positive(name: &str, raw: &str) -> Result<i64, String> {
    raw.parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| format!("{name} must be a positive whole number (got {raw:?})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    /// With nothing set, every default applies and the dev master key is flagged.
    #[test]
    fn defaults() -> Result<(), String> {
        let c = config(&[])?;
        assert!(c.master_key_is_dev_default);
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert!(c.allow_signup);
        assert!(!c.service_settings().secure_cookies);
        assert!(c.trusted_proxies.is_empty(), "no proxy is trusted unless configured");
        assert!(c.smtp.is_none());
        Ok(())
    }

    /// Bad values are refused with a line naming the variable.
    #[test]
    fn bad_values() {
        for (name, value) in [
            ("COUNTERSIGN_MASTER_KEY", "short"),
            ("COUNTERSIGN_ADDR", "nowhere"),
            ("COUNTERSIGN_ALLOW_SIGNUP", "maybe"),
            ("COUNTERSIGN_PUBLIC_URL", "ftp://x"),
            ("COUNTERSIGN_SESSION_IDLE_MINUTES", "-1"),
            ("COUNTERSIGN_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local"),
            ("COUNTERSIGN_SMTP_ADDR", "localhost"),
            ("COUNTERSIGN_IDENTIFY_RATE_LIMIT", "999"),
            ("COUNTERSIGN_IDENTIFY_RATE_LIMIT", "fast"),
            ("COUNTERSIGN_SIGNATURES_RATE_LIMIT", "0"),
            ("COUNTERSIGN_LOG_FORMAT", "yaml"),
            ("COUNTERSIGN_LOG", "countersign=loud"),
            ("COUNTERSIGN_LOG_RETENTION_DAYS", "0"),
            ("COUNTERSIGN_DB_POOLER", "statement"),
            ("COUNTERSIGN_DB_POOLER", "transaction"),
            ("COUNTERSIGN_DIRECT_DATABASE_URL", "mysql://db/countersign"),
            ("COUNTERSIGN_READ_DATABASE_URL", "replica:5432"),
            ("DATABASE_URL", "mysql://db/countersign"),
            ("COUNTERSIGN_OLD_MASTER_KEY", "short"),
            ("COUNTERSIGN_SESSION_MAX_HOURS", "0"),
            ("COUNTERSIGN_SESSION_MAX_HOURS", "a day"),
            ("COUNTERSIGN_MAX_CONNECTIONS", "0"),
            ("COUNTERSIGN_MAX_CONNECTIONS", "unlimited"),
        ] {
            let err = config(&[(name, value)]).err().unwrap_or_default();
            assert!(err.starts_with(name), "{name}: {err}");
        }
        // The sender is read only when there is a relay to send through.
        let err = config(&[("COUNTERSIGN_SMTP_ADDR", "127.0.0.1:25"), ("COUNTERSIGN_SMTP_FROM", "not an address")])
            .err()
            .unwrap_or_default();
        assert!(err.starts_with("COUNTERSIGN_SMTP_FROM"), "{err}");
    }

    /// Behind a transaction-mode pooler, with the direct URL set.
    #[test]
    fn transaction_pooler() -> Result<(), String> {
        let c = config(&[
            ("COUNTERSIGN_DB_POOLER", "transaction"),
            ("COUNTERSIGN_DIRECT_DATABASE_URL", "postgres://postgres@db:5432/countersign"),
        ])?;
        assert_eq!(c.db_pooler, countersign_service::db::Pooler::Transaction);
        assert_eq!(
            c.service_settings().direct_database_url.as_deref(),
            Some("postgres://postgres@db:5432/countersign")
        );
        assert_eq!(config(&[])?.db_pooler, countersign_service::db::Pooler::None);
        Ok(())
    }

    /// An https public URL turns on Secure cookies.
    #[test]
    fn https_means_secure_cookies() -> Result<(), String> {
        let c = config(&[("COUNTERSIGN_PUBLIC_URL", "https://cs.example.com/")])?;
        assert_eq!(c.public_url, "https://cs.example.com");
        assert!(c.service_settings().secure_cookies);
        Ok(())
    }
}
