//! Prepaid credit: what a billable call costs and who pays, the account's balance and ledger
//! (`GET /v1/billing`, `GET /v1/billing/ledger`), and the operator's `oakallow credits` commands.
//! Debits themselves happen inside the store's transactions (group commit), with the writes
//! they pay for.

use oakallow_domain::Timestamp;
use oakallow_domain::audit::ActivityRecord;
use oakallow_domain::billing::{CreditKind, CreditLot, FREE_CREDIT_DAYS, FREE_CREDIT_MICROUSD, LedgerKind, PRICE_MICROUSD};
use oakallow_domain::id::{AccountId, LedgerId};
use oakallow_domain::org::Org;
use oakallow_store::{Charge, LedgerRow, NewCredit};
use serde::Serialize;
use serde_json::{Value, json};

use crate::Service;
use crate::auth::Management;
use crate::bootstrap::normalize_email;
use crate::error::{ServiceError, ServiceResult};
use crate::page::{Page, PageRequest};

/// Answer of `GET /v1/billing`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BillingView {
    /// Whether billable calls are metered against the balance.
    pub enabled: bool,
    /// Credit left, in micro-dollars.
    pub balance_microusd: i64,
    /// Billable calls the balance pays for.
    pub balance_calls: i64,
    /// Price of one billable call, in micro-dollars.
    pub price_microusd: i64,
    /// The sign-up credit, while the account has one.
    pub free_credit: Option<FreeCreditView>,
    /// Every lot of credit, in spending order (an addition to the contract: it shows which
    /// credit pays next, and which purchases are still unspent).
    pub credits: Vec<CreditView>,
}

/// The sign-up credit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FreeCreditView {
    /// What is left of it.
    pub remaining_microusd: i64,
    /// When what is left expires.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}

/// One lot of credit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreditView {
    /// The ledger row that added it.
    pub id: String,
    /// `free`, `purchase`, `grant` or `adjustment`.
    #[schema(value_type = String)]
    pub kind: CreditKind,
    /// Amount added.
    pub amount_microusd: i64,
    /// Amount left.
    pub remaining_microusd: i64,
    /// When it was added.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// When it expires.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<Timestamp>,
}

/// A ledger row as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LedgerView {
    /// Its id.
    pub id: String,
    /// What it records.
    #[schema(value_type = String)]
    pub kind: LedgerKind,
    /// Micro-dollars (negative for debits).
    pub amount_microusd: i64,
    /// Billable calls covered.
    pub calls: u64,
    /// The org of a debit.
    pub org_id: Option<String>,
    /// A note.
    pub note: Option<String>,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

impl From<LedgerRow> for LedgerView {
    fn from(row: LedgerRow) -> Self {
        Self {
            id: row.id.to_string(),
            kind: row.kind,
            amount_microusd: row.amount,
            calls: row.calls,
            org_id: row.org_id.map(|id| id.to_string()),
            note: row.note,
            created_at: row.created_at,
        }
    }
}

fn credit_view(lot: &CreditLot) -> CreditView {
    CreditView {
        id: lot.id.clone(),
        kind: lot.kind,
        amount_microusd: lot.amount,
        remaining_microusd: lot.remaining,
        created_at: lot.created_at,
        expires_at: lot.expires_at,
    }
}

/// The sign-up credit of an account created at `now`.
pub(crate) fn free_credit(now: Timestamp) -> NewCredit {
    NewCredit {
        id: LedgerId::generate(),
        kind: CreditKind::Free,
        amount: FREE_CREDIT_MICROUSD,
        expires_at: Some(now.plus_seconds(FREE_CREDIT_DAYS * 24 * 3600)),
        note: Some("sign-up credit".into()),
        created_at: now,
    }
}

/// Marks the activity entry that a billable call writes (the ledger's debits count these).
pub(crate) fn billable(mut record: ActivityRecord) -> ActivityRecord {
    let mut details = match record.details.take() {
        Some(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    details.insert("billable".into(), json!(true));
    record.details = Some(Value::Object(details));
    record
}

impl Service {
    /// What a billable call in `org` costs and who pays (price 0 when billing is off).
    pub(crate) fn charge(&self, org: &Org) -> Option<Charge> {
        let price = if self.config.billing_enabled { PRICE_MICROUSD } else { 0 };
        Some(Charge { account_id: org.account_id, org_id: org.id, price })
    }

    /// The balance and credit of the account that owns the caller's org.
    pub async fn billing(&self, caller: &Management) -> ServiceResult<BillingView> {
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        let state = self.store.credit_state(account, self.clock.now()).await?;
        let free = state.lots.iter().find(|lot| lot.kind == CreditKind::Free && lot.remaining > 0);
        Ok(BillingView {
            enabled: self.config.billing_enabled,
            balance_microusd: state.balance,
            balance_calls: state.balance / PRICE_MICROUSD,
            price_microusd: PRICE_MICROUSD,
            free_credit: free
                .and_then(|lot| lot.expires_at.map(|expires_at| FreeCreditView { remaining_microusd: lot.remaining, expires_at })),
            credits: state.lots.iter().map(credit_view).collect(),
        })
    }

    /// A page of the account's ledger, newest first.
    pub async fn ledger(&self, caller: &Management, page: &PageRequest) -> ServiceResult<Page<LedgerView>> {
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        let limit = page.limit()?;
        let rows = self.store.ledger(account, page.position_as::<LedgerId>()?, limit + 1).await?;
        let page = Page::from_probe(rows, limit, |r| r.id.to_string());
        Ok(Page { data: page.data.into_iter().map(LedgerView::from).collect(), next_cursor: page.next_cursor })
    }

    async fn account_by_email(&self, email: &str) -> ServiceResult<AccountId> {
        let email = normalize_email(email)?;
        let account = self.store.account_by_email(&email).await?;
        account
            .map(|a| a.id)
            .ok_or_else(|| ServiceError::InvalidRequest { message: format!("no account with email {email}"), details: json!({}) })
    }

    /// The operator adds credit to an account (`oakallow credits grant`).
    pub async fn grant_credit(&self, email: &str, amount_microusd: i64) -> ServiceResult<BillingSummary> {
        if amount_microusd <= 0 {
            return Err(ServiceError::invalid("the credit to grant must be positive"));
        }
        let account = self.account_by_email(email).await?;
        let now = self.clock.now();
        let credit = NewCredit {
            id: LedgerId::generate(),
            kind: CreditKind::Grant,
            amount: amount_microusd,
            expires_at: None,
            note: Some("granted by the operator".into()),
            created_at: now,
        };
        self.store.add_credit(account, &credit).await?;
        self.summary(account).await
    }

    /// The operator makes an account's balance exactly `calls` calls (`oakallow credits set`).
    pub async fn set_credit_calls(&self, email: &str, calls: i64) -> ServiceResult<BillingSummary> {
        if calls < 0 {
            return Err(ServiceError::invalid("the number of calls cannot be negative"));
        }
        let account = self.account_by_email(email).await?;
        let target = calls.checked_mul(PRICE_MICROUSD).ok_or_else(|| ServiceError::invalid("too many calls"))?;
        self.store.set_balance(account, target, LedgerId::generate(), "set by the operator", self.clock.now()).await?;
        self.summary(account).await
    }

    async fn summary(&self, account: AccountId) -> ServiceResult<BillingSummary> {
        let state = self.store.credit_state(account, self.clock.now()).await?;
        Ok(BillingSummary {
            account_id: account.to_string(),
            balance_microusd: state.balance,
            balance_calls: state.balance / PRICE_MICROUSD,
        })
    }
}

/// What the `credits` commands print.
#[derive(Debug, Clone, Serialize)]
pub struct BillingSummary {
    /// The account.
    pub account_id: String,
    /// Its balance, in micro-dollars.
    pub balance_microusd: i64,
    /// Billable calls it pays for.
    pub balance_calls: i64,
}
