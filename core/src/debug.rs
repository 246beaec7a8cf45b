//! The token debugger (PRODUCT.md, `POST /api/v1/workspaces/{id}/debug`): the same decision as
//! identify, plus everything a developer needs to fix a failing token — each segment decoded as
//! far as its bytes allow, the time claims in words, which key and which profile claim matched,
//! which other profile would accept the token, and a fix for every failed check. Pure: the
//! caller passes the time in and writes nothing anywhere.

mod segments;
mod times;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use segments::{inspect_segments, Segment};
pub use times::{describe_times, words, TimeClaim};

use crate::keys::{fingerprint, primary_key, KeyState, VerificationKey};
use crate::platform::{Mode, Platform};
use crate::profile::TokenProfile;
use crate::reason::{Outcome, Reason};
use crate::request::{IdentifyRequest, SignatureRequest};
use crate::sign::{sign_jwt, signature_claims, signature_lifetime, user_hmac};
use crate::verdict::{Check, RejectedAttribute, Verdict};
use crate::verify::{verify, verify_traced, Context};
use crate::workspace::WorkspacePolicy;

/// One verification step as the debugger shows it: the core's [`Check`] plus, when it failed,
/// what the reason code means and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DebugCheck {
    /// Short machine name of the step (`format`, `signature`, `exp`, ...).
    pub check: String,
    /// Whether the step passed.
    pub ok: bool,
    /// What was found, in words (for a failure: the explanation identify gives).
    pub detail: String,
    /// The reason code of a failed step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Reason>,
    /// What the reason code means, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meaning: Option<String>,
    /// How to fix it, in one sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl From<Check> for DebugCheck {
    fn from(check: Check) -> Self {
        DebugCheck {
            meaning: check.reason.map(|r| r.meaning().to_string()),
            fix: check.reason.map(|r| r.fix().to_string()),
            check: check.check,
            ok: check.ok,
            detail: check.detail,
            reason: check.reason,
        }
    }
}

/// The verdict part of the debugger's answer: identify's decision and what the platform's mode
/// makes of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebugVerdict {
    pub outcome: Outcome,
    pub verified: bool,
    pub mode: Mode,
    pub reason: Option<Reason>,
    pub explanation: String,
    pub user_id: Option<String>,
    pub attributes: Map<String, Value>,
    pub rejected_attributes: Vec<RejectedAttribute>,
    pub ignored_attributes: Vec<String>,
    pub notes: Vec<String>,
    /// `accept`, `would_reject` (monitor mode accepts and logs) or `reject` (enforce, 401).
    pub decision: String,
    /// The decision in words, naming the platform and its mode.
    pub decision_text: String,
}

/// The workspace key a token or hash named or matched, as safe-to-show metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReport {
    pub kid: String,
    /// `primary`, `rotating` or `revoked`.
    pub state: String,
    /// `sha256:` and the start of the secret's SHA-256 (as on the keys page).
    pub fingerprint: String,
    /// Whether the signature (or hash) is valid under this key.
    pub signature_valid: bool,
    /// Whether this key may verify now (a revoked key, or a rotating one past its grace, may not).
    pub verifies_now: bool,
    /// What that means, in words.
    pub summary: String,
}

/// How the workspace's token profile read the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileReport {
    /// The workspace's profile (`countersign`, `talkjs`, ...).
    pub name: TokenProfile,
    /// The claims the profile takes the user id from, in order.
    pub user_id_claims: Vec<String>,
    /// The claim that gave the user id, if one did.
    pub user_id_claim: Option<String>,
    /// Other profiles under which this token would verify, when the current one rejects it.
    pub accepted_by: Vec<TokenProfile>,
    /// The expected issuer those profiles need, when they accept the token only once it is the
    /// token's own `iss` (a vendor's token names the vendor's app id, not ours).
    pub needs_issuer: Option<String>,
}

/// The legacy HMAC's exact input, so a developer can compare byte for byte.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyReport {
    /// The exact string that is HMAC'ed: the user id, nothing added.
    pub hmac_input: String,
    pub algorithm: String,
    pub encoding: String,
}

/// Everything the debugger answers. `header`, `payload`, `checks`, `verdict` and `kid` are the
/// contract's fields; the rest are additions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DebugReport {
    pub header: Option<Value>,
    pub payload: Option<Value>,
    pub checks: Vec<DebugCheck>,
    pub verdict: DebugVerdict,
    pub kid: Option<String>,
    pub platform: Platform,
    /// `jwt`, `user_hash` or `none`: what was verified.
    pub credential: String,
    /// The JWT's segments, each decoded as far as its bytes allow (empty without a JWT).
    pub segments: Vec<Segment>,
    /// `iat`, `nbf` and `exp` as dates and in words.
    pub times: Vec<TimeClaim>,
    pub key: Option<KeyReport>,
    pub profile: ProfileReport,
    pub legacy: Option<LegacyReport>,
    /// The origin checked against the allowlist; `None` when none was given (not checked).
    pub origin: Option<String>,
}

/// Debugs one request. With `origin`, a `web` request is checked against the workspace's allowed
/// origins as identify would; without, the origin check is skipped (the debugger is not a
/// browser) and a note says so.
pub fn debug(req: &IdentifyRequest, policy: &WorkspacePolicy, origin: Option<&str>, now: i64) -> DebugReport {
    let mut checked = policy.clone();
    if origin.is_none() {
        checked.allowed_origins.clear();
    }
    let verdict = verify_traced(req, &checked, &Context { origin, now });
    let credential = match (&req.user_jwt, &req.user_hash) {
        (Some(_), _) => "jwt",
        (None, Some(_)) => "user_hash",
        (None, None) => "none",
    };
    let inspected = req.user_jwt.as_deref().map(inspect_segments);
    let (segments, loose_header, loose_payload) = inspected.unwrap_or_default();
    let header = verdict.header.clone().or(loose_header);
    let payload = verdict.payload.clone().or(loose_payload);
    let times = payload
        .as_ref()
        .and_then(Value::as_object)
        .map(|claims| describe_times(claims, policy.effective_leeway(), now))
        .unwrap_or_default();
    let profile = profile_report(req, &checked, &verdict, payload.as_ref(), now, origin);
    let legacy = (credential == "user_hash").then(|| LegacyReport {
        hmac_input: req.user_id.as_ref().and_then(Value::as_str).unwrap_or_default().to_string(),
        algorithm: "HMAC-SHA256".into(),
        encoding: "lowercase hex (either case accepted)".into(),
    });
    let mut notes = verdict.notes.clone();
    if origin.is_none() && req.platform == Platform::Web && !policy.allowed_origins.is_empty() {
        notes.push("Origin not checked: give the page's origin to check it against the allowed origins.".into());
    }
    DebugReport {
        key: key_report(&verdict, &policy.keys, now),
        header,
        payload,
        checks: verdict.checks.iter().cloned().map(DebugCheck::from).collect(),
        kid: verdict.kid.clone(),
        platform: req.platform,
        credential: credential.into(),
        segments,
        times,
        profile,
        legacy,
        origin: origin.map(str::to_string),
        verdict: DebugVerdict {
            decision: decision(verdict.outcome).into(),
            decision_text: decision_text(&verdict, req.platform),
            outcome: verdict.outcome,
            verified: verdict.verified,
            mode: verdict.mode,
            reason: verdict.reason,
            explanation: verdict.explanation,
            user_id: verdict.user_id,
            attributes: verdict.attributes,
            rejected_attributes: verdict.rejected_attributes,
            ignored_attributes: verdict.ignored_attributes,
            notes,
        },
    }
}

/// The mode's decision as a word.
fn decision(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Verified | Outcome::Unverified => "accept",
        Outcome::WouldReject => "would_reject",
        Outcome::Rejected => "reject",
    }
}

fn decision_text(verdict: &Verdict, platform: Platform) -> String {
    let platform = platform.as_str();
    let reason = verdict.reason.map_or("", Reason::as_str);
    match verdict.outcome {
        Outcome::Verified => format!("Accepted on {platform}: the identity is verified."),
        Outcome::Unverified => {
            format!("Accepted unverified: {platform} is in mode off. Enforce would reject it ({reason}).")
        }
        Outcome::WouldReject => format!(
            "Accepted, and logged as would-reject: {platform} is in mode monitor. Enforce would \
             reject it with 401 {reason}."
        ),
        Outcome::Rejected => {
            format!("Rejected with 401 {reason}: {platform} is in mode enforce.")
        }
    }
}

/// The key the verdict names, with its state and fingerprint; `None` when it names none of the
/// workspace's keys (e.g. `unknown_key`).
fn key_report(verdict: &Verdict, keys: &[VerificationKey], now: i64) -> Option<KeyReport> {
    let kid = verdict.kid.as_deref()?;
    let key = keys.iter().find(|k| k.kid == kid)?;
    // The signature (or hash) step passed, or failed only because the key is retired.
    let signature_valid = verdict.checks.iter().any(|c| {
        matches!(c.check.as_str(), "signature" | "user_hash") && (c.ok || c.reason == Some(Reason::RevokedKey))
    });
    let verifies_now = key.verifies_at(now);
    let summary = match (signature_valid, &key.state) {
        (false, _) => "The token names this key, but the signature does not match it.".into(),
        (true, _) if !verifies_now => {
            "Only this key matches, and it no longer verifies: sign with the primary key.".into()
        }
        (true, KeyState::Rotating { expires_at }) => format!(
            "Matches a rotating key that verifies until {} only: move your backend to the \
             primary key before then.",
            crate::time::format_unix(*expires_at)
        ),
        (true, _) => "Matches the primary key.".into(),
    };
    Some(KeyReport {
        kid: key.kid.clone(),
        state: key.state.as_str().into(),
        fingerprint: fingerprint(key.secret.expose()),
        signature_valid,
        verifies_now,
        summary,
    })
}

/// Which claim gave the user id and, for a token the current profile rejects, which other
/// profiles would verify it (`custom` is left out: it needs the workspace's own claim names).
fn profile_report(
    req: &IdentifyRequest,
    policy: &WorkspacePolicy,
    verdict: &Verdict,
    payload: Option<&Value>,
    now: i64,
    origin: Option<&str>,
) -> ProfileReport {
    let profile = policy.token_profile;
    let claims = profile.user_id_claims(&policy.user_id_claims);
    let user_id_claim = payload
        .and_then(Value::as_object)
        .and_then(|p| claims.iter().find(|c| p.get(**c).is_some_and(|v| !v.is_null())))
        .map(|c| c.to_string());
    let others = || TokenProfile::ALL.into_iter().filter(|p| *p != profile && *p != TokenProfile::Custom);
    let accepting = |issuer: Option<&str>| -> Vec<TokenProfile> {
        others()
            .filter(|other| {
                let mut alternative = policy.clone();
                alternative.token_profile = *other;
                if let Some(issuer) = issuer {
                    alternative.expected_issuer = Some(issuer.to_owned());
                }
                verify(req, &alternative, &Context { origin, now }).verified
            })
            .collect()
    };
    let (mut accepted_by, mut needs_issuer) = (Vec::new(), None);
    if req.user_jwt.is_some() && !verdict.verified {
        accepted_by = accepting(None);
        let iss = payload.and_then(|p| p.get("iss")).and_then(Value::as_str);
        if let Some(iss) = iss.filter(|iss| accepted_by.is_empty() && *iss != policy.effective_issuer()) {
            accepted_by = accepting(Some(iss));
            needs_issuer = (!accepted_by.is_empty()).then(|| iss.to_owned());
        }
    }
    ProfileReport {
        name: profile,
        user_id_claims: claims.iter().map(|c| c.to_string()).collect(),
        user_id_claim,
        accepted_by,
        needs_issuer,
    }
}

/// A token made on the debugger page: signed with the primary key for the workspace's profile,
/// with the legacy hash of the same user and the exact string it covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestToken {
    pub user_jwt: String,
    pub user_hash: String,
    /// The exact HMAC input of `user_hash`: the user id.
    pub hmac_input: String,
    /// The primary key that signed.
    pub kid: String,
    pub claims: Map<String, Value>,
    /// Unix seconds.
    pub expires_at: i64,
}

/// Signs a test token like `POST /api/v1/signatures` does (same claims, same lifetime rules).
pub fn test_token(policy: &WorkspacePolicy, req: &SignatureRequest, now: i64) -> Result<TestToken, String> {
    let key = primary_key(&policy.keys)
        .ok_or_else(|| "This workspace has no primary key; create or rotate one first.".to_string())?;
    let lifetime = signature_lifetime(policy, req.expires_in);
    let claims = signature_claims(policy, &req.user_id, req.attributes.as_ref(), now, Some(lifetime))?;
    Ok(TestToken {
        user_jwt: sign_jwt(key.secret.expose(), &key.kid, &claims),
        user_hash: user_hmac(key.secret.expose(), &req.user_id),
        hmac_input: req.user_id.clone(),
        kid: key.kid.clone(),
        claims,
        expires_at: now.saturating_add(lifetime),
    })
}

#[cfg(test)]
mod tests;
