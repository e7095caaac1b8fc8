//! The hooked store's second factors: every [`SecondFactorStore`] call goes straight to the
//! real store.

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, SessionId};
use oakallow_store::{PendingSignIn, SecondFactorStore, StoreResult, TotpFactor};

use super::HookedStore;

#[async_trait]
impl SecondFactorStore for HookedStore {
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpFactor>> {
        self.inner.totp(account).await
    }

    async fn start_totp(&self, account: AccountId, secret: &[u8], now: Timestamp) -> StoreResult<bool> {
        self.inner.start_totp(account, secret, now).await
    }

    async fn activate_totp(&self, account: AccountId, secret: &[u8], step: i64, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<bool> {
        self.inner.activate_totp(account, secret, step, digests, now).await
    }

    async fn use_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool> {
        self.inner.use_totp_step(account, step).await
    }

    async fn remove_second_factor(&self, account: AccountId, reset_at: Option<Timestamp>) -> StoreResult<bool> {
        self.inner.remove_second_factor(account, reset_at).await
    }

    async fn replace_recovery_codes(&self, account: AccountId, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<()> {
        self.inner.replace_recovery_codes(account, digests, now).await
    }

    async fn use_recovery_code(&self, account: AccountId, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool> {
        self.inner.use_recovery_code(account, digest, now).await
    }

    async fn unused_recovery_codes(&self, account: AccountId) -> StoreResult<u32> {
        self.inner.unused_recovery_codes(account).await
    }

    async fn create_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()> {
        self.inner.create_pending_sign_in(pending).await
    }

    async fn pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<Option<PendingSignIn>> {
        self.inner.pending_sign_in(digest, now).await
    }

    async fn finish_pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool> {
        self.inner.finish_pending_sign_in(digest, now).await
    }

    async fn record_second_factor(&self, session: SessionId, at: Timestamp) -> StoreResult<()> {
        self.inner.record_second_factor(session, at).await
    }

    async fn second_factor_at(&self, session: SessionId) -> StoreResult<Option<Timestamp>> {
        self.inner.second_factor_at(session).await
    }
}
