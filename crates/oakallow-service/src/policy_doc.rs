//! `GET /v1/policy` and `PUT /v1/policy`: the whole policy as one declarative document, applied
//! in one transaction, idempotently, with a dry-run diff; and the preview the dashboard's API
//! Builder shows, planned exactly as a dry run.

use oakallow_domain::Timestamp;
use oakallow_domain::policy::{DocumentPlan, PolicyDiff, PolicyDocument, check_document_size, plan_document};
use serde::Serialize;
use serde_json::json;

use crate::auth::{Management, Reader};
use crate::error::ServiceResult;
use crate::manage::check_tool_schema;
use crate::orgs_cache::{OrgRuntime, PolicyPlan};
use crate::{Service, audit_details, redact};

/// Answer of `PUT /v1/policy`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PolicyApplied {
    /// Whether the changes were made (`false` for a dry run or when nothing differs).
    pub applied: bool,
    /// What differs between the policy and the document.
    pub diff: PolicyDiff,
}

impl Service {
    /// The org's policy as a document.
    pub async fn export_policy(&self, caller: &Reader) -> ServiceResult<PolicyDocument> {
        Ok(self.org_runtime(caller.org_id()).await?.policy.to_document())
    }

    /// Makes the org's policy equal to `document` (each section present is replaced; sections
    /// left out are kept), or with `dry_run` only reports what that would change.
    pub async fn apply_policy(&self, caller: &Management, document: PolicyDocument, dry_run: bool) -> ServiceResult<PolicyApplied> {
        let now = self.clock.now();
        if dry_run {
            let runtime = self.org_runtime(caller.org_id()).await?;
            let plan = plan_without_writing(&runtime, document, now)?;
            return Ok(PolicyApplied { applied: false, diff: plan.diff });
        }
        for tool in document.tools.iter().flatten() {
            check_tool_schema(tool)?;
        }
        self.orgs
            .edit_policy(self.store.as_ref(), caller.org_id(), |runtime| {
                let plan = plan_document(&runtime.policy, redact::spec(&runtime.org, document.clone()), now)?;
                let summary =
                    json!({ "created": plan.diff.created.len(), "updated": plan.diff.updated.len(), "deleted": plan.diff.deleted.len() });
                let details = audit_details("applied", "policy", None, &plan.diff, json!({ "summary": summary }));
                let activity = vec![self.config_changed(caller, details)];
                let applied = !plan.changes.is_empty();
                Ok(PolicyPlan {
                    state: plan.state,
                    changes: plan.changes,
                    activity,
                    outbox: Vec::new(),
                    answer: PolicyApplied { applied, diff: plan.diff },
                })
            })
            .await
    }

    /// The org's policy as `GET /v1/policy` would export it after `PUT /v1/policy` with
    /// `document`: checked and planned exactly as a dry run, but any member may ask, since
    /// nothing is written (the dashboard's API Builder).
    pub async fn preview_policy(&self, caller: &Reader, document: PolicyDocument) -> ServiceResult<PolicyDocument> {
        let runtime = self.org_runtime(caller.org_id()).await?;
        Ok(plan_without_writing(&runtime, document, self.clock.now())?.state.to_document())
    }
}

/// The plan of a dry run: the same checks as applying, against the org's current policy.
pub(crate) fn plan_without_writing(runtime: &OrgRuntime, document: PolicyDocument, now: Timestamp) -> ServiceResult<DocumentPlan> {
    for tool in document.tools.iter().flatten() {
        check_tool_schema(tool)?;
    }
    let plan = plan_document(&runtime.policy, redact::spec(&runtime.org, document), now)?;
    if !plan.changes.is_empty() {
        check_document_size(&runtime.policy, &plan.state)?;
    }
    Ok(plan)
}
