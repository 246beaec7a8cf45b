//! The HTTP adapter: every route in one function, thin handlers over the service.

pub mod account;
pub mod auth;
pub mod csp;
pub mod error;
pub mod extract;
pub mod health;
pub mod identify;
pub mod invitations;
pub mod keys;
pub mod logs;
pub mod middleware;
pub mod request_id;
pub mod settings;
pub mod snippets;
pub mod tokens;
pub mod webhooks;
pub mod workspaces;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, Method};
use axum::response::Response;
use axum::routing::{delete, get, post, put, MethodRouter};
use axum::Router;
use tower::util::MapResponseLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{Any, CorsLayer};

use crate::AppState;

/// The largest request body accepted (PRODUCT.md: a larger one is 413 `payload_too_large`).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Every route of the management API, relative to `/api/v1`: one table, so that tests can
/// walk every route (the cross-tenant matrix) and a new one cannot be left out.
pub fn v1_routes() -> Vec<(&'static str, MethodRouter<AppState>)> {
    use self::{
        account::*, auth::*, invitations::*, keys::*, logs::*, settings::*, snippets::*, tokens::*, webhooks::*,
        workspaces::*,
    };
    vec![
        ("/auth/signup", post(signup)),
        ("/auth/login", post(login)),
        ("/auth/logout", post(logout)),
        ("/tokens", post(create_token).get(list_tokens)),
        ("/tokens/{id}", delete(revoke_token)),
        ("/account/password", post(change_password)),
        ("/account/sessions", get(list_sessions).delete(end_other_sessions)),
        ("/account/sessions/{id}", delete(end_session)),
        ("/invitations/accept", post(accept_invitation)),
        ("/workspaces", get(list_workspaces).post(create_workspace)),
        ("/workspaces/{id}/members", get(list_members)),
        ("/workspaces/{id}/members/{account_id}", put(change_member_role).delete(remove_member)),
        ("/workspaces/{id}/invitations", get(list_invitations).post(create_invitation)),
        ("/workspaces/{id}/invitations/{invitation_id}", delete(revoke_invitation)),
        ("/workspaces/{id}/audit", get(list_audit)),
        ("/workspaces/{id}/keys", get(list_keys)),
        ("/workspaces/{id}/keys/rotate", post(rotate_key)),
        ("/workspaces/{id}/keys/import", post(import_key)),
        ("/workspaces/{id}/keys/{kid}/revoke", post(revoke_key)),
        ("/workspaces/{id}/keys/{kid}/secret", get(reveal_secret)),
        ("/workspaces/{id}/snippets", get(get_snippets)),
        ("/workspaces/{id}/security", get(get_security).put(put_security)),
        ("/workspaces/{id}/attributes", get(list_attributes).post(create_attribute)),
        ("/workspaces/{id}/attributes/{name}", put(update_attribute).delete(delete_attribute)),
        ("/workspaces/{id}/logs", get(list_logs)),
        ("/workspaces/{id}/stats", get(stats)),
        ("/workspaces/{id}/stats/attributes", get(attribute_stats)),
        ("/workspaces/{id}/overview", get(overview)),
        ("/workspaces/{id}/logs/export", get(export_logs)),
        ("/workspaces/{id}/logs/tail", get(tail_logs)),
        ("/workspaces/{id}/contacts/{user_id}", get(get_contact)),
        ("/workspaces/{id}/debug", post(debug_token)),
        ("/workspaces/{id}/debug/token", post(debug_test_token)),
        ("/workspaces/{id}/webhooks", get(list_webhooks).post(create_webhook)),
        ("/workspaces/{id}/webhooks/{hook_id}", put(update_webhook).delete(delete_webhook)),
        ("/workspaces/{id}/webhooks/{hook_id}/test", post(test_webhook)),
        ("/workspaces/{id}/webhooks/{hook_id}/deliveries", get(list_deliveries)),
    ]
}

/// The public API under `/api/v1`.
pub fn api_routes() -> Router<AppState> {
    let v1 = v1_routes()
        .into_iter()
        .fold(Router::new(), |router, (path, methods)| router.route(path, methods))
        .fallback(middleware::api_not_found)
        .method_not_allowed_fallback(middleware::api_method_not_allowed);
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
}

/// The data plane: what widgets (`identify`, CORS open) and customer backends (`signatures`)
/// call on every page view. It takes no cookie, so it is outside the CSRF check by
/// construction, and it carries only the layers it needs: it is the hot path.
pub fn data_plane_routes(state: &AppState) -> Router<AppState> {
    let https = state.config.public_url.starts_with("https://");
    let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::POST]).allow_headers([header::CONTENT_TYPE]);
    Router::new()
        // The preflight needs a route of its own: the 405 fallback would answer it first.
        .route("/api/v1/identify", post(identify::identify).options(|| async {}).layer(cors))
        .route("/api/v1/signatures", post(identify::signatures))
        .method_not_allowed_fallback(middleware::api_method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(MapResponseLayer::new(move |mut response: Response| {
            middleware::add_security_headers(response.headers_mut(), https, None, false);
            response
        }))
}

/// Layers every other route shares, the dashboard's included.
pub fn harden(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    router
        .layer(axum::middleware::from_fn(middleware::server_fn_arguments))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::csrf))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(state.clone(), middleware::security_headers))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
}
