//! Buying credit through Stripe Checkout: the packages on sale, a Checkout Session for one of
//! them (the dashboard sends the buyer to Stripe's page), the paid session's event at
//! `POST /webhooks/stripe` (signature checked, credited once per event and per session, in the
//! transaction that records it), and the account's purchases.
//!
//! Stripe is reached at the configured API base only when a buyer starts a checkout; the event
//! carries everything crediting needs. What an event says is trusted only once its signature
//! verifies, and even then only as far as it matches a package on sale here: a paid session
//! whose package, amount or currency does not match is logged and credits nothing.

use std::sync::OnceLock;
use std::time::Duration;

use oakallow_domain::Timestamp;
use oakallow_domain::id::{AccountId, LedgerId};
use oakallow_domain::stripe::{Package, REFUND_DAYS, verify_signature};
use oakallow_store::{NewPurchase, Purchase, Refund, RefundReservation};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Service;
use crate::auth::Management;
use crate::config::StripeConfig;
use crate::error::{ServiceError, ServiceResult};

/// How long a call to Stripe's API may take.
const STRIPE_TIMEOUT: Duration = Duration::from_secs(15);

/// A purchase as the billing page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PurchaseView {
    /// Its id (also its credit's and ledger row's).
    pub id: String,
    /// The package's id.
    pub package: String,
    /// What was paid, in US cents.
    pub price_cents: i64,
    /// Calls bought.
    pub calls: i64,
    /// Credit added, in micro-dollars.
    pub amount_microusd: i64,
    /// Credit not yet spent, in micro-dollars.
    pub remaining_microusd: i64,
    /// When it was credited.
    pub created_at: Timestamp,
    /// Its refund, once started: `pending` (credit taken back, Stripe not yet confirmed) or
    /// `refunded`.
    pub refund: Option<&'static str>,
    /// When Stripe confirmed its refund.
    pub refunded_at: Option<Timestamp>,
    /// Why it cannot be refunded now (`spent`, `too_old`), or `None` if it can (or its refund
    /// was started).
    pub not_refundable: Option<&'static str>,
}

impl PurchaseView {
    fn new(purchase: Purchase, now: Timestamp) -> Self {
        let not_refundable = match purchase.refund_blocker(refund_window_start(now)) {
            Some(RefundReservation::Spent) => Some("spent"),
            Some(RefundReservation::TooOld) => Some("too_old"),
            _ => None,
        };
        let (refund, refunded_at) = match &purchase.refund {
            None => (None, None),
            Some(Refund::Pending) => (Some("pending"), None),
            Some(Refund::Done { at, .. }) => (Some("refunded"), Some(*at)),
        };
        let p = purchase.recorded;
        Self {
            id: p.id.to_string(),
            package: p.package,
            price_cents: p.price_cents,
            calls: p.calls,
            amount_microusd: p.amount,
            remaining_microusd: purchase.remaining,
            created_at: p.created_at,
            refund,
            refunded_at,
            not_refundable,
        }
    }
}

/// The earliest purchase that can still be refunded at `now`.
fn refund_window_start(now: Timestamp) -> Timestamp {
    now.plus_seconds(-REFUND_DAYS * 86_400)
}

/// What became of a Stripe event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StripeOutcome {
    /// A paid checkout: its credit was added now.
    Credited,
    /// A paid checkout recorded before (a replay, or another event about the same session).
    AlreadyCredited,
    /// Nothing to do: another event type, an unpaid session, or one that matches no package.
    Ignored,
}

/// The part of a Stripe event oakallow reads.
#[derive(Debug, Deserialize)]
struct Event {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    data: EventData,
}

#[derive(Debug, Deserialize)]
struct EventData {
    object: Value,
}

/// The part of a Checkout Session oakallow reads.
#[derive(Debug, Deserialize)]
struct Session {
    id: String,
    payment_status: Option<String>,
    amount_total: Option<i64>,
    currency: Option<String>,
    payment_intent: Option<String>,
    client_reference_id: Option<String>,
    #[serde(default)]
    metadata: std::collections::HashMap<String, String>,
}

/// One HTTP client for Stripe's API, made on first use.
fn client() -> ServiceResult<&'static reqwest::Client> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let built = reqwest::Client::builder().timeout(STRIPE_TIMEOUT).build().map_err(|error| {
        tracing::error!(%error, "cannot build the HTTP client for Stripe");
        ServiceError::Unavailable
    })?;
    Ok(CLIENT.get_or_init(|| built))
}

impl Service {
    /// The packages on sale, or `None` when purchases are off (Stripe is not configured).
    pub fn packages(&self) -> Option<&[Package]> {
        self.config.stripe.as_ref().map(|stripe| stripe.packages.as_slice())
    }

    fn stripe(&self) -> ServiceResult<&StripeConfig> {
        self.config.stripe.as_ref().ok_or(ServiceError::NotFound { what: "purchases (Stripe is not configured on this server)" })
    }

    /// Starts buying `package` for the account that pays for the caller's org: creates a Stripe
    /// Checkout Session and answers the URL of its payment page. `origin` is the dashboard's
    /// own `scheme://host`, where Stripe sends the buyer back.
    pub async fn start_checkout(&self, caller: &Management, package: &str, origin: &str) -> ServiceResult<String> {
        let stripe = self.stripe()?;
        let package = stripe.packages.iter().find(|p| p.id == package).ok_or_else(|| ServiceError::invalid("no such package"))?;
        let org = caller.org_id();
        let account = self.org_runtime(org).await?.org.account_id.to_string();
        let billing = format!("{}/orgs/{org}/billing", origin.trim_end_matches('/'));
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("mode", "payment")
            .append_pair("line_items[0][quantity]", "1")
            .append_pair("line_items[0][price_data][currency]", "usd")
            .append_pair("line_items[0][price_data][unit_amount]", &package.price_cents.to_string())
            .append_pair("line_items[0][price_data][product_data][name]", &format!("oakallow {}: {} calls", package.name, package.calls))
            .append_pair("client_reference_id", &account)
            .append_pair("metadata[account_id]", &account)
            .append_pair("metadata[org_id]", &org.to_string())
            .append_pair("metadata[package]", &package.id)
            .append_pair("success_url", &format!("{billing}?purchase=done"))
            .append_pair("cancel_url", &format!("{billing}?purchase=cancelled"))
            .finish();
        let url = format!("{}/v1/checkout/sessions", stripe.api_base.trim_end_matches('/'));
        let response = client()?
            .post(url)
            .bearer_auth(&stripe.secret_key)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .map_err(|error| {
                // reqwest's error names the URL, never the key.
                tracing::warn!(error = %error.without_url(), "cannot reach Stripe to start a checkout");
                ServiceError::Unavailable
            })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let page = answer.get("url").and_then(Value::as_str).filter(|page| status.is_success() && payment_page(page, &stripe.api_base));
        match page {
            Some(page) => Ok(page.to_owned()),
            None => {
                let message = answer.pointer("/error/message").and_then(Value::as_str).unwrap_or("no checkout URL in the answer");
                tracing::warn!(%status, stripe_error = message, "Stripe refused to start a checkout");
                Err(ServiceError::Unavailable)
            }
        }
    }

    /// The purchases of the account that pays for the caller's org, newest first.
    pub async fn purchases(&self, caller: &Management) -> ServiceResult<Vec<PurchaseView>> {
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        let now = self.clock.now();
        Ok(self.store.purchases(account).await?.into_iter().map(|purchase| PurchaseView::new(purchase, now)).collect())
    }

    /// Refunds a purchase of the account that pays for the caller's org through Stripe's refund
    /// API: only a purchase none of whose credit was spent, within [`REFUND_DAYS`] days. The
    /// credit is taken back first (so it cannot be spent meanwhile); if Stripe refuses, it is
    /// given back; if Stripe cannot be reached, the refund stays pending and asking again
    /// retries it with the same idempotency key, so Stripe refunds at most once.
    pub async fn refund_purchase(&self, caller: &Management, purchase: &str) -> ServiceResult<PurchaseView> {
        let stripe = self.stripe()?;
        let not_found = || ServiceError::NotFound { what: "purchase" };
        let id = LedgerId::parse(purchase).ok_or_else(not_found)?;
        let account = self.org_runtime(caller.org_id()).await?.org.account_id;
        let now = self.clock.now();
        let reserved = match self.store.reserve_refund(account, id, LedgerId::generate(), refund_window_start(now), now).await {
            Err(oakallow_store::StoreError::NotFound) => return Err(not_found()),
            other => other?,
        };
        let purchase = match reserved {
            RefundReservation::Reserved(purchase) | RefundReservation::Pending(purchase) => purchase,
            RefundReservation::Refunded => return Err(conflict("this purchase was refunded already")),
            RefundReservation::Spent => return Err(conflict("only an unspent purchase can be refunded: some of its credit has been used")),
            RefundReservation::TooOld => return Err(conflict(&format!("a purchase can be refunded within {REFUND_DAYS} days"))),
        };
        let Some(payment_intent) = purchase.recorded.stripe_payment_intent.clone() else {
            self.store.cancel_refund(id, LedgerId::generate(), now).await?;
            return Err(conflict("Stripe reported no payment for this purchase, so it cannot be refunded here"));
        };
        match ask_stripe_to_refund(stripe, id, &payment_intent).await {
            StripeRefund::Done(refund_id) => self.store.complete_refund(id, &refund_id, self.clock.now()).await?,
            StripeRefund::Refused(message) => {
                self.store.cancel_refund(id, LedgerId::generate(), self.clock.now()).await?;
                return Err(conflict(&format!("Stripe refused the refund ({message}); the credit is back")));
            }
            StripeRefund::Unreachable => return Err(ServiceError::Unavailable),
        }
        let refunded = self.store.purchases(account).await?.into_iter().find(|p| p.recorded.id == id).ok_or_else(not_found)?;
        Ok(PurchaseView::new(refunded, self.clock.now()))
    }

    /// `POST /webhooks/stripe`: checks the `Stripe-Signature` of `body` and, for a paid
    /// checkout of a package on sale, credits the account once.
    pub async fn stripe_event(&self, signature: Option<&str>, body: &[u8]) -> ServiceResult<StripeOutcome> {
        let stripe = self.stripe()?;
        let signature = signature.ok_or_else(|| ServiceError::invalid("the Stripe-Signature header is missing"))?;
        verify_signature(signature, body, &stripe.webhook_secret, self.clock.now())
            .map_err(|error| ServiceError::invalid(error.to_string()))?;
        let event: Event = serde_json::from_slice(body).map_err(|_| ServiceError::invalid("the body is not a Stripe event"))?;
        if !matches!(event.kind.as_str(), "checkout.session.completed" | "checkout.session.async_payment_succeeded") {
            return Ok(StripeOutcome::Ignored);
        }
        let Ok(session) = serde_json::from_value::<Session>(event.data.object) else {
            tracing::warn!(event = %event.id, "a Stripe checkout event without a readable session; nothing credited");
            return Ok(StripeOutcome::Ignored);
        };
        if session.payment_status.as_deref() != Some("paid") {
            return Ok(StripeOutcome::Ignored);
        }
        let Some(purchase) = purchase_of(stripe, &event.id, session, self.clock.now()) else {
            tracing::warn!(event = %event.id, "a paid Stripe checkout matches no package on sale here; nothing credited");
            return Ok(StripeOutcome::Ignored);
        };
        match self.store.record_purchase(&purchase).await {
            Ok(true) => Ok(StripeOutcome::Credited),
            Ok(false) => Ok(StripeOutcome::AlreadyCredited),
            Err(oakallow_store::StoreError::NotFound) => {
                tracing::warn!(event = %event.id, "a paid Stripe checkout names no account here; nothing credited");
                Ok(StripeOutcome::Ignored)
            }
            Err(error) => Err(error.into()),
        }
    }
}

/// Whether a checkout URL is one to send a buyer to: Stripe's payment pages are on HTTPS; plain
/// HTTP only when the API itself is (a test server on loopback).
fn payment_page(page: &str, api_base: &str) -> bool {
    page.starts_with("https://") || (api_base.starts_with("http://") && page.starts_with("http://"))
}

/// The purchase a paid session records, if it is one of ours: a package on sale, paid in US
/// dollars at its price, for an account named the same way in both places oakallow put it.
fn purchase_of(stripe: &StripeConfig, event_id: &str, session: Session, now: Timestamp) -> Option<NewPurchase> {
    let package = stripe.packages.iter().find(|p| session.metadata.get("package") == Some(&p.id))?;
    let account: AccountId = session.metadata.get("account_id")?.parse().ok()?;
    if session.client_reference_id.as_deref().is_some_and(|reference| reference != account.to_string()) {
        return None;
    }
    if session.currency.as_deref() != Some("usd") || session.amount_total != Some(package.price_cents) {
        return None;
    }
    Some(NewPurchase {
        id: LedgerId::generate(),
        account_id: account,
        package: package.id.clone(),
        price_cents: package.price_cents,
        calls: package.calls,
        amount: package.credit_microusd(),
        stripe_event_id: event_id.to_owned(),
        stripe_session_id: session.id,
        stripe_payment_intent: session.payment_intent,
        created_at: now,
    })
}

fn conflict(message: &str) -> ServiceError {
    ServiceError::Conflict { message: message.to_owned(), details: serde_json::json!({}) }
}

/// What Stripe's refund API answered.
enum StripeRefund {
    /// Refunded (or being paid out): Stripe's refund id.
    Done(String),
    /// Refused for good, with Stripe's message.
    Refused(String),
    /// No answer, or a server error: the refund stays pending, to be asked again.
    Unreachable,
}

/// `POST /v1/refunds` for the whole payment, with an idempotency key per purchase.
async fn ask_stripe_to_refund(stripe: &StripeConfig, purchase: LedgerId, payment_intent: &str) -> StripeRefund {
    let Ok(client) = client() else { return StripeRefund::Unreachable };
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payment_intent", payment_intent)
        .append_pair("reason", "requested_by_customer")
        .append_pair("metadata[purchase_id]", &purchase.to_string())
        .finish();
    let sent = client
        .post(format!("{}/v1/refunds", stripe.api_base.trim_end_matches('/')))
        .bearer_auth(&stripe.secret_key)
        .header("Idempotency-Key", format!("oakallow-refund-{purchase}"))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await;
    let response = match sent {
        Ok(response) => response,
        Err(error) => {
            tracing::warn!(error = %error.without_url(), %purchase, "cannot reach Stripe to refund a purchase; the refund stays pending");
            return StripeRefund::Unreachable;
        }
    };
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let refund_status = answer.get("status").and_then(Value::as_str);
    match answer.get("id").and_then(Value::as_str) {
        Some(id) if status.is_success() && !matches!(refund_status, Some("failed" | "canceled")) => StripeRefund::Done(id.to_owned()),
        _ if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS => {
            tracing::warn!(%status, %purchase, "Stripe could not refund a purchase now; the refund stays pending");
            StripeRefund::Unreachable
        }
        _ if answer.pointer("/error/code").and_then(Value::as_str) == Some("charge_already_refunded") => {
            StripeRefund::Done("charge_already_refunded".to_owned())
        }
        _ => {
            let message = answer.pointer("/error/message").and_then(Value::as_str).or(refund_status).unwrap_or("no refund in the answer");
            tracing::warn!(%status, %purchase, stripe_error = message, "Stripe refused to refund a purchase; its credit is given back");
            StripeRefund::Refused(message.chars().take(200).collect())
        }
    }
}
