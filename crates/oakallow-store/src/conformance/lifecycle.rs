//! Conformance cases of an account's life after sign-up: disabled by the operator, enabled
//! again, and deleted (its personal data erased, its billing records kept).

use std::sync::Arc;

use oakallow_domain::account::{ApproverLevels, Membership, Role, Session, secret_digest};
use oakallow_domain::billing::CreditKind;
use oakallow_domain::id::{AccountId, LedgerId, SessionId};
use oakallow_domain::org::Account;

use super::{HASH, T0, new_account, new_org, t};
use crate::{AccountStatus, ERASED_NAME, NewCredit, Store, StoreError, erased_email};

fn session(account: &Account, secret: &str, created: i64) -> Session {
    Session {
        id: SessionId::generate(),
        digest: secret_digest(secret),
        account_id: account.id,
        created_at: t(created),
        expires_at: t(created + 3600),
        revoked_at: None,
    }
}

/// A disabled account has no live session and cannot get one until it is enabled again.
pub async fn disabled_accounts_cannot_sign_in(store: Arc<dyn Store>) {
    let ann = new_account("ann@example.com");
    store.create_account(&ann, Some(HASH), None).await.unwrap();
    let bob = new_account("bob@example.com");
    store.create_account(&bob, Some(HASH), None).await.unwrap();
    let unsaved = AccountId::generate();
    assert_eq!(store.account_status(ann.id).await.unwrap(), Some(AccountStatus { disabled_at: None, deleted_at: None }));
    assert_eq!(store.account_status(unsaved).await.unwrap(), None);
    store.create_session(&session(&ann, "ann-1", 0)).await.unwrap();
    store.create_session(&session(&bob, "bob-1", 0)).await.unwrap();

    store.disable_account(ann.id, t(10)).await.unwrap();
    store.disable_account(ann.id, t(20)).await.unwrap();
    assert_eq!(store.account_status(ann.id).await.unwrap().and_then(|s| s.disabled_at), Some(t(10)), "the first time stays");
    assert_eq!(store.live_sessions(ann.id, t(11)).await.unwrap(), vec![], "signed out everywhere");
    assert_eq!(store.live_sessions(bob.id, t(11)).await.unwrap().len(), 1, "nobody else is");
    assert!(matches!(store.create_session(&session(&ann, "ann-2", 12)).await, Err(StoreError::NotFound)));
    assert_eq!(store.session_by_digest(&secret_digest("ann-2")).await.unwrap(), None);
    assert!(matches!(store.create_session(&session(&new_account("x@example.com"), "x", 12)).await, Err(StoreError::NotFound)));

    store.enable_account(ann.id).await.unwrap();
    store.create_session(&session(&ann, "ann-3", 30)).await.unwrap();
    assert_eq!(store.live_sessions(ann.id, t(31)).await.unwrap().len(), 1);
    assert!(matches!(store.disable_account(unsaved, t(40)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.enable_account(unsaved).await, Err(StoreError::NotFound)));
}

/// Erasing an account removes its email, name, password, sessions, memberships and failed
/// sign-ins, and keeps its credit; it is idempotent and cannot be undone.
pub async fn erased_accounts_keep_no_personal_data(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "owner@example.com").await;
    let ann = Account { name: "Ann Erasable".into(), ..new_account("ann@example.com") };
    store.create_account(&ann, Some(HASH), None).await.unwrap();
    let joined = Membership { org_id: org.id, account_id: ann.id, role: Role::Admin, approver: ApproverLevels::BOTH, created_at: T0 };
    store.put_membership(&joined).await.unwrap();
    let credit =
        NewCredit { id: LedgerId::generate(), kind: CreditKind::Grant, amount: 5_000_000, expires_at: None, note: None, created_at: T0 };
    store.add_credit(ann.id, &credit).await.unwrap();
    store.create_session(&session(&ann, "ann", 0)).await.unwrap();
    let subjects = ["email:ann@example.com".to_owned(), "address:192.0.2.1".to_owned()];
    store.record_sign_in_failure(&subjects, t(1), t(-3600)).await.unwrap();
    let credit_before = store.credit_state(ann.id, t(2)).await.unwrap();

    store.erase_account(ann.id, &subjects[..1], t(5)).await.unwrap();
    let erased = store.account(ann.id).await.unwrap().expect("the row stays");
    assert_eq!((erased.email.as_str(), erased.name.as_str()), (erased_email(ann.id).as_str(), ERASED_NAME));
    assert_eq!(store.account_by_email("ann@example.com").await.unwrap(), None);
    assert_eq!(store.password_hash(ann.id).await.unwrap(), None);
    assert_eq!(store.session_by_digest(&secret_digest("ann")).await.unwrap(), None);
    assert_eq!(store.membership(org.id, ann.id).await.unwrap(), None);
    assert_eq!(store.memberships_of_account(ann.id).await.unwrap(), vec![]);
    assert_eq!(store.members(org.id).await.unwrap().len(), 1, "the owner stays");
    assert_eq!(store.sign_in_failures("email:ann@example.com", t(0)).await.unwrap(), 0);
    assert_eq!(store.sign_in_failures("address:192.0.2.1", t(0)).await.unwrap(), 1, "not the account's");
    assert_eq!(store.credit_state(ann.id, t(2)).await.unwrap(), credit_before, "billing records are kept");
    assert_eq!(store.account_status(ann.id).await.unwrap(), Some(AccountStatus { disabled_at: Some(t(5)), deleted_at: Some(t(5)) }));

    store.erase_account(ann.id, &[], t(9)).await.unwrap();
    assert_eq!(store.account_status(ann.id).await.unwrap().and_then(|s| s.deleted_at), Some(t(5)), "erasing twice changes nothing");
    assert!(matches!(store.enable_account(ann.id).await, Err(StoreError::NotFound)), "a deleted account stays disabled");
    assert!(matches!(store.create_session(&session(&ann, "again", 10)).await, Err(StoreError::NotFound)));
    assert!(matches!(store.erase_account(AccountId::generate(), &[], t(10)).await, Err(StoreError::NotFound)));
    // Its email is free for a new account.
    store.create_account(&new_account("ann@example.com"), Some(HASH), None).await.unwrap();
}
