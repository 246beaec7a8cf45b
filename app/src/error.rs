//! The dashboard's error type: the same stable codes as the HTTP API, kept typed across the
//! server-function boundary.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// An error shown in the dashboard: a contract code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub code: String,
    pub message: String,
}

impl AppError {
    /// The dashboard's own code beside the contract's: an action with a visible impact waits
    /// for the caller to confirm it (the message says what would happen).
    pub const CONFIRMATION_REQUIRED: &str = "confirmation_required";

    /// An action that waits for confirmation.
    pub fn confirmation_required(message: String) -> Self {
        AppError { code: Self::CONFIRMATION_REQUIRED.into(), message }
    }

    /// Whether the caller must sign in (again).
    pub fn is_unauthorized(&self) -> bool {
        self.code == "unauthorized"
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            // Arguments the server could not read are the caller's mistake, as in the HTTP API.
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => {
                AppError { code: "invalid_request".into(), message: format!("Invalid request: {value}.") }
            }
            _ => AppError { code: "internal".into(), message: format!("Request failed: {value}") },
        }
    }

    /// Encodes the error and, on the server, answers with the status of its code, as the HTTP
    /// API does (the framework would answer every error with a 500).
    fn ser(&self) -> leptos::server_fn::Bytes {
        #[cfg(feature = "ssr")]
        ssr::set_status(&self.code);
        let encoded = <JsonEncoding as leptos::server_fn::Encodes<Self>>::encode(self);
        encoded.unwrap_or_else(|_| {
            leptos::server_fn::Bytes::from_static(br#"{"code":"internal","message":"Request failed."}"#)
        })
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use countersign_service::ErrorCode;
    use http::header::ACCEPT;
    use http::request::Parts;
    use http::StatusCode;
    use leptos::prelude::use_context;
    use leptos_axum::ResponseOptions;

    /// Sets the response status for an error code. A plain HTML form post keeps the framework's
    /// redirect back to the form, so the dashboard still works without JavaScript.
    pub fn set_status(code: &str) {
        let form_post = use_context::<Parts>()
            .and_then(|parts| parts.headers.get(ACCEPT)?.to_str().ok().map(|accept| accept.contains("text/html")))
            .unwrap_or(false);
        let status = match code {
            super::AppError::CONFIRMATION_REQUIRED => Some(StatusCode::CONFLICT),
            code => ErrorCode::from_wire(code).and_then(|code| StatusCode::from_u16(code.status()).ok()),
        };
        if let (false, Some(response), Some(status)) = (form_post, use_context::<ResponseOptions>(), status) {
            response.set_status(status);
        }
    }
}

#[cfg(feature = "ssr")]
impl From<countersign_service::ServiceError> for AppError {
    fn from(err: countersign_service::ServiceError) -> Self {
        AppError { code: err.code.as_str().into(), message: err.message }
    }
}
