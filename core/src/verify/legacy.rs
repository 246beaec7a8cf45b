//! The legacy HMAC path of [`super::verify`]: `user_hash` = hex HMAC-SHA256(secret, `user_id`),
//! hex in either case, decoded and compared in constant time against every key.

use serde_json::Value;

use super::Auth;
use crate::claims::{quote, validate_user_id, Failure, Quoted};
use crate::keys::{primary_clause, Alg};
use crate::reason::Reason;
use crate::verdict::Trace;
use crate::workspace::WorkspacePolicy;

/// Verifies a legacy `user_hash` for the body's `user_id`.
pub(super) fn verify_hash(
    hash: &str,
    user_id: Option<&Value>,
    policy: &WorkspacePolicy,
    now: i64,
    trace: &mut Trace,
) -> Auth<'static> {
    let (kid, result) = check(hash, user_id, policy, now, trace);
    Auth { result, kid, alg: None, long_lived: None, header: None, payload: None }
}

/// The steps of [`verify_hash`]; returns the kid to report and the verified user id.
fn check(
    hash: &str,
    user_id: Option<&Value>,
    policy: &WorkspacePolicy,
    now: i64,
    trace: &mut Trace,
) -> (Option<String>, Result<String, Failure>) {
    let fail = |trace: &mut Trace, check: &str, reason: Reason, msg: String| {
        trace.fail(check, reason, &msg);
        (None, Err((reason, msg)))
    };
    if !policy.hmac_enabled {
        return fail(
            trace,
            "hmac_enabled",
            Reason::HmacDisabled,
            "A user_hash was sent, but legacy HMAC is disabled for this workspace. Send a signed \
             user_jwt instead (recommended), or enable legacy HMAC in the security settings."
                .to_string(),
        );
    }
    trace.pass("hmac_enabled", || "legacy HMAC is enabled".into());
    let user_id = match validate_user_id(user_id) {
        Ok(id) => id,
        Err((reason, msg)) => {
            let msg = format!("{msg} A user_hash authenticates the body's user_id.");
            return fail(trace, "user_id", reason, msg);
        }
    };
    trace.pass("user_id", || quote(&user_id));
    let mut tag = [0u8; 32];
    if hex::decode_to_slice(hash, &mut tag).is_err() {
        let msg = format!(
            "The user_hash is not 64 hex characters (it has {}). Send the hex HMAC-SHA256 of \
             the user_id.",
            hash.chars().count()
        );
        return fail(trace, "user_hash", Reason::InvalidUserHash, msg);
    }
    // Check every key, without stopping early, so timing does not depend on which key matched.
    let matches: Vec<_> =
        policy.keys.iter().filter(|k| Alg::Hs256.verify_with(&k.secret, user_id.as_bytes(), &tag)).collect();
    if let Some(key) = matches.iter().find(|k| k.verifies_at(now)) {
        trace.pass("user_hash", || format!("valid under key {}", Quoted(&key.kid)));
        return (Some(key.kid.clone()), Ok(user_id));
    }
    if let Some(key) = matches.first() {
        let msg = format!(
            "The user_hash is valid under key {}, {}. Compute it with {} instead.",
            Quoted(&key.kid),
            key.retired_clause(),
            primary_clause(&policy.keys)
        );
        trace.fail("user_hash", Reason::RevokedKey, &msg);
        return (Some(key.kid.clone()), Err((Reason::RevokedKey, msg)));
    }
    let msg = format!(
        "The user_hash does not match user_id {} under any active key. Compute the hex \
         HMAC-SHA256 of exactly that string with {}.",
        Quoted(&user_id),
        primary_clause(&policy.keys)
    );
    fail(trace, "user_hash", Reason::InvalidUserHash, msg)
}
