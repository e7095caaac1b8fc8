//! The people side: roles in an org, approver groups, dashboard sessions and invitations.
//! Secrets (session cookies, invitation links) are never kept; only their SHA-256 is.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::Timestamp;
use crate::id::{AccountId, InviteId, OrgId, SessionId};
use crate::org::Org;

/// What a member may do in an org. Owners and admins configure it; members read it.
/// Deciding approvals is separate: see [`ApproverLevels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads everything in the org.
    Member,
    /// Also changes the policy, keys, webhooks, settings, and invites members and admins.
    Admin,
    /// Also manages owners and deletes the org.
    Owner,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 3] = [Role::Member, Role::Admin, Role::Owner];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Owner => "owner",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role may change the org's configuration.
    pub fn can_configure(self) -> bool {
        self >= Self::Admin
    }
}

/// The approver groups a member belongs to: who may decide level 1, and level 2, of an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ApproverLevels {
    /// May decide level 1 (and single-level approvals).
    pub level1: bool,
    /// May decide level 2.
    pub level2: bool,
}

impl ApproverLevels {
    /// Both levels.
    pub const BOTH: Self = Self { level1: true, level2: true };

    /// Whether this member may decide an approval waiting at `level` (1 or 2).
    pub fn may_decide(self, level: u8) -> bool {
        match level {
            1 => self.level1,
            2 => self.level2,
            _ => false,
        }
    }
}

/// An account's place in an org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The org.
    pub org_id: OrgId,
    /// The member.
    pub account_id: AccountId,
    /// What they may do.
    pub role: Role,
    /// Which approval levels they may decide.
    pub approver: ApproverLevels,
    /// When they joined.
    pub created_at: Timestamp,
}

impl Membership {
    /// The place of the account that created `org`: owner, approving both levels, since the
    /// org's creation.
    pub fn owner_of(org: &Org) -> Self {
        Self { org_id: org.id, account_id: org.account_id, role: Role::Owner, approver: ApproverLevels::BOTH, created_at: org.created_at }
    }
}

/// A dashboard session. The cookie carries a random secret; the store keeps its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (to list and revoke sessions without their secrets).
    pub id: SessionId,
    /// SHA-256 of the cookie's secret.
    pub digest: [u8; 32],
    /// Who is signed in.
    pub account_id: AccountId,
    /// When it was created (at sign-in).
    pub created_at: Timestamp,
    /// When it stops working, whatever else happens.
    pub expires_at: Timestamp,
    /// When it was signed out or revoked.
    pub revoked_at: Option<Timestamp>,
}

impl Session {
    /// Whether the session signs its holder in at `now`.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

/// A single-use invitation to join an org with a role. The link carries a random secret; the
/// store keeps its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// Its id.
    pub id: InviteId,
    /// SHA-256 of the link's secret.
    pub digest: [u8; 32],
    /// The org it joins.
    pub org_id: OrgId,
    /// The role it grants.
    pub role: Role,
    /// The approver groups it grants.
    pub approver: ApproverLevels,
    /// Who invited.
    pub created_by: AccountId,
    /// When.
    pub created_at: Timestamp,
    /// After this it no longer works.
    pub expires_at: Timestamp,
    /// When it was used (or withdrawn); it works only while this is empty.
    pub used_at: Option<Timestamp>,
    /// Who used it.
    pub used_by: Option<AccountId>,
}

/// SHA-256 of a secret handed to a browser (session cookie, invitation link).
pub fn secret_digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_and_order() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert!(Role::Owner.can_configure() && Role::Admin.can_configure() && !Role::Member.can_configure());
    }

    #[test]
    fn approver_levels_decide_only_their_level() {
        let first = ApproverLevels { level1: true, level2: false };
        assert!(first.may_decide(1) && !first.may_decide(2) && !first.may_decide(3));
        assert!(ApproverLevels::BOTH.may_decide(2));
        assert!(!ApproverLevels::default().may_decide(1));
    }

    #[test]
    fn a_session_is_live_until_it_expires_or_is_revoked() {
        let t = |s: i64| Timestamp::from_micros(s * 1_000_000);
        let mut session = Session {
            id: SessionId::generate(),
            digest: secret_digest("s"),
            account_id: AccountId::generate(),
            created_at: t(0),
            expires_at: t(10),
            revoked_at: None,
        };
        assert!(session.is_live(t(9)) && !session.is_live(t(10)));
        session.revoked_at = Some(t(5));
        assert!(!session.is_live(t(6)));
    }
}
