//! Where the load goes: a loopback `http://` URL turned into a socket address, a `Host` value and
//! a path.

use std::net::SocketAddr;

use anyhow::{Context, bail};

/// A parsed `http://host:port/path` on loopback.
#[derive(Debug, Clone)]
pub struct Target {
    /// The address to connect to.
    pub addr: SocketAddr,
    /// The `Host` header value (`host:port` as given).
    pub host: String,
    /// The path and query.
    pub path: String,
}

impl Target {
    /// Parses `url` and resolves its host, refusing anything that is not plain HTTP on loopback.
    pub async fn resolve(url: &str) -> anyhow::Result<Self> {
        let rest = url.strip_prefix("http://").context("only http:// URLs are supported")?;
        let (authority, path) = rest.find('/').map_or((rest, "/"), |at| rest.split_at(at));
        if !authority.contains(':') {
            bail!("the URL must name a port: {url}");
        }
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(authority).await.with_context(|| format!("resolving {authority}"))?.collect();
        let addr = *addrs.first().with_context(|| format!("{authority} resolves to nothing"))?;
        if addrs.iter().any(|addr| !addr.ip().is_loopback()) {
            bail!("{authority} is not a loopback address: this tool only loads servers on this machine");
        }
        Ok(Self { addr, host: authority.to_owned(), path: path.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn loopback_urls_resolve_and_others_are_refused() {
        let target = Target::resolve("http://127.0.0.1:8080/v1/check?x=1").await.ok();
        let parts = target.map(|t| (t.addr.to_string(), t.host, t.path));
        assert_eq!(parts, Some(("127.0.0.1:8080".to_owned(), "127.0.0.1:8080".to_owned(), "/v1/check?x=1".to_owned())));
        let root = Target::resolve("http://[::1]:9").await.ok().map(|t| t.path);
        assert_eq!(root.as_deref(), Some("/"));
        for refused in ["https://127.0.0.1:1/", "http://127.0.0.1/", "http://10.0.0.1:80/", "http://192.0.2.1:80/"] {
            assert!(Target::resolve(refused).await.is_err(), "{refused}");
        }
    }
}
