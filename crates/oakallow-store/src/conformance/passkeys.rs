//! Conformance cases of passkeys: kept per account, found by credential id, used and removed
//! only by their own account; WebAuthn ceremonies taken once, of their kind, before they expire.

use std::sync::Arc;

use oakallow_domain::account::secret_digest;
use oakallow_domain::id::{AccountId, PasskeyId};
use oakallow_domain::org::Account;

use super::{signed_up, t};
use crate::{CeremonyKind, PasskeyCeremony, Store, StoreError, StoredPasskey};

fn passkey(account: &Account, name: &str, credential_id: &[u8], created: i64) -> StoredPasskey {
    StoredPasskey {
        id: PasskeyId::generate(),
        account_id: account.id,
        name: name.into(),
        credential_id: credential_id.to_vec(),
        // Any text round-trips: the store never looks inside.
        credential: format!(r#"{{"cred":{{"counter":0,"name":"{name} ✓ \" \\ ' ; --"}}}}"#),
        created_at: t(created),
        last_used_at: None,
    }
}

/// Passkeys are listed per account oldest first, found by credential id, unique by credential
/// id across accounts, and used or removed only by their own account.
pub async fn passkeys_are_kept_per_account(store: Arc<dyn Store>) {
    let (ann, bob) = (signed_up(store.as_ref(), "ann@example.com").await, signed_up(store.as_ref(), "bob@example.com").await);
    // Credential ids are arbitrary bytes (zero bytes and all, up to 1023 of them).
    let (laptop, phone) = (passkey(&ann, "Laptop", &[0, 1, 2, 255], 10), passkey(&ann, "Phone", &[7; 1023], 5));
    let bobs = passkey(&bob, "Bob's key", &[9, 9], 0);
    for p in [&laptop, &phone, &bobs] {
        store.add_passkey(p).await.unwrap();
    }
    assert_eq!(store.passkeys(ann.id).await.unwrap(), vec![phone.clone(), laptop.clone()]);
    assert_eq!(store.passkeys(AccountId::generate()).await.unwrap(), vec![]);
    assert_eq!(store.passkey_by_credential(&[0, 1, 2, 255]).await.unwrap(), Some(laptop.clone()));
    assert_eq!(store.passkey_by_credential(&[0, 1, 2]).await.unwrap(), None);
    let twin = StoredPasskey { id: PasskeyId::generate(), ..passkey(&bob, "Copy", &[0, 1, 2, 255], 20) };
    assert!(matches!(store.add_passkey(&twin).await, Err(StoreError::Conflict(_))), "a credential is registered once");

    store.record_passkey_use(ann.id, laptop.id, r#"{"counter":3}"#, t(30)).await.unwrap();
    let used = StoredPasskey { credential: r#"{"counter":3}"#.into(), last_used_at: Some(t(30)), ..laptop.clone() };
    assert_eq!(store.passkey_by_credential(&laptop.credential_id).await.unwrap(), Some(used.clone()));
    let not_bobs = store.record_passkey_use(bob.id, laptop.id, "{}", t(40)).await;
    assert!(matches!(not_bobs, Err(StoreError::NotFound)), "{not_bobs:?}");

    assert!(matches!(store.remove_passkey(bob.id, laptop.id).await, Err(StoreError::NotFound)), "not Bob's to remove");
    assert_eq!(store.passkeys(ann.id).await.unwrap(), vec![phone.clone(), used]);
    store.remove_passkey(ann.id, laptop.id).await.unwrap();
    assert!(matches!(store.remove_passkey(ann.id, laptop.id).await, Err(StoreError::NotFound)), "removed once");
    assert_eq!(store.passkeys(ann.id).await.unwrap(), vec![phone]);
    assert_eq!(store.passkey_by_credential(&laptop.credential_id).await.unwrap(), None);
    assert!(matches!(store.record_passkey_use(ann.id, laptop.id, "{}", t(50)).await, Err(StoreError::NotFound)));
    assert_eq!(store.passkeys(bob.id).await.unwrap(), vec![bobs]);
}

fn ceremony(binding: &str, kind: CeremonyKind, account: Option<&Account>, expires: i64) -> PasskeyCeremony {
    PasskeyCeremony {
        binding: secret_digest(binding),
        kind,
        account_id: account.map(|a| a.id),
        state: format!(r#"{{"challenge":"{binding}","ü":"\u0000-free"}}"#),
        expires_at: t(expires),
    }
}

/// A ceremony is taken at most once, only as its own kind and before it expires; a new one with
/// the same binding replaces the old; expired ones are forgotten when another is put.
pub async fn passkey_ceremonies_are_single_use(store: Arc<dyn Store>) {
    let ann = signed_up(store.as_ref(), "ann@example.com").await;
    let register = ceremony("ann's session", CeremonyKind::Register, Some(&ann), 300);
    store.put_passkey_ceremony(&register, t(0)).await.unwrap();
    assert_eq!(store.take_passkey_ceremony(&register.binding, CeremonyKind::Register, t(10)).await.unwrap(), Some(register.clone()));
    assert_eq!(store.take_passkey_ceremony(&register.binding, CeremonyKind::Register, t(10)).await.unwrap(), None, "taken once");

    // Another kind does not finish it, and the attempt uses it up.
    store.put_passkey_ceremony(&register, t(0)).await.unwrap();
    assert_eq!(store.take_passkey_ceremony(&register.binding, CeremonyKind::Confirm, t(10)).await.unwrap(), None);
    assert_eq!(store.take_passkey_ceremony(&register.binding, CeremonyKind::Register, t(10)).await.unwrap(), None);

    // Expired at its end.
    let sign_in = ceremony("a browser", CeremonyKind::SignIn, None, 300);
    store.put_passkey_ceremony(&sign_in, t(0)).await.unwrap();
    assert_eq!(store.take_passkey_ceremony(&sign_in.binding, CeremonyKind::SignIn, t(300)).await.unwrap(), None, "expired");

    // The newest of one binding wins.
    let first = ceremony("a browser", CeremonyKind::SignIn, None, 300);
    let second = PasskeyCeremony { state: r#"{"challenge":"second"}"#.into(), expires_at: t(400), ..first.clone() };
    store.put_passkey_ceremony(&first, t(0)).await.unwrap();
    store.put_passkey_ceremony(&second, t(100)).await.unwrap();
    assert_eq!(store.take_passkey_ceremony(&first.binding, CeremonyKind::SignIn, t(350)).await.unwrap(), Some(second));

    // Putting a ceremony forgets the expired ones, not the live ones.
    let (stale, live) = (ceremony("stale", CeremonyKind::SignIn, None, 50), ceremony("live", CeremonyKind::SignIn, None, 500));
    store.put_passkey_ceremony(&stale, t(0)).await.unwrap();
    store.put_passkey_ceremony(&live, t(0)).await.unwrap();
    store.put_passkey_ceremony(&ceremony("other", CeremonyKind::SignIn, None, 500), t(100)).await.unwrap();
    assert_eq!(store.take_passkey_ceremony(&stale.binding, CeremonyKind::SignIn, t(0)).await.unwrap(), None, "forgotten");
    assert_eq!(store.take_passkey_ceremony(&live.binding, CeremonyKind::SignIn, t(100)).await.unwrap(), Some(live));
}
