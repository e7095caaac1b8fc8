//! MCP for oakallow: [`proxy`] puts upstream MCP tool servers behind oakallow's check →
//! approval → token → audit loop with no change in the agent (`oakallow mcp-proxy`), and
//! [`endpoint`] serves oakallow's own tools at `POST /mcp`. Built on the official Rust MCP SDK
//! (`rmcp`), kept out of the core crates so that they rebuild without it.

pub mod endpoint;
pub mod proxy;
