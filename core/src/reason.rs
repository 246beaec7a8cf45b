//! The closed set of reason codes and outcomes of an identify attempt (PRODUCT.md, "POST
//! /api/v1/identify"). These strings are a stable public contract: they are the `error.code` of a
//! 401, the `reason` of a 200 and the log's `reason` column, so never rename a variant.

use serde::{Deserialize, Serialize};

/// Why an identify attempt did not verify. One variant per contract code, matched exhaustively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Neither `user_jwt` nor `user_hash` was sent.
    MissingToken,
    /// The JWT's bytes break the strict format rules (segments, base64url, JSON, `crit`, claim types).
    MalformedToken,
    /// The JWT is longer than [`crate::MAX_TOKEN_BYTES`].
    TokenTooLarge,
    /// The header's `alg` is not exactly `HS256`, `HS384` or `HS512`.
    UnsupportedAlgorithm,
    /// The header's `kid` names no key of the workspace (or the workspace has no usable key).
    UnknownKey,
    /// The signature (or hash) is valid, but only under a revoked or retired key.
    RevokedKey,
    /// The signature matches no key it was checked against.
    InvalidSignature,
    /// `exp` is in the past, beyond the leeway.
    TokenExpired,
    /// `nbf` is in the future, beyond the leeway.
    TokenNotYetValid,
    /// `iat` is in the future, beyond the leeway.
    TokenIssuedInFuture,
    /// The workspace requires `exp` (or a maximum lifetime) and the token has none.
    MissingExp,
    /// The token lives longer than the workspace's `max_token_lifetime_seconds`.
    LifetimeTooLong,
    /// `iss` is absent where required, or differs from the expected issuer.
    InvalidIssuer,
    /// TalkJS profile: `tokenType` is present and is not `user`.
    InvalidTokenType,
    /// No user id claim (or, for legacy HMAC, no `user_id` field).
    MissingUserId,
    /// The user id is not a non-empty string of at most 255 characters without control characters.
    InvalidUserId,
    /// A `user_hash` arrived but the workspace does not allow legacy HMAC.
    HmacDisabled,
    /// The `user_hash` is not hex or matches no key.
    InvalidUserHash,
    /// A `web` request whose `Origin` is missing or not in `allowed_origins`.
    OriginNotAllowed,
    /// The request body is not a valid identify request (logged as a 400 on a known `app_id`).
    InvalidRequest,
}

impl Reason {
    /// Every reason, in contract order; handy for tests, filters and dashboards.
    pub const ALL: [Reason; 20] = [
        Reason::MissingToken,
        Reason::MalformedToken,
        Reason::TokenTooLarge,
        Reason::UnsupportedAlgorithm,
        Reason::UnknownKey,
        Reason::RevokedKey,
        Reason::InvalidSignature,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::TokenIssuedInFuture,
        Reason::MissingExp,
        Reason::LifetimeTooLong,
        Reason::InvalidIssuer,
        Reason::InvalidTokenType,
        Reason::MissingUserId,
        Reason::InvalidUserId,
        Reason::HmacDisabled,
        Reason::InvalidUserHash,
        Reason::OriginNotAllowed,
        Reason::InvalidRequest,
    ];

    /// The wire code (`missing_token`, ...), identical to the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MissingToken => "missing_token",
            Reason::MalformedToken => "malformed_token",
            Reason::TokenTooLarge => "token_too_large",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::UnknownKey => "unknown_key",
            Reason::RevokedKey => "revoked_key",
            Reason::InvalidSignature => "invalid_signature",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::TokenIssuedInFuture => "token_issued_in_future",
            Reason::MissingExp => "missing_exp",
            Reason::LifetimeTooLong => "lifetime_too_long",
            Reason::InvalidIssuer => "invalid_issuer",
            Reason::InvalidTokenType => "invalid_token_type",
            Reason::MissingUserId => "missing_user_id",
            Reason::InvalidUserId => "invalid_user_id",
            Reason::HmacDisabled => "hmac_disabled",
            Reason::InvalidUserHash => "invalid_user_hash",
            Reason::OriginNotAllowed => "origin_not_allowed",
            Reason::InvalidRequest => "invalid_request",
        }
    }

    /// Parses a wire code exactly (for log filters); `None` for anything else.
    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// What this reason means, in one sentence (the debugger's checks).
    pub fn meaning(self) -> &'static str {
        match self {
            Reason::MissingToken => "Neither a user_jwt nor a user_hash was sent.",
            Reason::MalformedToken => "The token's bytes are not a strict compact JWT.",
            Reason::TokenTooLarge => "The token is longer than 8 KiB.",
            Reason::UnsupportedAlgorithm => "The header's alg is not HS256, HS384 or HS512.",
            Reason::UnknownKey => "The kid names no key of this workspace.",
            Reason::RevokedKey => "The signature is valid, but only under a revoked or expired key.",
            Reason::InvalidSignature => "The signature matches no key it was checked against.",
            Reason::TokenExpired => "exp is in the past, beyond the leeway.",
            Reason::TokenNotYetValid => "nbf is in the future, beyond the leeway.",
            Reason::TokenIssuedInFuture => "iat is in the future, beyond the leeway.",
            Reason::MissingExp => "This workspace requires exp and the token has none.",
            Reason::LifetimeTooLong => "The token lives longer than this workspace allows.",
            Reason::InvalidIssuer => "iss is missing where required, or is not the expected issuer.",
            Reason::InvalidTokenType => "tokenType is present and is not \"user\".",
            Reason::MissingUserId => "No claim of the token profile holds a user id.",
            Reason::InvalidUserId => "The user id is not a non-empty string of at most 255 characters.",
            Reason::HmacDisabled => "A user_hash arrived, but legacy HMAC is turned off.",
            Reason::InvalidUserHash => "The user_hash is not hex, or matches no key.",
            Reason::OriginNotAllowed => "The page's origin is not in the allowed origins.",
            Reason::InvalidRequest => "The request body is not a valid identify request.",
        }
    }

    /// How to fix an attempt that failed for this reason, in one sentence (the debugger, the
    /// log's detail drawer and the overview's failure groups).
    pub fn fix(self) -> &'static str {
        match self {
            Reason::MissingToken => "Have your backend sign a JWT for the user and pass it to the widget as user_jwt.",
            Reason::MalformedToken => "Send the token exactly as your JWT library produced it: three base64url segments, no spaces, quotes or padding.",
            Reason::TokenTooLarge => "Keep only the claims you need in the token; send bulky data as attributes.",
            Reason::UnsupportedAlgorithm => "Sign with HS256 and the workspace secret (not RS256, not none).",
            Reason::UnknownKey => "Put the primary key's kid in the header, or leave kid out.",
            Reason::RevokedKey => "Move your backend to the primary key's secret (Keys page) and sign new tokens with it.",
            Reason::InvalidSignature => "Sign with the primary key's exact secret, and do not change the token after signing.",
            Reason::TokenExpired => "Mint a fresh token for each session instead of caching one.",
            Reason::TokenNotYetValid => "Sync the signing server's clock (NTP), or drop nbf.",
            Reason::TokenIssuedInFuture => "Sync the signing server's clock (NTP).",
            Reason::MissingExp => "Add exp (e.g. now + 1 hour) when signing.",
            Reason::LifetimeTooLong => "Sign with a shorter exp, or raise the maximum lifetime in Security.",
            Reason::InvalidIssuer => "Set iss to the expected issuer (the app_id unless Security says otherwise), or drop it.",
            Reason::InvalidTokenType => "Set tokenType to \"user\", or leave it out.",
            Reason::MissingUserId => "Put the user id in the claim your token profile reads, or pick the profile that matches your tokens.",
            Reason::InvalidUserId => "Send the user id as a string (not a number), 1 to 255 characters, without control characters.",
            Reason::HmacDisabled => "Send a signed user_jwt instead, or turn legacy HMAC on in Security.",
            Reason::InvalidUserHash => "Send the lowercase hex HMAC-SHA256 of exactly the user id, under the primary key's secret.",
            Reason::OriginNotAllowed => "Add the site's origin (scheme://host[:port]) to the allowed origins in Security.",
            Reason::InvalidRequest => "Send platform as web, ios or android, and strings for user_jwt, user_id and user_hash.",
        }
    }

    /// The HTTP status an enforced failure answers with: 400 for `invalid_request`, else 401.
    pub fn http_status(self) -> u16 {
        match self {
            Reason::InvalidRequest => 400,
            _ => 401,
        }
    }
}

impl std::fmt::Display for Reason {
    /// Writes the wire code, so logs and error bodies share one spelling.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened to an identify attempt once the platform's mode is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The identity verified (any mode).
    Verified,
    /// Verification failed and the mode is `off`: accepted as an unverified identity.
    Unverified,
    /// Verification failed and the mode is `monitor`: accepted, logged as would-reject.
    WouldReject,
    /// Verification failed and the mode is `enforce`: answered with 401.
    Rejected,
}

impl Outcome {
    /// Every outcome, for filters and tests.
    pub const ALL: [Outcome; 4] = [Outcome::Verified, Outcome::Unverified, Outcome::WouldReject, Outcome::Rejected];

    /// The wire name (`verified`, `unverified`, `would_reject`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::Unverified => "unverified",
            Outcome::WouldReject => "would_reject",
            Outcome::Rejected => "rejected",
        }
    }

    /// Parses a wire name exactly (for log filters); `None` for anything else.
    pub fn parse(name: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reason's `as_str` equals its serde name and round-trips through `parse`.
    #[test]
    fn reason_names_match_serde() {
        for reason in Reason::ALL {
            let json = serde_json::to_value(reason).ok();
            assert_eq!(json, Some(serde_json::Value::from(reason.as_str())));
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(Reason::parse("Missing_Token"), None);
    }

    /// The contract's list of reason codes, verbatim, is exactly what the enum spells.
    #[test]
    fn reason_codes_are_the_contract() {
        let contract = "missing_token malformed_token token_too_large unsupported_algorithm \
            unknown_key revoked_key invalid_signature token_expired token_not_yet_valid \
            token_issued_in_future missing_exp lifetime_too_long invalid_issuer \
            invalid_token_type missing_user_id invalid_user_id hmac_disabled invalid_user_hash \
            origin_not_allowed invalid_request";
        let ours: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(ours, contract.split_whitespace().collect::<Vec<_>>());
    }

    /// Outcomes serialise in snake_case and round-trip.
    #[test]
    fn outcome_names_match_serde() {
        for outcome in Outcome::ALL {
            let json = serde_json::to_value(outcome).ok();
            assert_eq!(json, Some(serde_json::Value::from(outcome.as_str())));
            assert_eq!(Outcome::parse(outcome.as_str()), Some(outcome));
        }
    }

    /// Only `invalid_request` is a 400; every verification failure is a 401.
    #[test]
    fn http_statuses() {
        assert_eq!(Reason::InvalidRequest.http_status(), 400);
        assert_eq!(Reason::InvalidSignature.http_status(), 401);
    }
}
