//! Traffic stats: the rollups the log writer maintains count every committed row exactly once,
//! and `GET .../stats` and the Keys page read them.

#![allow(clippy::unwrap_used)]

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{jwt, now, TestApp, Workspace};

/// Sends `n` attempts of each kind, concurrently: verified and rejected on web (enforce),
/// would-reject on iOS (monitor), unverified on Android (off). User ids repeat every 7.
async fn mixed_traffic(app: &TestApp, ws: &Workspace, n: usize) -> Vec<uuid::Uuid> {
    app.set_security(ws, json!({"modes": {"web": "enforce", "ios": "monitor", "android": "off"}})).await;
    let bodies: Vec<Value> = (0..n)
        .flat_map(|i| {
            let user = format!("user-{}", i % 7);
            let good = jwt(&ws.secret, &ws.kid, json!({"user_id": user, "exp": now() + 600}));
            let forged = jwt("not-the-secret-not-the-secret-not-the-secret", &ws.kid, json!({"user_id": user}));
            [
                json!({"app_id": ws.app_id, "platform": "web", "user_jwt": good}),
                json!({"app_id": ws.app_id, "platform": "web", "user_jwt": forged}),
                json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": forged}),
                json!({"app_id": ws.app_id, "platform": "android", "user_id": user}),
            ]
        })
        .collect();
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let router = app.router.clone();
            tokio::spawn(async move {
                use tower::ServiceExt;
                let request = axum::http::Request::post("/api/v1/identify")
                    .header("content-type", "application/json")
                    .header("origin", "https://app.example.com")
                    .body(axum::body::Body::from(body.to_string()))
                    .unwrap();
                let response = router.oneshot(request).await.unwrap();
                let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
                serde_json::from_slice::<Value>(&bytes).unwrap()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        ids.push(
            reply["log_id"].as_str().and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("no log_id: {reply}")),
        );
    }
    app.wait_until_stored(&ids).await;
    ids
}

/// (platform, outcome, reason, kid, attempts) per combination, from the log and each rollup
/// (which count a kid only when it names a key of the workspace).
pub(crate) async fn counts(pool: &PgPool, table: &str) -> Vec<(String, String, String, String, i64)> {
    let sql = if table == "verification_log" {
        "SELECT coalesce(platform, ''), outcome, coalesce(reason, ''), countersign_rollup_kid(workspace_id, kid), count(*)
           FROM verification_log GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
            .to_owned()
    } else {
        format!("SELECT platform, outcome, reason, kid, sum(attempts)::bigint FROM {table} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")
    };
    sqlx::query_as(&sql).fetch_all(pool).await.unwrap()
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn rollups_equal_the_log_after_concurrent_load(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    mixed_traffic(&app, &ws, 60).await;
    let log = counts(&pool, "verification_log").await;
    assert_eq!(log.iter().map(|c| c.4).sum::<i64>(), 240);
    assert_eq!(log.len(), 4, "four kinds of attempt: {log:?}");
    assert_eq!(counts(&pool, "log_rollup_minute").await, log);
    assert_eq!(counts(&pool, "log_rollup_hour").await, log);
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn stats_count_attempts_and_users_per_bucket(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    mixed_traffic(&app, &ws, 20).await;
    let path = format!("/api/v1/workspaces/{}/stats", ws.id);

    for bucket in ["minute", "hour", "day"] {
        let reply = app.get(&format!("{path}?bucket={bucket}"), &ws.owner).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.body["bucket"], bucket);
        let items = reply.body["items"].as_array().unwrap();
        let total: i64 = items.iter().map(|i| i["attempts"].as_i64().unwrap()).sum();
        assert_eq!(total, 80, "{bucket}: {items:?}");
        let verified = items.iter().find(|i| i["outcome"] == "verified").unwrap();
        assert_eq!((verified["platform"].as_str(), verified["kid"].as_str()), (Some("web"), Some(ws.kid.as_str())));
        assert_eq!(verified["attempts"], 20);
        if bucket == "minute" {
            assert!(verified["users"].is_null());
        } else {
            assert_eq!(verified["users"], 7, "seven distinct users: {verified}");
        }
        let unverified = items.iter().find(|i| i["outcome"] == "unverified").unwrap();
        assert_eq!((unverified["platform"].as_str(), unverified["kid"].as_str()), (Some("android"), None));
    }

    // The Keys page's "verified in 24 h" comes from the same rollups.
    let keys = app.get(&format!("/api/v1/workspaces/{}/keys", ws.id), &ws.owner).await;
    assert_eq!(keys.body[0]["verifications_24h"], 20, "{}", keys.body);

    // A range with no traffic is empty, not an error.
    let empty = app.get(&format!("{path}?from=2026-01-01T00:00:00Z&to=2026-01-02T00:00:00Z"), &ws.owner).await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.body);
    assert_eq!(empty.body["items"], json!([]));
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn bad_stats_queries_are_refused(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    let path = format!("/api/v1/workspaces/{}/stats", ws.id);
    for query in [
        "bucket=week",
        "from=yesterday",
        "from=2026-11-29T12:00:00Z&to=2026-11-29T11:00:00Z",
        "from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&bucket=hour",
        "from=2026-11-01T00:00:00Z&to=2026-11-29T00:00:00Z&bucket=minute",
        "from=%00",
        "bucket=%FF%FE",
    ] {
        let reply = app.get(&format!("{path}?{query}"), &ws.owner).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{query}: {}",
            reply.body
        );
    }
    let stranger = app.workspace("stranger@example.com").await;
    let reply = app.get(&path, &stranger.owner).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"));
}

#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn the_overview_names_the_risks_from_the_rollups(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    mixed_traffic(&app, &ws, 10).await;
    let reply = app.get(&format!("/api/v1/workspaces/{}/overview", ws.id), &ws.owner).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let o = &reply.body;
    assert_eq!(o["range"], "24h");
    assert_eq!(o["headline"]["severity"], "critical");
    assert_eq!(
        o["headline"]["detail"],
        "Android is off: 7 unverified identities (10 attempts) in the last 24 hours — anyone can impersonate these users."
    );
    let platform =
        |name: &str| o["platforms"].as_array().unwrap().iter().find(|p| p["platform"] == name).unwrap().clone();
    assert_eq!(platform("web")["totals"], json!({"verified": 10, "unverified": 0, "would_reject": 0, "rejected": 10}));
    assert!(platform("web")["first_verified_at"].is_string());
    assert!(platform("android")["first_verified_at"].is_null(), "Android never verified");
    let series_total: i64 =
        platform("web")["series"].as_array().unwrap().iter().map(|p| p["counts"]["verified"].as_i64().unwrap()).sum();
    assert_eq!(series_total, 10, "the chart holds every verified attempt");
    let readiness = platform("ios")["readiness"].clone();
    assert_eq!(readiness["ready"], false);
    assert_eq!(
        readiness["verdict"],
        "Not ready: 100 % would be rejected, all from 7 users with invalid signature. Fix that first."
    );
    assert!(platform("web")["readiness"].is_null(), "only monitored platforms are judged");
    let group = o["failures"].as_array().unwrap().iter().find(|g| g["reason"] == "invalid_signature").unwrap().clone();
    assert_eq!(group["attempts"], 20);
    assert_eq!(group["platforms"], json!(["ios", "web"]));
    assert!(group["fix"].as_str().unwrap().contains("secret"), "{group}");
    let titles: Vec<&str> = o["checklist"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Android is off") && titles.contains(&"iOS is in monitor mode"), "{titles:?}");

    for range in ["1y".to_owned(), "%00".to_owned(), "%FF%FE".to_owned(), "x".repeat(10_000)] {
        let bad = app.get(&format!("/api/v1/workspaces/{}/overview?range={range}", ws.id), &ws.owner).await;
        assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{}", bad.body);
    }
}

/// A revoked key still presented is reported however rare its attempts are among the failures
/// (the overview lists only the ten most frequent reasons).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_rarely_presented_revoked_key_is_still_reported(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    let rotated =
        app.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({"grace_seconds": 0}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let leaked = jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": leaked})).await;
    assert_eq!(reply.code(), "revoked_key", "{}", reply.body);
    let frequent: Vec<&str> =
        countersign_core::Reason::ALL.iter().map(|r| r.as_str()).filter(|r| *r != "revoked_key").take(12).collect();
    sqlx::query(
        "INSERT INTO log_rollup_hour_merged (workspace_id, bucket, platform, outcome, reason, kid, attempts, first_at, last_at)
         SELECT $1, date_trunc('hour', now()), 'web', 'rejected', reason, '', 100, now(), now() FROM unnest($2::text[]) AS reason",
    )
    .bind(ws.id.parse::<uuid::Uuid>().unwrap())
    .bind(&frequent)
    .execute(&pool)
    .await
    .unwrap();
    let o = app.get(&format!("/api/v1/workspaces/{}/overview", ws.id), &ws.owner).await.body;
    let groups: Vec<&str> = o["failures"].as_array().unwrap().iter().map(|g| g["reason"].as_str().unwrap()).collect();
    assert!(!groups.contains(&"revoked_key"), "not among the most frequent: {groups:?}");
    let item = o["checklist"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["title"] == "A revoked key is still being presented")
        .unwrap_or_else(|| panic!("reported: {}", o["checklist"]));
    assert!(item["detail"].as_str().unwrap().starts_with("1 token signed with a revoked or retired key"), "{item}");
}

/// The secure-only preview: per registered attribute, how many updates arrived unsigned in the
/// last 7 days. Signed values and unsigned copies of signed ones do not count; once the
/// attribute is secure-only, unsigned updates are refused and stop adding up.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn attribute_stats_count_unsigned_updates(pool: PgPool) {
    let app = TestApp::new(pool.clone()).await;
    let ws = app.workspace("owner@example.com").await;
    app.set_security(&ws, json!({"modes": {"web": "off", "ios": "enforce", "android": "enforce"}})).await;
    let attributes = format!("/api/v1/workspaces/{}/attributes", ws.id);
    for name in ["plan", "email"] {
        let created =
            app.post(&attributes, json!({"name": name, "type": "string", "secure_only": false}), &ws.owner).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    }
    let unsigned = json!({"app_id": ws.app_id, "platform": "web", "user_id": "u-1", "attributes": {"plan": "pro"}});
    let signed = jwt(&ws.secret, &ws.kid, json!({"user_id": "u-2", "plan": "team"}));
    let mut acknowledged = Vec::new();
    for body in [
        unsigned.clone(),
        unsigned.clone(),
        json!({"app_id": ws.app_id, "platform": "web", "user_jwt": signed, "attributes": {"plan": "free", "email": "a@b.c"}}),
    ] {
        let reply = app.identify(body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        acknowledged.push(reply.body["log_id"].as_str().unwrap().parse().unwrap());
    }
    app.wait_until_stored(&acknowledged).await;
    let path = format!("/api/v1/workspaces/{}/stats/attributes", ws.id);
    let stats = app.get(&path, &ws.owner).await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(
        stats.body["items"],
        json!([
            {"name": "email", "secure_only": false, "unsigned_updates": 1},
            {"name": "plan", "secure_only": false, "unsigned_updates": 2},
        ]),
        "the signed plan and its unsigned copy are not unsigned updates"
    );

    let made_secure =
        app.put(&format!("{attributes}/plan"), json!({"type": "string", "secure_only": true}), &ws.owner).await;
    assert_eq!(made_secure.status, StatusCode::OK, "{}", made_secure.body);
    let refused = app.identify(unsigned).await;
    assert_eq!(refused.body["rejected_attributes"][0]["reason"], "secure_only", "{}", refused.body);
    app.wait_until_stored(&[refused.body["log_id"].as_str().unwrap().parse().unwrap()]).await;
    let after = app.get(&path, &ws.owner).await;
    assert_eq!(after.body["items"][1], json!({"name": "plan", "secure_only": true, "unsigned_updates": 2}));
}

/// Verified tokens without `exp`, or living over a day, are found in the traffic and named in
/// the checklist with their count and the last one's time; each log row says which it was.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn long_lived_tokens_in_the_traffic_reach_the_checklist(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let t = now();
    for claims in [
        json!({"user_id": "forever-1"}),
        json!({"user_id": "forever-2"}),
        json!({"user_id": "three-days", "iat": t, "exp": t + 3 * 86_400}),
        json!({"user_id": "ten-minutes", "iat": t, "exp": t + 600}),
    ] {
        let token = jwt(&ws.secret, &ws.kid, claims);
        let reply = app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": token})).await;
        assert_eq!(reply.body["verified"], true, "{}", reply.body);
    }
    let o = app.get(&format!("/api/v1/workspaces/{}/overview", ws.id), &ws.owner).await.body;
    let detail = |title: &str| {
        let items = o["checklist"].as_array().unwrap();
        let item = items.iter().find(|i| i["title"] == title).unwrap_or_else(|| panic!("{title}: {}", o["checklist"]));
        assert_eq!(item["fix_path"], "/snippets");
        item["detail"].as_str().unwrap().to_owned()
    };
    let forever = detail("Tokens without an expiry are in use");
    assert!(
        forever.starts_with("2 of the latest 4 verified tokens in the last 24 hours had no exp (the last at "),
        "{forever}"
    );
    let long = detail("Tokens living over a day are in use");
    assert!(long.starts_with("1 of the latest 4 verified tokens in the last 24 hours lived over a day"), "{long}");

    let logs = app.get(&format!("/api/v1/workspaces/{}/logs?user_id=three-days", ws.id), &ws.owner).await.body;
    assert_eq!(logs["items"][0]["details"]["long_lived"], json!({"lifetime": 3 * 86_400}), "{logs}");
    let logs = app.get(&format!("/api/v1/workspaces/{}/logs?user_id=ten-minutes", ws.id), &ws.owner).await.body;
    assert!(logs["items"][0]["details"].get("long_lived").is_none(), "{logs}");
}

/// The checklist's item for a key in its grace period says whether anything still uses it:
/// never used, revoke now; used, move the backends first.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn a_key_in_its_grace_period_is_judged_by_its_use(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let rotated = app.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let grace_item = || async {
        let o = app.get(&format!("/api/v1/workspaces/{}/overview", ws.id), &ws.owner).await.body;
        let items = o["checklist"].as_array().cloned().unwrap_or_default();
        let title = format!("{} is in its grace period", ws.kid);
        let item = items.into_iter().find(|i| i["title"] == title.as_str());
        item.unwrap_or_else(|| panic!("{title}: {}", o["checklist"]))["detail"].as_str().unwrap().to_owned()
    };
    let unused = grace_item().await;
    assert!(unused.contains("no verified attempt ever used it: revoke it now"), "{unused}");

    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "late-backend", "exp": now() + 600}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": token})).await;
    assert_eq!(reply.body["verified"], true, "{}", reply.body);
    let used = grace_item().await;
    assert!(used.contains("and 1 verified attempt used it in the last 24 hours, the last at "), "{used}");
    assert!(used.ends_with("move every backend to the primary key before then."), "{used}");
}
