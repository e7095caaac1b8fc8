//! The server's edge: accepting connections and keeping any one client from holding the
//! server. A request's header must arrive within `header_read_timeout` and its body within
//! `body_read_timeout`; a kept-alive connection may idle for `idle_timeout`; a response the
//! client stops reading is dropped after `response_write_timeout`. At most `max_connections`
//! are open: a new connection beyond that replaces the one that has waited on its client
//! longest (for a header, a body, the next request, or to read a response), or, if the server
//! is working on every connection, is answered 503 and closed, so the process never runs out of
//! file descriptors. On shutdown, connections without a
//! request in flight are closed at once, the others finish their request, and whatever is left
//! after `shutdown_timeout` is dropped.

mod slot;
mod tracked;

use std::future::Future;
use std::io::{self, ErrorKind};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use self::slot::{Admitted, Table};
use self::tracked::{ConnectionService, Watched};

/// How long clients may take, and how many connections may be open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time for a request's header to arrive: from the connection's start, or from the first
    /// byte of a later request on a kept-alive connection.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Time for a request's body to arrive, from the end of its header.
    pub body_read_timeout: Duration,
    /// Time a response may wait for a client that does not read it.
    pub response_write_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// After shutdown begins, time for requests in flight to finish before their connections
    /// are dropped.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_read_timeout: Duration::from_secs(30),
            response_write_timeout: Duration::from_secs(30),
            max_connections: 4096,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// Accepts connections on `listener` and serves `router` on them until `shutdown` completes;
/// then calls `stopping` (which should answer long-polls at once) and closes every
/// connection, waiting at most `limits.shutdown_timeout` for requests in flight.
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
    stopping: impl FnOnce(),
) {
    let limits = Arc::new(limits);
    let table = Arc::new(Table::default());
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => admit(stream, &table, &limits, &router, &stopped, &mut connections),
                Err(error) => accept_failed(&error).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    stopping();
    stop.send_replace(true);
    finish(connections, limits.shutdown_timeout, table.len()).await;
}

/// Gives `stream` a place and a task, or refuses it if every connection is busy.
fn admit(
    stream: TcpStream,
    table: &Arc<Table>,
    limits: &Arc<ConnectionLimits>,
    router: &Router,
    stopped: &watch::Receiver<bool>,
    connections: &mut JoinSet<()>,
) {
    let Some(admitted) = table.admit(limits.max_connections) else {
        refuse(&stream);
        return;
    };
    // Answers are written whole; waiting to coalesce them with more would only add latency.
    let _ = stream.set_nodelay(true);
    connections.spawn(serve_connection(stream, admitted, Arc::clone(limits), router.clone(), stopped.clone()));
}

/// Serves one connection until it ends, expires, or the server stops.
async fn serve_connection(
    stream: TcpStream,
    admitted: Admitted,
    limits: Arc<ConnectionLimits>,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) {
    let slot = Arc::clone(&admitted.slot);
    let peer = stream.peer_addr().ok();
    let service = ConnectionService { router, slot: Arc::clone(&slot), body_read_timeout: limits.body_read_timeout, peer };
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&slot)));
    // hyper's own header timer runs from the moment a connection goes idle; it is kept only as
    // a backstop behind the slot's finer limits.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout + limits.header_read_timeout)
        .serve_connection(io, service);
    tokio::pin!(connection);
    let expiry = slot.expiry(&limits);
    tokio::pin!(expiry);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break;
            }
            why = &mut expiry => {
                tracing::debug!(?why, "closing a connection");
                break;
            }
            _ = stopped.changed(), if !stopping => {
                if !slot.busy() {
                    break;
                }
                connection.as_mut().graceful_shutdown();
                stopping = true;
            }
        }
    }
    drop(admitted);
}

/// Waits for the connections to finish, at most `deadline`, then drops what is left.
async fn finish(mut connections: JoinSet<()>, deadline: Duration, open: usize) {
    tracing::debug!(open, "waiting for connections to finish");
    let drained = tokio::time::timeout(deadline, async { while connections.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(left = connections.len(), "the shutdown deadline passed; closing the remaining connections");
        connections.shutdown().await;
    }
}

/// Tells a connection that cannot be served now so, if its socket takes the answer at once,
/// and closes it.
fn refuse(stream: &TcpStream) {
    const BODY: &str = r#"{"error":{"code":"unavailable","message":"the server has no room for another connection; retry","details":{}}}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = stream.try_write(answer.as_bytes());
    tracing::debug!("refused a connection: every connection has a request in flight");
}

/// Logs an accept error and, if it may be a shortage of file descriptors or memory, pauses
/// accepting briefly so that connections can close.
async fn accept_failed(error: &io::Error) {
    if matches!(error.kind(), ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused) {
        return;
    }
    tracing::error!(%error, "cannot accept connections");
    tokio::time::sleep(Duration::from_millis(100)).await;
}
