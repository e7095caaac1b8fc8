//! The billing page: the balance of the account that pays for the org (in dollars and in
//! calls), what is left of the sign-up credit and when it expires, every lot of credit, and the
//! ledger a page at a time. Management only, as in the API: members get the 403 page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use oakallow_service::ServiceError;
use oakallow_service::billing::{BillingView, CreditView, LedgerView};
use oakallow_service::page::PageRequest;
use oakallow_service::purchases::PurchaseView;
use serde::Deserialize;

use super::text;
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, after, org_page, render};
use crate::dashboard::web::{CheckedForm, Visitor, base_url, urlencoding};

/// Ledger rows per page.
const PAGE: u32 = 25;

/// What a member who may not see billing is told.
const OWNERS_ONLY: &str =
    "Billing is for the org's owners and admins: it shows the paying account's balance and every charge. Ask one of them.";

/// `?cursor=` of the ledger, and `?purchase=` on the way back from Stripe's payment page.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LedgerQuery {
    cursor: Option<String>,
    purchase: Option<String>,
}

/// A package as the page offers it.
struct Offer {
    id: String,
    name: String,
    price: String,
    calls: i64,
}

/// A purchase as the page shows it.
struct Bought {
    view: PurchaseView,
    price: String,
    amount: String,
    remaining: String,
    at: String,
    refunded: Option<String>,
}

/// A lot of credit as the page shows it.
struct Lot {
    view: CreditView,
    amount: String,
    remaining: String,
    added: String,
    expires: Option<String>,
}

/// A ledger row as the page shows it.
struct Entry {
    view: LedgerView,
    amount: String,
    at: String,
}

#[derive(Template)]
#[template(path = "ops_billing.html")]
struct BillingPage {
    shell: Shell,
    org_id: String,
    billing: BillingView,
    balance: String,
    price: String,
    free: Option<(String, String)>,
    lots: Vec<Lot>,
    ledger: Vec<Entry>,
    next: Option<String>,
    /// `None` when purchases are off on this server.
    offers: Option<Vec<Offer>>,
    purchases: Vec<Bought>,
    /// What the way back from Stripe's page says.
    returned: Option<&'static str>,
}

/// `GET /orgs/{org}/billing`.
pub(super) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(query): Query<LedgerQuery>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "billing", "Billing", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let loaded = async {
        let manager = member.management()?;
        let billing = state.service.billing(&manager).await?;
        let page = PageRequest { limit: Some(PAGE), cursor: query.cursor.filter(|c| !c.is_empty()) };
        let ledger = state.service.ledger(&manager, &page).await?;
        let purchases = if state.service.packages().is_some() { state.service.purchases(&manager).await? } else { Vec::new() };
        Ok::<_, ServiceError>((billing, ledger, purchases))
    };
    let (billing, ledger, purchases) = match loaded.await {
        Ok(loaded) => loaded,
        Err(ServiceError::ForbiddenRole { .. }) => return ErrorPage::forbidden(OWNERS_ONLY).into_response(),
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let page = BillingPage {
        shell,
        org_id: member.org_id().to_string(),
        balance: text::usd(billing.balance_microusd),
        price: text::usd(billing.price_microusd),
        free: billing.free_credit.as_ref().map(|f| (text::usd(f.remaining_microusd), text::time(f.expires_at))),
        lots: billing.credits.iter().cloned().map(lot).collect(),
        ledger: ledger
            .data
            .into_iter()
            .map(|view| Entry { amount: text::usd(view.amount_microusd), at: text::time(view.created_at), view })
            .collect(),
        next: ledger.next_cursor.map(|cursor| format!("?cursor={}", urlencoding(&cursor))),
        billing,
        offers: state.service.packages().map(|packages| {
            packages
                .iter()
                .map(|p| Offer { id: p.id.clone(), name: p.name.clone(), price: usd_cents(p.price_cents), calls: p.calls })
                .collect()
        }),
        purchases: purchases.into_iter().map(bought).collect(),
        returned: match query.purchase.as_deref() {
            Some("done") => Some("Payment received. The credit appears here as soon as Stripe confirms it; reload in a moment."),
            Some("cancelled") => Some("The purchase was cancelled; nothing was charged."),
            _ => None,
        },
    };
    render(&page, &page.shell)
}

/// `POST /orgs/{org}/billing/checkout` (`package`): sends the buyer to Stripe's payment page for
/// the package; the credit is added when Stripe reports the payment (`POST /webhooks/stripe`).
pub(super) async fn checkout(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let member = match super::form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let started = match member.management() {
        Ok(manager) => state.service.start_checkout(&manager, form.fields.get("package").unwrap_or(""), &base_url(&form.headers)).await,
        Err(error) => Err(error),
    };
    match started {
        Ok(page) => Redirect::to(&page).into_response(),
        Err(ServiceError::ForbiddenRole { .. }) => ErrorPage::forbidden(OWNERS_ONLY).into_response(),
        Err(error) => after(&state, &form.headers, &format!("/orgs/{}/billing", member.org_id()), Err::<(), _>(error), ""),
    }
}

/// `POST /orgs/{org}/billing/purchases/{id}/refund`: refunds an unspent purchase through Stripe.
pub(super) async fn refund(State(state): State<AppState>, Path((org, id)): Path<(String, String)>, form: CheckedForm) -> Response {
    let member = match super::form_member(&state, &form, &org).await {
        Ok(member) => member,
        Err(response) => return response,
    };
    let refunded = match member.management() {
        Ok(manager) => state.service.refund_purchase(&manager, &id).await,
        Err(ServiceError::ForbiddenRole { .. }) => return ErrorPage::forbidden(OWNERS_ONLY).into_response(),
        Err(error) => Err(error),
    };
    let done = match &refunded {
        Ok(view) => format!("Refunded: Stripe returns {} to the card that paid.", usd_cents(view.price_cents)),
        Err(_) => String::new(),
    };
    after(&state, &form.headers, &format!("/orgs/{}/billing", member.org_id()), refunded, &done)
}

/// US cents as the page shows dollars.
fn usd_cents(cents: i64) -> String {
    text::usd(cents.saturating_mul(10_000))
}

fn bought(view: PurchaseView) -> Bought {
    Bought {
        price: usd_cents(view.price_cents),
        amount: text::usd(view.amount_microusd),
        remaining: text::usd(view.remaining_microusd),
        at: text::time(view.created_at),
        refunded: view.refunded_at.map(text::time),
        view,
    }
}

fn lot(view: CreditView) -> Lot {
    Lot {
        amount: text::usd(view.amount_microusd),
        remaining: text::usd(view.remaining_microusd),
        added: text::time(view.created_at),
        expires: view.expires_at.map(text::time),
        view,
    }
}
