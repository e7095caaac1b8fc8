//! Members' names in place of their account ids. The activity chain and approval decisions
//! record a dashboard member by account id, never by name (so deleting the account leaves
//! nothing personal in records that cannot be rewritten); these pages show the name of a current
//! member instead, and the id of anyone who has left.

use std::collections::HashMap;

use oakallow_domain::approval::LevelDecision;
use oakallow_domain::audit::{Actor, ActorKind};
use oakallow_service::Service;
use oakallow_service::approvals::ApprovalView;
use oakallow_service::error::ServiceResult;
use oakallow_service::people::OrgMember;

/// The org's members' names by account id.
pub(super) struct Names(HashMap<String, String>);

impl Names {
    /// The names of the members of `member`'s org.
    pub(super) async fn load(service: &Service, member: &OrgMember) -> ServiceResult<Self> {
        let team = service.team(member).await?;
        Ok(Self(team.into_iter().map(|m| (m.account.id.to_string(), m.account.name)).collect()))
    }

    fn of(&self, id: &str) -> Option<&String> {
        self.0.get(id)
    }

    /// Who an activity entry's actor is: a member's name for a member, else its label.
    pub(super) fn actor(&self, actor: &Actor) -> String {
        let named = (actor.kind == ActorKind::User).then(|| self.of(&actor.id)).flatten();
        named.unwrap_or(&actor.label).clone()
    }

    /// The approval with members' names for the account ids its decisions were recorded under.
    pub(super) fn approval(&self, mut view: ApprovalView) -> ApprovalView {
        let by_member =
            |d: &LevelDecision| d.decider.as_ref().filter(|decider| decider.kind == ActorKind::User).map(|decider| decider.id.clone());
        if let Some(by) = &view.decided_by
            && let Some(name) = view.decisions.iter().filter_map(by_member).find(|id| id == by).and_then(|id| self.of(&id))
        {
            view.decided_by = Some(name.clone());
        }
        for decision in &mut view.decisions {
            if let Some(name) = by_member(decision).filter(|id| *id == decision.decided_by).and_then(|id| self.of(&id)) {
                decision.decided_by = name.clone();
            }
        }
        view
    }
}
