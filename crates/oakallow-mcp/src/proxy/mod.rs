//! `oakallow mcp-proxy`: an MCP server for the agent's client (stdio, or Streamable HTTP with
//! `listen`) in front of one or more upstream MCP servers, with every `tools/call` put through
//! oakallow. See `docs/MCP.md`.

mod api;
mod gateway;
mod upstream;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;

pub use gateway::{REASON_META_KEY, TOKEN_META_KEY};
pub use upstream::UpstreamSpec;

use api::Oakallow;
use gateway::Gateway;
use upstream::Upstream;

/// How long a call waits for a person by default.
pub const DEFAULT_APPROVAL_WAIT_SECONDS: u64 = 300;

/// What the gateway needs: the oakallow server and key, the upstreams, and how to serve.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// Base URL of the oakallow server.
    #[serde(default)]
    pub url: Option<String>,
    /// The agent's standard API key. Prefer the `OAKALLOW_KEY` environment variable to writing
    /// it in a file.
    #[serde(default)]
    pub key: Option<String>,
    /// Tenant `external_id` the calls are made for.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Longest wait for a person, in seconds, before the call returns an error naming the
    /// approval (default 300).
    #[serde(default)]
    pub approval_wait_seconds: Option<u64>,
    /// Serve Streamable HTTP on this address instead of stdio.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
    /// `Host` header values the HTTP listener accepts (default: loopback names only, which
    /// stops DNS rebinding).
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
    /// The servers behind the gateway.
    #[serde(default, rename = "upstream")]
    pub upstreams: Vec<UpstreamSpec>,
}

/// Everything but the key, which never reaches a log.
impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("url", &self.url)
            .field("tenant", &self.tenant)
            .field("approval_wait_seconds", &self.approval_wait_seconds)
            .field("listen", &self.listen)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("upstreams", &self.upstreams)
            .finish_non_exhaustive()
    }
}

impl ProxyConfig {
    /// Reads a TOML config file (`[[upstream]]` tables for the servers).
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("could not read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not a valid mcp-proxy config", path.display()))
    }
}

/// Connects to every upstream, then serves the gateway until the client leaves (stdio) or the
/// process is told to stop (HTTP; `shutdown`).
pub async fn run(config: ProxyConfig, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let url = config.url.as_deref().context("the oakallow URL is missing: --url or OAKALLOW_URL")?;
    let key = config.key.as_deref().context("the standard API key is missing: --key or OAKALLOW_KEY")?;
    if config.upstreams.is_empty() {
        bail!("no upstream MCP server: give --upstream-cmd, --upstream-url or [[upstream]] in --config");
    }
    let mut upstreams = Vec::with_capacity(config.upstreams.len());
    for (index, spec) in config.upstreams.iter().enumerate() {
        upstreams.push(Upstream::connect(spec, index).await?);
    }
    let mut names: Vec<&str> = upstreams.iter().map(|u| u.name.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|pair| pair[0] == pair[1]) {
        bail!("two upstreams have the same name; give each a distinct `name` in the config file");
    }
    let wait = Duration::from_secs(config.approval_wait_seconds.unwrap_or(DEFAULT_APPROVAL_WAIT_SECONDS));
    let gateway = Gateway::new(Oakallow::new(url, key, config.tenant.clone()), upstreams, wait);
    match config.listen {
        None => {
            let running = gateway.serve(rmcp::transport::stdio()).await.context("the MCP client did not complete the handshake")?;
            tokio::select! {
                quit = running.waiting() => { quit.context("the stdio session failed")?; }
                () = shutdown => {}
            }
        }
        Some(address) => {
            let stopping = CancellationToken::new();
            let mut http =
                StreamableHttpServerConfig::default().with_legacy_session_mode(false).with_cancellation_token(stopping.child_token());
            if let Some(hosts) = &config.allowed_hosts {
                http = http.with_allowed_hosts(hosts.clone());
            }
            let service = StreamableHttpService::new(move || Ok(gateway.clone()), Arc::new(NeverSessionManager::default()), http);
            let router = axum::Router::new().route_service("/mcp", service);
            let listener = tokio::net::TcpListener::bind(address).await.with_context(|| format!("could not listen on {address}"))?;
            // The one line a supervisor (or a test) waits for: where the gateway listens.
            eprintln!("oakallow mcp-proxy listening on http://{}/mcp", listener.local_addr()?);
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    shutdown.await;
                    stopping.cancel();
                })
                .await
                .context("the HTTP listener failed")?;
        }
    }
    Ok(())
}
