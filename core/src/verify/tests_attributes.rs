//! Attribute rules through [`verify`]: signed vs unsigned, registered vs not, types, modes.

use super::*;
use crate::attributes::{AttributeDef, AttributeType};
use crate::platform::Modes;
use crate::testutil::{jwt_request, obj, policy, run, token, NOW};
use serde_json::json;

/// A workspace with `plan` (string, secure-only), `seats` (number) and `since` (datetime).
fn with_attrs(mode: Mode) -> WorkspacePolicy {
    let mut p = policy();
    p.modes = Modes::all(mode);
    p.attributes = vec![
        AttributeDef { name: "plan".into(), kind: AttributeType::String, secure_only: true },
        AttributeDef { name: "seats".into(), kind: AttributeType::Number, secure_only: false },
        AttributeDef { name: "since".into(), kind: AttributeType::Datetime, secure_only: false },
    ];
    p
}

/// The rejected attributes as (name, reason) pairs.
fn rejected(v: &Verdict) -> Vec<(&str, &str)> {
    v.rejected_attributes.iter().map(|r| (r.name.as_str(), r.reason.as_str())).collect()
}

/// From a verified JWT: registered claims accepted (secure-only too), wrong types rejected,
/// unregistered ignored, registered JWT claims never treated as attributes.
#[test]
fn signed_claims() {
    let jwt = token(
        json!({"user_id": "u", "exp": NOW + 60, "plan": "pro", "seats": "3", "nick": "x", "since": "2024-01-01T00:00:00Z"}),
    );
    let v = run(&jwt_request(&jwt), &with_attrs(Mode::Enforce));
    assert!(v.verified);
    assert_eq!(v.attributes, obj(json!({"plan": "pro", "since": "2024-01-01T00:00:00Z"})));
    assert_eq!(rejected(&v), [("seats", "wrong_type")]);
    assert_eq!(v.ignored_attributes, ["nick"]);
}

/// Unsigned `attributes`: secure-only rejected, unregistered ignored, wrong type rejected.
#[test]
fn unsigned_attributes() {
    let mut req = jwt_request(&token(json!({"user_id": "u"})));
    req.attributes = Some(obj(json!({"plan": "pro", "seats": 4, "since": "soon", "color": "red"})));
    let v = run(&req, &with_attrs(Mode::Enforce));
    assert_eq!(v.attributes, obj(json!({"seats": 4})));
    assert_eq!(rejected(&v), [("plan", "secure_only"), ("since", "wrong_type")]);
    assert_eq!(v.ignored_attributes, ["color"]);
}

/// A name both signed and unsigned keeps the signed value, with a note.
#[test]
fn signed_value_wins() {
    let mut req = jwt_request(&token(json!({"user_id": "u", "seats": 10})));
    req.attributes = Some(obj(json!({"seats": 999})));
    let v = run(&req, &with_attrs(Mode::Enforce));
    assert_eq!(v.attributes.get("seats"), Some(&json!(10)));
    assert!(v.notes.iter().any(|n| n.contains("seats")));
}

/// A secure-only attribute in the signed token and again in the unsigned attributes: the signed
/// value is kept and the unsigned one is reported as rejected, so the tampering is visible.
#[test]
fn unsigned_copy_of_signed_secure_attribute_is_rejected() {
    let mut req = jwt_request(&token(json!({"user_id": "u", "plan": "pro"})));
    req.attributes = Some(obj(json!({"plan": "enterprise"})));
    let v = run(&req, &with_attrs(Mode::Enforce));
    assert!(v.verified);
    assert_eq!(v.attributes, obj(json!({"plan": "pro"})));
    assert_eq!(rejected(&v), [("plan", "secure_only")]);
}

/// Many unregistered names are each decided once, in order.
#[test]
fn many_names_are_sorted_once() {
    let mut p = with_attrs(Mode::Enforce);
    p.attributes.extend((0..100).map(|i| AttributeDef {
        name: format!("reg{i}"),
        kind: AttributeType::Number,
        secure_only: false,
    }));
    let names: Vec<String> = (0..250).map(|i| format!("n{i}")).collect();
    let mut req = jwt_request(&token(json!({"user_id": "u"})));
    let mut attributes = obj(json!({"reg7": 7, "seats": 1}));
    attributes.extend(names.iter().map(|n| (n.clone(), json!(1))));
    req.attributes = Some(attributes);
    let v = run(&req, &p);
    assert_eq!(v.attributes, obj(json!({"reg7": 7, "seats": 1})));
    assert_eq!(v.ignored_attributes.len(), names.len());
}

/// In monitor mode a failed token's claims are unsigned data: secure-only ones are rejected.
#[test]
fn unverified_token_claims_are_unsigned() {
    let jwt = token(json!({"user_id": "u", "exp": NOW - 3600, "plan": "pro", "seats": 2}));
    for mode in [Mode::Monitor, Mode::Off] {
        let v = run(&jwt_request(&jwt), &with_attrs(mode));
        assert!(!v.verified);
        assert_eq!(v.attributes, obj(json!({"seats": 2})), "{mode:?}");
        assert_eq!(rejected(&v), [("plan", "secure_only")]);
        assert_eq!(v.user_id.as_deref(), Some("u"), "claimed id for the log");
    }
}

/// A rejected request accepts nothing.
#[test]
fn rejected_accepts_nothing() {
    let mut req = jwt_request(&token(json!({"user_id": "u", "exp": NOW - 3600, "seats": 2})));
    req.attributes = Some(obj(json!({"seats": 3})));
    let v = run(&req, &with_attrs(Mode::Enforce));
    assert_eq!(v.outcome, Outcome::Rejected);
    assert!(v.attributes.is_empty() && v.rejected_attributes.is_empty() && v.ignored_attributes.is_empty());
}

/// Legacy HMAC authenticates only the user id: secure-only attributes stay rejected.
#[test]
fn legacy_hmac_attributes_are_unsigned() {
    let mut p = with_attrs(Mode::Enforce);
    p.hmac_enabled = true;
    let mut req = crate::testutil::bare_request();
    req.user_id = Some(json!("u"));
    req.user_hash = Some(crate::sign::user_hmac(crate::testutil::SECRET, "u"));
    req.attributes = Some(obj(json!({"plan": "pro", "seats": 1})));
    let v = run(&req, &p);
    assert!(v.verified);
    assert_eq!(v.attributes, obj(json!({"seats": 1})));
    assert_eq!(rejected(&v), [("plan", "secure_only")]);
}
