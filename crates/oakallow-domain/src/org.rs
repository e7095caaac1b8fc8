//! Accounts, orgs and their settings, and API key records.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::{AccountId, KeyId, OrgId};
use crate::keys::KeyTier;

/// Longest webhook URL, in characters.
pub const MAX_URL_LEN: usize = 2048;

/// Webhook event types an org can subscribe to.
pub const WEBHOOK_EVENTS: [&str; 7] = [
    "approval.created",
    "approval.decided",
    "approval.escalated",
    "approval.expired",
    "approval.cancelled",
    "tool.auto_created",
    "webhook.test",
];

/// A person who signs in to the dashboard and owns credit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Sign-in email, unique, lower-case.
    pub email: String,
    /// The name shown to teammates and recorded on decisions.
    pub name: String,
    /// Creation time.
    pub created_at: Timestamp,
}

/// How an org signs execution tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TokenSigning {
    /// HMAC-SHA256 with a per-org secret (default).
    #[default]
    #[serde(rename = "hmac-sha256")]
    HmacSha256,
    /// Ed25519 with a per-org key pair whose public half is published.
    #[serde(rename = "ed25519")]
    Ed25519,
}

impl TokenSigning {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha256 => "hmac-sha256",
            Self::Ed25519 => "ed25519",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hmac-sha256" => Some(Self::HmacSha256),
            "ed25519" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// An org and its settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Org {
    /// Its id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: OrgId,
    /// Owning account.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub account_id: AccountId,
    /// Display name.
    pub name: String,
    /// Default approval timeout (else 3600 s).
    pub approval_timeout_seconds: Option<u32>,
    /// Where webhooks go.
    pub webhook_url: Option<String>,
    /// Event types sent; `null` means all.
    pub webhook_events: Option<Vec<String>>,
    /// Token signing algorithm.
    pub token_signing: TokenSigning,
    /// Redact personal data in everything written by API calls, before it is stored or sent.
    pub redact_pii: bool,
    /// Creation time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// Last change.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub updated_at: Timestamp,
    /// Members of an approver group must have a second factor (TOTP or a passkey) on their
    /// account to decide approvals in the dashboard.
    pub require_second_factor_for_approvers: bool,
}

impl Org {
    /// A new org with default settings.
    pub fn new(account_id: AccountId, name: String, now: Timestamp) -> Self {
        Self {
            id: OrgId::generate(),
            account_id,
            name,
            approval_timeout_seconds: None,
            webhook_url: None,
            webhook_events: None,
            token_signing: TokenSigning::default(),
            redact_pii: true,
            created_at: now,
            updated_at: now,
            require_second_factor_for_approvers: false,
        }
    }
}

/// An API key record (the raw key is never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    /// Its id.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: KeyId,
    /// Org it belongs to.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub org_id: OrgId,
    /// Human label.
    pub name: String,
    /// Tier.
    pub tier: KeyTier,
    /// First 12 characters of the raw key.
    pub prefix: String,
    /// Creation time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// Revocation time, if revoked.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked_at: Option<Timestamp>,
}
