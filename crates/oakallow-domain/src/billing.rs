//! Prepaid credits (PRODUCT.md section 10) without storage: the price, the free credit, and the
//! [`Wallet`] that decides, inside one transaction, which billable calls an account can pay for
//! and which credit pays: the free credit first (until it expires), then the other credit,
//! oldest first. The balance never goes below zero.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::id::AccountId;

/// Price of one billable call, in micro-dollars ($0.005).
pub const PRICE_MICROUSD: i64 = 5_000;
/// Free credit of a new account, in micro-dollars ($5.00).
pub const FREE_CREDIT_MICROUSD: i64 = 5_000_000;
/// Days until the free credit expires.
pub const FREE_CREDIT_DAYS: i64 = 30;

/// Where a lot of credit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CreditKind {
    /// The sign-up credit; spent first, expires.
    Free,
    /// Bought (Stripe, later).
    Purchase,
    /// Given by the operator (`oakallow credits grant`).
    Grant,
    /// Added by `oakallow credits set`.
    Adjustment,
}

impl CreditKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Purchase => "purchase",
            Self::Grant => "grant",
            Self::Adjustment => "adjustment",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "free" => Some(Self::Free),
            "purchase" => Some(Self::Purchase),
            "grant" => Some(Self::Grant),
            "adjustment" => Some(Self::Adjustment),
            _ => None,
        }
    }
}

/// A lot of credit and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditLot {
    /// Its id (the ledger row that added it).
    pub id: String,
    /// Account.
    pub account_id: AccountId,
    /// Where it came from.
    pub kind: CreditKind,
    /// Amount added, in micro-dollars.
    pub amount: i64,
    /// Amount not yet spent.
    pub remaining: i64,
    /// When it was added.
    pub created_at: Timestamp,
    /// When what is left of it expires (free credit).
    pub expires_at: Option<Timestamp>,
}

/// What a ledger row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LedgerKind {
    /// Sign-up credit.
    FreeCredit,
    /// A purchase.
    Purchase,
    /// Operator grant.
    Grant,
    /// Operator adjustment (either sign).
    Adjustment,
    /// Billable calls paid for.
    Debit,
    /// Billable calls counted while billing is off (amount 0).
    Usage,
    /// Free credit that expired unspent.
    Expiry,
    /// A purchase's credit taken back for its refund (negative), or given back when Stripe
    /// refused the refund (positive).
    Refund,
}

impl LedgerKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FreeCredit => "free_credit",
            Self::Purchase => "purchase",
            Self::Grant => "grant",
            Self::Adjustment => "adjustment",
            Self::Debit => "debit",
            Self::Usage => "usage",
            Self::Expiry => "expiry",
            Self::Refund => "refund",
        }
    }

    /// Parses the wire name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "free_credit" => Some(Self::FreeCredit),
            "purchase" => Some(Self::Purchase),
            "grant" => Some(Self::Grant),
            "adjustment" => Some(Self::Adjustment),
            "debit" => Some(Self::Debit),
            "usage" => Some(Self::Usage),
            "expiry" => Some(Self::Expiry),
            "refund" => Some(Self::Refund),
            _ => None,
        }
    }
}

/// An account's credit during one transaction: load its lots (locked), ask [`Wallet::charge`]
/// for each billable call in order, then write back [`Wallet::finish`]'s changes.
#[derive(Debug, Clone)]
pub struct Wallet {
    lots: Vec<CreditLot>,
    expired: i64,
    spent: i64,
    calls: u64,
}

/// What a wallet changed: lots to save, and the amounts of the ledger rows to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalletChanges {
    /// Lots whose `remaining` changed.
    pub lots: Vec<CreditLot>,
    /// Free credit that expired now (write an `expiry` row of minus this), if any.
    pub expired: i64,
    /// Micro-dollars spent now (write a `debit` row of minus this), if any.
    pub spent: i64,
    /// Calls paid for (or, at price 0, counted).
    pub calls: u64,
}

impl Wallet {
    /// The wallet of these lots at `now`: expired free credit is taken out first.
    pub fn open(mut lots: Vec<CreditLot>, now: Timestamp) -> Self {
        // Spending order: free credit first, then the rest oldest first.
        lots.sort_by_key(|lot| (lot.kind != CreditKind::Free, lot.created_at, lot.id.clone()));
        let mut expired = 0;
        for lot in lots.iter_mut().filter(|lot| lot.expires_at.is_some_and(|at| now >= at) && lot.remaining > 0) {
            expired += lot.remaining;
            lot.remaining = 0;
        }
        Self { lots, expired, spent: 0, calls: 0 }
    }

    /// What is left to spend, in micro-dollars.
    pub fn balance(&self) -> i64 {
        self.lots.iter().map(|lot| lot.remaining).sum()
    }

    /// The lots, in spending order.
    pub fn lots(&self) -> &[CreditLot] {
        &self.lots
    }

    /// Pays for one call of `price` if the balance allows; answers whether it did. A price of
    /// 0 (billing off) always succeeds and only counts the call.
    pub fn charge(&mut self, price: i64) -> bool {
        if price < 0 || price > self.balance() {
            return false;
        }
        let mut left = price;
        for lot in self.lots.iter_mut() {
            let take = left.min(lot.remaining);
            lot.remaining -= take;
            left -= take;
            if left == 0 {
                break;
            }
        }
        self.spent += price;
        self.calls += 1;
        true
    }

    /// Spends `amount` outright (a negative adjustment), as far as the balance goes; answers
    /// what was taken.
    pub fn take(&mut self, amount: i64) -> i64 {
        let mut left = amount.clamp(0, self.balance());
        let taken = left;
        for lot in self.lots.iter_mut() {
            let take = left.min(lot.remaining);
            lot.remaining -= take;
            left -= take;
        }
        taken
    }

    /// The changes to write.
    pub fn finish(self, before: &[CreditLot]) -> WalletChanges {
        let lots = self.lots.into_iter().filter(|lot| before.iter().any(|b| b.id == lot.id && b.remaining != lot.remaining)).collect();
        WalletChanges { lots, expired: self.expired, spent: self.spent, calls: self.calls }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(id: &str, kind: CreditKind, amount: i64, created: i64, expires: Option<i64>) -> CreditLot {
        CreditLot {
            id: id.into(),
            account_id: AccountId::from_u128(1),
            kind,
            amount,
            remaining: amount,
            created_at: Timestamp::from_micros(created),
            expires_at: expires.map(Timestamp::from_micros),
        }
    }

    #[test]
    fn free_credit_first_then_oldest_first_and_never_below_zero() {
        let lots = vec![
            lot("b", CreditKind::Grant, 10_000, 2, None),
            lot("free", CreditKind::Free, 10_000, 3, Some(100)),
            lot("a", CreditKind::Purchase, 5_000, 1, None),
        ];
        let mut wallet = Wallet::open(lots.clone(), Timestamp::from_micros(10));
        assert_eq!(wallet.balance(), 25_000);
        assert_eq!(wallet.lots().iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["free", "a", "b"]);
        for _ in 0..5 {
            assert!(wallet.charge(PRICE_MICROUSD));
        }
        assert!(!wallet.charge(PRICE_MICROUSD), "the balance never goes below zero");
        let changes = wallet.finish(&lots);
        assert_eq!((changes.spent, changes.calls, changes.expired), (25_000, 5, 0));
        assert!(changes.lots.iter().all(|l| l.remaining == 0));
    }

    #[test]
    fn free_credit_expires_unspent() {
        let lots = vec![lot("free", CreditKind::Free, 10_000, 0, Some(100)), lot("a", CreditKind::Grant, 5_000, 1, None)];
        let mut wallet = Wallet::open(lots.clone(), Timestamp::from_micros(100));
        assert_eq!(wallet.balance(), 5_000);
        assert!(wallet.charge(5_000));
        assert!(!wallet.charge(1));
        let changes = wallet.finish(&lots);
        assert_eq!((changes.expired, changes.spent), (10_000, 5_000));
    }

    #[test]
    fn price_zero_counts_without_spending() {
        let mut wallet = Wallet::open(vec![], Timestamp::from_micros(0));
        assert!(wallet.charge(0));
        assert!(wallet.charge(0));
        let changes = wallet.finish(&[]);
        assert_eq!((changes.calls, changes.spent), (2, 0));
    }
}
