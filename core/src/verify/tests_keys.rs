//! Key selection, rotation, revocation, algorithms, legacy HMAC and interop.

use super::*;
use crate::keys::{Alg, KeyState, VerificationKey};
use crate::sign::{sign_jwt, sign_jwt_with, user_hmac};
use crate::testutil::{b64, bare_request, jwt_request, obj, policy, run, run_token, NOW, OTHER, SECRET};
use serde_json::json;

const THIRD: &[u8] = b"third-secret-third-secret-third!";

/// A workspace with a primary, a rotating key (grace until NOW + 100) and a revoked key.
fn rotated() -> WorkspacePolicy {
    let mut p = policy();
    p.keys.push(VerificationKey::new("k_rot", OTHER.to_vec(), KeyState::Rotating { expires_at: NOW + 100 }));
    p.keys.push(VerificationKey::new("k_rev", THIRD.to_vec(), KeyState::Revoked));
    p
}

/// Verifies `jwt` under `p` at `now`.
fn at(p: &WorkspacePolicy, jwt: &str, now: i64) -> Verdict {
    verify(&jwt_request(jwt), p, &Context { origin: None, now })
}

/// A claims map with only a user id.
fn claims() -> Map<String, Value> {
    obj(json!({"user_id": "u"}))
}

/// With a `kid`, only that key is tried: the primary's secret under the rotating kid fails.
#[test]
fn kid_selects_one_key() {
    let p = rotated();
    assert!(at(&p, &sign_jwt(OTHER, "k_rot", &claims()), NOW).verified);
    let v = at(&p, &sign_jwt(SECRET, "k_rot", &claims()), NOW);
    assert_eq!(v.reason, Some(Reason::InvalidSignature));
    assert_eq!(v.kid.as_deref(), Some("k_rot"));
}

/// Without a `kid`, every active key is tried and the matching one is reported.
#[test]
fn no_kid_tries_active_keys() {
    let p = rotated();
    let jwt = sign_jwt_with(Alg::Hs256, OTHER, None, &claims());
    let v = at(&p, &jwt, NOW);
    assert!(v.verified);
    assert_eq!(v.kid.as_deref(), Some("k_rot"));
}

/// A rotating key verifies strictly inside its grace period and is retired at `expires_at`.
#[test]
fn rotation_grace_boundary() {
    let p = rotated();
    for jwt in [sign_jwt(OTHER, "k_rot", &claims()), sign_jwt_with(Alg::Hs256, OTHER, None, &claims())] {
        assert!(at(&p, &jwt, NOW + 99).verified);
        let after = at(&p, &jwt, NOW + 100);
        assert_eq!(after.reason, Some(Reason::RevokedKey));
        assert!(after.explanation.contains("grace period ended"), "{}", after.explanation);
        assert_eq!(after.kid.as_deref(), Some("k_rot"));
    }
}

/// Revoked kid: valid signature → `revoked_key`; bad signature → `invalid_signature`.
#[test]
fn revoked_key_vs_invalid_signature() {
    let p = rotated();
    assert_eq!(at(&p, &sign_jwt(THIRD, "k_rev", &claims()), NOW).reason, Some(Reason::RevokedKey));
    assert_eq!(at(&p, &sign_jwt(SECRET, "k_rev", &claims()), NOW).reason, Some(Reason::InvalidSignature));
    let no_kid = at(&p, &sign_jwt_with(Alg::Hs256, THIRD, None, &claims()), NOW);
    assert_eq!(no_kid.reason, Some(Reason::RevokedKey));
    assert!(no_kid.explanation.contains("k_rev"));
    let unknown_secret = at(&p, &sign_jwt_with(Alg::Hs256, b"nobody", None, &claims()), NOW);
    assert_eq!(unknown_secret.reason, Some(Reason::InvalidSignature));
}

/// A workspace with no active key cannot verify: `unknown_key` (or `revoked_key` if one matches).
#[test]
fn no_active_keys() {
    let mut p = policy();
    p.keys.clear();
    let jwt = sign_jwt_with(Alg::Hs256, SECRET, None, &claims());
    assert_eq!(at(&p, &jwt, NOW).reason, Some(Reason::UnknownKey));
    p.keys.push(VerificationKey::new("k_primary", SECRET.to_vec(), KeyState::Revoked));
    assert_eq!(at(&p, &jwt, NOW).reason, Some(Reason::RevokedKey));
}

/// HS384 and HS512 verify; the verdict reports the algorithm.
#[test]
fn hs384_and_hs512() {
    for alg in [Alg::Hs384, Alg::Hs512] {
        let v = run_token(&sign_jwt_with(alg, SECRET, Some("k_primary"), &claims()));
        assert!(v.verified);
        assert_eq!(v.alg.as_deref(), Some(alg.as_str()));
    }
}

/// A token whose header says HS512 but was signed as HS256 fails (alg is bound to the MAC).
#[test]
fn alg_swap_fails() {
    let jwt = sign_jwt(SECRET, "k_primary", &claims());
    let (_, rest) = jwt.split_once('.').unwrap_or_default();
    let swapped = format!("{}.{rest}", b64(br#"{"alg":"HS512","typ":"JWT","kid":"k_primary"}"#));
    assert_eq!(run_token(&swapped).reason, Some(Reason::InvalidSignature));
}

/// Legacy HMAC: hex accepted in lower, upper and mixed case; JWT-like key rules apply.
#[test]
fn legacy_hmac_hex_cases_and_keys() {
    let mut p = rotated();
    p.hmac_enabled = true;
    let mut req = bare_request();
    req.user_id = Some(json!("u_1"));
    let lower = user_hmac(SECRET, "u_1");
    let mixed: String =
        lower.chars().enumerate().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect();
    for hash in [lower.clone(), lower.to_uppercase(), mixed] {
        req.user_hash = Some(hash);
        let v = run(&req, &p);
        assert!(v.verified, "{}", v.explanation);
        assert_eq!((v.user_id.as_deref(), v.kid.as_deref(), v.alg.as_deref()), (Some("u_1"), Some("k_primary"), None));
    }
    req.user_hash = Some(user_hmac(OTHER, "u_1"));
    assert_eq!(run(&req, &p).kid.as_deref(), Some("k_rot"));
    req.user_hash = Some(user_hmac(THIRD, "u_1"));
    let revoked = run(&req, &p);
    assert_eq!((revoked.reason, revoked.kid.as_deref()), (Some(Reason::RevokedKey), Some("k_rev")));
    req.user_hash = Some(user_hmac(SECRET, "u_2"));
    assert_eq!(run(&req, &p).reason, Some(Reason::InvalidUserHash));
}

/// Legacy HMAC needs a valid body user id: absent → `missing_user_id`, number → `invalid_user_id`.
#[test]
fn legacy_hmac_user_id() {
    let mut p = policy();
    p.hmac_enabled = true;
    let mut req = bare_request();
    req.user_hash = Some(user_hmac(SECRET, "42"));
    assert_eq!(run(&req, &p).reason, Some(Reason::MissingUserId));
    req.user_id = Some(json!(42));
    assert_eq!(run(&req, &p).reason, Some(Reason::InvalidUserId));
}

/// With both a JWT and a hash, the JWT decides and a note says the hash was ignored.
#[test]
fn jwt_beats_user_hash() {
    let mut p = policy();
    p.hmac_enabled = true;
    let mut req = jwt_request(&sign_jwt(OTHER, "k_primary", &claims()));
    req.user_id = Some(json!("u"));
    req.user_hash = Some(user_hmac(SECRET, "u"));
    let v = run(&req, &p);
    assert_eq!(v.reason, Some(Reason::InvalidSignature));
    assert!(v.notes.iter().any(|n| n.contains("user_hash ignored")));
}

/// Interop: tokens from the `jsonwebtoken` crate verify; tampered ones do not.
#[test]
fn interop_jsonwebtoken() {
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
        let mut header = Header::new(alg);
        header.kid = Some("k_primary".into());
        let claims = json!({"user_id": "u_9", "exp": NOW + 300, "iat": NOW});
        let jwt = encode(&header, &claims, &EncodingKey::from_secret(SECRET)).unwrap_or_default();
        let v = run_token(&jwt);
        assert!(v.verified, "{alg:?}: {}", v.explanation);
        assert_eq!(v.user_id.as_deref(), Some("u_9"));

        let parts: Vec<&str> = jwt.split('.').collect();
        let (h, p, s) = (
            parts.first().copied().unwrap_or_default(),
            parts.get(1).copied().unwrap_or_default(),
            parts.get(2).copied().unwrap_or_default(),
        );
        let forged_payload = b64(json!({"user_id": "admin", "exp": NOW + 300, "iat": NOW}).to_string().as_bytes());
        assert_eq!(run_token(&format!("{h}.{forged_payload}.{s}")).reason, Some(Reason::InvalidSignature));
        let flipped: String = p
            .char_indices()
            .map(|(i, c)| {
                if i == 5 {
                    if c == 'A' {
                        'B'
                    } else {
                        'A'
                    }
                } else {
                    c
                }
            })
            .collect();
        let v = run_token(&format!("{h}.{flipped}.{s}"));
        assert!(!v.verified && matches!(v.reason, Some(Reason::InvalidSignature | Reason::MalformedToken)));
        let bad_sig: String = s.chars().rev().collect();
        assert!(!run_token(&format!("{h}.{p}.{bad_sig}")).verified);
        let none = format!("{}.{p}.", b64(br#"{"alg":"none","typ":"JWT"}"#));
        assert_eq!(run_token(&none).reason, Some(Reason::UnsupportedAlgorithm));
        let none_with_sig = format!("{}.{p}.{s}", b64(br#"{"alg":"none","typ":"JWT","kid":"k_primary"}"#));
        assert_eq!(run_token(&none_with_sig).reason, Some(Reason::UnsupportedAlgorithm));
    }
}
