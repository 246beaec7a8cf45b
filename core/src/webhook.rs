//! Security alerts by webhook, the pure part: the event catalogue, which audit actions raise
//! which event, Standard Webhooks signatures, and the rules a target URL and its addresses
//! must pass (no private, loopback or link-local targets: the server must not be a proxy into
//! its own network).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Prefix of a signing secret as shown to the user (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// The longest URL accepted.
pub const MAX_URL_CHARS: usize = 2048;

/// Something that happened in a workspace that an endpoint may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    KeyRotated,
    KeyRevoked,
    KeyRevealed,
    KeyImported,
    SecurityChanged,
    AttributeChanged,
    MemberChanged,
    RevokedKeyPresented,
    RejectionSpike,
    TrafficStopped,
    /// Sent by the "send test event" button only; never subscribed to.
    Test,
}

impl EventType {
    /// Every event an endpoint may subscribe to, in the order the dashboard lists them.
    pub const SUBSCRIBABLE: [EventType; 10] = [
        EventType::KeyRotated,
        EventType::KeyRevoked,
        EventType::KeyRevealed,
        EventType::KeyImported,
        EventType::SecurityChanged,
        EventType::AttributeChanged,
        EventType::MemberChanged,
        EventType::RevokedKeyPresented,
        EventType::RejectionSpike,
        EventType::TrafficStopped,
    ];

    /// The wire name, the payload's `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::KeyRotated => "key.rotated",
            EventType::KeyRevoked => "key.revoked",
            EventType::KeyRevealed => "key.revealed",
            EventType::KeyImported => "key.imported",
            EventType::SecurityChanged => "security.changed",
            EventType::AttributeChanged => "attribute.changed",
            EventType::MemberChanged => "member.changed",
            EventType::RevokedKeyPresented => "alert.revoked_key_presented",
            EventType::RejectionSpike => "alert.rejection_spike",
            EventType::TrafficStopped => "alert.traffic_stopped",
            EventType::Test => "webhook.test",
        }
    }

    /// A subscribable event by wire name.
    pub fn parse(name: &str) -> Option<EventType> {
        Self::SUBSCRIBABLE.into_iter().find(|e| e.as_str() == name)
    }

    /// A short description for people choosing events.
    pub fn describe(self) -> &'static str {
        match self {
            EventType::KeyRotated => "A key was rotated (a new primary key was created)",
            EventType::KeyRevoked => "A key was revoked",
            EventType::KeyRevealed => "A secret was revealed in clear",
            EventType::KeyImported => "A secret was imported",
            EventType::SecurityChanged => "Modes or token policy changed",
            EventType::AttributeChanged => "An attribute was added, changed or removed",
            EventType::MemberChanged => "A member joined, changed role or was removed",
            EventType::RevokedKeyPresented => "Tokens signed with a revoked key are still arriving",
            EventType::RejectionSpike => "Rejected verifications spiked",
            EventType::TrafficStopped => "Verified traffic stopped on a platform",
            EventType::Test => "Test event",
        }
    }

    /// The event an audited action raises, if any (written in the same transaction).
    pub fn for_audit_action(action: &str) -> Option<EventType> {
        match action {
            "key.rotated" => Some(EventType::KeyRotated),
            "key.revoked" => Some(EventType::KeyRevoked),
            "key.revealed" => Some(EventType::KeyRevealed),
            "key.imported" => Some(EventType::KeyImported),
            "security.updated" => Some(EventType::SecurityChanged),
            "attribute.created" | "attribute.updated" | "attribute.deleted" => Some(EventType::AttributeChanged),
            "member.role_changed" | "member.removed" | "invitation.accepted" => Some(EventType::MemberChanged),
            _ => None,
        }
    }
}

/// The `webhook-signature` header value: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` under the secret's bytes (Standard Webhooks).
pub fn signature(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else { return String::new() };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The secret as shown once to the user: `whsec_` and its bytes in base64.
pub fn display_secret(secret: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(secret))
}

/// Whether a URL may carry plain http (only to loopback, when private targets are allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Https,
    Http,
}

/// A webhook URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub scheme: Scheme,
    /// The host name or address, without brackets.
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl Target {
    /// The host as a literal address, if it is one.
    pub fn literal_ip(&self) -> Option<IpAddr> {
        self.host.parse().ok()
    }

    /// The `Host` header value.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') { format!("[{}]", self.host) } else { self.host.clone() };
        match (self.scheme, self.port) {
            (Scheme::Https, 443) | (Scheme::Http, 80) => host,
            _ => format!("{host}:{}", self.port),
        }
    }
}

/// Parses and checks a webhook URL: `https://host[:port][/path][?query]`, printable ASCII, no
/// credentials, no fragment. Plain `http` only when `allow_private` (local receivers in tests
/// and development). The host's addresses are checked separately ([`address_allowed`]).
pub fn parse_url(url: &str, allow_private: bool) -> Result<Target, String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Err(format!("url is longer than {MAX_URL_CHARS} characters."));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("url must be printable ASCII without spaces (percent-encode anything else).".into());
    }
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (Scheme::Https, rest)
    } else if let Some(rest) = url.strip_prefix("http://").filter(|_| allow_private) {
        (Scheme::Http, rest)
    } else {
        return Err("url must start with https://.".into());
    };
    if url.contains('#') {
        return Err("url must not have a fragment (#...).".into());
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.contains('@') {
        return Err("url must not contain credentials.".into());
    }
    let (host, port) = split_host_port(authority)?;
    let default_port = if scheme == Scheme::Https { 443 } else { 80 };
    let path = if path.is_empty() {
        "/".to_owned()
    } else if path.starts_with('?') {
        format!("/{path}")
    } else {
        path.to_owned()
    };
    Ok(Target { scheme, host, port: port.unwrap_or(default_port), path })
}

fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let bad_port = || "url has an invalid port.".to_string();
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("url has an unclosed [ in its host.")?;
        inside.parse::<Ipv6Addr>().map_err(|_| "url has an invalid IPv6 address.")?;
        let port = match after {
            "" => None,
            _ => Some(after.strip_prefix(':').ok_or_else(bad_port)?),
        };
        (inside.to_owned(), port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (authority.to_owned(), None),
        }
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad_port)?),
        None => None,
    };
    let host = host.to_ascii_lowercase();
    let valid_name = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty() && label.len() <= 63 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if host.contains(':') || valid_name {
        Ok((host, port))
    } else {
        Err("url has an invalid host name.".into())
    }
}

/// Whether a webhook may be delivered to `ip`: a public unicast address, or with
/// `allow_private` anything but the unspecified address.
pub fn address_allowed(ip: IpAddr, allow_private: bool) -> bool {
    if allow_private {
        return !ip.is_unspecified();
    }
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Carrier-grade NAT (100.64.0.0/10), benchmarking (198.18.0.0/15), reserved (240/4).
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local fc00::/7, link-local fe80::/10, documentation 2001:db8::/32.
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // NAT64 64:ff9b::/96 and IPv4-compatible ::/96 can reach private IPv4 space.
        || (first == 0x0064 && ip.segments()[1] == 0xff9b)
        || ip.segments()[..6].iter().all(|s| *s == 0))
}

/// Retry delay after the `attempts`-th failed attempt: 5 s, 20 s, 80 s, ... (×4), at most 6 h.
pub fn retry_delay_seconds(attempts: u32) -> i64 {
    let exponent = attempts.saturating_sub(1).min(10);
    (5_i64 * 4_i64.pow(exponent)).min(6 * 3600)
}

/// Attempts of one delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 8;
/// Consecutive failed attempts after which an endpoint is disabled.
pub const DISABLE_AFTER_FAILURES: u32 = 20;

#[cfg(test)]
mod tests {
    use super::*;

    /// The Standard Webhooks reference vector.
    #[test]
    fn signature_matches_the_reference() {
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_or_default();
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn urls() -> Result<(), String> {
        let t = parse_url("https://hooks.example.com/in?x=1", false)?;
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("hooks.example.com", 443, "/in?x=1"));
        let t = parse_url("https://[2606:4700::1]:8443", false)?;
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str(), t.authority()),
            ("2606:4700::1", 8443, "/", "[2606:4700::1]:8443".to_owned())
        );
        for bad in [
            "http://example.com",
            "ftp://x",
            "https://",
            "https://a b",
            "https://u:p@example.com",
            "https://x:0",
            "https://x:99999",
            "https://ex_ample.com",
            "https://x/#f",
            "https://x\0",
        ] {
            assert!(parse_url(bad, false).is_err(), "{bad}");
        }
        assert!(parse_url(&format!("https://x.com/{}", "a".repeat(MAX_URL_CHARS)), false).is_err());
        assert_eq!(parse_url("http://127.0.0.1:9/h", true).map(|t| t.scheme), Ok(Scheme::Http));
        Ok(())
    }

    #[test]
    fn private_addresses_are_refused() {
        for ip in [
            "10.0.0.1",
            "127.0.0.1",
            "169.254.169.254",
            "192.168.1.1",
            "172.16.0.1",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "::a00:1",
        ] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(!address_allowed(ip, false), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111", "1.1.1.1"] {
            let ip: IpAddr = ip.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert!(address_allowed(ip, false), "{ip}");
        }
        assert!(address_allowed(IpAddr::V4(Ipv4Addr::LOCALHOST), true));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(retry_delay_seconds(1), 5);
        assert_eq!(retry_delay_seconds(2), 20);
        assert_eq!(retry_delay_seconds(30), 6 * 3600);
    }

    #[test]
    fn audit_actions_map_to_events() {
        assert_eq!(EventType::for_audit_action("member.removed"), Some(EventType::MemberChanged));
        assert_eq!(EventType::for_audit_action("account.login"), None);
        for event in EventType::SUBSCRIBABLE {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(EventType::parse("webhook.test"), None);
    }
}
