//! Workspace secrets: rotation with grace, revoke, reveal with audit, roles, tenancy, at rest.

use axum::http::StatusCode;
use countersign_core::policy::{permits, Action, Role};
use countersign_core::KeyState;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{jwt, Auth, TestApp};

async fn keys(app: &TestApp, workspace: &str, auth: &Auth) -> Vec<serde_json::Value> {
    let reply = app.get(&format!("/api/v1/workspaces/{workspace}/keys"), auth).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().cloned().unwrap_or_default()
}

/// A new workspace has exactly one primary key, with a fingerprint and no secret in the list.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn new_workspace_has_one_primary(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let list = keys(&app, &ws, &owner).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["state"], "primary");
    assert!(list[0]["kid"].as_str().unwrap_or("").starts_with("k_"));
    assert!(list[0]["fingerprint"].as_str().unwrap_or("").starts_with("sha256:"));
    assert!(list[0].get("secret").is_none());
}

/// A key's last use is its newest verified attempt, read from the rollups: the stored
/// timestamp, refreshed at most once a minute, would still show the first of two attempts.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn last_use_is_the_newest_verified_attempt(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let body = json!({"app_id": ws.app_id, "platform": "ios", "user_jwt": jwt(&ws.secret, &ws.kid, json!({"user_id": "u-1"}))});
    assert_eq!(app.identify(body.clone()).await.body["verified"], true);
    app.svc.clock.advance(chrono::Duration::seconds(30));
    let second = app.svc.clock.now();
    assert_eq!(app.identify(body).await.body["verified"], true);
    let list = keys(&app, &ws.id, &ws.owner).await;
    let key = list.iter().find(|k| k["kid"] == ws.kid.as_str()).cloned().unwrap_or_default();
    let last_used: chrono::DateTime<chrono::Utc> =
        key["last_used_at"].as_str().and_then(|t| t.parse().ok()).unwrap_or_default();
    assert!(last_used >= second, "{key}");
    assert_eq!(key["verifications_24h"], 2, "{key}");
}

/// Rotation keeps the old key verifying inside its grace period and not after (manual clock).
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn rotation_overlap_follows_the_clock(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let old_kid = keys(&app, &ws, &owner).await[0]["kid"].as_str().unwrap_or("").to_owned();
    let rotated =
        app.post(&format!("/api/v1/workspaces/{ws}/keys/rotate"), json!({"grace_seconds": 3600}), &owner).await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.body);
    assert!(rotated.body["secret"].as_str().unwrap_or("").starts_with("cs_sk_"));
    assert_eq!(rotated.body["previous"]["state"], "rotating");

    let workspace_id: Uuid = ws.parse().unwrap_or_default();
    let state_of =
        |keys: &[countersign_core::VerificationKey], kid: &str| keys.iter().find(|k| k.kid == kid).map(|k| k.state);
    let now = || app.svc.clock.now().timestamp();
    let material = app.svc.verification_keys(workspace_id).await.unwrap_or_default();
    let old = material.iter().find(|k| k.kid == old_kid).cloned();
    assert!(matches!(state_of(&material, &old_kid), Some(KeyState::Rotating { .. })));
    assert!(old.as_ref().is_some_and(|k| k.verifies_at(now())), "inside the grace period the old key verifies");

    app.svc.clock.advance(chrono::Duration::seconds(3599));
    assert!(old.as_ref().is_some_and(|k| k.verifies_at(now())), "one second before the end it still verifies");
    app.svc.clock.advance(chrono::Duration::seconds(2));
    assert!(!old.as_ref().is_some_and(|k| k.verifies_at(now())), "after the grace period it does not");
    let list = keys(&app, &ws, &owner).await;
    let old_listed = list.iter().find(|k| k["kid"] == old_kid.as_str()).cloned().unwrap_or_default();
    assert_eq!(old_listed["state"], "revoked", "listed as revoked once its grace has ended");
    assert_eq!(list.iter().filter(|k| k["state"] == "primary").count(), 1);
}

/// Rotating with grace 0 revokes the old primary at once; revoke works on any key.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn immediate_revocation(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let old_kid = keys(&app, &ws, &owner).await[0]["kid"].as_str().unwrap_or("").to_owned();
    let rotated = app.post(&format!("/api/v1/workspaces/{ws}/keys/rotate"), json!({"grace_seconds": 0}), &owner).await;
    assert_eq!(rotated.body["previous"]["state"], "revoked");
    let workspace_id: Uuid = ws.parse().unwrap_or_default();
    let material = app.svc.verification_keys(workspace_id).await.unwrap_or_default();
    assert!(material.iter().any(|k| k.kid == old_kid && k.state == KeyState::Revoked));

    let new_kid = rotated.body["kid"].as_str().unwrap_or("").to_owned();
    let revoked = app.post(&format!("/api/v1/workspaces/{ws}/keys/{new_kid}/revoke"), json!({}), &owner).await;
    assert_eq!((revoked.status, &revoked.body["state"]), (StatusCode::OK, &json!("revoked")));
    let material = app.svc.verification_keys(workspace_id).await.unwrap_or_default();
    assert!(material.iter().all(|k| !k.verifies_at(app.svc.clock.now().timestamp())), "no key verifies any more");
    assert_eq!(app.audit_count("key.revoked").await, 2, "the rotation's revocation, then this one");
    let unknown = app.post(&format!("/api/v1/workspaces/{ws}/keys/k_nope/revoke"), json!({}), &owner).await;
    assert_eq!(unknown.code(), "not_found");
    let bad_grace =
        app.post(&format!("/api/v1/workspaces/{ws}/keys/rotate"), json!({"grace_seconds": -1}), &owner).await;
    assert_eq!(bad_grace.code(), "invalid_request");
}

/// Every reveal returns the secret and writes an audit row naming the key and the actor.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn reveal_is_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let kid = keys(&app, &ws, &owner).await[0]["kid"].as_str().unwrap_or("").to_owned();
    for _ in 0..2 {
        let reply = app.get(&format!("/api/v1/workspaces/{ws}/keys/{kid}/secret"), &owner).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body["secret"].as_str().unwrap_or("").starts_with("cs_sk_"));
    }
    let audit = app.get(&format!("/api/v1/workspaces/{ws}/audit?action=key.revealed"), &owner).await;
    let items = audit.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["target"], kid.as_str());
    assert_eq!(items[0]["actor_email"], "owner@example.com");
}

/// Each role gets exactly the key actions of the permission table; support's rotation hides the secret.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn role_matrix_for_keys(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    for role in [Role::Owner, Role::Admin, Role::Developer, Role::Support] {
        let auth = if role == Role::Owner {
            owner.clone()
        } else {
            let email = format!("{}@example.com", role.as_str());
            app.join(&ws, &owner, &email, role.as_str()).await
        };
        let kid = keys(&app, &ws, &auth).await[0]["kid"].as_str().unwrap_or("").to_owned();
        let reveal = app.get(&format!("/api/v1/workspaces/{ws}/keys/{kid}/secret"), &auth).await;
        assert_eq!(reveal.status == StatusCode::OK, permits(role, Action::RevealSecret), "{role:?} reveal");
        let rotate =
            app.post(&format!("/api/v1/workspaces/{ws}/keys/rotate"), json!({"grace_seconds": 60}), &auth).await;
        assert_eq!(rotate.status == StatusCode::OK, permits(role, Action::RotateOrRevokeKey), "{role:?} rotate");
        if rotate.status == StatusCode::OK {
            assert_eq!(
                rotate.body.get("secret").is_some(),
                permits(role, Action::RevealSecret),
                "{role:?} sees the new secret"
            );
            let new_kid = rotate.body["kid"].as_str().unwrap_or("").to_owned();
            let old = rotate.body["previous"]["kid"].as_str().unwrap_or("").to_owned();
            assert_eq!(
                app.post(&format!("/api/v1/workspaces/{ws}/keys/{old}/revoke"), json!({}), &auth).await.status,
                StatusCode::OK
            );
            assert!(!new_kid.is_empty());
        } else {
            assert_eq!(rotate.code(), "forbidden");
            let revoke = app.post(&format!("/api/v1/workspaces/{ws}/keys/{kid}/revoke"), json!({}), &auth).await;
            assert_eq!(revoke.code(), "forbidden", "{role:?} revoke");
        }
    }
}

/// Keys of another workspace answer 404 on every key endpoint, like missing ones.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn keys_cross_tenant(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, ada_ws) = app.signup("ada@example.com", "Acme").await;
    let (bob, bob_ws) = app.signup("bob@example.com", "Bobco").await;
    let kid = keys(&app, &ada_ws, &ada).await[0]["kid"].as_str().unwrap_or("").to_owned();
    for reply in [
        app.get(&format!("/api/v1/workspaces/{ada_ws}/keys"), &bob).await,
        app.post(&format!("/api/v1/workspaces/{ada_ws}/keys/rotate"), json!({}), &bob).await,
        app.post(&format!("/api/v1/workspaces/{ada_ws}/keys/{kid}/revoke"), json!({}), &bob).await,
        app.get(&format!("/api/v1/workspaces/{ada_ws}/keys/{kid}/secret"), &bob).await,
        // Ada's kid under Bob's own workspace id is not found either.
        app.get(&format!("/api/v1/workspaces/{bob_ws}/keys/{kid}/secret"), &bob).await,
        app.post(&format!("/api/v1/workspaces/{bob_ws}/keys/{kid}/revoke"), json!({}), &bob).await,
    ] {
        assert_eq!((reply.status, reply.code()), (StatusCode::NOT_FOUND, "not_found"), "{}", reply.body);
    }
    assert_eq!(keys(&app, &ada_ws, &ada).await[0]["state"], "primary", "nothing changed");
}

/// A sealed secret moved to another workspace's row cannot be opened.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn ciphertext_is_bound_to_its_workspace(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let (ada, ada_ws) = app.signup("ada@example.com", "Acme").await;
    let (bob, bob_ws) = app.signup("bob@example.com", "Bobco").await;
    let bob_kid = keys(&app, &bob_ws, &bob).await[0]["kid"].as_str().unwrap_or("").to_owned();
    sqlx::query("UPDATE workspace_keys SET sealed = (SELECT sealed FROM workspace_keys WHERE workspace_id = $1) WHERE workspace_id = $2")
        .bind(ada_ws.parse::<Uuid>().unwrap_or_default())
        .bind(bob_ws.parse::<Uuid>().unwrap_or_default())
        .execute(&app.pool)
        .await
        .unwrap_or_default();
    let reply = app.get(&format!("/api/v1/workspaces/{bob_ws}/keys/{bob_kid}/secret"), &bob).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
    assert!(!reply.body.to_string().contains("cs_sk_"));
    let ada_kid = keys(&app, &ada_ws, &ada).await[0]["kid"].as_str().unwrap_or("").to_owned();
    assert_eq!(
        app.get(&format!("/api/v1/workspaces/{ada_ws}/keys/{ada_kid}/secret"), &ada).await.status,
        StatusCode::OK
    );
}

/// `rekey` moves every secret to a new master key; the old key alone then opens nothing.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn master_key_rotation_round_trip(pool: PgPool) {
    use countersign_service::crypto::{Keyring, MasterKey};
    use countersign_service::{Clock, Service, Settings};
    let app = TestApp::new(pool.clone()).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let kid = keys(&app, &ws, &owner).await[0]["kid"].as_str().unwrap_or("").to_owned();
    let before = app.get(&format!("/api/v1/workspaces/{ws}/keys/{kid}/secret"), &owner).await.body["secret"].clone();
    let old_key = countersign_server::config::parse_key(countersign_server::config::DEV_MASTER_KEY).unwrap_or([0; 32]);
    let new_key = [7u8; 32];
    let both = Keyring { current: MasterKey::new(new_key), previous: Some(MasterKey::new(old_key)) };
    let migrating =
        Service::new(pool.clone(), Clock::system(), Settings::default(), both).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(migrating.rekey_all().await.unwrap_or(0), 2 - 1, "one workspace, one key");
    let new_only =
        Service::new(pool.clone(), Clock::system(), Settings::default(), Keyring::single(MasterKey::new(new_key)))
            .unwrap_or_else(|e| panic!("{e}"));
    let workspace_id: Uuid = ws.parse().unwrap_or_default();
    let opened = new_only.verification_keys(workspace_id).await.unwrap_or_default();
    assert_eq!(opened.len(), 1);
    assert_eq!(Some(opened[0].secret.expose()), before.as_str().map(str::as_bytes));
    assert!(app.svc.verification_keys(workspace_id).await.is_err(), "the old key alone no longer opens it");
}

/// An imported secret verifies identify tokens, is never echoed, and needs a settings role.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn import_a_secret(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let path = format!("/api/v1/workspaces/{}/keys/import", ws.id);
    let short = app.post(&path, json!({"secret": "too-short", "primary": true}), &ws.owner).await;
    assert_eq!(short.code(), "invalid_request");
    let mine = "my-existing-intercom-secret-0123456789abcdef";
    let imported = app.post(&path, json!({"secret": mine, "primary": true}), &ws.owner).await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.body);
    assert!(!imported.body.to_string().contains(mine), "never echoed");
    let kid = imported.body["kid"].as_str().unwrap_or("").to_owned();
    let token = crate::support::jwt(mine, &kid, json!({"user_id": "legacy"}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await;
    assert_eq!(reply.body["verified"], true, "{}", reply.body);
    let old = crate::support::jwt(&ws.secret, &ws.kid, json!({"user_id": "u"}));
    let reply = app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": old})).await;
    assert_eq!(reply.body["verified"], true, "the previous primary still verifies during its grace");

    let support = app.join(&ws.id, &ws.owner, "s@example.com", "support").await;
    let refused = app.post(&path, json!({"secret": mine, "primary": false}), &support).await;
    assert_eq!(refused.code(), "forbidden");
}

/// A refused import (too short, a repeated pattern, pasted with a line break) says why without
/// quoting the secret and writes no audit row; an accepted one is audited with who, which key
/// and how it is used, never the secret.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn import_refuses_weak_secrets_and_is_audited(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let path = format!("/api/v1/workspaces/{}/keys/import", ws.id);
    let repeated = "ab".repeat(24);
    for weak in ["too-short", repeated.as_str(), "0123456789abcdef0123456789abcdef\n"] {
        let reply = app.post(&path, json!({"secret": weak, "primary": true}), &ws.owner).await;
        assert_eq!(
            (reply.status, reply.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "{weak:?}: {}",
            reply.body
        );
        assert!(!reply.body.to_string().contains(weak.trim()), "the refusal quotes the secret: {}", reply.body);
    }
    assert_eq!(app.audit_count("key.imported").await, 0, "a refused import is not audited");
    assert_eq!(keys(&app, &ws.id, &ws.owner).await.len(), 1, "nothing was stored");

    let mine = "verify-only-secret-0123456789abcdefghij";
    let imported = app.post(&path, json!({"secret": mine, "primary": false}), &ws.owner).await;
    assert_eq!(
        (imported.status, &imported.body["state"]),
        (StatusCode::CREATED, &json!("rotating")),
        "{}",
        imported.body
    );
    let kid = imported.body["kid"].as_str().unwrap_or_default().to_owned();
    let audit = app.get(&format!("/api/v1/workspaces/{}/audit?action=key.imported", ws.id), &ws.owner).await;
    let items = audit.body["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{}", audit.body);
    assert_eq!((&items[0]["target"], &items[0]["actor_email"]), (&json!(kid), &json!("owner@example.com")));
    assert_eq!(items[0]["details"], json!({"primary": false}));
    assert!(!audit.body.to_string().contains(mine), "the audit log never holds the secret");
}

/// Revealing a secret is a `GET` with an audited effect: from another site, or with the cookie
/// and no origin at all, it is refused; from the dashboard or with a bearer token it works.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn reveal_refuses_cross_site(pool: PgPool) {
    use axum::http::Method;
    let app = TestApp::new(pool).await;
    let (owner, ws) = app.signup("owner@example.com", "Acme").await;
    let kid = keys(&app, &ws, &owner).await[0]["kid"].as_str().unwrap_or("").to_owned();
    let path = format!("/api/v1/workspaces/{ws}/keys/{kid}/secret");
    let Auth::Cookie(cookie) = &owner else { panic!("signup returns a session cookie") };
    // Exactly these headers and the cookie: no default `Origin`.
    let get = |headers: &[(&str, &str)]| {
        let mut request = axum::http::Request::get(&path).header("cookie", format!("cs_session={cookie}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        app.raw(request.body(axum::body::Body::empty()).expect("request"))
    };
    let refused: [&[(&str, &str)]; 4] = [
        &[("origin", "https://evil.example")],
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[],
    ];
    for headers in refused {
        let reply = get(headers).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "csrf_failed"), "{headers:?}");
        assert!(reply.body.get("secret").is_none());
    }
    assert_eq!(app.audit_count("key.revealed").await, 0, "nothing was revealed");

    let allowed: [&[(&str, &str)]; 2] = [&[("origin", crate::support::ORIGIN)], &[("sec-fetch-site", "same-origin")]];
    for headers in allowed {
        let reply = get(headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{headers:?}: {}", reply.body);
    }
    let token = app.post("/api/v1/tokens", json!({"name": "ops"}), &owner).await.body["token"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    let bearer = app.send(Method::GET, &path, None, &Auth::Bearer(token), &[("origin", "https://evil.example")]).await;
    assert_eq!(bearer.status, StatusCode::OK, "a bearer token carries no ambient authority: {}", bearer.body);
    assert_eq!(app.audit_count("key.revealed").await, 3);
}
