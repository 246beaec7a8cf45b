//! Per-workspace rate limits of the data plane: `429 rate_limited` with `Retry-After`, no log
//! row for a refused attempt, and one workspace's flood never limits another.

use axum::http::{header, Method, StatusCode};
use countersign_service::Settings;
use serde_json::json;
use sqlx::PgPool;

use crate::support::{jwt, Auth, TestApp};

/// Past its identify limit a workspace gets 429 with `Retry-After` and no log row; a
/// neighbour keeps identifying.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn identify_is_limited_per_workspace(pool: PgPool) {
    let settings = Settings { identify_rate_limit: 5, ..Settings::default() };
    let app = TestApp::with_settings(pool, settings).await;
    let busy = app.workspace("busy@example.com").await;
    let quiet = app.workspace("quiet@example.com").await;
    let body = |ws: &crate::support::Workspace| json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}))});
    let mut limited = 0;
    for _ in 0..12 {
        let reply = app.identify(body(&busy)).await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.code(), "rate_limited");
            assert!(reply.body.get("log_id").is_none(), "a refused attempt writes no row");
            let wait: u64 = reply
                .headers
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            assert!(wait >= 1, "Retry-After in whole seconds");
            limited += 1;
        } else {
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
    }
    assert!(limited >= 5, "the limit of 5/s refused {limited} of 12 calls");
    let rows: i64 =
        sqlx::query_scalar("SELECT count(*) FROM verification_log").fetch_one(&app.pool).await.expect("count");
    assert_eq!(rows, 12 - limited);
    assert_eq!(app.identify(body(&quiet)).await.status, StatusCode::OK, "another workspace is not limited");
}

/// `signatures` has its own per-workspace limit.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn signatures_are_limited_per_workspace(pool: PgPool) {
    let settings = Settings { signatures_rate_limit: 3, ..Settings::default() };
    let app = TestApp::with_settings(pool, settings).await;
    let ws = app.workspace("owner@example.com").await;
    let bearer = Auth::Bearer(ws.secret.clone());
    let mut statuses = Vec::new();
    for _ in 0..8 {
        let reply = app
            .send(Method::POST, "/api/v1/signatures", Some(json!({"app_id": ws.app_id, "user_id": "u"})), &bearer, &[])
            .await;
        statuses.push(reply.status);
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(reply.code(), "rate_limited");
            assert!(reply.headers.contains_key(header::RETRY_AFTER));
        }
    }
    assert!(statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count() >= 4, "{statuses:?}");
    assert_eq!(app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}))})).await.status, StatusCode::OK);
}
