//! MCP end to end with third-party software from npm: the official TypeScript SDK's client
//! (`tests/mcp/client.mjs`) talks to the real `oakallow mcp-proxy` over stdio and over Streamable
//! HTTP, in front of the reference servers `@modelcontextprotocol/server-filesystem` and
//! `server-everything`, and to oakallow's own `POST /mcp`. The oakallow server is a real one on
//! port 0 over a real database.
//!
//! Compiled as ignored where Node.js or the npm packages are missing (`npm ci --prefix
//! tests/mcp`); CI installs them and requires these tests (`OAKALLOW_CI=1`).

#![expect(clippy::unwrap_used, reason = "tests: a failed step is a failed test")]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use oakallow_testkit::receiver::Receiver;
use oakallow_testkit::{Backend, TestApp, TestOptions};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// The binary under test.
const BIN: &str = env!("CARGO_BIN_EXE_oakallow");
/// Longest wait for any one answer: a deadline for a stuck test, not a timing assertion.
const DEADLINE: Duration = Duration::from_secs(120);

fn js(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp").join(path).display().to_string()
}

fn filesystem_server(dir: &Path) -> String {
    format!("node {} {}", js("node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"), dir.display())
}

fn everything_server() -> String {
    format!("node {} stdio", js("node_modules/@modelcontextprotocol/server-everything/dist/index.js"))
}

/// `tests/mcp/client.mjs`: JSON lines in, JSON lines out; replies and progress events are read
/// by a task into a channel, and each wait ends on the line itself (or the deadline).
struct Client {
    _process: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<Value>,
    unclaimed: Vec<Value>,
    next_id: u64,
}

impl Client {
    async fn start() -> Self {
        let mut process = Command::new("node")
            .arg(js("client.mjs"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = process.stdin.take().unwrap();
        let mut stdout = BufReader::new(process.stdout.take().unwrap()).lines();
        let (sender, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = stdout.next_line().await {
                let _ = sender.send(serde_json::from_str::<Value>(&line).unwrap());
            }
        });
        Self { _process: process, stdin, lines, unclaimed: Vec::new(), next_id: 0 }
    }

    /// Sends a command and answers its id.
    async fn send(&mut self, mut command: Value) -> u64 {
        self.next_id += 1;
        command["id"] = json!(self.next_id);
        self.stdin.write_all(format!("{command}\n").as_bytes()).await.unwrap();
        self.next_id
    }

    /// The first line matching `wanted`, keeping the others for later.
    async fn line(&mut self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        if let Some(at) = self.unclaimed.iter().position(&wanted) {
            return self.unclaimed.remove(at);
        }
        let deadline = tokio::time::Instant::now() + DEADLINE;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv()).await;
            let line = line
                .unwrap_or_else(|_| panic!("no {what} from client.mjs in time"))
                .unwrap_or_else(|| panic!("client.mjs ended before {what}"));
            if wanted(&line) {
                return line;
            }
            self.unclaimed.push(line);
        }
    }

    /// The reply to command `id`.
    async fn reply(&mut self, id: u64) -> Value {
        let line = self.line("a reply", |line| line["id"] == id && line.get("event").is_none()).await;
        assert_eq!(line["ok"], true, "command {id} failed: {line}");
        line["result"].clone()
    }

    /// Sends a command and answers its result.
    async fn run(&mut self, command: Value) -> Value {
        let id = self.send(command).await;
        self.reply(id).await
    }

    /// Waits for a progress notification about call `id`.
    async fn progress(&mut self, id: u64) -> Value {
        self.line("a progress event", |line| line["id"] == id && line["event"] == "progress").await["params"].clone()
    }

    /// Connects over stdio to `oakallow mcp-proxy` with `args`.
    async fn proxy_over_stdio(app: &TestApp, args: &[String]) -> Self {
        let mut client = Self::start().await;
        let mut all = vec!["mcp-proxy".to_owned(), "--url".to_owned(), app.base.clone()];
        all.extend(args.iter().cloned());
        let env = json!({ "OAKALLOW_KEY": app.keys.standard, "RUST_LOG": "warn" });
        client.run(json!({"op": "connect", "transport": "stdio", "command": BIN, "args": all, "env": env})).await;
        client
    }

    /// Connects over Streamable HTTP to `url`.
    async fn over_http(url: &str, headers: Value) -> Self {
        let mut client = Self::start().await;
        client.run(json!({"op": "connect", "transport": "http", "url": url, "headers": headers})).await;
        client
    }

    async fn tool_names(&mut self) -> Vec<String> {
        let listed = self.run(json!({"op": "list_tools"})).await;
        listed["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()).collect()
    }
}

/// `oakallow mcp-proxy --listen 127.0.0.1:0`, stopped (killed) when dropped; answers its URL.
async fn proxy_over_http(app: &TestApp, args: &[String]) -> (Child, String) {
    let mut process = Command::new(BIN)
        .args(["mcp-proxy", "--url", &app.base, "--listen", "127.0.0.1:0"])
        .args(args)
        .env("OAKALLOW_KEY", &app.keys.standard)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(process.stderr.take().unwrap()).lines();
    let url = tokio::time::timeout(DEADLINE, async {
        loop {
            let line = stderr.next_line().await.unwrap().expect("mcp-proxy ended before listening");
            eprintln!("{line}");
            if let Some(url) = line.strip_prefix("oakallow mcp-proxy listening on ") {
                return url.to_owned();
            }
        }
    })
    .await
    .expect("mcp-proxy did not say where it listens");
    tokio::spawn(async move {
        while let Ok(Some(line)) = stderr.next_line().await {
            eprintln!("{line}");
        }
    });
    (process, url)
}

fn text_of(result: &Value) -> String {
    result["content"].as_array().unwrap().iter().filter_map(|c| c["text"].as_str()).collect::<Vec<_>>().join("\n")
}

fn is_error(result: &Value) -> bool {
    result["isError"] == true
}

/// The one pending approval of `tool`.
async fn pending(app: &TestApp, tool: &str) -> Value {
    let (status, listed) = app.get(&format!("/v1/approvals?status=pending&tool={tool}"), &app.keys.standard).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let data = listed["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "one pending approval of {tool}: {listed}");
    data[0].clone()
}

async fn decide(app: &TestApp, approval: &Value, decision: &str, note: &str) {
    let body = json!({"decision": decision, "decided_by": "alice@example.com", "note": note});
    let (status, decided) =
        app.post(&format!("/v1/approvals/{}/decide", approval["id"].as_str().unwrap()), &app.keys.approver, &body).await;
    assert_eq!(status, StatusCode::OK, "{decided}");
}

/// The types of the activity entries about `tool`, oldest first. The gateway's long-polls of an
/// approval (`approval.polled`, billed) are left out: whether the one poll lands before or after
/// the decision is up to the scheduler. Approval trails assert that there was one.
async fn trail(app: &TestApp, tool: &str) -> Vec<String> {
    let (status, listed) = app.get(&format!("/v1/activity?tool={tool}&limit=100"), &app.keys.management).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let mut types: Vec<String> = listed["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap().to_owned()).collect();
    types.reverse();
    let polls = types.iter().filter(|t| *t == "approval.polled").count();
    assert_eq!(polls > 0, types.iter().any(|t| t == "approval.created"), "an approval is polled while waited for: {types:?}");
    types.retain(|t| t != "approval.polled");
    types
}

/// The policy of the filesystem scenario, on tool names the reference servers list.
async fn filesystem_policy(app: &TestApp) {
    app.create("/v1/tools", json!({"name": "read_text_file", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "echo", "approved": true})).await;
    app.create("/v1/tools", json!({"name": "write_file", "enabled": false})).await;
    for gated in ["create_directory", "move_file", "list_directory", "directory_tree"] {
        app.create("/v1/tools", json!({"name": gated, "default_permission": "requires_approval"})).await;
    }
}

/// Every scenario of the filesystem walk through one connected client; `dir` is the upstream's
/// directory.
async fn filesystem_walk(app: &TestApp, client: &mut Client, dir: &Path) {
    std::fs::write(dir.join("a.txt"), "hello from the file").unwrap();
    let names = client.tool_names().await;
    for listed in ["read_text_file", "create_directory", "move_file", "echo"] {
        assert!(names.iter().any(|n| n == listed), "{listed} is listed: {names:?}");
    }
    assert!(!names.iter().any(|n| n == "write_file"), "a disabled tool is hidden: {names:?}");

    // Allowed: the upstream's own answer comes back.
    let path = dir.join("a.txt").display().to_string();
    let read = client.run(json!({"op": "call_tool", "name": "read_text_file", "arguments": {"path": path}})).await;
    assert!(!is_error(&read), "{read}");
    assert_eq!(text_of(&read), "hello from the file");
    let echoed = client.run(json!({"op": "call_tool", "name": "echo", "arguments": {"message": "hi"}})).await;
    assert_eq!(text_of(&echoed), "Echo: hi");

    // Disabled: refused, nothing forwarded, no file.
    let target = dir.join("written.txt");
    let refused = client
        .run(json!({"op": "call_tool", "name": "write_file", "arguments": {"path": target.display().to_string(), "content": "x"}}))
        .await;
    assert!(is_error(&refused), "{refused}");
    assert!(text_of(&refused).contains("disabled"), "{refused}");
    assert!(!target.exists(), "a refused write wrote nothing");

    // Approval: the call waits (the client hears progress), a person approves, then it runs.
    let made = dir.join("approved");
    let call = client
        .send(json!({"op": "call_tool", "name": "create_directory", "arguments": {"path": made.display().to_string()}, "progress": true}))
        .await;
    let waiting = client.progress(call).await;
    let approval = pending(app, "create_directory").await;
    assert!(waiting["message"].as_str().unwrap().contains(approval["reference"].as_str().unwrap()), "{waiting}");
    assert!(!made.exists(), "nothing runs before the approval");
    decide(app, &approval, "approved", "fine").await;
    let ran = client.reply(call).await;
    assert!(!is_error(&ran), "{ran}");
    assert!(made.is_dir(), "the approved call ran");

    // Denial: the note comes back, nothing moves.
    let (from, to) = (dir.join("a.txt"), dir.join("moved.txt"));
    let arguments = json!({"source": from.display().to_string(), "destination": to.display().to_string()});
    let call = client.send(json!({"op": "call_tool", "name": "move_file", "arguments": arguments, "progress": true})).await;
    client.progress(call).await;
    decide(app, &pending(app, "move_file").await, "denied", "not on a Friday").await;
    let denied = client.reply(call).await;
    assert!(is_error(&denied), "{denied}");
    assert!(text_of(&denied).contains("not on a Friday"), "{denied}");
    assert!(from.exists() && !to.exists(), "a denied move moved nothing");

    // Arguments the tool's schema refuses (the draft registered from the upstream's own input
    // schema requires `path`): the invalid_params errors, nothing forwarded.
    let invalid = client.run(json!({"op": "call_tool", "name": "get_file_info", "arguments": {"paht": "a.txt"}})).await;
    assert!(is_error(&invalid), "{invalid}");
    assert!(text_of(&invalid).starts_with("Invalid arguments for get_file_info"), "{invalid}");
    assert_eq!(invalid["structuredContent"]["oakallow"]["error"]["code"], "invalid_params");
}

/// Must show 1 and 2 over stdio: every outcome, the trail of each call, the chain verifies; and
/// a wait that runs out names the approval's reference.
#[tokio::test]
#[cfg_attr(not(mcp_tests), ignore = "needs Node.js and `npm ci --prefix tests/mcp`")]
async fn the_gateway_over_stdio_in_front_of_the_reference_servers() {
    let app = TestApp::sqlite().await;
    filesystem_policy(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let upstreams = vec!["--upstream-cmd".to_owned(), filesystem_server(dir.path()), "--upstream-cmd".to_owned(), everything_server()];
    let mut client = Client::proxy_over_stdio(&app, &upstreams).await;
    filesystem_walk(&app, &mut client, dir.path()).await;

    assert_eq!(trail(&app, "read_text_file").await, ["permission.checked", "token.minted", "execution.logged"]);
    assert_eq!(trail(&app, "write_file").await, ["permission.checked"]);
    let approved = ["permission.checked", "approval.created", "approval.decided", "token.minted", "execution.logged"];
    assert_eq!(trail(&app, "create_directory").await, approved);
    assert_eq!(trail(&app, "move_file").await, ["permission.checked", "approval.created", "approval.decided"]);
    let (status, executions) = app.get("/v1/activity?type=execution.logged&tool=create_directory", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK);
    let execution = &executions["data"][0];
    assert_eq!((&execution["result"], execution["duration_ms"].is_u64()), (&json!("success"), true), "{execution}");

    // The gateway's own limit on waiting: the error names the reference to poll later.
    let mut args = upstreams.clone();
    args.extend(["--approval-wait".to_owned(), "1".to_owned()]);
    let mut impatient = Client::proxy_over_stdio(&app, &args).await;
    let listing = json!({"op": "call_tool", "name": "list_directory", "arguments": {"path": dir.path().display().to_string()}});
    let gave_up = impatient.run(listing).await;
    let approval = pending(&app, "list_directory").await;
    assert!(is_error(&gave_up), "{gave_up}");
    assert!(text_of(&gave_up).contains(approval["reference"].as_str().unwrap()), "{gave_up}");
    assert_eq!(gave_up["structuredContent"]["oakallow"]["approval_id"], approval["id"]);

    // A client that cancels a waiting call withdraws its approval.
    let call = client.send(json!({"op": "call_tool", "name": "directory_tree", "arguments": {"path": "/"}, "progress": true})).await;
    client.progress(call).await;
    let waiting = pending(&app, "directory_tree").await;
    client.run(json!({"op": "cancel", "call": call})).await;
    let path = format!("/v1/approvals/{}", waiting["id"].as_str().unwrap());
    oakallow_testkit::wait_until("the approval is withdrawn", DEADLINE, async || {
        app.get(&path, &app.keys.standard).await.1["status"] == "cancelled"
    })
    .await;

    let (status, verified) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!((status, &verified["valid"]), (StatusCode::OK, &json!(true)), "{verified}");
}

/// Fail closed: with oakallow out of reach, no tool is listed and no call runs.
#[tokio::test]
#[cfg_attr(not(mcp_tests), ignore = "needs Node.js and `npm ci --prefix tests/mcp`")]
async fn without_oakallow_nothing_is_listed_and_nothing_runs() {
    let app = TestApp::sqlite().await;
    let dir = tempfile::tempdir().unwrap();
    let mut client = Client::start().await;
    // A port nothing listens on: bound, then closed.
    let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let args = json!(["mcp-proxy", "--url", format!("http://{gone}"), "--upstream-cmd", filesystem_server(dir.path())]);
    client
        .run(json!({"op": "connect", "transport": "stdio", "command": BIN, "args": args, "env": {"OAKALLOW_KEY": app.keys.standard}}))
        .await;
    let id = client.send(json!({"op": "list_tools"})).await;
    let listed = client.line("the tools/list answer", |line| line["id"] == id).await;
    assert_eq!(listed["ok"], false, "{listed}");
    assert!(listed["error"]["message"].as_str().unwrap().contains("none are listed"), "{listed}");
    let target = dir.path().join("x.txt");
    let write = json!({"op": "call_tool", "name": "write_file", "arguments": {"path": target.display().to_string(), "content": "x"}});
    let refused = client.run(write).await;
    assert!(is_error(&refused), "{refused}");
    assert!(text_of(&refused).contains("could not be reached"), "{refused}");
    assert!(!target.exists());
}

/// Several upstreams from a config file: names two of them share are prefixed with the
/// upstream's name, and the call reaches the right server under the server's own name.
#[tokio::test]
#[cfg_attr(not(mcp_tests), ignore = "needs Node.js and `npm ci --prefix tests/mcp`")]
async fn tools_two_upstreams_share_are_prefixed_per_upstream() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "b__tool_0001", "approved": true})).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("proxy.toml");
    let server = js("many-tools-server.mjs");
    let everything = js("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    let text = format!(
        "[[upstream]]\nname = \"a\"\ncommand = [\"node\", {server:?}, \"2\"]\n\n\
         [[upstream]]\nname = \"b\"\ncommand = [\"node\", {server:?}, \"2\"]\n\n\
         [[upstream]]\ncommand = [\"node\", {everything:?}, \"stdio\"]\n"
    );
    std::fs::write(&config, text).unwrap();
    let mut client = Client::proxy_over_stdio(&app, &["--config".to_owned(), config.display().to_string()]).await;
    let names = client.tool_names().await;
    let ours: Vec<&String> = names.iter().filter(|n| n.contains("tool_")).collect();
    assert_eq!(ours, ["a__tool_0000", "a__tool_0001", "b__tool_0000", "b__tool_0001"]);
    assert!(names.iter().any(|n| n == "echo"), "a name no other upstream has stays as it is: {names:?}");
    let ran = client.run(json!({"op": "call_tool", "name": "b__tool_0001", "arguments": {"text": "x"}})).await;
    assert!(!is_error(&ran), "{ran}");
    assert_eq!(text_of(&ran), "ran tool_0001 with x");

    // The upstream got the call's execution token in _meta: genuine, bound to this tool and these
    // arguments, and already used once the gateway logged the execution.
    let ran = client.run(json!({"op": "call_tool", "name": "b__tool_0001", "arguments": {"text": "token"}})).await;
    let token = text_of(&ran);
    let verify = json!({"token": token, "tool": "b__tool_0001", "params": {"text": "token"}, "consume": false});
    let (status, verified) = app.post("/v1/tokens/verify", &app.keys.standard, &verify).await;
    assert_eq!(
        (status, &verified["reason"], &verified["claims"]["tool"]),
        (StatusCode::OK, &json!("used"), &json!("b__tool_0001")),
        "{verified}"
    );

    // An upstream that dies mid-call: a tool error, and the execution is logged as an error.
    let died = client.run(json!({"op": "call_tool", "name": "b__tool_0001", "arguments": {"text": "exit"}})).await;
    assert!(is_error(&died), "{died}");
    assert!(text_of(&died).starts_with("The upstream server failed to run b__tool_0001"), "{died}");
    let (status, logged) = app.get("/v1/activity?type=execution.logged&limit=1", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(logged["data"][0]["result"], "error", "{logged}");
}

/// Must show 1 over Streamable HTTP: the same walk through `mcp-proxy --listen`.
#[tokio::test]
#[cfg_attr(not(mcp_tests), ignore = "needs Node.js and `npm ci --prefix tests/mcp`")]
async fn the_gateway_over_streamable_http() {
    let app = TestApp::sqlite().await;
    filesystem_policy(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let upstreams = vec!["--upstream-cmd".to_owned(), filesystem_server(dir.path()), "--upstream-cmd".to_owned(), everything_server()];
    let (_proxy, url) = proxy_over_http(&app, &upstreams).await;
    let mut client = Client::over_http(&url, json!({})).await;
    filesystem_walk(&app, &mut client, dir.path()).await;
    let approved = ["permission.checked", "approval.created", "approval.decided", "token.minted", "execution.logged"];
    assert_eq!(trail(&app, "create_directory").await, approved);
    let (status, verified) = app.get("/v1/activity/verify", &app.keys.management).await;
    assert_eq!((status, &verified["valid"]), (StatusCode::OK, &json!(true)), "{verified}");
}

/// Must show 3: a fake upstream of 600 tools. Each appears once as a draft with its annotations
/// and schema, 50 per hour and 500 in all, with one `tool.auto_created` event each.
#[tokio::test]
#[cfg_attr(not(mcp_tests), ignore = "needs Node.js and `npm ci --prefix tests/mcp`")]
async fn listing_600_upstream_tools_registers_drafts_within_the_caps() {
    let app = TestApp::start_with(TestOptions::new(Backend::Sqlite).manual_clock()).await;
    let receiver = Receiver::start().await;
    let (status, _) = app.patch("/v1/org", &app.keys.management, &json!({"webhook_url": receiver.url})).await;
    assert_eq!(status, StatusCode::OK);
    let upstream = vec!["--upstream-cmd".to_owned(), format!("node {} 600", js("many-tools-server.mjs"))];
    let mut client = Client::proxy_over_stdio(&app, &upstream).await;

    let mut drafts = 0;
    for hour in 0..11 {
        let names = client.tool_names().await;
        assert_eq!(names.len(), 600, "every upstream tool is listed (none is disabled)");
        let (status, tools) = app.get("/v1/tools?limit=500", &app.keys.standard).await;
        assert_eq!(status, StatusCode::OK);
        let now = tools["data"].as_array().unwrap().len();
        assert_eq!(now, (50 * (hour + 1)).min(500), "hour {hour}");
        drafts = now;
        app.advance(3600);
    }
    assert_eq!(drafts, 500);

    let (status, tools) = app.get("/v1/tools?limit=2", &app.keys.standard).await;
    assert_eq!(status, StatusCode::OK);
    let (even, odd) = (&tools["data"][0], &tools["data"][1]);
    assert_eq!((&even["name"], &odd["name"]), (&json!("tool_0000"), &json!("tool_0001")));
    assert_eq!(even["annotations"], json!({"read_only": true, "idempotent": true, "open_world": false}));
    assert_eq!(odd["annotations"], json!({"destructive": true, "idempotent": true, "open_world": false}));
    assert_eq!(even["parameters_schema"]["required"], json!(["text"]));
    assert_eq!((&even["default_permission"], &even["tags"]), (&json!("requires_approval"), &json!(["auto-created"])));

    let (status, deliveries) = app.get("/v1/webhooks/deliveries?limit=500", &app.keys.management).await;
    assert_eq!(status, StatusCode::OK);
    let events = deliveries["data"].as_array().unwrap().iter().filter(|d| d["event_type"] == "tool.auto_created").count();
    assert_eq!(events, 500, "one event per draft, never a second");
}

/// Must show 4: oakallow's own `/mcp` tools answer the official client as the REST API does,
/// billed and audited the same.
#[tokio::test]
#[cfg_attr(not(mcp_tests), ignore = "needs Node.js and `npm ci --prefix tests/mcp`")]
async fn the_mcp_endpoint_answers_as_the_rest_api() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "send_email", "default_permission": "requires_approval"})).await;
    app.create("/v1/tools", json!({"name": "read_inbox", "approved": true})).await;
    let url = format!("{}/mcp", app.base);
    let bearer = |key: &str| json!({ "Authorization": format!("Bearer {key}") });
    let mut client = Client::over_http(&url, bearer(&app.keys.standard)).await;
    let names = client.tool_names().await;
    assert_eq!(names, ["list_my_tools", "check_permission", "request_approval", "check_approval_status", "list_pending_approvals"]);

    let call = |name: &str, arguments: Value| json!({"op": "call_tool", "name": name, "arguments": arguments});
    let balance = async || app.get("/v1/billing", &app.keys.management).await.1["balance_microusd"].as_i64().unwrap();

    // list_my_tools = GET /v1/tools.
    let listed = client.run(call("list_my_tools", json!({}))).await;
    assert_eq!(listed["structuredContent"], app.get("/v1/tools", &app.keys.standard).await.1);

    // check_permission = POST /v1/check: same answer, same price, same audit entry.
    let before = balance().await;
    let checked =
        client.run(call("check_permission", json!({"tool": "read_inbox", "params": {"folder": "in"}}))).await["structuredContent"].clone();
    let after_mcp = balance().await;
    let rest = app.check(json!({"tool": "read_inbox", "params": {"folder": "in"}})).await;
    assert_eq!(before - after_mcp, after_mcp - balance().await, "the same price");
    for field in ["permission", "resolved_from", "rule_id", "tool", "tool_registered", "tenant", "tenant_known", "token"] {
        assert_eq!(checked[field], rest[field], "{field}");
    }
    let (_, entry) = app.get("/v1/activity?type=permission.checked&limit=2", &app.keys.management).await;
    let entries = entry["data"].as_array().unwrap();
    assert_eq!(entries[1]["check_id"], checked["check_id"]);
    assert_eq!((&entries[0]["actor"], &entries[0]["params"]), (&entries[1]["actor"], &entries[1]["params"]));

    // request_approval = POST /v1/approvals (with the idempotency key); the status and pending
    // list = their GETs.
    let request = json!({"tool": "send_email", "params": {"to": "ops"}, "reason": "weekly report", "idempotency_key": "k-1"});
    let created = client.run(call("request_approval", request.clone())).await["structuredContent"].clone();
    let again = client.run(call("request_approval", request)).await["structuredContent"].clone();
    assert_eq!(created, again, "the idempotency key gives the same approval");
    let id = created["id"].as_str().unwrap();
    let status = client.run(call("check_approval_status", json!({"id": id}))).await["structuredContent"].clone();
    assert_eq!(status, app.get(&format!("/v1/approvals/{id}"), &app.keys.standard).await.1);
    let pending_now = client.run(call("list_pending_approvals", json!({}))).await["structuredContent"].clone();
    assert_eq!(pending_now, app.get("/v1/approvals?status=pending", &app.keys.standard).await.1);

    // Refusals carry the REST error envelope.
    let invalid = client.run(call("check_permission", json!({"tool": "read_inbox", "surprise": 1}))).await;
    assert!(is_error(&invalid));
    let (rest_status, rest_error) = app.post("/v1/check", &app.keys.standard, &json!({"tool": "read_inbox", "surprise": 1})).await;
    assert_eq!(rest_status, StatusCode::BAD_REQUEST);
    assert_eq!(invalid["structuredContent"]["error"]["code"], rest_error["error"]["code"]);
    let mut approver = Client::over_http(&url, bearer(&app.keys.approver)).await;
    let wrong_tier = approver.run(call("check_permission", json!({"tool": "read_inbox"}))).await;
    let (_, rest_error) = app.post("/v1/check", &app.keys.approver, &json!({"tool": "read_inbox"})).await;
    assert_eq!(wrong_tier["structuredContent"], rest_error);

    // No key, no MCP: the HTTP answer is 401 with the error envelope.
    let (status, body) = app.post("/mcp", "oak_live_00000000000000000000000000000000", &json!({})).await;
    assert_eq!((status, &body["error"]["code"]), (StatusCode::UNAUTHORIZED, &json!("unauthenticated")));
}
