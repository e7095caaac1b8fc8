//! API keys of an org: create, list, read, revoke. The raw key is returned once, at creation.
//! A key creates standard and approver keys only; management keys come from the operator CLI
//! or from an owner or admin signed in to the dashboard, so a leaked management key cannot
//! mint more of its kind.

use oakallow_domain::Timestamp;
use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::id::{KeyId, OrgId};
use oakallow_domain::keys::{KeyTier, RawKey};
use oakallow_domain::org::ApiKey;
use oakallow_domain::policy::check_name;
use oakallow_store::NewKey;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::auth::Management;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};
use crate::{Service, redact};

/// Body of `POST /v1/keys`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyRequest {
    /// A label for people.
    #[schema(value_type = oakallow_domain::policy::text::Name)]
    pub name: String,
    /// `standard` or `approver`.
    #[schema(value_type = String, pattern = "^(standard|approver)$")]
    pub tier: KeyTier,
}

/// A newly created key, with the raw key shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    /// Key id.
    pub id: String,
    /// Label.
    pub name: String,
    /// Tier.
    pub tier: KeyTier,
    /// First 12 characters, kept for display.
    pub prefix: String,
    /// The raw key. It cannot be read again.
    pub key: String,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl CreatedKey {
    /// The answer for a key just stored.
    pub(crate) fn new(key: ApiKey, raw: &RawKey) -> Self {
        Self {
            id: key.id.to_string(),
            name: key.name,
            tier: key.tier,
            prefix: key.prefix,
            key: raw.expose().to_owned(),
            created_at: key.created_at,
        }
    }
}

/// Makes a key record and its raw key.
pub(crate) fn mint_key(org_id: OrgId, name: String, tier: KeyTier, now: Timestamp) -> ServiceResult<(NewKey, RawKey)> {
    let raw = RawKey::generate().map_err(|_| ServiceError::Unavailable)?;
    let key = ApiKey { id: KeyId::generate(), org_id, name, tier, prefix: raw.display_prefix(), created_at: now, revoked_at: None };
    Ok((NewKey { key, digest: raw.digest() }, raw))
}

/// The `key.created` entry for a key.
pub(crate) fn key_created(actor: oakallow_domain::audit::Actor, key: &ApiKey) -> ActivityRecord {
    let mut record = ActivityRecord::new(key.org_id, key.created_at, ActivityType::KeyCreated, actor);
    record.details = Some(json!({ "key_id": key.id, "name": key.name, "tier": key.tier, "prefix": key.prefix }));
    record
}

impl Service {
    /// Creates a key: standard or approver for a management key, any tier for a signed-in
    /// owner or admin.
    pub async fn create_key(&self, caller: &Management, request: CreateKeyRequest) -> ServiceResult<CreatedKey> {
        check_name("name", &request.name)?;
        if request.tier == KeyTier::Management && caller.key_id().is_some() {
            return Err(ServiceError::invalid("management keys are created by the operator CLI or in the dashboard"));
        }
        let runtime = self.org_runtime(caller.org_id()).await?;
        let name = redact::text(&runtime.org, &request.name);
        let (new, raw) = mint_key(caller.org_id(), name, request.tier, self.clock.now())?;
        self.store.create_key(&new, key_created(caller.actor(), &new.key)).await?;
        Ok(CreatedKey::new(new.key, &raw))
    }

    /// One page of the org's keys (without raw keys).
    pub async fn list_keys(&self, caller: &Management, page: &PageRequest) -> ServiceResult<Page<ApiKey>> {
        let limit = page.limit()?;
        let after = page.position_as::<KeyId>()?;
        let keys = self.store.list_keys(caller.org_id(), after, limit + 1).await?;
        Ok(Page::from_probe(keys, limit, |k| k.id.to_string()))
    }

    /// One key of the org.
    pub async fn get_key(&self, caller: &Management, id: &str) -> ServiceResult<ApiKey> {
        let id: KeyId = id.parse().map_err(|_| ServiceError::NotFound { what: "key" })?;
        self.store.key(caller.org_id(), id).await?.ok_or(ServiceError::NotFound { what: "key" })
    }

    /// Revokes a key of the org; it is refused from the next request on.
    pub async fn revoke_key(&self, caller: &Management, id: &str) -> ServiceResult<ApiKey> {
        let id: KeyId = id.parse().map_err(|_| ServiceError::NotFound { what: "key" })?;
        let mut record = ActivityRecord::new(caller.org_id(), self.clock.now(), ActivityType::KeyRevoked, caller.actor());
        record.details = Some(json!({ "key_id": id }));
        let key = self.store.revoke_key(caller.org_id(), id, self.clock.now(), record).await.map_err(|e| match e {
            oakallow_store::StoreError::NotFound => ServiceError::NotFound { what: "key" },
            other => other.into(),
        })?;
        self.keys.revoke(&key);
        Ok(key)
    }
}
