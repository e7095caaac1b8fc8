//! The error envelope on the wire: `{"error": {"code", "message", "details"}}` with the status of
//! PRODUCT.md section 14, for every failure, including ones raised by the framework.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oakallow_service::ServiceError;
use serde::Serialize;
use serde_json::{Value, json};

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Stable machine-readable code, e.g. `forbidden_tier`.
    pub code: String,
    /// Explanation for people.
    pub message: String,
    /// Structured details (may be empty).
    #[schema(value_type = Object)]
    pub details: Value,
}

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Value,
    /// Seconds for the `Retry-After` header.
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with empty details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), details: json!({}), retry_after: None }
    }

    /// 400 `invalid_request`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    /// 404 `not_found` for a route that does not exist.
    pub fn no_route() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    /// 413 `payload_too_large`.
    pub fn too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than this endpoint accepts (1 MiB; 32 MiB for a policy document)",
        )
    }

    /// 500 `internal`.
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error")
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        let status = match &error {
            ServiceError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ServiceError::ForbiddenTier { .. } | ServiceError::ForbiddenRole { .. } | ServiceError::ToolDisabled { .. } => {
                StatusCode::FORBIDDEN
            }
            ServiceError::NotFound { .. } | ServiceError::ToolNotFound { .. } => StatusCode::NOT_FOUND,
            ServiceError::Conflict { .. }
            | ServiceError::NotAuthorized { .. }
            | ServiceError::ApprovalNotPending { .. }
            | ServiceError::TokenUsed => StatusCode::CONFLICT,
            ServiceError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            ServiceError::InvalidParams { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::InsufficientCredits => StatusCode::PAYMENT_REQUIRED,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = match error {
            ServiceError::RateLimited { retry_after_seconds } => Some(retry_after_seconds),
            _ => None,
        };
        Self { status, code: error.code(), message: error.to_string(), details: error.details(), retry_after }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // Only the status and the code are logged: messages may quote the caller's input.
        if self.status.is_server_error() {
            tracing::warn!(status = self.status.as_u16(), code = self.code, "request failed");
        } else {
            tracing::debug!(status = self.status.as_u16(), code = self.code, "request refused");
        }
        let body = ErrorBody { error: ErrorDetail { code: self.code.to_owned(), message: self.message, details: self.details } };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
