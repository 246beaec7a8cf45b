use super::*;
use crate::profile::TokenProfile;
use crate::testutil::{obj, policy, NOW};
use serde_json::json;

/// Runs the claim rules on `claims` under `policy` at `NOW`; the failing reason, if any.
fn reason_with(p: &WorkspacePolicy, claims: Value) -> Option<Reason> {
    check_claims(&obj(claims), p, NOW, &mut Trace::default()).err().map(|(r, _)| r)
}

/// Runs the claim rules under the default policy.
fn reason(claims: Value) -> Option<Reason> {
    reason_with(&policy(), claims)
}

/// User ids: non-empty strings up to 255 characters without control characters; never coerced.
#[test]
fn user_id_rules() {
    let check = |v: Value| validate_user_id(Some(&v)).map_err(|(r, _)| r);
    assert_eq!(check(json!("u_1")), Ok("u_1".to_string()));
    assert_eq!(check(json!("é".repeat(255))), Ok("é".repeat(255)));
    assert_eq!(check(json!("x".repeat(256))), Err(Reason::InvalidUserId));
    for bad in [
        json!(""),
        json!(42),
        json!(1.5),
        json!({"id": "u"}),
        json!(["u"]),
        json!(true),
        json!("a\nb"),
        json!("a\u{7f}"),
        json!("a\u{85}"),
    ] {
        assert_eq!(check(bad.clone()), Err(Reason::InvalidUserId), "{bad}");
    }
    assert_eq!(validate_user_id(None).map_err(|(r, _)| r), Err(Reason::MissingUserId));
    assert_eq!(validate_user_id(Some(&Value::Null)).map_err(|(r, _)| r), Err(Reason::MissingUserId));
}

/// `user_id` wins over `sub`; an invalid `user_id` fails rather than falling back; null falls back.
#[test]
fn user_id_claim_order() {
    let claims = ["user_id", "sub"];
    let id = |v: Value| user_id_from_claims(&obj(v), &claims).map_err(|(r, _)| r);
    assert_eq!(id(json!({"user_id": "a", "sub": "b"})), Ok("a".into()));
    assert_eq!(id(json!({"sub": "b"})), Ok("b".into()));
    assert_eq!(id(json!({"user_id": null, "sub": "b"})), Ok("b".into()));
    assert_eq!(id(json!({"user_id": 7, "sub": "b"})), Err(Reason::InvalidUserId));
    assert_eq!(id(json!({"name": "x"})), Err(Reason::MissingUserId));
}

/// `exp` fails at `exp + leeway` and later, and passes just before.
#[test]
fn exp_with_leeway() {
    assert_eq!(reason(json!({"user_id": "u", "exp": NOW - 61})), Some(Reason::TokenExpired));
    assert_eq!(reason(json!({"user_id": "u", "exp": NOW - 60})), Some(Reason::TokenExpired));
    assert_eq!(reason(json!({"user_id": "u", "exp": NOW - 59})), None);
    assert_eq!(reason(json!({"user_id": "u", "exp": NOW + 3600})), None);
    let mut strict = policy();
    strict.leeway_seconds = 0;
    assert_eq!(reason_with(&strict, json!({"user_id": "u", "exp": NOW})), Some(Reason::TokenExpired));
    assert_eq!(reason_with(&strict, json!({"user_id": "u", "exp": NOW as f64 + 0.5})), None);
}

/// `nbf` beyond the leeway is `token_not_yet_valid`; `iat` beyond it is `token_issued_in_future`.
#[test]
fn nbf_and_iat() {
    assert_eq!(reason(json!({"user_id": "u", "nbf": NOW + 61})), Some(Reason::TokenNotYetValid));
    assert_eq!(reason(json!({"user_id": "u", "nbf": NOW + 60})), None);
    assert_eq!(reason(json!({"user_id": "u", "iat": NOW + 61})), Some(Reason::TokenIssuedInFuture));
    assert_eq!(reason(json!({"user_id": "u", "iat": NOW + 60})), None);
    assert_eq!(reason(json!({"user_id": "u", "iat": NOW - 100_000})), None);
}

/// Non-numeric time claims are `malformed_token`.
#[test]
fn time_claim_types() {
    for claim in ["exp", "nbf", "iat"] {
        let mut c = obj(json!({"user_id": "u"}));
        c.insert(claim.into(), json!("1700000000"));
        assert_eq!(reason(Value::Object(c)), Some(Reason::MalformedToken), "{claim}");
    }
    assert_eq!(reason(json!({"user_id": "u", "exp": null})), Some(Reason::MalformedToken));
}

/// `require_exp` (or a lifetime limit) makes a token without `exp` fail with `missing_exp`.
#[test]
fn missing_exp() {
    let mut p = policy();
    assert_eq!(reason_with(&p, json!({"user_id": "u"})), None);
    p.require_exp = true;
    assert_eq!(reason_with(&p, json!({"user_id": "u"})), Some(Reason::MissingExp));
    assert_eq!(reason_with(&p, json!({"user_id": "u", "exp": NOW + 10})), None);
    p.require_exp = false;
    p.max_token_lifetime_seconds = Some(3600);
    assert_eq!(reason_with(&p, json!({"user_id": "u"})), Some(Reason::MissingExp));
}

/// Lifetime is `exp - iat`, or `exp - now` (with leeway for clock skew) without `iat`.
#[test]
fn lifetime() {
    let mut p = policy();
    p.max_token_lifetime_seconds = Some(3600);
    let too_long = Some(Reason::LifetimeTooLong);
    assert_eq!(reason_with(&p, json!({"user_id": "u", "iat": NOW - 10, "exp": NOW + 3590})), None);
    assert_eq!(reason_with(&p, json!({"user_id": "u", "iat": NOW - 10, "exp": NOW + 3591})), too_long);
    assert_eq!(reason_with(&p, json!({"user_id": "u", "exp": NOW + 3600 + 60})), None);
    assert_eq!(reason_with(&p, json!({"user_id": "u", "exp": NOW + 3600 + 61})), too_long);
}

/// Countersign profile: `iss` optional, but if present must equal the expected issuer.
#[test]
fn issuer_if_present() {
    assert_eq!(reason(json!({"user_id": "u"})), None);
    assert_eq!(reason(json!({"user_id": "u", "iss": "app_test"})), None);
    assert_eq!(reason(json!({"user_id": "u", "iss": "other"})), Some(Reason::InvalidIssuer));
    assert_eq!(reason(json!({"user_id": "u", "iss": ["app_test"]})), Some(Reason::InvalidIssuer));
    let mut p = policy();
    p.expected_issuer = Some("https://api.example.com".into());
    assert_eq!(reason_with(&p, json!({"user_id": "u", "iss": "app_test"})), Some(Reason::InvalidIssuer));
    assert_eq!(reason_with(&p, json!({"user_id": "u", "iss": "https://api.example.com"})), None);
}

/// TalkJS: `iss` required; `tokenType` must be `user` if present.
#[test]
fn talkjs_rules() {
    let mut p = policy();
    p.token_profile = TokenProfile::Talkjs;
    assert_eq!(reason_with(&p, json!({"sub": "u"})), Some(Reason::InvalidIssuer));
    assert_eq!(reason_with(&p, json!({"sub": "u", "iss": "app_test"})), None);
    assert_eq!(reason_with(&p, json!({"sub": "u", "iss": "app_test", "tokenType": "user"})), None);
    let bad_type = json!({"sub": "u", "iss": "app_test", "tokenType": "admin"});
    assert_eq!(reason_with(&p, bad_type), Some(Reason::InvalidTokenType));
}

/// Explanations quote client strings escaped and cut, never whole.
#[test]
fn quoting() {
    assert_eq!(quote("a\"b"), "\"a\\\"b\"");
    let long = quote(&"x".repeat(500));
    assert!(long.len() < 80 && long.ends_with("...\""));
}
