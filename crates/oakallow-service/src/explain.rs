//! "Which rule wins": the resolver's answer for a call, with every rule that matches it, for
//! people checking their policy. Reads the same in-memory policy as `POST /v1/check` does, but
//! writes nothing: no check id, no audit entry, no charge.

use oakallow_domain::permission::{Permission, ResolvedFrom};
use oakallow_domain::policy::{CheckInput, matching_rules};

use crate::Service;
use crate::auth::Reader;
use crate::error::ServiceResult;
use crate::manage::{ManagedKind, RuleView, Rules};

/// A call to explain, by names as the agent would send them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExplainRequest {
    /// Tool name.
    pub tool: String,
    /// Tenant `external_id`, if any.
    pub tenant: Option<String>,
    /// Resource name, if any.
    pub resource: Option<String>,
    /// Method name, if any.
    pub method: Option<String>,
}

/// The answer, and why.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// What `POST /v1/check` would answer.
    pub permission: Permission,
    /// The level or fallback that decided.
    pub resolved_from: ResolvedFrom,
    /// Whether the tool name is registered.
    pub tool_registered: bool,
    /// Whether a tenant was named and exists.
    pub tenant_known: bool,
    /// Every rule that matches, most specific first, and whether it is the one that decided.
    pub considered: Vec<(RuleView, bool)>,
}

impl Service {
    /// Resolves `request` against the org's current policy without recording anything.
    pub async fn explain(&self, caller: &Reader, request: &ExplainRequest) -> ServiceResult<Explanation> {
        let runtime = self.org_runtime(caller.org_id()).await?;
        let input = CheckInput {
            tool: &request.tool,
            tenant: request.tenant.as_deref(),
            resource: request.resource.as_deref(),
            method: request.method.as_deref(),
        };
        let decision = runtime.policy.resolve(input);
        let considered = matching_rules(&runtime.policy, input)
            .into_iter()
            .filter_map(|(_, id)| Some((Rules::view(&runtime.policy, id)?, decision.rule_id == Some(id))))
            .collect();
        Ok(Explanation {
            permission: decision.permission,
            resolved_from: decision.resolved_from,
            tool_registered: decision.tool_registered(),
            tenant_known: decision.tenant_known,
            considered,
        })
    }
}
