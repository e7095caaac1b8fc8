//! Every route of the API, grouped by resource. Each handler parses, calls one service method,
//! and maps the answer; the OpenAPI document is generated from these same definitions.

pub mod activity;
pub mod approvals;
pub mod billing;
pub mod keys;
pub mod manage;
pub mod metrics;
pub mod org;
pub mod policy;
pub mod runtime;
pub mod slack;
pub mod stripe;
pub mod system;
pub mod tokens;
pub mod webhooks;

use serde::Deserialize;

/// `?limit=&cursor=` of list endpoints.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Cursor from the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// As the service's page request.
    pub fn page(self) -> oakallow_service::page::PageRequest {
        oakallow_service::page::PageRequest { limit: self.limit, cursor: self.cursor }
    }
}

/// `?cascade=` of delete endpoints.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// Also remove what references the object (rules; a category's tools lose the category).
    pub cascade: Option<bool>,
}
