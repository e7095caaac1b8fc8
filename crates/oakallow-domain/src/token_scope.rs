//! What an execution token covers: exactly the call it was minted for (tool, tenant, resource,
//! method and params). A call is compared with the token's claims dimension by dimension; a
//! dimension the call has and the token does not (or the other way round) is a mismatch, so a
//! token minted without a tenant never covers a call for a tenant.

use serde::{Deserialize, Serialize};

use crate::token::Claims;

/// The call a token is checked against. `None` leaves a dimension unchecked (`verify` compares
/// only what it is given); `Some(None)` says the call has no value there, so the token must not
/// have one either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallScope<'a> {
    /// The tool about to run.
    pub tool: Option<&'a str>,
    /// Its tenant's external id, or none.
    pub tenant: Option<Option<&'a str>>,
    /// Its resource, or none.
    pub resource: Option<Option<&'a str>>,
    /// Its method, or none.
    pub method: Option<Option<&'a str>>,
    /// Hex SHA-256 of the canonical params (`{}` when there are none).
    pub params_sha256: Option<&'a str>,
}

/// The first dimension in which a call differs from what a token covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeMismatch {
    /// Another tool.
    Tool,
    /// Another tenant, or a tenant where the token has none (or none where it has one).
    Tenant,
    /// Another resource, or one present on one side only.
    Resource,
    /// Another method, or one present on one side only.
    Method,
    /// Other params.
    Params,
}

impl Claims {
    /// The first dimension, in the order tool, tenant, resource, method, params, in which
    /// `call` is not what this token was minted for; `None` when the token covers it.
    pub fn scope_mismatch(&self, call: &CallScope<'_>) -> Option<ScopeMismatch> {
        let differs = |given: Option<Option<&str>>, claimed: &Option<String>| given.is_some_and(|given| given != claimed.as_deref());
        if call.tool.is_some_and(|tool| tool != self.tool) {
            Some(ScopeMismatch::Tool)
        } else if differs(call.tenant, &self.tenant) {
            Some(ScopeMismatch::Tenant)
        } else if differs(call.resource, &self.resource) {
            Some(ScopeMismatch::Resource)
        } else if differs(call.method, &self.method) {
            Some(ScopeMismatch::Method)
        } else if call.params_sha256.is_some_and(|hash| hash != self.params_sha256) {
            Some(ScopeMismatch::Params)
        } else {
            None
        }
    }
}

/// Why a token is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    /// Not a token.
    Malformed,
    /// The signature does not match.
    BadSignature,
    /// Past its expiry.
    Expired,
    /// Accepted before.
    Used,
    /// Issued for another tool.
    ToolMismatch,
    /// Issued for another tenant, or with a tenant where the call has none (or the reverse).
    TenantMismatch,
    /// Issued for another resource, or with a resource on one side only.
    ResourceMismatch,
    /// Issued for another method, or with a method on one side only.
    MethodMismatch,
    /// Issued for other params.
    ParamsMismatch,
    /// Issued to another org.
    WrongOrg,
}

impl From<ScopeMismatch> for Rejection {
    fn from(mismatch: ScopeMismatch) -> Self {
        match mismatch {
            ScopeMismatch::Tool => Self::ToolMismatch,
            ScopeMismatch::Tenant => Self::TenantMismatch,
            ScopeMismatch::Resource => Self::ResourceMismatch,
            ScopeMismatch::Method => Self::MethodMismatch,
            ScopeMismatch::Params => Self::ParamsMismatch,
        }
    }
}

impl Rejection {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::Used => "used",
            Self::ToolMismatch => "tool_mismatch",
            Self::TenantMismatch => "tenant_mismatch",
            Self::ResourceMismatch => "resource_mismatch",
            Self::MethodMismatch => "method_mismatch",
            Self::ParamsMismatch => "params_mismatch",
            Self::WrongOrg => "wrong_org",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Algorithm;

    fn claims(tenant: Option<&str>) -> Claims {
        Claims {
            v: 1,
            alg: Algorithm::HmacSha256,
            kid: "k".into(),
            jti: "j".into(),
            org: "org_x".into(),
            tool: "refund".into(),
            tenant: tenant.map(Into::into),
            resource: Some("ledger".into()),
            method: None,
            params_sha256: "ab".into(),
            src: "chk_x".into(),
            iat: 0,
            exp: 1,
        }
    }

    #[test]
    fn every_dimension_is_compared_exactly() {
        let token = claims(Some("acme"));
        let exact = CallScope {
            tool: Some("refund"),
            tenant: Some(Some("acme")),
            resource: Some(Some("ledger")),
            method: Some(None),
            params_sha256: Some("ab"),
        };
        assert_eq!(token.scope_mismatch(&exact), None);
        assert_eq!(token.scope_mismatch(&CallScope::default()), None, "nothing given, nothing compared");
        let cases = [
            (CallScope { tool: Some("refunds"), ..exact }, ScopeMismatch::Tool),
            (CallScope { tenant: Some(Some("globex")), ..exact }, ScopeMismatch::Tenant),
            (CallScope { tenant: Some(None), ..exact }, ScopeMismatch::Tenant),
            (CallScope { tenant: Some(Some("ACME")), ..exact }, ScopeMismatch::Tenant),
            (CallScope { resource: Some(None), ..exact }, ScopeMismatch::Resource),
            (CallScope { method: Some(Some("POST")), ..exact }, ScopeMismatch::Method),
            (CallScope { params_sha256: Some("cd"), ..exact }, ScopeMismatch::Params),
        ];
        for (call, expected) in cases {
            assert_eq!(token.scope_mismatch(&call), Some(expected), "{call:?}");
        }
    }

    #[test]
    fn a_token_without_a_tenant_covers_only_calls_without_one() {
        let token = claims(None);
        assert_eq!(token.scope_mismatch(&CallScope { tenant: Some(None), ..CallScope::default() }), None);
        assert_eq!(token.scope_mismatch(&CallScope { tenant: Some(Some("acme")), ..CallScope::default() }), Some(ScopeMismatch::Tenant));
    }
}
