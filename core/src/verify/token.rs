//! The JWT path of [`super::verify`]: strict decoding, key selection, signature, then claims.

use std::borrow::Cow;

use super::Auth;
use crate::claims::{check_claims, Failure, Quoted};
use crate::jwt::{decode_in_place, DecodeBuffer, TokenView};
use crate::keys::{primary_clause, VerificationKey};
use crate::reason::Reason;
use crate::verdict::Trace;
use crate::workspace::WorkspacePolicy;

/// Longest `alg` value of an unparsable token copied into the verdict (and so the log).
const MAX_ALG_CHARS: usize = 32;
/// Longest `kid` value of an unparsable token copied into the verdict.
const MAX_KID_CHARS: usize = 128;

/// Verifies a compact JWT against the workspace's keys and claim rules; the header and payload
/// are decoded into `decoded`.
pub(super) fn verify_token<'a>(
    token: &'a str,
    decoded: &'a mut DecodeBuffer,
    policy: &WorkspacePolicy,
    now: i64,
    trace: &mut Trace,
) -> Auth<'a> {
    let jwt = match decode_in_place(token, decoded, trace) {
        Ok(jwt) => jwt,
        Err(failure) => {
            let header = failure.header;
            let field = |name: &str, max_chars: usize| {
                header
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .and_then(|value| value.as_str())
                    .filter(|s| s.chars().count() <= max_chars)
                    .map(Cow::into_owned)
            };
            return Auth {
                result: Err((failure.reason, failure.explanation)),
                kid: field("kid", MAX_KID_CHARS),
                alg: field("alg", MAX_ALG_CHARS),
                long_lived: None,
                payload: failure.payload,
                header,
            };
        }
    };
    let (kid, key) = select_key(&jwt, &policy.keys, now, trace);
    let (result, long_lived) = match key.and_then(|_| check_claims(&jwt.payload, policy, now, trace)) {
        Ok((user_id, long_lived)) => (Ok(user_id), long_lived),
        Err(failure) => (Err(failure), None),
    };
    Auth {
        result,
        kid,
        alg: Some(jwt.alg.as_str().to_string()),
        long_lived,
        header: Some(jwt.header),
        payload: Some(jwt.payload),
    }
}

/// Finds the key whose MAC matches. With a `kid`: that key only. Without: every key that may
/// verify, then (only to explain the failure) the retired ones. Returns the kid to report (the
/// matching key, the retired key for `revoked_key`, else the token's `kid`) and the result.
fn select_key<'k>(
    jwt: &TokenView,
    keys: &'k [VerificationKey],
    now: i64,
    trace: &mut Trace,
) -> (Option<String>, Result<&'k VerificationKey, Failure>) {
    let kid = jwt.kid();
    let kid = kid.as_deref();
    let candidates = || keys.iter().filter(move |k| kid.is_none_or(|kid| k.kid == kid));
    let active = || candidates().filter(|k| k.verifies_at(now));
    let retired = || candidates().filter(|k| !k.verifies_at(now));
    let primary = || primary_clause(keys);
    let fail = |trace: &mut Trace, check: &str, reason: Reason, msg: String| {
        trace.fail(check, reason, &msg);
        (kid.map(str::to_string), Err((reason, msg)))
    };

    match (kid, candidates().next()) {
        (Some(kid), None) => {
            let msg = format!(
                "The token's kid {} matches no key of this workspace. Sign with {} and put its \
                 kid in the header (or omit kid).",
                Quoted(kid),
                primary()
            );
            return fail(trace, "key", Reason::UnknownKey, msg);
        }
        (Some(kid), Some(key)) => trace.pass("key", || format!("kid {} found ({})", Quoted(kid), key.state.as_str())),
        (None, _) if active().next().is_none() => {}
        (None, _) => trace.pass("key", || format!("no kid: trying {} active key(s)", active().count())),
    }

    if let Some(key) = active().find(|k| jwt.signature_valid(&k.secret)) {
        trace.pass("signature", || format!("valid under key {} ({})", Quoted(&key.kid), jwt.alg.as_str()));
        return (Some(key.kid.clone()), Ok(key));
    }
    if let Some(key) = retired().find(|k| jwt.signature_valid(&k.secret)) {
        let msg = format!(
            "The signature is valid under key {}, {}. Sign with {} instead.",
            Quoted(&key.kid),
            key.retired_clause(),
            primary()
        );
        trace.fail("signature", Reason::RevokedKey, &msg);
        return (Some(key.kid.clone()), Err((Reason::RevokedKey, msg)));
    }
    match (kid, candidates().next()) {
        (Some(kid), Some(key)) if !key.verifies_at(now) => {
            let msg = format!(
                "The signature does not match key {}, {} anyway. Sign with {}.",
                Quoted(kid),
                key.retired_clause(),
                primary()
            );
            fail(trace, "signature", Reason::InvalidSignature, msg)
        }
        (Some(kid), _) => {
            let msg = format!(
                "The signature does not match key {}: the token was signed with another secret \
                 or altered after signing. Sign with that key's current secret.",
                Quoted(kid)
            );
            fail(trace, "signature", Reason::InvalidSignature, msg)
        }
        (None, _) if active().next().is_none() => fail(
            trace,
            "key",
            Reason::UnknownKey,
            "This workspace has no active key to verify with. Create or rotate a key, then sign \
             with the new primary key."
                .to_string(),
        ),
        (None, _) => {
            let msg = format!(
                "The signature matches none of this workspace's {} active key(s): the token was \
                 signed with another secret or altered after signing. Sign with {}.",
                active().count(),
                primary()
            );
            fail(trace, "signature", Reason::InvalidSignature, msg)
        }
    }
}
