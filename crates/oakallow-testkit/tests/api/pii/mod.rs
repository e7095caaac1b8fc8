//! Nothing personal is stored or sent when an org redacts: two orgs on one server and database
//! drive every endpoint that accepts text, from every tier, with planted personal data (in
//! values, keys, numbers, nested); then every stored column of every table, the raw database
//! files and every webhook body are searched, and so are the answers that quote what was sent
//! (validation errors). The redacting org's values are found nowhere; the control org's
//! (`redact_pii: false`) are all found, which proves the search sees stored text.

mod plant;
mod scenario;
mod stored;

use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{Backend, TestApp, TestOptions};

use plant::Plant;
use scenario::Run;

/// Where each needle occurs in `haystacks`: `(place planted, needle, where found)`.
fn occurrences(needles: &[(String, String)], haystacks: &[(String, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (planted, needle) in needles {
        for (place, text) in haystacks {
            if text.contains(needle.as_str()) {
                found.push(format!("{needle:?} (planted in {planted}) found in {place}"));
            }
        }
    }
    found
}

fn bodies(receiver: &Receiver) -> Vec<(String, String)> {
    receiver
        .received()
        .iter()
        .map(|r| (format!("webhook {}", r.header("x-oakallow-event")), String::from_utf8_lossy(&r.body).into_owned()))
        .collect()
}

async fn nothing_personal_is_stored(backend: Backend) {
    let app = TestApp::start_with(TestOptions::new(backend)).await;
    let control_keys = app.another_org("control@example.com").await;
    let (redacting_hooks, control_hooks) = (Receiver::start().await, Receiver::start().await);
    let mut redacting = Run { app: &app, keys: &app.keys, plant: Plant::new(1), redact: true };
    redacting.everything(&redacting_hooks).await;
    let mut control = Run { app: &app, keys: &control_keys, plant: Plant::new(2), redact: false };
    control.everything(&control_hooks).await;

    let stored: Vec<(String, String)> = stored::everything(&app).await.into_iter().map(|s| (s.place, s.text)).collect();
    let leaks = occurrences(&redacting.plant.needles, &stored);
    assert!(leaks.is_empty(), "{} personal values stored:\n{}", leaks.len(), leaks.join("\n"));
    let sent = occurrences(&redacting.plant.needles, &bodies(&redacting_hooks));
    assert!(sent.is_empty(), "{} personal values sent:\n{}", sent.len(), sent.join("\n"));
    for (file, bytes) in stored::raw_files(&app) {
        let raw = vec![(file, String::from_utf8_lossy(&bytes).into_owned())];
        let leaks = occurrences(&redacting.plant.needles, &raw);
        assert!(leaks.is_empty(), "{} personal values in the raw files:\n{}", leaks.len(), leaks.join("\n"));
    }

    let everywhere: Vec<(String, String)> = stored.into_iter().chain(bodies(&control_hooks)).collect();
    let unseen: Vec<&(String, String)> =
        control.plant.kept().filter(|(_, n)| !everywhere.iter().any(|(_, t)| t.contains(n.as_str()))).collect();
    assert!(unseen.is_empty(), "the search does not see the control org's {unseen:?}");
}

#[tokio::test]
async fn nothing_personal_is_stored_or_sent_when_the_org_redacts_sqlite() {
    nothing_personal_is_stored(Backend::Sqlite).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn nothing_personal_is_stored_or_sent_when_the_org_redacts_postgres() {
    nothing_personal_is_stored(Backend::Postgres).await;
}
