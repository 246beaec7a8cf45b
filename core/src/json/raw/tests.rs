use super::*;
use crate::json::{kind, parse_strict_object};
use crate::testutil::Rng;

/// Names that collide often, some only once unescaped (`\u0075ser_id` is `user_id`).
const NAMES: [&str; 12] =
    ["a", "b", "user_id", "\\u0075ser_id", "exp", "iat", "\\u0061", "é", "\\ud83d\\ude00", "😀", "A", ""];

/// Number texts: valid ones first (short and long integers, fractions, exponents), then not.
const NUMBERS: [&str; 24] = [
    "0",
    "-0",
    "7",
    "-12",
    "1700000000",
    "999999999999999999",
    "-999999999999999999",
    "18446744073709551615",
    "18446744073709551616",
    "123456789012345678901234567890",
    "1.5",
    "-0.0",
    "1e3",
    "1E+3",
    "1e-400",
    "1e400",
    "-1e400",
    "01",
    "1.",
    ".5",
    "-",
    "+1",
    "1e",
    "0x10",
];
const VALID_NUMBERS: usize = 15;

/// String bodies: valid ones first (escapes, unicode), then not (lone surrogates, bad escapes,
/// control characters).
const STRINGS: [&str; 14] = [
    "",
    "user-42",
    "\\\"q\\\"",
    "tab\\t",
    "\\u00e9t\\u00E9",
    "\\ud83d\\ude00",
    "snow ☃",
    "back\\\\slash\\/",
    "2024-05-06T07:08:09Z",
    "\\ud83d",
    "\\ude00",
    "\\x",
    "\\u12",
    "raw\ttab",
];
const VALID_STRINGS: usize = 9;

const SPACES: [&str; 6] = ["", "", "", " ", "\n\t", "\r"];

/// A random JSON-like document, valid most of the time.
fn value(rng: &mut Rng, depth: usize, out: &mut String) {
    let choice = if depth > 4 { 3 + rng.below(4) } else { rng.below(8) };
    match choice {
        0 | 1 => object(rng, depth, out),
        2 => {
            out.push('[');
            for i in 0..rng.below(4) {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(rng.pick(&SPACES));
                value(rng, depth + 1, out);
            }
            out.push(']');
        }
        3 => {
            out.push('"');
            out.push_str(rng.pick_mostly(&STRINGS, VALID_STRINGS));
            out.push('"');
        }
        4 | 5 => out.push_str(rng.pick_mostly(&NUMBERS, VALID_NUMBERS)),
        _ => out.push_str(rng.pick_mostly(&["true", "false", "null", "nul", "True"], 3)),
    }
}

fn object(rng: &mut Rng, depth: usize, out: &mut String) {
    out.push('{');
    out.push_str(rng.pick(&SPACES));
    for i in 0..rng.below(6) {
        if i > 0 {
            out.push(',');
            out.push_str(rng.pick(&SPACES));
        }
        out.push('"');
        out.push_str(rng.pick(&NAMES));
        out.push('"');
        out.push_str(rng.pick(&SPACES));
        out.push(':');
        out.push_str(rng.pick(&SPACES));
        value(rng, depth + 1, out);
        out.push_str(rng.pick(&SPACES));
    }
    if rng.below(40) == 0 {
        out.push(',');
    }
    out.push('}');
}

/// `bytes` with one byte replaced, inserted or removed (structural characters favoured).
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let at = rng.below(bytes.len() + 1);
    let byte = *b"{}[]:,\"\\ 0-e.tn\x01\xff".get(rng.below(18)).unwrap_or(&b'x');
    match rng.below(3) {
        0 if at < bytes.len() => bytes[at] = byte,
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        _ => bytes.insert(at, byte),
    }
}

/// The scan accepts exactly what the strict parser accepts, and reads the same values.
fn assert_agrees(bytes: &[u8]) {
    let scanned = RawObject::scan(bytes);
    let parsed = parse_strict_object(bytes);
    let shown = String::from_utf8_lossy(bytes);
    assert_eq!(scanned.is_some(), parsed.is_ok(), "{shown} {parsed:?}");
    let (Some(scanned), Ok(parsed)) = (scanned, parsed) else {
        return;
    };
    assert_eq!(scanned.to_map(), parsed, "{shown}");
    let names: Vec<&str> = scanned.iter().map(|(name, _)| name).collect();
    assert!(names.iter().copied().eq(parsed.keys().map(String::as_str)), "map order: {shown}");
    for (name, expected) in &parsed {
        let raw = scanned.get(name);
        assert_eq!(raw.map(RawValue::to_value).as_ref(), Some(expected), "{shown}");
        let Some(raw) = raw else { continue };
        assert_eq!(raw.kind(), kind(expected));
        assert_eq!(raw.is_null(), expected.is_null());
        assert_eq!(raw.is_string(), expected.is_string());
        assert_eq!(raw.is_number(), expected.is_number());
        assert_eq!(raw.as_bool(), expected.as_bool());
        assert_eq!(raw.as_str().as_deref(), expected.as_str());
        let bits = |f: Option<f64>| f.map(f64::to_bits);
        assert_eq!(bits(raw.as_f64()), bits(expected.as_f64()), "{name}: {shown}");
    }
}

/// Generated documents, and one-byte mutations of them, read alike.
#[test]
fn agrees_with_the_strict_parser() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let mut text = String::new();
        text.push_str(rng.pick(&SPACES));
        object(&mut rng, 0, &mut text);
        text.push_str(rng.pick(&SPACES));
        assert_agrees(text.as_bytes());
        let mut bytes = text.into_bytes();
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut bytes);
            assert_agrees(&bytes);
        }
    }
}

/// Hand-picked edges: duplicates at depth or spelled with escapes, non-objects, trailing data,
/// invalid UTF-8, nesting at and past the recursion limit.
#[test]
fn edge_cases() {
    let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
    let cases: Vec<Vec<u8>> = [
        r#"{"user_id":"u1","\u0075ser_id":"admin"}"#,
        r#"{"x":[{"a":1},{"a":1}]}"#,
        r#"{"x":{"a":1,"b":{"c":1,"c":2}}}"#,
        r#"{"x":{"a":1},"y":{"a":1}}"#,
        r#"{"a":1}{"a":1}"#,
        r#"[{"a":1}]"#,
        r#""s""#,
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        r#"{a:1}"#,
        "{\"a\":\"\u{7f}\"}",
        "\u{feff}{}",
        " {} ",
        "{}",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .chain([b"{\"a\":\"\xff\"}".to_vec(), b"{\"\xc3\xa9\":1}".to_vec()])
    .chain([125, 126, 127, 128].map(|n| deep(n).into_bytes()))
    .collect();
    for bytes in cases {
        assert_agrees(&bytes);
    }
}

/// The word-at-a-time search for the end of plain string text finds what a byte loop finds.
#[test]
fn plain_text_len_matches_a_byte_loop() {
    let mut rng = Rng(0xb7e1_5162_8aed_2a6a);
    let alphabet = b"ab\"\\\x00\x1f\x20\x21\x5b\x5d\x7f\x80\xc3\xa9\xff!";
    for _ in 0..20_000 {
        let bytes: Vec<u8> = (0..rng.below(40))
            .map(|_| if rng.below(4) == 0 { alphabet[rng.below(alphabet.len())] } else { b'x' })
            .collect();
        let expected = bytes.iter().position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1f));
        assert_eq!(plain_text_len(&bytes), expected, "{bytes:?}");
    }
}
