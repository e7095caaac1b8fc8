//! Records that exist only at the storage boundary.

use oakallow_domain::Permission;
use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::id::{CheckId, OrgId};
use oakallow_domain::org::ApiKey;
use oakallow_domain::permission::ResolvedFrom;

/// A key to create: its record and the SHA-256 of the raw key.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The record.
    pub key: ApiKey,
    /// SHA-256 of the raw key.
    pub digest: [u8; 32],
}

/// A permission check, kept so a token can later be minted from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRecord {
    /// Its id.
    pub id: CheckId,
    /// Org.
    pub org_id: OrgId,
    /// Tool name asked about.
    pub tool: String,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// The answer.
    pub permission: Permission,
    /// Where it came from.
    pub resolved_from: ResolvedFrom,
    /// Hex SHA-256 of the canonical params (of the original, unredacted params).
    pub params_sha256: String,
    /// When.
    pub created_at: Timestamp,
}

/// One unit of a group commit.
#[derive(Debug, Clone)]
pub enum RuntimeWrite {
    /// A permission check and its activity entry.
    Check {
        /// The check.
        check: CheckRecord,
        /// Its `permission.checked` entry.
        activity: ActivityRecord,
    },
    /// An activity entry on its own (e.g. `params.validated`).
    Activity(ActivityRecord),
}

impl RuntimeWrite {
    /// The activity entry this write appends.
    pub fn activity(&self) -> &ActivityRecord {
        match self {
            Self::Check { activity, .. } | Self::Activity(activity) => activity,
        }
    }
}

/// Filters of an activity listing; newest first, strictly before `before_seq` when set.
#[derive(Debug, Clone, Default)]
pub struct ActivityFilter {
    /// Only this type.
    pub kind: Option<ActivityType>,
    /// Only this tool name.
    pub tool: Option<String>,
    /// Only this tenant external id.
    pub tenant: Option<String>,
    /// Only this permission.
    pub permission: Option<Permission>,
    /// Only this result.
    pub result: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
    /// Entries with `seq` below this (the cursor).
    pub before_seq: Option<u64>,
    /// At most this many.
    pub limit: u32,
}
