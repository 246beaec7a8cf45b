//! The Countersign dashboard: Leptos pages rendered on the server and hydrated in the browser,
//! and the server functions they call (thin adapters over `countersign-service`).

// The overview's view type nests deeper than the default limit allows in the release wasm build.
#![recursion_limit = "256"]

pub mod api;
pub mod error;
mod pages;
mod routes;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, HashedStylesheet, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

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
    // A page's code loads on its first visit: a bar at the top says a navigation is under way.
    let (routing, set_routing) = signal(false);
    view! {
        <Title text="Countersign"/>
        <div class="route-progress" aria-hidden="true" hidden=move || !routing.get()></div>
        <Router set_is_routing=set_routing>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view={Lazy::<routes::Login>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/signup") view={Lazy::<routes::Signup>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/") view={Lazy::<routes::Home>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/invite") view={Lazy::<routes::Invite>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/account") view={Lazy::<routes::Account>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/account/tokens") view={Lazy::<routes::Tokens>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws") view={Lazy::<routes::Overview>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/members") view={Lazy::<routes::Members>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/keys") view={Lazy::<routes::Keys>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/snippets") view={Lazy::<routes::Snippets>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/audit") view={Lazy::<routes::Audit>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/security") view={Lazy::<routes::Security>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/attributes") view={Lazy::<routes::Attributes>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/logs") view={Lazy::<routes::Logs>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/contacts") view={Lazy::<routes::Contacts>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/debugger") view={Lazy::<routes::Debugger>::new()} ssr=SsrMode::Async/>
                <Route path=path!("/w/:ws/webhooks") view={Lazy::<routes::Webhooks>::new()} ssr=SsrMode::Async/>
            </Routes>
        </Router>
    }
}

/// Entry point of the browser bundle.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // As `leptos::mount::hydrate_lazy`, which hydrates in a task of its own (the page's module
    // may have to be fetched first), but marking the document once that task is done.
    let _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        let Some(body) = leptos::prelude::document().body() else { return };
        leptos::mount::hydrate_from_async(body, App).await.forget();
        // Event handlers are attached from here on: browser tests wait for this mark rather
        // than for a quiet network, which comes before the wasm has compiled on a busy machine.
        if let Some(root) = leptos::prelude::document().document_element() {
            let _ = root.set_attribute("data-hydrated", "true");
        }
    });
}
