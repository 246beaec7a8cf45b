//! Strict JWT/JWS compact parsing (RFC 7515 §7.1, RFC 7519 §7.2) of the bytes exactly as sent.
//!
//! **This is the only place in Countersign that decodes a token without checking its
//! signature.** [`decode_unverified`] returns an [`UnverifiedJwt`] whose claims must not be trusted
//! until [`UnverifiedJwt::signature_valid`] has returned `true` for a key that may verify.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::json::{kind, parse_strict_object};
use crate::keys::Alg;
use crate::reason::Reason;
use crate::verdict::Trace;

/// Largest `user_jwt` accepted, in bytes (PRODUCT.md, "Sizes"); larger → `token_too_large`.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A token that passed every format rule but whose signature is **not yet checked**.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt<'a> {
    /// The header's `alg`, already restricted to HMAC.
    pub alg: Alg,
    /// The header's `kid`, if any.
    pub kid: Option<String>,
    /// The decoded header (no duplicate keys).
    pub header: Map<String, Value>,
    /// The decoded payload (no duplicate keys). Untrusted until the signature is checked.
    pub payload: Map<String, Value>,
    /// `header.payload` exactly as sent: the bytes the MAC covers (RFC 7515 §5.2).
    signing_input: &'a str,
    /// The decoded signature segment.
    signature: Vec<u8>,
}

impl UnverifiedJwt<'_> {
    /// Whether the signature is the MAC of the signing input (the first two segments, exactly
    /// as sent) under `secret`, compared in constant time.
    pub fn signature_valid(&self, secret: &[u8]) -> bool {
        self.alg
            .verify(secret, self.signing_input.as_bytes(), &self.signature)
    }
}

/// Why a token failed the format rules; carries what could be decoded, for the debugger.
#[derive(Debug, Clone)]
pub struct ParseFailure {
    /// `token_too_large`, `malformed_token` or `unsupported_algorithm`.
    pub reason: Reason,
    /// What is wrong and how to fix it; never contains the token.
    pub explanation: String,
    /// The header, if it decoded to a JSON object.
    pub header: Option<Map<String, Value>>,
    /// The payload, if it decoded to a JSON object (untrusted).
    pub payload: Option<Map<String, Value>>,
}

/// Header parameters this verifier understands when listed in `crit` (RFC 7515 §4.1.11). Only
/// `b64`, and only with its default value `true` (RFC 7797 unencoded payloads are refused).
const UNDERSTOOD_CRIT: [&str; 1] = ["b64"];

/// Decodes `token` under the strict format rules, **without checking the signature**, recording
/// each step in `trace`. Rules: at most [`MAX_TOKEN_BYTES`]; exactly three base64url segments
/// without padding (no whitespace, `=`, `+`, `/`); header and payload JSON objects without
/// duplicate keys; `alg` exactly `HS256`/`HS384`/`HS512`; `crit` only naming understood
/// parameters; no `b64: false`; `kid` a string if present. `jwk`, `jku`, `x5u`, `x5c` are ignored.
pub fn decode_unverified<'a>(
    token: &'a str,
    trace: &mut Trace,
) -> Result<UnverifiedJwt<'a>, ParseFailure> {
    let fail = |reason, explanation: String| ParseFailure {
        reason,
        explanation,
        header: None,
        payload: None,
    };
    if token.len() > MAX_TOKEN_BYTES {
        let msg = format!(
            "The token is {} bytes; the limit is {MAX_TOKEN_BYTES} bytes. Move bulky data out of \
             the token (send it as attributes) and keep only the claims you need.",
            token.len()
        );
        trace.fail("size", msg.clone());
        return Err(fail(Reason::TokenTooLarge, msg));
    }
    trace.pass(
        "size",
        format!("{} bytes (limit {MAX_TOKEN_BYTES})", token.len()),
    );

    let segments: Vec<&str> = token.split('.').collect();
    let (Some(h64), Some(p64), Some(s64), 3) = (
        segments.first(),
        segments.get(1),
        segments.get(2),
        segments.len(),
    ) else {
        let msg = format!(
            "A JWT has exactly three dot-separated segments (header.payload.signature); this one \
             has {}. Send the compact token exactly as your JWT library produced it.",
            segments.len()
        );
        trace.fail("format", msg.clone());
        return Err(fail(Reason::MalformedToken, msg));
    };
    if let Some(msg) = alphabet_problem(token) {
        trace.fail("format", msg.clone());
        return Err(fail(Reason::MalformedToken, msg));
    }
    let decoded = [("header", h64), ("payload", p64), ("signature", s64)]
        .map(|(name, seg)| URL_SAFE_NO_PAD.decode(seg).map_err(|_| name));
    let [header_bytes, payload_bytes, signature] = match decoded {
        [Ok(h), Ok(p), Ok(s)] => [h, p, s],
        [Err(name), ..] | [_, Err(name), _] | [.., Err(name)] => {
            let msg = format!(
                "The {name} segment is not canonical base64url. Encode it with the URL-safe \
                 alphabet and no padding (RFC 7515 §2)."
            );
            trace.fail("format", msg.clone());
            return Err(fail(Reason::MalformedToken, msg));
        }
    };
    trace.pass(
        "format",
        "three base64url segments without padding".to_string(),
    );

    let header = parse_strict_object(&header_bytes).map_err(|e| {
        let msg = format!("The header is not a JSON object without duplicate keys ({e}).");
        trace.fail("header", msg.clone());
        fail(Reason::MalformedToken, msg)
    })?;
    trace.pass("header", "JSON object without duplicate keys".to_string());
    let payload = parse_strict_object(&payload_bytes);
    let with_parts = |reason, explanation: String| ParseFailure {
        reason,
        explanation,
        header: Some(header.clone()),
        payload: payload.as_ref().ok().cloned(),
    };

    let alg = match header.get("alg") {
        Some(Value::String(name)) => match Alg::parse(name) {
            Some(alg) => alg,
            None => {
                let msg = format!(
                    "The token's alg is \"{}\"; Countersign accepts only HS256, HS384 and HS512, \
                     spelled exactly so. Sign with HS256 and your Countersign secret.",
                    name.escape_debug()
                );
                trace.fail("alg", msg.clone());
                return Err(with_parts(Reason::UnsupportedAlgorithm, msg));
            }
        },
        other => {
            let msg = match other {
                None => "The header has no alg. Sign with HS256.".to_string(),
                Some(v) => format!("The header's alg is {}, not a string.", kind(v)),
            };
            trace.fail("alg", msg.clone());
            return Err(with_parts(Reason::MalformedToken, msg));
        }
    };
    trace.pass("alg", alg.as_str().to_string());

    if let Err(msg) = check_header_params(&header) {
        trace.fail("header_params", msg.clone());
        return Err(with_parts(Reason::MalformedToken, msg));
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(v) => {
            let msg = format!("The header's kid is {}, not a string.", kind(v));
            trace.fail("header_params", msg.clone());
            return Err(with_parts(Reason::MalformedToken, msg));
        }
    };
    trace.pass("header_params", "no unknown crit, no b64:false".to_string());

    let payload = match payload {
        Ok(payload) => payload,
        Err(e) => {
            let msg = format!("The payload is not a JSON object without duplicate keys ({e}).");
            trace.fail("payload", msg.clone());
            return Err(ParseFailure {
                reason: Reason::MalformedToken,
                explanation: msg,
                header: Some(header),
                payload: None,
            });
        }
    };
    trace.pass("payload", "JSON object without duplicate keys".to_string());

    let signing_input = token.get(..h64.len() + 1 + p64.len()).unwrap_or_default();
    Ok(UnverifiedJwt {
        alg,
        kid,
        header,
        payload,
        signing_input,
        signature,
    })
}

/// Names the first character outside the base64url alphabet (besides the two dots), if any.
fn alphabet_problem(token: &str) -> Option<String> {
    let bad = token
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))?;
    let what = match bad {
        c if c.is_whitespace() => "whitespace (trim the token before sending it)",
        '=' => "'=' padding (base64url in JWTs has no padding)",
        '+' | '/' => "'+' or '/' (standard base64; JWTs use the URL-safe alphabet '-' and '_')",
        _ => "a character outside the base64url alphabet",
    };
    Some(format!(
        "The token contains {what}. Send the compact JWT exactly as signed."
    ))
}

/// `crit` (RFC 7515 §4.1.11) must be a non-empty array of distinct understood names present in
/// the header; `b64` (RFC 7797), if present, must be the boolean `true`.
fn check_header_params(header: &Map<String, Value>) -> Result<(), String> {
    match header.get("b64") {
        None | Some(Value::Bool(true)) => {}
        Some(Value::Bool(false)) => {
            return Err(
                "The header sets b64:false (unencoded payload, RFC 7797), which is not \
                        supported. Sign an ordinary JWT."
                    .to_string(),
            )
        }
        Some(v) => return Err(format!("The header's b64 is {}, not a boolean.", kind(v))),
    }
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let Value::Array(names) = crit else {
        return Err(format!(
            "The header's crit is {}, not an array.",
            kind(crit)
        ));
    };
    if names.is_empty() {
        return Err("The header's crit is an empty array, which RFC 7515 forbids.".to_string());
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        let Value::String(name) = name else {
            return Err("The header's crit lists a non-string entry.".to_string());
        };
        if !UNDERSTOOD_CRIT.contains(&name.as_str()) || seen.contains(&name.as_str()) {
            return Err(format!(
                "The header's crit lists \"{}\", an extension Countersign does not understand. \
                 Remove crit from the header.",
                name.escape_debug()
            ));
        }
        if !header.contains_key(name) {
            return Err(format!(
                "The header's crit lists \"{}\" but the header lacks it.",
                name.escape_debug()
            ));
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
