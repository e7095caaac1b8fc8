//! Approvals without storage: how long one waits, its states and references, and what a
//! decision does (including the two-level rule that the second approver is another identity).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::ActorKind;
use crate::clock::Timestamp;
use crate::id::{ApprovalId, CheckId, OrgId};
use crate::secret::{RandomnessUnavailable, random_bytes};

/// Shortest approval timeout, in seconds.
pub const MIN_TIMEOUT_SECONDS: u32 = 60;
/// Longest approval timeout (7 days), in seconds.
pub const MAX_TIMEOUT_SECONDS: u32 = 7 * 24 * 3600;
/// Timeout when nobody set one, in seconds.
pub const DEFAULT_TIMEOUT_SECONDS: u32 = 3600;

/// The request's timeout, else the tool's, else the org's, else one hour; always clamped to
/// 60 s … 7 days.
pub fn effective_timeout(request: Option<u32>, tool: Option<u32>, org: Option<u32>) -> u32 {
    request.or(tool).or(org).unwrap_or(DEFAULT_TIMEOUT_SECONDS).clamp(MIN_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_most_specific_timeout_and_clamps_it() {
        assert_eq!(effective_timeout(None, None, None), 3600);
        assert_eq!(effective_timeout(None, None, Some(120)), 120);
        assert_eq!(effective_timeout(None, Some(300), Some(120)), 300);
        assert_eq!(effective_timeout(Some(900), Some(300), Some(120)), 900);
        assert_eq!(effective_timeout(Some(1), None, None), 60);
        assert_eq!(effective_timeout(Some(u32::MAX), None, None), 604_800);
    }
}

/// Where an approval stands. Only `pending` can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApprovalStatus {
    /// Waiting for a decision.
    Pending,
    /// Approved at every required level.
    Approved,
    /// Denied at some level.
    Denied,
    /// Nobody decided before `expires_at`.
    Expired,
    /// Withdrawn by the requester.
    Cancelled,
}

impl ApprovalStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "expired" => Some(Self::Expired),
            "cancelled" => Some(Self::Cancelled),
            _ => None,
        }
    }
}

/// A person's decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Let it run.
    Approved,
    /// Do not let it run.
    Denied,
}

impl Verdict {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Denied => "denied",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            _ => None,
        }
    }
}

/// Who made a decision, as oakallow verified it: the approver key now (`key`, `key_…`), a
/// dashboard user later (`user`, `acc_…`). `decided_by` is only the name the decider gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decider {
    /// `key` or `user`.
    pub kind: ActorKind,
    /// The key's or the account's id.
    pub id: String,
}

/// One level's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LevelDecision {
    /// 1 or 2.
    pub level: u8,
    /// The decision.
    pub decision: Verdict,
    /// Who decided, as they named themselves (free text).
    pub decided_by: String,
    /// Who decided, as verified; `null` only for a decision recorded before identities were.
    pub decider: Option<Decider>,
    /// Their note.
    pub note: Option<String>,
    /// When.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub decided_at: Timestamp,
}

/// A request for a human decision about one concrete call.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// Its id.
    pub id: ApprovalId,
    /// Org.
    pub org_id: OrgId,
    /// `REF-XXXXXXXX-XXXX`, unique per org.
    pub reference: String,
    /// Stored status (see [`Approval::status_at`] for the status as of a time).
    pub status: ApprovalStatus,
    /// The level waiting for a decision (or the last decided).
    pub level: u8,
    /// 1, or 2 for tools that need a second approval.
    pub required_levels: u8,
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// Params as stored (redacted when the org redacts).
    pub params: Option<Value>,
    /// Hex SHA-256 of the original params, for the token.
    pub params_sha256: String,
    /// Why the agent asks (redacted when the org redacts).
    pub reason: String,
    /// Free-form context (redacted when the org redacts).
    pub context: Option<Value>,
    /// The caller's own reference.
    pub reference_id: Option<String>,
    /// The check that led here, if any.
    pub check_id: Option<CheckId>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Deadline, fixed at creation.
    pub expires_at: Timestamp,
    /// When it left `pending`.
    pub decided_at: Option<Timestamp>,
    /// Who made the final decision.
    pub decided_by: Option<String>,
    /// The final decision's note (a denial's note is what the agent shows the model).
    pub note: Option<String>,
    /// Every level's decision, in order.
    pub decisions: Vec<LevelDecision>,
}

/// Why a decision cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    /// The approval is no longer pending (or expired at this time).
    #[error("the approval is {0}, not pending")]
    NotPending(&'static str),
    /// The level-2 decision must come from another identity than the level-1 decision (or
    /// the level-1 decider is unknown, so that cannot be shown).
    #[error("the second approval must come from a different approver than the first")]
    SamePerson,
}

/// What a decision does to a pending approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Level 1 approved; level 2 is now awaited (`approval.escalated`).
    Escalated,
    /// Final: approved or denied (`approval.decided`).
    Decided(Verdict),
}

impl Approval {
    /// The status as of `now`: a pending approval past its deadline is expired on every read,
    /// whether or not the sweeper has marked it yet.
    pub fn status_at(&self, now: Timestamp) -> ApprovalStatus {
        if self.status == ApprovalStatus::Pending && now >= self.expires_at { ApprovalStatus::Expired } else { self.status }
    }

    /// Plans a decision at `now` by `decider`; the caller applies it only if the approval is
    /// still at this level and pending when it writes (see the store's conditional update).
    ///
    /// A later level must come from another verified identity than every earlier level; the
    /// free-text `decided_by` plays no part (anyone holding an approver key can type any name).
    pub fn decide(&self, now: Timestamp, verdict: Verdict, decider: &Decider) -> Result<Outcome, DecideError> {
        let status = self.status_at(now);
        if status != ApprovalStatus::Pending {
            return Err(DecideError::NotPending(status.as_str()));
        }
        // An earlier decider who is not known cannot be shown to be someone else: refuse.
        let mut earlier = self.decisions.iter().filter(|d| d.level < self.level);
        if earlier.any(|d| d.decider.as_ref().is_none_or(|known| known == decider)) {
            return Err(DecideError::SamePerson);
        }
        Ok(match verdict {
            Verdict::Approved if self.level < self.required_levels => Outcome::Escalated,
            verdict => Outcome::Decided(verdict),
        })
    }

    /// The approval after `outcome` was applied at `now`.
    pub fn apply(&mut self, outcome: &Outcome, decision: LevelDecision) {
        match outcome {
            Outcome::Escalated => self.level += 1,
            Outcome::Decided(verdict) => {
                self.status = match verdict {
                    Verdict::Approved => ApprovalStatus::Approved,
                    Verdict::Denied => ApprovalStatus::Denied,
                };
                self.decided_at = Some(decision.decided_at);
                self.decided_by = Some(decision.decided_by.clone());
                self.note.clone_from(&decision.note);
            }
        }
        self.decisions.push(decision);
    }
}

/// RFC 4648 base32 alphabet.
const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new human-friendly reference, `REF-XXXXXXXX-XXXX` (60 random bits).
pub fn new_reference() -> Result<String, RandomnessUnavailable> {
    Ok(reference_from_bytes(random_bytes::<8>()?))
}

/// The reference written for 8 random bytes: their low 60 bits (big-endian), five at a time from
/// the least significant, as RFC 4648 base32 letters. Pinned by the golden vectors: references
/// already handed out must keep meaning what they meant.
pub fn reference_from_bytes(bytes: [u8; 8]) -> String {
    let bits = u64::from_be_bytes(bytes);
    let chars: String = (0..12).map(|i| BASE32[((bits >> (5 * i)) & 0x1f) as usize] as char).collect();
    format!("REF-{}-{}", &chars[..8], &chars[8..])
}

#[cfg(test)]
mod approval_tests {
    use super::*;

    fn pending(required_levels: u8) -> Approval {
        Approval {
            id: ApprovalId::generate(),
            org_id: OrgId::generate(),
            reference: new_reference().unwrap(),
            status: ApprovalStatus::Pending,
            level: 1,
            required_levels,
            tool: "refund".into(),
            tenant: None,
            resource: None,
            method: None,
            params: None,
            params_sha256: String::new(),
            reason: "because".into(),
            context: None,
            reference_id: None,
            check_id: None,
            created_at: Timestamp::from_micros(0),
            expires_at: Timestamp::from_micros(0).plus_seconds(60),
            decided_at: None,
            decided_by: None,
            note: None,
            decisions: vec![],
        }
    }

    fn key(id: &str) -> Decider {
        Decider { kind: ActorKind::Key, id: id.into() }
    }

    fn decision(level: u8, verdict: Verdict, by: &str, decider: &Decider) -> LevelDecision {
        LevelDecision {
            level,
            decision: verdict,
            decided_by: by.into(),
            decider: Some(decider.clone()),
            note: None,
            decided_at: Timestamp::from_micros(1),
        }
    }

    #[test]
    fn references_have_the_documented_shape() {
        let reference = new_reference().unwrap();
        assert_eq!(reference.len(), 17);
        assert!(reference.starts_with("REF-") && reference.as_bytes()[12] == b'-');
        assert!(reference[4..].chars().all(|c| c == '-' || c.is_ascii_uppercase() || ('2'..='7').contains(&c)));
    }

    #[test]
    fn expires_at_the_deadline_on_read() {
        let approval = pending(1);
        assert_eq!(approval.status_at(approval.expires_at.plus_seconds(-1)), ApprovalStatus::Pending);
        assert_eq!(approval.status_at(approval.expires_at), ApprovalStatus::Expired);
        assert_eq!(approval.decide(approval.expires_at, Verdict::Approved, &key("a")), Err(DecideError::NotPending("expired")));
    }

    #[test]
    fn two_levels_need_two_identities() {
        let (first, second) = (key("key_1"), key("key_2"));
        let mut approval = pending(2);
        let now = Timestamp::from_micros(1);
        let outcome = approval.decide(now, Verdict::Approved, &first).unwrap();
        assert_eq!(outcome, Outcome::Escalated);
        approval.apply(&outcome, decision(1, Verdict::Approved, "alice", &first));
        assert_eq!((approval.level, approval.status), (2, ApprovalStatus::Pending));
        assert_eq!(approval.decide(now, Verdict::Approved, &first), Err(DecideError::SamePerson), "another name, same key");
        let as_user = Decider { kind: ActorKind::User, id: "key_1".into() };
        assert!(approval.decide(now, Verdict::Approved, &as_user).is_ok(), "kind and id together are the identity");
        let outcome = approval.decide(now, Verdict::Denied, &second).unwrap();
        approval.apply(&outcome, decision(2, Verdict::Denied, "alice", &second));
        assert_eq!((approval.status, approval.decided_by.as_deref()), (ApprovalStatus::Denied, Some("alice")));
        assert_eq!(approval.decide(now, Verdict::Approved, &key("key_3")), Err(DecideError::NotPending("denied")));
    }

    #[test]
    fn an_unknown_first_decider_cannot_be_told_apart() {
        let mut approval = pending(2);
        let mut first = decision(1, Verdict::Approved, "alice", &key("key_1"));
        first.decider = None;
        approval.apply(&Outcome::Escalated, first);
        assert_eq!(approval.decide(Timestamp::from_micros(1), Verdict::Approved, &key("key_2")), Err(DecideError::SamePerson));
    }
}
