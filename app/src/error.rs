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
        AppError { code: "internal".into(), message: format!("Request failed: {value}") }
    }
}

#[cfg(feature = "ssr")]
impl From<countersign_service::ServiceError> for AppError {
    fn from(err: countersign_service::ServiceError) -> Self {
        AppError { code: err.code.as_str().into(), message: err.message }
    }
}
