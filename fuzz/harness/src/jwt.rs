//! Target `jwt_decode`: arbitrary bytes as a compact JWT.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use countersign_core::jwt::decode_unverified;
use countersign_core::keys::KeySecret;
use countersign_core::verdict::Trace;
use countersign_core::{Alg, Reason, MAX_TOKEN_BYTES};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha384, Sha512};

use crate::alloc::within_budget;

/// A key the checks sign and verify with.
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

/// Decodes `data` as a token (the identify path only ever sees UTF-8) and checks:
/// - a decoded token is within the size limit, has exactly two dots and only base64url
///   characters, and its header's `alg` is the HMAC algorithm it reports;
/// - `signature_valid` agrees with an independent HMAC of the first two segments;
/// - the same header and payload, re-signed, decode again and verify under that key only;
/// - a refusal is `token_too_large`, `malformed_token` or `unsupported_algorithm`, explains
///   itself without quoting the token, and is the last (failed) check of the trace.
pub fn jwt_decode(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    within_budget("jwt_decode", data, || check(token));
}

fn check(token: &str) {
    let mut trace = Trace::recording();
    match decode_unverified(token, &mut trace) {
        Ok(jwt) => {
            assert!(token.len() <= MAX_TOKEN_BYTES);
            assert_eq!(token.matches('.').count(), 2);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')));
            assert_eq!(jwt.header.get("alg").and_then(|a| a.as_str()), Some(jwt.alg.as_str()));
            let (signing_input, signature) = token.rsplit_once('.').unwrap_or_default();
            let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
            let expected = independent_mac(jwt.alg, SECRET, signing_input.as_bytes());
            assert_eq!(jwt.signature_valid(&KeySecret::new(SECRET)), expected == signature);
            let resigned = format!(
                "{signing_input}.{}",
                URL_SAFE_NO_PAD.encode(independent_mac(jwt.alg, SECRET, signing_input.as_bytes()))
            );
            // Re-signing can only grow the token past the limit, never change what it says.
            if resigned.len() <= MAX_TOKEN_BYTES {
                let again = decode_unverified(&resigned, &mut Trace::silent());
                let again = again.map_err(|f| f.explanation);
                assert!(again.is_ok(), "re-signed token refused: {again:?}");
                if let Ok(again) = again {
                    assert_eq!(again.header, jwt.header);
                    assert_eq!(again.payload, jwt.payload);
                    assert!(again.signature_valid(&KeySecret::new(SECRET)));
                    assert!(!again.signature_valid(&KeySecret::new(b"another secret".to_vec())));
                }
            }
        }
        Err(failure) => {
            assert!(
                matches!(failure.reason, Reason::TokenTooLarge | Reason::MalformedToken | Reason::UnsupportedAlgorithm),
                "{:?}",
                failure.reason
            );
            assert!(!failure.explanation.is_empty());
            if token.len() >= 64 {
                assert!(!failure.explanation.contains(token), "the explanation quotes the token");
            }
            let (checks, _) = trace.into_parts();
            let last = checks.last();
            assert!(last.is_some_and(|c| !c.ok && c.detail == failure.explanation));
        }
    }
}

/// HMAC of `data` under `secret`, computed here rather than by the core.
pub(crate) fn independent_mac(alg: Alg, secret: &[u8], data: &[u8]) -> Vec<u8> {
    fn run<M: Mac + hmac::digest::KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
        match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
            Ok(mut m) => {
                m.update(data);
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    match alg {
        Alg::Hs256 => run::<Hmac<Sha256>>(secret, data),
        Alg::Hs384 => run::<Hmac<Sha384>>(secret, data),
        Alg::Hs512 => run::<Hmac<Sha512>>(secret, data),
    }
}
