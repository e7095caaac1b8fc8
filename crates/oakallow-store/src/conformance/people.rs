//! Conformance cases of people: accounts' names and passwords, the instance operator, dashboard
//! sessions, org memberships, invitations and failed sign-ins.

use std::sync::Arc;

use oakallow_domain::account::{ApproverLevels, Invite, Membership, Role, Session, secret_digest};
use oakallow_domain::id::{AccountId, InviteId, OrgId, SessionId};
use oakallow_domain::org::{Account, Org};

use super::{HASH, T0, new_account, new_org, signed_up, t};
use crate::{Member, OrgMembership, Store, StoreError};

/// A PHC string of the shape the service stores (the store never looks inside).
fn session(account: &Account, secret: &str, created: i64, lifetime: i64) -> Session {
    Session {
        id: SessionId::generate(),
        digest: secret_digest(secret),
        account_id: account.id,
        created_at: t(created),
        expires_at: t(created + lifetime),
        revoked_at: None,
    }
}

/// An invitation into `org` by its owner, made at `created`, working for an hour.
fn invite(org: &Org, secret: &str, role: Role, approver: ApproverLevels, created: i64) -> Invite {
    Invite {
        id: InviteId::generate(),
        digest: secret_digest(secret),
        org_id: org.id,
        role,
        approver,
        created_by: org.account_id,
        created_at: t(created),
        expires_at: t(created + 3600),
        used_at: None,
        used_by: None,
    }
}

const LEVEL1: ApproverLevels = ApproverLevels { level1: true, level2: false };
const LEVEL2: ApproverLevels = ApproverLevels { level1: false, level2: true };

/// Accounts keep their name and password; a new password replaces the old.
pub async fn accounts_have_names_and_passwords(store: Arc<dyn Store>) {
    let with_password = new_account("pw@example.com");
    store.create_account(&with_password, Some(HASH), None).await.unwrap();
    let without = signed_up(store.as_ref(), "nopw@example.com").await;
    assert_eq!(store.account(with_password.id).await.unwrap(), Some(with_password.clone()));
    assert_eq!(store.account_by_email("pw@example.com").await.unwrap().map(|a| a.name), Some("PW".into()));
    assert_eq!(store.account(AccountId::generate()).await.unwrap(), None);

    assert_eq!(store.password_hash(with_password.id).await.unwrap().as_deref(), Some(HASH));
    assert_eq!(store.password_hash(without.id).await.unwrap(), None);
    assert_eq!(store.password_hash(AccountId::generate()).await.unwrap(), None);
    store.set_password_hash(without.id, "second", t(1)).await.unwrap();
    assert_eq!(store.password_hash(without.id).await.unwrap().as_deref(), Some("second"));
    assert_eq!(store.password_hash(with_password.id).await.unwrap().as_deref(), Some(HASH));
    assert_eq!(store.set_password_hash(AccountId::generate(), "x", t(1)).await, Err(StoreError::NotFound));

    let mut ids = vec![with_password.id, without.id];
    ids.sort();
    let listed: Vec<AccountId> = store.accounts(None, 10).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(listed, ids, "every account, in id order");
    let first = store.accounts(None, 1).await.unwrap();
    assert_eq!(first.iter().map(|a| a.id).collect::<Vec<_>>(), ids[..1]);
    let rest: Vec<AccountId> = store.accounts(Some(first[0].id), 10).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(rest, ids[1..], "the next page starts after the last one seen");
}

/// The first account to claim the instance keeps it.
pub async fn operator_is_claimed_once(store: Arc<dyn Store>) {
    let first = signed_up(store.as_ref(), "first@example.com").await;
    let second = signed_up(store.as_ref(), "second@example.com").await;
    assert_eq!(store.operator().await.unwrap(), None);
    assert!(store.claim_operator(first.id).await.unwrap());
    assert!(!store.claim_operator(second.id).await.unwrap());
    assert!(store.claim_operator(first.id).await.unwrap(), "the operator still is the operator");
    assert_eq!(store.operator().await.unwrap(), Some(first.id));
}

/// Sessions are found by digest, listed while live, revoked only by their account, and all
/// revoked by a new password.
pub async fn sessions_are_found_listed_and_revoked(store: Arc<dyn Store>) {
    let (ann, bob) = (signed_up(store.as_ref(), "ann@example.com").await, signed_up(store.as_ref(), "bob@example.com").await);
    let (old, new, short) = (session(&ann, "old", 0, 100), session(&ann, "new", 10, 100), session(&ann, "short", 20, 5));
    let bobs = session(&bob, "bob", 0, 100);
    for s in [&old, &new, &short, &bobs] {
        store.create_session(s).await.unwrap();
    }
    assert_eq!(store.session_by_digest(&secret_digest("new")).await.unwrap(), Some(new.clone()));
    assert_eq!(store.session_by_digest(&secret_digest("none")).await.unwrap(), None);
    let twin = Session { id: SessionId::generate(), ..bobs.clone() };
    assert!(matches!(store.create_session(&twin).await, Err(StoreError::Conflict(_))));
    assert_eq!(store.live_sessions(ann.id, t(24)).await.unwrap(), vec![short.clone(), new.clone(), old.clone()]);
    assert_eq!(store.live_sessions(ann.id, t(25)).await.unwrap(), vec![new.clone(), old.clone()], "expired at its end");

    store.revoke_session(ann.id, bobs.id, t(40)).await.unwrap();
    assert_eq!(store.session_by_digest(&bobs.digest).await.unwrap(), Some(bobs.clone()), "not Ann's to revoke");
    store.revoke_session(ann.id, old.id, t(40)).await.unwrap();
    store.revoke_session(ann.id, old.id, t(50)).await.unwrap();
    assert_eq!(store.session_by_digest(&old.digest).await.unwrap().and_then(|s| s.revoked_at), Some(t(40)), "the first revocation stays");
    assert_eq!(store.live_sessions(ann.id, t(41)).await.unwrap(), vec![new.clone()]);

    store.set_password_hash(ann.id, HASH, t(60)).await.unwrap();
    assert_eq!(store.live_sessions(ann.id, t(61)).await.unwrap(), vec![]);
    assert_eq!(store.session_by_digest(&new.digest).await.unwrap().and_then(|s| s.revoked_at), Some(t(60)));
    assert_eq!(store.session_by_digest(&old.digest).await.unwrap().and_then(|s| s.revoked_at), Some(t(40)));
    assert_eq!(store.live_sessions(bob.id, t(61)).await.unwrap(), vec![bobs]);
}

/// A new org's creator is its owner; members are listed, changed and removed.
pub async fn memberships_list_change_and_remove(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "owner@example.com").await;
    let owner = store.account(org.account_id).await.unwrap().unwrap();
    let owns = Membership { org_id: org.id, account_id: owner.id, role: Role::Owner, approver: ApproverLevels::BOTH, created_at: T0 };
    assert_eq!(store.membership(org.id, owner.id).await.unwrap(), Some(owns.clone()));
    assert_eq!(store.memberships_of_account(owner.id).await.unwrap(), vec![OrgMembership { org: org.clone(), membership: owns.clone() }]);

    let mia = signed_up(store.as_ref(), "mia@example.com").await;
    let joined = Membership { org_id: org.id, account_id: mia.id, role: Role::Member, approver: LEVEL1, created_at: t(5) };
    store.put_membership(&joined).await.unwrap();
    let other = new_org(store.as_ref(), "other@example.com").await;
    let earlier =
        Membership { org_id: other.id, account_id: mia.id, role: Role::Admin, approver: ApproverLevels::default(), created_at: t(1) };
    store.put_membership(&earlier).await.unwrap();
    let owner_member = Member { membership: owns.clone(), account: owner.clone() };
    assert_eq!(
        store.members(org.id).await.unwrap(),
        vec![owner_member.clone(), Member { membership: joined.clone(), account: mia.clone() }]
    );
    let in_other = OrgMembership { org: other.clone(), membership: earlier.clone() };
    let in_org = OrgMembership { org: org.clone(), membership: joined.clone() };
    assert_eq!(store.memberships_of_account(mia.id).await.unwrap(), vec![in_other.clone(), in_org], "oldest membership first");
    assert_eq!(store.membership(other.id, owner.id).await.unwrap(), None);

    let promoted = Membership { role: Role::Admin, approver: ApproverLevels::BOTH, created_at: t(9), ..joined.clone() };
    store.put_membership(&promoted).await.unwrap();
    let kept_joining_time = Membership { created_at: t(5), ..promoted };
    assert_eq!(store.membership(org.id, mia.id).await.unwrap(), Some(kept_joining_time));

    store.remove_membership(org.id, mia.id).await.unwrap();
    assert_eq!(store.membership(org.id, mia.id).await.unwrap(), None);
    assert_eq!(store.members(org.id).await.unwrap(), vec![owner_member]);
    assert_eq!(store.memberships_of_account(mia.id).await.unwrap(), vec![in_other]);
    assert_eq!(store.remove_membership(org.id, mia.id).await, Err(StoreError::NotFound));
    assert_eq!(store.remove_membership(OrgId::generate(), owner.id).await, Err(StoreError::NotFound));
}

/// An invitation works once, not after it expires or is withdrawn, and never lowers a role.
pub async fn invites_work_once(store: Arc<dyn Store>) {
    let org = new_org(store.as_ref(), "inviter@example.com").await;
    let other = new_org(store.as_ref(), "elsewhere@example.com").await;
    let (ann, bob) = (signed_up(store.as_ref(), "ann@example.com").await, signed_up(store.as_ref(), "bob@example.com").await);
    let admin = invite(&org, "admin", Role::Admin, LEVEL1, 0);
    let expired = Invite { expires_at: t(25), ..invite(&org, "expired", Role::Owner, LEVEL1, 0) };
    let withdrawn = invite(&org, "withdrawn", Role::Owner, LEVEL1, 1);
    let (member, raise) = (invite(&org, "member", Role::Member, LEVEL2, 2), invite(&org, "raise", Role::Admin, LEVEL2, 3));
    for i in [&admin, &expired, &withdrawn, &member, &raise] {
        store.create_invite(i).await.unwrap();
    }
    assert_eq!(store.invite_by_digest(&admin.digest).await.unwrap(), Some(admin.clone()));

    let joined = Membership { org_id: org.id, account_id: ann.id, role: Role::Admin, approver: LEVEL1, created_at: t(10) };
    assert_eq!(store.accept_invite(&admin.digest, ann.id, t(10)).await.unwrap(), Some(joined.clone()));
    assert_eq!(store.membership(org.id, ann.id).await.unwrap(), Some(joined));
    let used = Invite { used_at: Some(t(10)), used_by: Some(ann.id), ..admin.clone() };
    assert_eq!(store.invite_by_digest(&admin.digest).await.unwrap(), Some(used.clone()));
    assert_eq!(store.accept_invite(&admin.digest, bob.id, t(11)).await.unwrap(), None, "used once");
    assert_eq!(store.invite_by_digest(&admin.digest).await.unwrap(), Some(used));
    assert_eq!(store.accept_invite(&expired.digest, bob.id, t(25)).await.unwrap(), None, "expired at its end");
    assert_eq!(store.invite_by_digest(&expired.digest).await.unwrap(), Some(expired.clone()), "nothing written");
    assert_eq!(store.accept_invite(&secret_digest("unknown"), bob.id, t(11)).await.unwrap(), None);

    assert_eq!(store.withdraw_invite(other.id, withdrawn.id, t(20)).await, Err(StoreError::NotFound));
    store.withdraw_invite(org.id, withdrawn.id, t(20)).await.unwrap();
    let gone = Invite { used_at: Some(t(20)), ..withdrawn.clone() };
    assert_eq!(store.invite_by_digest(&withdrawn.digest).await.unwrap(), Some(gone), "used by nobody");
    assert_eq!(store.accept_invite(&withdrawn.digest, bob.id, t(21)).await.unwrap(), None);
    assert_eq!(store.withdraw_invite(org.id, withdrawn.id, t(22)).await, Err(StoreError::NotFound));
    assert_eq!(store.withdraw_invite(org.id, admin.id, t(22)).await, Err(StoreError::NotFound));
    assert_eq!(store.membership(org.id, bob.id).await.unwrap(), None);

    assert_eq!(store.open_invites(org.id, t(30)).await.unwrap(), vec![raise.clone(), member.clone()], "newest first");
    assert_eq!(store.open_invites(other.id, t(30)).await.unwrap(), vec![]);

    // A lower role does not demote Ann, but its approver group is added; a higher one raises Bob.
    let kept = Membership { org_id: org.id, account_id: ann.id, role: Role::Admin, approver: ApproverLevels::BOTH, created_at: t(10) };
    assert_eq!(store.accept_invite(&member.digest, ann.id, t(31)).await.unwrap(), Some(kept));
    store
        .put_membership(&Membership { org_id: org.id, account_id: bob.id, role: Role::Member, approver: LEVEL1, created_at: t(32) })
        .await
        .unwrap();
    let raised = Membership { org_id: org.id, account_id: bob.id, role: Role::Admin, approver: ApproverLevels::BOTH, created_at: t(32) };
    assert_eq!(store.accept_invite(&raise.digest, bob.id, t(33)).await.unwrap(), Some(raised.clone()));
    assert_eq!(store.membership(org.id, bob.id).await.unwrap(), Some(raised));
    assert_eq!(store.open_invites(org.id, t(34)).await.unwrap(), vec![]);
}

/// Failed sign-ins count per subject from a time on, and old ones are forgotten.
pub async fn sign_in_failures_are_counted_in_their_window(store: Arc<dyn Store>) {
    let subjects = |names: &[&str]| names.iter().map(|name| (*name).to_owned()).collect::<Vec<_>>();
    store.record_sign_in_failure(&subjects(&["a@example.com", "10.0.0.1"]), t(0), t(-900)).await.unwrap();
    store.record_sign_in_failure(&subjects(&["a@example.com", "10.0.0.2"]), t(10), t(-890)).await.unwrap();
    store.record_sign_in_failure(&subjects(&["b@example.com", "10.0.0.1"]), t(20), t(-880)).await.unwrap();
    assert_eq!(store.sign_in_failures("a@example.com", t(0)).await.unwrap(), 2, "counted from `since` on, inclusive");
    assert_eq!(store.sign_in_failures("a@example.com", t(1)).await.unwrap(), 1);
    assert_eq!(store.sign_in_failures("10.0.0.1", t(0)).await.unwrap(), 2);
    assert_eq!(store.sign_in_failures("c@example.com", t(0)).await.unwrap(), 0);

    // Recording a failure forgets those before `forget_before`, whoever they were against.
    store.record_sign_in_failure(&subjects(&["c@example.com"]), t(1000), t(10)).await.unwrap();
    let counts = [("a@example.com", 1), ("10.0.0.1", 1), ("10.0.0.2", 1), ("b@example.com", 1), ("c@example.com", 1)];
    for (subject, count) in counts {
        assert_eq!(store.sign_in_failures(subject, t(-1000)).await.unwrap(), count, "{subject}");
    }
}
