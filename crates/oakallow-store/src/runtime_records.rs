//! Records of the runtime workflow at the storage boundary: tokens, signing keys, executions,
//! approvals, webhook events and deliveries.

use oakallow_domain::Timestamp;
use oakallow_domain::approval::{Approval, ApprovalStatus, LevelDecision};
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::id::{ApprovalId, DeliveryId, EventId, ExecutionId, LeaseId, OrgId};
use oakallow_domain::token::Algorithm;
use serde_json::Value;

/// An issued execution token (the token text itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Token id.
    pub jti: String,
    /// Org.
    pub org_id: OrgId,
    /// Signing key id.
    pub kid: String,
    /// The check or approval id it came from; at most one token per source.
    pub src: String,
    /// Tool name.
    pub tool: String,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Resource name.
    pub resource: Option<String>,
    /// Method name.
    pub method: Option<String>,
    /// Hex SHA-256 of the canonical params.
    pub params_sha256: String,
    /// Issue time.
    pub issued_at: Timestamp,
    /// Expiry time.
    pub expires_at: Timestamp,
    /// When it was accepted by a verification or an execution.
    pub consumed_at: Option<Timestamp>,
}

/// An org's token signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Org.
    pub org_id: OrgId,
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: Algorithm,
    /// HMAC secret or Ed25519 seed.
    pub secret: [u8; 32],
    /// Creation time.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for StoredSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StoredSigningKey({} {} {})", self.org_id, self.algorithm.as_str(), self.kid)
    }
}

/// An execution the agent reported.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionRecord {
    /// Its id.
    pub id: ExecutionId,
    /// Org.
    pub org_id: OrgId,
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
    /// `success`, `failed` or `error`.
    pub result: String,
    /// Reported duration.
    pub duration_ms: u64,
    /// Reported output (redacted when the org redacts).
    pub output: Option<Value>,
    /// Reported error text.
    pub error: Option<String>,
    /// The token that authorized it.
    pub token_jti: Option<String>,
    /// Whether a valid token came with it.
    pub authorized: bool,
    /// When it was logged.
    pub created_at: Timestamp,
}

/// A webhook event, with its body exactly as it will be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// Its id (`webhook-id` on every attempt).
    pub id: EventId,
    /// Org.
    pub org_id: OrgId,
    /// Event type, e.g. `approval.created`.
    pub kind: String,
    /// The JSON body.
    pub payload: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// An event for the outbox, with the delivery to make if the org has a destination for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbox {
    /// The event.
    pub event: WebhookEvent,
    /// Where to deliver it (`None`: recorded only).
    pub delivery: Option<NewDelivery>,
}

/// Where a delivery goes: the org's webhook, or one of its notification channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeliveryChannel {
    /// The org's webhook URL, signed with its webhook secret.
    #[default]
    Webhook,
    /// Slack (a message posted, updated, or an answer to a person's click).
    Slack,
    /// PagerDuty Events API v2.
    PagerDuty,
    /// E-mail over the instance's SMTP server.
    Email,
}

impl DeliveryChannel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Slack => "slack",
            Self::PagerDuty => "pagerduty",
            Self::Email => "email",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "webhook" => Some(Self::Webhook),
            "slack" => Some(Self::Slack),
            "pagerduty" => Some(Self::PagerDuty),
            "email" => Some(Self::Email),
            _ => None,
        }
    }
}

/// A delivery to create with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    /// Its id.
    pub id: DeliveryId,
    /// Where it goes.
    pub channel: DeliveryChannel,
    /// Destination URL at the time of the event (for a notification channel, a name of the
    /// destination without its secrets, e.g. `slack:chat.postMessage`).
    pub url: String,
    /// First attempt time.
    pub next_attempt_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Every retry failed.
    Failed,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A delivery and its attempts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: DeliveryId,
    /// Org.
    pub org_id: OrgId,
    /// The event.
    pub event_id: EventId,
    /// The event type.
    pub event_type: String,
    /// Where it goes.
    pub channel: DeliveryChannel,
    /// Destination.
    pub url: String,
    /// Status.
    pub status: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// Failed attempts since creation or the last manual retry (the retry schedule position).
    pub round_attempts: u32,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// HTTP status of the last attempt.
    pub last_status: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// When a 2xx arrived.
    pub delivered_at: Option<Timestamp>,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<DeliveryAttempt>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    /// 1, 2, 3…
    pub attempt: u32,
    /// When it was made.
    pub at: Timestamp,
    /// HTTP status, if an answer came.
    pub status_code: Option<u16>,
    /// Time to answer or fail.
    pub latency_ms: u64,
    /// The start of the answer's body.
    pub response_excerpt: Option<String>,
    /// Connection or timeout error.
    pub error: Option<String>,
}

/// A delivery claimed for an attempt, with what it takes to make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The delivery as claimed.
    pub delivery: Delivery,
    /// The body to send.
    pub payload: String,
    /// The org's current webhook secret.
    pub secret: Option<String>,
    /// The org redacts personal data (from the receiver's answer too); true when unknown.
    pub redact_pii: bool,
}

/// A worker's claim on the deliveries it is about to attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryLease {
    /// Names the claim: only its holder can record the attempt.
    pub id: LeaseId,
    /// No other worker claims the deliveries before then.
    pub until: Timestamp,
}

/// How many due deliveries one claim takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimLimit {
    /// At most this many in all.
    pub total: u32,
    /// At most this many of one org in flight at once, counting the org's deliveries already
    /// claimed by any worker whose lease still runs: one org whose receiver is slow cannot take
    /// every worker slot, on this node or another.
    pub per_org: u32,
}

impl ClaimLimit {
    /// At most `total`, with no limit per org.
    pub fn total(total: u32) -> Self {
        Self { total, per_org: u32::MAX }
    }
}

/// What an attempt leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptResult {
    /// A 2xx: done.
    Delivered,
    /// Failed; try again then.
    RetryAt(Timestamp),
    /// Failed for the last time.
    Failed,
}

/// An `Idempotency-Key` claim for a new approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// The header's value, as a digest (it may be made of personal data).
    pub key: String,
    /// A digest of what the request asked for; a reuse with another fingerprint is refused.
    pub fingerprint: String,
    /// End of the key's 24 hours.
    pub expires_at: Timestamp,
}

/// A new approval and everything committed with it.
#[derive(Debug, Clone)]
pub struct NewApproval {
    /// The approval.
    pub approval: Approval,
    /// Its idempotency key, if the request had one.
    pub idempotency: Option<IdempotencyClaim>,
    /// `approval.created`.
    pub activity: ActivityRecord,
    /// Webhook events.
    pub outbox: Vec<Outbox>,
}

/// What `create_approval` did.
#[derive(Debug, Clone, PartialEq)]
#[expect(clippy::large_enum_variant, reason = "returned once per request")]
pub enum CreateOutcome {
    /// Stored.
    Created,
    /// The idempotency key was used for the same request within 24 h: that approval.
    Replayed(Approval),
    /// The idempotency key was used for a different request within 24 h.
    KeyReused,
    /// The account cannot pay for the request: nothing was written.
    InsufficientCredits,
}

/// A change to a pending approval: a decision, an escalation, a cancellation or an expiry.
#[derive(Debug, Clone)]
pub struct ApprovalTransition {
    /// Org.
    pub org_id: OrgId,
    /// The approval.
    pub id: ApprovalId,
    /// The level the change was planned at; nothing happens if it moved on.
    pub expected_level: u8,
    /// Applies only while `expires_at > now` (decide, cancel), or only once `expires_at <= now`
    /// (expire).
    pub now: Timestamp,
    /// The approval as it will be stored.
    pub after: Approval,
    /// The level decision to record, if any.
    pub decision: Option<LevelDecision>,
    /// Its audit entry.
    pub activity: ActivityRecord,
    /// Webhook events.
    pub outbox: Vec<Outbox>,
}

/// Filters of an approval listing, newest first.
#[derive(Debug, Clone)]
pub struct ApprovalFilter {
    /// Status as of `now` (pending approvals past their deadline count as expired).
    pub status: Option<ApprovalStatus>,
    /// Tool name.
    pub tool: Option<String>,
    /// Tenant external id.
    pub tenant: Option<String>,
    /// Only approvals with a smaller id (the cursor).
    pub before: Option<ApprovalId>,
    /// At most this many.
    pub limit: u32,
    /// The time statuses are evaluated at.
    pub now: Timestamp,
}

/// Filters of a delivery listing, newest first.
#[derive(Debug, Clone)]
pub struct DeliveryFilter {
    /// Status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries with a smaller id (the cursor).
    pub before: Option<DeliveryId>,
    /// At most this many.
    pub limit: u32,
}
