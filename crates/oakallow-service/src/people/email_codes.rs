//! Signing in with a code sent by e-mail, or the one-click link that comes with it.
//!
//! Asking for a code answers the same whether or not an account has that address (the message is
//! sent in the background, so the answer does not wait on the mail server either). A code is eight
//! digits, the link a 256-bit secret; both stand for one stored row, kept only as digests, so
//! using either spends both. A new code replaces the old one; a code works for
//! `email.code_lifetime`, and is void after `email.code_attempts` wrong tries. Wrong codes count
//! as failed sign-ins, so the password sign-in's limits per address and per e-mail apply too.

use oakallow_domain::Timestamp;
use oakallow_domain::account::secret_digest;
use oakallow_domain::org::Account;
use oakallow_domain::secret::{random_bytes, sha256};
use oakallow_store::EmailCode;
use subtle::ConstantTimeEq;

use super::BrowserSecret;
use super::mail::{dashboard_url, send};
use super::sign_in_step::SignInStep;
use crate::Service;
use crate::config::EmailConfig;
use crate::error::{ServiceError, ServiceResult};

/// Digits in an e-mailed code.
pub const CODE_DIGITS: usize = 8;

/// The digest a code is kept as: bound to its row's link digest, so every code needs its own
/// search and no table of digests of all codes helps.
fn code_digest(link_digest: &[u8; 32], code: &str) -> [u8; 32] {
    let mut input = b"oakallow email code v1\0".to_vec();
    input.extend_from_slice(link_digest);
    input.extend_from_slice(code.as_bytes());
    sha256(&input)
}

fn new_code() -> ServiceResult<String> {
    let bytes = random_bytes::<8>().map_err(|_| ServiceError::Unavailable)?;
    // 2^64 is so much larger than 10^8 that the remainder's bias is below one part in 10^11.
    Ok(format!("{:0width$}", u64::from_le_bytes(bytes) % 100_000_000, width = CODE_DIGITS))
}

/// The code as typed: digits only (spaces and dashes people add are dropped).
fn typed(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect()
}

fn message(config: &EmailConfig, code: &str, link: &BrowserSecret) -> String {
    let minutes = config.code_lifetime.as_secs().div_ceil(60);
    format!(
        "Your oakallow sign-in code is:\r\n\r\n    {code}\r\n\r\nOr sign in with this link:\r\n\r\n{}/sign-in/email/{}\r\n\r\n\
         The code and the link work once, for {minutes} minutes; using one spends both.\r\n\
         If you did not ask to sign in, ignore this message: nobody can sign in without it.\r\n",
        dashboard_url(config),
        link.expose()
    )
}

impl Service {
    /// The e-mail settings, or 404 when e-mail is off.
    fn email(&self) -> ServiceResult<&EmailConfig> {
        self.config.email.as_ref().ok_or(ServiceError::NotFound { what: "e-mail sign-in" })
    }

    /// Whether e-mail is configured (invitations and sign-in codes can be sent).
    pub fn email_enabled(&self) -> bool {
        self.config.email.is_some()
    }

    /// Sends a sign-in code to `email` if an account has it. The answer is the same either way;
    /// requests count against the sign-in limits of the address and of the e-mail (429 past them).
    pub async fn request_sign_in_code(&self, email: &str, address: &str) -> ServiceResult<()> {
        let config = self.email()?.clone();
        let email = email.trim().to_lowercase();
        let subjects = [format!("code-request:{email}"), format!("code-request@{address}")];
        for subject in &subjects {
            self.admit_attempt(subject, None).await?;
        }
        let now = self.clock.now();
        self.record_attempt(&subjects, now).await?;
        let Some(account) = self.store.account_by_email(&email).await? else { return Ok(()) };
        let (code, link) = (new_code()?, BrowserSecret::generate()?);
        self.store.put_email_code(&stored(&config, &account, &code, &link, now)).await?;
        let body = message(&config, &code, &link);
        tokio::spawn(async move {
            // Failure is logged (without the code) by `send`; telling the asker would tell them
            // that the account exists.
            let _ = send(&config, &account.email, "Your oakallow sign-in code", body).await;
        });
        Ok(())
    }

    /// Signs in with the e-mail and the code sent to it: a new session (or the second step, for
    /// an account with a second factor), exactly as a password sign-in. Wrong e-mail, wrong, spent, void or expired code all answer 401.
    pub async fn sign_in_with_code(&self, email: &str, code: &str, address: &str) -> ServiceResult<SignInStep> {
        let max_wrong = self.email()?.code_attempts;
        let email = email.trim().to_lowercase();
        let subjects = [format!("email:{email}"), format!("address:{address}")];
        for subject in &subjects {
            self.admit_attempt(subject, Some(self.config.accounts.sign_in_attempts_per_minute)).await?;
        }
        let now = self.clock.now();
        if let Some(account) = self.store.account_by_email(&email).await?
            && let Some(stored) = self.store.email_code(account.id).await?
            && stored.expires_at > now
        {
            let matches: bool = code_digest(&stored.link_digest, &typed(code)).ct_eq(&stored.code_digest).into();
            if matches && self.store.spend_email_code(account.id, &stored.link_digest, now, max_wrong).await? {
                return self.first_factor_passed(account).await;
            }
            if !matches {
                self.store.count_wrong_email_code(account.id, &stored.link_digest, max_wrong).await?;
            }
        }
        self.record_attempt(&subjects, now).await?;
        Err(ServiceError::Unauthenticated)
    }

    /// Signs in with the link of an e-mailed code (which spends the code too); 401 if it was
    /// used, replaced, voided or has expired.
    pub async fn sign_in_with_link(&self, secret: &str) -> ServiceResult<SignInStep> {
        let max_wrong = self.email()?.code_attempts;
        let spent = self.store.spend_email_link(&secret_digest(secret), self.clock.now(), max_wrong).await?;
        let account = match spent {
            Some(id) => self.store.account(id).await?.ok_or(ServiceError::Unauthenticated)?,
            None => return Err(ServiceError::Unauthenticated),
        };
        self.first_factor_passed(account).await
    }
}

fn stored(config: &EmailConfig, account: &Account, code: &str, link: &BrowserSecret, now: Timestamp) -> EmailCode {
    let lifetime = i64::try_from(config.code_lifetime.as_secs()).unwrap_or(i64::MAX);
    let link_digest = secret_digest(link.expose());
    EmailCode {
        account_id: account.id,
        code_digest: code_digest(&link_digest, code),
        link_digest,
        created_at: now,
        expires_at: now.plus_seconds(lifetime),
        wrong_tries: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_eight_digits_and_typed_codes_drop_separators() {
        for _ in 0..100 {
            let code = new_code().unwrap_or_default();
            assert!(code.len() == CODE_DIGITS && code.bytes().all(|b| b.is_ascii_digit()), "{code}");
        }
        assert_eq!(typed(" 1234-5678 "), "12345678");
        assert_ne!(code_digest(&[1; 32], "12345678"), code_digest(&[2; 32], "12345678"), "bound to the row");
    }
}
