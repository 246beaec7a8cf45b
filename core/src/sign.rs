//! Signing, for `POST /api/v1/signatures` (PRODUCT.md, "the Fogbender pattern"), for code
//! snippets and for tests: HS256 JWTs and legacy user HMACs that [`crate::verify()`] accepts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::keys::{primary_key, Alg, VerificationKey};
use crate::request::SignatureRequest;
use crate::workspace::WorkspacePolicy;

/// Signs `claims` as an HS256 JWT with header `{"alg":"HS256","typ":"JWT","kid":kid}`.
pub fn sign_jwt(secret: &[u8], kid: &str, claims: &Map<String, Value>) -> String {
    sign_jwt_with(Alg::Hs256, secret, Some(kid), claims)
}

/// Signs `claims` with any supported HMAC `alg`, with or without a `kid` header.
pub fn sign_jwt_with(alg: Alg, secret: &[u8], kid: Option<&str>, claims: &Map<String, Value>) -> String {
    let kid = kid.map(|k| format!(",\"kid\":{}", Value::from(k))).unwrap_or_default();
    let header = format!("{{\"alg\":\"{}\",\"typ\":\"JWT\"{kid}}}", alg.as_str());
    let payload = Value::Object(claims.clone()).to_string();
    let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = URL_SAFE_NO_PAD.encode(alg.sign(secret, signing_input.as_bytes()));
    format!("{signing_input}.{signature}")
}

/// The legacy `user_hash`: lowercase hex HMAC-SHA256 of the exact `user_id` string.
pub fn user_hmac(secret: &[u8], user_id: &str) -> String {
    hex::encode(Alg::Hs256.sign(secret, user_id.as_bytes()))
}

/// The claims of a token signed *for* this workspace's profile, so its own verifier accepts it:
/// `attributes` first, then the profile's user-id claim, `iat = now`, `exp = now + expires_in`,
/// `iss` where the profile checks it, and TalkJS's `tokenType: "user"`. An attribute named like
/// a reserved claim is an error (it would be silently overwritten otherwise).
pub fn signature_claims(
    policy: &WorkspacePolicy,
    user_id: &str,
    attributes: Option<&Map<String, Value>>,
    now: i64,
    expires_in: Option<i64>,
) -> Result<Map<String, Value>, String> {
    let profile = policy.token_profile;
    let reserved = profile.reserved_claims(&policy.user_id_claims);
    let user_claim = profile.primary_user_id_claim(&policy.user_id_claims);
    let mut claims = Map::new();
    for (name, value) in attributes.into_iter().flatten() {
        if reserved.contains(&name.as_str()) || name == user_claim {
            return Err(format!("Attribute \"{}\" is a reserved claim name; rename it.", name.escape_debug()));
        }
        claims.insert(name.clone(), value.clone());
    }
    claims.insert(user_claim.to_string(), Value::from(user_id));
    claims.insert("iat".into(), Value::from(now));
    if let Some(expires_in) = expires_in {
        claims.insert("exp".into(), Value::from(now.saturating_add(expires_in)));
    }
    if profile.issuer_rule() != crate::profile::IssuerRule::NotChecked {
        claims.insert("iss".into(), Value::from(policy.effective_issuer()));
    }
    if profile.checks_token_type() {
        claims.insert("tokenType".into(), Value::from("user"));
    }
    Ok(claims)
}

/// The answer of `POST /api/v1/signatures`: a JWT and a legacy HMAC for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signatures {
    /// JWT signed with the primary key, carrying its `kid`.
    pub user_jwt: String,
    /// Lowercase hex HMAC-SHA256 of the user id under the primary key.
    pub user_hmac: String,
}

impl Signatures {
    /// The response body `{"signatures": {"userJWT": ..., "userHMAC": ...}}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({"signatures": {"userJWT": self.user_jwt, "userHMAC": self.user_hmac}})
    }
}

/// Lifetime of a token from `POST /api/v1/signatures` when the caller does not ask for one.
pub const DEFAULT_SIGNATURE_LIFETIME_SECONDS: i64 = 3600;

/// The `exp - iat` of a signed token: the caller's `expires_in` (else one hour), never beyond the
/// workspace's maximum token lifetime. Every token this service mints expires.
pub fn signature_lifetime(policy: &WorkspacePolicy, expires_in: Option<i64>) -> i64 {
    let wanted = expires_in.unwrap_or(DEFAULT_SIGNATURE_LIFETIME_SECONDS);
    match policy.max_token_lifetime_seconds {
        Some(max) if max > 0 => wanted.min(max),
        _ => wanted,
    }
}

/// Signs a parsed signatures request with the workspace's primary key; the token always
/// carries `exp` ([`signature_lifetime`]). Errors (no primary key, reserved attribute name) are
/// human messages for a 4xx.
pub fn sign_for(policy: &WorkspacePolicy, req: &SignatureRequest, now: i64) -> Result<Signatures, String> {
    let key = primary_key(&policy.keys)
        .ok_or_else(|| "This workspace has no primary key; create or rotate one first.".to_string())?;
    let claims = signature_claims(
        policy,
        &req.user_id,
        req.attributes.as_ref(),
        now,
        Some(signature_lifetime(policy, req.expires_in)),
    )?;
    Ok(Signatures {
        user_jwt: sign_jwt(key.secret.expose(), &key.kid, &claims),
        user_hmac: user_hmac(key.secret.expose(), &req.user_id),
    })
}

/// Checks a bearer secret presented to `POST /api/v1/signatures` against every key that may
/// verify at `now`, comparing SHA-256 digests in constant time and without stopping at the first
/// match. With no key (e.g. an unknown `app_id`, pass `&[]`) it still hashes and compares once,
/// so the answer's timing does not tell whether the app exists.
pub fn authenticate_secret<'k>(keys: &'k [VerificationKey], presented: &[u8], now: i64) -> Option<&'k VerificationKey> {
    let digest = Sha256::digest(presented);
    let mut found = None;
    let mut compared = false;
    for key in keys.iter().filter(|k| k.verifies_at(now)) {
        compared = true;
        if bool::from(Sha256::digest(key.secret.expose()).ct_eq(&digest)) && found.is_none() {
            found = Some(key);
        }
    }
    if !compared {
        let _ = bool::from(Sha256::digest([0u8; 32]).ct_eq(&digest));
    }
    found
}

#[cfg(test)]
mod tests;
