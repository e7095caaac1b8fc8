//! The hooked store's passkey side: every [`PasskeyStore`] call goes straight to the real store.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, PasskeyId};
use oakallow_store::{CeremonyKind, PasskeyCeremony, PasskeyStore, StoreResult, StoredPasskey};

use super::HookedStore;

#[async_trait]
impl PasskeyStore for HookedStore {
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()> {
        self.inner.add_passkey(passkey).await
    }

    async fn passkeys(&self, account: AccountId) -> StoreResult<Vec<StoredPasskey>> {
        self.inner.passkeys(account).await
    }

    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>> {
        self.inner.passkey_by_credential(credential_id).await
    }

    async fn record_passkey_use(&self, account: AccountId, id: PasskeyId, credential: &str, at: Timestamp) -> StoreResult<()> {
        self.inner.record_passkey_use(account, id, credential, at).await
    }

    async fn remove_passkey(&self, account: AccountId, id: PasskeyId) -> StoreResult<()> {
        self.inner.remove_passkey(account, id).await
    }

    async fn put_passkey_ceremony(&self, ceremony: &PasskeyCeremony, now: Timestamp) -> StoreResult<()> {
        self.inner.put_passkey_ceremony(ceremony, now).await
    }

    async fn take_passkey_ceremony(&self, binding: &[u8; 32], kind: CeremonyKind, now: Timestamp) -> StoreResult<Option<PasskeyCeremony>> {
        self.inner.take_passkey_ceremony(binding, kind, now).await
    }
}
