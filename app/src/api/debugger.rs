//! Server functions: the token debugger and its test tokens. The pasted token travels only in
//! the POST body; it is never stored, logged or put in an address.

use countersign_core::debug::{DebugReport, TestToken};
use leptos::prelude::*;
use uuid::Uuid;

#[cfg(feature = "ssr")]
use super::ssr;
use crate::error::AppError;

/// Debugs a token (or a legacy `user_id` + `user_hash`) as `platform` would see it; writes no
/// verification log row. Blank fields count as absent.
#[server(prefix = "/ui")]
pub async fn debug_token(
    workspace: Uuid,
    platform: Option<String>,
    user_jwt: Option<String>,
    user_id: Option<String>,
    user_hash: Option<String>,
    origin: Option<String>,
) -> Result<DebugReport, AppError> {
    let svc = ssr::service()?;
    let given = |field: Option<String>| field.filter(|v| !v.is_empty());
    let body = serde_json::json!({
        "platform": given(platform),
        "user_jwt": given(user_jwt),
        "user_id": given(user_id),
        "user_hash": given(user_hash).map(|h| h.trim().to_owned()),
        "origin": given(origin).map(|o| o.trim().to_owned()),
    });
    Ok(svc.debug_token(&ssr::actor().await?, workspace, &body).await?)
}

/// Signs a test token with the primary key. `attributes` is JSON text (blank for none),
/// `expires_in` seconds.
#[server(prefix = "/ui")]
pub async fn make_test_token(
    workspace: Uuid,
    user_id: Option<String>,
    attributes: Option<String>,
    expires_in: Option<String>,
) -> Result<TestToken, AppError> {
    let svc = ssr::service()?;
    let invalid = |message: &str| AppError { code: "invalid_request".into(), message: message.into() };
    let attributes: Option<serde_json::Value> = match attributes.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(
            serde_json::from_str(text)
                .map_err(|_| invalid("Attributes must be a JSON object, e.g. {\"plan\": \"pro\"}."))?,
        ),
    };
    let expires_in: Option<i64> = match expires_in.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(text.parse().map_err(|_| invalid("Expiry must be a whole number of seconds."))?),
    };
    let body = serde_json::json!({"user_id": user_id, "attributes": attributes, "expires_in": expires_in});
    Ok(svc.debug_test_token(&ssr::actor().await?, workspace, &body).await?)
}
