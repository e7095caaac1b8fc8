//! The commands that talk to a running server over its API, as an agent or a person would:
//! `check`, `keys`, `approvals`, `activity`. Each prints a table (or a few lines) for people, and
//! with `--json` one JSON document for scripts (`activity tail --follow --json`: one entry per
//! line). Errors are the server's envelope, said in one line.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use oakallow_client::{ActivityQuery, Approval, ApprovalQuery, ApprovalStatus, Call, CheckRequest, Client, Verdict};
use serde_json::{Value, json};

/// The server and the key a command uses.
#[derive(Debug, Args)]
pub struct Remote {
    /// Server URL.
    #[arg(long, env = "OAKALLOW_URL", default_value = "http://127.0.0.1:8080")]
    url: String,
    /// API key (the tier the command needs: standard for `check`, management for `keys`,
    /// approver or management for `approvals`, any for `activity`).
    #[arg(long, env = "OAKALLOW_KEY", hide_env_values = true)]
    key: String,
    /// Print JSON for scripts instead of text for people.
    #[arg(long)]
    json: bool,
}

impl Remote {
    fn client(&self) -> Client {
        Client::new(&self.url, &self.key)
    }
}

/// `oakallow check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    remote: Remote,
    /// The tool.
    #[arg(long)]
    tool: String,
    /// Tenant external id.
    #[arg(long)]
    tenant: Option<String>,
    /// Resource.
    #[arg(long)]
    resource: Option<String>,
    /// Method.
    #[arg(long)]
    method: Option<String>,
    /// Parameters, as a JSON object.
    #[arg(long)]
    params: Option<String>,
    /// Also mint an execution token if allowed.
    #[arg(long)]
    mint_token: bool,
}

/// `oakallow keys …` (management key).
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// The org's keys, newest first.
    List {
        #[command(flatten)]
        remote: Remote,
    },
    /// A new key; the raw key is shown once.
    Create {
        #[command(flatten)]
        remote: Remote,
        /// A label for people.
        #[arg(long)]
        name: String,
        /// `standard` or `approver`.
        #[arg(long, default_value = "standard")]
        tier: String,
    },
    /// Revokes a key at once, on every node.
    Revoke {
        #[command(flatten)]
        remote: Remote,
        /// The key's id (`key_…`).
        id: String,
    },
}

/// `oakallow approvals …` (approver or management key).
#[derive(Debug, Subcommand)]
pub enum ApprovalsCommand {
    /// Approvals, newest first.
    List {
        #[command(flatten)]
        remote: Remote,
        /// Only this status: pending, approved, denied, expired, cancelled.
        #[arg(long)]
        status: Option<String>,
    },
    /// One approval in full.
    Show {
        #[command(flatten)]
        remote: Remote,
        /// The approval's id.
        id: String,
    },
    /// Approves the level waiting for a decision.
    Approve(Decide),
    /// Denies it.
    Deny(Decide),
}

/// The decision's arguments.
#[derive(Debug, Args)]
pub struct Decide {
    #[command(flatten)]
    remote: Remote,
    /// The approval's id.
    id: String,
    /// Who decides (recorded in the audit trail; required with an approver key).
    #[arg(long = "by")]
    by: Option<String>,
    /// A note for the agent.
    #[arg(long)]
    note: Option<String>,
}

/// `oakallow activity …`.
#[derive(Debug, Subcommand)]
pub enum ActivityCommand {
    /// The latest entries, oldest of them first; with --follow, then every new entry as it is
    /// written, until interrupted (or --max entries have been printed).
    Tail {
        #[command(flatten)]
        remote: Remote,
        /// How many of the latest entries to print first (0 to 500).
        #[arg(long, default_value_t = 10)]
        lines: u32,
        /// Keep printing new entries.
        #[arg(long)]
        follow: bool,
        /// How often to ask for new entries, in milliseconds.
        #[arg(long, default_value_t = 1000)]
        interval_ms: u64,
        /// Stop after printing this many entries in all.
        #[arg(long)]
        max: Option<u64>,
    },
    /// Recomputes the org's hash chain; exits non-zero if it is broken.
    Verify {
        #[command(flatten)]
        remote: Remote,
    },
    /// Every entry, oldest first, to a file (or stdout), with progress on stderr.
    Export {
        #[command(flatten)]
        remote: Remote,
        /// `jsonl`, `csv`, or `cef` (ArcSight CEF, for SIEMs).
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Where to write; `-` for stdout.
        #[arg(long, short = 'o', default_value = "-")]
        output: String,
    },
}

/// `oakallow check`.
pub async fn check(args: CheckArgs) -> Result<()> {
    let params = args.params.as_deref().map(serde_json::from_str).transpose().context("--params must be a JSON object")?;
    let call = Call { tool: args.tool, tenant: args.tenant, resource: args.resource, method: args.method, params };
    let answer = args.remote.client().check(&CheckRequest { mint_token: args.mint_token, ..call.into() }).await?;
    if args.remote.json {
        return print_json(&serde_json::to_value(&answer)?);
    }
    println!("{}  ({})", answer.permission.as_str(), answer.resolved_from.as_str());
    println!("check    {}", answer.check_id);
    if let Some(rule) = &answer.rule_id {
        println!("rule     {rule}");
    }
    if let Some(timeout) = answer.approval_timeout_seconds {
        println!("approval timeout {timeout} s");
    }
    if let Some(token) = &answer.token {
        println!("token    {token}");
    }
    Ok(())
}

/// `oakallow keys …`.
pub async fn keys(command: KeysCommand) -> Result<()> {
    match command {
        KeysCommand::List { remote } => {
            let keys = remote.client().keys().list_all().await?;
            if remote.json {
                return print_json(&Value::Array(keys));
            }
            let rows = keys.iter().map(|k| {
                let revoked = k["revoked_at"].as_str().map_or_else(String::new, |at| format!("revoked {}", short_time(at)));
                vec![text(&k["id"]), text(&k["name"]), text(&k["tier"]), text(&k["prefix"]), short_time(&text(&k["created_at"])), revoked]
            });
            table(&["id", "name", "tier", "prefix", "created (UTC)", ""], rows.collect());
        }
        KeysCommand::Create { remote, name, tier } => {
            let created = remote.client().keys().create(&json!({ "name": name, "tier": tier })).await?;
            if remote.json {
                return print_json(&created);
            }
            println!(
                "{} key {} ({}) created. It is shown this once:",
                text(&created["tier"]),
                text(&created["id"]),
                text(&created["name"])
            );
            println!("{}", text(&created["key"]));
        }
        KeysCommand::Revoke { remote, id } => {
            let revoked = remote.client().keys().delete(&id, false).await?;
            if remote.json {
                return print_json(&revoked);
            }
            println!("key {} revoked at {}", text(&revoked["id"]), text(&revoked["revoked_at"]));
        }
    }
    Ok(())
}

/// `oakallow approvals …`.
pub async fn approvals(command: ApprovalsCommand) -> Result<()> {
    match command {
        ApprovalsCommand::List { remote, status } => {
            let status = status
                .map(|status| serde_json::from_value::<ApprovalStatus>(json!(status)))
                .transpose()
                .context("--status is one of pending, approved, denied, expired, cancelled")?;
            let approvals = remote.client().all_approvals(&ApprovalQuery { status, ..ApprovalQuery::default() }).await?;
            if remote.json {
                return print_json(&serde_json::to_value(&approvals)?);
            }
            let rows = approvals.iter().map(|a| {
                vec![
                    a.id.clone(),
                    a.reference.clone(),
                    a.status.as_str().to_owned(),
                    format!("{}/{}", a.level, a.required_levels),
                    a.tool.clone(),
                    a.tenant.clone().unwrap_or_else(|| "-".to_owned()),
                    short_time(&a.expires_at),
                ]
            });
            table(&["id", "reference", "status", "level", "tool", "tenant", "expires (UTC)"], rows.collect());
        }
        ApprovalsCommand::Show { remote, id } => {
            let approval = remote.client().get_approval(&id, None).await?;
            if remote.json {
                return print_json(&serde_json::to_value(&approval)?);
            }
            show_approval(&approval);
        }
        ApprovalsCommand::Approve(decide) => decide_approval(decide, Verdict::Approved).await?,
        ApprovalsCommand::Deny(decide) => decide_approval(decide, Verdict::Denied).await?,
    }
    Ok(())
}

async fn decide_approval(args: Decide, decision: Verdict) -> Result<()> {
    // With a management key the server knows who decides; an approver key must say.
    let by = args.by.as_deref().unwrap_or_default();
    let decided = args.remote.client().decide(&args.id, decision, by, args.note.as_deref()).await?;
    if args.remote.json {
        return print_json(&serde_json::to_value(&decided)?);
    }
    show_approval(&decided);
    Ok(())
}

fn show_approval(a: &Approval) {
    println!("approval   {}  {}", a.id, a.reference);
    println!("status     {} (level {} of {})", a.status.as_str(), a.level, a.required_levels);
    println!("tool       {}", a.tool);
    println!("tenant     {}", a.tenant.as_deref().unwrap_or("-"));
    println!("reason     {}", a.reason);
    if let Some(params) = &a.params {
        println!("params     {params}");
    }
    println!("created    {}", a.created_at);
    println!("expires    {}", a.expires_at);
    for decision in &a.decisions {
        println!("level {}    {} by {} at {}", decision.level, decision.decision.as_str(), decision.decided_by, decision.decided_at);
    }
    if let Some(note) = &a.note {
        println!("note       {note}");
    }
}

/// `oakallow activity …`.
pub async fn activity(command: ActivityCommand) -> Result<()> {
    match command {
        ActivityCommand::Tail { remote, lines, follow, interval_ms, max } => tail(&remote, lines, follow, interval_ms, max).await,
        ActivityCommand::Verify { remote } => {
            let verdict = remote.client().verify_activity().await?;
            if remote.json {
                print_json(&serde_json::to_value(&verdict)?)?;
            } else if verdict.valid {
                println!("the chain verifies: {} entries, head {}", verdict.entries, verdict.head_hash);
            } else {
                let broken = verdict.first_broken.unwrap_or_default();
                println!("the chain is BROKEN at entry {} (seq {})", text(&broken["id"]), broken["seq"]);
            }
            if !verdict.valid {
                bail!("the activity chain does not verify");
            }
            Ok(())
        }
        ActivityCommand::Export { remote, format, output } => export(&remote, &format, &output).await,
    }
}

/// Prints the latest `lines` entries oldest first, then (following) each new one, in chain order.
async fn tail(remote: &Remote, lines: u32, follow: bool, interval_ms: u64, max: Option<u64>) -> Result<()> {
    let client = remote.client();
    let mut printed = 0u64;
    let newest = latest(&client, lines.clamp(1, 500)).await?;
    let first = newest.len().saturating_sub(lines as usize);
    for entry in &newest[first..] {
        if max.is_some_and(|max| printed >= max) {
            return Ok(());
        }
        print_entry(entry, remote.json)?;
        printed += 1;
    }
    let mut last_seq = newest.last().and_then(|e| e["seq"].as_u64()).unwrap_or(0);
    if follow {
        eprintln!("following new entries after #{last_seq} (Ctrl-C to stop)");
    }
    while follow && max.is_none_or(|max| printed < max) {
        tokio::time::sleep(Duration::from_millis(interval_ms.max(50))).await;
        for entry in since(&client, last_seq).await? {
            if max.is_some_and(|max| printed >= max) {
                break;
            }
            print_entry(&entry, remote.json)?;
            printed += 1;
            last_seq = entry["seq"].as_u64().unwrap_or(last_seq);
        }
    }
    Ok(())
}

/// The newest `count` entries, oldest first.
async fn latest(client: &Client, count: u32) -> Result<Vec<Value>> {
    let mut entries = client.list_activity(&ActivityQuery::default(), Some(count), None).await?.data;
    entries.reverse();
    Ok(entries)
}

/// Every entry after chain position `after`, oldest first (paging back until it is reached).
async fn since(client: &Client, after: u64) -> Result<Vec<Value>> {
    let mut newer = Vec::new();
    let mut cursor = None;
    loop {
        let page = client.list_activity(&ActivityQuery::default(), Some(500), cursor.as_deref()).await?;
        let reached = page.data.iter().any(|e| e["seq"].as_u64().is_some_and(|seq| seq <= after));
        newer.extend(page.data.into_iter().filter(|e| e["seq"].as_u64().is_some_and(|seq| seq > after)));
        match page.next_cursor {
            Some(next) if !reached => cursor = Some(next),
            _ => break,
        }
    }
    newer.sort_by_key(|e| e["seq"].as_u64());
    Ok(newer)
}

fn print_entry(entry: &Value, json: bool) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(entry)?)?;
    } else {
        let what = [&entry["tool"], &entry["permission"], &entry["result"]].iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(" ");
        writeln!(
            out,
            "{:>6}  {}  {:<22}  {:<14}  {what}",
            entry["seq"],
            short_time(&text(&entry["at"])),
            text(&entry["type"]),
            text(&entry["actor"]["label"])
        )?;
    }
    // Followed by a person or a pipe: each entry is out as soon as it is known.
    out.flush()?;
    Ok(())
}

/// Streams the export to `output`, saying on stderr how far it got (every 10,000 entries, and
/// at the end).
async fn export(remote: &Remote, format: &str, output: &str) -> Result<()> {
    let mut response = remote.client().export_activity(format, None, None).await?;
    let mut sink: Box<dyn std::io::Write> = if output == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::io::BufWriter::new(std::fs::File::create(output).with_context(|| format!("creating {output}"))?))
    };
    let (mut lines, mut bytes, mut said) = (0u64, 0u64, 0u64);
    while let Some(chunk) = response.chunk().await.context("reading the export")? {
        sink.write_all(&chunk)?;
        bytes += chunk.len() as u64;
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        if lines / 10_000 > said / 10_000 {
            said = lines;
            eprintln!("exported {lines} lines ({bytes} bytes)…");
        }
    }
    sink.flush()?;
    if format == "csv" {
        eprintln!("exported {} entries ({bytes} bytes)", lines.saturating_sub(1));
    } else {
        eprintln!("exported {lines} entries ({bytes} bytes)");
    }
    Ok(())
}

fn print_json(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// A value as text: strings as they are, null as `-`, anything else as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

/// An RFC 3339 time to the second, without the zone (the tables say UTC).
fn short_time(at: &str) -> String {
    at.get(..19).unwrap_or(at).replace('T', " ")
}

/// Prints `rows` under `headers`, each column as wide as its widest cell, and a count.
fn table(headers: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    let count = rows.len();
    for row in rows {
        line(row);
    }
    println!("{count} {}", if count == 1 { "row" } else { "rows" });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_cut_to_the_second() {
        assert_eq!(short_time("2026-11-30T19:00:01.123456Z"), "2026-11-30 19:00:01");
        assert_eq!(short_time("-"), "-");
    }
}
