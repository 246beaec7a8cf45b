//! The identify decision (PRODUCT.md, "POST /api/v1/identify" and "Identify: the precise
//! rules"): one pure function from request, workspace policy and the current time to a
//! [`Verdict`]. It never reads the clock, so every decision is reproducible in a test.

mod legacy;
mod token;

use serde_json::{Map, Value};

use crate::attributes::AttributeSorter;
use crate::claims::{quote, user_id_from_claims, validate_user_id, Failure};
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
struct Auth {
    /// The verified user id, or why it did not verify.
    result: Result<String, Failure>,
    /// Key that matched / revoked key / the `kid` the token named.
    kid: Option<String>,
    /// The JWT's `alg` as sent.
    alg: Option<String>,
    /// Decoded header, for the debugger.
    header: Option<Map<String, Value>>,
    /// Decoded payload (trusted only when `result` is `Ok` and the credential was a JWT).
    payload: Option<Map<String, Value>>,
}

/// Verifies one identify request and applies the platform's mode. Origin first (web only, when
/// the workspace lists origins), then the credential: a JWT when one was sent (a `user_hash`
/// beside it is ignored), else the legacy `user_hash`, else `missing_token`. Mode `off` still
/// verifies, so `verified` is always truthful.
pub fn verify(req: &IdentifyRequest, policy: &WorkspacePolicy, ctx: &Context) -> Verdict {
    let mode = policy.modes.get(req.platform);
    let mut trace = Trace::default();
    let origin_failure = check_origin(req.platform, policy, ctx.origin, &mut trace);
    let auth = authenticate(req, policy, ctx.now, &mut trace);
    let failure = origin_failure.or_else(|| auth.result.as_ref().err().cloned());
    let verified = failure.is_none();
    let outcome = match (verified, mode) {
        (true, _) => Outcome::Verified,
        (false, Mode::Off) => Outcome::Unverified,
        (false, Mode::Monitor) => Outcome::WouldReject,
        (false, Mode::Enforce) => Outcome::Rejected,
    };

    let user_id = auth
        .result
        .as_ref()
        .ok()
        .cloned()
        .or_else(|| claimed_user_id(req, policy, &auth));
    let mut sorter = AttributeSorter::default();
    if outcome == Outcome::Rejected {
        trace.note("Attributes were not processed: the request was rejected.".to_string());
    } else {
        let signed = verified && req.user_jwt.is_some();
        let reserved = policy.token_profile.reserved_claims(&policy.user_id_claims);
        let source = if signed {
            "the signed token"
        } else {
            "the unverified token"
        };
        for (name, value) in auth.payload.iter().flatten() {
            if !reserved.contains(&name.as_str()) {
                sorter.add(&policy.attributes, name, value, signed, source);
            }
        }
        for (name, value) in req.attributes.iter().flatten() {
            sorter.add(&policy.attributes, name, value, false, "attributes");
        }
    }
    if !verified && mode == Mode::Off {
        trace.note("Mode is off: the identity was accepted unverified.".to_string());
    }
    trace.notes.append(&mut sorter.notes);

    let explanation = match &failure {
        Some((_, explanation)) => explanation.clone(),
        None => success_explanation(req, &auth, user_id.as_deref()),
    };
    Verdict {
        outcome,
        verified,
        mode,
        reason: failure.map(|(reason, _)| reason),
        explanation,
        user_id,
        kid: auth.kid,
        alg: auth.alg,
        attributes: sorter.accepted,
        rejected_attributes: sorter.rejected,
        ignored_attributes: sorter.ignored,
        notes: trace.notes,
        checks: trace.checks,
        header: auth.header.map(Value::Object),
        payload: auth.payload.map(Value::Object),
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
            trace.pass("origin", format!("{} is allowed", quote(origin)));
            return None;
        }
        Some(origin) => format!(
            "The Origin {} is not in this workspace's allowed origins. If the site is yours, add \
             it (scheme://host[:port]) in the security settings.",
            quote(origin)
        ),
        None => "The web request has no Origin header, and this workspace only accepts web \
                 requests from its allowed origins."
            .to_string(),
    };
    trace.fail("origin", failure.clone());
    Some((Reason::OriginNotAllowed, failure))
}

/// Authenticates the request's credential: JWT first, then legacy hash, else `missing_token`.
fn authenticate(
    req: &IdentifyRequest,
    policy: &WorkspacePolicy,
    now: i64,
    trace: &mut Trace,
) -> Auth {
    if let Some(jwt) = &req.user_jwt {
        if req.user_hash.is_some() {
            trace.note("user_hash ignored: a JWT was sent, and the JWT decides.".to_string());
        }
        let auth = token::verify_token(jwt, policy, now, trace);
        if let (Ok(id), Some(sent)) = (&auth.result, &req.user_id) {
            if sent.as_str() != Some(id.as_str()) {
                trace.note("user_id in the body ignored: the token's user id is used.".to_string());
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
    trace.fail("token", msg.clone());
    Auth {
        result: Err((Reason::MissingToken, msg)),
        kid: None,
        alg: None,
        header: None,
        payload: None,
    }
}

/// Best-effort *claimed* user id of a request that did not verify, for logs and `off` mode:
/// the (unverified) token's user-id claim, else the body's `user_id`, if it is a valid id.
fn claimed_user_id(req: &IdentifyRequest, policy: &WorkspacePolicy, auth: &Auth) -> Option<String> {
    let claims = policy.token_profile.user_id_claims(&policy.user_id_claims);
    auth.payload
        .as_ref()
        .and_then(|payload| user_id_from_claims(payload, &claims).ok())
        .or_else(|| validate_user_id(req.user_id.as_ref()).ok())
}

/// The explanation of a verified request.
fn success_explanation(req: &IdentifyRequest, auth: &Auth, user_id: Option<&str>) -> String {
    let who = user_id.map(quote).unwrap_or_default();
    let key = auth.kid.as_deref().map(quote).unwrap_or_default();
    match (&req.user_jwt, &auth.alg) {
        (Some(_), Some(alg)) => {
            format!("Verified user {who}: {alg} signature valid under key {key}.")
        }
        _ => format!("Verified user {who}: legacy user_hash valid under key {key}."),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_attributes;
#[cfg(test)]
mod tests_keys;
#[cfg(test)]
mod tests_modes;
#[cfg(test)]
mod tests_profiles;
