//! Request bodies of the public API, parsed from an already-read JSON value: `POST
//! /api/v1/identify` and `POST /api/v1/signatures`. A parse error is a 400 `invalid_request`.

use serde_json::{Map, Value};

use crate::claims::validate_user_id;
use crate::platform::Platform;

/// Largest identify body accepted, in bytes (PRODUCT.md, "Sizes"); the HTTP layer answers 413
/// `payload_too_large` beyond it, before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most unsigned attributes one identify request may send.
pub const MAX_ATTRIBUTES: usize = 256;
/// Longest attribute name, in bytes.
pub const MAX_ATTRIBUTE_NAME_BYTES: usize = 255;
/// Most bytes of names and string values in one request's unsigned attributes.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

/// A parsed identify request. `Debug` redacts `user_jwt` and `user_hash`: they are credentials.
#[derive(Clone, PartialEq)]
pub struct IdentifyRequest {
    /// The workspace's public app id.
    pub app_id: String,
    /// The calling platform (selects the mode; `web` is subject to the origin allowlist).
    pub platform: Platform,
    /// The compact JWT exactly as sent (no trimming).
    pub user_jwt: Option<String>,
    /// The claimed user id, any JSON type (judged by the verifier, never coerced). `null` = absent.
    pub user_id: Option<Value>,
    /// Legacy HMAC of `user_id`, hex.
    pub user_hash: Option<String>,
    /// Unsigned attributes sent by the client.
    pub attributes: Option<Map<String, Value>>,
}

impl std::fmt::Debug for IdentifyRequest {
    /// Prints the request with the token and hash replaced by their lengths.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |s: &Option<String>| s.as_ref().map(|s| format!("<redacted, {} bytes>", s.len()));
        f.debug_struct("IdentifyRequest")
            .field("app_id", &self.app_id)
            .field("platform", &self.platform)
            .field("user_jwt", &redact(&self.user_jwt))
            .field("user_id", &self.user_id)
            .field("user_hash", &redact(&self.user_hash))
            .field("attributes", &self.attributes)
            .finish()
    }
}

/// Why a body is not a valid request: a 400 `invalid_request`. `app_id` is set when one was
/// readable, so the caller can write the log row against that app (PRODUCT.md, "Sizes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestError {
    /// The body's `app_id`, if it was a non-empty string.
    pub app_id: Option<String>,
    /// Human sentence naming the bad field and what it should be.
    pub message: String,
}

impl std::fmt::Display for RequestError {
    /// Writes the message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RequestError {}

/// Reads the body's `app_id` and returns it with the object, or the error for a body without one.
fn object_and_app_id(body: &Value) -> Result<(&Map<String, Value>, String), RequestError> {
    let err = |message: &str| RequestError { app_id: None, message: message.to_string() };
    let Value::Object(obj) = body else {
        return Err(err("The body must be a JSON object."));
    };
    match obj.get("app_id") {
        Some(Value::String(app_id)) if !app_id.is_empty() => Ok((obj, app_id.clone())),
        None | Some(Value::Null) => Err(err("app_id is required.")),
        Some(_) => Err(err("app_id must be a non-empty string.")),
    }
}

/// Reads an optional field: absent or `null` is `None`; otherwise `pick` must accept the value.
fn optional<'v, T>(
    obj: &'v Map<String, Value>,
    field: &str,
    what: &str,
    app_id: &str,
    pick: impl Fn(&'v Value) -> Option<T>,
) -> Result<Option<T>, RequestError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => pick(value).map(Some).ok_or_else(|| RequestError {
            app_id: Some(app_id.to_string()),
            message: format!("{field} must be {what}."),
        }),
    }
}

/// Parses an identify body `{"app_id", "platform", "user_jwt"?, "user_id"?, "user_hash"?,
/// "attributes"?}`. Unknown fields are ignored (forward compatibility). `user_id` is kept as
/// raw JSON so that a number reaches the verifier and fails as `invalid_user_id`.
pub fn parse_identify_request(body: &Value) -> Result<IdentifyRequest, RequestError> {
    let (obj, app_id) = object_and_app_id(body)?;
    let platform =
        optional(obj, "platform", "one of web, ios, android", &app_id, |v| v.as_str().and_then(Platform::parse))?
            .ok_or_else(|| RequestError {
                app_id: Some(app_id.clone()),
                message: "platform is required: one of web, ios, android.".to_string(),
            })?;
    let string = |v: &Value| v.as_str().map(str::to_string);
    let user_jwt = optional(obj, "user_jwt", "a string", &app_id, string)?;
    let user_hash = optional(obj, "user_hash", "a string", &app_id, string)?;
    let user_id = optional(obj, "user_id", "", &app_id, |v| Some(v.clone()))?;
    let attributes = optional(obj, "attributes", "a JSON object", &app_id, |v| v.as_object().cloned())?;
    if let Some(attributes) = &attributes {
        check_attribute_sizes(attributes).map_err(|message| RequestError { app_id: Some(app_id.clone()), message })?;
    }
    Ok(IdentifyRequest { app_id, platform, user_jwt, user_id, user_hash, attributes })
}

/// Bounds the unsigned attributes: their number, each name's length, and the bytes of names and
/// string values together, so a request's cost stays small whatever it sends.
fn check_attribute_sizes(attributes: &Map<String, Value>) -> Result<(), String> {
    if attributes.len() > MAX_ATTRIBUTES {
        return Err(format!(
            "attributes has {} entries; at most {MAX_ATTRIBUTES} are accepted per request.",
            attributes.len()
        ));
    }
    let mut bytes = 0;
    for (name, value) in attributes {
        if name.is_empty() || name.len() > MAX_ATTRIBUTE_NAME_BYTES {
            return Err(format!("Attribute names must be 1 to {MAX_ATTRIBUTE_NAME_BYTES} bytes long."));
        }
        bytes += name.len() + value.as_str().map_or(0, str::len);
    }
    if bytes > MAX_ATTRIBUTES_BYTES {
        return Err(format!(
            "attributes holds {bytes} bytes of names and text; at most {MAX_ATTRIBUTES_BYTES} are accepted per request."
        ));
    }
    Ok(())
}

/// A parsed `POST /api/v1/signatures` body.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureRequest {
    /// The workspace's public app id.
    pub app_id: String,
    /// The user to sign for (already validated as a user id).
    pub user_id: String,
    /// Attributes to sign into the token.
    pub attributes: Option<Map<String, Value>>,
    /// Token lifetime in seconds, if the token should expire.
    pub expires_in: Option<i64>,
}

/// Parses a signatures body `{"app_id", "user_id", "attributes"?, "expires_in"?}`: `user_id`
/// must be a valid user id, `expires_in` a positive whole number of seconds.
pub fn parse_signature_request(body: &Value) -> Result<SignatureRequest, RequestError> {
    let (obj, app_id) = object_and_app_id(body)?;
    let user_id = validate_user_id(obj.get("user_id").filter(|v| !v.is_null()))
        .map_err(|(_, message)| RequestError { app_id: Some(app_id.clone()), message })?;
    let attributes = optional(obj, "attributes", "a JSON object", &app_id, |v| v.as_object().cloned())?;
    let expires_in =
        optional(obj, "expires_in", "a positive whole number of seconds", &app_id, |v| v.as_i64().filter(|n| *n > 0))?;
    Ok(SignatureRequest { app_id, user_id, attributes, expires_in })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A full identify body parses; null fields count as absent; unknown fields are ignored.
    #[test]
    fn parses_identify_body() -> Result<(), RequestError> {
        let body = json!({"app_id": "a1", "platform": "ios", "user_jwt": "x.y.z", "user_id": 42,
            "user_hash": null, "attributes": {"plan": "pro"}, "extra": 1});
        let req = parse_identify_request(&body)?;
        assert_eq!(req.platform, Platform::Ios);
        assert_eq!(req.user_jwt.as_deref(), Some("x.y.z"));
        assert_eq!(req.user_id, Some(json!(42)));
        assert_eq!(req.user_hash, None);
        assert_eq!(req.attributes.and_then(|a| a.get("plan").cloned()), Some(json!("pro")));
        Ok(())
    }

    /// Errors say what is wrong and carry the app id whenever it was readable.
    #[test]
    fn identify_errors_carry_app_id() {
        let cases = [
            (json!([]), None),
            (json!({"platform": "web"}), None),
            (json!({"app_id": 7, "platform": "web"}), None),
            (json!({"app_id": "a1"}), Some("a1")),
            (json!({"app_id": "a1", "platform": "Web"}), Some("a1")),
            (json!({"app_id": "a1", "platform": "web", "user_jwt": 1}), Some("a1")),
            (json!({"app_id": "a1", "platform": "web", "user_hash": true}), Some("a1")),
            (json!({"app_id": "a1", "platform": "web", "attributes": []}), Some("a1")),
        ];
        let many: Map<String, Value> = (0..=MAX_ATTRIBUTES).map(|i| (format!("a{i}"), json!(1))).collect();
        let long_name = json!({"x".repeat(256): 1});
        let heavy: Map<String, Value> = (0..20).map(|i| (format!("a{i}"), json!("v".repeat(1000)))).collect();
        let cases = cases.into_iter().chain(
            [json!(many), long_name, json!(heavy), json!({"": 1})]
                .map(|attributes| (json!({"app_id": "a1", "platform": "web", "attributes": attributes}), Some("a1"))),
        );
        for (body, app_id) in cases {
            let err = parse_identify_request(&body).err();
            assert_eq!(err.as_ref().map(|e| e.app_id.as_deref()), Some(app_id), "{body}");
            assert!(err.is_some_and(|e| !e.message.is_empty()));
        }
    }

    /// `Debug` of a request never shows the token or the hash.
    #[test]
    fn debug_redacts_credentials() {
        let body = json!({"app_id": "a1", "platform": "web", "user_jwt": "SECRETTOKEN", "user_hash": "abcdef"});
        let printed = format!("{:?}", parse_identify_request(&body));
        assert!(!printed.contains("SECRETTOKEN") && !printed.contains("abcdef"), "{printed}");
    }

    /// Signature bodies need a valid user id and a positive expiry.
    #[test]
    fn parses_signature_body() {
        let ok = parse_signature_request(&json!({"app_id": "a1", "user_id": "u1", "expires_in": 60}));
        assert_eq!(ok.map(|r| (r.user_id, r.expires_in)), Ok(("u1".to_string(), Some(60))));
        for bad in [
            json!({"app_id": "a1"}),
            json!({"app_id": "a1", "user_id": 5}),
            json!({"app_id": "a1", "user_id": "u", "expires_in": 0}),
            json!({"app_id": "a1", "user_id": "u", "expires_in": "60"}),
        ] {
            let err = parse_signature_request(&bad).err();
            assert_eq!(err.map(|e| e.app_id), Some(Some("a1".to_string())), "{bad}");
        }
    }
}
