//! The Countersign dashboard: Leptos pages rendered on the server and hydrated in the browser,
//! and the server functions they call (thin adapters over `countersign-service`).

// The overview's view type nests deeper than the default limit allows in the release wasm build.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app, used for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                // The stylesheet's name carries its hash in a build with hashed assets.
                <HashedStylesheet options=options.clone() id="leptos"/>
                <HydrationScripts options/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The router of the dashboard. Pages wait for their data on the server (`SsrMode::Async`)
/// so that a signed-out visitor is redirected before anything is sent.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Countersign"/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::auth::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/signup") view=pages::auth::SignupPage ssr=SsrMode::Async/>
                <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async/>
                <Route path=path!("/invite") view=pages::invite::InvitePage ssr=SsrMode::Async/>
                <Route path=path!("/account") view=pages::account::AccountPage ssr=SsrMode::Async/>
                <Route path=path!("/account/tokens") view=pages::tokens::TokensPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws") view=pages::overview::OverviewPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/members") view=pages::members::MembersPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/keys") view=pages::keys::KeysPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/snippets") view=pages::snippets::SnippetsPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/audit") view=pages::audit::AuditPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/security") view=pages::security::SecurityPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/attributes") view=pages::attributes::AttributesPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/logs") view=pages::logs::LogsPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/contacts") view=pages::logs::ContactsPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/debugger") view=pages::debugger::DebuggerPage ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/webhooks") view=pages::webhooks::WebhooksPage ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// Entry point of the browser bundle.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
    // Event handlers are attached from here on: browser tests wait for this mark rather than
    // for a quiet network, which comes before the wasm has compiled on a busy machine.
    if let Some(root) = leptos::prelude::document().document_element() {
        let _ = root.set_attribute("data-hydrated", "true");
    }
}
