//! Pages of the dashboard and the frame around the signed-in ones.

pub mod account;
pub mod attributes;
pub mod audit;
pub mod auth;
pub mod debugger;
pub mod home;
pub mod invite;
pub mod keys;
pub mod logs;
pub mod members;
pub mod overview;
pub mod security;
pub mod snippets;
pub mod tokens;
pub mod webhooks;

use countersign_proto::WorkspaceSummary;
use leptos::prelude::*;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::use_params_map;
use uuid::Uuid;

use crate::api::{self, Logout, Me};
use crate::error::AppError;

/// Shown for an unknown address, and for a workspace the caller does not belong to.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <main class="centered">
            <div class="card narrow">
                <h1>"Not found"</h1>
                <p class="muted">"There is nothing here, or you do not have access to it."</p>
                <A href="/">"Back to your workspaces"</A>
            </div>
        </main>
    }
}

/// A red notice for a failed request.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    view! { <p class="notice error" role="alert">{error.message}</p> }
}

/// The workspace id of the current address (`/w/:ws/...`).
pub fn workspace_param() -> Memo<Option<Uuid>> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("ws").and_then(|id| id.parse().ok()))
}

/// Loads the signed-in account, then renders `page` with it; redirects to the login page
/// when signed out.
pub fn with_me<V: IntoView + 'static>(page: impl Fn(Me) -> V + Send + Sync + Clone + 'static) -> impl IntoView {
    let me = Resource::new(|| (), |_| api::whoami());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let page = page.clone();
                Suspend::new(async move {
                    match me.await {
                        Ok(Some(me)) => page(me).into_any(),
                        Ok(None) => view! { <Redirect path="/login"/> }.into_any(),
                        Err(error) => view! { <ErrorNotice error/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

/// The signed-in frame: top bar with the workspace switcher and account, side navigation.
#[component]
pub fn Frame(me: Me, workspace: Option<WorkspaceSummary>, section: &'static str, children: Children) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let current = workspace.as_ref().map(|w| w.name.clone()).unwrap_or_else(|| "Workspaces".into());
    let switcher = me
        .workspaces
        .iter()
        .map(|w| {
            let href = format!("/w/{}", w.id);
            view! { <li><a href=href>{w.name.clone()}<span class="role">{w.role.as_str()}</span></a></li> }
        })
        .collect_view();
    let nav = workspace.as_ref().map(|w| {
        let link = |path: &str, label: &'static str, key: &'static str| {
            let class = if key == section { "active" } else { "" };
            view! { <li><a class=class href=format!("/w/{}{}", w.id, path)>{label}</a></li> }
        };
        view! {
            <nav class="sidebar" id="frame-nav" aria-label="Workspace">
                <ul>
                    {link("", "Overview", "overview")}
                    {link("/security", "Security", "security")}
                    {link("/keys", "Keys", "keys")}
                    {link("/snippets", "Snippets", "snippets")}
                    {link("/attributes", "Attributes", "attributes")}
                    {link("/logs", "Verification log", "logs")}
                    {link("/debugger", "Token debugger", "debugger")}
                    {link("/contacts", "Contacts", "contacts")}
                    {link("/members", "Members", "members")}
                    {link("/audit", "Audit log", "audit")}
                    {countersign_core::policy::permits(w.role, countersign_core::policy::Action::ChangeSettings)
                        .then(|| link("/webhooks", "Webhooks", "webhooks"))}
                </ul>
            </nav>
        }
    });
    // On narrow screens the switcher, the account links and the navigation fold behind the
    // Menu button. It is a <details>, so it works before (or without) the wasm; hydration adds
    // `aria-expanded` kept in step with it, and Escape (see `close_on_escape`).
    let menu_open = RwSignal::new(false);
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let menu_button = NodeRef::<leptos::html::Summary>::new();
    close_on_escape(menu_open, menu_button);
    let controls = if workspace.is_some() { "frame-menu frame-nav" } else { "frame-menu" };
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Countersign"</a>
            <details class="menu-toggle" open=move || menu_open.get()
                on:toggle=move |ev| menu_open.set(event_target::<leptos::web_sys::Element>(&ev).has_attribute("open"))>
                <summary node_ref=menu_button aria-controls=controls
                    aria-expanded=move || hydrated.get().then(|| menu_open.get().to_string())>
                    <span class="menu-icon" aria-hidden="true"></span>"Menu"
                </summary>
            </details>
            <div class="topbar-menu" id="frame-menu">
                <details class="switcher">
                    <summary data-testid="workspace-switcher">{current}</summary>
                    <ul>
                        {switcher}
                        <li class="new"><a href="/">"+ New workspace"</a></li>
                    </ul>
                </details>
                <div class="account">
                    <span data-testid="account-email">{me.account.email.clone()}</span>
                    <a href="/account">"Account"</a>
                    <a href="/account/tokens">"Access tokens"</a>
                    <ActionForm action=logout>
                        <button type="submit" class="link">"Sign out"</button>
                    </ActionForm>
                </div>
            </div>
        </header>
        <div class="layout">
            {nav}
            <main class="content">{children()}</main>
        </div>
    }
}

/// Escape closes the dialog-like disclosure that holds the focus (the workspace switcher, a
/// confirmation) or else the open Menu, and puts the focus back on the button that opened it.
fn close_on_escape(menu_open: RwSignal<bool>, menu_button: NodeRef<leptos::html::Summary>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        use web_sys::HtmlElement;
        let handle = window_event_listener(leptos::ev::keydown, move |ev| {
            if ev.key() != "Escape" {
                return;
            }
            let focused = document().active_element();
            let disclosure = focused.and_then(|el| {
                el.closest("details.switcher[open], details.confirm[open], details.danger-zone[open]").ok().flatten()
            });
            if let Some(details) = disclosure {
                let _ = details.remove_attribute("open");
                if let Some(summary) =
                    details.query_selector("summary").ok().flatten().and_then(|s| s.dyn_into::<HtmlElement>().ok())
                {
                    let _ = summary.focus();
                }
                ev.prevent_default();
            } else if menu_open.get_untracked() {
                menu_open.set(false);
                if let Some(summary) = menu_button.get_untracked() {
                    let _ = summary.focus();
                }
                ev.prevent_default();
            }
        });
        on_cleanup(move || handle.remove());
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (menu_open, menu_button);
}

/// Renders a workspace page for the workspace in the address, or "not found".
pub fn workspace_page<V: IntoView + 'static>(
    section: &'static str,
    body: impl Fn(WorkspaceSummary) -> V + Send + Sync + Clone + 'static,
) -> impl IntoView {
    let ws = workspace_param();
    with_me(move |me: Me| {
        let workspace = ws.get_untracked().and_then(|id| me.workspace(id).cloned());
        match workspace {
            Some(workspace) => {
                let body = body.clone();
                let inner = workspace.clone();
                view! { <Frame me workspace=Some(workspace) section>{body(inner.clone())}</Frame> }.into_any()
            }
            None => view! { <NotFound/> }.into_any(),
        }
    })
}

/// Copies `text` to the clipboard with the Clipboard API (a hydrated handler: the strict CSP
/// allows no inline script), then says "Copied" (or "Copy failed") for two seconds. Without
/// JavaScript the text stays selectable.
#[component]
pub fn CopyButton(text: String) -> impl IntoView {
    // None: idle; Some(true): copied; Some(false): the browser refused.
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let text = text.clone();
            leptos::task::spawn_local(async move {
                let written = match web_sys::window() {
                    Some(window) => {
                        wasm_bindgen_futures::JsFuture::from(window.navigator().clipboard().write_text(&text))
                            .await
                            .is_ok()
                    }
                    None => false,
                };
                copied.set(Some(written));
                set_timeout(move || copied.set(None), std::time::Duration::from_secs(2));
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    let label = move || match copied.get() {
        None => "Copy",
        Some(true) => "Copied",
        Some(false) => "Copy failed",
    };
    view! {
        <button type="button" class="copy" class:copied=move || copied.get() == Some(true) on:click=copy aria-live="polite">{label}</button>
    }
}

/// Percent-encodes a query parameter value.
pub(crate) fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name=value&...` with every value percent-encoded, for links that carry filters.
pub(crate) fn query_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    pairs.into_iter().map(|(name, value)| format!("{name}={}", urlencode(value))).collect::<Vec<_>>().join("&")
}
