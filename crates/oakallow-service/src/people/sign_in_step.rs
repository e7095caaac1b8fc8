//! The second step of signing in: after the first factor (a password or an e-mailed code) an account with a
//! second factor gets no session yet, only a pending step — a random secret for its own cookie,
//! kept in the store as SHA-256 (so any node can finish it), working for five minutes and once.
//! The session is made when a second-factor code checks out, and records that it verified one.

use oakallow_domain::account::secret_digest;
use oakallow_domain::org::Account;
use oakallow_store::PendingSignIn;

use super::BrowserSecret;
use super::second_factor::{SecondFactorKinds, SecondFactorProof};
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

    /// The second factors a live pending step (`pending`, the pending cookie's secret) can be
    /// finished with; `None` if the step is unknown, used or expired.
    pub async fn pending_sign_in_factors(&self, pending: &str) -> ServiceResult<Option<SecondFactorKinds>> {
        match self.store.pending_sign_in(&secret_digest(pending), self.clock.now()).await? {
            Some(step) => Ok(Some(self.second_factor_kinds(step.account_id).await?)),
            None => Ok(None),
        }
    }

    /// Starts finishing a pending sign-in with one of the account's passkeys: the options for
    /// the browser, the ceremony bound to the pending step. 404 if the step is not live; 400 if
    /// the account has no passkey.
    pub async fn start_pending_passkey(&self, pending: &str) -> ServiceResult<serde_json::Value> {
        let step = self.store.pending_sign_in(&secret_digest(pending), self.clock.now()).await?;
        let step = step.ok_or(ServiceError::NotFound { what: "sign-in step" })?;
        self.start_passkey_confirmation(step.account_id, pending).await
    }

    /// Finishes a pending sign-in with a second-factor code, or with the answer (`credential`) to
    /// the passkey ceremony [`Service::start_pending_passkey`] began: the session. 404 if the step
    /// is unknown, used or expired; 400 for a wrong code or passkey; 429 after too many.
    pub async fn finish_sign_in(&self, pending: &str, code: &str, credential: Option<&str>) -> ServiceResult<NewSession> {
        let digest = secret_digest(pending);
        let gone = || ServiceError::NotFound { what: "sign-in step" };
        let step = self.store.pending_sign_in(&digest, self.clock.now()).await?.ok_or_else(gone)?;
        let proof = match credential {
            Some(credential) => SecondFactorProof::Passkey { bound_to: pending, credential },
            None => SecondFactorProof::Code(code),
        };
        self.check_second_factor(step.account_id, proof).await?;
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
