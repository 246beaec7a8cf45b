//! Test fixtures shared by the unit tests: a clock value, keys, a policy, and a raw signer that
//! signs header/payload bytes exactly as given (so tests can build malformed-but-signed tokens).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::keys::{Alg, KeyState, VerificationKey};
use crate::platform::Platform;
use crate::request::IdentifyRequest;
use crate::verdict::Verdict;
use crate::verify::{verify, verify_traced, Context};
use crate::workspace::WorkspacePolicy;

/// The fixed "current time" of the tests (2023-11-14T22:13:20Z).
pub const NOW: i64 = 1_700_000_000;
/// Secret of the primary key `k_primary`.
pub const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";
/// Secret of other keys in the tests.
pub const OTHER: &[u8] = b"fedcba9876543210fedcba9876543210";

/// A default workspace `app_test` with one primary key `k_primary`.
pub fn policy() -> WorkspacePolicy {
    let mut p = WorkspacePolicy::new_default("app_test");
    p.keys = vec![VerificationKey::new("k_primary", SECRET.to_vec(), KeyState::Primary)];
    p
}

/// A JSON object literal as a claims map (empty if not an object).
pub fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Base64url (no padding) of raw bytes.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `header.payload` (raw JSON text, used byte for byte) with `alg` if it is an HMAC one
/// (HS256 otherwise, so unsupported algorithms still carry some signature).
pub fn raw_token(header: &str, payload: &str, secret: &[u8]) -> String {
    let alg = serde_json::from_str::<Value>(header)
        .ok()
        .and_then(|h| h.get("alg").and_then(Value::as_str).and_then(Alg::parse))
        .unwrap_or(Alg::Hs256);
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    format!("{input}.{}", b64(&alg.sign(secret, input.as_bytes())))
}

/// An HS256 token signed by `k_primary` with the given claims.
pub fn token(claims: Value) -> String {
    crate::sign::sign_jwt(SECRET, "k_primary", &obj(claims))
}

/// An `ios` identify request (no origin rules) carrying `jwt`.
pub fn jwt_request(jwt: &str) -> IdentifyRequest {
    IdentifyRequest {
        app_id: "app_test".into(),
        platform: Platform::Ios,
        user_jwt: Some(jwt.to_string()),
        user_id: None,
        user_hash: None,
        attributes: None,
    }
}

/// An `ios` identify request without credentials.
pub fn bare_request() -> IdentifyRequest {
    IdentifyRequest { user_jwt: None, ..jwt_request("") }
}

/// Verifies at [`NOW`] with no `Origin`, and checks that [`verify_traced`] reaches the same
/// verdict, so every test also guards the two against drifting apart.
pub fn run(req: &IdentifyRequest, policy: &WorkspacePolicy) -> Verdict {
    let ctx = Context { origin: None, now: NOW };
    let verdict = verify(req, policy, &ctx);
    assert_eq!(untraced(verify_traced(req, policy, &ctx)), verdict);
    verdict
}

/// [`verify_traced`] at [`NOW`] with no `Origin`.
pub fn run_traced(req: &IdentifyRequest, policy: &WorkspacePolicy) -> Verdict {
    let ctx = Context { origin: None, now: NOW };
    verify_traced(req, policy, &ctx)
}

/// A traced verdict without what only the debugger gets: what [`verify`] should return.
pub fn untraced(verdict: Verdict) -> Verdict {
    let explanation = if verdict.verified { String::new() } else { verdict.explanation };
    Verdict { checks: Vec::new(), header: None, payload: None, explanation, ..verdict }
}

/// Verifies a token under the default [`policy`] and returns the verdict.
pub fn run_token(jwt: &str) -> Verdict {
    run(&jwt_request(jwt), &policy())
}

/// A small deterministic generator (xorshift64*), so generated cases reproduce without a
/// dependency.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'p>(&mut self, items: &[&'p str]) -> &'p str {
        items.get(self.below(items.len())).copied().unwrap_or_default()
    }

    /// One of `items`, nine times in ten among the first `valid`.
    pub fn pick_mostly<'p>(&mut self, items: &[&'p str], valid: usize) -> &'p str {
        let items = if self.below(10) == 0 { items } else { items.get(..valid).unwrap_or(items) };
        self.pick(items)
    }
}
