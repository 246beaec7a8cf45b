//! [`verify`] and [`verify_traced`] are one decision: on every kind of request they agree on
//! everything but the debugger's `checks`, `header` and `payload`.

use super::*;
use crate::attributes::{AttributeDef, AttributeType};
use crate::keys::{Alg, KeyState, VerificationKey};
use crate::platform::Modes;
use crate::profile::TokenProfile;
use crate::sign::{sign_jwt, sign_jwt_with, user_hmac};
use crate::testutil::{b64, bare_request, jwt_request, obj, policy, raw_token, token, untraced, NOW, OTHER, SECRET};
use serde_json::json;

/// A workspace with a revoked key, legacy HMAC, one web origin and two attributes.
fn rich_policy(mode: Mode) -> WorkspacePolicy {
    let mut p = policy();
    p.modes = Modes::all(mode);
    p.hmac_enabled = true;
    p.allowed_origins = vec!["https://app.example.com".into()];
    p.keys.push(VerificationKey::new("k_old", OTHER.to_vec(), KeyState::Revoked));
    p.attributes = vec![
        AttributeDef { name: "plan".into(), kind: AttributeType::String, secure_only: true },
        AttributeDef { name: "seats".into(), kind: AttributeType::Number, secure_only: false },
    ];
    p
}

/// One request per outcome we can produce: valid, each failure reason, legacy HMAC, with and
/// without unsigned attributes, a body user id and a stray `user_hash`.
fn requests() -> Vec<IdentifyRequest> {
    let valid = token(json!({"user_id": "u_1", "plan": "pro", "seats": 3, "nick": "x",
        "iat": NOW - 10, "exp": NOW + 600}));
    let jwts = [
        valid.clone(),
        token(json!({"sub": "u_2", "seats": "three"})),
        format!("!{valid}"),
        "a.b".to_string(),
        token(json!({"user_id": "u", "pad": "x".repeat(9000)})),
        format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"user_id":"u"}"#)),
        raw_token(r#"{"alg":"HS256","alg":"HS256"}"#, r#"{"user_id":"u"}"#, SECRET),
        raw_token(r#"{"alg":"HS256"}"#, r#"["u"]"#, SECRET),
        raw_token(r#"{"alg":"HS256","crit":["exp"]}"#, r#"{"user_id":"u"}"#, SECRET),
        sign_jwt(SECRET, "k_nope", &obj(json!({"user_id": "u"}))),
        sign_jwt(OTHER, "k_old", &obj(json!({"user_id": "u", "plan": "pro"}))),
        sign_jwt(OTHER, "k_primary", &obj(json!({"user_id": "u"}))),
        sign_jwt_with(Alg::Hs384, OTHER, None, &obj(json!({"user_id": "u"}))),
        sign_jwt_with(Alg::Hs512, SECRET, None, &obj(json!({"user_id": "u"}))),
        token(json!({"user_id": "u", "exp": NOW - 3600})),
        token(json!({"user_id": "u", "exp": "soon"})),
        token(json!({"user_id": "u", "nbf": NOW + 3600})),
        token(json!({"user_id": "u", "iat": NOW + 3600})),
        token(json!({"user_id": "u", "iss": "someone_else"})),
        token(json!({"user_id": "u", "iss": "app_test"})),
        token(json!({"plan": "pro"})),
        token(json!({"user_id": 42})),
        token(json!({"user_id": "é\"\n".repeat(40)})),
    ];
    let mut requests: Vec<IdentifyRequest> = jwts.iter().map(|jwt| jwt_request(jwt)).collect();

    let mut with_extras = jwt_request(&valid);
    with_extras.user_id = Some(json!("u_body"));
    with_extras.user_hash = Some("00".repeat(32));
    with_extras.attributes = Some(obj(json!({"seats": 4, "plan": "free", "other": true})));
    requests.push(with_extras);

    let mut bare = bare_request();
    bare.user_id = Some(json!("u_claimed"));
    bare.attributes = Some(obj(json!({"seats": 4, "plan": "free"})));
    requests.push(bare);

    for (user_id, hash) in [
        (json!("u_legacy"), user_hmac(SECRET, "u_legacy")),
        (json!("u_legacy"), user_hmac(OTHER, "u_legacy")),
        (json!("u_legacy"), user_hmac(SECRET, "someone_else")),
        (json!("u_legacy"), "not hex".to_string()),
        (json!(7), user_hmac(SECRET, "7")),
    ] {
        let mut legacy = bare_request();
        legacy.user_id = Some(user_id);
        legacy.user_hash = Some(hash);
        requests.push(legacy);
    }
    requests
}

/// Every request × mode × platform/origin × profile: the same verdict, minus the trace.
#[test]
fn verify_and_verify_traced_agree() {
    let origins = [
        (Platform::Ios, None),
        (Platform::Web, Some("https://app.example.com")),
        (Platform::Web, Some("https://evil.example")),
        (Platform::Web, None),
    ];
    let mut checked = 0;
    for mode in Mode::ALL {
        for profile in [TokenProfile::Countersign, TokenProfile::Talkjs] {
            let mut p = rich_policy(mode);
            p.token_profile = profile;
            p.max_token_lifetime_seconds = (profile == TokenProfile::Talkjs).then_some(60);
            let mut no_hmac = p.clone();
            no_hmac.hmac_enabled = false;
            for p in [&p, &no_hmac] {
                for mut req in requests() {
                    for (platform, origin) in origins {
                        req.platform = platform;
                        let ctx = Context { origin, now: NOW };
                        let plain = verify(&req, p, &ctx);
                        let traced = verify_traced(&req, p, &ctx);
                        let what = format!("{mode:?} {profile:?} {req:?} {origin:?}");
                        assert!(plain.checks.is_empty(), "{what}");
                        assert!(plain.header.is_none() && plain.payload.is_none(), "{what}");
                        assert!(!traced.checks.is_empty(), "{what}");
                        assert_eq!(traced.checks.iter().all(|c| c.ok), traced.verified, "{what}");
                        assert_eq!(untraced(traced), plain, "{what}");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, 3 * 2 * 2 * 4 * requests().len());
}

/// The debugger's trace carries the decoded header and payload, also of a token that failed.
#[test]
fn traced_keeps_header_and_payload() {
    let jwt = token(json!({"user_id": "u", "exp": NOW - 3600}));
    let v = verify_traced(&jwt_request(&jwt), &policy(), &Context { origin: None, now: NOW });
    assert_eq!(v.reason, Some(Reason::TokenExpired));
    assert_eq!(v.header.as_ref().and_then(|h| h.get("kid")), Some(&json!("k_primary")));
    assert_eq!(v.payload.as_ref().and_then(|p| p.get("user_id")), Some(&json!("u")));
    assert!(v.checks.iter().any(|c| c.check == "exp" && !c.ok));
}
