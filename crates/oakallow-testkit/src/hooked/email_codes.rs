//! The hooked store's e-mailed sign-in codes: every [`EmailCodeStore`] call goes straight to the
//! real store.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;
use oakallow_store::{EmailCode, EmailCodeStore, StoreResult};

use super::HookedStore;

#[async_trait]
impl EmailCodeStore for HookedStore {
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()> {
        self.inner.put_email_code(code).await
    }

    async fn email_code(&self, account: AccountId) -> StoreResult<Option<EmailCode>> {
        self.inner.email_code(account).await
    }

    async fn spend_email_code(&self, account: AccountId, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<bool> {
        self.inner.spend_email_code(account, link_digest, now, max_wrong).await
    }

    async fn count_wrong_email_code(&self, account: AccountId, link_digest: &[u8; 32], max_wrong: u32) -> StoreResult<u32> {
        self.inner.count_wrong_email_code(account, link_digest, max_wrong).await
    }

    async fn spend_email_link(&self, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<Option<AccountId>> {
        self.inner.spend_email_link(link_digest, now, max_wrong).await
    }
}
