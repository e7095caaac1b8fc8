//! An account's end: the operator disabling it (it cannot sign in; `enable` undoes it), and its
//! deletion, by its owner from the account page or by the operator.
//!
//! Deleting an account, in this order (each step durable before the next, and the whole is
//! idempotent, so an interrupted deletion is finished by running it again):
//! 1. refuse if it would strand other people: the instance operator's account, an org it pays
//!    for that has other members, or an org it is the last owner of while others remain;
//! 2. disable it: every session ends and no new one can start;
//! 3. revoke every key of every org it pays for (each revocation an activity entry, announced to
//!    every node like any other revocation);
//! 4. erase its personal data (the store's `erase_account`): the row stays for the ledger, the
//!    purchases and the orgs it paid for, with its email and name replaced.
//!
//! The activity chain is never rewritten: it names dashboard members by account id (see
//! `auth::Caller::actor`), never by name or email, so nothing in it needs erasing and it still
//! verifies.

use oakallow_domain::account::Role;
use oakallow_domain::audit::{ActivityRecord, ActivityType, Actor, ActorKind};
use oakallow_domain::id::{AccountId, KeyId, OrgId};
use oakallow_domain::org::Account;
use serde::Serialize;
use serde_json::json;

use super::sessions::throttle_subject;
use super::{SignedIn, passwords};
use crate::Service;
use crate::bootstrap::normalize_email;
use crate::error::{ServiceError, ServiceResult};

/// Keys read per store call while revoking an org's keys.
const KEY_PAGE: u32 = 500;

/// What deleting an account did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeletedAccount {
    /// The account (its row stays, without personal data).
    pub id: AccountId,
    /// The orgs it paid for, whose keys were revoked.
    pub orgs: Vec<OrgId>,
    /// How many keys were revoked now.
    pub revoked_keys: usize,
}

fn deletion_actor() -> Actor {
    Actor { kind: ActorKind::System, id: "account-deletion".into(), label: "account deletion".into() }
}

fn conflict(message: String) -> ServiceError {
    ServiceError::Conflict { message, details: json!({}) }
}

impl Service {
    /// Deletes the signed-in account after checking its password again.
    pub async fn delete_own_account(&self, who: &SignedIn, password: &str) -> ServiceResult<DeletedAccount> {
        let stored = self.store.password_hash(who.account.id).await?;
        if !passwords::verify(password.to_owned(), stored).await? {
            return Err(ServiceError::invalid("the password is not right"));
        }
        self.delete_account(&who.account).await
    }

    /// The operator's `oakallow admin accounts delete`.
    pub async fn delete_account_by_email(&self, email: &str) -> ServiceResult<DeletedAccount> {
        let account = self.account_with_email(email).await?;
        self.delete_account(&account).await
    }

    /// The operator's `oakallow admin accounts disable`: signed out everywhere, cannot sign in.
    /// Its orgs' keys keep working (disabling is about the person; deleting revokes the keys).
    pub async fn disable_account(&self, email: &str) -> ServiceResult<Account> {
        let account = self.account_with_email(email).await?;
        self.store.disable_account(account.id, self.clock.now()).await?;
        Ok(account)
    }

    /// The operator's `oakallow admin accounts enable`: a disabled account may sign in again.
    pub async fn enable_account(&self, email: &str) -> ServiceResult<Account> {
        let account = self.account_with_email(email).await?;
        self.store.enable_account(account.id).await?;
        Ok(account)
    }

    async fn account_with_email(&self, email: &str) -> ServiceResult<Account> {
        let email = normalize_email(email)?;
        self.store.account_by_email(&email).await?.ok_or(ServiceError::NotFound { what: "account" })
    }

    async fn delete_account(&self, account: &Account) -> ServiceResult<DeletedAccount> {
        let paid_for = self.deletable(account.id).await?;
        let now = self.clock.now();
        self.store.disable_account(account.id, now).await?;
        let mut revoked_keys = 0;
        for &org in &paid_for {
            revoked_keys += self.revoke_every_key(org).await?;
        }
        let forget = ["email", "code-request"].map(|kind| throttle_subject(&format!("{kind}:{}", account.email)));
        self.store.erase_account(account.id, &forget, self.clock.now()).await?;
        tracing::info!(account = %account.id, orgs = paid_for.len(), revoked_keys, "account deleted");
        Ok(DeletedAccount { id: account.id, orgs: paid_for, revoked_keys })
    }

    /// The orgs the account pays for, or why it cannot be deleted now.
    async fn deletable(&self, account: AccountId) -> ServiceResult<Vec<OrgId>> {
        if self.store.operator().await? == Some(account) {
            return Err(conflict("the instance operator's account cannot be deleted".into()));
        }
        let paid_for = self.store.orgs_of_account(account).await?;
        for org in &paid_for {
            if self.store.members(org.id).await?.iter().any(|m| m.account.id != account) {
                return Err(conflict(format!(
                    "this account pays for the org \"{}\", which has other members: remove them first",
                    org.name
                )));
            }
        }
        for place in self.store.memberships_of_account(account).await? {
            if place.membership.role != Role::Owner || paid_for.iter().any(|org| org.id == place.org.id) {
                continue;
            }
            let others = self.store.members(place.org.id).await?.into_iter().filter(|m| m.account.id != account).collect::<Vec<_>>();
            if !others.is_empty() && !others.iter().any(|m| m.membership.role == Role::Owner) {
                return Err(conflict(format!("this account is the last owner of \"{}\": make someone else owner first", place.org.name)));
            }
        }
        Ok(paid_for.into_iter().map(|org| org.id).collect())
    }

    /// Revokes every live key of the org; how many.
    async fn revoke_every_key(&self, org: OrgId) -> ServiceResult<usize> {
        let mut live: Vec<KeyId> = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.list_keys(org, after, KEY_PAGE).await?;
            after = page.last().map(|key| key.id);
            let full = page.len() == KEY_PAGE as usize;
            live.extend(page.into_iter().filter(|key| key.revoked_at.is_none()).map(|key| key.id));
            if !full {
                break;
            }
        }
        for &id in &live {
            let now = self.clock.now();
            let mut record = ActivityRecord::new(org, now, ActivityType::KeyRevoked, deletion_actor());
            record.details = Some(json!({ "key_id": id, "reason": "account deleted" }));
            let key = self.store.revoke_key(org, id, now, record).await?;
            self.keys.revoke(&key);
        }
        Ok(live.len())
    }
}
