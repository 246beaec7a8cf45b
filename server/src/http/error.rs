//! The HTTP face of errors: every error of every endpoint is
//! `{"error": {"code", "message"}}` (plus `log_id` where a log row was written).

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use countersign_service::{ErrorCode, ServiceError};

/// An error answered as the contract's JSON envelope.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl ApiError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError(ServiceError::new(code, message))
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        ApiError(err)
    }
}

impl From<JsonRejection> for ApiError {
    /// A body too large is 413; anything else wrong with the JSON is 400 naming the problem.
    fn from(rejection: JsonRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(ErrorCode::PayloadTooLarge, "The request body is larger than 64 KiB.");
        }
        ApiError::new(ErrorCode::InvalidRequest, format!("Invalid JSON body: {}", rejection.body_text()))
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return ApiError::new(ErrorCode::PayloadTooLarge, "The request body is larger than 64 KiB.");
        }
        ApiError::new(ErrorCode::InvalidRequest, format!("Unreadable body: {}", rejection.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    /// An id that does not parse names nothing that exists: 404, like any unknown id.
    fn from(_: PathRejection) -> Self {
        ApiError(ServiceError::not_found("Resource"))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, format!("Invalid query string: {}", rejection.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        let status = StatusCode::from_u16(err.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::json!({ "error": { "code": err.code.as_str(), "message": err.message } });
        let mut response = (status, Json(body)).into_response();
        if let Some(wait) = err.retry_after {
            if let Ok(value) = HeaderValue::from_str(&wait.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
