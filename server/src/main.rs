//! `countersign-server [serve|migrate|seed-demo|rekey]`: configuration from the environment only.

use std::process::ExitCode;

use countersign_server::config::LogFormat;
use countersign_server::listen::ConnectionLimit;
use countersign_server::{app, AppState, Config};
use countersign_service::db::Db;
use countersign_service::{Clock, Service};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Connection;

/// Identify allocates many small, short-lived values per request on every worker thread;
/// mimalloc's per-thread heaps serve them faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The demo login printed by `seed-demo`.
const DEMO_EMAIL: &str = "demo@countersign.local";
const DEMO_PASSWORD: &str = "countersign-demo";

/// What `--help` prints.
const USAGE: &str = "\
Countersign: identity verification for embedded messengers.

Usage: countersign-server [COMMAND]

Commands:
  serve       migrate, then serve the API and the dashboard (the default)
  migrate     apply the database migrations and exit
  seed-demo   migrate, then create or refresh the demo workspace and print its login
  rekey       re-encrypt every secret under COUNTERSIGN_MASTER_KEY (after a master key change)
  help        print this text (also -h, --help)

Configuration comes from the environment only; every setting has a development default:
  DATABASE_URL                        postgres://postgres@127.0.0.1:5432/countersign
  COUNTERSIGN_DB_POOLER               none or transaction: a pooler in transaction mode (PgBouncer pool_mode =
                                      transaction) sits on DATABASE_URL; statements are then unnamed and each
                                      runs in a transaction (none)
  COUNTERSIGN_DIRECT_DATABASE_URL     straight to Postgres, for migrations and LISTEN (DATABASE_URL); required
                                      with COUNTERSIGN_DB_POOLER=transaction
  COUNTERSIGN_READ_DATABASE_URL       a read replica for log pages, exports, stats and contact look-ups (unset:
                                      the primary); COUNTERSIGN_DB_POOLER applies to it too
  COUNTERSIGN_MASTER_KEY              base64 of 32 random bytes; encrypts secrets at rest (set it!)
  COUNTERSIGN_OLD_MASTER_KEY          the previous master key, during a change
  COUNTERSIGN_ADDR                    host:port to listen on (127.0.0.1:3000)
  COUNTERSIGN_PUBLIC_URL              the dashboard's URL as browsers see it (https turns on HSTS, Secure cookies)
  COUNTERSIGN_ALLOW_SIGNUP            true or false (true)
  COUNTERSIGN_LOG                     log filter, like info or countersign_service=debug (info)
  COUNTERSIGN_LOG_FORMAT              text or json (text)
  COUNTERSIGN_SESSION_IDLE_MINUTES    sign-out after this idle time (720)
  COUNTERSIGN_SESSION_MAX_HOURS       sign-out after this time in all (168)
  COUNTERSIGN_SPOOL_DIR               where log rows wait while Postgres is unreachable (spool)
  COUNTERSIGN_LOG_RETENTION_DAYS      verification log retention (30)
  COUNTERSIGN_TRUSTED_PROXIES         comma-separated proxy addresses or CIDRs whose X-Forwarded-For is believed
  COUNTERSIGN_IDENTIFY_RATE_LIMIT     identify calls per second per workspace, at least 1000
  COUNTERSIGN_SIGNATURES_RATE_LIMIT   signatures calls per second per workspace
  COUNTERSIGN_MAX_CONNECTIONS         HTTP connections served at once; more wait to be accepted (4096)
  COUNTERSIGN_SMTP_ADDR, _SMTP_FROM   the relay invitations are emailed through
  COUNTERSIGN_WEBHOOKS_ALLOW_PRIVATE  let webhooks reach private addresses (tests only)

A bad value stops start-up with one line naming the variable (exit status 2).
";

/// How long `serve` waits, after SIGTERM or Ctrl-C, for the requests under way to finish.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".to_owned());
    if matches!(command.as_str(), "help" | "-h" | "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if !matches!(command.as_str(), "serve" | "migrate" | "seed-demo" | "rekey") {
        eprintln!("countersign: unknown command {command:?}; see countersign-server --help");
        return ExitCode::from(2);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(line) => {
            eprintln!("countersign: configuration error: {line}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().with_span_list(false).init(),
    }
    match run(&command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("countersign: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &str, config: Config) -> Result<(), String> {
    // Migrations take a session advisory lock: on the direct connection, never through a pooler.
    let direct_url = config.direct_database_url.as_deref().unwrap_or(&config.database_url);
    let direct_name =
        if config.direct_database_url.is_some() { "COUNTERSIGN_DIRECT_DATABASE_URL" } else { "DATABASE_URL" };
    let mut direct =
        sqlx::PgConnection::connect(direct_url).await.map_err(|e| format!("cannot connect to {direct_name}: {e}"))?;
    countersign_service::MIGRATOR.run(&mut direct).await.map_err(|e| format!("migrations failed: {e}"))?;
    let _ = direct.close().await;
    let options: PgConnectOptions =
        config.database_url.parse().map_err(|e| format!("DATABASE_URL is not a usable URL: {e}"))?;
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(std::time::Duration::from_secs(5))
        // A broken connection fails its query and is replaced; a ping before every use would
        // cost a round trip per group commit.
        .test_before_acquire(false)
        .connect_with(config.db_pooler.connect_options(options))
        .await
        .map_err(|e| format!("cannot connect to DATABASE_URL: {e}"))?;
    let db = Db::new(pool, config.db_pooler);
    let mut svc =
        Service::new(db, Clock::system(), config.service_settings(), config.keyring()).map_err(|e| e.to_string())?;
    if let Some(url) = &config.read_database_url {
        let options: PgConnectOptions =
            url.parse().map_err(|e| format!("COUNTERSIGN_READ_DATABASE_URL is not a usable URL: {e}"))?;
        // Lazy: a replica that is down fails the reads it serves, not the start-up.
        let replica = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(std::time::Duration::from_secs(5))
            .connect_lazy_with(config.db_pooler.connect_options(options));
        svc = svc.with_read_replica(Db::new(replica, config.db_pooler));
    }
    match command {
        "migrate" => Ok(()),
        "seed-demo" => {
            // The demo's traffic must land in today's partition: rows of today in the default
            // one would keep that partition from being created when the server starts.
            svc.maintain_log_partitions(config.log_retention_days).await.map_err(|e| e.to_string())?;
            svc.seed_demo(DEMO_EMAIL, DEMO_PASSWORD, "Demo workspace").await.map_err(|e| e.to_string())?;
            println!("Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}");
            Ok(())
        }
        "rekey" => {
            let count = svc.rekey_all().await.map_err(|e| e.to_string())?;
            println!("Re-encrypted {count} secrets under the current COUNTERSIGN_MASTER_KEY.");
            Ok(())
        }
        _ => serve(svc, config).await,
    }
}

async fn serve(svc: Service, config: Config) -> Result<(), String> {
    if config.master_key_is_dev_default {
        tracing::warn!("COUNTERSIGN_MASTER_KEY is not set: using the built-in DEVELOPMENT key. Secrets at rest are NOT protected. Set it in production.");
    }
    // cargo-leptos bakes the site's settings into the binary; a plain `cargo build` does not
    // (and leptos would complain on standard error), so fall back to the project's own
    // (LEPTOS_SITE_ROOT still applies).
    let baked = option_env!("LEPTOS_OUTPUT_NAME").and_then(|_| leptos::config::get_configuration(None).ok());
    let mut leptos_options = match baked {
        Some(conf) => conf.leptos_options,
        None => leptos::config::LeptosOptions::builder()
            .output_name("countersign")
            .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()))
            .build(),
    };
    leptos_options.site_addr = config.addr;
    // A build with hashed asset names leaves their manifest beside the binary; serving it is
    // what lets browsers cache those assets for good.
    if std::env::var_os("LEPTOS_HASH_FILES").is_none() {
        leptos_options.hash_files = std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join(&*leptos_options.hash_file)))
            .is_some_and(|manifest| manifest.is_file());
    }
    svc.maintain_log_partitions(config.log_retention_days).await.map_err(|e| e.to_string())?;
    let maintenance = svc.clone();
    let retention = config.log_retention_days;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            if let Err(err) = maintenance.maintain_log_partitions(retention).await {
                tracing::warn!(error = %err, "verification log maintenance failed");
            }
        }
    });
    let addr = config.addr;
    let public_url = config.public_url.clone();
    let limit = ConnectionLimit { max: config.max_connections, open: svc.metrics.http_connections.clone() };
    let state = AppState::new(leptos_options, svc, config);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!("Countersign listening on {addr}; dashboard at {public_url}");
    countersign_server::listen::serve(listener, app(state), shutdown_signal(), DRAIN_TIMEOUT, limit).await;
    tracing::info!("Countersign stopped");
    Ok(())
}

/// Completes on SIGTERM (what service managers and orchestrators send) or Ctrl-C.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; only Ctrl-C stops the server");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: no new connections; finishing the requests under way");
}
