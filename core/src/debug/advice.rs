//! What each reason code means and how to fix it, in one sentence each, for the debugger.

use crate::reason::Reason;

/// What `reason` means.
pub fn meaning(reason: Reason) -> &'static str {
    match reason {
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

/// How to fix `reason`.
pub fn fix(reason: Reason) -> &'static str {
    match reason {
        Reason::MissingToken => {
            "Have your backend sign a JWT for the user and pass it to the widget as user_jwt."
        }
        Reason::MalformedToken => {
            "Send the token exactly as your JWT library produced it: three base64url segments, no spaces, quotes or padding."
        }
        Reason::TokenTooLarge => {
            "Keep only the claims you need in the token; send bulky data as attributes."
        }
        Reason::UnsupportedAlgorithm => {
            "Sign with HS256 and the workspace secret (not RS256, not none)."
        }
        Reason::UnknownKey => "Put the primary key's kid in the header, or leave kid out.",
        Reason::RevokedKey => {
            "Move your backend to the primary key's secret (Keys page) and sign new tokens with it."
        }
        Reason::InvalidSignature => {
            "Sign with the primary key's exact secret, and do not change the token after signing."
        }
        Reason::TokenExpired => "Mint a fresh token for each session instead of caching one.",
        Reason::TokenNotYetValid => "Sync the signing server's clock (NTP), or drop nbf.",
        Reason::TokenIssuedInFuture => "Sync the signing server's clock (NTP).",
        Reason::MissingExp => "Add exp (e.g. now + 1 hour) when signing.",
        Reason::LifetimeTooLong => {
            "Sign with a shorter exp, or raise the maximum lifetime in Security."
        }
        Reason::InvalidIssuer => {
            "Set iss to the expected issuer (the app_id unless Security says otherwise), or drop it."
        }
        Reason::InvalidTokenType => "Set tokenType to \"user\", or leave it out.",
        Reason::MissingUserId => {
            "Put the user id in the claim your token profile reads, or pick the profile that matches your tokens."
        }
        Reason::InvalidUserId => {
            "Send the user id as a string (not a number), 1 to 255 characters, without control characters."
        }
        Reason::HmacDisabled => {
            "Send a signed user_jwt instead, or turn legacy HMAC on in Security."
        }
        Reason::InvalidUserHash => {
            "Send the lowercase hex HMAC-SHA256 of exactly the user id, under the primary key's secret."
        }
        Reason::OriginNotAllowed => {
            "Add the site's origin (scheme://host[:port]) to the allowed origins in Security."
        }
        Reason::InvalidRequest => {
            "Send platform as web, ios or android, and strings for user_jwt, user_id and user_hash."
        }
    }
}
