//! People: dashboard accounts, their sessions, and what a signed-in member may do in an org.
//!
//! A session is a random secret in a cookie; the store keeps only its SHA-256. Every request
//! finds the session, then the account's membership in the org it names: an org the account
//! is not a member of answers 404, exactly as one that does not exist. The membership's role
//! then grants a tier-typed caller ([`crate::auth`]) — owners and admins get management
//! rights, every member can read — so the same service methods, with the same checks, serve
//! the API and the dashboard; and deciding an approval needs the approver group of its level.

mod decide;
pub mod email_codes;
pub mod lifecycle;
pub mod mail;
pub mod operator;
pub mod overview;
pub mod passkeys;
pub mod passwords;
pub mod second_factor;
pub mod sessions;
pub mod sign_in_step;
pub mod team;

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oakallow_domain::account::{ApproverLevels, Membership, Role};
use oakallow_domain::id::{OrgId, SessionId};
use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::{Account, Org};
use oakallow_domain::secret::random_bytes;

use crate::auth::{ApprovalReader, Caller, Management, Reader};
use crate::error::{ServiceError, ServiceResult};

impl crate::Service {
    /// Whether dashboard cookies are always `Secure`.
    pub fn secure_cookies(&self) -> bool {
        self.config.accounts.secure_cookies
    }

    /// Who may sign up now: `None` if the instance has no operator yet (the first sign-up
    /// always works), else the configured mode.
    pub async fn sign_up_mode(&self) -> ServiceResult<Option<crate::config::SignUpMode>> {
        Ok(self.store.operator().await?.map(|_| self.config.accounts.sign_up))
    }
}

/// A secret handed to a browser (session cookie, invitation link): 256 random bits,
/// URL-safe base64. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct BrowserSecret(String);

impl BrowserSecret {
    /// A new random secret.
    pub(crate) fn generate() -> ServiceResult<Self> {
        let bytes = random_bytes::<32>().map_err(|_| ServiceError::Unavailable)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// The secret itself, to put in the cookie or link.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BrowserSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BrowserSecret(…)")
    }
}

/// Someone signed in: their account and the session they are using.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The account.
    pub account: Account,
    /// The session (to sign out or tell it apart from the account's other sessions).
    pub session_id: SessionId,
}

/// A signed-in account acting in one org it is a member of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgMember {
    /// The org.
    pub org: Org,
    /// The account.
    pub account: Account,
    /// Its place in the org.
    pub membership: Membership,
    /// The session it acts through (for the step-up check of its second factor).
    pub session_id: SessionId,
}

impl OrgMember {
    /// The org's id.
    pub fn org_id(&self) -> OrgId {
        self.org.id
    }

    /// The member's role.
    pub fn role(&self) -> Role {
        self.membership.role
    }

    /// The approval levels the member may decide.
    pub fn approver(&self) -> ApproverLevels {
        self.membership.approver
    }

    fn caller(&self, tier: KeyTier) -> Caller {
        Caller::member(self.org.id, tier, self.account.id)
    }

    /// Reads the org's configuration: every member may.
    pub fn reader(&self) -> Reader {
        Reader::granted(self.caller(KeyTier::Management))
    }

    /// Reads the org's approvals: every member may (and is never billed for it).
    pub fn approval_reader(&self) -> ApprovalReader {
        ApprovalReader::granted(self.caller(KeyTier::Approver))
    }

    /// Changes the org's configuration, keys and settings: owners and admins.
    pub fn management(&self) -> ServiceResult<Management> {
        if self.role().can_configure() {
            Ok(Management::granted(self.caller(KeyTier::Management)))
        } else {
            Err(ServiceError::ForbiddenRole { required: "the admin or owner role" })
        }
    }
}
