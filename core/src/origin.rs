//! The web `Origin` allowlist (PRODUCT.md, "Origins"). Entries are `scheme://host[:port]`,
//! matched exactly after normalisation (scheme and host lowercased, the default port of http/https
//! dropped, one trailing `/` tolerated on an entry), or `scheme://*.example.com[:port]`, which
//! matches any subdomain (at any depth) of `example.com` but not `example.com` itself, with the
//! same scheme and port. An `Origin` (RFC 6454) never has a path, so one with a path never matches.

/// A normalised origin: lowercase scheme and host, port `None` when it is the scheme's default.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin {
    /// Lowercase scheme (`https`).
    scheme: String,
    /// Lowercase host, a bracketed IPv6 literal, or `*.domain` for a wildcard entry.
    host: String,
    /// Explicit port; `None` for the scheme's default (80 for http, 443 for https) or none.
    port: Option<u16>,
}

/// Parses `scheme://host[:port]` (host may be a bracketed IPv6 literal); `None` if anything else.
fn parse(text: &str, allow_wildcard: bool) -> Option<Origin> {
    let (scheme, rest) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return None;
    }
    let (host, port) = if rest.starts_with('[') {
        let (host, after) = rest.split_once(']')?;
        (format!("{host}]"), after)
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host.to_string(), rest.get(host.len()..).unwrap_or(port)),
            None => (rest.to_string(), ""),
        }
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        None => return None,
        Some(digits) if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) => {
            Some(digits.parse::<u16>().ok()?)
        }
        Some(_) => return None,
    };
    let host = host.to_ascii_lowercase();
    if !host_ok(&host, allow_wildcard) {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    };
    let port = if port == default_port { None } else { port };
    Some(Origin { scheme, host, port })
}

/// A host is a bracketed IPv6 literal or dot-separated non-empty labels of letters, digits, `-`
/// and `_`; a wildcard entry may start with the label `*`.
fn host_ok(host: &str, allow_wildcard: bool) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    let labels: Vec<&str> = host.split('.').collect();
    labels.iter().enumerate().all(|(i, label)| {
        (allow_wildcard && i == 0 && *label == "*" && labels.len() >= 3)
            || (!label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    })
}

/// Parses an allowlist entry (tolerating one trailing `/`).
fn parse_entry(entry: &str) -> Option<Origin> {
    parse(entry.strip_suffix('/').unwrap_or(entry), true)
}

/// Whether the request `origin` (the `Origin` header as sent) matches an entry of `allowed`.
/// A missing, `null` or unparsable origin never matches. Callers apply this only to `web`
/// requests and only when `allowed` is non-empty (an empty list allows any origin).
pub fn origin_allowed(allowed: &[String], origin: &str) -> bool {
    let Some(origin) = parse(origin, false) else {
        return false;
    };
    allowed.iter().filter_map(|e| parse_entry(e)).any(|entry| {
        if entry.scheme != origin.scheme || entry.port != origin.port {
            return false;
        }
        match entry.host.strip_prefix("*.") {
            Some(apex) => {
                origin.host.strip_suffix(apex).and_then(|sub| sub.strip_suffix('.')).is_some_and(|sub| !sub.is_empty())
            }
            None => entry.host == origin.host,
        }
    })
}

/// Validates an allowlist entry for the settings API; returns a human message on failure.
pub fn validate_allowed_origin(entry: &str) -> Result<(), String> {
    match parse_entry(entry) {
        Some(_) => Ok(()),
        None => Err(format!(
            "\"{}\" is not an origin: write scheme://host[:port] (e.g. https://app.example.com) \
             or https://*.example.com for every subdomain, with no path.",
            entry.escape_debug()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(entries: &[&str]) -> Vec<String> {
        entries.iter().map(|e| e.to_string()).collect()
    }

    /// Exact entries match after normalising case and default ports, and nothing else.
    #[test]
    fn exact_entries() {
        let allowed = list(&["https://App.Example.com", "http://localhost:3000/"]);
        assert!(origin_allowed(&allowed, "https://app.example.com"));
        assert!(origin_allowed(&allowed, "HTTPS://APP.EXAMPLE.COM:443"));
        assert!(origin_allowed(&allowed, "http://localhost:3000"));
        assert!(!origin_allowed(&allowed, "http://app.example.com"));
        assert!(!origin_allowed(&allowed, "https://app.example.com:8443"));
        assert!(!origin_allowed(&allowed, "http://localhost"));
        assert!(!origin_allowed(&allowed, "https://evil.com"));
        assert!(!origin_allowed(&allowed, "https://app.example.com.evil.com"));
        assert!(!origin_allowed(&allowed, "https://app.example.com/path"));
        assert!(!origin_allowed(&allowed, "null"));
        assert!(!origin_allowed(&allowed, ""));
    }

    /// Wildcards match subdomains at any depth, never the apex, and require the same scheme/port.
    #[test]
    fn wildcard_entries() {
        let allowed = list(&["https://*.example.com"]);
        assert!(origin_allowed(&allowed, "https://a.example.com"));
        assert!(origin_allowed(&allowed, "https://a.b.example.com"));
        assert!(!origin_allowed(&allowed, "https://example.com"));
        assert!(!origin_allowed(&allowed, "http://a.example.com"));
        assert!(!origin_allowed(&allowed, "https://a.example.com:8443"));
        assert!(!origin_allowed(&allowed, "https://aexample.com"));
        assert!(!origin_allowed(&allowed, "https://a.example.com.evil.com"));
        assert!(!origin_allowed(&allowed, "https://*.example.com"));
    }

    /// IPv6 literals and non-default ports are compared exactly.
    #[test]
    fn ipv6_and_ports() {
        let allowed = list(&["http://[::1]:8080"]);
        assert!(origin_allowed(&allowed, "http://[::1]:8080"));
        assert!(!origin_allowed(&allowed, "http://[::1]"));
    }

    /// Settings validation refuses paths, bare wildcards and junk.
    #[test]
    fn validates_entries() {
        assert!(validate_allowed_origin("https://*.example.com").is_ok());
        assert!(validate_allowed_origin("capacitor://localhost").is_ok());
        for bad in [
            "*",
            "https://*",
            "https://*.com",
            "example.com",
            "https://a.com/x",
            "https://a.com:",
            "https://a.*.com",
            "https://a.com:99999",
        ] {
            assert!(validate_allowed_origin(bad).is_err(), "{bad}");
        }
    }
}
