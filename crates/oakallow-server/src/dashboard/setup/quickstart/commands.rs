//! The quickstart's commands: curl calls that run in order in one shell (bash or zsh), each
//! also readable on its own. The keys are either the raw keys (made on the answer page) or
//! the shell variables that hold them; the address is the one the browser used.

/// The tool the quickstart registers.
const TOOL: &str = "send_email";

/// The keys the commands send.
pub(super) struct Keys {
    /// The management key, or `$OAKALLOW_MGMT_KEY`.
    pub(super) management: String,
    /// The standard key, or `$OAKALLOW_KEY`.
    pub(super) standard: String,
}

impl Keys {
    /// The shell variables, for a page without freshly made keys.
    pub(super) fn placeholders() -> Self {
        Self { management: "$OAKALLOW_MGMT_KEY".into(), standard: "$OAKALLOW_KEY".into() }
    }
}

/// One step of the quickstart.
pub(super) struct Command {
    /// Makes the ids of the command's element (`cmd-…`) and its answer (`answer-…`).
    pub(super) id: &'static str,
    /// The step's heading.
    pub(super) title: &'static str,
    /// What the step does and why.
    pub(super) about: &'static str,
    /// The command, as pasted.
    pub(super) text: String,
    /// A part of what it answers.
    pub(super) answers: String,
}

/// A `curl` with the key `key`, the method and path, and a JSON body if any.
fn curl(base: &str, key: &str, method: &str, path: &str, body: Option<&str>) -> String {
    let method = if method == "GET" { String::new() } else { format!(" -X {method}") };
    let mut text = format!("curl -sS -w '\\n'{method} \"{base}{path}\" \\\n  -H \"X-API-Key: {key}\"");
    if let Some(body) = body {
        text.push_str(&format!(" \\\n  -H \"Content-Type: application/json\" \\\n  -d '{body}'"));
    }
    text
}

/// Every step, in order, for the org `org_id` on the server at `base`.
pub(super) fn all(base: &str, org_id: &str, keys: Keys) -> Vec<Command> {
    let Keys { management, standard } = keys;
    let approval = curl(
        base,
        &standard,
        "POST",
        "/v1/approvals",
        Some(&format!(r#"{{"tool": "{TOOL}", "params": {{"to": "customer@example.com"}}, "reason": "Refund confirmation"}}"#)),
    );
    vec![
        Command {
            id: "org",
            title: "Check the management key",
            about: "The management key configures this organization: tools, rules, keys and settings.",
            text: curl(base, &management, "GET", "/v1/org", None),
            answers: format!(r#""id":"{org_id}""#),
        },
        Command {
            id: "tool",
            title: "Register a tool",
            about: "A tool is something your agent can do. This one sends email.",
            text: curl(base, &management, "POST", "/v1/tools", Some(&format!(r#"{{"name": "{TOOL}", "risk_level": "medium"}}"#))),
            answers: format!(r#""name":"{TOOL}""#),
        },
        Command {
            id: "rule",
            title: "Write a rule",
            about: "Every email waits for a person: the rule makes the tool require approval.",
            text: curl(
                base,
                &management,
                "POST",
                "/v1/rules",
                Some(&format!(r#"{{"tool": "{TOOL}", "permission": "requires_approval"}}"#)),
            ),
            answers: r#""permission":"requires_approval""#.into(),
        },
        Command {
            id: "check",
            title: "Ask before acting",
            about: "The agent, with the standard key, asks whether it may send an email.",
            text: curl(
                base,
                &standard,
                "POST",
                "/v1/check",
                Some(&format!(r#"{{"tool": "{TOOL}", "params": {{"to": "customer@example.com"}}}}"#)),
            ),
            answers: r#""permission":"requires_approval""#.into(),
        },
        Command {
            id: "approval",
            title: "Ask a person",
            about: "The agent asks for approval of this one email and keeps the approval's id.",
            text: format!(
                "APPROVAL_ID=$({approval} \\\n  | grep -o '\"id\":\"apr_[^\"]*\"' | head -n 1 | cut -d '\"' -f 4)\necho \"$APPROVAL_ID\""
            ),
            answers: "apr_…".into(),
        },
        Command {
            id: "wait",
            title: "Wait for the decision",
            about: "The agent waits up to 60 seconds for the answer. Approve it on the Approvals page meanwhile: the answer comes back at once.",
            text: curl(base, &standard, "GET", "/v1/approvals/$APPROVAL_ID?wait=60", None),
            answers: r#""status":"approved""#.into(),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_keys_and_the_address_are_filled_in() {
        let keys = Keys { management: "oak_live_m".into(), standard: "oak_live_s".into() };
        let commands = all("https://oak.example.com", "org_1", keys);
        let check = commands.iter().find(|c| c.id == "check").unwrap();
        assert_eq!(
            check.text,
            "curl -sS -w '\\n' -X POST \"https://oak.example.com/v1/check\" \\\n  -H \"X-API-Key: oak_live_s\" \\\n  \
             -H \"Content-Type: application/json\" \\\n  -d '{\"tool\": \"send_email\", \"params\": {\"to\": \"customer@example.com\"}}'"
        );
        assert!(commands[0].text.contains("oak_live_m") && commands[0].answers.contains("org_1"));
    }

    #[test]
    fn without_keys_the_commands_read_the_shell_variables() {
        let commands = all("http://127.0.0.1:8080", "org_1", Keys::placeholders());
        assert!(
            commands
                .iter()
                .all(|c| c.text.contains("\"X-API-Key: $OAKALLOW_MGMT_KEY\"") || c.text.contains("\"X-API-Key: $OAKALLOW_KEY\""))
        );
        assert!(!commands.iter().any(|c| c.text.contains("oak_live_")));
    }
}
