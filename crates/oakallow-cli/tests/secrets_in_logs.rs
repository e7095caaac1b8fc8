//! No secret reaches the log (PRODUCT.md section 2; QUALITY.md "secrets"): the real binary runs
//! the whole flow with `log.filter = trace` (every crate, every level), and every line it writes
//! is searched for every secret the flow saw: raw API keys (beyond their 12-character display
//! prefix), webhook secrets, credentials in webhook URLs, execution tokens and passwords (the
//! database's). The operator commands (`admin bootstrap`, `apply`) run at trace level too. A new
//! kind of secret is one more [`Secrets::add`].

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

mod support;

use std::process::Command;
use std::time::Duration;

use oakallow_testkit::receiver::Receiver;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use support::{BIN, Server};

/// The request id every request of the flow carries; the log must show it.
const CANARY: &str = "secrets-in-logs-canary";

/// Every secret the flow saw, with what it is.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
    /// Remembers a secret; `what` names it in a failure.
    fn add(&mut self, what: &str, secret: &str) {
        assert!(secret.len() >= 16, "{what} is too short to search for: {secret:?}");
        self.0.push((what.to_owned(), secret.to_owned()));
    }

    /// A raw API key: the whole key, and the part after the display prefix that logs may show.
    fn key(&mut self, what: &str, key: &str) {
        self.add(what, key);
        self.add(&format!("{what} (after its display prefix)"), &key[12..]);
    }

    /// An execution token: the whole text, and its signature.
    fn token(&mut self, what: &str, token: &str) {
        self.add(what, token);
        self.add(&format!("{what} (signature)"), token.rsplit_once('.').unwrap().1);
    }

    /// A webhook secret: the whole text, and the base64 of its key.
    fn webhook_secret(&mut self, what: &str, secret: &str) {
        self.add(what, secret);
        self.add(&format!("{what} (key)"), secret.strip_prefix("whsec_").unwrap());
    }

    /// The lines that contain a secret, with the secret's name.
    fn leaks<'a>(&self, lines: &'a [String]) -> Vec<(String, &'a str)> {
        let found =
            lines.iter().flat_map(|line| self.0.iter().filter(|(_, s)| line.contains(s.as_str())).map(move |(what, _)| (what, line)));
        found.map(|(what, line)| (what.clone(), line.as_str())).collect()
    }
}

/// One HTTP client for the flow, with its key.
struct Api {
    http: Client,
    base: String,
}

impl Api {
    async fn call(&self, method: reqwest::Method, path: &str, key: &str, body: Option<Value>, expected: StatusCode) -> Value {
        let mut request = self.http.request(method.clone(), format!("{}{path}", self.base)).header("X-API-Key", key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, expected, "{method} {path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, key: &str, body: Value, expected: StatusCode) -> Value {
        self.call(reqwest::Method::POST, path, key, Some(body), expected).await
    }

    async fn get(&self, path: &str, key: &str, expected: StatusCode) -> Value {
        self.call(reqwest::Method::GET, path, key, None, expected).await
    }
}

/// `oakallow admin bootstrap` at trace level: its keys (remembered as secrets) and its log.
fn bootstrap(database: &[&str], secrets: &mut Secrets) -> (Value, Vec<String>) {
    let mut args = vec!["admin", "bootstrap", "--email", "owner@example.com", "--org", "demo", "--json"];
    args.extend_from_slice(database);
    let output = Command::new(BIN).args(&args).env_remove("RUST_LOG").env("OAKALLOW_LOG__FILTER", "trace").output().unwrap();
    let log = String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect();
    assert!(output.status.success(), "{log:?}");
    let keys: Value = serde_json::from_slice(&output.stdout).unwrap();
    for tier in ["management", "standard", "approver"] {
        secrets.key(&format!("bootstrapped {tier} key"), keys[format!("{tier}_key")].as_str().unwrap());
    }
    (keys, log)
}

/// Keys of each tier, made through the API.
async fn make_keys(api: &Api, management: &str, secrets: &mut Secrets) -> (String, String) {
    let standard = api.post("/v1/keys", management, json!({"name": "agent", "tier": "standard"}), StatusCode::CREATED).await;
    let approver = api.post("/v1/keys", management, json!({"name": "slack bot", "tier": "approver"}), StatusCode::CREATED).await;
    let (standard, approver) = (standard["key"].as_str().unwrap().to_owned(), approver["key"].as_str().unwrap().to_owned());
    secrets.key("created standard key", &standard);
    secrets.key("created approver key", &approver);
    (standard, approver)
}

/// Webhooks to `receiver`, with a secret rotated twice (both remembered) and a delivery signed
/// with the second.
async fn webhooks(api: &Api, management: &str, receiver: &Receiver, secrets: &mut Secrets) {
    // Some receivers take a credential in the URL (a chat service's incoming-webhook path).
    let credential = "wh-url-credential-7f3a9c2e";
    secrets.add("a credential in the webhook URL", credential);
    let patch = json!({"webhook_url": format!("{}?token={credential}", receiver.url)});
    api.call(reqwest::Method::PATCH, "/v1/org", management, Some(patch), StatusCode::OK).await;
    for round in ["first", "second"] {
        let rotated = api.post("/v1/org/webhook-secret/rotate", management, json!({}), StatusCode::OK).await;
        secrets.webhook_secret(&format!("{round} webhook secret"), rotated["secret"].as_str().unwrap());
    }
    api.post("/v1/webhooks/test", management, json!({}), StatusCode::ACCEPTED).await;
}

/// Check → approval → decision → token → verify → execution, and an inline token from a check.
async fn runtime(api: &Api, management: &str, standard: &str, approver: &str, receiver: &Receiver, secrets: &mut Secrets) {
    let tool = json!({"name": "wire_money", "default_permission": "requires_approval"});
    api.post("/v1/tools", management, tool, StatusCode::CREATED).await;
    api.post("/v1/tools", management, json!({"name": "read_file", "approved": true}), StatusCode::CREATED).await;
    let params = json!({"amount": 250, "api_key": "sk_live_not_ours_but_secret_looking"});
    let check = api.post("/v1/check", standard, json!({"tool": "wire_money", "params": params}), StatusCode::OK).await;
    let request = json!({"tool": "wire_money", "params": params, "reason": "pay", "check_id": check["check_id"]});
    let approval = api.post("/v1/approvals", standard, request, StatusCode::CREATED).await;
    let id = approval["id"].as_str().unwrap();
    let decision = json!({"decision": "approved", "decided_by": "alice@example.com", "note": "ok"});
    api.post(&format!("/v1/approvals/{id}/decide"), approver, decision, StatusCode::OK).await;
    receiver.wait_for(3, Duration::from_secs(10)).await;
    let minted = api.post("/v1/tokens", standard, json!({"approval_id": id}), StatusCode::CREATED).await;
    let token = minted["token"].as_str().unwrap();
    secrets.token("token minted from an approval", token);
    let verify = json!({"token": token, "tool": "wire_money", "params": params});
    assert_eq!(api.post("/v1/tokens/verify", standard, verify, StatusCode::OK).await["valid"], true);
    let execution = json!({"token": token, "tool": "wire_money", "params": params, "result": "success", "duration_ms": 5});
    api.post("/v1/executions", standard, execution, StatusCode::CREATED).await;
    let inline = api.post("/v1/check", standard, json!({"tool": "read_file", "mint_token": true}), StatusCode::OK).await;
    let inline = inline["token"].as_str().unwrap();
    secrets.token("token minted inline by a check", inline);
    let tampered = format!("{}x", &inline[..inline.len() - 1]);
    assert_eq!(api.post("/v1/tokens/verify", standard, json!({"token": tampered}), StatusCode::OK).await["valid"], false);
    assert_eq!(api.post("/v1/tokens/verify", standard, json!({"token": inline}), StatusCode::OK).await["valid"], true);
}

/// A paid checkout reported by a signed Stripe event (credited), and one signed with another
/// secret (refused): the endpoint's signing secret, the API key and the signatures stay out.
async fn stripe(api: &Api, account: &str, secrets: &mut Secrets) {
    use oakallow_testkit::stripe::{FakeStripe, SECRET_KEY, WEBHOOK_SECRET, event};
    secrets.add("the Stripe API key", SECRET_KEY);
    secrets.add("the Stripe webhook signing secret", WEBHOOK_SECRET);
    let session = json!({
        "id": "cs_test_logs", "object": "checkout.session", "payment_status": "paid", "amount_total": 1000, "currency": "usd",
        "client_reference_id": account, "metadata": {"account_id": account, "package": "starter"}, "payment_intent": "pi_logs",
    });
    let body = event("evt_logs", "checkout.session.completed", session);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs().cast_signed();
    let signed = FakeStripe::sign(&body, now);
    let forged = oakallow_domain::stripe::signature_header(&body, "whsec_forged_by_someone_else", now);
    for (signature, expected) in [(&forged, StatusCode::BAD_REQUEST), (&signed, StatusCode::OK)] {
        secrets.add("a Stripe-Signature", signature.split("v1=").nth(1).unwrap());
        let response = api
            .http
            .post(format!("{}/webhooks/stripe", api.base))
            .header("stripe-signature", signature)
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), expected, "{}", response.text().await.unwrap());
    }
}

/// `oakallow apply` at trace level, with the management key: its log.
fn apply(base: &str, management: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, "methods:\n  - name: read\n").unwrap();
    let args = ["apply", "-f", policy.to_str().unwrap(), "--url", base, "--key", management];
    let output = Command::new(BIN).args(args).env_remove("RUST_LOG").env("OAKALLOW_LOG__FILTER", "trace").output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect()
}

/// Wrong keys of every kind, a revoked key, and the bearer form.
async fn refusals(api: &Api, management: &str, standard: &str, secrets: &mut Secrets) {
    let wrong = "oak_live_0123456789abcdef0123456789abcdef";
    secrets.key("an unknown key", wrong);
    api.get("/v1/tools", wrong, StatusCode::UNAUTHORIZED).await;
    let malformed = "not-a-key-at-all-but-long-enough";
    secrets.add("a malformed key", malformed);
    api.get("/v1/tools", malformed, StatusCode::UNAUTHORIZED).await;
    api.post("/v1/check", management, json!({"tool": "read_file"}), StatusCode::FORBIDDEN).await;
    let keys = api.get("/v1/keys", management, StatusCode::OK).await;
    // By its name: display prefixes (12 characters) may repeat between keys.
    let agent = keys["data"].as_array().unwrap().iter().find(|k| k["name"] == "agent").unwrap();
    api.call(reqwest::Method::DELETE, &format!("/v1/keys/{}", agent["id"].as_str().unwrap()), management, None, StatusCode::OK).await;
    api.post("/v1/check", standard, json!({"tool": "read_file"}), StatusCode::UNAUTHORIZED).await;
    let bearer = api.http.get(format!("{}/v1/tools", api.base)).bearer_auth(management).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::OK);
    let bearer = api.http.get(format!("{}/v1/tools", api.base)).bearer_auth(wrong).send().await.unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
}

/// The SMTP password in the URL, and the one that replaces it.
const SMTP_URL_PASSWORD: &str = "smtp-password-in-the-url";
const SMTP_PASSWORD: &str = "smtp-password-given-apart";

/// A sign-in code asked for by e-mail (its sending fails: nothing listens on the SMTP port, so
/// the failure is logged), and a wrong code entered.
async fn email(base: &str, secrets: &mut Secrets) {
    secrets.add("the SMTP password in smtp_url", SMTP_URL_PASSWORD);
    secrets.add("the SMTP password", SMTP_PASSWORD);
    let web = oakallow_testkit::WebClient::new(base);
    let asked = web.submit("/sign-in", "/sign-in/email", &[("email", "owner@example.com")], StatusCode::OK).await;
    assert!(asked.shows("we e-mailed it a sign-in code"), "{}", asked.body);
    let code = [("email", "owner@example.com"), ("code", "12345678")];
    web.submit("/sign-in", "/sign-in/code", &code, StatusCode::UNAUTHORIZED).await;
}

async fn no_secret_in_the_log(database: &[&str], mut secrets: Secrets) {
    let (keys, mut log) = bootstrap(database, &mut secrets);
    let receiver = Receiver::start().await;
    // A port nothing listens on: bound, noted, and let go.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let smtp_url = format!("smtp://mailer:{SMTP_URL_PASSWORD}@127.0.0.1:{closed}");
    let env = [
        ("OAKALLOW_LOG__FILTER", "trace"),
        ("OAKALLOW_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true"),
        ("OAKALLOW_BILLING__STRIPE__SECRET_KEY", oakallow_testkit::stripe::SECRET_KEY),
        ("OAKALLOW_BILLING__STRIPE__WEBHOOK_SECRET", oakallow_testkit::stripe::WEBHOOK_SECRET),
        ("OAKALLOW_EMAIL__SMTP_URL", smtp_url.as_str()),
        ("OAKALLOW_EMAIL__PASSWORD", SMTP_PASSWORD),
        ("OAKALLOW_EMAIL__FROM", "oakallow <oakallow@example.com>"),
        ("OAKALLOW_EMAIL__DASHBOARD_URL", "https://oakallow.example.com"),
    ];
    let server = Server::start(database, &env);
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-request-id", CANARY.parse().unwrap());
    let api = Api { http: Client::builder().default_headers(headers).build().unwrap(), base: server.base.clone() };
    let management = keys["management_key"].as_str().unwrap();
    let (standard, approver) = make_keys(&api, management, &mut secrets).await;
    webhooks(&api, management, &receiver, &mut secrets).await;
    runtime(&api, management, &standard, &approver, &receiver, &mut secrets).await;
    refusals(&api, management, &standard, &mut secrets).await;
    stripe(&api, keys["account_id"].as_str().unwrap(), &mut secrets).await;
    email(&server.base, &mut secrets).await;
    log.extend(apply(&server.base, management));
    let (status, server_log) = server.stop_with_log();
    assert!(status.success(), "a clean exit on SIGTERM");
    log.extend(server_log);
    // Controls: the log is at trace level, and the lines of the flow's requests are in it (the
    // request id they carry is logged), so a secret in those lines would be seen.
    assert!(log.iter().any(|l| l.contains("\"TRACE\"")), "the log is at trace level: {} lines", log.len());
    assert!(log.iter().filter(|l| l.contains(CANARY)).count() > 40, "the requests' lines are in the log");
    let leaks = secrets.leaks(&log);
    let shown: Vec<String> = leaks.iter().take(20).map(|(what, line)| format!("{what}: {line}")).collect();
    assert!(leaks.is_empty(), "{} log lines carry a secret:\n{}", leaks.len(), shown.join("\n"));
}

#[tokio::test]
async fn no_secret_reaches_the_log_at_trace_level_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    no_secret_in_the_log(&["--data-dir", data.to_str().unwrap()], Secrets::default()).await;
}

#[tokio::test]
#[cfg_attr(not(postgres_tests), ignore = "needs PostgreSQL: set OAKALLOW_TEST_POSTGRES_URL when building the tests")]
async fn no_secret_reaches_the_log_at_trace_level_on_postgres() {
    let mut secrets = Secrets::default();
    // The test database trusts local connections, so any password works: give one, and look for it.
    let password = "correct-horse-battery-staple";
    secrets.add("the database password", password);
    let url = oakallow_testkit::new_schema_url().await.replacen("postgres://postgres@", &format!("postgres://postgres:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let output = Command::new(BIN).args(["migrate", "--database-url", &url]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    no_secret_in_the_log(&["--database-url", &url], secrets).await;
}
