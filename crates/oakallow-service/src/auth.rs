//! Who is calling: API key authentication and the tier-typed callers that use cases require.
//! A caller can only be made here, from a key that exists and is not revoked, so a handler can
//! never run a use case for the wrong tier or a made-up org.

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

use oakallow_domain::audit::{Actor, ActorKind};
use oakallow_domain::id::{AccountId, KeyId, OrgId};
use oakallow_domain::keys::{KeyTier, RawKey};
use oakallow_domain::org::ApiKey;
use oakallow_store::Store;

use crate::error::{ServiceError, ServiceResult};
use crate::pauses::{PausePoint, Pauses};

/// An authenticated caller of one org: an API key of any tier, or a signed-in member acting
/// with the tier their role grants (see [`crate::people`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    org_id: OrgId,
    tier: KeyTier,
    principal: Principal,
}

/// Who is behind a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principal {
    /// An API key and its display prefix.
    Key { id: KeyId, prefix: String },
    /// A signed-in account.
    Member { id: AccountId },
}

impl Caller {
    /// The caller's org: the only org it can reach.
    pub fn org_id(&self) -> OrgId {
        self.org_id
    }

    /// The key's tier.
    pub fn tier(&self) -> KeyTier {
        self.tier
    }

    /// The key's id; `None` for a signed-in member.
    pub fn key_id(&self) -> Option<KeyId> {
        match &self.principal {
            Principal::Key { id, .. } => Some(*id),
            Principal::Member { .. } => None,
        }
    }

    /// The caller as an audit actor: a key labelled with its display prefix, or a member
    /// labelled with their account id. Never a member's name or email: the chain cannot be
    /// rewritten, and a deleted account's personal data must not stay in it (the dashboard shows
    /// the name of a current member in its place).
    pub fn actor(&self) -> Actor {
        match &self.principal {
            Principal::Key { id, prefix } => Actor { kind: ActorKind::Key, id: id.to_string(), label: prefix.clone() },
            Principal::Member { id } => Actor { kind: ActorKind::User, id: id.to_string(), label: id.to_string() },
        }
    }

    /// A signed-in member of `org_id` acting with `tier`. Only [`crate::people`] makes these,
    /// from a live session and a membership that grants the tier.
    pub(crate) fn member(org_id: OrgId, tier: KeyTier, account: AccountId) -> Self {
        Self { org_id, tier, principal: Principal::Member { id: account } }
    }

    /// This caller as a management key, or 403.
    pub fn management(self) -> ServiceResult<Management> {
        match self.tier {
            KeyTier::Management => Ok(Management(self)),
            _ => Err(ServiceError::ForbiddenTier { required: "management" }),
        }
    }

    /// This caller as a standard key, or 403.
    pub fn standard(self) -> ServiceResult<Standard> {
        match self.tier {
            KeyTier::Standard => Ok(Standard(self)),
            _ => Err(ServiceError::ForbiddenTier { required: "standard" }),
        }
    }

    /// This caller as an approver key, or 403.
    pub fn approver(self) -> ServiceResult<Approver> {
        match self.tier {
            KeyTier::Approver => Ok(Approver(self)),
            _ => Err(ServiceError::ForbiddenTier { required: "approver" }),
        }
    }

    /// This caller as a reader of approvals (standard or approver), or 403.
    pub fn approval_reader(self) -> ServiceResult<ApprovalReader> {
        match self.tier {
            KeyTier::Standard | KeyTier::Approver => Ok(ApprovalReader(self)),
            KeyTier::Management => Err(ServiceError::ForbiddenTier { required: "standard or approver" }),
        }
    }

    /// This caller as a reader of management resources (management or standard), or 403.
    pub fn reader(self) -> ServiceResult<Reader> {
        match self.tier {
            KeyTier::Management | KeyTier::Standard => Ok(Reader(self)),
            KeyTier::Approver => Err(ServiceError::ForbiddenTier { required: "management or standard" }),
        }
    }
}

macro_rules! tiered {
    ($($(#[$doc:meta])* $name:ident),*) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(Caller);

        impl std::ops::Deref for $name {
            type Target = Caller;
            fn deref(&self) -> &Caller {
                &self.0
            }
        }
    )*};
}

tiered!(
    /// A management key: configuration, never runtime.
    Management,
    /// A standard key: the agent's runtime calls.
    Standard,
    /// An approver key: reads and decides approvals.
    Approver,
    /// A management or standard key reading management resources.
    Reader,
    /// A standard or approver key reading approvals.
    ApprovalReader
);

macro_rules! granted {
    ($($name:ident),*) => {$(
        impl $name {
            /// A member's caller with this tier, granted by their role (only
            /// [`crate::people`] grants tiers this way; keys go through [`Caller`]'s checks).
            pub(crate) fn granted(caller: Caller) -> Self {
                Self(caller)
            }
        }
    )*};
}

// Members read, read approvals, and (owners and admins) manage. They never get the standard
// tier (a person does not make the agent's runtime calls) nor the approver tier (a member
// decides through `Service::decide_as_member`, which checks their approver groups).
granted!(Management, Reader, ApprovalReader);

/// Digests of presented keys that no key has, remembered at most this many at a time.
const UNKNOWN_DIGESTS: usize = 10_000;

/// Keys seen recently, by digest. Entries are added on successful lookups and replaced or
/// dropped on revocation, so a revoked key is refused on the next request on this node.
///
/// A lookup that was in flight while a key was revoked must not put the key back as valid: every
/// revocation (here or announced by another node) moves the cache to a new generation, and a
/// lookup's answer is cached only if the generation it started in is still the current one.
///
/// Digests that matched no key are remembered too (a bounded set), so that a client repeating a
/// made-up key costs no database query. That can never hide a real key: a key's digest is only
/// known once the key exists, and nobody can present a key before it is created.
#[derive(Default)]
pub(crate) struct KeyCache {
    keys: RwLock<Cached>,
    unknown: RwLock<HashSet<[u8; 32]>>,
}

#[derive(Default)]
struct Cached {
    by_digest: HashMap<[u8; 32], ApiKey>,
    /// How many revocations this cache has seen.
    generation: u64,
}

impl KeyCache {
    fn is_unknown(&self, digest: &[u8; 32]) -> bool {
        self.unknown.read().is_ok_and(|unknown| unknown.contains(digest))
    }

    fn put_unknown(&self, digest: [u8; 32]) {
        if let Ok(mut unknown) = self.unknown.write() {
            if unknown.len() >= UNKNOWN_DIGESTS {
                unknown.clear();
            }
            unknown.insert(digest);
        }
    }

    fn get(&self, digest: &[u8; 32]) -> Option<ApiKey> {
        self.keys.read().ok()?.by_digest.get(digest).cloned()
    }

    /// The current generation: take it before looking a key up, hand it to [`KeyCache::put`].
    fn generation(&self) -> Option<u64> {
        self.keys.read().ok().map(|keys| keys.generation)
    }

    /// Caches a key looked up in `generation`; answers false (and caches nothing) if a key was
    /// revoked since, because the lookup may have read it before the revocation.
    fn put(&self, digest: [u8; 32], key: ApiKey, generation: u64) -> bool {
        let Ok(mut keys) = self.keys.write() else { return false };
        if keys.generation != generation {
            return false;
        }
        keys.by_digest.insert(digest, key);
        true
    }

    /// Forgets a key (revoked elsewhere): the next request reads it from the database.
    pub(crate) fn evict(&self, id: KeyId) {
        if let Ok(mut keys) = self.keys.write() {
            keys.generation += 1;
            keys.by_digest.retain(|_, key| key.id != id);
        }
    }

    /// The ids of the cached keys that are not known to be revoked.
    pub(crate) fn ids(&self) -> Vec<KeyId> {
        let Ok(keys) = self.keys.read() else { return Vec::new() };
        keys.by_digest.values().filter(|k| k.revoked_at.is_none()).map(|k| k.id).collect()
    }

    /// Marks a cached key revoked (by id; the raw key is not known at revocation).
    pub(crate) fn revoke(&self, key: &ApiKey) {
        if let Ok(mut keys) = self.keys.write() {
            keys.generation += 1;
            for cached in keys.by_digest.values_mut().filter(|k| k.id == key.id) {
                cached.revoked_at = key.revoked_at;
            }
        }
    }
}

/// Turns the presented key text into a caller. Malformed, unknown and revoked keys all answer
/// the same 401. A key this node has not cached costs a database lookup, which `lookups` rate
/// limits (429) before it is made.
///
/// Keys are found by the SHA-256 of the presented key, never by comparing raw keys: the timing
/// of a lookup can only reveal something about a digest, which says nothing usable about any
/// key (finding a key with a chosen digest prefix is a preimage search).
pub(crate) async fn authenticate(
    store: &dyn Store,
    cache: &KeyCache,
    pauses: &Pauses,
    lookups: impl FnOnce() -> ServiceResult<()>,
    presented: &str,
) -> ServiceResult<Caller> {
    let raw = RawKey::parse(presented).ok_or(ServiceError::Unauthenticated)?;
    let digest = raw.digest();
    let key = match cache.get(&digest) {
        Some(key) => key,
        None if cache.is_unknown(&digest) => return Err(ServiceError::Unauthenticated),
        None => {
            lookups()?;
            look_up(store, cache, pauses, digest).await?
        }
    };
    if key.revoked_at.is_some() {
        return Err(ServiceError::Unauthenticated);
    }
    Ok(Caller { org_id: key.org_id, tier: key.tier, principal: Principal::Key { id: key.id, prefix: key.prefix } })
}

/// Reads a key from the store and caches it. If a key was revoked during the read, the answer
/// may predate that revocation: it is read again (that read starts after the revocation was
/// committed, so it sees it) and answered without caching.
async fn look_up(store: &dyn Store, cache: &KeyCache, pauses: &Pauses, digest: [u8; 32]) -> ServiceResult<ApiKey> {
    let generation = cache.generation().ok_or(ServiceError::Internal)?;
    let Some(key) = store.key_by_digest(&digest).await? else {
        cache.put_unknown(digest);
        return Err(ServiceError::Unauthenticated);
    };
    pauses.pass(PausePoint::KeyLookedUp).await;
    if cache.put(digest, key.clone(), generation) {
        return Ok(key);
    }
    store.key_by_digest(&digest).await?.ok_or(ServiceError::Unauthenticated)
}

#[cfg(test)]
mod tests {
    use oakallow_domain::Timestamp;
    use oakallow_domain::id::OrgId;

    use super::*;

    fn key() -> ApiKey {
        ApiKey {
            id: KeyId::generate(),
            org_id: OrgId::generate(),
            name: "agent".into(),
            tier: KeyTier::Standard,
            prefix: "oak_live_abc".into(),
            created_at: Timestamp::from_micros(0),
            revoked_at: None,
        }
    }

    #[test]
    fn a_lookup_that_overlapped_a_revocation_is_not_cached() {
        let cache = KeyCache::default();
        let (digest, looked_up) = ([1; 32], key());
        let before = cache.generation().unwrap();
        cache.revoke(&ApiKey { revoked_at: Some(Timestamp::from_micros(1)), ..looked_up.clone() });
        assert!(!cache.put(digest, looked_up.clone(), before), "revoked on this node meanwhile");
        let before = cache.generation().unwrap();
        cache.evict(KeyId::generate());
        assert!(!cache.put(digest, looked_up.clone(), before), "revoked on another node meanwhile");
        assert_eq!(cache.get(&digest), None);
        assert!(cache.put(digest, looked_up.clone(), cache.generation().unwrap()));
        assert_eq!(cache.get(&digest), Some(looked_up));
    }
}
