//! Admin passwords: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{ServiceError, ServiceResult};
use crate::random;

/// The shortest password accepted at signup.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn hasher() -> ServiceResult<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(ServiceError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string with a fresh random salt.
pub fn hash(password: &str) -> ServiceResult<String> {
    let salt = SaltString::encode_b64(&random::bytes::<16>()).map_err(ServiceError::internal)?;
    let phc = hasher()?.hash_password(password.as_bytes(), &salt).map_err(ServiceError::internal)?;
    Ok(phc.to_string())
}

/// Whether `password` matches the stored PHC string (constant time inside argon2).
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    hasher().map(|h| h.verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
}

/// Checks a new password against the policy.
pub fn validate_new(password: &str) -> ServiceResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServiceError::invalid(format!(
            "The password must have at least {MIN_PASSWORD_CHARS} characters."
        )));
    }
    if password.len() > 1024 {
        return Err(ServiceError::invalid("The password must have at most 1024 bytes."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash verifies its own password and no other, and uses argon2id with OWASP parameters.
    #[test]
    fn hash_and_verify() -> ServiceResult<()> {
        let phc = hash("correct horse battery")?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse battery!", &phc));
        assert!(!verify("x", "not a phc string"));
        Ok(())
    }
}
