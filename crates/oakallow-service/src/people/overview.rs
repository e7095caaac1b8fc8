//! The org's overview page: the last 24 hours of checks by permission, the approvals waiting,
//! and the owning account's balance. Bounded: at most [`COUNT_CAP`] entries are counted per
//! figure, and a figure at its cap reads "at least".

use oakallow_domain::approval::ApprovalStatus;
use oakallow_domain::audit::ActivityType;
use oakallow_domain::permission::Permission;
use oakallow_store::{ActivityFilter, ApprovalFilter};

use super::OrgMember;
use crate::Service;
use crate::billing::BillingView;
use crate::error::ServiceResult;

/// Most checks counted per permission.
pub const COUNT_CAP: usize = 10_000;
/// Most pending approvals counted (each is read whole).
pub const PENDING_CAP: usize = 500;

/// A count that stops at [`COUNT_CAP`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// How many were counted.
    pub value: usize,
    /// Whether counting stopped at the cap (there may be more).
    pub capped: bool,
}

/// What the overview shows.
#[derive(Debug, Clone)]
pub struct Overview {
    /// Checks answered `allowed`, `requires_approval`, `disabled` in the last 24 h.
    pub checks: [(Permission, Count); 3],
    /// Approvals pending now.
    pub pending: Count,
    /// The balance of the account that pays for the org (owners and admins only).
    pub billing: Option<BillingView>,
}

impl Service {
    /// The overview of the member's org.
    pub async fn overview(&self, member: &OrgMember) -> ServiceResult<Overview> {
        let since = self.clock.now().plus_seconds(-24 * 3600);
        let mut checks =
            [Permission::Allowed, Permission::RequiresApproval, Permission::Disabled].map(|p| (p, Count { value: 0, capped: false }));
        for (permission, count) in &mut checks {
            let filter = ActivityFilter {
                kind: Some(ActivityType::PermissionChecked),
                permission: Some(*permission),
                since: Some(since),
                ..Default::default()
            };
            *count = self.count_activity(member, filter).await?;
        }
        let filter = ApprovalFilter {
            status: Some(ApprovalStatus::Pending),
            tool: None,
            tenant: None,
            before: None,
            limit: PENDING_CAP as u32 + 1,
            now: self.clock.now(),
        };
        let pending = self.store.list_approvals(member.org_id(), &filter).await?;
        let pending = Count { value: pending.len().min(PENDING_CAP), capped: pending.len() > PENDING_CAP };
        let billing = match member.management() {
            Ok(manager) => Some(self.billing(&manager).await?),
            Err(_) => None,
        };
        Ok(Overview { checks, pending, billing })
    }

    async fn count_activity(&self, member: &OrgMember, mut filter: ActivityFilter) -> ServiceResult<Count> {
        let mut counted = 0;
        filter.limit = 500;
        loop {
            let entries = self.store.list_activity(member.org_id(), &filter).await?;
            counted += entries.len();
            match entries.last() {
                Some(last) if entries.len() == 500 && counted < COUNT_CAP => filter.before_seq = Some(last.seq),
                _ => return Ok(Count { value: counted.min(COUNT_CAP), capped: counted >= COUNT_CAP && entries.len() == 500 }),
            }
        }
    }
}
