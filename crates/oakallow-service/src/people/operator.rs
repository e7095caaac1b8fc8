//! What the operator's `oakallow admin accounts` commands read: every account, and one account
//! in full (its orgs and roles, its credit, whether it can sign in). Operator commands run
//! against the database directly, so there is no caller to check.

use oakallow_domain::Timestamp;
use oakallow_domain::billing::PRICE_MICROUSD;
use oakallow_domain::id::AccountId;
use oakallow_domain::org::Account;
use serde::Serialize;

use crate::Service;
use crate::bootstrap::normalize_email;
use crate::error::{ServiceError, ServiceResult};

/// Accounts read per store call while listing them all.
const PAGE: u32 = 500;

/// An account as `oakallow admin accounts list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountSummary {
    /// Its id.
    pub id: AccountId,
    /// Its sign-in e-mail.
    pub email: String,
    /// Its name.
    pub name: String,
    /// When it was made.
    pub created_at: Timestamp,
    /// Whether it is the instance operator.
    pub operator: bool,
}

/// An org the account belongs to.
#[derive(Debug, Clone, Serialize)]
pub struct AccountOrg {
    /// The org's id.
    pub org_id: String,
    /// Its name.
    pub name: String,
    /// The account's role in it.
    pub role: &'static str,
}

/// One account in full (`oakallow admin accounts show`).
#[derive(Debug, Clone, Serialize)]
pub struct AccountDetails {
    /// Who it is.
    #[serde(flatten)]
    pub summary: AccountSummary,
    /// Whether it has a dashboard password.
    pub has_password: bool,
    /// Its dashboard sessions that are live now.
    pub live_sessions: usize,
    /// The orgs it belongs to, oldest membership first.
    pub orgs: Vec<AccountOrg>,
    /// Its credit, in micro-dollars.
    pub balance_microusd: i64,
    /// Billable calls its credit pays for.
    pub balance_calls: i64,
    /// When the operator disabled it (deleted accounts are disabled too).
    pub disabled_at: Option<Timestamp>,
    /// When it was deleted.
    pub deleted_at: Option<Timestamp>,
}

impl Service {
    /// Every account, oldest first.
    pub async fn all_accounts(&self) -> ServiceResult<Vec<AccountSummary>> {
        let operator = self.store.operator().await?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.accounts(after, PAGE).await?;
            after = page.last().map(|account| account.id);
            let full = page.len() == PAGE as usize;
            all.extend(page.into_iter().map(|account| summary(account, operator)));
            if !full {
                return Ok(all);
            }
        }
    }

    /// The account with this e-mail, in full.
    pub async fn account_details(&self, email: &str) -> ServiceResult<AccountDetails> {
        let email = normalize_email(email)?;
        let account = self.store.account_by_email(&email).await?.ok_or(ServiceError::NotFound { what: "account" })?;
        let now = self.clock.now();
        let id = account.id;
        let operator = self.store.operator().await?;
        let orgs = self.store.memberships_of_account(id).await?;
        let credit = self.store.credit_state(id, now).await?;
        let status = self.store.account_status(id).await?.ok_or(ServiceError::NotFound { what: "account" })?;
        Ok(AccountDetails {
            summary: summary(account, operator),
            has_password: self.store.password_hash(id).await?.is_some(),
            live_sessions: self.store.live_sessions(id, now).await?.len(),
            orgs: orgs
                .into_iter()
                .map(|m| AccountOrg { org_id: m.org.id.to_string(), name: m.org.name, role: m.membership.role.as_str() })
                .collect(),
            balance_microusd: credit.balance,
            balance_calls: credit.balance / PRICE_MICROUSD,
            disabled_at: status.disabled_at,
            deleted_at: status.deleted_at,
        })
    }
}

fn summary(account: Account, operator: Option<AccountId>) -> AccountSummary {
    AccountSummary {
        operator: operator == Some(account.id),
        id: account.id,
        email: account.email,
        name: account.name,
        created_at: account.created_at,
    }
}
