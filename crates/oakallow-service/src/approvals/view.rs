//! How an approval reads through the API and in webhooks, as of a time (an approval past its
//! deadline reads `expired` even before the sweeper marks it).

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{Approval, ApprovalStatus, LevelDecision};
use serde::Serialize;
use serde_json::Value;

/// An approval as answered by the API.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    /// Its id.
    pub id: String,
    /// `REF-XXXXXXXX-XXXX`.
    pub reference: String,
    /// Status as of the read.
    pub status: ApprovalStatus,
    /// The level awaiting a decision (or the last decided).
    pub level: u8,
    /// 1 or 2.
    pub required_levels: u8,
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// Params (redacted when the org redacts).
    #[schema(value_type = Option<Object>)]
    pub params: Option<Value>,
    /// Why the agent asked (redacted when the org redacts).
    pub reason: String,
    /// Context (redacted when the org redacts).
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// The caller's own reference.
    pub reference_id: Option<String>,
    /// The check that led here.
    pub check_id: Option<String>,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Deadline.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
    /// When it left `pending` (the deadline, for an expired approval).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub decided_at: Option<Timestamp>,
    /// Who made the final decision.
    pub decided_by: Option<String>,
    /// The final decision's note.
    pub note: Option<String>,
    /// Every level's decision.
    pub decisions: Vec<LevelDecision>,
}

impl ApprovalView {
    /// `approval` as it reads at `now`.
    pub fn at(approval: &Approval, now: Timestamp) -> Self {
        let status = approval.status_at(now);
        let lazily_expired = status == ApprovalStatus::Expired && approval.status == ApprovalStatus::Pending;
        Self {
            id: approval.id.to_string(),
            reference: approval.reference.clone(),
            status,
            level: approval.level,
            required_levels: approval.required_levels,
            tool: approval.tool.clone(),
            tenant: approval.tenant.clone(),
            resource: approval.resource.clone(),
            method: approval.method.clone(),
            params: approval.params.clone(),
            reason: approval.reason.clone(),
            context: approval.context.clone(),
            reference_id: approval.reference_id.clone(),
            check_id: approval.check_id.map(|id| id.to_string()),
            created_at: approval.created_at,
            expires_at: approval.expires_at,
            decided_at: if lazily_expired { Some(approval.expires_at) } else { approval.decided_at },
            decided_by: approval.decided_by.clone(),
            note: approval.note.clone(),
            decisions: approval.decisions.clone(),
        }
    }
}
