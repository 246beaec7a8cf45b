//! Strict JSON for JWT headers and payloads: like `serde_json::Value`, but an object with a
//! duplicate member name (at any depth) is an error. `serde_json::Value` silently keeps the last
//! duplicate, which lets two parsers disagree about what a signed token says (RFC 7515 §5.2 and
//! RFC 7519 §4 require rejecting or refusing such tokens; we reject). The verify path checks the
//! same rules in place (`raw`), without building values.

use std::borrow::Cow;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

mod raw;

pub(crate) use raw::{RawObject, RawValue};

/// Parses `bytes` as one JSON value, rejecting duplicate keys, invalid UTF-8 and trailing data.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, String> {
    serde_json::from_slice::<StrictValue>(bytes).map(|v| v.0).map_err(|e| e.to_string())
}

/// Parses `bytes` as a JSON object (see [`parse_strict`]); anything else is an error.
pub fn parse_strict_object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    match parse_strict(bytes)? {
        Value::Object(map) => Ok(map),
        other => Err(format!("expected a JSON object, found {}", kind(&other))),
    }
}

/// Reads `bytes` as a JSON object in place under the rules of [`parse_strict_object`], or says
/// why it is not one (in the parser's words).
pub fn scan_strict_object(bytes: &[u8]) -> Result<RawObject<'_>, String> {
    RawObject::scan(bytes).ok_or_else(|| match parse_strict_object(bytes) {
        Err(why) => why,
        // Not reached while the scan and the parser agree, which the tests check.
        Ok(_) => "not a strict JSON object".to_string(),
    })
}

/// A JSON object as the claim rules read it: parsed into a map, or read in place.
pub(crate) trait JsonObject {
    /// The value of member `name`, if present.
    fn member(&self, name: &str) -> Option<JsonRef<'_>>;
}

impl JsonObject for Map<String, Value> {
    fn member(&self, name: &str) -> Option<JsonRef<'_>> {
        self.get(name).map(JsonRef::Parsed)
    }
}

impl JsonObject for RawObject<'_> {
    fn member(&self, name: &str) -> Option<JsonRef<'_>> {
        self.get(name).map(JsonRef::Raw)
    }
}

/// A JSON value, parsed or read in place.
#[derive(Debug, Clone, Copy)]
pub(crate) enum JsonRef<'a> {
    /// A value of a parsed map.
    Parsed(&'a Value),
    /// A value read in place.
    Raw(RawValue<'a>),
}

impl<'a> JsonRef<'a> {
    /// A human name for the value's type (see [`kind`]).
    pub fn kind(self) -> &'static str {
        match self {
            JsonRef::Parsed(value) => kind(value),
            JsonRef::Raw(value) => value.kind(),
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(self) -> bool {
        match self {
            JsonRef::Parsed(value) => value.is_null(),
            JsonRef::Raw(value) => value.is_null(),
        }
    }

    /// Whether the value is a number.
    pub fn is_number(self) -> bool {
        match self {
            JsonRef::Parsed(value) => value.is_number(),
            JsonRef::Raw(value) => value.is_number(),
        }
    }

    /// The number as an `f64`; `None` for anything but a number.
    pub fn as_f64(self) -> Option<f64> {
        match self {
            JsonRef::Parsed(value) => value.as_f64(),
            JsonRef::Raw(value) => value.as_f64(),
        }
    }

    /// The string, unescaped, if the value is one.
    pub fn as_str(self) -> Option<Cow<'a, str>> {
        match self {
            JsonRef::Parsed(value) => value.as_str().map(Cow::Borrowed),
            JsonRef::Raw(value) => value.as_str(),
        }
    }

    /// The value as a `serde_json::Value`.
    pub fn to_value(self) -> Cow<'a, Value> {
        match self {
            JsonRef::Parsed(value) => Cow::Borrowed(value),
            JsonRef::Raw(value) => Cow::Owned(value.to_value()),
        }
    }
}

/// A human name for a JSON value's type, for explanations.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A `Value` deserialised by [`StrictVisitor`].
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

/// Builds a `Value`, failing on the second occurrence of a key within one object.
struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value without duplicate object keys")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v).map(Value::Number).ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            match map.entry(key) {
                Entry::Occupied(entry) => {
                    return Err(de::Error::custom(format!("duplicate key `{}`", entry.key())));
                }
                Entry::Vacant(entry) => {
                    let StrictValue(value) = access.next_value()?;
                    entry.insert(value);
                }
            }
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ordinary JSON parses to the same value `serde_json` would produce.
    #[test]
    fn parses_like_serde_json() {
        let text = br#"{"a":[1,-2,3.5,"x",null,true,{"b":{}}],"c":18446744073709551615}"#;
        let strict = parse_strict(text).ok();
        let lenient = serde_json::from_slice::<Value>(text).ok();
        assert!(strict.is_some());
        assert_eq!(strict, lenient);
    }

    /// A duplicate key is an error, top-level or nested, even when spelled with an escape.
    #[test]
    fn rejects_duplicate_keys() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"x":{"a":1,"a":1}}"#).is_err());
        assert!(parse_strict(br#"[{"a":1,"\u0061":2}]"#).is_err());
        assert!(parse_strict(br#"{"a":1,"A":2}"#).is_ok());
    }

    /// Non-objects, trailing data and invalid UTF-8 are refused by the object parser.
    #[test]
    fn object_only() {
        assert!(parse_strict_object(b"[]").is_err());
        assert!(parse_strict_object(b"\"s\"").is_err());
        assert!(parse_strict_object(b"{} {}").is_err());
        assert!(parse_strict_object(b"{\"a\":\"\xff\"}").is_err());
        assert!(parse_strict_object(b" {\"a\":1} ").is_ok());
    }
}
