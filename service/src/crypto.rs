//! Secrets at rest: XChaCha20-Poly1305 under the master key, bound to (workspace, kid).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use crate::random;

/// Format byte of a sealed secret: version 1 = XChaCha20-Poly1305, 24-byte nonce.
const SEALED_V1: u8 = 1;
const NONCE_LEN: usize = 24;

/// A 256-bit master key. Its `Debug` never prints the key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// Wraps 32 key bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(redacted)")
    }
}

/// The master key that seals, and optionally the previous one, still accepted for opening
/// while `rekey` moves every secret to the current key (so instances run through a change).
#[derive(Clone, Debug)]
pub struct Keyring {
    pub current: MasterKey,
    pub previous: Option<MasterKey>,
}

/// Associated data: binds a ciphertext to its workspace and kid.
fn associated_data(workspace_id: Uuid, kid: &str) -> Vec<u8> {
    let mut ad = b"countersign/workspace-key/v1\0".to_vec();
    ad.extend_from_slice(workspace_id.as_bytes());
    ad.extend_from_slice(kid.as_bytes());
    ad
}

impl Keyring {
    /// A keyring with one key.
    pub fn single(key: MasterKey) -> Self {
        Keyring { current: key, previous: None }
    }

    /// Seals `secret` for (workspace, kid) under the current key: version ‖ nonce ‖ ciphertext.
    pub fn seal(&self, workspace_id: Uuid, kid: &str, secret: &[u8]) -> ServiceResult<Vec<u8>> {
        let nonce = random::bytes::<NONCE_LEN>();
        let cipher = XChaCha20Poly1305::new((&self.current.0).into());
        let aad = associated_data(workspace_id, kid);
        let ciphertext = cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: secret, aad: &aad })
            .map_err(|_| ServiceError::internal("sealing a secret failed"))?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(SEALED_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens a sealed secret of (workspace, kid) with the current key, else the previous one.
    /// Fails if the ciphertext was moved to another workspace or kid, or was tampered with.
    pub fn open(&self, workspace_id: Uuid, kid: &str, sealed: &[u8]) -> ServiceResult<Vec<u8>> {
        let (version, rest) = sealed.split_first().ok_or_else(|| ServiceError::internal("empty sealed secret"))?;
        if *version != SEALED_V1 || rest.len() < NONCE_LEN {
            return Err(ServiceError::internal("unknown sealed secret format"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let aad = associated_data(workspace_id, kid);
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find_map(|key| {
                XChaCha20Poly1305::new((&key.0).into())
                    .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &aad })
                    .ok()
            })
            .ok_or_else(|| {
                ServiceError::internal(format!(
                    "cannot decrypt the secret of key {kid}: wrong master key or moved ciphertext"
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(byte: u8) -> Keyring {
        Keyring::single(MasterKey::new([byte; 32]))
    }

    /// A sealed secret opens for its own workspace and kid only, and not under another key.
    #[test]
    fn sealing_is_bound_to_workspace_and_kid() -> ServiceResult<()> {
        let (ws, other) = (Uuid::new_v4(), Uuid::new_v4());
        let sealed = ring(1).seal(ws, "k_a", b"top secret")?;
        assert_eq!(ring(1).open(ws, "k_a", &sealed)?, b"top secret");
        assert!(ring(1).open(other, "k_a", &sealed).is_err());
        assert!(ring(1).open(ws, "k_b", &sealed).is_err());
        assert!(ring(2).open(ws, "k_a", &sealed).is_err());
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        assert!(ring(1).open(ws, "k_a", &tampered).is_err());
        Ok(())
    }

    /// During a master-key change, secrets sealed under the previous key still open.
    #[test]
    fn previous_key_still_opens() -> ServiceResult<()> {
        let ws = Uuid::new_v4();
        let sealed = ring(1).seal(ws, "k", b"s")?;
        let both = Keyring { current: MasterKey::new([2; 32]), previous: Some(MasterKey::new([1; 32])) };
        assert_eq!(both.open(ws, "k", &sealed)?, b"s");
        Ok(())
    }
}
