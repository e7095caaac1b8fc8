//! Prepaid credit on PostgreSQL: lots of credit (what is left of each) and the ledger (every
//! credit and debit; an account's rows sum to its balance). Every transaction that reads or
//! changes an account's credit first locks the account's row (see [`Billing`]), so nodes take
//! turns per account; all arithmetic is the domain's [`Wallet`](oakallow_domain::billing::Wallet).

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditKind, CreditLot, LedgerKind};
use oakallow_domain::id::{AccountId, LedgerId};
use oakallow_store::{CreditState, LedgerRow, NewCredit, NewPurchase, Purchase, Refund, RefundReservation, StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, PgPool, Row as _};

use crate::billing::Billing;
use crate::error::map_error;
use crate::rows::{RowResult, bigint, invalid, named, parsed, parsed_opt, time, time_opt};

const LOT_COLUMNS: &str = "id, account_id, kind, amount, remaining, created_at, expires_at";

const LEDGER_COLUMNS: &str = "id, account_id, org_id, kind, amount, calls, note, created_at";

fn lot(row: &PgRow) -> RowResult<CreditLot> {
    Ok(CreditLot {
        id: row.try_get(0)?,
        account_id: parsed(row, 1)?,
        kind: named(row, 2, CreditKind::parse)?,
        amount: row.try_get(3)?,
        remaining: row.try_get(4)?,
        created_at: time(row, 5)?,
        expires_at: time_opt(row, 6)?,
    })
}

fn ledger_row(row: &PgRow) -> RowResult<LedgerRow> {
    let calls: i64 = row.try_get(5)?;
    Ok(LedgerRow {
        id: parsed(row, 0)?,
        account_id: parsed(row, 1)?,
        org_id: parsed_opt(row, 2)?,
        kind: named(row, 3, LedgerKind::parse)?,
        amount: row.try_get(4)?,
        calls: u64::try_from(calls).map_err(|_| invalid(5, "call count"))?,
        note: row.try_get(6)?,
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

/// Locks the rows of these accounts until the transaction ends, in id order (so that two
/// transactions locking several accounts never wait for each other), and answers how many
/// exist. Call before the transaction locks any activity head.
pub(crate) async fn lock_accounts(conn: &mut PgConnection, accounts: &[AccountId]) -> StoreResult<usize> {
    let ids: Vec<String> = accounts.iter().map(AccountId::to_string).collect();
    let locked: Vec<String> = sqlx::query_scalar("SELECT id FROM accounts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(map_error)?;
    Ok(locked.len())
}

/// The lots of these accounts (any order: a wallet sorts them).
pub(crate) async fn load_lots(conn: &mut PgConnection, accounts: &[AccountId]) -> StoreResult<Vec<CreditLot>> {
    let ids: Vec<String> = accounts.iter().map(AccountId::to_string).collect();
    let sql = format!("SELECT {LOT_COLUMNS} FROM credit_lots WHERE account_id = ANY($1)");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(&ids).fetch_all(&mut *conn).await.map_err(map_error)?;
    found.iter().map(lot).collect::<Result<_, _>>().map_err(map_error)
}

/// Saves what is left of each of these lots, in one statement.
pub(crate) async fn save_lots(conn: &mut PgConnection, lots: &[CreditLot]) -> StoreResult<()> {
    if lots.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE credit_lots AS lot SET remaining = new.remaining
         FROM UNNEST($1::text[], $2::bigint[]) AS new (id, remaining)
         WHERE lot.id = new.id",
    )
    .bind(lots.iter().map(|lot| lot.id.as_str()).collect::<Vec<_>>())
    .bind(lots.iter().map(|lot| lot.remaining).collect::<Vec<_>>())
    .execute(conn)
    .await
    .map_err(map_error)?;
    Ok(())
}

/// Appends ledger rows, in one statement.
pub(crate) async fn insert_ledger(conn: &mut PgConnection, rows: &[LedgerRow]) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO ledger ({LEDGER_COLUMNS})
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::bigint[])"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(rows.iter().map(|r| r.id.to_string()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.account_id.to_string()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.org_id.map(|id| id.to_string())).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.amount).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| bigint(r.calls)).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.note.clone()).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.created_at.micros()).collect::<Vec<_>>())
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

async fn insert_lot(conn: &mut PgConnection, l: &CreditLot) -> StoreResult<()> {
    let sql = format!("INSERT INTO credit_lots ({LOT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
    sqlx::query(AssertSqlSafe(sql))
        .bind(&l.id)
        .bind(l.account_id.to_string())
        .bind(l.kind.as_str())
        .bind(l.amount)
        .bind(l.remaining)
        .bind(l.created_at.micros())
        .bind(l.expires_at.map(Timestamp::micros))
        .execute(conn)
        .await
        .map_err(map_error)?;
    Ok(())
}

/// Adds a lot of credit (id = `credit.id`, nothing spent yet) and the ledger row for it.
pub(crate) async fn insert_credit(conn: &mut PgConnection, account: AccountId, credit: &NewCredit) -> StoreResult<()> {
    let lot = CreditLot {
        id: credit.id.to_string(),
        account_id: account,
        kind: credit.kind,
        amount: credit.amount,
        remaining: credit.amount,
        created_at: credit.created_at,
        expires_at: credit.expires_at,
    };
    insert_lot(conn, &lot).await?;
    let row = LedgerRow {
        id: credit.id,
        account_id: account,
        org_id: None,
        kind: ledger_kind(credit.kind),
        amount: credit.amount,
        calls: 0,
        note: credit.note.clone(),
        created_at: credit.created_at,
    };
    insert_ledger(conn, std::slice::from_ref(&row)).await
}

/// Adds credit to an existing account ([`StoreError::NotFound`] for an unknown one).
pub(crate) async fn add_credit(pool: &PgPool, account: AccountId, credit: &NewCredit) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    if lock_accounts(&mut tx, &[account]).await? == 0 {
        return Err(StoreError::NotFound);
    }
    insert_credit(&mut tx, account, credit).await?;
    tx.commit().await.map_err(map_error)
}

/// Makes the balance `target` (at least zero) with one `adjustment` row: a new lot when it goes
/// up, spending in spending order when it goes down. Expired free credit is written off first.
pub(crate) async fn set_balance(
    pool: &PgPool,
    account: AccountId,
    target: i64,
    id: LedgerId,
    note: &str,
    now: Timestamp,
) -> StoreResult<Option<LedgerRow>> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let mut billing = Billing::open(&mut tx, &[account], now).await?;
    let wallet = billing.wallet(account)?;
    let delta = target.saturating_sub(wallet.balance());
    // A reduction is what the wallet could take (the balance never goes below zero).
    let amount = if delta < 0 { -wallet.take(delta.saturating_neg()) } else { delta };
    billing.finish(&mut tx).await?;
    if amount == 0 {
        tx.commit().await.map_err(map_error)?;
        return Ok(None);
    }
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
        insert_lot(&mut tx, &lot).await?;
    }
    let row = LedgerRow {
        id,
        account_id: account,
        org_id: None,
        kind: LedgerKind::Adjustment,
        amount,
        calls: 0,
        note: Some(note.to_owned()),
        created_at: now,
    };
    insert_ledger(&mut tx, std::slice::from_ref(&row)).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(Some(row))
}

/// The account's balance and lots (in spending order) at `now`, saving the write-off of any
/// free credit found expired.
pub(crate) async fn credit_state(pool: &PgPool, account: AccountId, now: Timestamp) -> StoreResult<CreditState> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let mut billing = Billing::open(&mut tx, &[account], now).await?;
    let wallet = billing.wallet(account)?;
    let state = CreditState { balance: wallet.balance(), lots: wallet.lots().to_vec() };
    billing.finish(&mut tx).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(state)
}

/// The account's ledger, newest first, before the row `before`, at most `limit` rows.
pub(crate) async fn ledger(pool: &PgPool, account: AccountId, before: Option<LedgerId>, limit: u32) -> StoreResult<Vec<LedgerRow>> {
    let sql = format!(
        "SELECT {LEDGER_COLUMNS} FROM ledger
         WHERE account_id = $1 AND ($2::text IS NULL OR id < $2)
         ORDER BY id DESC
         LIMIT $3"
    );
    let found = sqlx::query(AssertSqlSafe(sql))
        .bind(account.to_string())
        .bind(before.map(|id| id.to_string()))
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .map_err(map_error)?;
    found.iter().map(ledger_row).collect::<Result<_, _>>().map_err(map_error)
}

/// The columns of a purchase, in [`NewPurchase`] order.
const PURCHASE_COLUMNS: &str = "id, account_id, package, price_cents, calls, amount, stripe_event_id, stripe_session_id, \
                                stripe_payment_intent, created_at";

/// Records a paid checkout and its credit in one transaction, once per event and per session.
/// A second transaction recording the same event or session waits on the unique index until the
/// first ends, then inserts nothing.
pub(crate) async fn record_purchase(pool: &PgPool, purchase: &NewPurchase) -> StoreResult<bool> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    if lock_accounts(&mut tx, &[purchase.account_id]).await? == 0 {
        return Err(StoreError::NotFound);
    }
    let sql = format!("INSERT INTO purchases ({PURCHASE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING");
    let inserted = sqlx::query(AssertSqlSafe(sql))
        .bind(purchase.id.to_string())
        .bind(purchase.account_id.to_string())
        .bind(&purchase.package)
        .bind(purchase.price_cents)
        .bind(purchase.calls)
        .bind(purchase.amount)
        .bind(&purchase.stripe_event_id)
        .bind(&purchase.stripe_session_id)
        .bind(&purchase.stripe_payment_intent)
        .bind(purchase.created_at.micros())
        .execute(&mut *tx)
        .await
        .map_err(map_error)?
        .rows_affected();
    if inserted == 0 {
        return Ok(false);
    }
    insert_credit(&mut tx, purchase.account_id, &purchase.credit()).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(true)
}

/// A purchase, what is left of its credit and its refund ([`purchase_row`]'s columns).
const PURCHASE_SELECT: &str = "SELECT p.id, p.account_id, p.package, p.price_cents, p.calls, p.amount, p.stripe_event_id, \
    p.stripe_session_id, p.stripe_payment_intent, p.created_at, coalesce(l.remaining, 0), p.refund_status, p.stripe_refund_id, \
    p.refunded_at FROM purchases p LEFT JOIN credit_lots l ON l.id = p.id";

/// The account's purchases, newest first, with what is left of each one's credit.
pub(crate) async fn purchases(pool: &PgPool, account: AccountId) -> StoreResult<Vec<Purchase>> {
    let sql = format!("{PURCHASE_SELECT} WHERE p.account_id = $1 ORDER BY p.id DESC");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(account.to_string()).fetch_all(pool).await.map_err(map_error)?;
    found.iter().map(purchase_row).collect::<Result<_, _>>().map_err(map_error)
}

fn purchase_row(row: &PgRow) -> RowResult<Purchase> {
    let refund = match row.try_get::<Option<String>, _>(11)?.as_deref() {
        None => None,
        Some("pending") => Some(Refund::Pending),
        Some(_) => Some(Refund::Done { stripe_refund_id: row.try_get::<Option<String>, _>(12)?.unwrap_or_default(), at: time(row, 13)? }),
    };
    Ok(Purchase {
        recorded: NewPurchase {
            id: parsed(row, 0)?,
            account_id: parsed(row, 1)?,
            package: row.try_get(2)?,
            price_cents: row.try_get(3)?,
            calls: row.try_get(4)?,
            amount: row.try_get(5)?,
            stripe_event_id: row.try_get(6)?,
            stripe_session_id: row.try_get(7)?,
            stripe_payment_intent: row.try_get(8)?,
            created_at: time(row, 9)?,
        },
        remaining: row.try_get(10)?,
        refund,
    })
}

/// The purchase `id`, its row locked until the transaction ends.
async fn locked_purchase(conn: &mut PgConnection, id: LedgerId) -> StoreResult<Option<Purchase>> {
    let sql = format!("{PURCHASE_SELECT} WHERE p.id = $1 FOR UPDATE OF p");
    let found = sqlx::query(AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(&mut *conn).await.map_err(map_error)?;
    found.as_ref().map(purchase_row).transpose().map_err(map_error)
}

/// Sets a purchase's lot to `remaining` and its refund status, and writes `row`.
async fn move_refund(
    conn: &mut PgConnection,
    purchase: &Purchase,
    remaining: i64,
    status: Option<&str>,
    row: &LedgerRow,
) -> StoreResult<()> {
    let id = purchase.recorded.id.to_string();
    sqlx::query("UPDATE credit_lots SET remaining = $2 WHERE id = $1")
        .bind(&id)
        .bind(remaining)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    sqlx::query("UPDATE purchases SET refund_status = $2 WHERE id = $1")
        .bind(&id)
        .bind(status)
        .execute(&mut *conn)
        .await
        .map_err(map_error)?;
    insert_ledger(conn, std::slice::from_ref(row)).await
}

/// Starts a refund (see `Store::reserve_refund`). The account is locked first, as every charge
/// does, so no call can spend the credit while it is taken back.
pub(crate) async fn reserve_refund(
    pool: &PgPool,
    account: AccountId,
    id: LedgerId,
    ledger_id: LedgerId,
    bought_after: Timestamp,
    now: Timestamp,
) -> StoreResult<RefundReservation> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    if lock_accounts(&mut tx, &[account]).await? == 0 {
        return Err(StoreError::NotFound);
    }
    let found = locked_purchase(&mut tx, id).await?.filter(|p| p.recorded.account_id == account).ok_or(StoreError::NotFound)?;
    if let Some(blocker) = found.refund_blocker(bought_after) {
        return Ok(blocker);
    }
    move_refund(&mut tx, &found, 0, Some("pending"), &found.refund_row(ledger_id, -1, now)).await?;
    tx.commit().await.map_err(map_error)?;
    Ok(RefundReservation::Reserved(Purchase { remaining: 0, refund: Some(Refund::Pending), ..found }))
}

/// Marks a pending refund done.
pub(crate) async fn complete_refund(pool: &PgPool, id: LedgerId, stripe_refund_id: &str, now: Timestamp) -> StoreResult<()> {
    sqlx::query(
        "UPDATE purchases SET refund_status = 'refunded', stripe_refund_id = $2, refunded_at = $3 WHERE id = $1 AND refund_status = 'pending'",
    )
    .bind(id.to_string())
    .bind(stripe_refund_id)
    .bind(now.micros())
    .execute(pool)
    .await
    .map_err(map_error)?;
    Ok(())
}

/// Gives a pending refund's credit back.
pub(crate) async fn cancel_refund(pool: &PgPool, id: LedgerId, ledger_id: LedgerId, now: Timestamp) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(map_error)?;
    let Some(account) = sqlx::query_scalar::<_, String>("SELECT account_id FROM purchases WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await
        .map_err(map_error)?
        .and_then(|account| account.parse::<AccountId>().ok())
    else {
        return Ok(());
    };
    lock_accounts(&mut tx, &[account]).await?;
    if let Some(found) = locked_purchase(&mut tx, id).await?.filter(|p| p.refund == Some(Refund::Pending)) {
        move_refund(&mut tx, &found, found.recorded.amount, None, &found.refund_row(ledger_id, 1, now)).await?;
    }
    tx.commit().await.map_err(map_error)
}
