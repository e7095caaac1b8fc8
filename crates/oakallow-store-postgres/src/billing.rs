//! Charging inside a write transaction, exact across nodes ([`Charges`] does the bookkeeping):
//! the paying accounts' rows are locked first (in id order, before any activity head, so the lock order is always accounts
//! then heads), their lots loaded into [`Wallet`]s, calls paid for in order, and at the end the
//! changed lots and the ledger rows (write-offs of expired free credit, then one `debit` or
//! `usage` row per account and org) are written. A concurrent transaction on the same account,
//! from any node, waits for this one to commit and then reads what it left.

use std::collections::BTreeMap;

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditLot, Wallet};
use oakallow_domain::id::AccountId;
use oakallow_store::charges::Charges;
use oakallow_store::{Charge, StoreError, StoreResult};
use sqlx::PgConnection;

use crate::credits;

/// The charges of one transaction, over the paying accounts it locked.
pub(crate) struct Billing {
    charges: Charges,
}

impl Billing {
    /// Locks these accounts (until the transaction ends) and opens their wallets at `now`,
    /// expired free credit written off. [`StoreError::NotFound`] if one does not exist.
    pub(crate) async fn open(conn: &mut PgConnection, accounts: &[AccountId], now: Timestamp) -> StoreResult<Self> {
        let mut accounts = accounts.to_vec();
        accounts.sort_unstable();
        accounts.dedup();
        let mut charges = Charges::new(now);
        if !accounts.is_empty() {
            if credits::lock_accounts(conn, &accounts).await? != accounts.len() {
                return Err(StoreError::NotFound);
            }
            let mut lots: BTreeMap<AccountId, Vec<CreditLot>> = accounts.iter().map(|account| (*account, Vec::new())).collect();
            for lot in credits::load_lots(conn, &accounts).await? {
                lots.entry(lot.account_id).or_default().push(lot);
            }
            for (account, before) in lots {
                charges.open(account, before);
            }
        }
        Ok(Self { charges })
    }

    /// The wallet of an account this transaction opened.
    pub(crate) fn wallet(&mut self, account: AccountId) -> StoreResult<&mut Wallet> {
        self.charges.wallet(account)
    }

    /// Whether the charge's account can pay for one more call now.
    pub(crate) fn can_pay(&mut self, charge: &Charge) -> StoreResult<bool> {
        self.charges.can_pay(charge)
    }

    /// Pays for one call, which [`Billing::can_pay`] allowed just before.
    pub(crate) fn pay(&mut self, charge: &Charge) -> StoreResult<()> {
        self.charges.pay(charge)
    }

    /// Writes back the changed lots and the ledger rows: one statement for each.
    pub(crate) async fn finish(self, conn: &mut PgConnection) -> StoreResult<()> {
        let writes = self.charges.finish();
        credits::save_lots(conn, &writes.lots).await?;
        credits::insert_ledger(conn, &writes.rows).await
    }
}
