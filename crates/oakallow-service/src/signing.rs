//! Per-org token signing keys: created on first use (one per org and algorithm, agreed through
//! the store when nodes race), cached by key id afterwards.

use std::collections::HashMap;
use std::sync::RwLock;

use oakallow_domain::Timestamp;
use oakallow_domain::id::OrgId;
use oakallow_domain::token::{Algorithm, SigningKey};
use oakallow_store::{Store, StoredSigningKey};

use crate::error::{ServiceError, ServiceResult};

/// Keys by (org, kid), and the current kid per (org, algorithm).
#[derive(Default)]
pub(crate) struct SigningKeys {
    by_kid: RwLock<HashMap<(OrgId, String), SigningKey>>,
    current: RwLock<HashMap<(OrgId, Algorithm), String>>,
}

fn to_key(stored: &StoredSigningKey) -> SigningKey {
    SigningKey::from_parts(stored.algorithm, stored.kid.clone(), stored.secret)
}

impl SigningKeys {
    fn remember(&self, org: OrgId, key: &SigningKey) {
        if let Ok(mut by_kid) = self.by_kid.write() {
            by_kid.insert((org, key.kid().to_owned()), key.clone());
        }
    }

    /// The org's key for `algorithm`, made if it has none.
    pub(crate) async fn current(&self, store: &dyn Store, org: OrgId, algorithm: Algorithm, now: Timestamp) -> ServiceResult<SigningKey> {
        let known = self.current.read().ok().and_then(|c| c.get(&(org, algorithm)).cloned());
        if let Some(kid) = known
            && let Some(key) = self.by_kid.read().ok().and_then(|k| k.get(&(org, kid)).cloned())
        {
            return Ok(key);
        }
        let stored = match store.signing_key(org, algorithm).await? {
            Some(stored) => stored,
            None => {
                let fresh = SigningKey::generate(algorithm).map_err(|_| ServiceError::Unavailable)?;
                let candidate =
                    StoredSigningKey { org_id: org, kid: fresh.kid().to_owned(), algorithm, secret: fresh.secret_bytes(), created_at: now };
                store.add_signing_key(&candidate).await?
            }
        };
        let key = to_key(&stored);
        self.remember(org, &key);
        if let Ok(mut current) = self.current.write() {
            current.insert((org, algorithm), stored.kid.clone());
        }
        Ok(key)
    }

    /// The org's key with this id, if it has one.
    pub(crate) async fn by_kid(&self, store: &dyn Store, org: OrgId, kid: &str) -> ServiceResult<Option<SigningKey>> {
        if let Some(key) = self.by_kid.read().ok().and_then(|k| k.get(&(org, kid.to_owned())).cloned()) {
            return Ok(Some(key));
        }
        let Some(stored) = store.signing_key_by_kid(org, kid).await? else { return Ok(None) };
        let key = to_key(&stored);
        self.remember(org, &key);
        Ok(Some(key))
    }
}
