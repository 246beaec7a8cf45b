//! A real Postgres restart under load: a private cluster (initdb, pg_ctl) is restarted while
//! clients keep identifying. Every attempt that got a `log_id` must end up in Postgres, and
//! the service must commit directly again afterwards without any help.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

use crate::support::{jwt, TestApp};

/// A throw-away Postgres cluster in a temp dir on a free port, run as the `postgres` user
/// when the tests run as root (Postgres refuses to run as root).
struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
}

impl PrivateCluster {
    fn start() -> PrivateCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path().join("bin"))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("PostgreSQL server binaries under /usr/lib/postgresql/*/bin");
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let data = std::env::temp_dir().join(format!("countersign-pg-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&data).expect("cluster dir");
        let cluster = PrivateCluster { bin, data, port };
        if is_root() {
            run(Command::new("chown").arg("postgres").arg(&cluster.data));
        }
        run(cluster.pg("initdb").arg("-D").arg(&cluster.data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8"]));
        cluster.ctl("start");
        cluster
    }

    /// A migrated app on this cluster, with the server's own pool settings (no ping before
    /// each use, a broken connection is replaced) and the given acquire timeout.
    async fn app(&self, acquire_timeout: Duration) -> Arc<TestApp> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .acquire_timeout(acquire_timeout)
            .test_before_acquire(false)
            .connect(&self.url())
            .await
            .expect("connect to the private cluster");
        countersign_service::MIGRATOR.run(&pool).await.expect("migrate");
        Arc::new(TestApp::new(pool).await)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// `pg_ctl <action>` with the cluster's options; `restart` uses fast shutdown, which
    /// aborts open transactions and closes every connection.
    fn ctl(&self, action: &str) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.data.display());
        let log = self.data.join("server.log");
        run(self
            .pg("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(log)
            .args(["-w", "-m", "fast", "-o", &options, action]));
    }

    fn pg(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.pg("pg_ctl").arg("-D").arg(&self.data).args(["-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.data);
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

fn run(command: &mut Command) {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_load_loses_no_acknowledged_attempt() {
    let cluster = PrivateCluster::start();
    let app = cluster.app(Duration::from_secs(2)).await;
    let ws = app.workspace("owner@example.com").await;

    let load_until = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (app, ws) = (app.clone(), (ws.app_id.clone(), ws.secret.clone(), ws.kid.clone()));
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                let mut refused = 0;
                while Instant::now() < load_until {
                    let token = jwt(&ws.1, &ws.2, json!({"user_id": format!("user-{client}")}));
                    let reply = app.identify(json!({"app_id": ws.0, "platform": "web", "user_jwt": token})).await;
                    match reply.status {
                        StatusCode::OK => acknowledged
                            .push(reply.body["log_id"].as_str().unwrap_or("").parse::<Uuid>().expect("log_id")),
                        // Refused attempts carry no promise; they must say so.
                        _ => {
                            assert_eq!(reply.code(), "unavailable", "{}", reply.body);
                            refused += 1;
                        }
                    }
                }
                (acknowledged, refused)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(800)).await;
    let restart = tokio::task::spawn_blocking(move || {
        cluster.ctl("restart");
        cluster
    });
    let cluster = restart.await.expect("restart");
    assert!(Instant::now() < load_until, "the restart finished while the load still ran");

    let (mut acknowledged, mut refused_total) = (Vec::new(), 0);
    for client in clients {
        let (ids, refused) = client.await.expect("client task");
        acknowledged.extend(ids);
        refused_total += refused;
    }
    assert!(acknowledged.len() > 100, "the load was real: {} acknowledged attempts", acknowledged.len());
    println!("{} attempts acknowledged, {refused_total} refused during the restart", acknowledged.len());

    app.wait_until_stored(&acknowledged).await;

    // Recovered by itself: a new attempt is committed directly, not spooled.
    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "after-restart"}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(app.log_row(&reply.body["log_id"]).await.is_some(), "committed at once after the restart");
    assert_eq!(app.svc.spooled_attempts().await, 0);
    drop(cluster);
}

/// Postgres stopped for longer than the pool's acquire timeout under steady load: once the
/// outage is known, attempts go to the spool at once (p99 well under 100 ms, where each would
/// otherwise wait for the pool), `/readyz` says so at once, and every acknowledged attempt
/// reaches Postgres after it returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_outage_answers_in_milliseconds_and_loses_nothing() {
    let cluster = PrivateCluster::start();
    let acquire_timeout = Duration::from_secs(5);
    let app = cluster.app(acquire_timeout).await;
    let ws = app.workspace("owner@example.com").await;

    let outage = acquire_timeout + Duration::from_secs(3);
    let load_until = Instant::now() + Duration::from_secs(1) + outage + Duration::from_secs(2);
    let clients: Vec<_> = (0..8)
        .map(|client| {
            let (app, ws) = (app.clone(), (ws.app_id.clone(), ws.secret.clone(), ws.kid.clone()));
            tokio::spawn(async move {
                let mut answers = Vec::new();
                while Instant::now() < load_until {
                    let token = jwt(&ws.1, &ws.2, json!({"user_id": format!("user-{client}")}));
                    let sent = Instant::now();
                    let reply = app.identify(json!({"app_id": ws.0, "platform": "ios", "user_jwt": token})).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                    let id = reply.body["log_id"].as_str().unwrap_or("").parse::<Uuid>().expect("log_id");
                    answers.push((sent.elapsed(), id));
                    tokio::time::sleep(Duration::from_millis(40)).await;
                }
                answers
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.ctl("stop");
        cluster
    })
    .await
    .expect("stop");
    tokio::time::sleep(acquire_timeout).await;
    let asked = Instant::now();
    let ready = app.get("/readyz", &crate::support::Auth::None).await;
    assert_eq!((ready.status, ready.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    assert!(asked.elapsed() < Duration::from_millis(100), "readyz answered in {:?}", asked.elapsed());
    let metrics = app.get("/metrics", &crate::support::Auth::None).await;
    assert!(
        metrics.body.as_str().is_some_and(|m| m.contains("countersign_database_breaker_open 1")),
        "{}",
        metrics.body
    );
    tokio::time::sleep(outage - acquire_timeout).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.ctl("start");
        cluster
    })
    .await
    .expect("start");

    let mut answers = Vec::new();
    for client in clients {
        answers.extend(client.await.expect("client task"));
    }
    let mut latencies: Vec<Duration> = answers.iter().map(|(latency, _)| *latency).collect();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    println!(
        "{} attempts, p50 {:?}, p99 {p99:?}, max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies.last()
    );
    assert!(latencies.len() > 500, "the load was real: {} attempts", latencies.len());
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?} during an outage longer than the pool timeout");

    let acknowledged: Vec<Uuid> = answers.iter().map(|(_, id)| *id).collect();
    app.wait_until_stored(&acknowledged).await;
    assert!(!app.svc.database_breaker_open(), "the breaker closed by itself");
    drop(cluster);
}
