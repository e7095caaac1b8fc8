//! How a tool call that oakallow authorized (or did not) went, as `POST /v1/executions` records it.

use serde::{Deserialize, Serialize};

/// How the call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExecutionResult {
    /// It worked.
    Success,
    /// The tool reported a failure.
    Failed,
    /// The call could not be made.
    Error,
}

impl ExecutionResult {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failed => "failed",
            Self::Error => "error",
        }
    }
}
