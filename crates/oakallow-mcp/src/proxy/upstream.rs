//! The MCP servers behind the gateway: a command run over stdio, or a Streamable HTTP URL.

use std::process::Stdio;

use anyhow::{Context, bail};
use rmcp::model::{CallToolRequestParams, CallToolResult, Tool};
use rmcp::service::RunningService;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{RoleClient, ServiceExt};
use serde::Deserialize;

/// How to reach one upstream server, as the command line or the config file names it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct UpstreamSpec {
    /// The prefix of its tools' names when another upstream has a tool of the same name.
    /// Defaults to the server's own name from its `initialize` answer.
    #[serde(default)]
    pub name: Option<String>,
    /// Program and arguments of a stdio server.
    #[serde(default)]
    pub command: Option<Vec<String>>,
    /// Environment variables for the command, on top of the gateway's own.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// URL of a Streamable HTTP server.
    #[serde(default)]
    pub url: Option<String>,
}

impl UpstreamSpec {
    /// A stdio server from a command line (split on white space).
    pub fn command_line(line: &str) -> Self {
        Self { name: None, command: Some(line.split_whitespace().map(str::to_owned).collect()), env: Default::default(), url: None }
    }

    /// A Streamable HTTP server.
    pub fn url(url: &str) -> Self {
        Self { name: None, command: None, env: Default::default(), url: Some(url.to_owned()) }
    }
}

/// A connected upstream.
pub(crate) struct Upstream {
    /// Prefix for colliding tool names.
    pub(crate) name: String,
    service: RunningService<RoleClient, ()>,
}

/// Keeps a name usable in tool names: letters, digits, `_` and `-`; others become `_`.
fn tool_name_part(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

impl Upstream {
    /// Starts the command or connects to the URL, and completes the MCP handshake.
    pub(crate) async fn connect(spec: &UpstreamSpec, index: usize) -> anyhow::Result<Self> {
        let service = match (&spec.command, &spec.url) {
            (Some(command), None) => {
                let (program, args) = command.split_first().context("an upstream command is empty")?;
                let mut process = tokio::process::Command::new(program);
                process.args(args).envs(&spec.env);
                // The server's own log stays on our stderr; stdout is the protocol.
                let (transport, _) = TokioChildProcess::builder(process)
                    .stderr(Stdio::inherit())
                    .spawn()
                    .with_context(|| format!("could not start the upstream command {program:?}"))?;
                ().serve(transport).await.with_context(|| format!("the upstream command {program:?} did not complete the MCP handshake"))?
            }
            (None, Some(url)) => {
                let transport = StreamableHttpClientTransport::from_uri(url.as_str());
                ().serve(transport).await.with_context(|| format!("the upstream at {url} did not complete the MCP handshake"))?
            }
            _ => bail!("an upstream needs exactly one of `command` and `url`"),
        };
        let server_name = service.peer_info().and_then(|info| info.server_info.as_ref().map(|server| server.name.clone()));
        let name = spec.name.clone().or(server_name).map_or_else(|| format!("upstream{}", index + 1), |name| tool_name_part(&name));
        Ok(Self { name, service })
    }

    /// Every tool the server lists, following its pages.
    pub(crate) async fn tools(&self) -> anyhow::Result<Vec<Tool>> {
        self.service.peer().list_all_tools().await.with_context(|| format!("upstream {} could not list its tools", self.name))
    }

    /// Calls one of its tools.
    pub(crate) async fn call(&self, request: CallToolRequestParams) -> Result<CallToolResult, rmcp::ServiceError> {
        self.service.peer().call_tool(request).await
    }
}
