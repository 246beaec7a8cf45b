//! The debugger's report: segments of broken tokens, times in words, key and profile matches,
//! fixes, the mode's decision and test tokens.

use super::*;
use crate::keys::{KeyState, VerificationKey};
use crate::platform::Modes;
use crate::request::SignatureRequest;
use crate::testutil::{b64, bare_request, jwt_request, obj, policy, token, NOW, OTHER, SECRET};
use serde_json::json;

fn report(jwt: &str) -> DebugReport {
    debug(&jwt_request(jwt), &policy(), None, NOW)
}

/// A good token: every check passes, the primary key is named with its fingerprint, the
/// profile's first claim gave the id and the decision is "accept".
#[test]
fn good_token() {
    let r = report(&token(json!({"user_id": "u_1", "iat": NOW - 30, "exp": NOW + 3600})));
    assert!(r.checks.iter().all(|c| c.ok && c.reason.is_none() && c.fix.is_none()));
    assert_eq!(r.verdict.decision, "accept");
    let key = r.key.as_ref().map(|k| (k.kid.as_str(), k.state.as_str(), k.signature_valid));
    assert_eq!(key, Some(("k_primary", "primary", true)));
    assert_eq!(r.key.map(|k| k.fingerprint), Some(fingerprint(SECRET)));
    assert_eq!(r.profile.user_id_claim.as_deref(), Some("user_id"));
    assert!(r.profile.accepted_by.is_empty());
    assert!(r.segments.iter().all(|s| s.ok), "{:?}", r.segments);
    let words: Vec<_> = r.times.iter().map(|t| t.relative.as_str()).collect();
    assert_eq!(words, ["issued 30 s ago", "expires in 1 h"]);
}

/// An expired token: the exp check fails with its code, meaning and fix, and the times say when.
#[test]
fn expired_token() {
    let r = report(&token(json!({"user_id": "u", "exp": NOW - 3 * 3600})));
    let failed: Vec<_> = r.checks.iter().filter(|c| !c.ok).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].reason, Some(Reason::TokenExpired));
    assert_eq!(failed[0].fix.as_deref(), Some(Reason::TokenExpired.fix()));
    assert_eq!(r.times[0].relative, "expired 3 h ago");
    assert!(!r.times[0].ok);
    assert_eq!(r.verdict.decision, "reject");
    assert!(r.verdict.decision_text.contains("401 token_expired"), "{}", r.verdict.decision_text);
}

/// A broken token is still decoded as far as its bytes allow, each segment's problem named.
#[test]
fn broken_token_decodes_as_far_as_possible() {
    let header = b64(br#"{"alg":"HS256","alg":"HS256"}"#);
    let payload = format!("{}==", b64(br#"{"user_id":"u1"}"#));
    let r = report(&format!("{header}.{payload}"));
    assert_eq!(r.verdict.reason, Some(Reason::MalformedToken));
    assert_eq!(r.header, Some(json!({"alg": "HS256"})));
    assert_eq!(r.payload, Some(json!({"user_id": "u1"})));
    let problems: Vec<_> = r.segments.iter().map(|s| s.problem.clone().unwrap_or_default()).collect();
    assert!(problems[0].contains("duplicate"), "{problems:?}");
    assert!(problems[1].contains("padding"), "{problems:?}");
    assert!(problems[2].starts_with("Missing"), "{problems:?}");
    let binary = report("\u{0}\u{1}.\u{7f}");
    assert!(binary.segments.iter().all(|s| !s.ok));
    assert_eq!(binary.header, None);
}

/// Only a revoked key matches: the report names it, says it no longer verifies.
#[test]
fn revoked_key_named() {
    let mut p = policy();
    p.keys.push(VerificationKey::new("k_old", OTHER.to_vec(), KeyState::Revoked));
    let jwt = crate::sign::sign_jwt(OTHER, "k_old", &obj(json!({"user_id": "u"})));
    let r = debug(&jwt_request(&jwt), &p, None, NOW);
    assert_eq!(r.verdict.reason, Some(Reason::RevokedKey));
    let key = r.key.as_ref().map(|k| (k.kid.as_str(), k.signature_valid, k.verifies_now));
    assert_eq!(key, Some(("k_old", true, false)));
}

/// A Featurebase-shaped token under the default profile: missing_user_id, and the report says
/// which profiles would accept it unchanged.
#[test]
fn other_profiles_that_would_accept() {
    let r = report(&token(json!({"userId": "u_9", "email": "a@b.c"})));
    assert_eq!(r.verdict.reason, Some(Reason::MissingUserId));
    assert_eq!(r.profile.accepted_by, [TokenProfile::Featurebase, TokenProfile::Fogbender]);
    assert_eq!(r.profile.user_id_claim, None);
}

/// A TalkJS token as TalkJS's guide makes it (`iss` = the TalkJS app id, `tokenType`, `sub`)
/// fails the default profile and the issuer check alike: the report names the profile that
/// would accept it and the expected issuer it needs.
#[test]
fn a_vendor_token_with_its_own_issuer() {
    let talkjs = token(json!({"tokenType": "user", "iss": "tZ9uUqv1", "sub": "u_7", "exp": NOW + 600}));
    let r = report(&talkjs);
    assert!(!r.verdict.verified);
    assert_eq!(r.profile.accepted_by, [TokenProfile::Talkjs]);
    assert_eq!(r.profile.needs_issuer.as_deref(), Some("tZ9uUqv1"));
    let plain = report(&token(json!({"userId": "u_9"})));
    assert_eq!(plain.profile.needs_issuer, None, "accepted under the workspace's own issuer");
}

/// The decision follows the platform's mode; a legacy hash reports its exact HMAC input.
#[test]
fn modes_and_legacy_input() {
    let mut p = policy();
    p.modes = Modes::all(Mode::Monitor);
    p.hmac_enabled = true;
    let mut req = bare_request();
    req.user_id = Some(json!("u 1"));
    req.user_hash = Some("00".repeat(32));
    let r = debug(&req, &p, None, NOW);
    assert_eq!(r.verdict.decision, "would_reject");
    assert_eq!(r.credential, "user_hash");
    assert_eq!(r.legacy.map(|l| l.hmac_input), Some("u 1".to_string()));
    assert_eq!(r.checks.last().and_then(|c| c.reason), Some(Reason::InvalidUserHash));
}

/// An origin is checked only when given.
#[test]
fn origin_checked_when_given() {
    let mut p = policy();
    p.allowed_origins = vec!["https://app.example.com".into()];
    let mut req = jwt_request(&token(json!({"user_id": "u"})));
    req.platform = Platform::Web;
    assert!(debug(&req, &p, None, NOW).verdict.verified);
    let r = debug(&req, &p, Some("https://evil.example"), NOW);
    assert_eq!(r.verdict.reason, Some(Reason::OriginNotAllowed));
    assert!(debug(&req, &p, Some("https://app.example.com"), NOW).verdict.verified);
}

/// A test token verifies, carries the primary kid, and its hash covers exactly the user id.
#[test]
fn test_tokens_verify() -> Result<(), String> {
    let mut p = policy();
    p.hmac_enabled = true;
    let req = SignatureRequest {
        app_id: "app_test".into(),
        user_id: "u_7".into(),
        attributes: Some(obj(json!({"plan": "pro"}))),
        expires_in: Some(600),
    };
    let made = test_token(&p, &req, NOW)?;
    assert_eq!((made.kid.as_str(), made.expires_at, made.hmac_input.as_str()), ("k_primary", NOW + 600, "u_7"));
    assert!(report(&made.user_jwt).verdict.verified);
    assert_eq!(made.user_hash, crate::sign::user_hmac(SECRET, "u_7"));
    p.keys.clear();
    assert!(test_token(&p, &req, NOW).is_err());
    Ok(())
}

/// Every reason has a meaning and a fix.
#[test]
fn every_reason_has_advice() {
    for reason in Reason::ALL {
        assert!(!reason.meaning().is_empty() && !reason.fix().is_empty(), "{reason}");
    }
    assert_eq!(words(3 * 3600), "3 h");
    assert_eq!(words(-125), "2 min");
    assert_eq!(words(90_000), "1 d 1 h");
    assert_eq!(words(3599), "1 h");
    assert_eq!(words(3 * 3600 + 20), "3 h");
    assert_eq!(words(5000), "1 h 23 min");
}
