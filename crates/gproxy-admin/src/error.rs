//! The admin API's error: an HTTP status, a stable code, a message and,
//! for bad input, the exact path of the offending field.

use http::StatusCode;
use schemars::JsonSchema;
use serde::Serialize;

/// An admin API failure, rendered as `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`invalid`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
    /// The request field at fault (`targets[1].weight`), when one is.
    pub field: Option<String>,
    /// The methods the path takes (sent as `Allow` with a 405).
    pub allow: Option<String>,
}

/// The JSON body of every admin error.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// The error inside [`ErrorBody`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The request field at fault, when one is.
    pub field: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            allow: None,
        }
    }

    /// 400 about `field`.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            field: Some(field.into()),
            ..Self::new(StatusCode::BAD_REQUEST, "invalid", message)
        }
    }

    /// 400 without a field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message)
    }

    /// 401.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 405, with the methods the path takes.
    pub fn method_not_allowed(message: impl Into<String>, allow: &[&str]) -> Self {
        ApiError {
            allow: Some(allow.join(", ")),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                message,
            )
        }
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 413.
    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message)
    }

    /// 408: the request body did not arrive in time.
    pub fn request_timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "timeout", message)
    }

    /// 415.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        )
    }

    /// 429 (login guessing).
    pub fn too_many(message: impl Into<String>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
    }

    /// 500; the detail goes to the log, not to the caller.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "admin API internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the gateway log",
        )
    }

    /// 502: an upstream could not be reached (credential test).
    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, "upstream", message)
    }

    /// The JSON body.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                field: self.field.clone(),
            },
        }
    }
}

impl From<gproxy_storage::StorageError> for ApiError {
    fn from(e: gproxy_storage::StorageError) -> Self {
        use gproxy_storage::StorageError;
        match e {
            StorageError::InvalidValue { field, reason } => {
                // `users.name` → `name`: the caller's field, not the column.
                let field = field.rsplit('.').next().unwrap_or(field);
                ApiError::field(field, reason)
            }
            StorageError::Conflict { what } => ApiError::conflict(format!("{what} already exists")),
            other => ApiError::internal(other),
        }
    }
}

impl From<gproxy_core::CoreError> for ApiError {
    fn from(e: gproxy_core::CoreError) -> Self {
        match e {
            gproxy_core::CoreError::Storage(s) => s.into(),
            gproxy_core::CoreError::Invalid(m) => ApiError::bad_request(m),
            other => ApiError::internal(other),
        }
    }
}
