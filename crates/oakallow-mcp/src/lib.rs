//! MCP for oakallow: [`proxy`] puts upstream MCP tool servers behind oakallow's check →
//! approval → token → audit loop with no change in the agent (`oakallow mcp-proxy`), and
//! [`endpoint`] serves oakallow's own tools at `POST /mcp`. Built on the official Rust MCP SDK
//! (`rmcp`), kept out of the core crates so that they rebuild without it.

pub mod endpoint;
pub mod proxy;

use rmcp::model::{Implementation, ServerCapabilities, ServerConfig};

/// What an oakallow MCP server tells its client in `initialize`: its name, that it has tools
/// (and nothing else), and how to use it.
fn server_config(name: &str, instructions: &str) -> ServerConfig {
    let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
    info.server_info = Implementation::new(name, env!("CARGO_PKG_VERSION"));
    info.instructions = Some(instructions.to_owned());
    info
}
