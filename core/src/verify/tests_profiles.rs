//! Each token profile through [`verify`], with tokens shaped as the vendors' guides say.

use super::*;
use crate::attributes::{AttributeDef, AttributeType};
use crate::profile::TokenProfile;
use crate::testutil::{jwt_request, obj, policy, run, token, NOW};
use serde_json::json;

/// A policy with `profile` and registered string attributes `email`, `name`, `customerId`.
fn with_profile(profile: TokenProfile) -> WorkspacePolicy {
    let mut p = policy();
    p.token_profile = profile;
    p.attributes = ["email", "name", "customerId", "role"]
        .map(|n| AttributeDef { name: n.into(), kind: AttributeType::String, secure_only: true })
        .to_vec();
    p
}

/// Verifies `claims` under `profile`; returns the verdict.
fn check(profile: TokenProfile, claims: Value) -> Verdict {
    run(&jwt_request(&token(claims)), &with_profile(profile))
}

/// Countersign: `user_id`, else `sub`; `iss` optional but checked.
#[test]
fn countersign_profile() {
    assert_eq!(check(TokenProfile::Countersign, json!({"sub": "s1"})).user_id.as_deref(), Some("s1"));
    assert_eq!(check(TokenProfile::Countersign, json!({"user_id": "u1", "sub": "s1"})).user_id.as_deref(), Some("u1"));
    assert_eq!(check(TokenProfile::Countersign, json!({"sub": "s1", "iss": "x"})).reason, Some(Reason::InvalidIssuer));
}

/// Intercom: `user_id` only (not `sub`); `iss` ignored; `email`/`name` are signed attributes.
#[test]
fn intercom_profile() {
    let v = check(TokenProfile::Intercom, json!({"user_id": "u1", "email": "a@b.c", "name": "Ann", "iss": "anything"}));
    assert!(v.verified, "{}", v.explanation);
    assert_eq!(v.attributes, obj(json!({"email": "a@b.c", "name": "Ann"})));
    assert_eq!(check(TokenProfile::Intercom, json!({"sub": "u1"})).reason, Some(Reason::MissingUserId));
}

/// TalkJS: user from `sub`; `iss` required and equal; `tokenType: user` is not an attribute.
#[test]
fn talkjs_profile() {
    let v = check(TokenProfile::Talkjs, json!({"sub": "u1", "iss": "app_test", "tokenType": "user", "exp": NOW + 60}));
    assert!(v.verified, "{}", v.explanation);
    assert!(v.ignored_attributes.is_empty() && v.attributes.is_empty());
    assert_eq!(check(TokenProfile::Talkjs, json!({"sub": "u1"})).reason, Some(Reason::InvalidIssuer));
    assert_eq!(
        check(TokenProfile::Talkjs, json!({"user_id": "u1", "iss": "app_test"})).reason,
        Some(Reason::MissingUserId)
    );
    let bad_type = check(TokenProfile::Talkjs, json!({"sub": "u1", "iss": "app_test", "tokenType": 1}));
    assert_eq!(bad_type.reason, Some(Reason::InvalidTokenType));
}

/// Featurebase: `userId`, else `email`; `email` is also a signed attribute; `iss` ignored.
#[test]
fn featurebase_profile() {
    let v = check(
        TokenProfile::Featurebase,
        json!({"userId": "u1", "email": "a@b.c", "name": "Ann", "companies": [], "iss": "x"}),
    );
    assert!(v.verified, "{}", v.explanation);
    assert_eq!(v.user_id.as_deref(), Some("u1"));
    assert_eq!(v.attributes, obj(json!({"email": "a@b.c", "name": "Ann"})));
    assert_eq!(v.ignored_attributes, ["companies"]);
    let by_email = check(TokenProfile::Featurebase, json!({"email": "a@b.c"}));
    assert_eq!(by_email.user_id.as_deref(), Some("a@b.c"));
}

/// Fogbender: `userId`; `customerId` etc. are signed attributes; `iss` ignored.
#[test]
fn fogbender_profile() {
    let v =
        check(TokenProfile::Fogbender, json!({"userId": "u1", "customerId": "c1", "customerName": "Acme", "iss": "x"}));
    assert!(v.verified, "{}", v.explanation);
    assert_eq!(v.attributes, obj(json!({"customerId": "c1"})));
    assert_eq!(v.ignored_attributes, ["customerName"]);
    assert_eq!(check(TokenProfile::Fogbender, json!({"user_id": "u1"})).reason, Some(Reason::MissingUserId));
}

/// Custom: the workspace's claims in order; they are not attributes; `iss` if present must match.
#[test]
fn custom_profile() {
    let mut p = with_profile(TokenProfile::Custom);
    p.user_id_claims = vec!["uid".into(), "role".into()];
    let at = |claims: Value| run(&jwt_request(&token(claims)), &p);
    let v = at(json!({"uid": "u1", "role": "admin"}));
    assert_eq!(v.user_id.as_deref(), Some("u1"));
    assert!(v.attributes.is_empty(), "user id claims are not attributes");
    assert_eq!(at(json!({"role": "r1"})).user_id.as_deref(), Some("r1"));
    assert_eq!(at(json!({"uid": "u1", "iss": "other"})).reason, Some(Reason::InvalidIssuer));
    assert!(at(json!({"uid": "u1", "iss": "app_test"})).verified);
}
