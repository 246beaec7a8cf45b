//! The identify decision (PRODUCT.md, "POST /api/v1/identify" and "Identify: the precise
//! rules"): one pure function from request, workspace policy and the current time to a
//! [`Verdict`]. It never reads the clock, so every decision is reproducible in a test.

mod legacy;
mod token;

use std::borrow::Cow;

// The tests build claims as maps; the decision itself reads them in place.
#[cfg(test)]
use serde_json::Map;
use serde_json::Value;

use crate::attributes::AttributeSorter;
use crate::claims::{user_id_from_claims, validate_user_id, Failure, LongLived, Quoted};
use crate::json::RawObject;
use crate::jwt::DecodeBuffer;
use crate::origin::origin_allowed;
use crate::platform::{Mode, Platform};
use crate::reason::{Outcome, Reason};
use crate::request::IdentifyRequest;
use crate::verdict::{Trace, Verdict};
use crate::workspace::WorkspacePolicy;

/// What the HTTP layer knows about the request besides its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context<'a> {
    /// The `Origin` header as sent, if any. The token debugger, which has no browser origin,
    /// should verify against a copy of the policy with `allowed_origins` cleared.
    pub origin: Option<&'a str>,
    /// The current time in unix seconds, read by the caller.
    pub now: i64,
}

/// The result of authenticating the request's credential (JWT, legacy hash, or none).
struct Auth<'a> {
    /// The verified user id, or why it did not verify.
    result: Result<String, Failure>,
    /// Key that matched / revoked key / the `kid` the token named.
    kid: Option<String>,
    /// The JWT's `alg` as sent.
    alg: Option<String>,
    /// Whether a token whose claims passed is long-lived.
    long_lived: Option<LongLived>,
    /// Decoded header, for the debugger.
    header: Option<RawObject<'a>>,
    /// Decoded payload (trusted only when `result` is `Ok` and the credential was a JWT).
    payload: Option<RawObject<'a>>,
}

/// Verifies one identify request and applies the platform's mode. Origin first (web only, when
/// the workspace lists origins), then the credential: a JWT when one was sent (a `user_hash`
/// beside it is ignored), else the legacy `user_hash`, else `missing_token`. Mode `off` still
/// verifies, so `verified` is always truthful. The identify path: `checks` is empty,
/// `header`/`payload` are `None` and a verified attempt's `explanation` is empty (a log row
/// renders it with [`verified_explanation`]); [`verify_traced`] fills them for the debugger.
pub fn verify(req: &IdentifyRequest, policy: &WorkspacePolicy, ctx: &Context) -> Verdict {
    decide(req, policy, ctx, Trace::silent())
}

/// [`verify`] for the token debugger: the same decision, plus the ordered `checks` and the
/// decoded `header` and `payload`.
pub fn verify_traced(req: &IdentifyRequest, policy: &WorkspacePolicy, ctx: &Context) -> Verdict {
    decide(req, policy, ctx, Trace::recording())
}

/// The one implementation of [`verify`] and [`verify_traced`]; `trace` decides what is kept.
fn decide(req: &IdentifyRequest, policy: &WorkspacePolicy, ctx: &Context, mut trace: Trace) -> Verdict {
    let mode = policy.modes.get(req.platform);
    let origin_failure = check_origin(req.platform, policy, ctx.origin, &mut trace);
    let mut decoded = DecodeBuffer::new();
    let Auth { result, kid, alg, long_lived, header, payload } =
        authenticate(req, policy, ctx.now, &mut decoded, &mut trace);
    let (verified_id, auth_failure) = match result {
        Ok(id) => (Some(id), None),
        Err(failure) => (None, Some(failure)),
    };
    let failure = origin_failure.or(auth_failure);
    let verified = failure.is_none();
    let long_lived = long_lived.filter(|_| verified);
    let outcome = match (verified, mode) {
        (true, _) => Outcome::Verified,
        (false, Mode::Off) => Outcome::Unverified,
        (false, Mode::Monitor) => Outcome::WouldReject,
        (false, Mode::Enforce) => Outcome::Rejected,
    };

    let user_id = verified_id.or_else(|| claimed_user_id(req, policy, payload.as_ref()));
    let recording = trace.is_recording();
    // Identify stores a verified row without its sentence (it is rendered when read), so only
    // the debugger pays for writing it.
    let (reason, explanation) = match failure {
        Some((reason, explanation)) => (Some(reason), explanation),
        None if recording => (None, success_explanation(req, alg.as_deref(), kid.as_deref(), user_id.as_deref())),
        None => (None, String::new()),
    };
    let mut sorter = AttributeSorter::default();
    if outcome == Outcome::Rejected {
        trace.note("Attributes were not processed: the request was rejected.");
    } else {
        let signed = verified && req.user_jwt.is_some();
        let profile = policy.token_profile;
        let source = if signed { "the signed token" } else { "the unverified token" };
        for (name, value) in payload.iter().flat_map(RawObject::iter) {
            if !profile.reserves(name, &policy.user_id_claims) {
                sorter.add(&policy.attributes, Cow::Borrowed(name), value, signed, source);
            }
        }
        for (name, value) in req.attributes.iter().flatten() {
            let (name, value) = (Cow::Borrowed(name.as_str()), Cow::Borrowed(value));
            sorter.add(&policy.attributes, name, value, false, "attributes");
        }
    }
    if !verified && mode == Mode::Off {
        trace.note("Mode is off: the identity was accepted unverified.");
    }
    let (checks, mut notes) = trace.into_parts();
    notes.append(&mut sorter.notes);

    Verdict {
        outcome,
        verified,
        mode,
        reason,
        explanation,
        user_id,
        kid,
        alg,
        long_lived,
        attributes: sorter.accepted,
        rejected_attributes: sorter.rejected,
        ignored_attributes: sorter.ignored,
        unsigned_attributes: sorter.unsigned,
        notes,
        checks,
        header: header.filter(|_| recording).map(|header| Value::Object(header.to_map())),
        payload: payload.filter(|_| recording).map(|payload| Value::Object(payload.to_map())),
    }
}

/// Applies the web origin allowlist; `None` when allowed or not applicable.
fn check_origin(
    platform: Platform,
    policy: &WorkspacePolicy,
    origin: Option<&str>,
    trace: &mut Trace,
) -> Option<Failure> {
    if platform != Platform::Web || policy.allowed_origins.is_empty() {
        return None;
    }
    let failure = match origin {
        Some(origin) if origin_allowed(&policy.allowed_origins, origin) => {
            trace.pass("origin", || format!("{} is allowed", Quoted(origin)));
            return None;
        }
        Some(origin) => format!(
            "The Origin {} is not in this workspace's allowed origins. If the site is yours, add \
             it (scheme://host[:port]) in the security settings.",
            Quoted(origin)
        ),
        None => "The web request has no Origin header, and this workspace only accepts web \
                 requests from its allowed origins."
            .to_string(),
    };
    trace.fail("origin", Reason::OriginNotAllowed, &failure);
    Some((Reason::OriginNotAllowed, failure))
}

/// Authenticates the request's credential: JWT first, then legacy hash, else `missing_token`.
/// A JWT's header and payload are decoded into `decoded`.
fn authenticate<'a>(
    req: &'a IdentifyRequest,
    policy: &WorkspacePolicy,
    now: i64,
    decoded: &'a mut DecodeBuffer,
    trace: &mut Trace,
) -> Auth<'a> {
    if let Some(jwt) = &req.user_jwt {
        if req.user_hash.is_some() {
            trace.note("user_hash ignored: a JWT was sent, and the JWT decides.");
        }
        let auth = token::verify_token(jwt, decoded, policy, now, trace);
        if let (Ok(id), Some(sent)) = (&auth.result, &req.user_id) {
            if sent.as_str() != Some(id.as_str()) {
                trace.note("user_id in the body ignored: the token's user id is used.");
            }
        }
        return auth;
    }
    if let Some(hash) = &req.user_hash {
        return legacy::verify_hash(hash, req.user_id.as_ref(), policy, now, trace);
    }
    let msg = "No user_jwt was sent. Have your backend sign a JWT for the logged-in user and pass \
               it to the widget as user_jwt."
        .to_string();
    trace.fail("token", Reason::MissingToken, &msg);
    Auth {
        result: Err((Reason::MissingToken, msg)),
        kid: None,
        alg: None,
        long_lived: None,
        header: None,
        payload: None,
    }
}

/// Best-effort *claimed* user id of a request that did not verify, for logs and `off` mode:
/// the (unverified) token's user-id claim, else the body's `user_id`, if it is a valid id.
fn claimed_user_id(req: &IdentifyRequest, policy: &WorkspacePolicy, payload: Option<&RawObject>) -> Option<String> {
    let claims = policy.token_profile.user_id_claim_names(&policy.user_id_claims);
    payload
        .and_then(|payload| user_id_from_claims(payload, &claims).ok())
        .or_else(|| validate_user_id(req.user_id.as_ref()).ok())
}

/// The explanation of a verified request: [`verified_explanation`] of what it verified with.
fn success_explanation(req: &IdentifyRequest, alg: Option<&str>, kid: Option<&str>, user_id: Option<&str>) -> String {
    verified_explanation(user_id, alg.filter(|_| req.user_jwt.is_some()), kid)
}

/// The explanation of a verified attempt, from what its log row keeps: the user id, the JWT's
/// `alg` (`None` for a legacy `user_hash`) and the key. The log stores it empty and renders it
/// when the row is read, so a verified row does not carry its own sentence.
pub fn verified_explanation(user_id: Option<&str>, alg: Option<&str>, kid: Option<&str>) -> String {
    let mut text = String::with_capacity(96);
    text.push_str("Verified user ");
    if let Some(user_id) = user_id {
        Quoted(user_id).push_to(&mut text);
    }
    match alg {
        Some(alg) => {
            text.push_str(": ");
            text.push_str(alg);
            text.push_str(" signature valid under key ");
        }
        None => text.push_str(": legacy user_hash valid under key "),
    }
    if let Some(kid) = kid {
        Quoted(kid).push_to(&mut text);
    }
    text.push('.');
    text
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_attributes;
#[cfg(test)]
mod tests_in_place;
#[cfg(test)]
mod tests_keys;
#[cfg(test)]
mod tests_modes;
#[cfg(test)]
mod tests_profiles;
#[cfg(test)]
mod tests_traced;
