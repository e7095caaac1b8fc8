//! Orgs as their members see them: creating and choosing orgs, the team, roles, approver
//! groups and single-use invitation links.
//!
//! Who may change the team: owners and admins; only an owner may make, change or remove an
//! owner; an org always keeps at least one owner; anyone may leave (but the last owner).

use oakallow_domain::account::{ApproverLevels, Invite, Membership, Role, secret_digest};
use oakallow_domain::id::{AccountId, InviteId, OrgId};
use oakallow_domain::org::Org;
use oakallow_domain::policy::check_name;
use oakallow_store::{Member, OrgMembership};

use super::{BrowserSecret, OrgMember, SignedIn};
use crate::Service;
use crate::error::{ServiceError, ServiceResult};

/// A new invitation and the secret for its link (shown once).
#[derive(Debug, Clone)]
pub struct CreatedInvite {
    /// The invitation.
    pub invite: Invite,
    /// The secret that goes into the link.
    pub secret: BrowserSecret,
}

fn not_found(what: &'static str) -> ServiceError {
    ServiceError::NotFound { what }
}

impl Service {
    /// The orgs the account is a member of, with its role in each, oldest first.
    pub async fn my_orgs(&self, who: &SignedIn) -> ServiceResult<Vec<OrgMembership>> {
        Ok(self.store.memberships_of_account(who.account.id).await?)
    }

    /// The signed-in account acting in the org with id `org` (as written in a URL); 404 if it is
    /// not a member or the org does not exist, alike.
    pub async fn member(&self, who: &SignedIn, org: &str) -> ServiceResult<OrgMember> {
        let org_id = OrgId::parse(org).ok_or(not_found("org"))?;
        let membership = self.store.membership(org_id, who.account.id).await?.ok_or(not_found("org"))?;
        let org = self.org_runtime(org_id).await?.org.clone();
        Ok(OrgMember { org, account: who.account.clone(), membership, session_id: who.session_id })
    }

    /// A new org owned by the signed-in account (its owner, approving both levels).
    pub async fn create_org_as(&self, who: &SignedIn, name: &str) -> ServiceResult<Org> {
        let name = name.trim();
        check_name("name", name)?;
        let org = Org::new(who.account.id, name.to_owned(), self.clock.now());
        self.store.create_org(&org, &[], Vec::new()).await?;
        Ok(org)
    }

    /// The org's members, oldest first.
    pub async fn team(&self, member: &OrgMember) -> ServiceResult<Vec<Member>> {
        Ok(self.store.members(member.org_id()).await?)
    }

    /// A single-use link that makes whoever opens it (signed in or signing up) a member with
    /// `role` and `approver` groups. Owners and admins invite; only owners invite owners.
    pub async fn invite(&self, member: &OrgMember, role: Role, approver: ApproverLevels) -> ServiceResult<CreatedInvite> {
        self.may_grant(member, role)?;
        let secret = BrowserSecret::generate()?;
        let now = self.clock.now();
        let lifetime = i64::try_from(self.config.accounts.invite_lifetime.as_secs()).unwrap_or(i64::MAX);
        let invite = Invite {
            id: InviteId::generate(),
            digest: secret_digest(secret.expose()),
            org_id: member.org_id(),
            role,
            approver,
            created_by: member.account.id,
            created_at: now,
            expires_at: now.plus_seconds(lifetime),
            used_at: None,
            used_by: None,
        };
        self.store.create_invite(&invite).await?;
        Ok(CreatedInvite { invite, secret })
    }

    /// The org's open invitations, newest first.
    pub async fn invites(&self, member: &OrgMember) -> ServiceResult<Vec<Invite>> {
        member.management()?;
        Ok(self.store.open_invites(member.org_id(), self.clock.now()).await?)
    }

    /// Withdraws an open invitation.
    pub async fn withdraw_invite(&self, member: &OrgMember, id: &str) -> ServiceResult<()> {
        member.management()?;
        let id = InviteId::parse(id).ok_or(not_found("invitation"))?;
        self.store.withdraw_invite(member.org_id(), id, self.clock.now()).await.map_err(|_| not_found("invitation"))
    }

    /// The invitation behind a link, if it can still be used (404 otherwise, whatever the
    /// reason, so a link tells nothing once it is spent).
    pub async fn usable_invite(&self, secret: &str) -> ServiceResult<(Invite, Org)> {
        let now = self.clock.now();
        let invite = self.store.invite_by_digest(&secret_digest(secret)).await?.ok_or(not_found("invitation"))?;
        if invite.used_at.is_some() || now >= invite.expires_at {
            return Err(not_found("invitation"));
        }
        let org = self.org_runtime(invite.org_id).await?.org.clone();
        Ok((invite, org))
    }

    /// Uses an invitation link for the signed-in account; it works once.
    pub async fn accept_invite(&self, who: &SignedIn, secret: &str) -> ServiceResult<Membership> {
        let accepted = self.store.accept_invite(&secret_digest(secret), who.account.id, self.clock.now()).await?;
        accepted.ok_or(not_found("invitation"))
    }

    /// Changes a member's role and approver groups.
    pub async fn change_member(
        &self,
        member: &OrgMember,
        account: &str,
        role: Role,
        approver: ApproverLevels,
    ) -> ServiceResult<Membership> {
        let mut target = self.team_member(member, account).await?;
        self.may_grant(member, target.role.max(role))?;
        if target.role == Role::Owner && role != Role::Owner {
            self.keep_an_owner(member.org_id(), target.account_id).await?;
        }
        target.role = role;
        target.approver = approver;
        self.store.put_membership(&target).await?;
        Ok(target)
    }

    /// Removes a member (or lets a member leave).
    pub async fn remove_member(&self, member: &OrgMember, account: &str) -> ServiceResult<()> {
        let target = self.team_member(member, account).await?;
        if target.account_id != member.account.id {
            self.may_grant(member, target.role)?;
        }
        if target.role == Role::Owner {
            self.keep_an_owner(member.org_id(), target.account_id).await?;
        }
        Ok(self.store.remove_membership(member.org_id(), target.account_id).await?)
    }

    async fn team_member(&self, member: &OrgMember, account: &str) -> ServiceResult<Membership> {
        let id = AccountId::parse(account).ok_or(not_found("member"))?;
        self.store.membership(member.org_id(), id).await?.ok_or(not_found("member"))
    }

    /// Whether `member` may give (or take away) `role`: admins up to admin, owners anything.
    fn may_grant(&self, member: &OrgMember, role: Role) -> ServiceResult<()> {
        member.management()?;
        if role == Role::Owner && member.role() != Role::Owner {
            return Err(ServiceError::ForbiddenRole { required: "the owner role" });
        }
        Ok(())
    }

    async fn keep_an_owner(&self, org: OrgId, leaving: AccountId) -> ServiceResult<()> {
        let owners = self.store.members(org).await?.into_iter().filter(|m| m.membership.role == Role::Owner);
        if owners.filter(|m| m.account.id != leaving).count() == 0 {
            return Err(ServiceError::Conflict {
                message: "an org must keep at least one owner; make someone else owner first".into(),
                details: serde_json::json!({}),
            });
        }
        Ok(())
    }
}
