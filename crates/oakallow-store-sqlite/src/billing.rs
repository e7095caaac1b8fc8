//! Charging inside a write transaction: [`Charges`] does the bookkeeping; this loads each paying
//! account's lots on first use and writes back what the charges changed. SQLite has a single
//! writer, so the loaded lots cannot change under the transaction and need no further locking.

use oakallow_domain::Timestamp;
use oakallow_domain::billing::Wallet;
use oakallow_domain::id::AccountId;
use oakallow_store::charges::Charges;
use oakallow_store::{Charge, StoreResult};
use rusqlite::Transaction;

use crate::credits;

/// The charges of one transaction.
pub(crate) struct Billing {
    charges: Charges,
}

impl Billing {
    /// Nothing opened yet; expiry is judged at `now`, and the ledger rows are dated `now`.
    pub(crate) fn new(now: Timestamp) -> Self {
        Self { charges: Charges::new(now) }
    }

    /// The account's wallet, loading its lots on first use (expired free credit written off).
    pub(crate) fn wallet(&mut self, tx: &Transaction<'_>, account: AccountId) -> StoreResult<&mut Wallet> {
        if !self.charges.is_open(account) {
            self.charges.open(account, credits::load_lots(tx, account)?);
        }
        self.charges.wallet(account)
    }

    /// Whether the charge's account can pay for one more call now.
    pub(crate) fn can_pay(&mut self, tx: &Transaction<'_>, charge: &Charge) -> StoreResult<bool> {
        self.wallet(tx, charge.account_id)?;
        self.charges.can_pay(charge)
    }

    /// Pays for one call, which [`Billing::can_pay`] allowed just before.
    pub(crate) fn pay(&mut self, charge: &Charge) -> StoreResult<()> {
        self.charges.pay(charge)
    }

    /// Writes back the changed lots and the ledger rows.
    pub(crate) fn finish(self, tx: &Transaction<'_>) -> StoreResult<()> {
        let writes = self.charges.finish();
        credits::save_lots(tx, &writes.lots)?;
        writes.rows.iter().try_for_each(|row| credits::insert_ledger(tx, row))
    }
}
