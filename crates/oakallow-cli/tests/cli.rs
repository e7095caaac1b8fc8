//! The `oakallow` binary itself: bootstrap's JSON, serve answering health and stopping cleanly on
//! SIGTERM, `apply` sending a YAML policy, and the same on PostgreSQL.

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::path::Path;

use serde_json::Value;
use support::{Server, admin_accounts, bootstrap, oakallow, stdout_of};

async fn exercise(server: &Server, keys: &Value, dir: &Path) {
    let http = reqwest::Client::new();
    let health: Value = http.get(format!("{}/v1/health", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok");

    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, "tools:\n  - name: deploy\n    approved: true\nrules:\n  - tool: deploy\n    permission: requires_approval\n")
        .unwrap();
    let output =
        oakallow(&["apply", "-f", policy.to_str().unwrap(), "--url", &server.base, "--key", keys["management_key"].as_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let applied: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(applied["applied"], true);

    let check: Value = http
        .post(format!("{}/v1/check", server.base))
        .header("X-API-Key", keys["standard_key"].as_str().unwrap())
        .json(&serde_json::json!({"tool": "deploy"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((check["permission"].as_str(), check["resolved_from"].as_str()), (Some("requires_approval"), Some("org_tool")));
}

#[tokio::test]
async fn bootstrap_serve_apply_and_stop_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "Owner@Example.com");
    let mut fields: Vec<&str> = keys.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["account_id", "approver_key", "management_key", "org_id", "standard_key"]);
    assert!(keys["management_key"].as_str().unwrap().starts_with("oak_live_"));
    let again = bootstrap(&database, "owner@example.com");
    assert_eq!((&again["account_id"], &again["org_id"]), (&keys["account_id"], &keys["org_id"]), "the same account and org");
    assert_ne!(again["standard_key"], keys["standard_key"], "new keys every time");

    // The bootstrapped account gets a dashboard password (from standard input only).
    let mut args = vec!["admin", "set-password", "--email", "owner@example.com"];
    args.extend_from_slice(&database);
    let output = support::oakallow_with_stdin(&args, "a long enough password\n");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut args = vec!["admin", "set-password", "--email", "owner@example.com"];
    args.extend_from_slice(&database);
    let short = support::oakallow_with_stdin(&args, "short\n");
    assert!(!short.status.success() && String::from_utf8_lossy(&short.stderr).contains("at least 10"), "too short is refused");

    let server = Server::start(&database, &[]);
    exercise(&server, &keys, dir.path()).await;
    let web = oakallow_testkit::WebClient::new(&server.base);
    let signed_in = web.sign_in("owner@example.com", "a long enough password").await;
    assert_eq!(signed_in.location.as_deref(), Some("/"), "the bootstrapped account signs in");
    let home = web.get("/", reqwest::StatusCode::SEE_OTHER).await;
    assert_eq!(home.location, Some(format!("/orgs/{}/", keys["org_id"].as_str().unwrap())), "into its bootstrapped org");
    assert!(server.stop().success(), "a clean exit on SIGTERM");
    assert!(data.join("oakallow.db").exists());

    // The data survives a restart.
    let server = Server::start(&database, &[]);
    let (_, body) = {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/tools", server.base))
            .header("X-API-Key", keys["management_key"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(body["data"][0]["name"], "deploy");
    assert!(server.stop().success());
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn bootstrap_serve_and_apply_on_postgres() {
    let url = oakallow_testkit::new_schema_url().await;
    let dir = tempfile::tempdir().unwrap();
    let database = ["--database-url", url.as_str()];
    let output = oakallow(&["migrate", "--database-url", &url]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let keys = bootstrap(&database, "pg@example.com");
    let server = Server::start(&database, &[]);
    exercise(&server, &keys, dir.path()).await;
    assert!(server.stop().success());
}

#[test]
fn version_and_openapi() {
    let output = oakallow(&["version"]);
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), format!("oakallow {}", env!("CARGO_PKG_VERSION")));
    let output = oakallow(&["openapi"]);
    let document: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document, serde_json::to_value(oakallow_server::openapi()).unwrap());
    let output = oakallow(&["serve", "--data-dir", "x", "--database-url", "postgres://y"]);
    assert!(!output.status.success(), "conflicting flags are refused");
}

#[test]
fn credits_grant_and_set_on_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    bootstrap(&database, "payer@example.com");
    let credits = |args: &[&str]| {
        let mut all = vec!["credits"];
        all.extend_from_slice(args);
        all.extend_from_slice(&database);
        let output = oakallow(&all);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    assert_eq!(credits(&["grant", "--account", "payer@example.com", "--usd", "1"])["balance_calls"], 1200, "$5 free + $1");
    assert_eq!(credits(&["grant", "--account", "payer@example.com", "--calls", "10"])["balance_calls"], 1210);
    let set = credits(&["set", "--account", "payer@example.com", "--calls", "3"]);
    assert_eq!((set["balance_calls"].as_i64(), set["balance_microusd"].as_i64()), (Some(3), Some(15_000)));
    let refused = oakallow(&["credits", "grant", "--account", "nobody@example.com", "--calls", "1", "--data-dir", data.to_str().unwrap()]);
    assert!(!refused.status.success(), "an unknown account is an error");
    let refused = oakallow(&["credits", "grant", "--account", "payer@example.com", "--usd", "-5", "--data-dir", data.to_str().unwrap()]);
    assert!(!refused.status.success(), "a negative grant is an error");
}

#[test]
fn admin_accounts_disable_enable_and_delete_in_both_output_modes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let first = bootstrap(&database, "first@example.com");
    let second = bootstrap(&database, "second@example.com");
    let run = |args: &[&str]| admin_accounts(args, &database);
    let json = |args: &[&str]| -> Value { serde_json::from_str(&stdout_of(run(args))).unwrap() };

    let disabled = json(&["disable", "--email", "second@example.com", "--json"]);
    assert_eq!((disabled["id"].clone(), disabled["status"].as_str()), (second["account_id"].clone(), Some("disabled")));
    assert!(json(&["show", "--email", "second@example.com", "--json"])["disabled_at"].is_string());
    assert!(stdout_of(run(&["show", "--email", "second@example.com"])).contains("status          disabled "));
    let enabled = stdout_of(run(&["enable", "--email", "second@example.com"]));
    assert!(enabled.contains("is enabled"), "{enabled}");
    let shown = json(&["show", "--email", "second@example.com", "--json"]);
    assert!(shown["disabled_at"].is_null() && shown["deleted_at"].is_null(), "{shown}");
    assert!(stdout_of(run(&["disable", "--email", "first@example.com"])).contains("is disabled"));

    let unconfirmed = run(&["delete", "--email", "second@example.com"]);
    assert!(!unconfirmed.status.success() && String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"), "needs --yes");
    assert!(json(&["show", "--email", "second@example.com", "--json"])["deleted_at"].is_null(), "nothing was deleted");
    let deleted = json(&["delete", "--email", "second@example.com", "--yes", "--json"]);
    assert_eq!(deleted["id"], second["account_id"]);
    assert_eq!(deleted["orgs"], serde_json::json!([second["org_id"]]));
    assert_eq!(deleted["revoked_keys"], 3, "the bootstrapped management, standard and approver keys");
    let gone = run(&["show", "--email", "second@example.com"]);
    assert!(!gone.status.success() && String::from_utf8_lossy(&gone.stderr).contains("account not found"), "its email is erased");
    let listed = json(&["list", "--json"]);
    let erased = format!("deleted:{}", second["account_id"].as_str().unwrap());
    assert_eq!(listed[1]["email"].as_str(), Some(erased.as_str()));
    assert_eq!(listed[1]["name"], "Deleted account");

    let third = bootstrap(&database, "third@example.com");
    let said = stdout_of(run(&["delete", "--email", "third@example.com", "--yes"]));
    let expected = format!("account {} is deleted: 3 keys of 1 org revoked", third["account_id"].as_str().unwrap());
    assert!(said.starts_with(&expected), "{said}");
    let operator = run(&["delete", "--email", "first@example.com", "--yes"]);
    assert!(
        !operator.status.success() && String::from_utf8_lossy(&operator.stderr).contains("operator"),
        "the first account runs the instance"
    );
    assert!(json(&["show", "--email", "first@example.com", "--json"])["deleted_at"].is_null());
    assert_eq!(first["account_id"], json(&["show", "--email", "first@example.com", "--json"])["id"]);
    let missing = run(&["delete", "--email", "nobody@example.com", "--yes"]);
    assert!(!missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("account not found"));
}

#[test]
fn admin_accounts_list_and_show_in_both_output_modes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let first = bootstrap(&database, "first@example.com");
    let second = bootstrap(&database, "second@example.com");
    let run = |args: &[&str]| admin_accounts(args, &database);

    let listed: Value = serde_json::from_str(&stdout_of(run(&["list", "--json"]))).unwrap();
    let emails: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["first@example.com", "second@example.com"], "oldest first");
    assert_eq!(listed[0]["id"], first["account_id"]);
    assert_eq!(listed[1]["id"], second["account_id"]);
    let table = stdout_of(run(&["list"]));
    assert!(table.starts_with("id ") && table.contains("first@example.com") && table.ends_with("2 accounts\n"), "{table}");

    let shown: Value = serde_json::from_str(&stdout_of(run(&["show", "--email", "first@example.com", "--json"]))).unwrap();
    assert_eq!(shown["id"], first["account_id"]);
    assert_eq!((shown["has_password"].as_bool(), shown["live_sessions"].as_u64()), (Some(false), Some(0)));
    assert_eq!(shown["orgs"][0]["org_id"], first["org_id"]);
    assert_eq!((shown["orgs"][0]["role"].as_str(), shown["orgs"][0]["name"].as_str()), (Some("owner"), Some("demo")));
    assert_eq!(shown["balance_calls"], 1000, "the $5.00 sign-up credit");
    let page = stdout_of(run(&["show", "--email", "SECOND@example.com"]));
    assert!(page.contains(&format!("account         {}", second["account_id"].as_str().unwrap())), "{page}");
    assert!(page.contains("password        none") && page.contains("balance         1000 calls"), "{page}");
    let missing = run(&["show", "--email", "nobody@example.com"]);
    assert!(
        !missing.status.success() && String::from_utf8_lossy(&missing.stderr).contains("account not found"),
        "an unknown account is an error"
    );
}

#[test]
fn admin_accounts_reset_second_factor_removes_totp_codes_and_passkeys_and_signs_the_account_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let database = ["--data-dir", data.to_str().unwrap()];
    let keys = bootstrap(&database, "lost@example.com");
    let account = keys["account_id"].as_str().unwrap();
    let db = rusqlite::Connection::open(data.join("oakallow.db")).unwrap();
    db.execute_batch(&format!(
        "INSERT INTO totp_factors (account_id, secret, created_at, activated_at, last_step) VALUES ('{account}', x'00', 1, 1, 1);
         INSERT INTO recovery_codes (account_id, digest, created_at) VALUES ('{account}', x'01', 1), ('{account}', x'02', 1);
         INSERT INTO passkeys (id, account_id, name, credential_id, credential, created_at) VALUES ('pkey_1', '{account}', 'Laptop', x'04', '{{}}', 1);
         INSERT INTO sessions (id, digest, account_id, created_at, expires_at) VALUES ('ses_1', x'03', '{account}', 1, 9000000000000000);"
    ))
    .unwrap();
    let run = |args: &[&str]| stdout_of(admin_accounts(&[&["reset-second-factor"], args].concat(), &database));
    let answer: Value = serde_json::from_str(&run(&["--email", "LOST@example.com", "--json"])).unwrap();
    assert_eq!(answer, serde_json::json!({ "account_id": account, "second_factor_removed": true, "sessions_revoked": true }));
    let count = |sql: &str| db.query_row(sql, [], |row| row.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT count(*) FROM totp_factors") + count("SELECT count(*) FROM recovery_codes"), 0);
    assert_eq!(count("SELECT count(*) FROM passkeys"), 0, "passkeys too");
    assert_eq!(count("SELECT count(*) FROM sessions WHERE revoked_at IS NULL"), 0, "signed out everywhere");
    let text = run(&["--email", "lost@example.com"]);
    assert_eq!(text, format!("account {account}: it had no second factor; its sessions are signed out\n"));
    let mut missing = vec!["admin", "accounts", "reset-second-factor", "--email", "nobody@example.com"];
    missing.extend_from_slice(&database);
    assert!(!oakallow(&missing).status.success(), "an unknown account is an error");
}
