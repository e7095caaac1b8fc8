//! The caller's org (`GET/PATCH /v1/org`) and its account's orgs (`GET/POST /v1/orgs`).

use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::{MAX_URL_LEN, Org, TokenSigning, WEBHOOK_EVENTS};
use oakallow_domain::policy::check_name;
use oakallow_domain::webhook::new_secret;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::Service;
use crate::auth::Management;
use crate::error::{ServiceError, ServiceResult};
use crate::keys::{CreatedKey, key_created, mint_key};
use crate::webhooks::guard;

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
    /// Redact personal data in stored params, reasons and webhooks.
    #[serde(default)]
    pub redact_pii: Option<bool>,
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

/// Applies the patch fields present in `fields` (so that `null` clears and absence keeps).
fn apply_patch(org: &mut Org, fields: &Map<String, Value>, patch: OrgPatch) -> ServiceResult<()> {
    if fields.contains_key("name") {
        let name = patch.name.ok_or_else(|| ServiceError::invalid("name cannot be cleared"))?;
        check_name("name", &name)?;
        org.name = name;
    }
    if fields.contains_key("approval_timeout_seconds") {
        org.approval_timeout_seconds = patch.approval_timeout_seconds;
    }
    if fields.contains_key("webhook_url") {
        if let Some(url) = &patch.webhook_url {
            check_url(url)?;
        }
        org.webhook_url = patch.webhook_url;
    }
    if fields.contains_key("webhook_events") {
        if let Some(events) = &patch.webhook_events {
            check_events(events)?;
        }
        org.webhook_events = patch.webhook_events;
    }
    if fields.contains_key("token_signing") {
        org.token_signing = patch.token_signing.unwrap_or_default();
    }
    if fields.contains_key("redact_pii") {
        org.redact_pii = patch.redact_pii.unwrap_or(true);
    }
    Ok(())
}

impl Service {
    /// The caller's org and its settings.
    pub async fn get_org(&self, caller: &Management) -> ServiceResult<Org> {
        Ok(self.org_runtime(caller.org_id()).await?.org.clone())
    }

    /// Changes the caller's org settings.
    pub async fn update_org(&self, caller: &Management, fields: Map<String, Value>) -> ServiceResult<Org> {
        let patch: OrgPatch =
            serde_json::from_value(Value::Object(fields.clone())).map_err(|e| ServiceError::invalid(format!("invalid body: {e}")))?;
        let mut org = self.org_runtime(caller.org_id()).await?.org.clone();
        apply_patch(&mut org, &fields, patch)?;
        org.updated_at = self.clock.now();
        if let Some(url) = &org.webhook_url
            && fields.contains_key("webhook_url")
        {
            guard::check_destination(url, self.config.webhooks.allow_private_targets)
                .await
                .map_err(|reason| ServiceError::InvalidRequest { message: reason, details: json!({ "field": "webhook_url" }) })?;
        }
        let first_secret = match &org.webhook_url {
            Some(_) => Some(new_secret().map_err(|_| ServiceError::Unavailable)?),
            None => None,
        };
        let changed: Vec<&String> = fields.keys().collect();
        let record = self.config_changed(caller, json!({ "action": "updated", "kind": "org", "id": org.id, "fields": changed }));
        self.orgs.update_org(self.store.as_ref(), org.clone(), first_secret.as_deref(), record).await?;
        Ok(org)
    }

    /// The orgs of the account that owns the caller's org.
    pub async fn list_orgs(&self, caller: &Management) -> ServiceResult<Vec<Org>> {
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        Ok(self.store.orgs_of_account(account).await?)
    }

    /// Creates a sibling org for the same account, with a management key.
    pub async fn create_org(&self, caller: &Management, request: CreateOrgRequest) -> ServiceResult<CreatedOrg> {
        check_name("name", &request.name)?;
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        let now = self.clock.now();
        let org = Org::new(account, request.name, now);
        let (new, raw) = mint_key(org.id, "management".into(), KeyTier::Management, now)?;
        let activity = vec![key_created(caller.actor(), &new.key)];
        self.store.create_org(&org, std::slice::from_ref(&new), activity).await?;
        Ok(CreatedOrg { org, management_key: CreatedKey::new(new.key, &raw) })
    }
}
