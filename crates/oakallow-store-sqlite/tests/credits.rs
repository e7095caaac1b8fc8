//! SQLite specifics of prepaid credit the shared suite does not cover: sign-up credit written
//! with the account, and credit for an unknown account.

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditKind, FREE_CREDIT_MICROUSD, LedgerKind};
use oakallow_domain::id::{AccountId, LedgerId};
use oakallow_domain::org::Account;
use oakallow_store::{NewCredit, Store, StoreError};
use oakallow_store_sqlite::SqliteStore;

fn free_credit(at: Timestamp) -> NewCredit {
    NewCredit {
        id: LedgerId::generate(),
        kind: CreditKind::Free,
        amount: FREE_CREDIT_MICROUSD,
        expires_at: Some(at.plus_seconds(60)),
        note: Some("sign-up credit".into()),
        created_at: at,
    }
}

#[tokio::test]
async fn sign_up_credit_is_written_with_the_account() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteStore::open_dir(dir.path()).expect("open SQLite store");
    let at = Timestamp::from_micros(1_700_000_000_000_000);
    let account = Account { id: AccountId::generate(), email: "s@example.com".into(), name: "s".into(), created_at: at };
    let credit = free_credit(at);
    store.create_account(&account, None, Some(&credit)).await.expect("create account");

    let rows = store.ledger(account.id, None, 10).await.expect("ledger");
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].id, rows[0].kind, rows[0].amount, rows[0].calls), (credit.id, LedgerKind::FreeCredit, FREE_CREDIT_MICROUSD, 0));
    assert_eq!(rows[0].note.as_deref(), Some("sign-up credit"));
    let state = store.credit_state(account.id, at).await.expect("credit state");
    assert_eq!(state.balance, FREE_CREDIT_MICROUSD);
    assert_eq!(state.lots[0].id, credit.id.to_string());

    // A taken email writes no credit either.
    let twin = Account { id: AccountId::generate(), ..account.clone() };
    assert!(matches!(store.create_account(&twin, None, Some(&free_credit(at))).await, Err(StoreError::Conflict(_))));
    assert!(store.ledger(twin.id, None, 10).await.expect("ledger").is_empty());

    let unknown = AccountId::generate();
    assert_eq!(store.add_credit(unknown, &free_credit(at)).await, Err(StoreError::NotFound));
    assert_eq!(store.set_balance(unknown, 1, LedgerId::generate(), "x", at).await, Err(StoreError::NotFound));
}
