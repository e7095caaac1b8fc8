//! Records of prepaid credit and of change propagation between nodes.

use std::sync::Arc;

use oakallow_domain::Timestamp;
use oakallow_domain::billing::{CreditKind, LedgerKind};
use oakallow_domain::id::{AccountId, ApprovalId, KeyId, LedgerId, OrgId};

use crate::RuntimeWrite;

/// Who pays for a billable write, and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charge {
    /// The paying account.
    pub account_id: AccountId,
    /// The org the call was made in.
    pub org_id: OrgId,
    /// Price of the call; 0 when billing is off (the call is only counted).
    pub price: i64,
}

/// One write of a group commit and, for a billable call, who pays.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// The write.
    pub write: RuntimeWrite,
    /// The charge, for billable calls.
    pub charge: Option<Charge>,
}

/// What became of one write of a group commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Written (and, if charged, paid for).
    Applied,
    /// A conditional write that did not apply (see [`RuntimeWrite`]).
    NotApplied,
    /// The account cannot pay for it: nothing was written.
    InsufficientCredits,
}

/// Credit to add to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCredit {
    /// The ledger row's id (also the lot's id).
    pub id: LedgerId,
    /// Where it comes from.
    pub kind: CreditKind,
    /// Micro-dollars, positive.
    pub amount: i64,
    /// When what is left of it expires.
    pub expires_at: Option<Timestamp>,
    /// A note for the ledger.
    pub note: Option<String>,
    /// When it is added.
    pub created_at: Timestamp,
}

/// A paid Stripe Checkout to record, with the credit it buys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPurchase {
    /// The purchase's id, which is also its credit lot's and ledger row's.
    pub id: LedgerId,
    /// The paying account.
    pub account_id: AccountId,
    /// The package bought (`starter`).
    pub package: String,
    /// What was paid, in US cents.
    pub price_cents: i64,
    /// Billable calls bought.
    pub calls: i64,
    /// The credit added, in micro-dollars.
    pub amount: i64,
    /// The Stripe event that reported it (`evt_…`): credited once.
    pub stripe_event_id: String,
    /// The Checkout Session (`cs_…`): credited once, whatever event reports it.
    pub stripe_session_id: String,
    /// The PaymentIntent (`pi_…`), which a refund names.
    pub stripe_payment_intent: Option<String>,
    /// When it was recorded.
    pub created_at: Timestamp,
}

impl NewPurchase {
    /// The credit it adds: a `purchase` lot and ledger row with the purchase's id, never expiring.
    pub fn credit(&self) -> NewCredit {
        NewCredit {
            id: self.id,
            kind: CreditKind::Purchase,
            amount: self.amount,
            expires_at: None,
            note: Some(format!("{} package, {} calls (Stripe)", self.package, self.calls)),
            created_at: self.created_at,
        }
    }
}

/// A recorded purchase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// What was recorded.
    pub recorded: NewPurchase,
    /// What is left of its credit, in micro-dollars.
    pub remaining: i64,
    /// Its refund, once one was started.
    pub refund: Option<Refund>,
}

impl Purchase {
    /// Why a refund cannot start now, as [`crate::Store::reserve_refund`] answers it; `None` when
    /// it can: none of its credit is spent, it was bought at or after `bought_after`, and no
    /// refund was started.
    pub fn refund_blocker(&self, bought_after: Timestamp) -> Option<RefundReservation> {
        match &self.refund {
            Some(Refund::Pending) => Some(RefundReservation::Pending(self.clone())),
            Some(Refund::Done { .. }) => Some(RefundReservation::Refunded),
            None if self.remaining != self.recorded.amount => Some(RefundReservation::Spent),
            None if self.recorded.created_at < bought_after => Some(RefundReservation::TooOld),
            None => None,
        }
    }

    /// The `refund` ledger row that takes its credit back (`sign` -1) or gives it back (+1).
    pub fn refund_row(&self, id: LedgerId, sign: i64, now: Timestamp) -> LedgerRow {
        let note = if sign < 0 { "refund of a purchase" } else { "refund refused by Stripe: credit given back" };
        LedgerRow {
            id,
            account_id: self.recorded.account_id,
            org_id: None,
            kind: LedgerKind::Refund,
            amount: sign * self.recorded.amount,
            calls: 0,
            note: Some(format!("{note} ({} package)", self.recorded.package)),
            created_at: now,
        }
    }
}

/// Where a purchase's refund stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refund {
    /// Its credit is taken back; Stripe has not confirmed the refund yet.
    Pending,
    /// Stripe refunded it.
    Done {
        /// Stripe's refund (`re_…`).
        stripe_refund_id: String,
        /// When Stripe confirmed it.
        at: Timestamp,
    },
}

/// What [`crate::Store::reserve_refund`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundReservation {
    /// Its credit, all unspent, is taken back now (a `refund` ledger row); ask Stripe.
    Reserved(Purchase),
    /// A refund was started before and not confirmed: ask Stripe again (same idempotency key).
    Pending(Purchase),
    /// Refunded already.
    Refunded,
    /// Some of its credit was spent: it cannot be refunded.
    Spent,
    /// Bought before the refund window.
    TooOld,
}

/// A row of an account's ledger. The sum of an account's rows is its balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// Its id.
    pub id: LedgerId,
    /// Account.
    pub account_id: AccountId,
    /// The org of a debit or usage row.
    pub org_id: Option<OrgId>,
    /// What it records.
    pub kind: LedgerKind,
    /// Micro-dollars; negative for debits, expiries and negative adjustments.
    pub amount: i64,
    /// Billable calls covered (debit and usage rows).
    pub calls: u64,
    /// A note.
    pub note: Option<String>,
    /// When.
    pub created_at: Timestamp,
}

/// An account's credit right now (expired free credit already written off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditState {
    /// Micro-dollars left.
    pub balance: i64,
    /// Every lot of credit, in spending order.
    pub lots: Vec<oakallow_domain::billing::CreditLot>,
}

/// A change another node may have made, announced through the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An org's policy is at this version.
    Policy(OrgId, u64),
    /// An org's settings changed.
    Org(OrgId),
    /// A key was revoked.
    KeyRevoked(KeyId),
    /// An approval changed (long-polls should look again).
    Approval(ApprovalId),
    /// New webhook deliveries are waiting.
    Webhooks,
    /// Announcements may have been missed: check everything cached.
    Resync,
}

/// Receives the changes a store hears about.
pub type ChangeSink = Arc<dyn Fn(Change) + Send + Sync>;

/// An org's versions, to tell whether a cached copy is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrgVersion {
    /// Org.
    pub org_id: OrgId,
    /// Policy version.
    pub policy_version: u64,
    /// Settings' last change.
    pub updated_at: Timestamp,
}
