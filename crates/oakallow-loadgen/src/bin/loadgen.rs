//! `loadgen`: an HTTP/1.1 keep-alive load generator for servers on loopback. Every connection
//! keeps one request in flight; requests are built once (several bodies are sent in turn); each
//! response is read to its end (`Content-Length` or chunked) and its latency recorded in a
//! log-linear histogram. Prints one JSON line:
//! `{"requests", "errors", "rps", "p50_us", "p90_us", "p99_us", "max_us", …}`.
//!
//! It runs on ONE tokio worker thread by default (`--threads`), so that on a small machine most
//! of the CPU is left to the server being measured; one thread drives tens of thousands of
//! requests per second over loopback.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use oakallow_loadgen::http::Request;
use oakallow_loadgen::run::{Outcome, Plan, run};
use oakallow_loadgen::target::Target;
use serde_json::json;

/// Loads one URL with keep-alive HTTP/1.1 and prints a JSON summary.
#[derive(Debug, Parser)]
#[command(name = "loadgen", about)]
struct Args {
    /// The URL to load (http://, loopback only).
    #[arg(long)]
    url: String,
    /// The method (default: POST with a body, GET without).
    #[arg(long)]
    method: Option<String>,
    /// A body: JSON given inline (starting with `{` or `[`) or a file. Repeat it to send several
    /// bodies in turn.
    #[arg(long)]
    body: Vec<String>,
    /// A file with one body per line, sent in turn (added to --body).
    #[arg(long)]
    bodies_file: Option<String>,
    /// A header, `Name: value`; repeatable. `Content-Type: application/json` is added for bodies
    /// unless given.
    #[arg(long)]
    header: Vec<String>,
    /// Connections, each with one request in flight.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,
    /// Stop after this many requests in all (with --warmup 0, every one is measured).
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds a round trip may take before it counts as an error.
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
    /// Tokio worker threads driving the connections.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()?
    } else {
        tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads).enable_all().build()?
    };
    let outcome = runtime.block_on(async {
        let plan = plan(&args).await?;
        run(plan).await
    })?;
    println!("{}", summary(&args, &outcome));
    Ok(())
}

async fn plan(args: &Args) -> anyhow::Result<Plan> {
    let target = Target::resolve(&args.url).await?;
    let bodies = bodies(args)?;
    let method = args.method.clone().unwrap_or_else(|| if bodies.is_empty() { "GET" } else { "POST" }.to_owned());
    let headers = headers(args, !bodies.is_empty())?;
    let requests = if bodies.is_empty() {
        vec![Request::new(&method, &target.host, &target.path, &headers, b"")]
    } else {
        bodies.iter().map(|body| Request::new(&method, &target.host, &target.path, &headers, body)).collect()
    };
    Ok(Plan {
        addr: target.addr,
        requests,
        connections: args.connections,
        warmup: seconds(args.warmup)?,
        duration: seconds(args.duration)?,
        max_requests: args.requests,
        timeout: seconds(args.timeout)?,
    })
}

fn bodies(args: &Args) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut bodies = Vec::new();
    for body in &args.body {
        let trimmed = body.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            bodies.push(body.as_bytes().to_vec());
        } else {
            bodies.push(std::fs::read(Path::new(body)).with_context(|| format!("reading the body file {body}"))?);
        }
    }
    if let Some(file) = &args.bodies_file {
        let text = std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?;
        bodies.extend(text.lines().filter(|line| !line.trim().is_empty()).map(|line| line.as_bytes().to_vec()));
    }
    Ok(bodies)
}

fn headers(args: &Args, with_body: bool) -> anyhow::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    for header in &args.header {
        let Some((name, value)) = header.split_once(':') else { bail!("a header is `Name: value`, not {header:?}") };
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    if with_body && !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        headers.push(("Content-Type".to_owned(), "application/json".to_owned()));
    }
    Ok(headers)
}

fn seconds(value: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("not a duration in seconds: {value}"))
}

fn summary(args: &Args, outcome: &Outcome) -> serde_json::Value {
    let latencies = &outcome.latencies;
    let micros = |nanos: u64| (nanos as f64 / 100.0).round() / 10.0;
    let elapsed = outcome.elapsed.as_secs_f64();
    let statuses: serde_json::Map<String, serde_json::Value> =
        outcome.statuses.iter().map(|(status, count)| (status.to_string(), json!(count))).collect();
    json!({
        "requests": outcome.responses(),
        "errors": outcome.errors(),
        "rps": if elapsed > 0.0 { (outcome.responses() as f64 / elapsed * 10.0).round() / 10.0 } else { 0.0 },
        "p50_us": micros(latencies.quantile(0.50)),
        "p90_us": micros(latencies.quantile(0.90)),
        "p99_us": micros(latencies.quantile(0.99)),
        "max_us": micros(latencies.max()),
        "io_errors": outcome.io_errors,
        "statuses": statuses,
        "first_error": outcome.first_error,
        "connections": args.connections,
        "threads": args.threads.max(1),
        "seconds": (elapsed * 1000.0).round() / 1000.0,
    })
}
