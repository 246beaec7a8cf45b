//! Admin passwords: argon2id with OWASP's parameters (m = 19 MiB, t = 2, p = 1).
//!
//! A hash takes tens of milliseconds of CPU and 19 MiB: run on the async workers, a burst of
//! logins would stall every request sharing them (identify included). [`Hasher`] runs each
//! one on Tokio's blocking pool, at most one per CPU at a time.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::error::{ServiceError, ServiceResult};
use crate::random;

/// The shortest password accepted at signup.
pub const MIN_PASSWORD_CHARS: usize = 10;

fn argon2() -> ServiceResult<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(ServiceError::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

fn hash_now(password: &str) -> ServiceResult<String> {
    let salt = SaltString::encode_b64(&random::bytes::<16>()).map_err(ServiceError::internal)?;
    let phc = argon2()?.hash_password(password.as_bytes(), &salt).map_err(ServiceError::internal)?;
    Ok(phc.to_string())
}

fn verify_now(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    argon2().map(|h| h.verify_password(password.as_bytes(), &parsed).is_ok()).unwrap_or(false)
}

/// Hashes and verifies passwords on the blocking pool, with bounded concurrency so that a
/// flood of logins queues here instead of exhausting memory or the blocking threads.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// A hasher running at most `concurrency` (at least 1) hashes at once.
    pub fn new(concurrency: usize) -> Self {
        Hasher { permits: Arc::new(Semaphore::new(concurrency.max(1))) }
    }

    /// A hasher running one hash per available CPU.
    pub fn per_cpu() -> Self {
        Self::new(std::thread::available_parallelism().map(usize::from).unwrap_or(1))
    }

    /// Runs `work` on the blocking pool once a permit is free.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
        let _permit = self.permits.acquire().await.map_err(ServiceError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(ServiceError::internal)
    }

    /// Hashes a password into a PHC string with a fresh random salt.
    pub async fn hash(&self, password: &str) -> ServiceResult<String> {
        let password = password.to_owned();
        self.run(move || hash_now(&password)).await?
    }

    /// Whether `password` matches the stored PHC string (constant time inside argon2).
    pub async fn verify(&self, password: &str, phc: &str) -> ServiceResult<bool> {
        let (password, phc) = (password.to_owned(), phc.to_owned());
        self.run(move || verify_now(&password, &phc)).await
    }
}

/// Checks a new password against the policy.
pub fn validate_new(password: &str) -> ServiceResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ServiceError::invalid(format!("The password must have at least {MIN_PASSWORD_CHARS} characters.")));
    }
    if password.len() > 1024 {
        return Err(ServiceError::invalid("The password must have at most 1024 bytes."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// A hash verifies its own password and no other, and uses argon2id with OWASP parameters.
    #[tokio::test]
    async fn hash_and_verify() -> ServiceResult<()> {
        let hasher = Hasher::new(2);
        let phc = hasher.hash("correct horse battery").await?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse battery", &phc).await?);
        assert!(!hasher.verify("correct horse battery!", &phc).await?);
        assert!(!hasher.verify("x", "not a phc string").await?);
        Ok(())
    }

    /// Hashing leaves the async worker free: on a single-threaded runtime, a ticking task
    /// keeps ticking while hashes run (inline argon2 would starve it until they finish).
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_does_not_block_the_runtime() -> ServiceResult<()> {
        let hasher = Hasher::new(1);
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = ticks.clone();
        let ticker = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(1)).await;
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        tokio::task::yield_now().await;
        let before = ticks.load(Ordering::Relaxed);
        let phc = hasher.hash("correct horse battery").await?;
        for _ in 0..3 {
            hasher.verify("wrong horse battery", &phc).await?;
        }
        let during = ticks.load(Ordering::Relaxed) - before;
        ticker.abort();
        assert!(during >= 4, "the runtime ticked only {during} times during four hashes");
        Ok(())
    }

    /// At most `concurrency` hashes run at once; the others wait for a permit.
    #[tokio::test]
    async fn concurrency_is_bounded() -> ServiceResult<()> {
        let hasher = Hasher::new(1);
        let held = hasher.permits.clone().acquire_owned().await.map_err(ServiceError::internal)?;
        let pending = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.hash("correct horse battery").await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!pending.is_finished(), "a hash ran without a permit");
        drop(held);
        assert!(pending.await.map_err(ServiceError::internal)?.is_ok());
        Ok(())
    }
}
