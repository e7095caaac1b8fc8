//! The operator's `oakallow admin bootstrap`: an account and org (created if missing) and a
//! fresh management, standard and approver key.

use oakallow_domain::audit::{Actor, ActorKind};
use oakallow_domain::id::{AccountId, OrgId};
use oakallow_domain::keys::KeyTier;
use oakallow_domain::org::{Account, Org};
use oakallow_domain::policy::check_name;
use serde::Serialize;

use crate::Service;
use crate::billing::free_credit;
use crate::error::{ServiceError, ServiceResult};
use crate::keys::{key_created, mint_key};

/// What bootstrap prints: the ids and the three raw keys (shown only here).
#[derive(Debug, Clone, Serialize)]
pub struct Bootstrapped {
    /// The account.
    pub account_id: AccountId,
    /// The org.
    pub org_id: OrgId,
    /// A new management key.
    pub management_key: String,
    /// A new standard key.
    pub standard_key: String,
    /// A new approver key.
    pub approver_key: String,
}

/// Lower-cased email, if it looks like one.
pub fn normalize_email(email: &str) -> ServiceResult<String> {
    let email = email.trim().to_lowercase();
    let plausible = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.') && !domain.starts_with('.'))
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible { Ok(email) } else { Err(ServiceError::invalid("email is not a valid address")) }
}

fn operator() -> Actor {
    Actor { kind: ActorKind::System, id: "cli".into(), label: "oakallow admin bootstrap".into() }
}

impl Service {
    /// Finds or creates the account and its org named `org_name`, then adds one key of each tier.
    pub async fn bootstrap(&self, email: &str, org_name: &str) -> ServiceResult<Bootstrapped> {
        let email = normalize_email(email)?;
        check_name("org name", org_name)?;
        let now = self.clock.now();
        let account = match self.store.account_by_email(&email).await? {
            Some(account) => account,
            None => {
                // Named by its email until its owner signs in and picks a name.
                let account = Account { id: AccountId::generate(), name: email.clone(), email, created_at: now };
                self.store.create_account(&account, None, Some(&free_credit(now))).await?;
                // The instance's first account is its operator, however it was made.
                self.store.claim_operator(account.id).await?;
                account
            }
        };
        let existing = self.store.orgs_of_account(account.id).await?.into_iter().find(|o| o.name == org_name);
        let org = match existing {
            Some(org) => org,
            None => {
                let org = Org::new(account.id, org_name.to_owned(), now);
                self.store.create_org(&org, &[], Vec::new()).await?;
                org
            }
        };
        let mut raw_keys = Vec::new();
        for (tier, name) in [
            (KeyTier::Management, "bootstrap management"),
            (KeyTier::Standard, "bootstrap standard"),
            (KeyTier::Approver, "bootstrap approver"),
        ] {
            let (new, raw) = mint_key(org.id, name.into(), tier, now)?;
            self.store.create_key(&new, key_created(operator(), &new.key)).await?;
            raw_keys.push(raw.expose().to_owned());
        }
        let [management_key, standard_key, approver_key] = <[String; 3]>::try_from(raw_keys).map_err(|_| ServiceError::Internal)?;
        Ok(Bootstrapped { account_id: account.id, org_id: org.id, management_key, standard_key, approver_key })
    }
}
