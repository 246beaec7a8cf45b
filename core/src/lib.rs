//! Countersign's pure core: the permission policy and identity verification.
//!
//! Nothing here performs I/O or reads the clock: callers pass the current time in, so every
//! decision is reproducible in a test.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

pub mod attributes;
pub mod claims;
pub mod debug;
mod json;
pub mod jwt;
pub mod keys;
pub mod log_limits;
pub mod origin;
pub mod platform;
pub mod policy;
pub mod profile;
pub mod reason;
pub mod request;
pub mod sign;
pub mod snippets;
pub mod text;
pub mod time;
pub mod verdict;
pub mod verify;
pub mod webhook;
pub mod workspace;

#[cfg(test)]
mod testutil;

pub use attributes::{AttributeDef, AttributeType};
pub use claims::{validate_user_id, LongLived, LONG_LIVED_SECONDS, MAX_USER_ID_CHARS};
pub use jwt::MAX_TOKEN_BYTES;
pub use keys::{check_imported_secret, fingerprint, primary_key, Alg, KeySecret, KeyState, VerificationKey};
pub use origin::{origin_allowed, validate_allowed_origin};
pub use platform::{Mode, Modes, Platform};
pub use profile::{validate_user_id_claims, TokenProfile};
pub use reason::{Outcome, Reason};
pub use request::{
    parse_identify_request, parse_signature_request, IdentifyRequest, RequestError, SignatureRequest, MAX_BODY_BYTES,
};
pub use sign::{authenticate_secret, sign_for, sign_jwt, sign_jwt_with, signature_claims, user_hmac, Signatures};
pub use verdict::{Check, RejectedAttribute, Verdict};
pub use verify::{verified_explanation, verify, verify_traced, Context};
pub use workspace::{is_app_id_shaped, WorkspacePolicy};
