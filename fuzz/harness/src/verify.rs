//! Target `verify`: the identify decision on an arbitrary request against one of many policies.
//!
//! Input layout: byte 0 picks the policy's settings, byte 1 the credential and the platform,
//! byte 2 the modes; the rest is the request (see [`Credential`]). The harness signs tokens
//! itself, with a key the input picks (active, expired, revoked or foreign), so the fuzzer
//! reaches the claim rules and attributes without forging a MAC.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use countersign_core::verdict::Verdict;
use countersign_core::{
    parse_identify_request, verify_traced, AttributeDef, AttributeType, Context, IdentifyRequest, KeyState, Mode,
    Modes, Outcome, Platform, TokenProfile, VerificationKey, WorkspacePolicy,
};
use serde_json::{Map, Value};

use crate::alloc::within_budget;
use crate::jwt::independent_mac;

/// The fixed "current time" (2023-11-14T22:13:20Z).
const NOW: i64 = 1_700_000_000;
/// The allowed origin of policies that list one.
const ORIGIN: &str = "https://app.example";

/// The keys a token or hash may be signed with: the policy holds the first four.
const KEYS: [(&str, &[u8], Option<KeyState>); 5] = [
    ("k_primary", b"0123456789abcdef0123456789abcdef", Some(KeyState::Primary)),
    ("k_rotating", b"fedcba9876543210fedcba9876543210", Some(KeyState::Rotating { expires_at: NOW + 3600 })),
    ("k_expired", b"expired-expired-expired-expired!", Some(KeyState::Rotating { expires_at: NOW - 1 })),
    ("k_revoked", b"revoked-revoked-revoked-revoked!", Some(KeyState::Revoked)),
    ("k_foreign", b"not-a-key-of-this-workspace-at-all", None),
];

/// How the request's credential is made (byte 1, low two bits).
enum Credential {
    /// The rest is an identify body, parsed as the handler does.
    Body,
    /// The rest is `header\npayload[\nattributes]`: signed here as a JWT, attributes unsigned.
    Token,
    /// The rest is a user id, sent with its legacy `user_hash`.
    Hash,
    /// The rest is `user_id\nuser_hash`, sent as is.
    RawHash,
}

/// Runs `countersign_core::verify` (and the debugger's `verify_traced`) and checks:
/// - both reach the same verdict; `verified`, the outcome, the reason and the mode agree;
/// - a verified JWT names a key of the policy that verifies now and whose MAC (computed here)
///   is the token's signature; a token signed by an expired, revoked or foreign key never
///   verifies; a verified hash is the HMAC of the user id under an active key, with legacy HMAC
///   enabled; a verified web request came from an allowed origin;
/// - a rejected request keeps no attributes; an accepted attribute is registered, has its type,
///   and is secure-only only when a verified token carried it;
/// - the verdict never quotes a token the harness signed.
pub fn verify(data: &[u8]) {
    within_budget("verify", data, || check(data));
}

fn check(data: &[u8]) {
    let [settings, credential, modes, rest @ ..] = data else {
        return;
    };
    let policy = policy(*settings, *modes);
    let key = usize::from(credential >> 2 & 7) % KEYS.len();
    let platform = [Platform::Web, Platform::Ios, Platform::Android, Platform::Web][usize::from(credential >> 5 & 3)];
    let origin = (credential & 0x80 == 0).then_some(ORIGIN).or(Some("https://evil.example"));
    let origin = if credential & 0x1c == 0x1c { None } else { origin };
    let credential = match credential & 3 {
        0 => Credential::Body,
        1 => Credential::Token,
        2 => Credential::Hash,
        _ => Credential::RawHash,
    };
    let Some(req) = request(&credential, rest, platform, key) else {
        return;
    };
    let ctx = Context { origin, now: NOW };
    let verdict = countersign_core::verify(&req, &policy, &ctx);
    let traced = verify_traced(&req, &policy, &ctx);
    // Only the debugger gets the checks, the decoded segments and a verified attempt's sentence.
    let explanation = if traced.verified { String::new() } else { traced.explanation.clone() };
    assert_eq!(
        Verdict { checks: Vec::new(), header: None, payload: None, explanation, ..traced.clone() },
        verdict,
        "verify and verify_traced disagree"
    );
    assert!(verdict.header.is_none() && verdict.payload.is_none() && verdict.checks.is_empty());
    check_verdict(&verdict, &req, &policy, origin);
    assert!(!traced.explanation.is_empty());
    if matches!(credential, Credential::Token | Credential::Hash) {
        check_not_quoted(&traced, &req);
    }
    if matches!(credential, Credential::Token) && KEYS[key].2.is_none_or(|s| !s.verifies_at(NOW)) {
        assert!(!verdict.verified, "a token signed by {} verified", KEYS[key].0);
    }
}

/// One of many policies: profile, legacy HMAC, `exp` rules, origins and issuer from
/// `settings`, the platforms' modes from `modes`; always the same keys and attributes.
fn policy(settings: u8, modes: u8) -> WorkspacePolicy {
    let mut policy = WorkspacePolicy::new_default("app_fuzz");
    policy.token_profile = TokenProfile::ALL[usize::from(settings & 7) % TokenProfile::ALL.len()];
    policy.user_id_claims = vec!["uid".into(), "email".into()];
    policy.hmac_enabled = settings & 0x08 != 0;
    policy.require_exp = settings & 0x10 != 0;
    policy.max_token_lifetime_seconds = (settings & 0x20 != 0).then_some(3600);
    if settings & 0x40 != 0 {
        policy.allowed_origins = vec![ORIGIN.into()];
    }
    if settings & 0x80 != 0 {
        policy.expected_issuer = Some("https://issuer.example".into());
    }
    let mut all = Modes::all(Mode::Enforce);
    let mut m = modes;
    for platform in Platform::ALL {
        all.set(platform, Mode::ALL[usize::from(m % 3)]);
        m /= 3;
    }
    policy.modes = all;
    policy.attributes = [
        ("plan", AttributeType::String, false),
        ("age", AttributeType::Number, false),
        ("admin", AttributeType::Boolean, true),
        ("since", AttributeType::Datetime, false),
        ("email", AttributeType::String, true),
    ]
    .into_iter()
    .map(|(name, kind, secure_only)| AttributeDef { name: name.into(), kind, secure_only })
    .collect();
    policy.keys =
        KEYS.iter().filter_map(|(kid, secret, state)| state.map(|s| VerificationKey::new(*kid, *secret, s))).collect();
    policy
}

/// The identify request `rest` describes under `credential`; `None` when it describes none.
fn request(credential: &Credential, rest: &[u8], platform: Platform, key: usize) -> Option<IdentifyRequest> {
    let bare = IdentifyRequest {
        app_id: "app_fuzz".into(),
        platform,
        user_jwt: None,
        user_id: None,
        user_hash: None,
        attributes: None,
    };
    let secret = KEYS[key].1;
    match credential {
        Credential::Body => {
            let body = serde_json::from_slice::<Value>(rest).ok()?;
            parse_identify_request(&body).ok()
        }
        Credential::Token => {
            let text = std::str::from_utf8(rest).ok()?;
            let mut parts = text.splitn(3, '\n');
            let header = parts.next().unwrap_or_default();
            let payload = parts.next().unwrap_or_default();
            let attributes = parts.next().and_then(|a| serde_json::from_str::<Map<String, Value>>(a).ok());
            Some(IdentifyRequest { user_jwt: Some(sign(header, payload, secret)), attributes, ..bare })
        }
        Credential::Hash => {
            let user_id = std::str::from_utf8(rest).ok()?;
            let tag = independent_mac(countersign_core::Alg::Hs256, secret, user_id.as_bytes());
            Some(IdentifyRequest {
                user_id: Some(Value::String(user_id.into())),
                user_hash: Some(hex::encode(tag)),
                ..bare
            })
        }
        Credential::RawHash => {
            let text = std::str::from_utf8(rest).ok()?;
            let (user_id, hash) = text.split_once('\n')?;
            Some(IdentifyRequest { user_id: Some(Value::String(user_id.into())), user_hash: Some(hash.into()), ..bare })
        }
    }
}

/// `header.payload.signature` over the texts exactly as given, with the header's `alg` when it
/// is an HMAC one (HS256 otherwise, so refused algorithms still carry a signature).
fn sign(header: &str, payload: &str, secret: &[u8]) -> String {
    let input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header), URL_SAFE_NO_PAD.encode(payload));
    let signature = independent_mac(header_alg(&input), secret, input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The HMAC algorithm a token's header names, HS256 when it names none.
fn header_alg(signing_input: &str) -> countersign_core::Alg {
    let (header, _) = signing_input.split_once('.').unwrap_or_default();
    URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).and_then(countersign_core::Alg::parse))
        .unwrap_or(countersign_core::Alg::Hs256)
}

fn check_verdict(v: &Verdict, req: &IdentifyRequest, policy: &WorkspacePolicy, origin: Option<&str>) {
    let mode = policy.modes.get(req.platform);
    assert_eq!(v.mode, mode);
    assert_eq!(v.verified, v.reason.is_none());
    // A failure always says why; a verified attempt's sentence is rendered where it is shown.
    assert_eq!(v.explanation.is_empty(), v.verified);
    let expected = match (v.verified, mode) {
        (true, _) => Outcome::Verified,
        (false, Mode::Off) => Outcome::Unverified,
        (false, Mode::Monitor) => Outcome::WouldReject,
        (false, Mode::Enforce) => Outcome::Rejected,
    };
    assert_eq!(v.outcome, expected);
    if let Some(user_id) = &v.user_id {
        assert!(countersign_core::validate_user_id(Some(&Value::String(user_id.clone()))).is_ok());
    }
    if v.verified {
        check_verified(v, req, policy, origin);
    }
    if v.outcome == Outcome::Rejected {
        assert!(v.attributes.is_empty() && v.rejected_attributes.is_empty());
        assert!(v.ignored_attributes.is_empty());
    }
    let signed = v.verified && req.user_jwt.is_some();
    for (name, value) in &v.attributes {
        let def = policy.attributes.iter().find(|d| &d.name == name);
        assert!(def.is_some(), "unregistered attribute {name:?} accepted");
        if let Some(def) = def {
            assert!(def.kind.accepts(value), "{name:?} accepted with the wrong type");
            assert!(!def.secure_only || signed, "secure-only {name:?} accepted unsigned");
        }
    }
}

/// What must hold of a verified request: an allowed origin, and a credential that a key of the
/// policy, active now, made.
fn check_verified(v: &Verdict, req: &IdentifyRequest, policy: &WorkspacePolicy, origin: Option<&str>) {
    assert!(v.user_id.is_some());
    if req.platform == Platform::Web && !policy.allowed_origins.is_empty() {
        assert!(origin.is_some_and(|o| policy.allowed_origins.iter().any(|a| a == o)));
    }
    let key = v.kid.as_deref().and_then(|kid| policy.keys.iter().find(|k| k.kid == kid));
    assert!(key.is_some_and(|k| k.verifies_at(NOW)), "verified without an active key: {:?}", v.kid);
    let Some(key) = key else { return };
    let secret = key.secret.expose();
    if let Some(jwt) = &req.user_jwt {
        let alg = v.alg.as_deref().and_then(countersign_core::Alg::parse);
        assert!(alg.is_some(), "a verified token without an HMAC alg: {:?}", v.alg);
        let (input, signature) = jwt.rsplit_once('.').unwrap_or_default();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap_or_default();
        if let Some(alg) = alg {
            assert_eq!(independent_mac(alg, secret, input.as_bytes()), signature, "forged token verified");
        }
    } else {
        assert!(policy.hmac_enabled, "a hash verified with legacy HMAC disabled");
        let user_id = req.user_id.as_ref().and_then(Value::as_str).unwrap_or_default();
        assert_eq!(v.user_id.as_deref(), Some(user_id));
        let tag = independent_mac(countersign_core::Alg::Hs256, secret, user_id.as_bytes());
        let hash = req.user_hash.as_deref().unwrap_or_default();
        assert!(hash.eq_ignore_ascii_case(&hex::encode(tag)), "forged hash verified");
    }
}

/// The verdict (with every check of the trace) quotes neither the token nor its signature, nor
/// the legacy hash.
fn check_not_quoted(traced: &Verdict, req: &IdentifyRequest) {
    let mut secrets: Vec<&str> = Vec::new();
    if let Some(jwt) = &req.user_jwt {
        secrets.push(jwt);
        secrets.extend(jwt.rsplit_once('.').map(|(_, s)| s));
    }
    secrets.extend(req.user_hash.as_deref());
    let text = serde_json::to_string(&traced.response_body(Value::Null)).unwrap_or_default()
        + &serde_json::to_string(&traced.checks).unwrap_or_default()
        + &traced.notes.join("\n")
        + &traced.explanation;
    for secret in secrets.into_iter().filter(|s| s.len() >= 32) {
        assert!(!text.contains(secret), "the verdict quotes a credential");
    }
}
