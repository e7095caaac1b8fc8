//! Charging inside a write transaction: each paying account's lots are loaded once into a
//! [`Wallet`] on first use, calls are paid for in order, and at the end the changed lots and
//! the ledger rows (write-offs of expired free credit, then one `debit` or `usage` row per
//! account and org) are written. SQLite has a single writer, so the loaded lots cannot change
//! under the transaction and need no further locking.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditLot, LedgerKind, Wallet};
use oakallow_domain::id::{AccountId, LedgerId, OrgId};
use oakallow_store::{Charge, LedgerRow, StoreError, StoreResult};
use rusqlite::Transaction;

use crate::credits;

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

/// The wallets one transaction opened, and the calls it paid for.
pub(crate) struct Billing {
    now: Timestamp,
    wallets: BTreeMap<AccountId, Open>,
    usage: BTreeMap<(AccountId, OrgId), Usage>,
}

impl Billing {
    /// Nothing opened yet; expiry is judged at `now`, and the ledger rows are dated `now`.
    pub(crate) fn new(now: Timestamp) -> Self {
        Self { now, wallets: BTreeMap::new(), usage: BTreeMap::new() }
    }

    /// The account's wallet, loading its lots on first use (expired free credit written off).
    pub(crate) fn wallet(&mut self, tx: &Transaction<'_>, account: AccountId) -> StoreResult<&mut Wallet> {
        let open = match self.wallets.entry(account) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let before = credits::load_lots(tx, account)?;
                let wallet = Wallet::open(before.clone(), self.now);
                entry.insert(Open { before, wallet })
            }
        };
        Ok(&mut open.wallet)
    }

    /// Whether the charge's account can pay for one more call now.
    pub(crate) fn can_pay(&mut self, tx: &Transaction<'_>, charge: &Charge) -> StoreResult<bool> {
        Ok(self.wallet(tx, charge.account_id)?.balance() >= charge.price)
    }

    /// Pays for one call, which [`Billing::can_pay`] allowed just before.
    pub(crate) fn pay(&mut self, charge: &Charge) -> StoreResult<()> {
        let paid = self.wallets.get_mut(&charge.account_id).is_some_and(|open| open.wallet.charge(charge.price));
        if !paid {
            return Err(StoreError::Backend("a call was charged without a check of the balance".into()));
        }
        let usage = self.usage.entry((charge.account_id, charge.org_id)).or_default();
        usage.spent += charge.price;
        usage.calls += 1;
        Ok(())
    }

    /// Writes back the changed lots, an `expiry` row per account whose free credit expired, and
    /// a `debit` (or, at price 0, `usage`) row per account and org that made calls.
    pub(crate) fn finish(self, tx: &Transaction<'_>) -> StoreResult<()> {
        let now = self.now;
        for (account, open) in self.wallets {
            let changes = open.wallet.finish(&open.before);
            credits::save_lots(tx, &changes.lots)?;
            if changes.expired > 0 {
                let row = row(account, None, LedgerKind::Expiry, -changes.expired, 0, Some("free credit expired".into()), now);
                credits::insert_ledger(tx, &row)?;
            }
        }
        for ((account, org), usage) in self.usage {
            let kind = if usage.spent > 0 { LedgerKind::Debit } else { LedgerKind::Usage };
            credits::insert_ledger(tx, &row(account, Some(org), kind, -usage.spent, usage.calls, None, now))?;
        }
        Ok(())
    }
}

/// A new ledger row.
pub(crate) fn row(
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
