//! Attribute rules (PRODUCT.md, "Concepts": attribute, and "POST /api/v1/identify"): which user
//! attributes may arrive through which channel, and with which type.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::RawValue;
use crate::verdict::RejectedAttribute;

/// Reason string of a [`RejectedAttribute`] sent unsigned but registered as secure-only.
pub const REJECT_SECURE_ONLY: &str = "secure_only";
/// Reason string of a [`RejectedAttribute`] whose JSON value has the wrong type.
pub const REJECT_WRONG_TYPE: &str = "wrong_type";

/// The declared type of an attribute; a value of another JSON type is rejected, never coerced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeType {
    /// A JSON string.
    String,
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Boolean,
    /// Either an RFC 3339 date-time string (`2024-05-06T07:08:09Z`, offset required) or a JSON
    /// number of unix seconds (as JWT NumericDates are). Stored as sent, not normalised.
    Datetime,
}

impl AttributeType {
    /// Every type, in the dashboard's order.
    pub const ALL: [AttributeType; 4] =
        [AttributeType::String, AttributeType::Number, AttributeType::Boolean, AttributeType::Datetime];

    /// The wire name (`string`, `number`, `boolean`, `datetime`).
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Number => "number",
            AttributeType::Boolean => "boolean",
            AttributeType::Datetime => "datetime",
        }
    }

    /// Parses a wire name exactly; `None` for anything else.
    pub fn parse(name: &str) -> Option<AttributeType> {
        AttributeType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether `value` has this type. `null` has no type, so it is always `wrong_type`.
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (AttributeType::String, Value::String(_)) => true,
            (AttributeType::Number, Value::Number(_)) => true,
            (AttributeType::Boolean, Value::Bool(_)) => true,
            (AttributeType::Datetime, Value::Number(_)) => true,
            (AttributeType::Datetime, Value::String(s)) => crate::time::is_rfc3339(s),
            _ => false,
        }
    }
}

/// A value offered as an attribute: judged by its type, converted only when accepted.
pub(crate) trait AttributeValue {
    /// Whether the value has type `kind` (see [`AttributeType::accepts`]).
    fn has_type(&self, kind: AttributeType) -> bool;
    /// The value to store.
    fn into_value(self) -> Value;
}

impl AttributeValue for Cow<'_, Value> {
    fn has_type(&self, kind: AttributeType) -> bool {
        kind.accepts(self)
    }

    fn into_value(self) -> Value {
        self.into_owned()
    }
}

impl AttributeValue for RawValue<'_> {
    fn has_type(&self, kind: AttributeType) -> bool {
        match kind {
            AttributeType::String => self.is_string(),
            AttributeType::Number => self.is_number(),
            AttributeType::Boolean => self.as_bool().is_some(),
            AttributeType::Datetime => {
                self.is_number() || self.as_str().is_some_and(|text| crate::time::is_rfc3339(&text))
            }
        }
    }

    fn into_value(self) -> Value {
        self.to_value()
    }
}

/// A registered attribute of a workspace (`{name, type, secure_only}` in the API).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttributeDef {
    /// Exact, case-sensitive name, as it appears in a JWT claim or in `attributes`.
    pub name: String,
    /// Declared type (`type` on the wire).
    #[serde(rename = "type")]
    pub kind: AttributeType,
    /// Accepted only from inside a verified JWT, never from unsigned client data.
    pub secure_only: bool,
}

/// Sorts incoming attributes into accepted / rejected / ignored. Sources are added in order of
/// trust (the token's claims first); the first source to carry a name decides it, so a signed
/// value always wins over an unsigned one. Linear in the number of names and definitions.
#[derive(Debug, Default)]
pub(crate) struct AttributeSorter<'d, 'n> {
    /// Accepted attributes, by name.
    pub accepted: Map<String, Value>,
    /// Refused attributes with their reason.
    pub rejected: Vec<RejectedAttribute>,
    /// Unregistered names.
    pub ignored: Vec<String>,
    /// Names accepted from an unsigned source: each would be refused were it secure-only.
    pub unsigned: Vec<String>,
    /// Remarks (a later duplicate of a name already decided).
    pub notes: Vec<String>,
    /// Every name decided so far (borrowed from the sources, which outlive the sorter).
    decided: NameSet<'n>,
    /// The definitions by name, built on first use when there are many.
    index: Option<HashMap<&'d str, &'d AttributeDef>>,
}

/// Up to this many definitions are searched in place; more are indexed once per request.
const SCAN_DEFINITIONS: usize = 16;

/// Up to this many decided names are kept and searched in place; more are hashed.
const SCAN_NAMES: usize = 8;

/// A set of names: a few kept in place (comparing them costs less than hashing one, and a
/// token's attributes need no allocation), a hash set once there are more, so a request with
/// many attributes stays linear.
#[derive(Debug, Default)]
struct NameSet<'n> {
    /// The names while there are at most [`SCAN_NAMES`]: the first `len` slots.
    few: [Cow<'n, str>; SCAN_NAMES],
    len: usize,
    /// All the names once there are more.
    many: HashSet<Cow<'n, str>>,
}

impl<'n> NameSet<'n> {
    fn contains(&self, name: &str) -> bool {
        if self.many.is_empty() {
            self.few.iter().take(self.len).any(|n| n == name)
        } else {
            self.many.contains(name)
        }
    }

    fn insert(&mut self, name: Cow<'n, str>) {
        match self.few.get_mut(self.len).filter(|_| self.many.is_empty()) {
            Some(slot) => {
                *slot = name;
                self.len += 1;
            }
            None => {
                self.many.extend(self.few.iter_mut().take(self.len).map(std::mem::take));
                self.len = 0;
                self.many.insert(name);
            }
        }
    }
}

impl<'d, 'n> AttributeSorter<'d, 'n> {
    /// Considers `name = value` from a source that is `signed` (a verified JWT) or not. Owned
    /// names and values are moved into the result; borrowed ones are copied only if kept.
    pub fn add(
        &mut self,
        defs: &'d [AttributeDef],
        name: Cow<'n, str>,
        value: impl AttributeValue,
        signed: bool,
        source: &str,
    ) {
        let def = self.definition(defs, &name);
        if self.decided.contains(&name) {
            // An unsigned value of a secure-only attribute is a tampering attempt even when the
            // token carried the attribute: the admin sees it among the rejected.
            if def.is_some_and(|d| d.secure_only) && !signed {
                self.rejected
                    .push(RejectedAttribute { name: name.into_owned(), reason: REJECT_SECURE_ONLY.to_string() });
            } else {
                self.notes.push(format!(
                    "Attribute \"{}\" from {source} ignored: the token already carried it.",
                    name.escape_debug()
                ));
            }
            return;
        }
        self.decided.insert(name.clone());
        let Some(def) = def else {
            self.ignored.push(name.into_owned());
            return;
        };
        let refusal = if def.secure_only && !signed {
            Some(REJECT_SECURE_ONLY)
        } else if !value.has_type(def.kind) {
            Some(REJECT_WRONG_TYPE)
        } else {
            None
        };
        match refusal {
            Some(reason) => {
                self.rejected.push(RejectedAttribute { name: name.into_owned(), reason: reason.to_string() })
            }
            None => {
                if !signed {
                    self.unsigned.push(name.to_string());
                }
                self.accepted.insert(name.into_owned(), value.into_value());
            }
        }
    }

    /// The definition of `name`, if registered.
    fn definition(&mut self, defs: &'d [AttributeDef], name: &str) -> Option<&'d AttributeDef> {
        if defs.len() <= SCAN_DEFINITIONS {
            return defs.iter().find(|d| d.name == name);
        }
        let index = self.index.get_or_insert_with(|| defs.iter().map(|d| (d.name.as_str(), d)).collect());
        index.get(name).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Vec<AttributeDef> {
        let def = |name: &str, kind, secure_only| AttributeDef { name: name.into(), kind, secure_only };
        vec![
            def("plan", AttributeType::String, true),
            def("seats", AttributeType::Number, false),
            def("beta", AttributeType::Boolean, false),
            def("signed_up", AttributeType::Datetime, false),
        ]
    }

    /// Each type accepts its JSON type only; null and numeric strings are wrong types.
    #[test]
    fn type_checks() {
        use AttributeType::*;
        assert!(String.accepts(&json!("x")) && !String.accepts(&json!(1)));
        assert!(Number.accepts(&json!(1.5)) && !Number.accepts(&json!("1")));
        assert!(Boolean.accepts(&json!(false)) && !Boolean.accepts(&json!("true")));
        assert!(Datetime.accepts(&json!("2024-01-01T00:00:00Z")));
        assert!(Datetime.accepts(&json!(1_700_000_000)));
        assert!(!Datetime.accepts(&json!("yesterday")) && !Datetime.accepts(&json!(true)));
        for t in AttributeType::ALL {
            assert!(!t.accepts(&Value::Null));
            assert_eq!(AttributeType::parse(t.as_str()), Some(t));
        }
    }

    /// Unsigned: secure-only rejected, unregistered ignored, wrong type rejected, rest accepted.
    #[test]
    fn unsigned_rules() {
        let defs = defs();
        let mut s = AttributeSorter::default();
        for (name, value) in
            [("plan", json!("pro")), ("nick", json!("x")), ("seats", json!("3")), ("beta", json!(true))]
        {
            s.add(&defs, name.into(), Cow::Borrowed(&value), false, "attributes");
        }
        assert_eq!(s.accepted, json!({"beta": true}).as_object().cloned().unwrap_or_default());
        assert_eq!(s.ignored, ["nick"]);
        let rejected: Vec<_> = s.rejected.iter().map(|r| (r.name.as_str(), r.reason.as_str())).collect();
        assert_eq!(rejected, [("plan", "secure_only"), ("seats", "wrong_type")]);
        assert_eq!(s.unsigned, ["beta"], "only what was accepted unsigned counts");
    }

    /// Signed: secure-only accepted; the first (signed) source wins over a later unsigned one,
    /// and an unsigned copy of a secure-only attribute is still reported as rejected.
    #[test]
    fn signed_wins() {
        let defs = defs();
        let mut s = AttributeSorter::default();
        s.add(&defs, "plan".into(), Cow::Owned(json!("pro")), true, "the token");
        s.add(&defs, "plan".into(), Cow::Owned(json!("free")), false, "attributes");
        assert_eq!(s.accepted.get("plan"), Some(&json!("pro")));
        assert_eq!(s.rejected, [RejectedAttribute { name: "plan".into(), reason: "secure_only".into() }]);
        assert!(s.notes.is_empty());
        s.add(&defs, "seats".into(), Cow::Owned(json!(3)), true, "the token");
        s.add(&defs, "seats".into(), Cow::Owned(json!(4)), false, "attributes");
        assert_eq!(s.accepted.get("seats"), Some(&json!(3)));
        assert_eq!(s.notes.len(), 1, "a duplicate that is not secure-only is only noted");
        assert!(s.unsigned.is_empty(), "signed values, and unsigned copies of them, are not unsigned updates");
    }

    /// Past the names searched in place, the set hashes them without losing any.
    #[test]
    fn name_set_grows() {
        let all: Vec<String> = (0..3 * SCAN_NAMES).map(|i| format!("n{i}")).collect();
        let mut names = NameSet::default();
        for (i, name) in all.iter().enumerate() {
            assert!(!names.contains(name));
            names.insert(Cow::Borrowed(name));
            assert!(all.iter().take(i + 1).all(|n| names.contains(n)), "{i}");
        }
    }

    /// The wire shape of a definition uses `type`.
    #[test]
    fn def_wire_shape() {
        let def = AttributeDef { name: "plan".into(), kind: AttributeType::Datetime, secure_only: true };
        assert_eq!(
            serde_json::to_value(&def).ok(),
            Some(json!({"name": "plan", "type": "datetime", "secure_only": true}))
        );
    }
}
