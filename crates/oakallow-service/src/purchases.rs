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

use oakallow_domain::id::{AccountId, LedgerId};
use oakallow_domain::stripe::{Package, verify_signature};
use oakallow_store::{NewPurchase, Purchase};
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
    pub created_at: oakallow_domain::Timestamp,
}

impl From<Purchase> for PurchaseView {
    fn from(purchase: Purchase) -> Self {
        let p = purchase.recorded;
        Self {
            id: p.id.to_string(),
            package: p.package,
            price_cents: p.price_cents,
            calls: p.calls,
            amount_microusd: p.amount,
            remaining_microusd: purchase.remaining,
            created_at: p.created_at,
        }
    }
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
        Ok(self.store.purchases(account).await?.into_iter().map(PurchaseView::from).collect())
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
fn purchase_of(stripe: &StripeConfig, event_id: &str, session: Session, now: oakallow_domain::Timestamp) -> Option<NewPurchase> {
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
