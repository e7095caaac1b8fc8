//! Sign-up, sign-in, sign-out, and finding who a session cookie signs in.
//!
//! Sign-in failures are counted in the store per account email and per client address (so
//! every node counts the same): after `sign_in_attempts_per_minute` failures within a minute,
//! further attempts are refused with 429 before the password is even checked, right or wrong.

use oakallow_domain::Timestamp;
use oakallow_domain::account::{Session, secret_digest};
use oakallow_domain::id::{AccountId, SessionId};
use oakallow_domain::org::Account;
use oakallow_domain::secret::sha256;

use super::sign_in_step::SignInStep;
use super::{BrowserSecret, SignedIn, passwords};
use crate::Service;
use crate::billing::free_credit;
use crate::bootstrap::normalize_email;
use crate::config::SignUpMode;
use crate::error::{ServiceError, ServiceResult};

/// Longest display name, in characters.
pub const MAX_NAME_CHARS: usize = 100;

/// What the sign-up form sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUp {
    /// Sign-in email.
    pub email: String,
    /// Name shown to teammates and on decisions.
    pub name: String,
    /// The password (checked for length, then only its hash is kept).
    pub password: String,
    /// The secret of an invitation link, if signing up through one.
    pub invite: Option<String>,
}

/// A new session: who it signs in and the secret to put in their cookie.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The cookie's value.
    pub secret: BrowserSecret,
    /// Who is signed in.
    pub signed_in: SignedIn,
    /// Whether the account is the instance operator.
    pub operator: bool,
}

/// The CSRF token of a session: derived from the session's secret, so it changes with every
/// session, needs no storage, and reveals nothing about the cookie.
pub fn csrf_token(session_secret: &str) -> String {
    let mut input = b"oakallow csrf v1\0".to_vec();
    input.extend_from_slice(session_secret.as_bytes());
    sha256(&input).iter().map(|b| format!("{b:02x}")).collect()
}

/// The CSRF token given to a browser before it signs in (for the sign-in and sign-up forms),
/// derived from a random value kept in its own cookie.
pub fn pre_session_csrf_token(cookie_value: &str) -> String {
    csrf_token(&format!("pre-session:{cookie_value}"))
}

/// How a failed sign-in's subject (`email:<address>`, `address:<ip>`…) is stored: its SHA-256, so
/// the table of failures holds no email or IP address (anyone can type any email at the sign-in
/// form, and a deleted account's must not come back that way).
pub(crate) fn throttle_subject(subject: &str) -> String {
    let digest = sha256(format!("oakallow sign-in subject v1\0{subject}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_name(name: &str) -> ServiceResult<String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(ServiceError::invalid(format!("the name must be 1 to {MAX_NAME_CHARS} characters without control characters")));
    }
    Ok(name.to_owned())
}

impl Service {
    /// Creates an account and signs it in. The first account of an empty instance becomes its
    /// operator, whatever the sign-up mode; after that the mode decides (an invitation link
    /// always works in `open` and `invite` mode and is accepted as part of the sign-up).
    pub async fn sign_up(&self, form: SignUp, address: &str) -> ServiceResult<NewSession> {
        self.admit_attempt(&format!("sign-up@{address}"), None).await?;
        let email = normalize_email(&form.email)?;
        let name = check_name(&form.name)?;
        passwords::check_password(&form.password)?;
        let now = self.clock.now();
        self.record_attempt(&[format!("sign-up@{address}")], now).await?;
        let first = self.store.operator().await?.is_none();
        if !first {
            match (self.config.accounts.sign_up, &form.invite) {
                (SignUpMode::Open, _) | (SignUpMode::Invite, Some(_)) => {}
                (SignUpMode::Invite, None) => return Err(ServiceError::ForbiddenRole { required: "an invitation link to sign up" }),
                (SignUpMode::Closed, _) => return Err(ServiceError::ForbiddenRole { required: "an account made by the operator" }),
            }
            if let Some(secret) = &form.invite {
                self.usable_invite(secret).await?;
            }
        }
        let hash = passwords::hash(form.password).await?;
        let account = Account { id: AccountId::generate(), email, name, created_at: now };
        self.store.create_account(&account, Some(&hash), Some(&free_credit(now))).await.map_err(|e| match e {
            oakallow_store::StoreError::Conflict(_) => ServiceError::Conflict {
                message: "an account with this email exists; sign in instead".into(),
                details: serde_json::json!({ "field": "email" }),
            },
            other => other.into(),
        })?;
        let operator = self.store.claim_operator(account.id).await?;
        let session = self.open_session(account).await?;
        if let Some(secret) = &form.invite {
            self.accept_invite(&session.signed_in, secret).await?;
        }
        Ok(NewSession { operator, ..session })
    }

    /// Signs in with email and password: a new session (its id is always new, so a session id
    /// planted before sign-in is worthless), or, for an account with a second factor, the step
    /// that asks for it. Wrong email and wrong password answer the same 401.
    pub async fn sign_in(&self, email: &str, password: &str, address: &str) -> ServiceResult<SignInStep> {
        let email = email.trim().to_lowercase();
        let subjects = [format!("email:{email}"), format!("address:{address}")];
        for subject in &subjects {
            self.admit_attempt(subject, Some(self.config.accounts.sign_in_attempts_per_minute)).await?;
        }
        let account = self.store.account_by_email(&email).await?;
        let stored = match &account {
            Some(account) => self.store.password_hash(account.id).await?,
            None => None,
        };
        let matches = passwords::verify(password.to_owned(), stored).await?;
        match account {
            Some(account) if matches => self.first_factor_passed(account).await,
            _ => {
                self.record_attempt(&subjects, self.clock.now()).await?;
                Err(ServiceError::Unauthenticated)
            }
        }
    }

    /// Opens a new session for `account` (after it proved who it is).
    pub(crate) async fn open_session(&self, account: Account) -> ServiceResult<NewSession> {
        let secret = BrowserSecret::generate()?;
        let now = self.clock.now();
        let lifetime = i64::try_from(self.config.accounts.session_lifetime.as_secs()).unwrap_or(i64::MAX);
        let session = Session {
            id: SessionId::generate(),
            digest: secret_digest(secret.expose()),
            account_id: account.id,
            created_at: now,
            expires_at: now.plus_seconds(lifetime),
            revoked_at: None,
        };
        // The store refuses a disabled (or deleted) account in the same statement.
        self.store.create_session(&session).await.map_err(|e| match e {
            oakallow_store::StoreError::NotFound => ServiceError::ForbiddenRole { required: "an account the operator has not disabled" },
            other => other.into(),
        })?;
        Ok(NewSession { secret, signed_in: SignedIn { account, session_id: session.id }, operator: false })
    }

    /// Who the session cookie `secret` signs in; 401 if it is unknown, signed out, revoked or
    /// expired.
    pub async fn signed_in(&self, secret: &str) -> ServiceResult<SignedIn> {
        let session = self.store.session_by_digest(&secret_digest(secret)).await?.ok_or(ServiceError::Unauthenticated)?;
        if !session.is_live(self.clock.now()) {
            return Err(ServiceError::Unauthenticated);
        }
        let account = self.store.account(session.account_id).await?.ok_or(ServiceError::Unauthenticated)?;
        Ok(SignedIn { account, session_id: session.id })
    }

    /// Signs the session out: its cookie never works again, even if it was copied.
    pub async fn sign_out(&self, who: &SignedIn) -> ServiceResult<()> {
        self.store.revoke_session(who.account.id, who.session_id, self.clock.now()).await?;
        Ok(())
    }

    /// The account's live sessions, newest first.
    pub async fn sessions(&self, who: &SignedIn) -> ServiceResult<Vec<Session>> {
        Ok(self.store.live_sessions(who.account.id, self.clock.now()).await?)
    }

    /// Revokes one of the account's own sessions (another device, say).
    pub async fn revoke_session(&self, who: &SignedIn, id: &str) -> ServiceResult<()> {
        let id = SessionId::parse(id).ok_or(ServiceError::NotFound { what: "session" })?;
        self.store.revoke_session(who.account.id, id, self.clock.now()).await?;
        Ok(())
    }

    /// Changes the signed-in account's password after checking the current one; every session,
    /// this one included, is signed out.
    pub async fn change_password(&self, who: &SignedIn, current: &str, new: &str) -> ServiceResult<()> {
        passwords::check_password(new)?;
        let stored = self.store.password_hash(who.account.id).await?;
        if !passwords::verify(current.to_owned(), stored).await? {
            return Err(ServiceError::invalid("the current password is not right"));
        }
        let hash = passwords::hash(new.to_owned()).await?;
        Ok(self.store.set_password_hash(who.account.id, &hash, self.clock.now()).await?)
    }

    /// The operator's `oakallow admin set-password`: gives an account (one made by
    /// `admin bootstrap`, say) a password, signing out its sessions.
    pub async fn set_password(&self, email: &str, password: &str) -> ServiceResult<AccountId> {
        passwords::check_password(password)?;
        let email = normalize_email(email)?;
        let account = self.store.account_by_email(&email).await?.ok_or(ServiceError::NotFound { what: "account" })?;
        let hash = passwords::hash(password.to_owned()).await?;
        self.store.set_password_hash(account.id, &hash, self.clock.now()).await?;
        Ok(account.id)
    }

    /// Refuses (429) a subject that has used up its attempts in the last minute.
    pub(crate) async fn admit_attempt(&self, subject: &str, limit: Option<u32>) -> ServiceResult<()> {
        let limit = limit.unwrap_or(self.config.accounts.sign_in_attempts_per_minute);
        if limit == 0 {
            return Ok(());
        }
        let since = self.clock.now().plus_seconds(-60);
        if self.store.sign_in_failures(&throttle_subject(subject), since).await? >= u64::from(limit) {
            return Err(ServiceError::RateLimited { retry_after_seconds: 60 });
        }
        Ok(())
    }

    /// Counts a failed sign-in against each of `subjects`.
    pub(crate) async fn record_attempt(&self, subjects: &[String], now: Timestamp) -> ServiceResult<()> {
        let subjects: Vec<String> = subjects.iter().map(|subject| throttle_subject(subject)).collect();
        Ok(self.store.record_sign_in_failure(&subjects, now, now.plus_seconds(-3600)).await?)
    }
}
