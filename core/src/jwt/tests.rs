use super::*;
use crate::testutil::{b64, raw_token, SECRET};

/// The reason a token fails to decode, or `None` if it decodes.
fn failure(token: &str) -> Option<Reason> {
    decode_unverified(token, &mut Trace::default()).err().map(|f| f.reason)
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;
const PAYLOAD: &str = r#"{"user_id":"u1"}"#;

/// A well-formed HS256 token decodes, keeps its header/payload and checks its own signature.
#[test]
fn decodes_valid_token() {
    let token = raw_token(HEADER, PAYLOAD, SECRET);
    let mut trace = Trace::recording();
    let jwt = decode_unverified(&token, &mut trace);
    assert!(jwt
        .as_ref()
        .is_ok_and(|j| j.signature_valid(&KeySecret::new(SECRET)) && !j.signature_valid(&KeySecret::new(b"x"))));
    assert!(jwt.is_ok_and(|j| j.alg == Alg::Hs256 && j.kid().is_none() && j.payload.contains_key("user_id")));
    let (checks, _) = trace.into_parts();
    assert!(checks.len() == 6 && checks.iter().all(|c| c.ok));
}

/// Over 8 KiB is `token_too_large`, checked before anything else; exactly 8 KiB is not.
#[test]
fn size_limit() {
    assert_eq!(failure(&"a".repeat(MAX_TOKEN_BYTES + 1)), Some(Reason::TokenTooLarge));
    assert_eq!(failure(&"a".repeat(MAX_TOKEN_BYTES)), Some(Reason::MalformedToken));
    let big = format!(r#"{{"user_id":"u1","pad":"{}"}}"#, "x".repeat(6200));
    assert_eq!(failure(&raw_token(HEADER, &big, SECRET)), Some(Reason::TokenTooLarge));
}

/// A token too big for the decoder's stack buffer decodes like a small one, and a stray bit in
/// any of its segments is still malformed.
#[test]
fn tokens_past_the_stack_buffer() {
    for pad in [0, 700, 740, 1000, 3000, 6000] {
        let payload = format!(r#"{{"user_id":"u1","pad":"{}"}}"#, "x".repeat(pad));
        let token = raw_token(HEADER, &payload, SECRET);
        let jwt = decode_unverified(&token, &mut Trace::default());
        let pad_len = jwt.as_ref().ok().and_then(|j| j.payload.get("pad")).and_then(Value::as_str).map(str::len);
        assert_eq!(pad_len, Some(pad));
        assert!(jwt.is_ok_and(|j| j.signature_valid(&KeySecret::new(SECRET))), "{pad}");
        assert_eq!(failure(&with_stray_bit(&token)), Some(Reason::MalformedToken), "{pad}");
    }
}

/// Anything but exactly three segments is malformed (including the empty string).
#[test]
fn segment_counts() {
    let token = raw_token(HEADER, PAYLOAD, SECRET);
    let two = token.rsplit_once('.').map(|(a, _)| a.to_string()).unwrap_or_default();
    for bad in [String::new(), two, format!("{token}.x"), format!("{token}."), "..".to_string()] {
        assert_eq!(failure(&bad), Some(Reason::MalformedToken), "{bad}");
    }
}

/// Surrounding or inner whitespace, `=` padding and the `+`/`/` alphabet are malformed.
#[test]
fn bytes_as_sent() {
    let token = raw_token(HEADER, PAYLOAD, SECRET);
    let padded = {
        let (input, sig) = token.rsplit_once('.').unwrap_or_default();
        format!("{input}.{sig}=")
    };
    let std_alphabet = token.replace('-', "+").replace('_', "/");
    for bad in [format!(" {token}"), format!("{token}\n"), token.replacen('.', ".\n", 1), padded] {
        assert_eq!(failure(&bad), Some(Reason::MalformedToken), "{bad:?}");
    }
    if std_alphabet != token {
        assert_eq!(failure(&std_alphabet), Some(Reason::MalformedToken));
    }
    for suffix in ["/", "+", "=", "==", "\t"] {
        assert_eq!(failure(&format!("{token}{suffix}")), Some(Reason::MalformedToken), "{suffix}");
    }
}

/// Non-canonical base64url (stray trailing bits) is malformed, so signatures are not malleable.
#[test]
fn non_canonical_base64() {
    let token = raw_token(HEADER, PAYLOAD, SECRET);
    assert_eq!(failure(&with_stray_bit(&token)), Some(Reason::MalformedToken));
}

/// The first segment that is not canonical base64url is the one named, whatever follows it.
#[test]
fn names_the_first_bad_segment() {
    // 28 bytes: the segment's last character carries 4 unused bits.
    let header = with_low_bit_flipped(&b64(br#"{"alg":"HS256","typ":"JWTX"}"#));
    // A segment of one character cannot be base64 at all: its length alone gives it away.
    for token in [format!("{header}.A.AAAA"), format!("{header}.e30.AAAA")] {
        let explanation = decode_unverified(&token, &mut Trace::default()).err().map(|f| f.explanation);
        assert!(explanation.as_deref().is_some_and(|e| e.contains("header segment")), "{explanation:?}");
    }
}

/// `token` with one of the unused bits of its signature's last character set: a 32-byte MAC is
/// 43 characters, and the last carries 2 unused bits.
fn with_stray_bit(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap_or_default();
    format!("{input}.{}", with_low_bit_flipped(sig))
}

/// `segment` with the lowest bit of its last character's 6 flipped.
fn with_low_bit_flipped(segment: &str) -> String {
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (head, last) = segment.split_at(segment.len().saturating_sub(1));
    let idx = alphabet.find(last).unwrap_or(0);
    let flipped = alphabet.chars().nth(idx ^ 1).unwrap_or('B');
    format!("{head}{flipped}")
}

/// A header or payload that is not a JSON object, or has duplicate keys, is malformed.
#[test]
fn json_objects_without_duplicates() {
    for (header, payload) in [
        (r#"["HS256"]"#, PAYLOAD),
        (HEADER, r#""u1""#),
        (HEADER, "not json"),
        (r#"{"alg":"HS256","alg":"HS256"}"#, PAYLOAD),
        (r#"{"alg":"none","alg":"HS256"}"#, PAYLOAD),
        (HEADER, r#"{"user_id":"u1","user_id":"admin"}"#),
        (HEADER, r#"{"user_id":"u1","org":{"id":1,"id":2}}"#),
    ] {
        assert_eq!(failure(&raw_token(header, payload, SECRET)), Some(Reason::MalformedToken), "{header} {payload}");
    }
}

/// `alg` is matched exactly: none, RS/ES/PS and case variants are unsupported; missing is malformed.
#[test]
fn algorithms() {
    for alg in ["none", "RS256", "ES256", "PS256", "EdDSA", "hs256", "Hs256", "HS256 "] {
        let header = format!(r#"{{"alg":"{alg}"}}"#);
        assert_eq!(failure(&raw_token(&header, PAYLOAD, SECRET)), Some(Reason::UnsupportedAlgorithm), "{alg}");
    }
    let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), b64(PAYLOAD.as_bytes()));
    assert_eq!(failure(&none), Some(Reason::UnsupportedAlgorithm));
    assert_eq!(failure(&raw_token(r#"{"typ":"JWT"}"#, PAYLOAD, SECRET)), Some(Reason::MalformedToken));
    assert_eq!(failure(&raw_token(r#"{"alg":256}"#, PAYLOAD, SECRET)), Some(Reason::MalformedToken));
    for alg in ["HS384", "HS512"] {
        assert_eq!(failure(&raw_token(&format!(r#"{{"alg":"{alg}"}}"#), PAYLOAD, SECRET)), None);
    }
}

/// An unsupported-algorithm failure still carries the decoded header and payload for the debugger.
#[test]
fn unsupported_keeps_parts() {
    let token = raw_token(r#"{"alg":"RS256","kid":"k"}"#, PAYLOAD, SECRET);
    let err = decode_unverified(&token, &mut Trace::default()).err();
    assert!(err.is_some_and(|f| f.header.is_some() && f.payload.is_some_and(|p| p.contains_key("user_id"))));
}

/// `crit` must list only understood, present parameters; `b64:false` is refused.
#[test]
fn crit_and_b64() {
    let cases = [
        (r#"{"alg":"HS256","crit":["exp"],"exp":1}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","crit":[]}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","crit":"b64","b64":true}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","crit":["b64"]}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","crit":["b64","b64"],"b64":true}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","crit":["b64"],"b64":false}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","b64":false}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","b64":"true"}"#, Some(Reason::MalformedToken)),
        (r#"{"alg":"HS256","crit":["b64"],"b64":true}"#, None),
        (r#"{"alg":"HS256","b64":true}"#, None),
    ];
    for (header, expected) in cases {
        assert_eq!(failure(&raw_token(header, PAYLOAD, SECRET)), expected, "{header}");
    }
}

/// A non-string `kid` is malformed; `jwk`, `jku`, `x5u`, `x5c` are ignored, not used.
#[test]
fn kid_type_and_ignored_key_headers() {
    assert_eq!(failure(&raw_token(r#"{"alg":"HS256","kid":7}"#, PAYLOAD, SECRET)), Some(Reason::MalformedToken));
    let header = r#"{"alg":"HS256","jku":"https://evil.example/jwks","x5u":"https://evil.example/c","x5c":["AA"],"jwk":{"kty":"oct","k":"ZXZpbA"}}"#;
    let token = raw_token(header, PAYLOAD, SECRET);
    let jwt = decode_unverified(&token, &mut Trace::default()).ok();
    assert!(
        jwt.is_some_and(|j| j.signature_valid(&KeySecret::new(SECRET)) && !j.signature_valid(&KeySecret::new(b"evil")))
    );
}
