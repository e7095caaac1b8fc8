//! "Which rule wins" (`GET /orgs/{org}/tester`): a call by names in; out come the permission,
//! the level that decided and why in words, and every rule that matches the call, most specific
//! first, the deciding one marked. It asks the resolver through `Service::explain`, which
//! records and bills nothing, so every member may use it.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use oakallow_domain::permission::ResolvedFrom;
use oakallow_service::explain::{ExplainRequest, Explanation};
use oakallow_service::manage::RuleView;
use serde::Deserialize;

use super::kinds::Names;
use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Shell, org_page, render};
use crate::dashboard::web::Visitor;

/// The call to explain, as the form sends it.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Call {
    #[serde(default)]
    tool: String,
    #[serde(default)]
    tenant: String,
    #[serde(default)]
    resource: String,
    #[serde(default)]
    method: String,
}

impl Call {
    /// The request to explain; `None` if nothing was asked yet.
    fn request(&self) -> Option<ExplainRequest> {
        let given = |text: &str| Some(text.trim().to_owned()).filter(|t| !t.is_empty());
        let request = ExplainRequest {
            tool: self.tool.trim().to_owned(),
            tenant: given(&self.tenant),
            resource: given(&self.resource),
            method: given(&self.method),
        };
        (request != ExplainRequest::default()).then_some(request)
    }
}

#[derive(Template)]
#[template(path = "policy_tester.html")]
struct TesterPage {
    shell: Shell,
    org: String,
    call: Call,
    names: Names,
    problem: Option<&'static str>,
    answer: Option<Answer>,
}

/// What the resolver answered, for people.
struct Answer {
    permission: &'static str,
    resolved_from: &'static str,
    why: String,
    notes: Vec<String>,
    considered: Vec<Considered>,
}

/// One matching rule.
struct Considered {
    href: String,
    level: &'static str,
    scope: [Option<String>; 4],
    permission: &'static str,
    decides: bool,
}

/// `GET /orgs/{org}/tester?tool=&tenant=&resource=&method=`.
pub(crate) async fn page(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(org): Path<String>,
    Query(call): Query<Call>,
) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "tester", "Which rule wins", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let reader = member.reader();
    let names = match state.service.export_policy(&reader).await {
        Ok(document) => Names::of(&document),
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let org = member.org_id().to_string();
    let (mut problem, mut answer) = (None, None);
    match call.request() {
        Some(request) if request.tool.is_empty() => problem = Some("Name the tool the agent would call."),
        Some(request) => match state.service.explain(&reader, &request).await {
            Ok(explanation) => answer = Some(answer_of(&org, &request, explanation)),
            Err(error) => return ErrorPage::from_service(&error).into_response(),
        },
        None => {}
    }
    let page = TesterPage { shell, org, call, names, problem, answer };
    render(&page, &page.shell)
}

fn answer_of(org: &str, request: &ExplainRequest, explanation: Explanation) -> Answer {
    let mut notes = Vec::new();
    if !explanation.tool_registered {
        notes.push(format!("No tool named {:?} is registered: only rules that name no tool apply, then fail-safe.", request.tool));
    }
    if let Some(tenant) = request.tenant.as_ref().filter(|_| !explanation.tenant_known) {
        notes.push(format!("No tenant has the external id {tenant:?}: only org rules apply."));
    }
    let considered = explanation.considered.into_iter().map(|(rule, decides)| considered(org, rule, decides)).collect();
    Answer {
        permission: explanation.permission.as_str(),
        resolved_from: explanation.resolved_from.as_str(),
        why: words(explanation.resolved_from),
        notes,
        considered,
    }
}

fn considered(org: &str, rule: RuleView, decides: bool) -> Considered {
    let spec = rule.spec;
    Considered {
        href: format!("/orgs/{org}/rules/{}", rule.id),
        level: rule.level.as_str(),
        scope: [spec.tenant, spec.resource, spec.tool, spec.method],
        permission: spec.permission.as_str(),
        decides,
    }
}

/// What a step of the resolution chain means, in a sentence.
pub(crate) fn words(step: ResolvedFrom) -> String {
    match step {
        ResolvedFrom::ToolDisabled => "The tool is switched off (not enabled), so no rule was consulted.".to_owned(),
        ResolvedFrom::ToolDefault => "No rule matched; the tool's own default permission decided.".to_owned(),
        ResolvedFrom::CategoryDefault => {
            "No rule matched and the tool has no default; its category's default permission decided.".to_owned()
        }
        ResolvedFrom::ToolApproved => "No rule or default decided; the tool is marked approved, so the call is allowed.".to_owned(),
        ResolvedFrom::FailSafe => "Nothing matched, so the fail-safe applies: a person must approve.".to_owned(),
        rule => rule_words(rule.as_str()),
    }
}

/// A rule level in words, from its stable name (`tenant_resource_tool`, `org_wildcard`, …).
fn rule_words(level: &str) -> String {
    let whose = if level.starts_with("tenant_") { "A rule for this tenant" } else { "An org-wide rule (for every tenant)" };
    let named: Vec<&str> = ["resource", "tool", "method"].into_iter().filter(|dimension| level.contains(dimension)).collect();
    match named.as_slice() {
        [] => format!("{whose} that names nothing else decided: a wildcard."),
        [one] => format!("{whose} naming this {one} decided."),
        [first @ .., last] => format!("{whose} naming this {} and {last} decided.", first.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_has_its_own_words() {
        assert_eq!(words(ResolvedFrom::OrgTool), "An org-wide rule (for every tenant) naming this tool decided.");
        assert_eq!(words(ResolvedFrom::TenantResourceToolMethod), "A rule for this tenant naming this resource, tool and method decided.");
        assert_eq!(words(ResolvedFrom::TenantToolMethod), "A rule for this tenant naming this tool and method decided.");
        assert_eq!(words(ResolvedFrom::TenantWildcard), "A rule for this tenant that names nothing else decided: a wildcard.");
        let all: std::collections::HashSet<String> = ResolvedFrom::ALL.into_iter().map(words).collect();
        assert_eq!(all.len(), ResolvedFrom::ALL.len());
    }

    #[test]
    fn an_empty_form_asks_nothing_and_names_are_trimmed() {
        assert_eq!(Call::default().request(), None);
        let call = Call { tool: " refund ".into(), tenant: " ".into(), resource: String::new(), method: "POST".into() };
        let expected = ExplainRequest { tool: "refund".into(), tenant: None, resource: None, method: Some("POST".into()) };
        assert_eq!(call.request(), Some(expected));
    }
}
