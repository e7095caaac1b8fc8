//! The quickstart: its commands, pasted into bash as the page shows them, register a tool and a
//! rule, check, ask for an approval and wait for the decision, answering what the page says.

use oakallow_domain::approval::Verdict;
use oakallow_testkit::{TestApp, WebClient, WebPage};
use reqwest::StatusCode;
use serde_json::Value;

use super::super::{empty_app, operator};
use super::text_of;

/// The steps, in the order the page shows them.
const STEPS: [&str; 6] = ["org", "tool", "rule", "check", "approval", "wait"];

/// The page's commands, one after the other, as someone pasting them all would run them.
fn script(page: &WebPage) -> String {
    STEPS.map(|step| text_of(page, &format!("cmd-{step}"))).join("\n")
}

/// Runs `script` in bash (with no proxy in the way); answers its standard output.
async fn bash(script: String) -> String {
    let output = tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new("bash");
        command.arg("-c").arg(script);
        for proxy in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
            command.env_remove(proxy);
        }
        command.output().unwrap()
    })
    .await
    .unwrap();
    let (stdout, stderr) = (String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap());
    assert!(output.status.success() && stderr.is_empty(), "{}\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    stdout
}

/// Approves the pending approval as the person signed in to `web`, once its long-poll waits.
async fn approve_when_waited_on(app: &TestApp, web: &WebClient, org: &str, standard: &str) {
    app.parked_long_polls(1).await;
    let (_, pending) = app.get("/v1/approvals?status=pending", standard).await;
    let id = pending["data"][0]["id"].as_str().unwrap().to_owned();
    let signed_in = app.service.signed_in(&web.cookie("oak_session").unwrap()).await.unwrap();
    let member = app.service.member(&signed_in, org).await.unwrap();
    app.service.decide_as_member(&member, &id, Verdict::Approved, Some("Looks right".into())).await.unwrap();
}

#[tokio::test]
async fn the_commands_run_when_pasted_and_answer_as_the_page_says() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let quickstart = format!("/orgs/{org}/quickstart");
    let page = web.submit(&quickstart, &quickstart, &[], StatusCode::OK).await;
    let (management, standard) = (text_of(&page, "management-key"), text_of(&page, "standard-key"));
    assert_eq!(text_of(&page, "org-id"), org);
    let script = script(&page);
    assert!(script.contains(&management) && script.contains(&standard) && script.contains(&format!("\"{}/v1/", app.base)), "{script}");

    let run = tokio::spawn(bash(script));
    approve_when_waited_on(&app, &web, &org, &standard).await;
    let stdout = run.await.unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), STEPS.len(), "one answer per command:\n{stdout}");
    for (step, line) in STEPS.iter().zip(&lines) {
        let answer = text_of(&page, &format!("answer-{step}"));
        assert!(line.contains(answer.trim_end_matches('…')), "{step} answered {line}, the page says {answer}");
    }
    let check: Value = serde_json::from_str(lines[3]).unwrap();
    assert_eq!((check["permission"].as_str(), check["resolved_from"].as_str()), (Some("requires_approval"), Some("org_tool")));
    let decided: Value = serde_json::from_str(lines[5]).unwrap();
    assert_eq!((decided["status"].as_str(), decided["note"].as_str()), (Some("approved"), Some("Looks right")), "{decided}");

    let (_, tools) = app.get("/v1/tools", &management).await;
    assert_eq!(tools["data"][0]["name"], "send_email", "{tools}");
    let (_, rules) = app.get("/v1/rules", &management).await;
    assert_eq!(
        (rules["data"][0]["tool"].as_str(), rules["data"][0]["permission"].as_str()),
        (Some("send_email"), Some("requires_approval"))
    );
}

#[tokio::test]
async fn without_keys_the_same_commands_read_the_keys_from_the_shell() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let quickstart = format!("/orgs/{org}/quickstart");
    let plain = web.get(&quickstart, StatusCode::OK).await;
    assert!(plain.shows("id=\"create-quickstart-keys\"") && !plain.shows("oak_live_"), "{}", plain.body);
    let with_keys = web.submit(&quickstart, &quickstart, &[], StatusCode::OK).await;
    let filled = script(&plain)
        .replace("$OAKALLOW_MGMT_KEY", &text_of(&with_keys, "management-key"))
        .replace("$OAKALLOW_KEY", &text_of(&with_keys, "standard-key"));
    assert_eq!(filled, script(&with_keys));
    assert!(!web.get(&quickstart, StatusCode::OK).await.shows("oak_live_"), "the keys are shown once");
}

#[tokio::test]
async fn the_address_is_the_one_the_browser_used() {
    let app = empty_app().await;
    let (web, org) = operator(&app).await;
    let response = reqwest::Client::new()
        .get(format!("{}/orgs/{org}/quickstart", app.base))
        .header("cookie", format!("oak_session={}", web.cookie("oak_session").unwrap()))
        .header("host", "oak.example.com")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let body = response.text().await.unwrap();
    assert!(
        body.contains("&quot;https://oak.example.com/v1/check&quot;") || body.contains("&#34;https://oak.example.com/v1/check&#34;"),
        "{body}"
    );
}
