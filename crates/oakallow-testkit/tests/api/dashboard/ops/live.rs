//! The live queue: server-sent events that carry the pending list, sent at once and again when
//! an approval changes; ending when the session is signed out and when the server stops.

use std::time::Duration;

use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient};
use reqwest::StatusCode;

use super::{ask, member_of, standard_key, token};
use crate::dashboard::operator;

/// Longest wait for one event (a deadline for a hung test, not a timing claim).
const DEADLINE: Duration = Duration::from_secs(20);

/// A live stream read as a browser's `EventSource` would.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, web: &WebClient, org: &str) -> Self {
        let response = reqwest::Client::new()
            .get(format!("{}/orgs/{org}/approvals/live", app.base))
            .header("cookie", format!("oak_session={}", web.cookie("oak_session").unwrap()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, buffer: String::new() }
    }

    /// The data of the next `approvals` event; `None` once the stream has ended. Keep-alive
    /// comments do not count: the next event (or the end) must come within [`DEADLINE`].
    async fn next(&mut self) -> Option<String> {
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if block.lines().any(|line| line == "event: approvals") {
                    let data: Vec<&str> = block.lines().filter_map(|line| line.strip_prefix("data: ")).collect();
                    return Some(data.join("\n"));
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await.expect("an event or the end of the stream") {
                Ok(Some(bytes)) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

#[tokio::test]
async fn the_stream_sends_the_list_at_once_then_each_new_approval() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let owner = member_of(&app, &ada, &org).await;
    let key = standard_key(&app, &owner).await;
    let mut events = Events::open(&app, &ada, &org).await;
    let first = events.next().await.unwrap();
    assert!(first.contains("No approvals are waiting"), "{first}");

    // Another org's approval does not concern this stream; this org's next one does.
    let theirs = app.another_org("grace@example.com").await;
    let other = ask(&app, &theirs.standard, "refund", "Theirs").await;
    let approval = ask(&app, &key, "refund", "Ours").await;
    let (id, reference) = (approval["id"].as_str().unwrap(), approval["reference"].as_str().unwrap());
    let update = loop {
        let data = events.next().await.unwrap();
        if data.contains(reference) {
            break data;
        }
    };
    assert!(update.contains(reference) && update.contains(&format!("id=\"decide-{id}\"")), "{update}");
    assert!(!update.contains(other["reference"].as_str().unwrap()));
    // The page shows the same fragment, to the byte.
    let page = ada.get(&format!("/orgs/{org}/approvals"), StatusCode::OK).await;
    assert!(page.body.contains(&update), "page:\n{}\nevent:\n{update}", page.body);
}

#[tokio::test]
async fn a_signed_out_sessions_stream_ends() {
    let app = crate::dashboard::empty_app().await;
    let (ada, org) = operator(&app).await;
    let key = standard_key(&app, &member_of(&app, &ada, &org).await).await;
    let mut events = Events::open(&app, &ada, &org).await;
    events.next().await.unwrap();
    let token = token(&ada, &org).await;
    ada.post_raw("/sign-out", &[("_csrf", token.as_str())], StatusCode::SEE_OTHER).await;
    let approval = ask(&app, &key, "refund", "After sign-out").await;
    let reference = approval["reference"].as_str().unwrap();
    while let Some(data) = events.next().await {
        assert!(!data.contains(reference), "a signed-out session must not receive the queue");
    }
}

#[tokio::test]
async fn the_stream_ends_when_the_server_stops() {
    let mut options = TestOptions::new(Backend::Sqlite).empty();
    // Were the stream to outlive the stop, shutdown would wait this long for it.
    options.connections.shutdown_timeout = Duration::from_secs(600);
    let app = TestApp::start_with(options).await;
    let (ada, org) = operator(&app).await;
    let mut events = Events::open(&app, &ada, &org).await;
    events.next().await.unwrap();
    tokio::time::timeout(DEADLINE, app.stop()).await.expect("the server stops without waiting for the stream");
    assert_eq!(events.next().await, None);
}
