//! The storage contract for passkeys: an account's WebAuthn credentials, and the state of
//! WebAuthn ceremonies in progress (kept in the database, not in one node's memory, so that the
//! node that finishes a ceremony need not be the one that started it). Part of [`crate::Store`].

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, PasskeyId};

use crate::StoreResult;

/// A passkey of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Its id.
    pub id: PasskeyId,
    /// The account it signs in.
    pub account_id: AccountId,
    /// The name its owner gave it ("Laptop").
    pub name: String,
    /// The authenticator's credential id (raw bytes); unique across all accounts.
    pub credential_id: Vec<u8>,
    /// The credential (public key, signature counter, backup state) as the WebAuthn library
    /// serialises it; the store never looks inside.
    pub credential: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed in or confirmed a sign-in.
    pub last_used_at: Option<Timestamp>,
}

/// What a WebAuthn ceremony is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// Registering a new passkey for a signed-in account.
    Register,
    /// Signing in with a discoverable passkey (the account is not known yet).
    SignIn,
    /// Confirming a known account with one of its passkeys (a second factor).
    Confirm,
}

impl CeremonyKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::Confirm => "confirm",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "register" => Some(Self::Register),
            "sign_in" => Some(Self::SignIn),
            "confirm" => Some(Self::Confirm),
            _ => None,
        }
    }
}

/// A WebAuthn ceremony in progress: its challenge state, and what it is bound to.
#[derive(Clone, PartialEq, Eq)]
pub struct PasskeyCeremony {
    /// SHA-256 of what the ceremony is bound to (the browser's session or pre-sign-in cookie, and
    /// the kind): only the same browser can finish it.
    pub binding: [u8; 32],
    /// What it is for.
    pub kind: CeremonyKind,
    /// The account it is for (registering and confirming; `None` when signing in).
    pub account_id: Option<AccountId>,
    /// The library's ceremony state (holds the challenge); the store never looks inside.
    pub state: String,
    /// After this it cannot be finished.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for PasskeyCeremony {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The challenge state stays out of logs.
        f.debug_struct("PasskeyCeremony")
            .field("kind", &self.kind)
            .field("account_id", &self.account_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Storage of passkeys and WebAuthn ceremonies. Each method is one transaction.
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// Saves a new passkey; [`crate::StoreError::Conflict`] if its credential id is registered
    /// already (to this account or another).
    async fn add_passkey(&self, passkey: &StoredPasskey) -> StoreResult<()>;

    /// The account's passkeys, oldest first.
    async fn passkeys(&self, account: AccountId) -> StoreResult<Vec<StoredPasskey>>;

    /// The passkey with this credential id, whichever account it is.
    async fn passkey_by_credential(&self, credential_id: &[u8]) -> StoreResult<Option<StoredPasskey>>;

    /// Saves the credential as it is after a use (its counter and backup state) and the time of
    /// the use. [`crate::StoreError::NotFound`] if the account has no such passkey (removed
    /// meanwhile).
    async fn record_passkey_use(&self, account: AccountId, id: PasskeyId, credential: &str, at: Timestamp) -> StoreResult<()>;

    /// Removes one of the account's passkeys; [`crate::StoreError::NotFound`] if it has no such
    /// passkey (another account's is not found either).
    async fn remove_passkey(&self, account: AccountId, id: PasskeyId) -> StoreResult<()>;

    /// Saves a ceremony, replacing one with the same binding (a browser has one ceremony of a
    /// kind at a time), and forgets ceremonies that expired before `now`.
    async fn put_passkey_ceremony(&self, ceremony: &PasskeyCeremony, now: Timestamp) -> StoreResult<()>;

    /// Takes the ceremony with this binding out of the store (so it is finished at most once),
    /// answering it if it is of `kind` and has not expired at `now`.
    async fn take_passkey_ceremony(&self, binding: &[u8; 32], kind: CeremonyKind, now: Timestamp) -> StoreResult<Option<PasskeyCeremony>>;
}
