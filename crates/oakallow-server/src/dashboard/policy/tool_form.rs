//! The tool form: every field of a tool (PRODUCT.md section 1), named as in the API.

use super::form::{Choice, Group, Input, Json};
use super::kinds::{Names, permission};

/// The form of a tool; a new tool is enabled and of medium risk, as the API makes it.
pub(crate) fn form(names: &Names) -> Vec<Group> {
    let mut categories = vec![Choice::empty("none")];
    categories.extend(names.categories.iter().map(|c| Choice::named(c)));
    let risks = ["low", "medium", "high", "critical"].map(Choice::named).to_vec();
    vec![
        Group::plain(vec![
            Input::name("name", "Name").hint("Unique; what agents send as tool."),
            Input::textarea("description", "Description"),
            Input::select("category", "Category", Json::Optional, categories)
                .hint("Its default permission applies when nothing more specific does."),
            Input::select("risk_level", "Risk level", Json::Optional, risks).value("medium"),
            permission("Default permission", "none: fall through").hint("Used when no rule matches."),
            Input::number("approval_timeout_seconds", "Approval timeout (seconds)").hint("Leave empty for the org's timeout."),
        ]),
        Group::boxes(
            "Behaviour",
            vec![
                Input::checkbox("enabled", "Enabled")
                    .hint("Unticked, every call of the tool is disabled, whatever the rules say.")
                    .ticked(),
                Input::checkbox("approved", "Approved").hint("When nothing else decides, calls are allowed instead of needing approval."),
                Input::checkbox("requires_second_approval", "Needs a second approver")
                    .hint("Approvals need two different people (level 1, then level 2)."),
            ],
        ),
        Group::plain(vec![
            Input::code("parameters_schema", "Parameters schema (JSON)")
                .hint("A JSON Schema (draft 2020-12) object the call's params must match; leave empty for none."),
            Input::list("tags", "Tags").hint("Comma-separated."),
        ]),
        Group::boxes(
            "Annotations (MCP hints)",
            vec![
                Input::flag("annotations", "read_only", "Read-only"),
                Input::flag("annotations", "destructive", "Destructive"),
                Input::flag("annotations", "idempotent", "Idempotent"),
                Input::flag("annotations", "open_world", "Open world"),
            ],
        ),
    ]
}
