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
