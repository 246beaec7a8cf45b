//! Workspace secrets as the verifier sees them, and the HMAC primitives (RFC 7518 §3.2) built on
//! RustCrypto `hmac` + `sha2`. Comparisons go through `Mac::verify_slice`, which is constant time.

use std::sync::OnceLock;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Sha256, Sha384, Sha512};

use crate::claims::Quoted;

/// Raw HMAC key bytes. Deliberately not `Serialize` and with a redacting `Debug`, so a secret
/// cannot leak into a log line, an error message or a response by accident.
#[derive(Clone)]
pub struct KeySecret {
    /// The key itself.
    bytes: Vec<u8>,
    /// HMAC states already keyed with `bytes`, made on first use: a verification then hashes
    /// only the message, not the key's inner and outer pads again.
    keyed: KeyedMacs,
}

/// One lazily keyed HMAC state per algorithm.
#[derive(Clone, Default)]
struct KeyedMacs {
    hs256: OnceLock<Hmac<Sha256>>,
    hs384: OnceLock<Hmac<Sha384>>,
    hs512: OnceLock<Hmac<Sha512>>,
}

impl KeySecret {
    /// Wraps raw key bytes (a generated 256-bit key or an imported secret, used as is).
    pub fn new(bytes: impl Into<Vec<u8>>) -> KeySecret {
        KeySecret { bytes: bytes.into(), keyed: KeyedMacs::default() }
    }

    /// The raw bytes. Must only be used to compute or check a MAC, or to reveal the secret to a
    /// member allowed to see it.
    pub fn expose(&self) -> &[u8] {
        &self.bytes
    }

    /// Key length in bytes (safe to show).
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the key is empty (an empty key never belongs in a workspace).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

impl PartialEq for KeySecret {
    /// Compares the key bytes; the cached states follow from them.
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for KeySecret {}

impl std::fmt::Debug for KeySecret {
    /// Prints only the length, never the bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeySecret(<redacted, {} bytes>)", self.bytes.len())
    }
}

impl From<Vec<u8>> for KeySecret {
    /// Wraps raw key bytes.
    fn from(bytes: Vec<u8>) -> Self {
        KeySecret::new(bytes)
    }
}

/// Lifecycle state of a key (PRODUCT.md, "Concepts": secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum KeyState {
    /// Signs and verifies.
    Primary,
    /// Verifies while `now < expires_at` (unix seconds), then is retired like a revoked key.
    Rotating {
        /// End of the rotation grace period, unix seconds (exclusive).
        expires_at: i64,
    },
    /// Never verifies; only used to explain a failure (`revoked_key`).
    Revoked,
}

impl KeyState {
    /// The state's wire name (`primary`, `rotating`, `revoked`).
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyState::Primary => "primary",
            KeyState::Rotating { .. } => "rotating",
            KeyState::Revoked => "revoked",
        }
    }

    /// Whether a key in this state may verify a token at `now`: primary always, rotating only
    /// strictly before `expires_at`, revoked never.
    pub fn verifies_at(&self, now: i64) -> bool {
        match self {
            KeyState::Primary => true,
            KeyState::Rotating { expires_at } => now < *expires_at,
            KeyState::Revoked => false,
        }
    }
}

/// One workspace key as the verifier needs it: id, secret and state. Not `Serialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationKey {
    /// The key id carried in a JWT's `kid` header.
    pub kid: String,
    /// The HMAC secret.
    pub secret: KeySecret,
    /// Whether (and until when) the key verifies.
    pub state: KeyState,
}

impl VerificationKey {
    /// Builds a key from its parts.
    pub fn new(kid: impl Into<String>, secret: impl Into<Vec<u8>>, state: KeyState) -> Self {
        VerificationKey { kid: kid.into(), secret: KeySecret::new(secret), state }
    }

    /// Whether this key may verify at `now` (see [`KeyState::verifies_at`]).
    pub fn verifies_at(&self, now: i64) -> bool {
        self.state.verifies_at(now)
    }

    /// Why a key that no longer verifies is retired, as a clause for explanations
    /// ("was revoked" / "whose rotation grace period ended at ...").
    pub(crate) fn retired_clause(&self) -> String {
        match self.state {
            KeyState::Rotating { expires_at } => {
                format!("whose rotation grace period ended at {}", crate::time::format_unix(expires_at))
            }
            KeyState::Primary | KeyState::Revoked => "which was revoked".to_string(),
        }
    }
}

/// A short, safe-to-show fingerprint of a secret: `sha256:` and the start of its SHA-256.
pub fn fingerprint(secret: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(secret));
    format!("sha256:{}", digest.get(..12).unwrap_or_default())
}

/// The workspace's primary key (the one that signs), if any; the first one if several.
pub fn primary_key(keys: &[VerificationKey]) -> Option<&VerificationKey> {
    keys.iter().find(|k| k.state == KeyState::Primary)
}

/// Names the primary key for an explanation ("the primary key \"k1\"").
pub(crate) fn primary_clause(keys: &[VerificationKey]) -> String {
    match primary_key(keys) {
        Some(key) => format!("the primary key {}", Quoted(&key.kid)),
        None => "the primary key".to_string(),
    }
}

/// The JWS HMAC algorithms Countersign accepts (RFC 7518 §3.2). Nothing else exists here, so an
/// unsupported `alg` can never reach a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC using SHA-256.
    Hs256,
    /// HMAC using SHA-384.
    Hs384,
    /// HMAC using SHA-512.
    Hs512,
}

impl Alg {
    /// The exact `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Hs256 => "HS256",
            Alg::Hs384 => "HS384",
            Alg::Hs512 => "HS512",
        }
    }

    /// Matches an `alg` header value exactly (case-sensitive, RFC 7515 §4.1.1): `hs256` is not
    /// `HS256`.
    pub fn parse(alg: &str) -> Option<Alg> {
        [Alg::Hs256, Alg::Hs384, Alg::Hs512].into_iter().find(|a| a.as_str() == alg)
    }

    /// The MAC of `data` under `secret`.
    pub fn sign(self, secret: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Alg::Hs256 => mac_bytes::<Hmac<Sha256>>(secret, data),
            Alg::Hs384 => mac_bytes::<Hmac<Sha384>>(secret, data),
            Alg::Hs512 => mac_bytes::<Hmac<Sha512>>(secret, data),
        }
    }

    /// Whether `tag` is the MAC of `data` under `secret`, compared in constant time.
    pub fn verify(self, secret: &[u8], data: &[u8], tag: &[u8]) -> bool {
        match self {
            Alg::Hs256 => keyed::<Hmac<Sha256>>(secret).is_some_and(|m| mac_verify(m, data, tag)),
            Alg::Hs384 => keyed::<Hmac<Sha384>>(secret).is_some_and(|m| mac_verify(m, data, tag)),
            Alg::Hs512 => keyed::<Hmac<Sha512>>(secret).is_some_and(|m| mac_verify(m, data, tag)),
        }
    }

    /// [`Alg::verify`] under a workspace key, starting from its cached keyed state.
    pub fn verify_with(self, secret: &KeySecret, data: &[u8], tag: &[u8]) -> bool {
        let (bytes, macs) = (&secret.bytes, &secret.keyed);
        match self {
            Alg::Hs256 => cached(&macs.hs256, bytes).is_some_and(|m| mac_verify(m.clone(), data, tag)),
            Alg::Hs384 => cached(&macs.hs384, bytes).is_some_and(|m| mac_verify(m.clone(), data, tag)),
            Alg::Hs512 => cached(&macs.hs512, bytes).is_some_and(|m| mac_verify(m.clone(), data, tag)),
        }
    }
}

/// Computes a MAC. HMAC accepts keys of any length, so `new_from_slice` cannot fail; the empty
/// fallback only exists to avoid a panic path and never verifies anything.
fn mac_bytes<M: Mac + hmac::digest::KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
    match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

/// An HMAC state keyed with `secret`. HMAC accepts keys of any length, so this is never `None`
/// in practice; `None` only avoids a panic path and never verifies anything.
fn keyed<M: Mac + hmac::digest::KeyInit>(secret: &[u8]) -> Option<M> {
    <M as hmac::digest::KeyInit>::new_from_slice(secret).ok()
}

/// The keyed state in `cell`, keying it with `secret` on first use (see [`keyed`]).
fn cached<'c, M: Mac + hmac::digest::KeyInit>(cell: &'c OnceLock<M>, secret: &[u8]) -> Option<&'c M> {
    if let Some(mac) = cell.get() {
        return Some(mac);
    }
    let mac = keyed::<M>(secret)?;
    Some(cell.get_or_init(|| mac))
}

/// Checks a MAC in constant time (`verify_slice` uses `subtle`).
fn mac_verify<M: Mac>(mut mac: M, data: &[u8], tag: &[u8]) -> bool {
    mac.update(data);
    mac.verify_slice(tag).is_ok()
}

/// Shortest secret a workspace may import: 256 bits, the HS256 hash length (RFC 7518 §3.2).
pub const MIN_IMPORTED_SECRET_BYTES: usize = 32;
/// Longest secret a workspace may import.
pub const MAX_IMPORTED_SECRET_BYTES: usize = 1024;
/// Fewest distinct characters an imported secret must have: a repeated pattern
/// (`aaaa…`, `abab…`) is refused even when long enough. A random secret of 32 hex digits has
/// about 14 distinct characters.
pub const MIN_IMPORTED_SECRET_DISTINCT: usize = 8;

/// Why an imported secret is refused, as a sentence for the person pasting it (never quoting
/// it); `Ok` when it may be used as a raw HMAC key.
pub fn check_imported_secret(secret: &str) -> Result<(), &'static str> {
    if secret.len() < MIN_IMPORTED_SECRET_BYTES {
        return Err("This secret is too weak: it must have at least 32 bytes (256 bits). Generate a longer one, e.g. openssl rand -hex 32.");
    }
    if secret.len() > MAX_IMPORTED_SECRET_BYTES {
        return Err("This secret is too long: an imported secret has at most 1024 bytes.");
    }
    if secret.trim() != secret || secret.chars().any(char::is_control) {
        return Err("This secret starts or ends with a space, or holds a line break or control character: paste it exactly as your backend uses it.");
    }
    let mut distinct: Vec<char> = secret.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_IMPORTED_SECRET_DISTINCT {
        return Err(
            "This secret is too weak: it repeats a few characters. Use a random one, e.g. openssl rand -hex 32.",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A rotating key verifies strictly before `expires_at` and not at or after it.
    #[test]
    fn rotation_grace_boundary() {
        let state = KeyState::Rotating { expires_at: 1_000 };
        assert!(state.verifies_at(999));
        assert!(!state.verifies_at(1_000));
        assert!(!state.verifies_at(1_001));
        assert!(KeyState::Primary.verifies_at(i64::MAX));
        assert!(!KeyState::Revoked.verifies_at(0));
    }

    /// `Debug` of a key never prints the secret bytes.
    #[test]
    fn debug_redacts_secret() {
        let key = VerificationKey::new("k1", b"super-secret-value".to_vec(), KeyState::Primary);
        let printed = format!("{key:?}");
        assert!(!printed.contains("super"), "{printed}");
        assert!(printed.contains("redacted, 18 bytes"));
    }

    /// HS256 matches RFC 4231 test case 2 and verification rejects a flipped tag.
    #[test]
    fn hmac_known_answer() {
        let tag = Alg::Hs256.sign(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(Alg::Hs256.verify(b"Jefe", b"what do ya want for nothing?", &tag));
        let mut bad = tag.clone();
        if let Some(b) = bad.get_mut(0) {
            *b ^= 1;
        }
        assert!(!Alg::Hs256.verify(b"Jefe", b"what do ya want for nothing?", &bad));
        assert_eq!(Alg::Hs384.sign(b"k", b"d").len(), 48);
        assert_eq!(Alg::Hs512.sign(b"k", b"d").len(), 64);
    }

    /// `alg` is matched exactly: case variants and other families are not HMAC algorithms.
    #[test]
    fn alg_exact_match() {
        assert_eq!(Alg::parse("HS256"), Some(Alg::Hs256));
        assert_eq!(Alg::parse("HS512"), Some(Alg::Hs512));
        for bad in ["hs256", "Hs256", "HS256 ", "none", "RS256", "ES256", "HS1024", ""] {
            assert_eq!(Alg::parse(bad), None, "{bad}");
        }
    }

    /// Key states serialise with a `state` tag and `primary_key` finds the primary.
    #[test]
    fn state_serde_and_primary() {
        let json = serde_json::to_value(KeyState::Rotating { expires_at: 5 }).ok();
        assert_eq!(json, Some(serde_json::json!({"state": "rotating", "expires_at": 5})));
        let keys = vec![
            VerificationKey::new("old", b"a".to_vec(), KeyState::Revoked),
            VerificationKey::new("new", b"b".to_vec(), KeyState::Primary),
        ];
        assert_eq!(primary_key(&keys).map(|k| k.kid.as_str()), Some("new"));
    }

    /// Imported secrets: 32 to 1024 bytes, pasted exactly, not a repeated pattern.
    #[test]
    fn imported_secret_strength() {
        assert!(check_imported_secret("my-existing-intercom-secret-0123456789abcdef").is_ok());
        assert!(check_imported_secret("0123456789abcdef0123456789abcdef").is_ok(), "32 hex digits");
        for weak in ["too-short", "", &"a".repeat(64), &"ab".repeat(32), &"x".repeat(1025)] {
            assert!(check_imported_secret(weak).is_err(), "{weak:?}");
        }
        for pasted in [
            " 0123456789abcdef0123456789abcdef",
            "0123456789abcdef0123456789abcdef\n",
            "0123456789abcdef\t0123456789abcdef",
        ] {
            assert!(check_imported_secret(pasted).err().is_some_and(|e| e.contains("exactly")), "{pasted:?}");
        }
        let secret = "short-secret";
        assert!(check_imported_secret(secret).err().is_some_and(|e| !e.contains(secret)), "never quoted");
    }
}
