//! Target `identify_request`: arbitrary bytes as an identify body.

use countersign_core::request::{MAX_ATTRIBUTES, MAX_ATTRIBUTES_BYTES, MAX_ATTRIBUTE_NAME_BYTES};
use countersign_core::{parse_identify_request, IdentifyRequest};
use serde_json::Value;

use crate::alloc::within_budget;

/// Decodes `data` as the identify handler does (`serde_json::from_slice`, then
/// `parse_identify_request`) and checks:
/// - an accepted request has a non-empty `app_id`, its fields are the body's (no coercion), and
///   its attributes are within the per-request bounds;
/// - a refusal has a message, and names the `app_id` only when the body had that string;
/// - `Debug` of a request never shows its token or hash.
pub fn identify_request(data: &[u8]) {
    within_budget("identify_request", data, || check(data));
}

fn check(data: &[u8]) {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let sent = |field: &str| body.get(field).filter(|v| !v.is_null());
    match parse_identify_request(&body) {
        Ok(req) => {
            assert!(!req.app_id.is_empty());
            assert_eq!(sent("app_id").and_then(Value::as_str), Some(req.app_id.as_str()));
            assert_eq!(sent("platform").and_then(Value::as_str), Some(req.platform.as_str()));
            assert_eq!(sent("user_jwt").and_then(Value::as_str), req.user_jwt.as_deref());
            assert_eq!(sent("user_hash").and_then(Value::as_str), req.user_hash.as_deref());
            assert_eq!(sent("user_id"), req.user_id.as_ref());
            assert_eq!(sent("attributes").and_then(Value::as_object), req.attributes.as_ref());
            if let Some(attributes) = &req.attributes {
                assert!(attributes.len() <= MAX_ATTRIBUTES);
                let mut bytes = 0;
                for (name, value) in attributes {
                    assert!((1..=MAX_ATTRIBUTE_NAME_BYTES).contains(&name.len()));
                    bytes += name.len() + value.as_str().map_or(0, str::len);
                }
                assert!(bytes <= MAX_ATTRIBUTES_BYTES);
            }
            check_debug_redacts(&req);
        }
        Err(err) => {
            assert!(!err.message.is_empty());
            if let Some(app_id) = &err.app_id {
                assert_eq!(sent("app_id").and_then(Value::as_str), Some(app_id.as_str()));
            }
        }
    }
}

/// The request's `Debug` shows its token and hash nowhere the rest of the request does not.
fn check_debug_redacts(req: &IdentifyRequest) {
    let printed = format!("{req:?}");
    let without = format!("{:?}", IdentifyRequest { user_jwt: None, user_hash: None, ..req.clone() });
    for secret in [&req.user_jwt, &req.user_hash].into_iter().flatten() {
        // Short values can appear by chance ("<redacted, 1 bytes>" holds many short strings).
        if secret.len() >= 16 && !secret.contains("redacted") && !without.contains(secret.as_str()) {
            assert!(!printed.contains(secret.as_str()), "Debug shows a credential");
        }
    }
}
