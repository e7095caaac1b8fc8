//! The SSRF guard: webhook destinations on loopback, private, link-local (cloud metadata) or
//! otherwise internal addresses are refused unless the operator allows private targets. Names
//! are checked after DNS resolution, and deliveries connect only to the addresses that passed,
//! through a resolver of our own, so a name cannot resolve to a public address for the check
//! and to an internal one for the connection. Deliveries never use a proxy (see the worker's
//! client), since a proxy would resolve and reach the destination out of this guard's sight.

use std::net::{IpAddr, SocketAddr};

use oakallow_domain::webhook::is_private_target;
use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why a destination is refused.
pub(crate) fn refusal(allow_private: bool, addresses: &[IpAddr]) -> Option<String> {
    if addresses.is_empty() {
        return Some("the destination's host name does not resolve".into());
    }
    match addresses.iter().find(|ip| is_private_target(**ip)) {
        Some(ip) if !allow_private => Some(format!("the destination resolves to a private or internal address ({ip})")),
        _ => None,
    }
}

/// Parses and checks a destination URL given as `field`, resolving its host: `Err` says why it
/// is refused.
pub(crate) async fn check_destination(field: &str, text: &str, allow_private: bool) -> Result<(), String> {
    let url = Url::parse(text).map_err(|_| format!("{field} is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{field} must use http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{field} must not contain credentials"));
    }
    let addresses = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![IpAddr::V4(ip)],
        Some(url::Host::Ipv6(ip)) => vec![IpAddr::V6(ip)],
        Some(url::Host::Domain(name)) => {
            resolve(name, url.port_or_known_default().unwrap_or(443)).await.into_iter().map(|a| a.ip()).collect()
        }
        None => return Err(format!("{field} has no host")),
    };
    refusal(allow_private, &addresses).map_or(Ok(()), Err)
}

async fn resolve(name: &str, port: u16) -> Vec<SocketAddr> {
    tokio::net::lookup_host((name, port)).await.map(Iterator::collect).unwrap_or_default()
}

/// The resolver deliveries use: it answers only addresses that may be reached.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GuardedResolver {
    pub(crate) allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addresses = resolve(name.as_str(), 0).await;
            let ips: Vec<IpAddr> = addresses.iter().map(SocketAddr::ip).collect();
            if let Some(reason) = refusal(allow_private, &ips) {
                return Err(reason.into());
            }
            let addrs: Addrs = Box::new(addresses.into_iter());
            Ok(addrs)
        })
    }
}

/// Refuses a URL whose host is a literal internal address (names go through the resolver).
pub(crate) fn literal_refusal(url: &Url, allow_private: bool) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    refusal(allow_private, &[ip])
}
