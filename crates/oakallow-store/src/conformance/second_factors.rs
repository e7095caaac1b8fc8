//! Conformance cases of second factors: TOTP enrolment and steps used once, recovery codes used
//! once even when raced, removal with the sessions (and, on a reset, the passkeys), pending
//! sign-ins that work once, and sessions' last verification.

use std::sync::Arc;

use futures_util::future::join_all;

use oakallow_domain::account::{Session, secret_digest};
use oakallow_domain::id::{AccountId, PasskeyId, SessionId};

use super::{new_account, new_org, t};
use crate::{CeremonyKind, PasskeyCeremony, PendingSignIn, Store, StoredPasskey};

const SECRET: &[u8] = b"12345678901234567890";

/// TOTP: enrolment waits for activation, a step is accepted once and only forward, an active
/// secret cannot be replaced, and removal takes the codes (and, asked, the sessions) with it.
pub async fn totp_steps_are_used_once_and_removal_is_whole(store: Arc<dyn Store>) {
    let ann = new_account("ann@example.com");
    store.create_account(&ann, None, None).await.unwrap();
    assert_eq!(store.totp(ann.id).await.unwrap(), None);
    assert!(store.start_totp(ann.id, b"first secret", t(0)).await.unwrap());
    assert!(store.start_totp(ann.id, SECRET, t(1)).await.unwrap(), "a waiting secret is replaced");
    let waiting = store.totp(ann.id).await.unwrap().unwrap();
    assert_eq!((waiting.secret.as_slice(), waiting.activated_at, waiting.last_step), (SECRET, None, None));
    assert!(!store.use_totp_step(ann.id, 5).await.unwrap(), "not active yet");
    let codes = [[1u8; 32], [2u8; 32]];
    assert!(!store.activate_totp(ann.id, b"first secret", 10, &codes, t(2)).await.unwrap(), "only the secret that waits");
    assert!(store.activate_totp(ann.id, SECRET, 10, &codes, t(2)).await.unwrap());
    assert!(!store.activate_totp(ann.id, SECRET, 11, &codes, t(3)).await.unwrap(), "once");
    let active = store.totp(ann.id).await.unwrap().unwrap();
    assert_eq!((active.activated_at, active.last_step), (Some(t(2)), Some(10)));
    assert!(!store.start_totp(ann.id, b"other", t(4)).await.unwrap(), "an active secret stays");
    assert_eq!(store.totp(ann.id).await.unwrap().unwrap().secret, SECRET);

    assert!(!store.use_totp_step(ann.id, 10).await.unwrap(), "the activation's step is used");
    assert!(!store.use_totp_step(ann.id, 9).await.unwrap(), "no step before it");
    let racers = (0..8).map(|_| store.use_totp_step(ann.id, 11));
    let wins = join_all(racers).await.into_iter().filter(|won| *won.as_ref().unwrap()).count();
    assert_eq!(wins, 1, "one of many racing with the same step wins");
    assert_eq!(store.totp(ann.id).await.unwrap().unwrap().last_step, Some(11));

    let session = Session {
        id: SessionId::generate(),
        digest: secret_digest("s"),
        account_id: ann.id,
        created_at: t(0),
        expires_at: t(1000),
        revoked_at: None,
    };
    store.create_session(&session).await.unwrap();
    assert!(store.remove_second_factor(ann.id, None).await.unwrap());
    assert_eq!(store.totp(ann.id).await.unwrap(), None);
    assert_eq!(store.unused_recovery_codes(ann.id).await.unwrap(), 0);
    assert_eq!(store.live_sessions(ann.id, t(5)).await.unwrap().len(), 1, "sessions stay unless asked");
    assert!(!store.remove_second_factor(ann.id, Some(t(6))).await.unwrap(), "nothing left to remove");
    assert_eq!(store.live_sessions(ann.id, t(7)).await.unwrap(), vec![], "but the sessions are revoked");
    assert_eq!(store.session_by_digest(&session.digest).await.unwrap().and_then(|s| s.revoked_at), Some(t(6)));
}

/// Removing TOTP leaves the passkeys; the operator's reset removes them and their ceremonies
/// too, and only the account's own.
pub async fn a_reset_removes_passkeys_too(store: Arc<dyn Store>) {
    let (ann, bob) = (new_account("ann@example.com"), new_account("bob@example.com"));
    store.create_account(&ann, None, None).await.unwrap();
    store.create_account(&bob, None, None).await.unwrap();
    let key = |account: AccountId, id: u8| StoredPasskey {
        id: PasskeyId::generate(),
        account_id: account,
        name: "Laptop".into(),
        credential_id: vec![id; 16],
        credential: "{}".into(),
        created_at: t(0),
        last_used_at: None,
    };
    store.add_passkey(&key(ann.id, 1)).await.unwrap();
    store.add_passkey(&key(bob.id, 2)).await.unwrap();
    let ceremony = |account: AccountId, binding: u8| PasskeyCeremony {
        binding: [binding; 32],
        kind: CeremonyKind::Confirm,
        account_id: Some(account),
        state: "{}".into(),
        expires_at: t(100),
    };
    store.put_passkey_ceremony(&ceremony(ann.id, 1), t(0)).await.unwrap();
    store.put_passkey_ceremony(&ceremony(bob.id, 2), t(0)).await.unwrap();
    assert!(!store.remove_second_factor(ann.id, None).await.unwrap(), "no TOTP, and passkeys are not removed with it");
    assert_eq!(store.passkeys(ann.id).await.unwrap().len(), 1);
    assert!(store.remove_second_factor(ann.id, Some(t(1))).await.unwrap(), "a reset removes the passkey");
    assert_eq!(store.passkeys(ann.id).await.unwrap(), vec![]);
    assert_eq!(store.take_passkey_ceremony(&[1; 32], CeremonyKind::Confirm, t(2)).await.unwrap(), None, "and its ceremonies");
    assert_eq!(store.passkeys(bob.id).await.unwrap().len(), 1, "another account's stay");
    assert!(store.take_passkey_ceremony(&[2; 32], CeremonyKind::Confirm, t(2)).await.unwrap().is_some());
}

/// Recovery codes work once each, even raced; replacing them voids the old ones; another
/// account's code is not this one's.
pub async fn recovery_codes_work_once(store: Arc<dyn Store>) {
    let (ann, bob) = (new_account("ann@example.com"), new_account("bob@example.com"));
    store.create_account(&ann, None, None).await.unwrap();
    store.create_account(&bob, None, None).await.unwrap();
    let codes: Vec<[u8; 32]> = (0u8..10).map(|i| [i; 32]).collect();
    store.replace_recovery_codes(ann.id, &codes, t(0)).await.unwrap();
    assert_eq!(store.unused_recovery_codes(ann.id).await.unwrap(), 10);
    assert!(!store.use_recovery_code(bob.id, &codes[0], t(1)).await.unwrap(), "not Bob's");
    let racers = (0..8).map(|_| store.use_recovery_code(ann.id, &codes[3], t(1)));
    let wins = join_all(racers).await.into_iter().filter(|won| *won.as_ref().unwrap()).count();
    assert_eq!(wins, 1, "a code works exactly once");
    assert!(!store.use_recovery_code(ann.id, &codes[3], t(2)).await.unwrap());
    assert_eq!(store.unused_recovery_codes(ann.id).await.unwrap(), 9);
    store.replace_recovery_codes(ann.id, &[[42u8; 32]], t(3)).await.unwrap();
    assert!(!store.use_recovery_code(ann.id, &codes[4], t(4)).await.unwrap(), "old codes are void");
    assert!(store.use_recovery_code(ann.id, &[42u8; 32], t(4)).await.unwrap());
    assert_eq!(store.unused_recovery_codes(ann.id).await.unwrap(), 0);
}

/// A pending sign-in is found while live and finishes once; sessions keep their last
/// verification (never moving back). (The org requirement is an org setting, in
/// `accounts_and_orgs`.)
pub async fn pending_sign_ins_finish_once_and_sessions_keep_their_check(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "owner@example.com").await;
    let pending = PendingSignIn { digest: secret_digest("pending"), account_id: org.account_id, created_at: t(0), expires_at: t(300) };
    store.create_pending_sign_in(&pending).await.unwrap();
    assert_eq!(store.pending_sign_in(&pending.digest, t(10)).await.unwrap(), Some(pending.clone()));
    assert_eq!(store.pending_sign_in(&secret_digest("other"), t(10)).await.unwrap(), None);
    assert_eq!(store.pending_sign_in(&pending.digest, t(300)).await.unwrap(), None, "expired at its end");
    assert!(!store.finish_pending_sign_in(&pending.digest, t(300)).await.unwrap());
    let racers = (0..8).map(|_| store.finish_pending_sign_in(&pending.digest, t(20)));
    let wins = join_all(racers).await.into_iter().filter(|won| *won.as_ref().unwrap()).count();
    assert_eq!(wins, 1, "a pending sign-in finishes once");
    assert_eq!(store.pending_sign_in(&pending.digest, t(21)).await.unwrap(), None);

    let session = Session {
        id: SessionId::generate(),
        digest: secret_digest("session"),
        account_id: org.account_id,
        created_at: t(0),
        expires_at: t(1000),
        revoked_at: None,
    };
    store.create_session(&session).await.unwrap();
    assert_eq!(store.second_factor_at(session.id).await.unwrap(), None);
    store.record_second_factor(session.id, t(30)).await.unwrap();
    store.record_second_factor(session.id, t(20)).await.unwrap();
    assert_eq!(store.second_factor_at(session.id).await.unwrap(), Some(t(30)), "never moves back");
    store.record_second_factor(session.id, t(40)).await.unwrap();
    assert_eq!(store.second_factor_at(session.id).await.unwrap(), Some(t(40)));
}
