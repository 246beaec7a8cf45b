//! Several instances and database outages: convergence within a second, and no acknowledged
//! attempt lost while Postgres is unreachable.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use sqlx::{Connection, PgConnection, PgPool};

use crate::support::{jwt, TestApp};

/// Two instances on one database: a rotation made through one takes effect on the other within 1 s.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn instances_converge_within_a_second(pool: PgPool) {
    let a = TestApp::new(pool.clone()).await;
    let b = TestApp::new(pool).await;
    let ws = a.workspace("owner@example.com").await;
    let body =
        json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}))});
    assert_eq!(b.identify(body.clone()).await.body["verified"], true, "instance B has the workspace in memory");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let rotated =
        a.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({"grace_seconds": 0}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK);
    let changed = Instant::now();
    loop {
        let reply = b.identify(body.clone()).await;
        if reply.status == StatusCode::UNAUTHORIZED {
            assert_eq!(reply.code(), "revoked_key");
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(1), "instance B still accepts a revoked key after 1 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("converged in {:?}", changed.elapsed());
}

/// Cutting the database off during load: attempts are still verified from memory and
/// acknowledged from the spool, and every acknowledged row reaches Postgres once it is back.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn outage_loses_no_acknowledged_attempt(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "during-outage"}));
    let body = json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token});
    assert_eq!(app.identify(body.clone()).await.status, StatusCode::OK);

    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap_or_default();
    let admin_url = std::env::var("DATABASE_URL").unwrap_or_default();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| panic!("admin connection: {e}"));
    let cut = |allow: bool| format!("ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {allow}");
    sqlx::query(&cut(false)).execute(&mut admin).await.unwrap_or_default();
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&database)
    .execute(&mut admin)
    .await
    .unwrap_or_default();

    let mut acknowledged = Vec::new();
    for _ in 0..30 {
        let reply = app.identify(body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "still verified from memory: {}", reply.body);
        acknowledged.push(reply.body["log_id"].as_str().unwrap_or("").parse::<uuid::Uuid>().unwrap_or_default());
    }
    assert!(app.svc.spooled_attempts().await > 0, "the outage was real: rows went to the spool");

    sqlx::query(&cut(true)).execute(&mut admin).await.unwrap_or_default();
    app.wait_until_stored(&acknowledged).await;
    assert_eq!(app.identify(body).await.status, StatusCode::OK, "the service recovered by itself");
    let log = crate::stats::counts(&pool, "verification_log").await;
    assert_eq!(log.iter().map(|c| c.4).sum::<i64>(), 32, "{log:?}");
    for rollup in ["log_rollup_minute", "log_rollup_hour"] {
        assert_eq!(crate::stats::counts(&pool, rollup).await, log, "{rollup} counts each replayed row once");
    }
}

/// A spooled row that Postgres refuses when it is replayed (its workspace was deleted during
/// the outage) is quarantined to the dead-letter file and counted, and the rows spooled with
/// it, of another workspace, are stored: one bad row never jams the spool.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_refused_spooled_row_is_quarantined_and_the_rest_replayed(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let kept = app.workspace("kept@example.com").await;
    let gone = app.workspace("gone@example.com").await;
    let body = |ws: &crate::support::Workspace| json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}))});
    for ws in [&kept, &gone] {
        assert_eq!(app.identify(body(ws)).await.status, StatusCode::OK, "the configuration is cached");
    }

    // The outage: no new connection to the test database, every open one closed but ours.
    let database: String = sqlx::query_scalar("SELECT current_database()").fetch_one(&pool).await.unwrap_or_default();
    let mut held = PgConnection::connect_with(&pool.connect_options()).await.expect("a connection of our own");
    let admin_url = std::env::var("DATABASE_URL").unwrap_or_default();
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| panic!("admin connection: {e}"));
    let cut = |allow: bool| format!("ALTER DATABASE \"{database}\" ALLOW_CONNECTIONS {allow}");
    sqlx::query(&cut(false)).execute(&mut admin).await.expect("cut");
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = $1 AND pid <> pg_backend_pid() AND pid <> $2",
    )
    .bind(&database)
    .bind(sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()").fetch_one(&mut held).await.expect("pid"))
    .execute(&mut admin)
    .await
    .expect("terminate");

    let mut acknowledged = Vec::new();
    for ws in [&kept, &gone, &kept, &gone, &kept] {
        let reply = app.identify(body(ws)).await;
        assert_eq!(reply.status, StatusCode::OK, "acknowledged from the spool: {}", reply.body);
        if ws.id == kept.id {
            acknowledged.push(reply.body["log_id"].as_str().unwrap_or("").parse::<uuid::Uuid>().unwrap_or_default());
        }
    }
    assert!(app.svc.spooled_attempts().await >= 5, "the outage was real: rows went to the spool");
    sqlx::query("DELETE FROM workspaces WHERE id::text = $1").bind(&gone.id).execute(&mut held).await.expect("delete");
    let quarantined_before = app.svc.metrics.dead_letters.get();

    sqlx::query(&cut(true)).execute(&mut admin).await.expect("reconnect");
    app.wait_until_stored(&acknowledged).await;
    assert_eq!(app.svc.metrics.dead_letters.get() - quarantined_before, 2, "the deleted workspace's two rows");
    let metrics = app.get("/metrics", &crate::support::Auth::None).await;
    assert!(
        metrics.body.as_str().unwrap_or_default().contains("countersign_log_dead_letters_total 2"),
        "{}",
        metrics.body
    );
    assert_eq!(app.identify(body(&kept)).await.status, StatusCode::OK, "the pipeline flows");
}
