//! Deleting an account (issue 11, "Must show" 4): from its account page, its orgs' keys answer
//! 401 on every node, its email and name are gone from every table and from the SQLite files,
//! and its ledger and its orgs' activity chains still verify. And what deletion refuses.

use std::time::Duration;

use oakallow_domain::approval::Verdict;
use oakallow_domain::id::OrgId;
use oakallow_service::config::SignUpMode;
use oakallow_testkit::{Backend, TestApp, TestOptions, WebClient, wait_until};
use reqwest::StatusCode;

use super::ops::{ask, member_of, standard_key, tool};
use super::{PASSWORD, operator, org_of};

const EMAIL: &str = "zed.erasable@example.com";
const NAME: &str = "Zed Quasimodo-Erasable";

/// An instance where anyone may sign up, its operator already signed up.
async fn open_app(backend: Backend) -> TestApp {
    let mut options = TestOptions::new(backend).empty();
    options.config.accounts.sign_up = SignUpMode::Open;
    let app = TestApp::start_with(options).await;
    let _ = operator(&app).await;
    app
}

/// Every text of every column of every table holding `needle`, as `table.column`.
async fn tables_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(file) = app.database.sqlite_file() {
        let db = rusqlite::Connection::open(file).unwrap();
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for table in tables {
            let columns: Vec<String> = db
                .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
                .unwrap()
                .query_map([], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            for column in columns {
                let sql = format!("SELECT count(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS TEXT), ?1) > 0");
                let count: i64 = db.query_row(&sql, [needle], |row| row.get(0)).unwrap();
                if count > 0 {
                    found.push(format!("{table}.{column}"));
                }
            }
        }
    } else {
        use sqlx::{Connection, Row};
        let mut db = sqlx::PgConnection::connect(app.database.postgres_url().unwrap()).await.unwrap();
        let columns =
            sqlx::query("SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = current_schema()")
                .fetch_all(&mut db)
                .await
                .unwrap();
        assert!(columns.len() > 50, "the test sees oakallow's schema");
        for row in columns {
            let (table, column): (String, String) = (row.get(0), row.get(1));
            let sql = format!("SELECT count(*) FROM \"{table}\" WHERE strpos(\"{column}\"::text, $1) > 0");
            let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(needle).fetch_one(&mut db).await.unwrap();
            if count > 0 {
                found.push(format!("{table}.{column}"));
            }
        }
    }
    found
}

/// Whether any of the SQLite database's files holds `needle`'s bytes.
fn files_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let file = app.database.sqlite_file().unwrap();
    let dir = file.parent().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
            found.push(path.display().to_string());
        }
    }
    found
}

/// Signs up the account under test with its own org, and uses it: a key, a check, a tool made
/// and an approval decided from the dashboard, a failed sign-in. Answers its browser, its org
/// and the key.
async fn a_used_account(app: &TestApp) -> (WebClient, String, String) {
    let web = WebClient::new(&app.base);
    let org = org_of(web.sign_up(EMAIL, NAME, PASSWORD).await.location.as_deref().unwrap());
    let zed = member_of(app, &web, &org).await;
    let key = standard_key(app, &zed).await;
    tool(app, &zed, "wire", "high", false).await;
    let approval = ask(app, &key, "wire", "pay the supplier").await;
    let decided = app.service.decide_as_member(&zed, approval["id"].as_str().unwrap(), Verdict::Approved, Some("fine".into())).await;
    assert_eq!(decided.unwrap().decided_by.as_deref(), Some(zed.account.id.to_string().as_str()), "recorded by account id");
    assert_ne!(app.check_with(&key).await, StatusCode::UNAUTHORIZED);
    let stranger = WebClient::new(&app.base);
    stranger.submit("/sign-in", "/sign-in", &[("email", EMAIL), ("password", "not the password")], StatusCode::UNAUTHORIZED).await;
    assert!(!tables_holding(app, EMAIL).await.is_empty(), "the probe finds the email before");
    assert!(!tables_holding(app, NAME).await.is_empty(), "and the name");
    (web, org, key)
}

async fn deleting_erases_the_account_everywhere(app: TestApp, other_node: Option<TestApp>) {
    let (web, org, key) = a_used_account(&app).await;
    let account = app.store.account_by_email(EMAIL).await.unwrap().unwrap();
    let org_id: OrgId = org.parse().unwrap();
    let ledger = app.store.ledger(account.id, None, 100).await.unwrap();
    if let Some(node) = &other_node {
        assert_ne!(node.check_with(&key).await, StatusCode::UNAUTHORIZED, "the other node knows the key");
    }

    let done = web.submit("/account", "/account/delete", &[("password", PASSWORD), ("confirm", "delete")], StatusCode::SEE_OTHER).await;
    assert_eq!(done.location.as_deref(), Some("/sign-in"));

    assert_eq!(app.check_with(&key).await, StatusCode::UNAUTHORIZED, "its keys answer 401 here at once");
    if let Some(node) = &other_node {
        // The other node hears of the revocation through the database's announcement.
        wait_until("the other node refuses the key", Duration::from_secs(10), async || {
            node.check_with(&key).await == StatusCode::UNAUTHORIZED
        })
        .await;
    }
    assert_eq!(web.get("/account", StatusCode::SEE_OTHER).await.location.as_deref(), Some("/sign-in?next=%2Faccount"), "signed out");
    let again = WebClient::new(&app.base);
    again.submit("/sign-in", "/sign-in", &[("email", EMAIL), ("password", PASSWORD)], StatusCode::UNAUTHORIZED).await;

    assert_eq!(tables_holding(&app, EMAIL).await, Vec::<String>::new(), "the email is in no table");
    assert_eq!(tables_holding(&app, NAME).await, Vec::<String>::new(), "nor the name");
    if app.database.sqlite_file().is_some() {
        assert_eq!(files_holding(&app, EMAIL), Vec::<String>::new(), "nor anywhere in the database files");
        assert_eq!(files_holding(&app, NAME), Vec::<String>::new());
    }
    let chain = app.store.verify_chain(org_id).await.unwrap();
    assert!(chain.first_broken.is_none() && chain.entries > 3, "the chain still verifies: {chain:?}");
    // (Checks the other node answered before it heard of the revocation were billed as usual.)
    let kept = app.store.ledger(account.id, None, 100).await.unwrap();
    assert!(ledger.iter().all(|row| kept.contains(row)), "the ledger is kept");
    let credit = app.store.credit_state(account.id, app.now()).await.unwrap();
    assert_eq!(credit.balance, kept.iter().map(|row| row.amount).sum::<i64>(), "and still adds up");
    let keys = app.store.list_keys(org_id, None, 100).await.unwrap();
    assert!(!keys.is_empty() && keys.iter().all(|k| k.revoked_at.is_some()), "every key of its org is revoked");
}

#[tokio::test]
async fn deleting_an_account_erases_it_everywhere_sqlite() {
    deleting_erases_the_account_everywhere(open_app(Backend::Sqlite).await, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn deleting_an_account_erases_it_everywhere_and_every_node_refuses_its_keys_postgres() {
    let mut options = TestOptions::new(Backend::Postgres).empty();
    options.config.accounts.sign_up = SignUpMode::Open;
    let config = options.config.clone();
    let app = TestApp::start_with(options).await;
    let _ = operator(&app).await;
    let other = app.another_node(config).await;
    deleting_erases_the_account_everywhere(app, Some(other)).await;
}

#[tokio::test]
async fn deletion_refuses_a_wrong_password_a_shared_org_and_the_operator() {
    let app = open_app(Backend::Sqlite).await;
    let (web, org, key) = a_used_account(&app).await;
    let zed = member_of(&app, &web, &org).await;

    let wrong =
        web.submit("/account", "/account/delete", &[("password", "not the password"), ("confirm", "delete")], StatusCode::SEE_OTHER).await;
    assert_eq!(wrong.location.as_deref(), Some("/account"));
    assert!(web.get("/account", StatusCode::OK).await.shows("The password is not right."));
    let unconfirmed = web.submit("/account", "/account/delete", &[("password", PASSWORD), ("confirm", "yes")], StatusCode::SEE_OTHER).await;
    assert_eq!(unconfirmed.location.as_deref(), Some("/account"));
    assert!(web.get("/account", StatusCode::OK).await.shows("Type delete to confirm."));

    // Someone else joins the org Zed pays for: deleting would strand them.
    let _grace = super::ops::invited(&app, &zed, "grace@example.com", oakallow_domain::account::Role::Member, Default::default()).await;
    web.submit("/account", "/account/delete", &[("password", PASSWORD), ("confirm", "delete")], StatusCode::SEE_OTHER).await;
    assert!(web.get("/account", StatusCode::OK).await.shows("which has other members"), "still signed in, told why");
    assert_ne!(app.check_with(&key).await, StatusCode::UNAUTHORIZED, "nothing was revoked");
    assert!(app.store.account_by_email(EMAIL).await.unwrap().is_some());

    let ada = app.store.account_by_email("ada@example.com").await.unwrap().unwrap();
    let refused = app.service.delete_account_by_email("ada@example.com").await;
    assert!(refused.is_err_and(|e| e.to_string().contains("operator")), "the operator's account stays");
    assert_eq!(app.store.account(ada.id).await.unwrap().map(|a| a.email), Some("ada@example.com".to_owned()));
}

#[tokio::test]
async fn a_disabled_account_cannot_sign_in_until_enabled() {
    let app = open_app(Backend::Sqlite).await;
    let (web, _org, key) = a_used_account(&app).await;
    app.service.disable_account(EMAIL).await.unwrap();
    assert_eq!(web.get("/account", StatusCode::SEE_OTHER).await.location.as_deref(), Some("/sign-in?next=%2Faccount"), "signed out");
    let refused =
        WebClient::new(&app.base).submit("/sign-in", "/sign-in", &[("email", EMAIL), ("password", PASSWORD)], StatusCode::FORBIDDEN).await;
    assert!(refused.shows("disabled"), "{}", refused.body);
    assert_ne!(app.check_with(&key).await, StatusCode::UNAUTHORIZED, "its orgs' keys keep working");
    app.service.enable_account(EMAIL).await.unwrap();
    WebClient::new(&app.base).sign_in(EMAIL, PASSWORD).await;
}
