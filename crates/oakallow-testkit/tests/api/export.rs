//! The CSV export: every cell a caller controls is inert in a spreadsheet (no cell starts with a
//! character that makes it a formula), and the cells read back to what was stored.

use oakallow_testkit::TestApp;
use reqwest::StatusCode;
use serde_json::json;

/// Splits CSV text (RFC 4180: quoted cells may hold commas, quotes and line breaks) into rows.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut cell) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

/// Characters that make a spreadsheet treat a cell as a formula, ASCII and fullwidth, also
/// after leading whitespace.
fn is_formula(cell: &str) -> bool {
    cell.trim_start().starts_with(['=', '+', '-', '@', '\t', '\r', '＝', '＋', '－', '＠'])
}

#[tokio::test]
async fn no_csv_cell_a_caller_controls_becomes_a_formula() {
    let app = TestApp::sqlite().await;
    let hostile = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "＝1+1", "＠SUM(A1)"];
    for (i, text) in hostile.iter().enumerate() {
        let tool = format!("{text}{i}");
        let body = json!({"tool": tool, "tenant": text, "resource": text, "method": text, "reference_id": text, "params": {"a": text}});
        app.check(body).await;
        let reason = format!(" \t{text}");
        let (status, approval) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": tool, "reason": reason})).await;
        assert_eq!(status, StatusCode::CREATED, "{approval}");
    }
    let response =
        app.request(reqwest::Method::GET, "/v1/activity/export?format=csv").header("X-API-Key", &app.keys.management).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let rows = parse_csv(&response.text().await.unwrap());
    let header = &rows[0];
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 1 + 3 + 2 * hostile.len(), "header, three key entries, a check and an approval per value");
    for row in &rows[1..] {
        assert_eq!(row.len(), header.len(), "{row:?}");
        for (name, cell) in header.iter().zip(row) {
            assert!(!is_formula(cell), "column {name} holds a formula: {cell:?}");
        }
    }
    let tools: Vec<&str> = rows[1..].iter().map(|row| row[column("tool")].as_str()).filter(|t| !t.is_empty()).collect();
    assert!(tools.contains(&"'=HYPERLINK(\"http://x\",\"y\")0"), "the text stays readable behind the quote: {tools:?}");
}

/// Every CEF line as the `pycef` parser reads it (custom labels applied), one JSON object each.
fn pycef(text: &str) -> Vec<serde_json::Value> {
    use std::io::Write as _;
    let script = r#"
import json, sys, pycef
for line in sys.stdin.read().splitlines():
    parsed = pycef.parse(line)
    if parsed is None:
        sys.exit("pycef refused: " + line)
    print(json.dumps(parsed))
"#;
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "pycef: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

/// An extension value as it was before CEF escaping (`pycef` leaves escapes in place).
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match (c, c == '\\') {
            (_, true) => match chars.next() {
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                Some(other) => out.push(other),
                None => panic!("a dangling backslash in {value:?}"),
            },
            (c, false) => out.push(c),
        }
    }
    out
}

#[tokio::test]
#[cfg_attr(not(python_pycef), ignore = "needs the pycef Python package: pip install pycef")]
async fn the_cef_export_is_read_by_a_cef_parser_and_says_what_the_trail_says() {
    let app = TestApp::sqlite().await;
    app.create("/v1/tools", json!({"name": "wire", "default_permission": "requires_approval"})).await;
    let hostile = "a=b \\ c|d\ne\r=\\=";
    app.check(json!({"tool": "wire", "tenant": "acme", "resource": "ledger", "method": "post", "params": {"memo": hostile, "n": 1}})).await;
    let (status, _) = app.post("/v1/approvals", &app.keys.standard, &json!({"tool": "wire", "reason": hostile})).await;
    assert_eq!(status, StatusCode::CREATED);
    app.check(json!({"tool": "unknown tool"})).await;
    let export = |format: &'static str| {
        let request = app.request(reqwest::Method::GET, &format!("/v1/activity/export?format={format}"));
        async { request.header("X-API-Key", &app.keys.management).send().await.unwrap() }
    };
    let response = export("cef").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    let cef = response.text().await.unwrap();
    let jsonl = export("jsonl").await.text().await.unwrap();
    let entries: Vec<serde_json::Value> = jsonl.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    let events = pycef(&cef);
    assert_eq!((cef.lines().count(), events.len()), (entries.len(), entries.len()), "one event per entry, one line per event");

    for (event, entry) in events.iter().zip(&entries) {
        let text = |key: &str| event.get(key).and_then(|v| v.as_str()).map(unescape);
        assert_eq!(
            (event["CEFVersion"].as_str(), event["DeviceVendor"].as_str(), event["DeviceProduct"].as_str()),
            (Some("0"), Some("oakallow"), Some("oakallow"))
        );
        assert_eq!(event["DeviceEventClassID"], entry["type"]);
        let severity: u8 = event["Severity"].as_str().unwrap().parse().unwrap();
        assert!(severity <= 10);
        assert_eq!(text("externalId").as_deref(), entry["id"].as_str());
        assert_eq!(text("deviceExternalId").as_deref(), entry["org_id"].as_str());
        assert_eq!(text("suser").as_deref(), entry["actor"]["label"].as_str());
        assert_eq!(text("seq"), Some(entry["seq"].to_string()));
        assert_eq!(text("hash").as_deref(), entry["hash"].as_str());
        assert_eq!(text("oakallowPrevHash").as_deref(), entry["prev_hash"].as_str());
        assert_eq!(text("tool").as_deref(), entry["tool"].as_str());
        assert_eq!(text("tenant").as_deref(), entry["tenant"].as_str());
        assert_eq!(text("act").as_deref(), entry["permission"].as_str());
        assert_eq!(text("reason").as_deref(), entry["reason"].as_str());
        assert_eq!(text("oakallowCheckId").as_deref(), entry["check_id"].as_str());
        let params = text("params").map(|p| serde_json::from_str::<serde_json::Value>(&p).unwrap());
        assert_eq!(params.as_ref(), entry.get("params").filter(|p| !p.is_null()));
        let at = oakallow_domain::Timestamp::parse_rfc3339(entry["at"].as_str().unwrap()).unwrap();
        assert_eq!(text("rt"), Some((at.micros() / 1000).to_string()));
    }
    let check = events.iter().find(|e| e["DeviceEventClassID"] == "permission.checked" && e["tool"] == "wire").unwrap();
    assert_eq!(
        unescape(check["params"].as_str().unwrap()),
        oakallow_domain::canonical::to_canonical_string(&json!({"memo": hostile, "n": 1}))
    );
    assert_eq!(
        (check["resource"].as_str(), check["method"].as_str(), check["Severity"].as_str()),
        (Some("ledger"), Some("post"), Some("4"))
    );
    let approval = events.iter().find(|e| e["DeviceEventClassID"] == "approval.created").unwrap();
    assert_eq!(unescape(approval["reason"].as_str().unwrap()), hostile);
    assert!(!cef.lines().any(|line| line.contains('\r')), "no raw line break inside an event");
}

#[tokio::test]
async fn a_followed_export_sends_every_new_entry_as_it_is_written() {
    let app = TestApp::sqlite().await;
    app.check(json!({"tool": "lookup"})).await;
    let mut stream = app
        .request(reqwest::Method::GET, "/v1/activity/export?format=cef&follow=true")
        .header("X-API-Key", &app.keys.management)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    // Lines as they arrive, until `want` of them are in; each chunk read is the event waited on.
    let mut text = String::new();
    let mut read_until = async |want: usize, text: &mut String| {
        while text.lines().count() < want {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), stream.chunk()).await.expect("no entry within 10 s");
            text.push_str(std::str::from_utf8(&chunk.unwrap().expect("the stream stays open")).unwrap());
        }
    };
    let (_, page) = app.get("/v1/activity?limit=500", &app.keys.management).await;
    let existing = page["data"].as_array().unwrap().len();
    read_until(existing, &mut text).await;
    app.check(json!({"tool": "after", "tenant": "acme"})).await;
    read_until(existing + 1, &mut text).await;
    let newest = text.lines().last().unwrap();
    assert!(
        newest.contains("|permission.checked|") && newest.contains("cs1=after") && newest.contains(&format!("cn1={}", existing + 1)),
        "{newest}"
    );

    let (status, refused) = app.get("/v1/activity/export?follow=true&until=2030-01-01T00:00:00Z", &app.keys.management).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
}
