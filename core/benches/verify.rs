//! In-process verification cost, without HTTP or the database: `cargo bench -p countersign-core`.
//!
//! No benchmark framework (no new dependencies): each case is calibrated to run for about
//! `SAMPLE_MS`, then timed `SAMPLES` times with `std::time::Instant`; inputs and outputs go
//! through `std::hint::black_box`. The figure reported is the median sample, in ns per token
//! (min and max beside it). The goal: verifying the valid token costs at most twice the
//! HMAC-SHA256 check alone, and less than `jsonwebtoken::decode` of the same token (the two
//! reference rows below).
//!
//! Cases, each on a workspace with one primary HS256 key and two registered attributes:
//! - `valid`: an HS256 token with `kid`, `user_id`, `iat`, `exp` and 2 attributes (`email`,
//!   `name`), verified and both attributes accepted.
//! - `bad_sig`: the same claims signed with another secret (`invalid_signature`).
//! - `malformed`: a token whose header segment is not base64url (`malformed_token`).
//!
//! Each case is measured twice: `verify` on an already parsed request (the pure decision), and
//! `parse+verify` from the raw body bytes (`serde_json::from_slice` + `parse_identify_request` +
//! `verify`), which is what identify does per request before writing the log row.
//!
//! For scale, reference rows on the valid token: the HMAC-SHA256 check alone (the
//! cryptographic floor, the goal's yardstick), the same check from a key's cached keyed state
//! (the part of `verify` that is the MAC), and the `jsonwebtoken` crate's `decode` (a
//! dev-dependency) with the same algorithm and leeway, as a hand-written Rust verifier would
//! call it.

use std::hint::black_box;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use countersign_core::{
    parse_identify_request, sign_jwt, verify, Alg, AttributeDef, AttributeType, Context, KeyState, VerificationKey,
    WorkspacePolicy,
};
use serde_json::{json, Map, Value};

/// The fixed "current time" (2023-11-14T22:13:20Z).
const NOW: i64 = 1_700_000_000;
const APP_ID: &str = "app_bench";
const KID: &str = "k_bench";
/// Benchmark-only secrets (not workspace secrets of any deployment).
const SECRET: &[u8] = b"bench-secret-0123456789abcdef0123456789abcdef";
const OTHER_SECRET: &[u8] = b"other-secret-0123456789abcdef0123456789abcdef";
/// Wall time of one timed sample.
const SAMPLE_MS: u64 = 300;
/// Timed samples per case (after one warm-up sample).
const SAMPLES: usize = 7;
/// Goal: verifying the valid token costs at most this many HMAC checks.
const GOAL_HMAC_RATIO: f64 = 2.0;

fn policy() -> WorkspacePolicy {
    let mut p = WorkspacePolicy::new_default(APP_ID);
    p.keys = vec![VerificationKey::new(KID, SECRET.to_vec(), KeyState::Primary)];
    p.attributes = vec![
        AttributeDef { name: "email".into(), kind: AttributeType::String, secure_only: true },
        AttributeDef { name: "name".into(), kind: AttributeType::String, secure_only: false },
    ];
    p
}

fn claims() -> Map<String, Value> {
    match json!({
        "user_id": "user-42",
        "email": "user42@example.com",
        "name": "User 42",
        "iat": NOW - 10,
        "exp": NOW + 3600,
    }) {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn body(token: &str) -> Vec<u8> {
    json!({"app_id": APP_ID, "platform": "ios", "user_jwt": token}).to_string().into_bytes()
}

struct Case {
    name: &'static str,
    body: Vec<u8>,
    /// `None` = must verify; otherwise the expected reason code.
    expect: Option<&'static str>,
}

/// Times `f` over calibrated iteration counts; returns (median, min, max) ns per call.
fn measure(mut f: impl FnMut()) -> (f64, f64, f64) {
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        if t.elapsed() >= Duration::from_millis(20) {
            break;
        }
        iters *= 2;
    }
    let per_call = |iters: u64, f: &mut dyn FnMut()| {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        t.elapsed().as_nanos() as f64 / iters as f64
    };
    let probe = per_call(iters, &mut f);
    let iters = ((SAMPLE_MS as f64 * 1e6) / probe.max(1.0)).max(1.0) as u64;
    let _warm_up = per_call(iters, &mut f);
    let mut samples: Vec<f64> = (0..SAMPLES).map(|_| per_call(iters, &mut f)).collect();
    samples.sort_by(f64::total_cmp);
    (samples[SAMPLES / 2], samples[0], samples[SAMPLES - 1])
}

fn main() {
    let policy = policy();
    let ctx = Context { origin: None, now: NOW };
    let valid = sign_jwt(SECRET, KID, &claims());
    let bad_sig = sign_jwt(OTHER_SECRET, KID, &claims());
    let malformed = format!("!!{}", valid.split_once('.').map_or("", |(_, rest)| rest));
    let cases = [
        Case { name: "valid HS256, 2 attributes", body: body(&valid), expect: None },
        Case { name: "invalid signature", body: body(&bad_sig), expect: Some("invalid_signature") },
        Case { name: "malformed token", body: body(&malformed), expect: Some("malformed_token") },
    ];

    println!("countersign-core verify micro-benchmark: median of {SAMPLES} samples x ~{SAMPLE_MS} ms (min..max)");
    println!(
        "token length: {} bytes; goal: valid verify <= {GOAL_HMAC_RATIO}x the HMAC check and below jsonwebtoken::decode",
        valid.len()
    );
    println!(
        "{:<28} {:>18} {:>26} {:>18} {:>26}",
        "case", "verify ns/token", "(min..max)", "parse+verify ns", "(min..max)"
    );
    let mut valid_verify = None;
    for case in &cases {
        let value: Value = serde_json::from_slice(&case.body).unwrap_or(Value::Null);
        let Ok(request) = parse_identify_request(&value) else {
            eprintln!("{}: the benchmark body does not parse", case.name);
            std::process::exit(1);
        };
        // Check the case means what it says before timing it.
        let verdict = verify(&request, &policy, &ctx);
        let reason = verdict.reason.map(|r| r.as_str());
        let ok = match case.expect {
            None => verdict.verified && verdict.attributes.len() == 2,
            Some(code) => !verdict.verified && reason == Some(code),
        };
        if !ok {
            eprintln!(
                "{}: unexpected verdict (verified={}, reason={reason:?}, attributes={})",
                case.name,
                verdict.verified,
                verdict.attributes.len()
            );
            std::process::exit(1);
        }

        let (v_med, v_min, v_max) = measure(|| {
            black_box(verify(black_box(&request), black_box(&policy), black_box(&ctx)));
        });
        let (p_med, p_min, p_max) = measure(|| {
            let value: Value = serde_json::from_slice(black_box(&case.body)).unwrap_or(Value::Null);
            if let Ok(request) = parse_identify_request(&value) {
                black_box(verify(&request, black_box(&policy), black_box(&ctx)));
            }
        });
        if case.expect.is_none() {
            valid_verify = Some(v_med);
        }
        println!(
            "{:<28} {:>18.0} {:>26} {:>18.0} {:>26}",
            case.name,
            v_med,
            format!("({v_min:.0}..{v_max:.0})"),
            p_med,
            format!("({p_min:.0}..{p_max:.0})")
        );
    }
    let (Some(valid_verify), Some((hmac, jwt))) = (valid_verify, references(&valid)) else {
        return;
    };
    let ratio = valid_verify / hmac.max(1.0);
    let verdict = if ratio <= GOAL_HMAC_RATIO && valid_verify < jwt { "meets" } else { "MISSES" };
    println!(
        "valid verify median: {valid_verify:.0} ns/token, {ratio:.2}x the HMAC check, {:.2}x jsonwebtoken::decode: \
         {verdict} the goal (<= {GOAL_HMAC_RATIO}x HMAC, below jsonwebtoken)",
        valid_verify / jwt.max(1.0)
    );
}

/// The reference rows: HMAC alone, and `jsonwebtoken::decode` of the same token. Returns their
/// medians in ns per token.
fn references(token: &str) -> Option<(f64, f64)> {
    let (input, sig) = token.rsplit_once('.')?;
    let tag = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    if !Alg::Hs256.verify(SECRET, input.as_bytes(), &tag) {
        eprintln!("reference: the HMAC does not verify");
        std::process::exit(1);
    }
    let (hmac, _, _) = measure(|| {
        black_box(Alg::Hs256.verify(black_box(SECRET), black_box(input.as_bytes()), black_box(&tag)));
    });
    println!("{:<28} {:>18.0}   (reference: HMAC-SHA256 check only)", "HMAC-SHA256 only", hmac);
    // What verify itself pays for the MAC: a workspace key keeps its keyed state, so the two
    // key blocks are hashed once per key, not per token.
    let cached_key = VerificationKey::new(KID, SECRET.to_vec(), KeyState::Primary);
    let (cached, _, _) = measure(|| {
        black_box(Alg::Hs256.verify_with(black_box(&cached_key.secret), black_box(input.as_bytes()), black_box(&tag)));
    });
    println!(
        "{:<28} {:>18.0}   (the same check from the key's cached keyed state, as verify runs it)",
        "HMAC-SHA256, keyed state", cached
    );

    use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
    let key = DecodingKey::from_secret(SECRET);
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 60;
    // The fixture's `exp` is relative to NOW (2023), not to the wall clock jsonwebtoken reads.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    if decode::<Value>(token, &key, &validation).is_err() {
        eprintln!("reference: jsonwebtoken does not decode the token");
        std::process::exit(1);
    }
    let (jwt, _, _) = measure(|| {
        black_box(decode::<Value>(black_box(token), &key, &validation).is_ok());
    });
    println!(
        "{:<28} {:>18.0}   (reference: jsonwebtoken 9 decode into serde_json::Value)",
        "jsonwebtoken::decode", jwt
    );
    Some((hmac, jwt))
}
