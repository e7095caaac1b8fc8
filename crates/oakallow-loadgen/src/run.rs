//! The load itself: `connections` tasks, each with one keep-alive connection and one request in
//! flight at a time, for a warm-up and then a measured window (or until a number of requests has
//! been sent). Each task keeps its own histogram; they are merged at the end.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::histogram::Histogram;
use crate::http::{ParseError, Request, Response, parse_response};

/// What to send, where, how hard and for how long.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The server.
    pub addr: SocketAddr,
    /// The requests, sent in turn; connection `i` starts at request `i`.
    pub requests: Vec<Request>,
    /// Connections, each with one request in flight.
    pub connections: usize,
    /// Time spent loading before measuring starts.
    pub warmup: Duration,
    /// The measured window.
    pub duration: Duration,
    /// Stop after this many requests in all (counted from the start, warm-up included).
    pub max_requests: Option<u64>,
    /// A round trip slower than this is an error and its connection is dropped.
    pub timeout: Duration,
}

/// What happened in the measured window.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Latency of every response (nanoseconds), whatever its status.
    pub latencies: Histogram,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Round trips that failed (connect, write, read, timeout, unparsable response).
    pub io_errors: u64,
    /// The first failure, for the report.
    pub first_error: Option<String>,
    /// The measured window's length.
    pub elapsed: Duration,
}

impl Outcome {
    /// Responses received (any status).
    pub fn responses(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Responses that were not 2xx, plus failed round trips.
    pub fn errors(&self) -> u64 {
        self.io_errors + self.statuses.iter().filter(|(status, _)| !(200..300).contains(*status)).map(|(_, n)| n).sum::<u64>()
    }

    fn merge(&mut self, other: Outcome) {
        self.latencies.merge(&other.latencies);
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.io_errors += other.io_errors;
        self.first_error = self.first_error.take().or(other.first_error);
    }

    fn failed(&mut self, error: &io::Error) {
        self.io_errors += 1;
        self.first_error.get_or_insert_with(|| error.to_string());
    }
}

/// When recording starts and when sending stops.
#[derive(Debug, Clone, Copy)]
struct Window {
    record_from: Instant,
    end: Instant,
}

/// Runs the plan to its end and returns the merged outcome.
pub async fn run(plan: Plan) -> anyhow::Result<Outcome> {
    anyhow::ensure!(!plan.requests.is_empty() && plan.connections > 0, "nothing to send");
    let start = Instant::now();
    let window = Window { record_from: start + plan.warmup, end: start + plan.warmup + plan.duration };
    let plan = Arc::new(plan);
    let sent = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..plan.connections).map(|index| tokio::spawn(connection(plan.clone(), index, window, sent.clone()))).collect();
    let mut outcome = Outcome::default();
    for task in tasks {
        outcome.merge(task.await?);
    }
    outcome.elapsed = Instant::now().min(window.end).saturating_duration_since(window.record_from);
    Ok(outcome)
}

/// One connection's loop: send, read the whole response, record, repeat.
async fn connection(plan: Arc<Plan>, index: usize, window: Window, sent: Arc<AtomicU64>) -> Outcome {
    let mut outcome = Outcome::default();
    let mut stream = None;
    let mut buffer = Vec::with_capacity(16 * 1024);
    let mut next = index % plan.requests.len();
    loop {
        let started = Instant::now();
        let over_count = plan.max_requests.is_some_and(|max| sent.fetch_add(1, Ordering::Relaxed) >= max);
        if started >= window.end || over_count {
            return outcome;
        }
        let request = &plan.requests[next];
        next = (next + 1) % plan.requests.len();
        let result = tokio::time::timeout(plan.timeout, round_trip(&mut stream, plan.addr, request, &mut buffer)).await;
        let result = result.unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "round trip timed out")));
        let recording = started >= window.record_from;
        match result {
            Ok(response) => {
                if response.closes {
                    stream = None;
                }
                if recording {
                    outcome.latencies.record(started.elapsed().as_nanos() as u64);
                    *outcome.statuses.entry(response.status).or_default() += 1;
                }
            }
            Err(error) => {
                let was_connecting = stream.is_none();
                stream = None;
                if recording {
                    outcome.failed(&error);
                }
                if was_connecting {
                    // The server refuses connections: do not spin on it.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
    }
}

/// Sends `request` on the open connection (opening one if needed) and reads its response whole.
async fn round_trip(slot: &mut Option<TcpStream>, addr: SocketAddr, request: &Request, buffer: &mut Vec<u8>) -> io::Result<Response> {
    let stream = match slot {
        Some(stream) => stream,
        None => {
            let stream = TcpStream::connect(addr).await?;
            stream.set_nodelay(true)?;
            slot.insert(stream)
        }
    };
    stream.write_all(request.bytes()).await?;
    buffer.clear();
    loop {
        if buffer.len() == buffer.capacity() {
            buffer.reserve(buffer.len().max(4096));
        }
        if stream.read_buf(buffer).await? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed the connection"));
        }
        match parse_response(buffer) {
            Ok(Some(response)) if response.len == buffer.len() => return Ok(response),
            Ok(Some(_)) => return Err(io::Error::new(io::ErrorKind::InvalidData, "bytes after the response")),
            Ok(None) => {}
            Err(ParseError::Malformed) => return Err(io::Error::new(io::ErrorKind::InvalidData, "malformed response")),
            Err(ParseError::UntilClose) => return Err(io::Error::new(io::ErrorKind::InvalidData, "response without a length")),
        }
    }
}
