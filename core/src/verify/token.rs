//! The JWT path of [`super::verify`]: strict decoding, key selection, signature, then claims.

use serde_json::Value;

use super::Auth;
use crate::claims::{check_claims, quote, Failure};
use crate::jwt::{decode_unverified, UnverifiedJwt};
use crate::keys::{primary_key, VerificationKey};
use crate::reason::Reason;
use crate::verdict::Trace;
use crate::workspace::WorkspacePolicy;

/// Longest `alg` value of an unparsable token copied into the verdict (and so the log).
const MAX_ALG_CHARS: usize = 32;
/// Longest `kid` value of an unparsable token copied into the verdict.
const MAX_KID_CHARS: usize = 128;

/// Verifies a compact JWT against the workspace's keys and claim rules.
pub(super) fn verify_token(
    token: &str,
    policy: &WorkspacePolicy,
    now: i64,
    trace: &mut Trace,
) -> Auth {
    let jwt = match decode_unverified(token, trace) {
        Ok(jwt) => jwt,
        Err(failure) => {
            let header = failure.header;
            let field = |name: &str, max_chars: usize| {
                header
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .and_then(Value::as_str)
                    .filter(|s| s.chars().count() <= max_chars)
                    .map(str::to_string)
            };
            return Auth {
                result: Err((failure.reason, failure.explanation)),
                kid: field("kid", MAX_KID_CHARS),
                alg: field("alg", MAX_ALG_CHARS),
                payload: failure.payload,
                header,
            };
        }
    };
    let (kid, key) = select_key(&jwt, &policy.keys, now, trace);
    let result = key.and_then(|_| check_claims(&jwt.payload, policy, now, trace));
    Auth {
        result,
        kid,
        alg: Some(jwt.alg.as_str().to_string()),
        header: Some(jwt.header),
        payload: Some(jwt.payload),
    }
}

/// Finds the key whose MAC matches. With a `kid`: that key only. Without: every key that may
/// verify, then (only to explain the failure) the retired ones. Returns the kid to report (the
/// matching key, the retired key for `revoked_key`, else the token's `kid`) and the result.
fn select_key<'k>(
    jwt: &UnverifiedJwt,
    keys: &'k [VerificationKey],
    now: i64,
    trace: &mut Trace,
) -> (Option<String>, Result<&'k VerificationKey, Failure>) {
    let primary = primary_key(keys).map_or_else(
        || "the primary key".to_string(),
        |k| format!("the primary key {}", quote(&k.kid)),
    );
    let candidates: Vec<&VerificationKey> = match &jwt.kid {
        Some(kid) => keys.iter().filter(|k| &k.kid == kid).collect(),
        None => keys.iter().collect(),
    };
    let (active, retired): (Vec<&VerificationKey>, Vec<&VerificationKey>) =
        candidates.iter().partition(|k| k.verifies_at(now));
    let fail = |trace: &mut Trace, check: &str, reason: Reason, msg: String| {
        trace.fail(check, msg.clone());
        (jwt.kid.clone(), Err((reason, msg)))
    };

    match &jwt.kid {
        Some(kid) if candidates.is_empty() => {
            return fail(
                trace,
                "key",
                Reason::UnknownKey,
                format!(
                "The token's kid {} matches no key of this workspace. Sign with {primary} and put \
                 its kid in the header (or omit kid).",
                quote(kid)
            ),
            );
        }
        Some(kid) => {
            let state = candidates.first().map_or("", |k| k.state.as_str());
            trace.pass("key", format!("kid {} found ({state})", quote(kid)));
        }
        None if active.is_empty() => {}
        None => trace.pass(
            "key",
            format!("no kid: trying {} active key(s)", active.len()),
        ),
    }

    if let Some(key) = active
        .iter()
        .find(|k| jwt.signature_valid(k.secret.expose()))
    {
        trace.pass(
            "signature",
            format!("valid under key {} ({})", quote(&key.kid), jwt.alg.as_str()),
        );
        return (Some(key.kid.clone()), Ok(key));
    }
    if let Some(key) = retired
        .iter()
        .find(|k| jwt.signature_valid(k.secret.expose()))
    {
        let msg = format!(
            "The signature is valid under key {}, {}. Sign with {primary} instead.",
            quote(&key.kid),
            key.retired_clause()
        );
        trace.fail("signature", msg.clone());
        return (Some(key.kid.clone()), Err((Reason::RevokedKey, msg)));
    }
    match (&jwt.kid, candidates.first()) {
        (Some(kid), Some(key)) if !key.verifies_at(now) => fail(
            trace,
            "signature",
            Reason::InvalidSignature,
            format!(
                "The signature does not match key {}, {} anyway. Sign with {primary}.",
                quote(kid),
                key.retired_clause()
            ),
        ),
        (Some(kid), _) => fail(
            trace,
            "signature",
            Reason::InvalidSignature,
            format!(
                "The signature does not match key {}: the token was signed with another secret or \
             altered after signing. Sign with that key's current secret.",
                quote(kid)
            ),
        ),
        (None, _) if active.is_empty() => fail(
            trace,
            "key",
            Reason::UnknownKey,
            "This workspace has no active key to verify with. Create or rotate a key, then sign \
             with the new primary key."
                .to_string(),
        ),
        (None, _) => fail(
            trace,
            "signature",
            Reason::InvalidSignature,
            format!(
                "The signature matches none of this workspace's {} active key(s): the token was \
             signed with another secret or altered after signing. Sign with {primary}.",
                active.len()
            ),
        ),
    }
}
