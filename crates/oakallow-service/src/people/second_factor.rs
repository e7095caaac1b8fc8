//! Second factors: enrolling and removing TOTP, recovery codes, checking a code, the org
//! setting that requires a second factor of approvers, and step-up before deciding an approval
//! of a critical-risk tool.
//!
//! [`Service::has_second_factor`] and [`Service::check_second_factor`] are the one place that
//! knows which kinds of second factor exist: a TOTP code, a recovery code, or one of the
//! account's passkeys answering a confirmation ceremony. Every check is counted like a password
//! attempt: after `sign_in_attempts_per_minute` failures within a minute for the account, further
//! proofs are refused with 429 before they are even looked at.

use std::fmt;

use oakallow_domain::id::AccountId;
use oakallow_domain::totp::{self, DIGITS, RECOVERY_CODES, TotpSecret};
use oakallow_domain::{RiskLevel, Timestamp};

use super::{OrgMember, SignedIn, passwords};
use crate::Service;
use crate::bootstrap::normalize_email;
use crate::error::{ServiceError, ServiceResult};

/// What [`ServiceError::ForbiddenRole`] names when an org requires a second factor of its
/// approvers and the member has none.
pub const SECOND_FACTOR_REQUIRED: &str =
    "a second factor on your account (this org requires one of approvers; set it up on your account page)";
/// What [`ServiceError::ForbiddenRole`] names when deciding needs a fresh second-factor check.
pub const STEP_UP_REQUIRED: &str = "a fresh second-factor code to decide approvals of critical-risk tools";

/// The account's second factor, as its account page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecondFactorStatus {
    /// Whether TOTP is set up and active.
    pub totp: bool,
    /// A TOTP enrolment waiting for its first code.
    pub enrolling: Option<TotpEnrolment>,
    /// Unused recovery codes.
    pub recovery_codes_left: u32,
}

/// A TOTP secret waiting to be confirmed, as the authenticator app needs it.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    /// The secret in base32, to type in.
    pub secret: String,
    /// The `otpauth://` URI, for the QR code.
    pub uri: String,
}

impl fmt::Debug for TotpEnrolment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpEnrolment(…)")
    }
}

/// New recovery codes, shown once. Their `Debug` never shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCodes(pub Vec<String>);

impl fmt::Debug for RecoveryCodes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecoveryCodes({} codes)", self.0.len())
    }
}

fn new_recovery_codes() -> ServiceResult<(RecoveryCodes, Vec<[u8; 32]>)> {
    let codes =
        (0..RECOVERY_CODES).map(|_| totp::new_recovery_code()).collect::<Result<Vec<_>, _>>().map_err(|_| ServiceError::Unavailable)?;
    let digests = codes.iter().map(|c| totp::recovery_code_digest(c)).collect();
    Ok((RecoveryCodes(codes), digests))
}

/// How someone proves their second factor.
#[derive(Clone, Copy)]
pub enum SecondFactorProof<'a> {
    /// A TOTP code or a recovery code, as typed.
    Code(&'a str),
    /// A passkey's answer (WebAuthn JSON) to the confirmation ceremony started for the browser
    /// identified by `bound_to`.
    Passkey {
        /// What the ceremony was bound to when it started.
        bound_to: &'a str,
        /// The browser's answer.
        credential: &'a str,
    },
}

impl fmt::Debug for SecondFactorProof<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Code(_) => "Code(…)",
            Self::Passkey { .. } => "Passkey(…)",
        })
    }
}

/// Which second factors an account can be asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SecondFactorKinds {
    /// A TOTP code or a recovery code.
    pub code: bool,
    /// One of its passkeys.
    pub passkey: bool,
}

impl SecondFactorKinds {
    /// Whether there is any.
    pub fn any(self) -> bool {
        self.code || self.passkey
    }
}

fn wrong_code() -> ServiceError {
    ServiceError::invalid("that code is not right (or was used already)")
}

fn wrong_passkey() -> ServiceError {
    ServiceError::invalid("that passkey could not be verified for this account")
}

/// What a step-up's passkey ceremony is bound to: the session asking.
fn step_up_binding(who: &SignedIn) -> String {
    format!("step-up:{}", who.session_id)
}

impl Service {
    /// Whether the account has active TOTP (recovery codes exist only with it: they are made
    /// when TOTP is activated and removed with it).
    async fn has_totp(&self, account: AccountId) -> ServiceResult<bool> {
        Ok(self.store.totp(account).await?.is_some_and(|f| f.activated_at.is_some()))
    }

    /// Which second factors the account can be asked for.
    pub async fn second_factor_kinds(&self, account: AccountId) -> ServiceResult<SecondFactorKinds> {
        Ok(SecondFactorKinds { code: self.has_totp(account).await?, passkey: self.has_passkeys(account).await? })
    }

    /// Whether the account has a second factor it can be asked for: TOTP, or a passkey (looked
    /// up only without TOTP: this runs at every sign-in and decision).
    pub async fn has_second_factor(&self, account: AccountId) -> ServiceResult<bool> {
        Ok(self.has_totp(account).await? || self.has_passkeys(account).await?)
    }

    /// Checks a second factor of the account (a TOTP code; a recovery code, which is then used
    /// up; or a passkey's answer), counted against the account's attempts: 429 when they are
    /// used up, 400 for a wrong code or a passkey that does not verify (or whose ceremony expired
    /// or was used; that one is not counted, as nothing was tried).
    pub async fn check_second_factor(&self, account: AccountId, proof: SecondFactorProof<'_>) -> ServiceResult<()> {
        let subject = format!("second-factor:{account}");
        self.admit_attempt(&subject, None).await?;
        let now = self.clock.now();
        let wrong = match proof {
            SecondFactorProof::Code(code) if self.verify_second_factor(account, code, now).await? => return Ok(()),
            SecondFactorProof::Code(_) => wrong_code(),
            SecondFactorProof::Passkey { bound_to, credential } => {
                match self.finish_passkey_confirmation(account, bound_to, credential).await {
                    Ok(()) => return Ok(()),
                    Err(ServiceError::Unauthenticated) => wrong_passkey(),
                    Err(other) => return Err(other),
                }
            }
        };
        self.record_attempt(&[subject], now).await?;
        Err(wrong)
    }

    async fn verify_second_factor(&self, account: AccountId, code: &str, now: Timestamp) -> ServiceResult<bool> {
        let typed = totp::normalize_code(code);
        if typed.len() == DIGITS as usize {
            let Some(factor) = self.store.totp(account).await?.filter(|f| f.activated_at.is_some()) else { return Ok(false) };
            let Some(step) = TotpSecret::from_bytes(factor.secret).matching_step(&typed, now) else { return Ok(false) };
            return Ok(self.store.use_totp_step(account, step).await?);
        }
        if typed.len() > 64 {
            return Ok(false);
        }
        Ok(self.store.use_recovery_code(account, &totp::recovery_code_digest(&typed), now).await?)
    }

    /// The signed-in account's second factor, for its account page.
    pub async fn second_factor_status(&self, who: &SignedIn) -> ServiceResult<SecondFactorStatus> {
        let factor = self.store.totp(who.account.id).await?;
        let enrolling =
            factor.as_ref().filter(|f| f.activated_at.is_none()).map(|f| enrolment(&TotpSecret::from_bytes(f.secret.clone()), who));
        Ok(SecondFactorStatus {
            totp: factor.is_some_and(|f| f.activated_at.is_some()),
            enrolling,
            recovery_codes_left: self.store.unused_recovery_codes(who.account.id).await?,
        })
    }

    /// Starts enrolling TOTP with a new secret (replacing one still waiting); 409 if the account
    /// has TOTP already.
    pub async fn start_totp(&self, who: &SignedIn) -> ServiceResult<TotpEnrolment> {
        let secret = TotpSecret::generate().map_err(|_| ServiceError::Unavailable)?;
        if !self.store.start_totp(who.account.id, secret.bytes(), self.clock.now()).await? {
            return Err(ServiceError::Conflict {
                message: "TOTP is already set up; remove it first".into(),
                details: serde_json::json!({}),
            });
        }
        Ok(enrolment(&secret, who))
    }

    /// Activates the waiting TOTP secret with a code from the app, and answers ten new recovery
    /// codes (shown once). The session counts as having verified its second factor now.
    pub async fn confirm_totp(&self, who: &SignedIn, code: &str) -> ServiceResult<RecoveryCodes> {
        let subject = format!("second-factor:{}", who.account.id);
        self.admit_attempt(&subject, None).await?;
        let now = self.clock.now();
        let factor = self.store.totp(who.account.id).await?.filter(|f| f.activated_at.is_none());
        let Some(factor) = factor else { return Err(ServiceError::invalid("start setting up TOTP first")) };
        let Some(step) = TotpSecret::from_bytes(factor.secret.clone()).matching_step(code, now) else {
            self.record_attempt(&[subject], now).await?;
            return Err(wrong_code());
        };
        let (codes, digests) = new_recovery_codes()?;
        if !self.store.activate_totp(who.account.id, &factor.secret, step, &digests, now).await? {
            return Err(ServiceError::invalid("this setup was replaced; start again"));
        }
        self.store.record_second_factor(who.session_id, now).await?;
        Ok(codes)
    }

    /// Removes TOTP and the recovery codes, given a current code or the account's password.
    pub async fn remove_totp(&self, who: &SignedIn, proof: &str) -> ServiceResult<()> {
        let stored = self.store.password_hash(who.account.id).await?;
        let by_password = stored.is_some() && passwords::verify(proof.to_owned(), stored).await?;
        if !by_password {
            self.check_second_factor(who.account.id, SecondFactorProof::Code(proof)).await.map_err(|e| match e {
                ServiceError::InvalidRequest { .. } => ServiceError::invalid("that is neither a current code nor your password"),
                other => other,
            })?;
        }
        self.store.remove_second_factor(who.account.id, None).await?;
        Ok(())
    }

    /// Replaces the recovery codes (the old ones stop working), given a current code. They come
    /// with TOTP: an account whose second factor is only passkeys has none.
    pub async fn regenerate_recovery_codes(&self, who: &SignedIn, code: &str) -> ServiceResult<RecoveryCodes> {
        if !self.second_factor_kinds(who.account.id).await?.code {
            return Err(ServiceError::invalid("set up TOTP first"));
        }
        self.check_second_factor(who.account.id, SecondFactorProof::Code(code)).await?;
        let (codes, digests) = new_recovery_codes()?;
        self.store.replace_recovery_codes(who.account.id, &digests, self.clock.now()).await?;
        Ok(codes)
    }

    /// Starts a step-up with one of the signed-in account's passkeys: the options for the
    /// browser, the ceremony bound to this session. 400 if the account has no passkey.
    pub async fn start_step_up_passkey(&self, who: &SignedIn) -> ServiceResult<serde_json::Value> {
        self.start_passkey_confirmation(who.account.id, &step_up_binding(who)).await
    }

    /// Step-up: checks a code, or the answer to [`Service::start_step_up_passkey`] (`credential`),
    /// and records on the session that its second factor was verified now.
    pub async fn step_up(&self, who: &SignedIn, code: Option<&str>, credential: Option<&str>) -> ServiceResult<()> {
        let binding = step_up_binding(who);
        let proof = match (credential, code) {
            (Some(credential), _) => SecondFactorProof::Passkey { bound_to: &binding, credential },
            (None, Some(code)) => SecondFactorProof::Code(code),
            (None, None) => return Err(ServiceError::invalid("a code or a passkey is needed")),
        };
        self.check_second_factor(who.account.id, proof).await?;
        Ok(self.store.record_second_factor(who.session_id, self.clock.now()).await?)
    }

    /// The operator's `oakallow admin accounts reset-second-factor`: removes the account's TOTP,
    /// recovery codes and passkeys and signs out all its sessions. Answers the account and
    /// whether it had anything to remove.
    pub async fn reset_second_factor(&self, email: &str) -> ServiceResult<(AccountId, bool)> {
        let email = normalize_email(email)?;
        let account = self.store.account_by_email(&email).await?.ok_or(ServiceError::NotFound { what: "account" })?;
        let removed = self.store.remove_second_factor(account.id, Some(self.clock.now())).await?;
        Ok((account.id, removed))
    }

    /// Whether the member's org requires a second factor of approvers (its current settings).
    pub async fn second_factor_required(&self, member: &OrgMember) -> ServiceResult<bool> {
        Ok(self.org_runtime(member.org_id()).await?.org.require_second_factor_for_approvers)
    }

    /// Turns the org's "second factor required for approvers" on or off (owners and admins):
    /// the org setting `require_second_factor_for_approvers`, through the same update as
    /// `PATCH /v1/org`, so it is versioned, audited and announced to every node.
    pub async fn set_second_factor_required(&self, member: &OrgMember, required: bool) -> ServiceResult<()> {
        let caller = member.management()?;
        let patch = serde_json::Map::from_iter([("require_second_factor_for_approvers".to_owned(), required.into())]);
        self.update_org(&caller, patch).await.map(|_| ())
    }

    /// Whether the member is an approver blocked by the org's requirement (no second factor).
    pub async fn blocked_without_second_factor(&self, member: &OrgMember) -> ServiceResult<bool> {
        let approves = member.approver().level1 || member.approver().level2;
        Ok(approves && self.second_factor_required(member).await? && !self.has_second_factor(member.account.id).await?)
    }

    /// Refuses a decision the member's second factor does not cover: the org requires one and
    /// the account has none; or the tool is critical-risk, the account has a second factor, and
    /// this session has not verified it within the step-up window.
    pub(super) async fn second_factor_gate(&self, member: &OrgMember, tool: &str) -> ServiceResult<()> {
        let has = self.has_second_factor(member.account.id).await?;
        if !has && self.second_factor_required(member).await? {
            return Err(ServiceError::ForbiddenRole { required: SECOND_FACTOR_REQUIRED });
        }
        let runtime = self.org_runtime(member.org_id()).await?;
        let critical = runtime.policy.tool_by_name(tool).is_some_and(|t| t.risk_level == RiskLevel::Critical);
        if !(has && critical) {
            return Ok(());
        }
        let window = i64::try_from(self.config.accounts.step_up.as_secs()).unwrap_or(i64::MAX);
        let fresh = self.store.second_factor_at(member.session_id).await?.is_some_and(|at| at >= self.clock.now().plus_seconds(-window));
        if fresh { Ok(()) } else { Err(ServiceError::ForbiddenRole { required: STEP_UP_REQUIRED }) }
    }
}

fn enrolment(secret: &TotpSecret, who: &SignedIn) -> TotpEnrolment {
    TotpEnrolment { secret: secret.base32(), uri: secret.uri(&who.account.email) }
}
