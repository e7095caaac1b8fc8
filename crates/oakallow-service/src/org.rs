//! The caller's org (`GET/PATCH /v1/org`) and its account's orgs (`GET/POST /v1/orgs`).

use oakallow_domain::Timestamp;
use oakallow_domain::id::OrgId;
use oakallow_domain::json;
use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::{MAX_URL_LEN, Org, TokenSigning, WEBHOOK_EVENTS};
use oakallow_domain::policy::check_name;
use oakallow_domain::webhook::new_secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::Management;
use crate::error::{ServiceError, ServiceResult};
use crate::keys::{CreatedKey, key_created, mint_key};
use crate::webhooks::guard;
use crate::{Service, redact};

/// The settings `PATCH /v1/org` accepts; each field optional, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgPatch {
    /// Display name.
    #[serde(default)]
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub name: Option<String>,
    /// Default approval timeout.
    #[serde(default)]
    pub approval_timeout_seconds: Option<u32>,
    /// Webhook destination (`http://` or `https://`).
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::WebhookUrl>)]
    pub webhook_url: Option<String>,
    /// Event types to send; `null` sends all.
    #[serde(default)]
    #[schema(value_type = Option<Vec<oakallow_domain::policy::text::WebhookEvent>>)]
    pub webhook_events: Option<Vec<String>>,
    /// `hmac-sha256` or `ed25519`.
    #[serde(default)]
    pub token_signing: Option<TokenSigning>,
    /// Redact personal data in everything written by API calls, before it is stored or sent.
    #[serde(default)]
    pub redact_pii: Option<bool>,
    /// Members of an approver group need a second factor to decide in the dashboard.
    #[serde(default)]
    pub require_second_factor_for_approvers: Option<bool>,
}

/// Body of `POST /v1/orgs`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// Display name of the new org.
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub name: String,
}

/// A new org and its first management key (shown once).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedOrg {
    /// The org.
    pub org: Org,
    /// Its management key.
    pub management_key: CreatedKey,
}

/// What a management key sees of each org of its account: which orgs there are, not their
/// settings (those are for each org's own keys, at `GET /v1/org`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrgSummary {
    /// Its id.
    #[schema(value_type = String)]
    pub id: OrgId,
    /// Display name.
    pub name: String,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<Org> for OrgSummary {
    fn from(org: Org) -> Self {
        Self { id: org.id, name: org.name, created_at: org.created_at }
    }
}

fn check_url(url: &str) -> ServiceResult<()> {
    let well_formed = (url.starts_with("https://") || url.starts_with("http://"))
        && url.chars().count() <= MAX_URL_LEN
        && !url.chars().any(|c| c.is_control() || c.is_whitespace());
    if well_formed {
        Ok(())
    } else {
        Err(ServiceError::invalid(format!("webhook_url must be an http:// or https:// URL of at most {MAX_URL_LEN} characters")))
    }
}

fn check_events(events: &[String]) -> ServiceResult<()> {
    match events.iter().find(|e| !WEBHOOK_EVENTS.contains(&e.as_str())) {
        Some(unknown) => Err(ServiceError::InvalidRequest {
            message: format!("unknown webhook event type {unknown:?}"),
            details: json!({ "allowed": WEBHOOK_EVENTS }),
        }),
        None => Ok(()),
    }
}

/// A checked `PATCH /v1/org`: for each field the request named, its new value (`None` inside
/// clears an optional field or resets a defaulted one).
#[derive(Debug, Clone, Default)]
struct OrgEdit {
    name: Option<String>,
    approval_timeout_seconds: Option<Option<u32>>,
    webhook_url: Option<Option<String>>,
    webhook_events: Option<Option<Vec<String>>>,
    token_signing: Option<TokenSigning>,
    redact_pii: Option<bool>,
    require_second_factor_for_approvers: Option<bool>,
}

impl OrgEdit {
    /// Checks the fields present in `fields` (so that `null` clears and absence keeps).
    fn parse(fields: &Map<String, Value>) -> ServiceResult<Self> {
        let patch: OrgPatch =
            json::from_value(Value::Object(fields.clone())).map_err(|e| ServiceError::invalid(format!("invalid body: {e}")))?;
        let given = |field: &str| fields.contains_key(field);
        let mut edit = Self::default();
        if given("name") {
            let name = patch.name.ok_or_else(|| ServiceError::invalid("name cannot be cleared"))?;
            check_name("name", &name)?;
            edit.name = Some(name);
        }
        if let Some(url) = &patch.webhook_url {
            check_url(url)?;
        }
        if let Some(events) = &patch.webhook_events {
            check_events(events)?;
        }
        edit.approval_timeout_seconds = given("approval_timeout_seconds").then_some(patch.approval_timeout_seconds);
        edit.webhook_url = given("webhook_url").then_some(patch.webhook_url);
        edit.webhook_events = given("webhook_events").then_some(patch.webhook_events);
        edit.token_signing = given("token_signing").then(|| patch.token_signing.unwrap_or_default());
        edit.redact_pii = given("redact_pii").then(|| patch.redact_pii.unwrap_or(true));
        edit.require_second_factor_for_approvers =
            given("require_second_factor_for_approvers").then(|| patch.require_second_factor_for_approvers.unwrap_or(false));
        Ok(edit)
    }

    /// `org` with this edit applied at `now`. `updated_at` always moves forward, even when the
    /// clock did not, so that every applied edit is a new version of the settings.
    fn apply(&self, org: &Org, now: Timestamp) -> Org {
        let mut next = org.clone();
        if let Some(timeout) = self.approval_timeout_seconds {
            next.approval_timeout_seconds = timeout;
        }
        if let Some(url) = &self.webhook_url {
            next.webhook_url.clone_from(url);
        }
        if let Some(events) = &self.webhook_events {
            next.webhook_events.clone_from(events);
        }
        next.token_signing = self.token_signing.unwrap_or(org.token_signing);
        next.redact_pii = self.redact_pii.unwrap_or(org.redact_pii);
        next.require_second_factor_for_approvers =
            self.require_second_factor_for_approvers.unwrap_or(org.require_second_factor_for_approvers);
        if let Some(name) = &self.name {
            // Under the settings as patched: turning redaction off and renaming at once keeps the name.
            next.name = redact::text(&next, name);
        }
        next.updated_at = now.max(Timestamp::from_micros(org.updated_at.micros().saturating_add(1)));
        next
    }
}

impl Service {
    /// The caller's org and its settings.
    pub async fn get_org(&self, caller: &Management) -> ServiceResult<Org> {
        Ok(self.org_runtime(caller.org_id()).await?.org.clone())
    }

    /// Changes the caller's org settings. The patch is checked first (its webhook destination
    /// resolved), then applied to the settings as they are when it is written: a field another
    /// patch changed meanwhile, on this node or another, is kept.
    pub async fn update_org(&self, caller: &Management, fields: Map<String, Value>) -> ServiceResult<Org> {
        let edit = OrgEdit::parse(&fields)?;
        if let Some(Some(url)) = &edit.webhook_url {
            guard::check_destination("webhook_url", url, self.config.webhooks.allow_private_targets)
                .await
                .map_err(|reason| ServiceError::InvalidRequest { message: reason, details: json!({ "field": "webhook_url" }) })?;
        }
        self.pauses.pass(crate::pauses::PausePoint::OrgPatchChecked).await;
        // Used only if the org ends up with a webhook URL and has no secret yet.
        let first_secret = new_secret().map_err(|_| ServiceError::Unavailable)?;
        let changed: Vec<&String> = fields.keys().collect();
        let org = caller.org_id();
        let record = self.config_changed(caller, json!({ "action": "updated", "kind": "org", "id": org, "fields": changed }));
        let now = self.clock.now();
        self.orgs.update_org(self.store.as_ref(), org, |current| edit.apply(current, now), &first_secret, record).await
    }

    /// The orgs of the account that owns the caller's org, as summaries: a key is scoped to its
    /// own org and sees no sibling's settings.
    pub async fn list_orgs(&self, caller: &Management) -> ServiceResult<Vec<OrgSummary>> {
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        Ok(self.store.orgs_of_account(account).await?.into_iter().map(OrgSummary::from).collect())
    }

    /// Creates a sibling org for the same account, with a management key.
    pub async fn create_org(&self, caller: &Management, request: CreateOrgRequest) -> ServiceResult<CreatedOrg> {
        check_name("name", &request.name)?;
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        let now = self.clock.now();
        let mut org = Org::new(account, request.name, now);
        org.name = redact::text(&org, &org.name);
        let (new, raw) = mint_key(org.id, "management".into(), KeyTier::Management, now)?;
        let activity = vec![key_created(caller.actor(), &new.key)];
        self.store.create_org(&org, std::slice::from_ref(&new), activity).await?;
        Ok(CreatedOrg { org, management_key: CreatedKey::new(new.key, &raw) })
    }
}
