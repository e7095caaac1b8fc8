//! Passkeys (WebAuthn, through `webauthn-rs`): a signed-in account registers, lists and removes
//! its passkeys; anyone signs in with one ([`sign_in`]); and a known account confirms itself
//! with one as a second factor ([`sign_in`] too).
//!
//! The relying party is the configured public URL (`[accounts] public_url`): its host name is the
//! RP id and its origin the only one accepted. Every ceremony's state (which holds its challenge)
//! is kept in the database, bound to the browser that started it (its session when registering,
//! a cookie of the caller's choice otherwise), taken out when finished — so it is finished at
//! most once, right or wrong — and refused after [`CEREMONY_SECONDS`]. Passkeys must be
//! discoverable and verify the user (PIN or biometrics), so a passkey alone is a sign-in that
//! needs no password and no other factor.

pub mod sign_in;

use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, PasskeyId};
use oakallow_domain::secret::sha256;
use oakallow_store::{CeremonyKind, PasskeyCeremony, StoreError, StoredPasskey};
use serde_json::Value;
use url::Url;
use webauthn_rs::prelude::{Passkey, PasskeyRegistration, RegisterPublicKeyCredential, Uuid};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::SignedIn;
use crate::Service;
use crate::error::{ServiceError, ServiceResult};

/// How long a ceremony may take, from its options to the browser's answer, in seconds.
pub const CEREMONY_SECONDS: i64 = 300;
/// Longest passkey name, in characters.
pub const MAX_PASSKEY_NAME_CHARS: usize = 60;
/// Most passkeys one account may have.
pub const MAX_PASSKEYS: usize = 20;

/// A passkey as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    /// Its id.
    pub id: PasskeyId,
    /// The name its owner gave it.
    pub name: String,
    /// When it was registered.
    pub created_at: Timestamp,
    /// When it last signed in or confirmed a sign-in.
    pub last_used_at: Option<Timestamp>,
}

impl From<StoredPasskey> for PasskeyView {
    fn from(p: StoredPasskey) -> Self {
        Self { id: p.id, name: p.name, created_at: p.created_at, last_used_at: p.last_used_at }
    }
}

/// The WebAuthn relying party of `public_url`, or why that URL cannot be one (an IP address or
/// no host: browsers refuse passkeys there). The CLI checks the configured URL with it at start.
pub fn relying_party(public_url: &Url) -> Result<Webauthn, String> {
    let Some(url::Host::Domain(host)) = public_url.host() else {
        return Err(format!("{public_url} must name a host (passkeys do not work on an IP address)"));
    };
    let timeout = std::time::Duration::from_secs(CEREMONY_SECONDS.unsigned_abs());
    WebauthnBuilder::new(host, public_url)
        .and_then(|builder| builder.rp_name("oakallow").timeout(timeout).build())
        .map_err(|e| format!("{public_url} cannot be a WebAuthn relying party: {e}"))
}

/// Parses the configured public URL and checks that it can be the relying party.
pub fn public_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
    relying_party(&url)?;
    Ok(url)
}

/// The digest a ceremony is stored under: its kind and what it is bound to.
fn binding(kind: CeremonyKind, bound_to: &str) -> [u8; 32] {
    sha256(format!("oakallow passkey ceremony v1\0{}\0{bound_to}", kind.as_str()).as_bytes())
}

/// WebAuthn's user handle of an account: its id's 128 bits (no personal data).
fn user_handle(account: AccountId) -> Uuid {
    Uuid::from_u128(account.as_u128())
}

fn check_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_PASSKEY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(format!(
            "the passkey's name must be 1 to {MAX_PASSKEY_NAME_CHARS} characters without control characters"
        )));
    }
    Ok(name.to_owned())
}

/// Library state to and from the text the store keeps.
fn to_text<T: serde::Serialize>(value: &T) -> ServiceResult<String> {
    serde_json::to_string(value).map_err(|_| ServiceError::Internal)
}

fn from_text<T: serde::de::DeserializeOwned>(text: &str) -> ServiceResult<T> {
    serde_json::from_str(text).map_err(|_| ServiceError::Internal)
}

/// What the browser sent as its answer, parsed; 400 if it is not one.
fn answer<T: serde::de::DeserializeOwned>(text: &str) -> ServiceResult<T> {
    serde_json::from_str(text).map_err(|_| ServiceError::invalid("the browser's passkey answer could not be read"))
}

impl Service {
    fn webauthn(&self) -> ServiceResult<Webauthn> {
        relying_party(&self.config.accounts.public_url).map_err(|error| {
            tracing::error!(%error, "passkeys are misconfigured");
            ServiceError::Unavailable
        })
    }

    /// Saves a ceremony's state for `bound_to`, to be finished within [`CEREMONY_SECONDS`].
    async fn begin_ceremony<T: serde::Serialize>(
        &self,
        kind: CeremonyKind,
        bound_to: &str,
        account: Option<AccountId>,
        state: &T,
    ) -> ServiceResult<()> {
        let now = self.clock.now();
        let ceremony = PasskeyCeremony {
            binding: binding(kind, bound_to),
            kind,
            account_id: account,
            state: to_text(state)?,
            expires_at: now.plus_seconds(CEREMONY_SECONDS),
        };
        Ok(self.store.put_passkey_ceremony(&ceremony, now).await?)
    }

    /// Takes the ceremony of `kind` bound to `bound_to` out of the store; 400 if there is none
    /// (never started, finished already, or expired).
    async fn take_ceremony(&self, kind: CeremonyKind, bound_to: &str) -> ServiceResult<PasskeyCeremony> {
        let taken = self.store.take_passkey_ceremony(&binding(kind, bound_to), kind, self.clock.now()).await?;
        taken.ok_or_else(|| ServiceError::invalid("this passkey request has expired or was used already; start again"))
    }

    /// The account's passkeys, oldest first.
    pub async fn passkeys(&self, who: &SignedIn) -> ServiceResult<Vec<PasskeyView>> {
        Ok(self.store.passkeys(who.account.id).await?.into_iter().map(PasskeyView::from).collect())
    }

    /// Whether the account has a passkey (so it can confirm a sign-in with one).
    pub async fn has_passkeys(&self, account: AccountId) -> ServiceResult<bool> {
        Ok(!self.store.passkeys(account).await?.is_empty())
    }

    /// Starts registering a passkey for the signed-in account: the options for the browser's
    /// `navigator.credentials.create` (WebAuthn JSON, binary values in base64url). The ceremony
    /// is bound to this session. Passkeys already registered are excluded (an authenticator
    /// holds one per account), and the new one must be discoverable and verify its user.
    pub async fn start_passkey_registration(&self, who: &SignedIn) -> ServiceResult<Value> {
        let existing = self.store.passkeys(who.account.id).await?;
        if existing.len() >= MAX_PASSKEYS {
            return Err(ServiceError::invalid(format!("an account has at most {MAX_PASSKEYS} passkeys; remove one first")));
        }
        let exclude = existing.iter().map(|p| p.credential_id.clone()).collect();
        let account = &who.account;
        let (options, state) = self
            .webauthn()?
            .start_passkey_registration(user_handle(account.id), &account.email, &account.name, Some(exclude))
            .map_err(|_| ServiceError::Internal)?;
        let mut options = serde_json::to_value(&options).map_err(|_| ServiceError::Internal)?;
        require_discoverable(&mut options);
        self.begin_ceremony(CeremonyKind::Register, &who.session_id.to_string(), Some(account.id), &state).await?;
        Ok(options)
    }

    /// Finishes registering: checks the browser's answer (`credential`, WebAuthn JSON) against
    /// the ceremony this session started, and keeps the passkey under `name`. 400 if the answer
    /// does not verify, the ceremony expired or was used, or the passkey is registered already.
    pub async fn finish_passkey_registration(&self, who: &SignedIn, name: &str, credential: &str) -> ServiceResult<PasskeyView> {
        let name = check_name(name)?;
        let ceremony = self.take_ceremony(CeremonyKind::Register, &who.session_id.to_string()).await?;
        if ceremony.account_id != Some(who.account.id) {
            return Err(ServiceError::invalid("this passkey request has expired or was used already; start again"));
        }
        let state: PasskeyRegistration = from_text(&ceremony.state)?;
        let credential: RegisterPublicKeyCredential = answer(credential)?;
        let passkey = self.webauthn()?.finish_passkey_registration(&credential, &state).map_err(|error| {
            tracing::info!(account_id = %who.account.id, %error, "a passkey registration did not verify");
            ServiceError::invalid("the passkey could not be verified; try again")
        })?;
        let stored = StoredPasskey {
            id: PasskeyId::generate(),
            account_id: who.account.id,
            name,
            credential_id: passkey.cred_id().to_vec(),
            credential: to_text(&passkey)?,
            created_at: self.clock.now(),
            last_used_at: None,
        };
        self.store.add_passkey(&stored).await.map_err(|e| match e {
            StoreError::Conflict(_) => ServiceError::invalid("this passkey is registered already"),
            other => other.into(),
        })?;
        Ok(stored.into())
    }

    /// Removes one of the signed-in account's passkeys; 404 if it has no such passkey (another
    /// account's is not found either).
    pub async fn remove_passkey(&self, who: &SignedIn, id: &str) -> ServiceResult<()> {
        let id = PasskeyId::parse(id).ok_or(ServiceError::NotFound { what: "passkey" })?;
        self.store.remove_passkey(who.account.id, id).await.map_err(|e| match e {
            StoreError::NotFound => ServiceError::NotFound { what: "passkey" },
            other => other.into(),
        })
    }

    /// Saves a passkey's credential after a verified use (its signature counter and backup
    /// state move on).
    async fn record_use(
        &self,
        stored: &StoredPasskey,
        mut passkey: Passkey,
        result: &webauthn_rs::prelude::AuthenticationResult,
    ) -> ServiceResult<()> {
        passkey.update_credential(result);
        let now = self.clock.now();
        self.store.record_passkey_use(stored.account_id, stored.id, &to_text(&passkey)?, now).await.map_err(|e| match e {
            // Removed while it was being used: it no longer signs anyone in.
            StoreError::NotFound => ServiceError::Unauthenticated,
            other => other.into(),
        })
    }
}

/// Asks for a discoverable (resident) credential, so that the passkey alone can sign in
/// without an email first. The library's passkey options leave that to the authenticator (and
/// do not export the type to change it), so the options' JSON is changed; user verification
/// stays required.
fn require_discoverable(options: &mut Value) {
    if let Some(public_key) = options.get_mut("publicKey").and_then(Value::as_object_mut) {
        let selection = serde_json::json!({ "residentKey": "required", "requireResidentKey": true, "userVerification": "required" });
        public_key.insert("authenticatorSelection".into(), selection);
    }
}
