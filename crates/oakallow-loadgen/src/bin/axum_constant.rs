//! `axum-constant`: the bare axum baseline of the HTTP benchmarks. Answers every POST with one
//! constant JSON body (HTTP/1.1, keep-alive) on a loopback address, and prints
//! `listening on ADDR` on stderr once it accepts connections. Stops on Ctrl-C or SIGTERM, and,
//! with `--stop-on-stdin-eof`, when its standard input closes (so that it never outlives the
//! script that started it).

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, ensure};
use axum::body::Bytes;
use clap::Parser;
use oakallow_loadgen::constant::{DEFAULT_BODY, router};

/// The bare axum baseline: a constant JSON answer to every POST.
#[derive(Debug, Parser)]
#[command(name = "axum-constant", about)]
struct Args {
    /// Address to listen on (loopback only; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A file holding the body to answer (default: a typical `POST /v1/check` answer).
    #[arg(long)]
    body: Option<PathBuf>,
    /// Stop when standard input reaches end of file.
    #[arg(long)]
    stop_on_stdin_eof: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.listen.ip().is_loopback(), "listen on a loopback address only");
    let body = match &args.body {
        Some(path) => Bytes::from(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?),
        None => Bytes::from_static(DEFAULT_BODY.as_bytes()),
    };
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    eprintln!("listening on {}", listener.local_addr()?);
    axum::serve(listener, router(body)).with_graceful_shutdown(stopped(args.stop_on_stdin_eof)).await?;
    Ok(())
}

/// Resolves on Ctrl-C, SIGTERM or (when asked) the end of standard input.
async fn stopped(watch_stdin: bool) {
    let stdin_closed = async {
        if !watch_stdin {
            return std::future::pending().await;
        }
        // A plain thread, not tokio's stdin: a read parked in tokio's blocking pool would hold up
        // the runtime's shutdown after a signal.
        let (closed, on_close) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut scratch = [0u8; 256];
            while std::io::stdin().read(&mut scratch).is_ok_and(|n| n > 0) {}
            drop(closed);
        });
        let _ = on_close.await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminated() => {}
        () = stdin_closed => {}
    }
}

#[cfg(unix)]
async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminated() {
    std::future::pending().await
}
