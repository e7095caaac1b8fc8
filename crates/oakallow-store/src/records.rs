//! Records that exist only at the storage boundary: keys, checks, the group commit's writes
//! and activity filters.

use oakallow_domain::Permission;
use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::id::{CheckId, OrgId};
use oakallow_domain::org::ApiKey;
use oakallow_domain::permission::ResolvedFrom;

use crate::runtime_records::{ExecutionRecord, TokenRecord};

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

/// A token minted together with the write that authorizes it.
#[derive(Debug, Clone)]
pub struct MintedToken {
    /// The token.
    pub token: TokenRecord,
    /// Its `token.minted` entry.
    pub activity: ActivityRecord,
}

/// One unit of a group commit. Conditional writes report whether they applied.
#[derive(Debug, Clone)]
#[expect(clippy::large_enum_variant, reason = "each write is built once and moved into the committer; boxing buys nothing")]
pub enum RuntimeWrite {
    /// A permission check and its activity entry, and a token minted inline (`mint_token`).
    Check {
        /// The check.
        check: CheckRecord,
        /// Its `permission.checked` entry.
        activity: ActivityRecord,
        /// The inline token, if one was minted.
        token: Option<MintedToken>,
    },
    /// An activity entry on its own (e.g. `params.validated`, `token.rejected`).
    Activity(ActivityRecord),
    /// A token from an earlier check or approval. Applies only if no token was minted from the
    /// same source before (one approval, one token).
    MintToken(MintedToken),
    /// Accepts a token once. Applies (and writes `verified`) only if it was not consumed
    /// before; otherwise writes `already_used`.
    ConsumeToken {
        /// Org.
        org_id: OrgId,
        /// Token id.
        jti: String,
        /// Consumption time.
        at: Timestamp,
        /// `token.verified`, written when this call consumes it.
        verified: ActivityRecord,
        /// `token.rejected` (reason `used`), written when it was consumed before.
        already_used: ActivityRecord,
    },
    /// An execution report. With a token, applies only if no execution was logged with that
    /// token before, and consumes the token if nothing had.
    Execution {
        /// The execution.
        execution: ExecutionRecord,
        /// Its `execution.logged` entry.
        activity: ActivityRecord,
    },
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
    /// Entries with `seq` below this (the cursor, newest first).
    pub before_seq: Option<u64>,
    /// Entries with `seq` above this (the cursor, oldest first).
    pub after_seq: Option<u64>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
    /// At most this many.
    pub limit: u32,
}
