//! Conformance cases of e-mailed sign-in codes: one outstanding per account, superseded by a new
//! one, spent once by the code or the link, void after too many wrong tries or at expiry.

use std::sync::Arc;

use oakallow_domain::account::secret_digest;
use oakallow_domain::org::Account;

use super::{signed_up, t};
use crate::{EmailCode, Store};

const MAX_WRONG: u32 = 3;

/// A code sent at `created`, working for ten minutes.
fn code(account: &Account, link: &str, created: i64) -> EmailCode {
    EmailCode {
        account_id: account.id,
        code_digest: secret_digest(&format!("code of {link}")),
        link_digest: secret_digest(link),
        created_at: t(created),
        expires_at: t(created + 600),
        wrong_tries: 0,
    }
}

/// A code is kept until it is spent, by its code or its link, once; a new one replaces it; wrong
/// tries void it at the limit; it does not work at or after its expiry.
pub async fn email_codes_work_once(store: Arc<dyn Store>) {
    let (ann, bob) = (signed_up(store.as_ref(), "ann@example.com").await, signed_up(store.as_ref(), "bob@example.com").await);
    let first = code(&ann, "first", 0);
    store.put_email_code(&first).await.unwrap();
    assert_eq!(store.email_code(ann.id).await.unwrap(), Some(first.clone()));
    assert_eq!(store.email_code(bob.id).await.unwrap(), None);

    let second = code(&ann, "second", 10);
    store.put_email_code(&second).await.unwrap();
    assert_eq!(store.email_code(ann.id).await.unwrap(), Some(second.clone()), "a new code replaces the old one");
    assert!(!store.spend_email_code(ann.id, &first.link_digest, t(11), MAX_WRONG).await.unwrap(), "the old code is void");
    assert_eq!(store.spend_email_link(&first.link_digest, t(11), MAX_WRONG).await.unwrap(), None, "and so is its link");
    assert!(!store.spend_email_code(bob.id, &second.link_digest, t(11), MAX_WRONG).await.unwrap(), "not another account's");

    assert!(store.spend_email_code(ann.id, &second.link_digest, t(12), MAX_WRONG).await.unwrap());
    assert!(!store.spend_email_code(ann.id, &second.link_digest, t(13), MAX_WRONG).await.unwrap(), "once");
    assert_eq!(store.spend_email_link(&second.link_digest, t(13), MAX_WRONG).await.unwrap(), None, "using the code spends the link");
    assert_eq!(store.email_code(ann.id).await.unwrap(), None);

    let linked = code(&ann, "linked", 20);
    store.put_email_code(&linked).await.unwrap();
    assert_eq!(store.spend_email_link(&linked.link_digest, t(21), MAX_WRONG).await.unwrap(), Some(ann.id));
    assert_eq!(store.spend_email_link(&linked.link_digest, t(22), MAX_WRONG).await.unwrap(), None, "once");
    assert!(!store.spend_email_code(ann.id, &linked.link_digest, t(22), MAX_WRONG).await.unwrap(), "the link spends the code");

    let guessed = code(&bob, "guessed", 30);
    store.put_email_code(&guessed).await.unwrap();
    assert_eq!(store.count_wrong_email_code(bob.id, &guessed.link_digest, MAX_WRONG).await.unwrap(), 1);
    assert_eq!(store.count_wrong_email_code(bob.id, &guessed.link_digest, MAX_WRONG).await.unwrap(), 2);
    assert_eq!(store.email_code(bob.id).await.unwrap().map(|c| c.wrong_tries), Some(2));
    assert_eq!(store.count_wrong_email_code(bob.id, &guessed.link_digest, MAX_WRONG).await.unwrap(), 3);
    assert_eq!(store.email_code(bob.id).await.unwrap(), None, "void at the limit");
    assert!(!store.spend_email_code(bob.id, &guessed.link_digest, t(31), MAX_WRONG).await.unwrap());
    assert_eq!(store.count_wrong_email_code(bob.id, &guessed.link_digest, MAX_WRONG).await.unwrap(), 0, "no such code");

    let expiring = code(&bob, "expiring", 40);
    store.put_email_code(&expiring).await.unwrap();
    assert!(!store.spend_email_code(bob.id, &expiring.link_digest, t(640), MAX_WRONG).await.unwrap(), "expired at its end");
    assert_eq!(store.spend_email_link(&expiring.link_digest, t(640), MAX_WRONG).await.unwrap(), None);
    assert!(store.spend_email_code(bob.id, &expiring.link_digest, t(639), MAX_WRONG).await.unwrap(), "works until then");
}

/// Of many redemptions of one code racing (by code and by link), exactly one wins.
pub async fn email_codes_are_spent_once_under_a_race(store: Arc<dyn Store>) {
    let ann = signed_up(store.as_ref(), "ann@example.com").await;
    for round in 0..5 {
        let raced = code(&ann, &format!("raced {round}"), round);
        store.put_email_code(&raced).await.unwrap();
        let racers = (0..8).map(|i| {
            let (store, link) = (Arc::clone(&store), raced.link_digest);
            async move {
                if i % 2 == 0 {
                    store.spend_email_code(ann.id, &link, t(round + 1), MAX_WRONG).await.unwrap()
                } else {
                    store.spend_email_link(&link, t(round + 1), MAX_WRONG).await.unwrap().is_some()
                }
            }
        });
        let wins = futures_util::future::join_all(racers).await.into_iter().filter(|won| *won).count();
        assert_eq!(wins, 1, "round {round}");
    }
}
