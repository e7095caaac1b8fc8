//! The service layer's error: every way a use case can refuse or fail, each with the stable
//! wire code of PRODUCT.md section 14. Messages never contain secrets or internals.

use oakallow_domain::policy::PolicyError;
use oakallow_store::StoreError;
use serde::Serialize;
use serde_json::{Value, json};

/// One failing path of a params validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ParamError {
    /// JSON Pointer into the params (empty for the whole object).
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

/// Why a use case did not succeed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceError {
    /// No key, an unknown key or a revoked key.
    #[error("a valid API key is required")]
    Unauthenticated,
    /// The key's tier may not do this.
    #[error("this endpoint needs a {required} key")]
    ForbiddenTier {
        /// Tiers that may.
        required: &'static str,
    },
    /// The signed-in member's role (or approver group) does not allow this.
    #[error("this needs {required}")]
    ForbiddenRole {
        /// Who may.
        required: &'static str,
    },
    /// The object does not exist in the caller's org.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// The tool name is not registered.
    #[error("tool {name:?} is not registered")]
    ToolNotFound {
        /// The name asked about.
        name: String,
    },
    /// The tool is disabled.
    #[error("tool {name:?} is disabled")]
    ToolDisabled {
        /// Its name.
        name: String,
    },
    /// A uniqueness or reference rule would be broken.
    #[error("{message}")]
    Conflict {
        /// What.
        message: String,
        /// Structured details.
        details: Value,
    },
    /// The request is malformed or a value is not acceptable.
    #[error("{message}")]
    InvalidRequest {
        /// What.
        message: String,
        /// Structured details.
        details: Value,
    },
    /// The params do not satisfy the tool's schema.
    #[error("params do not match the tool's parameters_schema")]
    InvalidParams {
        /// Every failing path.
        errors: Vec<ParamError>,
    },
    /// A token cannot be minted from this source.
    #[error("{message}")]
    NotAuthorized {
        /// Machine-readable reason, e.g. `not_allowed`.
        reason: String,
        /// Explanation.
        message: String,
    },
    /// The approval is no longer pending.
    #[error("the approval is {status}, not pending")]
    ApprovalNotPending {
        /// Its status.
        status: &'static str,
    },
    /// The token already has its execution.
    #[error("an execution was already logged with this token")]
    TokenUsed,
    /// The account's prepaid credit is used up.
    #[error("the account has no credit left for this call; add credit to continue")]
    InsufficientCredits,
    /// Too many requests; try again after the time given.
    #[error("too many requests; retry in {retry_after_seconds} s")]
    RateLimited {
        /// Seconds to wait (the `Retry-After` header).
        retry_after_seconds: u64,
    },
    /// The database cannot be reached; try again.
    #[error("the service is temporarily unavailable")]
    Unavailable,
    /// A bug or corrupt data; details are logged, not returned.
    #[error("internal error")]
    Internal,
}

impl ServiceError {
    /// A 400 with a message and no details.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidRequest { message: message.into(), details: json!({}) }
    }

    /// The stable wire code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::ForbiddenTier { .. } => "forbidden_tier",
            Self::ForbiddenRole { .. } => "forbidden_role",
            Self::NotFound { .. } => "not_found",
            Self::ToolNotFound { .. } => "tool_not_found",
            Self::ToolDisabled { .. } => "tool_disabled",
            Self::Conflict { .. } => "conflict",
            Self::InvalidRequest { .. } => "invalid_request",
            Self::InvalidParams { .. } => "invalid_params",
            Self::NotAuthorized { .. } => "not_authorized",
            Self::ApprovalNotPending { .. } => "approval_not_pending",
            Self::TokenUsed => "token_used",
            Self::InsufficientCredits => "insufficient_credits",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// Structured details for the error envelope.
    pub fn details(&self) -> Value {
        match self {
            Self::ForbiddenTier { required } => json!({ "required_tier": required }),
            Self::ForbiddenRole { required } => json!({ "required": required }),
            Self::ToolNotFound { name } | Self::ToolDisabled { name } => json!({ "tool": name }),
            Self::Conflict { details, .. } | Self::InvalidRequest { details, .. } => details.clone(),
            Self::InvalidParams { errors } => json!({ "errors": errors }),
            Self::NotAuthorized { reason, .. } => json!({ "reason": reason }),
            Self::ApprovalNotPending { status } => json!({ "status": status }),
            Self::RateLimited { retry_after_seconds } => json!({ "retry_after_seconds": retry_after_seconds }),
            _ => json!({}),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => Self::Conflict { message, details: json!({}) },
            StoreError::NotFound => Self::NotFound { what: "object" },
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "database unavailable");
                Self::Unavailable
            }
            StoreError::VersionConflict => {
                tracing::warn!("policy version conflict persisted through retries");
                Self::Unavailable
            }
            StoreError::Backend(reason) | StoreError::Corrupt(reason) => {
                tracing::error!(%reason, "database error");
                Self::Internal
            }
        }
    }
}

impl From<PolicyError> for ServiceError {
    fn from(error: PolicyError) -> Self {
        let message = error.to_string();
        match error {
            PolicyError::NotFound { kind } => Self::NotFound { what: kind.as_str() },
            PolicyError::Duplicate { kind, field, name } => {
                Self::Conflict { message, details: json!({ "kind": kind, "field": field, "value": name }) }
            }
            PolicyError::Referenced { kind, name, rules, tools } => Self::Conflict {
                message,
                details: json!({ "kind": kind, "name": name, "referenced_by": { "rules": rules, "tools": tools } }),
            },
            PolicyError::UnknownReference { kind, value } => {
                Self::InvalidRequest { message, details: json!({ "field": kind, "value": value }) }
            }
            PolicyError::Invalid(_) => Self::InvalidRequest { message, details: json!({}) },
        }
    }
}

/// Result of a use case.
pub type ServiceResult<T> = Result<T, ServiceError>;
