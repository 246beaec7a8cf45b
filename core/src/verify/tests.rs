//! One end-to-end test per reason code, through [`verify`].

use super::*;
use crate::keys::{KeyState, VerificationKey};
use crate::request::parse_identify_request;
use crate::testutil::{
    b64, bare_request, jwt_request, policy, raw_token, run, run_token, run_traced, token, NOW, OTHER, SECRET,
};
use serde_json::json;

/// Asserts that `verdict` failed with `reason`, has an explanation, and leaks no token bytes.
fn assert_fails(verdict: &Verdict, reason: Reason, jwt: Option<&str>) {
    assert_eq!(verdict.reason, Some(reason), "{}", verdict.explanation);
    assert!(!verdict.verified);
    assert_eq!(verdict.outcome, Outcome::Rejected, "default mode enforces");
    assert!(verdict.explanation.len() > 20);
    if let Some(jwt) = jwt {
        for segment in jwt.split('.').filter(|s| s.len() > 8) {
            assert!(!verdict.explanation.contains(segment), "explanation leaks the token");
        }
    }
}

/// A valid token verifies: user id, kid, alg, explanation and an all-green trace.
#[test]
fn verified() {
    let jwt = token(json!({"user_id": "u_1", "exp": NOW + 60}));
    let v = run_traced(&jwt_request(&jwt), &policy());
    assert_eq!((v.outcome, v.verified, v.reason), (Outcome::Verified, true, None));
    assert_eq!(v.user_id.as_deref(), Some("u_1"));
    assert_eq!((v.kid.as_deref(), v.alg.as_deref()), (Some("k_primary"), Some("HS256")));
    assert!(v.explanation.contains("u_1") && v.explanation.contains("k_primary"));
    assert!(v.checks.iter().all(|c| c.ok) && v.checks.iter().any(|c| c.check == "signature"));
    assert!(v.header.is_some() && v.payload.is_some());
}

/// No JWT and no hash → `missing_token`; a body user id is still reported as the claimed id.
#[test]
fn missing_token() {
    let mut req = bare_request();
    req.user_id = Some(json!("u_claimed"));
    let v = run(&req, &policy());
    assert_fails(&v, Reason::MissingToken, None);
    assert_eq!(v.user_id.as_deref(), Some("u_claimed"));
}

/// A token that is not three base64url segments → `malformed_token`.
#[test]
fn malformed_token() {
    let jwt = format!(" {}", token(json!({"user_id": "u"})));
    assert_fails(&run_token(&jwt), Reason::MalformedToken, Some(&jwt));
}

/// A token over 8 KiB → `token_too_large`.
#[test]
fn token_too_large() {
    let jwt = token(json!({"user_id": "u", "pad": "x".repeat(9000)}));
    assert_fails(&run_token(&jwt), Reason::TokenTooLarge, Some(&jwt));
}

/// `alg: none` → `unsupported_algorithm`, with the alg reported for the log.
#[test]
fn unsupported_algorithm() {
    let jwt = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(br#"{"user_id":"u"}"#));
    let v = run_token(&jwt);
    assert_fails(&v, Reason::UnsupportedAlgorithm, Some(&jwt));
    assert_eq!(v.alg.as_deref(), Some("none"));
    assert_eq!(v.user_id.as_deref(), Some("u"), "claimed, unverified");
}

/// A `kid` naming no key → `unknown_key`, reporting that kid.
#[test]
fn unknown_key() {
    let jwt = crate::sign::sign_jwt(SECRET, "k_nope", &crate::testutil::obj(json!({"user_id": "u"})));
    let v = run_token(&jwt);
    assert_fails(&v, Reason::UnknownKey, Some(&jwt));
    assert_eq!(v.kid.as_deref(), Some("k_nope"));
}

/// A valid signature under a revoked key → `revoked_key`, naming the key.
#[test]
fn revoked_key() {
    let mut p = policy();
    p.keys.push(VerificationKey::new("k_old", OTHER.to_vec(), KeyState::Revoked));
    let jwt = crate::sign::sign_jwt(OTHER, "k_old", &crate::testutil::obj(json!({"user_id": "u"})));
    let v = run(&jwt_request(&jwt), &p);
    assert_fails(&v, Reason::RevokedKey, Some(&jwt));
    assert_eq!(v.kid.as_deref(), Some("k_old"));
    assert!(v.explanation.contains("k_old") && v.explanation.contains("revoked"));
    assert!(v.explanation.contains("k_primary"), "tells which key to use");
}

/// A signature made with another secret → `invalid_signature`.
#[test]
fn invalid_signature() {
    let jwt = crate::sign::sign_jwt(OTHER, "k_primary", &crate::testutil::obj(json!({"user_id": "u"})));
    assert_fails(&run_token(&jwt), Reason::InvalidSignature, Some(&jwt));
}

/// An expired token → `token_expired`, claims checked only after the signature.
#[test]
fn token_expired() {
    let jwt = token(json!({"user_id": "u", "exp": NOW - 3600}));
    let v = run_token(&jwt);
    assert_fails(&v, Reason::TokenExpired, Some(&jwt));
    assert!(v.explanation.contains("2023-11-14T21:13:20Z"));
}

/// `nbf` in the future → `token_not_yet_valid`.
#[test]
fn token_not_yet_valid() {
    assert_fails(&run_token(&token(json!({"user_id": "u", "nbf": NOW + 3600}))), Reason::TokenNotYetValid, None);
}

/// `iat` in the future → `token_issued_in_future`.
#[test]
fn token_issued_in_future() {
    assert_fails(&run_token(&token(json!({"user_id": "u", "iat": NOW + 3600}))), Reason::TokenIssuedInFuture, None);
}

/// `require_exp` and no `exp` → `missing_exp`.
#[test]
fn missing_exp() {
    let mut p = policy();
    p.require_exp = true;
    assert_fails(&run(&jwt_request(&token(json!({"user_id": "u"}))), &p), Reason::MissingExp, None);
}

/// A lifetime beyond the maximum → `lifetime_too_long`.
#[test]
fn lifetime_too_long() {
    let mut p = policy();
    p.max_token_lifetime_seconds = Some(600);
    let jwt = token(json!({"user_id": "u", "iat": NOW, "exp": NOW + 86_400}));
    assert_fails(&run(&jwt_request(&jwt), &p), Reason::LifetimeTooLong, None);
}

/// A different `iss` → `invalid_issuer`.
#[test]
fn invalid_issuer() {
    assert_fails(&run_token(&token(json!({"user_id": "u", "iss": "someone-else"}))), Reason::InvalidIssuer, None);
}

/// TalkJS `tokenType` other than `user` → `invalid_token_type`.
#[test]
fn invalid_token_type() {
    let mut p = policy();
    p.token_profile = crate::profile::TokenProfile::Talkjs;
    let jwt = token(json!({"sub": "u", "iss": "app_test", "tokenType": "app"}));
    assert_fails(&run(&jwt_request(&jwt), &p), Reason::InvalidTokenType, None);
}

/// A verified token without a user id claim → `missing_user_id`.
#[test]
fn missing_user_id() {
    let v = run_token(&token(json!({"name": "Ann"})));
    assert_fails(&v, Reason::MissingUserId, None);
    assert_eq!(v.user_id, None);
}

/// A numeric user id claim → `invalid_user_id`, never coerced.
#[test]
fn invalid_user_id() {
    let v = run_token(&token(json!({"user_id": 42})));
    assert_fails(&v, Reason::InvalidUserId, None);
    assert_eq!(v.user_id, None);
}

/// A `user_hash` while legacy HMAC is off → `hmac_disabled`.
#[test]
fn hmac_disabled() {
    let mut req = bare_request();
    req.user_id = Some(json!("u"));
    req.user_hash = Some(crate::sign::user_hmac(SECRET, "u"));
    assert_fails(&run(&req, &policy()), Reason::HmacDisabled, None);
}

/// A wrong `user_hash` → `invalid_user_hash`; non-hex too.
#[test]
fn invalid_user_hash() {
    let mut p = policy();
    p.hmac_enabled = true;
    let mut req = bare_request();
    req.user_id = Some(json!("u"));
    for hash in [crate::sign::user_hmac(OTHER, "u"), "zz".repeat(32), String::new(), "abcd".into()] {
        req.user_hash = Some(hash);
        assert_fails(&run(&req, &p), Reason::InvalidUserHash, None);
    }
}

/// A web request from an unlisted origin → `origin_not_allowed`, even with a valid token.
#[test]
fn origin_not_allowed() {
    let mut p = policy();
    p.allowed_origins = vec!["https://app.example.com".into()];
    let mut req = jwt_request(&token(json!({"user_id": "u"})));
    req.platform = Platform::Web;
    let v = verify(&req, &p, &Context { origin: Some("https://evil.example"), now: NOW });
    assert_fails(&v, Reason::OriginNotAllowed, None);
    assert_eq!(v.user_id.as_deref(), Some("u"));
}

/// A bad body → `invalid_request` (400) from the request parser, carrying the app id.
#[test]
fn invalid_request() {
    let err = parse_identify_request(&json!({"app_id": "app_test", "platform": "desktop"})).err();
    assert_eq!(err.map(|e| e.app_id), Some(Some("app_test".into())));
    assert_eq!(Reason::InvalidRequest.http_status(), 400);
}

/// Trivial inputs map to missing/malformed/too-large, and a token without `kid` verifies.
#[test]
fn short_inputs_and_no_kid() {
    let produced = [run(&bare_request(), &policy()).reason, run_token("x").reason, run_token(&"a".repeat(9000)).reason];
    assert_eq!(produced, [Some(Reason::MissingToken), Some(Reason::MalformedToken), Some(Reason::TokenTooLarge)]);
    let signed_by_raw = raw_token(r#"{"alg":"HS256"}"#, r#"{"user_id":"u"}"#, SECRET);
    assert!(run_token(&signed_by_raw).verified, "no kid: tries every active key");
}

/// Thousands of single-character mutations of a valid token never panic and never verify.
#[test]
fn mutations_never_verify() {
    let jwt = token(json!({"user_id": "u", "exp": NOW + 60, "plan": "pro"}));
    let alphabet: Vec<char> = "AZaz09-_.=+/ \u{e9}".chars().collect();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pos = (seed % jwt.len() as u64) as usize;
        let replacement = alphabet.get((seed >> 32) as usize % alphabet.len()).copied().unwrap_or('A');
        let mutated: String = jwt.chars().enumerate().map(|(i, c)| if i == pos { replacement } else { c }).collect();
        let v = run_token(&mutated);
        assert_eq!(v.verified, mutated == jwt, "{mutated}");
    }
}

/// A verified token without `exp`, or living over a day, is marked long-lived with a note;
/// a day or less, a failed token and a legacy hash are not.
#[test]
fn long_lived_tokens_are_marked() {
    use crate::claims::LongLived;
    let cases = [
        (json!({"user_id": "u"}), Some(LongLived::NoExp)),
        (json!({"user_id": "u", "iat": NOW, "exp": NOW + 2 * 86_400}), Some(LongLived::Lifetime(2 * 86_400))),
        (json!({"user_id": "u", "exp": NOW + 86_401}), Some(LongLived::Lifetime(86_401))),
        (json!({"user_id": "u", "iat": NOW - 10, "exp": NOW + 86_390}), None),
        (json!({"user_id": "u", "exp": NOW - 3600}), None),
    ];
    for (claims, expected) in cases {
        let v = run(&jwt_request(&token(claims.clone())), &policy());
        assert_eq!(v.long_lived, expected, "{claims}");
        let noted = v.notes.iter().any(|n| n.contains("if it leaks"));
        assert_eq!(noted, expected.is_some(), "{claims}: {:?}", v.notes);
    }
    let mut p = policy();
    p.hmac_enabled = true;
    let mut req = bare_request();
    req.user_id = Some(json!("u"));
    req.user_hash = Some(crate::sign::user_hmac(SECRET, "u"));
    let legacy = run(&req, &p);
    assert!(legacy.verified && legacy.long_lived.is_none(), "{legacy:?}");
}
