//! Notification channels (issue 13): Slack messages with approve / deny buttons, their clicks
//! signed as Slack signs them (cross-checked with the official `slack_sdk` Python package, both
//! ways), decided only by a linked account and never for a critical-risk tool, and updated when
//! the approval is decided, cancelled or expires; PagerDuty for critical-risk tools. Slack and
//! PagerDuty are a local stand-in checking the shapes they document; the Block Kit messages are
//! also read back by `slack_sdk`'s own models.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use oakallow_domain::slack;
use oakallow_testkit::slack::{Call, FakeSlack};
use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::dashboard::operator;
use crate::dashboard::ops::{member_of, standard_key, tool};

/// Slack's example signing secret (from "Verifying requests from Slack").
const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const WAIT: Duration = Duration::from_secs(10);
const POST: &str = "/api/chat.postMessage";
const UPDATE: &str = "/api/chat.update";
const RESPONSES: &str = "/hooks/actions/T0TEAM/1/response";
const PAGERDUTY: &str = "/pagerduty/v2/enqueue";

/// Runs `script` with `case` (JSON) on its standard input and answers its standard output.
fn python(script: &str, case: &Value) -> String {
    let mut child = Command::new("python3").args(["-c", script]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(case.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The signature `slack_sdk`'s `SignatureVerifier` makes for `body` at `timestamp`.
fn sdk_signature(timestamp: i64, body: &str) -> String {
    let script = r#"
import json, sys
from slack_sdk.signature import SignatureVerifier
case = json.load(sys.stdin)
print(SignatureVerifier(case["secret"]).generate_signature(timestamp=case["timestamp"], body=case["body"]))
"#;
    python(script, &json!({ "secret": SIGNING_SECRET, "timestamp": timestamp.to_string(), "body": body }))
}

/// Whether `slack_sdk`'s `SignatureVerifier` accepts `signature` of `body` at `timestamp`.
fn sdk_accepts(timestamp: i64, body: &str, signature: &str) -> bool {
    let script = r#"
import json, sys
from slack_sdk.signature import SignatureVerifier
case = json.load(sys.stdin)
print(SignatureVerifier(case["secret"]).is_valid(case["body"], case["timestamp"], case["signature"]))
"#;
    python(script, &json!({ "secret": SIGNING_SECRET, "timestamp": timestamp.to_string(), "body": body, "signature": signature })) == "True"
}

/// `slack_sdk`'s Block Kit models read the blocks, validate them and write them back unchanged.
fn assert_block_kit(blocks: &Value) {
    let script = r#"
import json, sys
from slack_sdk.models.blocks import Block
blocks = json.load(sys.stdin)
try:
    again = [block.to_dict() for block in Block.parse_all(blocks)]
    print("ok" if again == blocks else "changed: " + json.dumps(again))
except Exception as error:
    print("refused: %r" % (error,))
"#;
    assert_eq!(python(script, blocks), "ok", "slack_sdk reads the blocks back unchanged: {blocks}");
}

/// A `block_actions` payload as Slack sends it for a click, form-encoded.
fn click_body(user: &str, action: &str, approval: &str, fake: &FakeSlack) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": { "id": user, "username": "someone", "team_id": "T0TEAM" },
        "team": { "id": "T0TEAM", "domain": "example" },
        "api_app_id": "A0APP",
        "container": { "type": "message", "channel_id": "C0TEST" },
        "response_url": format!("{}{RESPONSES}", fake.base),
        "actions": [{ "type": "button", "action_id": action, "block_id": "oakallow_decision", "value": approval, "action_ts": "1700000000.1" }],
    });
    format!("payload={}", url_encode(&payload.to_string()))
}

fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends a click signed at `timestamp` with `signature` (default: `slack_sdk`'s).
async fn send_click(app: &TestApp, org: &str, body: &str, timestamp: i64, signature: Option<&str>) -> StatusCode {
    let signature = signature.map_or_else(|| sdk_signature(timestamp, body), str::to_owned);
    app.request(reqwest::Method::POST, &format!("/integrations/slack/{org}/interactions"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature)
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
}

fn actions(call: &Call) -> Option<&Value> {
    call.body["blocks"].as_array().unwrap().iter().find(|b| b["type"] == "actions")
}

fn headline(call: &Call) -> &str {
    call.body["blocks"][0]["text"]["text"].as_str().unwrap()
}

async fn status(app: &TestApp, key: &str, id: &str) -> String {
    let (code, approval) = app.get(&format!("/v1/approvals/{id}"), key).await;
    assert_eq!(code, StatusCode::OK, "{approval}");
    approval["status"].as_str().unwrap().to_owned()
}

async fn ask(app: &TestApp, key: &str, tool: &str, reason: &str, timeout: u32) -> String {
    let body = json!({ "tool": tool, "tenant": "tenant_42", "reason": reason, "params": { "to": "ops@example.com", "n": 3 }, "timeout_seconds": timeout });
    let (code, approval) = app.post("/v1/approvals", key, &body).await;
    assert_eq!(code, StatusCode::CREATED, "{approval}");
    approval["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
#[cfg_attr(not(python_slack_sdk), ignore = "needs the slack_sdk Python package: pip install slack_sdk")]
async fn slack_messages_are_decided_by_linked_people_and_updated_on_sqlite() {
    slack_messages_are_decided_by_linked_people_and_updated(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
#[cfg_attr(not(python_slack_sdk), ignore = "needs the slack_sdk Python package: pip install slack_sdk")]
async fn slack_messages_are_decided_by_linked_people_and_updated_on_postgres() {
    slack_messages_are_decided_by_linked_people_and_updated(Backend::Postgres).await;
}

async fn slack_messages_are_decided_by_linked_people_and_updated(backend: Backend) {
    let fake = FakeSlack::start().await;
    let mut options = TestOptions::new(backend).empty().manual_clock();
    options.config.channels.slack_api_url = format!("{}/api", fake.base);
    options.config.channels.slack_response_url_prefix = format!("{}/hooks/", fake.base);
    options.config.channels.pagerduty_events_url = format!("{}{PAGERDUTY}", fake.base);
    let app = TestApp::start_with(options).await;
    let (web, org) = operator(&app).await;
    let owner = member_of(&app, &web, &org).await;
    let management = owner_key(&app, &owner).await;
    let agent = standard_key(&app, &owner).await;
    tool(&app, &owner, "send_email", "medium", false).await;
    tool(&app, &owner, "drop_database", "critical", false).await;

    // Configured through the API; secrets are never shown again.
    let settings = json!({
        "slack": { "bot_token": "xoxb-test-token", "channel": "C0TEST", "signing_secret": SIGNING_SECRET },
        "pagerduty": { "routing_key": "R0UTINGKEY0123456789ABCDEF012345" },
    });
    let (code, view) = app.patch("/v1/org/notifications", &management, &settings).await;
    assert_eq!(code, StatusCode::OK, "{view}");
    assert_eq!((view["slack"]["mode"].as_str(), view["slack"]["channel"].as_str()), (Some("bot"), Some("C0TEST")));
    assert_eq!(view["slack_interactions_url"], format!("{}/integrations/slack/{org}/interactions", app.public_url()));
    let (_, read) = app.get("/v1/org/notifications", &management).await;
    for secret in ["xoxb-test-token", SIGNING_SECRET, "R0UTINGKEY"] {
        assert!(!read.to_string().contains(secret) && !view.to_string().contains(secret), "{secret} is never shown");
    }

    // A new approval is posted as a Block Kit message with approve and deny buttons.
    let first = ask(&app, &agent, "send_email", "Send the <!channel> report & close", 600).await;
    let posted = fake.wait_for(POST, 1, WAIT).await.remove(0);
    assert_eq!(posted.header("authorization"), "Bearer xoxb-test-token");
    assert_eq!(posted.body["channel"], "C0TEST");
    assert_eq!(headline(&posted), "Approval needed: send_email");
    assert_block_kit(&posted.body["blocks"]);
    let buttons = actions(&posted).unwrap()["elements"].as_array().unwrap();
    assert_eq!(
        buttons.iter().map(|b| (b["action_id"].as_str().unwrap(), b["value"].as_str().unwrap())).collect::<Vec<_>>(),
        [("oakallow_approve", first.as_str()), ("oakallow_deny", first.as_str())]
    );
    let text = posted.body.to_string();
    assert!(text.contains("Send the &lt;!channel&gt; report &amp; close") && !text.contains("<!channel>"), "outside text cannot ping");
    assert!(text.contains("tenant_42") && text.contains(r#"Params: {\"n\":3,\"to\":\"[REDACTED:email]\"}"#), "tenant and params: {text}");
    assert!(!text.contains("ops@example.com"), "the org redacts personal data, in Slack too");

    // The signature: what slack_sdk signs, we accept; what we sign, slack_sdk accepts.
    let now = app.now().unix_seconds();
    let unlinked = click_body("U0ANN", "oakallow_approve", &first, &fake);
    let ours = slack::sign(SIGNING_SECRET, now, unlinked.as_bytes());
    assert_eq!(ours, sdk_signature(now, &unlinked), "both make the same signature");
    assert!(sdk_accepts(now, &unlinked, &ours));
    assert!(!sdk_accepts(now, &unlinked.replace("approve", "deny"), &ours), "slack_sdk refuses it for another body");
    assert_eq!(send_click(&app, &org, &unlinked.replace("U0ANN", "U0BOB"), now, Some(&ours)).await, StatusCode::BAD_REQUEST);
    assert_eq!(send_click(&app, &org, &unlinked, now - 301, None).await, StatusCode::BAD_REQUEST, "a stale click");
    assert_eq!(send_click(&app, "org_01JZZZZZZZZZZZZZZZZZZZZZZZ", &unlinked, now, None).await, StatusCode::NOT_FOUND);
    assert!(fake.calls(RESPONSES).is_empty(), "refused requests are not answered in Slack");
    assert_eq!(status(&app, &agent, &first).await, "pending");

    // An unlinked Slack user decides nothing, and is told how to link.
    assert_eq!(send_click(&app, &org, &unlinked, now, None).await, StatusCode::OK);
    let answer = fake.wait_for(RESPONSES, 1, WAIT).await.remove(0);
    assert_eq!((answer.body["response_type"].as_str(), answer.body["replace_original"].as_bool()), (Some("ephemeral"), Some(false)));
    let said = answer.body["text"].as_str().unwrap();
    assert!(said.contains("not linked"), "{said}");
    assert_eq!(status(&app, &agent, &first).await, "pending", "an unlinked user cannot decide");

    // The link it offers, opened by the signed-in owner, links U0ANN to them.
    let offer = said.split('<').nth(1).unwrap().split('|').next().unwrap();
    let path = offer.strip_prefix(&app.public_url()).unwrap();
    let tampered = path.replace("user=U0ANN", "user=U0EVE");
    web.get(&tampered, StatusCode::BAD_REQUEST).await;
    let stranger = WebClient::new(&app.base);
    let page = stranger.get(path, StatusCode::SEE_OTHER).await;
    assert!(page.location.unwrap().starts_with("/sign-in"), "a link is made signed in");
    let page = web.get(path, StatusCode::OK).await;
    assert!(page.shows("Link to my account"));
    let fields = [("_csrf", page.csrf()), ("team", "T0TEAM".into()), ("user", "U0ANN".into())];
    let query: Vec<(String, String)> = url::form_urlencoded::parse(path.split('?').nth(1).unwrap().as_bytes()).into_owned().collect();
    let find = |name: &str| query.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let mut fields: Vec<(&str, String)> = fields.into_iter().collect();
    fields.push(("expires", find("expires")));
    fields.push(("sig", find("sig")));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    web.post_raw(&format!("/orgs/{org}/slack/link"), &fields, StatusCode::SEE_OTHER).await;
    let (_, view) = app.get("/v1/org/notifications", &management).await;
    assert_eq!(view["slack_links"][0]["user_id"], "U0ANN");
    assert_eq!(view["slack_links"][0]["account_id"], owner.account.id.to_string());

    // Now the click decides as the owner, and the message is updated in place.
    let now = app.now().unix_seconds();
    assert_eq!(send_click(&app, &org, &unlinked, now, None).await, StatusCode::OK);
    assert_eq!(status(&app, &agent, &first).await, "approved");
    let (_, approval) = app.get(&format!("/v1/approvals/{first}"), &agent).await;
    assert_eq!(approval["decided_by"], owner.account.id.to_string(), "decided as the linked account");
    let updated = fake.wait_for(UPDATE, 1, WAIT).await.remove(0);
    let answer = posted.body["channel"].as_str().unwrap();
    assert_eq!(updated.body["channel"], answer);
    assert_eq!(updated.body["ts"], "1700000000.000001", "the posted message is the one updated");
    assert_eq!(headline(&updated), "Approved: send_email");
    assert!(actions(&updated).is_none(), "no buttons once decided");
    assert!(updated.body.to_string().contains("Decided by Ada Lovelace"));
    assert_block_kit(&updated.body["blocks"]);
    assert_eq!(send_click(&app, &org, &unlinked, now, None).await, StatusCode::OK);
    let again = fake.wait_for(RESPONSES, 2, WAIT).await.remove(1);
    assert!(again.body["text"].as_str().unwrap().contains("approved already"), "{}", again.body);

    // A critical-risk tool: no buttons, a link to the dashboard; a forged click decides nothing.
    let critical = ask(&app, &agent, "drop_database", "Clean up", 600).await;
    let posted = fake.wait_for(POST, 2, WAIT).await.remove(1);
    assert_block_kit(&posted.body["blocks"]);
    let elements = actions(&posted).unwrap()["elements"].as_array().unwrap();
    assert_eq!(elements.len(), 1);
    assert_eq!((elements[0]["action_id"].as_str(), elements[0]["value"].as_str()), (Some("oakallow_open"), None));
    assert_eq!(elements[0]["url"], format!("{}/orgs/{org}/approvals/{critical}", app.public_url()));
    let paged = fake.wait_for(PAGERDUTY, 1, WAIT).await.remove(0);
    assert_eq!(
        (paged.body["routing_key"].as_str(), paged.body["event_action"].as_str(), paged.body["dedup_key"].as_str()),
        (Some("R0UTINGKEY0123456789ABCDEF012345"), Some("trigger"), Some(format!("oakallow-{critical}").as_str()))
    );
    assert_eq!(paged.body["payload"]["severity"], "critical");
    let forged = click_body("U0ANN", "oakallow_approve", &critical, &fake);
    assert_eq!(send_click(&app, &org, &forged, now, None).await, StatusCode::OK);
    let told = fake.wait_for(RESPONSES, 3, WAIT).await.remove(2);
    assert!(told.body["text"].as_str().unwrap().contains("critical-risk"), "{}", told.body);
    assert_eq!(status(&app, &agent, &critical).await, "pending", "a critical tool is not decided from Slack");
    assert_eq!(fake.calls(PAGERDUTY).len(), 1, "only critical-risk approvals page, once each");

    // Cancelled: the message says so and the incident is resolved.
    let (code, _) = app.post(&format!("/v1/approvals/{critical}/cancel"), &agent, &json!({})).await;
    assert_eq!(code, StatusCode::OK);
    let updated = fake.wait_for(UPDATE, 2, WAIT).await.remove(1);
    assert_eq!((headline(&updated), updated.body["ts"].as_str()), ("Cancelled: drop_database", Some("1700000000.000002")));
    let resolved = fake.wait_for(PAGERDUTY, 2, WAIT).await.remove(1);
    assert_eq!(
        (resolved.body["event_action"].as_str(), resolved.body["dedup_key"].as_str()),
        (Some("resolve"), Some(format!("oakallow-{critical}").as_str()))
    );

    // Expired: updated when the sweeper marks it.
    let expiring = ask(&app, &agent, "send_email", "Soon gone", 60).await;
    fake.wait_for(POST, 3, WAIT).await;
    app.advance(61);
    let updated = fake.wait_for(UPDATE, 3, WAIT).await.remove(2);
    assert_eq!((headline(&updated), updated.body["ts"].as_str()), ("Expired: send_email", Some("1700000000.000003")));
    assert_eq!(status(&app, &agent, &expiring).await, "expired");

    // Every delivery went through the outbox, named without secrets.
    let (_, deliveries) = app.get("/v1/webhooks/deliveries?limit=100", &management).await;
    let deliveries = deliveries["data"].as_array().unwrap();
    assert!(deliveries.iter().all(|d| d["status"] == "delivered"), "{deliveries:?}");
    let channels: std::collections::BTreeSet<&str> = deliveries.iter().map(|d| d["channel"].as_str().unwrap()).collect();
    assert_eq!(channels.into_iter().collect::<Vec<_>>(), ["pagerduty", "slack"]);
    assert!(!serde_json::to_string(deliveries).unwrap().contains("xoxb-"), "no secret in the log");

    // Unlinked again, the same Slack user decides nothing.
    let (code, _) = app.delete("/v1/org/notifications/slack-links/T0TEAM/U0ANN", &management).await;
    assert_eq!(code, StatusCode::NO_CONTENT);
    let other = ask(&app, &agent, "send_email", "One more", 600).await;
    let now = app.now().unix_seconds();
    assert_eq!(send_click(&app, &org, &click_body("U0ANN", "oakallow_deny", &other, &fake), now, None).await, StatusCode::OK);
    let told = fake.wait_for(RESPONSES, 4, WAIT).await.remove(3);
    assert!(told.body["text"].as_str().unwrap().contains("not linked"));
    assert_eq!(status(&app, &agent, &other).await, "pending");
}

/// With an incoming webhook instead of a bot token, each change is posted as a new message (an
/// incoming webhook cannot update one), through the same outbox.
#[tokio::test]
#[cfg_attr(not(python_slack_sdk), ignore = "needs the slack_sdk Python package: pip install slack_sdk")]
async fn an_incoming_webhook_gets_each_change_as_a_new_message() {
    let fake = FakeSlack::start().await;
    let mut options = TestOptions::new(Backend::Sqlite).empty();
    options.config.channels.slack_api_url = format!("{}/api", fake.base);
    let app = TestApp::start_with(options).await;
    let (web, org) = operator(&app).await;
    let owner = member_of(&app, &web, &org).await;
    let agent = standard_key(&app, &owner).await;
    tool(&app, &owner, "send_email", "medium", false).await;
    let hook = "/hooks/services/T0TEAM/B0HOOK/secretpart";
    let slack = json!({ "webhook_url": format!("{}{hook}", fake.base), "signing_secret": SIGNING_SECRET });
    let patch = oakallow_service::notify::ChannelsPatch { slack: Some(Some(serde_json::from_value(slack).unwrap())), ..Default::default() };
    let view = app.service.update_notification_channels(&owner.management().unwrap(), patch).await.unwrap();
    assert_eq!((view.slack.as_ref().unwrap().mode, view.slack.as_ref().unwrap().channel.as_deref()), ("webhook", None));

    let id = ask(&app, &agent, "send_email", "Weekly digest", 600).await;
    let posted = fake.wait_for(hook, 1, WAIT).await.remove(0);
    assert_eq!(headline(&posted), "Approval needed: send_email");
    assert_eq!(posted.header("authorization"), "", "an incoming webhook takes no token");
    assert_block_kit(&posted.body["blocks"]);
    assert_eq!(actions(&posted).unwrap()["elements"][0]["value"], id.as_str());

    let (code, _) = app.post(&format!("/v1/approvals/{id}/cancel"), &agent, &json!({})).await;
    assert_eq!(code, StatusCode::OK);
    let changed = fake.wait_for(hook, 2, WAIT).await.remove(1);
    assert_eq!(headline(&changed), "Cancelled: send_email");
    assert!(actions(&changed).is_none());
    assert!(fake.calls(POST).is_empty() && fake.calls(UPDATE).is_empty(), "the Web API is not used");
    let (_, deliveries) = app.get("/v1/webhooks/deliveries", &owner_key(&app, &owner).await).await;
    let urls: Vec<&str> = deliveries["data"].as_array().unwrap().iter().map(|d| d["url"].as_str().unwrap()).collect();
    assert_eq!(urls, ["slack:incoming-webhook", "slack:incoming-webhook"], "the log names it without its secret URL");
}

/// A new management key of `owner`'s org.
async fn owner_key(app: &TestApp, owner: &oakallow_service::people::OrgMember) -> String {
    let request = serde_json::from_value(json!({ "name": "admin", "tier": "management" })).unwrap();
    app.service.create_key(&owner.management().unwrap(), request).await.unwrap().key
}
