//! Server functions of the dashboard. Each one authenticates the session cookie, then calls
//! the same service operation as the HTTP API, so permissions and audit are identical.

mod account;
mod debugger;
mod keys;
mod members;
mod security;
mod webhooks;

pub use account::*;
pub use debugger::*;
pub use keys::*;
pub use members::*;
pub use security::*;
pub use webhooks::*;

use countersign_proto::{AccountInfo, WorkspaceSummary};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

/// The path prefix of every server function (each `#[server(prefix = "/ui")]`), for layers
/// that guard their arguments.
pub const SERVER_FN_PREFIX: &str = "/ui/";

/// The signed-in account and its workspaces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    pub account: AccountInfo,
    pub workspaces: Vec<WorkspaceSummary>,
}

impl Me {
    /// The workspace with this id, if the account belongs to it.
    pub fn workspace(&self, id: Uuid) -> Option<&WorkspaceSummary> {
        self.workspaces.iter().find(|w| w.id == id)
    }
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Reading the caller and writing cookies inside a server function.
    use axum::extract::ConnectInfo;
    use countersign_service::accounts::NewSession;
    use countersign_service::{web, Actor, RequestMeta, Service};
    use http::header::{HeaderValue, SET_COOKIE};
    use http::request::Parts;
    use leptos::prelude::*;
    use leptos_axum::ResponseOptions;
    use std::net::SocketAddr;

    use crate::error::AppError;

    /// The application service, provided by the server as context.
    pub fn service() -> Result<Service, AppError> {
        use_context::<Service>().ok_or_else(|| AppError { code: "internal".into(), message: "Service missing.".into() })
    }

    fn parts() -> Result<Parts, AppError> {
        use_context::<Parts>().ok_or_else(|| AppError { code: "internal".into(), message: "Request missing.".into() })
    }

    /// Metadata of the current request.
    pub fn meta() -> Result<RequestMeta, AppError> {
        let parts = parts()?;
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
        Ok(web::request_meta(&parts.headers, peer))
    }

    /// The signed-in caller, or `unauthorized`. Every context it needs is read before its
    /// await; callers read theirs (`service()`, `session_token()`) before calling it too.
    pub async fn actor() -> Result<Actor, AppError> {
        let parts = parts()?;
        let token = web::session_token(&parts.headers)
            .ok_or_else(|| AppError::from(countersign_service::ServiceError::unauthorized()))?;
        Ok(service()?.authenticate_session(&token, &meta()?).await?)
    }

    /// The current session token, if any.
    pub fn session_token() -> Option<String> {
        parts().ok().and_then(|p| web::session_token(&p.headers))
    }

    /// Adds a `Set-Cookie` header to the server function's response.
    pub fn set_cookie(value: &str) {
        if let (Some(response), Ok(value)) = (use_context::<ResponseOptions>(), HeaderValue::from_str(value)) {
            response.append_header(SET_COOKIE, value);
        }
    }

    /// Stores a new session in the browser.
    pub fn set_session_cookie(svc: &Service, session: &NewSession) {
        set_cookie(&countersign_service::accounts::session_cookie(
            session,
            svc.settings().secure_cookies,
            svc.clock.now(),
        ));
    }
}

/// The signed-in account and its workspaces; `None` when signed out.
#[server(prefix = "/ui")]
pub async fn whoami() -> Result<Option<Me>, AppError> {
    // Request context is read before the first await: after it, the task may run elsewhere.
    let svc = ssr::service()?;
    let actor = match ssr::actor().await {
        Ok(actor) => actor,
        Err(e) if e.is_unauthorized() => return Ok(None),
        Err(e) => return Err(e),
    };
    let workspaces = svc.list_workspaces(&actor).await?;
    Ok(Some(Me { account: countersign_proto::AccountInfo { id: actor.account_id, email: actor.email }, workspaces }))
}

/// Signs in and goes to `next` (a path of this dashboard, e.g. an invitation), else home.
#[server(prefix = "/ui")]
pub async fn login(email: String, password: String, next: Option<String>) -> Result<(), AppError> {
    let svc = ssr::service()?;
    let session = svc.login(&email, &password, &ssr::meta()?).await?;
    ssr::set_session_cookie(&svc, &session);
    leptos_axum::redirect(next.as_deref().filter(|n| is_local_path(n)).unwrap_or("/"));
    Ok(())
}

/// Whether `next` stays on this site: a path, not `//host` or `/\host` (an open redirect).
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\")
}

/// Creates an account with its first workspace, signs in and goes to it.
#[server(prefix = "/ui")]
pub async fn signup(email: String, password: String, workspace_name: String) -> Result<(), AppError> {
    let svc = ssr::service()?;
    let session = svc.signup(&email, &password, &workspace_name, &ssr::meta()?).await?;
    ssr::set_session_cookie(&svc, &session);
    leptos_axum::redirect("/");
    Ok(())
}

/// Signs out and goes to the login page.
#[server(prefix = "/ui")]
pub async fn logout() -> Result<(), AppError> {
    let svc = ssr::service()?;
    if let Some(token) = ssr::session_token() {
        svc.logout(&token).await?;
    }
    ssr::set_cookie(&countersign_service::accounts::clear_session_cookie(svc.settings().secure_cookies));
    leptos_axum::redirect("/login");
    Ok(())
}

/// Creates a workspace and goes to it.
#[server(prefix = "/ui")]
pub async fn create_workspace(name: String) -> Result<WorkspaceSummary, AppError> {
    let workspace = ssr::service()?.create_workspace(&ssr::actor().await?, &name).await?;
    leptos_axum::redirect(&format!("/w/{}", workspace.id));
    Ok(workspace)
}

/// The caller's personal access tokens.
#[server(prefix = "/ui")]
pub async fn list_tokens() -> Result<Vec<countersign_proto::TokenInfo>, AppError> {
    Ok(ssr::service()?.list_tokens(&ssr::actor().await?).await?)
}

/// Creates a personal access token; the answer is the only time it is shown.
#[server(prefix = "/ui")]
pub async fn create_token(name: String) -> Result<countersign_proto::CreatedToken, AppError> {
    Ok(ssr::service()?.create_token(&ssr::actor().await?, &name).await?)
}

/// Revokes one of the caller's tokens.
#[server(prefix = "/ui")]
pub async fn revoke_token(id: Uuid) -> Result<(), AppError> {
    Ok(ssr::service()?.revoke_token(&ssr::actor().await?, id).await?)
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    /// Only paths of this site are followed after sign-in, never another host.
    #[test]
    fn next_stays_on_site() {
        assert!(is_local_path("/invite?token=cs_inv_x"));
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "evil", ""] {
            assert!(!is_local_path(bad), "{bad}");
        }
    }
}
