//! "What would change" (`/orgs/{org}/simulate`): paste a candidate policy document (YAML or
//! JSON, as `oakallow apply` takes it; the current policy is filled in to start from), pick a
//! window, and see what it would have answered to the checks the org recorded: counts by old →
//! new permission and the calls whose answer changes, with the rule that would decide. It runs
//! `Service::simulate_policy`, which writes nothing, so every member may use it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oakallow_domain::policy::PolicyDocument;
use oakallow_service::simulate::{Outcome, SimulateRequest, Simulation};

use crate::AppState;
use crate::dashboard::pages::{ErrorPage, Flash, Shell, error_text, org_page, render};
use crate::dashboard::web::{CheckedForm, Visitor};

/// Changed calls the page lists.
const LISTED: u32 = 200;

#[derive(Template)]
#[template(path = "policy_simulate.html")]
struct SimulatePage {
    shell: Shell,
    org: String,
    document: String,
    since: String,
    until: String,
    result: Option<Shown>,
}

/// A simulation, for people.
struct Shown {
    checks: u64,
    changed: u64,
    requires_approval: u64,
    newly_requires_approval: u64,
    transitions: Vec<(&'static str, &'static str, u64)>,
    changes: Vec<Row>,
    truncated: bool,
}

/// One changed call.
struct Row {
    seq: u64,
    at: String,
    call: String,
    before: &'static str,
    after: &'static str,
    decided_by: String,
}

/// What decides an outcome, in a few words.
fn decided_by(outcome: &Outcome) -> String {
    match &outcome.rule {
        Some(rule) => {
            let scope: Vec<String> =
                [("tenant", &rule.tenant), ("resource", &rule.resource), ("tool", &rule.tool), ("method", &rule.method)]
                    .into_iter()
                    .filter_map(|(name, value)| value.as_ref().map(|value| format!("{name} {value}")))
                    .collect();
            if scope.is_empty() { "the org-wide rule".to_owned() } else { format!("the rule for {}", scope.join(", ")) }
        }
        None => outcome.resolved_from.map_or("-", |step| step.as_str()).to_owned(),
    }
}

fn shown(simulation: Simulation) -> Shown {
    let changes = simulation
        .changes
        .iter()
        .map(|change| {
            let mut call = change.tool.clone();
            for (name, value) in [("tenant", &change.tenant), ("resource", &change.resource), ("method", &change.method)] {
                if let Some(value) = value {
                    call.push_str(&format!(" · {name} {value}"));
                }
            }
            Row {
                seq: change.seq,
                at: change.at.to_string().get(..19).unwrap_or_default().replace('T', " "),
                call,
                before: change.before.permission.as_str(),
                after: change.after.permission.as_str(),
                decided_by: decided_by(&change.after),
            }
        })
        .collect();
    Shown {
        checks: simulation.checks,
        changed: simulation.changed,
        requires_approval: simulation.requires_approval,
        newly_requires_approval: simulation.newly_requires_approval,
        transitions: simulation.transitions.iter().map(|t| (t.from.as_str(), t.to.as_str(), t.count)).collect(),
        changes,
        truncated: simulation.truncated,
    }
}

/// `GET /orgs/{org}/simulate`: the form, with the current policy to edit.
pub(crate) async fn page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, Path(org): Path<String>) -> Response {
    let (member, shell) = match org_page(&state, &visitor, &org, "simulate", "What would change", &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let document = match state.service.export_policy(&member.reader()).await {
        Ok(current) => serde_json::to_string_pretty(&current).unwrap_or_default(),
        Err(error) => return ErrorPage::from_service(&error).into_response(),
    };
    let page = SimulatePage { shell, org: member.org_id().to_string(), document, since: String::new(), until: String::new(), result: None };
    render(&page, &page.shell)
}

/// `POST /orgs/{org}/simulate`: the simulation of the document sent.
pub(crate) async fn run(State(state): State<AppState>, Path(org): Path<String>, form: CheckedForm) -> Response {
    let visitor = match form.signed_in() {
        Ok(visitor) => visitor,
        Err(response) => return response,
    };
    let (member, mut shell) = match org_page(&state, visitor, &org, "simulate", "What would change", &form.headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let field = |name: &str| form.fields.get(name).unwrap_or_default().to_owned();
    let (document, since, until) = (field("document"), field("since"), field("until"));
    let given = |text: &str| Some(text.to_owned()).filter(|text| !text.is_empty());
    // YAML is a superset of JSON: one strict reader for both, as `PUT /v1/policy` reads YAML.
    let parsed: Result<PolicyDocument, _> =
        oakallow_domain::json::deserialize(serde_norway::Deserializer::from_str(&document), document.len());
    let outcome = match parsed {
        Ok(policy) => {
            let request = SimulateRequest { policy, since: given(&since), until: given(&until), limit: Some(LISTED) };
            state.service.simulate_policy(&member.reader(), request).await.map_err(|error| error_text(&error))
        }
        Err(error) => Err(format!("The document could not be read: {error}")),
    };
    let (result, status) = match outcome {
        Ok(simulation) => (Some(shown(simulation)), StatusCode::OK),
        Err(text) => {
            shell.flash = Some(Flash { kind: "error", text });
            (None, StatusCode::BAD_REQUEST)
        }
    };
    let page = SimulatePage { shell, org: member.org_id().to_string(), document, since, until, result };
    (status, render(&page, &page.shell)).into_response()
}
