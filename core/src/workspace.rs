//! A workspace's verification configuration, as loaded into memory by the server (PRODUCT.md,
//! "security" settings, attributes and keys). Not `Serialize`: it holds secrets.

use crate::attributes::AttributeDef;
use crate::keys::VerificationKey;
use crate::platform::{Mode, Modes};
use crate::profile::TokenProfile;

/// Default clock-skew allowance for `exp`/`nbf`/`iat`, in seconds.
pub const DEFAULT_LEEWAY_SECONDS: i64 = 60;

/// Longest app id a request may name.
pub const MAX_APP_ID_BYTES: usize = 64;

/// Whether `app_id` could name a workspace (1 to [`MAX_APP_ID_BYTES`] of `[A-Za-z0-9_-]`):
/// anything else is unknown without a look-up, so random bytes cost no database round trip
/// and no cache entry.
pub fn is_app_id_shaped(app_id: &str) -> bool {
    (1..=MAX_APP_ID_BYTES).contains(&app_id.len())
        && app_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Everything [`crate::verify()`] needs to know about one workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkspacePolicy {
    /// Public app id; also the default expected issuer.
    pub app_id: String,
    /// Enforcement mode per platform.
    pub modes: Modes,
    /// Whether legacy `user_hash` HMACs are accepted.
    pub hmac_enabled: bool,
    /// Clock-skew allowance in seconds for `exp`, `nbf`, `iat` (negative values count as 0).
    pub leeway_seconds: i64,
    /// Whether a JWT must carry `exp`.
    pub require_exp: bool,
    /// Longest allowed token lifetime (`exp - iat`, or `exp - now` without `iat`); `None` = no limit.
    pub max_token_lifetime_seconds: Option<i64>,
    /// Web origins allowed to identify; empty allows any origin.
    pub allowed_origins: Vec<String>,
    /// How tokens are read (user id claim, issuer rule).
    pub token_profile: TokenProfile,
    /// User id claims of the `custom` profile, in order (ignored by other profiles).
    pub user_id_claims: Vec<String>,
    /// Expected `iss`; `None` means the `app_id`.
    pub expected_issuer: Option<String>,
    /// Registered attributes.
    pub attributes: Vec<AttributeDef>,
    /// Every key of the workspace, whatever its state (revoked ones explain `revoked_key`).
    pub keys: Vec<VerificationKey>,
}

impl WorkspacePolicy {
    /// The contract's defaults for a new workspace: `enforce` everywhere, no legacy HMAC, 60 s
    /// leeway, `exp` optional, no lifetime limit, any origin, `countersign` profile, no
    /// attributes and no keys.
    pub fn new_default(app_id: impl Into<String>) -> WorkspacePolicy {
        WorkspacePolicy {
            app_id: app_id.into(),
            modes: Modes::all(Mode::Enforce),
            hmac_enabled: false,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            require_exp: false,
            max_token_lifetime_seconds: None,
            allowed_origins: Vec::new(),
            token_profile: TokenProfile::Countersign,
            user_id_claims: Vec::new(),
            expected_issuer: None,
            attributes: Vec::new(),
            keys: Vec::new(),
        }
    }

    /// The issuer `iss` must equal: `expected_issuer`, or the `app_id` when unset.
    pub fn effective_issuer(&self) -> &str {
        self.expected_issuer.as_deref().unwrap_or(&self.app_id)
    }

    /// The leeway actually applied: `leeway_seconds`, never below zero.
    pub fn effective_leeway(&self) -> i64 {
        self.leeway_seconds.max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// New workspaces get exactly the contract's defaults.
    #[test]
    fn contract_defaults() {
        let p = WorkspacePolicy::new_default("app_1");
        assert_eq!(p.modes, Modes::all(Mode::Enforce));
        assert!(!p.hmac_enabled && !p.require_exp);
        assert_eq!(p.leeway_seconds, 60);
        assert_eq!(p.max_token_lifetime_seconds, None);
        assert!(p.allowed_origins.is_empty());
        assert_eq!(p.token_profile, TokenProfile::Countersign);
        assert_eq!(p.effective_issuer(), "app_1");
    }

    /// App ids are short and plain; anything else is refused before a look-up.
    #[test]
    fn app_id_shape() {
        assert!(is_app_id_shaped("app_0123456789abcdef01234567") && is_app_id_shaped("app_test"));
        for bad in ["", "app\u{0}", "app id", "app/../x", "é", &"a".repeat(65)] {
            assert!(!is_app_id_shaped(bad), "{bad:?}");
        }
    }

    /// An explicit expected issuer overrides the app id; negative leeway counts as zero.
    #[test]
    fn issuer_and_leeway() {
        let mut p = WorkspacePolicy::new_default("app_1");
        p.expected_issuer = Some("https://backend.example".into());
        p.leeway_seconds = -5;
        assert_eq!(p.effective_issuer(), "https://backend.example");
        assert_eq!(p.effective_leeway(), 0);
    }
}
