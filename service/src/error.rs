//! The one error type of the application layer. Every variant carries a stable snake_case code
//! of the public contract; the HTTP adapter picks the status, the dashboard shows the message.
//! Unexpected faults are logged in full here and reach clients only as `internal`.

use std::fmt;

/// Declares the error codes once, so the enum, `ALL` and the wire names cannot drift apart.
macro_rules! error_codes {
    ($($variant:ident => $wire:literal,)+) => {
        /// A stable error code of the public contract (`error.code` in every JSON error).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($variant,)+
        }

        impl ErrorCode {
            /// Every code, for look-ups by wire name.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $wire,)+
                }
            }
        }
    };
}

error_codes! {
    InvalidRequest => "invalid_request",
    Unauthorized => "unauthorized",
    InvalidCredentials => "invalid_credentials",
    Forbidden => "forbidden",
    CsrfFailed => "csrf_failed",
    SignupDisabled => "signup_disabled",
    NotFound => "not_found",
    UnknownApp => "unknown_app",
    MethodNotAllowed => "method_not_allowed",
    Conflict => "conflict",
    LastOwner => "last_owner",
    InvitationExpired => "invitation_expired",
    InvitationUsed => "invitation_used",
    InvitationRevoked => "invitation_revoked",
    PayloadTooLarge => "payload_too_large",
    RateLimited => "rate_limited",
    Unavailable => "unavailable",
    Internal => "internal",
}

impl ErrorCode {
    /// The code with this wire name, if it is one of the contract's.
    pub fn from_wire(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.iter().copied().find(|code| code.as_str() == name)
    }

    /// The HTTP status that goes with the code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::Unauthorized | ErrorCode::InvalidCredentials => 401,
            ErrorCode::Forbidden | ErrorCode::CsrfFailed | ErrorCode::SignupDisabled => 403,
            ErrorCode::NotFound | ErrorCode::UnknownApp => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict | ErrorCode::LastOwner => 409,
            ErrorCode::InvitationExpired | ErrorCode::InvitationUsed | ErrorCode::InvitationRevoked => 410,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::RateLimited => 429,
            ErrorCode::Internal => 500,
            ErrorCode::Unavailable => 503,
        }
    }
}

/// An error of an operation: a code, a human sentence, and for `rate_limited` the wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub code: ErrorCode,
    pub message: String,
    /// Seconds the client should wait (sent as `Retry-After`), for `rate_limited`.
    pub retry_after: Option<u64>,
}

impl ServiceError {
    /// An error with a code and a message for the client.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ServiceError { code, message: message.into(), retry_after: None }
    }

    /// `invalid_request` with a message naming the field at fault.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    /// `not_found`: also the answer for anything of a workspace the caller does not belong to.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found."))
    }

    /// `forbidden`: the caller is a member, but their role does not allow this.
    pub fn forbidden() -> Self {
        Self::new(ErrorCode::Forbidden, "Your role in this workspace does not allow this action.")
    }

    /// `unauthorized`: no valid session or token.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Sign in, or send a valid personal access token.")
    }

    /// `rate_limited`, with the wait (whole seconds, at least one) sent as `Retry-After`.
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ServiceError { retry_after: Some(seconds.max(1)), ..Self::new(ErrorCode::RateLimited, message) }
    }

    /// `internal`: logs the cause in full; the client sees only a generic sentence.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, "Internal server error.")
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ServiceError {}

impl From<sqlx::Error> for ServiceError {
    /// A missing row is a 404; a lost or exhausted pool is a 503; anything else is internal.
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::RowNotFound => ServiceError::not_found("Resource"),
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                tracing::error!(error = %err, "database unavailable");
                ServiceError::new(ErrorCode::Unavailable, "The database is unavailable; try again shortly.")
            }
            other => ServiceError::internal(other),
        }
    }
}

/// Result of an operation.
pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn wire_names_round_trip() {
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::from_wire("teapot"), None);
    }
}
