//! `POST /v1/tools/discover`: an MCP gateway reports the tools it found upstream, with the
//! agent's standard key. Unknown names become drafts; every name gets the permission a call would
//! get now (tenant only, no params), so the gateway can hide what is switched off.
//!
//! Why a standard key may do this (`docs/MCP.md`): a draft can only be created, never changed,
//! and it never changes an answer. An unregistered tool ends at `fail_safe` →
//! `requires_approval`; its draft ends at `tool_default` → `requires_approval`, with no category,
//! enabled, not approved. What the draft adds (annotations, description, input schema) is for
//! people to review; the schema can only refuse params that the upstream would refuse too. At most
//! [`PER_HOUR`] drafts per hour and [`IN_TOTAL`] in all (tagged [`DRAFT_TAG`]) exist per org, so
//! a leaked standard key cannot flood the tool list.

use oakallow_domain::audit::{ActivityRecord, ActivityType};
use oakallow_domain::policy::{Annotations, CheckInput, PolicyEdit, ToolSpec, check_name, describe};
use oakallow_domain::{Permission, ResolvedFrom, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::auth::Standard;
use crate::error::{ServiceError, ServiceResult};
use crate::manage::{ManagedKind, Tools, check_tool_schema};
use crate::orgs_cache::{OrgRuntime, PolicyPlan};
use crate::{Service, audit_details, events, redact};

/// The tag every auto-created draft carries; the caps count the tools that have it.
pub const DRAFT_TAG: &str = "auto-created";
/// Drafts created per org in any hour, at most.
pub const PER_HOUR: usize = 50;
/// Drafts per org in all, at most.
pub const IN_TOTAL: usize = 500;
/// Tools in one report, at most.
pub const MAX_TOOLS: usize = 1000;

/// Body of `POST /v1/tools/discover`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoverRequest {
    /// The tenant the gateway acts for: the permissions answered are this tenant's.
    #[serde(default)]
    #[schema(value_type = Option<oakallow_domain::policy::text::Name>)]
    pub tenant: Option<String>,
    /// The tools found upstream (at most 1,000).
    #[schema(max_items = 1000)]
    pub tools: Vec<DiscoveredTool>,
}

/// One tool as an MCP server describes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveredTool {
    /// Tool name, as calls will name it. Any text: an upstream may list names oakallow cannot
    /// register, and those are answered `refused` without failing the report.
    pub name: String,
    /// The server's description (a tool whose description oakallow cannot keep is `refused`).
    #[serde(default)]
    pub description: Option<String>,
    /// The server's hints.
    #[serde(default)]
    pub annotations: Option<Annotations>,
    /// The server's input schema.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub parameters_schema: Option<Map<String, Value>>,
}

/// What became of a reported tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DiscoverOutcome {
    /// The name was registered already; nothing changed.
    Registered,
    /// A draft was created now.
    Created,
    /// Not registered: the hourly or total cap is reached. Calls still work (and end at
    /// `fail_safe` unless a rule decides).
    Capped,
    /// The name cannot be a tool name; calls naming it are refused.
    Refused,
}

/// One tool in the answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiscoveredStatus {
    /// Tool name.
    pub name: String,
    /// What happened.
    pub outcome: DiscoverOutcome,
    /// The tool's id, when registered.
    pub tool_id: Option<String>,
    /// What a call naming only this tool and the tenant would get now (`null` when refused).
    pub permission: Option<Permission>,
    /// Why.
    pub resolved_from: Option<ResolvedFrom>,
    /// Why the outcome is `refused`, or why the schema was not kept.
    pub note: Option<String>,
}

/// Answer of `POST /v1/tools/discover`, in the order reported.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiscoverResponse {
    /// One entry per reported tool.
    pub tools: Vec<DiscoveredStatus>,
}

/// How many more drafts the org may get now.
fn room(runtime: &OrgRuntime, now: Timestamp) -> usize {
    let hour_ago = now.plus_seconds(-3600);
    let (mut drafts, mut this_hour) = (0, 0);
    for tool in runtime.policy.tools().values().filter(|tool| tool.tags.iter().any(|tag| tag == DRAFT_TAG)) {
        drafts += 1;
        this_hour += usize::from(tool.created_at > hour_ago);
    }
    IN_TOTAL.saturating_sub(drafts).min(PER_HOUR.saturating_sub(this_hour))
}

/// The draft for a reported tool, and a note if its schema could not be kept.
fn draft(tool: &DiscoveredTool) -> (ToolSpec, Option<String>) {
    let mut spec = ToolSpec {
        name: tool.name.clone(),
        description: tool.description.clone(),
        category: None,
        risk_level: None,
        parameters_schema: tool.parameters_schema.clone().map(Value::Object),
        default_permission: Some(Permission::RequiresApproval),
        approved: Some(false),
        enabled: Some(true),
        approval_timeout_seconds: None,
        requires_second_approval: None,
        annotations: tool.annotations.clone(),
        tags: Some(vec![DRAFT_TAG.to_owned()]),
    };
    let note = match check_tool_schema(&spec) {
        Ok(()) => None,
        Err(error) => {
            spec.parameters_schema = None;
            Some(format!("the input schema was not kept: {error}"))
        }
    };
    (spec, note)
}

impl Service {
    /// Registers the reported tools that are unknown as drafts (within the caps) and answers
    /// every tool's current permission. Free; one `config.changed` entry and one
    /// `tool.auto_created` event per draft, committed with the drafts.
    pub async fn discover_tools(&self, caller: &Standard, request: DiscoverRequest) -> ServiceResult<DiscoverResponse> {
        if request.tools.len() > MAX_TOOLS {
            return Err(ServiceError::invalid(format!("at most {MAX_TOOLS} tools per report")));
        }
        if let Some(tenant) = &request.tenant {
            check_name("tenant", tenant)?;
        }
        let now = self.clock.now();
        let statuses = self
            .orgs
            .edit_policy(self.store.as_ref(), caller.org_id(), |runtime| {
                let mut edit = PolicyEdit::new(runtime.policy.clone(), now);
                let mut room = room(runtime, now);
                let mut created = Vec::new();
                let mut statuses = Vec::with_capacity(request.tools.len());
                for tool in &request.tools {
                    let mut status = DiscoveredStatus {
                        name: tool.name.clone(),
                        outcome: DiscoverOutcome::Registered,
                        tool_id: None,
                        permission: None,
                        resolved_from: None,
                        note: None,
                    };
                    if let Err(error) = check_name("name", &tool.name) {
                        status.outcome = DiscoverOutcome::Refused;
                        status.note = Some(error.to_string());
                    } else if edit.draft().tool_by_name(&tool.name).is_none() {
                        if room == 0 {
                            status.outcome = DiscoverOutcome::Capped;
                        } else {
                            let (spec, note) = draft(tool);
                            match edit.put_tool(None, redact::spec(&runtime.org, spec)) {
                                Ok(id) => {
                                    room -= 1;
                                    status.outcome = DiscoverOutcome::Created;
                                    status.note = note;
                                    created.push(id);
                                }
                                Err(error) => {
                                    status.outcome = DiscoverOutcome::Refused;
                                    status.note = Some(error.to_string());
                                }
                            }
                        }
                    }
                    statuses.push(status);
                }
                let (state, changes) = edit.finish();
                for status in statuses.iter_mut().filter(|s| s.outcome != DiscoverOutcome::Refused) {
                    let input = CheckInput { tool: &status.name, tenant: request.tenant.as_deref(), resource: None, method: None };
                    let decision = state.resolve(input);
                    status.permission = Some(decision.permission);
                    status.resolved_from = Some(decision.resolved_from);
                    status.tool_id = decision.tool.map(|tool| tool.id.to_string());
                }
                let mut activity = Vec::new();
                let mut outbox = Vec::new();
                if !created.is_empty() {
                    let diff = describe(&runtime.policy, &state, &changes);
                    let names: Vec<&str> = created.iter().filter_map(|id| state.tools().get(id)).map(|t| t.name.as_str()).collect();
                    let details = audit_details("auto_created", "tool", None, &diff, json!({ "tools": names }));
                    let mut record = ActivityRecord::new(caller.org_id(), now, ActivityType::ConfigChanged, caller.actor());
                    record.details = Some(details);
                    activity.push(record);
                    for id in &created {
                        let view = Tools::view(&state, *id).ok_or(ServiceError::Internal)?;
                        outbox.push(events::outbox(&runtime.org, "tool.auto_created", json!({ "tool": view }), now));
                    }
                }
                Ok(PolicyPlan { state, changes, activity, outbox, answer: statuses })
            })
            .await?;
        Ok(DiscoverResponse { tools: statuses })
    }
}
