//! Random identifiers and bearer secrets from the OS CSPRNG, and their stored digests.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// `n` bytes from the operating system's CSPRNG.
pub fn bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The OS RNG failing is unrecoverable for a security service: refuse to continue.
    #[allow(clippy::expect_used)]
    getrandom::getrandom(&mut buf).expect("the OS random number generator failed");
    buf
}

/// A 256-bit random token, base64url without padding, with a readable prefix (`cs_sess_`, ...).
pub fn token(prefix: &str) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes::<32>()))
}

/// A short random identifier (`app_...`, `k_...`): 96 bits in lowercase hex.
pub fn id(prefix: &str) -> String {
    format!("{prefix}{}", hex::encode(bytes::<12>()))
}

/// SHA-256 of a bearer secret: what is stored in place of session ids and access tokens.
/// A fast hash suffices because the input has 256 bits of entropy.
pub fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}
