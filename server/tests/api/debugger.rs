//! The token debugger API (`POST .../debug`) and its test tokens (`POST .../debug/token`): every
//! reason code the debugger can produce, with its fix; key, profile and time reports; role
//! checks; hostile input; and never a verification log row.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use countersign_core::Reason;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::support::{jwt, now, Auth, Reply, TestApp, Workspace, ORIGIN};

async fn log_rows(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM verification_log").fetch_one(&app.pool).await.expect("count")
}

async fn debug(app: &TestApp, ws: &Workspace, body: Value) -> Reply {
    app.post(&format!("/api/v1/workspaces/{}/debug", ws.id), body, &ws.owner).await
}

/// A token signed with `claims` by the workspace's primary key.
fn signed(ws: &Workspace, claims: Value) -> String {
    jwt(&ws.secret, &ws.kid, claims)
}

/// Asserts the report's reason and that a failed check carries it with a meaning and a fix.
fn assert_reason(reply: &Reply, reason: &str, case: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{case}: {}", reply.body);
    assert_eq!(reply.body["verdict"]["reason"], reason, "{case}: {}", reply.body);
    let checks = reply.body["checks"].as_array().cloned().unwrap_or_default();
    let failed = checks
        .iter()
        .find(|c| c["reason"] == reason)
        .unwrap_or_else(|| panic!("{case}: no failed check says {reason}: {checks:?}"));
    assert_eq!(failed["ok"], false, "{case}");
    assert!(failed["fix"].as_str().is_some_and(|f| !f.is_empty()), "{case}: {failed}");
    assert!(failed["meaning"].as_str().is_some_and(|m| !m.is_empty()), "{case}: {failed}");
    for field in ["header", "payload", "checks", "verdict", "kid"] {
        assert!(reply.body.get(field).is_some(), "{case}: the contract's {field} is kept");
    }
}

/// Every reason code the debugger can produce, each from a request a developer could paste;
/// not one writes a verification log row.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn every_reason_code_with_its_fix(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let t = now();
    let alg_none = "eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoidSJ9.";
    let mut seen = BTreeSet::new();
    let cases: Vec<(&str, Value)> = vec![
        ("missing_token", json!({"platform": "ios"})),
        ("malformed_token", json!({"platform": "ios", "user_jwt": "a.b"})),
        ("token_too_large", json!({"platform": "ios", "user_jwt": "a".repeat(9000)})),
        ("unsupported_algorithm", json!({"platform": "ios", "user_jwt": alg_none})),
        (
            "unknown_key",
            json!({"platform": "ios", "user_jwt": jwt(&ws.secret, "no-such-kid", json!({"user_id": "u"}))}),
        ),
        (
            "invalid_signature",
            json!({"platform": "ios", "user_jwt": jwt("another-secret-another-secret-32", &ws.kid, json!({"user_id": "u"}))}),
        ),
        (
            "token_expired",
            json!({"platform": "ios", "user_jwt": signed(&ws, json!({"user_id": "u", "exp": t - 3 * 3600}))}),
        ),
        (
            "token_not_yet_valid",
            json!({"platform": "ios", "user_jwt": signed(&ws, json!({"user_id": "u", "nbf": t + 3600}))}),
        ),
        (
            "token_issued_in_future",
            json!({"platform": "ios", "user_jwt": signed(&ws, json!({"user_id": "u", "iat": t + 3600}))}),
        ),
        (
            "invalid_issuer",
            json!({"platform": "ios", "user_jwt": signed(&ws, json!({"user_id": "u", "iss": "someone-else"}))}),
        ),
        ("missing_user_id", json!({"platform": "ios", "user_jwt": signed(&ws, json!({"name": "Ann"}))})),
        ("invalid_user_id", json!({"platform": "ios", "user_jwt": signed(&ws, json!({"user_id": 42}))})),
        ("hmac_disabled", json!({"platform": "ios", "user_id": "u", "user_hash": "ab".repeat(32)})),
    ];
    for (reason, body) in cases {
        let reply = debug(&app, &ws, body).await;
        assert_reason(&reply, reason, reason);
        seen.insert(reason.to_owned());
    }

    app.set_security(&ws, json!({"hmac_enabled": true})).await;
    let reply = debug(&app, &ws, json!({"platform": "ios", "user_id": "u-1", "user_hash": "ab".repeat(32)})).await;
    assert_reason(&reply, "invalid_user_hash", "invalid_user_hash");
    assert_eq!(reply.body["legacy"]["hmac_input"], "u-1", "the exact HMAC input is shown");
    seen.insert("invalid_user_hash".into());

    app.set_security(&ws, json!({"allowed_origins": ["https://app.example.com"]})).await;
    let token = signed(&ws, json!({"user_id": "u"}));
    let unchecked = debug(&app, &ws, json!({"platform": "web", "user_jwt": token})).await;
    assert_eq!(
        unchecked.body["verdict"]["verified"], true,
        "without an origin the allowlist is not checked: {}",
        unchecked.body
    );
    let reply = debug(&app, &ws, json!({"platform": "web", "user_jwt": token, "origin": "https://evil.example"})).await;
    assert_reason(&reply, "origin_not_allowed", "origin_not_allowed");
    assert_eq!(
        debug(&app, &ws, json!({"platform": "web", "user_jwt": token, "origin": "https://app.example.com"})).await.body
            ["verdict"]["verified"],
        true
    );
    seen.insert("origin_not_allowed".into());

    app.set_security(&ws, json!({"require_exp": true})).await;
    assert_reason(&debug(&app, &ws, json!({"platform": "ios", "user_jwt": token})).await, "missing_exp", "missing_exp");
    seen.insert("missing_exp".into());

    app.set_security(&ws, json!({"require_exp": false, "max_token_lifetime_seconds": 600})).await;
    let long = signed(&ws, json!({"user_id": "u", "iat": t, "exp": t + 86_400}));
    assert_reason(
        &debug(&app, &ws, json!({"platform": "ios", "user_jwt": long})).await,
        "lifetime_too_long",
        "lifetime_too_long",
    );
    seen.insert("lifetime_too_long".into());

    app.set_security(&ws, json!({"max_token_lifetime_seconds": null, "token_profile": "talkjs"})).await;
    let talk = signed(&ws, json!({"sub": "u", "iss": ws.app_id, "tokenType": "admin"}));
    assert_reason(
        &debug(&app, &ws, json!({"platform": "ios", "user_jwt": talk})).await,
        "invalid_token_type",
        "invalid_token_type",
    );
    seen.insert("invalid_token_type".into());

    app.set_security(&ws, json!({"token_profile": "countersign"})).await;
    let rotated =
        app.post(&format!("/api/v1/workspaces/{}/keys/rotate", ws.id), json!({"grace_seconds": 0}), &ws.owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    let reply = debug(&app, &ws, json!({"platform": "ios", "user_jwt": token})).await;
    assert_reason(&reply, "revoked_key", "revoked_key");
    assert_eq!(reply.body["key"]["kid"], ws.kid.as_str());
    assert_eq!(reply.body["key"]["state"], "revoked");
    assert_eq!(
        (reply.body["key"]["signature_valid"].clone(), reply.body["key"]["verifies_now"].clone()),
        (json!(true), json!(false))
    );
    seen.insert("revoked_key".into());

    let producible: BTreeSet<String> =
        Reason::ALL.iter().filter(|r| **r != Reason::InvalidRequest).map(|r| r.as_str().to_owned()).collect();
    assert_eq!(seen, producible, "every reason the debugger can produce is covered");
    assert_eq!(log_rows(&app).await, 0, "the debugger writes no verification log row");
}

/// A good token names its key by kid and fingerprint, the claim that gave the user id, the
/// times in words and the mode's decision; a vendor-shaped token names the profile that would
/// accept it.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn reports_key_profile_times_and_decision(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let t = now();
    let reply = debug(
        &app,
        &ws,
        json!({"platform": "android", "user_jwt": signed(&ws, json!({"sub": "u-5", "iat": t - 60, "exp": t + 3600}))}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let keys = app.get(&format!("/api/v1/workspaces/{}/keys", ws.id), &ws.owner).await;
    assert_eq!(reply.body["key"]["fingerprint"], keys.body[0]["fingerprint"]);
    assert_eq!(reply.body["key"]["state"], "primary");
    assert_eq!(reply.body["profile"]["user_id_claim"], "sub");
    assert_eq!(reply.body["verdict"]["decision"], "accept");
    assert_eq!(reply.body["times"][0]["relative"], "issued 1 min ago");
    assert_eq!(reply.body["times"][1]["relative"], "expires in 1 h");
    assert!(reply.body["segments"].as_array().is_some_and(|s| s.len() == 3 && s.iter().all(|s| s["ok"] == true)));

    let vendor = debug(
        &app,
        &ws,
        json!({"platform": "ios", "user_jwt": signed(&ws, json!({"userId": "u-6", "email": "a@example.com"}))}),
    )
    .await;
    assert_eq!(vendor.body["verdict"]["reason"], "missing_user_id");
    assert_eq!(vendor.body["profile"]["accepted_by"], json!(["featurebase", "fogbender"]));

    app.set_security(&ws, json!({"modes": {"web": "monitor", "ios": "off", "android": "enforce"}})).await;
    let expired = signed(&ws, json!({"user_id": "u", "exp": t - 7200}));
    for (platform, decision) in [("web", "would_reject"), ("ios", "accept"), ("android", "reject")] {
        let reply = debug(&app, &ws, json!({"platform": platform, "user_jwt": expired})).await;
        assert_eq!(reply.body["verdict"]["decision"], decision, "{platform}: {}", reply.body);
    }
    assert_eq!(log_rows(&app).await, 0);
}

/// Test tokens: refused to support, signed for the others with the primary key; the token and
/// the hash verify through identify, with the exact HMAC input shown.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn test_tokens_verify_through_identify(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let path = format!("/api/v1/workspaces/{}/debug/token", ws.id);
    app.post(
        &format!("/api/v1/workspaces/{}/attributes", ws.id),
        json!({"name": "plan", "type": "string", "secure_only": true}),
        &ws.owner,
    )
    .await;
    let support = app.join(&ws.id, &ws.owner, "support@example.com", "support").await;
    let refused = app.post(&path, json!({"user_id": "u"}), &support).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"), "{}", refused.body);
    let developer = app.join(&ws.id, &ws.owner, "dev@example.com", "developer").await;
    let admin = app.join(&ws.id, &ws.owner, "admin@example.com", "admin").await;

    for who in [&ws.owner, &admin, &developer] {
        let made =
            app.post(&path, json!({"user_id": "user 7", "attributes": {"plan": "pro"}, "expires_in": 600}), who).await;
        assert_eq!(made.status, StatusCode::OK, "{}", made.body);
        assert_eq!(made.body["kid"], ws.kid.as_str());
        assert_eq!(made.body["hmac_input"], "user 7");
        assert_eq!(made.body["claims"]["plan"], "pro");
        let verified =
            app.identify(json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": made.body["user_jwt"]})).await;
        assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
        assert_eq!(
            (verified.body["verified"].clone(), verified.body["user_id"].clone()),
            (json!(true), json!("user 7"))
        );
        assert_eq!(verified.body["attributes"]["plan"], "pro", "signed attributes are accepted");
    }
    assert_eq!(app.audit_count("key.test_token_signed").await, 3, "every signed test token is audited");
    let audit = app.get(&format!("/api/v1/workspaces/{}/audit?action=key.test_token_signed", ws.id), &ws.owner).await;
    assert!(!audit.body.to_string().contains("eyJ"), "the audit row never holds the token: {}", audit.body);
    app.set_security(&ws, json!({"hmac_enabled": true})).await;
    let made = app.post(&path, json!({"user_id": "user 8"}), &ws.owner).await;
    let legacy = app
        .identify(
            json!({"app_id": ws.app_id, "platform": "ios", "user_id": "user 8", "user_hash": made.body["user_hash"]}),
        )
        .await;
    assert_eq!(legacy.body["verified"], true, "{}", legacy.body);

    for bad in [
        json!({}),
        json!({"user_id": 5}),
        json!({"user_id": "u", "attributes": [1]}),
        json!({"user_id": "u", "expires_in": -1}),
        json!({"user_id": "u", "attributes": {"exp": 1}}),
        json!([1]),
    ] {
        let reply = app.post(&path, bad.clone(), &ws.owner).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_request"), "{bad}: {}", reply.body);
    }
    assert_eq!(app.audit_count("key.test_token_signed").await, 4, "refused requests sign nothing");
}

/// Hostile pastes: a 1 MB body, binary and NUL bytes, invalid UTF-8, unknown platforms and
/// wrong types get the contract's JSON error (or a report), never a 500.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn hostile_input_gets_contract_errors(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let path = format!("/api/v1/workspaces/{}/debug", ws.id);

    let huge = debug(&app, &ws, json!({"platform": "web", "user_jwt": "x".repeat(1024 * 1024)})).await;
    assert_eq!((huge.status, huge.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"), "{}", huge.body);
    assert!(huge.body["error"]["message"].is_string());

    let big = debug(&app, &ws, json!({"platform": "web", "user_jwt": format!("{}.{}.{}", "e".repeat(20_000), "e".repeat(20_000), "e".repeat(20_000))})).await;
    assert_reason(&big, "token_too_large", "a 60 KB token");

    let binary =
        debug(&app, &ws, json!({"platform": "web", "user_jwt": "\u{1}\u{7f}\u{ff}.\u{fffd}\u{2}.\u{1b}[31m"})).await;
    assert_reason(&binary, "malformed_token", "control characters");
    assert!(
        binary.body["segments"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["ok"] == false && s["problem"].is_string())),
        "{}",
        binary.body
    );

    let bad_bodies = [
        json!({"platform": "windows", "user_jwt": "a.b.c"}),
        json!({"platform": "WEB", "user_jwt": "a.b.c"}),
        json!({"user_jwt": "a.b.c"}),
        json!({"platform": "web", "user_jwt": 5}),
        json!({"platform": "web", "user_jwt": "a.b.c", "origin": ["x"]}),
        json!({"platform": "web", "user_jwt": "a.b.c", "origin": "o".repeat(5000)}),
        json!({"platform": "web", "user_jwt": "\u{0}"}),
        json!([{"platform": "web"}]),
    ];
    for body in bad_bodies {
        let reply = debug(&app, &ws, body.clone()).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{body}: {}",
            reply.body
        );
        assert!(reply.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let Auth::Cookie(session) = &ws.owner else { panic!("cookie session") };
    for raw in [&b"{\"platform\": \"web\", \"user_jwt\": \"\xff\xfe\"}"[..], b"\x00\x01\x02", b"{\"platform\":"] {
        let request = Request::builder()
            .method(Method::POST)
            .uri(&path)
            .header(header::ORIGIN, ORIGIN)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::COOKIE, format!("cs_session={session}"))
            .body(Body::from(raw.to_vec()))
            .expect("request");
        let reply = app.raw(request).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{raw:?}: {}",
            reply.body
        );
    }
    assert_eq!(log_rows(&app).await, 0, "no hostile paste wrote a log row");
}
