//! Reading a request's caller from HTTP headers, shared by the API and the dashboard.

use std::net::IpAddr;

use http::{header, HeaderMap};

use crate::accounts::session_from_cookie_header;
use crate::RequestMeta;

/// Request metadata from the peer address and the `User-Agent` header (cut at 512 chars).
pub fn request_meta(headers: &HeaderMap, peer: Option<IpAddr>) -> RequestMeta {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(512).collect());
    RequestMeta { ip: peer.map(|ip| ip.to_string()), user_agent }
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
