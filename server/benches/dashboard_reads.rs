//! Server time of the dashboard's reads that sum traffic (the overview and the Keys page) and of
//! the log explorer's searches (each filter, combinations, ones that match nothing) on a log
//! seeded by `bench/seed_logs.sh`, through the product's own service functions, so what is timed
//! is what ships (the rollup look-up that narrows a search included):
//!
//!   BENCH_DATABASE_URL=postgres://…/countersign_bench cargo bench -p countersign-server --bench dashboard_reads
//!
//! Prints the median and slowest of 15 calls each (after 3 warm-up calls). Without
//! `BENCH_DATABASE_URL` it says how to run and exits.

use std::time::{Duration, Instant};

use countersign_service::crypto::{Keyring, MasterKey};
use countersign_service::logs::LogFilter;
use countersign_service::{Actor, Clock, RequestMeta, Service, Settings};
use uuid::Uuid;

/// The workspace `bench/seed_logs.sh` fills.
const WORKSPACE: &str = "00000000-0000-7000-8000-00000000be9c";
const ACCOUNT: &str = "00000000-0000-7000-8000-0000000acc01";

async fn time<F, Fut, T>(name: &str, mut call: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = countersign_service::ServiceResult<T>>,
{
    for _ in 0..3 {
        call().await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
    }
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..15 {
        let started = Instant::now();
        call().await.unwrap_or_else(|e| panic!("{name}: {e:?}"));
        times.push(started.elapsed());
    }
    times.sort();
    println!("{name:<28} median {:>8.2?}   max {:>8.2?}", times[times.len() / 2], times[times.len() - 1]);
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("BENCH_DATABASE_URL") else {
        println!("set BENCH_DATABASE_URL to a database seeded by bench/seed_logs.sh");
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new().max_connections(4).connect(&url).await.expect("connect");
    let workspace: Uuid = WORKSPACE.parse().expect("uuid");
    let account: Uuid = ACCOUNT.parse().expect("uuid");
    // An owner for the seeded workspace (the seeding writes rows, not people).
    sqlx::query("INSERT INTO accounts (id, email, password_hash, created_at) VALUES ($1, 'bench@example.com', '-', now()) ON CONFLICT DO NOTHING")
        .bind(account)
        .execute(&pool)
        .await
        .expect("account");
    sqlx::query("INSERT INTO members (workspace_id, account_id, role, created_at) VALUES ($1, $2, 'owner', now()) ON CONFLICT DO NOTHING")
        .bind(workspace)
        .bind(account)
        .execute(&pool)
        .await
        .expect("member");
    let rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM verification_log WHERE workspace_id = $1 AND at > now() - interval '24 hours'",
    )
    .bind(workspace)
    .fetch_one(&pool)
    .await
    .expect("count");
    println!("log rows of the workspace in the last 24 h: {rows}");
    let svc = Service::new(pool, Clock::system(), Settings::default(), Keyring::single(MasterKey::new([7; 32])))
        .expect("service");
    let actor = Actor { account_id: account, email: "bench@example.com".into(), meta: RequestMeta::default() };
    time("overview 24h", || svc.overview(&actor, workspace, Some("24h"))).await;
    time("overview 7d", || svc.overview(&actor, workspace, Some("7d"))).await;
    time("overview 30d", || svc.overview(&actor, workspace, Some("30d"))).await;
    time("keys page (list_keys)", || svc.list_keys(&actor, workspace)).await;
    time("security impact (7 d)", || svc.enforce_impact(&actor, workspace)).await;

    // RFC 3339 in UTC ("…Z"): nothing in it needs percent-encoding.
    let ago = |hours: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let (month, three_days, one_hour_earlier) = (ago(30 * 24), ago(72), ago(73));
    for (name, query) in [
        ("logs: no filter (7 days)", String::new()),
        ("logs: outcome=rejected", "outcome=rejected".into()),
        ("logs: outcome=would_reject", "outcome=would_reject".into()),
        ("logs: platform=android", "platform=android".into()),
        ("logs: android+would_reject (none)", "platform=android&outcome=would_reject".into()),
        ("logs: same, over 30 days", format!("platform=android&outcome=would_reject&from={month}")),
        ("logs: reason=token_expired", "reason=token_expired".into()),
        ("logs: user_id=user-4242", "user_id=user-4242".into()),
        ("logs: user_id=nobody (none)", "user_id=nobody".into()),
        ("logs: kid=kid_1", "kid=kid_1".into()),
        ("logs: kid=kid_9 (none)", "kid=kid_9".into()),
        ("logs: origin=app3", "origin=https://app3.example.com".into()),
        ("logs: origin=nowhere (none)", "origin=https://nowhere.example".into()),
        ("logs: origin=rare (2 rows, 6 days apart)", "origin=https://rare.example.com".into()),
        ("logs: kid_2+would_reject", "kid=kid_2&outcome=would_reject".into()),
        ("logs: unknown_key+ios+rejected", "reason=unknown_key&platform=ios&outcome=rejected".into()),
        ("logs: one hour, 3 days ago", format!("from={one_hour_earlier}&to={three_days}")),
    ] {
        let filter = LogFilter::from_query(&query, &[]).expect("filter");
        time(name, || svc.list_logs(&actor, workspace, &filter)).await;
    }
}
