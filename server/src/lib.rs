//! The Countersign server: configuration, the HTTP adapter, and the wiring of the dashboard.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::todo)]

pub mod config;
pub mod http;
pub mod listen;

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRef;
use axum::Router;
use countersign_app::{shell, App};
use countersign_service::Service;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};

pub use config::Config;

/// Everything a request handler may need. Every request clones it (once per extractor and
/// per stateful layer), so it is one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub svc: Service,
    pub config: Config,
}

impl AppState {
    pub fn new(leptos_options: LeptosOptions, svc: Service, config: Config) -> AppState {
        AppState(Arc::new(Shared { leptos_options, svc, config }))
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What leptos_axum's file and error handlers extract.
impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> LeptosOptions {
        state.leptos_options.clone()
    }
}

/// The whole application: API, dashboard pages, server functions and static files.
pub fn app(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let svc = state.svc.clone();
    let options = state.leptos_options.clone();
    let context = move || {
        provide_context(svc.clone());
        http::csp::provide_to_leptos();
    };
    let router = http::api_routes()
        .leptos_routes_with_context(&state, routes, context.clone(), move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, shell));
    let trusted = Arc::new(state.config.trusted_proxies.clone());
    // Merged after hardening, so the data plane skips the layers meant for the dashboard.
    let data_plane = http::data_plane_routes(&state);
    // Request ids and access lines for the dashboard and the API only: on the data plane they
    // cost about a seventh of identify's throughput (bench/README.md), and its answers name
    // their attempt by `log_id` already.
    let router = http::request_id::with_request_ids(http::request_id::with_access_log(http::harden(router, &state)));
    let router = router.merge(data_plane).with_state(state);
    if trusted.is_empty() {
        router
    } else {
        router.layer(tower::util::MapRequestLayer::new(http::middleware::resolve_client_ip(trusted)))
    }
}
