//! Making client-controlled text storable. Postgres refuses NUL in `text` and `\u0000` in
//! `jsonb`, so one such byte would fail a whole group commit; raw control characters would
//! also reach the people reading the log. Every string an attempt stores passes through here.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// What replaces NUL inside JSON values: the Unicode replacement character.
const REPLACEMENT: char = '\u{FFFD}';

/// `text` with every control character escaped (`\u{0}`, `\n`, ...) and cut to `max_chars`
/// characters (the last one then `…`). Borrows when nothing changes, as for almost all input.
pub fn storable(text: &str, max_chars: usize) -> Cow<'_, str> {
    let too_long = text.len() > max_chars && text.chars().nth(max_chars).is_some();
    if !too_long && !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len().min(4 * max_chars + 4));
    let mut chars = 0;
    for c in text.chars() {
        if c.is_control() {
            for e in c.escape_debug() {
                out.push(e);
                chars += 1;
            }
        } else {
            out.push(c);
            chars += 1;
        }
        // One character past the limit is enough to know the text must be cut.
        if chars > max_chars {
            break;
        }
    }
    if chars > max_chars {
        let keep = out.char_indices().nth(max_chars.saturating_sub(1)).map_or(out.len(), |(i, _)| i);
        out.truncate(keep);
        out.push('…');
    }
    Cow::Owned(out)
}

/// An optional [`storable`] string, owned.
pub fn storable_owned(text: Option<String>, max_chars: usize) -> Option<String> {
    text.map(|t| match storable(&t, max_chars) {
        Cow::Borrowed(_) => t,
        Cow::Owned(fixed) => fixed,
    })
}

/// Replaces NUL in every string and key of `value` (at any depth) with U+FFFD, the one character
/// `jsonb` cannot hold. Other characters are data (a newline in an address) and stay.
pub fn make_json_storable(value: &mut Value) {
    match value {
        Value::String(s) => replace_nul(s),
        Value::Array(items) => items.iter_mut().for_each(make_json_storable),
        Value::Object(map) => make_map_storable(map),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// [`make_json_storable`] for an object.
pub fn make_map_storable(map: &mut Map<String, Value>) {
    if map.keys().any(|k| k.contains('\0')) {
        let entries = std::mem::take(map);
        for (mut key, value) in entries {
            replace_nul(&mut key);
            map.insert(key, value);
        }
    }
    map.values_mut().for_each(make_json_storable);
}

fn replace_nul(s: &mut String) {
    if s.contains('\0') {
        *s = s.replace('\0', REPLACEMENT.encode_utf8(&mut [0; 4]));
    }
}

/// A count with thousands separators, for sentences: 1204 → "1,204".
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = if n < 0 { String::from("-") } else { String::new() };
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Ordinary text is borrowed unchanged.
    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(storable("HS256", 32), Cow::Borrowed("HS256")));
        assert!(matches!(storable("héllo wörld", 11), Cow::Borrowed(_)));
    }

    /// NUL and other control characters are escaped, never stored raw.
    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(storable("a\0b", 64), "a\\0b");
        assert_eq!(storable("line\nbreak\u{1b}[31m", 64), "line\\nbreak\\u{1b}[31m");
        assert!(!storable("\0\0\0", 64).contains('\0'));
    }

    /// Long text is cut to the limit in characters, marked with an ellipsis.
    #[test]
    fn long_text_is_cut() {
        let long = "é".repeat(300);
        let cut = storable(&long, 255);
        assert_eq!(cut.chars().count(), 255);
        assert!(cut.ends_with('…'));
        let nuls = "\0".repeat(300);
        let escaped = storable(&nuls, 10);
        assert_eq!(escaped.chars().count(), 10);
        assert!(!escaped.contains('\0'));
        assert_eq!(storable("exactly", 7), "exactly");
    }

    /// JSON loses only its NULs, in keys and values at any depth.
    #[test]
    fn json_nul_is_replaced() {
        let mut value = json!({"a\u{0}": ["x\u{0}y", {"k": "\u{0}"}], "n": 1, "line": "a\nb"});
        make_json_storable(&mut value);
        assert_eq!(value, json!({"a\u{FFFD}": ["x\u{FFFD}y", {"k": "\u{FFFD}"}], "n": 1, "line": "a\nb"}));
        assert!(!value.to_string().contains("\\u0000"));
    }
}
