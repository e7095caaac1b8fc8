//! Prepaid credit on SQLite: lots of credit (what is left of each) and the ledger (every credit
//! and debit; an account's rows sum to its balance). All arithmetic is the domain's
//! [`Wallet`](oakallow_domain::billing::Wallet), driven through [`Billing`].

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditKind, CreditLot, LedgerKind};
use oakallow_domain::id::{AccountId, LedgerId};
use oakallow_store::{CreditState, LedgerRow, NewCredit, NewPurchase, Purchase, Refund, RefundReservation, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};

use crate::billing::Billing;
use crate::conn::map_error;
use crate::rows::{named, parsed, parsed_opt, time, time_opt};
use crate::runtime_rows::{int, sql_int};

const LOT_COLUMNS: &str = "id, account_id, kind, amount, remaining, created_at, expires_at";

const LEDGER_COLUMNS: &str = "id, account_id, org_id, kind, amount, calls, note, created_at";

fn lot(row: &Row<'_>) -> rusqlite::Result<CreditLot> {
    Ok(CreditLot {
        id: row.get(0)?,
        account_id: parsed(row, 1)?,
        kind: named(row, 2, CreditKind::parse)?,
        amount: row.get(3)?,
        remaining: row.get(4)?,
        created_at: time(row, 5)?,
        expires_at: time_opt(row, 6)?,
    })
}

fn ledger_row(row: &Row<'_>) -> rusqlite::Result<LedgerRow> {
    Ok(LedgerRow {
        id: parsed(row, 0)?,
        account_id: parsed(row, 1)?,
        org_id: parsed_opt(row, 2)?,
        kind: named(row, 3, LedgerKind::parse)?,
        amount: row.get(4)?,
        calls: int(row, 5)?,
        note: row.get(6)?,
        created_at: time(row, 7)?,
    })
}

/// The ledger kind of a lot of credit when it is added.
fn ledger_kind(kind: CreditKind) -> LedgerKind {
    match kind {
        CreditKind::Free => LedgerKind::FreeCredit,
        CreditKind::Purchase => LedgerKind::Purchase,
        CreditKind::Grant => LedgerKind::Grant,
        CreditKind::Adjustment => LedgerKind::Adjustment,
    }
}

/// The account's lots (any order: the wallet sorts them).
pub(crate) fn load_lots(tx: &Transaction<'_>, account: AccountId) -> StoreResult<Vec<CreditLot>> {
    let mut statement = tx.prepare_cached(&format!("SELECT {LOT_COLUMNS} FROM credit_lots WHERE account_id = ?1")).map_err(map_error)?;
    let lots = statement.query_map([account.to_string()], lot).map_err(map_error)?;
    lots.collect::<Result<_, _>>().map_err(map_error)
}

/// Saves what is left of each of these lots.
pub(crate) fn save_lots(tx: &Transaction<'_>, lots: &[CreditLot]) -> StoreResult<()> {
    if lots.is_empty() {
        return Ok(());
    }
    let mut update = tx.prepare_cached("UPDATE credit_lots SET remaining = ?2 WHERE id = ?1").map_err(map_error)?;
    for lot in lots {
        update.execute(params![lot.id, lot.remaining]).map_err(map_error)?;
    }
    Ok(())
}

/// Appends a ledger row.
pub(crate) fn insert_ledger(tx: &Transaction<'_>, r: &LedgerRow) -> StoreResult<()> {
    tx.prepare_cached(&format!("INSERT INTO ledger ({LEDGER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"))
        .map_err(map_error)?
        .execute(params![
            r.id.to_string(),
            r.account_id.to_string(),
            r.org_id.map(|id| id.to_string()),
            r.kind.as_str(),
            r.amount,
            sql_int(r.calls),
            r.note,
            r.created_at.micros()
        ])
        .map_err(map_error)?;
    Ok(())
}

fn insert_lot(tx: &Transaction<'_>, l: &CreditLot) -> StoreResult<()> {
    tx.prepare_cached(&format!("INSERT INTO credit_lots ({LOT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"))
        .map_err(map_error)?
        .execute(params![
            l.id,
            l.account_id.to_string(),
            l.kind.as_str(),
            l.amount,
            l.remaining,
            l.created_at.micros(),
            l.expires_at.map(Timestamp::micros)
        ])
        .map_err(map_error)?;
    Ok(())
}

/// Adds a lot of credit (id = `credit.id`, nothing spent yet) and the ledger row for it.
pub(crate) fn insert_credit(tx: &Transaction<'_>, account: AccountId, credit: &NewCredit) -> StoreResult<()> {
    insert_lot(
        tx,
        &CreditLot {
            id: credit.id.to_string(),
            account_id: account,
            kind: credit.kind,
            amount: credit.amount,
            remaining: credit.amount,
            created_at: credit.created_at,
            expires_at: credit.expires_at,
        },
    )?;
    insert_ledger(
        tx,
        &LedgerRow {
            id: credit.id,
            account_id: account,
            org_id: None,
            kind: ledger_kind(credit.kind),
            amount: credit.amount,
            calls: 0,
            note: credit.note.clone(),
            created_at: credit.created_at,
        },
    )
}

/// [`StoreError::NotFound`] unless the account exists.
fn require_account(tx: &Transaction<'_>, account: AccountId) -> StoreResult<()> {
    let known: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM accounts WHERE id = ?1)")
        .map_err(map_error)?
        .query_row([account.to_string()], |row| row.get(0))
        .map_err(map_error)?;
    if known { Ok(()) } else { Err(StoreError::NotFound) }
}

/// Adds credit to an existing account.
pub(crate) fn add_credit(conn: &mut Connection, account: AccountId, credit: &NewCredit) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    require_account(&tx, account)?;
    insert_credit(&tx, account, credit)?;
    tx.commit().map_err(map_error)
}

/// Makes the balance `target` (at least zero) with one `adjustment` row: a new lot when it goes
/// up, spending in spending order when it goes down. Expired free credit is written off first.
pub(crate) fn set_balance(
    conn: &mut Connection,
    account: AccountId,
    target: i64,
    id: LedgerId,
    note: &str,
    now: Timestamp,
) -> StoreResult<Option<LedgerRow>> {
    let tx = conn.transaction().map_err(map_error)?;
    require_account(&tx, account)?;
    let mut billing = Billing::new(now);
    let wallet = billing.wallet(&tx, account)?;
    let delta = target.saturating_sub(wallet.balance());
    // A reduction is what the wallet could take (the balance never goes below zero).
    let amount = if delta < 0 { -wallet.take(delta.saturating_neg()) } else { delta };
    billing.finish(&tx)?;
    let row = (amount != 0).then(|| LedgerRow {
        id,
        account_id: account,
        org_id: None,
        kind: LedgerKind::Adjustment,
        amount,
        calls: 0,
        note: Some(note.to_owned()),
        created_at: now,
    });
    if let Some(row) = &row {
        if amount > 0 {
            let lot = CreditLot {
                id: id.to_string(),
                account_id: account,
                kind: CreditKind::Adjustment,
                amount,
                remaining: amount,
                created_at: now,
                expires_at: None,
            };
            insert_lot(&tx, &lot)?;
        }
        insert_ledger(&tx, row)?;
    }
    tx.commit().map_err(map_error)?;
    Ok(row)
}

/// The account's balance and lots (in spending order) at `now`, saving the write-off of any
/// free credit found expired.
pub(crate) fn credit_state(conn: &mut Connection, account: AccountId, now: Timestamp) -> StoreResult<CreditState> {
    let tx = conn.transaction().map_err(map_error)?;
    require_account(&tx, account)?;
    let mut billing = Billing::new(now);
    let wallet = billing.wallet(&tx, account)?;
    let state = CreditState { balance: wallet.balance(), lots: wallet.lots().to_vec() };
    billing.finish(&tx)?;
    tx.commit().map_err(map_error)?;
    Ok(state)
}

/// The account's ledger, newest first, before the row `before`, at most `limit` rows.
pub(crate) fn ledger(conn: &Connection, account: AccountId, before: Option<LedgerId>, limit: u32) -> StoreResult<Vec<LedgerRow>> {
    let (sql, cursor) = match before {
        Some(before) => (
            format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE account_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3"),
            Some(before.to_string()),
        ),
        None => (format!("SELECT {LEDGER_COLUMNS} FROM ledger WHERE account_id = ?1 AND ?2 IS NULL ORDER BY id DESC LIMIT ?3"), None),
    };
    let mut statement = conn.prepare_cached(&sql).map_err(map_error)?;
    let rows = statement.query_map(params![account.to_string(), cursor, i64::from(limit)], ledger_row).map_err(map_error)?;
    rows.collect::<Result<_, _>>().map_err(map_error)
}

/// The columns of a purchase, in [`NewPurchase`] order.
const PURCHASE_COLUMNS: &str = "id, account_id, package, price_cents, calls, amount, stripe_event_id, stripe_session_id, \
                                stripe_payment_intent, created_at";

/// Records a paid checkout and its credit in one transaction, once per event and per session.
pub(crate) fn record_purchase(conn: &mut Connection, purchase: &NewPurchase) -> StoreResult<bool> {
    let tx = conn.transaction().map_err(map_error)?;
    require_account(&tx, purchase.account_id)?;
    let inserted = tx
        .prepare_cached(&format!(
            "INSERT INTO purchases ({PURCHASE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING"
        ))
        .map_err(map_error)?
        .execute(params![
            purchase.id.to_string(),
            purchase.account_id.to_string(),
            purchase.package,
            purchase.price_cents,
            purchase.calls,
            purchase.amount,
            purchase.stripe_event_id,
            purchase.stripe_session_id,
            purchase.stripe_payment_intent,
            purchase.created_at.micros()
        ])
        .map_err(map_error)?;
    if inserted == 0 {
        return Ok(false);
    }
    insert_credit(&tx, purchase.account_id, &purchase.credit())?;
    tx.commit().map_err(map_error)?;
    Ok(true)
}

/// A purchase, what is left of its credit and its refund ([`purchase_row`]'s columns).
const PURCHASE_SELECT: &str = "SELECT p.id, p.account_id, p.package, p.price_cents, p.calls, p.amount, p.stripe_event_id, \
    p.stripe_session_id, p.stripe_payment_intent, p.created_at, coalesce(l.remaining, 0), p.refund_status, p.stripe_refund_id, \
    p.refunded_at FROM purchases p LEFT JOIN credit_lots l ON l.id = p.id";

fn purchase_row(row: &Row<'_>) -> rusqlite::Result<Purchase> {
    let refund = match row.get::<_, Option<String>>(11)?.as_deref() {
        None => None,
        Some("pending") => Some(Refund::Pending),
        Some(_) => Some(Refund::Done { stripe_refund_id: row.get::<_, Option<String>>(12)?.unwrap_or_default(), at: time(row, 13)? }),
    };
    Ok(Purchase {
        recorded: NewPurchase {
            id: parsed(row, 0)?,
            account_id: parsed(row, 1)?,
            package: row.get(2)?,
            price_cents: row.get(3)?,
            calls: row.get(4)?,
            amount: row.get(5)?,
            stripe_event_id: row.get(6)?,
            stripe_session_id: row.get(7)?,
            stripe_payment_intent: row.get(8)?,
            created_at: time(row, 9)?,
        },
        remaining: row.get(10)?,
        refund,
    })
}

/// The account's purchases, newest first, with what is left of each one's credit.
pub(crate) fn purchases(conn: &Connection, account: AccountId) -> StoreResult<Vec<Purchase>> {
    let mut statement = conn.prepare_cached(&format!("{PURCHASE_SELECT} WHERE p.account_id = ?1 ORDER BY p.id DESC")).map_err(map_error)?;
    let rows = statement.query_map([account.to_string()], purchase_row).map_err(map_error)?;
    rows.collect::<Result<_, _>>().map_err(map_error)
}

fn purchase(tx: &Transaction<'_>, id: LedgerId) -> StoreResult<Option<Purchase>> {
    tx.prepare_cached(&format!("{PURCHASE_SELECT} WHERE p.id = ?1"))
        .map_err(map_error)?
        .query_row([id.to_string()], purchase_row)
        .optional()
        .map_err(map_error)
}

/// Sets a purchase's lot to `remaining` and its refund columns, and writes `row`.
fn move_refund(tx: &Transaction<'_>, purchase: &Purchase, remaining: i64, status: Option<&str>, row: &LedgerRow) -> StoreResult<()> {
    tx.prepare_cached("UPDATE credit_lots SET remaining = ?2 WHERE id = ?1")
        .map_err(map_error)?
        .execute(params![purchase.recorded.id.to_string(), remaining])
        .map_err(map_error)?;
    tx.prepare_cached("UPDATE purchases SET refund_status = ?2 WHERE id = ?1")
        .map_err(map_error)?
        .execute(params![purchase.recorded.id.to_string(), status])
        .map_err(map_error)?;
    insert_ledger(tx, row)
}

/// Starts a refund (see `Store::reserve_refund`).
pub(crate) fn reserve_refund(
    conn: &mut Connection,
    account: AccountId,
    id: LedgerId,
    ledger_id: LedgerId,
    bought_after: Timestamp,
    now: Timestamp,
) -> StoreResult<RefundReservation> {
    let tx = conn.transaction().map_err(map_error)?;
    let found = purchase(&tx, id)?.filter(|p| p.recorded.account_id == account).ok_or(StoreError::NotFound)?;
    if let Some(blocker) = found.refund_blocker(bought_after) {
        return Ok(blocker);
    }
    move_refund(&tx, &found, 0, Some("pending"), &found.refund_row(ledger_id, -1, now))?;
    tx.commit().map_err(map_error)?;
    Ok(RefundReservation::Reserved(Purchase { remaining: 0, refund: Some(Refund::Pending), ..found }))
}

/// Marks a pending refund done.
pub(crate) fn complete_refund(conn: &mut Connection, id: LedgerId, stripe_refund_id: &str, now: Timestamp) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE purchases SET refund_status = 'refunded', stripe_refund_id = ?2, refunded_at = ?3 WHERE id = ?1 AND refund_status = 'pending'",
    )
    .map_err(map_error)?
    .execute(params![id.to_string(), stripe_refund_id, now.micros()])
    .map_err(map_error)?;
    Ok(())
}

/// Gives a pending refund's credit back.
pub(crate) fn cancel_refund(conn: &mut Connection, id: LedgerId, ledger_id: LedgerId, now: Timestamp) -> StoreResult<()> {
    let tx = conn.transaction().map_err(map_error)?;
    if let Some(found) = purchase(&tx, id)?.filter(|p| p.refund == Some(Refund::Pending)) {
        move_refund(&tx, &found, found.recorded.amount, None, &found.refund_row(ledger_id, 1, now))?;
    }
    tx.commit().map_err(map_error)
}
