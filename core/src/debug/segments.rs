//! Decoding a JWT's segments as far as their bytes allow, for display only: unlike
//! [`crate::jwt::decode_unverified`] it forgives padding, the standard alphabet, whitespace and
//! duplicate keys, and names each segment's problem instead of stopping at the first. Nothing it
//! returns is trusted or verified.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{kind, parse_strict_object};

/// One segment of a pasted token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// `header`, `payload` or `signature`.
    pub name: String,
    /// Whether the segment meets the strict rules identify applies.
    pub ok: bool,
    /// Length of the segment as sent, in bytes.
    pub encoded_bytes: usize,
    /// Length once decoded, when it decodes at all.
    pub decoded_bytes: Option<usize>,
    /// What is wrong with it, in words.
    pub problem: Option<String>,
}

/// Base64url that forgives padding and stray trailing bits, for showing a broken token.
const FORGIVING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const NAMES: [&str; 3] = ["header", "payload", "signature"];

/// The token's segments with their problems, and the header and payload decoded as far as
/// possible (an object parsed leniently, e.g. with a duplicate key, is still shown).
pub fn inspect_segments(token: &str) -> (Vec<Segment>, Option<Value>, Option<Value>) {
    let count = token.matches('.').count() + 1;
    let mut parts = token.splitn(4, '.');
    let mut segments = Vec::with_capacity(3);
    let mut decoded: [Option<Value>; 2] = [None, None];
    for (index, name) in NAMES.iter().enumerate() {
        let Some(part) = parts.next() else {
            segments.push(Segment {
                name: (*name).into(),
                ok: false,
                encoded_bytes: 0,
                decoded_bytes: None,
                problem: Some(format!("Missing: a JWT has three dot-separated segments and this token has {count}.")),
            });
            continue;
        };
        let (bytes, mut problem) = decode_part(part);
        if let (Some(bytes), Some(slot)) = (&bytes, decoded.get_mut(index)) {
            let (value, json_problem) = read_json(bytes);
            *slot = value;
            problem = problem.or(json_problem);
        }
        if index == 2 && problem.is_none() && part.is_empty() {
            problem = Some("Empty: the token is unsigned.".into());
        }
        segments.push(Segment {
            name: (*name).into(),
            ok: problem.is_none(),
            encoded_bytes: part.len(),
            decoded_bytes: bytes.as_ref().map(Vec::len),
            problem,
        });
    }
    if let (Some(extra), Some(signature)) = (parts.next(), segments.get_mut(2)) {
        signature.ok = false;
        signature.problem = Some(format!(
            "Followed by more dots and {} more bytes: a JWT has exactly three segments.",
            extra.len() + 1
        ));
    }
    let [header, payload] = decoded;
    (segments, header, payload)
}

/// Decodes one segment: strictly if it can, else forgivingly with the problem named.
fn decode_part(part: &str) -> (Option<Vec<u8>>, Option<String>) {
    if let Ok(bytes) = URL_SAFE_NO_PAD.decode(part) {
        return (Some(bytes), None);
    }
    let cleaned: String = part
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    let found = if part.chars().any(char::is_whitespace) {
        "whitespace"
    } else if part.contains('"') {
        "quotes"
    } else if part.contains('=') {
        "'=' padding"
    } else if part.contains(['+', '/']) {
        "standard base64 '+' or '/'"
    } else {
        "characters outside base64url"
    };
    match FORGIVING.decode(cleaned.trim_end_matches('=')) {
        Ok(bytes) => {
            (Some(bytes), Some(format!("Not canonical base64url: it contains {found}. Shown as decoded anyway.")))
        }
        Err(_) => (None, Some(format!("Not base64url ({found}); it cannot be decoded."))),
    }
}

/// The segment as JSON: strict if it can, else lenient with the problem named.
fn read_json(bytes: &[u8]) -> (Option<Value>, Option<String>) {
    match parse_strict_object(bytes) {
        Ok(map) => (Some(Value::Object(map)), None),
        Err(strict) => match serde_json::from_slice::<Value>(bytes) {
            Ok(value @ Value::Object(_)) => {
                (Some(value), Some(format!("Not strict JSON ({strict}); shown with the last duplicate.")))
            }
            Ok(other) => (None, Some(format!("Decodes to {}, not a JSON object.", kind(&other)))),
            Err(e) => (None, Some(format!("Not JSON: {e}."))),
        },
    }
}
