//! `/v1/billing`: the account's prepaid credit and its ledger.

use axum::Json;
use axum::extract::State;
use oakallow_service::billing::{BillingView, LedgerView};
use oakallow_service::page::Page;

use super::ListQuery;
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{ManagementKey, QueryParams};

/// The balance of the account that owns the org, and its credit.
#[utoipa::path(get, path = "/v1/billing", operation_id = "get_billing", tag = "billing", security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = BillingView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn get(State(app): State<AppState>, ManagementKey(caller): ManagementKey) -> ApiResult<Json<BillingView>> {
    Ok(Json(app.service.billing(&caller).await?))
}

/// Every credit and debit of the account, newest first.
#[utoipa::path(get, path = "/v1/billing/ledger", operation_id = "list_ledger", tag = "billing", params(ListQuery), security(("api_key" = ["management"]), ("bearer" = ["management"])),
    responses((status = 200, body = Page<LedgerView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn ledger(
    State(app): State<AppState>,
    ManagementKey(caller): ManagementKey,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Json<Page<LedgerView>>> {
    Ok(Json(app.service.ledger(&caller, &query.page()).await?))
}
