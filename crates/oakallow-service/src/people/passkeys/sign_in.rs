//! Signing in with a passkey alone (discoverable credential, user verified: no email, password
//! or second factor), and confirming a known account with one of its passkeys (the second
//! factor of a password sign-in, or a step-up).
//!
//! Sign-in failures count against the same per-minute limits as password sign-ins: per client
//! address always, and per account email once the passkey named an account.

use oakallow_domain::id::AccountId;
use oakallow_domain::org::Account;
use oakallow_store::{CeremonyKind, StoredPasskey};
use serde_json::Value;
use webauthn_rs::prelude::{DiscoverableAuthentication, Passkey, PasskeyAuthentication, PublicKeyCredential};

use super::{answer, from_text, user_handle};
use crate::Service;
use crate::error::{ServiceError, ServiceResult};
use crate::people::sessions::NewSession;

impl Service {
    /// Starts a passkey sign-in for the browser identified by `bound_to` (a secret of its own,
    /// such as its pre-sign-in cookie): the options for `navigator.credentials.get`, asking for
    /// any discoverable passkey of this site, with user verification. 429 while the address is
    /// refused more sign-ins.
    pub async fn start_passkey_sign_in(&self, bound_to: &str, address: &str) -> ServiceResult<Value> {
        self.admit_attempt(&format!("address:{address}"), None).await?;
        let (mut options, state) = self.webauthn()?.start_discoverable_authentication().map_err(|_| ServiceError::Internal)?;
        // The library marks these options for autofill ("conditional") mediation; the dashboard
        // asks when the person presses the button, which is the ordinary modal request.
        options.mediation = None;
        self.begin_ceremony(CeremonyKind::SignIn, bound_to, None, &state).await?;
        serde_json::to_value(&options).map_err(|_| ServiceError::Internal)
    }

    /// Finishes a passkey sign-in: verifies the browser's answer (`credential`, WebAuthn JSON)
    /// against the ceremony `bound_to` started and the passkey it names, saves the passkey's new
    /// counter, and opens a session as a password sign-in does (its second factor counted as
    /// verified now). 401 (counted as a failed sign-in)
    /// if the passkey is unknown or does not verify; 400 if the ceremony expired or was used.
    pub async fn finish_passkey_sign_in(&self, bound_to: &str, credential: &str, address: &str) -> ServiceResult<NewSession> {
        let by_address = format!("address:{address}");
        self.admit_attempt(&by_address, None).await?;
        let verified = self.verify_sign_in(bound_to, credential).await;
        let account = match verified {
            Ok(account) => account,
            Err((error, account)) => {
                let mut subjects = vec![by_address];
                subjects.extend(account.map(|a| format!("email:{}", a.email)));
                self.record_attempt(&subjects, self.clock.now()).await?;
                return Err(error);
            }
        };
        let operator = self.store.operator().await? == Some(account.id);
        let session = self.open_session(account).await?;
        // A passkey that verified its user is both factors at once: the session starts with its
        // second factor fresh, as after a code (step-up counts from here).
        self.store.record_second_factor(session.signed_in.session_id, self.clock.now()).await?;
        Ok(NewSession { operator, ..session })
    }

    /// The account a sign-in answer proves, or why not (with the account it named, if any).
    async fn verify_sign_in(&self, bound_to: &str, credential: &str) -> Result<Account, (ServiceError, Option<Account>)> {
        let ceremony = self.take_ceremony(CeremonyKind::SignIn, bound_to).await.map_err(|e| (e, None))?;
        let state: DiscoverableAuthentication = from_text(&ceremony.state).map_err(|e| (e, None))?;
        let credential: PublicKeyCredential = answer(credential).map_err(|e| (e, None))?;
        let webauthn = self.webauthn().map_err(|e| (e, None))?;
        let (handle, credential_id) =
            webauthn.identify_discoverable_authentication(&credential).map_err(|_| (ServiceError::Unauthenticated, None))?;
        let stored = self.store.passkey_by_credential(credential_id).await.map_err(|e| (e.into(), None))?;
        // The passkey must be registered, and to the account its user handle names.
        let Some(stored) = stored.filter(|p| user_handle(p.account_id) == handle) else {
            return Err((ServiceError::Unauthenticated, None));
        };
        let account = self.store.account(stored.account_id).await.map_err(|e| (e.into(), None))?;
        let Some(account) = account else { return Err((ServiceError::Unauthenticated, None)) };
        let passkey: Passkey = from_text(&stored.credential).map_err(|e| (e, Some(account.clone())))?;
        let result = webauthn.finish_discoverable_authentication_v2(&credential, state, &passkey);
        let result = result.map_err(|error| {
            tracing::info!(account_id = %account.id, %error, "a passkey sign-in did not verify");
            (ServiceError::Unauthenticated, Some(account.clone()))
        })?;
        self.record_use(&stored, passkey, &result).await.map_err(|e| (e, Some(account.clone())))?;
        Ok(account)
    }

    /// Starts confirming `account` with one of its passkeys (a second factor), for the browser
    /// identified by `bound_to`: the options for `navigator.credentials.get`, listing the
    /// account's passkeys, with user verification. 400 if the account has none.
    pub async fn start_passkey_confirmation(&self, account: AccountId, bound_to: &str) -> ServiceResult<Value> {
        let passkeys = self.usable_passkeys(account).await?;
        if passkeys.is_empty() {
            return Err(ServiceError::invalid("this account has no passkey"));
        }
        let keys: Vec<Passkey> = passkeys.into_iter().map(|(_, passkey)| passkey).collect();
        let (options, state) = self.webauthn()?.start_passkey_authentication(&keys).map_err(|_| ServiceError::Internal)?;
        self.begin_ceremony(CeremonyKind::Confirm, bound_to, Some(account), &state).await?;
        serde_json::to_value(&options).map_err(|_| ServiceError::Internal)
    }

    /// Finishes confirming `account`: the browser's answer must verify against the ceremony
    /// `bound_to` started for this account and one of the account's passkeys. 401 if it does not;
    /// 400 if the ceremony expired or was used. The caller counts failures as it counts other
    /// wrong second factors.
    pub async fn finish_passkey_confirmation(&self, account: AccountId, bound_to: &str, credential: &str) -> ServiceResult<()> {
        let ceremony = self.take_ceremony(CeremonyKind::Confirm, bound_to).await?;
        if ceremony.account_id != Some(account) {
            return Err(ServiceError::invalid("this passkey request has expired or was used already; start again"));
        }
        let state: PasskeyAuthentication = from_text(&ceremony.state)?;
        let credential: PublicKeyCredential = answer(credential)?;
        let result = self.webauthn()?.finish_passkey_authentication(&credential, &state).map_err(|error| {
            tracing::info!(account_id = %account, %error, "a passkey confirmation did not verify");
            ServiceError::Unauthenticated
        })?;
        let used = self.usable_passkeys(account).await?.into_iter().find(|(_, passkey)| passkey.cred_id() == result.cred_id());
        // Verified against the passkeys listed at the start; one removed since no longer counts.
        let (stored, passkey) = used.ok_or(ServiceError::Unauthenticated)?;
        self.record_use(&stored, passkey, &result).await
    }

    /// The account's passkeys with their credentials read back.
    async fn usable_passkeys(&self, account: AccountId) -> ServiceResult<Vec<(StoredPasskey, Passkey)>> {
        let stored = self.store.passkeys(account).await?;
        stored
            .into_iter()
            .map(|p| {
                let passkey = from_text(&p.credential)?;
                Ok((p, passkey))
            })
            .collect()
    }
}
