//! The billing page: the balance of the account that pays for the org (in dollars and in
//! calls), what is left of the sign-up credit and when it expires, every lot of credit, and the
//! ledger a page at a time. Management only, as in the API: members get the 403 page.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oakallow_service::ServiceError;
use oakallow_service::billing::{BillingView, CreditView, LedgerView};
use oakallow_service::page::PageRequest;
use serde::Deserialize;

use super::text;
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, org_page, render};
use crate::dashboard::web::{Visitor, urlencoding};

/// Ledger rows per page.
const PAGE: u32 = 25;

/// `?cursor=` of the ledger.
#[derive(Debug, Default, Deserialize)]
pub(super) struct LedgerQuery {
    cursor: Option<String>,
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
        Ok::<_, ServiceError>((billing, state.service.ledger(&manager, &page).await?))
    };
    let (billing, ledger) = match loaded.await {
        Ok(loaded) => loaded,
        Err(ServiceError::ForbiddenRole { .. }) => {
            return ErrorPage::forbidden(
                "Billing is for the org's owners and admins: it shows the paying account's balance and every charge. Ask one of them.",
            )
            .into_response();
        }
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
    };
    render(&page, &page.shell)
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
