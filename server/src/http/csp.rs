//! The Content Security Policy: no inline script or style anywhere. An HTML page may run only
//! the inline scripts that carry the nonce minted for that one response (Leptos' hydration and
//! resource scripts), which an injected `<script>` cannot guess.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::HeaderValue;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use leptos::prelude::{provide_context, use_context};

/// A 128-bit nonce from the OS CSPRNG, minted for one request and named by its response's
/// policy. Carried to the Leptos renderer as a request extension.
#[derive(Clone)]
pub struct CspNonce(Arc<str>);

impl CspNonce {
    /// A fresh nonce (base64url, which CSP's `nonce-source` grammar admits).
    pub fn mint() -> CspNonce {
        CspNonce(URL_SAFE_NO_PAD.encode(countersign_service::random::bytes::<16>()).into())
    }
}

/// The rest of the policy, the same on every response: this origin only, no framing. Wasm
/// needs `'wasm-unsafe-eval'` to compile; it does not allow JavaScript `eval`.
const REST: &str = "style-src 'self'; img-src 'self' data:; connect-src 'self'; \
                    frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

/// The policy of a response: with the nonce of an HTML page, or for any other response (JSON,
/// static files), scripts from this origin only.
pub fn policy(nonce: Option<&CspNonce>) -> HeaderValue {
    let nonce = nonce.map(|n| format!(" 'nonce-{}'", n.0)).unwrap_or_default();
    let value = format!("default-src 'self'; script-src 'self'{nonce} 'wasm-unsafe-eval'; {REST}");
    // Base64url and the fixed text are visible ASCII, always a valid header value.
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// Hands this request's nonce to the Leptos renderer, in place of the one leptos_axum made
/// for itself, so that the scripts of the page carry the nonce its policy names. Call it from
/// the renderer's additional context (which runs after leptos_axum's).
pub fn provide_to_leptos() {
    if let Some(nonce) = use_context::<Parts>().and_then(|parts| parts.extensions.get::<CspNonce>().cloned()) {
        provide_context(leptos::nonce::Nonce::from_value(nonce.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every response's policy forbids inline scripts and styles; a page's names its nonce.
    #[test]
    fn no_inline_without_the_nonce() {
        let nonce = CspNonce::mint();
        let page = policy(Some(&nonce));
        let page = page.to_str().unwrap_or("");
        assert!(page.contains(&format!("script-src 'self' 'nonce-{}' 'wasm-unsafe-eval';", nonce.0)), "{page}");
        for value in [page, policy(None).to_str().unwrap_or("")] {
            assert!(!value.contains("unsafe-inline"), "{value}");
        }
        assert_ne!(CspNonce::mint().0, nonce.0, "a fresh nonce per response");
    }
}
