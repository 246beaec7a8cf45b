//! `POST /api/v1/identify` and `/signatures` end to end: verdicts, modes, attributes,
//! contacts, durable log rows, bad input, rotation, and the signatures endpoint.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{jwt, now, Auth, TestApp};

/// A valid token is verified (200), its log row is committed, and the contact is stored.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn verified_attempt_is_logged_and_stored(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    app.post(
        &format!("/api/v1/workspaces/{}/attributes", ws.id),
        json!({"name": "plan", "type": "string", "secure_only": true}),
        &ws.owner,
    )
    .await;
    let token =
        jwt(&ws.secret, &ws.kid, json!({"user_id": "u-1", "exp": now() + 600, "plan": "pro", "nickname": "ada"}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["verified"], true);
    assert_eq!(reply.body["mode"], "enforce");
    assert_eq!(reply.body["user_id"], "u-1");
    assert_eq!(reply.body["attributes"], json!({"plan": "pro"}));
    assert_eq!(reply.body["ignored_attributes"], json!(["nickname"]));
    let row = app.log_row(&reply.body["log_id"]).await;
    assert_eq!(row, Some(("verified".into(), None, Some("u-1".into()))));
    let contact = app.get(&format!("/api/v1/workspaces/{}/contacts/u-1", ws.id), &ws.owner).await;
    assert_eq!(contact.body["attributes"], json!({"plan": "pro"}));
    assert_eq!(contact.body["verified"], true);
    assert_eq!(contact.body["last_platform"], "web");
    let dump: String = sqlx::query_scalar("SELECT row_to_json(v)::text FROM verification_log v")
        .fetch_one(&app.pool)
        .await
        .unwrap_or_default();
    assert!(!dump.contains(&token) && !dump.contains(&ws.secret), "the log never holds the token or the secret");
}

/// Each mode answers a failure as the contract says, always with a committed log row.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn modes_decide_failures(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let forged = jwt("not-the-secret-not-the-secret-xx", &ws.kid, json!({"user_id": "mallory"}));
    let body = json!({"app_id": ws.app_id, "platform": "android", "user_jwt": forged});

    let enforce = app.identify(body.clone()).await;
    assert_eq!((enforce.status, enforce.code()), (StatusCode::UNAUTHORIZED, "invalid_signature"));
    assert_eq!(app.log_row(&enforce.body["log_id"]).await.map(|r| r.0), Some("rejected".into()));

    app.set_security(&ws, json!({"modes": {"web": "enforce", "ios": "enforce", "android": "monitor"}})).await;
    let monitor = app.identify(body.clone()).await;
    assert_eq!(monitor.status, StatusCode::OK);
    assert_eq!((monitor.body["verified"].clone(), monitor.body["would_reject"].clone()), (json!(false), json!(true)));
    assert_eq!(monitor.body["reason"], "invalid_signature");
    assert_eq!(app.log_row(&monitor.body["log_id"]).await.map(|r| r.0), Some("would_reject".into()));

    app.set_security(&ws, json!({"modes": {"web": "enforce", "ios": "enforce", "android": "off"}})).await;
    let off = app.identify(body).await;
    assert_eq!((off.status, off.body["verified"].clone()), (StatusCode::OK, json!(false)));
    assert!(off.body.get("would_reject").is_none());
    assert_eq!(app.log_row(&off.body["log_id"]).await.map(|r| r.0), Some("unverified".into()));
}

/// Unsigned data never gives a contact a secure-only attribute; signed data does.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn secure_only_attributes_need_a_signature(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let attrs = format!("/api/v1/workspaces/{}/attributes", ws.id);
    app.post(&attrs, json!({"name": "plan", "type": "string", "secure_only": true}), &ws.owner).await;
    app.post(&attrs, json!({"name": "seats", "type": "number", "secure_only": false}), &ws.owner).await;
    app.set_security(&ws, json!({"modes": {"web": "off", "ios": "enforce", "android": "enforce"}})).await;

    let unsigned = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_id": "u-2", "attributes": {"plan": "enterprise", "seats": "many", "color": "red"}})).await;
    assert_eq!(unsigned.status, StatusCode::OK, "{}", unsigned.body);
    assert_eq!(unsigned.body["verified"], false);
    let rejected: Vec<(String, String)> = unsigned.body["rejected_attributes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or("").into(), r["reason"].as_str().unwrap_or("").into()))
        .collect();
    assert!(rejected.contains(&("plan".into(), "secure_only".into())), "{rejected:?}");
    assert!(rejected.contains(&("seats".into(), "wrong_type".into())), "{rejected:?}");
    let contact = app.get(&format!("/api/v1/workspaces/{}/contacts/u-2", ws.id), &ws.owner).await;
    assert!(contact.body["attributes"].get("plan").is_none(), "{}", contact.body);

    let signed = jwt(&ws.secret, &ws.kid, json!({"user_id": "u-2", "plan": "enterprise"}));
    let reply = app
        .identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": signed, "attributes": {"seats": 5}}))
        .await;
    assert_eq!(reply.body["attributes"], json!({"plan": "enterprise", "seats": 5}));
    let contact = app.get(&format!("/api/v1/workspaces/{}/contacts/u-2", ws.id), &ws.owner).await;
    assert_eq!(contact.body["attributes"], json!({"plan": "enterprise", "seats": 5}));
    assert_eq!(contact.body["verified"], true);

    // The token carries `plan` and the unsigned attributes send another: the signed value is
    // kept, and the unsigned one is reported as refused, in the answer and in the log.
    let signed = jwt(&ws.secret, &ws.kid, json!({"user_id": "u-2", "plan": "starter"}));
    let tampered = app
        .identify(
            json!({"app_id": ws.app_id, "platform": "web", "user_jwt": signed, "attributes": {"plan": "enterprise"}}),
        )
        .await;
    assert_eq!(tampered.body["attributes"], json!({"plan": "starter"}), "{}", tampered.body);
    assert_eq!(tampered.body["rejected_attributes"], json!([{"name": "plan", "reason": "secure_only"}]));
    let log_id = tampered.body["log_id"].as_str().unwrap_or_default().to_owned();
    let logs = app.get(&format!("/api/v1/workspaces/{}/logs?user_id=u-2", ws.id), &ws.owner).await;
    let row = logs.body["items"].as_array().into_iter().flatten().find(|i| i["id"] == log_id.as_str()).cloned();
    let row = row.unwrap_or_default();
    assert_eq!(row["attributes_rejected"], json!([{"name": "plan", "reason": "secure_only"}]), "{}", logs.body);
    assert_eq!(row["attributes_accepted"], json!({"plan": "starter"}));
}

/// Bad input gets the contract's answers; only a 400 on a known app writes a log row.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn bad_identify_input(pool: PgPool) {
    use axum::body::Body;
    use axum::http::{header, Request};
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let raw = |body: String| {
        Request::post("/api/v1/identify")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .expect("request")
    };
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM verification_log").fetch_one(&app.pool).await.unwrap_or(-1)
    };

    let garbage = app.raw(raw("{nope".into())).await;
    assert_eq!((garbage.status, garbage.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let unknown = app.identify(json!({"app_id": "app_nope", "platform": "web", "user_jwt": "a.b.c"})).await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::NOT_FOUND, "unknown_app"));
    let huge =
        app.raw(raw(json!({"app_id": ws.app_id, "platform": "web", "pad": "x".repeat(70_000)}).to_string())).await;
    assert_eq!((huge.status, huge.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    assert_eq!(count().await, 0, "none of those wrote a row");

    let bad_platform = app.identify(json!({"app_id": ws.app_id, "platform": "blackberry", "user_jwt": "a.b.c"})).await;
    assert_eq!((bad_platform.status, bad_platform.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(app.log_row(&bad_platform.body["log_id"]).await.map(|r| r.1), Some(Some("invalid_request".into())));

    let big_token = format!("{}.{}.{}", "a".repeat(4000), "b".repeat(4200), "c");
    let too_large = app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": big_token})).await;
    assert_eq!((too_large.status, too_large.code()), (StatusCode::UNAUTHORIZED, "token_too_large"));
    for token in ["", "abc", "a.b", "e30.e30.", " x.y.z", "eyJhbGciOiJub25lIn0.e30."] {
        let reply = app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": token})).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{token:?}: {}", reply.body);
        assert!(reply.body["log_id"].is_string());
    }
    let missing = app.identify(json!({"app_id": ws.app_id, "platform": "ios"})).await;
    assert_eq!(missing.code(), "missing_token");
    assert_eq!(count().await, 9);
}

/// A rotation keeps old tokens working through the grace period and not after;
/// a revoked key is reported as `revoked_key`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn rotation_and_revocation_through_identify(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let old_token = jwt(&ws.secret, &ws.kid, json!({"user_id": "u-3"}));
    let body = json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": old_token});
    let rotated =
        app.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({"grace_seconds": 600}), &ws.owner).await;
    assert_eq!(app.identify(body.clone()).await.body["verified"], true, "inside the grace period");
    let new_token = jwt(
        rotated.body["secret"].as_str().unwrap_or(""),
        rotated.body["kid"].as_str().unwrap_or(""),
        json!({"user_id": "u-3"}),
    );
    assert_eq!(
        app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": new_token})).await.body["verified"],
        true
    );
    app.svc.clock.advance(chrono::Duration::seconds(601));
    let after = app.identify(body.clone()).await;
    assert_eq!((after.status, after.code()), (StatusCode::UNAUTHORIZED, "revoked_key"), "{}", after.body);
    let keys = app.get(&format!("/api/v1/workspaces/{}/keys", ws.id), &ws.owner).await;
    let new_key =
        keys.body.as_array().and_then(|k| k.iter().find(|k| k["state"] == "primary").cloned()).unwrap_or_default();
    assert_eq!(new_key["verifications_24h"], 1, "the Keys list counts verifications per key");
    assert!(new_key["last_used_at"].is_string());
}

/// Every acknowledged attempt under concurrent load has its row (group commit loses nothing).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_acknowledged_attempt_has_its_row(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let router = app.router.clone();
        let body = json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": format!("user-{}", i % 40)}))});
        tasks.push(tokio::spawn(async move {
            use tower::ServiceExt;
            let request = axum::http::Request::post("/api/v1/identify")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .expect("request");
            let response = router.oneshot(request).await.expect("response");
            let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
            serde_json::from_slice::<Value>(&bytes).unwrap_or_default()["log_id"].as_str().unwrap_or("").to_owned()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.unwrap_or_default().parse::<uuid::Uuid>().unwrap_or_default());
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM verification_log WHERE id = ANY($1)")
        .bind(&ids)
        .fetch_one(&app.pool)
        .await
        .unwrap_or(0);
    assert_eq!(stored, 300);
    let contacts: i64 = sqlx::query_scalar("SELECT count(*) FROM contacts").fetch_one(&app.pool).await.unwrap_or(0);
    assert_eq!(contacts, 40);
    let batches = app.svc.metrics.batch_size.get_sample_sum();
    assert!(batches >= 300.0, "every committed attempt counted in a batch size ({batches})");
}

/// The signatures endpoint signs for a current secret; a wrong secret and an unknown app look alike.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn signatures_endpoint(pool: PgPool) {
    use axum::http::Method;
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let body = json!({"app_id": ws.app_id, "user_id": "u-9", "expires_in": 300});
    let signed =
        app.send(Method::POST, "/api/v1/signatures", Some(body.clone()), &Auth::Bearer(ws.secret.clone()), &[]).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let token = signed.body["signatures"]["userJWT"].as_str().unwrap_or("").to_owned();
    let verified = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await;
    assert_eq!((verified.body["verified"].clone(), verified.body["user_id"].clone()), (json!(true), json!("u-9")));
    let hmac = signed.body["signatures"]["userHMAC"].as_str().unwrap_or("");
    assert_eq!(hmac, countersign_core::user_hmac(ws.secret.as_bytes(), "u-9"));

    let wrong =
        app.send(Method::POST, "/api/v1/signatures", Some(body), &Auth::Bearer("cs_sk_wrong".into()), &[]).await;
    let unknown = app
        .send(
            Method::POST,
            "/api/v1/signatures",
            Some(json!({"app_id": "app_nope", "user_id": "u-9"})),
            &Auth::Bearer("cs_sk_wrong".into()),
            &[],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.status, unknown.status);
}

/// A token minted through `/signatures` always expires, also when asked with a key in its
/// grace period and no `expires_in`: one hour, capped by the workspace's maximum lifetime.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn signed_tokens_always_expire(pool: PgPool) {
    use axum::http::Method;
    use base64::Engine;
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let rotated =
        app.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({"grace_seconds": 3600}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let claims_of = |reply: &crate::support::Reply| -> Value {
        let token = reply.body["signatures"]["userJWT"].as_str().unwrap_or_default();
        let payload = token.split('.').nth(1).unwrap_or_default();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    };
    let grace = Auth::Bearer(ws.secret.clone());
    let body = json!({"app_id": ws.app_id, "user_id": "u-1"});
    let signed = app.send(Method::POST, "/api/v1/signatures", Some(body.clone()), &grace, &[]).await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    let claims = claims_of(&signed);
    assert_eq!(claims["exp"].as_i64(), claims["iat"].as_i64().map(|iat| iat + 3600), "{claims}");

    app.set_security(&ws, json!({"max_token_lifetime_seconds": 600})).await;
    let asked = json!({"app_id": ws.app_id, "user_id": "u-1", "expires_in": 86_400});
    let capped = claims_of(&app.send(Method::POST, "/api/v1/signatures", Some(asked), &grace, &[]).await);
    assert_eq!(capped["exp"].as_i64(), capped["iat"].as_i64().map(|iat| iat + 600), "{capped}");
}

/// The logs API filters and pages newest first; the debugger explains without logging.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn logs_and_debugger(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    for i in 0..3 {
        app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": format!("ok-{i}")}))})).await;
    }
    app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": jwt("wrong-secret-wrong-secret-wrong!", &ws.kid, json!({"user_id": "bad"}))})).await;
    let base = format!("/api/v1/workspaces/{}/logs", ws.id);
    let page = app.get(&format!("{base}?limit=2"), &ws.owner).await;
    assert_eq!(page.body["items"][0]["user_id"], "bad", "newest first");
    let cursor = page.body["next_cursor"].as_str().unwrap_or("").to_owned();
    let next = app.get(&format!("{base}?limit=2&cursor={cursor}"), &ws.owner).await;
    assert_eq!(next.body["items"].as_array().map(Vec::len), Some(2));
    assert!(next.body["next_cursor"].is_null());
    let rejected = app.get(&format!("{base}?outcome=rejected"), &ws.owner).await;
    assert_eq!(rejected.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(rejected.body["items"][0]["reason"], "invalid_signature");
    assert_eq!(
        app.get(&format!("{base}?reason=invalid_signature&platform=ios"), &ws.owner).await.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(app.get(&format!("{base}?outcome=bogus"), &ws.owner).await.code(), "invalid_request");

    let debug = app
        .post(
            &format!("/api/v1/workspaces/{}/debug", ws.id),
            json!({"platform": "web", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "dbg"}))}),
            &ws.owner,
        )
        .await;
    assert_eq!(debug.status, StatusCode::OK, "{}", debug.body);
    assert_eq!(debug.body["verdict"]["verified"], true);
    assert_eq!(debug.body["header"]["kid"], ws.kid.as_str());
    assert!(debug.body["checks"].as_array().is_some_and(|c| !c.is_empty()));
    let total: i64 =
        sqlx::query_scalar("SELECT count(*) FROM verification_log").fetch_one(&app.pool).await.unwrap_or(0);
    assert_eq!(total, 4, "the debugger writes no log row");
}

/// Settings are validated, role-checked and tenant-scoped.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn security_settings_rules(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let path = format!("/api/v1/workspaces/{}/security", ws.id);
    let defaults = app.get(&path, &ws.owner).await.body;
    assert_eq!(
        defaults,
        json!({"modes": {"web": "enforce", "ios": "enforce", "android": "enforce"}, "hmac_enabled": false,
        "leeway_seconds": 60, "require_exp": false, "max_token_lifetime_seconds": null, "allowed_origins": [],
        "token_profile": "countersign", "user_id_claims": [], "expected_issuer": null})
    );
    for bad in [
        json!({"leeway_seconds": -1}),
        json!({"allowed_origins": ["not an origin"]}),
        json!({"modes": {"web": "sometimes", "ios": "enforce", "android": "enforce"}}),
        json!({"token_profile": "custom", "user_id_claims": []}),
        json!({"max_token_lifetime_seconds": 0}),
    ] {
        let mut body = defaults.clone();
        for (k, v) in bad.as_object().cloned().unwrap_or_default() {
            body[k] = v;
        }
        let reply = app.put(&path, body, &ws.owner).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}");
    }
    assert_eq!(app.get(&path, &ws.owner).await.body, defaults, "nothing changed");

    let dev = app.join(&ws.id, &ws.owner, "dev@example.com", "developer").await;
    assert_eq!(app.get(&path, &dev).await.status, StatusCode::OK);
    assert_eq!(app.put(&path, defaults.clone(), &dev).await.code(), "forbidden");
    let (stranger, _) = app.signup("stranger@example.com", "Other").await;
    assert_eq!(app.get(&path, &stranger).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/api/v1/workspaces/{}/logs", ws.id), &stranger).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{}/contacts/u-1", ws.id), &stranger).await.status,
        StatusCode::NOT_FOUND
    );

    let reply = app.put(&path, json!({"modes": {"web": "off"}}), &ws.owner).await;
    assert_eq!(reply.code(), "invalid_request", "partial bodies are refused");
    assert_eq!(app.audit_count("security.updated").await, 0);
}

/// A browser's CORS preflight for identify is answered with the CORS headers, from any origin.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn identify_preflight(pool: PgPool) {
    use axum::body::Body;
    use axum::http::Request;
    let app = TestApp::new(pool).await;
    let request = Request::builder()
        .method("OPTIONS")
        .uri("/api/v1/identify")
        .header("origin", "https://widget.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .expect("request");
    let reply = app.raw(request).await;
    assert!(reply.status.is_success(), "{}", reply.status);
    assert_eq!(reply.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()), Some("*"));
    let methods = reply.headers.get("access-control-allow-methods").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(methods.contains("POST"), "{methods}");
}

/// The data plane sits outside the dashboard's layers, yet every answer of it (success,
/// error, wrong method, oversized body) carries the security headers and `no-store`, and a
/// cross-site call carrying a cookie is not refused as CSRF: identify never reads a cookie.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn data_plane_answers_carry_security_headers(pool: PgPool) {
    use axum::body::Body;
    use axum::http::{header, Method, Request};
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let token = jwt(&ws.secret, &ws.kid, json!({"user_id": "u-1", "exp": now() + 600}));
    let cross_site = [("origin", "https://evil.example.com")];
    let body = json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token});
    let verified = app.send(Method::POST, "/api/v1/identify", Some(body), &ws.owner, &cross_site).await;
    assert_eq!(
        (verified.status, verified.body["verified"].clone()),
        (StatusCode::OK, json!(true)),
        "{}",
        verified.body
    );
    let garbage = Request::post("/api/v1/identify")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{nope"))
        .expect("request");
    let huge = Request::post("/api/v1/signatures").body(Body::from("x".repeat(70_000))).expect("request");
    let replies = [
        ("verified", verified, StatusCode::OK),
        ("garbage", app.raw(garbage).await, StatusCode::BAD_REQUEST),
        ("huge", app.raw(huge).await, StatusCode::PAYLOAD_TOO_LARGE),
        ("wrong method", app.get("/api/v1/identify", &Auth::None).await, StatusCode::METHOD_NOT_ALLOWED),
        (
            "refused signature",
            app.send(
                Method::POST,
                "/api/v1/signatures",
                Some(json!({"app_id": "x", "user_id": "u"})),
                &Auth::None,
                &[],
            )
            .await,
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (what, reply, status) in replies {
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        if status != StatusCode::OK {
            assert!(reply.body["error"]["code"].is_string(), "{what}: a JSON error, got {}", reply.body);
        }
        for name in ["x-content-type-options", "x-frame-options", "content-security-policy", "referrer-policy"] {
            assert!(reply.headers.contains_key(name), "{what}: {name}");
        }
        assert_eq!(reply.headers.get(header::CACHE_CONTROL).and_then(|v| v.to_str().ok()), Some("no-store"), "{what}");
    }
}
