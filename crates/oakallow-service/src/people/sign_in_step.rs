//! The second step of signing in: after the first factor (a password today) an account with a
//! second factor gets no session yet, only a pending step — a random secret for its own cookie,
//! kept in the store as SHA-256 (so any node can finish it), working for five minutes and once.
//! The session is made when a second-factor code checks out, and records that it verified one.

use oakallow_domain::account::secret_digest;
use oakallow_domain::org::Account;
use oakallow_store::PendingSignIn;

use super::BrowserSecret;
use super::sessions::NewSession;
use crate::Service;
use crate::error::{ServiceError, ServiceResult};

/// How long a pending second step works, in seconds.
pub const PENDING_SECONDS: i64 = 300;

/// Where a sign-in stands after its first factor.
#[derive(Debug, Clone)]
pub enum SignInStep {
    /// Signed in.
    Done(NewSession),
    /// The account has a second factor: the browser keeps this secret and sends a code with it.
    SecondFactor(BrowserSecret),
}

impl SignInStep {
    /// The session, if signing in is done.
    pub fn session(self) -> Option<NewSession> {
        match self {
            Self::Done(session) => Some(session),
            Self::SecondFactor(_) => None,
        }
    }
}

impl Service {
    /// The first factor passed for `account`: a session, or a pending step if it has a second
    /// factor. Every way of signing in goes through here.
    pub(super) async fn first_factor_passed(&self, account: Account) -> ServiceResult<SignInStep> {
        if !self.has_second_factor(account.id).await? {
            let operator = self.store.operator().await? == Some(account.id);
            let session = self.open_session(account).await?;
            return Ok(SignInStep::Done(NewSession { operator, ..session }));
        }
        let secret = BrowserSecret::generate()?;
        let now = self.clock.now();
        let pending = PendingSignIn {
            digest: secret_digest(secret.expose()),
            account_id: account.id,
            created_at: now,
            expires_at: now.plus_seconds(PENDING_SECONDS),
        };
        self.store.create_pending_sign_in(&pending).await?;
        Ok(SignInStep::SecondFactor(secret))
    }

    /// Whether `pending` (the pending cookie's secret) is a live second step.
    pub async fn pending_sign_in_is_live(&self, pending: &str) -> ServiceResult<bool> {
        Ok(self.store.pending_sign_in(&secret_digest(pending), self.clock.now()).await?.is_some())
    }

    /// Finishes a pending sign-in with a second-factor code: the session. 404 if the step is
    /// unknown, used or expired; 400 for a wrong code; 429 after too many.
    pub async fn finish_sign_in(&self, pending: &str, code: &str) -> ServiceResult<NewSession> {
        let digest = secret_digest(pending);
        let gone = || ServiceError::NotFound { what: "sign-in step" };
        let step = self.store.pending_sign_in(&digest, self.clock.now()).await?.ok_or_else(gone)?;
        self.check_second_factor(step.account_id, code).await?;
        let now = self.clock.now();
        if !self.store.finish_pending_sign_in(&digest, now).await? {
            return Err(gone());
        }
        let account = self.store.account(step.account_id).await?.ok_or_else(gone)?;
        let operator = self.store.operator().await? == Some(account.id);
        let session = self.open_session(account).await?;
        self.store.record_second_factor(session.signed_in.session_id, now).await?;
        Ok(NewSession { operator, ..session })
    }
}
