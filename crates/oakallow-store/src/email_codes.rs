//! The storage contract for e-mailed sign-in codes: at most one outstanding code per account,
//! kept only as digests (of the short code and of the link's secret), spent exactly once by
//! either. Part of [`crate::Store`].

use async_trait::async_trait;
use oakallow_domain::Timestamp;
use oakallow_domain::id::AccountId;

use crate::StoreResult;

/// An outstanding sign-in code of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailCode {
    /// Whose code it is.
    pub account_id: AccountId,
    /// Digest of the short code typed in (see the service for how it is made).
    pub code_digest: [u8; 32],
    /// SHA-256 of the link's secret; also names this code when it is spent or counted wrong.
    pub link_digest: [u8; 32],
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Wrong codes entered against it so far.
    pub wrong_tries: u32,
}

/// Storage of e-mailed sign-in codes. Each method is one transaction.
#[async_trait]
pub trait EmailCodeStore: Send + Sync + 'static {
    /// Saves a new code for its account, replacing any older one (which stops working).
    async fn put_email_code(&self, code: &EmailCode) -> StoreResult<()>;

    /// The account's outstanding code, if any (expired or not: the caller checks).
    async fn email_code(&self, account: AccountId) -> StoreResult<Option<EmailCode>>;

    /// Spends the account's code named by `link_digest` if it is still outstanding, unexpired at
    /// `now` and has had fewer than `max_wrong` wrong tries: answers true exactly once, however
    /// many callers race.
    async fn spend_email_code(&self, account: AccountId, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<bool>;

    /// Counts a wrong code against the account's code named by `link_digest`; at `max_wrong`
    /// wrong tries the code is deleted. Answers the wrong tries now (0 if there was no such code).
    async fn count_wrong_email_code(&self, account: AccountId, link_digest: &[u8; 32], max_wrong: u32) -> StoreResult<u32>;

    /// Spends the code whose link secret has this digest, if it is unexpired at `now` and has
    /// had fewer than `max_wrong` wrong tries, and answers its account (exactly once).
    async fn spend_email_link(&self, link_digest: &[u8; 32], now: Timestamp, max_wrong: u32) -> StoreResult<Option<AccountId>>;
}
