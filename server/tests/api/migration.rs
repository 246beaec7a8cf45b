//! Migrating from another vendor (README, "Migrating from Intercom / TalkJS / Featurebase /
//! Fogbender"), over HTTP: import the vendor's secret, pick its profile, watch in monitor
//! mode, then enforce. Each vendor's token is made at test time the way its guide makes it —
//! node `jsonwebtoken` for TalkJS, PyJWT for the others (`server/tests/vendors/`) — verifies
//! under its own profile, and fails with the right reason under another. The libraries are
//! found as `crate::libraries` says.

use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::libraries::{node, python, token_from};
use crate::support::{TestApp, Workspace};

/// A token from `server/tests/vendors/vendor_token.py` (PyJWT) for `vendor`.
fn pyjwt_token(vendor: &str, secret: &str) -> String {
    let env = [("SECRET", secret), ("USER_ID", USER_ID), ("EMAIL", EMAIL), ("NAME", "Ada Lovelace")];
    token_from(python(), &["server/tests/vendors/vendor_token.py", vendor], &env)
}

/// A TalkJS token from `server/tests/vendors/talkjs.cjs` (node `jsonwebtoken`).
fn talkjs_token(secret: &str, talkjs_app_id: &str, token_type: &str) -> String {
    let env = [("SECRET", secret), ("APP_ID", talkjs_app_id), ("USER_ID", USER_ID), ("TOKEN_TYPE", token_type)];
    token_from(node(), &["server/tests/vendors/talkjs.cjs"], &env)
}

const USER_ID: &str = "user-8841";
const EMAIL: &str = "ada@example.com";

/// A vendor-shaped secret of the given prefix: random, long enough to import.
fn vendor_secret(prefix: &str) -> String {
    format!("{prefix}{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}

/// The README's first steps: import the vendor's secret as the primary, pick the profile
/// (with `extra` settings), web in monitor mode; and register `email` as a secure-only
/// attribute, so the test sees signed attributes arrive.
async fn migrate(app: &TestApp, ws: &Workspace, secret: &str, profile: &str, extra: Value) {
    let imported = app
        .post(
            &format!("/api/v1/workspaces/{}/keys/import", ws.id),
            json!({"secret": secret, "primary": true}),
            &ws.owner,
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.body);
    let attribute = json!({"name": "email", "type": "string", "secure_only": true});
    let created = app.post(&format!("/api/v1/workspaces/{}/attributes", ws.id), attribute, &ws.owner).await;
    assert!(created.status.is_success(), "{}", created.body);
    let mut changes =
        json!({"token_profile": profile, "modes": {"web": "monitor", "ios": "enforce", "android": "enforce"}});
    if let (Some(changes), Some(extra)) = (changes.as_object_mut(), extra.as_object()) {
        changes.extend(extra.clone());
    }
    app.set_security(ws, changes).await;
}

async fn identify(app: &TestApp, ws: &Workspace, token: &str) -> crate::support::Reply {
    app.identify(json!({"app_id": ws.app_id, "platform": "web", "user_jwt": token})).await
}

/// The token verifies under its own profile (monitor, then enforce); under `wrong` it is a
/// would-reject in monitor mode and a 401 under enforce, both with `reason`.
async fn verifies_only_under_its_profile(
    app: &TestApp,
    ws: &Workspace,
    token: &str,
    profile: &str,
    wrong: &str,
    reason: &str,
    signed_email: bool,
) {
    let reply = identify(app, ws, token).await;
    assert_eq!(
        (reply.status, &reply.body["verified"]),
        (StatusCode::OK, &json!(true)),
        "{profile} in monitor: {}",
        reply.body
    );
    assert_eq!(reply.body["user_id"], USER_ID, "{}", reply.body);
    if signed_email {
        assert_eq!(reply.body["attributes"]["email"], EMAIL, "a signed attribute: {}", reply.body);
    }

    app.set_security(ws, json!({"token_profile": wrong})).await;
    let reply = identify(app, ws, token).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        (&reply.body["verified"], &reply.body["would_reject"]),
        (&json!(false), &json!(true)),
        "{profile} token under {wrong}: {}",
        reply.body
    );
    assert_eq!(reply.body["reason"], reason, "{profile} token under {wrong}: {}", reply.body);

    app.set_security(ws, json!({"modes": {"web": "enforce", "ios": "enforce", "android": "enforce"}})).await;
    let reply = identify(app, ws, token).await;
    assert_eq!(
        (reply.status, reply.code()),
        (StatusCode::UNAUTHORIZED, reason),
        "{profile} token under {wrong}, enforced: {}",
        reply.body
    );

    app.set_security(ws, json!({"token_profile": profile})).await;
    let reply = identify(app, ws, token).await;
    assert_eq!(
        (reply.status, &reply.body["verified"]),
        (StatusCode::OK, &json!(true)),
        "{profile} enforced: {}",
        reply.body
    );
}

/// Intercom: PyJWT signs `user_id`, `email`, `exp`; under TalkJS's profile (which requires
/// `iss`) it fails with `invalid_issuer`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn intercom_tokens_verify_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let secret = vendor_secret("");
    migrate(&app, &ws, &secret, "intercom", json!({})).await;
    let token = pyjwt_token("intercom", &secret);
    verifies_only_under_its_profile(&app, &ws, &token, "intercom", "talkjs", "invalid_issuer", true).await;
}

/// TalkJS: node `jsonwebtoken` signs `tokenType`, `iss` (the TalkJS app id) and `sub`, as the
/// guide does; under Intercom's profile (`user_id` only) it fails with `missing_user_id`, and
/// a token of another `tokenType` fails with `invalid_token_type`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn talkjs_tokens_verify_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let secret = vendor_secret("sk_test_");
    let talkjs_app = "tZ9uUqv1";
    migrate(&app, &ws, &secret, "talkjs", json!({"expected_issuer": talkjs_app})).await;
    let token = talkjs_token(&secret, talkjs_app, "user");
    verifies_only_under_its_profile(&app, &ws, &token, "talkjs", "intercom", "missing_user_id", false).await;

    let other_type = talkjs_token(&secret, talkjs_app, "app");
    let reply = identify(&app, &ws, &other_type).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::UNAUTHORIZED, "invalid_token_type"), "{}", reply.body);
    app.set_security(&ws, json!({"expected_issuer": null})).await;
    let reply = identify(&app, &ws, &token).await;
    assert_eq!(reply.code(), "invalid_issuer", "the issuer defaults to the Countersign app id: {}", reply.body);

    // Before the profile is picked, the debugger recognises the TalkJS token and names the
    // expected issuer it needs (its iss fails the default issuer check under every profile).
    app.set_security(&ws, json!({"token_profile": "countersign"})).await;
    let path = format!("/api/v1/workspaces/{}/debug", ws.id);
    let report = app.post(&path, json!({"platform": "web", "user_jwt": token}), &ws.owner).await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert_eq!(report.body["profile"]["accepted_by"], json!(["talkjs"]), "{}", report.body);
    assert_eq!(report.body["profile"]["needs_issuer"], talkjs_app);
}

/// Featurebase: PyJWT signs `name`, `email`, `userId`; under Intercom's profile it fails with
/// `missing_user_id`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn featurebase_tokens_verify_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let secret = vendor_secret("fb_");
    migrate(&app, &ws, &secret, "featurebase", json!({})).await;
    let token = pyjwt_token("featurebase", &secret);
    verifies_only_under_its_profile(&app, &ws, &token, "featurebase", "intercom", "missing_user_id", true).await;
}

/// Fogbender: PyJWT signs `userId`, `customerId`, `customerName`, `userEmail`, `userName`;
/// under TalkJS's profile it fails with `invalid_issuer`.
#[sqlx::test(migrator = "countersign_service::MIGRATOR")]
async fn fogbender_tokens_verify_unchanged(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let ws = app.workspace("owner@example.com").await;
    let secret = vendor_secret("");
    migrate(&app, &ws, &secret, "fogbender", json!({})).await;
    let token = pyjwt_token("fogbender", &secret);
    verifies_only_under_its_profile(&app, &ws, &token, "fogbender", "talkjs", "invalid_issuer", false).await;
}
