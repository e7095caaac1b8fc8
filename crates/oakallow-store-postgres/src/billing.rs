//! Charging inside a write transaction, exact across nodes: the paying accounts' rows are
//! locked first (in id order, before any activity head, so the lock order is always accounts
//! then heads), their lots loaded into [`Wallet`]s, calls paid for in order, and at the end the
//! changed lots and the ledger rows (write-offs of expired free credit, then one `debit` or
//! `usage` row per account and org) are written. A concurrent transaction on the same account,
//! from any node, waits for this one to commit and then reads what it left.

use std::collections::BTreeMap;

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditLot, LedgerKind, Wallet};
use oakallow_domain::id::{AccountId, LedgerId, OrgId};
use oakallow_store::{Charge, LedgerRow, StoreError, StoreResult};
use sqlx::PgConnection;

use crate::credits;

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

/// The wallets of one transaction's paying accounts, and the calls it paid for.
pub(crate) struct Billing {
    now: Timestamp,
    wallets: BTreeMap<AccountId, Open>,
    usage: BTreeMap<(AccountId, OrgId), Usage>,
}

impl Billing {
    /// Locks these accounts (until the transaction ends) and opens their wallets at `now`,
    /// expired free credit written off. [`StoreError::NotFound`] if one does not exist.
    pub(crate) async fn open(conn: &mut PgConnection, accounts: &[AccountId], now: Timestamp) -> StoreResult<Self> {
        let mut accounts = accounts.to_vec();
        accounts.sort_unstable();
        accounts.dedup();
        let mut wallets = BTreeMap::new();
        if !accounts.is_empty() {
            if credits::lock_accounts(conn, &accounts).await? != accounts.len() {
                return Err(StoreError::NotFound);
            }
            let mut lots: BTreeMap<AccountId, Vec<CreditLot>> = accounts.iter().map(|account| (*account, Vec::new())).collect();
            for lot in credits::load_lots(conn, &accounts).await? {
                lots.entry(lot.account_id).or_default().push(lot);
            }
            for (account, before) in lots {
                let wallet = Wallet::open(before.clone(), now);
                wallets.insert(account, Open { before, wallet });
            }
        }
        Ok(Self { now, wallets, usage: BTreeMap::new() })
    }

    /// The wallet of an account this transaction opened.
    pub(crate) fn wallet(&mut self, account: AccountId) -> StoreResult<&mut Wallet> {
        match self.wallets.get_mut(&account) {
            Some(open) => Ok(&mut open.wallet),
            None => Err(StoreError::Backend("a wallet was used without being opened".into())),
        }
    }

    /// Whether the charge's account can pay for one more call now.
    pub(crate) fn can_pay(&mut self, charge: &Charge) -> StoreResult<bool> {
        if charge.price < 0 {
            return Err(StoreError::Backend("a call cannot have a negative price".into()));
        }
        Ok(self.wallet(charge.account_id)?.balance() >= charge.price)
    }

    /// Pays for one call, which [`Billing::can_pay`] allowed just before.
    pub(crate) fn pay(&mut self, charge: &Charge) -> StoreResult<()> {
        if !self.wallet(charge.account_id)?.charge(charge.price) {
            return Err(StoreError::Backend("a call was charged without a check of the balance".into()));
        }
        let usage = self.usage.entry((charge.account_id, charge.org_id)).or_default();
        usage.spent += charge.price;
        usage.calls += 1;
        Ok(())
    }

    /// Writes back the changed lots, an `expiry` row per account whose free credit expired, and
    /// a `debit` (or, at price 0, `usage`) row per account and org that made calls: one
    /// statement for the lots, one for the rows.
    pub(crate) async fn finish(self, conn: &mut PgConnection) -> StoreResult<()> {
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
        credits::save_lots(conn, &lots).await?;
        credits::insert_ledger(conn, &rows).await
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
