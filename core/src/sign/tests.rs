use super::*;
use crate::keys::KeyState;
use crate::profile::TokenProfile;
use crate::reason::Outcome;
use crate::testutil::{jwt_request, obj, policy, run, NOW, OTHER, SECRET};
use serde_json::json;

/// `sign_jwt` writes the documented header and a token `verify` accepts.
#[test]
fn sign_jwt_round_trip() {
    let token = sign_jwt(SECRET, "k_primary", &obj(json!({"user_id": "u1"})));
    let header = token.split('.').next().map(|h| URL_SAFE_NO_PAD.decode(h).unwrap_or_default());
    assert_eq!(header, Some(br#"{"alg":"HS256","typ":"JWT","kid":"k_primary"}"#.to_vec()));
    let verdict = run(&jwt_request(&token), &policy());
    assert_eq!((verdict.outcome, verdict.user_id.as_deref()), (Outcome::Verified, Some("u1")));
}

/// `user_hmac` is lowercase hex HMAC-SHA256 (RFC 4231 test case 2).
#[test]
fn user_hmac_known_answer() {
    assert_eq!(
        user_hmac(b"Jefe", "what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

/// Tokens signed by `sign_for` verify under every profile, with the primary key's kid.
#[test]
fn signatures_verify_under_each_profile() {
    for profile in TokenProfile::ALL {
        let mut p = policy();
        p.token_profile = profile;
        p.user_id_claims = vec!["uid".into()];
        p.require_exp = true;
        let req = SignatureRequest {
            app_id: "app_test".into(),
            user_id: "u1".into(),
            attributes: Some(obj(json!({"plan": "pro"}))),
            expires_in: Some(300),
        };
        let sigs = sign_for(&p, &req, NOW);
        assert!(sigs.is_ok(), "{profile:?}");
        let Ok(sigs) = sigs else { continue };
        let verdict = run(&jwt_request(&sigs.user_jwt), &p);
        assert_eq!(verdict.outcome, Outcome::Verified, "{profile:?}: {}", verdict.explanation);
        assert_eq!((verdict.user_id.as_deref(), verdict.kid.as_deref()), (Some("u1"), Some("k_primary")));
        assert_eq!(sigs.user_hmac, user_hmac(SECRET, "u1"));
        let body = sigs.to_json();
        assert!(body.pointer("/signatures/userJWT").is_some() && body.pointer("/signatures/userHMAC").is_some());
    }
}

/// Signing refuses reserved attribute names and workspaces without a primary key.
#[test]
fn signing_errors() {
    let p = policy();
    assert!(signature_claims(&p, "u", Some(&obj(json!({"exp": 1}))), NOW, None).is_err());
    assert!(signature_claims(&p, "u", Some(&obj(json!({"user_id": "admin"}))), NOW, None).is_err());
    let mut no_primary = policy();
    no_primary.keys.clear();
    let req = SignatureRequest { app_id: "a".into(), user_id: "u".into(), attributes: None, expires_in: None };
    assert!(sign_for(&no_primary, &req, NOW).is_err());
}

/// The bearer secret matches active keys only (primary, rotating in grace), never revoked ones.
#[test]
fn authenticate_bearer_secret() {
    let mut p = policy();
    p.keys.push(VerificationKey::new("k_old", OTHER.to_vec(), KeyState::Rotating { expires_at: NOW + 1 }));
    p.keys.push(VerificationKey::new("k_dead", b"dead-secret".to_vec(), KeyState::Revoked));
    let kid = |secret: &[u8], now| authenticate_secret(&p.keys, secret, now).map(|k| k.kid.clone());
    assert_eq!(kid(SECRET, NOW), Some("k_primary".into()));
    assert_eq!(kid(OTHER, NOW), Some("k_old".into()));
    assert_eq!(kid(OTHER, NOW + 1), None);
    assert_eq!(kid(b"dead-secret", NOW), None);
    assert_eq!(kid(b"wrong", NOW), None);
    assert!(authenticate_secret(&[], SECRET, NOW).is_none());
}

/// Our tokens decode with the `jsonwebtoken` crate, at every HMAC algorithm.
#[test]
fn interop_jsonwebtoken_decodes_ours() {
    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    for (alg, theirs) in
        [(Alg::Hs256, Algorithm::HS256), (Alg::Hs384, Algorithm::HS384), (Alg::Hs512, Algorithm::HS512)]
    {
        let token = sign_jwt_with(alg, SECRET, Some("k1"), &obj(json!({"user_id": "u1", "exp": NOW + 60})));
        let mut validation = Validation::new(theirs);
        validation.validate_exp = false;
        let decoded = decode::<Value>(&token, &DecodingKey::from_secret(SECRET), &validation);
        assert!(decoded
            .is_ok_and(|d| d.claims.get("user_id") == Some(&json!("u1")) && d.header.kid.as_deref() == Some("k1")));
    }
}

/// Every signed token expires: one hour unless asked, never past the workspace's maximum.
#[test]
fn signed_tokens_always_expire() {
    let exp_of = |p: &WorkspacePolicy, expires_in: Option<i64>| {
        let req = SignatureRequest { app_id: "app_test".into(), user_id: "u1".into(), attributes: None, expires_in };
        let jwt = sign_for(p, &req, NOW).map(|s| s.user_jwt).unwrap_or_default();
        let payload = jwt.split('.').nth(1).unwrap_or_default();
        let bytes = URL_SAFE_NO_PAD.decode(payload).unwrap_or_default();
        let claims: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        claims["exp"].as_i64()
    };
    let mut p = policy();
    assert_eq!(exp_of(&p, None), Some(NOW + 3600));
    assert_eq!(exp_of(&p, Some(86_400)), Some(NOW + 86_400));
    p.max_token_lifetime_seconds = Some(600);
    assert_eq!(exp_of(&p, None), Some(NOW + 600));
    assert_eq!(exp_of(&p, Some(60)), Some(NOW + 60));
}
