//! Conformance cases of prepaid credit: charging inside the group commit, spending order,
//! expiry, exact balances under concurrency, and the change-tracking queries.

use std::sync::Arc;

use oakallow_domain::Timestamp;
use oakallow_domain::audit::ActivityType;
use oakallow_domain::billing::{CreditKind, LedgerKind, PRICE_MICROUSD};
use oakallow_domain::id::{AccountId, KeyId, LedgerId, OrgId};
use oakallow_domain::org::Org;

use super::runtime::approval;
use super::{T0, checked, new_org, record};
use crate::{
    BatchItem, Charge, CreateOutcome, LedgerRow, NewApproval, NewCredit, NewPurchase, Refund, RefundReservation, RuntimeWrite, Store,
    WriteOutcome,
};

const DAY: i64 = 86_400;

fn credit(kind: CreditKind, amount: i64, at: Timestamp, expires_at: Option<Timestamp>) -> NewCredit {
    NewCredit { id: LedgerId::generate(), kind, amount, expires_at, note: Some(format!("{} credit", kind.as_str())), created_at: at }
}

/// An org whose account holds `calls` calls of free credit (expiring in 30 days).
async fn funded(store: &dyn Store, email: &str, calls: i64) -> Org {
    let org = new_org(store, email).await;
    store.add_credit(org.account_id, &credit(CreditKind::Free, calls * PRICE_MICROUSD, T0, Some(T0.plus_seconds(30 * DAY)))).await.unwrap();
    org
}

fn charged(org: &Org, write: RuntimeWrite, price: i64) -> BatchItem {
    BatchItem { write, charge: Some(Charge { account_id: org.account_id, org_id: org.id, price }) }
}

async fn ledger(store: &dyn Store, account: AccountId) -> Vec<LedgerRow> {
    let mut rows = Vec::new();
    let mut before = None;
    loop {
        let page = store.ledger(account, before, 3).await.unwrap();
        before = page.last().map(|r| r.id);
        let done = page.len() < 3;
        rows.extend(page);
        if done {
            return rows;
        }
    }
}

async fn assert_books_balance(store: &dyn Store, account: AccountId, now: Timestamp) -> i64 {
    let balance = store.credit_state(account, now).await.unwrap().balance;
    let sum: i64 = ledger(store, account).await.iter().map(|r| r.amount).sum();
    assert_eq!(sum, balance, "the ledger sums to the balance");
    assert!(balance >= 0);
    balance
}

/// Charged writes stop at zero: nothing of a write the account cannot pay for is written.
pub async fn charges_stop_at_zero(store: Arc<dyn Store>) {
    let org = funded(store.as_ref(), "c0@example.com", 5).await;
    let batch: Vec<_> = (0..8).map(|n| charged(&org, checked(org.id, "t", n), PRICE_MICROUSD)).collect();
    let outcomes = store.commit_runtime(T0, batch.clone().into()).await.unwrap();
    let applied = outcomes.iter().filter(|o| **o == WriteOutcome::Applied).count();
    assert_eq!((applied, outcomes[5]), (5, WriteOutcome::InsufficientCredits));
    let entries = store.list_activity(org.id, &crate::ActivityFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(entries.len(), 5, "refused calls leave no entry");
    let rows = ledger(store.as_ref(), org.account_id).await;
    let debits: Vec<_> = rows.iter().filter(|r| r.kind == LedgerKind::Debit).collect();
    assert_eq!(debits.len(), 1, "one debit row per account and batch");
    assert_eq!((debits[0].amount, debits[0].calls, debits[0].org_id), (-5 * PRICE_MICROUSD, 5, Some(org.id)));
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 0);
    let more = store.commit_runtime(T0, vec![charged(&org, checked(org.id, "t", 9), PRICE_MICROUSD)].into()).await.unwrap();
    assert_eq!(more, vec![WriteOutcome::InsufficientCredits]);
    let free = store.commit_runtime(T0, vec![BatchItem { write: checked(org.id, "t", 10), charge: None }].into()).await.unwrap();
    assert_eq!(free, vec![WriteOutcome::Applied], "uncharged writes go on at zero");
}

/// A call is paid for exactly when its activity entry is written.
pub async fn only_written_entries_are_paid(store: Arc<dyn Store>) {
    let org = funded(store.as_ref(), "c1@example.com", 100).await;
    let mint = |src: &str, jti: &str| {
        let mut activity = record(org.id, ActivityType::TokenMinted);
        activity.token_jti = Some(jti.into());
        let token = crate::TokenRecord {
            jti: jti.into(),
            org_id: org.id,
            kid: "k".into(),
            src: src.into(),
            tool: "t".into(),
            tenant: None,
            resource: None,
            method: None,
            params_sha256: String::new(),
            issued_at: T0,
            expires_at: T0.plus_seconds(300),
            consumed_at: None,
        };
        RuntimeWrite::MintToken(crate::MintedToken { token, activity })
    };
    let consume = |jti: &str| RuntimeWrite::ConsumeToken {
        org_id: org.id,
        jti: jti.into(),
        at: T0,
        verified: record(org.id, ActivityType::TokenVerified),
        already_used: record(org.id, ActivityType::TokenRejected),
    };
    let batch = vec![
        charged(&org, mint("chk_a", "j1"), PRICE_MICROUSD),
        charged(&org, mint("chk_a", "j2"), PRICE_MICROUSD),
        charged(&org, consume("j1"), PRICE_MICROUSD),
        charged(&org, consume("j1"), PRICE_MICROUSD),
    ];
    let outcomes = store.commit_runtime(T0, batch.clone().into()).await.unwrap();
    assert_eq!(outcomes, vec![WriteOutcome::Applied, WriteOutcome::NotApplied, WriteOutcome::Applied, WriteOutcome::NotApplied]);
    let debit = ledger(store.as_ref(), org.account_id).await.into_iter().find(|r| r.kind == LedgerKind::Debit).unwrap();
    assert_eq!(debit.calls, 3, "the refused mint is not paid; both verifications are");
    let entries = store.list_activity(org.id, &crate::ActivityFilter { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(entries.len() as u64, debit.calls);
}

/// Free credit is spent first, then the rest oldest first; what is left of the free credit
/// expires after 30 days with an `expiry` row.
pub async fn spending_order_and_expiry(store: Arc<dyn Store>) {
    let org = funded(store.as_ref(), "c2@example.com", 2).await;
    let older = credit(CreditKind::Grant, 2 * PRICE_MICROUSD, T0.plus_seconds(1), None);
    let newer = credit(CreditKind::Grant, 2 * PRICE_MICROUSD, T0.plus_seconds(2), None);
    store.add_credit(org.account_id, &newer).await.unwrap();
    store.add_credit(org.account_id, &older).await.unwrap();
    let remaining = |state: &crate::CreditState| state.lots.iter().map(|l| (l.kind, l.remaining / PRICE_MICROUSD)).collect::<Vec<_>>();
    store.commit_runtime(T0, vec![charged(&org, checked(org.id, "t", 1), PRICE_MICROUSD)].into()).await.unwrap();
    let state = store.credit_state(org.account_id, T0).await.unwrap();
    assert_eq!(remaining(&state), [(CreditKind::Free, 1), (CreditKind::Grant, 2), (CreditKind::Grant, 2)]);
    assert_eq!(state.lots[1].id, older.id.to_string(), "the older grant is spent before the newer");
    let batch: Vec<_> = (0..3).map(|n| charged(&org, checked(org.id, "t", n), PRICE_MICROUSD)).collect();
    store.commit_runtime(T0, batch.clone().into()).await.unwrap();
    let state = store.credit_state(org.account_id, T0).await.unwrap();
    assert_eq!(remaining(&state), [(CreditKind::Free, 0), (CreditKind::Grant, 0), (CreditKind::Grant, 2)]);

    let fresh = funded(store.as_ref(), "c3@example.com", 10).await;
    store.commit_runtime(T0, vec![charged(&fresh, checked(fresh.id, "t", 1), PRICE_MICROUSD)].into()).await.unwrap();
    let almost = T0.plus_seconds(30 * DAY - 1);
    assert_eq!(store.credit_state(fresh.account_id, almost).await.unwrap().balance, 9 * PRICE_MICROUSD);
    let expired_at = T0.plus_seconds(30 * DAY);
    assert_eq!(store.credit_state(fresh.account_id, expired_at).await.unwrap().balance, 0);
    let rows = ledger(store.as_ref(), fresh.account_id).await;
    let expiry: Vec<_> = rows.iter().filter(|r| r.kind == LedgerKind::Expiry).collect();
    assert_eq!(expiry.len(), 1);
    assert_eq!(expiry[0].amount, -9 * PRICE_MICROUSD);
    assert_eq!(assert_books_balance(store.as_ref(), fresh.account_id, expired_at.plus_seconds(5)).await, 0, "written off once");
    let late = store.commit_runtime(expired_at, vec![charged(&fresh, checked(fresh.id, "t", 2), PRICE_MICROUSD)].into()).await.unwrap();
    assert_eq!(late, vec![WriteOutcome::InsufficientCredits]);
}

/// `set_balance` writes one adjustment row that makes the balance exact.
pub async fn set_balance_exactly(store: Arc<dyn Store>) {
    let org = funded(store.as_ref(), "c4@example.com", 3).await;
    let row = store.set_balance(org.account_id, 10 * PRICE_MICROUSD, LedgerId::generate(), "top up", T0).await.unwrap().unwrap();
    assert_eq!((row.kind, row.amount), (LedgerKind::Adjustment, 7 * PRICE_MICROUSD));
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 10 * PRICE_MICROUSD);
    assert_eq!(store.set_balance(org.account_id, 10 * PRICE_MICROUSD, LedgerId::generate(), "same", T0).await.unwrap(), None);
    let row = store.set_balance(org.account_id, PRICE_MICROUSD, LedgerId::generate(), "down", T0).await.unwrap().unwrap();
    assert_eq!(row.amount, -9 * PRICE_MICROUSD);
    let state = store.credit_state(org.account_id, T0).await.unwrap();
    assert_eq!(state.balance, PRICE_MICROUSD);
    assert_eq!(
        state.lots.iter().find(|l| l.kind == CreditKind::Free).map(|l| l.remaining),
        Some(0),
        "a reduction spends in spending order"
    );
    assert_eq!(
        store.set_balance(org.account_id, 0, LedgerId::generate(), "zero", T0).await.unwrap().map(|r| r.amount),
        Some(-PRICE_MICROUSD)
    );
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 0);
    let empty = new_org(store.as_ref(), "c5@example.com").await;
    store.set_balance(empty.account_id, 4 * PRICE_MICROUSD, LedgerId::generate(), "start", T0).await.unwrap();
    assert_eq!(store.credit_state(empty.account_id, T0).await.unwrap().balance, 4 * PRICE_MICROUSD);
}

/// At price 0 (billing off) calls are counted in `usage` rows and never refused.
pub async fn usage_when_billing_is_off(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "c6@example.com").await;
    let batch: Vec<_> = (0..4).map(|n| charged(&org, checked(org.id, "t", n), 0)).collect();
    assert!(store.commit_runtime(T0, batch.clone().into()).await.unwrap().iter().all(|o| *o == WriteOutcome::Applied));
    let rows = ledger(store.as_ref(), org.account_id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].kind, rows[0].amount, rows[0].calls), (LedgerKind::Usage, 0, 4));
    assert_eq!(store.credit_state(org.account_id, T0).await.unwrap().balance, 0);
}

/// Concurrent charged commits against a balance of N calls: exactly N succeed.
pub async fn concurrent_charges_are_exact(store: Arc<dyn Store>) {
    let org = funded(store.as_ref(), "c7@example.com", 20).await;
    let attempts = (0..80u64).map(|n| {
        let store = store.clone();
        let org = org.clone();
        async move { store.commit_runtime(T0, vec![charged(&org, checked(org.id, "t", n), PRICE_MICROUSD)].into()).await.unwrap()[0] }
    });
    let outcomes = futures_util::future::join_all(attempts).await;
    assert_eq!(outcomes.iter().filter(|o| **o == WriteOutcome::Applied).count(), 20);
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 0);
    let calls: u64 = ledger(store.as_ref(), org.account_id).await.iter().filter(|r| r.kind == LedgerKind::Debit).map(|r| r.calls).sum();
    assert_eq!(calls, 20);
}

/// Creating an approval is charged once; a replay is free; without credit nothing is stored.
pub async fn approvals_are_charged_once(store: Arc<dyn Store>) {
    let org = funded(store.as_ref(), "c8@example.com", 1).await;
    let charge = Some(Charge { account_id: org.account_id, org_id: org.id, price: PRICE_MICROUSD });
    let claim = crate::IdempotencyClaim { key: "k".into(), fingerprint: "f".into(), expires_at: T0.plus_seconds(DAY) };
    let new = |idempotency| NewApproval {
        approval: approval(org.id, 1, 600),
        idempotency,
        activity: record(org.id, ActivityType::ApprovalCreated),
        outbox: vec![],
    };
    assert_eq!(store.create_approval(&new(Some(claim.clone())), charge).await.unwrap(), CreateOutcome::Created);
    assert!(matches!(store.create_approval(&new(Some(claim)), charge).await.unwrap(), CreateOutcome::Replayed(_)));
    let refused = new(None);
    assert_eq!(store.create_approval(&refused, charge).await.unwrap(), CreateOutcome::InsufficientCredits);
    assert_eq!(store.approval(org.id, refused.approval.id).await.unwrap(), None);
    let debits: u64 = ledger(store.as_ref(), org.account_id).await.iter().filter(|r| r.kind == LedgerKind::Debit).map(|r| r.calls).sum();
    assert_eq!(debits, 1);
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 0);
}

/// Versions and revocations that caches compare against.
pub async fn versions_and_revocations(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "v1@example.com").await;
    let versions = store.org_versions(&[org.id, OrgId::generate()]).await.unwrap();
    assert_eq!(versions.len(), 1);
    assert_eq!((versions[0].org_id, versions[0].policy_version, versions[0].updated_at), (org.id, 0, org.updated_at));
    let key = oakallow_domain::org::ApiKey {
        id: KeyId::generate(),
        org_id: org.id,
        name: "k".into(),
        tier: oakallow_domain::keys::KeyTier::Standard,
        prefix: "oak_live_abc".into(),
        created_at: T0,
        revoked_at: None,
    };
    store.create_key(&crate::NewKey { key: key.clone(), digest: [9; 32] }, record(org.id, ActivityType::KeyCreated)).await.unwrap();
    assert!(store.revoked_keys(&[key.id]).await.unwrap().is_empty());
    store.revoke_key(org.id, key.id, T0, record(org.id, ActivityType::KeyRevoked)).await.unwrap();
    assert_eq!(store.revoked_keys(&[key.id, KeyId::generate()]).await.unwrap(), vec![key.id]);
    let mut renamed = org.clone();
    renamed.name = "renamed".into();
    renamed.updated_at = T0.plus_seconds(9);
    store.update_org(&renamed, org.updated_at, None, record(org.id, ActivityType::ConfigChanged)).await.unwrap();
    assert_eq!(store.org_versions(&[org.id]).await.unwrap()[0].updated_at, renamed.updated_at);
}

fn purchase(account: AccountId, event: &str, session: &str) -> NewPurchase {
    NewPurchase {
        id: LedgerId::generate(),
        account_id: account,
        package: "starter".into(),
        price_cents: 1_000,
        calls: 2_000,
        amount: 2_000 * PRICE_MICROUSD,
        stripe_event_id: event.into(),
        stripe_session_id: session.into(),
        stripe_payment_intent: Some(format!("pi_{session}")),
        created_at: T0,
    }
}

/// A purchase is credited once per Stripe event and once per Checkout Session, with its lot and
/// ledger row; the list shows what is left of each.
pub async fn purchases_are_credited_once(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "buyer@example.com").await;
    let first = purchase(org.account_id, "evt_1", "cs_1");
    assert!(store.record_purchase(&first).await.unwrap());
    assert!(!store.record_purchase(&purchase(org.account_id, "evt_1", "cs_1")).await.unwrap(), "the same event again");
    assert!(!store.record_purchase(&purchase(org.account_id, "evt_2", "cs_1")).await.unwrap(), "another event, same session");
    assert!(!store.record_purchase(&purchase(org.account_id, "evt_1", "cs_9")).await.unwrap(), "the same event, another session");
    let second = purchase(org.account_id, "evt_3", "cs_3");
    assert!(store.record_purchase(&second).await.unwrap());
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 4_000 * PRICE_MICROUSD);
    let rows = ledger(store.as_ref(), org.account_id).await;
    let purchases: Vec<_> = rows.iter().filter(|r| r.kind == LedgerKind::Purchase).map(|r| (r.id, r.amount)).collect();
    assert_eq!(purchases, [(second.id, 2_000 * PRICE_MICROUSD), (first.id, 2_000 * PRICE_MICROUSD)]);
    let listed = store.purchases(org.account_id).await.unwrap();
    assert_eq!(listed.iter().map(|p| (&p.recorded, p.remaining)).collect::<Vec<_>>(), [(&second, second.amount), (&first, first.amount)]);
    let lot = store.credit_state(org.account_id, T0).await.unwrap().lots.into_iter().find(|l| l.id == first.id.to_string()).unwrap();
    assert_eq!((lot.kind, lot.expires_at), (CreditKind::Purchase, None), "bought credit does not expire");
    let other = new_org(store.as_ref(), "other-buyer@example.com").await;
    assert!(store.purchases(other.account_id).await.unwrap().is_empty(), "each account sees its own");
    let nobody = purchase(AccountId::generate(), "evt_4", "cs_4");
    assert!(matches!(store.record_purchase(&nobody).await, Err(crate::StoreError::NotFound)));
}

/// Racing deliveries of one event credit it once; different events racing are all credited.
pub async fn concurrent_purchases_are_exact(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "racer@example.com").await;
    let record = |event: String, session: String| {
        let (store, item) = (Arc::clone(&store), purchase(org.account_id, &event, &session));
        async move { store.record_purchase(&item).await.unwrap() }
    };
    let same = (0..5).map(|_| record("evt_same".into(), "cs_same".into()));
    let different = (0..3).map(|n| record(format!("evt_{n}"), format!("cs_{n}")));
    let (same, different) =
        futures_util::future::join(futures_util::future::join_all(same), futures_util::future::join_all(different)).await;
    let credited_same = same.iter().filter(|credited| **credited).count();
    assert!(different.iter().all(|credited| *credited), "every different event is credited");
    assert_eq!(credited_same, 1, "one of five deliveries of one event");
    assert_eq!(assert_books_balance(store.as_ref(), org.account_id, T0).await, 4 * 2_000 * PRICE_MICROUSD);
}

/// A refund takes back a purchase's credit only while none of it is spent and within the
/// window; a refused refund gives it back; a done refund is final.
pub async fn refunds_take_unspent_credit_back_once(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "refund@example.com").await;
    let account = org.account_id;
    let bought = purchase(account, "evt_r1", "cs_r1");
    assert!(store.record_purchase(&bought).await.unwrap());
    let window = T0.plus_seconds(-30 * DAY);
    let later = T0.plus_seconds(60);
    let reserve = |after: Timestamp| {
        let store = Arc::clone(&store);
        async move { store.reserve_refund(account, bought.id, LedgerId::generate(), after, later).await.unwrap() }
    };
    assert_eq!(reserve(T0.plus_seconds(1)).await, RefundReservation::TooOld, "bought before the window");
    let RefundReservation::Reserved(reserved) = reserve(window).await else { panic!("an unspent purchase is refundable") };
    assert_eq!((reserved.remaining, &reserved.refund), (0, &Some(Refund::Pending)));
    assert_eq!(assert_books_balance(store.as_ref(), account, later).await, 0, "its credit is taken back at once");
    assert!(matches!(reserve(window).await, RefundReservation::Pending(_)), "a started refund is asked again, not taken twice");
    assert_eq!(assert_books_balance(store.as_ref(), account, later).await, 0);

    store.cancel_refund(bought.id, LedgerId::generate(), later).await.unwrap();
    assert_eq!(assert_books_balance(store.as_ref(), account, later).await, bought.amount, "a refused refund gives the credit back");
    assert_eq!(store.purchases(account).await.unwrap()[0].refund, None);
    assert!(matches!(reserve(window).await, RefundReservation::Reserved(_)));
    store.complete_refund(bought.id, "re_1", later).await.unwrap();
    let done = Some(Refund::Done { stripe_refund_id: "re_1".into(), at: later });
    assert_eq!(store.purchases(account).await.unwrap()[0].refund, done);
    assert_eq!(reserve(window).await, RefundReservation::Refunded);
    store.cancel_refund(bought.id, LedgerId::generate(), later).await.unwrap();
    assert_eq!(assert_books_balance(store.as_ref(), account, later).await, 0, "a done refund is final");
    let refunds: Vec<i64> =
        ledger(store.as_ref(), account).await.iter().filter(|r| r.kind == LedgerKind::Refund).map(|r| r.amount).collect();
    assert_eq!(refunds, [-bought.amount, bought.amount, -bought.amount], "newest first");

    let spent = purchase(account, "evt_r2", "cs_r2");
    assert!(store.record_purchase(&spent).await.unwrap());
    let call = charged(&org, checked(org.id, "t", 1), PRICE_MICROUSD);
    assert_eq!(store.commit_runtime(later, vec![call].into()).await.unwrap(), [WriteOutcome::Applied]);
    let outcome = store.reserve_refund(account, spent.id, LedgerId::generate(), window, later).await.unwrap();
    assert_eq!(outcome, RefundReservation::Spent, "one call spent from it");
    let stranger = new_org(store.as_ref(), "stranger@example.com").await;
    let theirs = store.reserve_refund(stranger.account_id, spent.id, LedgerId::generate(), window, later).await;
    assert!(matches!(theirs, Err(crate::StoreError::NotFound)), "another account's purchase is not found");
}
