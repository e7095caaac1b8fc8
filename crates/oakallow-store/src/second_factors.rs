//! The storage contract for second factors: an account's TOTP secret and its recovery codes,
//! the sign-ins waiting for their second factor, when each session last verified one, and the
//! org setting that requires one of approvers. Part of [`crate::Store`].

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, SessionId};

use crate::StoreResult;

/// An account's TOTP factor.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpFactor {
    /// The shared secret (the HMAC key: it must be kept, not hashed, to compute codes).
    pub secret: Vec<u8>,
    /// When a code first confirmed it; `None` while enrolment waits for that code.
    pub activated_at: Option<Timestamp>,
    /// The last step a code was accepted for (no code of it or before works again).
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpFactor").field("activated_at", &self.activated_at).field("last_step", &self.last_step).finish_non_exhaustive()
    }
}

/// A sign-in that passed its first factor and waits for the second.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSignIn {
    /// SHA-256 of the secret in the browser's pending cookie.
    pub digest: [u8; 32],
    /// Who is signing in.
    pub account_id: AccountId,
    /// When the first factor passed.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// Storage of second factors. Each method is one transaction.
#[async_trait]
pub trait SecondFactorStore: Send + Sync + 'static {
    /// The account's TOTP factor, active or waiting for its first code.
    async fn totp(&self, account: AccountId) -> StoreResult<Option<TotpFactor>>;

    /// Starts (or restarts) enrolling a TOTP secret for the account. Answers `false`, and
    /// writes nothing, if the account already has an active one.
    async fn start_totp(&self, account: AccountId, secret: &[u8], now: Timestamp) -> StoreResult<bool>;

    /// Activates the account's waiting TOTP secret at `step` and gives the account these
    /// recovery codes (replacing any), in one transaction. `false`, and nothing written, if
    /// there is no waiting secret equal to `secret` (so a page left open cannot activate a
    /// secret enrolled since).
    async fn activate_totp(
        &self,
        account: AccountId,
        secret: &[u8],
        step: i64,
        recovery_digests: &[[u8; 32]],
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Accepts `step` for the account's active TOTP if it is later than every step accepted
    /// before: `true` once per step, whoever races.
    async fn use_totp_step(&self, account: AccountId, step: i64) -> StoreResult<bool>;

    /// Removes the account's TOTP factor and recovery codes. With `reset_at` (the operator's
    /// reset of a locked-out account) it also removes the account's passkeys and their
    /// ceremonies, and revokes every session of the account at that time. Answers whether there
    /// was a factor (TOTP, a recovery code, or with `reset_at` a passkey) to remove.
    async fn remove_second_factor(&self, account: AccountId, reset_at: Option<Timestamp>) -> StoreResult<bool>;

    /// Replaces the account's recovery codes with these.
    async fn replace_recovery_codes(&self, account: AccountId, digests: &[[u8; 32]], now: Timestamp) -> StoreResult<()>;

    /// Uses one of the account's unused recovery codes: `true` exactly once per code.
    async fn use_recovery_code(&self, account: AccountId, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool>;

    /// How many of the account's recovery codes are unused.
    async fn unused_recovery_codes(&self, account: AccountId) -> StoreResult<u32>;

    /// Saves a sign-in waiting for its second factor.
    async fn create_pending_sign_in(&self, pending: &PendingSignIn) -> StoreResult<()>;

    /// The waiting sign-in with this digest if it is unused and unexpired at `now`.
    async fn pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<Option<PendingSignIn>>;

    /// Finishes the waiting sign-in: `true` exactly once, if it is unused and unexpired at `now`.
    async fn finish_pending_sign_in(&self, digest: &[u8; 32], now: Timestamp) -> StoreResult<bool>;

    /// Records that the session's holder verified a second factor at `at`.
    async fn record_second_factor(&self, session: SessionId, at: Timestamp) -> StoreResult<()>;

    /// When the session's holder last verified a second factor.
    async fn second_factor_at(&self, session: SessionId) -> StoreResult<Option<Timestamp>>;
}
