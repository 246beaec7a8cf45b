//! The strict JSON rules of [`super::parse_strict_object`], checked in place: a token's header
//! and payload are read where they lie, and a value becomes a `serde_json::Value` only when a
//! verdict keeps it. Accepts exactly the documents the strict parser accepts (the tests compare
//! the two on generated documents); anything it cannot settle cheaply (escapes, fractions,
//! exponents, long integers) is handed to `serde_json` token by token, so the two agree on them
//! by construction.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

/// Deepest nesting `serde_json` accepts (its recursion limit); one level more is an error there.
const MAX_DEPTH: usize = 127;

/// Most digits of an integer read without `serde_json`: any such integer fits in an `i64`.
const SHORT_INTEGER_DIGITS: usize = 18;

/// One valid JSON value, as its text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RawValue<'a> {
    text: &'a str,
    /// Whether the value is a string holding escapes (so reading it needs decoding).
    has_escapes: bool,
}

/// A JSON object without duplicate member names (at any depth), its members sorted by name:
/// the order in which a `serde_json::Map` would list them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawObject<'a> {
    members: Vec<(Cow<'a, str>, RawValue<'a>)>,
}

impl<'a> RawObject<'a> {
    /// Checks `bytes` as one JSON object under the strict rules; `None` if they break one.
    pub fn scan(bytes: &'a [u8]) -> Option<RawObject<'a>> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut scanner = Scanner { text, at: 0, names: Vec::new() };
        scanner.skip_whitespace();
        let members = scanner.members()?;
        scanner.skip_whitespace();
        (scanner.at == text.len()).then_some(RawObject { members })
    }

    /// The value of member `name`, if present. A token has a handful of claims, and comparing
    /// names for equality is cheaper than ordering them, so this scans rather than bisects.
    pub fn get(&self, name: &str) -> Option<RawValue<'a>> {
        self.members.iter().find(|(member, _)| member == name).map(|(_, value)| *value)
    }

    /// Whether member `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The members in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, RawValue<'a>)> {
        self.members.iter().map(|(name, value)| (name.as_ref(), *value))
    }

    /// The object as a `serde_json::Map` (what the strict parser returns).
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter().map(|(name, value)| (name.to_string(), value.to_value())).collect()
    }
}

impl<'a> RawValue<'a> {
    /// A human name for the value's type, as [`super::kind`] gives it.
    pub fn kind(self) -> &'static str {
        match self.text.as_bytes().first() {
            Some(b'n') => "null",
            Some(b't' | b'f') => "a boolean",
            Some(b'"') => "a string",
            Some(b'[') => "an array",
            Some(b'{') => "an object",
            _ => "a number",
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(self) -> bool {
        self.text == "null"
    }

    /// Whether the value is a string.
    pub fn is_string(self) -> bool {
        self.text.starts_with('"')
    }

    /// Whether the value is a number.
    pub fn is_number(self) -> bool {
        self.kind() == "a number"
    }

    /// The boolean, if the value is one.
    pub fn as_bool(self) -> Option<bool> {
        match self.text {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }

    /// The string, unescaped, if the value is one; borrowed unless it holds escapes.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        let inner = self.text.strip_prefix('"')?.strip_suffix('"')?;
        if !self.has_escapes {
            return Some(Cow::Borrowed(inner));
        }
        serde_json::from_str::<String>(self.text).ok().map(Cow::Owned)
    }

    /// The number as an `f64` (as `serde_json::Number::as_f64` gives it), if the value is one.
    pub fn as_f64(self) -> Option<f64> {
        if !self.is_number() {
            return None;
        }
        match self.text {
            // serde_json reads `-0` as the float -0.0.
            "-0" => Some(-0.0),
            text => match short_integer(text) {
                Some(n) => Some(n as f64),
                None => serde_json::from_str::<Number>(text).ok().and_then(|n| n.as_f64()),
            },
        }
    }

    /// The value as a `serde_json::Value`.
    pub fn to_value(self) -> Value {
        match self.as_str() {
            Some(text) => Value::String(text.into_owned()),
            // The text was checked, and duplicate names refused, so this parse cannot fail and
            // builds what the strict parser would.
            None => serde_json::from_str(self.text).unwrap_or_default(),
        }
    }
}

/// The value of `text` if it is `-?(0|[1-9][0-9]*)` with at most [`SHORT_INTEGER_DIGITS`]
/// digits (so it cannot overflow).
fn short_integer(text: &str) -> Option<i64> {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(digits) => (-1, digits),
        None => (1, text),
    };
    let leading_zero = digits.len() > 1 && digits.starts_with('0');
    if digits.is_empty() || digits.len() > SHORT_INTEGER_DIGITS || leading_zero {
        return None;
    }
    digits.bytes().try_fold(0i64, |n, b| b.is_ascii_digit().then(|| n * 10 + i64::from(b - b'0'))).map(|n| sign * n)
}

/// A cursor over a document's text.
struct Scanner<'a> {
    text: &'a str,
    at: usize,
    /// Member names of the nested objects being read, innermost last (for duplicate checks).
    names: Vec<Cow<'a, str>>,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// The text from `start` to the cursor.
    fn since(&self, start: usize) -> Option<&'a str> {
        self.text.get(start..self.at)
    }

    /// Reads the top-level object: its members, sorted by name, without duplicates.
    fn members(&mut self) -> Option<Vec<(Cow<'a, str>, RawValue<'a>)>> {
        let mut members = Vec::with_capacity(8);
        self.object_with(|scanner, name| {
            let start = scanner.at;
            let has_escapes = match scanner.peek()? {
                b'"' => matches!(scanner.string()?, Cow::Owned(_)),
                _ => scanner.value(1).map(|()| false)?,
            };
            members.push((name, RawValue { text: scanner.since(start)?, has_escapes }));
            Some(())
        })?;
        members.sort_unstable_by(|(a, _), (b, _)| a.cmp(b));
        distinct(members.iter().map(|(name, _)| name)).then_some(members)
    }

    /// Reads an object at the cursor, handing each member's name to `member`, which reads the
    /// value (after the colon and whitespace).
    fn object_with(&mut self, mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.skip_whitespace();
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let name = self.string()?;
            self.skip_whitespace();
            self.eat(b':')?;
            self.skip_whitespace();
            member(self, name)?;
            if self.container_closed(b'}')? {
                return Some(());
            }
        }
    }

    /// After an item of an object or array: steps over a `,` (`false`: another item follows) or
    /// the container's `close` byte (`true`); anything else is not JSON.
    fn container_closed(&mut self, close: u8) -> Option<bool> {
        self.skip_whitespace();
        let next = self.peek()?;
        self.at += 1;
        if next == close {
            return Some(true);
        }
        if next != b',' {
            return None;
        }
        self.skip_whitespace();
        Some(false)
    }

    /// Checks one value at the cursor, nested `depth` containers deep.
    fn value(&mut self, depth: usize) -> Option<()> {
        match self.peek()? {
            b'{' => self.nested_object(depth + 1),
            b'[' => self.array(depth + 1),
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => None,
        }
    }

    /// Checks an object below the top level, refusing duplicate member names.
    fn nested_object(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let first = self.names.len();
        self.object_with(|scanner, name| {
            scanner.names.push(name);
            scanner.value(depth)
        })?;
        let names = self.names.get_mut(first..)?;
        names.sort_unstable();
        let unique = distinct(names.iter());
        self.names.truncate(first);
        unique.then_some(())
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'[')?;
        self.skip_whitespace();
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth)?;
            if self.container_closed(b']')? {
                return Some(());
            }
        }
    }

    /// Reads a string at the cursor and returns it unescaped. Control characters are refused.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        self.eat(b'"')?;
        self.at += plain_text_len(self.text.as_bytes().get(self.at..)?)?;
        if self.eat(b'"').is_none() {
            return self.escaped_string(start);
        }
        self.text.get(start + 1..self.at - 1).map(Cow::Borrowed)
    }

    /// Reads the rest of the string that opened at `start`, from its first backslash; the
    /// string is decoded by `serde_json`, which also judges the escapes.
    fn escaped_string(&mut self, start: usize) -> Option<Cow<'a, str>> {
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.at += 2,
                0x00..=0x1f => return None,
                _ => self.at += 1,
            }
        }
        self.at += 1;
        serde_json::from_str::<String>(self.since(start)?).ok().map(Cow::Owned)
    }

    /// Checks a number at the cursor. Short integers are read here; any other run of number
    /// characters is judged by `serde_json` (grammar and range), as it would be in place.
    fn number(&mut self) -> Option<()> {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')) {
            self.at += 1;
        }
        let text = self.since(start)?;
        (short_integer(text).is_some() || serde_json::from_str::<Number>(text).is_ok()).then_some(())
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        let found = self.text.get(self.at..)?.starts_with(word);
        found.then(|| self.at += word.len())
    }
}

/// The length of the plain text `bytes` starts with: the index of its first quote, backslash or
/// control character, if any. Eight bytes are tested at a time: in each byte of `word`, the
/// subtractions borrow into bit 7 only for a byte below 0x20, equal to `"` or equal to `\`
/// (bytes from 0x80 are masked out by `!word`), and a borrow only ever flags bytes after the
/// first match, so the lowest flag is the first match.
fn plain_text_len(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH_BITS: u64 = ONES << 7;
    let mut words = bytes.chunks_exact(8);
    let mut len = 0;
    for chunk in words.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let control = word.wrapping_sub(ONES * 0x20);
        let quote = (word ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES);
        let backslash = (word ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES);
        let found = (control | quote | backslash) & !word & HIGH_BITS;
        if found != 0 {
            return Some(len + found.trailing_zeros() as usize / 8);
        }
        len += 8;
    }
    let tail = words.remainder().iter().position(|&b| matches!(b, b'"' | b'\\' | 0x00..=0x1f))?;
    Some(len + tail)
}

/// Whether sorted `names` has no two equal neighbours.
fn distinct<'n, 'a: 'n>(names: impl Iterator<Item = &'n Cow<'a, str>>) -> bool {
    let mut previous: Option<&str> = None;
    for name in names {
        if previous == Some(name.as_ref()) {
            return false;
        }
        previous = Some(name);
    }
    true
}

#[cfg(test)]
mod tests;
