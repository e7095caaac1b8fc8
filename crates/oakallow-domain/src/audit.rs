//! The audit trail's entries and their per-org hash chain:
//! `hash = SHA-256(prev_hash || canonical JSON of the entry without hash)`, hex encoded, with a
//! genesis `prev_hash` of 64 zeros. Changing any stored field of any entry breaks the chain there.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::{write_string, write_value};
use crate::clock::Timestamp;
use crate::id::{ActivityId, ApprovalId, CheckId, OrgId, RuleId};
use crate::permission::{Permission, ResolvedFrom};

/// `prev_hash` of an org's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The type of an activity entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[expect(missing_docs, reason = "each variant is its wire name")]
pub enum ActivityType {
    #[serde(rename = "permission.checked")]
    PermissionChecked,
    #[serde(rename = "params.validated")]
    ParamsValidated,
    #[serde(rename = "approval.created")]
    ApprovalCreated,
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
    #[serde(rename = "approval.escalated")]
    ApprovalEscalated,
    #[serde(rename = "approval.expired")]
    ApprovalExpired,
    #[serde(rename = "approval.cancelled")]
    ApprovalCancelled,
    #[serde(rename = "approval.polled")]
    ApprovalPolled,
    #[serde(rename = "token.minted")]
    TokenMinted,
    #[serde(rename = "token.verified")]
    TokenVerified,
    #[serde(rename = "token.rejected")]
    TokenRejected,
    #[serde(rename = "execution.logged")]
    ExecutionLogged,
    #[serde(rename = "key.created")]
    KeyCreated,
    #[serde(rename = "key.revoked")]
    KeyRevoked,
    #[serde(rename = "config.changed")]
    ConfigChanged,
}

impl ActivityType {
    /// Every type.
    pub const ALL: [Self; 15] = [
        Self::PermissionChecked,
        Self::ParamsValidated,
        Self::ApprovalCreated,
        Self::ApprovalDecided,
        Self::ApprovalEscalated,
        Self::ApprovalExpired,
        Self::ApprovalCancelled,
        Self::ApprovalPolled,
        Self::TokenMinted,
        Self::TokenVerified,
        Self::TokenRejected,
        Self::ExecutionLogged,
        Self::KeyCreated,
        Self::KeyRevoked,
        Self::ConfigChanged,
    ];

    /// The wire name, e.g. `permission.checked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PermissionChecked => "permission.checked",
            Self::ParamsValidated => "params.validated",
            Self::ApprovalCreated => "approval.created",
            Self::ApprovalDecided => "approval.decided",
            Self::ApprovalEscalated => "approval.escalated",
            Self::ApprovalExpired => "approval.expired",
            Self::ApprovalCancelled => "approval.cancelled",
            Self::ApprovalPolled => "approval.polled",
            Self::TokenMinted => "token.minted",
            Self::TokenVerified => "token.verified",
            Self::TokenRejected => "token.rejected",
            Self::ExecutionLogged => "execution.logged",
            Self::KeyCreated => "key.created",
            Self::KeyRevoked => "key.revoked",
            Self::ConfigChanged => "config.changed",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// Who did it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ActorKind {
    /// An API key.
    Key,
    /// A dashboard user.
    User,
    /// oakallow itself (sweepers, the operator CLI).
    System,
}

impl ActorKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Key => "key",
            Self::User => "user",
            Self::System => "system",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "key" => Some(Self::Key),
            "user" => Some(Self::User),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// Who did it, with a label safe to show (a key's display prefix, never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Actor {
    /// Kind of actor.
    pub kind: ActorKind,
    /// Key id, account id, or a system component's name.
    pub id: String,
    /// Key display prefix, email, or component name.
    pub label: String,
}

/// The content of an entry, before it takes its place in the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityRecord {
    /// Entry id.
    pub id: ActivityId,
    /// Org.
    pub org_id: OrgId,
    /// When it happened.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Entry type.
    #[serde(rename = "type")]
    pub kind: ActivityType,
    /// Who did it.
    pub actor: Actor,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Tool name.
    pub tool: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// Permission decided.
    pub permission: Option<Permission>,
    /// Resolution step.
    pub resolved_from: Option<ResolvedFrom>,
    /// Deciding rule.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub rule_id: Option<RuleId>,
    /// Call params (redacted when the org asks for it).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub params: Option<Value>,
    /// Reason given.
    pub reason: Option<String>,
    /// Outcome (`success`, `failed`, `error`, `valid`, a rejection reason...).
    pub result: Option<String>,
    /// Duration reported by the agent.
    pub duration_ms: Option<u64>,
    /// Token id involved.
    pub token_jti: Option<String>,
    /// Approval involved.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub approval_id: Option<ApprovalId>,
    /// Check involved.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub check_id: Option<CheckId>,
    /// Anything else worth keeping.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<Value>,
}

impl ActivityRecord {
    /// An entry of `kind` by `actor` with every optional field empty.
    pub fn new(org_id: OrgId, at: Timestamp, kind: ActivityType, actor: Actor) -> Self {
        Self {
            id: ActivityId::generate(),
            org_id,
            at,
            kind,
            actor,
            tenant: None,
            resource: None,
            tool: None,
            method: None,
            permission: None,
            resolved_from: None,
            rule_id: None,
            params: None,
            reason: None,
            result: None,
            duration_ms: None,
            token_jti: None,
            approval_id: None,
            check_id: None,
            details: None,
        }
    }
}

/// An entry in its place in the org's chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActivityEntry {
    /// The content.
    #[serde(flatten)]
    pub record: ActivityRecord,
    /// Position in the org's chain, from 1.
    pub seq: u64,
    /// Hash of the previous entry (64 zeros for the first).
    pub prev_hash: String,
    /// This entry's hash.
    pub hash: String,
}

impl ActivityEntry {
    /// Places `record` after an entry whose hash is `prev_hash`, at position `seq`.
    pub fn seal(record: ActivityRecord, seq: u64, prev_hash: String) -> Self {
        let mut entry = Self { record, seq, prev_hash, hash: String::new() };
        entry.hash = entry.compute_hash();
        entry
    }

    /// The hash this entry should have, from its content.
    pub fn compute_hash(&self) -> String {
        chain_hash(&self.record, self.seq, &self.prev_hash)
    }

    /// The canonical JSON of the entry without `hash`.
    pub fn canonical_without_hash(&self) -> String {
        canonical_without_hash(&self.record, self.seq, &self.prev_hash)
    }
}

/// The hash of `record` placed at `seq` after an entry whose hash is `prev_hash`, without
/// building the entry (the store appends by reference).
pub fn chain_hash(record: &ActivityRecord, seq: u64, prev_hash: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev_hash.as_bytes());
    hasher.update(canonical_without_hash(record, seq, prev_hash).as_bytes());
    hex::encode(hasher.finalize())
}

/// The canonical JSON of an entry without `hash`: the same text as canonicalizing its serde form
/// (a test checks), written field by field in key order because it runs for every entry on the
/// hot path.
fn canonical_without_hash(r: &ActivityRecord, seq: u64, prev_hash: &str) -> String {
    let mut out = String::with_capacity(640);
    let mut fields = Fields::new(&mut out);
    fields.raw("actor", |o| {
        o.push_str("{\"id\":");
        write_string(&r.actor.id, o);
        o.push_str(",\"kind\":");
        write_string(r.actor.kind.as_str(), o);
        o.push_str(",\"label\":");
        write_string(&r.actor.label, o);
        o.push('}');
    });
    fields.display("approval_id", r.approval_id.as_ref());
    fields.display("at", Some(&r.at));
    fields.display("check_id", r.check_id.as_ref());
    fields.value("details", r.details.as_ref());
    fields.number("duration_ms", r.duration_ms);
    fields.display("id", Some(&r.id));
    fields.text("method", r.method.as_deref());
    fields.display("org_id", Some(&r.org_id));
    fields.value("params", r.params.as_ref());
    fields.text("permission", r.permission.map(Permission::as_str));
    fields.text("prev_hash", Some(prev_hash));
    fields.text("reason", r.reason.as_deref());
    fields.text("resolved_from", r.resolved_from.map(ResolvedFrom::as_str));
    fields.text("resource", r.resource.as_deref());
    fields.text("result", r.result.as_deref());
    fields.display("rule_id", r.rule_id.as_ref());
    fields.number("seq", Some(seq));
    fields.text("tenant", r.tenant.as_deref());
    fields.text("token_jti", r.token_jti.as_deref());
    fields.text("tool", r.tool.as_deref());
    fields.text("type", Some(r.kind.as_str()));
    out.push('}');
    out
}

/// Writes `"key":value` pairs of an object, comma-separated, in the order given.
struct Fields<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut String) -> Self {
        out.push('{');
        Self { out, first: true }
    }

    fn raw(&mut self, key: &str, write: impl FnOnce(&mut String)) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_string(key, self.out);
        self.out.push(':');
        write(self.out);
    }

    fn text(&mut self, key: &str, value: Option<&str>) {
        self.raw(key, |o| match value {
            Some(text) => write_string(text, o),
            None => o.push_str("null"),
        });
    }

    fn display(&mut self, key: &str, value: Option<&impl std::fmt::Display>) {
        self.raw(key, |o| match value {
            Some(value) => write_string(&value.to_string(), o),
            None => o.push_str("null"),
        });
    }

    fn number(&mut self, key: &str, value: Option<u64>) {
        self.raw(key, |o| match value {
            Some(n) => o.push_str(&n.to_string()),
            None => o.push_str("null"),
        });
    }

    fn value(&mut self, key: &str, value: Option<&Value>) {
        self.raw(key, |o| match value {
            Some(value) => write_value(value, o),
            None => o.push_str("null"),
        });
    }
}

/// Walks a chain in `seq` order and reports its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    /// Entries seen.
    pub entries: u64,
    /// Hash of the last entry (genesis for an empty chain).
    pub head_hash: String,
    /// The first entry that does not fit: `(id, seq)`.
    pub first_broken: Option<(String, u64)>,
}

impl Default for ChainCheck {
    fn default() -> Self {
        Self { entries: 0, head_hash: GENESIS_HASH.to_owned(), first_broken: None }
    }
}

impl ChainCheck {
    /// Feeds the next entry (in `seq` order).
    pub fn push(&mut self, entry: &ActivityEntry) {
        let fits = entry.seq == self.entries + 1 && entry.prev_hash == self.head_hash && entry.hash == entry.compute_hash();
        if !fits {
            self.mark_broken(&entry.record.id.to_string(), entry.seq);
        }
        self.entries += 1;
        self.head_hash = entry.hash.clone();
    }

    /// Counts an entry that cannot even be read back: it is broken, and the walk goes on.
    pub fn push_undecodable(&mut self, id: &str, seq: u64) {
        self.mark_broken(id, seq);
        self.entries += 1;
    }

    fn mark_broken(&mut self, id: &str, seq: u64) {
        if self.first_broken.is_none() {
            self.first_broken = Some((id.to_owned(), seq));
        }
    }

    /// Compares the walk with the recorded head of the chain: if the newest entries were
    /// removed (or the head altered), the entry the head names is reported.
    pub fn compare_head(&mut self, seq: u64, id: &str, hash: &str) {
        if seq != self.entries || hash != self.head_hash {
            self.mark_broken(id, seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: i64) -> ActivityRecord {
        let actor = Actor { kind: ActorKind::System, id: "test".into(), label: "test".into() };
        let mut record = ActivityRecord::new(OrgId::generate(), Timestamp::from_micros(n), ActivityType::PermissionChecked, actor);
        record.tool = Some(format!("tool-{n}"));
        record
    }

    fn chain(n: i64) -> Vec<ActivityEntry> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|i| {
                let entry = ActivityEntry::seal(record(i), i as u64, prev.clone());
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    fn check(entries: &[ActivityEntry]) -> ChainCheck {
        let mut check = ChainCheck::default();
        entries.iter().for_each(|e| check.push(e));
        check
    }

    /// The hand-written canonical form equals canonicalizing the serde form of the entry.
    #[test]
    fn the_fast_canonical_form_is_the_canonical_form() {
        let mut full = record(7);
        full.tenant = Some("a\"c\u{1}me é".into());
        full.resource = Some("db".into());
        full.method = Some("POST".into());
        full.permission = Some(Permission::RequiresApproval);
        full.resolved_from = Some(ResolvedFrom::TenantTool);
        full.rule_id = Some(RuleId::generate());
        full.params = Some(serde_json::json!({"b": [1, 2.0, {"z": null, "a": "x"}], "a": -0.5}));
        full.reason = Some("because\n".into());
        full.result = Some("valid".into());
        full.duration_ms = Some(42);
        full.token_jti = Some("jti".into());
        full.approval_id = Some(ApprovalId::generate());
        full.check_id = Some(CheckId::generate());
        full.details = Some(serde_json::json!({"billable": true}));
        for record in [record(1), full] {
            let entry = ActivityEntry::seal(record, 3, GENESIS_HASH.to_owned());
            let mut value = serde_json::to_value(&entry).unwrap();
            value.as_object_mut().unwrap().remove("hash");
            assert_eq!(entry.canonical_without_hash(), crate::canonical::to_canonical_string(&value));
        }
    }

    #[test]
    fn an_intact_chain_verifies() {
        let entries = chain(5);
        let result = check(&entries);
        assert_eq!(result.first_broken, None);
        assert_eq!(result.entries, 5);
        assert_eq!(result.head_hash, entries[4].hash);
    }

    #[test]
    fn any_edit_is_named() {
        let mut entries = chain(5);
        entries[2].record.tool = Some("other".into());
        assert_eq!(check(&entries).first_broken, Some((entries[2].record.id.to_string(), 3)));

        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(check(&entries).first_broken.map(|b| b.1), Some(3));
    }
}
