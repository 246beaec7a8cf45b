//! Token profiles (PRODUCT.md, "Token profiles"): how to read a token signed the way another
//! vendor's guide says, so a customer's backend needs no change.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// The claims RFC 7519 §4.1 registers; never treated as attributes.
pub const REGISTERED_CLAIMS: [&str; 7] = ["exp", "nbf", "iat", "iss", "sub", "aud", "jti"];

/// Most names `custom` may list in `user_id_claims`.
pub const MAX_CUSTOM_USER_ID_CLAIMS: usize = 4;

/// How the core reads a token: where the user id is, whether `iss` is checked, extra rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenProfile {
    /// Default: user id from `user_id`, else `sub`; `iss`, if present, must match.
    Countersign,
    /// Intercom Messenger JWTs: user id from `user_id`; `iss` not checked.
    Intercom,
    /// TalkJS: user id from `sub`; `iss` required and must match; `tokenType`, if present, `user`.
    Talkjs,
    /// Featurebase: user id from `userId`, else `email`; `iss` not checked.
    Featurebase,
    /// Fogbender: user id from `userId`; `iss` not checked.
    Fogbender,
    /// The workspace's own `user_id_claims` (1-4 names, in order); `iss`, if present, must match.
    Custom,
}

/// What a profile demands of the `iss` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssuerRule {
    /// `iss` is ignored.
    NotChecked,
    /// If `iss` is present it must equal the expected issuer.
    IfPresent,
    /// `iss` must be present and equal the expected issuer.
    Required,
}

impl TokenProfile {
    /// Every profile, default first.
    pub const ALL: [TokenProfile; 6] = [
        TokenProfile::Countersign,
        TokenProfile::Intercom,
        TokenProfile::Talkjs,
        TokenProfile::Featurebase,
        TokenProfile::Fogbender,
        TokenProfile::Custom,
    ];

    /// The wire name (`countersign`, `intercom`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenProfile::Countersign => "countersign",
            TokenProfile::Intercom => "intercom",
            TokenProfile::Talkjs => "talkjs",
            TokenProfile::Featurebase => "featurebase",
            TokenProfile::Fogbender => "fogbender",
            TokenProfile::Custom => "custom",
        }
    }

    /// Parses a wire name exactly; `None` for anything else.
    pub fn parse(name: &str) -> Option<TokenProfile> {
        TokenProfile::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The claims holding the user id, in order of preference. For `custom`, the workspace's
    /// `user_id_claims`; an empty list falls back to the default (`user_id`, `sub`).
    pub fn user_id_claims(self, custom: &[String]) -> Vec<&str> {
        self.user_id_claim_names(custom).into_owned()
    }

    /// [`Self::user_id_claims`], copied only for the workspace's own list.
    pub(crate) fn user_id_claim_names(self, custom: &[String]) -> Cow<'_, [&str]> {
        match self.user_id_claim_lists(custom) {
            (fixed, []) => Cow::Borrowed(fixed),
            (_, custom) => Cow::Owned(custom.iter().map(String::as_str).collect()),
        }
    }

    /// [`Self::user_id_claims`] as the profile's fixed names and the workspace's own (one of the
    /// two is empty), so a lookup needs no list.
    fn user_id_claim_lists(self, custom: &[String]) -> (&'static [&'static str], &[String]) {
        match self {
            TokenProfile::Countersign => (&["user_id", "sub"], &[]),
            TokenProfile::Intercom => (&["user_id"], &[]),
            TokenProfile::Talkjs => (&["sub"], &[]),
            TokenProfile::Featurebase => (&["userId", "email"], &[]),
            TokenProfile::Fogbender => (&["userId"], &[]),
            TokenProfile::Custom if custom.is_empty() => (&["user_id", "sub"], &[]),
            TokenProfile::Custom => (&[], custom),
        }
    }

    /// The claim a token signed *for* this profile carries the user id in (the first one).
    pub fn primary_user_id_claim(self, custom: &[String]) -> &str {
        self.user_id_claims(custom).first().copied().unwrap_or("user_id")
    }

    /// Claims that are never attributes: [`REGISTERED_CLAIMS`], the profile's user-id claims and
    /// TalkJS's `tokenType`. Exception: Featurebase's `email` is its fallback user id *and* one
    /// of its signed attributes (the profile table says both), so it stays an attribute.
    pub fn reserved_claims(self, custom: &[String]) -> Vec<&str> {
        let mut names: Vec<&str> = REGISTERED_CLAIMS.to_vec();
        for claim in self.user_id_claims(custom) {
            let featurebase_email = self == TokenProfile::Featurebase && claim == "email";
            if !featurebase_email && !names.contains(&claim) {
                names.push(claim);
            }
        }
        if self == TokenProfile::Talkjs {
            names.push("tokenType");
        }
        names
    }

    /// Whether `claim` is one of [`Self::reserved_claims`], without building the list.
    pub fn reserves(self, claim: &str, custom: &[String]) -> bool {
        let featurebase_email = self == TokenProfile::Featurebase && claim == "email";
        REGISTERED_CLAIMS.contains(&claim)
            || (self == TokenProfile::Talkjs && claim == "tokenType")
            || (!featurebase_email && {
                let (fixed, custom) = self.user_id_claim_lists(custom);
                fixed.contains(&claim) || custom.iter().any(|c| c == claim)
            })
    }

    /// What this profile demands of `iss`.
    pub fn issuer_rule(self) -> IssuerRule {
        match self {
            TokenProfile::Countersign | TokenProfile::Custom => IssuerRule::IfPresent,
            TokenProfile::Talkjs => IssuerRule::Required,
            TokenProfile::Intercom | TokenProfile::Featurebase | TokenProfile::Fogbender => IssuerRule::NotChecked,
        }
    }

    /// Whether `tokenType`, if present, must be `user` (TalkJS only).
    pub fn checks_token_type(self) -> bool {
        self == TokenProfile::Talkjs
    }
}

/// Validates a `custom` profile's `user_id_claims` for the settings API: 1-4 distinct, non-empty
/// names. Returns a human message on failure.
pub fn validate_user_id_claims(claims: &[String]) -> Result<(), String> {
    if claims.is_empty() || claims.len() > MAX_CUSTOM_USER_ID_CLAIMS {
        return Err(format!("user_id_claims must list 1 to {MAX_CUSTOM_USER_ID_CLAIMS} claim names, in order."));
    }
    for (i, claim) in claims.iter().enumerate() {
        if claim.is_empty() || claim.chars().any(char::is_control) {
            return Err("user_id_claims entries must be non-empty claim names.".to_string());
        }
        if claims.iter().take(i).any(|c| c == claim) {
            return Err(format!("user_id_claims lists \"{claim}\" twice."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each profile reads the user id from the claims of the contract's table, in order.
    #[test]
    fn user_id_claims_per_profile() {
        let none: [String; 0] = [];
        let custom = vec!["uid".to_string(), "mail".to_string()];
        assert_eq!(TokenProfile::Countersign.user_id_claims(&none), ["user_id", "sub"]);
        assert_eq!(TokenProfile::Intercom.user_id_claims(&none), ["user_id"]);
        assert_eq!(TokenProfile::Talkjs.user_id_claims(&none), ["sub"]);
        assert_eq!(TokenProfile::Featurebase.user_id_claims(&none), ["userId", "email"]);
        assert_eq!(TokenProfile::Fogbender.user_id_claims(&none), ["userId"]);
        assert_eq!(TokenProfile::Custom.user_id_claims(&custom), ["uid", "mail"]);
        assert_eq!(TokenProfile::Custom.user_id_claims(&none), ["user_id", "sub"]);
        assert_eq!(TokenProfile::Fogbender.primary_user_id_claim(&none), "userId");
    }

    /// Reserved claims: the RFC set plus the profile's own; Featurebase's email stays an attribute.
    #[test]
    fn reserved_claims_per_profile() {
        let none: [String; 0] = [];
        let talkjs = TokenProfile::Talkjs.reserved_claims(&none);
        assert!(talkjs.contains(&"tokenType") && talkjs.contains(&"sub"));
        let fb = TokenProfile::Featurebase.reserved_claims(&none);
        assert!(fb.contains(&"userId") && !fb.contains(&"email"));
        let intercom = TokenProfile::Intercom.reserved_claims(&none);
        assert!(intercom.contains(&"user_id") && !intercom.contains(&"email"));
        assert!(!TokenProfile::Fogbender.reserved_claims(&none).contains(&"customerId"));
    }

    /// `reserves` answers exactly what `reserved_claims` lists, for every profile.
    #[test]
    fn reserves_matches_reserved_claims() {
        let custom = ["uid".to_string(), "email".to_string()];
        let names = ["exp", "sub", "user_id", "userId", "email", "tokenType", "uid", "plan"];
        for profile in TokenProfile::ALL {
            for claims in [&custom[..], &[]] {
                let listed = profile.reserved_claims(claims);
                for name in names {
                    assert_eq!(profile.reserves(name, claims), listed.contains(&name), "{profile:?} {name}");
                }
            }
        }
    }

    /// Issuer rules and names follow the table; names round-trip through serde.
    #[test]
    fn issuer_rules_and_names() {
        assert_eq!(TokenProfile::Countersign.issuer_rule(), IssuerRule::IfPresent);
        assert_eq!(TokenProfile::Custom.issuer_rule(), IssuerRule::IfPresent);
        assert_eq!(TokenProfile::Talkjs.issuer_rule(), IssuerRule::Required);
        assert_eq!(TokenProfile::Intercom.issuer_rule(), IssuerRule::NotChecked);
        for p in TokenProfile::ALL {
            assert_eq!(TokenProfile::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).ok(), Some(p.as_str().into()));
        }
    }

    /// Custom claim lists must hold 1-4 distinct non-empty names.
    #[test]
    fn validates_custom_claims() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(validate_user_id_claims(&s(&["uid"])).is_ok());
        assert!(validate_user_id_claims(&s(&[])).is_err());
        assert!(validate_user_id_claims(&s(&["a", "b", "c", "d", "e"])).is_err());
        assert!(validate_user_id_claims(&s(&["a", "a"])).is_err());
        assert!(validate_user_id_claims(&s(&[""])).is_err());
    }
}
