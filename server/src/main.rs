//! `countersign-server [serve|migrate|seed-demo|rekey]`: configuration from the environment only.

use std::process::ExitCode;

use countersign_server::{app, AppState, Config};
use countersign_service::{Clock, Service};
use sqlx::postgres::PgPoolOptions;

/// Identify allocates many small, short-lived values per request on every worker thread;
/// mimalloc's per-thread heaps serve them faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The demo login printed by `seed-demo`.
const DEMO_EMAIL: &str = "demo@countersign.local";
const DEMO_PASSWORD: &str = "countersign-demo";

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(line) => {
            eprintln!("countersign: configuration error: {line}");
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&config.log).unwrap_or_else(|_| "info".into()))
        .init();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".to_owned());
    match run(&command, config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(line) => {
            eprintln!("countersign: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &str, config: Config) -> Result<(), String> {
    let pool = PgPoolOptions::new()
        .max_connections(20)
        .acquire_timeout(std::time::Duration::from_secs(5))
        // A broken connection fails its query and is replaced; a ping before every use would
        // cost a round trip per group commit.
        .test_before_acquire(false)
        .connect(&config.database_url)
        .await
        .map_err(|e| format!("cannot connect to DATABASE_URL: {e}"))?;
    countersign_service::MIGRATOR.run(&pool).await.map_err(|e| format!("migrations failed: {e}"))?;
    let svc =
        Service::new(pool, Clock::system(), config.service_settings(), config.keyring()).map_err(|e| e.to_string())?;
    match command {
        "migrate" => Ok(()),
        "seed-demo" => {
            svc.seed_demo(DEMO_EMAIL, DEMO_PASSWORD, "Demo workspace").await.map_err(|e| e.to_string())?;
            println!("Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}");
            Ok(())
        }
        "rekey" => {
            let count = svc.rekey_all().await.map_err(|e| e.to_string())?;
            println!("Re-encrypted {count} secrets under the current COUNTERSIGN_MASTER_KEY.");
            Ok(())
        }
        "serve" => serve(svc, config).await,
        other => Err(format!("unknown command {other:?}; use serve, migrate, seed-demo or rekey")),
    }
}

async fn serve(svc: Service, config: Config) -> Result<(), String> {
    if config.master_key_is_dev_default {
        tracing::warn!("COUNTERSIGN_MASTER_KEY is not set: using the built-in DEVELOPMENT key. Secrets at rest are NOT protected. Set it in production.");
    }
    // cargo-leptos bakes the site's settings into the binary; a plain `cargo build` does not,
    // so fall back to the project's own (LEPTOS_SITE_ROOT still applies).
    let mut leptos_options = match leptos::config::get_configuration(None) {
        Ok(conf) => conf.leptos_options,
        Err(_) => leptos::config::LeptosOptions::builder()
            .output_name("countersign")
            .site_root(std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()))
            .build(),
    };
    leptos_options.site_addr = config.addr;
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
    let state = AppState::new(leptos_options, svc, config);
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    tracing::info!("Countersign listening on {addr}; dashboard at {public_url}");
    countersign_server::listen::serve(listener, app(state), async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(())
}
