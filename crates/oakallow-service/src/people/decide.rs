//! Deciding an approval as a signed-in member: recorded as that person by account id (as
//! `decided_by` too: a name would reach webhook payloads and the activity chain, which keep it
//! after the account is deleted; the dashboard shows a current member's name in its place),
//! allowed only to members of the approver group of the level the approval waits at. The
//! level-2 "different person" rule compares account ids, so one person cannot decide both
//! levels, whatever name they type.

use oakallow_domain::approval::Verdict;
use oakallow_domain::policy::check_text;

use super::OrgMember;
use crate::Service;
use crate::approvals::{ApprovalView, Decision};
use crate::error::{ServiceError, ServiceResult};
use crate::redact;

impl Service {
    /// Approves or denies, with an optional note, as `member`.
    pub async fn decide_as_member(
        &self,
        member: &OrgMember,
        id: &str,
        verdict: Verdict,
        note: Option<String>,
    ) -> ServiceResult<ApprovalView> {
        let id = oakallow_domain::id::ApprovalId::parse(id).ok_or(ServiceError::NotFound { what: "approval" })?;
        let approval = self.store.approval(member.org_id(), id).await?.ok_or(ServiceError::NotFound { what: "approval" })?;
        if member.approver().may_decide(approval.level) {
            self.second_factor_gate(member, &approval.tool).await?;
        }
        let note = note.filter(|n| !n.trim().is_empty());
        check_text("note", note.as_deref())?;
        let by = member.account.id.to_string();
        let note = redact::optional_text(&member.org, note.as_deref());
        let decision = Decision { verdict, by, note, levels: Some(member.approver()) };
        self.decide(member.approval_reader().actor(), member.org_id(), id, decision).await
    }
}
