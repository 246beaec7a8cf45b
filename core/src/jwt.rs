//! Strict JWT/JWS compact parsing (RFC 7515 §7.1, RFC 7519 §7.2) of the bytes exactly as sent.
//!
//! **This is the only place in Countersign that decodes a token without checking its
//! signature.** [`decode_unverified`] returns an [`UnverifiedJwt`] whose claims must not be trusted
//! until [`UnverifiedJwt::signature_valid`] has returned `true` for a key that may verify; the
//! verify path's `decode_in_place` applies the same rules, with the same caveat for its
//! `TokenView`, without building maps.

use std::borrow::Cow;

use base64_simd::Out;
use serde_json::{Map, Value};

use crate::json::{scan_strict_object, RawObject};
use crate::keys::{Alg, KeySecret};
use crate::reason::Reason;
use crate::verdict::Trace;

/// Largest `user_jwt` accepted, in bytes (PRODUCT.md, "Sizes"); larger → `token_too_large`.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// A token that passed every format rule but whose signature is **not yet checked**.
#[derive(Debug, Clone)]
pub struct UnverifiedJwt<'a> {
    /// The header's `alg`, already restricted to HMAC.
    pub alg: Alg,
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
    /// The header's `kid`, if any (decoding checked that it is a string).
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Whether the signature is the MAC of the signing input (the first two segments, exactly
    /// as sent) under `secret`, compared in constant time.
    pub fn signature_valid(&self, secret: &KeySecret) -> bool {
        self.alg.verify_with(secret, self.signing_input.as_bytes(), &self.signature)
    }
}

/// A token that passed every format rule, its header and payload read in place from a buffer
/// the caller owns; the signature is **not yet checked**.
#[derive(Debug, Clone)]
pub(crate) struct TokenView<'a> {
    /// The header's `alg`, already restricted to HMAC.
    pub alg: Alg,
    /// The header (no duplicate keys).
    pub header: RawObject<'a>,
    /// The payload (no duplicate keys). Untrusted until the signature is checked.
    pub payload: RawObject<'a>,
    /// `header.payload` exactly as sent: the bytes the MAC covers (RFC 7515 §5.2).
    signing_input: &'a str,
    /// The decoded signature segment.
    signature: &'a [u8],
}

impl<'a> TokenView<'a> {
    /// The header's `kid`, if any (decoding checked that it is a string).
    pub fn kid(&self) -> Option<Cow<'a, str>> {
        self.header.get("kid").and_then(|kid| kid.as_str())
    }

    /// Whether the signature is the MAC of the signing input under `secret` (see
    /// [`UnverifiedJwt::signature_valid`]).
    pub fn signature_valid(&self, secret: &KeySecret) -> bool {
        self.alg.verify_with(secret, self.signing_input.as_bytes(), self.signature)
    }
}

/// [`ParseFailure`] with the header and payload as read in place.
#[derive(Debug, Clone)]
pub(crate) struct ViewFailure<'a> {
    /// `token_too_large`, `malformed_token` or `unsupported_algorithm`.
    pub reason: Reason,
    /// What is wrong and how to fix it; never contains the token.
    pub explanation: String,
    /// The header, if it is a strict JSON object.
    pub header: Option<RawObject<'a>>,
    /// The payload, if it is a strict JSON object (untrusted).
    pub payload: Option<RawObject<'a>>,
}

impl From<ViewFailure<'_>> for ParseFailure {
    fn from(failure: ViewFailure<'_>) -> Self {
        ParseFailure {
            reason: failure.reason,
            explanation: failure.explanation,
            header: failure.header.as_ref().map(RawObject::to_map),
            payload: failure.payload.as_ref().map(RawObject::to_map),
        }
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
pub fn decode_unverified<'a>(token: &'a str, trace: &mut Trace) -> Result<UnverifiedJwt<'a>, ParseFailure> {
    let mut decoded = DecodeBuffer::new();
    let view = decode_in_place(token, &mut decoded, trace)?;
    // Three segments, so the signing input is everything before the last dot.
    let signing_input = token.rsplit_once('.').map_or("", |(input, _)| input);
    Ok(UnverifiedJwt {
        alg: view.alg,
        header: view.header.to_map(),
        payload: view.payload.to_map(),
        signing_input,
        signature: view.signature.to_vec(),
    })
}

/// [`decode_unverified`] without building maps: the segments are decoded into `decoded` and
/// the header and payload read where they lie there.
pub(crate) fn decode_in_place<'a>(
    token: &'a str,
    decoded: &'a mut DecodeBuffer,
    trace: &mut Trace,
) -> Result<TokenView<'a>, ViewFailure<'a>> {
    let fail = |trace: &mut Trace, check: &str, reason, explanation: String| {
        trace.fail(check, reason, &explanation);
        ViewFailure { reason, explanation, header: None, payload: None }
    };
    if token.len() > MAX_TOKEN_BYTES {
        let msg = format!(
            "The token is {} bytes; the limit is {MAX_TOKEN_BYTES} bytes. Move bulky data out of \
             the token (send it as attributes) and keep only the claims you need.",
            token.len()
        );
        return Err(fail(trace, "size", Reason::TokenTooLarge, msg));
    }
    trace.pass("size", || format!("{} bytes (limit {MAX_TOKEN_BYTES})", token.len()));

    let Some((h64, p64, s64)) = segments(token) else {
        let msg = format!(
            "A JWT has exactly three dot-separated segments (header.payload.signature); this one \
             has {}. Send the compact token exactly as your JWT library produced it.",
            token.split('.').count()
        );
        return Err(fail(trace, "format", Reason::MalformedToken, msg));
    };
    // Canonical base64url segments hold nothing outside the alphabet, so the alphabet is only
    // searched (to name the stray character) once decoding failed.
    let (header_bytes, payload_bytes, signature) = decode_segments(h64, p64, s64, decoded).map_err(|msg| {
        let msg = alphabet_problem(token).unwrap_or(msg);
        fail(trace, "format", Reason::MalformedToken, msg)
    })?;
    trace.pass("format", || "three base64url segments without padding".into());

    let header = scan_strict_object(header_bytes).map_err(|e| {
        let msg = format!("The header is not a JSON object without duplicate keys ({e}).");
        fail(trace, "header", Reason::MalformedToken, msg)
    })?;
    trace.pass("header", || "JSON object without duplicate keys".into());
    let payload = scan_strict_object(payload_bytes);
    let with_parts = |trace: &mut Trace, check: &str, reason, explanation: String| {
        trace.fail(check, reason, &explanation);
        ViewFailure { reason, explanation, header: Some(header.clone()), payload: payload.as_ref().ok().cloned() }
    };

    let alg = match header.get("alg").map(|alg| (alg, alg.as_str())) {
        Some((_, Some(name))) => match Alg::parse(&name) {
            Some(alg) => alg,
            None => {
                let msg = format!(
                    "The token's alg is \"{}\"; Countersign accepts only HS256, HS384 and HS512, \
                     spelled exactly so. Sign with HS256 and your Countersign secret.",
                    name.escape_debug()
                );
                return Err(with_parts(trace, "alg", Reason::UnsupportedAlgorithm, msg));
            }
        },
        other => {
            let msg = match other {
                None => "The header has no alg. Sign with HS256.".to_string(),
                Some((v, _)) => format!("The header's alg is {}, not a string.", v.kind()),
            };
            return Err(with_parts(trace, "alg", Reason::MalformedToken, msg));
        }
    };
    trace.pass("alg", || alg.as_str().to_string());

    if let Err(msg) = check_header_params(&header) {
        return Err(with_parts(trace, "header_params", Reason::MalformedToken, msg));
    }
    if let Some(kid) = header.get("kid").filter(|kid| !kid.is_string()) {
        let msg = format!("The header's kid is {}, not a string.", kid.kind());
        return Err(with_parts(trace, "header_params", Reason::MalformedToken, msg));
    }
    trace.pass("header_params", || "no unknown crit, no b64:false".into());

    let payload = match payload {
        Ok(payload) => payload,
        Err(e) => {
            let msg = format!("The payload is not a JSON object without duplicate keys ({e}).");
            trace.fail("payload", Reason::MalformedToken, &msg);
            return Err(ViewFailure {
                reason: Reason::MalformedToken,
                explanation: msg,
                header: Some(header),
                payload: None,
            });
        }
    };
    trace.pass("payload", || "JSON object without duplicate keys".into());

    let signing_input = token.get(..h64.len() + 1 + p64.len()).unwrap_or_default();
    Ok(TokenView { alg, header, payload, signing_input, signature })
}

/// The header, payload and signature segments, or `None` unless there are exactly three.
fn segments(token: &str) -> Option<(&str, &str, &str)> {
    // Byte positions: a dot is ASCII, so each split falls on a character boundary.
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (first, second) = (dots.next()?, dots.next()?);
    if dots.next().is_some() {
        return None;
    }
    Some((token.get(..first)?, token.get(first + 1..second)?, token.get(second + 1..)?))
}

/// The decoded header, payload and signature.
type DecodedSegments<'a> = (&'a [u8], &'a [u8], &'a [u8]);

/// Decoded bytes kept on the stack: the segments of a token of up to about 1.3 KiB (most are
/// a few hundred bytes).
const STACK_DECODE_BYTES: usize = 1024;

/// Where the verify path decodes a token's segments: on the stack when they fit, so the happy
/// path allocates no buffer; on the heap otherwise.
pub(crate) struct DecodeBuffer {
    stack: [u8; STACK_DECODE_BYTES],
    heap: Vec<u8>,
}

impl DecodeBuffer {
    /// An empty buffer (nothing is allocated until a token needs the heap).
    pub fn new() -> DecodeBuffer {
        DecodeBuffer { stack: [0; STACK_DECODE_BYTES], heap: Vec::new() }
    }

    /// `len` bytes to decode into.
    fn take(&mut self, len: usize) -> &mut [u8] {
        match self.stack.get_mut(..len) {
            Some(stack) => stack,
            None => {
                self.heap.resize(len, 0);
                &mut self.heap
            }
        }
    }
}

/// Decodes the three segments into `decoded`, one after the other, or explains the first that
/// is not canonical base64url.
fn decode_segments<'a>(
    h64: &str,
    p64: &str,
    s64: &str,
    decoded: &'a mut DecodeBuffer,
) -> Result<DecodedSegments<'a>, String> {
    let not_base64url = |name: &str| {
        format!(
            "The {name} segment is not canonical base64url. Encode it with the URL-safe alphabet \
             and no padding (RFC 7515 §2)."
        )
    };
    // base64-simd: as strict as the `base64` crate (no padding, canonical trailing bits) and
    // several times faster on segments this short, which the verify path decodes per request.
    let engine = base64_simd::URL_SAFE_NO_PAD;
    // Upper bounds, so each segment has room whatever it holds; `decode` checks the rest.
    let [h_len, p_len, s_len] = [h64, p64, s64].map(|segment| engine.estimated_decoded_length(segment.len()));
    let (header, rest) = decoded.take(h_len + p_len + s_len).split_at_mut(h_len);
    let (payload, signature) = rest.split_at_mut(p_len);
    let header = engine.decode(h64.as_bytes(), Out::from_slice(header)).map_err(|_| not_base64url("header"))?;
    let payload = engine.decode(p64.as_bytes(), Out::from_slice(payload)).map_err(|_| not_base64url("payload"))?;
    let signature =
        engine.decode(s64.as_bytes(), Out::from_slice(signature)).map_err(|_| not_base64url("signature"))?;
    Ok((header, payload, signature))
}

/// Names the first character outside the base64url alphabet (besides the two dots), if any.
fn alphabet_problem(token: &str) -> Option<String> {
    let base64url = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    if token.bytes().all(base64url) {
        return None;
    }
    let bad = token.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))?;
    let what = match bad {
        c if c.is_whitespace() => "whitespace (trim the token before sending it)",
        '=' => "'=' padding (base64url in JWTs has no padding)",
        '+' | '/' => "'+' or '/' (standard base64; JWTs use the URL-safe alphabet '-' and '_')",
        _ => "a character outside the base64url alphabet",
    };
    Some(format!("The token contains {what}. Send the compact JWT exactly as signed."))
}

/// `crit` (RFC 7515 §4.1.11) must be a non-empty array of distinct understood names present in
/// the header; `b64` (RFC 7797), if present, must be the boolean `true`.
fn check_header_params(header: &RawObject) -> Result<(), String> {
    if let Some(b64) = header.get("b64") {
        match b64.as_bool() {
            Some(true) => {}
            Some(false) => {
                return Err("The header sets b64:false (unencoded payload, RFC 7797), which is not \
                            supported. Sign an ordinary JWT."
                    .to_string())
            }
            None => return Err(format!("The header's b64 is {}, not a boolean.", b64.kind())),
        }
    }
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    let Value::Array(names) = crit.to_value() else {
        return Err(format!("The header's crit is {}, not an array.", crit.kind()));
    };
    if names.is_empty() {
        return Err("The header's crit is an empty array, which RFC 7515 forbids.".to_string());
    }
    let mut seen: Vec<&str> = Vec::new();
    for name in &names {
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
        if !header.contains(name) {
            return Err(format!("The header's crit lists \"{}\" but the header lacks it.", name.escape_debug()));
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests;
