//! Modes × outcomes, HTTP mapping, response bodies and the origin allowlist through [`verify`].

use super::*;
use crate::platform::Modes;
use crate::testutil::{jwt_request, policy, run, token, NOW};
use serde_json::json;

/// A policy whose every platform runs `mode`.
fn with_mode(mode: Mode) -> WorkspacePolicy {
    let mut p = policy();
    p.modes = Modes::all(mode);
    p
}

/// Every mode × (verified, failed) gives the contract's outcome, HTTP status and flags.
#[test]
fn mode_outcome_matrix() {
    let good = token(json!({"user_id": "u"}));
    let bad = token(json!({"user_id": "u", "exp": NOW - 3600}));
    let cases = [
        (Mode::Off, &good, Outcome::Verified, 200),
        (Mode::Monitor, &good, Outcome::Verified, 200),
        (Mode::Enforce, &good, Outcome::Verified, 200),
        (Mode::Off, &bad, Outcome::Unverified, 200),
        (Mode::Monitor, &bad, Outcome::WouldReject, 200),
        (Mode::Enforce, &bad, Outcome::Rejected, 401),
    ];
    for (mode, jwt, outcome, status) in cases {
        let v = run(&jwt_request(jwt), &with_mode(mode));
        assert_eq!((v.outcome, v.mode, v.http_status()), (outcome, mode, status), "{mode:?}");
        assert_eq!(v.verified, outcome == Outcome::Verified, "verified is truthful in {mode:?}");
        assert_eq!(v.would_reject(), outcome == Outcome::WouldReject);
        assert_eq!(v.http_rejects(), outcome == Outcome::Rejected);
        assert_eq!(v.reason.is_some(), outcome != Outcome::Verified);
    }
}

/// Each platform uses its own mode.
#[test]
fn mode_per_platform() {
    let mut p = policy();
    p.modes = Modes { web: Mode::Off, ios: Mode::Monitor, android: Mode::Enforce };
    let mut req = jwt_request("garbage");
    for (platform, outcome) in [
        (Platform::Web, Outcome::Unverified),
        (Platform::Ios, Outcome::WouldReject),
        (Platform::Android, Outcome::Rejected),
    ] {
        req.platform = platform;
        assert_eq!(run(&req, &p).outcome, outcome, "{platform:?}");
    }
}

/// Off mode accepts the claimed user unverified and notes it; monitor keeps the claimed id too.
#[test]
fn off_mode_keeps_claimed_user() {
    let mut req = crate::testutil::bare_request();
    req.user_id = Some(json!("u_claimed"));
    let v = run(&req, &with_mode(Mode::Off));
    assert_eq!((v.outcome, v.user_id.as_deref()), (Outcome::Unverified, Some("u_claimed")));
    assert!(v.notes.iter().any(|n| n.contains("Mode is off")));
    req.user_id = Some(json!(12));
    assert_eq!(run(&req, &with_mode(Mode::Off)).user_id, None, "invalid ids are not reported");
}

/// Response bodies: 200 with `would_reject`/`reason` in monitor; the error envelope with `log_id` when rejected.
#[test]
fn response_bodies() {
    let bad = token(json!({"user_id": "u", "exp": NOW - 3600}));
    let monitor = run(&jwt_request(&bad), &with_mode(Mode::Monitor)).response_body(json!("log_1"));
    assert_eq!(monitor.get("verified"), Some(&json!(false)));
    assert_eq!(monitor.get("would_reject"), Some(&json!(true)));
    assert_eq!(monitor.get("reason"), Some(&json!("token_expired")));
    assert_eq!(monitor.get("mode"), Some(&json!("monitor")));
    assert_eq!(monitor.get("log_id"), Some(&json!("log_1")));
    let enforce = run(&jwt_request(&bad), &with_mode(Mode::Enforce)).response_body(json!("log_2"));
    assert_eq!(enforce.pointer("/error/code"), Some(&json!("token_expired")));
    assert!(enforce.pointer("/error/message").is_some_and(|m| m.as_str().is_some_and(|m| !m.is_empty())));
    assert_eq!(enforce.get("log_id"), Some(&json!("log_2")));
    let ok = run(&jwt_request(&token(json!({"user_id": "u"}))), &policy()).response_body(json!(7));
    assert_eq!(ok.get("verified"), Some(&json!(true)));
    assert!(ok.get("would_reject").is_none() && ok.get("reason").is_none());
    for key in ["user_id", "attributes", "rejected_attributes", "ignored_attributes"] {
        assert!(ok.get(key).is_some(), "{key}");
    }
}

/// Origin rules apply to web only, only with a non-empty list; a missing Origin fails.
#[test]
fn origin_allowlist_through_verify() {
    let mut p = policy();
    let mut req = jwt_request(&token(json!({"user_id": "u"})));
    req.platform = Platform::Web;
    let at = |p: &WorkspacePolicy, req: &IdentifyRequest, origin| verify(req, p, &Context { origin, now: NOW });
    assert!(at(&p, &req, None).verified, "empty list allows any origin");
    p.allowed_origins = vec!["https://*.example.com".into(), "https://example.com".into()];
    assert!(at(&p, &req, Some("https://example.com")).verified);
    assert!(at(&p, &req, Some("https://shop.example.com")).verified);
    assert_eq!(at(&p, &req, None).reason, Some(Reason::OriginNotAllowed));
    assert_eq!(at(&p, &req, Some("http://shop.example.com")).reason, Some(Reason::OriginNotAllowed));
    req.platform = Platform::Android;
    assert!(at(&p, &req, None).verified, "mobile platforms have no origin");
}

/// An origin failure in monitor mode is a would-reject, and the token's own result is traced.
#[test]
fn origin_failure_in_monitor() {
    let mut p = with_mode(Mode::Monitor);
    p.allowed_origins = vec!["https://app.example.com".into()];
    let mut req = jwt_request(&token(json!({"user_id": "u"})));
    req.platform = Platform::Web;
    let v = verify_traced(&req, &p, &Context { origin: Some("https://evil.example"), now: NOW });
    assert_eq!((v.outcome, v.reason), (Outcome::WouldReject, Some(Reason::OriginNotAllowed)));
    assert!(v.checks.iter().any(|c| c.check == "origin" && !c.ok));
    assert!(v.checks.iter().any(|c| c.check == "signature" && c.ok));
}

/// A body `user_id` that differs from the verified token's is ignored, with a note.
#[test]
fn body_user_id_ignored_with_jwt() {
    let mut req = jwt_request(&token(json!({"user_id": "u_token"})));
    req.user_id = Some(json!("u_body"));
    let v = run(&req, &policy());
    assert_eq!(v.user_id.as_deref(), Some("u_token"));
    assert!(v.notes.iter().any(|n| n.contains("user_id in the body ignored")));
}
