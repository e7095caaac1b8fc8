//! The commands that talk to a running `oakallow serve` (issue 12, "Must show" 3): `check`,
//! `keys list|create|revoke`, `approvals list|show|approve|deny`, `activity tail|verify|export`,
//! each in both output modes, against a real server on SQLite.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use support::{BIN, Server, bootstrap, oakallow, stdout_of};

/// `oakallow <args> --url <server> --key <key>`.
fn remote(server: &Server, key: &str, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--url", &server.base, "--key", key]);
    oakallow(&all)
}

fn json_of(output: Output) -> Value {
    serde_json::from_str(&stdout_of(output)).unwrap()
}

/// An approval asked for over HTTP with the standard key: its id.
async fn ask(server: &Server, standard: &str, tool: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(format!("{}/v1/approvals", server.base))
        .header("X-API-Key", standard)
        .json(&json!({"tool": tool, "tenant": "acme", "reason": "customer asked", "params": {"amount": 12}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id"].as_str().unwrap_or_else(|| panic!("{answer}")).to_owned()
}

#[tokio::test]
async fn check_keys_approvals_and_activity_from_the_terminal_in_both_output_modes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "ops@example.com");
    let (management, standard, approver) =
        (keys["management_key"].as_str().unwrap(), keys["standard_key"].as_str().unwrap(), keys["approver_key"].as_str().unwrap());
    let server = Server::start(&database, &[]);
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "tools:\n  - name: lookup\n    approved: true\n  - name: refund\n    default_permission: requires_approval\n")
        .unwrap();
    stdout_of(remote(&server, management, &["apply", "-f", policy.to_str().unwrap()]));

    // check
    let allowed = json_of(remote(&server, standard, &["check", "--tool", "lookup", "--tenant", "acme", "--json"]));
    assert_eq!((allowed["permission"].as_str(), allowed["resolved_from"].as_str()), (Some("allowed"), Some("tool_approved")));
    let said = stdout_of(remote(&server, standard, &["check", "--tool", "refund", "--params", r#"{"amount": 5}"#]));
    assert!(said.starts_with("requires_approval  (tool_default)\ncheck    chk_"), "{said}");
    assert!(said.contains("approval timeout 3600 s"), "{said}");
    let token = json_of(remote(&server, standard, &["check", "--tool", "lookup", "--mint-token", "--json"]));
    assert!(token["token"].as_str().is_some_and(|t| t.contains('.')), "{token}");
    let refused = remote(&server, standard, &["check", "--tool", "lookup", "--params", "[1]"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("invalid_request"), "a 4xx is an error exit");

    // keys
    let listed = json_of(remote(&server, management, &["keys", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    let created = json_of(remote(&server, management, &["keys", "create", "--name", "ci", "--tier", "approver", "--json"]));
    let (ci_id, ci_key) = (created["id"].as_str().unwrap().to_owned(), created["key"].as_str().unwrap().to_owned());
    assert_eq!(created["tier"], "approver");
    let said = stdout_of(remote(&server, management, &["keys", "create", "--name", "bot"]));
    assert!(said.starts_with("standard key key_") && said.contains("It is shown this once"), "{said}");
    let table = stdout_of(remote(&server, management, &["keys", "list"]));
    assert!(table.starts_with("id ") && table.contains("ci ") && table.ends_with("5 rows\n"), "{table}");
    let revoked = json_of(remote(&server, management, &["keys", "revoke", &ci_id, "--json"]));
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    let said = stdout_of(remote(&server, management, &["keys", "revoke", &created_id(&said)]));
    assert!(said.contains("revoked at"), "{said}");
    let gone = remote(&server, &ci_key, &["approvals", "list"]);
    assert!(
        !gone.status.success() && String::from_utf8_lossy(&gone.stderr).contains("401 Unauthorized unauthenticated"),
        "revoked at once"
    );
    let tier = remote(&server, standard, &["keys", "list"]);
    assert!(!tier.status.success() && String::from_utf8_lossy(&tier.stderr).contains("forbidden_tier"), "keys need the management key");

    // approvals, with the approver key
    let first = ask(&server, standard, "refund").await;
    let second = ask(&server, standard, "refund").await;
    let pending = json_of(remote(&server, approver, &["approvals", "list", "--status", "pending", "--json"]));
    assert_eq!(pending.as_array().unwrap().len(), 2);
    let table = stdout_of(remote(&server, approver, &["approvals", "list"]));
    assert!(table.contains(&first) && table.contains("pending") && table.ends_with("2 rows\n"), "{table}");
    let shown = stdout_of(remote(&server, approver, &["approvals", "show", &first]));
    assert!(shown.contains("status     pending (level 1 of 1)") && shown.contains("params     {\"amount\":12}"), "{shown}");
    assert_eq!(json_of(remote(&server, approver, &["approvals", "show", &first, "--json"]))["reason"], "customer asked");
    let unnamed = remote(&server, approver, &["approvals", "approve", &first]);
    assert!(!unnamed.status.success(), "an approver key says who decides");
    let approved = json_of(remote(&server, approver, &["approvals", "approve", &first, "--by", "Ada", "--note", "fine", "--json"]));
    assert_eq!((approved["status"].as_str(), approved["decided_by"].as_str()), (Some("approved"), Some("Ada")));
    let denied = stdout_of(remote(&server, approver, &["approvals", "deny", &second, "--by", "Ada", "--note", "not today"]));
    assert!(denied.contains("status     denied") && denied.contains("by Ada"), "{denied}");
    let again = remote(&server, approver, &["approvals", "deny", &second, "--by", "Ada"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("approval_not_pending"));

    // activity
    let verdict = json_of(remote(&server, management, &["activity", "verify", "--json"]));
    assert_eq!(verdict["valid"], true);
    let entries = verdict["entries"].as_u64().unwrap();
    assert!(stdout_of(remote(&server, standard, &["activity", "verify"])).starts_with("the chain verifies: "));
    let tail = stdout_of(remote(&server, management, &["activity", "tail", "--lines", "3", "--json"]));
    let seqs: Vec<u64> = tail.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![entries - 2, entries - 1, entries], "the latest three, oldest first");
    let tail = stdout_of(remote(&server, management, &["activity", "tail", "--lines", "2"]));
    assert_eq!(tail.lines().count(), 2);
    assert!(tail.lines().last().unwrap().contains("approval.decided"), "{tail}");

    let export = dir.path().join("activity.jsonl");
    let done = remote(&server, management, &["activity", "export", "-o", export.to_str().unwrap()]);
    let progress = String::from_utf8_lossy(&done.stderr).into_owned();
    stdout_of(done);
    assert!(progress.contains(&format!("exported {entries} entries")), "{progress}");
    assert_eq!(std::fs::read_to_string(&export).unwrap().lines().count() as u64, entries);

    // tail --follow prints what is written after it started, then stops at --max.
    let mut follow = Command::new(BIN)
        .args(["activity", "tail", "--follow", "--lines", "0", "--interval-ms", "50", "--max", "1", "--json"])
        .args(["--url", &server.base, "--key", management])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut started = String::new();
    BufReader::new(follow.stderr.take().unwrap()).read_line(&mut started).unwrap();
    assert!(started.starts_with(&format!("following new entries after #{entries}")), "{started}");
    json_of(remote(&server, standard, &["check", "--tool", "lookup", "--json"]));
    let (sender, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(follow.wait_with_output().unwrap()).unwrap());
    let output = finished.recv_timeout(Duration::from_secs(30)).expect("tail --follow printed the new entry and stopped");
    let entry: Value = serde_json::from_str(String::from_utf8(output.stdout).unwrap().trim()).unwrap();
    assert_eq!((entry["seq"].as_u64(), entry["type"].as_str()), (Some(entries + 1), Some("permission.checked")));
}

/// The key id in "standard key key_… (bot) created" text.
fn created_id(said: &str) -> String {
    said.split_whitespace().nth(2).unwrap().to_owned()
}

#[tokio::test]
async fn apply_simulate_shows_what_a_policy_change_would_have_done_without_applying_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "ops@example.com");
    let (management, standard) = (keys["management_key"].as_str().unwrap(), keys["standard_key"].as_str().unwrap());
    let server = Server::start(&database, &[]);
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "tools:\n  - name: lookup\n    approved: true\n  - name: refund\n    approved: true\n").unwrap();
    stdout_of(remote(&server, management, &["apply", "-f", policy.to_str().unwrap()]));
    for args in
        [["--tool", "lookup", "--tenant", "acme"], ["--tool", "lookup", "--tenant", "globex"], ["--tool", "refund", "--tenant", "acme"]]
    {
        let mut check = vec!["check"];
        check.extend(args);
        stdout_of(remote(&server, standard, &check));
    }
    let candidate = dir.path().join("candidate.yaml");
    std::fs::write(&candidate, "rules:\n  - tool: refund\n    permission: requires_approval\n").unwrap();
    let file = candidate.to_str().unwrap();

    let answer = json_of(remote(&server, standard, &["apply", "-f", file, "--simulate", "--json"]));
    assert_eq!((answer["checks"].as_u64(), answer["changed"].as_u64()), (Some(3), Some(1)), "{answer}");
    assert_eq!(answer["changes"][0]["after"]["rule"]["tool"], "refund");
    let said = stdout_of(remote(&server, standard, &["apply", "-f", file, "--simulate"]));
    assert!(said.starts_with("3 recorded checks decided again: 1 would change\n"), "{said}");
    assert!(
        said.contains("allowed -> requires_approval")
            && said.contains("refund tenant=acme resource=- method=-: allowed -> requires_approval (rule tool=refund)"),
        "{said}"
    );
    // Nothing was applied: the check still says allowed.
    let check = json_of(remote(&server, standard, &["check", "--tool", "refund", "--json"]));
    assert_eq!(check["permission"], "allowed");
    let refused = remote(&server, standard, &["apply", "-f", file, "--simulate", "--since", "yesterday"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("since"), "a 4xx is an error exit");
}
