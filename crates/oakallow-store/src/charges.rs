//! The bookkeeping of charges inside one write transaction, shared by every backend: each paying
//! account's [`Wallet`], the calls paid for per account and org, and, at the end, the lots to
//! save and the ledger rows to insert (a write-off per account whose free credit expired, then
//! one `debit` row, or `usage` row at price 0, per account and org). Backends only load the lots
//! (under their own locking) and write the result.

use std::collections::BTreeMap;

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditLot, LedgerKind, Wallet};
use oakallow_domain::id::{AccountId, LedgerId, OrgId};

use crate::{Charge, LedgerRow, StoreError, StoreResult};

/// The note of a write-off of expired free credit.
const EXPIRY_NOTE: &str = "free credit expired";

/// An account's wallet and its lots as loaded (to tell which ones changed).
struct Open {
    before: Vec<CreditLot>,
    wallet: Wallet,
}

/// What one account spent in one org during the transaction.
#[derive(Default)]
struct Usage {
    spent: i64,
    calls: u64,
}

/// The wallets one transaction opened and the calls it paid for.
pub struct Charges {
    now: Timestamp,
    wallets: BTreeMap<AccountId, Open>,
    usage: BTreeMap<(AccountId, OrgId), Usage>,
}

/// What a transaction's charges leave to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChargeWrites {
    /// Lots whose `remaining` changed.
    pub lots: Vec<CreditLot>,
    /// Ledger rows to insert.
    pub rows: Vec<LedgerRow>,
}

impl Charges {
    /// Nothing opened yet; expiry is judged at `now`, and the ledger rows are dated `now`.
    pub fn new(now: Timestamp) -> Self {
        Self { now, wallets: BTreeMap::new(), usage: BTreeMap::new() }
    }

    /// Whether the account's wallet is open.
    pub fn is_open(&self, account: AccountId) -> bool {
        self.wallets.contains_key(&account)
    }

    /// Opens the account's wallet with its lots as loaded (expired free credit written off).
    pub fn open(&mut self, account: AccountId, lots: Vec<CreditLot>) {
        let wallet = Wallet::open(lots.clone(), self.now);
        self.wallets.insert(account, Open { before: lots, wallet });
    }

    /// The wallet of an account this transaction opened.
    pub fn wallet(&mut self, account: AccountId) -> StoreResult<&mut Wallet> {
        match self.wallets.get_mut(&account) {
            Some(open) => Ok(&mut open.wallet),
            None => Err(StoreError::Backend("a wallet was used without being opened".into())),
        }
    }

    /// Whether the charge's account can pay for one more call now.
    pub fn can_pay(&mut self, charge: &Charge) -> StoreResult<bool> {
        if charge.price < 0 {
            return Err(StoreError::Backend("a call cannot have a negative price".into()));
        }
        Ok(self.wallet(charge.account_id)?.balance() >= charge.price)
    }

    /// Pays for one call, which [`Charges::can_pay`] allowed just before.
    pub fn pay(&mut self, charge: &Charge) -> StoreResult<()> {
        if !self.wallet(charge.account_id)?.charge(charge.price) {
            return Err(StoreError::Backend("a call was charged without a check of the balance".into()));
        }
        let usage = self.usage.entry((charge.account_id, charge.org_id)).or_default();
        usage.spent += charge.price;
        usage.calls += 1;
        Ok(())
    }

    /// The changed lots and the ledger rows to write.
    pub fn finish(self) -> ChargeWrites {
        let now = self.now;
        let mut lots = Vec::new();
        let mut rows = Vec::new();
        for (account, open) in self.wallets {
            let changes = open.wallet.finish(&open.before);
            lots.extend(changes.lots);
            if changes.expired > 0 {
                rows.push(row(account, None, LedgerKind::Expiry, -changes.expired, 0, Some(EXPIRY_NOTE.into()), now));
            }
        }
        for ((account, org), usage) in self.usage {
            let kind = if usage.spent > 0 { LedgerKind::Debit } else { LedgerKind::Usage };
            rows.push(row(account, Some(org), kind, -usage.spent, usage.calls, None, now));
        }
        ChargeWrites { lots, rows }
    }
}

/// A new ledger row.
fn row(
    account_id: AccountId,
    org_id: Option<OrgId>,
    kind: LedgerKind,
    amount: i64,
    calls: u64,
    note: Option<String>,
    created_at: Timestamp,
) -> LedgerRow {
    LedgerRow { id: LedgerId::generate(), account_id, org_id, kind, amount, calls, note, created_at }
}
