//! The seed scripts: one `PUT /v1/policy` with the document as JSON, in curl (bash), Python
//! (standard library only) and TypeScript (Node 20: global `fetch`, ESM; plain JavaScript too).
//! Each reads `OAKALLOW_URL` (default: this server) and `OAKALLOW_MGMT_KEY`, and has a dry run
//! as a commented-out line.
//!
//! The document is embedded as text that each language takes literally: a quoted bash here-doc
//! (no line of pretty JSON can equal its delimiter), a raw triple-quoted Python string in which
//! each `'` next to another is written `\u0027` (so three in a row cannot occur; JSON has `'`
//! only inside strings, where the escape means the same), and a JavaScript object literal (JSON
//! is one).

/// What every script says first: what it does and what it needs.
fn header(comment: &str, org: &str) -> String {
    [
        format!("{comment} Seeds the policy composed in the oakallow API Builder (org {org})."),
        format!("{comment} PUT /v1/policy REPLACES the org's whole policy with this document:"),
        format!("{comment} tools, categories, tenants, resources, methods and rules not in it are deleted."),
        format!("{comment} Needs a management key of the org in OAKALLOW_MGMT_KEY."),
    ]
    .join("\n")
}

/// The bash script.
pub(crate) fn curl(json: &str, base: &str, org: &str) -> String {
    format!(
        r#"#!/usr/bin/env bash
{header}
set -euo pipefail
OAKALLOW_URL="${{OAKALLOW_URL:-{base}}}"
: "${{OAKALLOW_MGMT_KEY:?set OAKALLOW_MGMT_KEY to a management key of the org}}"
URL="${{OAKALLOW_URL%/}}/v1/policy"
# Dry run instead (only reports what would change, changes nothing):
# URL="$URL?dry_run=true"
curl --fail-with-body --silent --show-error -X PUT "$URL" \
  -H "Authorization: Bearer $OAKALLOW_MGMT_KEY" \
  -H "Content-Type: application/json" \
  --data-binary @- <<'OAKALLOW_POLICY'
{json}
OAKALLOW_POLICY
echo
"#,
        header = header("#", org),
    )
}

/// The Python script.
pub(crate) fn python(json: &str, base: &str, org: &str) -> String {
    let json = quotes_apart(json);
    format!(
        r#"#!/usr/bin/env python3
{header}
import json
import os
import sys
import urllib.error
import urllib.request

POLICY = json.loads(r'''
{json}
''')

url = os.environ.get("OAKALLOW_URL", "{base}").rstrip("/") + "/v1/policy"
# Dry run instead (only reports what would change, changes nothing):
# url += "?dry_run=true"
key = os.environ.get("OAKALLOW_MGMT_KEY")
if not key:
    sys.exit("set OAKALLOW_MGMT_KEY to a management key of the org")
request = urllib.request.Request(
    url,
    data=json.dumps(POLICY).encode("utf-8"),
    method="PUT",
    headers={{"Authorization": "Bearer " + key, "Content-Type": "application/json"}},
)
try:
    with urllib.request.urlopen(request) as response:
        print(response.read().decode("utf-8"))
except urllib.error.HTTPError as error:
    sys.exit(f"{{error.code}} {{error.read().decode('utf-8')}}")
"#,
        header = header("#", org),
    )
}

/// `json` with each `'` that touches another `'` written `\u0027`.
fn quotes_apart(json: &str) -> String {
    let chars: Vec<char> = json.chars().collect();
    let quote = |i: Option<usize>| i.and_then(|i| chars.get(i)) == Some(&'\'');
    let mut out = String::with_capacity(json.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == '\'' && (quote(i.checked_sub(1)) || quote(Some(i + 1))) {
            out.push_str("\\u0027");
        } else {
            out.push(c);
        }
    }
    out
}

/// The TypeScript (and JavaScript) module.
pub(crate) fn typescript(json: &str, base: &str, org: &str) -> String {
    format!(
        r#"{header}
// Node 20 or later, as an ES module: save as seed-policy.mts and run `npx tsx seed-policy.mts`,
// or, since it is plain JavaScript too, save as seed-policy.mjs and run `node seed-policy.mjs`.
const policy = {json};

let url = (process.env.OAKALLOW_URL ?? "{base}").replace(/\/+$/, "") + "/v1/policy";
// Dry run instead (only reports what would change, changes nothing):
// url += "?dry_run=true";
const key = process.env.OAKALLOW_MGMT_KEY;
if (!key) {{
  console.error("set OAKALLOW_MGMT_KEY to a management key of the org");
  process.exit(1);
}}
const response = await fetch(url, {{
  method: "PUT",
  headers: {{ Authorization: `Bearer ${{key}}`, "Content-Type": "application/json" }},
  body: JSON.stringify(policy),
}});
const answer = await response.text();
if (!response.ok) {{
  console.error(response.status, answer);
  process.exit(1);
}}
console.log(answer);
"#,
        header = header("//", org),
    )
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::*;
    use crate::dashboard::web::base_url;

    #[test]
    fn the_default_url_is_this_server_unless_the_host_looks_odd() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "oak.example:8443".parse().unwrap());
        assert_eq!(base_url(&headers), "http://oak.example:8443");
        headers.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(base_url(&headers), "https://oak.example:8443");
        headers.insert("host", "evil$(id)".parse().unwrap());
        assert_eq!(base_url(&headers), "http://127.0.0.1:8080");
    }

    #[test]
    fn python_gets_no_three_quotes_in_a_row_that_could_end_its_string() {
        let script = python(r#"{"note": "it's '' or ''''"}"#, "http://h", "org_1");
        assert!(script.contains(r#"{"note": "it's \u0027\u0027 or \u0027\u0027\u0027\u0027"}"#), "{script}");
    }
}
