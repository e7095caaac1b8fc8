//! The storage contract for an account's life after sign-up: the operator disabling it, and its
//! deletion, which keeps the row (the ledger, purchases and orgs it paid for point at it) but
//! removes its personal data. Part of [`crate::Store`].

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;

use crate::StoreResult;

/// Whether an account may still sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountStatus {
    /// When the operator disabled it (deleted accounts are disabled too).
    pub disabled_at: Option<Timestamp>,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
}

/// What a deleted account's email becomes: unique, not an address, never signed in with.
pub fn erased_email(account: AccountId) -> String {
    format!("deleted:{account}")
}

/// What a deleted account's name becomes.
pub const ERASED_NAME: &str = "Deleted account";

/// Disabling and deleting accounts. Each method is one transaction.
#[async_trait]
pub trait AccountLifecycleStore: Send + Sync + 'static {
    /// The account's status; `None` if there is no such account.
    async fn account_status(&self, account: AccountId) -> StoreResult<Option<AccountStatus>>;

    /// Disables the account at `now` (keeping an earlier time if it already was) and revokes
    /// every session it has, so that it is signed out everywhere and cannot sign in.
    /// [`crate::StoreError::NotFound`] if there is no such account.
    async fn disable_account(&self, account: AccountId, now: Timestamp) -> StoreResult<()>;

    /// Lets a disabled account sign in again. [`crate::StoreError::NotFound`] if there is no such
    /// account or it was deleted.
    async fn enable_account(&self, account: AccountId) -> StoreResult<()>;

    /// Deletes the account's personal data at `now`, in one transaction: its email becomes
    /// [`erased_email`] and its name [`ERASED_NAME`], its password goes, it is disabled and marked
    /// deleted; its sessions, its memberships, its e-mailed sign-in codes, its second factors
    /// (TOTP, recovery codes, pending second steps), its passkeys and the failed sign-ins of the `forget` subjects
    /// are deleted, and its name as the decider of approvals is replaced by its id. Its ledger,
    /// purchases and the activity chain are kept untouched. Idempotent.
    /// [`crate::StoreError::NotFound`] if there is no such account.
    async fn erase_account(&self, account: AccountId, forget: &[String], now: Timestamp) -> StoreResult<()>;
}
