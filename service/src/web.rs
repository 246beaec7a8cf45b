//! Reading a request's caller from HTTP headers, shared by the API and the dashboard.

use std::net::IpAddr;
use std::str::FromStr;

use http::{header, HeaderMap};

use crate::accounts::session_from_cookie_header;
use crate::RequestMeta;

/// Request metadata from the client address and the `User-Agent` header (cut at 512 chars).
/// `peer` is the client as [`client_ip`] resolved it.
pub fn request_meta(headers: &HeaderMap, peer: Option<IpAddr>) -> RequestMeta {
    let user_agent =
        headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(512).collect());
    RequestMeta { ip: peer.map(|ip| ip.to_string()), user_agent }
}

/// The reverse proxies whose `X-Forwarded-For` is believed (`COUNTERSIGN_TRUSTED_PROXIES`):
/// addresses and CIDR ranges. Empty by default, because anyone can send that header: believed
/// from an untrusted peer, it would let a client pick the IP that audit rows and login
/// throttling see.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<(IpAddr, u8)>);

impl TrustedProxies {
    /// Whether no proxy is trusted (the peer is always the client).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|&(net, prefix)| match (net, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(u32::from(net).into(), u32::from(ip).into(), 32, prefix),
            (IpAddr::V6(net), IpAddr::V6(ip)) => same_prefix(u128::from(net), u128::from(ip), 128, prefix),
            _ => false,
        })
    }
}

fn same_prefix(a: u128, b: u128, bits: u8, prefix: u8) -> bool {
    let shift = bits - prefix;
    shift >= bits || (a >> shift) == (b >> shift)
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Comma-separated addresses and CIDR ranges: `10.0.0.0/8, 192.0.2.7, fd00::/8`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || format!("entry {entry:?} is not an IP address or CIDR range (like 10.0.0.0/8)");
            let (addr, prefix) = entry.split_once('/').map_or((entry, None), |(a, p)| (a, Some(p)));
            let addr = IpAddr::from_str(addr).map_err(|_| bad())?.to_canonical();
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
                None => max,
            };
            nets.push((addr, prefix));
        }
        Ok(TrustedProxies(nets))
    }
}

/// The client's address: the peer, or, when the peer is a trusted proxy, the address it
/// forwarded. `X-Forwarded-For` is read from the right (the entry the nearest proxy appended)
/// and trusted proxies are skipped, so an entry a client wrote itself is never taken unless
/// every hop after it is trusted.
pub fn client_ip(headers: &HeaderMap, peer: IpAddr, trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer;
    if !trusted.contains(peer) {
        return client;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in forwarded.into_iter().rev() {
        let Ok(ip) = IpAddr::from_str(hop) else { break };
        client = ip.to_canonical();
        if !trusted.contains(client) {
            break;
        }
    }
    client
}

/// The session token of the request's `Cookie` header(s), if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session_from_cookie_header)
        .map(str::to_owned)
}

/// The token of an `Authorization: Bearer` header, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn xff(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = value.parse() {
            headers.insert("x-forwarded-for", value);
        }
        headers
    }

    /// Addresses and ranges parse; anything else is refused with the entry named.
    #[test]
    fn parses_addresses_and_ranges() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.0.2.7 ,fd00::/8".parse().unwrap_or_default();
        assert!(trusted.contains(ip("10.1.2.3")));
        assert!(trusted.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped peers match IPv4 ranges");
        assert!(trusted.contains(ip("192.0.2.7")));
        assert!(!trusted.contains(ip("192.0.2.8")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(!trusted.contains(ip("fe80::1")));
        assert!("0.0.0.0/0".parse::<TrustedProxies>().is_ok_and(|t| t.contains(ip("8.8.8.8"))));
        assert_eq!("".parse::<TrustedProxies>(), Ok(TrustedProxies::default()));
        for bad in ["10.0.0.0/33", "proxy.local", "10.0.0.1/", "::1/129"] {
            assert!(bad.parse::<TrustedProxies>().is_err_and(|e| e.contains(bad)), "{bad}");
        }
    }

    /// X-Forwarded-For is ignored from an untrusted peer and read from the right behind
    /// trusted ones; a client cannot smuggle an address past the nearest proxy.
    #[test]
    fn client_address() {
        let trusted: TrustedProxies = "10.0.0.0/8".parse().unwrap_or_default();
        let none = TrustedProxies::default();
        assert_eq!(client_ip(&xff("203.0.113.9"), ip("198.51.100.1"), &trusted), ip("198.51.100.1"));
        assert_eq!(client_ip(&xff("203.0.113.9"), ip("10.0.0.2"), &none), ip("10.0.0.2"));
        assert_eq!(client_ip(&xff("203.0.113.9"), ip("10.0.0.2"), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(&xff("1.1.1.1, 203.0.113.9, 10.0.0.5"), ip("10.0.0.2"), &trusted), ip("203.0.113.9"));
        assert_eq!(client_ip(&xff("junk, 10.0.0.5"), ip("10.0.0.2"), &trusted), ip("10.0.0.5"));
        assert_eq!(client_ip(&HeaderMap::new(), ip("10.0.0.2"), &trusted), ip("10.0.0.2"));
    }
}
